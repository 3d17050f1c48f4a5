// SPDX-License-Identifier: MIT
/*
 * csd_bench.c - computational storage against host computation: each
 * example program (count, stats, histogram, search) over the same zone
 * data, once through `zvd csd run` (the program runs next to the data and
 * only its result leaves) and once by reading the data out through the
 * library and computing in C on the host. Reports wall time, CPU time,
 * bytes moved out of the device and, for the VM, ns per instruction; and
 * the count filter's interpreter cost as a ratio to native C.
 *
 *   csd_bench [--size BYTES] [--dir DIR] [--zvd PATH] [--objs DIR]
 *
 * Defaults: 1 GiB, /var/tmp, build/zvd, build/examples/csd.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zvd.h>

#include "../examples/csd/common.h"

#define ZONE (256ull << 20)
#define PIECE (1u << 20)

struct opts {
	uint64_t size;
	const char *dir, *zvd, *objs;
};

struct cost {
	double wall, cpu;      /* seconds */
	uint64_t moved;	       /* bytes that left the device */
	uint64_t insns, vm_ns; /* VM only */
	uint64_t answer;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_of(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* ---- the image ---- */

static int make_image(const char *path, uint64_t size)
{
	struct zvd_backend *be;
	struct zvd_geometry g;
	struct zvd_dev *dev;
	uint64_t *buf = malloc(PIECE), off, x = 88172645463325252ull;
	size_t i;
	int rc;

	zvd_geometry_default(&g);
	g.zone_size = g.zone_capacity = ZONE;
	g.size = (size + ZONE - 1) / ZONE * ZONE + ZONE;
	g.max_open = g.max_active = 0;
	unlink(path);
	rc = zvd_backend_file_open(path, ZVD_FILE_CREATE, &be);
	if (rc)
		return rc;
	rc = zvd_create(be, &g, &dev);
	if (rc)
		return rc;
	for (off = 0; off < size && !rc; off += PIECE) {
		for (i = 0; i < PIECE / 8; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = x % 1000;
		}
		if (off % (64u << 20) == 0)
			memcpy((char *)buf + 4096 + 3, "needle", 6);
		rc = zvd_write(dev, buf, PIECE, off, 0);
	}
	free(buf);
	if (!rc)
		rc = zvd_flush(dev);
	zvd_close(dev);
	return rc;
}

/* ---- the host side: read out and compute ---- */

enum prog { P_COUNT, P_STATS, P_HIST, P_SEARCH, P_READ, P_NR };
static const char *const names[P_NR] = { "count", "stats", "histogram",
					 "search", "read-only" };

struct host_state {
	uint64_t count;
	int64_t sum, min, max;
	unsigned long long hist[256];
	uint64_t matches;
	char carry[8];
	size_t keep;
};

static void host_chunk(enum prog p, struct host_state *s, const uint8_t *b,
		       size_t n)
{
	const uint64_t *v = (const uint64_t *)b;
	size_t i;

	switch (p) {
	case P_COUNT:
		for (i = 0; i < n / 8; i++)
			s->count += v[i] < 100;
		break;
	case P_STATS:
		for (i = 0; i < n / 8; i++) {
			int64_t x = (int64_t)v[i];

			s->sum += x;
			s->min = x < s->min ? x : s->min;
			s->max = x > s->max ? x : s->max;
		}
		break;
	case P_HIST:
		for (i = 0; i < n; i++)
			s->hist[b[i]]++;
		break;
	case P_SEARCH:
		/* same result as search.c: boundaries handled with a carry */
		for (i = 0; i < s->keep && i < 5; i++) {
			char t[12];
			size_t k = s->keep - i;

			memcpy(t, s->carry + i, k);
			memcpy(t + k, b, 6 - k);
			s->matches += !memcmp(t, "needle", 6);
		}
		for (const uint8_t *q = b; (q = memmem(q, n - (size_t)(q - b),
						      "needle", 6)); q++)
			s->matches++;
		s->keep = 5;
		memcpy(s->carry, b + n - 5, 5);
		break;
	default:
		break;
	}
}

static int host_run(const struct opts *o, const char *img, enum prog p,
		    struct cost *c)
{
	struct host_state s = { .min = INT64_MAX, .max = INT64_MIN };
	struct zvd_backend *be;
	struct zvd_dev *dev;
	double t0 = now(), c0 = cpu_of(RUSAGE_SELF);
	uint8_t *buf = aligned_alloc(4096, PIECE);
	uint64_t off;
	int rc;

	rc = zvd_backend_file_open(img, ZVD_FILE_READONLY, &be);
	if (!rc)
		rc = zvd_open(be, ZVD_OPEN_READONLY, &dev);
	if (rc) {
		free(buf);
		return rc;
	}
	for (off = 0; off < o->size && !rc; off += PIECE) {
		if (off % ZONE == 0)
			s.keep = 0; /* matches do not span zones */
		rc = zvd_read(dev, buf, PIECE, off);
		host_chunk(p, &s, buf, PIECE);
	}
	zvd_close(dev);
	free(buf);
	c->wall = now() - t0;
	c->cpu = cpu_of(RUSAGE_SELF) - c0;
	c->moved = o->size;
	c->answer = p == P_COUNT ? s.count : p == P_STATS ? (uint64_t)s.sum :
		    p == P_HIST ? csd_entropy_ubits(s.hist) : s.matches;
	return rc;
}

/* ---- the device side: zvd csd run ---- */

static uint64_t json_u64(const char *js, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(js, pat);
	if (!p)
		return 0;
	p += strlen(pat);
	if (*p == '[')
		p++;
	return strtoull(p, NULL, 10);
}

static int csd_run(const struct opts *o, const char *img, enum prog p,
		   struct cost *c)
{
	static const char *const extra[P_NR][2] = {
		[P_COUNT] = { "--arg=op=lt", "--arg=value=100" },
		[P_SEARCH] = { "--arg=pattern=needle", "--arg=max=16" },
	};
	char obj[4096], zones[32], js[1 << 16];
	double t0 = now(), c0 = cpu_of(RUSAGE_CHILDREN);
	int fd[2], st;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	snprintf(obj, sizeof(obj), "%s/%s.o", o->objs, names[p]);
	snprintf(zones, sizeof(zones), "0-%llu",
		 (unsigned long long)((o->size + ZONE - 1) / ZONE - 1));
	if (pipe(fd))
		return -errno;
	pid = fork();
	if (pid == 0) {
		const char *argv[16] = { o->zvd, "csd", "run", img, obj, "--zone",
					 "0", "--zones", zones, "--json" };
		int k = 10;

		if (extra[p][0])
			argv[k++] = extra[p][0];
		if (extra[p][1])
			argv[k++] = extra[p][1];
		dup2(fd[1], 1);
		close(fd[0]);
		execv(o->zvd, (char *const *)argv);
		_exit(127);
	}
	close(fd[1]);
	while (n < sizeof(js) - 1 && (r = read(fd[0], js + n, sizeof(js) - 1 - n)) > 0)
		n += (size_t)r;
	js[n] = 0;
	close(fd[0]);
	waitpid(pid, &st, 0);
	c->wall = now() - t0;
	c->cpu = cpu_of(RUSAGE_CHILDREN) - c0;
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return -EIO;
	c->moved = json_u64(js, "bytes_returned");
	c->insns = json_u64(js, "instructions");
	c->vm_ns = json_u64(js, "ns");
	c->answer = p == P_HIST ? json_u64(js, "entropy_ubits") :
		    p == P_STATS ? json_u64(js, "sum") : json_u64(js, "r0");
	return 0;
}

/* Native C count over data already in memory, for the interpreter ratio. */
static double native_count_ns(uint64_t *insns_per_value)
{
	size_t n = (64u << 20) / 8, i;
	uint64_t *v = malloc(n * 8), m = 0;
	double t0;

	for (i = 0; i < n; i++)
		v[i] = (i * 2654435761u) % 1000;
	t0 = now();
	for (i = 0; i < n; i++)
		m += v[i] < 100;
	t0 = now() - t0;
	__asm__ volatile("" : : "r"(m));
	free(v);
	*insns_per_value = n;
	return t0 * 1e9 / n;
}

static void parse(int argc, char **argv, struct opts *o)
{
	int i;

	o->size = 1ull << 30;
	o->dir = "/var/tmp";
	o->zvd = "build/zvd";
	o->objs = "build/examples/csd";
	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--size"))
			o->size = strtoull(argv[i + 1], NULL, 0) / PIECE * PIECE;
		else if (!strcmp(argv[i], "--dir"))
			o->dir = argv[i + 1];
		else if (!strcmp(argv[i], "--zvd"))
			o->zvd = argv[i + 1];
		else if (!strcmp(argv[i], "--objs"))
			o->objs = argv[i + 1];
	}
	if (!o->size)
		o->size = PIECE;
}

int main(int argc, char **argv)
{
	struct cost host[P_NR], dev[P_NR];
	char img[4096];
	uint64_t per;
	double nat;
	int p, rc;

	struct opts o;

	parse(argc, argv, &o);
	snprintf(img, sizeof(img), "%s/zvd-csd-bench.%d.img", o.dir, getpid());
	fprintf(stderr, "csd_bench: writing %llu MiB to %s\n",
		(unsigned long long)(o.size >> 20), img);
	rc = make_image(img, o.size);
	if (rc) {
		fprintf(stderr, "csd_bench: image: %s\n", strerror(-rc));
		return 1;
	}
	host_run(&o, img, P_READ, &host[P_READ]); /* warm the page cache */
	printf("data: %llu MiB of zone data, u64 values 0..999\n\n",
	       (unsigned long long)(o.size >> 20));
	printf("| program | where | wall s | CPU s | bytes moved | moved ratio | VM insns | ns/insn | answer |\n");
	printf("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
	rc = host_run(&o, img, P_READ, &host[P_READ]);
	printf("| (read only) | host | %.3f | %.3f | %llu | | | | |\n",
	       host[P_READ].wall, host[P_READ].cpu,
	       (unsigned long long)host[P_READ].moved);
	for (p = 0; p < P_READ && !rc; p++) {
		rc = host_run(&o, img, p, &host[p]);
		if (!rc)
			rc = csd_run(&o, img, p, &dev[p]);
		if (rc)
			break;
		printf("| %s | host C | %.3f | %.3f | %llu | 1 | | | %llu |\n",
		       names[p], host[p].wall, host[p].cpu,
		       (unsigned long long)host[p].moved,
		       (unsigned long long)host[p].answer);
		printf("| %s | zvd csd run | %.3f | %.3f | %llu | %.0fx less | %llu | %.2f | %llu%s |\n",
		       names[p], dev[p].wall, dev[p].cpu,
		       (unsigned long long)dev[p].moved,
		       (double)host[p].moved / (dev[p].moved ? dev[p].moved : 1),
		       (unsigned long long)dev[p].insns,
		       dev[p].insns ? (double)dev[p].vm_ns / dev[p].insns : 0,
		       (unsigned long long)dev[p].answer,
		       dev[p].answer == host[p].answer ? "" : " MISMATCH");
	}
	unlink(img);
	if (rc) {
		fprintf(stderr, "csd_bench: %s failed: %s\n", names[p], strerror(-rc));
		return 1;
	}
	nat = native_count_ns(&per);
	printf("\ncount filter, compute only: native C %.3f ns/value; VM %.2f ns/value "
	       "(%.1f insns/value at %.2f ns/insn, reads excluded) = %.1fx native\n",
	       nat,
	       ((double)dev[P_COUNT].vm_ns - host[P_READ].wall * 1e9) / (o.size / 8),
	       (double)dev[P_COUNT].insns / (o.size / 8),
	       (double)dev[P_COUNT].vm_ns / dev[P_COUNT].insns,
	       ((double)dev[P_COUNT].vm_ns - host[P_READ].wall * 1e9) / (o.size / 8) / nat);
	return 0;
}

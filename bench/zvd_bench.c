/* SPDX-License-Identifier: MIT */
/*
 * zvd_bench.c - zvd's data path against plain pread/pwrite, side by side.
 *
 * In one process, on the file backend, it measures:
 *   randread  4 KiB reads at random offsets of data written beforehand;
 *   write     128 KiB writes, each thread at the write pointers of its own
 *             zones, zone after zone;
 *   append    128 KiB zone appends, each thread to its own zones;
 * each with 1 and 4 threads. The peer ("raw") is an ordinary sparse file of
 * the image's size (ftruncate) in the same directory, opened the way the
 * file backend opens its file (buffered O_RDWR, flock), driven with
 * pread/pwrite at the same offsets zvd is given.
 *
 * How the comparison is kept fair:
 *   - same file system, same buffered I/O, same buffers and request sizes;
 *   - the reads of both sides follow one offset sequence (a seeded generator
 *     per thread) over the same bytes, written the same way beforehand;
 *   - both sides write the same offsets (zone start + write pointer); a
 *     zone reset between runs is mirrored on the raw file by punching a
 *     hole over the same range, so both always write into fresh space;
 *   - nothing is synced inside a timed loop; before every run both files
 *     are flushed (zvd_flush, then syncfs), so no run pays for the
 *     writeback of the one before, and the data set fits in the page cache;
 *   - just before a write run, as much anonymous memory as the run will
 *     fill with page cache is touched and freed (see prefault()), so that
 *     neither side pays the host for pages the VM gave back;
 *   - a run stops after --seconds or after --data bytes (writes),
 *     whichever comes first; the timed span runs from the first thread's
 *     start to the last thread's end;
 *   - runs alternate raw, zvd, zvd, raw (ABBA, --rounds times per side);
 *     each round's zvd run is compared with the raw run next to it in time,
 *     and the ratio reported is the median of those per-round ratios, so
 *     that drift and a busy neighbour weigh on both sides alike; the
 *     spread of the runs is printed beside it, so that a ratio taken on a
 *     noisy machine is not read as more than it is.
 *
 * Sections: 1. options  2. clocks and random numbers  3. workers
 *           4. setup and teardown  5. runs  6. report  7. main
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "zvd.h"

#define READ_SIZE 4096u
#define WRITE_SIZE (128u * 1024u)
#define BAR 0.90
#define MAX_THREADS 64
#define MAX_ROUNDS 16
#define TIME_CHECK_MASK 15 /* look at the clock every 16 requests */

/* ---- 1. options ---------------------------------------------------------- */

enum side { SIDE_RAW, SIDE_ZVD };
enum test { TEST_RANDREAD, TEST_WRITE, TEST_APPEND, TEST_COUNT };

static const char *const test_name[TEST_COUNT] = {
	[TEST_RANDREAD] = "randread-4k",
	[TEST_WRITE] = "write-128k",
	[TEST_APPEND] = "append-128k",
};

struct options {
	const char *dir;  /* parent of the scratch directory */
	double seconds;	  /* time limit of one run */
	uint64_t size;	  /* image size (0: the default geometry's) */
	uint64_t data;	  /* read set, and write limit of one run */
	unsigned rounds;  /* runs per side and test */
	unsigned threads[2];
	unsigned tests;	  /* bit mask of enum test */
	int json;
	int keep;
	int verbose;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: zvd_bench [--dir DIR] [--seconds N] [--size BYTES]\n"
		"                 [--data BYTES] [--rounds N] [--threads N]\n"
		"                 [--tests LIST] [--json] [--keep] [--verbose]\n"
		"  --dir DIR      scratch files go in a new directory under DIR\n"
		"                 (default /var/tmp)\n"
		"  --seconds N    time limit of each run (default 2)\n"
		"  --size BYTES   image size, K/M/G suffixes (default 4G, the\n"
		"                 default geometry's)\n"
		"  --data BYTES   bytes read set / written per run (default 1G)\n"
		"  --rounds N     runs of each side per test, ABBA (default 8)\n"
		"  --threads N    the multi-threaded case (default 4)\n"
		"  --tests LIST   some of randread,write,append (default all)\n"
		"  --json         print JSON instead of a table\n"
		"  --keep         keep the scratch files\n"
		"  --verbose      say what runs, on stderr\n");
}

/* Parse "123", "4K", "64M", "4G" (or "4GiB") into bytes; 0 on a
 * malformed value. */
static uint64_t parse_size(const char *s)
{
	static const char units[] = "kmgt";
	const char *u;
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return 0;
	u = *end ? strchr(units, tolower((unsigned char)*end)) : NULL;
	if (u) {
		v <<= 10 * (u - units + 1);
		end++;
		if (end[0] == 'i' && end[1] == 'B')
			end += 2;
	}
	return *end ? 0 : v;
}

/* "write,append" into a mask of tests; 0 on an unknown name. */
static unsigned parse_tests(const char *list)
{
	char *copy = strdup(list), *save = NULL, *tok;
	unsigned mask = 0, t;

	if (!copy)
		return 0;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (t = 0; t < TEST_COUNT; t++)
			if (!strncmp(test_name[t], tok, strlen(tok)))
				break;
		if (t == TEST_COUNT) {
			mask = 0;
			break;
		}
		mask |= 1u << t;
	}
	free(copy);
	return mask;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	int i;

	o->dir = "/var/tmp";
	o->seconds = 2;
	o->size = 0;
	o->data = 1ull << 30;
	o->rounds = 8;
	o->threads[0] = 1;
	o->threads[1] = 4;
	o->tests = (1u << TEST_COUNT) - 1;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--json")) {
			o->json = 1;
			continue;
		} else if (!strcmp(a, "--keep")) {
			o->keep = 1;
			continue;
		} else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
			o->verbose = 1;
			continue;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		}
		if (!v) {
			usage(stderr);
			return -EINVAL;
		}
		i++;
		if (!strcmp(a, "--dir")) {
			o->dir = v;
		} else if (!strcmp(a, "--seconds")) {
			o->seconds = strtod(v, NULL);
			if (!(o->seconds > 0))
				return -EINVAL;
		} else if (!strcmp(a, "--size")) {
			o->size = parse_size(v);
			if (!o->size)
				return -EINVAL;
		} else if (!strcmp(a, "--data")) {
			o->data = parse_size(v);
			if (o->data < WRITE_SIZE)
				return -EINVAL;
		} else if (!strcmp(a, "--rounds")) {
			o->rounds = (unsigned)atoi(v);
			if (o->rounds < 1 || o->rounds > MAX_ROUNDS)
				return -EINVAL;
		} else if (!strcmp(a, "--threads")) {
			o->threads[1] = (unsigned)atoi(v);
			if (o->threads[1] < 1 || o->threads[1] > MAX_THREADS)
				return -EINVAL;
		} else if (!strcmp(a, "--tests")) {
			o->tests = parse_tests(v);
			if (!o->tests)
				return -EINVAL;
		} else {
			usage(stderr);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- 2. clocks and random numbers ---------------------------------------- */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* splitmix64: small, fast, and the same sequence for both sides. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ---- 3. workers ---------------------------------------------------------- */

struct bench {
	struct options opt;
	char scratch[PATH_MAX];	/* our directory */
	char img_path[PATH_MAX + 16];
	char raw_path[PATH_MAX + 16];
	struct zvd_dev *dev;
	int raw_fd;
	struct zvd_geometry g;
	uint32_t *seq;		/* sequential zone numbers, in order */
	uint64_t *seq_start;	/* their start offsets */
	uint32_t nr_seq;
	uint32_t nr_fill;	/* seq[0 .. nr_fill) hold the read set */
	uint64_t fill_bytes;	/* bytes of the read set */
	void *bufs[MAX_THREADS]; /* one WRITE_SIZE buffer per thread */
};

/* What one thread does in one run, and what it got done. */
struct worker {
	struct bench *b;
	pthread_barrier_t *start;
	atomic_int *stop;
	enum test test;
	enum side side;
	unsigned id, nthreads;
	uint64_t quota;		/* bytes to write (writes and appends) */
	uint64_t ops, bytes;
	uint32_t zones_used;	/* zones it wrote to */
	double t0, t1;
	int err;		/* 0 or -errno */
	const char *what;	/* the call that failed */
};

/* The k-th zone a writer owns: the thread's zones interleave after the
 * read set so that every run writes the same zones. */
static uint32_t writer_zone_index(const struct worker *w, uint32_t k)
{
	return w->b->nr_fill + w->id + k * w->nthreads;
}

/* The device offset of byte @lo of the read set (zones packed back to
 * back): the same mapping for both sides. */
static uint64_t read_set_offset(const struct bench *b, uint64_t lo)
{
	uint64_t cap = b->g.zone_capacity;

	return b->seq_start[lo / cap] + lo % cap;
}

static int worker_fail(struct worker *w, int err, const char *what)
{
	w->err = err;
	w->what = what;
	atomic_store(w->stop, 1);
	return err;
}

/* 4 KiB reads at random block offsets of the read set. */
static void run_randread(struct worker *w)
{
	struct bench *b = w->b;
	uint64_t nblocks = b->fill_bytes / READ_SIZE;
	uint64_t seed = 0x5eedull * (w->id + 1);
	void *buf = b->bufs[w->id];
	double deadline = w->t0 + b->opt.seconds;

	for (;;) {
		uint64_t off = read_set_offset(b,
				(rng_next(&seed) % nblocks) * READ_SIZE);

		if (w->side == SIDE_ZVD) {
			int r = zvd_read(b->dev, buf, READ_SIZE, off);

			if (r < 0) {
				worker_fail(w, r, "zvd_read");
				return;
			}
		} else {
			ssize_t n = pread(b->raw_fd, buf, READ_SIZE,
					  (off_t)off);

			if (n != READ_SIZE) {
				worker_fail(w, n < 0 ? -errno : -EIO, "pread");
				return;
			}
		}
		w->ops++;
		if ((w->ops & TIME_CHECK_MASK) == 0 &&
		    (now() >= deadline || atomic_load(w->stop)))
			break;
	}
	w->bytes = w->ops * READ_SIZE;
}

/* 128 KiB writes (or appends) through the thread's zones, each from its
 * start, until the quota or the time is used up. */
static void run_write(struct worker *w)
{
	struct bench *b = w->b;
	uint64_t cap = b->g.zone_capacity;
	void *buf = b->bufs[w->id];
	double deadline = w->t0 + b->opt.seconds;
	uint32_t k = 0;
	uint64_t pos = 0; /* write pointer, relative to the zone start */

	while (w->bytes < w->quota) {
		uint32_t zi = writer_zone_index(w, k);
		uint64_t off = b->seq_start[zi] + pos;

		if (w->side == SIDE_RAW) {
			ssize_t n = pwrite(b->raw_fd, buf, WRITE_SIZE,
					   (off_t)off);

			if (n != WRITE_SIZE) {
				worker_fail(w, n < 0 ? -errno : -EIO, "pwrite");
				return;
			}
		} else if (w->test == TEST_WRITE) {
			int r = zvd_write(b->dev, buf, WRITE_SIZE, off, 0);

			if (r < 0) {
				worker_fail(w, r, "zvd_write");
				return;
			}
		} else {
			uint64_t where;
			int r = zvd_append(b->dev, b->seq[zi], buf, WRITE_SIZE,
					   0, &where);

			if (r < 0) {
				worker_fail(w, r, "zvd_append");
				return;
			}
			if (where != off) {
				worker_fail(w, -EIO, "zvd_append (landed "
					    "away from the write pointer)");
				return;
			}
		}
		w->zones_used = k + 1;
		w->ops++;
		w->bytes += WRITE_SIZE;
		pos += WRITE_SIZE;
		if (pos + WRITE_SIZE > cap) {
			k++;
			pos = 0;
		}
		if ((w->ops & TIME_CHECK_MASK) == 0 &&
		    (now() >= deadline || atomic_load(w->stop)))
			break;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	pthread_barrier_wait(w->start);
	w->t0 = now();
	if (w->test == TEST_RANDREAD)
		run_randread(w);
	else
		run_write(w);
	w->t1 = now();
	return NULL;
}

/* ---- 4. setup and teardown ----------------------------------------------- */

/* The scratch files to remove when the program exits, on any path. */
static struct bench *scratch_owner;

static void remove_scratch(void)
{
	struct bench *b = scratch_owner;

	if (!b || b->opt.keep || !*b->scratch)
		return;
	unlink(b->img_path);
	unlink(b->raw_path);
	rmdir(b->scratch);
}

static void die_zvd(struct bench *b, const char *what, int err)
{
	char text[256] = "";

	if (b->dev)
		zvd_last_error_text(b->dev, text, sizeof(text));
	fprintf(stderr, "zvd_bench: %s: %s%s%s\n", what, strerror(-err),
		*text ? ": " : "", text);
	exit(1);
}

static void die_errno(const char *what, const char *path)
{
	fprintf(stderr, "zvd_bench: %s %s: %s\n", what, path ? path : "",
		strerror(errno));
	exit(1);
}

/* Write every buffer of both sides, then sync the file system, so that a
 * run starts with nothing dirty. Not timed. */
static void settle(struct bench *b)
{
	int r = zvd_flush(b->dev);

	if (r < 0)
		die_zvd(b, "zvd_flush", r);
	if (syncfs(b->raw_fd) < 0)
		die_errno("syncfs", b->scratch);
}

/*
 * Have the memory a write run is about to fill with page cache backed by
 * the host. In a VM with free page reporting (virtio-balloon), pages freed
 * by the previous run's zone reset or hole punch go back to the host, and
 * the first touch of each costs a host page fault: a write run then
 * measures the hypervisor, by up to 4x, on whichever side comes first.
 * Touching that much anonymous memory and freeing it just before the
 * timed loop gives both sides the same, warm, start. Not timed.
 */
static void prefault(uint64_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p != MAP_FAILED)
		munmap(p, bytes);
}

/* Create the image and the raw file of the same size in a new directory. */
static void setup_files(struct bench *b)
{
	struct zvd_backend *be;
	const char *why = NULL;
	int r;

	snprintf(b->scratch, sizeof(b->scratch), "%s/zvd-bench.XXXXXX",
		 b->opt.dir);
	if (!mkdtemp(b->scratch))
		die_errno("mkdtemp", b->scratch);
	scratch_owner = b;
	atexit(remove_scratch);
	snprintf(b->img_path, sizeof(b->img_path), "%s/zvd.img", b->scratch);
	snprintf(b->raw_path, sizeof(b->raw_path), "%s/raw.img", b->scratch);

	zvd_geometry_default(&b->g);
	if (b->opt.size) {
		uint32_t nr_seq;

		b->g.size = b->opt.size / b->g.zone_size * b->g.zone_size;
		nr_seq = (uint32_t)(b->g.size / b->g.zone_size) -
			 b->g.nr_conv_zones;
		if (b->g.size / b->g.zone_size <= b->g.nr_conv_zones) {
			fprintf(stderr, "zvd_bench: --size leaves no "
				"sequential zone\n");
			exit(1);
		}
		/* a smaller device has fewer zones to keep open */
		if (b->g.max_open > nr_seq)
			b->g.max_open = nr_seq;
		if (b->g.max_active > nr_seq)
			b->g.max_active = nr_seq;
	}
	if (zvd_geometry_validate(&b->g, &why) < 0) {
		fprintf(stderr, "zvd_bench: geometry: %s\n", why ? why : "?");
		exit(1);
	}
	r = zvd_backend_file_open(b->img_path, ZVD_FILE_CREATE, &be);
	if (r < 0)
		die_zvd(b, "zvd_backend_file_open", r);
	r = zvd_create(be, &b->g, &b->dev);
	if (r < 0) {
		zvd_backend_close(be);
		die_zvd(b, "zvd_create", r);
	}
	zvd_get_geometry(b->dev, &b->g);

	b->raw_fd = open(b->raw_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
			 0644);
	if (b->raw_fd < 0)
		die_errno("open", b->raw_path);
	if (flock(b->raw_fd, LOCK_EX | LOCK_NB) < 0)
		die_errno("flock", b->raw_path);
	if (ftruncate(b->raw_fd, (off_t)b->g.size) < 0)
		die_errno("ftruncate", b->raw_path);
}

/* List the sequential zones. */
static void find_zones(struct bench *b)
{
	uint32_t n = zvd_nr_zones(b->dev), i;
	struct zvd_zone *z = calloc(n, sizeof(*z));
	int r;

	b->seq = calloc(n, sizeof(*b->seq));
	b->seq_start = calloc(n, sizeof(*b->seq_start));
	if (!z || !b->seq || !b->seq_start)
		die_errno("calloc", NULL);
	r = zvd_report(b->dev, 0, ZVD_REPORT_ALL, z, n);
	if (r < 0)
		die_zvd(b, "zvd_report", r);
	for (i = 0; i < (uint32_t)r; i++) {
		if (z[i].type != ZVD_ZONE_SEQUENTIAL)
			continue;
		b->seq[b->nr_seq] = i;
		b->seq_start[b->nr_seq] = z[i].start;
		b->nr_seq++;
	}
	free(z);
}

/* Stamp each 4 KiB block of @buf with its offset, so that blocks differ. */
static void stamp(void *buf, uint64_t off)
{
	uint32_t i;

	for (i = 0; i < WRITE_SIZE; i += READ_SIZE) {
		uint64_t v = off + i;

		memcpy((char *)buf + i, &v, sizeof(v));
	}
}

/* Write the read set to both sides: the same bytes at the same offsets,
 * zone after zone from the first sequential zone. A partly written last
 * zone is finished so that it holds no open resource. */
static void fill_read_set(struct bench *b)
{
	uint64_t cap = b->g.zone_capacity;
	uint64_t per_zone = cap / WRITE_SIZE * WRITE_SIZE;
	uint64_t want = b->opt.data / WRITE_SIZE * WRITE_SIZE;
	uint64_t done = 0;
	void *buf = b->bufs[0];
	uint32_t zi = 0;
	int r;

	if (per_zone != cap) {
		fprintf(stderr, "zvd_bench: zone capacity %" PRIu64
			" is not a multiple of %u\n", cap, WRITE_SIZE);
		exit(1);
	}
	while (done < want) {
		uint64_t pos;

		if (zi >= b->nr_seq / 2) {
			fprintf(stderr, "zvd_bench: --data %" PRIu64 " does not "
				"fit in half the image; use a larger --size\n",
				b->opt.data);
			exit(1);
		}
		for (pos = 0; pos < cap && done < want; pos += WRITE_SIZE) {
			uint64_t off = b->seq_start[zi] + pos;

			stamp(buf, off);
			r = zvd_write(b->dev, buf, WRITE_SIZE, off, 0);
			if (r < 0)
				die_zvd(b, "fill: zvd_write", r);
			if (pwrite(b->raw_fd, buf, WRITE_SIZE, (off_t)off) !=
			    WRITE_SIZE)
				die_errno("fill: pwrite", b->raw_path);
			done += WRITE_SIZE;
		}
		if (pos < cap) {
			r = zvd_zone_mgmt(b->dev, ZVD_OP_FINISH, b->seq[zi]);
			if (r < 0)
				die_zvd(b, "fill: finish", r);
		}
		zi++;
	}
	b->nr_fill = zi;
	b->fill_bytes = done;
	settle(b);
}

/* Check that both sides read back the same bytes at a few random offsets:
 * a benchmark of wrong answers is worth nothing. */
static void verify_read_set(struct bench *b)
{
	uint64_t seed = 42, nblocks = b->fill_bytes / READ_SIZE;
	char *x = b->bufs[0], *y = b->bufs[1 % MAX_THREADS];
	int i, r;

	for (i = 0; i < 256; i++) {
		uint64_t off = read_set_offset(b,
				(rng_next(&seed) % nblocks) * READ_SIZE);

		r = zvd_read(b->dev, x, READ_SIZE, off);
		if (r < 0)
			die_zvd(b, "verify: zvd_read", r);
		if (pread(b->raw_fd, y, READ_SIZE, (off_t)off) != READ_SIZE)
			die_errno("verify: pread", b->raw_path);
		if (memcmp(x, y, READ_SIZE) || memcmp(x, &off, sizeof(off))) {
			fprintf(stderr, "zvd_bench: zvd and the raw file differ "
				"at offset %" PRIu64 "\n", off);
			exit(1);
		}
	}
}

/* Undo a write run: reset the zones it used (durable, not timed) and punch
 * the same ranges out of the raw file, so both sides start fresh again. */
static void undo_writes(struct bench *b, struct worker *w, unsigned nthreads)
{
	unsigned t;
	uint32_t k;
	int r;

	for (t = 0; t < nthreads; t++) {
		for (k = 0; k < w[t].zones_used; k++) {
			uint32_t zi = writer_zone_index(&w[t], k);

			if (w[t].side == SIDE_ZVD) {
				r = zvd_zone_mgmt(b->dev, ZVD_OP_RESET,
						  b->seq[zi]);
				if (r < 0)
					die_zvd(b, "zvd_zone_mgmt reset", r);
			} else if (fallocate(b->raw_fd, FALLOC_FL_PUNCH_HOLE |
					     FALLOC_FL_KEEP_SIZE,
					     (off_t)b->seq_start[zi],
					     (off_t)b->g.zone_size) < 0) {
				die_errno("fallocate punch", b->raw_path);
			}
		}
	}
}

static void teardown(struct bench *b)
{
	unsigned i;
	int r;

	r = zvd_close(b->dev);
	b->dev = NULL;
	if (r < 0)
		die_zvd(b, "zvd_close", r);
	close(b->raw_fd);
	remove_scratch();
	scratch_owner = NULL;
	for (i = 0; i < MAX_THREADS; i++)
		free(b->bufs[i]);
	free(b->seq);
	free(b->seq_start);
}

/* ---- 5. runs ------------------------------------------------------------- */

struct sample {
	double rate;	/* IOPS for reads, MB/s (10^6 bytes) for writes */
	double secs;
	uint64_t bytes;
	double cpu_us;	/* user+system CPU time per request, microseconds */
};

/* User and system CPU time of the whole process so far, in seconds. */
static double cpu_time(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

struct result {
	enum test test;
	unsigned threads;
	struct sample s[2][MAX_ROUNDS]; /* [side][round] */
	unsigned n;
	double median[2];	/* of the rates of each side */
	double ratio;		/* median of the rounds' zvd/raw ratios */
	double spread[2];	/* (max - min) / median of each side */
	double cpu_us[2];	/* the least CPU per request of each side */
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sort @v (@n values) and return its median. */
static double median_of(double *v, unsigned n)
{
	qsort(v, n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Median and relative spread of the rates of each side, and the median of
 * the per-round ratios (a round's two runs are next to each other). */
static void summarize(struct result *res)
{
	double v[MAX_ROUNDS];
	unsigned i, side, n = res->n;

	for (side = 0; side < 2; side++) {
		for (i = 0; i < n; i++)
			v[i] = res->s[side][i].rate;
		res->median[side] = median_of(v, n);
		res->spread[side] = res->median[side] > 0 ?
				    (v[n - 1] - v[0]) / res->median[side] : 0;
	}
	for (i = 0; i < n; i++)
		v[i] = res->s[SIDE_RAW][i].rate > 0 ?
		       res->s[SIDE_ZVD][i].rate / res->s[SIDE_RAW][i].rate : 0;
	res->ratio = median_of(v, n);
}

/* The bytes each writer of a run may write: --data split between the
 * threads, trimmed so that their zones fit after the read set. */
static uint64_t writer_quota(const struct bench *b, unsigned nthreads)
{
	uint64_t cap = b->g.zone_capacity;
	uint64_t q = b->opt.data / nthreads / WRITE_SIZE * WRITE_SIZE;
	uint32_t free_zones = b->nr_seq - b->nr_fill;
	uint64_t zones_each = free_zones / nthreads;

	if (zones_each == 0) {
		fprintf(stderr, "zvd_bench: no room for %u writers; use a "
			"larger --size\n", nthreads);
		exit(1);
	}
	if (b->g.max_open && nthreads > b->g.max_open) {
		fprintf(stderr, "zvd_bench: %u writers exceed the open zone "
			"limit %u\n", nthreads, b->g.max_open);
		exit(1);
	}
	if (q > zones_each * cap)
		q = zones_each * cap;
	return q;
}

/* One timed run of @test on @side with @nthreads threads. */
static struct sample run_once(struct bench *b, enum test test,
			      enum side side, unsigned nthreads)
{
	struct worker w[MAX_THREADS];
	pthread_t tid[MAX_THREADS];
	pthread_barrier_t start;
	atomic_int stop = 0;
	struct sample s = { 0 };
	double t0 = 0, t1 = 0, cpu;
	uint64_t ops = 0;
	unsigned t;

	settle(b);
	if (test != TEST_RANDREAD)
		prefault(writer_quota(b, nthreads) * nthreads / 4 * 5);
	pthread_barrier_init(&start, NULL, nthreads);
	cpu = cpu_time();
	for (t = 0; t < nthreads; t++) {
		w[t] = (struct worker){
			.b = b, .start = &start, .stop = &stop,
			.test = test, .side = side,
			.id = t, .nthreads = nthreads,
			.quota = test == TEST_RANDREAD ? 0 :
				 writer_quota(b, nthreads),
		};
		errno = pthread_create(&tid[t], NULL, worker_main, &w[t]);
		if (errno)
			die_errno("pthread_create", NULL);
	}
	for (t = 0; t < nthreads; t++)
		pthread_join(tid[t], NULL);
	cpu = cpu_time() - cpu;
	pthread_barrier_destroy(&start);

	for (t = 0; t < nthreads; t++) {
		if (w[t].err) {
			if (side == SIDE_ZVD)
				die_zvd(b, w[t].what, w[t].err);
			fprintf(stderr, "zvd_bench: %s: %s\n", w[t].what,
				strerror(-w[t].err));
			exit(1);
		}
		if (t == 0 || w[t].t0 < t0)
			t0 = w[t].t0;
		if (t == 0 || w[t].t1 > t1)
			t1 = w[t].t1;
		ops += w[t].ops;
		s.bytes += w[t].bytes;
	}
	s.secs = t1 - t0;
	s.cpu_us = ops ? cpu * 1e6 / (double)ops : 0;
	s.rate = test == TEST_RANDREAD ? (double)ops / s.secs :
					 (double)s.bytes / s.secs / 1e6;
	if (test != TEST_RANDREAD)
		undo_writes(b, w, nthreads);
	if (b->opt.verbose)
		fprintf(stderr, "  %-12s %2u thread(s) %-3s %12.1f %s "
			"(%.2f s, %" PRIu64 " MiB, %.2f us CPU/request)\n",
			test_name[test], nthreads,
			side == SIDE_ZVD ? "zvd" : "raw", s.rate,
			test == TEST_RANDREAD ? "IOPS" : "MB/s", s.secs,
			s.bytes >> 20, s.cpu_us);
	return s;
}

/* All rounds of one test, ABBA: raw zvd | zvd raw | raw zvd | ... */
static void run_test(struct bench *b, struct result *res)
{
	unsigned i, k, side;

	res->n = b->opt.rounds;
	for (i = 0; i < res->n; i++) {
		for (k = 0; k < 2; k++) {
			side = (i & 1) ? 1 - k : k;
			res->s[side][i] = run_once(b, res->test, side,
						   res->threads);
		}
	}
	summarize(res);
	for (side = 0; side < 2; side++) {
		res->cpu_us[side] = INFINITY;
		for (i = 0; i < res->n; i++)
			if (res->s[side][i].cpu_us < res->cpu_us[side])
				res->cpu_us[side] = res->s[side][i].cpu_us;
	}
}

/* ---- 6. report ----------------------------------------------------------- */

static const char *unit_of(enum test t)
{
	return t == TEST_RANDREAD ? "IOPS" : "MB/s";
}

static double ratio_of(const struct result *r)
{
	return r->ratio;
}

/* The name of the file system @path is on, for the report. */
static const char *fs_name(const char *path)
{
	static const struct {
		unsigned long magic;
		const char *name;
	} known[] = {
		{ 0xef53, "ext4" },	     { 0x58465342, "xfs" },
		{ 0x9123683e, "btrfs" },     { 0x01021994, "tmpfs" },
		{ 0xf2f52010, "f2fs" },	     { 0x794c7630, "overlayfs" },
	};
	struct statfs sf;
	size_t i;

	if (statfs(path, &sf) < 0)
		return "?";
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (known[i].magic == (unsigned long)sf.f_type)
			return known[i].name;
	return "other";
}

static void print_table(const struct bench *b, const struct result *res,
			unsigned n)
{
	unsigned i, met = 0;

	printf("zvd_bench: file backend in %s (%s)\n", b->opt.dir,
	       fs_name(b->scratch));
	printf("image %" PRIu64 " MiB, %u sequential zones of %" PRIu64
	       " MiB (capacity %" PRIu64 " MiB); read set %" PRIu64
	       " MiB; writes up to %" PRIu64 " MiB or %.1f s per run\n",
	       b->g.size >> 20, b->nr_seq, b->g.zone_size >> 20,
	       b->g.zone_capacity >> 20, b->fill_bytes >> 20,
	       b->opt.data >> 20, b->opt.seconds);
	printf("%u rounds of raw and zvd runs, ABBA order; raw = pread/pwrite "
	       "on a sparse file\nof the same size. zvd, raw: median rate of "
	       "the runs; zvd/raw: median of the\nrounds' ratios; spread: "
	       "(fastest - slowest run) / median; CPU: least user+system\n"
	       "microseconds per request of any run, all threads\n\n",
	       b->opt.rounds);
	printf("%-12s %7s %9s %9s %5s %7s  %-10s %11s %15s\n", "", "", "",
	       "", "", "", "", "spread", "CPU us/req");
	printf("%-12s %7s %9s %9s %5s %7s  %-10s %5s %5s %7s %7s\n", "test",
	       "threads", "zvd", "raw", "unit", "zvd/raw", "bar 0.90x",
	       "zvd", "raw", "zvd", "raw");
	for (i = 0; i < n; i++) {
		const struct result *r = &res[i];
		double ratio = ratio_of(r);
		int ok = ratio >= BAR;

		met += ok;
		printf("%-12s %7u %9.0f %9.0f %5s %7.2f  %-10s %4.0f%% %4.0f%% "
		       "%7.2f %7.2f\n", test_name[r->test], r->threads,
		       r->median[SIDE_ZVD], r->median[SIDE_RAW],
		       unit_of(r->test), ratio, ok ? "met" : "NOT met",
		       r->spread[SIDE_ZVD] * 100, r->spread[SIDE_RAW] * 100,
		       r->cpu_us[SIDE_ZVD], r->cpu_us[SIDE_RAW]);
	}
	printf("\nbar (zvd >= 0.90x raw, reads and writes): %s (%u of %u "
	       "rows)\n", met == n ? "met" : "NOT met", met, n);
}

static void print_samples(const struct result *r, enum side side)
{
	unsigned i;

	printf("[");
	for (i = 0; i < r->n; i++)
		printf("%s%.1f", i ? ", " : "", r->s[side][i].rate);
	printf("]");
}

static void print_json(const struct bench *b, const struct result *res,
		       unsigned n)
{
	unsigned i, met = 0;

	printf("{\n  \"dir\": \"%s\",\n  \"fs\": \"%s\",\n", b->opt.dir,
	       fs_name(b->scratch));
	printf("  \"image_bytes\": %" PRIu64 ",\n  \"zone_size\": %" PRIu64
	       ",\n  \"zone_capacity\": %" PRIu64 ",\n", b->g.size,
	       b->g.zone_size, b->g.zone_capacity);
	printf("  \"read_set_bytes\": %" PRIu64 ",\n  \"write_limit_bytes\": %"
	       PRIu64 ",\n  \"seconds\": %.2f,\n  \"rounds\": %u,\n",
	       b->fill_bytes, b->opt.data, b->opt.seconds, b->opt.rounds);
	printf("  \"statistic\": \"rates: median of the runs; ratio: median "
	       "of the per-round ratios\",\n  \"bar\": %.2f,\n"
	       "  \"results\": [\n", BAR);
	for (i = 0; i < n; i++) {
		double ratio = ratio_of(&res[i]);

		met += ratio >= BAR;
		printf("    {\"test\": \"%s\", \"threads\": %u, \"unit\": "
		       "\"%s\", \"zvd\": %.1f, \"raw\": %.1f, \"ratio\": %.3f, "
		       "\"met\": %s, \"zvd_spread\": %.3f, \"raw_spread\": "
		       "%.3f, \"zvd_cpu_us\": %.3f, \"raw_cpu_us\": %.3f, "
		       "\"zvd_runs\": ", test_name[res[i].test],
		       res[i].threads, unit_of(res[i].test),
		       res[i].median[SIDE_ZVD], res[i].median[SIDE_RAW], ratio,
		       ratio >= BAR ? "true" : "false",
		       res[i].spread[SIDE_ZVD], res[i].spread[SIDE_RAW],
		       res[i].cpu_us[SIDE_ZVD], res[i].cpu_us[SIDE_RAW]);
		print_samples(&res[i], SIDE_ZVD);
		printf(", \"raw_runs\": ");
		print_samples(&res[i], SIDE_RAW);
		printf("}%s\n", i + 1 < n ? "," : "");
	}
	printf("  ],\n  \"all_met\": %s\n}\n", met == n ? "true" : "false");
}

/* ---- 7. main ------------------------------------------------------------- */

int main(int argc, char **argv)
{
	static struct bench b;
	struct result res[TEST_COUNT * 2];
	unsigned nres = 0, i, t;
	int test;

	if (parse_options(argc, argv, &b.opt) < 0) {
		fprintf(stderr, "zvd_bench: bad arguments (try --help)\n");
		return 2;
	}
	for (i = 0; i < MAX_THREADS; i++) {
		if (posix_memalign(&b.bufs[i], 4096, WRITE_SIZE))
			die_errno("posix_memalign", NULL);
		memset(b.bufs[i], 0xa5 ^ i, WRITE_SIZE);
	}
	setup_files(&b);
	find_zones(&b);
	if (b.opt.verbose)
		fprintf(stderr, "zvd_bench: filling %" PRIu64 " MiB on both "
			"sides in %s\n", b.opt.data >> 20, b.scratch);
	fill_read_set(&b);
	verify_read_set(&b);

	for (test = 0; test < TEST_COUNT; test++) {
		if (!(b.opt.tests & (1u << test)))
			continue;
		for (t = 0; t < 2; t++) {
			res[nres].test = (enum test)test;
			res[nres].threads = b.opt.threads[t];
			run_test(&b, &res[nres]);
			nres++;
		}
	}
	if (b.opt.json)
		print_json(&b, res, nres);
	else
		print_table(&b, res, nres);
	teardown(&b);
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * zoneops.c - a seeded random sequence of zone operations, reads and
 * writes (good and bad) against a zoned block device, printing one
 * canonical line per operation: what was done, its outcome (a byte count,
 * "ok", or the errno's name; a hash of the data for reads) and the state
 * of every zone after it. Two devices with the same geometry must print
 * the same lines; the VM tests diff null_blk against zvd's ublk device and
 * QEMU's NVMe ZNS namespace. Built -static so it runs in the busybox guest.
 *
 *   zoneops DEV [--seed N] [--ops N] [--state-every N]
 *
 * Sections: device and report, the model, operations, main.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <linux/blkzoned.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* ------------------------------------------------------ device and report */

struct dev {
	int fd;
	uint64_t size;		/* bytes */
	unsigned bs;		/* logical block size */
	uint64_t zsize;		/* bytes */
	unsigned nz;
	struct blk_zone *z;	/* last report */
	struct blk_zone_report *rep;
};

static int dev_report(struct dev *d)
{
	memset(d->rep, 0, sizeof(*d->rep) + d->nz * sizeof(struct blk_zone));
	d->rep->sector = 0;
	d->rep->nr_zones = d->nz;
	if (ioctl(d->fd, BLKREPORTZONE, d->rep) < 0)
		return -errno;
	if (d->rep->nr_zones != d->nz)
		return -EIO;
	d->z = d->rep->zones;
	return 0;
}

static int dev_open(struct dev *d, const char *path)
{
	unsigned nz, zsec;
	int bs;

	d->fd = open(path, O_RDWR | O_DIRECT);
	if (d->fd < 0)
		return -errno;
	if (ioctl(d->fd, BLKGETSIZE64, &d->size) || ioctl(d->fd, BLKSSZGET, &bs) ||
	    ioctl(d->fd, BLKGETNRZONES, &nz) || ioctl(d->fd, BLKGETZONESZ, &zsec))
		return -errno;
	if (!nz || !zsec)
		return -ENOTTY;
	d->bs = (unsigned)bs;
	d->nz = nz;
	d->zsize = (uint64_t)zsec << 9;
	d->rep = calloc(1, sizeof(*d->rep) + nz * sizeof(struct blk_zone));
	if (!d->rep)
		return -ENOMEM;
	return dev_report(d);
}

/* ---------------------------------------------------------------- model */

/* Bytes of zone i that hold data we wrote (what reads can compare). */
static uint64_t *valid;
/* The last write that succeeded: zone and end offset in it (a write that
 * fills a zone leaves no write pointer to learn its end from). */
static long last_zone = -1;
static uint64_t last_end;

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: the same sequence on every machine */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--)
		h = (h ^ *c++) * 1099511628211ull;
	return h;
}

static const char *cond_name(unsigned c)
{
	switch (c) {
	case BLK_ZONE_COND_NOT_WP: return "n";
	case BLK_ZONE_COND_EMPTY: return "e";
	case BLK_ZONE_COND_IMP_OPEN: return "i";
	case BLK_ZONE_COND_EXP_OPEN: return "o";
	case BLK_ZONE_COND_CLOSED: return "c";
	case BLK_ZONE_COND_READONLY: return "r";
	case BLK_ZONE_COND_FULL: return "f";
	case BLK_ZONE_COND_OFFLINE: return "x";
	}
	return "?";
}

static bool is_seq(const struct dev *d, unsigned i)
{
	return d->z[i].type != BLK_ZONE_TYPE_CONVENTIONAL;
}

/* Write pointer of zone i in blocks from the zone start; only meaningful
 * in the open, closed and empty conditions (a full zone's is reported as
 * start+cap by null_blk and start+len by NVMe). */
static uint64_t wp_blocks(const struct dev *d, unsigned i)
{
	return ((d->z[i].wp - d->z[i].start) << 9) / d->bs;
}

static bool has_wp(unsigned c)
{
	return c == BLK_ZONE_COND_EMPTY || c == BLK_ZONE_COND_IMP_OPEN ||
	       c == BLK_ZONE_COND_EXP_OPEN || c == BLK_ZONE_COND_CLOSED;
}

/* The canonical state: each sequential zone's condition and write pointer,
 * plus the open and active counts. */
static void print_state(const struct dev *d, FILE *f)
{
	unsigned i, open = 0, active = 0;
	uint64_t h = 14695981039346656037ull;
	char buf[64];

	for (i = 0; i < d->nz; i++) {
		unsigned c = d->z[i].cond;

		if (c == BLK_ZONE_COND_IMP_OPEN || c == BLK_ZONE_COND_EXP_OPEN)
			open++;
		if (c == BLK_ZONE_COND_IMP_OPEN || c == BLK_ZONE_COND_EXP_OPEN ||
		    c == BLK_ZONE_COND_CLOSED)
			active++;
		if (!is_seq(d, i))
			continue;
		if (has_wp(c) && c != BLK_ZONE_COND_EMPTY)
			snprintf(buf, sizeof(buf), "%s%" PRIu64, cond_name(c), wp_blocks(d, i));
		else
			snprintf(buf, sizeof(buf), "%s", cond_name(c));
		if (d->nz <= 64)
			fprintf(f, "%s%s", i ? " " : "", buf);
		h = fnv(h, buf, strlen(buf) + 1);
	}
	if (d->nz > 64)
		fprintf(f, "h=%016" PRIx64, h);
	fprintf(f, " [open %u active %u]", open, active);
}

/* Keep the model's valid extents in step with the device after an op. */
static void model_update(const struct dev *d)
{
	unsigned i;

	for (i = 0; i < d->nz; i++) {
		unsigned c = d->z[i].cond;

		if (!is_seq(d, i))
			valid[i] = d->z[i].capacity << 9;
		else if (c == BLK_ZONE_COND_EMPTY)
			valid[i] = 0;
		else if (has_wp(c))
			valid[i] = wp_blocks(d, i) * d->bs;
		else if (c == BLK_ZONE_COND_FULL && (long)i == last_zone &&
			 last_end > valid[i])
			valid[i] = last_end;
		/* otherwise (full, read-only, offline) what was valid stays */
	}
	last_zone = -1;
}

/* ------------------------------------------------------------ operations */

static char *buf;
static size_t buf_len;

static const char *err_name(int e)
{
	static char other[16];

	switch (e) {
	case EIO: return "EIO";
	case EINVAL: return "EINVAL";
	case ENOSPC: return "ENOSPC";
	case EOVERFLOW: return "EOVERFLOW";
	case ETOOMANYREFS: return "ETOOMANYREFS";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENODEV: return "ENODEV";
	case EBADF: return "EBADF";
	case EPERM: return "EPERM";
	case EBUSY: return "EBUSY";
	case ENXIO: return "ENXIO";
	case EFBIG: return "EFBIG";
	}
	snprintf(other, sizeof(other), "E%d", e);
	return other;
}

/* Deterministic data for write number @op. */
static void fill(uint64_t seed, uint64_t op, size_t n)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + op + 1;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(buf + i, &x, 8);
	}
}

static void do_write(struct dev *d, uint64_t seed, uint64_t op, uint64_t off,
		     size_t len, FILE *f)
{
	ssize_t r;

	fill(seed, op, len);
	r = pwrite(d->fd, buf, len, (off_t)off);
	fprintf(f, "write @%" PRIu64 "+%zu = ", off / d->bs, len / d->bs);
	if (r < 0)
		fprintf(f, "%s", err_name(errno));
	else if ((size_t)r == len)
		fprintf(f, "ok");
	else
		fprintf(f, "short %zd", r);
	if (r > 0) {
		last_zone = (long)(off / d->zsize);
		last_end = off + (uint64_t)r - (uint64_t)last_zone * d->zsize;
	}
}

/* Hash what a read returned, only over bytes the model knows: below each
 * zone's valid mark (devices differ in what unwritten space reads as). */
static void do_read(struct dev *d, uint64_t off, size_t len, FILE *f)
{
	uint64_t h = 14695981039346656037ull, p;
	ssize_t r;

	r = pread(d->fd, buf, len, (off_t)off);
	fprintf(f, "read @%" PRIu64 "+%zu = ", off / d->bs, len / d->bs);
	if (r < 0) {
		fprintf(f, "%s", err_name(errno));
		return;
	}
	for (p = 0; p < (uint64_t)r; p += d->bs) {
		uint64_t a = off + p;
		unsigned z = (unsigned)(a / d->zsize);

		if (z < d->nz && a - z * d->zsize < valid[z])
			h = fnv(h, buf + p, d->bs);
	}
	fprintf(f, "%s %zd h=%016" PRIx64, (size_t)r == len ? "ok" : "short", r, h);
}

static void do_mgmt(struct dev *d, unsigned long req, const char *name,
		    uint64_t sector, uint64_t nr, FILE *f)
{
	struct blk_zone_range range = { .sector = sector, .nr_sectors = nr };

	fprintf(f, "%s @%" PRIu64 "+%" PRIu64 " = ", name,
		(sector << 9) / d->bs, (nr << 9) / d->bs);
	if (ioctl(d->fd, req, &range) < 0)
		fprintf(f, "%s", err_name(errno));
	else
		fprintf(f, "ok");
}

/* One random operation. The weights favour writes at the write pointer so
 * zones fill, open and hit the limits; the rest probe every refusal. */
static void one_op(struct dev *d, uint64_t seed, uint64_t i, FILE *f)
{
	unsigned z = (unsigned)below(d->nz), k = (unsigned)below(1000);
	uint64_t zs = z * d->zsize, cap = d->z[z].capacity << 9;
	uint64_t wp = has_wp(d->z[z].cond) ? wp_blocks(d, z) * d->bs : cap;
	uint64_t zsec = d->zsize >> 9, off;
	size_t n = (size_t)(1 + below(8)) * d->bs;

	if (n > buf_len)
		n = buf_len;
	if (k < 420) {			/* at the write pointer */
		if (below(10) == 0 && cap > wp)	/* to capacity, or past */
			n = (size_t)(cap - wp) + (below(2) ? d->bs : 0);
		if (n > buf_len)
			n = buf_len;
		if (!is_seq(d, z))
			off = zs + below(cap / d->bs) * d->bs;
		else
			off = zs + wp;
		do_write(d, seed, i, off, n, f);
	} else if (k < 500) {		/* off the write pointer */
		off = zs + (below(2) ? wp + d->bs * (1 + below(4)) :
				       (wp >= d->bs ? wp - d->bs : d->bs));
		do_write(d, seed, i, off, n, f);
	} else if (k < 520) {		/* misaligned offset or length */
		off = zs + wp + (below(2) ? 512 : 0);
		do_write(d, seed, i, off, below(2) ? n + 512 : n, f);
	} else if (k < 535) {		/* past the end of the device */
		do_write(d, seed, i, d->size - (below(2) ? 0 : d->bs), 2 * d->bs, f);
	} else if (k < 700) {		/* a read anywhere, maybe across zones */
		/* mostly where data is, so the hashes say something */
		if (valid[z] >= d->bs && below(4))
			off = zs + below(valid[z] / d->bs) * d->bs;
		else
			off = zs + below(d->zsize / d->bs) * d->bs;
		n = (size_t)(1 + below(buf_len / d->bs)) * d->bs;
		if (off + n > d->size)
			off = d->size - n;
		do_read(d, off, n, f);
	} else if (k < 710) {		/* a read past the end */
		do_read(d, d->size - d->bs, 2 * d->bs, f);
	} else if (k < 770) {
		do_mgmt(d, BLKOPENZONE, "open", zs >> 9, zsec, f);
	} else if (k < 830) {
		do_mgmt(d, BLKCLOSEZONE, "close", zs >> 9, zsec, f);
	} else if (k < 880) {
		do_mgmt(d, BLKFINISHZONE, "finish", zs >> 9, zsec, f);
	} else if (k < 960) {
		do_mgmt(d, BLKRESETZONE, "reset", zs >> 9, zsec, f);
	} else if (k < 970) {		/* every zone at once */
		do_mgmt(d, BLKRESETZONE, "reset", 0, d->size >> 9, f);
	} else if (k < 980) {		/* two zones */
		do_mgmt(d, BLKFINISHZONE, "finish", zs >> 9,
			z + 1 < d->nz ? 2 * zsec : zsec, f);
	} else if (k < 990) {		/* not a zone start */
		do_mgmt(d, below(2) ? BLKRESETZONE : BLKOPENZONE,
			"misaligned", (zs >> 9) + 8, zsec, f);
	} else {			/* past the end */
		do_mgmt(d, BLKRESETZONE, "reset-past-end", d->size >> 9, zsec, f);
	}
}

/* Hash of each zone's valid data, read back in one piece per zone. */
static int final_check(struct dev *d, FILE *f)
{
	unsigned i;

	for (i = 0; i < d->nz; i++) {
		uint64_t h = 14695981039346656037ull, p, v = valid[i];
		ssize_t r;

		for (p = 0; p < v; p += buf_len) {
			size_t n = v - p < buf_len ? (size_t)(v - p) : buf_len;

			r = pread(d->fd, buf, n, (off_t)(i * d->zsize + p));
			if (r != (ssize_t)n) {
				fprintf(f, "final z%u read failed\n", i);
				return 1;
			}
			h = fnv(h, buf, n);
		}
		fprintf(f, "final z%u %s valid %" PRIu64 " h=%016" PRIx64 "\n", i,
			cond_name(d->z[i].cond), v / d->bs, h);
	}
	return 0;
}

/* ------------------------------------------------------------------ main */

static void usage(void)
{
	fprintf(stderr, "usage: zoneops DEV [--seed N] [--ops N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct dev d = { .fd = -1 };
	uint64_t seed = 1, ops = 1000, i;
	const char *path = NULL;
	int a, r;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--seed") && a + 1 < argc)
			seed = strtoull(argv[++a], NULL, 0);
		else if (!strcmp(argv[a], "--ops") && a + 1 < argc)
			ops = strtoull(argv[++a], NULL, 0);
		else if (argv[a][0] == '-' || path)
			usage();
		else
			path = argv[a];
	}
	if (!path)
		usage();
	r = dev_open(&d, path);
	if (r) {
		fprintf(stderr, "zoneops: %s: %s\n", path, strerror(-r));
		return 1;
	}
	rng_state = seed * 0x2545f4914f6cdd1dull + 1;
	buf_len = 16 * d.bs;
	if (posix_memalign((void **)&buf, 4096, buf_len + 4096) ||
	    !(valid = calloc(d.nz, sizeof(*valid))))
		return 1;
	/* a fresh start: every zone empty */
	if (ioctl(d.fd, BLKRESETZONE, &(struct blk_zone_range){ 0, d.size >> 9 }) < 0 ||
	    dev_report(&d))
		return 1;
	model_update(&d);
	printf("geometry %u zones of %" PRIu64 " blocks, %u-byte blocks, seed %" PRIu64 "\n",
	       d.nz, d.zsize / d.bs, d.bs, seed);
	for (i = 0; i < ops; i++) {
		printf("%" PRIu64 " ", i);
		one_op(&d, seed, i, stdout);
		r = dev_report(&d);
		if (r) {
			printf(" | report %s\n", err_name(-r));
			return 1;
		}
		printf(" | ");
		print_state(&d, stdout);
		printf("\n");
		model_update(&d);
	}
	fflush(stdout);
	return final_check(&d, stdout);
}

/* SPDX-License-Identifier: MIT */
/*
 * snap_write.c - the zvd side of bench/run-snap (snapshots against
 * qemu-img on qcow2). Three modes, each on a fresh image file in DIR:
 *
 *   snap_write snap DIR --size S [--data D]
 *       an image of S bytes (64 MiB zones, zone 0 conventional) with the
 *       first D bytes (default 1 GiB) written in 1 MiB requests, flushed;
 *       then times zvd_snapshot_create (5 snapshots, each after 1 MiB of
 *       zone 0 is overwritten) and zvd_rollback (5 rollbacks, each after
 *       zone 1 was reset and rewritten), inside the process; leaves the image
 *       (closed) as DIR/snap.img for the script to time the commands.
 *
 *   snap_write write DIR --snapshots K [--writes N] [--zone-size Z]
 *                        [--region R]
 *       an image of 2 R (default R = 1 GiB) whose first R are conventional
 *       zones of Z bytes (default 64 MiB), written through once; then K
 *       rounds of (2000 4 KiB writes, snapshot); then, timed: N (default
 *       20000) 4 KiB writes over the region and one flush. Prints the rate.
 *
 * The 4 KiB writes follow 'qemu-img bench -w -S STEP -o OFFSET' (qemu
 * 7.2): request i is at (OFFSET + i * STEP) mod R, STEP an odd number of
 * blocks near 0.62 R so that consecutive requests land far apart and N
 * requests touch N different blocks. Round k starts at offset
 * round_offset(k), the timed run (k = 0) at 0; bench/snap_bench.sh gives
 * qemu-img the same numbers (snap_write step / snap_write offset K).
 *
 * Output: "key=value" words on one line, for the script to read.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zvd.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define BS 4096u
#define ROUND_WRITES 2000u

struct opts {
	const char *mode, *dir;
	uint64_t size, data, region, zone_size;
	unsigned snapshots, writes, round;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 10);

	switch (*end) {
	case 'K': return v << 10;
	case 'M': return v << 20;
	case 'G': return v << 30;
	case 'T': return v << 40;
	}
	return v;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "snap_write: %s: %s\n", what, strerror(-rc));
	exit(1);
}

/* The stride: an odd number of blocks, about 0.618 of the region. */
static uint64_t stride(uint64_t region)
{
	return ((region / BS * 618 / 1000) | 1) * BS;
}

/* Where round @k starts. */
static uint64_t round_offset(uint64_t region, unsigned k)
{
	return (uint64_t)k * 1009 * BS % region;
}

static struct zvd_dev *create(const char *path, const struct zvd_geometry *g)
{
	struct zvd_backend *be;
	struct zvd_dev *dev;
	int rc;

	unlink(path);
	rc = zvd_backend_file_open(path, ZVD_FILE_CREATE, &be);
	if (rc)
		die(path, rc);
	rc = zvd_create(be, g, &dev);
	if (rc)
		die("zvd_create", rc);
	return dev;
}

/* Write [off, off + len) in 1 MiB requests (all at write pointers). */
static void fill(struct zvd_dev *dev, char *buf, uint64_t off, uint64_t len)
{
	for (; len; off += MIB, len -= MIB) {
		int rc;

		memset(buf, (int)(off >> 20) | 1, 64);
		rc = zvd_write(dev, buf, MIB, off, 0);
		if (rc)
			die("fill", rc);
	}
	if (zvd_flush(dev))
		die("flush", -EIO);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static int mode_snap(const struct opts *o)
{
	char path[4096], name[32];
	struct zvd_geometry g;
	struct zvd_dev *dev;
	double tc[5], tr[5];
	char *buf = calloc(1, MIB);
	int i, rc;

	zvd_geometry_default(&g);
	g.size = o->size;
	g.zone_size = g.zone_capacity = 64 * MIB;
	g.nr_conv_zones = 1;
	snprintf(path, sizeof(path), "%s/snap.img", o->dir);
	dev = create(path, &g);
	fill(dev, buf, 0, o->data);
	for (i = 0; i < 5; i++) {
		double t;

		/* a little new data each time: an overwrite in zone 0 */
		fill(dev, buf, (uint64_t)i * MIB, MIB);
		snprintf(name, sizeof(name), "s%d", i);
		t = now();
		rc = zvd_snapshot_create(dev, name);
		tc[i] = (now() - t) * 1e3;
		if (rc)
			die("zvd_snapshot_create", rc);
	}
	for (i = 0; i < 5; i++) {
		double t;
		/* change something first: reset zone 1, rewrite its start */
		rc = zvd_zone_mgmt(dev, ZVD_OP_RESET, 1);
		if (rc)
			die("reset", rc);
		fill(dev, buf, 64 * MIB, 2 * MIB);
		snprintf(name, sizeof(name), "s%d", i);
		t = now();
		rc = zvd_rollback(dev, name);
		tr[i] = (now() - t) * 1e3;
		if (rc)
			die("zvd_rollback", rc);
	}
	rc = zvd_close(dev);
	if (rc)
		die("close", rc);
	free(buf);
	printf("image=%s create_ms_median=%.3f create_ms_max=%.3f rollback_ms_median=%.3f rollback_ms_max=%.3f\n",
	       path, median(tc, 5), tc[4], median(tr, 5), tr[4]);
	return 0;
}

/* @n 4 KiB writes of round @k over the region, as qemu-img bench. */
static void random_writes(struct zvd_dev *dev, const struct opts *o,
			  unsigned k, unsigned n, char *buf)
{
	uint64_t off = round_offset(o->region, k), step = stride(o->region);
	unsigned i;

	for (i = 0; i < n; i++) {
		int rc;

		buf[0] = (char)i;
		rc = zvd_write(dev, buf, BS, off, 0);
		if (rc)
			die("random write", rc);
		off = (off + step) % o->region;
	}
}

static int mode_write(const struct opts *o)
{
	char path[4096], name[32], *buf = calloc(1, MIB);
	struct zvd_geometry g;
	struct zvd_dev *dev;
	double t, secs;
	unsigned k;
	int rc;

	zvd_geometry_default(&g);
	g.zone_size = g.zone_capacity = o->zone_size;
	g.size = 2 * o->region;
	g.nr_conv_zones = (uint32_t)(o->region / o->zone_size);
	g.max_append = 0;
	snprintf(path, sizeof(path), "%s/write.img", o->dir);
	dev = create(path, &g);
	memset(buf, 0x5a, MIB);
	fill(dev, buf, 0, o->region);
	for (k = 1; k <= o->snapshots; k++) {
		random_writes(dev, o, k, ROUND_WRITES, buf);
		snprintf(name, sizeof(name), "s%u", k);
		rc = zvd_snapshot_create(dev, name);
		if (rc)
			die("zvd_snapshot_create", rc);
	}
	t = now();
	random_writes(dev, o, 0, o->writes, buf);
	rc = zvd_flush(dev);
	secs = now() - t;
	if (rc)
		die("flush", rc);
	zvd_close(dev);
	unlink(path);
	free(buf);
	printf("snapshots=%u writes=%u seconds=%.4f iops=%.0f mbps=%.1f\n",
	       o->snapshots, o->writes, secs, o->writes / secs,
	       o->writes * (double)BS / 1e6 / secs);
	return 0;
}

/* Print the stride, or the offset of round K, for qemu-img bench. */
static int mode_numbers(const struct opts *o, bool step)
{
	printf("%llu\n", (unsigned long long)(step ? stride(o->region) :
			  round_offset(o->region, o->round)));
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {
		.size = GIB, .data = GIB, .region = GIB, .zone_size = 64 * MIB,
		.writes = 20000,
	};
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: snap_write snap|write DIR [options] | step | offset K\n");
		return 2;
	}
	o.mode = argv[1];
	for (i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "0";

		if (a[0] != '-') {
			o.dir = a;
			continue;
		}
		i++;
		if (!strcmp(a, "--size"))
			o.size = parse_size(v);
		else if (!strcmp(a, "--data"))
			o.data = parse_size(v);
		else if (!strcmp(a, "--region"))
			o.region = parse_size(v);
		else if (!strcmp(a, "--zone-size"))
			o.zone_size = parse_size(v);
		else if (!strcmp(a, "--snapshots"))
			o.snapshots = (unsigned)parse_size(v);
		else if (!strcmp(a, "--writes"))
			o.writes = (unsigned)parse_size(v);
		else if (!strcmp(a, "--round"))
			o.round = (unsigned)parse_size(v);
		else {
			fprintf(stderr, "snap_write: unknown option %s\n", a);
			return 2;
		}
	}
	if (!strcmp(o.mode, "step"))
		return mode_numbers(&o, true);
	if (!strcmp(o.mode, "offset")) {
		o.round = argc > 2 ? (unsigned)atoi(argv[2]) : 0;
		return mode_numbers(&o, false);
	}
	if (!o.dir) {
		fprintf(stderr, "snap_write: no DIR\n");
		return 2;
	}
	if (!strcmp(o.mode, "snap"))
		return mode_snap(&o);
	if (!strcmp(o.mode, "write"))
		return mode_write(&o);
	fprintf(stderr, "snap_write: unknown mode %s\n", o.mode);
	return 2;
}

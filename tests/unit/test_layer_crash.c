// SPDX-License-Identifier: MIT
/*
 * test_layer_crash.c - rebase and flatten are atomic under a power cut.
 *
 * An image layered over a base (zvd_create_backed) is copied into a mem
 * backend and opened through the crash backend; zvd_rebase onto a copy of
 * the base with some blocks changed, or a flatten, is cut at a random
 * point. After each cut the image opens, checks clean, reads exactly as
 * before, and reads through either the old base or the new one (or none),
 * never a mix.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "zvd.h"

#define ZS (1u << 20)
#define NZ 8u
#define SIZE ((uint64_t)NZ * ZS)

static char dir[64];
static uint8_t want[SIZE], got[SIZE];

static int path_of(char *buf, size_t len, const char *name)
{
	return snprintf(buf, len, "%s/%s", dir, name) < (int)len ? 0 : -1;
}

/* Make base.img (2 conventional zones) with known data, newbase.img a copy
 * with some blocks changed, and top.img over base.img with writes of its
 * own; return 0. */
static int setup(void)
{
	char base[96], top[96], nb[96];
	struct zvd_geometry g;
	struct zvd_backend *be;
	struct zvd_dev *dev;
	uint8_t buf[4096];
	uint64_t where;
	int fd_in, fd_out;
	ssize_t n;

	path_of(base, sizeof(base), "base.img");
	path_of(top, sizeof(top), "top.img");
	path_of(nb, sizeof(nb), "newbase.img");
	zvd_geometry_default(&g);
	g.size = SIZE;
	g.zone_size = ZS;
	g.zone_capacity = ZS;
	g.nr_conv_zones = 2;
	g.max_open = 0;
	g.max_active = 0;
	if (zvd_backend_file_open(base, ZVD_FILE_CREATE, &be) ||
	    zvd_create(be, &g, &dev))
		return -1;
	for (uint32_t i = 0; i < 64; i++) {
		memset(buf, 'a' + i % 26, sizeof(buf));
		if (zvd_write(dev, buf, sizeof(buf), (uint64_t)i * 8192, 0) ||
		    zvd_append(dev, 3 + i % 4, buf, sizeof(buf), 0, &where))
			return -1;
	}
	if (zvd_close(dev))
		return -1;
	/* the new base: a byte copy, then changed in a few blocks */
	fd_in = open(base, O_RDONLY);
	fd_out = open(nb, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	while (fd_in >= 0 && fd_out >= 0 && (n = read(fd_in, got, sizeof(got))) > 0)
		if (write(fd_out, got, (size_t)n) != n)
			return -1;
	close(fd_in);
	close(fd_out);
	if (zvd_backend_file_open(nb, 0, &be) || zvd_open(be, 0, &dev))
		return -1;
	memset(buf, 'Z', sizeof(buf));
	for (uint32_t i = 0; i < 8; i++)
		if (zvd_write(dev, buf, sizeof(buf), (uint64_t)i * 65536, 0))
			return -1;
	if (zvd_close(dev))
		return -1;
	if (zvd_create_backed(base, top))
		return -1;
	if (zvd_backend_file_open(top, 0, &be) || zvd_open(be, 0, &dev))
		return -1;
	memset(buf, 'T', sizeof(buf));
	if (zvd_write(dev, buf, sizeof(buf), 12288, 0) ||
	    zvd_append(dev, 4, buf, sizeof(buf), 0, &where) ||
	    zvd_read(dev, want, SIZE, 0) || zvd_close(dev))
		return -1;
	return 0;
}

/* Byte copy of file @from to @to. */
static int copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY), out;
	ssize_t n;

	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	while (in >= 0 && out >= 0 && (n = read(in, got, sizeof(got))) > 0)
		if (write(out, got, (size_t)n) != n)
			n = -1;
	close(in);
	close(out);
	return in >= 0 && out >= 0 ? 0 : -1;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* One cut: returns 0 when the image came back whole, else prints why. */
static int one_cut(int flatten, uint64_t arm, int *happened)
{
	char top[96], work[96], nb[96], base[96], path[4096], snap[80];
	struct zvd_backend *file, *crash;
	struct zvd_dev *dev;
	int rc, has;

	path_of(top, sizeof(top), "top.img");
	path_of(work, sizeof(work), "work.img");
	path_of(nb, sizeof(nb), "newbase.img");
	path_of(base, sizeof(base), "base.img");
	if (copy_file(top, work) || zvd_backend_file_open(work, 0, &file))
		return -1;
	if (zvd_backend_crash_create(file, rnd(), &crash) ||
	    zvd_open(crash, 0, &dev))
		return -1;
	zvd_crash_arm(crash, arm);
	rc = zvd_rebase(dev, flatten ? NULL : nb, NULL, NULL);
	zvd_close(dev); /* releases the crash backend, not the file */
	if (rc && rc != -EIO) {
		printf("# rebase returned %d\n", rc);
		return -1;
	}
	/* power back on */
	if (zvd_backend_crash_create(file, rnd(), &crash))
		return -1;
	rc = zvd_check(crash, NULL, NULL);
	if (rc) {
		printf("# %s cut at %llu: check found %d problems\n",
		       flatten ? "flatten" : "rebase", (unsigned long long)arm, rc);
		return -1;
	}
	if (zvd_open(crash, ZVD_OPEN_READONLY, &dev))
		return -1;
	rc = zvd_read(dev, got, SIZE, 0);
	has = zvd_get_backing(dev, path, sizeof(path), snap, sizeof(snap));
	zvd_close(dev);
	zvd_backend_close(file);
	if (rc || memcmp(got, want, SIZE)) {
		printf("# %s cut at %llu: the image reads differently\n",
		       flatten ? "flatten" : "rebase", (unsigned long long)arm);
		return -1;
	}
	if (has && strcmp(path, base) && (flatten || strcmp(path, nb))) {
		printf("# backing after the cut: %s\n", path);
		return -1;
	}
	*happened = flatten ? !has : has && !strcmp(path, nb);
	return 0;
}

static void rebase_and_flatten_cut(void)
{
	int done[2] = { 0, 0 }, not_done[2] = { 0, 0 };

	CHECK_EQ(setup(), 0);
	for (int i = 0; i < 120; i++) {
		int flatten = i & 1, happened = 0;

		CHECK_EQ(one_cut(flatten, 1 + rnd() % 40, &happened), 0);
		if (happened)
			done[flatten]++;
		else
			not_done[flatten]++;
	}
	printf("# rebase: %d cuts after, %d before it took effect; flatten: %d after, %d before\n",
	       done[0], not_done[0], done[1], not_done[1]);
	/* the cuts must have landed on both sides of the switch */
	CHECK(done[0] && not_done[0] && done[1] && not_done[1]);
}

int main(void)
{
	char cmd[128];
	int failed;

	if (!mkdtemp(strcpy(dir, "/tmp/zvd-layer.XXXXXX")))
		return 1;
	RUN(rebase_and_flatten_cut);
	failed = harness_failed_cases;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		return 1;
	return failed ? 1 : 0;
}

// SPDX-License-Identifier: MIT
/*
 * test_snapshots.c - section 8 of zvd.h: snapshots, rollback, snapshot
 * views, clones, backing images, rebase, flatten and the space they take,
 * on the mem backend (kept across handles by a crash backend over it) and
 * on a file backend in a temporary directory; then a power-cut campaign
 * over snapshot create, delete and rollback with writes around them.
 *
 * Every case compares whole states: the report of every zone (condition,
 * write pointer) and every byte of the device, captured when a snapshot
 * is taken and compared with what its view, a rollback or a clone reads
 * later.
 *
 * Sections:
 *   1. helpers: storage, patterns, states
 *   2. snapshots of one image
 *   3. clones and backing images (file backend: they name files)
 *   4. space
 *   5. power cuts
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "zvd.h"

static char msg[1024];

#define FAILF(...)                                       \
	do {                                             \
		snprintf(msg, sizeof(msg), __VA_ARGS__); \
		return -1;                               \
	} while (0)

#define EXPECT(c)                                                   \
	do {                                                        \
		if (!(c))                                           \
			FAILF("%s:%d: %s", __FILE__, __LINE__, #c); \
	} while (0)

/* Run a helper returning 0 / -1 (with msg) inside a case. */
#define CHECK_R(expr)                             \
	do {                                      \
		int cr_ = (expr);                 \
		if (cr_)                          \
			printf("#   %s\n", msg);  \
		CHECK(cr_ == 0 && #expr);         \
	} while (0)

/* ---- 1. helpers ----------------------------------------------------------- */

enum { ST_MEM, ST_FILE };

struct store {
	int kind;
	struct zvd_backend *mem;
	char dir[64];
	char path[128];
	uint64_t seed;
};

static char tmpdir[64];

static int make_tmpdir(void)
{
	if (tmpdir[0])
		return 0;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/zvd-snap-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static void remove_tmpdir(void)
{
	char cmd[128];

	if (!tmpdir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd))
		printf("# could not remove %s\n", tmpdir);
}

/* A path in the temporary directory. */
static const char *tpath(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
	return buf;
}

static int store_init(struct store *s, int kind, const char *name)
{
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	if (kind == ST_MEM)
		return zvd_backend_mem_create(&s->mem) ? -1 : 0;
	if (make_tmpdir())
		return -1;
	tpath(s->path, sizeof(s->path), name);
	unlink(s->path);
	return 0;
}

static void store_fini(struct store *s)
{
	if (s->kind == ST_MEM)
		zvd_backend_close(s->mem);
	else
		unlink(s->path);
}

static int store_backend(struct store *s, unsigned fflags,
			 struct zvd_backend **be)
{
	if (s->kind == ST_MEM)
		return zvd_backend_crash_create(s->mem, ++s->seed, be);
	return zvd_backend_file_open(s->path, fflags, be);
}

static int store_create(struct store *s, const struct zvd_geometry *g,
			struct zvd_dev **dev)
{
	struct zvd_backend *be;
	int rc = store_backend(s, ZVD_FILE_CREATE, &be);

	if (rc)
		return rc;
	rc = zvd_create(be, g, dev);
	if (rc)
		zvd_backend_close(be);
	return rc;
}

static int store_open(struct store *s, unsigned flags, struct zvd_dev **dev)
{
	struct zvd_backend *be;
	int rc = store_backend(s, flags & ZVD_OPEN_READONLY ?
					  ZVD_FILE_READONLY : 0, &be);

	if (rc)
		return rc;
	rc = zvd_open(be, flags, dev);
	if (rc)
		zvd_backend_close(be);
	return rc;
}

static int store_view(struct store *s, const char *name, struct zvd_dev **dev)
{
	struct zvd_backend *be;
	int rc = store_backend(s, ZVD_FILE_READONLY, &be);

	if (rc)
		return rc;
	rc = zvd_open_snapshot(be, name, dev);
	if (rc)
		zvd_backend_close(be);
	return rc;
}

static void count_problem(void *arg, const char *problem)
{
	printf("#   check: %s\n", problem);
	(*(int *)arg)++;
}

static int check_be(struct zvd_backend *be)
{
	int n = 0;

	return zvd_check(be, count_problem, &n);
}

static int store_check(struct store *s)
{
	struct zvd_backend *be;
	int rc;

	if (s->kind == ST_MEM)
		return check_be(s->mem);
	rc = zvd_backend_file_open(s->path, ZVD_FILE_READONLY, &be);
	if (rc)
		return rc;
	rc = check_be(be);
	zvd_backend_close(be);
	return rc;
}

/* 16 MiB: 16 zones of 1 MiB (768 KiB capacity), 2 conventional. */
static void geo_small(struct zvd_geometry *g)
{
	zvd_geometry_default(g);
	g->size = 16u << 20;
	g->zone_size = 1u << 20;
	g->zone_capacity = 768u << 10;
	g->block_size = 4096;
	g->nr_conv_zones = 2;
	g->max_open = 4;
	g->max_active = 6;
	g->max_append = 0;
}

static void pat(uint8_t *b, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t v = (i + 1) * 0x9E3779B97F4A7C15ull ^
			     ((seed + 1) * 0xC2B2AE3D27D4EB4Full);
		b[i] = (uint8_t)((v >> 56) | 1);
	}
}

/* Write @len bytes of pattern @seed at @off. */
static int wr(struct zvd_dev *dev, uint64_t off, size_t len, uint64_t seed)
{
	uint8_t *b = malloc(len);
	int rc;

	EXPECT(b);
	pat(b, len, seed);
	rc = zvd_write(dev, b, len, off, 0);
	free(b);
	if (rc)
		FAILF("write of %zu at %llu: %d", len, (unsigned long long)off,
		      rc);
	return 0;
}

/* Write at the write pointer of sequential zone @zi. */
static int wr_zone(struct zvd_dev *dev, uint32_t zi, size_t len, uint64_t seed)
{
	struct zvd_zone z;

	EXPECT(zvd_report(dev, zi, ZVD_REPORT_ALL, &z, 1) == 1);
	return wr(dev, z.wp, len, seed);
}

static int zone_cond(struct zvd_dev *dev, uint32_t zi)
{
	struct zvd_zone z;

	if (zvd_report(dev, zi, ZVD_REPORT_ALL, &z, 1) != 1)
		return -1;
	return z.cond;
}

#define MAX_ZONES 64

/* Everything a reader can see of a device. */
struct state {
	uint32_t nz;
	uint64_t size;
	uint64_t zone_size;
	struct zvd_zone z[MAX_ZONES];
	uint8_t *data;
};

static void state_free(struct state *s)
{
	free(s->data);
	s->data = NULL;
}

static int capture(struct zvd_dev *dev, struct state *s)
{
	struct zvd_geometry g;
	uint32_t i;
	int rc;

	memset(s, 0, sizeof(*s));
	zvd_get_geometry(dev, &g);
	s->nz = zvd_nr_zones(dev);
	s->size = g.size;
	s->zone_size = g.zone_size;
	EXPECT(s->nz <= MAX_ZONES);
	rc = zvd_report(dev, 0, ZVD_REPORT_ALL, s->z, MAX_ZONES);
	if (rc != (int)s->nz)
		FAILF("report gave %d zones of %u", rc, s->nz);
	s->data = calloc(1, g.size);
	EXPECT(s->data);
	for (i = 0; i < s->nz; i++) {
		if (s->z[i].cond == ZVD_COND_OFFLINE)
			continue;
		rc = zvd_read(dev, s->data + s->z[i].start, g.zone_size,
			      s->z[i].start);
		if (rc) {
			state_free(s);
			FAILF("read of zone %u (%s): %d", i,
			      zvd_cond_name(s->z[i].cond), rc);
		}
	}
	return 0;
}

/* 0 when @dev reads exactly as @want: every zone's type, condition and
 * write pointer, and every byte. */
static int same_as(struct zvd_dev *dev, const struct state *want,
		   const char *what)
{
	struct state got;
	uint32_t i;
	uint64_t j;

	if (capture(dev, &got))
		return -1; /* capture said why */
	for (i = 0; i < want->nz; i++) {
		const struct zvd_zone *a = &want->z[i], *b = &got.z[i];

		if (a->type != b->type || a->cond != b->cond || a->wp != b->wp ||
		    a->start != b->start) {
			state_free(&got);
			FAILF("%s: zone %u is %s wp %llu, expected %s wp %llu",
			      what, i, zvd_cond_name(b->cond),
			      (unsigned long long)b->wp, zvd_cond_name(a->cond),
			      (unsigned long long)a->wp);
		}
	}
	if (memcmp(got.data, want->data, want->size)) {
		for (j = 0; got.data[j] == want->data[j]; j++)
			;
		state_free(&got);
		FAILF("%s: data differs first at byte %llu (zone %llu)", what,
		      (unsigned long long)j,
		      (unsigned long long)(j / want->zone_size));
	}
	state_free(&got);
	return 0;
}

/* The view of snapshot @name of the store reads as @want. */
static int view_is(struct store *s, const char *name, const struct state *want)
{
	struct zvd_dev *v;
	char what[128];
	int rc = store_view(s, name, &v);

	if (rc)
		FAILF("zvd_open_snapshot(%s): %d", name, rc);
	snprintf(what, sizeof(what), "snapshot %s", name);
	rc = same_as(v, want, what);
	zvd_close(v);
	return rc;
}

/* The names of the snapshots, oldest first, "a,b,c". */
static int names(struct zvd_dev *dev, char *buf, size_t len)
{
	struct zvd_snapshot_info s[32];
	int i, n = zvd_snapshot_list(dev, s, 32);

	buf[0] = '\0';
	if (n < 0)
		return n;
	for (i = 0; i < n && i < 32; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
			 i ? "," : "", s[i].name);
	return n;
}

static int find_snap(struct zvd_dev *dev, const char *name,
		     struct zvd_snapshot_info *out)
{
	struct zvd_snapshot_info s[32];
	int i, n = zvd_snapshot_list(dev, s, 32);

	for (i = 0; i < n && i < 32; i++)
		if (!strcmp(s[i].name, name)) {
			*out = s[i];
			return 0;
		}
	return -1;
}

/*
 * Put a small image in every kind of zone state: conventional data, an
 * implicitly open, an explicitly open, a closed, a finished, a filled,
 * a read-only and an offline zone, and empty ones.
 */
static int varied(struct zvd_dev *dev, uint64_t seed)
{
	EXPECT(wr(dev, 0, 64 << 10, seed) == 0);		/* conv 0 */
	EXPECT(wr(dev, (1 << 20) + 8192, 8192, seed + 1) == 0); /* conv 1 */
	EXPECT(wr_zone(dev, 2, 40960, seed + 2) == 0);		/* imp open */
	EXPECT(zvd_zone_mgmt(dev, ZVD_OP_OPEN, 3) == 0);	/* exp open */
	EXPECT(wr_zone(dev, 3, 4096, seed + 3) == 0);
	EXPECT(wr_zone(dev, 4, 12288, seed + 4) == 0);		/* closed */
	EXPECT(zvd_zone_mgmt(dev, ZVD_OP_CLOSE, 4) == 0);
	EXPECT(wr_zone(dev, 5, 20480, seed + 5) == 0);		/* finished */
	EXPECT(zvd_zone_mgmt(dev, ZVD_OP_FINISH, 5) == 0);
	EXPECT(wr_zone(dev, 6, 768 << 10, seed + 6) == 0);	/* filled */
	EXPECT(wr_zone(dev, 7, 16384, seed + 7) == 0);		/* read-only */
	EXPECT(zvd_zone_mgmt(dev, ZVD_OP_CLOSE, 7) == 0);
	EXPECT(zvd_zone_fail(dev, 7, ZVD_COND_READ_ONLY) == 0);
	EXPECT(wr_zone(dev, 8, 8192, seed + 8) == 0);		/* offline */
	EXPECT(zvd_zone_mgmt(dev, ZVD_OP_CLOSE, 8) == 0);
	EXPECT(zvd_zone_fail(dev, 8, ZVD_COND_OFFLINE) == 0);
	EXPECT(zvd_flush(dev) == 0);
	EXPECT(zone_cond(dev, 2) == ZVD_COND_IMP_OPEN);
	EXPECT(zone_cond(dev, 3) == ZVD_COND_EXP_OPEN);
	EXPECT(zone_cond(dev, 4) == ZVD_COND_CLOSED);
	EXPECT(zone_cond(dev, 5) == ZVD_COND_FULL);
	EXPECT(zone_cond(dev, 6) == ZVD_COND_FULL);
	EXPECT(zone_cond(dev, 7) == ZVD_COND_READ_ONLY);
	EXPECT(zone_cond(dev, 8) == ZVD_COND_OFFLINE);
	return 0;
}

/* Change every zone of a varied() image: resets, rewrites, overwrites,
 * new failures. */
static int disturb(struct zvd_dev *dev, uint64_t seed)
{
	EXPECT(wr(dev, 4096, 8192, seed) == 0);		 /* conv 0 in place */
	EXPECT(wr(dev, (1 << 20) + 8192, 4096, seed + 1) == 0);
	EXPECT(wr_zone(dev, 2, 4096, seed + 2) == 0);	 /* grows */
	EXPECT(zvd_zone_mgmt(dev, ZVD_OP_RESET, 3) == 0); /* reset */
	EXPECT(wr_zone(dev, 4, 4096, seed + 4) == 0);	 /* reopened */
	EXPECT(zvd_zone_mgmt(dev, ZVD_OP_RESET, 5) == 0); /* reset, rewritten */
	EXPECT(wr_zone(dev, 5, 8192, seed + 5) == 0);
	EXPECT(zvd_zone_mgmt(dev, ZVD_OP_RESET, 6) == 0); /* reset, rewritten */
	EXPECT(wr_zone(dev, 6, 768 << 10, seed + 6) == 0);
	EXPECT(zvd_zone_fail(dev, 7, ZVD_COND_OFFLINE) == 0);
	EXPECT(zvd_zone_fail(dev, 9, ZVD_COND_READ_ONLY) == 0);
	EXPECT(zvd_flush(dev) == 0);
	return 0;
}

/* ---- 2. snapshots of one image ---------------------------------------------- */

static void run_create_list_delete(int kind)
{
	struct zvd_snapshot_info s[4];
	struct zvd_geometry g;
	struct zvd_dev *dev;
	struct store st;
	char buf[256];
	uint64_t t0 = (uint64_t)time(NULL);

	geo_small(&g);
	CHECK(store_init(&st, kind, "cld.img") == 0);
	CHECK_EQ(store_create(&st, &g, &dev), 0);
	CHECK_EQ(zvd_snapshot_list(dev, s, 4), 0);
	CHECK_EQ(zvd_snapshot_create(dev, "a"), 0);
	CHECK_EQ(zvd_snapshot_create(dev, "b"), 0);
	CHECK_EQ(zvd_snapshot_create(dev, "b"), -EEXIST);
	CHECK_EQ(zvd_snapshot_create(dev, "c"), 0);
	CHECK_EQ(zvd_snapshot_list(dev, s, 4), 3);
	CHECK(!strcmp(s[0].name, "a") && !strcmp(s[1].name, "b") &&
	      !strcmp(s[2].name, "c"));
	CHECK(s[0].id < s[1].id && s[1].id < s[2].id);
	CHECK(s[0].created >= t0 && s[2].created <= (uint64_t)time(NULL));
	CHECK_EQ(s[0].nr_clones, 0);
	/* more snapshots than room: the count, and the first @max */
	CHECK_EQ(zvd_snapshot_list(dev, s, 1), 3);
	CHECK(!strcmp(s[0].name, "a"));
	CHECK_EQ(zvd_snapshot_delete(dev, "b"), 0);
	CHECK_EQ(zvd_snapshot_delete(dev, "b"), -ENOENT);
	CHECK_EQ(zvd_snapshot_delete(dev, "nope"), -ENOENT);
	CHECK_EQ(zvd_rollback(dev, "nope"), -ENOENT);
	CHECK_EQ(names(dev, buf, sizeof(buf)), 2);
	CHECK(!strcmp(buf, "a,c"));
	/* ids are never reused */
	CHECK_EQ(zvd_snapshot_create(dev, "b"), 0);
	CHECK_EQ(zvd_snapshot_list(dev, s, 4), 3);
	CHECK(!strcmp(s[2].name, "b") && s[2].id > s[1].id);
	CHECK_EQ(zvd_close(dev), 0);
	/* all of it is durable */
	CHECK_EQ(store_open(&st, 0, &dev), 0);
	CHECK_EQ(names(dev, buf, sizeof(buf)), 3);
	CHECK(!strcmp(buf, "a,c,b"));
	CHECK_EQ(zvd_close(dev), 0);
	CHECK_EQ(store_check(&st), 0);
	store_fini(&st);
}

static void create_list_delete_mem(void)
{
	run_create_list_delete(ST_MEM);
}

static void create_list_delete_file(void)
{
	run_create_list_delete(ST_FILE);
}

static void snapshot_names(void)
{
	static const char *const bad[] = {
		"", ".x", "-x", "a/b", "a b", "a@b", "a\nb", "\xc3\xa9", "a:b",
		"0123456789012345678901234567890123456789012345678901234567890123x",
	};
	static const char *const good[] = {
		"a", "A-z_0.9", "x.", "_a", "9",
		"0123456789012345678901234567890123456789012345678901234567890123",
	};
	struct zvd_geometry g;
	struct zvd_dev *dev;
	struct store st;
	size_t i;

	geo_small(&g);
	CHECK(store_init(&st, ST_MEM, NULL) == 0);
	CHECK_EQ(store_create(&st, &g, &dev), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = zvd_snapshot_create(dev, bad[i]);

		if (rc != -EINVAL)
			printf("#   name '%s' gave %d\n", bad[i], rc);
		CHECK_EQ(rc, -EINVAL);
	}
	CHECK_EQ(zvd_snapshot_list(dev, NULL, 0), 0);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int rc = zvd_snapshot_create(dev, good[i]);

		if (rc != 0)
			printf("#   name '%s' gave %d\n", good[i], rc);
		CHECK_EQ(rc, 0);
	}
	CHECK_EQ(zvd_snapshot_list(dev, NULL, 0), (int)(sizeof(good) / sizeof(good[0])));
	zvd_close(dev);
	store_fini(&st);
}

/* A snapshot keeps every zone state and byte while the image changes
 * under it; its view reads it; rollback brings it back; the image as
 * changed is what it reads before the rollback. */
static void run_zone_states_kept(int kind)
{
	struct state before, after;
	struct zvd_geometry g;
	struct zvd_dev *dev;
	struct store st;
	char buf[64];

	geo_small(&g);
	CHECK(store_init(&st, kind, "states.img") == 0);
	CHECK_EQ(store_create(&st, &g, &dev), 0);
	CHECK_R(varied(dev, 100));
	CHECK_R(capture(dev, &before));
	CHECK_EQ(zvd_snapshot_create(dev, "s"), 0);
	/* taking a snapshot changes nothing the image reads */
	CHECK_R(same_as(dev, &before, "image after the snapshot"));
	CHECK_R(disturb(dev, 200));
	CHECK_R(capture(dev, &after));
	CHECK_EQ(zvd_close(dev), 0);
	CHECK_R(view_is(&st, "s", &before));
	CHECK_EQ(store_open(&st, 0, &dev), 0);
	CHECK_R(same_as(dev, &after, "image after the changes"));
	CHECK_EQ(zvd_rollback(dev, "s"), 0);
	CHECK_R(same_as(dev, &before, "image after the rollback"));
	CHECK_EQ(names(dev, buf, sizeof(buf)), 1);
	/* the rolled-back image works: open/active counts are right, so
	 * the explicitly open zone can be closed and a new zone written */
	CHECK_EQ(zvd_zone_mgmt(dev, ZVD_OP_CLOSE, 3), 0);
	CHECK_R(wr_zone(dev, 10, 4096, 300));
	CHECK_EQ(zvd_close(dev), 0);
	/* the rollback is durable, and the snapshot still reads the same */
	CHECK_EQ(store_open(&st, ZVD_OPEN_READONLY, &dev), 0);
	CHECK_EQ(zone_cond(dev, 3), ZVD_COND_CLOSED);
	CHECK_EQ(zone_cond(dev, 8), ZVD_COND_OFFLINE);
	CHECK_EQ(zone_cond(dev, 7), ZVD_COND_READ_ONLY);
	CHECK_EQ(zvd_close(dev), 0);
	CHECK_R(view_is(&st, "s", &before));
	CHECK_EQ(store_check(&st), 0);
	state_free(&before);
	state_free(&after);
	store_fini(&st);
}

static void zone_states_kept_mem(void)
{
	run_zone_states_kept(ST_MEM);
}

static void zone_states_kept_file(void)
{
	run_zone_states_kept(ST_FILE);
}

/* Reset and rewrite a zone many times after a snapshot: the snapshot
 * keeps the first data. */
static void resets_and_rewrites(void)
{
	struct state s0;
	struct zvd_geometry g;
	struct zvd_dev *dev;
	struct store st;
	int i;

	geo_small(&g);
	CHECK(store_init(&st, ST_MEM, NULL) == 0);
	CHECK_EQ(store_create(&st, &g, &dev), 0);
	CHECK_R(wr_zone(dev, 2, 256 << 10, 1));
	CHECK_R(wr_zone(dev, 3, 768 << 10, 2));
	CHECK_R(capture(dev, &s0));
	CHECK_EQ(zvd_snapshot_create(dev, "first"), 0);
	for (i = 0; i < 5; i++) {
		CHECK_EQ(zvd_zone_mgmt(dev, ZVD_OP_RESET, ZVD_ALL_ZONES), 0);
		CHECK_R(wr_zone(dev, 2, 512 << 10, 10 + i));
		CHECK_R(wr_zone(dev, 3, 4096, 20 + i));
	}
	CHECK_EQ(zvd_flush(dev), 0);
	CHECK_R(view_is(&st, "first", &s0));
	CHECK_EQ(zvd_rollback(dev, "first"), 0);
	CHECK_R(same_as(dev, &s0, "after rollback"));
	zvd_close(dev);
	CHECK_EQ(store_check(&st), 0);
	state_free(&s0);
	store_fini(&st);
}

/* Overwrites of conventional zones after a snapshot, in place, small and
 * unaligned to any allocation unit: the snapshot keeps the old bytes. */
static void conventional_overwrites(void)
{
	struct state s0, s1;
	struct zvd_geometry g;
	struct zvd_dev *dev;
	struct store st;
	int i;

	geo_small(&g);
	CHECK(store_init(&st, ST_MEM, NULL) == 0);
	CHECK_EQ(store_create(&st, &g, &dev), 0);
	CHECK_R(wr(dev, 0, 2 << 20, 1)); /* both conventional zones */
	CHECK_R(capture(dev, &s0));
	CHECK_EQ(zvd_snapshot_create(dev, "s0"), 0);
	for (i = 0; i < 64; i++)
		CHECK_R(wr(dev, (uint64_t)((i * 7919) % 500) * 4096, 4096,
			   100 + i));
	CHECK_R(wr(dev, (1 << 20) - 4096, 8192, 7)); /* across the zones */
	CHECK_R(capture(dev, &s1));
	CHECK_EQ(zvd_snapshot_create(dev, "s1"), 0);
	CHECK_R(wr(dev, 4096, 4096, 999));
	CHECK_EQ(zvd_flush(dev), 0);
	CHECK_R(view_is(&st, "s0", &s0));
	CHECK_R(view_is(&st, "s1", &s1));
	CHECK_EQ(zvd_rollback(dev, "s0"), 0);
	CHECK_R(same_as(dev, &s0, "rolled back to s0"));
	CHECK_EQ(zvd_rollback(dev, "s1"), 0);
	CHECK_R(same_as(dev, &s1, "rolled back to s1"));
	zvd_close(dev);
	CHECK_EQ(store_check(&st), 0);
	state_free(&s0);
	state_free(&s1);
	store_fini(&st);
}

/* Several snapshots, one deleted in the middle: the others still read
 * as taken; a view refuses every change. */
static void many_snapshots_and_views(void)
{
	struct state s[4];
	struct zvd_geometry g;
	struct zvd_dev *dev, *v;
	struct store st;
	uint8_t b[4096] = { 1 };
	int i;

	geo_small(&g);
	CHECK(store_init(&st, ST_MEM, NULL) == 0);
	CHECK_EQ(store_create(&st, &g, &dev), 0);
	for (i = 0; i < 4; i++) {
		char name[16];

		CHECK_R(wr_zone(dev, 2 + (uint32_t)i, 8192, (uint64_t)i));
		CHECK_R(wr(dev, 4096 * (uint64_t)i, 4096, 50 + (uint64_t)i));
		if (i == 2)
			CHECK_EQ(zvd_zone_mgmt(dev, ZVD_OP_RESET, 2), 0);
		CHECK_R(capture(dev, &s[i]));
		snprintf(name, sizeof(name), "s%d", i);
		CHECK_EQ(zvd_snapshot_create(dev, name), 0);
	}
	CHECK_EQ(zvd_snapshot_delete(dev, "s1"), 0);
	CHECK_R(view_is(&st, "s0", &s[0]));
	CHECK_R(view_is(&st, "s2", &s[2]));
	CHECK_R(view_is(&st, "s3", &s[3]));
	CHECK_EQ(store_view(&st, "s1", &v), -ENOENT);
	CHECK_EQ(store_view(&st, "s0", &v), 0);
	CHECK(zvd_write(v, b, sizeof(b), 0, 0) < 0);
	CHECK(zvd_zone_mgmt(v, ZVD_OP_RESET, 2) < 0);
	CHECK(zvd_snapshot_create(v, "x") < 0);
	zvd_close(v);
	zvd_close(dev);
	CHECK_EQ(store_check(&st), 0);
	for (i = 0; i < 4; i++)
		state_free(&s[i]);
	store_fini(&st);
}

/* ---- 3. clones and backing images --------------------------------------------- */

/* A file image at @path with varied() content, closed. */
static int make_image(const char *path, uint64_t seed, struct state *st)
{
	struct zvd_backend *be;
	struct zvd_geometry g;
	struct zvd_dev *dev;
	int rc;

	geo_small(&g);
	unlink(path);
	rc = zvd_backend_file_open(path, ZVD_FILE_CREATE, &be);
	if (rc)
		FAILF("create %s: %d", path, rc);
	rc = zvd_create(be, &g, &dev);
	if (rc) {
		zvd_backend_close(be);
		FAILF("zvd_create %s: %d", path, rc);
	}
	if (varied(dev, seed) || (st && capture(dev, st))) {
		zvd_close(dev);
		return -1;
	}
	EXPECT(zvd_close(dev) == 0);
	return 0;
}

static int open_path(const char *path, unsigned flags, struct zvd_dev **dev)
{
	struct zvd_backend *be;
	int rc = zvd_backend_file_open(path, flags & ZVD_OPEN_READONLY ?
					     ZVD_FILE_READONLY : 0, &be);

	if (rc)
		return rc;
	rc = zvd_open(be, flags, dev);
	if (rc)
		zvd_backend_close(be);
	return rc;
}

static int path_is(const char *path, const struct state *want, const char *what)
{
	struct zvd_dev *dev;
	int rc = open_path(path, ZVD_OPEN_READONLY, &dev);

	if (rc)
		FAILF("%s: open %s: %d", what, path, rc);
	rc = same_as(dev, want, what);
	zvd_close(dev);
	return rc;
}

static int check_path(const char *path)
{
	struct zvd_backend *be;
	int rc = zvd_backend_file_open(path, ZVD_FILE_READONLY, &be);

	if (rc)
		return rc;
	rc = check_be(be);
	zvd_backend_close(be);
	return rc;
}

static int file_exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

static void clone_reads_and_diverges(void)
{
	char origin[128], clone[128], text[512];
	struct state s0, o1, c1;
	struct zvd_snapshot_info si;
	struct zvd_dev *o, *c;
	char bp[256], bs[80];

	CHECK(make_tmpdir() == 0);
	tpath(origin, sizeof(origin), "origin.img");
	tpath(clone, sizeof(clone), "clone.img");
	unlink(clone);
	CHECK_R(make_image(origin, 1, &s0));
	CHECK_EQ(open_path(origin, 0, &o), 0);
	CHECK_EQ(zvd_snapshot_create(o, "base"), 0);
	/* the origin must not be open for writing elsewhere */
	CHECK_EQ(zvd_clone(origin, "base", clone), -EBUSY);
	CHECK_R(disturb(o, 2));
	CHECK_R(capture(o, &o1));
	CHECK_EQ(zvd_close(o), 0);
	CHECK_EQ(zvd_clone(origin, "nope", clone), -ENOENT);
	CHECK(!file_exists(clone));
	CHECK_EQ(zvd_clone(origin, "base", clone), 0);
	CHECK_EQ(zvd_clone(origin, "base", clone), -EEXIST);
	CHECK_R(path_is(clone, &s0, "the new clone"));
	CHECK_R(path_is(origin, &o1, "the origin after cloning"));
	/* the clone diverges; the origin and its snapshot do not move */
	CHECK_EQ(open_path(clone, 0, &c), 0);
	CHECK_EQ(zvd_get_backing(c, bp, sizeof(bp), bs, sizeof(bs)), 1);
	CHECK(!strcmp(bs, "base"));
	CHECK(strstr(bp, "origin.img") != NULL);
	CHECK_R(disturb(c, 3));
	CHECK_R(wr(c, 0, 4096, 77));
	CHECK_R(capture(c, &c1));
	CHECK_EQ(zvd_close(c), 0);
	CHECK_R(path_is(origin, &o1, "the origin after the clone changed"));
	/* the origin's snapshot is held by the clone */
	CHECK_EQ(open_path(origin, 0, &o), 0);
	CHECK_EQ(find_snap(o, "base", &si), 0);
	CHECK_EQ(si.nr_clones, 1);
	CHECK_EQ(zvd_snapshot_delete(o, "base"), -EBUSY);
	zvd_last_error_text(o, text, sizeof(text));
	if (!strstr(text, "clone.img"))
		printf("#   error text does not name the clone: '%s'\n", text);
	CHECK(strstr(text, "clone.img") != NULL);
	/* the origin changes more; the clone does not see it */
	CHECK_EQ(zvd_zone_mgmt(o, ZVD_OP_RESET, ZVD_ALL_ZONES), 0);
	CHECK_R(wr(o, 0, 1 << 20, 5));
	CHECK_EQ(zvd_close(o), 0);
	CHECK_R(path_is(clone, &c1, "the clone after the origin changed"));
	/* delete the clone: the snapshot can go */
	CHECK_EQ(zvd_delete_image(clone), 0);
	CHECK(!file_exists(clone));
	CHECK_EQ(open_path(origin, 0, &o), 0);
	CHECK_EQ(find_snap(o, "base", &si), 0);
	CHECK_EQ(si.nr_clones, 0);
	CHECK_EQ(zvd_snapshot_delete(o, "base"), 0);
	CHECK_EQ(zvd_close(o), 0);
	CHECK_EQ(check_path(origin), 0);
	CHECK_EQ(zvd_delete_image(origin), 0);
	state_free(&s0);
	state_free(&o1);
	state_free(&c1);
}

/* An image with clones of its snapshots cannot be deleted; an open image
 * cannot be deleted. */
static void delete_image_refusals(void)
{
	char origin[128], clone[128];
	struct zvd_dev *o;

	CHECK(make_tmpdir() == 0);
	tpath(origin, sizeof(origin), "del-origin.img");
	tpath(clone, sizeof(clone), "del-clone.img");
	unlink(clone);
	CHECK_R(make_image(origin, 9, NULL));
	CHECK_EQ(open_path(origin, 0, &o), 0);
	CHECK_EQ(zvd_snapshot_create(o, "s"), 0);
	CHECK_EQ(zvd_delete_image(origin), -EBUSY); /* open */
	CHECK_EQ(zvd_close(o), 0);
	CHECK_EQ(zvd_clone(origin, "s", clone), 0);
	CHECK_EQ(zvd_delete_image(origin), -EBUSY); /* a clone depends */
	CHECK(file_exists(origin));
	/* flattening the clone drops the origin's record of it */
	CHECK_EQ(open_path(clone, 0, &o), 0);
	CHECK_EQ(zvd_rebase(o, NULL, NULL, NULL), 0);
	CHECK_EQ(zvd_get_backing(o, NULL, 0, NULL, 0), 0);
	CHECK_EQ(zvd_close(o), 0);
	CHECK_EQ(zvd_delete_image(origin), 0);
	CHECK(!file_exists(origin));
	CHECK_EQ(check_path(clone), 0);
	CHECK_EQ(zvd_delete_image(clone), 0);
	CHECK_EQ(zvd_delete_image(clone), -ENOENT);
}

/* create_backed, rebase to an identical copy and to a different base,
 * then flatten: what the image reads never changes. */
static void backing_rebase_flatten(void)
{
	char b1[128], b2[128], b3[128], over[128], bp[256], bs[80];
	struct state base, mine, other;
	struct zvd_dev *dev, *bdev;

	CHECK(make_tmpdir() == 0);
	tpath(b1, sizeof(b1), "base1.img");
	tpath(b2, sizeof(b2), "base2.img");
	tpath(b3, sizeof(b3), "base3.img");
	tpath(over, sizeof(over), "over.img");
	unlink(over);
	CHECK_R(make_image(b1, 40, &base));
	CHECK_R(make_image(b2, 40, NULL)); /* the same content */
	CHECK_R(make_image(b3, 41, &other));
	CHECK_EQ(zvd_create_backed(b1, over), 0);
	CHECK_EQ(zvd_create_backed(b1, over), -EEXIST);
	CHECK_R(path_is(over, &base, "a new overlay"));
	CHECK_EQ(open_path(over, 0, &dev), 0);
	CHECK_EQ(zvd_get_backing(dev, bp, sizeof(bp), bs, sizeof(bs)), 1);
	CHECK(strstr(bp, "base1.img") != NULL);
	CHECK_EQ(bs[0], 0);
	/* the base is held read-only: no writer can have it */
	CHECK_EQ(open_path(b1, 0, &bdev), -EBUSY);
	CHECK_EQ(open_path(b1, ZVD_OPEN_READONLY, &bdev), 0);
	zvd_close(bdev);
	CHECK_R(disturb(dev, 42));
	CHECK_R(wr(dev, 1 << 20, 4096, 43));
	CHECK_R(capture(dev, &mine));
	CHECK_EQ(zvd_close(dev), 0);
	CHECK_R(path_is(b1, &base, "the base after the overlay changed"));
	/* rebase onto an identical copy */
	CHECK_EQ(open_path(over, 0, &dev), 0);
	CHECK_EQ(zvd_rebase(dev, b2, NULL, NULL), 0);
	CHECK_R(same_as(dev, &mine, "rebased onto a copy"));
	CHECK_EQ(zvd_get_backing(dev, bp, sizeof(bp), bs, sizeof(bs)), 1);
	CHECK(strstr(bp, "base2.img") != NULL);
	CHECK_EQ(zvd_close(dev), 0);
	CHECK_EQ(unlink(b1), 0); /* no longer needed */
	CHECK_R(path_is(over, &mine, "rebased, reopened, old base gone"));
	/* rebase onto a different base */
	CHECK_EQ(open_path(over, 0, &dev), 0);
	CHECK_EQ(zvd_rebase(dev, b3, NULL, NULL), 0);
	CHECK_R(same_as(dev, &mine, "rebased onto another base"));
	CHECK_EQ(zvd_close(dev), 0);
	CHECK_R(path_is(b3, &other, "the new base itself"));
	CHECK_EQ(unlink(b2), 0);
	CHECK_R(path_is(over, &mine, "on the other base, reopened"));
	/* flatten */
	CHECK_EQ(open_path(over, 0, &dev), 0);
	CHECK_EQ(zvd_rebase(dev, NULL, NULL, NULL), 0);
	CHECK_EQ(zvd_get_backing(dev, bp, sizeof(bp), bs, sizeof(bs)), 0);
	CHECK_R(same_as(dev, &mine, "flattened"));
	CHECK_EQ(zvd_close(dev), 0);
	CHECK_EQ(unlink(b3), 0);
	CHECK_R(path_is(over, &mine, "flattened, every base gone"));
	CHECK_EQ(check_path(over), 0);
	unlink(over);
	state_free(&base);
	state_free(&mine);
	state_free(&other);
}

/* rebase and flatten report progress that ends at done == total. */
static uint64_t last_done, last_total, calls;

static void on_progress(void *arg, uint64_t done, uint64_t total)
{
	(void)arg;
	last_done = done;
	last_total = total;
	calls++;
}

static void flatten_progress(void)
{
	char base[128], over[128];
	struct zvd_dev *dev;

	CHECK(make_tmpdir() == 0);
	tpath(base, sizeof(base), "pbase.img");
	tpath(over, sizeof(over), "pover.img");
	unlink(over);
	CHECK_R(make_image(base, 60, NULL));
	CHECK_EQ(zvd_create_backed(base, over), 0);
	CHECK_EQ(open_path(over, 0, &dev), 0);
	calls = 0;
	CHECK_EQ(zvd_rebase(dev, NULL, on_progress, NULL), 0);
	CHECK(calls > 0);
	CHECK(last_done == last_total);
	CHECK_EQ(zvd_close(dev), 0);
	unlink(base);
	unlink(over);
}

/* ---- 4. space ------------------------------------------------------------------ */

static void space_accounting(void)
{
	struct zvd_space sp0, sp1, sp2, sp3, sp4;
	struct zvd_snapshot_info si;
	struct zvd_geometry g;
	struct zvd_dev *dev;
	struct store st;
	uint64_t zdata = 768 << 10, c, zbytes, rbytes;

	geo_small(&g);
	CHECK(store_init(&st, ST_FILE, "space.img") == 0);
	CHECK_EQ(store_create(&st, &g, &dev), 0);
	CHECK_R(wr_zone(dev, 2, zdata, 1)); /* a full zone: whole chunks */
	CHECK_R(wr_zone(dev, 3, zdata, 2));
	CHECK_EQ(zvd_flush(dev), 0);
	CHECK_EQ(zvd_get_space(dev, &sp0), 0);
	c = sp0.chunk_size;
	zbytes = (zdata + c - 1) / c * c; /* what a full zone takes */
	rbytes = (65536 + c - 1) / c * c;
	CHECK_EQ(sp0.data_bytes, 2 * zbytes);
	CHECK_EQ(zvd_snapshot_create(dev, "s"), 0);
	CHECK_EQ(zvd_get_space(dev, &sp1), 0);
	/* O(1): a snapshot takes no data space */
	CHECK_EQ(sp1.data_bytes, sp0.data_bytes);
	CHECK_EQ(find_snap(dev, "s", &si), 0);
	CHECK_EQ(si.exclusive_bytes, 0);
	/* reset zone 2: its data is now the snapshot's alone */
	CHECK_EQ(zvd_zone_mgmt(dev, ZVD_OP_RESET, 2), 0);
	CHECK_EQ(zvd_get_space(dev, &sp2), 0);
	CHECK_EQ(sp2.data_bytes, sp0.data_bytes);
	CHECK_EQ(find_snap(dev, "s", &si), 0);
	CHECK_EQ(si.exclusive_bytes, zbytes);
	/* rewriting it takes new space */
	CHECK_R(wr_zone(dev, 2, 65536, 3));
	CHECK_EQ(zvd_flush(dev), 0);
	CHECK_EQ(zvd_get_space(dev, &sp3), 0);
	CHECK_EQ(sp3.data_bytes, sp0.data_bytes + rbytes);
	/* deleting the snapshot gives its exclusive bytes back */
	CHECK_EQ(zvd_snapshot_delete(dev, "s"), 0);
	CHECK(zvd_gc(dev) >= 0);
	CHECK_EQ(zvd_get_space(dev, &sp4), 0);
	CHECK_EQ(sp4.data_bytes, sp3.data_bytes - zbytes);
	CHECK_EQ(zvd_close(dev), 0);
	/* and it stays given back */
	CHECK_EQ(store_open(&st, ZVD_OPEN_READONLY, &dev), 0);
	CHECK_EQ(zvd_get_space(dev, &sp4), 0);
	CHECK_EQ(sp4.data_bytes, sp3.data_bytes - zbytes);
	CHECK_EQ(zvd_close(dev), 0);
	CHECK_EQ(store_check(&st), 0);
	store_fini(&st);
}

/* A conventional overwrite after a snapshot costs new space, which the
 * snapshot then holds alone; gc after the delete brings the file's
 * allocated blocks down. */
static void space_conventional_and_gc(void)
{
	struct zvd_space sp0, sp1, sp2;
	struct zvd_snapshot_info si;
	struct zvd_geometry g;
	struct zvd_dev *dev;
	struct store st;
	struct stat sb0, sb1;

	geo_small(&g);
	CHECK(store_init(&st, ST_FILE, "space2.img") == 0);
	CHECK_EQ(store_create(&st, &g, &dev), 0);
	CHECK_R(wr(dev, 0, 1 << 20, 1));
	CHECK_EQ(zvd_flush(dev), 0);
	CHECK_EQ(zvd_get_space(dev, &sp0), 0);
	CHECK_EQ(zvd_snapshot_create(dev, "s"), 0);
	CHECK_R(wr(dev, 0, 1 << 20, 2)); /* overwrite all of it */
	CHECK_EQ(zvd_flush(dev), 0);
	CHECK_EQ(zvd_get_space(dev, &sp1), 0);
	CHECK_EQ(sp1.data_bytes, sp0.data_bytes + (1 << 20));
	CHECK_EQ(find_snap(dev, "s", &si), 0);
	CHECK_EQ(si.exclusive_bytes, 1 << 20);
	CHECK_EQ(stat(st.path, &sb0), 0);
	CHECK_EQ(zvd_snapshot_delete(dev, "s"), 0);
	CHECK(zvd_gc(dev) >= 0);
	CHECK_EQ(zvd_get_space(dev, &sp2), 0);
	CHECK_EQ(sp2.data_bytes, sp0.data_bytes);
	CHECK_EQ(zvd_close(dev), 0);
	CHECK_EQ(stat(st.path, &sb1), 0);
	if (sb1.st_blocks >= sb0.st_blocks)
		printf("#   file blocks %lld -> %lld\n", (long long)sb0.st_blocks,
		       (long long)sb1.st_blocks);
	CHECK(sb1.st_blocks < sb0.st_blocks);
	CHECK_EQ(store_check(&st), 0);
	store_fini(&st);
}

/* ---- 5. power cuts --------------------------------------------------------------- */

/*
 * Each round: a fresh 2 MiB image on a mem backend, behind a crash
 * backend armed to cut the power at a random write, discard or flush;
 * then a random script of writes, resets, flushes and snapshot create,
 * delete and rollback. When the power goes, the image is reopened and
 * must be clean; each snapshot the script made (or was making) either
 * exists and reads exactly as when it was taken, or, only if its create
 * or delete was cut, does not; a rollback that was cut left the image
 * either as before it or as the snapshot.
 */
#define PC_SNAPS 8

struct pc_snap {
	char name[16];
	int exists; /* 1 yes, 0 no, 2 maybe (its operation was cut) */
	struct state st;
};

struct pc {
	uint64_t rng;
	struct zvd_backend *mem, *crash;
	struct zvd_dev *dev;
	struct zvd_geometry g;
	struct pc_snap snap[PC_SNAPS];
	int nsnap;
	/* the operation the cut may have hit */
	enum { OP_OTHER, OP_CREATE, OP_DELETE, OP_ROLLBACK } op;
	int op_snap;
	struct state pre; /* the image before a rollback */
	int have_pre;
	unsigned cuts_in_snap_ops;
};

static uint64_t rnd(struct pc *p)
{
	p->rng ^= p->rng << 13;
	p->rng ^= p->rng >> 7;
	p->rng ^= p->rng << 17;
	return p->rng;
}

static void pc_geo(struct zvd_geometry *g)
{
	zvd_geometry_default(g);
	g->zone_size = 256 << 10;
	g->zone_capacity = 192 << 10;
	g->size = 8 * g->zone_size;
	g->block_size = 4096;
	g->nr_conv_zones = 1;
	g->max_open = 3;
	g->max_active = 4;
	g->max_append = 0;
}

static int cut(struct pc *p)
{
	return zvd_crash_is_cut(p->crash);
}

/* One random step. Returns 0, 1 when the power went, -1 on a failure. */
static int pc_step(struct pc *p)
{
	uint64_t r = rnd(p);
	int k = (int)(r % 16), rc, i;

	p->op = OP_OTHER;
	if (k < 6) { /* a write somewhere */
		uint32_t zi = (uint32_t)((r >> 8) % 8);
		struct zvd_zone z;

		if (zvd_report(p->dev, zi, ZVD_REPORT_ALL, &z, 1) != 1)
			return cut(p) ? 1 : -1;
		if (zi == 0) {
			rc = wr(p->dev, ((r >> 16) % 60) * 4096,
				4096 * (1 + (r >> 24) % 4), r);
		} else if (z.cond == ZVD_COND_FULL ||
			   z.wp + 16384 > z.start + z.capacity) {
			rc = zvd_zone_mgmt(p->dev, ZVD_OP_RESET, zi);
		} else {
			rc = wr(p->dev, z.wp, 4096 * (1 + (r >> 24) % 4), r);
			if (rc && !cut(p)) {
				/* the open or active limit: make room */
				rc = zvd_zone_mgmt(p->dev, ZVD_OP_FINISH,
						   ZVD_ALL_ZONES);
			}
		}
		if (cut(p))
			return 1;
		if (rc && zi == 0)
			return -1; /* wr said why */
		if (rc)
			FAILF("zone %u: %d", zi, rc);
		return 0;
	}
	if (k < 8) {
		rc = zvd_flush(p->dev);
		if (cut(p))
			return 1;
		if (rc)
			FAILF("flush: %d", rc);
		return 0;
	}
	if (k < 9) {
		/* finishing an empty zone is refused: fine */
		zvd_zone_mgmt(p->dev, ZVD_OP_FINISH, 1 + (uint32_t)((r >> 8) % 7));
		return cut(p) ? 1 : 0;
	}
	/* a snapshot operation: the image is made durable first, so that
	 * what it holds is known */
	rc = zvd_flush(p->dev);
	if (cut(p))
		return 1;
	EXPECT(rc == 0);
	if (k < 12 && p->nsnap < PC_SNAPS) {
		struct pc_snap *s = &p->snap[p->nsnap];

		snprintf(s->name, sizeof(s->name), "s%d", p->nsnap);
		if (capture(p->dev, &s->st))
			return cut(p) ? 1 : -1;
		p->nsnap++;
		p->op = OP_CREATE;
		p->op_snap = p->nsnap - 1;
		s->exists = 2;
		rc = zvd_snapshot_create(p->dev, s->name);
		if (cut(p))
			return 1;
		if (rc)
			FAILF("snapshot create %s: %d", s->name, rc);
		s->exists = 1;
		return 0;
	}
	for (i = 0; i < p->nsnap; i++)
		if (p->snap[(i + (int)((r >> 8) % PC_SNAPS)) % p->nsnap].exists == 1)
			break;
	if (i == p->nsnap)
		return 0;
	i = (i + (int)((r >> 8) % PC_SNAPS)) % p->nsnap;
	p->op_snap = i;
	if (k < 14) {
		p->op = OP_DELETE;
		p->snap[i].exists = 2;
		rc = zvd_snapshot_delete(p->dev, p->snap[i].name);
		if (cut(p))
			return 1;
		if (rc)
			FAILF("snapshot delete %s: %d", p->snap[i].name, rc);
		p->snap[i].exists = 0;
		return 0;
	}
	p->op = OP_ROLLBACK;
	if (p->have_pre)
		state_free(&p->pre);
	p->have_pre = 0;
	if (capture(p->dev, &p->pre))
		return cut(p) ? 1 : -1;
	p->have_pre = 1;
	rc = zvd_rollback(p->dev, p->snap[i].name);
	if (cut(p))
		return 1;
	if (rc)
		FAILF("rollback to %s: %d", p->snap[i].name, rc);
	return same_as(p->dev, &p->snap[i].st, "just rolled back");
}

/* After the cut: reopen and check everything the model knows. */
static int pc_verify(struct pc *p)
{
	struct zvd_backend *be;
	struct zvd_dev *dev, *v;
	struct zvd_snapshot_info si;
	int i, rc, n;

	zvd_close(p->dev);
	p->dev = NULL;
	rc = check_be(p->mem);
	if (rc)
		FAILF("zvd_check after the cut: %d", rc);
	EXPECT(zvd_backend_crash_create(p->mem, rnd(p), &be) == 0);
	rc = zvd_open(be, 0, &dev);
	if (rc) {
		zvd_backend_close(be);
		FAILF("open after the cut: %d", rc);
	}
	n = zvd_snapshot_list(dev, NULL, 0);
	for (i = 0; i < p->nsnap; i++) {
		struct pc_snap *s = &p->snap[i];
		int there = find_snap(dev, s->name, &si) == 0;

		if (s->exists != 2 && there != s->exists) {
			zvd_close(dev);
			FAILF("snapshot %s %s after the cut (op %d)", s->name,
			      there ? "exists" : "is gone", p->op);
		}
		if (there)
			n--;
		if (!there)
			continue;
		EXPECT(zvd_backend_crash_create(p->mem, rnd(p), &be) == 0);
		rc = zvd_open_snapshot(be, s->name, &v);
		if (rc) {
			zvd_backend_close(be);
			zvd_close(dev);
			FAILF("open snapshot %s after the cut: %d", s->name, rc);
		}
		rc = same_as(v, &s->st, s->name);
		zvd_close(v);
		if (rc) {
			zvd_close(dev);
			return rc;
		}
	}
	if (n != 0) {
		zvd_close(dev);
		FAILF("%d snapshots nobody made after the cut", n);
	}
	if (p->op == OP_ROLLBACK && p->have_pre) {
		/* all or nothing: as before, or as the snapshot */
		if (same_as(dev, &p->pre, "before the rollback") &&
		    same_as(dev, &p->snap[p->op_snap].st, "the rolled-back image")) {
			zvd_close(dev);
			return -1;
		}
	}
	if (p->op == OP_CREATE || p->op == OP_DELETE) {
		/* a snapshot operation does not change the image */
		const struct state *want = p->op == OP_CREATE ?
			&p->snap[p->op_snap].st : NULL;

		if (want && same_as(dev, want, "the image after a cut create")) {
			zvd_close(dev);
			return -1;
		}
	}
	/* the image still works */
	rc = zvd_snapshot_create(dev, "after-cut");
	if (rc) {
		zvd_close(dev);
		FAILF("snapshot create after the cut: %d", rc);
	}
	EXPECT(zvd_close(dev) == 0);
	return 0;
}

static int pc_round(uint64_t seed)
{
	struct pc p;
	int i, rc = 0, steps = 0;

	memset(&p, 0, sizeof(p));
	p.rng = seed * 0x9E3779B97F4A7C15ull | 1;
	pc_geo(&p.g);
	EXPECT(zvd_backend_mem_create(&p.mem) == 0);
	EXPECT(zvd_backend_crash_create(p.mem, rnd(&p), &p.crash) == 0);
	rc = zvd_create(p.crash, &p.g, &p.dev);
	if (rc) {
		zvd_backend_close(p.crash);
		zvd_backend_close(p.mem);
		FAILF("create: %d", rc);
	}
	EXPECT(zvd_flush(p.dev) == 0);
	/* a little durable history before the power may go */
	for (i = 0; i < 6 && rc == 0; i++, steps++)
		rc = pc_step(&p);
	if (rc == 0) {
		zvd_crash_arm(p.crash, 1 + rnd(&p) % 40);
		for (i = 0; i < 60 && rc == 0; i++)
			rc = pc_step(&p);
		if (rc == 0) { /* the arm was not reached: cut now */
			zvd_crash_cut(p.crash);
			p.op = OP_OTHER;
		}
	}
	if (rc == 1 && p.op != OP_OTHER)
		rc = 2;
	if (rc >= 0)
		rc = pc_verify(&p) ? -1 : rc;
	if (p.dev)
		zvd_close(p.dev);
	for (i = 0; i < p.nsnap; i++)
		state_free(&p.snap[i].st);
	if (p.have_pre)
		state_free(&p.pre);
	zvd_backend_close(p.mem);
	return rc;
}

static void power_cuts(void)
{
	const char *env = getenv("ZVD_CUTS");
	long cuts = env ? atol(env) : 300;
	long i, in_snap = 0;

	if (cuts < 1)
		cuts = 300;
	for (i = 0; i < cuts; i++) {
		int rc = pc_round((uint64_t)i + 1);

		if (rc < 0)
			printf("#   round %ld: %s\n", i + 1, msg);
		CHECK(rc >= 0);
		if (rc == 2)
			in_snap++;
	}
	printf("# %ld power cuts, %ld of them inside a snapshot create, delete or rollback\n",
	       cuts, in_snap);
	CHECK(in_snap >= cuts / 10);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	RUN(create_list_delete_mem);
	RUN(create_list_delete_file);
	RUN(snapshot_names);
	RUN(zone_states_kept_mem);
	RUN(zone_states_kept_file);
	RUN(resets_and_rewrites);
	RUN(conventional_overwrites);
	RUN(many_snapshots_and_views);
	RUN(clone_reads_and_diverges);
	RUN(delete_image_refusals);
	RUN(backing_rebase_flatten);
	RUN(flatten_progress);
	RUN(space_accounting);
	RUN(space_conventional_and_gc);
	RUN(power_cuts);
	remove_tmpdir();
	HARNESS_EXIT();
}

// SPDX-License-Identifier: MIT
/*
 * test_zone_states.c - the zoned model of docs/ZONED.md, rule by rule.
 *
 * Sections:
 *   1. helpers: devices on the mem backend, data patterns, snapshots of the
 *      whole device (report, resources, data) to prove that a refused
 *      request changed nothing
 *   2. the transition table: every starting condition (E IO EO C F RO OFF)
 *      times every operation, for 512- and 4096-byte blocks
 *   3. open/active resources and the implicit close
 *   4. the order of the checks, range, boundary and capacity errors
 *   5. ZVD_ALL_ZONES
 *   6. zone append
 *   7. report filters
 *   8. conventional zones
 *   9. zvd_zone_fail
 *  10. geometry validation, names and errnos
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "zvd.h"

/* ---- 1. helpers -------------------------------------------------------- */

#define MAXZ 64

/* The reason the last int-returning helper failed; printed as "# ...". */
static char msg[512];

#define FAILF(...)                                               \
	do {                                                     \
		snprintf(msg, sizeof(msg), __VA_ARGS__);         \
		return -1;                                       \
	} while (0)

#define EXPECT(c)                                                          \
	do {                                                               \
		if (!(c))                                                  \
			FAILF("%s:%d: %s", __FILE__, __LINE__, #c);        \
	} while (0)

#define EXPECT_EQ(a, b)                                                     \
	do {                                                                \
		long long ea_ = (long long)(a), eb_ = (long long)(b);       \
		if (ea_ != eb_)                                             \
			FAILF("%s:%d: %s == %s (%lld != %lld)", __FILE__,   \
			      __LINE__, #a, #b, ea_, eb_);                  \
	} while (0)

/* CHECK an int helper that returns 0 on success, printing its reason. */
#define CHECK_R(expr)                                     \
	do {                                              \
		int cr_ = (expr);                         \
		if (cr_)                                  \
			printf("#   %s\n", msg);          \
		CHECK(cr_ == 0 && #expr);                 \
	} while (0)

struct geo {
	uint32_t bs;
	uint64_t zsz, cap;
	uint32_t nz, nconv;
	uint32_t mo, ma, mapp;
};

static void geo_fill(struct zvd_geometry *g, const struct geo *p)
{
	memset(g, 0, sizeof(*g));
	g->block_size = p->bs;
	g->zone_size = p->zsz;
	g->zone_capacity = p->cap;
	g->size = p->zsz * p->nz;
	g->nr_conv_zones = p->nconv;
	g->max_open = p->mo;
	g->max_active = p->ma;
	g->max_append = p->mapp;
}

/* A new device on a mem backend, or NULL. */
/* The profile mkdev gives its devices (the cases that test "a refused
 * request changes nothing" at the active limit use null_blk's rules; zns
 * follows QEMU there, see res_zns_closes_before_active_check). */
static uint32_t test_profile = ZVD_PROFILE_ZNS;

static struct zvd_dev *mkdev(const struct geo *p)
{
	struct zvd_geometry g;
	struct zvd_backend *be;
	struct zvd_dev *dev;

	geo_fill(&g, p);
	g.profile = test_profile;
	if (zvd_backend_mem_create(&be))
		return NULL;
	if (zvd_create(be, &g, &dev)) {
		zvd_backend_close(be);
		return NULL;
	}
	return dev;
}

/* The default small device: 4 KiB blocks, 64 KiB zones of 48 KiB. */
static struct zvd_dev *mkdev_lim(uint32_t nz, uint32_t nconv, uint32_t mo,
				 uint32_t ma)
{
	struct geo p = { 4096, 65536, 49152, nz, nconv, mo, ma, 0 };

	return mkdev(&p);
}

static uint32_t bsize(struct zvd_dev *dev)
{
	struct zvd_geometry g;

	zvd_get_geometry(dev, &g);
	return g.block_size;
}

static uint64_t zsize(struct zvd_dev *dev)
{
	struct zvd_geometry g;

	zvd_get_geometry(dev, &g);
	return g.zone_size;
}

static uint64_t zstart(struct zvd_dev *dev, uint32_t zi)
{
	return zsize(dev) * zi;
}

/* Non-zero bytes that depend on the position and a seed. */
static void pat(uint8_t *b, size_t len, uint64_t off, uint64_t seed)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t v = (off + i) * 0x9E3779B97F4A7C15ull ^
			     (seed * 0xC2B2AE3D27D4EB4Full);
		b[i] = (uint8_t)((v >> 56) | 1);
	}
}

static int wr(struct zvd_dev *dev, uint64_t off, size_t len, uint64_t seed)
{
	uint8_t *b = malloc(len ? len : 1);
	int ret;

	if (!b)
		return -ENOMEM;
	pat(b, len, off, seed);
	ret = zvd_write(dev, b, len, off, 0);
	free(b);
	return ret;
}

static int app(struct zvd_dev *dev, uint32_t zi, size_t len, uint64_t seed,
	       uint64_t *where)
{
	uint8_t *b = malloc(len ? len : 1);
	int ret;

	if (!b)
		return -ENOMEM;
	/* the pattern follows the expected place: the zone's write pointer */
	pat(b, len, 0, seed);
	ret = zvd_append(dev, zi, b, len, 0, where);
	free(b);
	return ret;
}

/* 0 if [off, off+len) reads as pat(seed), else -1 with msg. */
static int rd_pat(struct zvd_dev *dev, uint64_t off, size_t len,
		  uint64_t seed, uint64_t pat_off)
{
	uint8_t *b = malloc(len), *e = malloc(len);
	int ret;

	if (!b || !e) {
		free(b);
		free(e);
		FAILF("out of memory");
	}
	ret = zvd_read(dev, b, len, off);
	pat(e, len, pat_off, seed);
	if (!ret && memcmp(b, e, len))
		ret = 1;
	free(b);
	free(e);
	if (ret < 0)
		FAILF("read %llu+%zu failed: %d", (unsigned long long)off, len,
		      ret);
	if (ret)
		FAILF("read %llu+%zu: data differs", (unsigned long long)off,
		      len);
	return 0;
}

/* 0 if [off, off+len) reads as zeros. */
static int rd_zero(struct zvd_dev *dev, uint64_t off, size_t len)
{
	uint8_t *b = malloc(len);
	int ret;
	size_t i;

	if (!b)
		FAILF("out of memory");
	memset(b, 0xa5, len);
	ret = zvd_read(dev, b, len, off);
	for (i = 0; !ret && i < len; i++)
		if (b[i])
			break;
	free(b);
	if (ret)
		FAILF("read %llu+%zu failed: %d", (unsigned long long)off, len,
		      ret);
	if (i < len)
		FAILF("read %llu+%zu: byte %zu not zero",
		      (unsigned long long)off, len, i);
	return 0;
}

static int zinfo(struct zvd_dev *dev, uint32_t zi, struct zvd_zone *z)
{
	memset(z, 0, sizeof(*z));
	return zvd_report(dev, zi, ZVD_REPORT_ALL, z, 1) == 1 ? 0 : -1;
}

static int zcond(struct zvd_dev *dev, uint32_t zi)
{
	struct zvd_zone z;

	if (zinfo(dev, zi, &z))
		return -1;
	return z.cond;
}

static uint64_t zwp(struct zvd_dev *dev, uint32_t zi)
{
	struct zvd_zone z;

	if (zinfo(dev, zi, &z))
		return 0;
	return z.wp;
}

static enum zvd_status last_status(struct zvd_dev *dev)
{
	struct zvd_error e;

	zvd_last_error(dev, &e);
	return e.status;
}

static uint32_t nr_open(struct zvd_dev *dev)
{
	struct zvd_space sp;

	memset(&sp, 0, sizeof(sp));
	if (zvd_get_space(dev, &sp))
		return UINT32_MAX;
	return sp.open_zones;
}

static uint32_t nr_active(struct zvd_dev *dev)
{
	struct zvd_space sp;

	memset(&sp, 0, sizeof(sp));
	if (zvd_get_space(dev, &sp))
		return UINT32_MAX;
	return sp.active_zones;
}

/* The errno docs/ZONED.md gives each status. */
static int spec_errno(enum zvd_status st)
{
	switch (st) {
	case ZVD_OK:
		return 0;
	case ZVD_INVALID_FIELD:
		return -EINVAL;
	case ZVD_TOO_MANY_OPEN:
		return -ETOOMANYREFS;
	case ZVD_TOO_MANY_ACTIVE:
		return -EOVERFLOW;
	default:
		return -EIO;
	}
}

/* Everything a request could change. */
struct snap {
	uint32_t n;
	struct zvd_zone z[MAXZ];
	uint64_t hash[MAXZ]; /* of the zone's bytes; 0 for offline zones */
	uint32_t open, active;
	uint64_t data_bytes;
};

static struct snap snap_a, snap_b;

static uint64_t fnv(const uint8_t *b, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static int snap_take(struct zvd_dev *dev, struct snap *s)
{
	struct zvd_space sp;
	uint8_t *b;
	uint64_t zs = zsize(dev);

	memset(s, 0, sizeof(*s));
	s->n = zvd_nr_zones(dev);
	if (s->n > MAXZ)
		FAILF("too many zones for a snapshot");
	if (zvd_report(dev, 0, ZVD_REPORT_ALL, s->z, s->n) != (int)s->n)
		FAILF("report of all zones failed");
	memset(&sp, 0, sizeof(sp));
	if (zvd_get_space(dev, &sp))
		FAILF("zvd_get_space failed");
	s->open = sp.open_zones;
	s->active = sp.active_zones;
	s->data_bytes = sp.data_bytes;
	b = malloc(zs);
	if (!b)
		FAILF("out of memory");
	for (uint32_t i = 0; i < s->n; i++) {
		if (s->z[i].cond == ZVD_COND_OFFLINE)
			continue;
		if (zvd_read(dev, b, zs, s->z[i].start)) {
			free(b);
			FAILF("snapshot: read of zone %u failed", i);
		}
		s->hash[i] = fnv(b, zs);
	}
	free(b);
	return 0;
}

static int zone_diff(const struct zvd_zone *a, const struct zvd_zone *b)
{
	return a->start != b->start || a->len != b->len ||
	       a->capacity != b->capacity || a->wp != b->wp ||
	       a->type != b->type || a->cond != b->cond ||
	       a->written != b->written || a->writes != b->writes ||
	       a->resets != b->resets || a->finishes != b->finishes;
}

/* 0 if the snapshots agree, zone @skip aside (UINT32_MAX: none). */
static int snap_cmp(const struct snap *a, const struct snap *b, uint32_t skip)
{
	if (a->n != b->n)
		FAILF("zone count %u -> %u", a->n, b->n);
	for (uint32_t i = 0; i < a->n; i++) {
		if (i == skip)
			continue;
		if (zone_diff(&a->z[i], &b->z[i]))
			FAILF("zone %u changed: cond %u->%u wp %llu->%llu "
			      "written %llu->%llu writes %llu->%llu "
			      "resets %llu->%llu finishes %llu->%llu",
			      i, a->z[i].cond, b->z[i].cond,
			      (unsigned long long)a->z[i].wp,
			      (unsigned long long)b->z[i].wp,
			      (unsigned long long)a->z[i].written,
			      (unsigned long long)b->z[i].written,
			      (unsigned long long)a->z[i].writes,
			      (unsigned long long)b->z[i].writes,
			      (unsigned long long)a->z[i].resets,
			      (unsigned long long)b->z[i].resets,
			      (unsigned long long)a->z[i].finishes,
			      (unsigned long long)b->z[i].finishes);
		if (a->hash[i] != b->hash[i])
			FAILF("zone %u data changed", i);
	}
	if (skip == UINT32_MAX) {
		if (a->open != b->open || a->active != b->active)
			FAILF("open/active %u/%u -> %u/%u", a->open, a->active,
			      b->open, b->active);
		if (a->data_bytes != b->data_bytes)
			FAILF("data_bytes %llu -> %llu",
			      (unsigned long long)a->data_bytes,
			      (unsigned long long)b->data_bytes);
	}
	return 0;
}

/*
 * A request that returned @ret must have been refused with @st: the
 * errno of the spec, the status and errno in zvd_last_error, and nothing
 * changed since @before.
 */
static int refused(struct zvd_dev *dev, const struct snap *before, int ret,
		   enum zvd_status st)
{
	struct zvd_error e;

	if (ret != spec_errno(st))
		FAILF("expected %s (%d), got %d (status %s)",
		      zvd_status_name(st), spec_errno(st), ret,
		      zvd_status_name(last_status(dev)));
	zvd_last_error(dev, &e);
	if (e.status != st)
		FAILF("last error status %s, expected %s",
		      zvd_status_name(e.status), zvd_status_name(st));
	if (e.err != ret)
		FAILF("last error errno %d, call returned %d", e.err, ret);
	if (snap_take(dev, &snap_a))
		return -1;
	return snap_cmp(before, &snap_a, UINT32_MAX);
}

/* Run @call, which must be refused with @st, changing nothing. */
#define CHECK_REFUSED(dev, call, st)                                   \
	do {                                                           \
		CHECK_R(snap_take((dev), &snap_b));                    \
		int rf_ = (call);                                      \
		CHECK_R(refused((dev), &snap_b, rf_, (st)));           \
	} while (0)

static int mgmt(struct zvd_dev *dev, enum zvd_zone_op op, uint32_t zi)
{
	return zvd_zone_mgmt(dev, op, zi);
}

/* ---- 2. the transition table ---------------------------------------- */

enum st { S_E, S_IO, S_EO, S_C, S_F, S_RO, S_OFF, S_NR };
enum op {
	O_WP,	  /* write one block at the write pointer */
	O_AHEAD,  /* write one block past the write pointer */
	O_BEHIND, /* write one block below the write pointer */
	O_APPEND,
	O_OPEN,
	O_CLOSE,
	O_FINISH,
	O_RESET,
	O_NR
};
enum wpk { W_SAME, W_ADV, W_START, W_END, W_INV };

static const char *const st_name[S_NR] = { "E", "IO", "EO", "C",
					   "F", "RO", "OFF" };
static const char *const op_name[O_NR] = {
	"write-at-wp", "write-ahead-of-wp", "write-behind-wp", "append",
	"open", "close", "finish", "reset"
};

struct cell {
	int na;		    /* not applicable */
	uint8_t cond;	    /* on success */
	enum wpk wp;	    /* on success */
	enum zvd_status st; /* ZVD_OK or the refusal */
};

#define OK(c, w) { 0, ZVD_COND_##c, W_##w, ZVD_OK }
#define NO(s) { 0, 0, W_SAME, ZVD_##s }
#define NA { 1, 0, W_SAME, ZVD_OK }

/* docs/ZONED.md, "Transitions", one row per starting condition. */
static const struct cell table[S_NR][O_NR] = {
	[S_E] = { OK(IMP_OPEN, ADV), NO(INVALID_WRITE), NA,
		  OK(IMP_OPEN, ADV), OK(EXP_OPEN, SAME),
		  NO(INVALID_TRANSITION), OK(FULL, END), OK(EMPTY, START) },
	[S_IO] = { OK(IMP_OPEN, ADV), NO(INVALID_WRITE), NO(INVALID_WRITE),
		   OK(IMP_OPEN, ADV), OK(EXP_OPEN, SAME), OK(CLOSED, SAME),
		   OK(FULL, END), OK(EMPTY, START) },
	[S_EO] = { OK(EXP_OPEN, ADV), NO(INVALID_WRITE), NO(INVALID_WRITE),
		   OK(EXP_OPEN, ADV), OK(EXP_OPEN, SAME), OK(CLOSED, SAME),
		   OK(FULL, END), OK(EMPTY, START) },
	[S_C] = { OK(IMP_OPEN, ADV), NO(INVALID_WRITE), NO(INVALID_WRITE),
		  OK(IMP_OPEN, ADV), OK(EXP_OPEN, SAME), OK(CLOSED, SAME),
		  OK(FULL, END), OK(EMPTY, START) },
	[S_F] = { NO(ZONE_FULL), NO(ZONE_FULL), NO(ZONE_FULL), NO(ZONE_FULL),
		  NO(INVALID_TRANSITION), NO(INVALID_TRANSITION),
		  OK(FULL, END), OK(EMPTY, START) },
	[S_RO] = { NO(READ_ONLY), NO(READ_ONLY), NO(READ_ONLY), NO(READ_ONLY),
		   NO(INVALID_TRANSITION), NO(INVALID_TRANSITION),
		   NO(INVALID_TRANSITION), NO(INVALID_TRANSITION) },
	[S_OFF] = { NO(OFFLINE), NO(OFFLINE), NO(OFFLINE), NO(OFFLINE),
		    NO(INVALID_TRANSITION), NO(INVALID_TRANSITION),
		    NO(INVALID_TRANSITION), NO(INVALID_TRANSITION) },
};

/* Bring sequential zone @zi (empty) to @s; all but E hold one block. */
static int set_state(struct zvd_dev *dev, uint32_t zi, enum st s)
{
	uint64_t start = zstart(dev, zi);
	uint32_t bs = bsize(dev);
	int ret = 0;

	if (s == S_E)
		return 0;
	if (s == S_EO)
		EXPECT_EQ(mgmt(dev, ZVD_OP_OPEN, zi), 0);
	ret = wr(dev, start, bs, zi);
	EXPECT(ret >= 0);
	switch (s) {
	case S_C:
		EXPECT_EQ(mgmt(dev, ZVD_OP_CLOSE, zi), 0);
		break;
	case S_F:
		EXPECT_EQ(mgmt(dev, ZVD_OP_FINISH, zi), 0);
		break;
	case S_RO:
		EXPECT_EQ(zvd_zone_fail(dev, zi, ZVD_COND_READ_ONLY), 0);
		break;
	case S_OFF:
		EXPECT_EQ(zvd_zone_fail(dev, zi, ZVD_COND_OFFLINE), 0);
		break;
	default:
		break;
	}
	return 0;
}

static const uint8_t st_cond[S_NR] = {
	ZVD_COND_EMPTY,	 ZVD_COND_IMP_OPEN,  ZVD_COND_EXP_OPEN,
	ZVD_COND_CLOSED, ZVD_COND_FULL,	     ZVD_COND_READ_ONLY,
	ZVD_COND_OFFLINE,
};

static int do_op(struct zvd_dev *dev, uint32_t zi, enum op o, uint64_t at,
		 uint64_t *where)
{
	uint32_t bs = bsize(dev);

	switch (o) {
	case O_WP:
	case O_AHEAD:
	case O_BEHIND:
		return wr(dev, at, bs, 1000);
	case O_APPEND:
		return app(dev, zi, bs, 1000, where);
	case O_OPEN:
		return mgmt(dev, ZVD_OP_OPEN, zi);
	case O_CLOSE:
		return mgmt(dev, ZVD_OP_CLOSE, zi);
	case O_FINISH:
		return mgmt(dev, ZVD_OP_FINISH, zi);
	case O_RESET:
		return mgmt(dev, ZVD_OP_RESET, zi);
	default:
		return -EINVAL;
	}
}

/* One cell of the table: a fresh device, zone 2 brought to @s, then @o. */
static int run_cell(uint32_t bs, enum st s, enum op o)
{
	const struct cell *c = &table[s][o];
	struct geo p = { bs, 32 * bs, 24 * bs, 4, 1, 0, 0, 0 };
	const uint32_t zi = 2;
	struct zvd_dev *dev;
	struct zvd_zone z;
	struct zvd_error e;
	uint64_t start, base, at, where = UINT64_MAX, exp_wp;
	int ret, rc = 0;

	if (c->na)
		return 0;
	dev = mkdev(&p);
	if (!dev)
		FAILF("device creation failed");
	start = zstart(dev, zi);
	/* the write pointer before the zone left the writable states */
	base = s == S_E ? start : start + bs;
	at = o == O_AHEAD ? base + bs : o == O_BEHIND ? base - bs : base;

	if (set_state(dev, zi, s))
		goto out_fail;
	if (zcond(dev, zi) != st_cond[s]) {
		snprintf(msg, sizeof(msg), "setup reached cond %d", zcond(dev, zi));
		goto out_fail;
	}
	if (snap_take(dev, &snap_b))
		goto out_fail;
	ret = do_op(dev, zi, o, at, &where);

	if (c->st != ZVD_OK) {
		if (refused(dev, &snap_b, ret, c->st))
			goto out_fail;
		zvd_last_error(dev, &e);
		if (e.zone != zi) {
			snprintf(msg, sizeof(msg), "last error zone %u, not %u",
				 e.zone, zi);
			goto out_fail;
		}
		goto out;
	}

	if (ret < 0 || ((o >= O_OPEN) && ret != 0)) {
		snprintf(msg, sizeof(msg), "expected success, got %d (%s)", ret,
			 zvd_status_name(last_status(dev)));
		goto out_fail;
	}
	if (zinfo(dev, zi, &z)) {
		snprintf(msg, sizeof(msg), "report failed");
		goto out_fail;
	}
	switch (c->wp) {
	case W_SAME:
		exp_wp = base;
		break;
	case W_ADV:
		exp_wp = base + bs;
		break;
	case W_START:
		exp_wp = start;
		break;
	case W_END:
		exp_wp = start + z.len;
		break;
	default:
		exp_wp = ZVD_WP_INVALID;
		break;
	}
	if (z.cond != c->cond || z.wp != exp_wp) {
		snprintf(msg, sizeof(msg),
			 "cond %s wp %llu, expected cond %s wp %llu",
			 zvd_cond_name(z.cond), (unsigned long long)z.wp,
			 zvd_cond_name(c->cond), (unsigned long long)exp_wp);
		goto out_fail;
	}
	if (o == O_APPEND && where != base) {
		snprintf(msg, sizeof(msg), "append landed at %llu, not %llu",
			 (unsigned long long)where, (unsigned long long)base);
		goto out_fail;
	}
	if (snap_take(dev, &snap_a) || snap_cmp(&snap_b, &snap_a, zi))
		goto out_fail;
	{
		uint32_t open = z.cond == ZVD_COND_IMP_OPEN ||
				z.cond == ZVD_COND_EXP_OPEN;
		uint32_t active = open || z.cond == ZVD_COND_CLOSED;

		if (snap_a.open != open || snap_a.active != active) {
			snprintf(msg, sizeof(msg),
				 "open/active %u/%u, expected %u/%u",
				 snap_a.open, snap_a.active, open, active);
			goto out_fail;
		}
	}
	/* the data: what was written stays, the rest reads zeros */
	if (o == O_WP && rd_pat(dev, base, bs, 1000, base))
		goto out_fail;
	if (o == O_APPEND && rd_pat(dev, base, bs, 1000, 0))
		goto out_fail;
	if (o == O_RESET && rd_zero(dev, start, z.len))
		goto out_fail;
	if (o == O_FINISH && rd_zero(dev, base, start + z.len - base))
		goto out_fail;
	if (o != O_RESET && s != S_E && rd_pat(dev, start, bs, zi, start))
		goto out_fail;
	goto out;
out_fail:
	rc = -1;
out:
	zvd_close(dev);
	return rc;
}

static int table_row(uint32_t bs, enum st s)
{
	int bad = 0;

	for (int o = 0; o < O_NR; o++) {
		if (run_cell(bs, s, (enum op)o)) {
			printf("#   bs %u %s + %s: %s\n", bs, st_name[s],
			       op_name[o], msg);
			bad++;
		}
	}
	return bad;
}

#define ROW(name, bs, s)                          \
	static void name(void)                    \
	{                                         \
		CHECK_EQ(table_row(bs, s), 0);    \
	}

ROW(table_4k_empty, 4096, S_E)
ROW(table_4k_imp_open, 4096, S_IO)
ROW(table_4k_exp_open, 4096, S_EO)
ROW(table_4k_closed, 4096, S_C)
ROW(table_4k_full, 4096, S_F)
ROW(table_4k_read_only, 4096, S_RO)
ROW(table_4k_offline, 4096, S_OFF)
ROW(table_512_empty, 512, S_E)
ROW(table_512_imp_open, 512, S_IO)
ROW(table_512_exp_open, 512, S_EO)
ROW(table_512_closed, 512, S_C)
ROW(table_512_full, 512, S_F)
ROW(table_512_read_only, 512, S_RO)
ROW(table_512_offline, 512, S_OFF)

/* Close keeps the write pointer at the zone start: C, not E. */
static void close_at_start_stays_closed(void)
{
	struct zvd_dev *dev = mkdev_lim(4, 0, 0, 0);

	CHECK(dev);
	CHECK_EQ(mgmt(dev, ZVD_OP_OPEN, 1), 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_CLOSE, 1), 0);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_CLOSED);
	CHECK_EQ(zwp(dev, 1), zstart(dev, 1));
	CHECK_EQ(nr_active(dev), 1);
	CHECK_EQ(nr_open(dev), 0);
	/* and a write at the start takes it to IO */
	CHECK(wr(dev, zstart(dev, 1), 4096, 1) >= 0);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_IMP_OPEN);
	zvd_close(dev);
}

/* An implicitly opened zone that is opened explicitly leaves the
 * implicit-open list: it is never closed implicitly. */
static void explicit_open_of_io_is_not_closed_implicitly(void)
{
	struct zvd_dev *dev = mkdev_lim(6, 0, 2, 0);

	CHECK(dev);
	CHECK(wr(dev, zstart(dev, 1), 4096, 1) >= 0);
	CHECK(wr(dev, zstart(dev, 2), 4096, 2) >= 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_OPEN, 1), 0);
	CHECK(wr(dev, zstart(dev, 3), 4096, 3) >= 0);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_EXP_OPEN);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_CLOSED);
	CHECK_EQ(zcond(dev, 3), ZVD_COND_IMP_OPEN);
	zvd_close(dev);
}

/* ---- 3. resources --------------------------------------------------- */

/* At the open limit a write to E closes the IO zone opened longest ago
 * (by when it was opened, not when it was last written). */
static void res_implicit_close_oldest(void)
{
	struct zvd_dev *dev = mkdev_lim(8, 0, 2, 0);
	uint64_t where;

	CHECK(dev);
	CHECK(wr(dev, zstart(dev, 1), 4096, 1) >= 0);
	CHECK(wr(dev, zstart(dev, 2), 4096, 2) >= 0);
	CHECK(wr(dev, zstart(dev, 1) + 4096, 4096, 1) >= 0);
	CHECK_EQ(nr_open(dev), 2);
	CHECK(wr(dev, zstart(dev, 3), 4096, 3) >= 0);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_CLOSED);
	CHECK_EQ(zwp(dev, 1), zstart(dev, 1) + 8192);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_IMP_OPEN);
	CHECK_EQ(zcond(dev, 3), ZVD_COND_IMP_OPEN);
	CHECK_EQ(nr_open(dev), 2);
	CHECK_EQ(nr_active(dev), 3);
	/* next: zone 2 is now the oldest */
	CHECK(wr(dev, zstart(dev, 4), 4096, 4) >= 0);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_CLOSED);
	CHECK_EQ(zcond(dev, 3), ZVD_COND_IMP_OPEN);
	CHECK_EQ(zcond(dev, 4), ZVD_COND_IMP_OPEN);
	/* an append to E does the same */
	CHECK(app(dev, 5, 4096, 5, &where) >= 0);
	CHECK_EQ(where, zstart(dev, 5));
	CHECK_EQ(zcond(dev, 3), ZVD_COND_CLOSED);
	CHECK_EQ(zcond(dev, 5), ZVD_COND_IMP_OPEN);
	CHECK_EQ(nr_open(dev), 2);
	CHECK_EQ(nr_active(dev), 5);
	/* the data of the closed zones is intact */
	CHECK_R(rd_pat(dev, zstart(dev, 1), 4096, 1, zstart(dev, 1)));
	CHECK_R(rd_pat(dev, zstart(dev, 1) + 4096, 4096, 1,
		       zstart(dev, 1) + 4096));
	CHECK_R(rd_pat(dev, zstart(dev, 2), 4096, 2, zstart(dev, 2)));
	zvd_close(dev);
}

/* Explicitly open zones are never closed implicitly. */
static void res_implicit_close_skips_explicit(void)
{
	struct zvd_dev *dev = mkdev_lim(8, 0, 2, 0);

	CHECK(dev);
	CHECK_EQ(mgmt(dev, ZVD_OP_OPEN, 1), 0);
	CHECK(wr(dev, zstart(dev, 2), 4096, 2) >= 0);
	CHECK(wr(dev, zstart(dev, 3), 4096, 3) >= 0);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_EXP_OPEN);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_CLOSED);
	CHECK_EQ(zcond(dev, 3), ZVD_COND_IMP_OPEN);
	zvd_close(dev);
}

/* All open slots held by EO zones: E and C zones get TOO_MANY_OPEN. */
static void res_too_many_open(void)
{
	struct zvd_dev *dev = mkdev_lim(8, 0, 2, 0);
	struct zvd_error e;
	uint64_t where;

	CHECK(dev);
	CHECK(wr(dev, zstart(dev, 4), 4096, 4) >= 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_CLOSE, 4), 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_OPEN, 1), 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_OPEN, 2), 0);
	CHECK_REFUSED(dev, wr(dev, zstart(dev, 3), 4096, 3),
		      ZVD_TOO_MANY_OPEN);
	zvd_last_error(dev, &e);
	CHECK_EQ(e.limit, 2);
	CHECK_EQ(e.zone, 3);
	CHECK_REFUSED(dev, app(dev, 3, 4096, 3, &where), ZVD_TOO_MANY_OPEN);
	CHECK_REFUSED(dev, mgmt(dev, ZVD_OP_OPEN, 3), ZVD_TOO_MANY_OPEN);
	/* a closed zone needs an open slot too */
	CHECK_REFUSED(dev, wr(dev, zwp(dev, 4), 4096, 4), ZVD_TOO_MANY_OPEN);
	CHECK_REFUSED(dev, app(dev, 4, 4096, 4, &where), ZVD_TOO_MANY_OPEN);
	CHECK_REFUSED(dev, mgmt(dev, ZVD_OP_OPEN, 4), ZVD_TOO_MANY_OPEN);
	/* the open zones themselves still take writes */
	CHECK(wr(dev, zstart(dev, 1), 4096, 1) >= 0);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_EXP_OPEN);
	/* closing one frees a slot */
	CHECK_EQ(mgmt(dev, ZVD_OP_CLOSE, 2), 0);
	CHECK(wr(dev, zstart(dev, 3), 4096, 3) >= 0);
	CHECK_EQ(zcond(dev, 3), ZVD_COND_IMP_OPEN);
	zvd_close(dev);
}

/* The active limit: no implicit close may happen for a request that is
 * then refused (the known difference from QEMU). */
static void res_too_many_active_body(void)
{
	struct zvd_dev *dev = mkdev_lim(8, 0, 2, 2);
	struct zvd_error e;
	uint64_t where;

	CHECK(dev);
	CHECK(wr(dev, zstart(dev, 1), 4096, 1) >= 0);
	CHECK(wr(dev, zstart(dev, 2), 4096, 2) >= 0);
	CHECK_REFUSED(dev, wr(dev, zstart(dev, 3), 4096, 3),
		      ZVD_TOO_MANY_ACTIVE);
	zvd_last_error(dev, &e);
	CHECK_EQ(e.limit, 2);
	CHECK_EQ(e.zone, 3);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_IMP_OPEN);
	CHECK_REFUSED(dev, app(dev, 3, 4096, 3, &where), ZVD_TOO_MANY_ACTIVE);
	CHECK_REFUSED(dev, mgmt(dev, ZVD_OP_OPEN, 3), ZVD_TOO_MANY_ACTIVE);
	/* closed zones still count as active */
	CHECK_EQ(mgmt(dev, ZVD_OP_CLOSE, 1), 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_CLOSE, 2), 0);
	CHECK_EQ(nr_open(dev), 0);
	CHECK_EQ(nr_active(dev), 2);
	CHECK_REFUSED(dev, wr(dev, zstart(dev, 3), 4096, 3),
		      ZVD_TOO_MANY_ACTIVE);
	/* but a closed zone needs only an open slot */
	CHECK(wr(dev, zwp(dev, 1), 4096, 1) >= 0);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_IMP_OPEN);
	CHECK_EQ(mgmt(dev, ZVD_OP_OPEN, 2), 0);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_EXP_OPEN);
	zvd_close(dev);
}

/* Under null_blk's rules: the active limit is checked before a victim is
 * closed, so the refusal changes nothing. */
static void res_too_many_active(void)
{
	test_profile = ZVD_PROFILE_NULL_BLK;
	res_too_many_active_body();
	test_profile = ZVD_PROFILE_ZNS;
}

/* The active check comes first: with the open limit reached by an IO
 * zone and the active limit reached too, a write to E is refused with
 * TOO_MANY_ACTIVE and the IO zone stays open. */
static void res_active_before_open_body(void)
{
	struct zvd_dev *dev = mkdev_lim(8, 0, 1, 2);

	CHECK(dev);
	CHECK_EQ(mgmt(dev, ZVD_OP_OPEN, 1), 0);
	CHECK(wr(dev, zstart(dev, 1), 4096, 1) >= 0); /* closes to C */
	/* active 1 of 2, open 1 of 1 (explicit): TOO_MANY_OPEN */
	CHECK_REFUSED(dev, wr(dev, zstart(dev, 2), 4096, 2),
		      ZVD_TOO_MANY_OPEN);
	CHECK_EQ(mgmt(dev, ZVD_OP_CLOSE, 1), 0);
	CHECK(wr(dev, zstart(dev, 2), 4096, 2) >= 0);
	/* active 2 of 2, open 1 of 1 (implicit) */
	CHECK_REFUSED(dev, wr(dev, zstart(dev, 3), 4096, 3),
		      ZVD_TOO_MANY_ACTIVE);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_IMP_OPEN);
	zvd_close(dev);
}

/* Under null_blk's rules: the active limit is checked before a victim is
 * closed, so the refusal changes nothing. */
static void res_active_before_open(void)
{
	test_profile = ZVD_PROFILE_NULL_BLK;
	res_active_before_open_body();
	test_profile = ZVD_PROFILE_ZNS;
}

/* A write to C at the open limit closes the oldest IO zone. */
static void res_closed_write_implicit_close(void)
{
	struct zvd_dev *dev = mkdev_lim(8, 0, 1, 2);

	CHECK(dev);
	CHECK(wr(dev, zstart(dev, 1), 4096, 1) >= 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_CLOSE, 1), 0);
	CHECK(wr(dev, zstart(dev, 2), 4096, 2) >= 0);
	CHECK_EQ(nr_open(dev), 1);
	CHECK_EQ(nr_active(dev), 2);
	CHECK(wr(dev, zwp(dev, 1), 4096, 1) >= 0);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_IMP_OPEN);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_CLOSED);
	CHECK_EQ(nr_open(dev), 1);
	CHECK_EQ(nr_active(dev), 2);
	zvd_close(dev);
}

/* An explicit open at the open limit closes the oldest IO zone too. */
static void res_explicit_open_implicit_close(void)
{
	struct zvd_dev *dev = mkdev_lim(8, 0, 1, 0);

	CHECK(dev);
	CHECK(wr(dev, zstart(dev, 1), 4096, 1) >= 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_OPEN, 2), 0);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_CLOSED);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_EXP_OPEN);
	/* and of a closed zone */
	CHECK_EQ(mgmt(dev, ZVD_OP_CLOSE, 2), 0);
	CHECK(wr(dev, zstart(dev, 3), 4096, 3) >= 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_OPEN, 1), 0);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_EXP_OPEN);
	CHECK_EQ(zcond(dev, 3), ZVD_COND_CLOSED);
	CHECK_EQ(nr_open(dev), 1);
	CHECK_EQ(nr_active(dev), 3);
	zvd_close(dev);
}

/* Finish of E or C needs no resources. */
static void res_finish_without_resources(void)
{
	struct zvd_dev *dev = mkdev_lim(8, 0, 1, 2);

	CHECK(dev);
	CHECK(wr(dev, zstart(dev, 1), 4096, 1) >= 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_CLOSE, 1), 0);
	CHECK(wr(dev, zstart(dev, 2), 4096, 2) >= 0);
	/* open 1/1, active 2/2 */
	CHECK_EQ(mgmt(dev, ZVD_OP_FINISH, 3), 0);
	CHECK_EQ(zcond(dev, 3), ZVD_COND_FULL);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_IMP_OPEN);
	CHECK_EQ(mgmt(dev, ZVD_OP_FINISH, 1), 0);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_FULL);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_IMP_OPEN);
	CHECK_EQ(nr_open(dev), 1);
	CHECK_EQ(nr_active(dev), 1);
	zvd_close(dev);
}

/* Every way out of the active states gives the slots back. */
static void res_slots_freed_body(void)
{
	struct zvd_dev *dev = mkdev_lim(8, 0, 1, 1);

	CHECK(dev);
	CHECK(wr(dev, zstart(dev, 1), 4096, 1) >= 0);
	CHECK_REFUSED(dev, wr(dev, zstart(dev, 2), 4096, 2),
		      ZVD_TOO_MANY_ACTIVE);
	/* reset */
	CHECK_EQ(mgmt(dev, ZVD_OP_RESET, 1), 0);
	CHECK_EQ(nr_active(dev), 0);
	CHECK(wr(dev, zstart(dev, 2), 4096, 2) >= 0);
	/* a write that fills the zone */
	CHECK(wr(dev, zwp(dev, 2), 49152 - 4096, 2) >= 0);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_FULL);
	CHECK_EQ(nr_open(dev), 0);
	CHECK_EQ(nr_active(dev), 0);
	/* finish */
	CHECK_EQ(mgmt(dev, ZVD_OP_OPEN, 3), 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_FINISH, 3), 0);
	CHECK_EQ(nr_active(dev), 0);
	/* read-only */
	CHECK(wr(dev, zstart(dev, 4), 4096, 4) >= 0);
	CHECK_EQ(zvd_zone_fail(dev, 4, ZVD_COND_READ_ONLY), 0);
	CHECK_EQ(nr_open(dev), 0);
	CHECK_EQ(nr_active(dev), 0);
	/* offline, from closed */
	CHECK(wr(dev, zstart(dev, 5), 4096, 5) >= 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_CLOSE, 5), 0);
	CHECK_EQ(zvd_zone_fail(dev, 5, ZVD_COND_OFFLINE), 0);
	CHECK_EQ(nr_active(dev), 0);
	/* close keeps the active slot, frees the open one (of a zone that
	 * holds data: null_blk empties an unwritten one) */
	CHECK_EQ(mgmt(dev, ZVD_OP_OPEN, 6), 0);
	CHECK(wr(dev, zstart(dev, 6), 4096, 6) >= 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_CLOSE, 6), 0);
	CHECK_EQ(nr_open(dev), 0);
	CHECK_EQ(nr_active(dev), 1);
	CHECK_REFUSED(dev, mgmt(dev, ZVD_OP_OPEN, 7), ZVD_TOO_MANY_ACTIVE);
	zvd_close(dev);
}

/* Under null_blk's rules: the active limit is checked before a victim is
 * closed, so the refusal changes nothing. */
static void res_slots_freed(void)
{
	test_profile = ZVD_PROFILE_NULL_BLK;
	res_slots_freed_body();
	test_profile = ZVD_PROFILE_ZNS;
}

/* A closed zone written again joins the implicit-open list at its end:
 * the age that counts is that of the latest implicit open. */
static void res_reopened_zone_is_youngest(void)
{
	struct zvd_dev *dev = mkdev_lim(8, 0, 2, 0);

	CHECK(dev);
	CHECK(wr(dev, zstart(dev, 1), 4096, 1) >= 0);
	CHECK(wr(dev, zstart(dev, 2), 4096, 2) >= 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_CLOSE, 1), 0);
	CHECK(wr(dev, zwp(dev, 1), 4096, 1) >= 0);
	CHECK(wr(dev, zstart(dev, 3), 4096, 3) >= 0);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_CLOSED);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_IMP_OPEN);
	CHECK_EQ(zcond(dev, 3), ZVD_COND_IMP_OPEN);
	/* a reset zone written again is the youngest too */
	CHECK_EQ(mgmt(dev, ZVD_OP_RESET, 1), 0);
	CHECK(wr(dev, zstart(dev, 1), 4096, 1) >= 0);
	CHECK(wr(dev, zstart(dev, 4), 4096, 4) >= 0);
	CHECK_EQ(zcond(dev, 3), ZVD_COND_CLOSED);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_IMP_OPEN);
	CHECK_EQ(zcond(dev, 4), ZVD_COND_IMP_OPEN);
	zvd_close(dev);
}

/* Requests on zones that already hold their slots need no more, even
 * with every limit reached. */
static void res_open_zones_need_nothing(void)
{
	struct zvd_dev *dev = mkdev_lim(8, 0, 2, 2);
	uint64_t where;

	CHECK(dev);
	CHECK(wr(dev, zstart(dev, 1), 4096, 1) >= 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_OPEN, 2), 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_OPEN, 2), 0);			 /* EO->EO */
	CHECK_EQ(mgmt(dev, ZVD_OP_OPEN, 1), 0);			 /* IO->EO */
	CHECK(wr(dev, zwp(dev, 1), 4096, 1) >= 0);
	CHECK(app(dev, 2, 4096, 2, &where) >= 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_CLOSE, 1), 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_CLOSE, 1), 0);			 /* C->C */
	CHECK_EQ(mgmt(dev, ZVD_OP_RESET, 3), 0);			 /* E->E */
	CHECK_EQ(mgmt(dev, ZVD_OP_FINISH, 2), 0);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_CLOSED);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_FULL);
	CHECK_EQ(nr_open(dev), 0);
	CHECK_EQ(nr_active(dev), 1);
	zvd_close(dev);
}

/* A request refused for another reason closes nothing, even at the open
 * limit with an implicitly open zone to close. */
static void res_no_implicit_close_when_refused(void)
{
	struct zvd_dev *dev = mkdev_lim(8, 0, 1, 0);
	uint64_t where;

	CHECK(dev);
	CHECK(wr(dev, zstart(dev, 1), 4096, 1) >= 0);
	CHECK(wr(dev, zstart(dev, 2), 4096, 2) >= 0);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_CLOSED);
	/* E zone: past capacity; not at the write pointer */
	CHECK_REFUSED(dev, wr(dev, zstart(dev, 3), 49152 + 4096, 3),
		      ZVD_BOUNDARY);
	CHECK_REFUSED(dev, wr(dev, zstart(dev, 3) + 4096, 4096, 3),
		      ZVD_INVALID_WRITE);
	/* C zone: not at the write pointer; past capacity */
	CHECK_REFUSED(dev, wr(dev, zstart(dev, 1), 4096, 1),
		      ZVD_INVALID_WRITE);
	CHECK_REFUSED(dev, app(dev, 1, 49152, 1, &where), ZVD_BOUNDARY);
	/* misaligned */
	CHECK_REFUSED(dev, app(dev, 3, 2048, 3, &where), ZVD_INVALID_FIELD);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_IMP_OPEN);
	zvd_close(dev);
}

/* An explicitly open zone written to its capacity becomes full and gives
 * both its slots back. */
static void res_exp_open_filled(void)
{
	struct zvd_dev *dev = mkdev_lim(4, 0, 1, 1);

	CHECK(dev);
	CHECK_EQ(mgmt(dev, ZVD_OP_OPEN, 1), 0);
	CHECK(wr(dev, zstart(dev, 1), 16384, 1) >= 0);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_EXP_OPEN);
	CHECK(wr(dev, zwp(dev, 1), 49152 - 16384, 1) >= 0);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_FULL);
	CHECK_EQ(nr_open(dev), 0);
	CHECK_EQ(nr_active(dev), 0);
	CHECK(wr(dev, zstart(dev, 2), 4096, 2) >= 0);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_IMP_OPEN);
	zvd_close(dev);
}

/* ---- 4. order of checks, range, boundary, capacity ------------------ */

static void err_range_and_alignment(void)
{
	struct zvd_dev *dev = mkdev_lim(4, 1, 0, 0);
	uint64_t size = 4 * 65536, s1 = 65536, where;
	uint8_t small[4096] = { 0 };

	CHECK(dev);
	CHECK_REFUSED(dev, wr(dev, s1 + 512, 4096, 1), ZVD_INVALID_FIELD);
	CHECK_REFUSED(dev, wr(dev, s1, 512, 1), ZVD_INVALID_FIELD);
	CHECK_REFUSED(dev, wr(dev, s1, 0, 1), ZVD_INVALID_FIELD);
	CHECK_REFUSED(dev, wr(dev, size, 4096, 1), ZVD_INVALID_FIELD);
	CHECK_REFUSED(dev, wr(dev, size - 4096, 8192, 1), ZVD_INVALID_FIELD);
	CHECK_REFUSED(dev, wr(dev, UINT64_MAX - 4095, 8192, 1),
		      ZVD_INVALID_FIELD);
	CHECK_REFUSED(dev, wr(dev, 512, 4096, 1), ZVD_INVALID_FIELD);
	/* lengths that wrap: refused before the buffer is touched */
	CHECK_REFUSED(dev, zvd_write(dev, small, (size_t)0 - 4096, s1, 0),
		      ZVD_INVALID_FIELD);
	CHECK_REFUSED(dev, zvd_write(dev, small, (size_t)0 - 4096, 0, 0),
		      ZVD_INVALID_FIELD);
	CHECK_REFUSED(dev, zvd_append(dev, 1, small, (size_t)0 - 4096, 0,
				      &where),
		      ZVD_INVALID_FIELD);
	CHECK_EQ(zvd_read(dev, small, (size_t)0 - 4096, 4096), -EINVAL);
	/* zone indexes */
	CHECK_REFUSED(dev, mgmt(dev, ZVD_OP_OPEN, 4), ZVD_INVALID_FIELD);
	CHECK_REFUSED(dev, mgmt(dev, ZVD_OP_RESET, 1000), ZVD_INVALID_FIELD);
	CHECK_REFUSED(dev, mgmt(dev, (enum zvd_zone_op)0, 1),
		      ZVD_INVALID_FIELD);
	CHECK_REFUSED(dev, mgmt(dev, (enum zvd_zone_op)99, 1),
		      ZVD_INVALID_FIELD);
	CHECK_REFUSED(dev, app(dev, 4, 4096, 1, &where), ZVD_INVALID_FIELD);
	CHECK_REFUSED(dev, app(dev, 1, 512, 1, &where), ZVD_INVALID_FIELD);
	CHECK_REFUSED(dev, app(dev, 1, 0, 1, &where), ZVD_INVALID_FIELD);
	CHECK_REFUSED(dev, zvd_zone_fail(dev, 4, ZVD_COND_OFFLINE),
		      ZVD_INVALID_FIELD);
	zvd_close(dev);
}

/* Range before state, state before write pointer, write pointer before
 * boundary, boundary before resources. */
static void err_check_order_body(void)
{
	struct zvd_dev *dev = mkdev_lim(6, 0, 1, 1);
	uint64_t s1 = 65536, s2 = 2 * 65536;

	CHECK(dev);
	CHECK_EQ(mgmt(dev, ZVD_OP_FINISH, 1), 0);
	/* misaligned write to a full zone */
	CHECK_REFUSED(dev, wr(dev, s1 + 512, 4096, 1), ZVD_INVALID_FIELD);
	/* full zone, not at the (former) write pointer, past capacity */
	CHECK_REFUSED(dev, wr(dev, s1 + 45056, 8192, 1), ZVD_ZONE_FULL);
	/* not at the write pointer and past capacity */
	CHECK_REFUSED(dev, wr(dev, s2 + 4096, 49152, 1), ZVD_INVALID_WRITE);
	/* take the only active slot: then past capacity beats resources */
	CHECK(wr(dev, 3 * 65536, 4096, 3) >= 0);
	CHECK_REFUSED(dev, wr(dev, s2, 49152 + 4096, 1), ZVD_BOUNDARY);
	CHECK_REFUSED(dev, wr(dev, s2, 4096, 1), ZVD_TOO_MANY_ACTIVE);
	zvd_close(dev);
}

/* Under null_blk's rules: the active limit is checked before a victim is
 * closed, so the refusal changes nothing. */
static void err_check_order(void)
{
	test_profile = ZVD_PROFILE_NULL_BLK;
	err_check_order_body();
	test_profile = ZVD_PROFILE_ZNS;
}

static void err_boundary_capacity(void)
{
	struct zvd_dev *dev = mkdev_lim(4, 0, 0, 0);
	uint64_t s1 = 65536;
	struct zvd_error e;

	CHECK(dev);
	CHECK_REFUSED(dev, wr(dev, s1, 49152 + 4096, 1), ZVD_BOUNDARY);
	zvd_last_error(dev, &e);
	CHECK_EQ(e.zone, 1);
	CHECK(wr(dev, s1, 8192, 1) >= 0);
	CHECK_REFUSED(dev, wr(dev, s1 + 8192, 49152 - 4096, 1), ZVD_BOUNDARY);
	/* beyond capacity but inside the zone, even at the end */
	CHECK_REFUSED(dev, wr(dev, s1 + 8192, 65536 - 8192, 1), ZVD_BOUNDARY);
	/* exactly to capacity: full */
	CHECK(wr(dev, s1 + 8192, 49152 - 8192, 1) >= 0);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_FULL);
	CHECK_EQ(zwp(dev, 1), s1 + 65536);
	CHECK_EQ(nr_open(dev), 0);
	CHECK_EQ(nr_active(dev), 0);
	CHECK_REFUSED(dev, wr(dev, s1 + 49152, 4096, 1), ZVD_ZONE_FULL);
	/* one write of the whole capacity */
	CHECK(wr(dev, 2 * 65536, 49152, 2) >= 0);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_FULL);
	CHECK_R(rd_pat(dev, 2 * 65536, 49152, 2, 2 * 65536));
	zvd_close(dev);
}

/* With capacity = zone size a write may still not run into the next
 * sequential zone. */
static void err_boundary_span_seq(void)
{
	struct geo p = { 4096, 65536, 65536, 4, 0, 0, 0, 0 };
	struct zvd_dev *dev = mkdev(&p);
	uint64_t s1 = 65536;

	CHECK(dev);
	CHECK(wr(dev, s1, 65536 - 4096, 1) >= 0);
	CHECK_REFUSED(dev, wr(dev, s1 + 65536 - 4096, 8192, 1), ZVD_BOUNDARY);
	/* and from a full zone's end into the next: still refused */
	CHECK(wr(dev, s1 + 65536 - 4096, 4096, 1) >= 0);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_FULL);
	CHECK_REFUSED(dev, wr(dev, 0, 2 * 65536, 1), ZVD_BOUNDARY);
	zvd_close(dev);
}

/* ---- 5. ZVD_ALL_ZONES --------------------------------------------------- */

/* Zones 1..8 of a device with one conventional zone in
 * E IO EO C F RO OFF C; returns 0 or -1. */
static int all_setup(struct zvd_dev *dev)
{
	static const enum st layout[] = { S_E,	S_IO, S_EO, S_C,
					  S_F,	S_RO, S_OFF, S_C };

	for (uint32_t i = 0; i < 8; i++)
		if (set_state(dev, i + 1, layout[i]))
			return -1;
	return 0;
}

static const uint8_t all_before[9] = {
	ZVD_COND_NOT_WP, ZVD_COND_EMPTY,     ZVD_COND_IMP_OPEN,
	ZVD_COND_EXP_OPEN, ZVD_COND_CLOSED,  ZVD_COND_FULL,
	ZVD_COND_READ_ONLY, ZVD_COND_OFFLINE, ZVD_COND_CLOSED,
};

static int all_expect(enum zvd_zone_op op, const uint8_t *after)
{
	struct zvd_dev *dev = mkdev_lim(9, 1, 0, 0);
	int ret, rc = 0;

	if (!dev)
		FAILF("device creation failed");
	if (all_setup(dev))
		goto fail;
	for (uint32_t i = 0; i < 9; i++)
		if (zcond(dev, i) != all_before[i]) {
			snprintf(msg, sizeof(msg), "setup: zone %u cond %d", i,
				 zcond(dev, i));
			goto fail;
		}
	ret = mgmt(dev, op, ZVD_ALL_ZONES);
	if (ret) {
		snprintf(msg, sizeof(msg), "op %d on all zones: %d", op, ret);
		goto fail;
	}
	for (uint32_t i = 0; i < 9; i++)
		if (zcond(dev, i) != after[i]) {
			snprintf(msg, sizeof(msg),
				 "op %d: zone %u cond %s, expected %s", op, i,
				 zvd_cond_name(zcond(dev, i)),
				 zvd_cond_name(after[i]));
			goto fail;
		}
	/* data of zones that stayed must be intact */
	for (uint32_t i = 2; i < 9; i++) {
		if (after[i] == ZVD_COND_EMPTY || after[i] == ZVD_COND_OFFLINE)
			continue;
		if (rd_pat(dev, zstart(dev, i), 4096, i, zstart(dev, i)))
			goto fail;
	}
	goto out;
fail:
	rc = -1;
out:
	zvd_close(dev);
	return rc;
}

static void all_open(void)
{
	static const uint8_t a[9] = {
		ZVD_COND_NOT_WP, ZVD_COND_EMPTY,     ZVD_COND_IMP_OPEN,
		ZVD_COND_EXP_OPEN, ZVD_COND_EXP_OPEN, ZVD_COND_FULL,
		ZVD_COND_READ_ONLY, ZVD_COND_OFFLINE, ZVD_COND_EXP_OPEN,
	};

	CHECK_R(all_expect(ZVD_OP_OPEN, a));
}

static void all_close(void)
{
	static const uint8_t a[9] = {
		ZVD_COND_NOT_WP, ZVD_COND_EMPTY,    ZVD_COND_CLOSED,
		ZVD_COND_CLOSED, ZVD_COND_CLOSED,   ZVD_COND_FULL,
		ZVD_COND_READ_ONLY, ZVD_COND_OFFLINE, ZVD_COND_CLOSED,
	};

	CHECK_R(all_expect(ZVD_OP_CLOSE, a));
}

static void all_finish(void)
{
	static const uint8_t a[9] = {
		ZVD_COND_NOT_WP, ZVD_COND_EMPTY,    ZVD_COND_FULL,
		ZVD_COND_FULL,	 ZVD_COND_FULL,	    ZVD_COND_FULL,
		ZVD_COND_READ_ONLY, ZVD_COND_OFFLINE, ZVD_COND_FULL,
	};

	CHECK_R(all_expect(ZVD_OP_FINISH, a));
}

static void all_reset(void)
{
	static const uint8_t a[9] = {
		ZVD_COND_NOT_WP, ZVD_COND_EMPTY,    ZVD_COND_EMPTY,
		ZVD_COND_EMPTY,	 ZVD_COND_EMPTY,    ZVD_COND_EMPTY,
		ZVD_COND_READ_ONLY, ZVD_COND_OFFLINE, ZVD_COND_EMPTY,
	};

	CHECK_R(all_expect(ZVD_OP_RESET, a));
}

/* Resources and data after the all-zone operations. */
static void all_reset_frees_everything(void)
{
	struct zvd_dev *dev = mkdev_lim(9, 1, 0, 0);

	CHECK(dev);
	CHECK_R(all_setup(dev));
	CHECK(wr(dev, 0, 4096, 77) >= 0);
	CHECK_EQ(nr_open(dev), 2);
	CHECK_EQ(nr_active(dev), 4);
	CHECK_EQ(mgmt(dev, ZVD_OP_RESET, ZVD_ALL_ZONES), 0);
	CHECK_EQ(nr_open(dev), 0);
	CHECK_EQ(nr_active(dev), 0);
	for (uint32_t i = 1; i < 9; i++) {
		if (i == 6 || i == 7)
			continue;
		CHECK_R(rd_zero(dev, zstart(dev, i), 65536));
		CHECK_EQ(zwp(dev, i), zstart(dev, i));
	}
	/* read-only data and the conventional zone are untouched */
	CHECK_R(rd_pat(dev, zstart(dev, 6), 4096, 6, zstart(dev, 6)));
	CHECK_R(rd_pat(dev, 0, 4096, 77, 0));
	zvd_close(dev);
}

/* Nothing to act on is not an error. */
static void all_nothing_to_do(void)
{
	struct zvd_dev *dev = mkdev_lim(4, 1, 0, 0);

	CHECK(dev);
	CHECK_EQ(mgmt(dev, ZVD_OP_OPEN, ZVD_ALL_ZONES), 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_CLOSE, ZVD_ALL_ZONES), 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_FINISH, ZVD_ALL_ZONES), 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_RESET, ZVD_ALL_ZONES), 0);
	for (uint32_t i = 1; i < 4; i++)
		CHECK_EQ(zcond(dev, i), ZVD_COND_EMPTY);
	CHECK_EQ(zcond(dev, 0), ZVD_COND_NOT_WP);
	zvd_close(dev);
}

/* Open-all is all or nothing under the open limit. */
static void all_open_all_or_nothing(void)
{
	struct zvd_dev *dev = mkdev_lim(8, 0, 2, 0);

	CHECK(dev);
	for (uint32_t i = 1; i <= 3; i++) {
		CHECK(wr(dev, zstart(dev, i), 4096, i) >= 0);
		CHECK_EQ(mgmt(dev, ZVD_OP_CLOSE, i), 0);
	}
	CHECK_REFUSED(dev, mgmt(dev, ZVD_OP_OPEN, ZVD_ALL_ZONES),
		      ZVD_TOO_MANY_OPEN);
	for (uint32_t i = 1; i <= 3; i++)
		CHECK_EQ(zcond(dev, i), ZVD_COND_CLOSED);
	/* with one slot already held by an EO zone, two C zones do not fit */
	CHECK_EQ(mgmt(dev, ZVD_OP_RESET, 3), 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_OPEN, 4), 0);
	CHECK_REFUSED(dev, mgmt(dev, ZVD_OP_OPEN, ZVD_ALL_ZONES),
		      ZVD_TOO_MANY_OPEN);
	/* once they fit, all open */
	CHECK_EQ(mgmt(dev, ZVD_OP_CLOSE, 4), 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_RESET, 4), 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_OPEN, ZVD_ALL_ZONES), 0);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_EXP_OPEN);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_EXP_OPEN);
	CHECK_EQ(nr_open(dev), 2);
	CHECK_EQ(nr_active(dev), 2);
	zvd_close(dev);
}

/* ---- 6. zone append ---------------------------------------------------- */

static void append_returns_offset(void)
{
	struct zvd_dev *dev = mkdev_lim(4, 1, 0, 0);
	uint64_t s2 = 2 * 65536, where = 0;
	uint8_t b[16384];

	CHECK(dev);
	CHECK(app(dev, 2, 4096, 1, &where) >= 0);
	CHECK_EQ(where, s2);
	CHECK(app(dev, 2, 8192, 2, &where) >= 0);
	CHECK_EQ(where, s2 + 4096);
	CHECK(app(dev, 2, 4096, 3, &where) >= 0);
	CHECK_EQ(where, s2 + 12288);
	CHECK_EQ(zwp(dev, 2), s2 + 16384);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_IMP_OPEN);
	CHECK_R(rd_pat(dev, s2, 4096, 1, 0));
	CHECK_R(rd_pat(dev, s2 + 4096, 8192, 2, 0));
	CHECK_R(rd_pat(dev, s2 + 12288, 4096, 3, 0));
	/* appends mix with writes at the write pointer */
	CHECK(wr(dev, s2 + 16384, 4096, 4) >= 0);
	CHECK(app(dev, 2, 4096, 5, &where) >= 0);
	CHECK_EQ(where, s2 + 20480);
	CHECK_EQ(zvd_read(dev, b, sizeof(b), s2 + 24576), 0);
	for (size_t i = 0; i < sizeof(b); i++)
		CHECK_EQ(b[i], 0);
	zvd_close(dev);
}

static void append_size_limit(void)
{
	struct geo p = { 4096, 65536, 49152, 4, 1, 0, 0, 8192 };
	struct zvd_dev *dev = mkdev(&p);
	struct zvd_error e;
	uint64_t where;

	CHECK(dev);
	CHECK(app(dev, 1, 8192, 1, &where) >= 0);
	CHECK_EQ(where, 65536);
	CHECK_REFUSED(dev, app(dev, 1, 12288, 1, &where), ZVD_INVALID_FIELD);
	zvd_last_error(dev, &e);
	CHECK_EQ(e.zone, 1);
	/* the limit is for appends only */
	CHECK(wr(dev, 65536 + 8192, 16384, 2) >= 0);
	CHECK_EQ(zwp(dev, 1), 65536 + 24576);
	zvd_close(dev);
}

/* max_append 0 means the zone capacity: a whole-zone append fills it. */
static void append_fills_zone(void)
{
	struct zvd_dev *dev = mkdev_lim(4, 1, 1, 1);
	uint64_t where;

	CHECK(dev);
	CHECK(app(dev, 1, 49152, 1, &where) >= 0);
	CHECK_EQ(where, 65536);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_FULL);
	CHECK_EQ(zwp(dev, 1), 2 * 65536);
	CHECK_EQ(nr_open(dev), 0);
	CHECK_EQ(nr_active(dev), 0);
	CHECK_R(rd_pat(dev, 65536, 49152, 1, 0));
	CHECK_REFUSED(dev, app(dev, 1, 4096, 1, &where), ZVD_ZONE_FULL);
	/* filling in steps, the last append makes it full */
	CHECK(app(dev, 2, 32768, 2, &where) >= 0);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_IMP_OPEN);
	CHECK_REFUSED(dev, app(dev, 2, 32768, 2, &where), ZVD_BOUNDARY);
	CHECK(app(dev, 2, 16384, 3, &where) >= 0);
	CHECK_EQ(where, 2 * 65536 + 32768);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_FULL);
	CHECK_EQ(nr_active(dev), 0);
	zvd_close(dev);
}

static void append_conventional_refused(void)
{
	struct zvd_dev *dev = mkdev_lim(4, 2, 0, 0);
	uint64_t where;

	CHECK(dev);
	CHECK_REFUSED(dev, app(dev, 0, 4096, 1, &where), ZVD_INVALID_FIELD);
	CHECK_REFUSED(dev, app(dev, 1, 4096, 1, &where), ZVD_INVALID_FIELD);
	CHECK(app(dev, 2, 4096, 1, &where) >= 0);
	CHECK_EQ(where, 2 * 65536);
	zvd_close(dev);
}

/* ---- 7. report filters ------------------------------------------------- */

static void report_filters(void)
{
	struct zvd_dev *dev = mkdev_lim(10, 1, 0, 0);
	static const struct {
		enum zvd_report_filter f;
		uint32_t n;
		uint32_t zones[3];
	} want[] = {
		{ ZVD_REPORT_ALL, 10, { 0, 1, 2 } },
		{ ZVD_REPORT_EMPTY, 2, { 1, 9 } },
		{ ZVD_REPORT_IMP_OPEN, 1, { 2 } },
		{ ZVD_REPORT_EXP_OPEN, 1, { 3 } },
		{ ZVD_REPORT_CLOSED, 2, { 4, 8 } },
		{ ZVD_REPORT_FULL, 1, { 5 } },
		{ ZVD_REPORT_READ_ONLY, 1, { 6 } },
		{ ZVD_REPORT_OFFLINE, 1, { 7 } },
		{ ZVD_REPORT_NOT_WP, 1, { 0 } },
	};
	struct zvd_zone z[16];

	CHECK(dev);
	CHECK_R(all_setup(dev));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int n = zvd_report(dev, 0, want[i].f, z, 16);

		CHECK_EQ(n, want[i].n);
		for (uint32_t j = 0; j < want[i].n && j < 3; j++) {
			CHECK_EQ(z[j].start, zstart(dev, want[i].zones[j]));
			CHECK_EQ(z[j].len, 65536);
		}
	}
	/* the starting zone and the maximum */
	CHECK_EQ(zvd_report(dev, 2, ZVD_REPORT_EMPTY, z, 16), 1);
	CHECK_EQ(z[0].start, zstart(dev, 9));
	CHECK_EQ(zvd_report(dev, 3, ZVD_REPORT_ALL, z, 2), 2);
	CHECK_EQ(z[0].start, zstart(dev, 3));
	CHECK_EQ(z[1].start, zstart(dev, 4));
	CHECK_EQ(zvd_report(dev, 0, ZVD_REPORT_CLOSED, z, 1), 1);
	CHECK_EQ(z[0].start, zstart(dev, 4));
	CHECK_EQ(zvd_report(dev, 5, ZVD_REPORT_NOT_WP, z, 16), 0);
	CHECK_EQ(zvd_report(dev, 10, ZVD_REPORT_ALL, z, 16), 0);
	CHECK_EQ(zvd_report(dev, 0, ZVD_REPORT_ALL, z, 0), 0);
	zvd_close(dev);
}

/* What the report says of each zone. */
static void report_fields(void)
{
	struct zvd_dev *dev = mkdev_lim(10, 1, 0, 0);
	struct zvd_zone z[10];

	CHECK(dev);
	CHECK_R(all_setup(dev));
	CHECK_EQ(zvd_report(dev, 0, ZVD_REPORT_ALL, z, 10), 10);
	for (uint32_t i = 0; i < 10; i++) {
		CHECK_EQ(z[i].start, 65536ull * i);
		CHECK_EQ(z[i].len, 65536);
		CHECK_EQ(z[i].capacity, i == 0 ? 65536 : 49152);
		CHECK_EQ(z[i].type,
			 i == 0 ? ZVD_ZONE_CONVENTIONAL : ZVD_ZONE_SEQUENTIAL);
	}
	CHECK_EQ(z[0].wp, 65536);				  /* conv */
	CHECK_EQ(z[1].wp, z[1].start);				  /* E */
	CHECK_EQ(z[2].wp, z[2].start + 4096);			  /* IO */
	CHECK_EQ(z[3].wp, z[3].start + 4096);			  /* EO */
	CHECK_EQ(z[4].wp, z[4].start + 4096);			  /* C */
	CHECK_EQ(z[5].wp, z[5].start + 65536);			  /* F */
	CHECK_EQ(z[6].wp, ZVD_WP_INVALID);			  /* RO */
	CHECK_EQ(z[7].wp, ZVD_WP_INVALID);			  /* OFF */
	CHECK_EQ(zvd_nr_zones(dev), 10);
	CHECK_EQ(zvd_zone_of(dev, 0), 0);
	CHECK_EQ(zvd_zone_of(dev, 65535), 0);
	CHECK_EQ(zvd_zone_of(dev, 65536 * 9 + 4096), 9);
	CHECK_EQ(zvd_zone_of(dev, 65536 * 10), UINT32_MAX);
	zvd_close(dev);
}

/* ---- 8. conventional zones ---------------------------------------------- */

static void conv_random_writes(void)
{
	struct zvd_dev *dev = mkdev_lim(4, 2, 1, 1);
	static const uint64_t offs[] = { 61440, 4096, 0, 32768, 4096, 65536,
					 126976, 8192 };
	uint8_t *model = calloc(1, 2 * 65536), *b = malloc(2 * 65536);

	CHECK(dev && model && b);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		CHECK(wr(dev, offs[i], 4096, i + 10) >= 0);
		pat(model + offs[i], 4096, offs[i], i + 10);
	}
	/* a multi-block overwrite in the middle */
	CHECK(wr(dev, 12288, 16384, 99) >= 0);
	pat(model + 12288, 16384, 12288, 99);
	CHECK_EQ(zvd_read(dev, b, 2 * 65536, 0), 0);
	CHECK(memcmp(b, model, 2 * 65536) == 0);
	/* no zone resources are used */
	CHECK_EQ(nr_open(dev), 0);
	CHECK_EQ(nr_active(dev), 0);
	CHECK_EQ(zcond(dev, 0), ZVD_COND_NOT_WP);
	CHECK_EQ(zwp(dev, 0), 65536);
	free(model);
	free(b);
	zvd_close(dev);
}

static void conv_span(void)
{
	struct zvd_dev *dev = mkdev_lim(4, 2, 0, 0);

	CHECK(dev);
	/* conventional into conventional: allowed */
	CHECK(wr(dev, 65536 - 8192, 16384, 1) >= 0);
	CHECK_R(rd_pat(dev, 65536 - 8192, 16384, 1, 65536 - 8192));
	CHECK(wr(dev, 0, 2 * 65536, 2) >= 0);
	CHECK_R(rd_pat(dev, 0, 2 * 65536, 2, 0));
	/* conventional into sequential: refused, even at its wp */
	CHECK_REFUSED(dev, wr(dev, 2 * 65536 - 4096, 8192, 3), ZVD_BOUNDARY);
	CHECK_REFUSED(dev, wr(dev, 0, 3 * 65536, 3), ZVD_BOUNDARY);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_EMPTY);
	zvd_close(dev);
}

static void conv_mgmt_refused(void)
{
	struct zvd_dev *dev = mkdev_lim(4, 2, 0, 0);

	CHECK(dev);
	CHECK(wr(dev, 0, 4096, 1) >= 0);
	for (int op = ZVD_OP_OPEN; op <= ZVD_OP_RESET; op++) {
		CHECK_REFUSED(dev, mgmt(dev, (enum zvd_zone_op)op, 0),
			      ZVD_INVALID_FIELD);
		CHECK_REFUSED(dev, mgmt(dev, (enum zvd_zone_op)op, 1),
			      ZVD_INVALID_FIELD);
	}
	CHECK_REFUSED(dev, zvd_zone_fail(dev, 0, ZVD_COND_READ_ONLY),
		      ZVD_INVALID_FIELD);
	CHECK_REFUSED(dev, zvd_zone_fail(dev, 1, ZVD_COND_OFFLINE),
		      ZVD_INVALID_FIELD);
	CHECK_R(rd_pat(dev, 0, 4096, 1, 0));
	zvd_close(dev);
}

/* ---- 9. zvd_zone_fail ---------------------------------------------------- */

static void fail_read_only_keeps_data(void)
{
	struct zvd_dev *dev = mkdev_lim(4, 0, 0, 0);
	uint64_t s1 = 65536, where;

	CHECK(dev);
	CHECK(wr(dev, s1, 12288, 1) >= 0);
	CHECK_EQ(zvd_zone_fail(dev, 1, ZVD_COND_READ_ONLY), 0);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_READ_ONLY);
	CHECK_EQ(zwp(dev, 1), ZVD_WP_INVALID);
	CHECK_R(rd_pat(dev, s1, 12288, 1, s1));
	CHECK_R(rd_zero(dev, s1 + 12288, 65536 - 12288));
	CHECK_REFUSED(dev, wr(dev, s1 + 12288, 4096, 1), ZVD_READ_ONLY);
	CHECK_REFUSED(dev, app(dev, 1, 4096, 1, &where), ZVD_READ_ONLY);
	/* and then offline */
	CHECK_EQ(zvd_zone_fail(dev, 1, ZVD_COND_OFFLINE), 0);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_OFFLINE);
	zvd_close(dev);
}

static void fail_offline_refuses_reads(void)
{
	struct zvd_dev *dev = mkdev_lim(4, 1, 0, 0);
	uint64_t s2 = 2 * 65536;
	uint8_t b[8192];
	struct zvd_error e;

	CHECK(dev);
	CHECK(wr(dev, s2, 4096, 1) >= 0);
	CHECK_EQ(zvd_zone_fail(dev, 2, ZVD_COND_OFFLINE), 0);
	CHECK_EQ(zvd_read(dev, b, 4096, s2), -EIO);
	zvd_last_error(dev, &e);
	CHECK_EQ(e.status, ZVD_OFFLINE);
	CHECK_EQ(e.zone, 2);
	CHECK_EQ(zvd_read(dev, b, 4096, s2 + 32768), -EIO);
	/* a read that only touches it */
	CHECK_EQ(zvd_read(dev, b, 8192, s2 - 4096), -EIO);
	CHECK_EQ(last_status(dev), ZVD_OFFLINE);
	CHECK_EQ(zvd_read(dev, b, 4096, s2 - 4096), 0);
	zvd_close(dev);
}

/* Nothing leaves OFF; the refusal changes nothing. */
static void fail_offline_is_final(void)
{
	struct zvd_dev *dev = mkdev_lim(4, 0, 0, 0);
	int ret;

	CHECK(dev);
	CHECK_EQ(zvd_zone_fail(dev, 1, ZVD_COND_OFFLINE), 0);
	CHECK_R(snap_take(dev, &snap_b));
	ret = zvd_zone_fail(dev, 1, ZVD_COND_READ_ONLY);
	CHECK(ret < 0);
	CHECK_R(snap_take(dev, &snap_a));
	CHECK_R(snap_cmp(&snap_b, &snap_a, UINT32_MAX));
	CHECK_EQ(zcond(dev, 1), ZVD_COND_OFFLINE);
	zvd_close(dev);
}

/* Every sequential condition can fail to RO and to OFF. */
static void fail_from_every_state(void)
{
	for (int s = S_E; s <= S_F; s++) {
		for (int to = 0; to < 2; to++) {
			uint8_t c = to ? ZVD_COND_OFFLINE : ZVD_COND_READ_ONLY;
			struct zvd_dev *dev = mkdev_lim(4, 0, 2, 2);

			CHECK(dev);
			CHECK_R(set_state(dev, 1, (enum st)s));
			CHECK_EQ(zvd_zone_fail(dev, 1, (enum zvd_zone_cond)c),
				 0);
			CHECK_EQ(zcond(dev, 1), c);
			CHECK_EQ(zwp(dev, 1), ZVD_WP_INVALID);
			CHECK_EQ(nr_open(dev), 0);
			CHECK_EQ(nr_active(dev), 0);
			if (!to && s != S_E)
				CHECK_R(rd_pat(dev, 65536, 4096, 1, 65536));
			zvd_close(dev);
		}
	}
}

/* Freed slots can be used at once. */
static void fail_frees_resources(void)
{
	struct zvd_dev *dev = mkdev_lim(6, 0, 1, 2);

	CHECK(dev);
	CHECK(wr(dev, zstart(dev, 1), 4096, 1) >= 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_CLOSE, 1), 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_OPEN, 2), 0);
	CHECK_REFUSED(dev, wr(dev, zstart(dev, 3), 4096, 3),
		      ZVD_TOO_MANY_ACTIVE);
	CHECK_EQ(zvd_zone_fail(dev, 2, ZVD_COND_READ_ONLY), 0);
	CHECK_EQ(nr_open(dev), 0);
	CHECK_EQ(nr_active(dev), 1);
	CHECK(wr(dev, zstart(dev, 3), 4096, 3) >= 0);
	CHECK_EQ(zvd_zone_fail(dev, 1, ZVD_COND_OFFLINE), 0);
	CHECK_EQ(nr_active(dev), 1);
	CHECK_EQ(mgmt(dev, ZVD_OP_CLOSE, 3), 0);
	CHECK_EQ(mgmt(dev, ZVD_OP_OPEN, 4), 0);
	CHECK_EQ(nr_active(dev), 2);
	zvd_close(dev);
}

/* Offline frees the zone's space. */
static void fail_offline_frees_space(void)
{
	struct zvd_dev *dev = mkdev_lim(4, 0, 0, 0);
	struct zvd_space a, b;

	CHECK(dev);
	CHECK(wr(dev, 65536, 49152, 1) >= 0);
	CHECK_EQ(zvd_flush(dev), 0);
	CHECK_EQ(zvd_get_space(dev, &a), 0);
	CHECK(a.data_bytes > 0);
	CHECK_EQ(zvd_zone_fail(dev, 1, ZVD_COND_OFFLINE), 0);
	CHECK_EQ(zvd_get_space(dev, &b), 0);
	CHECK(b.data_bytes < a.data_bytes);
	zvd_close(dev);
}

static void fail_bad_args(void)
{
	struct zvd_dev *dev = mkdev_lim(4, 0, 0, 0);

	CHECK(dev);
	CHECK_REFUSED(dev, zvd_zone_fail(dev, 1, ZVD_COND_EMPTY),
		      ZVD_INVALID_FIELD);
	CHECK_REFUSED(dev, zvd_zone_fail(dev, 1, ZVD_COND_FULL),
		      ZVD_INVALID_FIELD);
	CHECK_REFUSED(dev, zvd_zone_fail(dev, 1, ZVD_COND_COUNT),
		      ZVD_INVALID_FIELD);
	CHECK_REFUSED(dev, zvd_zone_fail(dev, 9, ZVD_COND_OFFLINE),
		      ZVD_INVALID_FIELD);
	zvd_close(dev);
}

/* ---- 10. geometry, names, errnos ----------------------------------------- */

static int geo_ok(const struct geo *p)
{
	struct zvd_geometry g;
	const char *why = NULL;
	int ret;

	geo_fill(&g, p);
	ret = zvd_geometry_validate(&g, &why);
	if (ret && !why)
		return -2;
	return ret;
}

static void geometry_validate(void)
{
	static const struct {
		struct geo p;
		int ok;
	} cases[] = {
		{ { 4096, 65536, 65536, 4, 0, 0, 0, 0 }, 1 },
		{ { 512, 65536, 65536, 4, 0, 0, 0, 0 }, 1 },
		{ { 512, 512, 512, 4, 0, 0, 0, 0 }, 1 },
		{ { 1024, 65536, 65536, 4, 0, 0, 0, 0 }, 0 },
		{ { 0, 65536, 65536, 4, 0, 0, 0, 0 }, 0 },
		{ { 8192, 65536, 65536, 4, 0, 0, 0, 0 }, 0 },
		{ { 2048, 65536, 65536, 4, 0, 0, 0, 0 }, 0 },
		/* zone size: any multiple of the block */
		{ { 4096, 98304, 98304, 4, 0, 0, 0, 0 }, 1 },
		{ { 512, 3 * 512, 1024, 4, 0, 0, 0, 0 }, 1 },
		{ { 4096, 98304 + 512, 98304, 4, 0, 0, 0, 0 }, 0 },
		{ { 4096, 0, 0, 4, 0, 0, 0, 0 }, 0 },
		/* capacity */
		{ { 4096, 65536, 4096, 4, 0, 0, 0, 0 }, 1 },
		{ { 4096, 65536, 0, 4, 0, 0, 0, 0 }, 0 },
		{ { 4096, 65536, 65536 + 4096, 4, 0, 0, 0, 0 }, 0 },
		{ { 4096, 65536, 49152 + 512, 4, 0, 0, 0, 0 }, 0 },
		/* zones: at least one sequential */
		{ { 4096, 65536, 65536, 0, 0, 0, 0, 0 }, 0 },
		{ { 4096, 65536, 65536, 4, 3, 0, 0, 0 }, 1 },
		{ { 4096, 65536, 65536, 4, 4, 0, 0, 0 }, 0 },
		{ { 4096, 65536, 65536, 4, 5, 0, 0, 0 }, 0 },
		{ { 4096, 65536, 65536, 1, 0, 0, 0, 0 }, 1 },
		/* limits */
		{ { 4096, 65536, 65536, 4, 0, 2, 3, 0 }, 1 },
		{ { 4096, 65536, 65536, 4, 0, 3, 3, 0 }, 1 },
		{ { 4096, 65536, 65536, 4, 0, 3, 2, 0 }, 0 },
		{ { 4096, 65536, 65536, 4, 0, 3, 0, 0 }, 1 },
		{ { 4096, 65536, 65536, 4, 0, 0, 3, 0 }, 1 },
		{ { 4096, 65536, 65536, 4, 0, 4, 4, 0 }, 1 },
		{ { 4096, 65536, 65536, 4, 0, 5, 0, 0 }, 0 },
		{ { 4096, 65536, 65536, 4, 0, 0, 5, 0 }, 0 },
		{ { 4096, 65536, 65536, 4, 1, 4, 4, 0 }, 0 },
		{ { 4096, 65536, 65536, 4, 1, 3, 3, 0 }, 1 },
		/* append limit */
		{ { 4096, 65536, 65536, 4, 0, 0, 0, 8192 }, 1 },
		{ { 4096, 65536, 65536, 4, 0, 0, 0, 4096 + 512 }, 0 },
		{ { 512, 65536, 65536, 4, 0, 0, 0, 512 }, 1 },
	};
	int bad = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = geo_ok(&cases[i].p);

		if (cases[i].ok ? ret != 0 : ret != -EINVAL) {
			printf("#   geometry case %zu: got %d, expected %s\n", i,
			       ret, cases[i].ok ? "valid" : "-EINVAL+why");
			bad++;
		}
	}
	CHECK_EQ(bad, 0);
}

/* A size that is not a whole number of zones, and the default. */
static void geometry_size_and_default(void)
{
	struct zvd_geometry g;
	const char *why = NULL;

	zvd_geometry_default(&g);
	CHECK_EQ(zvd_geometry_validate(&g, NULL), 0);
	CHECK_EQ(g.size, 4ull << 30);
	CHECK_EQ(g.zone_size, 128ull << 20);
	CHECK_EQ(g.zone_capacity, 124ull << 20);
	CHECK_EQ(g.block_size, 4096);
	CHECK_EQ(g.max_open, 12);
	CHECK_EQ(g.max_active, 12);
	CHECK_EQ(g.max_append, 1u << 20);
	g.size += 4096;
	CHECK_EQ(zvd_geometry_validate(&g, &why), -EINVAL);
	CHECK(why && *why);
	g.size = 0;
	CHECK_EQ(zvd_geometry_validate(&g, NULL), -EINVAL);
}

/* zvd_create refuses a bad geometry and leaves the backend to the caller. */
static void geometry_create_refused(void)
{
	struct geo bad = { 4096, 65536, 65536 + 4096, 4, 0, 0, 0, 0 };
	struct geo good = { 4096, 65536, 65536, 4, 0, 0, 0, 0 };
	struct zvd_geometry g;
	struct zvd_backend *be;
	struct zvd_dev *dev = NULL;

	CHECK_EQ(zvd_backend_mem_create(&be), 0);
	geo_fill(&g, &bad);
	CHECK_EQ(zvd_create(be, &g, &dev), -EINVAL);
	geo_fill(&g, &good);
	CHECK_EQ(zvd_create(be, &g, &dev), 0);
	zvd_close(dev);
}

/* A zone size that is not a power of two works end to end. */
static void geometry_non_pow2_zones(void)
{
	struct geo p = { 4096, 98304, 81920, 5, 1, 2, 3, 0 };
	struct zvd_dev *dev = mkdev(&p);
	uint64_t where;

	CHECK(dev);
	CHECK_EQ(zvd_nr_zones(dev), 5);
	CHECK_EQ(zvd_zone_of(dev, 98304 * 3 - 4096), 2);
	CHECK_EQ(zvd_zone_of(dev, 98304 * 3), 3);
	CHECK(wr(dev, 98304 * 3, 8192, 3) >= 0);
	CHECK(app(dev, 3, 4096, 4, &where) >= 0);
	CHECK_EQ(where, 98304 * 3 + 8192);
	CHECK_EQ(zwp(dev, 3), 98304 * 3 + 12288);
	CHECK_REFUSED(dev, wr(dev, 98304 * 2 + 4096, 4096, 2),
		      ZVD_INVALID_WRITE);
	CHECK(wr(dev, 98304 * 2, 81920, 2) >= 0);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_FULL);
	CHECK_EQ(zwp(dev, 2), 98304 * 3);
	CHECK_R(rd_pat(dev, 98304 * 2, 81920, 2, 98304 * 2));
	CHECK_R(rd_zero(dev, 98304 * 2 + 81920, 98304 - 81920));
	CHECK_R(rd_pat(dev, 98304 * 3, 8192, 3, 98304 * 3));
	CHECK_EQ(mgmt(dev, ZVD_OP_RESET, 2), 0);
	CHECK_R(rd_zero(dev, 98304 * 2, 98304));
	zvd_close(dev);
}

static void status_errnos_and_names(void)
{
	for (int st = 0; st < ZVD_STATUS_COUNT; st++) {
		CHECK(zvd_status_name((enum zvd_status)st) != NULL);
		if (st == ZVD_IO_ERROR)
			continue; /* the backend's errno, whatever it is */
		CHECK_EQ(zvd_status_errno((enum zvd_status)st),
			 spec_errno((enum zvd_status)st));
	}
	for (int a = 0; a < ZVD_STATUS_COUNT; a++)
		for (int b = a + 1; b < ZVD_STATUS_COUNT; b++)
			CHECK(strcmp(zvd_status_name((enum zvd_status)a),
				     zvd_status_name((enum zvd_status)b)));
	CHECK_EQ(strcmp(zvd_status_name(ZVD_ZONE_FULL), "zone-full"), 0);
	CHECK(zvd_status_name(ZVD_STATUS_COUNT) != NULL);
	for (int c = 0; c < ZVD_COND_COUNT; c++)
		CHECK(zvd_cond_name((enum zvd_zone_cond)c) != NULL);
	CHECK_EQ(strcmp(zvd_cond_name(ZVD_COND_NOT_WP), "not-write-pointer"),
		 0);
	CHECK_EQ(strcmp(zvd_cond_name(ZVD_COND_EMPTY), "empty"), 0);
	CHECK_EQ(strcmp(zvd_cond_name(ZVD_COND_IMP_OPEN), "implicit-open"), 0);
	CHECK(zvd_cond_name(ZVD_COND_COUNT) != NULL);
}

/* The last error's details and its text. */
static void last_error_details(void)
{
	struct zvd_dev *dev = mkdev_lim(4, 0, 0, 0);
	struct zvd_error e;
	char text[256];

	CHECK(dev);
	zvd_last_error(dev, &e);
	CHECK_EQ(e.status, ZVD_OK);
	CHECK(wr(dev, 65536, 4096, 1) >= 0);
	CHECK_EQ(wr(dev, 65536 + 8192, 4096, 1), -EIO);
	zvd_last_error(dev, &e);
	CHECK_EQ(e.status, ZVD_INVALID_WRITE);
	CHECK_EQ(e.err, -EIO);
	CHECK_EQ(e.zone, 1);
	CHECK_EQ(e.offset, 65536 + 8192);
	CHECK_EQ(e.length, 4096);
	CHECK_EQ(e.wp, 65536 + 4096);
	memset(text, 0, sizeof(text));
	zvd_last_error_text(dev, text, sizeof(text));
	CHECK(text[0] != 0);
	CHECK(strlen(text) < sizeof(text));
	/* a short buffer is terminated */
	memset(text, 'x', sizeof(text));
	zvd_last_error_text(dev, text, 8);
	CHECK(memchr(text, 0, 8) != NULL);
	zvd_close(dev);
}

/* zns follows QEMU: at the open limit the oldest implicitly open zone is
 * closed first, and a request then refused for the active limit has still
 * closed it. */
static void res_zns_closes_before_active_check(void)
{
	struct zvd_dev *dev = mkdev_lim(8, 0, 2, 2);
	struct zvd_error e;

	CHECK(dev);
	CHECK(wr(dev, zstart(dev, 1), 4096, 1) >= 0);
	CHECK(wr(dev, zstart(dev, 2), 4096, 2) >= 0);
	CHECK_EQ(wr(dev, zstart(dev, 3), 4096, 3), -EOVERFLOW);
	zvd_last_error(dev, &e);
	CHECK_EQ(e.status, ZVD_TOO_MANY_ACTIVE);
	CHECK_EQ(zcond(dev, 1), ZVD_COND_CLOSED);
	CHECK_EQ(zcond(dev, 2), ZVD_COND_IMP_OPEN);
	CHECK_EQ(zcond(dev, 3), ZVD_COND_EMPTY);
	CHECK_EQ(nr_open(dev), 1);
	CHECK_EQ(nr_active(dev), 2);
	zvd_close(dev);
}

int main(void)
{
	RUN(table_4k_empty);
	RUN(table_4k_imp_open);
	RUN(table_4k_exp_open);
	RUN(table_4k_closed);
	RUN(table_4k_full);
	RUN(table_4k_read_only);
	RUN(table_4k_offline);
	RUN(table_512_empty);
	RUN(table_512_imp_open);
	RUN(table_512_exp_open);
	RUN(table_512_closed);
	RUN(table_512_full);
	RUN(table_512_read_only);
	RUN(table_512_offline);
	RUN(close_at_start_stays_closed);
	RUN(explicit_open_of_io_is_not_closed_implicitly);
	RUN(res_implicit_close_oldest);
	RUN(res_implicit_close_skips_explicit);
	RUN(res_too_many_open);
	RUN(res_too_many_active);
	RUN(res_zns_closes_before_active_check);
	RUN(res_active_before_open);
	RUN(res_closed_write_implicit_close);
	RUN(res_explicit_open_implicit_close);
	RUN(res_finish_without_resources);
	RUN(res_slots_freed);
	RUN(res_reopened_zone_is_youngest);
	RUN(res_open_zones_need_nothing);
	RUN(res_no_implicit_close_when_refused);
	RUN(res_exp_open_filled);
	RUN(err_range_and_alignment);
	RUN(err_check_order);
	RUN(err_boundary_capacity);
	RUN(err_boundary_span_seq);
	RUN(all_open);
	RUN(all_close);
	RUN(all_finish);
	RUN(all_reset);
	RUN(all_reset_frees_everything);
	RUN(all_nothing_to_do);
	RUN(all_open_all_or_nothing);
	RUN(append_returns_offset);
	RUN(append_size_limit);
	RUN(append_fills_zone);
	RUN(append_conventional_refused);
	RUN(report_filters);
	RUN(report_fields);
	RUN(conv_random_writes);
	RUN(conv_span);
	RUN(conv_mgmt_refused);
	RUN(fail_read_only_keeps_data);
	RUN(fail_offline_refuses_reads);
	RUN(fail_offline_is_final);
	RUN(fail_from_every_state);
	RUN(fail_frees_resources);
	RUN(fail_offline_frees_space);
	RUN(fail_bad_args);
	RUN(geometry_validate);
	RUN(geometry_size_and_default);
	RUN(geometry_create_refused);
	RUN(geometry_non_pow2_zones);
	RUN(status_errnos_and_names);
	RUN(last_error_details);
	HARNESS_EXIT();
}

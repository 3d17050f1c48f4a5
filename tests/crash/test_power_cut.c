// SPDX-License-Identifier: MIT
/*
 * test_power_cut.c - simulated power cuts at random instants of a random
 * zoned workload, each followed by a reboot and a check of the durability
 * contract against a model kept by the test.
 *
 * Usage: test_power_cut [CUTS]   (or ZVD_CUTS=N; ZVD_SEED=S picks the seed,
 * ZVD_TRACE=1 prints every operation). The default is 1000 cuts.
 *
 * Sections:
 *   1. the model: what each zone and conventional block may hold
 *   2. a world: one long-lived image on a mem backend behind a crash backend
 *   3. verification of a (re)opened device against the model
 *   4. the workload: choosing, running and recording operations
 *   5. one cut: run until the power goes, reboot, verify
 *   6. main: cases of up to 100 cuts, alternating two geometries
 *
 * The contract checked after every cut (include/zvd.h, docs/ZONED.md,
 * "Durability" in DESIGN.md): the image opens, zvd_check finds nothing
 * (both on the crashed image and after a flush of the recovered one), and
 * for each sequential zone the write pointer (zvd_zone.written) lies
 * between the last completed flush/FUA/zone-management point and the last
 * write, with every byte below it as written and zeros above it; full,
 * read-only and offline zones are as the last zone operation left them.
 * Each 512-byte sector of a conventional block holds the block's last
 * durable version or a later one, never anything else: conventional zones
 * are written in place, so an un-flushed overwrite cut by a power loss may
 * mix versions at sector boundaries, as on a host disk whose atomic write
 * unit is a sector (docs/ARCHITECTURE.md, durability contract). A zone operation cut in the middle happened
 * entirely or not at all (for an operation on all zones: on all or none).
 * Within a run, the checks also hold live: reads between cuts, refusals
 * (resource limits, bad writes) exactly as docs/ZONED.md predicts.
 *
 * A failure prints the seed and cut number and the command that replays
 * the run up to it; ZVD_TORN_CONV_OK=0 demands more than the contract:
 * whole conventional blocks (which the crash backend's 512-byte tearing
 * will break), to see how often an overwrite is torn.
 *
 * Data is never stored: every write gets a unique stamp and its bytes are a
 * function of (stamp, absolute byte offset), so the model keeps extents
 * (sequential zones) and stamps (conventional blocks) only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zvd.h"
#include "harness.h"

/* ---- 1. the model ------------------------------------------------------ */

#define MAX_ZONES 32
#define MAX_EXT 512		/* capacity / block size, at most */
#define MAX_CONV_SECTORS 1024
#define MAX_VERS 16		/* versions a conventional block may show */
#define SECTOR 512
#define MAX_OPS_PER_CUT 3000
#define CUTS_PER_CASE 100
#define MAX_FAILED_ZONES 3

enum zstate { Z_NORMAL, Z_RO, Z_OFF };

struct ext {
	uint32_t off, len, stamp;
};

/* A sequential zone: bytes [0, hi) are the extents, zeros follow. */
struct zmodel {
	uint8_t state; /* enum zstate */
	uint8_t fin;   /* finished: the zone is full, data stops at hi */
	uint32_t lo;   /* durable lower bound of the write pointer */
	uint32_t hi;   /* what has been written (upper bound) */
	uint32_t n_ext;
	struct ext ext[MAX_EXT];
};

/* A conventional sector: reads give cur; after a cut any of vers[]. The
 * sectors of a block always share their lists (writes are whole blocks):
 * a block must show one version in all its sectors. */
struct cblock {
	uint32_t cur;
	uint32_t n;
	uint32_t vers[MAX_VERS];
};

struct model {
	struct zmodel z[MAX_ZONES];
	struct cblock cb[MAX_CONV_SECTORS];
};

static uint64_t mix64(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The bytes stamp @stamp puts at absolute offset @off (stamp 0: zeros). */
static void fill(void *buf, uint64_t len, uint64_t off, uint32_t stamp)
{
	uint64_t *p = buf;

	for (uint64_t i = 0; i < len / 8; i++) {
		uint64_t x = (uint64_t)stamp << 32 | ((off >> 3) + i);

		p[i] = stamp ? mix64(x + 0x9e3779b97f4a7c15ULL) : 0;
	}
}

static void zone_clear(struct zmodel *z)
{
	z->state = Z_NORMAL;
	z->fin = 0;
	z->lo = z->hi = 0;
	z->n_ext = 0;
}

/* Drop everything at or past @w (a recovered write pointer). */
static void zone_truncate(struct zmodel *z, uint32_t w)
{
	while (z->n_ext && z->ext[z->n_ext - 1].off >= w)
		z->n_ext--;
	if (z->n_ext) {
		struct ext *e = &z->ext[z->n_ext - 1];

		if (e->off + e->len > w)
			e->len = w - e->off;
	}
	z->hi = w;
	if (z->lo > w)
		z->lo = w;
}

/* ---- 2. a world ---------------------------------------------------------- */

struct world {
	const char *name;
	struct zvd_geometry g;
	uint32_t nz, nconv, nconv_sectors, max_blocks;
	uint64_t bs, zs, cap;
	struct zvd_backend *inner; /* mem, owned by the test */
	struct zvd_backend *cbe;   /* crash backend, owned by dev */
	struct zvd_dev *dev;
	struct model *m, *alt, *tmp;
	uint64_t rng;
	uint32_t stamp;
	int failed_zones;
	long images, open_cuts;
	uint64_t vbytes; /* bytes compared in the current verification */
	uint8_t *buf, *exp;
	struct zvd_zone rep[MAX_ZONES];
};

static unsigned long long g_seed = 1;
static long g_cut;	     /* global cut number, for reproduction */
static long g_op;	     /* operation number within the cut */
static long g_cuts_done;     /* cuts verified */
static unsigned long long g_verified;
static long g_problems;
static int g_trace;
static int g_torn_ok; /* diagnostic only: see main() */
static const char *g_prog;
static char g_why[1024];
static char g_check_problem[256];

static int failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int failf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g_why, sizeof(g_why), fmt, ap);
	va_end(ap);
	return -1;
}

static uint64_t rnd(struct world *w)
{
	return mix64(w->rng += 0x9e3779b97f4a7c15ULL);
}

static uint64_t rnd_below(struct world *w, uint64_t n)
{
	return n ? rnd(w) % n : 0;
}

static void model_flush(struct world *w, struct model *m)
{
	for (uint32_t i = 0; i < w->nz; i++)
		m->z[i].lo = m->z[i].hi;
	for (uint32_t b = 0; b < w->nconv_sectors; b++) {
		m->cb[b].vers[0] = m->cb[b].cur;
		m->cb[b].n = 1;
	}
}

static void model_reset(struct world *w, struct model *m)
{
	memset(m, 0, sizeof(*m));
	for (uint32_t i = 0; i < w->nz; i++)
		zone_clear(&m->z[i]);
	for (uint32_t b = 0; b < w->nconv_sectors; b++)
		m->cb[b].n = 1; /* version 0: zeros */
}

static void check_cb(void *arg, const char *problem)
{
	int *n = arg;

	if ((*n)++ == 0)
		snprintf(g_check_problem, sizeof(g_check_problem), "%s",
			 problem);
}

/* zvd_check on the inner backend; fails unless it finds nothing. */
static int check_image(struct world *w, const char *when)
{
	int n = 0, rc;

	g_check_problem[0] = 0;
	rc = zvd_check(w->inner, check_cb, &n);
	if (rc != 0)
		return failf("zvd_check %s: returned %d (%d reported; "
			     "first: %s)", when, rc, n, g_check_problem);
	return 0;
}

static void world_drop(struct world *w)
{
	if (w->dev)
		zvd_close(w->dev);
	else
		zvd_backend_close(w->cbe);
	w->dev = NULL;
	w->cbe = NULL;
	zvd_backend_close(w->inner);
	w->inner = NULL;
}

/* A fresh image (the old one, if any, is thrown away). */
static int world_create(struct world *w)
{
	int rc;

	world_drop(w);
	rc = zvd_backend_mem_create(&w->inner);
	if (rc)
		return failf("zvd_backend_mem_create: %d", rc);
	rc = zvd_backend_crash_create(w->inner, rnd(w) | 1, &w->cbe);
	if (rc)
		return failf("zvd_backend_crash_create: %d", rc);
	rc = zvd_create(w->cbe, &w->g, &w->dev);
	if (rc) {
		zvd_backend_close(w->cbe);
		w->cbe = NULL;
		return failf("zvd_create (%s): %d", w->name, rc);
	}
	rc = zvd_flush(w->dev);
	if (rc)
		return failf("zvd_flush after zvd_create: %d", rc);
	model_reset(w, w->m);
	w->failed_zones = 0;
	w->images++;
	return 0;
}

static int world_init(struct world *w, const char *name, uint32_t bs,
		      uint64_t zs, uint64_t cap, uint32_t nz, uint32_t nconv,
		      uint32_t max_open, uint32_t max_active,
		      uint32_t max_append, uint64_t seed)
{
	const char *why = NULL;

	memset(w, 0, sizeof(*w));
	w->name = name;
	w->g.size = zs * nz;
	w->g.zone_size = zs;
	w->g.zone_capacity = cap;
	w->g.block_size = bs;
	w->g.nr_conv_zones = nconv;
	w->g.max_open = max_open;
	w->g.max_active = max_active;
	w->g.max_append = max_append;
	if (zvd_geometry_validate(&w->g, &why))
		return failf("geometry %s refused: %s", name, why ? why : "?");
	w->nz = nz;
	w->nconv = nconv;
	w->bs = bs;
	w->zs = zs;
	w->cap = cap;
	w->nconv_sectors = (uint32_t)(nconv * zs / SECTOR);
	w->max_blocks = bs == 4096 ? 8 : 16;
	w->rng = seed;
	w->m = malloc(sizeof(struct model));
	w->alt = malloc(sizeof(struct model));
	w->tmp = malloc(sizeof(struct model));
	w->buf = malloc(1 << 20);
	w->exp = malloc(1 << 20);
	if (!w->m || !w->alt || !w->tmp || !w->buf || !w->exp)
		return failf("out of memory");
	if (nz > MAX_ZONES || cap / bs > MAX_EXT ||
	    w->nconv_sectors > MAX_CONV_SECTORS || nconv * zs > (1 << 20))
		return failf("geometry %s too big for the model", name);
	return 0;
}

static void world_fini(struct world *w)
{
	world_drop(w);
	free(w->m);
	free(w->alt);
	free(w->tmp);
	free(w->buf);
	free(w->exp);
}

/* ---- 3. verification ----------------------------------------------------- */

static int refresh_report(struct world *w)
{
	int n = zvd_report(w->dev, 0, ZVD_REPORT_ALL, w->rep, w->nz);

	if (n != (int)w->nz)
		return failf("zvd_report returned %d, expected %u zones", n,
			     w->nz);
	return 0;
}

static int cond_in(int cond, int a, int b, int c)
{
	return cond == a || cond == b || cond == c;
}

static const char *cname(int cond)
{
	return zvd_cond_name((enum zvd_zone_cond)cond);
}

/* Explain the first difference between what was read and what was due. */
static int content_mismatch(struct world *w, const struct zmodel *z,
			    uint32_t zi, uint64_t w_ptr)
{
	uint64_t o = 0;
	uint32_t stamp = 0;
	uint64_t got, want;
	int zeros = 1;

	while (o < w->cap && !memcmp(w->buf + o, w->exp + o, w->bs))
		o += w->bs;
	for (uint32_t i = 0; i < z->n_ext; i++)
		if (o >= z->ext[i].off && o < z->ext[i].off + z->ext[i].len)
			stamp = z->ext[i].stamp;
	for (uint64_t i = 0; i < w->bs; i++)
		zeros &= w->buf[o + i] == 0;
	memcpy(&got, w->buf + o, 8);
	memcpy(&want, w->exp + o, 8);
	return failf("zone %u: wrong data at zone offset %" PRIu64
		     " (block %s; want stamp %u%s, got %016" PRIx64
		     " want %016" PRIx64 "); written %" PRIu64
		     ", model lo %u hi %u fin %d state %d",
		     zi, o, zeros ? "reads zeros" : "holds other data",
		     o < w_ptr ? stamp : 0, o < w_ptr ? "" : " (zeros)", got,
		     want, w_ptr, z->lo, z->hi, z->fin, z->state);
}

/* Zone content must be the extents below @d and zeros from @d on. */
static int check_content(struct world *w, const struct zmodel *z, uint32_t zi,
			 uint64_t d)
{
	uint64_t start = zi * w->zs;
	int rc;

	rc = zvd_read(w->dev, w->buf, w->cap, start);
	if (rc)
		return failf("zone %u: zvd_read of the capacity: %d", zi, rc);
	memset(w->exp, 0, w->cap);
	for (uint32_t i = 0; i < z->n_ext; i++) {
		const struct ext *e = &z->ext[i];

		if (e->off >= d)
			break;
		fill(w->exp + e->off, e->off + e->len > d ? d - e->off : e->len,
		     start + e->off, e->stamp);
	}
	if (memcmp(w->buf, w->exp, w->cap))
		return content_mismatch(w, z, zi, d);
	w->vbytes += w->cap;
	return 0;
}

/*
 * One sequential zone against its model. @live: no cut happened since the
 * model was last exact, so the write pointer must equal hi. On success the
 * model is moved to what the device shows (hi = recovered write pointer).
 */
static int verify_seq(struct world *w, struct zmodel *z, uint32_t zi, int live)
{
	const struct zvd_zone *r = &w->rep[zi];
	uint64_t start = zi * w->zs, wr = r->written;
	int rc;

	if (r->type != ZVD_ZONE_SEQUENTIAL || r->start != start ||
	    r->len != w->zs || r->capacity != w->cap)
		return failf("zone %u: reported type %u start %" PRIu64
			     " len %" PRIu64 " capacity %" PRIu64,
			     zi, r->type, r->start, r->len, r->capacity);
	if (z->state == Z_OFF) {
		if (r->cond != ZVD_COND_OFFLINE || r->wp != ZVD_WP_INVALID)
			return failf("zone %u: %s wp %" PRIx64
				     ", expected offline", zi, cname(r->cond),
				     r->wp);
		rc = zvd_read(w->dev, w->buf, w->bs, start);
		if (rc != -EIO)
			return failf("zone %u: read of an offline zone: %d",
				     zi, rc);
		return 0;
	}
	if (z->state == Z_RO || z->fin) {
		int want = z->state == Z_RO ? ZVD_COND_READ_ONLY :
					      ZVD_COND_FULL;
		uint64_t want_wp = z->state == Z_RO ? ZVD_WP_INVALID :
						      start + w->zs;

		if (r->cond != want || r->wp != want_wp)
			return failf("zone %u: %s wp %" PRIu64 ", expected %s "
				     "(model hi %u fin %d)", zi, cname(r->cond),
				     r->wp, cname(want), z->hi, z->fin);
		if (wr != z->hi && !(wr == w->cap && z->fin))
			return failf("zone %u (%s): written %" PRIu64
				     ", expected %u", zi, cname(r->cond), wr,
				     z->hi);
		return check_content(w, z, zi, z->hi);
	}
	if (live ? wr != z->hi : (wr < z->lo || wr > z->hi))
		return failf("zone %u: written %" PRIu64 " (%s), expected %s "
			     "%u..%u", zi, wr, cname(r->cond),
			     live ? "exactly" : "within", live ? z->hi : z->lo,
			     z->hi);
	if (wr % w->bs)
		return failf("zone %u: written %" PRIu64 " not block aligned",
			     zi, wr);
	if (wr == w->cap) {
		if (r->cond != ZVD_COND_FULL || r->wp != start + w->zs)
			return failf("zone %u: all capacity written but %s wp %"
				     PRIu64, zi, cname(r->cond), r->wp);
	} else if (wr == 0) {
		if (!cond_in(r->cond, ZVD_COND_EMPTY, ZVD_COND_EXP_OPEN,
			     ZVD_COND_CLOSED) || r->wp != start)
			return failf("zone %u: nothing written but %s wp %"
				     PRIu64, zi, cname(r->cond), r->wp);
	} else {
		if (!cond_in(r->cond, ZVD_COND_IMP_OPEN, ZVD_COND_EXP_OPEN,
			     ZVD_COND_CLOSED) || r->wp != start + wr)
			return failf("zone %u: written %" PRIu64 " but %s wp %"
				     PRIu64, zi, wr, cname(r->cond),
				     r->wp - start);
	}
	rc = check_content(w, z, zi, wr);
	if (rc)
		return rc;
	zone_truncate(z, (uint32_t)wr);
	return 0;
}

/* Which versions of conventional block @b its sectors hold. */
static int conv_mismatch(struct world *w, struct cblock *cbs, uint32_t b)
{
	uint64_t off = b * w->bs, spb = w->bs / SECTOR;
	const uint8_t *got = w->buf + off;
	int torn = 1;
	char seen[160] = "";
	size_t used = 0;

	for (uint64_t s = 0; s < spb; s++) {
		const struct cblock *cb = &cbs[b * spb + s];
		int found = -1;

		for (uint32_t k = 0; k < cb->n && found < 0; k++) {
			fill(w->exp, SECTOR, off + s * SECTOR, cb->vers[k]);
			if (!memcmp(w->exp, got + s * SECTOR, SECTOR))
				found = (int)cb->vers[k];
		}
		if (found < 0)
			torn = 0;
		if (used < sizeof(seen) - 12)
			used += snprintf(seen + used, sizeof(seen) - used,
					 " %d", found);
	}
	return failf("conventional block %u (offset %" PRIu64 "): %s; "
		     "%u allowed versions, current %u, durable %u; stamps per "
		     "512-byte sector:%s", b, off,
		     torn ? "torn: sectors of different versions" :
			    "holds data never written there",
		     cbs[b * spb].n, cbs[b * spb].cur, cbs[b * spb].vers[0],
		     seen);
}

/* Does @got (@n sectors from @off) hold version @stamp throughout? */
static int holds_version(struct world *w, const uint8_t *got, uint64_t off,
			 uint64_t n, uint32_t stamp)
{
	fill(w->exp, n * SECTOR, off, stamp);
	return !memcmp(w->exp, got, n * SECTOR);
}

static int verify_conv(struct world *w, struct model *m, int live)
{
	uint64_t len = w->nconv * w->zs, spb = w->bs / SECTOR;
	int rc;

	for (uint32_t zi = 0; zi < w->nconv; zi++) {
		const struct zvd_zone *r = &w->rep[zi];

		if (r->type != ZVD_ZONE_CONVENTIONAL ||
		    r->cond != ZVD_COND_NOT_WP ||
		    r->wp != r->start + r->len || r->start != zi * w->zs)
			return failf("conventional zone %u: type %u %s start %"
				     PRIu64 " wp %" PRIu64, zi, r->type,
				     cname(r->cond), r->start, r->wp);
	}
	if (!len)
		return 0;
	rc = zvd_read(w->dev, w->buf, len, 0);
	if (rc)
		return failf("zvd_read of the conventional zones: %d", rc);
	for (uint32_t b = 0; b < len / w->bs; b++) {
		struct cblock *cb = &m->cb[b * spb];
		const uint8_t *got = w->buf + b * w->bs;
		int found = 0;

		uint64_t s = 0;

		while (s < spb && holds_version(w, got + s * SECTOR,
						b * w->bs + s * SECTOR, 1,
						cb[s].cur))
			s++;
		if (s == spb)
			continue;
		/* the whole block shows one version that it may show */
		for (uint32_t k = 0; !live && k < cb->n && !found; k++) {
			if (holds_version(w, got, b * w->bs, spb,
					  cb->vers[k])) {
				for (uint64_t t = 0; t < spb; t++)
					cb[t].cur = cb->vers[k];
				found = 1;
			}
		}
		/* diagnostic mode: each sector on its own */
		if (g_torn_ok && !live && !found) {
			uint64_t ok = 0;

			for (s = 0; s < spb && ok == s; s++) {
				for (uint32_t k = 0; k < cb[s].n; k++) {
					uint64_t o = b * w->bs + s * SECTOR;

					if (holds_version(w, got + s * SECTOR,
							  o, 1,
							  cb[s].vers[k])) {
						cb[s].cur = cb[s].vers[k];
						ok++;
						break;
					}
				}
			}
			found = ok == spb;
		}
		if (!found)
			return conv_mismatch(w, m->cb, b);
	}
	w->vbytes += len;
	return 0;
}

/* The whole device against @m, which is moved to what the device shows. */
static int verify_dev(struct world *w, struct model *m, int live)
{
	uint32_t open = 0, active = 0;
	int rc;

	w->vbytes = 0;
	rc = refresh_report(w);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < w->nz; i++) {
		int c = w->rep[i].cond;

		open += c == ZVD_COND_IMP_OPEN || c == ZVD_COND_EXP_OPEN;
		active += c == ZVD_COND_IMP_OPEN || c == ZVD_COND_EXP_OPEN ||
			  c == ZVD_COND_CLOSED;
	}
	if ((w->g.max_open && open > w->g.max_open) ||
	    (w->g.max_active && active > w->g.max_active))
		return failf("%u open / %u active zones, limits %u / %u", open,
			     active, w->g.max_open, w->g.max_active);
	rc = verify_conv(w, m, live);
	for (uint32_t i = w->nconv; !rc && i < w->nz; i++)
		rc = verify_seq(w, &m->z[i], i, live);
	return rc;
}

/* ---- 4. the workload ---------------------------------------------------- */

enum op_kind {
	OP_NONE,
	OP_WRITE,
	OP_APPEND,
	OP_CONV,
	OP_FLUSH,
	OP_OPEN,
	OP_CLOSE,
	OP_FINISH,
	OP_RESET,
	OP_RESET_ALL,
	OP_CLOSE_ALL,
	OP_FINISH_ALL,
	OP_FAIL,
	OP_READ,
	OP_BAD_WRITE,
};

static const char *const op_names[] = {
	"none",	     "write",	  "append",    "conv-write", "flush",
	"open",	     "close",	  "finish",    "reset",	     "reset-all",
	"close-all", "finish-all", "fail",      "read",	     "bad-write",
};

/* How often each kind ran, was refused as predicted, or was cut. */
static long g_stat_run[OP_BAD_WRITE + 1], g_stat_refused[OP_BAD_WRITE + 1],
	g_stat_cut[OP_BAD_WRITE + 1];

struct op {
	enum op_kind kind;
	uint32_t zone;
	uint64_t off; /* absolute; for appends where the data must land */
	uint64_t len;
	unsigned flags;
	uint32_t stamp;
	int cond;      /* OP_FAIL: read-only or offline */
	uint32_t mask; /* zones an all-zones operation applies to */
	enum zvd_status expect;
};

static int is_mgmt(enum op_kind k)
{
	return k >= OP_OPEN && k <= OP_FAIL;
}

static int is_all(enum op_kind k)
{
	return k >= OP_RESET_ALL && k <= OP_FINISH_ALL;
}

/*
 * Record @op in @m. @done: it returned success, so what it promises holds
 * (a flush or zone operation made everything before it durable, FUA made
 * its write durable). Otherwise the power went during it: a write may or
 * may not have landed (hi grows, lo does not); for a zone operation @m is
 * the "it happened" alternative, with only the zones it touched durable.
 */
static void apply(struct world *w, struct model *m, const struct op *op,
		  int done)
{
	struct zmodel *z = op->zone < w->nz ? &m->z[op->zone] : NULL;

	if (is_mgmt(op->kind)) {
		if (done)
			model_flush(w, m);
		else if (is_all(op->kind)) {
			for (uint32_t i = 0; i < w->nz; i++)
				if (op->mask & (1u << i))
					m->z[i].lo = m->z[i].hi;
		} else {
			z->lo = z->hi;
		}
	}
	switch (op->kind) {
	case OP_WRITE:
	case OP_APPEND: {
		uint32_t o = (uint32_t)(op->off - op->zone * w->zs);

		z->ext[z->n_ext++] = (struct ext){ o, (uint32_t)op->len,
						   op->stamp };
		z->hi = o + (uint32_t)op->len;
		if (done && (op->flags & ZVD_WRITE_FUA))
			z->lo = z->hi;
		break;
	}
	case OP_CONV:
		for (uint64_t o = op->off; o < op->off + op->len; o += SECTOR) {
			struct cblock *cb = &m->cb[o / SECTOR];

			cb->cur = op->stamp;
			if (done && (op->flags & ZVD_WRITE_FUA))
				cb->n = 0;
			cb->vers[cb->n++] = op->stamp;
		}
		break;
	case OP_FLUSH:
		if (done)
			model_flush(w, m);
		break;
	case OP_FINISH:
		z->fin = 1;
		break;
	case OP_RESET:
		zone_clear(z);
		break;
	case OP_RESET_ALL:
	case OP_FINISH_ALL:
		for (uint32_t i = 0; i < w->nz; i++) {
			if (!(op->mask & (1u << i)))
				continue;
			if (op->kind == OP_RESET_ALL)
				zone_clear(&m->z[i]);
			else
				m->z[i].fin = 1;
		}
		break;
	case OP_FAIL:
		if (op->cond == ZVD_COND_OFFLINE) {
			zone_clear(z);
			z->state = Z_OFF;
		} else {
			z->state = Z_RO;
		}
		break;
	default:
		break;
	}
}

/* What a write, append or explicit open of zone @zi must meet. */
static enum zvd_status predict(struct world *w, uint32_t zi)
{
	uint32_t open = 0, active = 0, nio = 0;
	int c = w->rep[zi].cond;

	for (uint32_t i = 0; i < w->nz; i++) {
		int ci = w->rep[i].cond;

		nio += ci == ZVD_COND_IMP_OPEN;
		open += ci == ZVD_COND_IMP_OPEN || ci == ZVD_COND_EXP_OPEN;
		active += ci == ZVD_COND_IMP_OPEN ||
			  ci == ZVD_COND_EXP_OPEN || ci == ZVD_COND_CLOSED;
	}
	if (c == ZVD_COND_EMPTY && w->g.max_active &&
	    active >= w->g.max_active)
		return ZVD_TOO_MANY_ACTIVE;
	if ((c == ZVD_COND_EMPTY || c == ZVD_COND_CLOSED) && w->g.max_open &&
	    open >= w->g.max_open && nio == 0)
		return ZVD_TOO_MANY_OPEN;
	return ZVD_OK;
}

/* A random zone whose model state is normal and reported condition is in
 * @conds (a bit mask); prefer active zones when @prefer_active. */
static int pick_zone(struct world *w, unsigned conds, int writable,
		     int prefer_active, uint32_t *out)
{
	uint32_t cand[MAX_ZONES], n = 0, act[MAX_ZONES], na = 0;

	for (uint32_t i = w->nconv; i < w->nz; i++) {
		const struct zmodel *z = &w->m->z[i];
		int c = w->rep[i].cond;

		if (z->state != Z_NORMAL || !(conds & (1u << c)))
			continue;
		if (writable && (z->fin || z->hi >= w->cap))
			continue;
		cand[n++] = i;
		if (cond_in(c, ZVD_COND_IMP_OPEN, ZVD_COND_EXP_OPEN,
			    ZVD_COND_CLOSED))
			act[na++] = i;
	}
	if (!n)
		return 0;
	if (prefer_active && na && rnd_below(w, 10) < 7)
		*out = act[rnd_below(w, na)];
	else
		*out = cand[rnd_below(w, n)];
	return 1;
}

#define CB(x) (1u << ZVD_COND_##x)
#define C_WRITABLE (CB(EMPTY) | CB(IMP_OPEN) | CB(EXP_OPEN) | CB(CLOSED))
#define C_ACTIVE (CB(IMP_OPEN) | CB(EXP_OPEN) | CB(CLOSED))

static uint32_t all_mask(struct world *w, unsigned conds)
{
	uint32_t mask = 0;

	for (uint32_t i = w->nconv; i < w->nz; i++)
		if (w->m->z[i].state == Z_NORMAL &&
		    (conds & (1u << w->rep[i].cond)))
			mask |= 1u << i;
	return mask;
}

static void pick_write(struct world *w, struct op *op, enum op_kind kind)
{
	struct zmodel *z;
	uint64_t len, room;

	if (!pick_zone(w, C_WRITABLE, 1, 1, &op->zone)) {
		op->kind = OP_RESET_ALL;
		op->mask = all_mask(w, C_ACTIVE | CB(FULL));
		return;
	}
	z = &w->m->z[op->zone];
	op->kind = kind;
	room = w->cap - z->hi;
	len = (1 + rnd_below(w, w->max_blocks)) * w->bs;
	if (rnd_below(w, 10) == 0)
		len = room; /* fill the zone */
	if (kind == OP_APPEND && w->g.max_append && len > w->g.max_append)
		len = w->g.max_append;
	op->len = len < room ? len : room;
	op->off = op->zone * w->zs + z->hi;
	op->flags = rnd_below(w, 7) == 0 ? ZVD_WRITE_FUA : 0;
	op->stamp = ++w->stamp;
	op->expect = predict(w, op->zone);
}

static void pick_conv(struct world *w, struct op *op)
{
	uint64_t nb = 1 + rnd_below(w, w->max_blocks);
	uint64_t spb = w->bs / SECTOR;
	uint64_t first = rnd_below(w, w->nconv_sectors / spb - nb + 1);

	for (uint64_t b = first * spb; b < (first + nb) * spb; b++) {
		if (w->m->cb[b].n >= MAX_VERS) {
			op->kind = OP_FLUSH; /* make room for versions */
			return;
		}
	}
	op->kind = OP_CONV;
	op->off = first * w->bs;
	op->len = nb * w->bs;
	op->flags = rnd_below(w, 7) == 0 ? ZVD_WRITE_FUA : 0;
	op->stamp = ++w->stamp;
}

static void pick_bad_write(struct world *w, struct op *op)
{
	uint32_t zi;

	op->kind = OP_BAD_WRITE;
	op->stamp = ++w->stamp;
	if (rnd_below(w, 3) == 0 && pick_zone(w, CB(FULL), 0, 0, &zi)) {
		op->zone = zi;
		op->off = zi * w->zs;
		op->len = w->bs;
		op->expect = ZVD_ZONE_FULL;
		return;
	}
	if (!pick_zone(w, C_WRITABLE, 1, 0, &zi)) {
		op->kind = OP_FLUSH;
		return;
	}
	op->zone = zi;
	if (rnd_below(w, 2) && w->m->z[zi].hi + w->bs < w->cap) {
		op->off = zi * w->zs + w->m->z[zi].hi + w->bs;
		op->len = w->bs;
		op->expect = ZVD_INVALID_WRITE;
	} else {
		op->off = zi * w->zs + w->m->z[zi].hi;
		op->len = w->cap - w->m->z[zi].hi + w->bs;
		op->expect = ZVD_BOUNDARY;
	}
}

static void choose(struct world *w, struct op *op)
{
	uint64_t r = rnd_below(w, 1000);
	unsigned c_any = C_WRITABLE | CB(FULL);

	memset(op, 0, sizeof(*op));
	op->zone = UINT32_MAX;
	op->expect = ZVD_OK;
	op->kind = OP_FLUSH;
	if (r < 300) {
		pick_write(w, op, OP_WRITE);
	} else if (r < 450) {
		pick_write(w, op, OP_APPEND);
	} else if (r < 580) {
		if (w->nconv)
			pick_conv(w, op);
	} else if (r < 660) {
		/* flush */
	} else if (r < 720) {
		if (pick_zone(w, C_WRITABLE, 1, 0, &op->zone)) {
			op->kind = OP_OPEN;
			op->expect = predict(w, op->zone);
		}
	} else if (r < 770) {
		if (pick_zone(w, CB(IMP_OPEN) | CB(EXP_OPEN) | CB(CLOSED), 0, 0,
			      &op->zone))
			op->kind = OP_CLOSE;
	} else if (r < 800) {
		if (pick_zone(w, c_any, 0, 1, &op->zone))
			op->kind = OP_FINISH;
	} else if (r < 870) {
		if (pick_zone(w, c_any, 0, 0, &op->zone))
			op->kind = OP_RESET;
	} else if (r < 876) {
		op->kind = OP_RESET_ALL;
		op->mask = all_mask(w, C_ACTIVE | CB(FULL));
	} else if (r < 882) {
		op->kind = OP_CLOSE_ALL;
		op->mask = all_mask(w, CB(IMP_OPEN) | CB(EXP_OPEN));
	} else if (r < 885) {
		op->kind = OP_FINISH_ALL;
		op->mask = all_mask(w, C_ACTIVE);
	} else if (r < 890) {
		if (w->failed_zones < MAX_FAILED_ZONES &&
		    rnd_below(w, 3) == 0) {
			uint32_t zi = w->nconv + (uint32_t)rnd_below(
							 w, w->nz - w->nconv);

			if (w->m->z[zi].state != Z_OFF) {
				op->kind = OP_FAIL;
				op->zone = zi;
				op->cond = w->m->z[zi].state == Z_RO ||
						   rnd_below(w, 2) ?
						   ZVD_COND_OFFLINE :
						   ZVD_COND_READ_ONLY;
			}
		}
	} else if (r < 950) {
		op->kind = OP_READ;
		op->zone = (uint32_t)rnd_below(w, w->nz);
	} else {
		pick_bad_write(w, op);
	}
}

static void trace(struct world *w, const struct op *op, int rc)
{
	if (!g_trace)
		return;
	printf("# cut %ld op %ld: %s zone %d off %" PRIu64 " len %" PRIu64
	       "%s stamp %u mask %x expect %s -> %d%s\n", g_cut, g_op,
	       op_names[op->kind], (int)op->zone, op->off, op->len,
	       op->flags & ZVD_WRITE_FUA ? " fua" : "", op->stamp, op->mask,
	       zvd_status_name(op->expect), rc,
	       zvd_crash_is_cut(w->cbe) ? " [power cut]" : "");
}

static int run_op(struct world *w, struct op *op, uint64_t *where)
{
	switch (op->kind) {
	case OP_WRITE:
	case OP_CONV:
	case OP_BAD_WRITE:
		fill(w->buf, op->len, op->off, op->stamp);
		return zvd_write(w->dev, w->buf, op->len, op->off, op->flags);
	case OP_APPEND:
		fill(w->buf, op->len, op->off, op->stamp);
		return zvd_append(w->dev, op->zone, w->buf, op->len, op->flags,
				  where);
	case OP_FLUSH:
		return zvd_flush(w->dev);
	case OP_OPEN:
		return zvd_zone_mgmt(w->dev, ZVD_OP_OPEN, op->zone);
	case OP_CLOSE:
		return zvd_zone_mgmt(w->dev, ZVD_OP_CLOSE, op->zone);
	case OP_FINISH:
		return zvd_zone_mgmt(w->dev, ZVD_OP_FINISH, op->zone);
	case OP_RESET:
		return zvd_zone_mgmt(w->dev, ZVD_OP_RESET, op->zone);
	case OP_RESET_ALL:
		return zvd_zone_mgmt(w->dev, ZVD_OP_RESET, ZVD_ALL_ZONES);
	case OP_CLOSE_ALL:
		return zvd_zone_mgmt(w->dev, ZVD_OP_CLOSE, ZVD_ALL_ZONES);
	case OP_FINISH_ALL:
		return zvd_zone_mgmt(w->dev, ZVD_OP_FINISH, ZVD_ALL_ZONES);
	case OP_FAIL:
		return zvd_zone_fail(w->dev, op->zone,
				     (enum zvd_zone_cond)op->cond);
	default:
		return 0;
	}
}

/* A live read of one zone (or of the conventional zones) against the
 * model, which must be exact. */
static int live_read(struct world *w, uint32_t zi)
{
	int rc = refresh_report(w);

	if (rc)
		return rc;
	if (zi < w->nconv)
		return verify_conv(w, w->m, 1);
	return verify_seq(w, &w->m->z[zi], zi, 1);
}

/*
 * Choose and run one operation. Returns 0 when it went as the model says,
 * 1 when the power is off (*op is the operation it cut, or OP_NONE when
 * that operation completed), -1 on a contract failure.
 */
static int step(struct world *w, struct op *op)
{
	struct zvd_error err;
	uint64_t where = UINT64_MAX;
	int rc;

	rc = refresh_report(w);
	if (rc) {
		op->kind = OP_NONE;
		return zvd_crash_is_cut(w->cbe) ? 1 : rc;
	}
	choose(w, op);
	if (op->kind == OP_FAIL && op->cond == ZVD_COND_READ_ONLY)
		w->failed_zones++;
	else if (op->kind == OP_FAIL && w->m->z[op->zone].state == Z_NORMAL)
		w->failed_zones++;
	if (op->kind == OP_READ) {
		trace(w, op, 0);
		g_stat_run[OP_READ]++;
		rc = live_read(w, op->zone);
		if (rc && zvd_crash_is_cut(w->cbe)) {
			op->kind = OP_NONE;
			return 1;
		}
		return rc;
	}
	rc = run_op(w, op, &where);
	trace(w, op, rc);
	g_stat_run[op->kind]++;
	g_stat_refused[op->kind] += rc != 0 && op->expect != ZVD_OK;
	g_stat_cut[op->kind] += zvd_crash_is_cut(w->cbe) != 0;
	if (rc == 0) {
		if (op->expect != ZVD_OK)
			return failf("%s zone %d off %" PRIu64 " len %" PRIu64
				     ": succeeded, expected %s",
				     op_names[op->kind], (int)op->zone,
				     op->off, op->len,
				     zvd_status_name(op->expect));
		if (op->kind == OP_APPEND && where != op->off)
			return failf("append to zone %u landed at %" PRIu64
				     ", write pointer was %" PRIu64,
				     op->zone, where, op->off);
		apply(w, w->m, op, 1);
		if (zvd_crash_is_cut(w->cbe)) {
			op->kind = OP_NONE;
			return 1;
		}
		return 0;
	}
	if (zvd_crash_is_cut(w->cbe))
		return 1;
	zvd_last_error(w->dev, &err);
	if (op->expect != ZVD_OK && rc == zvd_status_errno(op->expect) &&
	    err.status == op->expect)
		return 0;
	zvd_last_error_text(w->dev, g_check_problem, sizeof(g_check_problem));
	return failf("%s zone %d off %" PRIu64 " len %" PRIu64 ": returned %d "
		     "status %s (%s), expected %s", op_names[op->kind],
		     (int)op->zone, op->off, op->len, rc,
		     zvd_status_name(err.status), g_check_problem,
		     zvd_status_name(op->expect));
}

/* ---- 5. one cut --------------------------------------------------------- */

/* Close the cut device and open the image again behind a fresh crash
 * backend, sometimes cutting the power again during the open. */
static int reboot(struct world *w)
{
	int rc;

	zvd_close(w->dev); /* fails with -EIO; releases the crash backend */
	w->dev = NULL;
	w->cbe = NULL;
	for (int tries = 0;; tries++) {
		uint64_t arm = 0;

		rc = check_image(w, "of the crashed image");
		if (rc)
			return rc;
		rc = zvd_backend_crash_create(w->inner, rnd(w) | 1, &w->cbe);
		if (rc)
			return failf("zvd_backend_crash_create: %d", rc);
		if (tries < 3 && rnd_below(w, 8) == 0) {
			arm = 1 + rnd_below(w, 6);
			zvd_crash_arm(w->cbe, arm);
		}
		rc = zvd_open(w->cbe, 0, &w->dev);
		if (rc == 0 && !zvd_crash_is_cut(w->cbe)) {
			zvd_crash_arm(w->cbe, 0);
			return 0;
		}
		if (!zvd_crash_is_cut(w->cbe)) {
			zvd_backend_close(w->cbe);
			w->cbe = NULL;
			return failf("zvd_open after a power cut: %d", rc);
		}
		/* the power went again during recovery */
		if (g_trace)
			printf("# cut %ld: power cut %" PRIu64
			       " writes into zvd_open (rc %d)\n", g_cut, arm,
			       rc);
		w->open_cuts++;
		if (rc == 0)
			zvd_close(w->dev);
		else
			zvd_backend_close(w->cbe);
		w->dev = NULL;
		w->cbe = NULL;
	}
}

/* Verify after a reboot; with @alt_valid the cut operation may have
 * happened (w->alt) or not (w->m). The model takes what the device shows. */
static int verify_after_cut(struct world *w, int alt_valid)
{
	char why_m[sizeof(g_why)], why_alt[sizeof(g_why)];

	memcpy(w->tmp, w->m, sizeof(*w->tmp));
	if (verify_dev(w, w->tmp, 0) == 0) {
		memcpy(w->m, w->tmp, sizeof(*w->m));
		return 0;
	}
	if (!alt_valid)
		return -1;
	memcpy(why_m, g_why, sizeof(why_m));
	memcpy(w->tmp, w->alt, sizeof(*w->tmp));
	if (verify_dev(w, w->tmp, 0) == 0) {
		memcpy(w->m, w->tmp, sizeof(*w->m));
		return 0;
	}
	memcpy(why_alt, g_why, sizeof(why_alt));
	if (!strcmp(why_m, why_alt))
		return failf("%.900s (whether or not the operation the power "
			     "cut happened)", why_m);
	return failf("neither before nor after the cut operation. If it did "
		     "not happen: %.480s. If it did: %.480s", why_m, why_alt);
}

static int one_cut(struct world *w)
{
	struct op op = { .kind = OP_NONE };
	int rc = 0, alt_valid = 0;
	uint64_t arm;

	if (!w->dev || rnd_below(w, 150) == 0 ||
	    (w->failed_zones >= MAX_FAILED_ZONES && rnd_below(w, 20) == 0)) {
		rc = world_create(w);
		if (rc)
			return rc;
	}
	/* Now and then a clean shutdown first: everything must survive. */
	if (rnd_below(w, 25) == 0) {
		long n = 20 + (long)rnd_below(w, 200);

		for (g_op = 0; g_op < n && !rc; g_op++)
			rc = step(w, &op);
		if (rc)
			return rc < 0 ? rc : failf("power cut while not armed");
		rc = zvd_close(w->dev);
		w->dev = NULL;
		w->cbe = NULL;
		if (rc)
			return failf("zvd_close: %d", rc);
		model_flush(w, w->m);
		rc = check_image(w, "after a clean close");
		if (!rc)
			rc = zvd_backend_crash_create(w->inner, rnd(w) | 1,
						      &w->cbe);
		if (!rc)
			rc = zvd_open(w->cbe, 0, &w->dev);
		if (rc) {
			if (!w->dev) {
				zvd_backend_close(w->cbe);
				w->cbe = NULL;
			}
			return failf("reopen after a clean close: %d", rc);
		}
		rc = verify_dev(w, w->m, 1);
		if (rc)
			return rc;
		op.kind = OP_NONE;
	}

	arm = rnd_below(w, 2) ? 1 + rnd_below(w, 24) : 1 + rnd_below(w, 600);
	zvd_crash_arm(w->cbe, arm);
	for (g_op = 0; g_op < MAX_OPS_PER_CUT; g_op++) {
		rc = step(w, &op);
		if (rc)
			break;
	}
	if (rc < 0)
		return rc;
	if (rc == 0) { /* not reached: cut now, between operations */
		op.kind = OP_NONE;
		zvd_crash_cut(w->cbe);
	}
	switch (op.kind) {
	case OP_WRITE:
	case OP_APPEND:
	case OP_CONV:
		apply(w, w->m, &op, 0);
		break;
	default:
		if (is_mgmt(op.kind)) {
			memcpy(w->alt, w->m, sizeof(*w->alt));
			apply(w, w->alt, &op, 0);
			alt_valid = 1;
		}
		break;
	}
	if (g_trace)
		printf("# cut %ld: power cut (armed %" PRIu64 ") during %s\n",
		       g_cut, arm, op_names[op.kind]);
	rc = reboot(w);
	if (rc)
		return rc;
	rc = verify_after_cut(w, alt_valid);
	if (rc)
		return rc;
	g_verified += w->vbytes;
	if (rnd_below(w, 2)) {
		/* what recovery wrote must also check clean once durable */
		rc = zvd_flush(w->dev);
		if (rc)
			return failf("zvd_flush after recovery: %d", rc);
		model_flush(w, w->m);
		rc = check_image(w, "after recovery and a flush");
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- 6. main ------------------------------------------------------------- */

static struct world g_worlds[2];
static struct world *g_w;
static long g_chunk;

/* One case: g_chunk cuts. A failure is reported with what reproduces it,
 * the image is dropped, and the case goes on with a fresh one. */
static void power_cuts(void)
{
	long problems = 0;

	for (long i = 0; i < g_chunk; i++, g_cut++) {
		if (one_cut(g_w) == 0) {
			g_cuts_done++;
			continue;
		}
		if (problems++ < 5)
			printf("# %s: seed %llu cut %ld op %ld (image %ld): "
			       "%s\n# reproduce: ZVD_SEED=%llu ZVD_TRACE=1 "
			       "%s %ld\n", g_w->name, g_seed, g_cut, g_op,
			       g_w->images, g_why, g_seed, g_prog, g_cut + 1);
		world_drop(g_w); /* go on with a fresh image */
	}
	g_problems += problems;
	CHECK_EQ(problems, 0);
}

int main(int argc, char **argv)
{
	const char *s;
	long cuts = 1000;
	char names[2][64];
	int rc;

	g_prog = argv[0];
	if ((s = getenv("ZVD_CUTS")))
		cuts = strtol(s, NULL, 0);
	if (argc > 1)
		cuts = strtol(argv[1], NULL, 0);
	if ((s = getenv("ZVD_SEED")))
		g_seed = strtoull(s, NULL, 0);
	g_trace = getenv("ZVD_TRACE") && *getenv("ZVD_TRACE") == '1';
	/* The contract: un-flushed conventional overwrites are atomic per
	 * 512-byte sector only. ZVD_TORN_CONV_OK=0 demands whole blocks. */
	g_torn_ok = !(getenv("ZVD_TORN_CONV_OK") &&
		      *getenv("ZVD_TORN_CONV_OK") == '0');
	if (!g_torn_ok)
		printf("# ZVD_TORN_CONV_OK=0: whole conventional blocks "
		       "demanded, beyond the contract\n");
	printf("# seed %llu, %ld cuts\n", g_seed, cuts);

	/* 16 zones of 256 KiB (192 KiB writable), 2 conventional, 4 KiB */
	rc = world_init(&g_worlds[0], "4k", 4096, 256 << 10, 192 << 10, 16, 2,
			4, 6, 0, mix64(g_seed) ^ 1);
	/* 12 zones of 160 KiB (not a power of two), 512-byte blocks,
	 * appends of at most 4 KiB */
	if (!rc)
		rc = world_init(&g_worlds[1], "512", 512, 160 << 10, 120 << 10,
				12, 2, 3, 5, 4096, mix64(g_seed) ^ 2);
	if (rc) {
		printf("not ok setup: %s\n", g_why);
		return 1;
	}
	for (long done = 0, c = 0; done < cuts; done += g_chunk, c++) {
		char *name = names[c % 2];

		g_w = &g_worlds[c % 2];
		g_chunk = cuts - done < CUTS_PER_CASE ? cuts - done :
							CUTS_PER_CASE;
		g_cut = done;
		snprintf(name, sizeof(names[0]), "power_cut_%s_%04ld_%04ld",
			 g_w->name, done, done + g_chunk - 1);
		harness_run(name, power_cuts);
	}
	printf("# operations (run/refused as due/cut by the power):");
	for (int k = OP_WRITE; k <= OP_BAD_WRITE; k++)
		printf(" %s %ld/%ld/%ld", op_names[k], g_stat_run[k],
		       g_stat_refused[k], g_stat_cut[k]);
	printf("\n# images created: %ld + %ld, power cuts during "
	       "recovery: %ld\n",
	       g_worlds[0].images, g_worlds[1].images,
	       g_worlds[0].open_cuts + g_worlds[1].open_cuts);
	printf("cuts: %ld, verified bytes: %llu, problems: %ld\n",
	       g_cuts_done + g_problems, g_verified, g_problems);
	world_fini(&g_worlds[0]);
	world_fini(&g_worlds[1]);
	HARNESS_EXIT();
}

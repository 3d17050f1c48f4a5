// SPDX-License-Identifier: MIT
/*
 * test_vol_power_cut.c - simulated power cuts at random instants of a random
 * workload on a log-structured volume, each followed by a reboot and a check
 * of the volume's crash contract (include/zvd.h, section 9) against a model.
 *
 * Usage: test_vol_power_cut [CUTS]   (or ZVD_CUTS=N; ZVD_SEED=S picks the
 * seed, ZVD_TRACE=1 prints every operation). The default is 1000 cuts, in
 * cases of 100, each on a fresh volume of 16 MiB: even cases run the
 * garbage collector inline (ZVD_GC=inline: repeatable from the seed), odd
 * ones in its background thread, as in production (timing-dependent);
 * setting ZVD_GC yourself makes every case use it. Each case has its own
 * random stream: ZVD_FROM=N starts at the case holding cut N, so
 * "ZVD_FROM=300 test_vol_power_cut 400" replays cuts 300..399 alone.
 *
 * Sections:
 *   1. stamps: what every 512-byte sector written holds
 *   2. the model: per-sector stamps, the log of operations since the last
 *      durable point, snapshots
 *   3. a world: one volume on a mem backend behind a crash backend
 *   4. verification: live reads, snapshots, the prefix search after a cut
 *   5. the workload: choosing and running operations
 *   6. one cut: run until the power goes, reboot, verify
 *   7. main: cases of up to 100 cuts
 *
 * The contract checked after every cut: the image opens, zvd_check finds
 * nothing (on the crashed image, and after a flush of the recovered one),
 * and the volume reads exactly as the model after ops[0..k) for some k with
 * d <= k <= n, where ops is every operation issued since the last verified
 * state, n how many there are (the one the power cut included) and d how
 * many of them precede the last durable point that returned: a zvd_flush,
 * a FUA write, discard or write-zeroes, a snapshot create (which flushes
 * first) or delete, a rollback, a clean close. Each write, discard and
 * write-zeroes is atomic in this contract: one only partly present is a
 * violation (reported as "torn"). Every snapshot that exists reads exactly as the
 * model did when it was taken; every snapshot created and not deleted
 * before the cut exists, and one created or deleted by the operation the
 * power cut either exists or not (if a snapshot create the cut interrupted
 * did happen, everything before it must be there, k = n).
 *
 * Every 512-byte sector written is a function of (volume nonce, op id,
 * sector number), with the id and sector number in clear and the rest
 * checked word by word, so a sector read back says which op wrote it, or
 * that it is garbage or misplaced. The model keeps one op id per sector
 * (0 = zeros) and finds k with a running count of mismatching sectors,
 * applying the ops one at a time from d on: the cost is the size of the
 * ops, not n times the volume.
 *
 * A failure prints the seed, the cut and the command that replays the run
 * up to it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zvd.h"
#include "backend/backend.h" /* BE_FILE_NOLOCK */
#include "harness.h"

#define SECTOR 512u
#define BLOCK 4096u
#define SPB (BLOCK / SECTOR)
#define VOL_SIZE (16u << 20)
#define MAX_IO (128u << 10)
#define MAX_SNAPS 4
#define MAX_OPS_PER_CUT 4000
#define CUTS_PER_CASE 100
#define CUTS_PER_VOLUME 60
#define BAD UINT32_MAX

/* ---- 1. stamps ---------------------------------------------------------- */

#define STAMP_MAGIC 0x5a56445653454354ULL /* "ZVDVSECT" */
#define WORDS (SECTOR / 8)

static uint64_t mix64(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The sector op @id writes at sector @s of the volume with nonce @nonce:
 * magic, id, sector number, filler, and a check word over all of them. */
static void stamp_sector(uint64_t *p, uint64_t nonce, uint32_t id, uint64_t s)
{
	uint64_t h = mix64(nonce ^ mix64((uint64_t)id << 32 ^ s));

	p[0] = STAMP_MAGIC ^ nonce;
	p[1] = id;
	p[2] = s;
	for (unsigned i = 3; i < WORDS - 1; i++)
		p[i] = h ^ (i * 0x9e3779b97f4a7c15ULL);
	p[WORDS - 1] = mix64(h ^ p[0] ^ p[1] ^ p[2]);
}

enum sector_kind { S_ZERO, S_STAMP, S_GARBAGE, S_MISPLACED, S_FOREIGN };

/* What a sector read at sector @s holds: zeros, a stamp (its id in *id),
 * or something else (*id is then the id it claims, if any). */
static enum sector_kind decode_sector(const uint8_t *buf, uint64_t nonce,
				      uint64_t s, uint32_t *id)
{
	uint64_t p[WORDS], want[WORDS], acc = 0;

	memcpy(p, buf, SECTOR);
	*id = 0;
	for (unsigned i = 0; i < WORDS; i++)
		acc |= p[i];
	if (!acc)
		return S_ZERO;
	if ((p[0] ^ STAMP_MAGIC) != nonce)
		return (p[0] ^ STAMP_MAGIC) >> 32 == nonce >> 32 ? S_GARBAGE :
								    S_FOREIGN;
	if (p[1] > UINT32_MAX - 1)
		return S_GARBAGE;
	*id = (uint32_t)p[1];
	stamp_sector(want, nonce, *id, p[2]);
	if (memcmp(p, want, SECTOR))
		return S_GARBAGE;
	return p[2] == s ? S_STAMP : S_MISPLACED;
}

/* ---- 2. the model --------------------------------------------------------- */

enum vop_kind {
	V_NONE,
	V_WRITE,
	V_DISCARD,
	V_ZEROES,
	V_FLUSH,
	V_READ,
	V_SNAP_CREATE,
	V_SNAP_DELETE,
	V_ROLLBACK,
	V_GC,
	V_KINDS
};

static const char *const vop_names[V_KINDS] = {
	"none",	       "write",		  "discard",  "write-zeroes",
	"flush",       "read",		  "snapshot", "snapshot-delete",
	"rollback",    "gc",
};

struct vop {
	uint8_t kind;
	uint8_t fua;
	int8_t snap; /* slot, for snapshot ops */
	uint32_t id; /* op id: the stamp of a write */
	uint64_t off, len;
};

struct snap {
	int used;
	char name[32];
	uint32_t id;  /* op id of its create */
	uint32_t *st; /* the model when it was taken */
};

static long g_run[V_KINDS], g_cut_during[V_KINDS];

/* ---- 3. a world ------------------------------------------------------------ */

struct world {
	uint64_t size;
	uint32_t nsect;
	struct zvd_backend *inner; /* mem, owned by the test */
	struct zvd_backend *cbe;   /* crash backend, owned by dev (RADOS
				    * mode: the log, owned by the test) */
	struct zvd_backend *rbe;   /* RADOS mode: the image, owned by dev */
	char uri[160];
	struct zvd_dev *dev;
	uint64_t rng, nonce;
	uint32_t next_id;
	uint32_t *cur;	/* after every op issued */
	uint32_t *base; /* after the last durable point (ops[0..d)) */
	uint32_t *scan; /* the prefix search */
	uint32_t *got;	/* decoded sectors of the last full read */
	uint8_t *rd;	/* the last full read */
	uint64_t *wbuf;
	struct vop *ops; /* since the last verified state */
	uint32_t nops, dur; /* dur: ops[0..dur) are durable */
	struct snap snaps[MAX_SNAPS];
	uint32_t snap_seq;
	long volumes, cuts_on_volume, open_cuts, clean_reopens;
	uint64_t max_backend;
	struct zvd_volume_stats acc; /* summed over closed sessions */
	uint64_t gc_runs_seen;
};

static unsigned long long g_seed = 1;
static long g_cut;   /* global cut number, for reproduction */
static long g_op;    /* operation number within the cut */
static long g_cuts_done, g_total_ops;
static unsigned long long g_verified;
static long g_problems, g_lost_flushed, g_torn_writes;
static long g_k_beyond, g_k_all; /* cuts where un-flushed ops survived */
static int g_trace;
static const char *g_pool; /* RADOS mode (below, section 3) */
static int g_drop;
static const char *g_prog;
static char g_why[2048];
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

/* Set sectors [s0, s1) of @st to @v; with @got, keep @mis (the number of
 * sectors where st differs from got) up to date. */
static void set_range(uint32_t *st, const uint32_t *got, long *mis,
		      uint64_t s0, uint64_t s1, uint32_t v)
{
	for (uint64_t s = s0; s < s1; s++) {
		if (got)
			*mis += (long)(got[s] != v) - (long)(got[s] != st[s]);
		st[s] = v;
	}
}

/* Apply @op to the model @st (see set_range for @got and @mis). */
static void apply(struct world *w, uint32_t *st, const struct vop *op,
		  const uint32_t *got, long *mis)
{
	uint64_t s0 = op->off / SECTOR, s1 = (op->off + op->len) / SECTOR;

	switch (op->kind) {
	case V_WRITE:
		set_range(st, got, mis, s0, s1, op->id);
		break;
	case V_ZEROES:
		set_range(st, got, mis, s0, s1, 0);
		break;
	case V_DISCARD:
		/* only whole 4 KiB blocks: partly covered ones keep data */
		s0 = (op->off + BLOCK - 1) / BLOCK * SPB;
		s1 = (op->off + op->len) / BLOCK * SPB;
		if (s0 < s1)
			set_range(st, got, mis, s0, s1, 0);
		break;
	case V_ROLLBACK:
		for (uint64_t s = 0; s < w->nsect; s++)
			set_range(st, got, mis, s, s + 1,
				  w->snaps[op->snap].st[s]);
		break;
	default:
		break;
	}
}

/* A durable point returned: every op so far is in every later state. */
static void model_durable(struct world *w)
{
	memcpy(w->base, w->cur, w->nsect * sizeof(uint32_t));
	w->nops = w->dur = 0;
}

static void snap_free(struct snap *sn)
{
	sn->used = 0;
	free(sn->st);
	sn->st = NULL;
}

/* ---- 3. a world (continued) ------------------------------------------------ */

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
	if (g_pool) {
		/* the cluster's copy alone */
		struct zvd_backend *be;
		rc = zvd_backend_rados_open(w->uri, ZVD_FILE_READONLY |
						    BE_FILE_NOLOCK, NULL, &be);
		if (rc)
			return failf("opening %s %s: %d", w->uri, when, rc);
		rc = zvd_check(be, check_cb, &n);
		zvd_backend_close(be);
	} else {
		rc = zvd_check(w->inner, check_cb, &n);
	}
	if (rc != 0)
		return failf("zvd_check %s: returned %d (%d reported; "
			     "first: %s)", when, rc, n, g_check_problem);
	return 0;
}

/*
 * RADOS mode (ZVD_RADOS_POOL=POOL with CEPH_CONF set; run by
 * tests/rados/power_cut.sh): the volume is a RADOS image whose write-back
 * log lives in the crash backend. A power cut loses what the log had not
 * synced and stops the uploads where they are (zvd_rados_abandon); the
 * reboot replays the log. With ZVD_RADOS_LOG=dropped the log is thrown
 * away at every cut instead: the volume must then read as a prefix of the
 * operations since the last verified state, flushed or not (kmin = 0),
 * and the workload takes no snapshots (whether one survives would depend
 * on how far the uploads got). zvd_check runs on the cluster's own copy,
 * without the log, whenever the device is closed: that copy must always
 * be consistent.
 */

/* The device's backend: the crash backend, or the RADOS image whose log
 * it holds. */
static int open_dev_backend(struct world *w, unsigned flags,
			    struct zvd_backend **be)
{
	struct zvd_rados_options o = { .cache_be = w->cbe,
				       .cache_size = 16u << 20 };
	int rc;

	if (!g_pool) {
		*be = w->cbe;
		return 0;
	}
	rc = zvd_backend_rados_open(w->uri, flags, &o, &w->rbe);
	*be = w->rbe;
	return rc;
}

/* Close the device (after a power cut what fails fails), and in RADOS
 * mode the log. Returns what zvd_close returned. */
static int close_dev(struct world *w)
{
	int rc = 0;

	if (g_pool && w->rbe && zvd_crash_is_cut(w->cbe))
		zvd_rados_abandon(w->rbe);
	if (w->dev)
		rc = zvd_close(w->dev);
	else
		zvd_backend_close(g_pool ? w->rbe : w->cbe);
	if (g_pool)
		zvd_backend_close(w->cbe);
	w->dev = NULL;
	w->cbe = NULL;
	w->rbe = NULL;
	return rc;
}

static void stats_collect(struct world *w)
{
	struct zvd_volume_stats st;
	struct zvd_space sp;

	if (!w->dev || zvd_crash_is_cut(w->cbe))
		return;
	if (zvd_volume_stats(w->dev, &st) == 0) {
		w->gc_runs_seen = st.gc_runs;
		w->acc.user_bytes = st.user_bytes;
		w->acc.gc_bytes = st.gc_bytes;
	}
	if (zvd_get_space(w->dev, &sp) == 0 &&
	    sp.backend_bytes > w->max_backend)
		w->max_backend = sp.backend_bytes;
}

static void world_drop(struct world *w)
{
	if (w->dev || w->cbe)
		close_dev(w);
	if (g_pool && w->uri[0])
		zvd_backend_remove(w->uri);
	w->uri[0] = 0;
	zvd_backend_close(w->inner);
	w->inner = NULL;
	for (int i = 0; i < MAX_SNAPS; i++)
		snap_free(&w->snaps[i]);
}

/* Totals over volumes for the summary. */
static uint64_t g_gc_runs, g_user_bytes, g_gc_bytes, g_max_backend;

static void world_account(struct world *w)
{
	stats_collect(w);
	g_gc_runs += w->gc_runs_seen;
	g_user_bytes += w->acc.user_bytes;
	g_gc_bytes += w->acc.gc_bytes;
	if (w->max_backend > g_max_backend)
		g_max_backend = w->max_backend;
	w->gc_runs_seen = 0;
	memset(&w->acc, 0, sizeof(w->acc));
	w->max_backend = 0;
}

/* A fresh volume (the old one, if any, is thrown away). */
static int world_create(struct world *w)
{
	struct zvd_backend *be;
	int rc;

	world_account(w);
	world_drop(w);
	rc = zvd_backend_mem_create(&w->inner);
	if (rc)
		return failf("zvd_backend_mem_create: %d", rc);
	rc = zvd_backend_crash_create(w->inner, rnd(w) | 1, &w->cbe);
	if (rc)
		return failf("zvd_backend_crash_create: %d", rc);
	if (g_pool)
		snprintf(w->uri, sizeof(w->uri), "rados://%s/cut-%llx-%ld-%ld",
			 g_pool, g_seed, g_cut, w->volumes);
	rc = open_dev_backend(w, ZVD_FILE_CREATE, &be);
	if (rc)
		return failf("opening %s: %d (%s)", w->uri, rc,
			     zvd_rados_why() ? zvd_rados_why() : "");
	rc = zvd_create_volume(be, w->size, &w->dev);
	if (rc) {
		close_dev(w);
		return failf("zvd_create_volume(%" PRIu64 "): %d", w->size,
			     rc);
	}
	rc = zvd_flush(w->dev);
	if (rc)
		return failf("zvd_flush after zvd_create_volume: %d", rc);
	if (g_pool) {
		/* as zvd create does: closed, so the cluster has it all */
		rc = close_dev(w);
		if (!rc)
			rc = zvd_backend_crash_create(w->inner, rnd(w) | 1,
						      &w->cbe);
		if (!rc)
			rc = open_dev_backend(w, 0, &be);
		if (!rc)
			rc = zvd_open(be, 0, &w->dev);
		if (rc)
			return failf("reopening the new volume: %d", rc);
	}
	if (zvd_is_volume(w->dev) != 1 || zvd_size(w->dev) != w->size)
		return failf("new volume: zvd_is_volume %d, zvd_size %" PRIu64,
			     zvd_is_volume(w->dev), zvd_size(w->dev));
	w->nonce = rnd(w);
	memset(w->cur, 0, w->nsect * sizeof(uint32_t));
	model_durable(w);
	w->next_id = 1;
	w->cuts_on_volume = 0;
	w->volumes++;
	return 0;
}

static int world_init(struct world *w, uint64_t size, uint64_t seed)
{
	memset(w, 0, sizeof(*w));
	w->size = size;
	w->nsect = (uint32_t)(size / SECTOR);
	w->rng = seed;
	w->cur = calloc(w->nsect, sizeof(uint32_t));
	w->base = calloc(w->nsect, sizeof(uint32_t));
	w->scan = calloc(w->nsect, sizeof(uint32_t));
	w->got = calloc(w->nsect, sizeof(uint32_t));
	w->rd = malloc(size);
	w->wbuf = malloc(MAX_IO);
	w->ops = calloc(MAX_OPS_PER_CUT + 8, sizeof(struct vop));
	if (!w->cur || !w->base || !w->scan || !w->got || !w->rd ||
	    !w->wbuf || !w->ops)
		return failf("out of memory");
	return 0;
}

static void world_fini(struct world *w)
{
	world_account(w);
	world_drop(w);
	free(w->cur);
	free(w->base);
	free(w->scan);
	free(w->got);
	free(w->rd);
	free(w->wbuf);
	free(w->ops);
}

/* ---- 4. verification ------------------------------------------------------- */

static const char *const kind_names[] = {
	"zeros", "a stamp", "garbage (bad check words)",
	"a stamp of another sector", "data of another volume or metadata",
};

/* Describe what a model value means: "zeros" or "op 17 (write ...)". */
static void describe_id(struct world *w, uint32_t id, char *buf, size_t len)
{
	if (id == 0) {
		snprintf(buf, len, "zeros");
		return;
	}
	if (id == BAD) {
		snprintf(buf, len, "unreadable");
		return;
	}
	for (uint32_t i = 0; i < w->nops; i++) {
		const struct vop *op = &w->ops[i];

		if (op->id == id) {
			snprintf(buf, len, "op %u (%s%s off %" PRIu64
				 " len %" PRIu64 ", log index %u)", id,
				 vop_names[op->kind], op->fua ? " fua" : "",
				 op->off, op->len, i);
			return;
		}
	}
	snprintf(buf, len, "op %u (%s)", id,
		 id >= w->next_id ? "never issued" :
				    "not in the log since the last durable "
				    "point");
}

/* Read [off, off+len) of @dev into @buf and decode it into got[] (sector
 * indices relative to the volume). Returns 0 or -1 (message set). */
static int read_decode(struct world *w, struct zvd_dev *dev, uint8_t *buf,
		       uint64_t off, uint64_t len, const char *what)
{
	int rc;

	for (uint64_t o = 0; o < len; o += 1u << 20) {
		uint64_t n = len - o < (1u << 20) ? len - o : 1u << 20;

		rc = zvd_read(dev, buf + o, n, off + o);
		if (rc)
			return failf("%s: zvd_read(off %" PRIu64 ", len %"
				     PRIu64 "): %d", what, off + o, n, rc);
	}
	for (uint64_t s = 0; s < len / SECTOR; s++) {
		uint32_t id;
		enum sector_kind k = decode_sector(buf + s * SECTOR, w->nonce,
						   off / SECTOR + s, &id);

		w->got[off / SECTOR + s] = k == S_ZERO || k == S_STAMP ? id :
									 BAD;
	}
	return 0;
}

/* The first sector of [s0, s1) where got[] differs from @st, described. */
static int mismatch(struct world *w, const uint32_t *st, uint64_t s0,
		    uint64_t s1, const char *what)
{
	char want[160], seen[160];
	uint64_t s = s0, bad = 0, first;
	uint32_t id;
	enum sector_kind k;

	while (s < s1 && w->got[s] == st[s])
		s++;
	first = s;
	for (; s < s1; s++)
		bad += w->got[s] != st[s];
	if (first == s1)
		return 0;
	k = decode_sector(w->rd + first * SECTOR, w->nonce, first, &id);
	describe_id(w, st[first], want, sizeof(want));
	if (k == S_ZERO || k == S_STAMP)
		describe_id(w, id, seen, sizeof(seen));
	else
		snprintf(seen, sizeof(seen), "%s%s%u", kind_names[k],
			 k == S_MISPLACED ? ", op " : "",
			 k == S_MISPLACED ? id : 0);
	return failf("%s: sector %" PRIu64 " (offset %" PRIu64 ") holds %s, "
		     "expected %s; %" PRIu64 " sectors differ in [%" PRIu64
		     ", %" PRIu64 ")", what, first, first * SECTOR, seen, want,
		     bad, s0 * SECTOR, s1 * SECTOR);
}

/* A live read of a random range against the current model: exact. */
static int live_read(struct world *w, uint64_t off, uint64_t len)
{
	int rc = read_decode(w, w->dev, w->rd + off, off, len, "live read");

	if (rc)
		return rc;
	rc = mismatch(w, w->cur, off / SECTOR, (off + len) / SECTOR,
		      "live read");
	if (!rc)
		g_verified += len;
	return rc;
}

/* Verify snapshot slot @i through a read-only handle on the crashed image.
 * Sets *exists. */
static int verify_snapshot(struct world *w, int i, int *exists)
{
	struct snap *sn = &w->snaps[i];
	struct zvd_backend *be;
	struct zvd_dev *sd = NULL;
	char what[96];
	int rc;

	if (g_pool) {
		/* RADOS mode: a view of the rebooted device */
		be = NULL;
		rc = zvd_open_snapshot_of(w->dev, sn->name, &sd);
	} else {
		/* a crash backend that is never cut: whatever the open
		 * writes stays in it and is dropped with it */
		rc = zvd_backend_crash_create(w->inner, 1, &be);
		if (rc)
			return failf("zvd_backend_crash_create: %d", rc);
		rc = zvd_open_snapshot(be, sn->name, &sd);
	}
	if (rc == -ENOENT) {
		zvd_backend_close(be);
		*exists = 0;
		return 0;
	}
	if (rc) {
		zvd_backend_close(be);
		return failf("zvd_open_snapshot(%s) of the crashed image: %d",
			     sn->name, rc);
	}
	*exists = 1;
	snprintf(what, sizeof(what), "snapshot %s (taken by op %u)", sn->name,
		 sn->id);
	if (zvd_size(sd) != w->size) {
		rc = failf("%s: size %" PRIu64 ", expected %" PRIu64, what,
			   zvd_size(sd), w->size);
	} else {
		rc = read_decode(w, sd, w->rd, 0, w->size, what);
		if (!rc)
			rc = mismatch(w, sn->st, 0, w->nsect, what);
	}
	if (!rc)
		g_verified += w->size;
	zvd_close(sd);
	return rc;
}

/* The snapshot list of the open device against the model. */
static int verify_snapshot_list(struct world *w)
{
	struct zvd_snapshot_info info[MAX_SNAPS + 4];
	int n = zvd_snapshot_list(w->dev, info, MAX_SNAPS + 4), used = 0;

	for (int i = 0; i < MAX_SNAPS; i++)
		used += w->snaps[i].used;
	if (n != used)
		return failf("zvd_snapshot_list: %d snapshots, expected %d", n,
			     used);
	for (int j = 0; j < n; j++) {
		int found = 0;

		for (int i = 0; i < MAX_SNAPS; i++)
			found |= w->snaps[i].used &&
				 !strcmp(w->snaps[i].name, info[j].name);
		if (!found)
			return failf("zvd_snapshot_list names %s, which the "
				     "model does not have", info[j].name);
	}
	return 0;
}

/*
 * Sectors whose durable content (after ops[0..dur)) no later op touches,
 * yet read differently: flushed data lost or damaged. Counted into
 * g_lost_flushed. Uses w->cur as scratch (the world is dropped after).
 */
static uint64_t lost_durable(struct world *w)
{
	uint64_t n = 0;

	memcpy(w->cur, w->base, w->nsect * sizeof(uint32_t));
	for (uint32_t k = 0; k < w->dur; k++)
		apply(w, w->cur, &w->ops[k], NULL, NULL);
	/* mark what later ops may change with BAD (no op writes it) */
	for (uint32_t k = w->dur; k < w->nops; k++) {
		const struct vop *op = &w->ops[k];
		uint64_t s0 = op->off / SECTOR, s1 = s0 + op->len / SECTOR;

		if (op->kind == V_ROLLBACK)
			s0 = 0, s1 = w->nsect;
		for (uint64_t s = s0; s < s1; s++)
			w->cur[s] = BAD;
	}
	for (uint64_t s = 0; s < w->nsect; s++)
		n += w->cur[s] != BAD && w->got[s] != w->cur[s];
	if (n)
		g_lost_flushed++;
	return n;
}

/*
 * Explain why no prefix fits, with the closest one (@best_k ops): the first
 * sector that differs, and whether the difference is only op best_k being
 * partly there (a torn write).
 */
static int prefix_failure(struct world *w, uint32_t kmin, uint32_t best_k)
{
	char why[1024], what[160], torn[256] = "";
	uint64_t max_id = 0, lost;
	uint32_t k;

	for (uint64_t s = 0; s < w->nsect; s++)
		if (w->got[s] != BAD && w->got[s] > max_id)
			max_id = w->got[s];
	memcpy(w->scan, w->base, w->nsect * sizeof(uint32_t));
	for (k = 0; k < best_k; k++)
		apply(w, w->scan, &w->ops[k], NULL, NULL);
	if (best_k < w->nops) {
		/* is the rest exactly part of the next op? */
		const struct vop *op = &w->ops[best_k];
		uint64_t s0 = op->off / SECTOR, s1 = s0 + op->len / SECTOR;
		uint64_t in = 0, other = 0;

		memcpy(w->cur, w->scan, w->nsect * sizeof(uint32_t));
		apply(w, w->cur, op, NULL, NULL);
		for (uint64_t s = 0; s < w->nsect; s++) {
			if (w->got[s] == w->scan[s])
				continue;
			if (s >= s0 && s < s1 && w->got[s] == w->cur[s])
				in++;
			else
				other++;
		}
		if (in && !other && (op->kind == V_WRITE ||
				     op->kind == V_ZEROES ||
				     op->kind == V_DISCARD)) {
			g_torn_writes++;
			snprintf(torn, sizeof(torn), " [torn: op %u (%s off %"
				 PRIu64 " len %" PRIu64 ") is only partly "
				 "there: %" PRIu64 " of its sectors differ "
				 "from the state before it as it would make "
				 "them, the rest do not]", op->id,
				 vop_names[op->kind], op->off, op->len, in);
		}
	}
	snprintf(what, sizeof(what), "closest prefix %u", best_k);
	mismatch(w, w->scan, 0, w->nsect, what);
	snprintf(why, sizeof(why), "%.1000s", g_why);
	lost = lost_durable(w);
	return failf("the volume is no prefix of the %u ops since the last "
		     "verified state (%u durable%s; largest op id read %"
		     PRIu64 ", ops %u..%u issued; %" PRIu64 " sectors of "
		     "durable data no later op touched differ): %s%s", w->nops,
		     w->dur, kmin > w->dur ? ", all required by a snapshot "
		     "the cut create made" : "", max_id,
		     w->nops ? w->ops[0].id : 0,
		     w->nops ? w->ops[w->nops - 1].id : 0, lost, why, torn);
}

/*
 * After a reboot: the volume must read as base + ops[0..k) for some k in
 * [dur, nops] (at least @kmin). On success the model is that state.
 */
static int verify_prefix(struct world *w, uint32_t kmin)
{
	uint32_t k, best_k;
	long mis = 0, best;
	int rc;

	rc = read_decode(w, w->dev, w->rd, 0, w->size, "after the cut");
	if (rc)
		return rc;
	memcpy(w->scan, w->base, w->nsect * sizeof(uint32_t));
	for (k = 0; k < w->dur; k++)
		apply(w, w->scan, &w->ops[k], NULL, NULL);
	for (uint64_t s = 0; s < w->nsect; s++)
		mis += w->scan[s] != w->got[s];
	best = mis;
	best_k = k;
	for (;;) {
		if (mis == 0 && k >= kmin)
			break;
		if (mis < best) {
			best = mis;
			best_k = k;
		}
		if (k == w->nops)
			break;
		apply(w, w->scan, &w->ops[k], w->got, &mis);
		k++;
	}
	if (mis == 0 && k >= kmin) {
		memcpy(w->cur, w->scan, w->nsect * sizeof(uint32_t));
		g_k_beyond += k > w->dur;
		g_k_all += k == w->nops && k > w->dur;
		model_durable(w);
		g_verified += w->size;
		if (g_trace)
			printf("# cut %ld: the volume holds %u of %u ops "
			       "(durable %u)\n", g_cut, k, w->nops, w->dur);
		return 0;
	}
	return prefix_failure(w, kmin, best_k);
}

/* ---- 5. the workload ----------------------------------------------------- */

static int pick_snap(struct world *w, int used)
{
	int i0 = (int)rnd_below(w, MAX_SNAPS);

	for (int j = 0; j < MAX_SNAPS; j++) {
		int i = (i0 + j) % MAX_SNAPS;

		if (!!w->snaps[i].used == used)
			return i;
	}
	return -1;
}

/* A 512-aligned range; mostly 4 KiB-aligned; half in a hot 2 MiB. */
static void pick_range(struct world *w, struct vop *op, uint64_t max)
{
	uint64_t region = rnd_below(w, 2) ? 2u << 20 : w->size;
	uint64_t len;

	if (rnd_below(w, 8)) {
		uint64_t nb = rnd_below(w, 4) ? 1 + rnd_below(w, 4) :
						1 + rnd_below(w, max / BLOCK);

		len = nb * BLOCK;
		op->off = rnd_below(w, (region - len) / BLOCK + 1) * BLOCK;
	} else {
		uint64_t ns = rnd_below(w, 4) ? 1 + rnd_below(w, 16) :
						1 + rnd_below(w, max / SECTOR);

		len = ns * SECTOR;
		op->off = rnd_below(w, (region - len) / SECTOR + 1) * SECTOR;
	}
	op->len = len;
}

static void choose(struct world *w, struct vop *op)
{
	uint64_t r = rnd_below(w, 1000);

	memset(op, 0, sizeof(*op));
	op->snap = -1;
	if (r < 720) {
		op->kind = V_WRITE;
		op->fua = rnd_below(w, 40) == 0;
		pick_range(w, op, MAX_IO);
	} else if (r < 780) {
		op->kind = V_DISCARD;
		op->fua = rnd_below(w, 40) == 0;
		pick_range(w, op, 4 * MAX_IO);
	} else if (r < 830) {
		op->kind = V_ZEROES;
		op->fua = rnd_below(w, 40) == 0;
		pick_range(w, op, 4 * MAX_IO);
	} else if (r < 890) {
		op->kind = V_FLUSH;
	} else if (r < 950) {
		op->kind = V_READ;
		pick_range(w, op, 2 * MAX_IO);
	} else if (r < 962) {
		op->kind = V_SNAP_CREATE;
		op->snap = (int8_t)pick_snap(w, 0);
	} else if (r < 974) {
		op->kind = V_SNAP_DELETE;
		op->snap = (int8_t)pick_snap(w, 1);
	} else if (r < 978) {
		op->kind = V_ROLLBACK;
		op->snap = (int8_t)pick_snap(w, 1);
	} else if (r < 982) {
		op->kind = V_GC;
	} else {
		op->kind = V_WRITE;
		pick_range(w, op, MAX_IO);
	}
	if ((op->kind == V_SNAP_CREATE || op->kind == V_SNAP_DELETE ||
	     op->kind == V_ROLLBACK) && (op->snap < 0 || g_drop))
		op->kind = V_FLUSH;
	op->id = w->next_id++;
}

static int run_op(struct world *w, struct vop *op)
{
	struct snap *sn = op->snap >= 0 ? &w->snaps[op->snap] : NULL;

	switch (op->kind) {
	case V_WRITE:
		for (uint64_t s = 0; s < op->len / SECTOR; s++)
			stamp_sector(w->wbuf + s * WORDS, w->nonce, op->id,
				     op->off / SECTOR + s);
		return zvd_write(w->dev, w->wbuf, op->len, op->off,
				 op->fua ? ZVD_WRITE_FUA : 0);
	case V_DISCARD:
		return zvd_discard(w->dev, op->off, op->len,
				   op->fua ? ZVD_WRITE_FUA : 0);
	case V_ZEROES:
		return zvd_write_zeroes(w->dev, op->off, op->len,
					op->fua ? ZVD_WRITE_FUA : 0);
	case V_FLUSH:
		return zvd_flush(w->dev);
	case V_SNAP_CREATE:
		return zvd_snapshot_create(w->dev, sn->name);
	case V_SNAP_DELETE:
		return zvd_snapshot_delete(w->dev, sn->name);
	case V_ROLLBACK:
		return zvd_rollback(w->dev, sn->name);
	case V_GC: {
		int64_t r = zvd_gc(w->dev);

		return r < 0 ? (int)r : 0;
	}
	default:
		return 0;
	}
}

static int is_durable_point(const struct vop *op)
{
	return op->kind == V_FLUSH || op->fua || op->kind == V_SNAP_CREATE ||
	       op->kind == V_SNAP_DELETE || op->kind == V_ROLLBACK;
}

static void trace(struct world *w, const struct vop *op, int rc)
{
	if (!g_trace)
		return;
	printf("# cut %ld op %ld: id %u %s%s off %" PRIu64 " len %" PRIu64
	       " snap %s -> %d%s\n", g_cut, g_op, op->id, vop_names[op->kind],
	       op->fua ? " fua" : "", op->off, op->len,
	       op->snap >= 0 ? w->snaps[op->snap].name : "-", rc,
	       zvd_crash_is_cut(w->cbe) ? " [power cut]" : "");
}

/*
 * Choose and run one operation. Returns 0 when it completed as the model
 * says, 1 when the power is off (the op, if it was cut, is the last of
 * w->ops, with *pending set for a snapshot op whose outcome is open), -1 on
 * a contract failure.
 */
static int step(struct world *w, struct vop *pending)
{
	struct vop op;
	struct snap *sn;
	int rc, cut;

	choose(w, &op);
	sn = op.snap >= 0 ? &w->snaps[op.snap] : NULL;
	if (op.kind == V_READ) {
		trace(w, &op, 0);
		g_run[V_READ]++;
		rc = live_read(w, op.off, op.len);
		if (rc && zvd_crash_is_cut(w->cbe))
			return 1;
		return rc;
	}
	if (op.kind == V_SNAP_CREATE) {
		snprintf(sn->name, sizeof(sn->name), "s%u.%u",
			 (unsigned)w->volumes, ++w->snap_seq);
		sn->id = op.id;
		sn->st = malloc(w->nsect * sizeof(uint32_t));
		if (!sn->st)
			return failf("out of memory");
		memcpy(sn->st, w->cur, w->nsect * sizeof(uint32_t));
	}
	g_total_ops++;
	g_run[op.kind]++;
	rc = run_op(w, &op);
	cut = zvd_crash_is_cut(w->cbe);
	trace(w, &op, rc);
	if (rc && !cut) {
		char text[256];

		zvd_last_error_text(w->dev, text, sizeof(text));
		if (op.kind == V_SNAP_CREATE)
			snap_free(sn);
		return failf("%s (op %u) off %" PRIu64 " len %" PRIu64
			     ": returned %d (%s) with the power on",
			     vop_names[op.kind], op.id, op.off, op.len, rc,
			     text);
	}
	if (rc && op.kind == V_FLUSH) {
		g_cut_during[V_FLUSH]++;
		return 1; /* nothing to add: the flush did not return */
	}
	/* it returned, or the power cut it: either way it may be there */
	if (op.kind != V_GC)
		w->ops[w->nops++] = op;
	apply(w, w->cur, &op, NULL, NULL);
	if (rc) {
		g_cut_during[op.kind]++;
		if (op.kind == V_SNAP_CREATE || op.kind == V_SNAP_DELETE) {
			*pending = op;
			sn->used = 1; /* settled after the reboot */
		}
		return 1;
	}
	if (op.kind == V_SNAP_CREATE)
		sn->used = 1;
	if (op.kind == V_SNAP_DELETE)
		snap_free(sn);
	if (g_drop) {
		/* without the local log nothing is durable until the
		 * cluster has it: every op since the last verified state
		 * stays in the prefix search */
	} else if (is_durable_point(&op) && !cut) {
		model_durable(w);
	} else if (is_durable_point(&op)) {
		/* returned success with the power already off: durable as
		 * far as the caller knows, so hold it to that */
		w->dur = w->nops;
	}
	if (cut) {
		g_cut_during[op.kind]++;
		return 1;
	}
	return 0;
}

/* ---- 6. one cut --------------------------------------------------------- */

/* Check the crashed image and every snapshot on it; settle @pending. */
static int check_crashed(struct world *w, const struct vop *pending,
			 uint32_t *kmin, int check)
{
	int rc = check ? check_image(w, "of the crashed image") : 0;

	for (int i = 0; !rc && i < MAX_SNAPS; i++) {
		struct snap *sn = &w->snaps[i];
		int exists = 0, is_pending = pending->kind != V_NONE &&
					     pending->snap == i;

		if (!sn->used)
			continue;
		rc = verify_snapshot(w, i, &exists);
		if (rc)
			break;
		if (is_pending) {
			if (!exists)
				snap_free(sn);
			if (exists && pending->kind == V_SNAP_CREATE)
				*kmin = w->nops; /* it flushed first */
			if (g_trace)
				printf("# cut %ld: the cut %s of %s %s\n",
				       g_cut, vop_names[pending->kind],
				       sn->name, exists ? "exists" : "does not "
								      "exist");
		} else if (!exists) {
			rc = failf("snapshot %s (taken by op %u, durable) is "
				   "gone after the cut", sn->name, sn->id);
		}
	}
	return rc;
}

/* Close the cut device and open the image again behind a fresh crash
 * backend, sometimes cutting the power again during the open. */
static int reboot(struct world *w, const struct vop *pending, uint32_t *kmin)
{
	int rc;

	close_dev(w); /* zvd_close fails with -EIO */
	if (g_drop) {
		/* the local log is lost with the machine */
		zvd_backend_close(w->inner);
		w->inner = NULL;
		rc = zvd_backend_mem_create(&w->inner);
		if (rc)
			return failf("zvd_backend_mem_create: %d", rc);
	}
	/* RADOS mode: the snapshots are checked once the device is back
	 * (through it: the log holds part of the image) */
	rc = g_pool ? check_image(w, "of the crashed image (the cluster's "
				     "copy)")
		    : check_crashed(w, pending, kmin, 1);
	if (rc)
		return rc;
	for (int tries = 0;; tries++) {
		struct zvd_backend *be;
		uint64_t arm = 0;

		rc = zvd_backend_crash_create(w->inner, rnd(w) | 1, &w->cbe);
		if (rc)
			return failf("zvd_backend_crash_create: %d", rc);
		if (tries < 3 && rnd_below(w, 8) == 0) {
			arm = 1 + rnd_below(w, 8);
			zvd_crash_arm(w->cbe, arm);
		}
		rc = open_dev_backend(w, 0, &be);
		if (rc == 0)
			rc = zvd_open(be, 0, &w->dev);
		if (rc == 0 && !zvd_crash_is_cut(w->cbe)) {
			zvd_crash_arm(w->cbe, 0);
			break;
		}
		if (!zvd_crash_is_cut(w->cbe)) {
			close_dev(w);
			return failf("zvd_open after a power cut: %d", rc);
		}
		/* the power went again during recovery */
		if (g_trace)
			printf("# cut %ld: power cut %" PRIu64
			       " writes into zvd_open (rc %d)\n", g_cut, arm,
			       rc);
		w->open_cuts++;
		close_dev(w);
		rc = check_image(w, "after a power cut during recovery");
		if (rc)
			return rc;
	}
	if (zvd_is_volume(w->dev) != 1 || zvd_size(w->dev) != w->size)
		return failf("reopened volume: zvd_is_volume %d, zvd_size %"
			     PRIu64, zvd_is_volume(w->dev), zvd_size(w->dev));
	if (g_pool) {
		rc = check_crashed(w, pending, kmin, 0);
		if (rc)
			return rc;
	}
	return verify_snapshot_list(w);
}

/* Run some ops, close cleanly, reopen: everything must be there. */
static int clean_reopen(struct world *w)
{
	struct vop pending = { .kind = V_NONE };
	long n = 20 + (long)rnd_below(w, 200);
	int rc = 0;

	for (g_op = 0; g_op < n && !rc; g_op++)
		rc = step(w, &pending);
	if (rc)
		return rc < 0 ? rc : failf("power cut while not armed");
	stats_collect(w);
	rc = close_dev(w);
	if (rc)
		return failf("zvd_close: %d", rc);
	model_durable(w);
	rc = check_image(w, "after a clean close");
	if (!rc)
		rc = zvd_backend_crash_create(w->inner, rnd(w) | 1, &w->cbe);
	if (!rc) {
		struct zvd_backend *be;
		rc = open_dev_backend(w, 0, &be);
		if (!rc)
			rc = zvd_open(be, 0, &w->dev);
	}
	if (rc) {
		if (w->cbe)
			close_dev(w);
		return failf("reopen after a clean close: %d", rc);
	}
	w->clean_reopens++;
	rc = verify_snapshot_list(w);
	if (!rc)
		rc = read_decode(w, w->dev, w->rd, 0, w->size,
				 "after a clean close and reopen");
	if (!rc) {
		rc = mismatch(w, w->cur, 0, w->nsect,
			      "after a clean close and reopen");
		g_lost_flushed += rc != 0;
	}
	if (!rc)
		g_verified += w->size;
	return rc;
}

static int one_cut(struct world *w)
{
	struct vop pending = { .kind = V_NONE };
	uint32_t kmin;
	uint64_t arm = 0;
	long nops = MAX_OPS_PER_CUT;
	int rc = 0;

	if (!w->dev || w->cuts_on_volume >= CUTS_PER_VOLUME ||
	    rnd_below(w, 100) == 0) {
		rc = world_create(w);
		if (rc)
			return rc;
	}
	w->cuts_on_volume++;
	if (rnd_below(w, 20) == 0) {
		rc = clean_reopen(w);
		if (rc)
			return rc;
	}
	if (rnd_below(w, 4)) {
		arm = rnd_below(w, 2) ? 1 + rnd_below(w, 40) :
					1 + rnd_below(w, 1500);
		zvd_crash_arm(w->cbe, arm);
	} else {
		nops = 1 + (long)rnd_below(w, 500);
	}
	for (g_op = 0; g_op < nops && w->nops < MAX_OPS_PER_CUT; g_op++) {
		rc = step(w, &pending);
		if (rc)
			break;
	}
	if (rc < 0)
		return rc;
	stats_collect(w);
	if (rc == 0) /* not cut by the armed count: cut between two ops */
		zvd_crash_cut(w->cbe);
	if (g_trace)
		printf("# cut %ld: power cut (armed %" PRIu64 ") after %u ops "
		       "since the last durable point\n", g_cut, arm, w->nops);
	kmin = g_drop ? 0 : w->dur;
	rc = reboot(w, &pending, &kmin);
	if (rc)
		return rc;
	rc = verify_prefix(w, kmin);
	if (rc)
		return rc;
	if (!g_pool && rnd_below(w, 2)) {
		/* what recovery wrote must also check clean once durable */
		rc = zvd_flush(w->dev);
		if (rc)
			return failf("zvd_flush after recovery: %d", rc);
		rc = check_image(w, "after recovery and a flush");
	}
	return rc;
}

/* ---- 7. main ------------------------------------------------------------- */

static struct world g_world;
static long g_chunk;
static const char *g_gc_mode; /* ZVD_GC for the running case */
static int g_gc_forced;	      /* the user set ZVD_GC */

/* One case: g_chunk cuts. The first violation fails the case with what
 * reproduces it; the case goes on with a fresh volume. */
static void power_cuts(void)
{
	long problems = 0;

	/* a fresh volume and random stream per case: each case replays on
	 * its own (ZVD_FROM), whatever the timing of the one before */
	world_account(&g_world);
	world_drop(&g_world);
	g_world.rng = mix64(g_seed) ^ (uint64_t)(g_cut / CUTS_PER_CASE + 3);
	for (long i = 0; i < g_chunk; i++, g_cut++) {
		if (one_cut(&g_world) == 0) {
			g_cuts_done++;
			continue;
		}
		if (problems++ == 0) {
			printf("not ok %s: seed %llu cut %ld op %ld (volume "
			       "%ld): %s\n", harness_case_name, g_seed, g_cut,
			       g_op, g_world.volumes, g_why);
			harness_case_failed = 1;
		} else if (problems <= 5) {
			printf("# also: seed %llu cut %ld op %ld: %s\n", g_seed,
			       g_cut, g_op, g_why);
		}
		if (problems <= 5)
			printf("# reproduce: %s%s%sZVD_SEED=%llu ZVD_FROM=%ld "
			       "ZVD_TRACE=1 %s %ld%s\n",
			       g_gc_forced ? "ZVD_GC=" : "",
			       g_gc_forced ? g_gc_mode : "",
			       g_gc_forced ? " " : "", g_seed,
			       g_cut / CUTS_PER_CASE * CUTS_PER_CASE, g_prog,
			       g_cut + 1,
			       strcmp(g_gc_mode, "inline") ?
				       " (this case ran the background "
				       "collector: timing decides, rerun a "
				       "few times)" : "");
		world_account(&g_world);
		world_drop(&g_world); /* go on with a fresh volume */
	}
	g_problems += problems;
}

int main(int argc, char **argv)
{
	const char *s;
	long cuts = 1000, from = 0;
	char name[96];
	struct timespec t0, t1;

	g_prog = argv[0];
	if ((s = getenv("ZVD_CUTS")))
		cuts = strtol(s, NULL, 0);
	if (argc > 1)
		cuts = strtol(argv[1], NULL, 0);
	if ((s = getenv("ZVD_SEED")))
		g_seed = strtoull(s, NULL, 0);
	g_trace = getenv("ZVD_TRACE") && *getenv("ZVD_TRACE") == '1';
	g_pool = getenv("ZVD_RADOS_POOL");
	g_drop = g_pool && getenv("ZVD_RADOS_LOG") &&
		 !strcmp(getenv("ZVD_RADOS_LOG"), "dropped");
	if (g_pool)
		printf("# RADOS mode: pool %s, the local log %s at each cut\n",
		       g_pool, g_drop ? "dropped" : "kept");
	printf("# seed %llu, %ld cuts, volume %u MiB\n", g_seed, cuts,
	       VOL_SIZE >> 20);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (world_init(&g_world, VOL_SIZE, mix64(g_seed) ^ 3)) {
		printf("not ok setup: %s\n", g_why);
		return 1;
	}
	g_gc_forced = getenv("ZVD_GC") != NULL;
	if ((s = getenv("ZVD_FROM")))
		from = strtol(s, NULL, 0) / CUTS_PER_CASE * CUTS_PER_CASE;
	for (long done = from, c = from / CUTS_PER_CASE; done < cuts;
	     done += g_chunk, c++) {
		g_chunk = cuts - done < CUTS_PER_CASE ? cuts - done :
							CUTS_PER_CASE;
		g_cut = done;
		/* even cases: the collector runs inline (repeatable); odd
		 * ones: in its background thread, as in production */
		if (!g_gc_forced)
			setenv("ZVD_GC", c % 2 ? "background" : "inline", 1);
		g_gc_mode = getenv("ZVD_GC");
		snprintf(name, sizeof(name), "%svol_power_cut_%s_%04ld_%04ld",
			 !g_pool ? "" : g_drop ? "rados_log_dropped_" :
						 "rados_log_kept_",
			 strcmp(g_gc_mode, "inline") ? "bg" : "inline", done,
			 done + g_chunk - 1);
		harness_run(name, power_cuts);
	}
	world_fini(&g_world);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# operations (run/cut by the power):");
	for (int k = V_WRITE; k < V_KINDS; k++)
		printf(" %s %ld/%ld", vop_names[k], g_run[k], g_cut_during[k]);
	printf("\n# cuts where un-flushed ops survived: %ld (all of them: "
	       "%ld)", g_k_beyond, g_k_all);
	printf("\n# volumes %ld, clean reopens %ld, power cuts during "
	       "recovery %ld, gc runs %" PRIu64 ", user %" PRIu64
	       " MiB, gc %" PRIu64 " MiB, largest backend %" PRIu64
	       " MiB, %.1f s\n", g_world.volumes, g_world.clean_reopens,
	       g_world.open_cuts, g_gc_runs, g_user_bytes >> 20,
	       g_gc_bytes >> 20, g_max_backend >> 20,
	       (double)(t1.tv_sec - t0.tv_sec) +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	printf("cuts: %ld, ops: %ld, verified bytes: %llu, lost flushed "
	       "writes: %ld, torn writes: %ld, problems: %ld\n",
	       g_cuts_done + g_problems, g_total_ops, g_verified,
	       g_lost_flushed, g_torn_writes, g_problems);
	HARNESS_EXIT();
}

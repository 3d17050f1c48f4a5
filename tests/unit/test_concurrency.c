// SPDX-License-Identifier: MIT
/*
 * test_concurrency.c - the data path under several threads at once.
 *
 *   - threads appending to one zone: every append lands at its own offset,
 *     the appends tile the zone from its start with no gap, and every block
 *     reads back as the thread that appended it wrote it;
 *   - threads writing their own zones while others read what is written
 *     and report the zones (write pointers never go back);
 *   - threads flushing while others append: every flush returns 0, and
 *     what was complete when a flush began survives a power cut after it;
 *   - threads appending until the zone is full: exactly the capacity is
 *     filled and the appends that do not fit fail with -EIO.
 *
 * Each case runs on the mem backend and on the file backend (an image in a
 * mkdtemp directory). Threads never CHECK: they record what went wrong and
 * the main thread checks after joining them.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zvd.h"
#include "harness.h"

#define BS 4096
#define MAX_THREADS 8
#define MAGIC 0x7a766443u /* "zvdC" */

/* ---- devices on mem and file backends -------------------------------- */

struct env {
	struct zvd_backend *inner; /* mem under a crash backend, or NULL */
	struct zvd_backend *crash; /* that crash backend (the dev owns it) */
	struct zvd_dev *dev;
	char dir[64];
	char path[96];
};

static void small_geometry(struct zvd_geometry *g, uint64_t zone_size,
			   uint64_t cap, uint32_t nz)
{
	memset(g, 0, sizeof(*g));
	g->size = zone_size * nz;
	g->zone_size = zone_size;
	g->zone_capacity = cap;
	g->block_size = BS;
}

/* kind 0: mem, 1: file in a fresh mkdtemp directory, 2: crash over mem. */
static int env_create(struct env *e, int kind, const struct zvd_geometry *g)
{
	struct zvd_backend *be = NULL;
	int rc;

	memset(e, 0, sizeof(*e));
	if (kind == 1) {
		snprintf(e->dir, sizeof(e->dir), "/tmp/zvd-conc-XXXXXX");
		if (!mkdtemp(e->dir))
			return -errno;
		snprintf(e->path, sizeof(e->path), "%s/img", e->dir);
		rc = zvd_backend_file_open(e->path, ZVD_FILE_CREATE, &be);
	} else if (kind == 2) {
		rc = zvd_backend_mem_create(&e->inner);
		if (!rc)
			rc = zvd_backend_crash_create(e->inner, 42, &be);
		e->crash = be;
	} else {
		rc = zvd_backend_mem_create(&be);
	}
	if (rc)
		return rc;
	rc = zvd_create(be, g, &e->dev);
	if (rc)
		zvd_backend_close(be);
	return rc;
}

static void env_destroy(struct env *e)
{
	zvd_close(e->dev);
	e->dev = NULL;
	zvd_backend_close(e->inner);
	e->inner = NULL;
	if (e->path[0])
		unlink(e->path);
	if (e->dir[0])
		rmdir(e->dir);
	e->path[0] = e->dir[0] = 0;
}

/* ---- block contents ----------------------------------------------------- */

/* Block @blk of append @seq by thread @tid. */
static void fill_block(uint8_t *p, uint32_t tid, uint32_t seq, uint32_t blk)
{
	uint32_t hdr[4] = { MAGIC, tid, seq, blk };
	uint64_t x = (uint64_t)tid << 48 ^ (uint64_t)seq << 16 ^ blk;

	memcpy(p, hdr, sizeof(hdr));
	for (size_t i = sizeof(hdr); i < BS; i += 8) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		memcpy(p + i, &x, 8);
	}
}

static void fill_blocks(uint8_t *p, uint32_t nblocks, uint32_t tid,
			uint32_t seq)
{
	for (uint32_t b = 0; b < nblocks; b++)
		fill_block(p + (size_t)b * BS, tid, seq, b);
}

/* ---- appends to one zone ------------------------------------------------ */

struct landed {
	uint64_t where;
	uint32_t nblocks;
	uint32_t tid, seq;
};

struct appender {
	pthread_t th;
	struct zvd_dev *dev;
	uint32_t zone, tid, count;
	int until_full;
	struct landed *out; /* count entries */
	uint32_t n_out;
	int bad_rc;	   /* an unexpected return code, or 0 */
	int full_errors;   /* appends refused once the zone filled */
	uint64_t bytes;
};

static void *append_thread(void *arg)
{
	struct appender *a = arg;
	uint8_t *buf = malloc(4 * BS);
	uint64_t rng = a->tid * 0x9e3779b97f4a7c15ULL + 1;

	if (!buf) {
		a->bad_rc = -ENOMEM;
		return NULL;
	}
	for (uint32_t seq = 0; seq < a->count; seq++) {
		uint32_t nb;
		uint64_t where = UINT64_MAX;
		int rc;

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		nb = 1 + (uint32_t)(rng % 4);
		fill_blocks(buf, nb, a->tid, seq);
		rc = zvd_append(a->dev, a->zone, buf, (size_t)nb * BS, 0,
				&where);
		if (rc == 0) {
			a->out[a->n_out++] = (struct landed){ where, nb, a->tid,
							      seq };
			a->bytes += (uint64_t)nb * BS;
			continue;
		}
		if (a->until_full && rc == -EIO) {
			/* full, or this append does not fit: a single block
			 * may still fit, so retry with one until it fails */
			a->full_errors++;
			if (nb == 1)
				break;
			fill_blocks(buf, 1, a->tid, seq);
			rc = zvd_append(a->dev, a->zone, buf, BS, 0, &where);
			if (rc == 0) {
				struct landed l = { where, 1, a->tid, seq };

				a->out[a->n_out++] = l;
				a->bytes += BS;
				continue;
			}
			if (rc == -EIO) {
				a->full_errors++;
				break;
			}
		}
		a->bad_rc = rc;
		break;
	}
	free(buf);
	return NULL;
}

static int cmp_landed(const void *x, const void *y)
{
	const struct landed *a = x, *b = y;

	return a->where < b->where ? -1 : a->where > b->where;
}

/* Sorted appends must tile [start, start + total); each reads back. */
static int check_tiling(struct zvd_dev *dev, struct appender *a, int nthreads,
			uint64_t start, uint64_t *total, char *why, size_t wl)
{
	size_t n = 0, k = 0;
	struct landed *all;
	uint8_t *got = malloc(4 * BS), *want = malloc(4 * BS);
	uint64_t at = start;
	int rc = 0;

	for (int t = 0; t < nthreads; t++)
		n += a[t].n_out;
	all = calloc(n ? n : 1, sizeof(*all));
	if (!all || !got || !want) {
		snprintf(why, wl, "out of memory");
		rc = -1;
		goto out;
	}
	for (int t = 0; t < nthreads; t++)
		for (uint32_t i = 0; i < a[t].n_out; i++)
			all[k++] = a[t].out[i];
	qsort(all, n, sizeof(*all), cmp_landed);
	for (size_t i = 0; i < n; i++) {
		if (all[i].where != at) {
			snprintf(why, wl, "append %zu of %zu (thread %u "
				 "seq %u) landed at %" PRIu64 ", expected %"
				 PRIu64
				 " (%s)", i, n, all[i].tid, all[i].seq,
				 all[i].where, at,
				 all[i].where < at ? "overlap" : "gap");
			rc = -1;
			goto out;
		}
		at += (uint64_t)all[i].nblocks * BS;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = (size_t)all[i].nblocks * BS;
		int err = zvd_read(dev, got, len, all[i].where);

		fill_blocks(want, all[i].nblocks, all[i].tid, all[i].seq);
		if (err || memcmp(got, want, len)) {
			uint32_t hdr[4];

			memcpy(hdr, got, sizeof(hdr));
			snprintf(why, wl, "append at %" PRIu64 " (thread %u "
				 "seq %u): read %d, holds thread %u seq %u",
				 all[i].where, all[i].tid, all[i].seq, err,
				 hdr[1], hdr[2]);
			rc = -1;
			goto out;
		}
	}
	*total = at - start;
out:
	free(all);
	free(got);
	free(want);
	return rc;
}

static char why[512];

static void appends_one_zone(int kind, int nthreads)
{
	struct zvd_geometry g;
	struct appender a[MAX_THREADS];
	struct zvd_zone z;
	struct env e;
	uint64_t total = 0, sum = 0;
	const uint32_t count = 64, zone = 1;

	small_geometry(&g, 8 << 20, 8 << 20, 4);
	CHECK_EQ(env_create(&e, kind, &g), 0);
	memset(a, 0, sizeof(a));
	for (int t = 0; t < nthreads; t++) {
		a[t] = (struct appender){ .dev = e.dev, .zone = zone,
					  .tid = (uint32_t)t, .count = count };
		a[t].out = calloc(count, sizeof(struct landed));
		CHECK(a[t].out);
	}
	for (int t = 0; t < nthreads; t++)
		CHECK_EQ(pthread_create(&a[t].th, NULL, append_thread, &a[t]),
			 0);
	for (int t = 0; t < nthreads; t++)
		pthread_join(a[t].th, NULL);
	for (int t = 0; t < nthreads; t++) {
		CHECK_EQ(a[t].bad_rc, 0);
		CHECK_EQ(a[t].n_out, count);
		sum += a[t].bytes;
	}
	why[0] = 0;
	if (check_tiling(e.dev, a, nthreads, zone * g.zone_size, &total, why,
			 sizeof(why)))
		printf("# %s\n", why);
	CHECK(why[0] == 0);
	CHECK_EQ(total, sum);
	CHECK_EQ(zvd_report(e.dev, zone, ZVD_REPORT_ALL, &z, 1), 1);
	CHECK_EQ(z.wp, zone * g.zone_size + sum);
	CHECK_EQ(z.written, sum);
	CHECK_EQ(z.writes, (uint64_t)nthreads * count);
	/* and it all survives a close and reopen (file) or at least a flush */
	CHECK_EQ(zvd_flush(e.dev), 0);
	for (int t = 0; t < nthreads; t++)
		free(a[t].out);
	env_destroy(&e);
}

static void test_appends_one_zone_mem(void)
{
	appends_one_zone(0, 6);
}

static void test_appends_one_zone_file(void)
{
	appends_one_zone(1, 8);
}

static void appends_until_full(int kind, int nthreads)
{
	struct zvd_geometry g;
	struct appender a[MAX_THREADS];
	struct zvd_zone z;
	struct env e;
	uint64_t total = 0, sum = 0;
	const uint32_t zone = 2;
	/* 1 MiB zones of 768 KiB capacity: 192 blocks for many more appends */
	const uint64_t cap = 768 << 10;
	const uint32_t count = 200;
	int full_errors = 0;

	small_geometry(&g, 1 << 20, cap, 4);
	CHECK_EQ(env_create(&e, kind, &g), 0);
	memset(a, 0, sizeof(a));
	for (int t = 0; t < nthreads; t++) {
		a[t] = (struct appender){ .dev = e.dev, .zone = zone,
					  .tid = (uint32_t)t, .count = count,
					  .until_full = 1 };
		a[t].out = calloc(count, sizeof(struct landed));
		CHECK(a[t].out);
	}
	for (int t = 0; t < nthreads; t++)
		CHECK_EQ(pthread_create(&a[t].th, NULL, append_thread, &a[t]),
			 0);
	for (int t = 0; t < nthreads; t++)
		pthread_join(a[t].th, NULL);
	for (int t = 0; t < nthreads; t++) {
		CHECK_EQ(a[t].bad_rc, 0);
		sum += a[t].bytes;
		full_errors += a[t].full_errors;
	}
	CHECK_EQ(sum, cap);
	CHECK(full_errors >= nthreads); /* each thread stopped on a refusal */
	why[0] = 0;
	if (check_tiling(e.dev, a, nthreads, zone * g.zone_size, &total, why,
			 sizeof(why)))
		printf("# %s\n", why);
	CHECK(why[0] == 0);
	CHECK_EQ(total, cap);
	CHECK_EQ(zvd_report(e.dev, zone, ZVD_REPORT_ALL, &z, 1), 1);
	CHECK_EQ(z.cond, ZVD_COND_FULL);
	CHECK_EQ(z.written, cap);
	/* one more append is refused as zone-full, errno -EIO */
	{
		struct zvd_error err;
		uint8_t blk[BS];
		uint64_t where;

		fill_block(blk, 99, 0, 0);
		CHECK_EQ(zvd_append(e.dev, zone, blk, BS, 0, &where), -EIO);
		zvd_last_error(e.dev, &err);
		CHECK_EQ(err.status, ZVD_ZONE_FULL);
	}
	for (int t = 0; t < nthreads; t++)
		free(a[t].out);
	env_destroy(&e);
}

static void test_appends_until_full_mem(void)
{
	appends_until_full(0, 8);
}

static void test_appends_until_full_file(void)
{
	appends_until_full(1, 4);
}

/* ---- writers on their own zones, readers of everything ------------------- */

struct shared {
	struct zvd_dev *dev;
	uint64_t zone_size;
	uint32_t nwriters, first_zone;
	uint64_t progress[MAX_THREADS]; /* bytes written, atomically */
	int stop;
};

struct worker {
	pthread_t th;
	struct shared *sh;
	uint32_t id;
	int bad_rc;
	uint64_t reads;
	uint64_t last_wp[MAX_THREADS]; /* readers: last reported, per zone */
	char what[200];
};

static void *writer_thread(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	uint64_t start = (sh->first_zone + w->id) * sh->zone_size;
	uint8_t *buf = malloc(4 * BS);

	if (!buf) {
		w->bad_rc = -ENOMEM;
		return NULL;
	}
	for (uint32_t seq = 0;; seq++) {
		uint64_t done = __atomic_load_n(&sh->progress[w->id],
						__ATOMIC_ACQUIRE);
		uint32_t nb = 1 + seq % 4;
		int rc;

		if (done == sh->zone_size)
			break;
		if (done + (uint64_t)nb * BS > sh->zone_size)
			nb = (uint32_t)((sh->zone_size - done) / BS);
		/* block b of the zone is identified by (writer, b) */
		for (uint32_t b = 0; b < nb; b++)
			fill_block(buf + (size_t)b * BS, w->id,
				   (uint32_t)(done / BS) + b, 0);
		rc = zvd_write(sh->dev, buf, (size_t)nb * BS, start + done,
			       seq % 16 == 0 ? ZVD_WRITE_FUA : 0);
		if (rc) {
			w->bad_rc = rc;
			snprintf(w->what, sizeof(w->what),
				 "write at %" PRIu64 ": %d", start + done, rc);
			break;
		}
		__atomic_store_n(&sh->progress[w->id], done + (uint64_t)nb * BS,
				 __ATOMIC_RELEASE);
	}
	free(buf);
	return NULL;
}

/* A report racing the writer of zone @z: its write pointer never goes
 * back and covers what the writer had finished before the report. */
static int report_check(struct worker *w, uint32_t z, uint64_t done)
{
	struct shared *sh = w->sh;
	uint32_t zi = sh->first_zone + z;
	struct zvd_zone r = { 0 };
	int rc = zvd_report(sh->dev, zi, ZVD_REPORT_ALL, &r, 1);

	w->reads++;
	if (rc == 1 && r.written >= done && r.written >= w->last_wp[z] &&
	    r.written <= sh->zone_size && r.written % BS == 0) {
		w->last_wp[z] = r.written;
		return 0;
	}
	w->bad_rc = rc == 1 ? -EBADMSG : rc;
	snprintf(w->what, sizeof(w->what), "report of zone %u: rc %d, "
		 "written %" PRIu64 " (finished before: %" PRIu64 ", seen "
		 "before: %" PRIu64 ")", zi, rc, r.written, done,
		 w->last_wp[z]);
	return -1;
}

static void *reader_thread(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	uint8_t *got = malloc(BS), *want = malloc(BS);
	uint64_t rng = w->id * 0x2545F4914F6CDD1DULL + 7;

	if (!got || !want) {
		w->bad_rc = -ENOMEM;
		goto out;
	}
	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
		uint32_t z;
		uint64_t done, blk, off;
		int rc;

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		z = (uint32_t)(rng % sh->nwriters);
		done = __atomic_load_n(&sh->progress[z], __ATOMIC_ACQUIRE);
		if (w->reads % 8 == 0 && report_check(w, z, done))
			break;
		if (!done)
			continue;
		blk = (rng >> 20) % (done / BS);
		off = (sh->first_zone + z) * sh->zone_size + blk * BS;
		rc = zvd_read(sh->dev, got, BS, off);
		w->reads++;
		fill_block(want, z, (uint32_t)blk, 0);
		if (rc || memcmp(got, want, BS)) {
			uint32_t hdr[4];

			memcpy(hdr, got, sizeof(hdr));
			w->bad_rc = rc ? rc : -EBADMSG;
			snprintf(w->what, sizeof(w->what),
				 "read of zone %u block %" PRIu64 " below the "
				 "write pointer (%" PRIu64 "): rc %d, magic %x "
				 "writer %u block %u", sh->first_zone + z, blk,
				 done / BS, rc, hdr[0], hdr[1], hdr[2]);
			break;
		}
	}
out:
	free(got);
	free(want);
	return NULL;
}

static void writers_and_readers(int kind)
{
	struct zvd_geometry g;
	struct shared sh;
	struct worker wr[4], rd[3];
	struct env e;
	struct zvd_zone z[8];

	small_geometry(&g, 2 << 20, 2 << 20, 8);
	g.nr_conv_zones = 1;
	CHECK_EQ(env_create(&e, kind, &g), 0);
	memset(&sh, 0, sizeof(sh));
	sh.dev = e.dev;
	sh.zone_size = g.zone_size;
	sh.nwriters = 4;
	sh.first_zone = 2;
	memset(wr, 0, sizeof(wr));
	memset(rd, 0, sizeof(rd));
	for (uint32_t i = 0; i < 3; i++) {
		rd[i] = (struct worker){ .sh = &sh, .id = i };
		CHECK_EQ(pthread_create(&rd[i].th, NULL, reader_thread, &rd[i]),
			 0);
	}
	for (uint32_t i = 0; i < 4; i++) {
		wr[i] = (struct worker){ .sh = &sh, .id = i };
		CHECK_EQ(pthread_create(&wr[i].th, NULL, writer_thread, &wr[i]),
			 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(wr[i].th, NULL);
	__atomic_store_n(&sh.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 3; i++)
		pthread_join(rd[i].th, NULL);
	for (int i = 0; i < 4; i++) {
		if (wr[i].bad_rc)
			printf("# writer %d: %s\n", i, wr[i].what);
		CHECK_EQ(wr[i].bad_rc, 0);
		CHECK_EQ(sh.progress[i], g.zone_size);
	}
	for (int i = 0; i < 3; i++) {
		if (rd[i].bad_rc)
			printf("# reader %d: %s\n", i, rd[i].what);
		CHECK_EQ(rd[i].bad_rc, 0);
	}
	CHECK_EQ(zvd_report(e.dev, 0, ZVD_REPORT_ALL, z, 8), 8);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(z[2 + i].cond, ZVD_COND_FULL);
	CHECK_EQ(z[1].cond, ZVD_COND_EMPTY);
	env_destroy(&e);
}

static void test_writers_and_readers_mem(void)
{
	writers_and_readers(0);
}

static void test_writers_and_readers_file(void)
{
	writers_and_readers(1);
}

/* ---- flushes racing appends, then a power cut ---------------------------- */

struct flush_shared {
	struct zvd_dev *dev;
	uint64_t zone_size, cap;
	uint32_t nwriters;
	uint64_t done[MAX_THREADS];    /* bytes complete per zone (atomic) */
	uint64_t durable[MAX_THREADS]; /* proven durable by a flush */
	pthread_mutex_t lock;
	int stop;
};

struct flusher {
	pthread_t th;
	struct flush_shared *sh;
	uint32_t id;
	int bad_rc;
	uint64_t flushes;
};

static void *flush_writer(void *arg)
{
	struct flusher *f = arg;
	struct flush_shared *sh = f->sh;
	uint8_t *buf = malloc(2 * BS);

	if (!buf) {
		f->bad_rc = -ENOMEM;
		return NULL;
	}
	for (uint32_t seq = 0;; seq++) {
		uint64_t done = sh->done[f->id], where = UINT64_MAX;
		uint32_t nb = 1 + seq % 2;
		int rc;

		if (done + (uint64_t)nb * BS > sh->cap)
			break;
		for (uint32_t b = 0; b < nb; b++)
			fill_block(buf + (size_t)b * BS, f->id,
				   (uint32_t)(done / BS) + b, 1);
		rc = zvd_append(sh->dev, f->id, buf, (size_t)nb * BS, 0,
				&where);
		if (rc || where != f->id * sh->zone_size + done) {
			f->bad_rc = rc ? rc : -EBADMSG;
			break;
		}
		__atomic_store_n(&sh->done[f->id], done + (uint64_t)nb * BS,
				 __ATOMIC_RELEASE);
	}
	free(buf);
	return NULL;
}

static void *flush_thread(void *arg)
{
	struct flusher *f = arg;
	struct flush_shared *sh = f->sh;

	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
		uint64_t snap[MAX_THREADS];
		int rc;

		for (uint32_t i = 0; i < sh->nwriters; i++)
			snap[i] = __atomic_load_n(&sh->done[i],
						  __ATOMIC_ACQUIRE);
		rc = zvd_flush(sh->dev);
		if (rc) {
			f->bad_rc = rc;
			break;
		}
		f->flushes++;
		pthread_mutex_lock(&sh->lock);
		for (uint32_t i = 0; i < sh->nwriters; i++)
			if (snap[i] > sh->durable[i])
				sh->durable[i] = snap[i];
		pthread_mutex_unlock(&sh->lock);
	}
	return NULL;
}

/* Start @nflush flushers and @nwriters appenders (one zone each). */
static int start_flush_race(struct flush_shared *sh, struct env *e,
			    const struct zvd_geometry *g, struct flusher *wr,
			    uint32_t nwriters, struct flusher *fl,
			    uint32_t nflush)
{
	memset(sh, 0, sizeof(*sh));
	sh->dev = e->dev;
	sh->zone_size = g->zone_size;
	sh->cap = g->zone_capacity;
	sh->nwriters = nwriters;
	pthread_mutex_init(&sh->lock, NULL);
	for (uint32_t i = 0; i < nflush; i++) {
		fl[i] = (struct flusher){ .sh = sh, .id = i };
		if (pthread_create(&fl[i].th, NULL, flush_thread, &fl[i]))
			return -1;
	}
	for (uint32_t i = 0; i < nwriters; i++) {
		wr[i] = (struct flusher){ .sh = sh, .id = i };
		if (pthread_create(&wr[i].th, NULL, flush_writer, &wr[i]))
			return -1;
	}
	return 0;
}

/* Blocks of zone @i below @upto hold what the appender of zone @i wrote. */
static int count_bad_blocks(struct zvd_dev *dev, uint32_t i, uint64_t zs,
			    uint64_t upto)
{
	uint8_t *got = malloc(BS), *want = malloc(BS);
	int bad = 0;

	for (uint64_t b = 0; got && want && b < upto / BS; b++) {
		fill_block(want, i, (uint32_t)b, 1);
		if (zvd_read(dev, got, BS, i * zs + b * BS) ||
		    memcmp(got, want, BS))
			bad++;
	}
	if (!got || !want)
		bad = -1;
	free(got);
	free(want);
	return bad;
}

/* Flushes racing appends, then a clean close: every flush returns 0 and
 * the reopened image holds everything. */
static void test_flush_with_writers(void)
{
	struct zvd_geometry g;
	struct flush_shared sh;
	struct flusher wr[4], fl[3];
	struct zvd_backend *cbe;
	struct zvd_zone z[4];
	struct env e;
	uint64_t flushes = 0;

	small_geometry(&g, 1 << 20, 1 << 20, 4);
	CHECK_EQ(env_create(&e, 2, &g), 0);
	CHECK_EQ(start_flush_race(&sh, &e, &g, wr, 4, fl, 3), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(wr[i].th, NULL);
	__atomic_store_n(&sh.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 3; i++) {
		pthread_join(fl[i].th, NULL);
		flushes += fl[i].flushes;
	}
	pthread_mutex_destroy(&sh.lock);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(wr[i].bad_rc, 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(fl[i].bad_rc, 0);
	CHECK(flushes > 0);
	CHECK_EQ(zvd_close(e.dev), 0);
	e.dev = NULL;
	CHECK_EQ(zvd_check(e.inner, NULL, NULL), 0);
	CHECK_EQ(zvd_backend_crash_create(e.inner, 7, &cbe), 0);
	CHECK_EQ(zvd_open(cbe, 0, &e.dev), 0);
	CHECK_EQ(zvd_report(e.dev, 0, ZVD_REPORT_ALL, z, 4), 4);
	for (uint32_t i = 0; i < 4; i++) {
		CHECK_EQ(z[i].written, g.zone_capacity);
		CHECK_EQ(z[i].cond, ZVD_COND_FULL);
		CHECK_EQ(count_bad_blocks(e.dev, i, g.zone_size, z[i].written),
			 0);
	}
	env_destroy(&e);
}

/* The same race, cut by the power in the middle: what every completed
 * flush covered survives; what follows is a prefix of what was appended. */
static void test_flush_with_writers_power_cut(void)
{
	struct zvd_geometry g;
	struct flush_shared sh;
	struct flusher wr[4], fl[2];
	struct zvd_backend *cbe;
	struct zvd_zone z[4];
	struct env e;

	small_geometry(&g, 1 << 20, 1 << 20, 4);
	CHECK_EQ(env_create(&e, 2, &g), 0);
	CHECK_EQ(zvd_flush(e.dev), 0);
	CHECK_EQ(start_flush_race(&sh, &e, &g, wr, 4, fl, 2), 0);
	while (__atomic_load_n(&sh.done[1], __ATOMIC_ACQUIRE) < sh.cap / 3)
		usleep(100);
	/* A flusher that has returned records its point under the lock;
	 * holding it across the cut keeps later points from being recorded
	 * (their flushes fail anyway). */
	pthread_mutex_lock(&sh.lock);
	CHECK_EQ(zvd_crash_cut(e.crash), 0);
	pthread_mutex_unlock(&sh.lock);
	__atomic_store_n(&sh.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++)
		pthread_join(fl[i].th, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(wr[i].th, NULL);
	pthread_mutex_destroy(&sh.lock);
	/* after the cut everything fails with -EIO, nothing else */
	for (int i = 0; i < 4; i++)
		CHECK(wr[i].bad_rc == 0 || wr[i].bad_rc == -EIO);
	for (int i = 0; i < 2; i++) /* 0: it saw stop before flushing again */
		CHECK(fl[i].bad_rc == 0 || fl[i].bad_rc == -EIO);
	zvd_close(e.dev); /* fails: the power is off */
	e.dev = NULL;
	CHECK_EQ(zvd_check(e.inner, NULL, NULL), 0);
	CHECK_EQ(zvd_backend_crash_create(e.inner, 9, &cbe), 0);
	CHECK_EQ(zvd_open(cbe, 0, &e.dev), 0);
	CHECK_EQ(zvd_report(e.dev, 0, ZVD_REPORT_ALL, z, 4), 4);
	for (uint32_t i = 0; i < 4; i++) {
		if (z[i].written < sh.durable[i])
			printf("# zone %u: written %" PRIu64 " < %" PRIu64
			       " made durable by a flush\n", i, z[i].written,
			       sh.durable[i]);
		CHECK(z[i].written >= sh.durable[i]);
		/* an append cut in flight (at most 2 blocks) may be there */
		CHECK(z[i].written <= sh.done[i] + 2 * BS);
		CHECK_EQ(count_bad_blocks(e.dev, i, g.zone_size, z[i].written),
			 0);
	}
	env_destroy(&e);
}

int main(void)
{
	RUN(test_appends_one_zone_mem);
	RUN(test_appends_one_zone_file);
	RUN(test_appends_until_full_mem);
	RUN(test_appends_until_full_file);
	RUN(test_writers_and_readers_mem);
	RUN(test_writers_and_readers_file);
	RUN(test_flush_with_writers);
	RUN(test_flush_with_writers_power_cut);
	HARNESS_EXIT();
}

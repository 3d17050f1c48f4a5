// SPDX-License-Identifier: MIT
/*
 * test_io_errors.c - what a failing backend write does to the device.
 *
 * With zvd_backend_inject_write_error:
 *   - a write or append whose backend write fails returns that negative
 *     errno, its zone's write pointer does not move, the failure is
 *     described by zvd_last_error, and the same write at the same write
 *     pointer succeeds once the fault clears (mem and file backends);
 *   - a sticky fault fails every write until it is cleared;
 *   - a flush whose write-back fails returns the error and promises
 *     nothing;
 *   - a scripted workload with the fault at the n-th backend write, for
 *     every n: exactly the one operation that meets it fails with its
 *     errno; a failed write is retried at the same place; a failed flush
 *     or zone operation ends the script. Then the device is closed (or the
 *     power is cut) and reopened: zvd_check is clean and every zone holds
 *     what the model says (a zone operation that failed either happened or
 *     did not). ZVD_DEBUG=1 prints which operation met each fault.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zvd.h"
#include "harness.h"

#define BS 4096u
#define NZ 6u
#define ZS (64u << 10)
#define ZBLOCKS (ZS / BS)
#define ERR (-ENOSPC) /* an errno no other path returns */

/* ---- contents ------------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The bytes stamp @stamp puts at absolute offset @off; stamp 0 is zeros. */
static void fill(void *buf, uint64_t len, uint64_t off, uint32_t stamp)
{
	uint64_t *p = buf;

	for (uint64_t i = 0; i < len / 8; i++)
		p[i] = stamp ? mix64((uint64_t)stamp << 32 | ((off >> 3) + i)) +
				       1 :
			       0;
}

/* Does [off, off + len) of @dev hold @stamp? */
static int holds(struct zvd_dev *dev, uint64_t off, uint64_t len,
		 uint32_t stamp)
{
	uint8_t *got, *want;
	int ok;

	if (!len)
		return 1;
	got = malloc(len);
	want = malloc(len);
	ok = got && want && zvd_read(dev, got, len, off) == 0;

	if (ok) {
		fill(want, len, off, stamp);
		ok = !memcmp(got, want, len);
	}
	free(got);
	free(want);
	return ok;
}

static void geometry(struct zvd_geometry *g)
{
	memset(g, 0, sizeof(*g));
	g->size = (uint64_t)ZS * NZ;
	g->zone_size = ZS;
	g->zone_capacity = ZS;
	g->block_size = BS;
	g->nr_conv_zones = 1;
}

static int write_stamp(struct zvd_dev *dev, uint64_t off, uint64_t len,
		       uint32_t stamp, unsigned flags)
{
	uint8_t *buf = malloc(len);
	int rc;

	if (!buf)
		return -ENOMEM;
	fill(buf, len, off, stamp);
	rc = zvd_write(dev, buf, len, off, flags);
	free(buf);
	return rc;
}

static int append_stamp(struct zvd_dev *dev, uint32_t zone, uint64_t off,
			uint64_t len, uint32_t stamp, uint64_t *where)
{
	uint8_t *buf = malloc(len);
	int rc;

	if (!buf)
		return -ENOMEM;
	fill(buf, len, off, stamp);
	rc = zvd_append(dev, zone, buf, len, 0, where);
	free(buf);
	return rc;
}

static uint64_t zone_written(struct zvd_dev *dev, uint32_t zone)
{
	struct zvd_zone z;

	if (zvd_report(dev, zone, ZVD_REPORT_ALL, &z, 1) != 1)
		return UINT64_MAX;
	return z.written;
}

/* ---- a write whose backend write fails ----------------------------------- */

struct img {
	struct zvd_backend *be;	   /* the device's backend (it owns it) */
	struct zvd_backend *inner; /* mem under be, or NULL for a file */
	struct zvd_dev *dev;
	char dir[64], path[96];
};

static int img_create(struct img *im, int file)
{
	struct zvd_geometry g;
	int rc;

	memset(im, 0, sizeof(*im));
	geometry(&g);
	if (file) {
		snprintf(im->dir, sizeof(im->dir), "/tmp/zvd-ioerr-XXXXXX");
		if (!mkdtemp(im->dir))
			return -errno;
		snprintf(im->path, sizeof(im->path), "%s/img", im->dir);
		rc = zvd_backend_file_open(im->path, ZVD_FILE_CREATE, &im->be);
	} else {
		rc = zvd_backend_mem_create(&im->inner);
		if (!rc)
			rc = zvd_backend_crash_create(im->inner, 5, &im->be);
	}
	if (rc)
		return rc;
	rc = zvd_create(im->be, &g, &im->dev);
	if (rc) {
		zvd_backend_close(im->be);
		im->be = NULL;
	}
	return rc;
}

/* Close and open again; check the image in between. */
static int img_reopen(struct img *im, int *problems)
{
	struct zvd_backend *ro = NULL;
	int rc;

	zvd_close(im->dev);
	im->dev = NULL;
	im->be = NULL;
	if (im->inner) {
		*problems = zvd_check(im->inner, NULL, NULL);
		rc = zvd_backend_crash_create(im->inner, 6, &im->be);
	} else {
		rc = zvd_backend_file_open(im->path, ZVD_FILE_READONLY, &ro);
		if (rc)
			return rc;
		*problems = zvd_check(ro, NULL, NULL);
		zvd_backend_close(ro);
		rc = zvd_backend_file_open(im->path, 0, &im->be);
	}
	if (rc)
		return rc;
	rc = zvd_open(im->be, 0, &im->dev);
	if (rc) {
		zvd_backend_close(im->be);
		im->be = NULL;
	}
	return rc;
}

static void img_destroy(struct img *im)
{
	zvd_close(im->dev);
	im->dev = NULL;
	zvd_backend_close(im->inner);
	if (im->path[0])
		unlink(im->path);
	if (im->dir[0])
		rmdir(im->dir);
}

static void write_error(int file)
{
	struct zvd_error err;
	struct img im;
	const uint64_t z2 = 2 * ZS, z3 = 3 * ZS;
	uint64_t where = 0;
	int problems = -1;

	CHECK_EQ(img_create(&im, file), 0);
	CHECK_EQ(write_stamp(im.dev, z2, 2 * BS, 1, 0), 0);

	/* a write at the write pointer whose backend write fails */
	CHECK_EQ(zvd_backend_inject_write_error(im.be, 1, ERR, 0), 0);
	CHECK_EQ(write_stamp(im.dev, z2 + 2 * BS, 3 * BS, 2, 0), ERR);
	zvd_last_error(im.dev, &err);
	CHECK_EQ(err.status, ZVD_IO_ERROR);
	CHECK_EQ(err.err, ERR);
	CHECK_EQ(zone_written(im.dev, 2), 2 * BS);
	CHECK(holds(im.dev, z2 + 2 * BS, 3 * BS, 0));
	/* the fault has cleared: the same write at the same place works */
	CHECK_EQ(write_stamp(im.dev, z2 + 2 * BS, 3 * BS, 2, 0), 0);
	CHECK_EQ(zone_written(im.dev, 2), 5 * BS);

	/* the same for a FUA write */
	CHECK_EQ(zvd_backend_inject_write_error(im.be, 1, ERR, 0), 0);
	CHECK_EQ(write_stamp(im.dev, z2 + 5 * BS, BS, 3, ZVD_WRITE_FUA), ERR);
	CHECK_EQ(zone_written(im.dev, 2), 5 * BS);
	CHECK_EQ(write_stamp(im.dev, z2 + 5 * BS, BS, 3, ZVD_WRITE_FUA), 0);

	/* and for an append: it lands where the failed one would have */
	CHECK_EQ(append_stamp(im.dev, 3, z3, 2 * BS, 4, &where), 0);
	CHECK_EQ(where, z3);
	CHECK_EQ(zvd_backend_inject_write_error(im.be, 1, ERR, 0), 0);
	where = 12345;
	CHECK_EQ(append_stamp(im.dev, 3, z3 + 2 * BS, BS, 5, &where), ERR);
	CHECK_EQ(zone_written(im.dev, 3), 2 * BS);
	CHECK_EQ(append_stamp(im.dev, 3, z3 + 2 * BS, BS, 5, &where), 0);
	CHECK_EQ(where, z3 + 2 * BS);

	/* a conventional write: the block is old or new, and a retry works */
	CHECK_EQ(write_stamp(im.dev, BS, BS, 6, 0), 0);
	CHECK_EQ(zvd_backend_inject_write_error(im.be, 1, ERR, 0), 0);
	CHECK_EQ(write_stamp(im.dev, BS, BS, 7, 0), ERR);
	CHECK(holds(im.dev, BS, BS, 6) || holds(im.dev, BS, BS, 7));
	CHECK_EQ(write_stamp(im.dev, BS, BS, 7, 0), 0);

	/* all of it survives a close and reopen */
	CHECK_EQ(zvd_close(im.dev), 0);
	im.dev = NULL;
	CHECK_EQ(img_reopen(&im, &problems), 0);
	CHECK_EQ(problems, 0);
	CHECK_EQ(zone_written(im.dev, 2), 6 * BS);
	CHECK_EQ(zone_written(im.dev, 3), 3 * BS);
	CHECK(holds(im.dev, z2, 2 * BS, 1));
	CHECK(holds(im.dev, z2 + 2 * BS, 3 * BS, 2));
	CHECK(holds(im.dev, z2 + 5 * BS, BS, 3));
	CHECK(holds(im.dev, z2 + 6 * BS, ZS - 6 * BS, 0));
	CHECK(holds(im.dev, z3, 2 * BS, 4));
	CHECK(holds(im.dev, z3 + 2 * BS, BS, 5));
	CHECK(holds(im.dev, 0, BS, 0));
	CHECK(holds(im.dev, BS, BS, 7));
	img_destroy(&im);
}

static void test_write_error_mem(void)
{
	write_error(0);
}

static void test_write_error_file(void)
{
	write_error(1);
}

/* A sticky fault fails every write, moves nothing, and clears on demand. */
static void sticky_error(int file)
{
	struct img im;
	const uint64_t z4 = 4 * ZS;
	uint64_t where;
	int problems = -1;

	CHECK_EQ(img_create(&im, file), 0);
	CHECK_EQ(write_stamp(im.dev, z4, BS, 1, 0), 0);
	CHECK_EQ(zvd_backend_inject_write_error(im.be, 1, -EIO, 1), 0);
	for (int i = 0; i < 5; i++) {
		CHECK_EQ(write_stamp(im.dev, z4 + BS, BS, 2, 0), -EIO);
		CHECK_EQ(append_stamp(im.dev, 4, z4 + BS, BS, 2, &where), -EIO);
		CHECK_EQ(zone_written(im.dev, 4), BS);
	}
	CHECK_EQ(zvd_backend_inject_write_error(im.be, 0, 0, 0), 0);
	CHECK_EQ(write_stamp(im.dev, z4 + BS, BS, 2, 0), 0);
	CHECK_EQ(zone_written(im.dev, 4), 2 * BS);
	CHECK_EQ(zvd_close(im.dev), 0);
	im.dev = NULL;
	CHECK_EQ(img_reopen(&im, &problems), 0);
	CHECK_EQ(problems, 0);
	CHECK_EQ(zone_written(im.dev, 4), 2 * BS);
	CHECK(holds(im.dev, z4, BS, 1));
	CHECK(holds(im.dev, z4 + BS, BS, 2));
	img_destroy(&im);
}

static void test_sticky_error_mem(void)
{
	sticky_error(0);
}

static void test_sticky_error_file(void)
{
	sticky_error(1);
}

/*
 * A flush whose write-back fails (the fault sits on the mem backend under
 * the crash backend, so it fires when held writes go down) returns the
 * error. Then the power is cut: the data the failed flush covered may be
 * lost, but only as a suffix, and what an earlier flush covered is there.
 */
static void test_flush_error_then_cut(void)
{
	struct img im;
	const uint64_t z1 = 1 * ZS;
	uint64_t w;
	int problems = -1, rc;

	CHECK_EQ(img_create(&im, 0), 0);
	CHECK_EQ(write_stamp(im.dev, z1, 2 * BS, 1, 0), 0);
	CHECK_EQ(zvd_flush(im.dev), 0);
	CHECK_EQ(write_stamp(im.dev, z1 + 2 * BS, 4 * BS, 2, 0), 0);
	CHECK_EQ(zvd_backend_inject_write_error(im.inner, 1, ERR, 0), 0);
	rc = zvd_flush(im.dev);
	CHECK_EQ(rc, ERR);
	CHECK_EQ(zvd_backend_inject_write_error(im.inner, 0, 0, 0), 0);
	CHECK_EQ(zvd_crash_cut(im.be), 0);
	CHECK_EQ(img_reopen(&im, &problems), 0);
	CHECK_EQ(problems, 0);
	w = zone_written(im.dev, 1);
	CHECK(w >= 2 * BS && w <= 6 * BS);
	CHECK(holds(im.dev, z1, 2 * BS, 1));
	CHECK(holds(im.dev, z1 + 2 * BS, w - 2 * BS, 2));
	CHECK(holds(im.dev, z1 + w, ZS - w, 0));
	img_destroy(&im);
}

/* The same failed flush, then the fault clears and the device is closed
 * cleanly (closing flushes): everything is there after the reopen. */
static void test_flush_error_then_close(void)
{
	struct img im;
	const uint64_t z1 = 1 * ZS;
	uint64_t w;
	int problems = -1, rc;

	CHECK_EQ(img_create(&im, 0), 0);
	CHECK_EQ(write_stamp(im.dev, z1, 2 * BS, 1, 0), 0);
	CHECK_EQ(zvd_backend_inject_write_error(im.inner, 1, ERR, 0), 0);
	CHECK_EQ(zvd_flush(im.dev), ERR);
	CHECK_EQ(zvd_backend_inject_write_error(im.inner, 0, 0, 0), 0);
	rc = zvd_close(im.dev);
	im.dev = NULL;
	CHECK_EQ(img_reopen(&im, &problems), 0);
	CHECK_EQ(problems, 0);
	w = zone_written(im.dev, 1);
	if (rc == 0) /* closing flushed after all: everything is there */
		CHECK_EQ(w, 2 * BS);
	else
		printf("# zvd_close after a failed flush: %d\n", rc);
	CHECK(w <= 2 * BS);
	CHECK(holds(im.dev, z1, w, 1));
	CHECK(holds(im.dev, z1 + w, ZS - w, 0));
	img_destroy(&im);
}

/* ---- the fault at every backend write of a scripted workload ------------- */

enum sop_kind { S_WRITE, S_APPEND, S_CONV, S_FLUSH, S_OPEN, S_CLOSE,
		S_FINISH, S_RESET };

struct sop {
	enum sop_kind kind;
	uint32_t zone;
	uint32_t block;	  /* S_CONV: first block */
	uint32_t nblocks;
	unsigned flags;
};

static const struct sop script[] = {
	{ S_WRITE, 2, 0, 2, 0 },
	{ S_WRITE, 2, 0, 1, ZVD_WRITE_FUA },
	{ S_APPEND, 3, 0, 1, 0 },
	{ S_FLUSH, 0, 0, 0, 0 },
	{ S_OPEN, 4, 0, 0, 0 },
	{ S_WRITE, 4, 0, 1, 0 },
	{ S_CONV, 0, 0, 2, 0 },
	{ S_FINISH, 3, 0, 0, 0 },
	{ S_RESET, 2, 0, 0, 0 },
	{ S_WRITE, 2, 0, 1, 0 },
	{ S_APPEND, 5, 0, 3, 0 },
	{ S_CLOSE, 4, 0, 0, 0 },
	{ S_FLUSH, 0, 0, 0, 0 },
	{ S_WRITE, 4, 0, 1, 0 },
	{ S_CONV, 0, 1, 2, ZVD_WRITE_FUA },
	{ S_WRITE, 5, 0, 2, 0 },
	{ S_RESET, 5, 0, 0, 0 },
	{ S_APPEND, 2, 0, 2, 0 },
};

#define NSCRIPT (sizeof(script) / sizeof(script[0]))

/* Per sequential zone: stamps of blocks below hi; conventional blocks:
 * the current and the durable stamp. */
struct smodel {
	struct {
		uint32_t lo, hi; /* blocks */
		int fin;
		uint32_t stamp[ZBLOCKS];
	} z[NZ];
	uint32_t conv_cur[ZBLOCKS], conv_dur[ZBLOCKS];
};

static void smodel_flush(struct smodel *m)
{
	for (uint32_t i = 0; i < NZ; i++)
		m->z[i].lo = m->z[i].hi;
	memcpy(m->conv_dur, m->conv_cur, sizeof(m->conv_dur));
}

/* Record a successful @op (@done) or, for a failed zone operation, the
 * state if it happened anyway (only its zone made durable). */
static void sapply(struct smodel *m, const struct sop *op, uint32_t stamp,
		   int done)
{
	typeof(&m->z[0]) z = &m->z[op->zone];

	if (op->kind >= S_FLUSH) {
		if (done)
			smodel_flush(m);
		else
			z->lo = z->hi;
	}
	switch (op->kind) {
	case S_WRITE:
	case S_APPEND:
		for (uint32_t b = 0; b < op->nblocks; b++)
			z->stamp[z->hi + b] = stamp;
		z->hi += op->nblocks;
		if (done && (op->flags & ZVD_WRITE_FUA))
			z->lo = z->hi;
		break;
	case S_CONV:
		for (uint32_t b = op->block; b < op->block + op->nblocks; b++) {
			m->conv_cur[b] = stamp;
			if (done && (op->flags & ZVD_WRITE_FUA))
				m->conv_dur[b] = stamp;
		}
		break;
	case S_FINISH:
		z->fin = 1;
		break;
	case S_RESET:
		memset(z, 0, sizeof(*z));
		break;
	default:
		break;
	}
}

static int srun(struct zvd_dev *dev, const struct smodel *m,
		const struct sop *op, uint32_t stamp)
{
	uint64_t start = (uint64_t)op->zone * ZS, where = UINT64_MAX;
	uint64_t off = start + (uint64_t)m->z[op->zone].hi * BS;
	uint64_t len = (uint64_t)op->nblocks * BS;
	static const enum zvd_zone_op zop[] = {
		[S_OPEN] = ZVD_OP_OPEN, [S_CLOSE] = ZVD_OP_CLOSE,
		[S_FINISH] = ZVD_OP_FINISH, [S_RESET] = ZVD_OP_RESET,
	};
	int rc;

	switch (op->kind) {
	case S_WRITE:
		return write_stamp(dev, off, len, stamp, op->flags);
	case S_APPEND:
		rc = append_stamp(dev, op->zone, off, len, stamp, &where);
		return rc == 0 && where != off ? -EBADMSG : rc;
	case S_CONV:
		return write_stamp(dev, (uint64_t)op->block * BS, len, stamp,
				   op->flags);
	case S_FLUSH:
		return zvd_flush(dev);
	default:
		return zvd_zone_mgmt(dev, zop[op->kind], op->zone);
	}
}

static char why[256];
static int met[S_RESET + 1]; /* how often each kind met the fault */
static const char *const sop_names[] = {
	"write", "append", "conv-write", "flush", "open", "close", "finish",
	"reset",
};

/* The reopened device against @m (exact when @exact). */
static int sverify(struct zvd_dev *dev, const struct smodel *m, int exact)
{
	struct zvd_zone r[NZ];

	if (zvd_report(dev, 0, ZVD_REPORT_ALL, r, NZ) != NZ)
		return snprintf(why, sizeof(why), "report failed");
	for (uint32_t b = 0; b < ZBLOCKS; b++) {
		uint64_t off = (uint64_t)b * BS;

		if (!holds(dev, off, BS, m->conv_cur[b]) &&
		    (exact || !holds(dev, off, BS, m->conv_dur[b])))
			return snprintf(why, sizeof(why),
					"conventional block %u: neither stamp "
					"%u nor %u", b, m->conv_cur[b],
					m->conv_dur[b]);
	}
	for (uint32_t i = 1; i < NZ; i++) {
		uint64_t start = (uint64_t)i * ZS, w = r[i].written / BS;
		uint32_t lo = exact ? m->z[i].hi : m->z[i].lo;

		if (m->z[i].fin) {
			if (r[i].cond != ZVD_COND_FULL)
				return snprintf(why, sizeof(why),
						"zone %u: %s, finished", i,
						zvd_cond_name(r[i].cond));
			w = m->z[i].hi;
		} else if (w < lo || w > m->z[i].hi || r[i].written % BS ||
			   r[i].cond == ZVD_COND_FULL) {
			return snprintf(why, sizeof(why),
					"zone %u: %s written %" PRIu64
					", expected %u..%u blocks", i,
					zvd_cond_name(r[i].cond), r[i].written,
					lo, m->z[i].hi);
		}
		for (uint32_t b = 0; b < ZBLOCKS; b++)
			if (!holds(dev, start + (uint64_t)b * BS, BS,
				   b < w ? m->z[i].stamp[b] : 0))
				return snprintf(why, sizeof(why),
						"zone %u block %u (written %"
						PRIu64 " blocks): wrong data",
						i, b, w);
	}
	return 0;
}

/*
 * The fault at the @n-th backend write. @ending 0: clear it and close
 * cleanly; 1: cut the power. Returns 1 when no operation met the fault
 * (n is past the end of the script), 0 when all held, -1 on a failure.
 */
static int script_with_fault(uint64_t n, int ending)
{
	struct smodel *m = calloc(1, sizeof(*m)), *alt = calloc(1, sizeof(*m));
	struct zvd_error err;
	struct img im;
	int failed = -1, have_alt = 0, problems = -1, rc, close_rc = 0;
	int ret = -1;

	why[0] = 0;
	if (!m || !alt || img_create(&im, 0)) {
		snprintf(why, sizeof(why), "setup failed");
		goto out_free;
	}
	if (zvd_flush(im.dev) ||
	    zvd_backend_inject_write_error(im.be, n, ERR, 0)) {
		snprintf(why, sizeof(why), "setup flush/inject failed");
		goto out;
	}
	for (uint32_t i = 0; i < NSCRIPT; i++) {
		const struct sop *op = &script[i];
		uint32_t stamp = 100 + i;

		rc = srun(im.dev, m, op, stamp);
		if (rc == 0) {
			sapply(m, op, stamp, 1);
			continue;
		}
		if (rc != ERR || failed >= 0) {
			zvd_last_error_text(im.dev, why, sizeof(why));
			fprintf(stdout, "# op %u: %d (%s)\n", i, rc, why);
			snprintf(why, sizeof(why),
				 "op %u returned %d; expected %s", i, rc,
				 failed >= 0 ?
					 "success (the fault has cleared)" :
					 "0 or the injected error");
			goto out;
		}
		failed = (int)i;
		met[op->kind] += ending == 0;
		if (getenv("ZVD_DEBUG") && ending == 0) /* which op met it */
			printf("# n %" PRIu64 ": op %u (%s) met the fault\n",
			       n, i, sop_names[op->kind]);
		zvd_last_error(im.dev, &err);
		if (err.err != ERR || err.status != ZVD_IO_ERROR) {
			snprintf(why, sizeof(why), "op %u: last error %s %d", i,
				 zvd_status_name(err.status), err.err);
			goto out;
		}
		if (op->kind == S_WRITE || op->kind == S_APPEND) {
			uint64_t now = zone_written(im.dev, op->zone);
			uint64_t was = (uint64_t)m->z[op->zone].hi * BS;

			if (now != was &&
			    (!(op->flags & ZVD_WRITE_FUA) ||
			     now != was + (uint64_t)op->nblocks * BS)) {
				snprintf(why, sizeof(why),
					 "op %u: failed write moved the write "
					 "pointer", i);
				goto out;
			}
			if (now != was) {
				/* docs/ZONED.md: a FUA write whose data landed
				 * but whose flush failed has happened, like a
				 * write followed by a failed flush */
				sapply(m, op, stamp, 0);
				if (zvd_flush(im.dev)) {
					snprintf(why, sizeof(why), "op %u: flush "
						 "after the fault cleared", i);
					goto out;
				}
				smodel_flush(m);
				continue;
			}
		}
		if (op->kind <= S_CONV) {
			/* the fault has cleared: the retry succeeds */
			rc = srun(im.dev, m, op, stamp);
			if (rc) {
				snprintf(why, sizeof(why), "op %u: retry after "
					 "the fault cleared: %d", i, rc);
				goto out;
			}
			sapply(m, op, stamp, 1);
			continue;
		}
		/* a flush or zone operation failed: stop here */
		if (op->kind != S_FLUSH) {
			memcpy(alt, m, sizeof(*m));
			sapply(alt, op, stamp, 0);
			have_alt = 1;
		}
		break;
	}
	zvd_backend_inject_write_error(im.be, 0, 0, 0);
	if (ending) {
		zvd_crash_cut(im.be);
	} else {
		close_rc = zvd_close(im.dev);
		im.dev = NULL;
		if (close_rc == 0) {
			smodel_flush(m);
			smodel_flush(alt);
		}
	}
	rc = img_reopen(&im, &problems);
	if (rc || problems) {
		snprintf(why, sizeof(why), "reopen %d, zvd_check %d", rc,
			 problems);
		goto out;
	}
	if (sverify(im.dev, m, !ending && !close_rc) &&
	    (!have_alt || sverify(im.dev, alt, !ending && !close_rc)))
		goto out;
	ret = failed < 0 ? 1 : 0;
out:
	img_destroy(&im);
out_free:
	free(m);
	free(alt);
	if (ret < 0)
		printf("# fault at backend write %" PRIu64 ", %s: %s\n", n,
		       ending ? "power cut" : "clean close", why);
	return ret;
}

static void test_fault_at_every_write(void)
{
	int failures = 0, quiet = 0, last = 0;
	uint64_t n;

	/* Go on until 25 faults in a row met nothing that failed: a fault
	 * may be absorbed (a discard that fails, say), and the data is still
	 * checked after each run. */
	for (n = 1; n < 1000 && quiet < 25; n++) {
		int rc = script_with_fault(n, 0);

		failures += rc < 0;
		failures += script_with_fault(n, 1) < 0;
		quiet = rc == 1 ? quiet + 1 : 0;
		if (rc != 1)
			last = (int)n;
	}
	printf("# the last fault that failed an operation: backend write %d;"
	       " met by:", last);
	for (int k = 0; k <= S_RESET; k++)
		printf(" %s %d", sop_names[k], met[k]);
	printf("\n");
	CHECK_EQ(failures, 0);
	CHECK(last > 5); /* the script does reach the backend */
	for (int k = 0; k <= S_RESET; k++)
		CHECK(met[k] > 0); /* every kind of operation met it */
}

int main(void)
{
	RUN(test_write_error_mem);
	RUN(test_write_error_file);
	RUN(test_sticky_error_mem);
	RUN(test_sticky_error_file);
	RUN(test_flush_error_then_cut);
	RUN(test_flush_error_then_close);
	RUN(test_fault_at_every_write);
	HARNESS_EXIT();
}

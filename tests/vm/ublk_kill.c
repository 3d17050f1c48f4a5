// SPDX-License-Identifier: MIT
/*
 * ublk_kill.c - the ublk kill campaign (issue 6): kill -9 'zvd serve
 * --ublk' on a volume (or a zoned image) at random moments under a
 * verifying load, restart it with the same --id, check the image and read
 * the whole device back against a model. Built -static so it runs in
 * the busybox guest (tests/vm/guest/ublk_kill.sh drives it).
 *
 *   ublk_kill --zvd ZVD --image IMG [--kills N] [--seed S] [--threads T]
 *             [--max-delay-ms MS] [--queues Q] [--depth D] [--log FILE]
 *
 * The load: T threads, each with one synchronous O_DIRECT request at a
 * time on /dev/ublkbN: writes of 1-16 whole 4 KiB blocks (some with
 * RWF_DSYNC, which the block layer sends as FUA), BLKDISCARD and
 * BLKZEROOUT of 1-16 blocks, and fdatasync() (a FLUSH) every so often.
 * No two requests in flight touch the same block, so a block's history
 * is in the order the server applied it. Every 512-byte sector written
 * says what it is (magic, block, generation, sector, a fill derived from
 * those and a checksum), so a sector read back is zeros, exactly one
 * sector some write of this block sent, or garbage.
 *
 * The model (as tests/kill/nbd_kill.py's): each acknowledgement takes the
 * next number of a counter; an fdatasync notes the counter when called
 * and, once it returns, raises the floor to it; a FUA write is durable
 * itself and, on a volume, raises the floor to the counter when it was
 * sent (docs/VOLUMES.md: everything acknowledged before a FUA write or a
 * flush that returned). After a kill each block must hold its floor
 * operation (the last acknowledged at or below the floor, or durable) or
 * one sent after it, acknowledged or not, in all 8 sectors:
 *   - an older value (or zeros where nothing after the floor zeroed it)
 *     is a lost flushed write;
 *   - a sector that is no stamp of this block, a generation never sent to
 *     this block, or sectors of different operations in one block (a
 *     torn block: a volume never overwrites in place) are wrong bytes;
 *   - an operation sent after another was acknowledged surviving while
 *     that other is lost is a prefix violation.
 * What was read becomes the next cycle's baseline. After every kill
 * 'zvd check IMG' must say clean; an I/O error before the kill, a server
 * that dies by itself or does not come back fails the campaign.
 *
 * A zoned device (sequential zones only) gets a load of its own: thread
 * t owns zones t, t + T, ... and writes 1-16 blocks at a zone's write
 * pointer (some FUA), resets a full zone (and now and then another), and
 * calls fdatasync every so often. Each reset starts a new epoch whose
 * generation stamps the zone's blocks. After a kill a zone must be in the
 * epoch of its floor operation with the write pointer at or above where
 * that left it, or in a later epoch, and at most where anything sent in
 * that epoch ended; every block below the write pointer must be exactly
 * the epoch's stamp. An older epoch or a lower write pointer is a lost
 * flushed write (or reset); anything else out of line is wrong bytes.
 *
 * Prints "# " lines (problems, the summary) and a last line "RESULT ok"
 * or "RESULT fail"; exits 1 on failure. stderr shows each cycle's
 * progress and where its time went.
 *
 * Sections: content, the model, the server, the load (volume, zoned),
 * verification (volume, zoned), main.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/blkzoned.h>
#include <linux/fs.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BS 4096u
#define SECT 512u
#define SPB (BS / SECT)
#define MAXN 16u		/* blocks per request */
#define CHUNK (1u << 20)	/* read-back unit */
#define NOACK UINT64_MAX
#define MAXTHREADS 32
#define MAXPROBLEMS 20

static const char MAGIC[8] = "ZVDUKIL1";

/* ------------------------------------------------------------- content */

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint32_t fnv32(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

/* The 512 bytes sector s of block blk holds after generation gen:
 * magic, blk, gen, s, a fill, and the FNV-1a hash of all that. */
static void stamp(uint8_t *p, uint64_t blk, uint64_t gen, uint32_t s)
{
	uint64_t x = mix(blk * 0x100000001b3ull ^ mix(gen) ^ s), h;
	uint32_t i;

	memcpy(p, MAGIC, 8);
	memcpy(p + 8, &blk, 8);
	memcpy(p + 16, &gen, 8);
	memcpy(p + 24, &s, 4);
	for (i = 28; i + 8 <= SECT - 4; i += 8) {
		x = mix(x);
		memcpy(p + i, &x, 8);
	}
	/* 28 + 8k leaves 4 bytes before the hash: fill them too */
	x = mix(x);
	memcpy(p + i, &x, SECT - 4 - i);
	h = fnv32(p, SECT - 4);
	memcpy(p + SECT - 4, &h, 4);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/* 0 for zeros, the generation of a sector some write of blk sent, -1
 * for anything else (*why says what). */
static int64_t sector_value(const uint8_t *p, uint64_t blk, uint32_t s,
			    char *why, size_t whylen)
{
	uint8_t want[SECT];
	uint64_t b, gen;
	uint32_t si;

	if (all_zero(p, SECT))
		return 0;
	memcpy(&b, p + 8, 8);
	memcpy(&gen, p + 16, 8);
	memcpy(&si, p + 24, 4);
	if (memcmp(p, MAGIC, 8)) {
		snprintf(why, whylen, "sector %u is garbage %02x%02x%02x%02x%02x%02x%02x%02x",
			 s, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);
		return -1;
	}
	if (b != blk || si != s || gen == 0 || gen > INT64_MAX) {
		snprintf(why, whylen, "sector %u is block %" PRIu64 " gen %"
			 PRIu64 " sector %u", s, b, gen, si);
		return -1;
	}
	stamp(want, blk, gen, s);
	if (memcmp(p, want, SECT)) {
		snprintf(why, whylen, "sector %u is gen %" PRIu64
			 " damaged", s, gen);
		return -1;
	}
	return (int64_t)gen;
}

/* ------------------------------------------------------------ the model */

struct op {
	uint64_t gen;		/* the value its blocks hold: 0 for zeros */
	uint64_t id;		/* unique, for the prefix check */
	uint64_t sent;		/* the acknowledgement counter when sent */
	uint64_t ack;		/* its acknowledgement number, or NOACK */
	bool durable;		/* a FUA write that returned */
};

struct hist {
	uint32_t *ops;		/* indexes into model.ops, in order */
	uint32_t n, cap;
	uint64_t base;		/* the value read back at the last check */
};

struct stats {
	uint64_t writes, fua, zeroes, flushes, errors, blocks;
	uint64_t lost, wrong, unordered;
};

/* Zoned images: one operation on a zone, a write up to end (blocks from
 * the zone start) in epoch gen, or a reset starting epoch gen. */
struct zop {
	uint64_t gen, end, sent, ack;
	bool reset, durable;
};

struct zone {
	uint64_t start, cap;	/* blocks */
	uint64_t gen, wp;	/* the owning thread's view: epoch, blocks */
	struct zop *ops;	/* since the last check, in order */
	uint32_t n, capops;
	uint64_t base_gen, base_wp;	/* read back at the last check */
};

struct model {
	pthread_mutex_t lock;
	uint64_t nblocks;
	bool zoned;
	struct zone *z;
	unsigned nz;
	uint64_t gen, ids, acks, floor;
	struct op *ops;
	uint32_t nops, capops;
	struct hist *h;
	uint8_t *busy;
	struct stats st;
	bool killed;		/* set just before the kill */
	char error[256];	/* an I/O error while the server was alive */
};

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("# ublk_kill: ");
	vprintf(fmt, ap);
	printf("\nRESULT fail\n");
	va_end(ap);
	exit(1);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p)
		die("out of memory");
	return p;
}

/* A new operation (lock held); returns its index. */
static uint32_t model_op(struct model *m, uint64_t gen)
{
	struct op *o;

	if (m->nops == m->capops) {
		m->capops = m->capops ? 2 * m->capops : 4096;
		m->ops = xrealloc(m->ops, m->capops * sizeof(*m->ops));
	}
	o = &m->ops[m->nops];
	o->gen = gen;
	o->id = ++m->ids;
	o->sent = m->acks;
	o->ack = NOACK;
	o->durable = false;
	return m->nops++;
}

static void hist_add(struct hist *h, uint32_t op)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 4;
		h->ops = xrealloc(h->ops, h->cap * sizeof(*h->ops));
	}
	h->ops[h->n++] = op;
}

/* The index in h->ops of the floor operation, -1 for the baseline. */
static int floor_index(const struct model *m, const struct hist *h)
{
	int f = -1;
	uint32_t i;

	for (i = 0; i < h->n; i++) {
		const struct op *o = &m->ops[h->ops[i]];

		if (o->ack != NOACK && (o->ack <= m->floor || o->durable))
			f = (int)i;
	}
	return f;
}

static void new_cycle(struct model *m)
{
	m->acks = m->floor = 0;
	m->nops = 0;
	m->killed = false;
	memset(m->busy, 0, m->nblocks);
}

/* ----------------------------------------------------------- the server */

struct server {
	const char *zvd, *img;
	unsigned queues, depth;
	int id;			/* -1 until the first start */
	pid_t pid;
	int out;		/* its stdout */
	char dev[128];
	const char *log;	/* its stderr goes here (appended) */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Start the server; 0 once /dev/ublkbN exists, else -1 (*err says why). */
static int server_start(struct server *s, char *err, size_t errlen)
{
	char q[16], d[16], id[16], line[128];
	const char *argv[16];
	int p[2], n = 0, logfd;
	size_t got = 0;
	double t0 = now();

	snprintf(q, sizeof(q), "%u", s->queues);
	snprintf(d, sizeof(d), "%u", s->depth);
	snprintf(id, sizeof(id), "%d", s->id);
	argv[n++] = s->zvd;
	argv[n++] = "serve";
	argv[n++] = "--ublk";
	argv[n++] = s->img;
	argv[n++] = "--queues";
	argv[n++] = q;
	argv[n++] = "--depth";
	argv[n++] = d;
	if (s->id >= 0) {
		argv[n++] = "--id";
		argv[n++] = id;
	}
	argv[n] = NULL;
	if (pipe2(p, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	s->pid = fork();
	if (s->pid < 0)
		die("fork: %s", strerror(errno));
	if (s->pid == 0) {
		logfd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(p[1], 1);
		if (logfd >= 0)
			dup2(logfd, 2);
		execv(s->zvd, (char **)argv);
		_exit(127);
	}
	close(p[1]);
	s->out = p[0];
	memset(line, 0, sizeof(line));
	while (got < sizeof(line) - 1 && !strchr(line, '\n')) {
		struct pollfd pf = { s->out, POLLIN, 0 };
		ssize_t k;

		if (now() - t0 > 60) {
			snprintf(err, errlen, "no device within 60 s");
			goto fail;
		}
		if (poll(&pf, 1, 1000) <= 0)
			continue;
		k = read(s->out, line + got, sizeof(line) - 1 - got);
		if (k <= 0) {
			snprintf(err, errlen, "the server exited before "
				 "announcing a device (see %s)", s->log);
			goto fail;
		}
		got += (size_t)k;
	}
	*strchr(line, '\n') = 0;
	snprintf(s->dev, sizeof(s->dev), "%s", line);
	if (strncmp(s->dev, "/dev/ublkb", 10)) {
		snprintf(err, errlen, "the server printed '%s'", s->dev);
		goto fail;
	}
	if (s->id < 0)
		s->id = atoi(s->dev + 10);
	return 0;
fail:
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	close(s->out);
	s->pid = 0;
	return -1;
}

/* Has the server died on its own? Returns its wait status or -1. */
static int server_dead(struct server *s)
{
	int st;

	if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
		s->pid = 0;
		return st;
	}
	return -1;
}

static void server_kill(struct server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	s->pid = 0;
	close(s->out);
}

/* SIGTERM and wait: its exit status (-1 if it had to be killed). */
static int server_stop(struct server *s)
{
	int st, i;

	kill(s->pid, SIGTERM);
	for (i = 0; i < 600; i++) {
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = 0;
			close(s->out);
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		sleep_ms(100);
	}
	server_kill(s);
	return -1;
}

/* Wait (30 s at most) for the dead server's device node to go. */
static bool dev_gone(const struct server *s)
{
	struct stat st;
	int i;

	for (i = 0; i < 300; i++) {
		if (stat(s->dev, &st))
			return true;
		sleep_ms(100);
	}
	return false;
}

/* 'zvd check IMG': NULL when clean, else its output (static). */
static const char *zvd_check(const struct server *s)
{
	static char out[512];
	int p[2], st;
	size_t got = 0;
	ssize_t k;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		execl(s->zvd, s->zvd, "check", s->img, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while (got < sizeof(out) - 1 &&
	       (k = read(p[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t)k;
	out[got] = 0;
	close(p[0]);
	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(out, "clean"))
		return NULL;
	for (k = 0; k < (ssize_t)got; k++)
		if (out[k] == '\n')
			out[k] = '|';
	return out;
}

/* ------------------------------------------------------------- the load */

enum kind { K_WRITE, K_FUA, K_DISCARD, K_ZEROOUT, K_FLUSH };

struct loader {
	struct model *m;
	int fd;
	uint64_t rng;
	volatile bool *stop;
	uint8_t *buf;
};

static uint64_t rnd(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ull;
	return mix(*s);
}

/* An I/O error: expected after the kill, a failure before it. */
static void io_error(struct model *m, const char *what, int err)
{
	m->st.errors++;
	if (!m->killed && !m->error[0])
		snprintf(m->error, sizeof(m->error),
			 "%s failed while the server was alive: %s", what,
			 strerror(err));
}

static int do_flush(struct loader *l)
{
	struct model *m = l->m;
	uint64_t fl;
	int rc;

	pthread_mutex_lock(&m->lock);
	fl = m->acks;
	pthread_mutex_unlock(&m->lock);
	rc = fdatasync(l->fd) ? errno : 0;
	pthread_mutex_lock(&m->lock);
	if (rc) {
		io_error(m, "fdatasync", rc);
	} else {
		m->st.flushes++;
		if (fl > m->floor)
			m->floor = fl;
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

/* One request on blocks [b, b + n); -1 if the range was busy, else 0 or
 * the errno of a failure. */
static int do_op(struct loader *l, enum kind k, uint64_t b, uint32_t n)
{
	struct model *m = l->m;
	uint64_t range[2] = { b * BS, (uint64_t)n * BS }, gen = 0;
	struct iovec iov = { l->buf, (size_t)n * BS };
	uint32_t i, s, oi;
	const char *what;
	ssize_t w;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	for (i = 0; i < n; i++)
		if (m->busy[b + i]) {
			pthread_mutex_unlock(&m->lock);
			return -1;
		}
	if (k == K_WRITE || k == K_FUA)
		gen = ++m->gen;
	oi = model_op(m, gen);
	for (i = 0; i < n; i++) {
		m->busy[b + i] = 1;
		hist_add(&m->h[b + i], oi);
	}
	pthread_mutex_unlock(&m->lock);

	switch (k) {
	case K_WRITE:
	case K_FUA:
		what = k == K_FUA ? "a RWF_DSYNC write" : "a write";
		for (i = 0; i < n; i++)
			for (s = 0; s < SPB; s++)
				stamp(l->buf + i * BS + s * SECT, b + i, gen, s);
		w = pwritev2(l->fd, &iov, 1, (off_t)(b * BS),
			     k == K_FUA ? RWF_DSYNC : 0);
		if (w < 0)
			rc = errno;
		else if (w != (ssize_t)iov.iov_len)
			rc = EIO;
		break;
	case K_DISCARD:
		what = "BLKDISCARD";
		rc = ioctl(l->fd, BLKDISCARD, range) ? errno : 0;
		break;
	default:
		what = "BLKZEROOUT";
		rc = ioctl(l->fd, BLKZEROOUT, range) ? errno : 0;
		break;
	}

	pthread_mutex_lock(&m->lock);
	if (rc) {
		io_error(m, what, rc);
	} else {
		struct op *o = &m->ops[oi];

		o->ack = ++m->acks;
		if (k == K_FUA) {
			o->durable = true;
			m->st.fua++;
			if (o->sent > m->floor)
				m->floor = o->sent;
		}
		if (k == K_DISCARD || k == K_ZEROOUT)
			m->st.zeroes++;
		else
			m->st.writes++;
	}
	for (i = 0; i < n; i++)
		m->busy[b + i] = 0;
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static void *load(void *arg)
{
	static const uint32_t sizes[] = { 1, 1, 1, 1, 2, 2, 4, 8, 16 };
	struct loader *l = arg;
	uint64_t nb = l->m->nblocks;

	while (!*l->stop) {
		uint64_t r = rnd(&l->rng) % 1000, b;
		uint32_t n = sizes[rnd(&l->rng) % (sizeof(sizes) / sizeof(*sizes))];
		enum kind k;
		int rc;

		if (r < 30) {
			if (do_flush(l))
				break;
			continue;
		}
		k = r < 50 ? K_DISCARD : r < 70 ? K_ZEROOUT : r < 120 ? K_FUA :
								   K_WRITE;
		b = rnd(&l->rng) % (nb - n + 1);
		rc = do_op(l, k, b, n);
		if (rc > 0)
			break;
	}
	return NULL;
}

/* Zoned images: the thread owns zones t, t + T, ...: writes at the write
 * pointer in the zone's epoch, a reset when the zone is full (and now and
 * then before), fdatasync every so often. */
static uint32_t zone_op(struct model *m, struct zone *z, bool reset,
			uint64_t end)
{
	struct zop *o;

	if (z->n == z->capops) {
		z->capops = z->capops ? 2 * z->capops : 16;
		z->ops = xrealloc(z->ops, z->capops * sizeof(*z->ops));
	}
	o = &z->ops[z->n];
	o->reset = reset;
	o->gen = reset ? ++m->gen : z->gen;
	o->end = reset ? 0 : end;
	o->sent = m->acks;
	o->ack = NOACK;
	o->durable = false;
	return z->n++;
}

static int zoned_op(struct loader *l, struct zone *z, enum kind k, uint32_t n)
{
	struct model *m = l->m;
	struct blk_zone_range r = { z->start * (BS / SECT), z->cap * (BS / SECT) };
	struct iovec iov = { l->buf, (size_t)n * BS };
	bool reset = z->wp == z->cap || k == K_DISCARD;
	uint32_t i, s, oi;
	uint64_t gen;
	ssize_t w;
	int rc = 0;

	if (!reset && n > z->cap - z->wp)
		n = (uint32_t)(z->cap - z->wp);
	pthread_mutex_lock(&m->lock);
	oi = zone_op(m, z, reset, z->wp + n);
	gen = z->ops[oi].gen;
	pthread_mutex_unlock(&m->lock);
	if (reset) {
		rc = ioctl(l->fd, BLKRESETZONE, &r) ? errno : 0;
	} else {
		iov.iov_len = (size_t)n * BS;
		for (i = 0; i < n; i++)
			for (s = 0; s < SPB; s++)
				stamp(l->buf + i * BS + s * SECT,
				      z->start + z->wp + i, gen, s);
		w = pwritev2(l->fd, &iov, 1, (off_t)((z->start + z->wp) * BS),
			     k == K_FUA ? RWF_DSYNC : 0);
		rc = w < 0 ? errno : w != (ssize_t)iov.iov_len ? EIO : 0;
	}
	pthread_mutex_lock(&m->lock);
	if (rc) {
		io_error(m, reset ? "BLKRESETZONE" : "a zone write", rc);
	} else {
		struct zop *o = &z->ops[oi];

		o->ack = ++m->acks;
		if (reset) {
			z->gen = gen;
			z->wp = 0;
			m->st.zeroes++;
		} else {
			z->wp += n;
			m->st.writes++;
			if (k == K_FUA) {
				o->durable = true;
				m->st.fua++;
			}
		}
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

struct zloader {
	struct loader l;
	unsigned t, nthreads;
};

static void *load_zoned(void *arg)
{
	static const uint32_t sizes[] = { 1, 1, 1, 1, 2, 2, 4, 8, 16 };
	struct zloader *zl = arg;
	struct loader *l = &zl->l;
	struct model *m = l->m;
	unsigned mine = zl->t < m->nz ?
		(m->nz - zl->t + zl->nthreads - 1) / zl->nthreads : 0;

	while (!*l->stop && mine) {
		uint64_t r = rnd(&l->rng) % 1000;
		uint32_t n = sizes[rnd(&l->rng) % (sizeof(sizes) / sizeof(*sizes))];
		struct zone *z = &m->z[zl->t + zl->nthreads * (rnd(&l->rng) % mine)];

		if (r < 30) {
			if (do_flush(l))
				break;
			continue;
		}
		if (zoned_op(l, z, r < 40 ? K_DISCARD : r < 90 ? K_FUA : K_WRITE, n))
			break;
	}
	return NULL;
}

/* -------------------------------------------------------- verification */

struct verifier {
	struct model *m;
	uint64_t seed;
	unsigned cycle;
	unsigned nproblems;
	uint64_t *seen;		/* per block: the op index it holds, or
				 * UINT64_MAX (baseline or ambiguous) */
};

static void problem(struct verifier *v, const char *fmt, ...)
{
	va_list ap;

	if (v->nproblems++ >= MAXPROBLEMS)
		return;
	printf("# seed %" PRIu64 " kill %u: ", v->seed, v->cycle);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* The values sent after the floor, for a message. */
static void after_floor(const struct model *m, const struct hist *h, int f,
			char *buf, size_t len)
{
	size_t at = 0;
	uint32_t i;

	buf[0] = 0;
	for (i = (uint32_t)(f + 1); i < h->n && at + 40 < len; i++) {
		const struct op *o = &m->ops[h->ops[i]];

		at += (size_t)snprintf(buf + at, len - at, "%s%" PRIu64 "%s",
				       at ? " " : "", o->gen,
				       o->ack == NOACK ? "?" : "");
		if (i - (uint32_t)f > 6) {
			snprintf(buf + at, len - at, " ...");
			break;
		}
	}
}

static void check_block(struct verifier *v, uint64_t blk, const uint8_t *data)
{
	struct model *m = v->m;
	struct hist *h = &m->h[blk];
	int f = floor_index(m, h), match = -2;
	char why[160] = "", after[200];
	int64_t val = -1, x;
	bool torn = false, bad = false, lost = false;
	uint64_t fval;
	uint32_t s, i;

	for (s = 0; s < SPB; s++) {
		char w[120];

		x = sector_value(data + s * SECT, blk, s, w, sizeof(w));
		if (x < 0) {
			if (!bad)
				snprintf(why, sizeof(why), "; %s", w);
			bad = true;
		} else if (val < 0) {
			val = x;
		} else if (x != val) {
			torn = true;
		}
	}
	fval = f < 0 ? h->base : m->ops[h->ops[f]].gen;
	v->seen[blk] = UINT64_MAX;
	if (!bad && !torn) {
		/* which operation left it: the floor, one after it, or older */
		if ((uint64_t)val == fval)
			match = f;
		for (i = (uint32_t)(f + 1); i < h->n; i++)
			if (m->ops[h->ops[i]].gen == (uint64_t)val)
				match = (int)i;
		if (match == -2) {
			if (val == 0 || (uint64_t)val == h->base)
				lost = true;
			for (i = 0; f >= 0 && i < (uint32_t)f; i++)
				if (m->ops[h->ops[i]].gen == (uint64_t)val)
					lost = true;
			if (!lost) {
				bad = true;
				snprintf(why, sizeof(why), "; gen %" PRId64
					 " was never written there", val);
			}
		} else if (match >= 0 && val != 0) {
			/* generations are unique: exactly this op */
			v->seen[blk] = h->ops[match];
		}
	}
	if (torn && !bad)
		snprintf(why, sizeof(why), "; torn: sectors of different "
			 "operations");
	bad |= torn;
	if (bad || lost) {
		after_floor(m, h, f, after, sizeof(after));
		problem(v, "block %" PRIu64 ": %s: holds %s%" PRId64
			", flushed value %" PRIu64 " (acked #%" PRIu64
			", floor #%" PRIu64 "), sent after it [%s]%s", blk,
			lost ? "lost flushed write" : "wrong bytes",
			torn || bad ? "about " : "", val, fval,
			f < 0 ? 0 : m->ops[h->ops[f]].ack, m->floor, after, why);
	}
	m->st.blocks++;
	m->st.lost += lost;
	m->st.wrong += bad;
	h->base = bad ? fval : (uint64_t)val;
}

/* Across all threads: no operation sent after another was acknowledged
 * may survive while that other is lost (checked before the histories are
 * reset; blocks whose value could come from several operations, zeros,
 * are skipped). */
static void check_order(struct verifier *v, uint64_t blk_lo, uint64_t blk_hi,
			const struct op **newest, uint64_t *nb,
			const struct op **lost, uint64_t *lb)
{
	struct model *m = v->m;
	uint64_t blk;
	uint32_t i, j;

	for (blk = blk_lo; blk < blk_hi; blk++) {
		struct hist *h = &m->h[blk];
		uint64_t held = v->seen[blk];
		const struct op *o;

		if (held == UINT64_MAX)
			continue;
		o = &m->ops[held];
		if (!*newest || o->sent > (*newest)->sent) {
			*newest = o;
			*nb = blk;
		}
		for (i = 0; i < h->n && h->ops[i] != held; i++)
			;
		for (j = i + 1; j < h->n; j++) {
			const struct op *a = &m->ops[h->ops[j]];

			if (a->ack == NOACK)
				continue;
			if (!*lost || a->ack < (*lost)->ack) {
				*lost = a;
				*lb = blk;
			}
			break;
		}
	}
}

/* Read the whole device back and check every block; reset the histories
 * to what was read. Returns 0, or -1 if reading failed. */
static int verify(struct verifier *v, const char *dev)
{
	struct model *m = v->m;
	const struct op *newest = NULL, *lost = NULL;
	uint64_t off, span = m->nblocks * BS, blk, nb = 0, lb = 0;
	uint8_t *buf;
	int fd = open(dev, O_RDONLY | O_DIRECT);

	if (fd < 0 || posix_memalign((void **)&buf, 4096, CHUNK)) {
		problem(v, "opening %s: %s", dev, strerror(errno));
		return -1;
	}
	/* first pass: values and what each block holds */
	for (off = 0; off < span; off += CHUNK) {
		size_t len = span - off < CHUNK ? span - off : CHUNK;
		ssize_t r = pread(fd, buf, len, (off_t)off);

		if (r != (ssize_t)len) {
			problem(v, "reading %s at %" PRIu64 ": %s", dev, off,
				r < 0 ? strerror(errno) : "short read");
			free(buf);
			close(fd);
			return -1;
		}
		for (blk = off / BS; blk < (off + len) / BS; blk++)
			check_block(v, blk, buf + (blk - off / BS) * BS);
	}
	check_order(v, 0, m->nblocks, &newest, &nb, &lost, &lb);
	if (newest && lost && lost->ack <= newest->sent) {
		m->st.unordered++;
		problem(v, "not a prefix: gen %" PRIu64 " (block %" PRIu64
			", acknowledged as #%" PRIu64 ") is lost but gen %"
			PRIu64 " (block %" PRIu64 ", sent after #%" PRIu64
			") survived", lost->gen, lb, lost->ack, newest->gen,
			nb, newest->sent);
	}
	for (blk = 0; blk < m->nblocks; blk++)
		m->h[blk].n = 0;
	free(buf);
	close(fd);
	return 0;
}

/* Zoned images: after a kill each zone must be in an epoch at or after
 * its floor operation's, with its write pointer at least where the floor
 * left it (0 in a later epoch) and at most where anything sent in that
 * epoch ended, and every block below the write pointer must be exactly
 * the epoch's stamp. An older epoch or a lower write pointer is a lost
 * flushed write (or reset); anything else out of line is wrong bytes. */
static int check_zone(struct verifier *v, int fd, struct zone *z,
		      const struct blk_zone *rep, uint8_t *buf)
{
	struct model *m = v->m;
	uint64_t wp, lo, hi, gen, fgen, obs = 0, b, fend;
	int f = -1, e = -1;
	uint32_t i, s;
	char why[160];
	int64_t x;
	bool lost = false, bad = false;

	for (i = 0; i < z->n; i++)
		if (z->ops[i].ack != NOACK &&
		    (z->ops[i].ack <= m->floor || z->ops[i].durable))
			f = (int)i;
	gen = fgen = f < 0 ? z->base_gen : z->ops[f].gen;
	fend = f < 0 ? z->base_wp : z->ops[f].end;
	if (rep->cond == BLK_ZONE_COND_FULL)
		wp = z->cap;
	else if (rep->cond == BLK_ZONE_COND_READONLY ||
		 rep->cond == BLK_ZONE_COND_OFFLINE || rep->wp < rep->start ||
		 (rep->wp - rep->start) % (BS / SECT))
		wp = UINT64_MAX;
	else
		wp = (rep->wp - rep->start) / (BS / SECT);
	if (wp == UINT64_MAX || wp > z->cap) {
		problem(v, "zone at block %" PRIu64 ": condition %u, write "
			"pointer sector %llu", z->start, rep->cond,
			(unsigned long long)rep->wp);
		m->st.wrong++;
		goto out;
	}
	if (wp > 0) {
		if (pread(fd, buf, BS, (off_t)(z->start * BS)) != BS) {
			problem(v, "reading zone at block %" PRIu64 ": %s",
				z->start, strerror(errno));
			return -1;
		}
		x = sector_value(buf, z->start, 0, why, sizeof(why));
		if (x <= 0) {
			problem(v, "zone at block %" PRIu64 ": write pointer "
				"%" PRIu64 " but its first block is not ours%s",
				z->start, wp, x < 0 ? why : " (zeros)");
			m->st.wrong++;
			goto out;
		}
		obs = (uint64_t)x;
	}
	/* the epochs it may be in: the floor's from fend, later ones from 0 */
	lo = fend;
	hi = fend;
	if (wp == 0 ? fend == 0 : obs == gen)
		e = 0;
	for (i = (uint32_t)(f + 1); i < z->n; i++) {
		if (z->ops[i].reset) {
			if (e >= 0)
				break;
			lo = hi = 0;
			gen = z->ops[i].gen;
			if (wp == 0 || obs == gen)
				e = 1;
		} else if (z->ops[i].end > hi) {
			hi = z->ops[i].end;
		}
	}
	if (e < 0) {
		lost = wp == 0 || obs < fgen;
		bad = !lost;
		problem(v, "zone at block %" PRIu64 ": %s: epoch %" PRIu64
			", write pointer %" PRIu64 "; flushed: epoch %" PRIu64
			" up to %" PRIu64, z->start,
			lost ? "lost flushed write or reset" : "wrong bytes",
			obs, wp, fgen, fend);
	} else if (wp < lo || wp > hi) {
		lost = wp < lo;
		bad = !lost;
		problem(v, "zone at block %" PRIu64 ": %s: write pointer %"
			PRIu64 ", flushed up to %" PRIu64 ", sent up to %" PRIu64,
			z->start, lost ? "lost flushed write" :
			"write pointer beyond what was sent", wp, lo, hi);
	}
	/* every block below the write pointer */
	for (b = 0; b < wp && !bad; b += CHUNK / BS) {
		uint64_t nb = wp - b < CHUNK / BS ? wp - b : CHUNK / BS, k;

		if (pread(fd, buf, nb * BS, (off_t)((z->start + b) * BS)) !=
		    (ssize_t)(nb * BS)) {
			problem(v, "reading zone at block %" PRIu64 ": %s",
				z->start, strerror(errno));
			return -1;
		}
		for (k = 0; k < nb; k++) {
			for (s = 0; s < SPB; s++) {
				x = sector_value(buf + k * BS + s * SECT,
						 z->start + b + k, s, why,
						 sizeof(why));
				if (x != (int64_t)obs) {
					problem(v, "zone at block %" PRIu64
						": block %" PRIu64 " below the "
						"write pointer %" PRIu64 " is not "
						"epoch %" PRIu64 ": %s", z->start,
						b + k, wp, obs, x < 0 ? why :
						x == 0 ? "zeros" : "another epoch");
					bad = true;
					break;
				}
			}
			if (bad)
				break;
			m->st.blocks++;
		}
	}
	m->st.lost += lost;
	m->st.wrong += bad && !lost;
out:
	z->n = 0;
	z->base_wp = wp == UINT64_MAX ? 0 : wp;
	z->base_gen = wp > 0 && wp != UINT64_MAX ? obs : ++m->gen;
	z->wp = z->base_wp;
	z->gen = z->base_gen;
	return 0;
}

static int verify_zoned(struct verifier *v, const char *dev)
{
	struct model *m = v->m;
	struct blk_zone_report *rep;
	uint8_t *buf;
	int fd = open(dev, O_RDONLY | O_DIRECT), rc = 0;
	unsigned i;

	rep = calloc(1, sizeof(*rep) + m->nz * sizeof(struct blk_zone));
	if (fd < 0 || !rep || posix_memalign((void **)&buf, 4096, CHUNK)) {
		problem(v, "opening %s: %s", dev, strerror(errno));
		return -1;
	}
	rep->nr_zones = m->nz;
	if (ioctl(fd, BLKREPORTZONE, rep) || rep->nr_zones != m->nz) {
		problem(v, "BLKREPORTZONE: %s", strerror(errno));
		rc = -1;
	}
	for (i = 0; rc == 0 && i < m->nz; i++)
		rc = check_zone(v, fd, &m->z[i], &rep->zones[i], buf);
	free(rep);
	free(buf);
	close(fd);
	return rc;
}

/* The zones of a zoned device (first start); 0 if it is not zoned. */
static int zones_init(struct model *m, int fd)
{
	unsigned nz = 0, zsec = 0, i;
	struct blk_zone_report *rep;

	if (ioctl(fd, BLKGETNRZONES, &nz) || !nz)
		return 0;
	if (ioctl(fd, BLKGETZONESZ, &zsec) || !zsec)
		die("BLKGETZONESZ: %s", strerror(errno));
	rep = calloc(1, sizeof(*rep) + nz * sizeof(struct blk_zone));
	m->z = calloc(nz, sizeof(*m->z));
	if (!rep || !m->z)
		die("out of memory");
	rep->nr_zones = nz;
	if (ioctl(fd, BLKREPORTZONE, rep) || rep->nr_zones != nz)
		die("BLKREPORTZONE: %s", strerror(errno));
	for (i = 0; i < nz; i++) {
		struct blk_zone *r = &rep->zones[i];

		if (r->type != BLK_ZONE_TYPE_SEQWRITE_REQ)
			die("zone %u is not sequential-write-required", i);
		m->z[i].start = r->start / (BS / SECT);
		m->z[i].cap = (rep->flags & BLK_ZONE_REP_CAPACITY ?
			       r->capacity : r->len) / (BS / SECT);
		/* the check that follows reads the baseline */
		m->z[i].base_gen = ++m->gen;
	}
	m->nz = nz;
	m->zoned = true;
	free(rep);
	return 1;
}

/* ----------------------------------------------------------------- main */

static void usage(void)
{
	fprintf(stderr, "usage: ublk_kill --zvd ZVD --image IMG [--kills N] "
		"[--seed S] [--threads T] [--max-delay-ms MS] [--queues Q] "
		"[--depth D] [--log FILE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct server srv = { .queues = 2, .depth = 32, .id = -1,
			      .log = "/tmp/ublk_kill.serve.log" };
	struct model m = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct verifier v = { .m = &m };
	struct zloader ld[MAXTHREADS];
	pthread_t th[MAXTHREADS];
	unsigned kills = 10, threads = 4, maxdelay = 1500, cycle, i, fails = 0;
	uint64_t seed = 0, rng, size;
	volatile bool stop;
	double t0 = now();
	char err[256], prefix[64];
	int fd = -1, a, st;

	for (a = 1; a + 1 < argc; a += 2) {
		const char *o = argv[a], *val = argv[a + 1];

		if (!strcmp(o, "--zvd"))
			srv.zvd = val;
		else if (!strcmp(o, "--image"))
			srv.img = val;
		else if (!strcmp(o, "--kills"))
			kills = (unsigned)strtoul(val, NULL, 0);
		else if (!strcmp(o, "--seed"))
			seed = strtoull(val, NULL, 0);
		else if (!strcmp(o, "--threads"))
			threads = (unsigned)strtoul(val, NULL, 0);
		else if (!strcmp(o, "--max-delay-ms"))
			maxdelay = (unsigned)strtoul(val, NULL, 0);
		else if (!strcmp(o, "--queues"))
			srv.queues = (unsigned)strtoul(val, NULL, 0);
		else if (!strcmp(o, "--depth"))
			srv.depth = (unsigned)strtoul(val, NULL, 0);
		else if (!strcmp(o, "--log"))
			srv.log = val;
		else
			usage();
	}
	if (a != argc || !srv.zvd || !srv.img || !threads ||
	    threads > MAXTHREADS || maxdelay < 20)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	v.seed = seed;
	rng = seed;

	for (cycle = 0;; cycle++) {
		double tc = now();

		v.cycle = cycle;
		/* stderr: the cycle under way and where its time goes */
		fprintf(stderr, "cycle %u: start", cycle);
		if (server_start(&srv, err, sizeof(err))) {
			problem(&v, "starting the server: %s", err);
			fails++;
			break;
		}
		fd = open(srv.dev, O_RDWR | O_DIRECT);
		if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size))
			die("opening %s: %s", srv.dev, strerror(errno));
		if (!m.h) {
			if (size < MAXN * BS || size % BS)
				die("%s: a size of %" PRIu64 " bytes", srv.dev, size);
			m.nblocks = size / BS;
			zones_init(&m, fd);
			m.h = calloc(m.nblocks, sizeof(*m.h));
			m.busy = calloc(m.nblocks, 1);
			v.seen = calloc(m.nblocks, sizeof(*v.seen));
			if (!m.h || !m.busy || !v.seen)
				die("out of memory");
		}
		fprintf(stderr, " %.1f verify", now() - tc);
		if ((m.zoned ? verify_zoned(&v, srv.dev) : verify(&v, srv.dev)))
			fails++;
		fprintf(stderr, " %.1f load", now() - tc);
		new_cycle(&m);
		if (cycle == kills || fails)
			break;

		/* the load, then the kill at a random moment */
		stop = false;
		for (i = 0; i < threads; i++) {
			ld[i] = (struct zloader){ { &m, fd, rnd(&rng), &stop, NULL },
						  i, threads };
			if (posix_memalign((void **)&ld[i].l.buf, 4096, MAXN * BS))
				die("out of memory");
			if (pthread_create(&th[i], NULL,
					   m.zoned ? load_zoned : load, &ld[i]))
				die("pthread_create failed");
		}
		sleep_ms(20 + (unsigned)(rnd(&rng) % (maxdelay - 19)));
		st = server_dead(&srv);
		if (st >= 0) {
			problem(&v, "the server died by itself (status %#x)", st);
			fails++;
		}
		pthread_mutex_lock(&m.lock);
		m.killed = true;
		pthread_mutex_unlock(&m.lock);
		server_kill(&srv);
		stop = true;
		for (i = 0; i < threads; i++) {
			pthread_join(th[i], NULL);
			free(ld[i].l.buf);
		}
		close(fd);
		fprintf(stderr, " %.1f killed (%" PRIu64 " acks)", now() - tc,
			m.acks);
		if (m.error[0]) {
			problem(&v, "%s", m.error);
			m.error[0] = 0;
			fails++;
		}
		if (!dev_gone(&srv)) {
			problem(&v, "%s still there 30 s after kill -9", srv.dev);
			fails++;
		}
		fprintf(stderr, " %.1f check", now() - tc);
		{
			const char *c = zvd_check(&srv);

			if (c) {
				problem(&v, "zvd check: %s", c);
				fails++;
			}
		}
		fprintf(stderr, " %.1f\n", now() - tc);
		if (fails)
			break;
	}
	if (srv.pid > 0) {
		close(fd);
		st = server_stop(&srv);
		if (st != 0) {
			problem(&v, "the server exited %d after SIGTERM", st);
			fails++;
		} else {
			const char *c = zvd_check(&srv);

			if (c) {
				problem(&v, "zvd check after the last stop: %s", c);
				fails++;
			}
		}
	}
	snprintf(prefix, sizeof(prefix), m.zoned ? "" :
		 ", %" PRIu64 " prefix violations", m.st.unordered);
	printf("# %s seed %" PRIu64 ": %u kills, %" PRIu64
	       " writes acknowledged (%" PRIu64 " FUA), %" PRIu64
	       " %s, %" PRIu64 " flushes, %" PRIu64
	       " blocks verified: %" PRIu64 " lost flushed writes, %" PRIu64
	       " wrong bytes%s, %.1f s\n",
	       m.zoned ? "zoned" : "volume", seed, cycle, m.st.writes,
	       m.st.fua, m.st.zeroes, m.zoned ? "zone resets" : "discards/zeroes",
	       m.st.flushes,
	       m.st.blocks, m.st.lost, m.st.wrong, prefix, now() - t0);
	{
		bool ok = !fails && !v.nproblems && !m.st.lost && !m.st.wrong &&
			  !m.st.unordered;

		printf("RESULT %s\n", ok ? "ok" : "fail");
		return ok ? 0 : 1;
	}
}

// SPDX-License-Identifier: MIT
/*
 * nbd_cmd.c - the transmission phase: reading requests, checking them,
 * running them on the library and sending replies, on a small pool of
 * worker threads per connection.
 *
 * Sections:
 *   1. replies (simple, structured chunks, errors)
 *   2. checking a request (flags, alignment, range, read-only)
 *   3. running a request
 *   4. workers: receive one request under recv_lock, run it, reply
 *
 * A request is checked completely while it is read; a WRITE's payload is
 * always consumed (into the worker's buffer, or dropped when the request
 * is refused), so a refused request never desynchronises the stream. A
 * READ's data is read whole before its reply header goes out, so a
 * failing read gets a clean error reply.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "nbd_int.h"

/* Extents in one BLOCK_STATUS reply: 4 + 8 * 120 bytes stays under the
 * 1000-byte payload QEMU accepts for non-data chunks. */
#define MAX_EXTENTS 120u
/* Workers keep a buffer up to this size between requests. */
#define KEEP_BUF (1u << 20)
/* WRITE_ZEROES by writing zeros (when the library cannot store zeros):
 * the piece written at a time. */
#define ZERO_PIECE (256u << 10)

struct nbd_req {
	uint16_t flags;
	uint16_t type;
	uint64_t cookie;
	uint64_t off;
	uint32_t len;
	uint32_t error; /* an NBD error decided while reading, or 0 */
};

/* A worker's payload buffer. */
struct worker {
	struct nbd_conn *c;
	char *buf;
	size_t cap;
};

/* Stop reading requests. @hard also stops the replies (the stream is
 * broken or the client gone). */
static void conn_quit(struct nbd_conn *c, int err, bool hard)
{
	pthread_mutex_lock(&c->lock);
	c->quit = true;
	if (err && !c->error)
		c->error = err;
	pthread_mutex_unlock(&c->lock);
	shutdown(c->fd, hard ? SHUT_RDWR : SHUT_RD);
}

/* ---- 1. replies ----------------------------------------------------------- */

/* Send @iov under the send lock; a failure ends the connection. */
static void send_reply(struct nbd_conn *c, struct iovec *iov, int n)
{
	int rc = 0;

	pthread_mutex_lock(&c->send_lock);
	if (!c->send_failed) {
		rc = nbd_send(c, iov, n);
		if (rc)
			c->send_failed = true;
	}
	pthread_mutex_unlock(&c->send_lock);
	if (rc)
		conn_quit(c, rc, true);
}

/* A simple reply, with @len bytes of @data after it (READ only). */
static void send_simple(struct nbd_conn *c, const struct nbd_req *r,
			uint32_t error, void *data, size_t len)
{
	char h[NBD_SIMPLE_REPLY_SIZE];
	struct iovec iov[2] = { { h, sizeof(h) }, { data, len } };

	nbd_put32(h, NBD_SIMPLE_REPLY_MAGIC);
	nbd_put32(h + 4, error);
	nbd_put64(h + 8, r->cookie);
	send_reply(c, iov, len ? 2 : 1);
}

/* Fill a structured chunk header for a @len-byte payload. */
static void chunk_header(char *h, const struct nbd_req *r, uint16_t flags,
			 uint16_t type, uint32_t len)
{
	nbd_put32(h, NBD_STRUCTURED_REPLY_MAGIC);
	nbd_put16(h + 4, flags);
	nbd_put16(h + 6, type);
	nbd_put64(h + 8, r->cookie);
	nbd_put32(h + 16, len);
}

/* The reply to a failed request: an error chunk where the request needs a
 * structured reply, a simple reply otherwise. */
static void send_error(struct nbd_conn *c, const struct nbd_req *r,
		       uint32_t error)
{
	char h[NBD_CHUNK_HEADER_SIZE + 6];
	struct iovec iov = { h, sizeof(h) };

	if (!c->structured ||
	    (r->type != NBD_CMD_READ && r->type != NBD_CMD_BLOCK_STATUS)) {
		send_simple(c, r, error, NULL, 0);
		return;
	}
	chunk_header(h, r, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, 6);
	nbd_put32(h + NBD_CHUNK_HEADER_SIZE, error);
	nbd_put16(h + NBD_CHUNK_HEADER_SIZE + 4, 0); /* no message */
	send_reply(c, &iov, 1);
}

/* A successful READ of @len bytes from @data. */
static void send_read(struct nbd_conn *c, const struct nbd_req *r,
		      void *data)
{
	char h[NBD_CHUNK_HEADER_SIZE + 8];
	struct iovec iov[2] = { { h, sizeof(h) }, { data, r->len } };

	if (!c->structured) {
		send_simple(c, r, 0, data, r->len);
		return;
	}
	if (r->len == 0) {
		chunk_header(h, r, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, 0);
		iov[0].iov_len = NBD_CHUNK_HEADER_SIZE;
		send_reply(c, iov, 1);
		return;
	}
	chunk_header(h, r, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA,
		     8 + r->len);
	nbd_put64(h + NBD_CHUNK_HEADER_SIZE, r->off);
	send_reply(c, iov, 2);
}

/* ---- 2. checking a request ------------------------------------------------ */

/* The NBD error for a library failure @rc. */
static uint32_t nbd_error_of(int rc)
{
	switch (-rc) {
	case EPERM:
	case EROFS:
	case EACCES:
		return NBD_EPERM;
	case EINVAL:
		return NBD_EINVAL;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return NBD_ENOSPC;
	case ENOMEM:
		return NBD_ENOMEM;
	default:
		return NBD_EIO;
	}
}

/* Is @a a multiple of the export's smallest block? */
static bool aligned(const struct nbd_export *e, uint64_t a)
{
	return a % e->min_block == 0;
}

/* The NBD error a request gets before it runs, or 0 if it may run. */
static uint32_t check_request(const struct nbd_conn *c,
			      const struct nbd_req *r)
{
	const struct nbd_export *e = c->ex;
	uint16_t allowed = NBD_CMD_FLAG_FUA;
	bool change = false;

	switch (r->type) {
	case NBD_CMD_READ:
		if (c->structured)
			allowed |= NBD_CMD_FLAG_DF;
		break;
	case NBD_CMD_WRITE:
		change = true;
		break;
	case NBD_CMD_DISC:
		return 0;
	case NBD_CMD_FLUSH:
		return r->flags & ~allowed || r->off || r->len ? NBD_EINVAL : 0;
	case NBD_CMD_TRIM:
		if (!(c->tflags & NBD_FLAG_SEND_TRIM))
			return e->readonly ? NBD_EPERM : NBD_EINVAL;
		change = true;
		break;
	case NBD_CMD_CACHE:
		break;
	case NBD_CMD_WRITE_ZEROES:
		allowed |= NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FAST_ZERO;
		if (!(c->tflags & NBD_FLAG_SEND_WRITE_ZEROES)) {
			if (e->readonly)
				return NBD_EPERM;
			/* FAST_ZERO asks whether zeroing is fast: it is not
			 * possible at all here */
			return r->flags & NBD_CMD_FLAG_FAST_ZERO ?
				       NBD_ENOTSUP :
				       NBD_EINVAL;
		}
		change = true;
		break;
	case NBD_CMD_BLOCK_STATUS:
		allowed |= NBD_CMD_FLAG_REQ_ONE;
		if (!c->meta_alloc || r->len == 0)
			return NBD_EINVAL;
		break;
	default:
		return NBD_EINVAL;
	}
	if (r->flags & ~allowed)
		return NBD_EINVAL;
	if (change && e->readonly)
		return NBD_EPERM;
	if (!aligned(e, r->off) ||
	    (r->type != NBD_CMD_BLOCK_STATUS && !aligned(e, r->len)))
		return NBD_EINVAL;
	if (r->off > e->size || r->len > e->size - r->off)
		return change ? NBD_ENOSPC : NBD_EINVAL;
	if (r->type == NBD_CMD_READ && r->len > NBD_MAX_REQUEST)
		return NBD_EOVERFLOW;
	if (r->type == NBD_CMD_WRITE && r->len > NBD_MAX_REQUEST)
		return NBD_EINVAL;
	return 0;
}

/* Make the worker's buffer hold @len bytes. */
static int buf_reserve(struct worker *w, size_t len)
{
	void *p;

	if (w->cap >= len)
		return 0;
	free(w->buf);
	w->buf = NULL;
	w->cap = 0;
	if (posix_memalign(&p, 4096, len ? len : 1))
		return -ENOMEM;
	w->buf = p;
	w->cap = len;
	return 0;
}

/*
 * Read the next request into @r (and a WRITE's payload into the worker's
 * buffer). Returns 0 for a request to run, 1 after DISC, or a negative
 * errno when no more requests can be read (-ECONNRESET at a clean end of
 * the stream, -EPROTO for a bad magic number).
 */
static int read_request(struct nbd_conn *c, struct worker *w,
			struct nbd_req *r)
{
	char h[NBD_REQUEST_SIZE];
	int rc;

	rc = nbd_recv(c, h, sizeof(h));
	if (rc)
		return rc;
	if (nbd_get32(h) != NBD_REQUEST_MAGIC)
		return -EPROTO;
	r->flags = nbd_get16(h + 4);
	r->type = nbd_get16(h + 6);
	r->cookie = nbd_get64(h + 8);
	r->off = nbd_get64(h + 16);
	r->len = nbd_get32(h + 24);
	if (r->type == NBD_CMD_DISC)
		return 1;
	r->error = check_request(c, r);
	if (r->type != NBD_CMD_WRITE)
		return 0;
	if (!r->error && buf_reserve(w, r->len))
		r->error = NBD_ENOMEM;
	if (r->error)
		return nbd_skip(c, r->len);
	return nbd_recv(c, w->buf, r->len);
}

/* ---- 3. running a request ------------------------------------------------- */

/* WRITE_ZEROES by writing zeros, for when the library stores none. */
static int write_zeros(struct zvd_dev *dev, uint64_t off, uint64_t len,
		       unsigned flags)
{
	static const char zeros[ZERO_PIECE];
	int rc = 0;

	while (len && rc >= 0) {
		size_t n = len > ZERO_PIECE ? ZERO_PIECE : len;

		rc = zvd_write(dev, zeros, n, off, flags);
		off += n;
		len -= n;
	}
	return rc < 0 ? rc : 0;
}

/* Library calls that mean "not on this image". */
static bool not_supported(int rc)
{
	return rc == -EOPNOTSUPP || rc == -ENOSYS;
}

static uint32_t do_write_zeroes(const struct nbd_export *e,
				const struct nbd_req *r)
{
	unsigned fl = r->flags & NBD_CMD_FLAG_FUA ? ZVD_WRITE_FUA : 0;
	int rc = zvd_write_zeroes(e->dev, r->off, r->len, fl);

	if (not_supported(rc)) {
		if (r->flags & NBD_CMD_FLAG_FAST_ZERO)
			return NBD_ENOTSUP;
		rc = write_zeros(e->dev, r->off, r->len, fl);
	}
	return rc < 0 ? nbd_error_of(rc) : 0;
}

static uint32_t do_trim(const struct nbd_export *e, const struct nbd_req *r)
{
	unsigned fl = r->flags & NBD_CMD_FLAG_FUA ? ZVD_WRITE_FUA : 0;
	int rc = zvd_discard(e->dev, r->off, r->len, fl);

	/* TRIM is a hint: not discarding is a correct answer */
	if (not_supported(rc))
		rc = 0;
	return rc < 0 ? nbd_error_of(rc) : 0;
}

/* BLOCK_STATUS for base:allocation: the map of the request's range (whole
 * blocks asked of the library, cut back to the range). */
static void do_block_status(struct nbd_conn *c, const struct nbd_req *r)
{
	const struct nbd_export *e = c->ex;
	struct zvd_extent ext[MAX_EXTENTS];
	char h[NBD_CHUNK_HEADER_SIZE + 4 + 8 * MAX_EXTENTS];
	char *p = h + NBD_CHUNK_HEADER_SIZE + 4;
	uint64_t start = r->off - r->off % e->min_block;
	uint64_t end = r->off + r->len, qend;
	uint32_t max = r->flags & NBD_CMD_FLAG_REQ_ONE ? 1 : MAX_EXTENTS;
	struct iovec iov;
	int n, i, k = 0;

	qend = end % e->min_block ? end + e->min_block - end % e->min_block :
				    end;
	if (qend > e->size)
		qend = e->size;
	n = zvd_map(e->dev, start, qend - start, ext, max);
	if (not_supported(n) || n == 0) {
		/* status 0 (data) is always a correct answer */
		ext[0].off = start;
		ext[0].len = qend - start;
		ext[0].flags = 0;
		n = 1;
	} else if (n < 0) {
		send_error(c, r, nbd_error_of(n));
		return;
	}
	for (i = 0; i < n; i++) {
		uint64_t a = ext[i].off > r->off ? ext[i].off : r->off;
		uint64_t b = ext[i].off + ext[i].len;
		uint32_t st = 0;

		if (b > end)
			b = end;
		if (b <= a)
			continue;
		if (ext[i].flags & ZVD_EXTENT_HOLE)
			st |= NBD_STATE_HOLE;
		if (ext[i].flags & ZVD_EXTENT_ZERO)
			st |= NBD_STATE_ZERO;
		nbd_put32(p, (uint32_t)(b - a));
		nbd_put32(p + 4, st);
		p += 8;
		k++;
		if (b == end)
			break;
	}
	if (k == 0) {
		/* the library described nothing of the range */
		send_error(c, r, NBD_EIO);
		return;
	}
	chunk_header(h, r, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_BLOCK_STATUS,
		     4 + 8 * (uint32_t)k);
	nbd_put32(h + NBD_CHUNK_HEADER_SIZE, 1); /* base:allocation's id */
	iov.iov_base = h;
	iov.iov_len = (size_t)(p - h);
	send_reply(c, &iov, 1);
}

static void run_request(struct nbd_conn *c, struct worker *w,
			const struct nbd_req *r)
{
	const struct nbd_export *e = c->ex;
	unsigned fua = r->flags & NBD_CMD_FLAG_FUA ? ZVD_WRITE_FUA : 0;
	uint32_t err = r->error;
	int rc = 0;

	if (err) {
		send_error(c, r, err);
		return;
	}
	switch (r->type) {
	case NBD_CMD_READ:
		rc = buf_reserve(w, r->len);
		if (!rc && r->len)
			rc = zvd_read(e->dev, w->buf, r->len, r->off);
		if (rc < 0)
			send_error(c, r, nbd_error_of(rc));
		else
			send_read(c, r, w->buf);
		return;
	case NBD_CMD_BLOCK_STATUS:
		do_block_status(c, r);
		return;
	case NBD_CMD_WRITE:
		if (r->len)
			rc = zvd_write(e->dev, w->buf, r->len, r->off, fua);
		break;
	case NBD_CMD_FLUSH:
		if (!e->readonly)
			rc = zvd_flush(e->dev);
		break;
	case NBD_CMD_TRIM:
		err = r->len ? do_trim(e, r) : 0;
		break;
	case NBD_CMD_WRITE_ZEROES:
		err = r->len ? do_write_zeroes(e, r) : 0;
		break;
	case NBD_CMD_CACHE:
		break; /* the data is one read away already */
	}
	if (rc < 0)
		err = nbd_error_of(rc);
	send_simple(c, r, err, NULL, 0);
}

/* ---- 4. workers ----------------------------------------------------------- */

static void *worker_main(void *arg);

/* Start one more worker if every worker is busy. Called with c->lock. */
static void maybe_spawn(struct nbd_conn *c)
{
	if (c->quit || c->busy < c->nthreads ||
	    c->nthreads >= NBD_CONN_THREADS)
		return;
	if (pthread_create(&c->threads[c->nthreads], NULL, worker_main, c) ==
	    0)
		c->nthreads++;
}

/* Receive, run, reply, until the connection stops reading. */
static void *worker_main(void *arg)
{
	struct nbd_conn *c = arg;
	struct worker w = { .c = c };
	struct nbd_req r;
	bool quit;
	int rc;

	for (;;) {
		pthread_mutex_lock(&c->recv_lock);
		pthread_mutex_lock(&c->lock);
		quit = c->quit;
		pthread_mutex_unlock(&c->lock);
		if (quit) {
			pthread_mutex_unlock(&c->recv_lock);
			break;
		}
		rc = read_request(c, &w, &r);
		if (rc) {
			/* DISC or end of stream: finish what is in flight;
			 * a broken stream: drop everything */
			bool clean = rc == 1 || rc == -ECONNRESET;

			conn_quit(c, clean ? 0 : rc, !clean);
			pthread_mutex_unlock(&c->recv_lock);
			break;
		}
		pthread_mutex_lock(&c->lock);
		c->busy++;
		maybe_spawn(c);
		pthread_mutex_unlock(&c->lock);
		pthread_mutex_unlock(&c->recv_lock);

		run_request(c, &w, &r);

		pthread_mutex_lock(&c->lock);
		c->busy--;
		pthread_mutex_unlock(&c->lock);
		if (w.cap > KEEP_BUF) {
			free(w.buf);
			w.buf = NULL;
			w.cap = 0;
		}
	}
	free(w.buf);
	return NULL;
}

int nbd_transmission(struct nbd_conn *c)
{
	unsigned i, n;

	c->nthreads = 1; /* this thread */
	worker_main(c);
	pthread_mutex_lock(&c->lock);
	n = c->nthreads; /* final: no worker starts once quit is set */
	pthread_mutex_unlock(&c->lock);
	for (i = 1; i < n; i++)
		pthread_join(c->threads[i], NULL);
	return c->error;
}

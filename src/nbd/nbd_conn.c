// SPDX-License-Identifier: MIT
/*
 * nbd_conn.c - one NBD connection: buffered reading of the client's
 * stream, sending whole replies, finding exports by name, the flags an
 * export advertises, and nbd_serve_connection(), which runs the handshake
 * and then the transmission phase on a connected socket.
 *
 * Once STARTTLS is done, reads and writes go through the connection's TLS
 * session (nbd_tls.c) instead of the socket; the plain path is one test
 * of c->session away from what it was.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nbd_int.h"

void nbd_export_init(struct nbd_export *e, const char *name,
		     struct zvd_dev *dev, bool readonly)
{
	struct zvd_geometry g;

	memset(e, 0, sizeof(*e));
	e->name = name;
	e->dev = dev;
	e->size = zvd_size(dev);
	e->volume = zvd_is_volume(dev) == 1;
	e->readonly = readonly || zvd_is_readonly(dev) == 1;
	if (e->volume) {
		e->min_block = ZVD_VOLUME_SECTOR;
	} else {
		zvd_get_geometry(dev, &g);
		e->min_block = g.block_size;
	}
	snprintf(e->description, sizeof(e->description), "zvd %s%s",
		 e->volume ? "volume" : "zoned image",
		 e->readonly ? " (read-only)" : "");
}

uint16_t nbd_export_flags(const struct nbd_export *e, bool structured)
{
	uint16_t f = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH |
		     NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_CACHE |
		     NBD_FLAG_CAN_MULTI_CONN;

	if (e->readonly)
		f |= NBD_FLAG_READ_ONLY;
	else if (e->volume)
		f |= NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES |
		     NBD_FLAG_SEND_FAST_ZERO;
	if (structured)
		f |= NBD_FLAG_SEND_DF;
	return f;
}

const struct nbd_export *nbd_find_export(const struct nbd_conn *c,
					 const char *name, size_t len)
{
	unsigned i;

	if (len == 0)
		return c->nr_exports ? &c->exports[0] : NULL;
	for (i = 0; i < c->nr_exports; i++) {
		const char *n = c->exports[i].name;

		if (strlen(n) == len && !memcmp(n, name, len))
			return &c->exports[i];
	}
	return NULL;
}

/* Read what the stream has (at least one byte). */
static ssize_t read_some(struct nbd_conn *c, void *buf, size_t len)
{
	ssize_t n;

	if (c->session)
		return nbd_tls_recv(c, buf, len);
	do
		n = read(c->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 0 ? -ECONNRESET : n;
}

int nbd_recv(struct nbd_conn *c, void *buf, size_t len)
{
	char *p = buf;
	ssize_t n;

	while (len) {
		if (c->rpos < c->rlen) {
			size_t k = c->rlen - c->rpos;

			if (k > len)
				k = len;
			memcpy(p, c->rbuf + c->rpos, k);
			c->rpos += k;
			p += k;
			len -= k;
			continue;
		}
		if (len >= NBD_RBUF_SIZE) {
			/* a big payload goes straight to its buffer */
			n = read_some(c, p, len);
			if (n < 0)
				return (int)n;
			p += n;
			len -= (size_t)n;
			continue;
		}
		n = read_some(c, c->rbuf, NBD_RBUF_SIZE);
		if (n < 0)
			return (int)n;
		c->rpos = 0;
		c->rlen = (size_t)n;
	}
	return 0;
}

int nbd_skip(struct nbd_conn *c, uint64_t len)
{
	char scratch[4096];
	int rc;

	while (len) {
		size_t k = len > sizeof(scratch) ? sizeof(scratch) : len;

		if (c->rpos < c->rlen) {
			if (k > c->rlen - c->rpos)
				k = c->rlen - c->rpos;
			c->rpos += k;
			len -= k;
			continue;
		}
		rc = nbd_recv(c, scratch, k);
		if (rc)
			return rc;
		len -= k;
	}
	return 0;
}

int nbd_send(struct nbd_conn *c, struct iovec *iov, int n)
{
	struct msghdr m = { 0 };
	ssize_t k;

	if (c->session)
		return nbd_tls_send(c, iov, n);
	while (n > 0) {
		m.msg_iov = iov;
		m.msg_iovlen = (size_t)n;
		k = sendmsg(c->fd, &m, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		/* step over what went out */
		while (n > 0 && (size_t)k >= iov->iov_len) {
			k -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + k;
			iov->iov_len -= (size_t)k;
		}
	}
	return 0;
}

/* During the handshake a client that sends nothing for this long is cut
 * off: an idle connection must not hold one of the server's slots for
 * ever. (Transmission may idle: the kernel's client does.) Tests shorten
 * it with ZVD_NBD_HANDSHAKE_IDLE (seconds). */
#define NBD_HANDSHAKE_IDLE_S 30

static int handshake_idle(void)
{
	const char *s = getenv("ZVD_NBD_HANDSHAKE_IDLE");
	int v = s ? atoi(s) : 0;

	return v > 0 ? v : NBD_HANDSHAKE_IDLE_S;
}

static void recv_timeout(int fd, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	/* a descriptor that is no socket (a pipe in a test) keeps none */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

int nbd_serve_connection(const struct nbd_export *ex, unsigned nr, int fd)
{
	return nbd_serve_connection_tls(ex, nr, NULL, fd);
}

int nbd_serve_connection_tls(const struct nbd_export *ex, unsigned nr,
			     const struct nbd_tls *tls, int fd)
{
	struct nbd_conn *c = calloc(1, sizeof(*c));
	int rc = -ENOMEM;

	if (!c)
		return rc;
	c->rbuf = malloc(NBD_RBUF_SIZE);
	if (!c->rbuf)
		goto out;
	c->fd = fd;
	c->exports = ex;
	c->nr_exports = nr;
	c->tls = nbd_tls_mode(tls) == NBD_TLS_OFF ? NULL : tls;
	pthread_mutex_init(&c->recv_lock, NULL);
	pthread_mutex_init(&c->send_lock, NULL);
	pthread_mutex_init(&c->lock, NULL);
	recv_timeout(fd, handshake_idle());
	rc = nbd_handshake(c);
	recv_timeout(fd, 0);
	if (rc == 0)
		rc = nbd_transmission(c);
	else if (rc > 0)
		rc = 0;
	nbd_tls_end(c, rc == 0);
	pthread_mutex_destroy(&c->recv_lock);
	pthread_mutex_destroy(&c->send_lock);
	pthread_mutex_destroy(&c->lock);
out:
	free(c->rbuf);
	free(c);
	return rc;
}

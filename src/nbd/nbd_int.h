/* SPDX-License-Identifier: MIT */
/*
 * nbd_int.h - what the files of src/nbd/ share: the connection and the
 * functions each file offers the others (grouped by the file defining
 * them).
 */
#ifndef ZVD_NBD_INT_H
#define ZVD_NBD_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <gnutls/gnutls.h>

#include "nbd.h"
#include "nbd_proto.h"

/* Receive buffer: one read() picks up several pipelined requests. */
#define NBD_RBUF_SIZE (64u << 10)

/* One client connection. */
struct nbd_conn {
	int fd;
	const struct nbd_export *exports;
	unsigned nr_exports;
	const struct nbd_tls *tls;   /* credentials, or NULL: TLS off */
	gnutls_session_t session;    /* once STARTTLS is done, else NULL */

	/* negotiated in the handshake; fixed afterwards */
	const struct nbd_export *ex; /* the export being served */
	bool structured;	     /* structured replies */
	bool no_zeroes;
	const struct nbd_export *meta_ex; /* export the contexts were set for */
	bool meta_alloc;	     /* base:allocation selected */
	uint16_t tflags;	     /* transmission flags sent */

	/* receive side: the request stream, in order */
	pthread_mutex_t recv_lock;
	size_t rpos, rlen;
	char *rbuf;

	/* send side: one reply at a time */
	pthread_mutex_t send_lock;
	bool send_failed;

	/* workers */
	pthread_mutex_t lock;
	unsigned nthreads;	     /* started, including the first */
	unsigned busy;		     /* running a request */
	bool quit;		     /* read no more requests */
	int error;		     /* why the connection ended (-errno) */
	pthread_t threads[NBD_CONN_THREADS];
};

/* ---- nbd_conn.c ----------------------------------------------------------- */

/* Read exactly @len bytes of the stream. Returns 0, -ECONNRESET at end of
 * stream, or another negative errno. Callers serialise (handshake: one
 * thread; transmission: recv_lock). */
int nbd_recv(struct nbd_conn *c, void *buf, size_t len);

/* Read and drop @len bytes of the stream. */
int nbd_skip(struct nbd_conn *c, uint64_t len);

/* Send all of @iov (@n pieces; modified). Returns 0 or a negative errno. */
int nbd_send(struct nbd_conn *c, struct iovec *iov, int n);

/* The export named @name (@len bytes; "" is the first), or NULL. */
const struct nbd_export *nbd_find_export(const struct nbd_conn *c,
					 const char *name, size_t len);

/* Transmission flags of @e for a connection with or without structured
 * replies. */
uint16_t nbd_export_flags(const struct nbd_export *e, bool structured);

/* ---- nbd_handshake.c ------------------------------------------------------ */

/* Greet the client and negotiate until it picks an export. Returns 0 to go
 * on to transmission (c->ex set), 1 when the client left politely (ABORT),
 * or a negative errno when the connection must be dropped. */
int nbd_handshake(struct nbd_conn *c);

/* ---- nbd_tls.c ------------------------------------------------------------ */

/* After STARTTLS was acknowledged: the TLS handshake on c->fd with
 * c->tls; on success every later nbd_recv and nbd_send goes through the
 * session. Returns 0, or a negative errno (-EACCES: the handshake
 * failed) after which the connection must be dropped. */
int nbd_tls_start(struct nbd_conn *c);

/* Read what the session has (at least one byte): a count, -ECONNRESET
 * at the end of the stream, or another negative errno. */
ssize_t nbd_tls_recv(struct nbd_conn *c, void *buf, size_t len);

/* Send all of @iov (@n pieces) through the session. Returns 0 or a
 * negative errno. */
int nbd_tls_send(struct nbd_conn *c, const struct iovec *iov, int n);

/* End the session (close_notify first when @clean) and free it; nothing
 * without one. */
void nbd_tls_end(struct nbd_conn *c, bool clean);

/* ---- nbd_cmd.c ------------------------------------------------------------ */

/* Serve requests on c->ex until the client disconnects; returns when every
 * worker has ended. Returns 0 or the negative errno that ended it. */
int nbd_transmission(struct nbd_conn *c);

#endif /* ZVD_NBD_INT_H */

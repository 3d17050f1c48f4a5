/* SPDX-License-Identifier: MIT */
/*
 * nbd.h - the NBD server front end (zvd serve --nbd): serves images opened
 * through <zvd.h> to NBD clients (qemu, nbdinfo/nbdcopy, fio, nbd-client)
 * over a Unix socket or TCP. Protocol code only: every read, write, flush,
 * discard and allocation query is one library call on the export's handle.
 *
 *   nbd_conn.c       one connection: buffered receive, send, the export
 *                    table look-ups, nbd_serve_connection()
 *   nbd_handshake.c  fixed newstyle option haggling
 *   nbd_cmd.c        the transmission phase: requests, replies, the
 *                    connection's worker threads
 *   nbd_server.c     listening sockets, accepting, clean shutdown
 *   nbd_tls.c        TLS (GnuTLS): credentials, STARTTLS, record I/O
 *
 * Threads: each connection has up to NBD_CONN_THREADS workers (started as
 * requests pile up); a worker takes the connection's receive lock, reads
 * one request (and its payload), lets go, runs it on the library and sends
 * the reply under the connection's send lock. Every connection to an
 * export shares the export's one zvd_dev handle (the library is
 * thread-safe), so a flush on one connection covers writes made on all of
 * them: the server advertises CAN_MULTI_CONN.
 */
#ifndef ZVD_NBD_H
#define ZVD_NBD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zvd.h>

#define NBD_MAX_EXPORTS 64
/* Largest READ or WRITE accepted (and advertised as the maximum block
 * size); TRIM, WRITE_ZEROES, CACHE and BLOCK_STATUS may be larger. */
#define NBD_MAX_REQUEST (32u << 20)
/* The preferred block size advertised. */
#define NBD_PREFERRED_BLOCK 4096u
/* Workers per connection, at most. */
#define NBD_CONN_THREADS 16
/* Connections served at once; more are closed at once. */
#define NBD_MAX_CONNS 512
/* The IANA port of NBD. */
#define NBD_DEFAULT_PORT "10809"

/* One export: a name and an open device. The server never opens or closes
 * devices; the caller keeps @dev open until the server is freed. */
struct nbd_export {
	const char *name;	  /* caller-owned; the first export is also "" */
	char description[96];	  /* for LIST and INFO_DESCRIPTION */
	struct zvd_dev *dev;
	uint64_t size;
	uint32_t min_block;	  /* smallest I/O unit: 512 or the block size */
	bool readonly;		  /* every change refused with EPERM */
	bool volume;		  /* a volume: TRIM and WRITE_ZEROES work */
};

/* Describe @dev as the export @name (which must outlive the export);
 * @readonly also holds when the handle itself refuses changes. */
void nbd_export_init(struct nbd_export *e, const char *name,
		     struct zvd_dev *dev, bool readonly);

/* TLS: off (STARTTLS refused with ERR_POLICY), on (STARTTLS offered,
 * plain clients served too: the protocol's SELECTIVETLS with no TLS-only
 * export) or require (every option but STARTTLS and ABORT refused with
 * ERR_TLS_REQD until TLS is up: FORCEDTLS). */
enum nbd_tls_mode { NBD_TLS_OFF, NBD_TLS_ON, NBD_TLS_REQUIRE };

struct nbd_tls_opts {
	enum nbd_tls_mode mode;
	const char *psk_file;  /* lines "username:hexkey" (psktool), or NULL */
	const char *creds_dir; /* X.509: ca-cert.pem, server-cert.pem,
				* server-key.pem (qemu's layout), or NULL */
	bool verify_peer;      /* X.509: require a client certificate that
				* ca-cert.pem vouches for */
};

/* The server's TLS credentials, shared read-only by every connection. */
struct nbd_tls;

/* Load the credentials @o names (exactly one of psk_file and creds_dir
 * unless the mode is off). *@out is NULL for NBD_TLS_OFF. Returns 0 or a
 * negative errno with a reason in @why. */
int nbd_tls_create(const struct nbd_tls_opts *o, struct nbd_tls **out,
		   char *why, size_t why_len);

/* The mode of @t (NULL: off). */
enum nbd_tls_mode nbd_tls_mode(const struct nbd_tls *t);

/* Free what nbd_tls_create made; accepts NULL. */
void nbd_tls_free(struct nbd_tls *t);

/* Serve one connected socket @fd (handshake and transmission) until the
 * client leaves or breaks the protocol; closes nothing. Returns 0, or a
 * negative errno when the connection ended on an error. Without TLS. */
int nbd_serve_connection(const struct nbd_export *ex, unsigned nr, int fd);

/* The same with the TLS credentials @tls (NULL: off), which must outlive
 * the call. */
int nbd_serve_connection_tls(const struct nbd_export *ex, unsigned nr,
			     const struct nbd_tls *tls, int fd);

/* Where to listen: a Unix socket, or TCP. */
struct nbd_listen {
	const char *socket_path; /* the Unix socket to create, or NULL */
	const char *host;	 /* TCP: address to bind (numeric or a name) */
	const char *port;	 /* TCP: port ("0": any free one) */
};

struct nbd_server;

/*
 * Make the listening socket. A stale Unix socket file (no server answers
 * on it) is replaced; any other existing file is an error. Returns 0 or a
 * negative errno with a reason in @why.
 */
int nbd_server_create(const struct nbd_export *ex, unsigned nr,
		      const struct nbd_listen *l, struct nbd_server **out,
		      char *why, size_t why_len);

/* Serve TLS with @tls (NULL: off; kept by the caller until the server
 * is freed) on connections accepted from now on. */
void nbd_server_set_tls(struct nbd_server *s, const struct nbd_tls *tls);

/* Where the server listens: the absolute socket path, or HOST:PORT with
 * the port actually bound. */
const char *nbd_server_address(const struct nbd_server *s);

/* A URI a client can use for export @i (nbd+unix:///NAME?socket=PATH or
 * nbd://HOST:PORT/NAME; nbds+unix and nbds with TLS on or required) into
 * @buf; the client adds its own credentials. Returns 0 or -ENAMETOOLONG. */
int nbd_server_uri(const struct nbd_server *s, unsigned i, char *buf,
		   size_t len);

/* Accept and serve connections until SIGINT or SIGTERM (the handlers are
 * installed here; SIGPIPE is ignored), then stop reading requests, let
 * the ones in flight finish and close every connection. Returns 0 or a
 * negative errno. */
int nbd_server_run(struct nbd_server *s);

/* Close the listening socket and remove the socket file; accepts NULL. */
void nbd_server_free(struct nbd_server *s);

#endif /* ZVD_NBD_H */

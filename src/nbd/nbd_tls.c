// SPDX-License-Identifier: MIT
/*
 * nbd_tls.c - TLS for the NBD server (GnuTLS): the server's credentials
 * (a PSK file, or an X.509 directory), and per connection the TLS session
 * that NBD_OPT_STARTTLS starts and every later read and write goes
 * through.
 *
 * Sections:
 *   1. credentials: --tls-psk FILE (lines "username:hexkey", the format
 *      of psktool, qemu and nbdkit) or --tls-creds DIR (ca-cert.pem,
 *      server-cert.pem, server-key.pem, optionally ca-crl.pem)
 *   2. a connection's session: the handshake, record I/O, the goodbye
 *
 * Threads: a connection's session is shared by at most one receiving
 * thread (under recv_lock) and one sending thread (under send_lock) at a
 * time, the split GnuTLS supports: a TLS 1.3 key update the peer asks
 * for is only noted by the receiver and carried out by the next send.
 * Renegotiation (TLS 1.2) is refused: it would need both sides at once.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "nbd_int.h"

/* Longest PSK file line looked at, and the longest key (bytes). */
#define PSK_LINE_MAX 4096
#define PSK_KEY_MAX 512
/* A client has this long to finish the TLS handshake. */
#define HANDSHAKE_TIMEOUT_MS 30000
/* Replies up to this size are gathered into full records (copied);
 * bigger ones are sent piece by piece. */
#define NBD_TLS_CORK_MAX (64u << 10)

struct nbd_tls {
	enum nbd_tls_mode mode;
	gnutls_psk_server_credentials_t psk;	  /* or NULL */
	gnutls_certificate_credentials_t x509; /* or NULL */
	bool verify_peer;
};

/* ---- 1. credentials ------------------------------------------------------- */

/* Check one line of a PSK file: "username:hexkey" (an even number of hex
 * digits, at least 2). Returns true if it is one. */
static bool psk_line_ok(const char *line)
{
	const char *colon = strchr(line, ':'), *p;
	size_t n;

	if (!colon || colon == line)
		return false;
	for (p = colon + 1, n = 0; *p && *p != '\n' && *p != '\r'; p++, n++)
		if (!isxdigit((unsigned char)*p))
			return false;
	return n >= 2 && n % 2 == 0 && n / 2 <= PSK_KEY_MAX;
}

/* Read the PSK file now, so that a bad one stops the server at start
 * rather than failing every handshake. Returns 0 or -errno. */
static int check_psk_file(const char *path, char *why, size_t len)
{
	char line[PSK_LINE_MAX];
	unsigned nr = 0, lineno = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (line[0] == '\n' || line[0] == '#')
			continue;
		if (!psk_line_ok(line)) {
			fclose(f);
			snprintf(why, len, "%s:%u: not 'username:hexkey'", path,
				 lineno);
			return -EINVAL;
		}
		nr++;
	}
	fclose(f);
	if (!nr) {
		snprintf(why, len, "%s: no keys", path);
		return -EINVAL;
	}
	return 0;
}

static int load_psk(struct nbd_tls *t, const char *path, char *why,
		    size_t len)
{
	int rc = check_psk_file(path, why, len);

	if (rc)
		return rc;
	if (gnutls_psk_allocate_server_credentials(&t->psk) < 0)
		return -ENOMEM;
	/* GnuTLS reads the file at each handshake: a key added or removed
	 * takes effect for the next connection */
	rc = gnutls_psk_set_server_credentials_file(t->psk, path);
	if (rc < 0) {
		snprintf(why, len, "%s: %s", path, gnutls_strerror(rc));
		return -EINVAL;
	}
	return 0;
}

/* DIR/NAME into @buf. */
static int creds_path(char *buf, size_t len, const char *dir,
		      const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int load_x509(struct nbd_tls *t, const char *dir, bool verify,
		     char *why, size_t len)
{
	char ca[4096], cert[4096], key[4096], crl[4096];
	int rc;

	if (creds_path(ca, sizeof(ca), dir, "ca-cert.pem") ||
	    creds_path(cert, sizeof(cert), dir, "server-cert.pem") ||
	    creds_path(key, sizeof(key), dir, "server-key.pem") ||
	    creds_path(crl, sizeof(crl), dir, "ca-crl.pem")) {
		snprintf(why, len, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	if (gnutls_certificate_allocate_credentials(&t->x509) < 0)
		return -ENOMEM;
	rc = gnutls_certificate_set_x509_key_file(t->x509, cert, key,
						  GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		snprintf(why, len, "%s, %s: %s", cert, key, gnutls_strerror(rc));
		return -EINVAL;
	}
	/* the CA vouches for clients; without --tls-verify-peer it is
	 * optional, since no client certificate is asked for */
	rc = gnutls_certificate_set_x509_trust_file(t->x509, ca,
						    GNUTLS_X509_FMT_PEM);
	if (rc <= 0 && (verify || access(ca, F_OK) == 0)) {
		snprintf(why, len, "%s: %s", ca,
			 rc < 0 ? gnutls_strerror(rc) : "no certificates");
		return -EINVAL;
	}
	if (access(crl, F_OK) == 0) {
		rc = gnutls_certificate_set_x509_crl_file(t->x509, crl,
							  GNUTLS_X509_FMT_PEM);
		if (rc < 0) {
			snprintf(why, len, "%s: %s", crl, gnutls_strerror(rc));
			return -EINVAL;
		}
	}
	return 0;
}

int nbd_tls_create(const struct nbd_tls_opts *o, struct nbd_tls **out,
		   char *why, size_t len)
{
	struct nbd_tls *t;
	int rc;

	*out = NULL;
	why[0] = '\0';
	if (o->mode == NBD_TLS_OFF)
		return 0;
	if (!o->psk_file == !o->creds_dir) {
		snprintf(why, len, "TLS needs one of a PSK file and an X.509 "
			 "directory");
		return -EINVAL;
	}
	if (o->verify_peer && !o->creds_dir) {
		snprintf(why, len, "verifying the peer needs X.509 credentials");
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->mode = o->mode;
	t->verify_peer = o->verify_peer;
	if (o->psk_file)
		rc = load_psk(t, o->psk_file, why, len);
	else
		rc = load_x509(t, o->creds_dir, o->verify_peer, why, len);
	if (rc) {
		if (!why[0])
			snprintf(why, len, "%s", strerror(-rc));
		nbd_tls_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void nbd_tls_free(struct nbd_tls *t)
{
	if (!t)
		return;
	if (t->psk)
		gnutls_psk_free_server_credentials(t->psk);
	if (t->x509)
		gnutls_certificate_free_credentials(t->x509);
	free(t);
}

enum nbd_tls_mode nbd_tls_mode(const struct nbd_tls *t)
{
	return t ? t->mode : NBD_TLS_OFF;
}

/* ---- 2. a connection's session -------------------------------------------- */

/* A GnuTLS error as a negative errno: the end of the stream, or a
 * broken one. */
static int tls_errno(ssize_t rc)
{
	switch (rc) {
	case 0:
	case GNUTLS_E_PREMATURE_TERMINATION:
		return -ECONNRESET;
	case GNUTLS_E_PUSH_ERROR:
	case GNUTLS_E_PULL_ERROR:
		return -EPIPE;
	case GNUTLS_E_MEMORY_ERROR:
		return -ENOMEM;
	default:
		return -EPROTO;
	}
}

static int session_setup(struct nbd_conn *c, gnutls_session_t s)
{
	const struct nbd_tls *t = c->tls;
	const char *err;
	int rc;

	if (t->psk) {
		/* the system's priorities, plus the PSK key exchanges */
		rc = gnutls_set_default_priority_append(s, "+ECDHE-PSK:+DHE-PSK:+PSK",
							&err, 0);
		if (rc == 0)
			rc = gnutls_credentials_set(s, GNUTLS_CRD_PSK, t->psk);
	} else {
		rc = gnutls_set_default_priority(s);
		if (rc == 0)
			rc = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE,
						    t->x509);
		if (rc == 0 && t->verify_peer) {
			gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
			/* the chain is checked against the CA during the
			 * handshake; no host name to match on a client */
			gnutls_session_set_verify_cert(s, NULL, 0);
		}
	}
	if (rc < 0)
		return rc;
	gnutls_handshake_set_timeout(s, HANDSHAKE_TIMEOUT_MS);
	gnutls_transport_set_int(s, c->fd);
	return 0;
}

int nbd_tls_start(struct nbd_conn *c)
{
	gnutls_session_t s;
	int rc;

	assert(c->tls && !c->session);
	rc = gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NO_SIGNAL);
	if (rc < 0)
		return -ENOMEM;
	rc = session_setup(c, s);
	if (rc == 0) {
		do
			rc = gnutls_handshake(s);
		while (rc < 0 && !gnutls_error_is_fatal(rc));
	}
	if (rc < 0) {
		/* tell the client why (a bad key, a missing certificate)
		 * rather than only dropping the connection */
		gnutls_alert_send_appropriate(s, rc);
		gnutls_deinit(s);
		return rc == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : -EACCES;
	}
	c->session = s;
	return 0;
}

ssize_t nbd_tls_recv(struct nbd_conn *c, void *buf, size_t len)
{
	ssize_t n;

	do
		n = gnutls_record_recv(c->session, buf, len);
	while (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_AGAIN);
	/* GNUTLS_E_REHANDSHAKE too: no renegotiation */
	return n > 0 ? n : tls_errno(n);
}

/* Send @len bytes of @p. */
static int send_all(gnutls_session_t s, const char *p, size_t len)
{
	ssize_t n;

	while (len) {
		n = gnutls_record_send(s, p, len);
		if (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_AGAIN)
			continue;
		if (n <= 0)
			return tls_errno(n < 0 ? n : GNUTLS_E_PUSH_ERROR);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int nbd_tls_send(struct nbd_conn *c, const struct iovec *iov, int n)
{
	size_t total = 0;
	ssize_t rc;
	int i;

	for (i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (n == 1 || total > NBD_TLS_CORK_MAX) {
		/* one piece, or a big READ reply: the header goes in a
		 * record of its own rather than copying the data */
		for (i = 0; i < n; i++) {
			rc = send_all(c->session, iov[i].iov_base,
				      iov[i].iov_len);
			if (rc)
				return (int)rc;
		}
		return 0;
	}
	/* small pieces: gathered into as few records as fit */
	gnutls_record_cork(c->session);
	for (i = 0; i < n; i++) {
		rc = gnutls_record_send(c->session, iov[i].iov_base,
					iov[i].iov_len);
		if (rc < 0) {
			gnutls_record_uncork(c->session, 0);
			return tls_errno(rc);
		}
	}
	do
		rc = gnutls_record_uncork(c->session, GNUTLS_RECORD_WAIT);
	while (rc == GNUTLS_E_INTERRUPTED || rc == GNUTLS_E_AGAIN);
	return rc < 0 ? tls_errno(rc) : 0;
}

void nbd_tls_end(struct nbd_conn *c, bool clean)
{
	if (!c->session)
		return;
	/* close_notify only on a healthy stream: on a broken one it could
	 * block on a client that reads nothing */
	if (clean)
		gnutls_bye(c->session, GNUTLS_SHUT_WR);
	gnutls_deinit(c->session);
	c->session = NULL;
}

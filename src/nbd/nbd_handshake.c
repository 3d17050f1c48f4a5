// SPDX-License-Identifier: MIT
/*
 * nbd_handshake.c - the fixed newstyle handshake: greeting, client flags,
 * then options until EXPORT_NAME or GO picks an export.
 *
 * Every option's data is read whole before it is looked at (up to
 * OPT_BUF_MAX; a longer option is drained and refused with ERR_TOO_BIG,
 * one longer than OPT_MAX ends the connection), so a malformed option is
 * always answered with an error reply and the stream stays in step.
 * Unknown options get ERR_UNSUP. Names are only ever compared with the
 * configured exports: nothing a client sends can open anything else.
 *
 * TLS (docs/NBD.md): with TLS off, STARTTLS gets ERR_POLICY; on, it is
 * offered and plain clients are served too; required, every option but
 * STARTTLS and ABORT gets ERR_TLS_REQD (EXPORT_NAME, which has no error
 * reply, closes the connection) until the TLS handshake is done.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nbd_int.h"

/* Option data kept for parsing; options are small. */
#define OPT_BUF_MAX (64u << 10)
/* Longer options end the connection (qemu-nbd's limit). */
#define OPT_MAX (32u << 20)
/* Context id of base:allocation. */
#define META_ID_ALLOC 1u

/* Send one option reply of type @type with @len bytes of @data. */
static int opt_reply(struct nbd_conn *c, uint32_t opt, uint32_t type,
		     const void *data, size_t len)
{
	char h[20];
	struct iovec iov[2] = {
		{ h, sizeof(h) },
		{ (void *)data, len },
	};

	nbd_put64(h, NBD_REP_MAGIC);
	nbd_put32(h + 8, opt);
	nbd_put32(h + 12, type);
	nbd_put32(h + 16, (uint32_t)len);
	return nbd_send(c, iov, len ? 2 : 1);
}

/* An error reply with a short message for the user. */
static int opt_error(struct nbd_conn *c, uint32_t opt, uint32_t type,
		     const char *msg)
{
	return opt_reply(c, opt, type, msg, strlen(msg));
}

/* NBD_REP_INFO of type @info with @len bytes of @data. */
static int send_info(struct nbd_conn *c, uint32_t opt, uint16_t info,
		     const void *data, size_t len)
{
	char buf[2 + NBD_MAX_STRING];

	nbd_put16(buf, info);
	memcpy(buf + 2, data, len);
	return opt_reply(c, opt, NBD_REP_INFO, buf, 2 + len);
}

static int send_info_export(struct nbd_conn *c, uint32_t opt,
			    const struct nbd_export *e)
{
	char d[10];

	nbd_put64(d, e->size);
	nbd_put16(d + 8, nbd_export_flags(e, c->structured));
	return send_info(c, opt, NBD_INFO_EXPORT, d, sizeof(d));
}

static int send_info_block_size(struct nbd_conn *c, uint32_t opt,
				const struct nbd_export *e)
{
	uint32_t pref = NBD_PREFERRED_BLOCK;
	char d[12];

	if (pref < e->min_block)
		pref = e->min_block;
	nbd_put32(d, e->min_block);
	nbd_put32(d + 4, pref);
	nbd_put32(d + 8, NBD_MAX_REQUEST);
	return send_info(c, opt, NBD_INFO_BLOCK_SIZE, d, sizeof(d));
}

/* EXPORT_NAME: no reply header; an unknown name closes the connection. */
static int opt_export_name(struct nbd_conn *c, const char *d, uint32_t len)
{
	const struct nbd_export *e = NULL;
	char buf[10 + 124] = { 0 };
	struct iovec iov;
	int rc;

	if (len <= NBD_MAX_STRING)
		e = nbd_find_export(c, d, len);
	if (!e)
		return -ENOENT;
	c->ex = e;
	c->tflags = nbd_export_flags(e, c->structured);
	if (c->meta_ex != e)
		c->meta_alloc = false;
	nbd_put64(buf, e->size);
	nbd_put16(buf + 8, c->tflags);
	iov.iov_base = buf;
	iov.iov_len = c->no_zeroes ? 10 : sizeof(buf);
	rc = nbd_send(c, &iov, 1);
	return rc;
}

/* LIST: one REP_SERVER per export (name, then its description). */
static int opt_list(struct nbd_conn *c, uint32_t len)
{
	char buf[4 + NBD_MAX_STRING + sizeof(c->exports[0].description)];
	unsigned i;
	int rc;

	if (len)
		return opt_error(c, NBD_OPT_LIST, NBD_REP_ERR_INVALID,
				 "LIST takes no data");
	for (i = 0; i < c->nr_exports; i++) {
		const struct nbd_export *e = &c->exports[i];
		size_t n = strlen(e->name), dl = strlen(e->description);

		if (n > NBD_MAX_STRING)
			continue;
		nbd_put32(buf, (uint32_t)n);
		memcpy(buf + 4, e->name, n);
		memcpy(buf + 4 + n, e->description, dl);
		rc = opt_reply(c, NBD_OPT_LIST, NBD_REP_SERVER, buf,
			       4 + n + dl);
		if (rc)
			return rc;
	}
	return opt_reply(c, NBD_OPT_LIST, NBD_REP_ACK, NULL, 0);
}

/* INFO and GO. Returns 0, or 2 when GO chose an export. */
static int opt_info_go(struct nbd_conn *c, uint32_t opt, const char *d,
		       uint32_t len)
{
	bool want_name = false, want_desc = false;
	const struct nbd_export *e;
	uint32_t nlen, i;
	uint16_t nreq;
	int rc;

	if (len < 6)
		return opt_error(c, opt, NBD_REP_ERR_INVALID, "option too short");
	nlen = nbd_get32(d);
	if (nlen > len - 6 || nlen > NBD_MAX_STRING)
		return opt_error(c, opt, NBD_REP_ERR_INVALID,
				 "bad export name length");
	nreq = nbd_get16(d + 4 + nlen);
	if ((uint64_t)4 + nlen + 2 + 2ull * nreq != len)
		return opt_error(c, opt, NBD_REP_ERR_INVALID,
				 "bad number of information requests");
	for (i = 0; i < nreq; i++) {
		uint16_t t = nbd_get16(d + 4 + nlen + 2 + 2 * i);

		want_name |= t == NBD_INFO_NAME;
		want_desc |= t == NBD_INFO_DESCRIPTION;
	}
	e = nbd_find_export(c, d + 4, nlen);
	if (!e)
		return opt_error(c, opt, NBD_REP_ERR_UNKNOWN,
				 "no export of that name");
	/* what the client asked for first, then the export itself */
	rc = 0;
	if (want_name)
		rc = send_info(c, opt, NBD_INFO_NAME, e->name, strlen(e->name));
	if (!rc && want_desc)
		rc = send_info(c, opt, NBD_INFO_DESCRIPTION, e->description,
			       strlen(e->description));
	if (!rc)
		rc = send_info_block_size(c, opt, e);
	if (!rc)
		rc = send_info_export(c, opt, e);
	if (!rc)
		rc = opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
	if (rc || opt == NBD_OPT_INFO)
		return rc;
	c->ex = e;
	c->tflags = nbd_export_flags(e, c->structured);
	if (c->meta_ex != e)
		c->meta_alloc = false;
	return 2;
}

/* Does @q (@qlen bytes) select base:allocation? With @list, the namespace
 * alone ("base:") does too. */
static bool query_matches(const char *q, uint32_t qlen, bool list)
{
	size_t n = strlen(NBD_META_BASE_ALLOCATION);

	if (qlen == n && !memcmp(q, NBD_META_BASE_ALLOCATION, n))
		return true;
	return list && qlen == 5 && !memcmp(q, "base:", 5);
}

/* LIST_META_CONTEXT and SET_META_CONTEXT. */
static int opt_meta(struct nbd_conn *c, uint32_t opt, const char *d,
		    uint32_t len)
{
	bool list = opt == NBD_OPT_LIST_META_CONTEXT, match = false;
	const struct nbd_export *e;
	uint32_t nlen, nq, pos, i;
	char r[4 + sizeof(NBD_META_BASE_ALLOCATION)];
	int rc;

	if (!c->structured)
		return opt_error(c, opt, NBD_REP_ERR_INVALID,
				 "negotiate structured replies first");
	if (len < 8)
		return opt_error(c, opt, NBD_REP_ERR_INVALID, "option too short");
	nlen = nbd_get32(d);
	if (nlen > len - 8 || nlen > NBD_MAX_STRING)
		return opt_error(c, opt, NBD_REP_ERR_INVALID,
				 "bad export name length");
	nq = nbd_get32(d + 4 + nlen);
	pos = 8 + nlen;
	/* check every query's framing before answering anything */
	for (i = 0; i < nq; i++) {
		uint32_t ql;

		if (len - pos < 4)
			return opt_error(c, opt, NBD_REP_ERR_INVALID,
					 "truncated query");
		ql = nbd_get32(d + pos);
		if (ql > len - pos - 4 || ql > NBD_MAX_STRING)
			return opt_error(c, opt, NBD_REP_ERR_INVALID,
					 "bad query length");
		if (query_matches(d + pos + 4, ql, list))
			match = true;
		pos += 4 + ql;
	}
	if (pos != len)
		return opt_error(c, opt, NBD_REP_ERR_INVALID,
				 "trailing data after the queries");
	e = nbd_find_export(c, d + 4, nlen);
	if (!e)
		return opt_error(c, opt, NBD_REP_ERR_UNKNOWN,
				 "no export of that name");
	if (list && nq == 0)
		match = true; /* no query: every context */
	if (match) {
		size_t n = strlen(NBD_META_BASE_ALLOCATION);

		nbd_put32(r, list ? 0 : META_ID_ALLOC);
		memcpy(r + 4, NBD_META_BASE_ALLOCATION, n);
		rc = opt_reply(c, opt, NBD_REP_META_CONTEXT, r, 4 + n);
		if (rc)
			return rc;
	}
	if (!list) {
		c->meta_ex = e;
		c->meta_alloc = match;
	}
	return opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
}

/* Is TLS required and not up yet? */
static bool tls_wanted(const struct nbd_conn *c)
{
	return nbd_tls_mode(c->tls) == NBD_TLS_REQUIRE && !c->session;
}

/* STARTTLS: ACK, then the TLS handshake; the rest of the haggling runs
 * over TLS. */
static int opt_starttls(struct nbd_conn *c, uint32_t len)
{
	int rc;

	if (!c->tls)
		return opt_error(c, NBD_OPT_STARTTLS, NBD_REP_ERR_POLICY,
				 "TLS is not enabled on this server");
	if (c->session)
		return opt_error(c, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID,
				 "TLS is already negotiated");
	if (len)
		return opt_error(c, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID,
				 "STARTTLS takes no data");
	/* Bytes the client sent after STARTTLS, before our ACK, were never
	 * protected: a man in the middle could have put them there. The
	 * client must wait for the ACK, so any such byte is a violation. */
	if (c->rpos < c->rlen)
		return -EPROTO;
	rc = opt_reply(c, NBD_OPT_STARTTLS, NBD_REP_ACK, NULL, 0);
	if (rc)
		return rc;
	rc = nbd_tls_start(c);
	if (rc)
		return rc;
	/* nothing negotiated in plain text carries over into TLS */
	c->structured = false;
	c->meta_ex = NULL;
	c->meta_alloc = false;
	return 0;
}

/* Handle one option whose data is @d (@len bytes). Returns 0 to go on,
 * 1 to close politely, 2 to start transmission, or a negative errno. */
static int handle_option(struct nbd_conn *c, uint32_t opt, const char *d,
			 uint32_t len)
{
	int rc;

	if (tls_wanted(c) && opt != NBD_OPT_STARTTLS && opt != NBD_OPT_ABORT) {
		if (opt == NBD_OPT_EXPORT_NAME)
			return -EACCES; /* no error reply exists: close */
		return opt_error(c, opt, NBD_REP_ERR_TLS_REQD,
				 "this server requires TLS (STARTTLS)");
	}
	switch (opt) {
	case NBD_OPT_EXPORT_NAME:
		rc = opt_export_name(c, d, len);
		return rc ? rc : 2;
	case NBD_OPT_ABORT:
		/* the client may already be gone: a failed ACK is fine */
		opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
		return 1;
	case NBD_OPT_LIST:
		return opt_list(c, len);
	case NBD_OPT_STARTTLS:
		return opt_starttls(c, len);
	case NBD_OPT_INFO:
	case NBD_OPT_GO:
		return opt_info_go(c, opt, d, len);
	case NBD_OPT_STRUCTURED_REPLY:
		if (len)
			return opt_error(c, opt, NBD_REP_ERR_INVALID,
					 "STRUCTURED_REPLY takes no data");
		c->structured = true;
		return opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
	case NBD_OPT_LIST_META_CONTEXT:
	case NBD_OPT_SET_META_CONTEXT:
		return opt_meta(c, opt, d, len);
	default:
		return opt_error(c, opt, NBD_REP_ERR_UNSUP,
				 "option not supported");
	}
}

/* Greeting and client flags. */
static int greet(struct nbd_conn *c)
{
	char g[18], f[4];
	struct iovec iov = { g, sizeof(g) };
	uint32_t flags;
	int rc;

	nbd_put64(g, NBD_MAGIC);
	nbd_put64(g + 8, NBD_OPTS_MAGIC);
	nbd_put16(g + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	rc = nbd_send(c, &iov, 1);
	if (rc)
		return rc;
	rc = nbd_recv(c, f, sizeof(f));
	if (rc)
		return rc;
	flags = nbd_get32(f);
	if (flags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES))
		return -EPROTO;
	/* a client without fixed newstyle cannot ask for TLS */
	if (nbd_tls_mode(c->tls) == NBD_TLS_REQUIRE &&
	    !(flags & NBD_FLAG_C_FIXED_NEWSTYLE))
		return -EACCES;
	c->no_zeroes = flags & NBD_FLAG_C_NO_ZEROES;
	return 0;
}

int nbd_handshake(struct nbd_conn *c)
{
	char h[16], *d = malloc(OPT_BUF_MAX);
	int rc;

	if (!d)
		return -ENOMEM;
	rc = greet(c);
	while (!rc) {
		uint32_t opt, len;

		rc = nbd_recv(c, h, sizeof(h));
		if (rc)
			break;
		if (nbd_get64(h) != NBD_OPTS_MAGIC) {
			rc = -EPROTO;
			break;
		}
		opt = nbd_get32(h + 8);
		len = nbd_get32(h + 12);
		if (len > OPT_MAX) {
			rc = -EPROTO;
			break;
		}
		if (len > OPT_BUF_MAX) {
			rc = nbd_skip(c, len);
			if (rc)
				break;
			if (opt == NBD_OPT_EXPORT_NAME) {
				rc = -EPROTO;
				break;
			}
			if (tls_wanted(c) && opt != NBD_OPT_STARTTLS &&
			    opt != NBD_OPT_ABORT)
				rc = opt_error(c, opt, NBD_REP_ERR_TLS_REQD,
					       "this server requires TLS");
			else
				rc = opt_error(c, opt, NBD_REP_ERR_TOO_BIG,
					       "option too long");
			continue;
		}
		rc = nbd_recv(c, d, len);
		if (rc)
			break;
		rc = handle_option(c, opt, d, len);
	}
	free(d);
	if (rc == 2)
		return 0;
	return rc;
}

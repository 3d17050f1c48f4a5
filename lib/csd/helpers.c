// SPDX-License-Identifier: MIT
/*
 * helpers.c - the functions a program may call (documented for program
 * authors in include/zvd_bpf_helpers.h): emit a result record, read and
 * append zone data, geometry, zone information, arguments, trace.
 *
 * Every helper takes r1-r5 as a[0..4]. Each guest pointer goes through
 * csd_mem() before use, each length is capped, each zone is checked
 * against the run's grant. A violation ends the run (csd_fail); what a
 * correct program may meet (no such argument, output full, a device
 * error) comes back as a negative errno in r0.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csd.h"

#define ERR(e) ((uint64_t)(int64_t)(e))
#define PAD8(x) (((uint64_t)(x) + 7) & ~(uint64_t)7)

/* Header of a result record; the key and the value follow, each padded
 * to 8 bytes. zvd_csd_record_next() in run.c decodes it. */
struct csd_rec_hdr {
	uint32_t val_len;
	uint16_t type;
	uint8_t key_len;
	uint8_t reserved0;
};

/* The key at a[i], a[i+1]: 1..ZVD_CSD_MAX_KEY bytes of program memory. */
static const char *get_key(struct csd_run *run, const uint64_t *a,
			   const char *what)
{
	if (!a[1] || a[1] > ZVD_CSD_MAX_KEY) {
		csd_fail(run, -EINVAL, "%s: key length %llu is not 1..%u", what,
			 (unsigned long long)a[1], ZVD_CSD_MAX_KEY);
		return NULL;
	}
	return csd_mem(run, a[0], a[1], false, what);
}

/* Is @zone among the zones the run may read? Ends the run if not. */
static bool granted(struct csd_run *run, uint64_t zone, const char *what)
{
	const struct zvd_csd_run_opts *o = run->opts;

	if (zone >= o->first_zone && zone - o->first_zone < o->nr_zones)
		return true;
	csd_fail(run, -EACCES,
		 "%s: zone %llu is not granted (zones %u-%u are)", what,
		 (unsigned long long)zone, o->first_zone,
		 o->first_zone + o->nr_zones - 1);
	return false;
}

/* ---- emit ---- */

static uint64_t h_emit(struct csd_run *run, const uint64_t *a)
{
	struct csd_rec_hdr h = { 0 };
	const char *key = get_key(run, a, "zvd_emit");
	const void *val;
	uint64_t size, used = run->res->bytes_returned;

	if (!key)
		return 0;
	if (a[2] < ZVD_REC_U64 || a[2] > ZVD_REC_BYTES ||
	    ((a[2] == ZVD_REC_U64 || a[2] == ZVD_REC_I64) && a[4] % 8))
		return csd_fail(run, -EINVAL,
				"zvd_emit: bad type %llu or length %llu",
				(unsigned long long)a[2],
				(unsigned long long)a[4]);
	val = csd_mem(run, a[3], a[4], false, "zvd_emit value");
	if (!val)
		return 0;
	size = sizeof(h) + PAD8(a[1]) + PAD8(a[4]);
	if (size > run->out_cap - used)
		return ERR(-ENOSPC);
	h.val_len = (uint32_t)a[4];
	h.type = (uint16_t)a[2];
	h.key_len = (uint8_t)a[1];
	memset(run->out + used, 0, size);
	memcpy(run->out + used, &h, sizeof(h));
	memcpy(run->out + used + sizeof(h), key, a[1]);
	memcpy(run->out + used + sizeof(h) + PAD8(a[1]), val, a[4]);
	run->res->bytes_returned = used + size;
	return 0;
}

/* ---- zone data ---- */

/* Bytes from the zone start that reads may cover (see zvd_csd_zone). */
static uint64_t readable(const struct zvd_zone *z)
{
	if (z->cond == ZVD_COND_OFFLINE)
		return 0;
	if (z->type == ZVD_ZONE_CONVENTIONAL)
		return z->len;
	return z->written < z->capacity ? z->written : z->capacity;
}

static int get_zone(struct csd_run *run, uint32_t zone, struct zvd_zone *z)
{
	int rc = zvd_report(run->dev, zone, ZVD_REPORT_ALL, z, 1);

	if (rc < 0)
		return rc;
	return rc == 1 ? 0 : -EINVAL;
}

static uint8_t *bounce(struct csd_run *run, size_t len)
{
	uint8_t *p;

	if (len <= run->bounce_len)
		return run->bounce;
	p = realloc(run->bounce, len);
	if (!p)
		return NULL;
	run->bounce = p;
	run->bounce_len = len;
	return p;
}

/* Read @n bytes at device offset @at into @dst, through a bounce buffer
 * when the range is not block-aligned. */
static int read_any(struct csd_run *run, uint8_t *dst, uint64_t n,
		    uint64_t at)
{
	uint64_t bs = run->geom.block_size, lo = at - at % bs;
	uint64_t hi = (at + n + bs - 1) / bs * bs;
	uint8_t *b;
	int rc;

	if (lo == at && hi == at + n)
		return zvd_read(run->dev, dst, n, at);
	b = bounce(run, hi - lo);
	if (!b)
		return -ENOMEM;
	rc = zvd_read(run->dev, b, hi - lo, lo);
	if (!rc)
		memcpy(dst, b + (at - lo), n);
	return rc;
}

static uint64_t h_read(struct csd_run *run, const uint64_t *a)
{
	uint64_t off = a[1], len = a[3], lim, n;
	struct zvd_zone z;
	uint8_t *dst;
	int rc;

	if (!granted(run, a[0], "zvd_read"))
		return 0;
	if (len > ZVD_CSD_MAX_IO)
		return csd_fail(run, -EINVAL,
				"zvd_read: length %llu is over the limit of %u",
				(unsigned long long)len, ZVD_CSD_MAX_IO);
	dst = csd_mem(run, a[2], len, true, "zvd_read buffer");
	if (!dst)
		return 0;
	if (!run->dev)
		return ERR(-ENODEV);
	rc = get_zone(run, (uint32_t)a[0], &z);
	if (rc)
		return ERR(rc);
	if (z.cond == ZVD_COND_OFFLINE)
		return ERR(-EIO);
	lim = readable(&z);
	if (off >= lim || !len)
		return 0;
	n = len < lim - off ? len : lim - off;
	rc = read_any(run, dst, n, z.start + off);
	if (rc)
		return ERR(rc);
	run->res->bytes_read += n;
	return n;
}

static uint64_t h_append(struct csd_run *run, const uint64_t *a)
{
	const struct zvd_csd_run_opts *o = run->opts;
	uint64_t where = 0, *wp = NULL;
	const void *src;
	int rc;

	if (a[0] != o->zone || !(o->flags & ZVD_CSD_GRANT_APPEND))
		return csd_fail(run, -EACCES,
				"zvd_append: appending to zone %llu is not granted",
				(unsigned long long)a[0]);
	if (a[2] > ZVD_CSD_MAX_IO)
		return csd_fail(run, -EINVAL,
				"zvd_append: length %llu is over the limit of %u",
				(unsigned long long)a[2], ZVD_CSD_MAX_IO);
	src = csd_mem(run, a[1], a[2], false, "zvd_append buffer");
	if (!src)
		return 0;
	if (a[3]) {
		wp = csd_mem(run, a[3], sizeof(*wp), true, "zvd_append where");
		if (!wp)
			return 0;
	}
	if (!run->dev)
		return ERR(-ENODEV);
	rc = zvd_append(run->dev, (uint32_t)a[0], src, a[2], 0, &where);
	if (rc)
		return ERR(rc);
	run->res->bytes_appended += a[2];
	if (wp)
		memcpy(wp, &where, sizeof(where));
	return 0;
}

/* ---- geometry and zones ---- */

/* Copy @len bytes of @src into the program's @addr of @size bytes (the
 * rest zeroed). */
static uint64_t copy_out(struct csd_run *run, uint64_t addr, uint64_t size,
			 const void *src, size_t len, const char *what)
{
	uint8_t *dst;

	if (size > 4096)
		return csd_fail(run, -EINVAL, "%s: size %llu is too large", what,
				(unsigned long long)size);
	dst = csd_mem(run, addr, size, true, what);
	if (!dst)
		return 0;
	memset(dst, 0, size);
	memcpy(dst, src, size < len ? size : len);
	return 0;
}

static uint64_t h_geometry(struct csd_run *run, const uint64_t *a)
{
	struct zvd_csd_geom g = { 0 };

	if (!run->dev)
		return ERR(-ENODEV);
	g.size = run->geom.size;
	g.zone_size = run->geom.zone_size;
	g.zone_capacity = run->geom.zone_capacity;
	g.block_size = run->geom.block_size;
	g.nr_zones = zvd_nr_zones(run->dev);
	g.nr_conv_zones = run->geom.nr_conv_zones;
	g.max_append = run->geom.max_append;
	return copy_out(run, a[0], a[1], &g, sizeof(g), "zvd_geometry");
}

static uint64_t h_zone_info(struct csd_run *run, const uint64_t *a)
{
	struct zvd_csd_zone out = { 0 };
	struct zvd_zone z;
	int rc;

	if (!granted(run, a[0], "zvd_zone_info"))
		return 0;
	if (!run->dev)
		return ERR(-ENODEV);
	rc = get_zone(run, (uint32_t)a[0], &z);
	if (rc)
		return ERR(rc);
	out.start = z.start;
	out.len = z.len;
	out.capacity = z.capacity;
	out.wp = z.wp == ZVD_WP_INVALID ? ~0ull : z.wp - z.start;
	out.readable = readable(&z);
	out.type = z.type;
	out.cond = z.cond;
	return copy_out(run, a[1], a[2], &out, sizeof(out), "zvd_zone_info");
}

/* ---- arguments ---- */

static const char *find_arg(struct csd_run *run, const char *key,
			    size_t len)
{
	const struct zvd_csd_run_opts *o = run->opts;
	uint32_t i;

	for (i = 0; i < o->nr_args; i++)
		if (strlen(o->args[i].key) == len &&
		    !memcmp(o->args[i].key, key, len))
			return o->args[i].value;
	return NULL;
}

static uint64_t h_arg(struct csd_run *run, const uint64_t *a)
{
	const char *key = get_key(run, a, "zvd_arg"), *val;
	size_t vlen, n;
	char *dst = NULL;

	if (!key)
		return 0;
	if (a[3]) {
		dst = csd_mem(run, a[2], a[3], true, "zvd_arg buffer");
		if (!dst)
			return 0;
	}
	val = find_arg(run, key, a[1]);
	if (!val)
		return ERR(-ENOENT);
	vlen = strlen(val);
	if (dst) {
		n = vlen < a[3] - 1 ? vlen : a[3] - 1;
		memcpy(dst, val, n);
		dst[n] = 0;
	}
	return vlen;
}

/* Parse decimal, or hex after 0x, with an optional leading '-'. */
static int parse_u64(const char *s, uint64_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;
	bool neg = *s == '-';

	s += neg;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && (*s | 0x20) >= 'a' && (*s | 0x20) <= 'f')
			d = (unsigned)((*s | 0x20) - 'a' + 10);
		else
			return -EINVAL;
		if (v > (UINT64_MAX - d) / base)
			return -EINVAL;
		v = v * base + d;
	}
	*out = neg ? (uint64_t)0 - v : v;
	return 0;
}

static uint64_t h_arg_u64(struct csd_run *run, const uint64_t *a)
{
	const char *key = get_key(run, a, "zvd_arg_u64"), *val;
	uint64_t *dst, v;

	if (!key)
		return 0;
	dst = csd_mem(run, a[2], sizeof(*dst), true, "zvd_arg_u64 result");
	if (!dst)
		return 0;
	val = find_arg(run, key, a[1]);
	if (!val)
		return ERR(-ENOENT);
	if (parse_u64(val, &v))
		return ERR(-EINVAL);
	memcpy(dst, &v, sizeof(v));
	return 0;
}

/* ---- trace ---- */

static uint64_t h_trace(struct csd_run *run, const uint64_t *a)
{
	char line[ZVD_CSD_MAX_TRACE_MSG + 1];
	const char *msg;

	if (a[1] > ZVD_CSD_MAX_TRACE_MSG)
		return csd_fail(run, -EINVAL,
				"zvd_trace: message of %llu bytes is over %u",
				(unsigned long long)a[1], ZVD_CSD_MAX_TRACE_MSG);
	msg = csd_mem(run, a[0], a[1], false, "zvd_trace message");
	if (!msg)
		return 0;
	if (++run->res->trace_lines > run->max_trace)
		return 1;
	memcpy(line, msg, a[1]);
	line[a[1]] = 0;
	if (run->opts->trace)
		run->opts->trace(run->opts->trace_arg, line, a[2]);
	return 0;
}

/* ---- the table ---- */

static const csd_helper_fn helpers[ZVD_HELPER_COUNT] = {
	[ZVD_HELPER_EMIT] = h_emit,
	[ZVD_HELPER_READ] = h_read,
	[ZVD_HELPER_APPEND] = h_append,
	[ZVD_HELPER_GEOMETRY] = h_geometry,
	[ZVD_HELPER_ZONE_INFO] = h_zone_info,
	[ZVD_HELPER_ARG] = h_arg,
	[ZVD_HELPER_ARG_U64] = h_arg_u64,
	[ZVD_HELPER_TRACE] = h_trace,
};

csd_helper_fn csd_helper(int32_t id)
{
	if (id <= 0 || id >= ZVD_HELPER_COUNT)
		return NULL;
	return helpers[id];
}

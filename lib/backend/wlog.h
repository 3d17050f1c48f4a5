/* SPDX-License-Identifier: MIT */
/*
 * wlog.h - the format of the write-back log a RADOS image keeps on local
 * disk (lib/backend/rados.c uses it).
 *
 *   bytes 0 and 4096   two header slots; the valid one with the higher
 *                      generation wins. A header names the log (a random
 *                      id), the image, the size of the record area and
 *                      where the oldest record the cluster may lack is:
 *                      its logical position and sequence number.
 *   byte 8192 ...      the record area, used as a ring. A logical
 *                      position p is at byte 8192 + p % area. Records
 *                      never straddle the ring's end: a WRAP record (or
 *                      fewer than a record header's bytes left) sends the
 *                      next one to the start.
 *
 * A record is a 48-byte header (magic, type, length, the log's id, a
 * sequence number one more than the previous record's, the previous
 * record's CRC, object number, offset, CRC32C of header and data)
 * followed by its data, padded to 8 bytes. WRITE carries data for one
 * object, ZERO a range of one object, FLUSH marks the point a flush
 * returned at. Replay reads records from the header's position while each
 * is valid, has the next sequence number and names the CRC of the record
 * before it, so neither stale records of an earlier lap nor those a crash
 * orphaned (an old record that follows a rewritten one) ever count.
 */
#ifndef ZVD_WLOG_H
#define ZVD_WLOG_H

#include <stdint.h>

#include "backend/backend.h"

#define WL_START 8192u	/* first byte of the record area */
#define WL_REC 48u	/* record header */
#define WL_IMAGE_MAX 200u

enum wl_type { WR_WRITE = 1, WR_ZERO = 2, WR_FLUSH = 3, WR_WRAP = 4 };

struct wl_head {
	uint64_t gen;
	uint8_t id[16];
	char image[WL_IMAGE_MAX]; /* "POOL/NAME" */
	uint64_t area;		  /* bytes of the record area */
	uint64_t tail;		  /* logical position of the first record */
	uint64_t tail_seq;	  /* its sequence number */
	uint32_t tail_prev;	  /* the CRC it names as its predecessor's */
};

struct wl_rec {
	uint32_t type;
	uint32_t len;	/* data bytes (WRITE) or range length (ZERO) */
	uint64_t seq;
	uint32_t prev;	/* the previous record's CRC */
	uint32_t crc;	/* this one's (set by wl_encode, read by wl_decode) */
	uint64_t obj;
	uint32_t off;
};

/* Bytes a record takes in the ring. */
static inline uint64_t wl_rec_size(const struct wl_rec *r)
{
	uint64_t data = r->type == WR_WRITE ? r->len : 0;

	return (WL_REC + data + 7) & ~7ull;
}

/* Read the newest valid header: -ENODATA when there is none. */
int wl_read_head(struct zvd_backend *lb, struct wl_head *h);

/* Write @h with the next generation into the other slot (not flushed). */
int wl_write_head(struct zvd_backend *lb, struct wl_head *h);

/* Encode record @r (with @data for a WRITE) into @out, which has
 * wl_rec_size(r) bytes, and set r->crc. */
void wl_encode(uint8_t *out, const struct wl_head *h, struct wl_rec *r,
	       const void *data);

/* Decode the header at @p: 0 if it is a record of log @h with sequence
 * number @seq following a record whose CRC is @prev (the data's CRC is
 * checked by wl_check), else -1. */
int wl_decode(const uint8_t *p, const struct wl_head *h, uint64_t seq,
	      uint32_t prev, struct wl_rec *r);

/* Does the whole record at @p (wl_rec_size bytes) carry its CRC? */
int wl_check(const uint8_t *p, const struct wl_rec *r);

#endif

// SPDX-License-Identifier: MIT
/*
 * wlog.c - encoding and decoding the write-back log's headers and records
 * (the format is described in wlog.h).
 */
#include <errno.h>
#include <string.h>

#include "backend/wlog.h"
#include "util/util.h"

#define WL_MAGIC 0x474C4257445A5Aull /* "ZZDWBLG" */
#define WL_REC_MAGIC 0x3152575Au     /* "ZWR1" */
#define WL_SLOT 4096u

/* Header slot layout: magic 8, gen 8, id 16, area 8, tail 8, tail_seq 8,
 * tail_prev 4, image WL_IMAGE_MAX, crc 4 (over everything before it). */
enum { H_GEN = 8, H_ID = 16, H_AREA = 32, H_TAIL = 40, H_SEQ = 48,
       H_PREV = 56, H_IMAGE = 60, H_CRC = H_IMAGE + WL_IMAGE_MAX,
       H_LEN = H_CRC + 4 };

static int decode_head(const uint8_t *b, struct wl_head *h)
{
	if (get_le64(b) != WL_MAGIC ||
	    get_le32(b + H_CRC) != zvd_crc32c(0, b, H_CRC))
		return -1;
	h->gen = get_le64(b + H_GEN);
	memcpy(h->id, b + H_ID, sizeof(h->id));
	h->area = get_le64(b + H_AREA);
	h->tail = get_le64(b + H_TAIL);
	h->tail_seq = get_le64(b + H_SEQ);
	h->tail_prev = get_le32(b + H_PREV);
	memcpy(h->image, b + H_IMAGE, WL_IMAGE_MAX);
	h->image[WL_IMAGE_MAX - 1] = 0;
	return h->area >= (1u << 20) ? 0 : -1;
}

int wl_read_head(struct zvd_backend *lb, struct wl_head *h)
{
	uint8_t b[2][H_LEN];
	struct wl_head c[2];
	int ok[2], i, err;

	for (i = 0; i < 2; i++) {
		err = be_read(lb, b[i], H_LEN, (uint64_t)i * WL_SLOT);
		if (err)
			return err;
		ok[i] = decode_head(b[i], &c[i]) == 0;
	}
	if (!ok[0] && !ok[1])
		return -ENODATA;
	i = ok[0] && ok[1] ? c[1].gen > c[0].gen : ok[1];
	*h = c[i];
	return 0;
}

int wl_write_head(struct zvd_backend *lb, struct wl_head *h)
{
	uint8_t b[H_LEN];

	h->gen++;
	memset(b, 0, sizeof(b));
	put_le64(b, WL_MAGIC);
	put_le64(b + H_GEN, h->gen);
	memcpy(b + H_ID, h->id, sizeof(h->id));
	put_le64(b + H_AREA, h->area);
	put_le64(b + H_TAIL, h->tail);
	put_le64(b + H_SEQ, h->tail_seq);
	put_le32(b + H_PREV, h->tail_prev);
	memcpy(b + H_IMAGE, h->image, strnlen(h->image, WL_IMAGE_MAX - 1));
	put_le32(b + H_CRC, zvd_crc32c(0, b, H_CRC));
	return be_write(lb, b, H_LEN, (h->gen & 1) * WL_SLOT);
}

/* Record header: magic 4, type 4, len 4, off 4, seq 8, obj 8, id 8 (the
 * first half of the log's id), the previous record's crc 4, crc 4. */
enum { R_TYPE = 4, R_LEN = 8, R_OFF = 12, R_SEQ = 16, R_OBJ = 24, R_ID = 32,
       R_PREV = 40, R_CRC = 44 };

void wl_encode(uint8_t *out, const struct wl_head *h, struct wl_rec *r,
	       const void *data)
{
	uint64_t size = wl_rec_size(r);
	uint32_t crc;

	memset(out, 0, WL_REC);
	put_le32(out, WL_REC_MAGIC);
	put_le32(out + R_TYPE, r->type);
	put_le32(out + R_LEN, r->len);
	put_le32(out + R_OFF, r->off);
	put_le64(out + R_SEQ, r->seq);
	put_le64(out + R_OBJ, r->obj);
	memcpy(out + R_ID, h->id, 8);
	put_le32(out + R_PREV, r->prev);
	if (r->type == WR_WRITE)
		memcpy(out + WL_REC, data, r->len);
	memset(out + WL_REC + (r->type == WR_WRITE ? r->len : 0), 0,
	       size - WL_REC - (r->type == WR_WRITE ? r->len : 0));
	crc = zvd_crc32c(0, out, size);
	put_le32(out + R_CRC, crc);
	r->crc = crc;
}

int wl_decode(const uint8_t *p, const struct wl_head *h, uint64_t seq,
	      uint32_t prev, struct wl_rec *r)
{
	if (get_le32(p) != WL_REC_MAGIC || memcmp(p + R_ID, h->id, 8) ||
	    get_le64(p + R_SEQ) != seq || get_le32(p + R_PREV) != prev)
		return -1;
	r->prev = prev;
	r->crc = get_le32(p + R_CRC);
	r->type = get_le32(p + R_TYPE);
	r->len = get_le32(p + R_LEN);
	r->off = get_le32(p + R_OFF);
	r->seq = seq;
	r->obj = get_le64(p + R_OBJ);
	if (r->type < WR_WRITE || r->type > WR_WRAP ||
	    (uint64_t)r->off + r->len > ZVD_RADOS_OBJECT)
		return -1;
	return 0;
}

int wl_check(const uint8_t *p, const struct wl_rec *r)
{
	uint8_t head[WL_REC];
	uint64_t size = wl_rec_size(r);
	uint32_t crc;

	memcpy(head, p, WL_REC);
	put_le32(head + R_CRC, 0);
	crc = zvd_crc32c(0, head, WL_REC);
	crc = zvd_crc32c(crc, p + WL_REC, size - WL_REC);
	return crc == get_le32(p + R_CRC);
}

// SPDX-License-Identifier: MIT
/*
 * journal.c - the metadata journal: a chain of checksummed transactions.
 *
 * A transaction starts on a 4 KiB boundary and is padded to one:
 *
 *   0 magic "ZTX1"  4 type (1 records, 2 link)  8 chain_id  16 seq
 *  24 payload_len  28 prev_crc  32 crc32c (header with crc 0, then payload)
 *  64 payload: records, each a u32 length then its bytes; or, for a link,
 *     the u32 number of the chunk where the chain goes on.
 *
 * A transaction is valid only with the chain's id, the next sequence number
 * and the previous transaction's CRC, so stale blocks of reused chunks and
 * user data can never pass for metadata. Every transaction is followed by a
 * backend flush before the next one is written, so at most the last one can
 * be torn, and replay stops there. The last block of every chunk is kept
 * for a link, written (and flushed) before the chain continues elsewhere.
 */
#include <errno.h>
#include <stdlib.h>

#include "image/image_int.h"
#include "util/util.h"

#define TX_MAGIC 0x3158545Au /* "ZTX1" */
#define TX_HDR 64u
#define TX_RECORDS 1u
#define TX_LINK 2u

/* ---- record buffers ---- */

uint8_t *img_recs_add(struct img_recs *r, size_t len)
{
	uint8_t *p;

	if (r->len + 4 + len > r->cap) {
		size_t cap = ZVD_MAX(r->cap * 2, r->len + 4 + len + 4096);
		uint8_t *nb = realloc(r->buf, cap);
		if (!nb)
			return NULL;
		r->buf = nb;
		r->cap = cap;
	}
	p = r->buf + r->len;
	put_le32(p, (uint32_t)len);
	r->len += 4 + len;
	return p + 4;
}

void img_recs_reset(struct img_recs *r)
{
	r->len = 0;
}

void img_recs_free(struct img_recs *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

size_t img_max_txn(const struct img *img)
{
	/* a whole chunk but its link block and the header */
	return img->sb.chunk_size - IMG_BLOCK - TX_HDR;
}

/* ---- chain bookkeeping ---- */

int chain_add(struct img *img, uint32_t chunk)
{
	if (img->nr_chain == img->cap_chain) {
		size_t n = img->cap_chain ? img->cap_chain * 2 : 16;
		uint32_t *p = realloc(img->chain, n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		img->chain = p;
		img->cap_chain = n;
	}
	img->chain[img->nr_chain++] = chunk;
	return 0;
}

static uint64_t chunk_end(const struct img *img, uint64_t pos)
{
	uint64_t cs = img->sb.chunk_size;
	return (pos & ~(cs - 1)) + cs;
}

static uint64_t tx_size(size_t payload)
{
	return zvd_div_round_up(TX_HDR + payload, IMG_BLOCK) * IMG_BLOCK;
}

/* ---- encoding ---- */

/* Build a transaction in @b (tx_size(len) bytes, zero-filled here). */
static uint32_t tx_encode(struct img *img, uint8_t *b, uint32_t type,
			  uint64_t chain_id, uint64_t seq, uint32_t prev_crc,
			  const uint8_t *payload, size_t len)
{
	uint32_t crc;

	memset(b, 0, tx_size(len));
	put_le32(b + 0, TX_MAGIC);
	put_le32(b + 4, type);
	put_le64(b + 8, chain_id);
	put_le64(b + 16, seq);
	put_le32(b + 24, (uint32_t)len);
	put_le32(b + 28, prev_crc);
	if (len)
		memcpy(b + TX_HDR, payload, len);
	crc = zvd_crc32c(0, b, TX_HDR + len);
	put_le32(b + 32, crc);
	return crc;
}

/* ---- replay ---- */

struct replay {
	struct img *img;
	uint8_t *buf;
	size_t cap;
};

/*
 * Read and verify the transaction at img->tail. Returns its payload length
 * (the payload is at r->buf + TX_HDR) and type, or -ENOENT at the end of
 * the chain, or another negative errno if the backend failed.
 */
static int tx_read(struct replay *r, uint32_t *type, uint32_t *crc_out)
{
	struct img *img = r->img;
	uint64_t room = chunk_end(img, img->tail) - img->tail;
	uint32_t len, crc;
	int err;

	if (room < IMG_BLOCK)
		return -ENOENT;
	err = be_read(img->be, r->buf, IMG_BLOCK, img->tail);
	if (err)
		return err;
	if (get_le32(r->buf) != TX_MAGIC ||
	    get_le64(r->buf + 8) != img->sb.chain_id ||
	    get_le64(r->buf + 16) != img->next_seq ||
	    get_le32(r->buf + 28) != img->prev_crc)
		return -ENOENT;
	*type = get_le32(r->buf + 4);
	len = get_le32(r->buf + 24);
	if (tx_size(len) > room)
		return -ENOENT;
	if (tx_size(len) > IMG_BLOCK) {
		err = be_read(img->be, r->buf + IMG_BLOCK,
			      tx_size(len) - IMG_BLOCK, img->tail + IMG_BLOCK);
		if (err)
			return err;
	}
	crc = get_le32(r->buf + 32);
	put_le32(r->buf + 32, 0);
	if (zvd_crc32c(0, r->buf, TX_HDR + len) != crc)
		return -ENOENT;
	*crc_out = crc;
	return (int)len;
}

static int replay_records(const uint8_t *p, uint32_t len, img_replay_fn fn,
			  void *arg)
{
	while (len) {
		uint32_t n;
		int err;

		if (len < 4 || (n = get_le32(p)) > len - 4)
			return -EUCLEAN;
		err = fn(arg, p + 4, n);
		if (err)
			return err;
		p += 4 + n;
		len -= 4 + n;
	}
	return 0;
}

/* Follow a link to chunk @next; -EUCLEAN if it cannot be part of the chain. */
static int follow_link(struct img *img, uint32_t next)
{
	int err;

	if (next < img->first_chunk)
		return -EUCLEAN;
	err = pool_set(img, next);
	if (err)
		return err;
	err = chain_add(img, next);
	if (err)
		return err;
	img->tail = img_chunk_off(img->chunk_shift, next);
	return 0;
}

int img_replay(struct img *img, img_replay_fn fn, void *arg)
{
	struct replay r = { .img = img, .cap = img->sb.chunk_size };
	int err;

	r.buf = malloc(r.cap);
	if (!r.buf)
		return -ENOMEM;
	img->next_seq = img->sb.head_seq;
	img->prev_crc = 0;
	img->journal_bytes = 0;
	img->nr_chain = 0;
	img->tail = 0;
	err = follow_link(img, img->sb.head_chunk);
	for (;;) {
		uint32_t type = 0, crc = 0;
		int len;

		if (err)
			break;
		len = tx_read(&r, &type, &crc);
		if (len == -ENOENT)
			break; /* the end of the chain */
		if (len < 0) {
			err = len;
			break;
		}
		if (type == TX_RECORDS)
			err = replay_records(r.buf + TX_HDR, (uint32_t)len, fn, arg);
		else if (type != TX_LINK)
			err = -EUCLEAN;
		img->journal_bytes += tx_size((size_t)len);
		img->next_seq++;
		img->prev_crc = crc;
		if (type == TX_LINK)
			err = len == 4 ? follow_link(img, get_le32(r.buf + TX_HDR))
				       : -EUCLEAN;
		else if (!err)
			img->tail += tx_size((size_t)len);
	}
	free(r.buf);
	if (!err && img->next_seq == img->sb.head_seq)
		err = -ENODATA; /* every chain starts with a transaction */
	img->checkpoint_bytes = img->sb.base_bytes;
	return err;
}

/* ---- writing ---- */

/* Write one transaction at the tail, without flushing. */
static int tx_write(struct img *img, uint64_t chain_id, uint32_t type,
		    const uint8_t *payload, size_t len)
{
	uint64_t size = tx_size(len);
	uint8_t *b = malloc(size);
	uint32_t crc;
	int err;

	if (!b)
		return -ENOMEM;
	crc = tx_encode(img, b, type, chain_id, img->next_seq, img->prev_crc,
			payload, len);
	err = be_write(img->be, b, size, img->tail);
	free(b);
	if (err)
		return err;
	img->next_seq++;
	img->prev_crc = crc;
	img->tail += size;
	img->journal_bytes += size;
	return 0;
}

/* Continue the chain in a new chunk. With @sync the link is made durable
 * before anything is written after it. */
static int chain_extend(struct img *img, uint64_t chain_id, int sync)
{
	uint8_t payload[4];
	uint32_t next;
	int err = pool_alloc_meta(img, &next);

	if (err)
		return err;
	put_le32(payload, next);
	err = tx_write(img, chain_id, TX_LINK, payload, sizeof(payload));
	if (!err && sync)
		err = be_flush(img->be);
	if (!err)
		err = chain_add(img, next);
	if (err) {
		/* the link may be on disk: the chain's state is unknown */
		img->broken = 1;
		return err;
	}
	img->tail = img_chunk_off(img->chunk_shift, next);
	return 0;
}

static int fits(const struct img *img, size_t len)
{
	return img->tail + tx_size(len) + IMG_BLOCK <= chunk_end(img, img->tail);
}

int img_commit(struct img *img, const struct img_recs *recs)
{
	uint64_t tail = img->tail, seq = img->next_seq, jb = img->journal_bytes;
	uint32_t prev = img->prev_crc;
	int err;

	if (img->readonly)
		return -EROFS;
	if (img->broken)
		return -EIO;
	if (!recs->len)
		return 0;
	if (recs->len > img_max_txn(img))
		return -E2BIG;
	if (!fits(img, recs->len)) {
		err = chain_extend(img, img->sb.chain_id, 1);
		if (err)
			return err;
		tail = img->tail;
		seq = img->next_seq;
		prev = img->prev_crc;
		jb = img->journal_bytes;
	}
	err = tx_write(img, img->sb.chain_id, TX_RECORDS, recs->buf, recs->len);
	if (!err)
		err = be_flush(img->be);
	if (err) {
		/* rewrite the same place with the same number next time */
		img->tail = tail;
		img->next_seq = seq;
		img->prev_crc = prev;
		img->journal_bytes = jb;
	}
	return err;
}

/* The first transaction of a new image's chain (empty). */
int journal_start(struct img *img)
{
	return tx_write(img, img->sb.chain_id, TX_RECORDS, NULL, 0);
}

int img_needs_checkpoint(const struct img *img)
{
	/* recovery reads at most this much; checkpoints cost at most a third
	 * of the journal's writes */
	uint64_t limit = ZVD_MAX(16ull * img->sb.chunk_size,
				 4 * img->checkpoint_bytes);
	return img->journal_bytes > limit;
}

/* Write @recs from the start of a fresh chain, splitting at records. */
static int write_new_chain(struct img *img, uint64_t chain_id,
			   const struct img_recs *recs)
{
	size_t off = 0;

	/* an empty state still gets a transaction: a chain is never empty,
	 * so a missing journal (a truncated image) is detected */
	if (!recs->len)
		return tx_write(img, chain_id, TX_RECORDS, NULL, 0);

	while (off < recs->len) {
		size_t end = off;
		int err;

		/* take whole records while they fit this chunk */
		while (end < recs->len) {
			size_t next = end + 4 + get_le32(recs->buf + end);
			if (!fits(img, next - off))
				break;
			end = next;
		}
		if (end == off) {
			if (4 + get_le32(recs->buf + off) > img_max_txn(img))
				return -E2BIG;
			err = chain_extend(img, chain_id, 0);
		} else {
			err = tx_write(img, chain_id, TX_RECORDS,
				       recs->buf + off, end - off);
			off = end;
		}
		if (err)
			return err;
	}
	return 0;
}

int img_checkpoint(struct img *img, const struct img_recs *recs)
{
	struct img save = *img;
	uint32_t *old = img->chain;
	size_t nr_old = img->nr_chain;
	uint32_t head;
	int err;

	if (img->readonly)
		return -EROFS;
	if (img->broken)
		return -EIO;
	err = pool_alloc_meta(img, &head);
	if (err)
		return err;
	img->chain = NULL;
	img->nr_chain = img->cap_chain = 0;
	img->sb.chain_id = zvd_random64();
	img->sb.head_chunk = head;
	img->sb.head_seq = img->next_seq;
	img->prev_crc = 0;
	img->journal_bytes = 0;
	img->tail = img_chunk_off(img->chunk_shift, head);
	err = chain_add(img, head);
	if (!err)
		err = write_new_chain(img, img->sb.chain_id, recs);
	if (!err)
		err = be_flush(img->be);
	img->sb.base_bytes = img->journal_bytes;
	if (err) {
		/* nothing points at the new chain: drop it, keep the old one */
		struct img_frees dropped = { .chunks = img->chain,
					     .n = img->nr_chain };
		img_release_frees(img, &dropped);
		img->chain = old;
		img->nr_chain = nr_old;
		img->cap_chain = save.cap_chain;
		img->sb = save.sb;
		img->tail = save.tail;
		img->next_seq = save.next_seq;
		img->prev_crc = save.prev_crc;
		img->journal_bytes = save.journal_bytes;
		img->broken = save.broken;
		return err;
	}
	img->sb.generation++;
	err = sb_write(img);
	if (!err)
		err = be_flush(img->be);
	if (err) {
		/* either superblock may be on disk now */
		img->broken = 1;
		free(old);
		return err;
	}
	/* the old chain is unreachable now: give its chunks back */
	struct img_frees f = { .chunks = old, .n = nr_old };
	img_release_frees(img, &f);
	img->checkpoint_bytes = img->journal_bytes;
	return 0;
}

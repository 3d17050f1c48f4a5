// SPDX-License-Identifier: MIT
/*
 * super.c - superblocks and the image's lifetime.
 *
 * Two 4 KiB slots at bytes 0 and 4096. A checkpoint writes the slot not
 * holding the current generation, so a torn superblock write always leaves
 * the previous one valid. Layout (little-endian):
 *
 *   0 magic "ZVDIMAGE"   8 version   12 bytes covered by the CRC
 *  16 generation        24 uuid[16]  40 chunk_size  44 kind
 *  48 head_chunk        52 blob_len  56 head_seq    64 chain_id
 *  72 created (s)       80 blob[256]   336 base_bytes (the checkpoint's
 * share of the journal)                              508 crc32c
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "image/image_int.h"
#include "util/util.h"

#define SB_USED 512u

static void sb_encode(const struct img_super *sb, uint8_t *b)
{
	memset(b, 0, IMG_BLOCK);
	put_le64(b + 0, SB_MAGIC);
	put_le32(b + 8, SB_VERSION);
	put_le32(b + 12, SB_USED);
	put_le64(b + 16, sb->generation);
	memcpy(b + 24, sb->uuid, 16);
	put_le32(b + 40, sb->chunk_size);
	put_le32(b + 44, sb->kind);
	put_le32(b + 48, sb->head_chunk);
	put_le32(b + 52, sb->blob_len);
	put_le64(b + 56, sb->head_seq);
	put_le64(b + 64, sb->chain_id);
	put_le64(b + 72, sb->created);
	memcpy(b + 80, sb->blob, IMG_BLOB_MAX);
	put_le64(b + 336, sb->base_bytes);
	put_le32(b + 508, zvd_crc32c(0, b, 508));
}

/* Returns 0, or -EUCLEAN with *why set. */
static int sb_decode(struct img_super *sb, const uint8_t *b, const char **why)
{
	if (get_le64(b) != SB_MAGIC) {
		*why = "no zvd superblock (bad magic)";
		return -EUCLEAN;
	}
	if (get_le32(b + 508) != zvd_crc32c(0, b, 508)) {
		*why = "superblock checksum mismatch";
		return -EUCLEAN;
	}
	if (get_le32(b + 8) != SB_VERSION) {
		*why = "unsupported image format version";
		return -EUCLEAN;
	}
	sb->generation = get_le64(b + 16);
	memcpy(sb->uuid, b + 24, 16);
	sb->chunk_size = get_le32(b + 40);
	sb->kind = get_le32(b + 44);
	sb->head_chunk = get_le32(b + 48);
	sb->blob_len = get_le32(b + 52);
	sb->head_seq = get_le64(b + 56);
	sb->chain_id = get_le64(b + 64);
	sb->created = get_le64(b + 72);
	memcpy(sb->blob, b + 80, IMG_BLOB_MAX);
	sb->base_bytes = get_le64(b + 336);
	if (!zvd_is_pow2(sb->chunk_size) || sb->chunk_size < 4 * IMG_BLOCK ||
	    sb->chunk_size > (1u << 30)) {
		*why = "superblock has an invalid chunk size";
		return -EUCLEAN;
	}
	if (sb->blob_len > IMG_BLOB_MAX) {
		*why = "superblock has an invalid parameter length";
		return -EUCLEAN;
	}
	return 0;
}

/* Write the superblock into the slot its generation selects. */
int sb_write(struct img *img)
{
	uint8_t *b = malloc(IMG_BLOCK);
	int err;

	if (!b)
		return -ENOMEM;
	sb_encode(&img->sb, b);
	err = be_write(img->be, b, IMG_BLOCK,
		       (img->sb.generation % SB_SLOTS) * IMG_BLOCK);
	free(b);
	return err;
}

static struct img *img_alloc_handle(struct zvd_backend *be, int readonly)
{
	struct img *img = calloc(1, sizeof(*img));

	if (!img)
		return NULL;
	img->be = be;
	img->readonly = readonly;
	pthread_mutex_init(&img->alloc_lock, NULL);
	return img;
}

static void img_set_geometry(struct img *img)
{
	img->chunk_shift = (uint32_t)__builtin_ctz(img->sb.chunk_size);
	img->first_chunk = (uint32_t)zvd_div_round_up(SB_SLOTS * IMG_BLOCK,
						      img->sb.chunk_size);
}

int img_create(struct zvd_backend *be, uint32_t kind, uint32_t chunk_size,
	       const void *blob, size_t blob_len, const uint8_t *uuid,
	       struct img **out)
{
	struct img *img;
	uint64_t size;
	uint32_t head;
	int err;

	if (!zvd_is_pow2(chunk_size) || chunk_size < 4 * IMG_BLOCK ||
	    blob_len > IMG_BLOB_MAX)
		return -EINVAL;
	err = be_size(be, &size);
	if (err)
		return err;
	if (size)
		return -EEXIST;
	img = img_alloc_handle(be, 0);
	if (!img)
		return -ENOMEM;
	img->load_limit = UINT64_MAX;
	img->sb.chunk_size = chunk_size;
	img->sb.kind = kind;
	img->sb.blob_len = (uint32_t)blob_len;
	memcpy(img->sb.blob, blob, blob_len);
	img->sb.created = (uint64_t)time(NULL);
	if (uuid) {
		memcpy(img->sb.uuid, uuid, 16);
	} else {
		put_le64(img->sb.uuid, zvd_random64());
		put_le64(img->sb.uuid + 8, zvd_random64());
	}
	img_set_geometry(img);

	err = pool_alloc_meta(img, &head);
	if (!err)
		err = chain_add(img, head);
	if (err)
		goto fail;
	img->sb.head_chunk = head;
	img->sb.head_seq = 1;
	img->sb.chain_id = zvd_random64();
	img->next_seq = 1;
	img->tail = img_chunk_off(img->chunk_shift, head);
	err = journal_start(img);
	/* both slots valid: generation 1 in slot 1, generation 0 in slot 0 */
	if (!err)
		err = sb_write(img);
	img->sb.generation = 1;
	if (!err)
		err = sb_write(img);
	if (!err)
		err = be_flush(be);
	if (err)
		goto fail;
	*out = img;
	return 0;
fail:
	img_close(img);
	return err;
}

int img_open(struct zvd_backend *be, int readonly, struct img **out,
	     const char **why)
{
	struct img_super slot[SB_SLOTS];
	const char *slot_why[SB_SLOTS];
	int ok[SB_SLOTS], best = -1;
	uint64_t size;
	uint8_t *b = malloc(IMG_BLOCK);
	struct img *img;
	int err = 0;

	*why = NULL;
	if (!b)
		return -ENOMEM;
	for (unsigned i = 0; i < SB_SLOTS && !err; i++) {
		slot_why[i] = NULL;
		err = be_read(be, b, IMG_BLOCK, (uint64_t)i * IMG_BLOCK);
		ok[i] = !err && !sb_decode(&slot[i], b, &slot_why[i]);
		if (ok[i] && (best < 0 || slot[i].generation > slot[best].generation))
			best = (int)i;
	}
	free(b);
	if (err)
		return err;
	if (best < 0) {
		*why = slot_why[0] ? slot_why[0] : "no valid superblock";
		return -EUCLEAN;
	}
	img = img_alloc_handle(be, readonly);
	if (!img)
		return -ENOMEM;
	img->sb = slot[best];
	img_set_geometry(img);
	err = be_size(be, &size);
	if (err) {
		img_close(img);
		return err;
	}
	/* a chunk mapped but never written (its write failed) may lie past
	 * the end: allow some slack */
	img->load_limit = (size >> img->chunk_shift) + 1024;
	*out = img;
	return 0;
}

void img_close(struct img *img)
{
	if (!img)
		return;
	free(img->chain);
	free(img->refs);
	free(img->deferred.chunks);
	pthread_mutex_destroy(&img->alloc_lock);
	free(img);
}

uint32_t img_kind(const struct img *img)
{
	return img->sb.kind;
}

uint32_t img_chunk_size(const struct img *img)
{
	return img->sb.chunk_size;
}

const uint8_t *img_blob(const struct img *img, size_t *len)
{
	*len = img->sb.blob_len;
	return img->sb.blob;
}

void img_set_blob(struct img *img, const void *blob, size_t len)
{
	len = len < IMG_BLOB_MAX ? len : IMG_BLOB_MAX;
	memcpy(img->sb.blob, blob, len);
	img->sb.blob_len = (uint32_t)len;
}

int img_is_broken(const struct img *img)
{
	return img->broken;
}

void img_set_broken(struct img *img)
{
	img->broken = 1;
}

const uint8_t *img_uuid(const struct img *img)
{
	return img->sb.uuid;
}

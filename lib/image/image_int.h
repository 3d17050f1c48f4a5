/* SPDX-License-Identifier: MIT */
/*
 * image_int.h - the image handle, shared by the files of lib/image/:
 * super.c (superblocks, create, open), alloc.c (chunk pool) and journal.c
 * (transactions, replay, commit, checkpoint).
 */
#ifndef ZVD_IMAGE_INT_H
#define ZVD_IMAGE_INT_H

#include <pthread.h>

#include "backend/backend.h"
#include "image/image.h"

#define SB_MAGIC 0x454741494D44565Aull /* "ZVDIMAGE" */
#define SB_VERSION 1u
#define SB_SLOTS 2u

struct img_super {
	uint64_t generation;
	uint8_t uuid[16];
	uint32_t chunk_size;
	uint32_t kind;
	uint32_t head_chunk; /* first chunk of the journal chain */
	uint64_t head_seq;   /* sequence number of its first transaction */
	uint64_t chain_id;   /* random: tells this chain's blocks from stale ones */
	uint64_t created;
	uint64_t base_bytes; /* journal bytes the checkpoint itself took */
	uint32_t blob_len;
	uint8_t blob[IMG_BLOB_MAX];
};

struct img {
	struct zvd_backend *be;
	int readonly;
	int broken;
	int keep_freed; /* freed chunks are not zeroed (the layer above never
			 * reads a block it has not written) */
	struct img_super sb;
	uint32_t chunk_shift;
	uint32_t first_chunk; /* chunks before it hold the superblocks */

	/* journal chain (serialised by the caller) */
	uint32_t *chain;      /* its chunks, in order */
	size_t nr_chain, cap_chain;
	uint64_t tail;	      /* byte offset where the next transaction goes */
	uint64_t next_seq;
	uint32_t prev_crc;
	uint64_t journal_bytes;
	uint64_t checkpoint_bytes;

	/* chunk pool */
	pthread_mutex_t alloc_lock;
	uint64_t load_limit;  /* while loading: no chunk at or beyond this
			       * (the backend's end and some slack), so a
			       * corrupt map cannot make the pool huge */
	uint32_t *refs;	      /* per chunk: references, or journal/pending */
	uint64_t nr_refs;     /* chunks tracked */
	uint64_t hint;	      /* no free chunk below this */
	uint64_t used, meta;
	struct img_frees deferred;
	size_t cap_deferred;
};

/* super.c */
int sb_write(struct img *img);

/* alloc.c */
int pool_set(struct img *img, uint32_t chunk); /* -EUCLEAN if already set */
int pool_alloc_meta(struct img *img, uint32_t *chunk);

/* journal.c */
int chain_add(struct img *img, uint32_t chunk);
int journal_start(struct img *img);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * image.h - the image container: a log-structured store of chunks over a
 * backend.
 *
 * On disk (see docs/ARCHITECTURE.md):
 *   - two superblock slots (bytes 0 and 4096), the valid one with the
 *     highest generation wins; it names the device kind and parameters, the
 *     chunk size and the head of the metadata journal;
 *   - everything else is chunks of a fixed power-of-two size. A chunk holds
 *     either data (the layer above keeps the maps that say which) or part
 *     of the journal chain;
 *   - the journal is a chain of checksummed transactions, each a list of
 *     records the layer above defines. A checkpoint writes the whole state
 *     as a new chain and switches the superblock to it.
 *
 * The image layer knows nothing of zones: it stores records, replays them
 * in order on open, allocates chunks, and returns freed chunks to the pool
 * only once the transaction that freed them is durable.
 */
#ifndef ZVD_IMAGE_H
#define ZVD_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "zvd.h"

#define IMG_BLOCK 4096u		/* unit of metadata I/O */
#define IMG_BLOB_MAX 256u	/* bytes of kind-specific parameters */
#define IMG_KIND_ZONED 1u

struct img;

/* A growable buffer of records (each framed by its length). */
struct img_recs {
	uint8_t *buf;
	size_t len, cap;
};

/* Append a record of @len bytes; returns where to write it or NULL. */
uint8_t *img_recs_add(struct img_recs *r, size_t len);
void img_recs_reset(struct img_recs *r);
void img_recs_free(struct img_recs *r);

/* Largest transaction payload a commit can hold in one atomic write. */
size_t img_max_txn(const struct img *img);

/* ---- lifetime ---- */

/* Format an empty backend, with @uuid as its identity (NULL: random). */
int img_create(struct zvd_backend *be, uint32_t kind, uint32_t chunk_size,
	       const void *blob, size_t blob_len, const uint8_t *uuid,
	       struct img **out);

/* Read the superblock. On failure *why says what is wrong. */
int img_open(struct zvd_backend *be, int readonly, struct img **out,
	     const char **why);

/* Replay the journal: @fn is called for every record, in order. A non-zero
 * return from @fn stops the replay and is returned; a chain without even
 * its first transaction gives -ENODATA. */
typedef int (*img_replay_fn)(void *arg, const uint8_t *rec, size_t len);
int img_replay(struct img *img, img_replay_fn fn, void *arg);

/* Add a reference to @chunk: one more zone state (live or a snapshot's)
 * maps it. At open every mapped chunk is referenced after replay. Returns
 * -EUCLEAN if the chunk is out of range or part of the journal. */
int img_ref(struct img *img, uint32_t chunk);

/* Drop a reference; a chunk no state maps any more is freed once the next
 * commit is durable. */
void img_unref(struct img *img, uint32_t chunk);

/* Chunks freed since the last commit: reusable once one is durable. */
size_t img_pending_frees(struct img *img);

/* References to @chunk (0 for a free or journal chunk). */
uint32_t img_refcount(struct img *img, uint32_t chunk);

/* Build the free pool once every live chunk is marked. A writable image
 * also zeroes its free chunks, so that a new chunk always reads as zeros. */
int img_start(struct img *img);

/* Freed chunks go back to the pool as they are, not zeroed, and free
 * chunks are not zeroed at open: for a layer that never reads a block it
 * has not written since it took the chunk. Call before img_start. Such an
 * image's free chunks are zeroed (punched) only by img_zero_free. */
void img_keep_freed(struct img *img);

/* Zero every free chunk below the end of the backend (punching holes in a
 * file): lost writes' data goes, and the file gives the space back. */
int img_zero_free(struct img *img);

/* Cut the backend after the last chunk in use (chunks are not taken
 * meanwhile). Returns the bytes it shrank by, or -errno. */
int64_t img_shrink(struct img *img);

/* Release memory (not the backend). */
void img_close(struct img *img);

/* ---- parameters ---- */
uint32_t img_kind(const struct img *img);
uint32_t img_chunk_size(const struct img *img);
const uint8_t *img_blob(const struct img *img, size_t *len);

/* Replace the kind-specific parameters; the next checkpoint writes them. */
void img_set_blob(struct img *img, const void *blob, size_t len);

static inline uint64_t img_chunk_off(uint32_t chunk_shift, uint32_t chunk)
{
	return (uint64_t)chunk << chunk_shift;
}

/* ---- allocation ---- */

/* A chunk for data, with one reference; it reads as zeros until written. */
int img_alloc(struct img *img, uint32_t *chunk);

/* Frees taken for one commit: taken before the state is captured, released
 * after it is durable, returned to the deferred list if it failed. */
struct img_frees {
	uint32_t *chunks;
	size_t n;
};
void img_take_frees(struct img *img, struct img_frees *f);
void img_release_frees(struct img *img, struct img_frees *f);
void img_return_frees(struct img *img, struct img_frees *f);

struct img_usage {
	uint64_t data_chunks;
	uint64_t meta_chunks;
	uint64_t journal_bytes; /* since the last checkpoint */
	uint64_t end_chunk;	/* one past the highest chunk in use */
};
void img_usage(struct img *img, struct img_usage *u);

/* ---- commits ---- */

/* Append @recs as one transaction and make it durable. The caller has
 * already made the data the records point at durable, and serialises
 * commits. @recs must fit img_max_txn(). */
int img_commit(struct img *img, const struct img_recs *recs);

/* Write @recs (the whole state) as a new journal chain, make it durable and
 * switch the superblock to it. */
int img_checkpoint(struct img *img, const struct img_recs *recs);

/* Has the journal grown enough that a checkpoint should follow? */
int img_needs_checkpoint(const struct img *img);

/* Once a metadata write failed in a way that leaves the on-disk state
 * unknown, the image refuses further commits (-EIO) until reopened. */
int img_is_broken(const struct img *img);
void img_set_broken(struct img *img);

/* The image's identity (16 bytes). */
const uint8_t *img_uuid(const struct img *img);

#endif

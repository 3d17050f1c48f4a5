/* SPDX-License-Identifier: MIT */
/*
 * rcache.h - a bounded cache of 4 KiB blocks read from a remote store
 * (lib/backend/rados.c caches what it read from the cluster).
 *
 * Set-associative (4 ways, least recently used out). Whoever changes the
 * remote bytes invalidates them once the change is done and before
 * anything else stops showing the new bytes (rc_invalidate); a reader
 * takes rc_gen() before it reads the remote and rc_put keeps the blocks
 * only if no invalidation came in between, so a slow reader never caches
 * bytes older than a completed change.
 */
#ifndef ZVD_RCACHE_H
#define ZVD_RCACHE_H

#include <pthread.h>
#include <stdint.h>

#define RC_BLOCK 4096u
#define RC_WAYS 4u

struct rc_ent {
	uint64_t key; /* block number + 1; 0: empty */
	uint64_t used;
};

struct rcache {
	pthread_mutex_t lock;
	struct rc_ent *ents;
	uint8_t *data;
	uint32_t nsets;
	uint64_t gen, tick;
	uint64_t hits, misses;
};

/* A cache of about @bytes (0: none: every call does nothing). Call
 * rc_free afterwards even when it fails. */
int rc_init(struct rcache *c, uint64_t bytes);
void rc_free(struct rcache *c);

uint64_t rc_gen(struct rcache *c);

/* Copy [off, off + len) (block-aligned) into @buf if every block is
 * cached: 1, else 0. */
int rc_get(struct rcache *c, uint8_t *buf, uint64_t off, uint64_t len);

/* Keep the blocks of [off, off + len) read from the remote, unless @gen
 * is stale. */
void rc_put(struct rcache *c, const uint8_t *buf, uint64_t off, uint64_t len,
	    uint64_t gen);

/* The remote bytes of [off, off + len) are about to change. */
void rc_invalidate(struct rcache *c, uint64_t off, uint64_t len);

#endif

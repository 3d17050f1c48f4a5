// SPDX-License-Identifier: MIT
/*
 * rcache.c - the read cache of remote blocks (see rcache.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend/rcache.h"

int rc_init(struct rcache *c, uint64_t bytes)
{
	uint64_t sets = 1;

	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	if (bytes < RC_BLOCK * RC_WAYS)
		return 0;
	while (sets * 2 * RC_WAYS * RC_BLOCK <= bytes)
		sets *= 2;
	c->ents = calloc(sets * RC_WAYS, sizeof(*c->ents));
	c->data = malloc(sets * RC_WAYS * RC_BLOCK);
	if (!c->ents || !c->data) {
		free(c->ents);
		free(c->data);
		c->ents = NULL;
		c->data = NULL;
		return -ENOMEM; /* rc_free still to be called */
	}
	c->nsets = (uint32_t)sets;
	return 0;
}

void rc_free(struct rcache *c)
{
	free(c->ents);
	free(c->data);
	c->ents = NULL;
	c->data = NULL;
	c->nsets = 0;
	pthread_mutex_destroy(&c->lock);
}

/* The way holding block @b in its set, or -1. */
static int find(struct rcache *c, uint64_t b, struct rc_ent **set)
{
	uint32_t s = (uint32_t)((b * 0x9E3779B97F4A7C15ull) >> 32) & (c->nsets - 1);
	unsigned w;

	*set = &c->ents[(uint64_t)s * RC_WAYS];
	for (w = 0; w < RC_WAYS; w++)
		if ((*set)[w].key == b + 1)
			return (int)w;
	return -1;
}

static uint8_t *slot_data(struct rcache *c, const struct rc_ent *e)
{
	return c->data + (uint64_t)(e - c->ents) * RC_BLOCK;
}

uint64_t rc_gen(struct rcache *c)
{
	uint64_t g;

	pthread_mutex_lock(&c->lock);
	g = c->gen;
	pthread_mutex_unlock(&c->lock);
	return g;
}

int rc_get(struct rcache *c, uint8_t *buf, uint64_t off, uint64_t len)
{
	uint64_t b, first = off / RC_BLOCK, n = len / RC_BLOCK;
	struct rc_ent *set;
	int hit = 1;

	if (!c->nsets)
		return 0;
	pthread_mutex_lock(&c->lock);
	for (b = 0; b < n && hit; b++)
		hit = find(c, first + b, &set) >= 0;
	if (hit) {
		for (b = 0; b < n; b++) {
			int w = find(c, first + b, &set);
			struct rc_ent *e = &set[w];

			e->used = ++c->tick;
			memcpy(buf + b * RC_BLOCK, slot_data(c, e), RC_BLOCK);
		}
		c->hits++;
	} else {
		c->misses++;
	}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

void rc_put(struct rcache *c, const uint8_t *buf, uint64_t off, uint64_t len,
	    uint64_t gen)
{
	uint64_t b, first = off / RC_BLOCK, n = len / RC_BLOCK;

	if (!c->nsets)
		return;
	pthread_mutex_lock(&c->lock);
	for (b = 0; b < n && gen == c->gen; b++) {
		struct rc_ent *set, *e;
		int w = find(c, first + b, &set);
		unsigned i;

		if (w >= 0) {
			e = &set[w];
		} else {
			e = &set[0];
			for (i = 1; i < RC_WAYS; i++)
				if (set[i].used < e->used)
					e = &set[i];
			e->key = first + b + 1;
		}
		e->used = ++c->tick;
		memcpy(slot_data(c, e), buf + b * RC_BLOCK, RC_BLOCK);
	}
	pthread_mutex_unlock(&c->lock);
}

void rc_invalidate(struct rcache *c, uint64_t off, uint64_t len)
{
	uint64_t b, first = off / RC_BLOCK,
		    last = (off + len + RC_BLOCK - 1) / RC_BLOCK;

	if (!c->nsets)
		return;
	pthread_mutex_lock(&c->lock);
	c->gen++;
	if (last - first > (uint64_t)c->nsets * RC_WAYS) {
		memset(c->ents, 0, (uint64_t)c->nsets * RC_WAYS * sizeof(*c->ents));
		last = first;
	}
	for (b = first; b < last; b++) {
		struct rc_ent *set;
		int w = find(c, b, &set);
		if (w >= 0)
			set[w].key = 0, set[w].used = 0;
	}
	pthread_mutex_unlock(&c->lock);
}

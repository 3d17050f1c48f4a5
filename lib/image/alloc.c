// SPDX-License-Identifier: MIT
/*
 * alloc.c - the chunk pool: a bitmap of chunks in use, lowest free chunk
 * first (so the backend stays compact), and the deferred frees that make a
 * freed chunk reusable only once the commit that freed it is durable.
 */
#include <errno.h>
#include <stdlib.h>

#include "image/image_int.h"
#include "util/util.h"

static int pool_grow(struct img *img, uint64_t bits)
{
	uint64_t words = zvd_div_round_up(bits, 64);
	uint64_t old = zvd_div_round_up(img->nr_bits, 64);
	uint64_t *p;

	if (bits <= img->nr_bits)
		return 0;
	if (bits > (uint64_t)UINT32_MAX)
		return -ENOSPC;
	if (words > old) {
		words = ZVD_MAX(words, old * 2);
		p = realloc(img->bitmap, words * sizeof(*p));
		if (!p)
			return -ENOMEM;
		memset(p + old, 0, (words - old) * sizeof(*p));
		img->bitmap = p;
		img->nr_bits = ZVD_MIN(words * 64, (uint64_t)UINT32_MAX);
	}
	if (img->nr_bits < bits)
		img->nr_bits = bits;
	return 0;
}

static int bit_test(const struct img *img, uint64_t b)
{
	return b < img->nr_bits && (img->bitmap[b / 64] >> (b % 64)) & 1;
}

/* Caller holds alloc_lock (or is single-threaded during open). */
int pool_set(struct img *img, uint32_t chunk)
{
	int err;

	if (chunk < img->first_chunk)
		return -EUCLEAN;
	err = pool_grow(img, (uint64_t)chunk + 1);
	if (err)
		return err;
	if (bit_test(img, chunk))
		return -EUCLEAN;
	img->bitmap[chunk / 64] |= 1ull << (chunk % 64);
	img->used++;
	return 0;
}

void pool_clear(struct img *img, uint32_t chunk)
{
	if (!bit_test(img, chunk))
		return;
	img->bitmap[chunk / 64] &= ~(1ull << (chunk % 64));
	img->used--;
	if (chunk < img->hint)
		img->hint = chunk;
}

/* Find and take the lowest free chunk. Caller holds alloc_lock. */
static int pool_take(struct img *img, uint32_t *chunk)
{
	uint64_t b = ZVD_MAX(img->hint, img->first_chunk);

	while (b < img->nr_bits) {
		uint64_t w = img->bitmap[b / 64] | ((1ull << (b % 64)) - 1);
		if (w != ~0ull) {
			b = (b & ~63ull) + (uint64_t)__builtin_ctzll(~w);
			break;
		}
		b = (b & ~63ull) + 64;
	}
	if (b >= UINT32_MAX)
		return -ENOSPC;
	img->hint = b + 1;
	*chunk = (uint32_t)b;
	return pool_set(img, (uint32_t)b);
}

int img_alloc(struct img *img, uint32_t *chunk)
{
	int err;

	pthread_mutex_lock(&img->alloc_lock);
	err = pool_take(img, chunk);
	pthread_mutex_unlock(&img->alloc_lock);
	return err;
}

int pool_alloc_meta(struct img *img, uint32_t *chunk)
{
	int err;

	pthread_mutex_lock(&img->alloc_lock);
	err = pool_take(img, chunk);
	if (!err)
		img->meta++;
	pthread_mutex_unlock(&img->alloc_lock);
	return err;
}

int img_mark_used(struct img *img, uint32_t chunk)
{
	int err;

	pthread_mutex_lock(&img->alloc_lock);
	err = pool_set(img, chunk);
	pthread_mutex_unlock(&img->alloc_lock);
	return err;
}

void img_free_deferred(struct img *img, uint32_t chunk)
{
	struct img_frees *d = &img->deferred;

	pthread_mutex_lock(&img->alloc_lock);
	if (d->n == img->cap_deferred) {
		size_t n = img->cap_deferred ? img->cap_deferred * 2 : 64;
		uint32_t *p = realloc(d->chunks, n * sizeof(*p));
		if (!p) {
			/* keep the chunk in use: a leak until reopen, never a
			 * premature reuse */
			pthread_mutex_unlock(&img->alloc_lock);
			return;
		}
		d->chunks = p;
		img->cap_deferred = n;
	}
	d->chunks[d->n++] = chunk;
	pthread_mutex_unlock(&img->alloc_lock);
}

void img_take_frees(struct img *img, struct img_frees *f)
{
	pthread_mutex_lock(&img->alloc_lock);
	*f = img->deferred;
	img->deferred.chunks = NULL;
	img->deferred.n = 0;
	img->cap_deferred = 0;
	pthread_mutex_unlock(&img->alloc_lock);
}

/* Zero a run of chunks so that they read as zeros when reused. */
static int zero_chunks(struct img *img, uint64_t first, uint64_t count)
{
	return be_zero(img->be, first << img->chunk_shift,
		       count << img->chunk_shift);
}

void img_release_frees(struct img *img, struct img_frees *f)
{
	for (size_t i = 0; i < f->n; i++) {
		/* a chunk that cannot be zeroed stays in use until reopen */
		if (zero_chunks(img, f->chunks[i], 1))
			continue;
		pthread_mutex_lock(&img->alloc_lock);
		pool_clear(img, f->chunks[i]);
		pthread_mutex_unlock(&img->alloc_lock);
	}
	free(f->chunks);
	f->chunks = NULL;
	f->n = 0;
}

void img_return_frees(struct img *img, struct img_frees *f)
{
	for (size_t i = 0; i < f->n; i++)
		img_free_deferred(img, f->chunks[i]);
	free(f->chunks);
	f->chunks = NULL;
	f->n = 0;
}

int img_start(struct img *img)
{
	uint64_t size, end, run = 0;
	int err;

	if (img->readonly)
		return 0;
	err = be_size(img->be, &size);
	if (err)
		return err;
	end = zvd_div_round_up(size, 1ull << img->chunk_shift);
	/* chunks beyond the durable state may hold data of lost writes */
	for (uint64_t b = img->first_chunk; b <= end; b++) {
		if (b < end && !bit_test(img, b)) {
			run++;
			continue;
		}
		if (run) {
			err = zero_chunks(img, b - run, run);
			if (err)
				return err;
			run = 0;
		}
	}
	img->hint = img->first_chunk;
	return 0;
}

void img_usage(struct img *img, struct img_usage *u)
{
	pthread_mutex_lock(&img->alloc_lock);
	u->meta_chunks = img->meta;
	u->data_chunks = img->used - img->meta;
	u->journal_bytes = img->journal_bytes;
	pthread_mutex_unlock(&img->alloc_lock);
}

// SPDX-License-Identifier: MIT
/*
 * alloc.c - the chunk pool: a reference count per chunk (how many zone
 * states - the live one and each snapshot's - map it), lowest free chunk
 * first so the backend stays compact, and deferred frees that make a chunk
 * whose last reference went away reusable only once the commit that
 * dropped it is durable.
 */
#include <errno.h>
#include <stdlib.h>

#include "image/image_int.h"
#include "util/util.h"

#define REF_META UINT32_MAX	    /* part of the journal chain */
#define REF_PENDING (UINT32_MAX - 1) /* freed, awaiting a durable commit */
#define REF_MAX (UINT32_MAX - 2)

static int pool_grow(struct img *img, uint64_t n)
{
	uint64_t cap = img->nr_refs;
	uint32_t *p;

	if (n <= cap)
		return 0;
	if (n > (uint64_t)UINT32_MAX)
		return -ENOSPC;
	cap = ZVD_MIN(ZVD_MAX(n, cap * 2), (uint64_t)UINT32_MAX);
	p = realloc(img->refs, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p + img->nr_refs, 0, (cap - img->nr_refs) * sizeof(*p));
	img->refs = p;
	img->nr_refs = cap;
	return 0;
}

static uint32_t refs_of(const struct img *img, uint64_t c)
{
	return c < img->nr_refs ? img->refs[c] : 0;
}

/* Claim @chunk for the journal chain (replay). Caller holds alloc_lock or
 * is single-threaded. -EUCLEAN if it is already in use. */
int pool_set(struct img *img, uint32_t chunk)
{
	int err;

	if (chunk < img->first_chunk || chunk >= img->load_limit)
		return -EUCLEAN;
	err = pool_grow(img, (uint64_t)chunk + 1);
	if (err)
		return err;
	if (img->refs[chunk])
		return -EUCLEAN;
	img->refs[chunk] = REF_META;
	img->used++;
	img->meta++;
	return 0;
}

/* Return a chunk to the free pool. Caller holds alloc_lock. */
static void pool_clear(struct img *img, uint32_t chunk)
{
	if (!refs_of(img, chunk))
		return;
	if (img->refs[chunk] == REF_META)
		img->meta--;
	img->refs[chunk] = 0;
	img->used--;
	if (chunk < img->hint)
		img->hint = chunk;
}

/* Take the lowest free chunk and give it @value. Caller holds alloc_lock. */
static int pool_take(struct img *img, uint32_t value, uint32_t *chunk)
{
	uint64_t c = ZVD_MAX(img->hint, img->first_chunk);
	int err;

	while (c < img->nr_refs && img->refs[c])
		c++;
	if (c >= UINT32_MAX)
		return -ENOSPC;
	err = pool_grow(img, c + 1);
	if (err)
		return err;
	img->hint = c + 1;
	img->refs[c] = value;
	img->used++;
	*chunk = (uint32_t)c;
	return 0;
}

int img_alloc(struct img *img, uint32_t *chunk)
{
	int err;

	pthread_mutex_lock(&img->alloc_lock);
	err = pool_take(img, 1, chunk);
	pthread_mutex_unlock(&img->alloc_lock);
	return err;
}

int pool_alloc_meta(struct img *img, uint32_t *chunk)
{
	int err;

	pthread_mutex_lock(&img->alloc_lock);
	err = pool_take(img, REF_META, chunk);
	if (!err)
		img->meta++;
	pthread_mutex_unlock(&img->alloc_lock);
	return err;
}

int img_ref(struct img *img, uint32_t chunk)
{
	int err = 0;

	pthread_mutex_lock(&img->alloc_lock);
	if (chunk < img->first_chunk || chunk >= img->load_limit)
		err = -EUCLEAN;
	else
		err = pool_grow(img, (uint64_t)chunk + 1);
	if (!err && img->refs[chunk] >= REF_MAX)
		err = -EUCLEAN; /* journal, freed, or absurdly shared */
	if (!err && img->refs[chunk]++ == 0)
		img->used++;
	pthread_mutex_unlock(&img->alloc_lock);
	return err;
}

uint32_t img_refcount(struct img *img, uint32_t chunk)
{
	uint32_t r;

	pthread_mutex_lock(&img->alloc_lock);
	r = refs_of(img, chunk);
	pthread_mutex_unlock(&img->alloc_lock);
	return r >= REF_MAX ? 0 : r;
}

/* Queue a chunk for release after the next durable commit. Caller holds
 * alloc_lock. */
static void defer(struct img *img, uint32_t chunk)
{
	struct img_frees *d = &img->deferred;

	img->refs[chunk] = REF_PENDING;
	if (d->n == img->cap_deferred) {
		size_t n = img->cap_deferred ? img->cap_deferred * 2 : 64;
		uint32_t *p = realloc(d->chunks, n * sizeof(*p));
		if (!p)
			return; /* stays pending: a leak until reopen, never a
				 * premature reuse */
		d->chunks = p;
		img->cap_deferred = n;
	}
	d->chunks[d->n++] = chunk;
}

size_t img_pending_frees(struct img *img)
{
	size_t n;

	pthread_mutex_lock(&img->alloc_lock);
	n = img->deferred.n;
	pthread_mutex_unlock(&img->alloc_lock);
	return n;
}

void img_unref(struct img *img, uint32_t chunk)
{
	pthread_mutex_lock(&img->alloc_lock);
	if (refs_of(img, chunk) && img->refs[chunk] < REF_MAX &&
	    --img->refs[chunk] == 0)
		defer(img, chunk);
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

static int cmp_chunk(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

void img_release_frees(struct img *img, struct img_frees *f)
{
	/* zero runs of adjacent chunks with one call each (a reset frees a
	 * zone's chunks, mostly in a row) */
	if (f->n)
		qsort(f->chunks, f->n, sizeof(*f->chunks), cmp_chunk);
	for (size_t i = 0, run; i < f->n; i += run) {
		for (run = 1; i + run < f->n &&
			      f->chunks[i + run] == f->chunks[i] + run; run++)
			;
		/* chunks that cannot be zeroed stay out of the pool until
		 * reopen */
		if (!img->keep_freed && zero_chunks(img, f->chunks[i], run))
			continue;
		pthread_mutex_lock(&img->alloc_lock);
		for (size_t k = 0; k < run; k++)
			pool_clear(img, f->chunks[i + k]);
		pthread_mutex_unlock(&img->alloc_lock);
	}
	free(f->chunks);
	f->chunks = NULL;
	f->n = 0;
}

void img_return_frees(struct img *img, struct img_frees *f)
{
	pthread_mutex_lock(&img->alloc_lock);
	for (size_t i = 0; i < f->n; i++)
		defer(img, f->chunks[i]);
	pthread_mutex_unlock(&img->alloc_lock);
	free(f->chunks);
	f->chunks = NULL;
	f->n = 0;
}

int img_start(struct img *img)
{
	img->load_limit = UINT64_MAX; /* loaded: the pool grows as it must */
	if (img->readonly || img->keep_freed)
		return 0;
	return img_zero_free(img);
}

void img_keep_freed(struct img *img)
{
	img->keep_freed = 1;
}

int img_zero_free(struct img *img)
{
	uint64_t size, end, run = 0;
	int err;

	err = be_size(img->be, &size);
	if (err)
		return err;
	end = zvd_div_round_up(size, 1ull << img->chunk_shift);
	/* under alloc_lock: no chunk is taken while it is being zeroed */
	pthread_mutex_lock(&img->alloc_lock);
	/* chunks beyond the durable state may hold data of lost writes */
	for (uint64_t c = img->first_chunk; c <= end && !err; c++) {
		if (c < end && !refs_of(img, c)) {
			run++;
			continue;
		}
		if (run)
			err = zero_chunks(img, c - run, run);
		run = 0;
	}
	img->hint = img->first_chunk;
	pthread_mutex_unlock(&img->alloc_lock);
	return err;
}

void img_usage(struct img *img, struct img_usage *u)
{
	pthread_mutex_lock(&img->alloc_lock);
	u->meta_chunks = img->meta;
	u->data_chunks = img->used - img->meta;
	u->journal_bytes = img->journal_bytes;
	u->end_chunk = 0;
	for (uint64_t c = img->nr_refs; c > 0; c--) {
		if (img->refs[c - 1]) {
			u->end_chunk = c;
			break;
		}
	}
	pthread_mutex_unlock(&img->alloc_lock);
}

int64_t img_shrink(struct img *img)
{
	uint64_t size, end = 0;
	int err;

	if (!img->be->ops->truncate)
		return 0;
	/* under alloc_lock: no chunk past the end is taken while we cut */
	pthread_mutex_lock(&img->alloc_lock);
	for (uint64_t c = img->nr_refs; c > 0; c--) {
		if (img->refs[c - 1]) {
			end = c << img->chunk_shift;
			break;
		}
	}
	err = be_size(img->be, &size);
	if (!err && end < size)
		err = img->be->ops->truncate(img->be, end);
	pthread_mutex_unlock(&img->alloc_lock);
	if (err)
		return err;
	return end < size ? (int64_t)(size - end) : 0;
}

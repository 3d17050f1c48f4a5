// SPDX-License-Identifier: MIT
/*
 * mem.c - the memory backend: a sparse array of 64 KiB pages, allocated on
 * first write and freed by zero, so a thin image costs what it holds.
 * Readers share the page table; a writer takes it exclusively only to add
 * pages. Copies into distinct pages run in parallel.
 */
#include <errno.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "util/util.h"

#define MEM_PAGE_SHIFT 16
#define MEM_PAGE_SIZE (1u << MEM_PAGE_SHIFT)

struct mem_backend {
	struct zvd_backend be;
	pthread_rwlock_t lock;
	uint8_t **pages;
	uint64_t nr_pages; /* slots in pages[] */
	uint64_t size;	   /* high-water mark in bytes */
};

static struct mem_backend *to_mem(struct zvd_backend *be)
{
	return (struct mem_backend *)be;
}

static int mem_read(struct zvd_backend *be, void *buf, size_t len,
		    uint64_t off)
{
	struct mem_backend *m = to_mem(be);
	uint8_t *p = buf;

	pthread_rwlock_rdlock(&m->lock);
	while (len) {
		uint64_t pg = off >> MEM_PAGE_SHIFT;
		size_t in = off & (MEM_PAGE_SIZE - 1);
		size_t n = ZVD_MIN(len, MEM_PAGE_SIZE - in);

		if (pg < m->nr_pages && m->pages[pg])
			memcpy(p, m->pages[pg] + in, n);
		else
			memset(p, 0, n);
		p += n;
		off += n;
		len -= n;
	}
	pthread_rwlock_unlock(&m->lock);
	return 0;
}

/* Are all pages of [off, off+len) present? Caller holds the lock. */
static int mem_pages_present(struct mem_backend *m, uint64_t off, size_t len)
{
	for (uint64_t pg = off >> MEM_PAGE_SHIFT;
	     pg <= (off + len - 1) >> MEM_PAGE_SHIFT; pg++)
		if (pg >= m->nr_pages || !m->pages[pg])
			return 0;
	return 1;
}

/* Add the missing pages of [off, off+len). Caller holds the write lock. */
static int mem_add_pages(struct mem_backend *m, uint64_t off, size_t len)
{
	uint64_t last = (off + len - 1) >> MEM_PAGE_SHIFT;

	if (last >= m->nr_pages) {
		uint64_t n = ZVD_MAX(last + 1, m->nr_pages * 2);
		uint8_t **np = realloc(m->pages, n * sizeof(*np));
		if (!np)
			return -ENOMEM;
		memset(np + m->nr_pages, 0, (n - m->nr_pages) * sizeof(*np));
		m->pages = np;
		m->nr_pages = n;
	}
	for (uint64_t pg = off >> MEM_PAGE_SHIFT; pg <= last; pg++) {
		if (!m->pages[pg]) {
			m->pages[pg] = calloc(1, MEM_PAGE_SIZE);
			if (!m->pages[pg])
				return -ENOMEM;
		}
	}
	return 0;
}

static int mem_write(struct zvd_backend *be, const void *buf, size_t len,
		     uint64_t off)
{
	struct mem_backend *m = to_mem(be);
	const uint8_t *p = buf;
	int err = 0;

	if (!len)
		return 0;
	pthread_rwlock_rdlock(&m->lock);
	if (!mem_pages_present(m, off, len) || off + len > m->size) {
		pthread_rwlock_unlock(&m->lock);
		pthread_rwlock_wrlock(&m->lock);
		err = mem_add_pages(m, off, len);
		if (err) {
			pthread_rwlock_unlock(&m->lock);
			return err;
		}
		m->size = ZVD_MAX(m->size, off + len);
	}
	while (len) {
		uint64_t pg = off >> MEM_PAGE_SHIFT;
		size_t in = off & (MEM_PAGE_SIZE - 1);
		size_t n = ZVD_MIN(len, MEM_PAGE_SIZE - in);

		memcpy(m->pages[pg] + in, p, n);
		p += n;
		off += n;
		len -= n;
	}
	pthread_rwlock_unlock(&m->lock);
	return 0;
}

static int mem_flush(struct zvd_backend *be)
{
	return 0;
}

static int mem_zero(struct zvd_backend *be, uint64_t off, uint64_t len)
{
	struct mem_backend *m = to_mem(be);

	pthread_rwlock_wrlock(&m->lock);
	while (len) {
		uint64_t pg = off >> MEM_PAGE_SHIFT;
		size_t in = off & (MEM_PAGE_SIZE - 1);
		size_t n = (size_t)ZVD_MIN(len, (uint64_t)MEM_PAGE_SIZE - in);

		if (pg >= m->nr_pages)
			break;
		if (m->pages[pg]) {
			if (n == MEM_PAGE_SIZE) {
				free(m->pages[pg]);
				m->pages[pg] = NULL;
			} else {
				memset(m->pages[pg] + in, 0, n);
			}
		}
		off += n;
		len -= n;
	}
	pthread_rwlock_unlock(&m->lock);
	return 0;
}

static int mem_size(struct zvd_backend *be, uint64_t *size)
{
	struct mem_backend *m = to_mem(be);

	pthread_rwlock_rdlock(&m->lock);
	*size = m->size;
	pthread_rwlock_unlock(&m->lock);
	return 0;
}

static void mem_destroy(struct zvd_backend *be)
{
	struct mem_backend *m = to_mem(be);

	for (uint64_t i = 0; i < m->nr_pages; i++)
		free(m->pages[i]);
	free(m->pages);
	pthread_rwlock_destroy(&m->lock);
	free(m);
}

static const struct zvd_backend_ops mem_ops = {
	.name = "mem",
	.read = mem_read,
	.write = mem_write,
	.flush = mem_flush,
	.zero = mem_zero,
	.size = mem_size,
	.destroy = mem_destroy,
};

int zvd_backend_mem_create(struct zvd_backend **out)
{
	struct mem_backend *m;

	if (!out)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	be_init(&m->be, &mem_ops);
	pthread_rwlock_init(&m->lock, NULL);
	*out = &m->be;
	return 0;
}

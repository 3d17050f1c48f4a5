/* SPDX-License-Identifier: MIT */
/*
 * backend.h - the backend vtable: where an image's bytes live.
 *
 * The image layer reaches storage only through be_read/be_write/be_flush/
 * be_zero/be_size, so a backend is also the place where faults are
 * injected (the way SQLite routes every system call through a table).
 */
#ifndef ZVD_BACKEND_H
#define ZVD_BACKEND_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "zvd.h"

struct zvd_backend_ops {
	const char *name;
	/* Read @len bytes at @off; bytes beyond the end read as zeros. */
	int (*read)(struct zvd_backend *be, void *buf, size_t len, uint64_t off);
	/* Write @len bytes at @off, growing the backend as needed. */
	int (*write)(struct zvd_backend *be, const void *buf, size_t len,
		     uint64_t off);
	/* Make every completed write and zero durable. */
	int (*flush)(struct zvd_backend *be);
	/* Make the range read as zeros and give its space back if possible. */
	int (*zero)(struct zvd_backend *be, uint64_t off, uint64_t len);
	/* Current size (high-water mark) in bytes. */
	int (*size)(struct zvd_backend *be, uint64_t *size);
	/* Cut the backend down to @size bytes (optional: NULL if it can't). */
	int (*truncate)(struct zvd_backend *be, uint64_t size);
	void (*destroy)(struct zvd_backend *be);
};

/* zvd_backend_file_open flag for the library's own use: open a backing
 * image without a lock (a clone reads its origin's snapshot, which never
 * changes, while the origin may be open for writing elsewhere). */
#define BE_FILE_NOLOCK (1u << 31)

struct zvd_backend {
	const struct zvd_backend_ops *ops;
	char *path; /* the file's path as opened (file backend), else NULL */
	atomic_int fault_armed;	/* fast-path test for fault injection */
	pthread_mutex_t fault_lock;
	uint64_t fault_countdown;
	int fault_err;
	int fault_sticky;
};

/* Image names, file or "rados://POOL/NAME" (lib/backend/backend.c). */

/* The name to record for @path in another image: an absolute path (a
 * RADOS name as it is). 0, or -1 with errno set. */
int be_abspath(const char *path, char out[PATH_MAX]);

/* The same for an image about to be created (its directory must exist). */
int be_abspath_new(const char *path, char out[PATH_MAX]);

/* Does an image (or any file) of this name exist? */
int be_exists(const char *path);

/* Delete the image @path: the file, or every object. 0 or -errno. */
int be_remove(const char *path);

/* A read-only backend that sees what @be holds now, written or not (a
 * snapshot view of an open image): the file again without a lock, or a
 * view through a RADOS image's log. @be must outlive it. */
int be_open_view(struct zvd_backend *be, struct zvd_backend **out);

/* rados.c */
int rados_open_view(struct zvd_backend *writer, struct zvd_backend **out);
int rados_exists(const char *uri);
int rados_remove_image(const char *uri);

/* Initialise the common part of a backend. */
void be_init(struct zvd_backend *be, const struct zvd_backend_ops *ops);

int be_fault_check(struct zvd_backend *be);

static inline int be_read(struct zvd_backend *be, void *buf, size_t len,
			  uint64_t off)
{
	return be->ops->read(be, buf, len, off);
}

static inline int be_write(struct zvd_backend *be, const void *buf,
			   size_t len, uint64_t off)
{
	if (atomic_load_explicit(&be->fault_armed, memory_order_relaxed)) {
		int err = be_fault_check(be);
		if (err)
			return err;
	}
	return be->ops->write(be, buf, len, off);
}

static inline int be_flush(struct zvd_backend *be)
{
	return be->ops->flush(be);
}

static inline int be_zero(struct zvd_backend *be, uint64_t off, uint64_t len)
{
	if (atomic_load_explicit(&be->fault_armed, memory_order_relaxed)) {
		int err = be_fault_check(be);
		if (err)
			return err;
	}
	return be->ops->zero(be, off, len);
}

static inline int be_size(struct zvd_backend *be, uint64_t *size)
{
	return be->ops->size(be, size);
}

#endif

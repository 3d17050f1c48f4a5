// SPDX-License-Identifier: MIT
/*
 * file.c - the file backend: an ordinary file, buffered I/O, fdatasync for
 * durability, hole punching to give space back, and an flock so that only
 * one writer opens an image.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/backend.h"
#include "util/util.h"

struct file_backend {
	struct zvd_backend be;
	int fd;
};

static struct file_backend *to_file(struct zvd_backend *be)
{
	return (struct file_backend *)be;
}

static int file_read(struct zvd_backend *be, void *buf, size_t len,
		     uint64_t off)
{
	int fd = to_file(be)->fd;
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) { /* past the end: holes read as zeros */
			memset(p, 0, len);
			return 0;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int file_write(struct zvd_backend *be, const void *buf, size_t len,
		      uint64_t off)
{
	int fd = to_file(be)->fd;
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int file_flush(struct zvd_backend *be)
{
	return fdatasync(to_file(be)->fd) ? -errno : 0;
}

static int file_size(struct zvd_backend *be, uint64_t *size)
{
	struct stat st;

	if (fstat(to_file(be)->fd, &st))
		return -errno;
	*size = (uint64_t)st.st_size;
	return 0;
}

static int file_zero(struct zvd_backend *be, uint64_t off, uint64_t len)
{
	static const uint8_t zeros[65536];
	uint64_t size;
	int err = file_size(be, &size);

	if (err)
		return err;
	if (off >= size)
		return 0; /* beyond the end already reads as zeros */
	len = ZVD_MIN(len, size - off);
	if (!fallocate(to_file(be)->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		       (off_t)off, (off_t)len))
		return 0;
	if (errno != EOPNOTSUPP && errno != ENOSYS)
		return -errno;
	/* file system without hole punching: write the zeros */
	while (len) {
		size_t n = (size_t)ZVD_MIN(len, sizeof(zeros));
		err = file_write(be, zeros, n, off);
		if (err)
			return err;
		off += n;
		len -= n;
	}
	return 0;
}

static int file_truncate(struct zvd_backend *be, uint64_t size)
{
	return ftruncate(to_file(be)->fd, (off_t)size) ? -errno : 0;
}

static void file_destroy(struct zvd_backend *be)
{
	close(to_file(be)->fd);
	free(be);
}

static const struct zvd_backend_ops file_ops = {
	.name = "file",
	.read = file_read,
	.write = file_write,
	.flush = file_flush,
	.zero = file_zero,
	.size = file_size,
	.truncate = file_truncate,
	.destroy = file_destroy,
};

int zvd_backend_file_open(const char *path, unsigned flags,
			  struct zvd_backend **out)
{
	struct file_backend *fb;
	int oflags = O_CLOEXEC;
	int fd;

	if (!path || !out ||
	    (flags & ~(ZVD_FILE_CREATE | ZVD_FILE_READONLY | BE_FILE_NOLOCK)) ||
	    ((flags & ZVD_FILE_CREATE) && (flags & ZVD_FILE_READONLY)))
		return -EINVAL;
	if (flags & ZVD_FILE_CREATE)
		oflags |= O_RDWR | O_CREAT | O_EXCL;
	else
		oflags |= flags & ZVD_FILE_READONLY ? O_RDONLY : O_RDWR;
	fd = open(path, oflags, 0644);
	if (fd < 0)
		return -errno;
	if (!(flags & BE_FILE_NOLOCK) &&
	    flock(fd, (flags & ZVD_FILE_READONLY ? LOCK_SH : LOCK_EX) | LOCK_NB)) {
		int err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		close(fd);
		return err;
	}
	fb = calloc(1, sizeof(*fb));
	if (!fb) {
		close(fd);
		return -ENOMEM;
	}
	be_init(&fb->be, &file_ops);
	fb->fd = fd;
	fb->be.path = strdup(path);
	if (!fb->be.path) {
		close(fd);
		free(fb);
		return -ENOMEM;
	}
	*out = &fb->be;
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * backend.c - what every backend shares: initialisation, release and
 * write-fault injection.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"

void be_init(struct zvd_backend *be, const struct zvd_backend_ops *ops)
{
	be->ops = ops;
	be->path = NULL;
	atomic_init(&be->fault_armed, 0);
	pthread_mutex_init(&be->fault_lock, NULL);
	be->fault_countdown = 0;
	be->fault_err = 0;
	be->fault_sticky = 0;
}

/* Called for each write or zero while a fault is armed: returns the
 * injected error when the countdown reaches its write. */
int be_fault_check(struct zvd_backend *be)
{
	int err = 0;

	pthread_mutex_lock(&be->fault_lock);
	if (be->fault_countdown > 1) {
		be->fault_countdown--;
	} else if (be->fault_countdown == 1) {
		err = be->fault_err;
		if (!be->fault_sticky) {
			be->fault_countdown = 0;
			atomic_store(&be->fault_armed, 0);
		}
	}
	pthread_mutex_unlock(&be->fault_lock);
	return err;
}

int zvd_backend_inject_write_error(struct zvd_backend *be, uint64_t n,
				   int err, int sticky)
{
	if (!be || (n && err >= 0))
		return -EINVAL;
	pthread_mutex_lock(&be->fault_lock);
	be->fault_countdown = n;
	be->fault_err = err;
	be->fault_sticky = sticky;
	atomic_store(&be->fault_armed, n != 0);
	pthread_mutex_unlock(&be->fault_lock);
	return 0;
}

void zvd_backend_close(struct zvd_backend *be)
{
	if (!be)
		return;
	pthread_mutex_destroy(&be->fault_lock);
	free(be->path);
	be->ops->destroy(be);
}

int be_abspath(const char *path, char out[PATH_MAX])
{
	if (zvd_is_rados(path)) {
		if (strlen(path) >= PATH_MAX) {
			errno = ENAMETOOLONG;
			return -1;
		}
		strcpy(out, path);
		return 0;
	}
	return realpath(path, out) ? 0 : -1;
}

int be_abspath_new(const char *path, char out[PATH_MAX])
{
	const char *base = strrchr(path, '/');
	char *dir;
	int ok;

	if (zvd_is_rados(path))
		return be_abspath(path, out);
	dir = strdup(path);
	if (!dir) {
		errno = ENOMEM;
		return -1;
	}
	ok = realpath(dirname(dir), out) != NULL;
	free(dir);
	if (!ok)
		return -1;
	base = base ? base + 1 : path;
	if (strlen(out) + 1 + strlen(base) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcat(strcat(out, "/"), base);
	return 0;
}

int be_exists(const char *path)
{
	if (zvd_is_rados(path))
		return rados_exists(path) == 1;
	return access(path, F_OK) == 0;
}

int be_remove(const char *path)
{
	if (zvd_is_rados(path))
		return rados_remove_image(path);
	return unlink(path) ? -errno : 0;
}

int zvd_backend_exists(const char *path)
{
	if (!path)
		return -EINVAL;
	if (zvd_is_rados(path))
		return rados_exists(path);
	return access(path, F_OK) == 0;
}

int zvd_backend_remove(const char *path)
{
	return path ? be_remove(path) : -EINVAL;
}

int be_open_view(struct zvd_backend *be, struct zvd_backend **out)
{
	if (!be->path)
		return -EOPNOTSUPP;
	if (zvd_is_rados(be->path))
		return rados_open_view(be, out);
	return zvd_backend_open(be->path, ZVD_FILE_READONLY | BE_FILE_NOLOCK,
				out);
}

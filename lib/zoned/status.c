// SPDX-License-Identifier: MIT
/*
 * status.c - zone statuses: their names, their errnos, and the record of
 * the last failure on a device handle.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "zoned/zoned.h"

static const char *const status_names[ZVD_STATUS_COUNT] = {
	[ZVD_OK] = "ok",
	[ZVD_INVALID_FIELD] = "invalid-field",
	[ZVD_INVALID_WRITE] = "not-at-write-pointer",
	[ZVD_ZONE_FULL] = "zone-full",
	[ZVD_BOUNDARY] = "boundary-error",
	[ZVD_TOO_MANY_OPEN] = "too-many-open",
	[ZVD_TOO_MANY_ACTIVE] = "too-many-active",
	[ZVD_READ_ONLY] = "zone-read-only",
	[ZVD_OFFLINE] = "zone-offline",
	[ZVD_INVALID_TRANSITION] = "invalid-zone-state-transition",
	[ZVD_IO_ERROR] = "io-error",
};

const char *zvd_status_name(enum zvd_status st)
{
	if ((unsigned)st >= ZVD_STATUS_COUNT)
		return "unknown";
	return status_names[st];
}

int zvd_status_errno(enum zvd_status st)
{
	switch (st) {
	case ZVD_OK:
		return 0;
	case ZVD_INVALID_FIELD:
		return -EINVAL;
	case ZVD_TOO_MANY_OPEN:
		return -ETOOMANYREFS;
	case ZVD_TOO_MANY_ACTIVE:
		return -EOVERFLOW;
	default:
		return -EIO;
	}
}

static const char *const cond_names[ZVD_COND_COUNT] = {
	[ZVD_COND_NOT_WP] = "not-write-pointer",
	[ZVD_COND_EMPTY] = "empty",
	[ZVD_COND_IMP_OPEN] = "implicit-open",
	[ZVD_COND_EXP_OPEN] = "explicit-open",
	[ZVD_COND_CLOSED] = "closed",
	[ZVD_COND_FULL] = "full",
	[ZVD_COND_READ_ONLY] = "read-only",
	[ZVD_COND_OFFLINE] = "offline",
};

const char *zvd_cond_name(enum zvd_zone_cond cond)
{
	if ((unsigned)cond >= ZVD_COND_COUNT)
		return "unknown";
	return cond_names[cond];
}

static int record(struct zvd_dev *dev, enum zvd_status st, int err,
		  uint32_t zone, uint64_t off, uint64_t len, uint64_t wp,
		  uint64_t limit)
{
	pthread_mutex_lock(&dev->err_lock);
	memset(&dev->last, 0, sizeof(dev->last));
	dev->detail[0] = 0;
	dev->last.status = st;
	dev->last.err = err;
	dev->last.zone = zone;
	dev->last.offset = off;
	dev->last.length = len;
	dev->last.wp = wp;
	dev->last.limit = limit;
	pthread_mutex_unlock(&dev->err_lock);
	return err;
}

int dev_fail(struct zvd_dev *dev, enum zvd_status st, uint32_t zone,
	     uint64_t off, uint64_t len, uint64_t wp, uint64_t limit)
{
	return record(dev, st, zvd_status_errno(st), zone, off, len, wp, limit);
}

int dev_io_fail(struct zvd_dev *dev, int err, uint32_t zone, uint64_t off,
		uint64_t len)
{
	return record(dev, ZVD_IO_ERROR, err, zone, off, len, 0, 0);
}

/* A failure that words say best (a snapshot's clones, a backing image). */
int dev_fail_msg(struct zvd_dev *dev, int err, const char *fmt, ...)
{
	va_list ap;

	record(dev, err == -EINVAL ? ZVD_INVALID_FIELD : ZVD_IO_ERROR, err,
	       UINT32_MAX, 0, 0, 0, 0);
	pthread_mutex_lock(&dev->err_lock);
	va_start(ap, fmt);
	vsnprintf(dev->detail, sizeof(dev->detail), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&dev->err_lock);
	return err;
}

void zvd_last_error(struct zvd_dev *dev, struct zvd_error *err)
{
	pthread_mutex_lock(&dev->err_lock);
	*err = dev->last;
	pthread_mutex_unlock(&dev->err_lock);
}

/* The words for each status, completed with its numbers below. */
static const char *status_words(enum zvd_status st)
{
	switch (st) {
	case ZVD_OK:
		return "no error";
	case ZVD_INVALID_FIELD:
		return "invalid field (range, alignment or argument)";
	case ZVD_INVALID_WRITE:
		return "write not at the write pointer";
	case ZVD_ZONE_FULL:
		return "zone is full";
	case ZVD_BOUNDARY:
		return "crosses the zone capacity or a zone boundary";
	case ZVD_TOO_MANY_OPEN:
		return "too many open zones";
	case ZVD_TOO_MANY_ACTIVE:
		return "too many active zones";
	case ZVD_READ_ONLY:
		return "zone is read-only";
	case ZVD_OFFLINE:
		return "zone is offline";
	case ZVD_INVALID_TRANSITION:
		return "invalid zone state transition";
	default:
		return "I/O error";
	}
}

void zvd_last_error_text(struct zvd_dev *dev, char *buf, size_t len)
{
	struct zvd_error e;
	char where[32] = "";
	char extra[96] = "";

	zvd_last_error(dev, &e);
	pthread_mutex_lock(&dev->err_lock);
	if (dev->detail[0]) {
		snprintf(buf, len, "%s", dev->detail);
		pthread_mutex_unlock(&dev->err_lock);
		return;
	}
	pthread_mutex_unlock(&dev->err_lock);
	if (e.zone != UINT32_MAX)
		snprintf(where, sizeof(where), "zone %u: ", e.zone);
	switch (e.status) {
	case ZVD_INVALID_WRITE:
		snprintf(extra, sizeof(extra), ", write pointer %llu",
			 (unsigned long long)e.wp);
		break;
	case ZVD_BOUNDARY:
		snprintf(extra, sizeof(extra), ", limit %llu",
			 (unsigned long long)e.limit);
		break;
	case ZVD_TOO_MANY_OPEN:
	case ZVD_TOO_MANY_ACTIVE:
		snprintf(extra, sizeof(extra), ", limit %llu zones",
			 (unsigned long long)e.limit);
		break;
	case ZVD_INVALID_FIELD:
		if (e.limit)
			snprintf(extra, sizeof(extra), ", limit %llu",
				 (unsigned long long)e.limit);
		break;
	case ZVD_IO_ERROR:
		snprintf(extra, sizeof(extra), ": %s", strerror(-e.err));
		break;
	default:
		break;
	}
	snprintf(buf, len, "%s%s [%s] (offset %llu, length %llu%s)", where,
		 status_words(e.status), zvd_status_name(e.status),
		 (unsigned long long)e.offset, (unsigned long long)e.length,
		 extra);
}

// SPDX-License-Identifier: MIT
/*
 * ublk_srv.c - the life of a ublk device, zoned (a zoned image) or not (a
 * volume):
 *
 *   1. GET_FEATURES: the kernel must offer USER_COPY, and ZONED for a
 *      zoned image;
 *   2. ADD_DEV (a dead device left under the requested id by a killed
 *      server is deleted first), SET_PARAMS;
 *   3. open /dev/ublkcN once, map each queue's descriptors, start one
 *      thread per queue, which fetches every tag;
 *   4. START_DEV from this thread (it blocks until every tag is fetched,
 *      and meanwhile the kernel reads the zones through our queues);
 *   5. print /dev/ublkbN and wait for SIGINT, SIGTERM or SIGHUP;
 *   6. STOP_DEV (the kernel drains in-flight I/O, then aborts the armed
 *      tags, which ends the threads), close ublkcN, DEL_DEV.
 *
 * The library image is flushed and closed by the caller.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../cli.h"
#include "ublk.h"

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A volume needs USER_COPY, the data path of this server (Linux 6.5). */
static int check_volume_features(struct ublk_srv *s, int rc, uint64_t f)
{
	if (rc < 0)
		return cli_error(s->cmd,
				 "this kernel's ublk driver is too old "
				 "(GET_FEATURES: %s); the ublk server needs "
				 "Linux 6.5 or later", strerror(-rc));
	if (!(f & UBLK_F_USER_COPY))
		return cli_error(s->cmd,
				 "this kernel's ublk driver lacks "
				 "UBLK_F_USER_COPY (features 0x%llx), which the "
				 "ublk server moves data with; it needs Linux "
				 "6.5 or later", (unsigned long long)f);
	return 0;
}

/* The kernel's ublk must serve the device: zoned devices for a zoned
 * image. Returns 0 or an exit code. */
static int check_features(struct ublk_srv *s)
{
	uint64_t f = 0;
	int rc = ublk_ctrl_get_features(s, &f);

	if (s->volume)
		return check_volume_features(s, rc, f);
	if (rc < 0)
		return cli_error(s->cmd,
				 "this kernel's ublk driver is too old for a "
				 "zoned device (GET_FEATURES: %s); zoned ublk "
				 "devices need Linux 6.6 or later",
				 strerror(-rc));
	if (!(f & UBLK_F_USER_COPY) || !(f & UBLK_F_ZONED))
		return cli_error(s->cmd,
				 "this kernel's ublk driver cannot present zoned "
				 "devices: they need both UBLK_F_ZONED and "
				 "UBLK_F_USER_COPY (the kernel refuses zoned "
				 "without USER_COPY), and it offers%s%s "
				 "(features 0x%llx; Linux 6.6 or later built "
				 "with CONFIG_BLK_DEV_ZONED has both)",
				 f & UBLK_F_ZONED ? " ZONED" : "",
				 f & UBLK_F_USER_COPY ? " USER_COPY" :
							" neither",
				 (unsigned long long)f);
	return 0;
}

/* ADD_DEV; a dead device under the requested id is removed first. */
static int add_device(struct ublk_srv *s, int32_t want_id)
{
	struct ublksrv_ctrl_dev_info old;
	struct ublksrv_ctrl_dev_info req = s->info;
	int rc = ublk_ctrl_add(s), i;

	if (rc == -EEXIST && want_id >= 0 &&
	    ublk_ctrl_get_info(s, want_id, &old) == 0 &&
	    old.state == UBLK_S_DEV_DEAD) {
		fprintf(stderr,
			"zvd %s: removing the dead ublk device %d left by an "
			"earlier server\n", s->cmd, want_id);
		/* the id is free once nothing holds the dead device (a file
		 * system still mounted on it does): wait a while, not for ever */
		if (ublk_ctrl_del(s, want_id, true) < 0)
			ublk_ctrl_del(s, want_id, false);
		for (i = 0; i < 250; i++) {
			if (ublk_ctrl_get_info(s, want_id, &old) < 0)
				break;
			sleep_ms(20);
		}
		s->info = req;
		rc = ublk_ctrl_add(s);
		if (rc == -EEXIST)
			return cli_error(s->cmd,
					 "ublk device %d is dead but still held "
					 "(is a file system on /dev/ublkb%d still "
					 "mounted?); unmount it or choose another "
					 "--id", want_id, want_id);
	}
	if (rc == -EEXIST)
		return cli_error(s->cmd,
				 "ublk device %d already exists (is another "
				 "server running? choose another --id)",
				 want_id);
	if (rc == -EPERM)
		return cli_error(s->cmd,
				 "adding a ublk device: %s (zoned ublk devices "
				 "need CAP_SYS_ADMIN: run as root)",
				 strerror(-rc));
	if (rc < 0)
		return cli_error(s->cmd, "adding a ublk device: %s",
				 strerror(-rc));
	return 0;
}

/* Open /dev/ublkcN, which udev (or devtmpfs) creates after ADD_DEV. */
static int open_cdev(struct ublk_srv *s)
{
	char path[64];
	int i;

	snprintf(path, sizeof(path), "/dev/ublkc%d", s->dev_id);
	for (i = 0; i < 250; i++) {
		s->cdev_fd = open(path, O_RDWR | O_CLOEXEC);
		if (s->cdev_fd >= 0 || errno != ENOENT)
			break;
		sleep_ms(20);
	}
	if (s->cdev_fd < 0)
		return cli_error(s->cmd, "%s: %s", path, strerror(errno));
	return 0;
}

static int start_queues(struct ublk_srv *s)
{
	uint16_t i;
	int rc;

	s->queues = calloc(s->nr_queues, sizeof(*s->queues));
	if (!s->queues)
		return cli_error(s->cmd, "out of memory");
	for (i = 0; i < s->nr_queues; i++) {
		rc = ublk_queue_init(s, &s->queues[i], i);
		if (rc < 0)
			return cli_error(s->cmd, "queue %u: %s", i,
					 strerror(-rc));
	}
	for (i = 0; i < s->nr_queues; i++) {
		atomic_fetch_add(&s->threads_running, 1);
		rc = pthread_create(&s->queues[i].thread, NULL,
				    ublk_queue_thread, &s->queues[i]);
		if (rc) {
			atomic_fetch_sub(&s->threads_running, 1);
			return cli_error(s->cmd, "queue %u: %s", i,
					 strerror(rc));
		}
		s->queues[i].thread_started = true;
	}
	return 0;
}

/* Wait for the queue threads; after @grace_ms tell them to give up. */
static void join_queues(struct ublk_srv *s, long grace_ms)
{
	long waited = 0;
	uint16_t i;

	while (atomic_load(&s->threads_running) > 0 && waited < grace_ms) {
		sleep_ms(20);
		waited += 20;
	}
	atomic_store(&s->stop_threads, true);
	for (i = 0; s->queues && i < s->nr_queues; i++) {
		if (s->queues[i].thread_started)
			pthread_join(s->queues[i].thread, NULL);
		s->queues[i].thread_started = false;
	}
}

/* One line of what was served, for the log and for tests. */
static void print_stats(struct ublk_srv *s)
{
	uint64_t op[32] = { 0 }, failed = 0, zmgmt;
	uint16_t i, k;

	for (i = 0; s->queues && i < s->nr_queues; i++) {
		for (k = 0; k < 32; k++)
			op[k] += s->queues[i].by_op[k];
		failed += s->queues[i].failed;
	}
	if (s->volume) {
		fprintf(stderr,
			"zvd %s: served %llu reads, %llu writes, %llu "
			"flushes, %llu discards, %llu write-zeroes; %llu "
			"failed\n",
			s->cmd, (unsigned long long)op[UBLK_IO_OP_READ],
			(unsigned long long)op[UBLK_IO_OP_WRITE],
			(unsigned long long)op[UBLK_IO_OP_FLUSH],
			(unsigned long long)op[UBLK_IO_OP_DISCARD],
			(unsigned long long)op[UBLK_IO_OP_WRITE_ZEROES],
			(unsigned long long)failed);
		return;
	}
	zmgmt = op[UBLK_IO_OP_ZONE_OPEN] + op[UBLK_IO_OP_ZONE_CLOSE] +
		op[UBLK_IO_OP_ZONE_FINISH] + op[UBLK_IO_OP_ZONE_RESET] +
		op[UBLK_IO_OP_ZONE_RESET_ALL];
	fprintf(stderr,
		"zvd %s: served %llu reads, %llu writes, %llu zone appends, "
		"%llu flushes, %llu zone operations, %llu zone reports; "
		"%llu failed\n",
		s->cmd, (unsigned long long)op[UBLK_IO_OP_READ],
		(unsigned long long)op[UBLK_IO_OP_WRITE],
		(unsigned long long)op[UBLK_IO_OP_ZONE_APPEND],
		(unsigned long long)op[UBLK_IO_OP_FLUSH],
		(unsigned long long)zmgmt,
		(unsigned long long)op[UBLK_IO_OP_REPORT_ZONES],
		(unsigned long long)failed);
}

/* Why a queue stopped, if one failed; 0 when all ended normally. */
static int queue_errors(struct ublk_srv *s)
{
	uint16_t i;
	int bad = 0;

	for (i = 0; s->queues && i < s->nr_queues; i++) {
		if (!s->queues[i].err)
			continue;
		fprintf(stderr, "zvd %s: queue %u stopped: %s\n", s->cmd, i,
			strerror(-s->queues[i].err));
		bad = 1;
	}
	return bad;
}

/* Release everything; delete the device (@async: do not wait). */
static void teardown(struct ublk_srv *s, bool async_del)
{
	uint16_t i;

	join_queues(s, async_del ? 0 : 10000);
	for (i = 0; s->queues && i < s->nr_queues; i++)
		ublk_queue_exit(&s->queues[i]);
	free(s->queues);
	s->queues = NULL;
	if (s->cdev_fd >= 0)
		close(s->cdev_fd);
	s->cdev_fd = -1;
	if (s->dev_id >= 0) {
		int rc = ublk_ctrl_del(s, s->dev_id, async_del);

		if (rc < 0 && async_del)
			rc = ublk_ctrl_del(s, s->dev_id, false);
		if (rc < 0)
			fprintf(stderr,
				"zvd %s: deleting ublk device %d: %s\n",
				s->cmd, s->dev_id, strerror(-rc));
	}
	ublk_ctrl_exit(s);
	if (s->ctrl_fd >= 0)
		close(s->ctrl_fd);
	s->ctrl_fd = -1;
}

/* Wait for a stop signal, or for a queue to end (the kernel stopped the
 * device). Returns the signal, or 0. */
static int wait_for_stop(struct ublk_srv *s, const sigset_t *set)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 200 * 1000000L };

	while (atomic_load(&s->threads_running) == s->nr_queues) {
		int sig = sigtimedwait(set, NULL, &ts);

		if (sig > 0)
			return sig;
	}
	return 0;
}

/* Print the block device's path once its node exists. */
static void announce(struct ublk_srv *s)
{
	char path[64], size[32], zsize[32];
	struct stat st;
	int i;

	snprintf(path, sizeof(path), "/dev/ublkb%d", s->dev_id);
	for (i = 0; i < 150 && stat(path, &st) != 0; i++)
		sleep_ms(20);
	if (s->volume)
		fprintf(stderr,
			"zvd %s: %s is live: a volume of %s (512-byte sectors, "
			"4 KiB blocks, discard and write-zeroes), %u queue%s "
			"of depth %u; SIGINT or SIGTERM stops it\n",
			s->cmd, path, cli_fmt_size(s->size, size, sizeof(size)),
			s->nr_queues, s->nr_queues == 1 ? "" : "s", s->depth);
	else
		fprintf(stderr,
		"zvd %s: %s is live: %s in %u zones of %s (%u conventional), "
		"%u queue%s of depth %u; SIGINT or SIGTERM stops it\n",
		s->cmd, path, cli_fmt_size(s->geo.size, size, sizeof(size)),
		s->nr_zones,
		cli_fmt_size(s->geo.zone_size, zsize, sizeof(zsize)),
		s->geo.nr_conv_zones, s->nr_queues,
		s->nr_queues == 1 ? "" : "s", s->depth);
	printf("%s\n", path);
	fflush(stdout);
}

static int setup(struct ublk_srv *s, const struct ublk_srv_opts *o)
{
	struct ublkc_params p;
	int rc;

	rc = ublk_ctrl_init(s);
	if (rc < 0)
		return cli_error(s->cmd, "io_uring: %s (io_uring is needed "
				 "for ublk)", strerror(-rc));
	rc = check_features(s);
	if (rc)
		return rc;
	s->info.nr_hw_queues = s->nr_queues;
	s->info.queue_depth = s->depth;
	s->info.max_io_buf_bytes = s->max_io_bytes;
	s->info.dev_id = o->dev_id < 0 ? UINT32_MAX : (uint32_t)o->dev_id;
	s->info.flags = UBLK_F_USER_COPY | UBLK_F_CMD_IOCTL_ENCODE;
	if (!s->volume)
		s->info.flags |= UBLK_F_ZONED;
	rc = add_device(s, o->dev_id);
	if (rc)
		return rc;
	if (s->info.nr_hw_queues != s->nr_queues)
		fprintf(stderr, "zvd %s: the kernel allows %u queues (one per "
			"CPU), not %u\n", s->cmd, s->info.nr_hw_queues,
			s->nr_queues);
	s->nr_queues = s->info.nr_hw_queues;
	s->depth = s->info.queue_depth;
	ublk_build_params(s, &p);
	rc = ublk_ctrl_set_params(s, &p);
	if (rc < 0 && s->volume)
		return cli_error(s->cmd,
				 "the kernel refused the device's parameters "
				 "(%s): %llu sectors, discard up to %u sectors",
				 strerror(-rc),
				 (unsigned long long)p.basic.dev_sectors,
				 p.discard.max_discard_sectors);
	if (rc < 0)
		return cli_error(s->cmd,
				 "the kernel refused the device's parameters "
				 "(%s): zone size %llu sectors, %llu sectors, "
				 "open %u / active %u zones, append %u sectors",
				 strerror(-rc),
				 (unsigned long long)p.basic.chunk_sectors,
				 (unsigned long long)p.basic.dev_sectors,
				 p.zoned.max_open_zones,
				 p.zoned.max_active_zones,
				 p.zoned.max_zone_append_sectors);
	rc = open_cdev(s);
	if (rc)
		return rc;
	return start_queues(s);
}

int ublk_serve(struct zvd_dev *dev, const struct ublk_srv_opts *o,
	       int ctrl_fd)
{
	struct ublk_srv s = { 0 };
	sigset_t set, old;
	char why[512];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int rc, sig;

	s.dev = dev;
	s.cmd = o->cmd;
	s.ctrl_fd = ctrl_fd;
	s.cdev_fd = -1;
	s.dev_id = -1;
	s.volume = zvd_is_volume(dev) == 1;
	s.size = zvd_size(dev);
	if (ublk_image_check(dev, why, sizeof(why))) {
		close(ctrl_fd);
		return cli_error(s.cmd, "cannot serve this image: %s", why);
	}
	if (s.volume) {
		s.max_io_bytes = UBLK_VOLUME_IO_BYTES;
	} else {
		zvd_get_geometry(dev, &s.geo);
		s.nr_zones = zvd_nr_zones(dev);
		s.max_io_bytes = ublk_max_io_bytes(&s.geo);
		s.append_bytes = ublk_append_bytes(&s.geo, s.max_io_bytes);
	}
	s.nr_queues = o->nr_queues;
	if (!s.nr_queues)
		s.nr_queues = cpus > 0 && cpus < UBLK_SRV_DEF_QUEUES ?
				      (uint16_t)cpus :
				      UBLK_SRV_DEF_QUEUES;
	s.depth = o->depth ? o->depth : UBLK_SRV_DEF_DEPTH;

	/* the queue threads inherit this: only the main thread takes the
	 * stop signals, synchronously */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, &old);

	rc = setup(&s, o);
	if (rc) {
		teardown(&s, true);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return rc;
	}
	rc = ublk_ctrl_start(&s, getpid());
	if (rc < 0) {
		cli_error(s.cmd,
			  "starting the device failed: %s%s", strerror(-rc),
			  !s.volume && (rc == -ENODEV || rc == -EINVAL) ?
				  " (the kernel rejected the zone layout or "
				  "limits)" :
				  "");
		atomic_store(&s.stop_threads, true);
		teardown(&s, true);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return CLI_EXIT_REFUSED;
	}
	announce(&s);
	sig = wait_for_stop(&s, &set);
	if (sig)
		fprintf(stderr, "zvd %s: %s: stopping /dev/ublkb%d\n", s.cmd,
			strsignal(sig), s.dev_id);
	else
		fprintf(stderr, "zvd %s: /dev/ublkb%d was stopped\n", s.cmd,
			s.dev_id);
	rc = ublk_ctrl_stop(&s);
	if (rc < 0 && rc != -ENODEV)
		fprintf(stderr, "zvd %s: stopping the device: %s\n", s.cmd,
			strerror(-rc));
	join_queues(&s, 10000);
	print_stats(&s);
	rc = queue_errors(&s);
	teardown(&s, false);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc ? CLI_EXIT_REFUSED : 0;
}

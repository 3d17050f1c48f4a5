// SPDX-License-Identifier: MIT
/*
 * smoke.c - librados works against a test cluster (scripts/ceph-test-cluster)
 *
 * Not built by the Makefile. By hand:
 *   eval "$(scripts/ceph-test-cluster start /tmp/zvd-ceph)"
 *   cc -O2 -Wall -Wextra -o /tmp/rados-smoke tests/rados/smoke.c -lrados
 *   /tmp/rados-smoke            # CEPH_CONF, CEPH_POOL from the start lines
 *   scripts/ceph-test-cluster stop /tmp/zvd-ceph
 *
 * Writes a 4 MiB object, reads it back whole and in part, stats it, takes an
 * exclusive lock with a lease from one client, sees a second client refused,
 * breaks the lock from the second client, sees a lease expire, lists the
 * pool, removes the object. Prints "ok"/"not ok" lines and a closing
 * "N passed, N failed" line; exits 0 only when all passed, 77 when it cannot
 * connect (no cluster: a test would skip).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <rados/librados.h>

#define OBJ_SIZE (4u << 20)
#define LOCK_NAME "zvd.lock"

static int passed, failed;

static void check(int cond, const char *what, long got)
{
	if (cond) {
		passed++;
		printf("ok %d - %s\n", passed + failed, what);
	} else {
		failed++;
		printf("not ok %d - %s (got %ld%s%s)\n", passed + failed, what, got,
		       got < 0 ? ": " : "", got < 0 ? strerror((int)-got) : "");
	}
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* a client: its own rados_t, so its own client id (client.NNNN) */
static int client(const char *conf, const char *pool, rados_t *cl,
		  rados_ioctx_t *io)
{
	int r = rados_create2(cl, "ceph", "client.admin", 0);
	if (r < 0)
		return r;
	r = rados_conf_read_file(*cl, conf);
	if (r < 0)
		goto out;
	/* give up on a dead cluster in seconds rather than hang */
	rados_conf_set(*cl, "client_mount_timeout", "10");
	rados_conf_set(*cl, "rados_osd_op_timeout", "30");
	r = rados_connect(*cl);
	if (r < 0)
		goto out;
	r = rados_ioctx_create(*cl, pool, io);
	if (r < 0)
		goto out;
	return 0;
out:
	rados_shutdown(*cl);
	return r;
}

int main(int argc, char **argv)
{
	const char *conf = argc > 1 ? argv[1] : getenv("CEPH_CONF");
	const char *pool = argc > 2 ? argv[2] : getenv("CEPH_POOL");
	char oid[64], name[128];
	rados_t a, b;
	rados_ioctx_t ioa, iob;
	char *buf, *back;
	uint64_t size = 0;
	time_t mtime = 0;
	double t;
	int r;

	if (!conf) {
		fprintf(stderr, "usage: %s [CEPH_CONF [POOL]] (or set CEPH_CONF)\n",
			argv[0]);
		return 2;
	}
	if (!pool || !*pool)
		pool = "zvd";
	snprintf(oid, sizeof oid, "zvd-smoke.%d", (int)getpid());

	r = client(conf, pool, &a, &ioa);
	if (r < 0) {
		fprintf(stderr, "smoke: cannot connect with %s to pool %s: %s\n",
			conf, pool, strerror(-r));
		return 77;
	}
	r = client(conf, pool, &b, &iob);
	if (r < 0) {
		fprintf(stderr, "smoke: second client: %s\n", strerror(-r));
		return 77;
	}
	printf("# clients %llu and %llu, pool %s, object %s\n",
	       (unsigned long long)rados_get_instance_id(a),
	       (unsigned long long)rados_get_instance_id(b), pool, oid);

	buf = malloc(OBJ_SIZE);
	back = malloc(OBJ_SIZE);
	if (!buf || !back)
		return 1;
	for (uint32_t i = 0; i < OBJ_SIZE / 4; i++)
		((uint32_t *)buf)[i] = i * 2654435761u;

	/* write 4 MiB, read it back */
	t = now();
	r = rados_write_full(ioa, oid, buf, OBJ_SIZE);
	printf("# write_full 4 MiB: %.1f ms\n", (now() - t) * 1e3);
	check(r == 0, "write_full 4 MiB", r);
	memset(back, 0, OBJ_SIZE);
	t = now();
	r = rados_read(iob, oid, back, OBJ_SIZE, 0);
	printf("# read 4 MiB: %.1f ms\n", (now() - t) * 1e3);
	check(r == (int)OBJ_SIZE, "read 4 MiB from the other client", r);
	check(memcmp(buf, back, OBJ_SIZE) == 0, "read back the bytes written", 0);
	r = rados_read(ioa, oid, back, 4096, OBJ_SIZE - 4096 + 100);
	check(r == 4096 - 100 && memcmp(back, buf + OBJ_SIZE - 4096 + 100, r) == 0,
	      "read across the end is short", r);
	r = rados_write(ioa, oid, buf, 4096, 8192);
	check(r == 0, "write 4 KiB at 8 KiB", r);

	r = rados_stat(iob, oid, &size, &mtime);
	check(r == 0 && size == OBJ_SIZE, "stat: 4 MiB", r < 0 ? r : (long)size);
	check(mtime > 0 && labs((long)(time(NULL) - mtime)) < 600, "stat: mtime now",
	      (long)mtime);

	/* exclusive lock with a 30 s lease by a */
	struct timeval lease = { 30, 0 };
	r = rados_lock_exclusive(ioa, oid, LOCK_NAME, "a", "zvd smoke", &lease, 0);
	check(r == 0, "a locks exclusively, 30 s lease", r);
	r = rados_lock_exclusive(ioa, oid, LOCK_NAME, "a", "zvd smoke", &lease, 0);
	check(r == -EEXIST, "a again: EEXIST", r);
	r = rados_lock_exclusive(ioa, oid, LOCK_NAME, "a", "zvd smoke", &lease,
				 LIBRADOS_LOCK_FLAG_RENEW);
	check(r == 0, "a renews its lease", r);
	r = rados_lock_exclusive(iob, oid, LOCK_NAME, "b", "zvd smoke", &lease, 0);
	check(r == -EBUSY, "b is refused: EBUSY", r);

	/* b finds the holder and breaks the lock */
	{
		int excl = -1;
		char tag[64], clients[256], cookies[256], addrs[256];
		size_t tl = sizeof tag, cl = sizeof clients, kl = sizeof cookies,
		       al = sizeof addrs;
		ssize_t n = rados_list_lockers(iob, oid, LOCK_NAME, &excl, tag, &tl,
					       clients, &cl, cookies, &kl, addrs, &al);
		check(n == 1 && excl == 1, "list_lockers: one exclusive holder", n);
		snprintf(name, sizeof name, "client.%llu",
			 (unsigned long long)rados_get_instance_id(a));
		check(n == 1 && strcmp(clients, name) == 0 && strcmp(cookies, "a") == 0,
		      "holder is a's client id with cookie a", 0);
		if (n == 1)
			printf("# locker %s cookie %s addr %s\n", clients, cookies, addrs);
		r = rados_break_lock(iob, oid, LOCK_NAME, n == 1 ? clients : name, "a");
		check(r == 0, "b breaks a's lock", r);
	}
	r = rados_lock_exclusive(iob, oid, LOCK_NAME, "b", "zvd smoke", &lease, 0);
	check(r == 0, "b now locks", r);
	r = rados_unlock(ioa, oid, LOCK_NAME, "a");
	check(r == -ENOENT, "a's unlock: ENOENT (it was broken)", r);
	r = rados_unlock(iob, oid, LOCK_NAME, "b");
	check(r == 0, "b unlocks", r);

	/* a lease runs out by itself */
	struct timeval shortl = { 1, 0 };
	r = rados_lock_exclusive(ioa, oid, LOCK_NAME, "a", "zvd smoke", &shortl, 0);
	check(r == 0, "a locks with a 1 s lease", r);
	r = rados_lock_exclusive(iob, oid, LOCK_NAME, "b", "zvd smoke", &lease, 0);
	check(r == -EBUSY, "b is refused within the lease", r);
	usleep(1500 * 1000);
	r = rados_lock_exclusive(iob, oid, LOCK_NAME, "b", "zvd smoke", &lease, 0);
	check(r == 0, "b locks after the lease ran out", r);
	r = rados_unlock(iob, oid, LOCK_NAME, "b");
	check(r == 0, "b unlocks", r);

	/* list the pool: the object is there */
	{
		rados_list_ctx_t ls;
		const char *entry;
		int found = 0, count = 0;
		r = rados_nobjects_list_open(ioa, &ls);
		check(r == 0, "nobjects_list_open", r);
		if (r == 0) {
			while (rados_nobjects_list_next(ls, &entry, NULL, NULL) == 0) {
				count++;
				if (strcmp(entry, oid) == 0)
					found = 1;
			}
			rados_nobjects_list_close(ls);
		}
		printf("# %d objects in pool %s\n", count, pool);
		check(found, "the object is listed", count);
	}

	r = rados_remove(ioa, oid);
	check(r == 0, "remove", r);
	r = rados_stat(iob, oid, &size, &mtime);
	check(r == -ENOENT, "stat after remove: ENOENT", r);
	r = rados_read(iob, oid, back, 4096, 0);
	check(r == -ENOENT, "read after remove: ENOENT", r);

	free(buf);
	free(back);
	rados_ioctx_destroy(ioa);
	rados_ioctx_destroy(iob);
	rados_shutdown(a);
	rados_shutdown(b);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

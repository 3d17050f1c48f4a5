// SPDX-License-Identifier: MIT
/*
 * rados.c - the rados backend: an image's bytes as objects in a Ceph pool,
 * written through a write-back log.
 *
 * Byte b of the image is byte b % ZVD_RADOS_OBJECT of object
 * NAME.<b / ZVD_RADOS_OBJECT in 16 hex digits>; object 0 (it holds the
 * superblocks) also carries the lock and the attributes zvd.size (no
 * object lies beyond it), zvd.log (the id of a writer's local log while it
 * may hold writes the cluster lacks) and zvd.progress (when the cluster
 * last confirmed an upload).
 *
 * A write is appended to the log (wlog.h: a local file, or memory) and
 * indexed by object; reads overlay the logged writes on the cluster's
 * bytes. One thread uploads the log in order, in batches: all logged
 * operations up to the next FLUSH record, or a few MiB of them, grouped
 * into one write operation per object (a volume appends 4 KiB blocks to
 * 1 MiB segments, so one object operation carries hundreds of client
 * writes). A batch never crosses a FLUSH record, so the cluster only ever
 * holds everything before some flush plus part of what followed it: the
 * state a power cut leaves, which the image layers above recover from.
 *
 * Durability: with a local log a flush returns once the log is synced;
 * with durable_remote, or with the log in memory, once the cluster has
 * everything up to the flush. After a crash the local log is replayed
 * (its records index again and upload again); without it the image is
 * what the cluster holds.
 *
 * Sections: connecting and naming; the lock (lease, renewal, break-lock);
 * the object index of logged operations; appending to the log (writes,
 * zeroes, flushes); reading (the overlay, the read cache); uploading;
 * the local log at open (replay); open and close; views (read-only
 * backends that read through a writer, for snapshot views).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rados/librados.h>

#include "backend/backend.h"
#include "backend/rcache.h"
#include "backend/wlog.h"
#include "util/util.h"

#define OBJ ZVD_RADOS_OBJECT
#define OBJ_SHIFT 20
#define LOCK_NAME "zvd"
#define LOCK_TAG "zvd"
#define LEASE_S 30	   /* the lock lapses this long after its holder died */
#define RENEW_S 10
#define LEASE_MARGIN_S 8  /* stop writing this long before it may lapse */
#define BATCH_MIN (4u << 20)  /* upload at once when this much is logged */
#define BATCH_MAX (16u << 20) /* largest batch */
#define BATCH_AGE_NS 50000000 /* else once the oldest write is this old */
#define SIZE_STEP (64ull << 20) /* zvd.size grows in these steps */
#define HT_SIZE 1024u
#define MAX_PINS 64u
#define NAME_MAX_LEN 96u
#define READ_CACHE (64u << 20) /* default read cache */
#define CACHED_READ_MAX (128u << 10) /* larger reads bypass it */

/* One logged operation the cluster may not have yet. */
struct wop {
	struct wop *next;  /* log order */
	struct wop *onext; /* the next one on the same object */
	uint64_t obj;
	uint32_t off, len;
	uint32_t type;
	uint64_t pos, end; /* the record's logical position and end */
	uint64_t seq;
	uint32_t prev;	   /* the CRC its record names as its predecessor's */
};

/* The logged operations on one object, oldest first. */
struct wobj {
	uint64_t obj;
	struct wop *first, *last;
	struct wobj *hnext;
};

struct rados_backend {
	struct zvd_backend be;
	rados_t cl;
	rados_ioctx_t io;
	char pool[128], name[NAME_MAX_LEN + 1], hdr[NAME_MAX_LEN + 20];
	char cookie[64];
	int readonly, locked, shared;

	/* the log */
	struct zvd_backend *lb;
	int own_lb, mem_log, durable_remote;
	struct wl_head wh;	/* as last written */
	pthread_mutex_t lock;	/* everything below */
	pthread_cond_t cv;	/* broadcast on every change */
	uint64_t wpos, wseq;	/* where the next record goes */
	uint32_t wprev;		/* the CRC of the last record written */
	uint64_t uploaded;	/* every record before it is in the cluster */
	uint64_t tail_done;	/* tail in the durable header (or uploaded) */
	uint64_t usable;	/* writers may reuse the ring below this */
	uint64_t synced;	/* the log is durable up to here */
	struct wop *q, *qlast;
	uint64_t pend_bytes;
	unsigned nflush, up_waiters, space_waiters;
	uint64_t pins[MAX_PINS]; /* readers in the ring: the oldest record
				  * each reads (they keep writers out) */
	uint64_t pinned;	 /* bit i: pins[i] in use */
	struct timespec first_t; /* when the queue last became non-empty */
	struct wobj *ht[HT_SIZE];
	uint8_t *rec;		/* one encoded record */
	int dirty;		/* operations since the last FLUSH record */
	int err;		/* dead: every operation fails with it */
	int stop, abandoned, up_error;
	int renew_stop;		/* the renew thread goes after the uploader */
	struct timespec renewed; /* the lease was last renewed (monotonic) */
	uint64_t size, remote_size;
	pthread_mutex_t sync_lock;

	pthread_t up, renew;
	int up_run, renew_run;
	pthread_cond_t renew_cv;

	struct rcache rc;	/* blocks read from the cluster */

	struct zvd_rados_status st;
	time_t last_stamp, last_save;
};

/* Monotonic clock arithmetic: the condition variables use it, so a step
 * of the wall clock changes no wait. */
static void deadline(struct timespec *t, long long ns)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += ns / 1000000000;
	t->tv_nsec += ns % 1000000000;
	if (t->tv_nsec >= 1000000000) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000;
	}
}

static long long since_ns(const struct timespec *a)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - a->tv_sec) * 1000000000ll + now.tv_nsec - a->tv_nsec;
}

static void cond_init_mono(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

static __thread char rados_why[256];
static const struct zvd_rados_options *rados_defaults;

static struct rados_backend *to_rb(struct zvd_backend *be)
{
	return (struct rados_backend *)be;
}

/* Say why an open failed (zvd_rados_why gives it to the caller). */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rados_why, sizeof(rados_why), fmt, ap);
	va_end(ap);
}

const char *zvd_rados_why(void)
{
	return rados_why[0] ? rados_why : NULL;
}

void zvd_rados_set_defaults(const struct zvd_rados_options *o)
{
	rados_defaults = o;
}

int zvd_is_rados(const char *path)
{
	return path && !strncmp(path, "rados://", 8);
}

static void obj_name(const struct rados_backend *rb, uint64_t obj, char *out)
{
	sprintf(out, "%s.%016" PRIx64, rb->name, obj);
}

/* ---- connecting and naming ---- */

/* Split "rados://POOL/NAME". */
static int parse_uri(const char *uri, char *pool, char *name)
{
	const char *p = uri + 8, *slash = strchr(p, '/');
	size_t i, n;

	if (!zvd_is_rados(uri) || !slash || slash == p ||
	    (size_t)(slash - p) >= 128) {
		say("%s: an image on RADOS is named rados://POOL/NAME", uri);
		return -EINVAL;
	}
	memcpy(pool, p, (size_t)(slash - p));
	pool[slash - p] = 0;
	n = strlen(slash + 1);
	if (!n || n > NAME_MAX_LEN) {
		say("%s: the name after the pool must have 1 to 96 characters",
		    uri);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		char c = slash[1 + i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
			say("%s: a name may hold only letters, digits, '.', '-' "
			    "and '_'", uri);
			return -EINVAL;
		}
	}
	strcpy(name, slash + 1);
	return 0;
}

static int connect_pool(rados_t *cl, rados_ioctx_t *io, const char *pool,
			const char *uri)
{
	int err = rados_create(cl, getenv("CEPH_ID"));

	if (err < 0) {
		say("%s: cannot start a RADOS client: %s", uri, strerror(-err));
		return err;
	}
	err = rados_conf_read_file(*cl, NULL);
	if (err == 0)
		err = rados_conf_parse_env(*cl, NULL);
	if (err < 0) {
		say("%s: cannot read the Ceph configuration (CEPH_CONF or "
		    "/etc/ceph/ceph.conf): %s", uri, strerror(-err));
		goto fail;
	}
	/* a dead cluster or OSD gives an error in seconds, not a hang */
	rados_conf_set(*cl, "client_mount_timeout", "15");
	rados_conf_set(*cl, "rados_osd_op_timeout", "30");
	rados_conf_set(*cl, "rados_mon_op_timeout", "30");
	err = rados_connect(*cl);
	if (err < 0) {
		say("%s: cannot connect to the Ceph cluster: %s", uri,
		    strerror(-err));
		goto fail;
	}
	err = rados_ioctx_create(*cl, pool, io);
	if (err < 0) {
		if (err == -ENOENT)
			say("%s: no such pool", uri);
		else
			say("%s: cannot open the pool: %s", uri, strerror(-err));
		goto fail;
	}
	return 0;
fail:
	rados_shutdown(*cl);
	return err;
}

static int get_xattr_u64(struct rados_backend *rb, const char *key,
			 uint64_t *v)
{
	char buf[32];
	int n = rados_getxattr(rb->io, rb->hdr, key, buf, sizeof(buf) - 1);

	if (n < 0)
		return n;
	buf[n] = 0;
	*v = strtoull(buf, NULL, 10);
	return 0;
}

static int set_xattr_u64(struct rados_backend *rb, const char *key,
			 uint64_t v)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%" PRIu64, v);

	pthread_mutex_lock(&rb->lock);
	rb->st.object_ops++;
	pthread_mutex_unlock(&rb->lock);
	return rados_setxattr(rb->io, rb->hdr, key, buf, (size_t)n);
}

/* zvd.progress: "TIME FLUSHES LOGID". */
static void read_progress(struct rados_backend *rb)
{
	char buf[128], id[40] = "";
	long long t = 0;
	unsigned long long f = 0;
	int n = rados_getxattr(rb->io, rb->hdr, "zvd.progress", buf,
			       sizeof(buf) - 1);

	if (n <= 0)
		return;
	buf[n] = 0;
	if (sscanf(buf, "%lld %llu %39s", &t, &f, id) >= 2) {
		rb->st.confirmed_time = t;
		rb->st.confirmed_flushes = f;
	}
}

static void stamp_progress(struct rados_backend *rb)
{
	char buf[128];
	time_t now = time(NULL);
	uint64_t flushes;
	int n;

	pthread_mutex_lock(&rb->lock);
	flushes = rb->st.flushes_uploaded;
	rb->st.object_ops++;
	pthread_mutex_unlock(&rb->lock);
	n = snprintf(buf, sizeof(buf), "%lld %" PRIu64 " %s", (long long)now,
		     flushes, rb->st.log_id[0] ? rb->st.log_id : "-");
	if (rados_setxattr(rb->io, rb->hdr, "zvd.progress", buf, (size_t)n) == 0) {
		pthread_mutex_lock(&rb->lock);
		rb->st.confirmed_time = now;
		rb->st.confirmed_flushes = flushes;
		pthread_mutex_unlock(&rb->lock);
	}
	rb->last_stamp = now;
}

/* ---- the lock ---- */

static void describe_holder(struct rados_backend *rb)
{
	char tag[64], clients[256], cookies[256], addrs[256];
	size_t tl = sizeof(tag), cll = sizeof(clients), col = sizeof(cookies),
	       al = sizeof(addrs);
	int excl = 0;
	ssize_t n = rados_list_lockers(rb->io, rb->hdr, LOCK_NAME, &excl, tag,
				       &tl, clients, &cll, cookies, &col, addrs,
				       &al);

	if (n > 0) {
		size_t c = strnlen(clients, 60), a = strnlen(addrs, 60);
		memcpy(rb->st.holder, clients, c);
		memcpy(rb->st.holder + c, " at ", 4);
		memcpy(rb->st.holder + c + 4, addrs, a);
		rb->st.holder[c + 4 + a] = 0;
	}
}

/* Is process @pid alive (a zombie is not: it holds nothing)? */
static int process_alive(int pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	int alive = 1;

	if (kill(pid, 0) && errno == ESRCH)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 1;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) && p[1] == ' ')
		alive = p[2] != 'Z' && p[2] != 'X';
	fclose(f);
	return alive;
}

/* This boot of this machine's kernel (its boot_id), or "" if unknown.
 * ZVD_RADOS_BOOT_ID stands in for it (tests: a server "on another host"). */
static void boot_id(char *out, size_t len)
{
	const char *fake = getenv("ZVD_RADOS_BOOT_ID");
	FILE *f;

	if (fake && *fake) {
		snprintf(out, len, "%s", fake);
		out[strcspn(out, " \n")] = 0;
		return;
	}
	f = fopen("/proc/sys/kernel/random/boot_id", "r");
	out[0] = 0;
	if (f) {
		if (!fgets(out, (int)len, f))
			out[0] = 0;
		fclose(f);
	}
	out[strcspn(out, " \n")] = 0;
}

/* A holder's cookie is "BOOT_ID PID RANDOM". If every holder is a process
 * of this boot of this machine that is gone, break their locks: a crashed
 * server here needs no explicit break-lock. (Processes in another PID
 * namespace of the same kernel are not told apart.) Returns 1 if it broke
 * any. */
static int break_dead_local(struct rados_backend *rb, const char *boot)
{
	char tag[64], clients[1024], cookies[1024], addrs[1024];
	size_t tl = sizeof(tag), cll = sizeof(clients), col = sizeof(cookies),
	       al = sizeof(addrs);
	const char *c, *k;
	int excl = 0, i;
	ssize_t n = rados_list_lockers(rb->io, rb->hdr, LOCK_NAME, &excl, tag,
				       &tl, clients, &cll, cookies, &col, addrs,
				       &al);

	if (n <= 0)
		return 0;
	for (k = cookies, i = 0; i < n; i++, k += strlen(k) + 1) {
		char h[64];
		int pid;
		if (!boot[0] || sscanf(k, "%63s %d", h, &pid) != 2 ||
		    strcmp(h, boot) || pid <= 0 || process_alive(pid))
			return 0;
	}
	for (c = clients, k = cookies, i = 0; i < n;
	     i++, c += strlen(c) + 1, k += strlen(k) + 1)
		rados_break_lock(rb->io, rb->hdr, LOCK_NAME, c, k);
	return 1;
}

static int take_lock(struct rados_backend *rb, int renew)
{
	struct timeval lease = { LEASE_S, 0 };
	char desc[128], host[64] = "?";

	gethostname(host, sizeof(host) - 1);
	snprintf(desc, sizeof(desc), "zvd pid %d on %s", (int)getpid(), host);
	if (rb->shared)
		return rados_lock_shared(rb->io, rb->hdr, LOCK_NAME, rb->cookie,
					 LOCK_TAG, desc, &lease,
					 renew ? LIBRADOS_LOCK_FLAG_MUST_RENEW : 0);
	return rados_lock_exclusive(rb->io, rb->hdr, LOCK_NAME, rb->cookie, desc,
				    &lease,
				    renew ? LIBRADOS_LOCK_FLAG_MUST_RENEW : 0);
}

static void die(struct rados_backend *rb, int err)
{
	pthread_mutex_lock(&rb->lock);
	if (!rb->err)
		rb->err = err;
	pthread_cond_broadcast(&rb->cv);
	pthread_mutex_unlock(&rb->lock);
}

/* Renew the lease until the image closes (after the uploader stopped).
 * A failed renewal is retried each second; the backend dies only when the
 * lease may have lapsed (another writer may have the image now). */
static void *renew_main(void *arg)
{
	struct rados_backend *rb = arg;
	long long wait = RENEW_S * 1000000000ll;
	struct timespec t;

	pthread_mutex_lock(&rb->lock);
	while (!rb->renew_stop && !rb->abandoned) {
		int err;

		deadline(&t, wait);
		while (!rb->renew_stop && !rb->abandoned &&
		       pthread_cond_timedwait(&rb->renew_cv, &rb->lock, &t) != ETIMEDOUT)
			;
		if (rb->renew_stop || rb->abandoned)
			break;
		pthread_mutex_unlock(&rb->lock);
		err = take_lock(rb, 1);
		pthread_mutex_lock(&rb->lock);
		if (err == 0) {
			clock_gettime(CLOCK_MONOTONIC, &rb->renewed);
			wait = RENEW_S * 1000000000ll;
		} else if (since_ns(&rb->renewed) >= (LEASE_S - LEASE_MARGIN_S) *
							  1000000000ll) {
			if (!rb->err)
				rb->err = -EIO;
			pthread_cond_broadcast(&rb->cv);
			break;
		} else {
			wait = 1000000000ll;
		}
	}
	pthread_mutex_unlock(&rb->lock);
	return NULL;
}

/* May the uploader write? Not once the lease may be about to lapse
 * without a renewal (lock held). */
static int lease_ok(const struct rados_backend *rb)
{
	return !rb->locked ||
	       since_ns(&rb->renewed) < (LEASE_S - LEASE_MARGIN_S) * 1000000000ll;
}

int zvd_rados_break_lock(const char *uri, char *who, size_t who_len)
{
	char pool[128], name[NAME_MAX_LEN + 1], hdr[NAME_MAX_LEN + 20];
	char tag[64], clients[512], cookies[512], addrs[512];
	size_t tl = sizeof(tag), cll = sizeof(clients), col = sizeof(cookies),
	       al = sizeof(addrs);
	rados_t cl;
	rados_ioctx_t io;
	int excl = 0, err;
	ssize_t n;

	rados_why[0] = 0;
	err = parse_uri(uri, pool, name);
	if (err)
		return err;
	err = connect_pool(&cl, &io, pool, uri);
	if (err)
		return err;
	sprintf(hdr, "%s.%016x", name, 0);
	n = rados_list_lockers(io, hdr, LOCK_NAME, &excl, tag, &tl, clients,
			       &cll, cookies, &col, addrs, &al);
	if (n <= 0) {
		err = n < 0 && n != -ENOENT ? (int)n : -ENOENT;
		goto out;
	}
	/* fence a holder that is alive after all (a hung or cut-off
	 * server) before its lock goes: its writes fail from now on */
	err = rados_blocklist_add(cl, addrs, 3600);
	if (who)
		snprintf(who, who_len, "%s at %s%s%s", clients, addrs,
			 err ? " (not fenced: blocklisting failed: " : "",
			 err ? strerror(-err) : "");
	if (who && err && strlen(who) + 2 < who_len)
		strcat(who, ")");
	err = rados_break_lock(io, hdr, LOCK_NAME, clients, cookies);
out:
	rados_ioctx_destroy(io);
	rados_shutdown(cl);
	return err;
}

/* ---- the object index of logged operations ---- */

static struct wobj **ht_slot(struct rados_backend *rb, uint64_t obj)
{
	struct wobj **s = &rb->ht[(obj * 0x9E3779B97F4A7C15ull) >> 54];

	while (*s && (*s)->obj != obj)
		s = &(*s)->hnext;
	return s;
}

static int index_add(struct rados_backend *rb, struct wop *w)
{
	struct wobj **s = ht_slot(rb, w->obj), *o = *s;

	if (!o) {
		o = calloc(1, sizeof(*o));
		if (!o)
			return -ENOMEM;
		o->obj = w->obj;
		*s = o;
	}
	if (o->last)
		o->last->onext = w;
	else
		o->first = w;
	o->last = w;
	return 0;
}

/* Drop @w, the oldest operation on its object. */
static void index_drop(struct rados_backend *rb, struct wop *w)
{
	struct wobj **s = ht_slot(rb, w->obj), *o = *s;

	o->first = w->onext;
	if (!o->first) {
		*s = o->hnext;
		free(o);
	}
}

/* Queue a logged operation (lock held). */
static int queue_op(struct rados_backend *rb, const struct wl_rec *r,
		    uint64_t pos)
{
	struct wop *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->obj = r->obj;
	w->off = r->off;
	w->len = r->len;
	w->type = r->type;
	w->pos = pos;
	w->end = pos + wl_rec_size(r);
	w->seq = r->seq;
	w->prev = r->prev;
	if (r->type != WR_FLUSH && index_add(rb, w)) {
		free(w);
		return -ENOMEM;
	}
	if (!rb->q)
		clock_gettime(CLOCK_MONOTONIC, &rb->first_t);
	if (rb->qlast)
		rb->qlast->next = w;
	else
		rb->q = w;
	rb->qlast = w;
	if (r->type == WR_FLUSH)
		rb->nflush++;
	else if (r->type == WR_WRITE)
		rb->pend_bytes += r->len;
	return 0;
}

/* ---- appending to the log ---- */

static uint64_t ring_off(const struct rados_backend *rb, uint64_t pos)
{
	return WL_START + pos % rb->wh.area;
}

/* Append one record (lock held): wait for room, send a record that
 * would straddle the ring's end to its start. */
static int append(struct rados_backend *rb, struct wl_rec *r,
		  const void *data)
{
	uint64_t need = wl_rec_size(r);
	int err;

	if (need > rb->wh.area / 4)
		return -EFBIG;
	for (;;) {
		uint64_t left = rb->wh.area - rb->wpos % rb->wh.area;
		uint64_t skip = left < need ? left : 0;

		if (rb->err)
			return rb->err;
		if (rb->wpos + skip + need <= rb->usable + rb->wh.area) {
			if (skip && left >= WL_REC) {
				struct wl_rec wrap = { .type = WR_WRAP,
						       .seq = rb->wseq,
						       .prev = rb->wprev };
				wl_encode(rb->rec, &rb->wh, &wrap, NULL);
				err = be_write(rb->lb, rb->rec, WL_REC,
					       ring_off(rb, rb->wpos));
				if (err)
					return err;
				rb->wseq++;
				rb->wprev = wrap.crc;
			}
			rb->wpos += skip;
			break;
		}
		rb->space_waiters++;
		pthread_cond_broadcast(&rb->cv);
		pthread_cond_wait(&rb->cv, &rb->lock);
		rb->space_waiters--;
	}
	r->seq = rb->wseq;
	r->prev = rb->wprev;
	wl_encode(rb->rec, &rb->wh, r, data);
	err = be_write(rb->lb, rb->rec, need, ring_off(rb, rb->wpos));
	if (err)
		return err;
	err = queue_op(rb, r, rb->wpos);
	if (err)
		return err;
	rb->wseq++;
	rb->wprev = r->crc;
	rb->wpos += need;
	if (r->type != WR_FLUSH)
		rb->dirty = 1;
	if (rb->nflush == 1 || rb->pend_bytes >= BATCH_MIN)
		pthread_cond_broadcast(&rb->cv);
	return 0;
}

/* Log a write or zero of [off, off + len), one record per object. */
static int log_range(struct rados_backend *rb, uint32_t type, const void *buf,
		     uint64_t len, uint64_t off)
{
	const uint8_t *p = buf;
	int err = 0;

	if (rb->readonly)
		return -EROFS;
	pthread_mutex_lock(&rb->lock);
	while (len && !err) {
		uint32_t in = (uint32_t)(off & (OBJ - 1));
		uint32_t n = (uint32_t)ZVD_MIN(len, (uint64_t)(OBJ - in));
		struct wl_rec r = { .type = type, .len = n,
				    .obj = off >> OBJ_SHIFT, .off = in };

		err = append(rb, &r, p);
		if (p)
			p += n;
		off += n;
		len -= n;
	}
	if (!err && type == WR_WRITE && off > rb->size)
		rb->size = off;
	pthread_mutex_unlock(&rb->lock);
	return err;
}

static int rb_write(struct zvd_backend *be, const void *buf, size_t len,
		    uint64_t off)
{
	return log_range(to_rb(be), WR_WRITE, buf, len, off);
}

static int rb_zero(struct zvd_backend *be, uint64_t off, uint64_t len)
{
	struct rados_backend *rb = to_rb(be);
	uint64_t size;

	if (rb->readonly)
		return -EROFS;
	pthread_mutex_lock(&rb->lock);
	size = rb->size;
	pthread_mutex_unlock(&rb->lock);
	if (off >= size)
		return 0; /* beyond the end already reads as zeros */
	return log_range(rb, WR_ZERO, NULL, ZVD_MIN(len, size - off), off);
}

/* Make the log durable up to @target (group commit). */
static int sync_log(struct rados_backend *rb, uint64_t target)
{
	int err = 0;

	pthread_mutex_lock(&rb->sync_lock);
	if (rb->synced < target) {
		uint64_t upto;

		pthread_mutex_lock(&rb->lock);
		upto = rb->wpos;
		pthread_mutex_unlock(&rb->lock);
		err = be_flush(rb->lb);
		if (!err)
			rb->synced = upto;
	}
	pthread_mutex_unlock(&rb->sync_lock);
	return err;
}

/* Wait until the cluster has every record before @target (lock held). */
static int wait_uploaded(struct rados_backend *rb, uint64_t target)
{
	rb->up_waiters++;
	pthread_cond_broadcast(&rb->cv);
	while (rb->uploaded < target && !rb->err)
		pthread_cond_wait(&rb->cv, &rb->lock);
	rb->up_waiters--;
	return rb->uploaded >= target ? 0 : rb->err;
}

static int rb_flush(struct zvd_backend *be)
{
	struct rados_backend *rb = to_rb(be);
	uint64_t target;
	int err = 0;

	if (rb->readonly)
		return 0;
	pthread_mutex_lock(&rb->lock);
	if (rb->dirty) {
		struct wl_rec r = { .type = WR_FLUSH };
		err = append(rb, &r, NULL);
		if (!err)
			rb->dirty = 0;
	}
	target = rb->wpos;
	if (!err)
		err = rb->err;
	pthread_mutex_unlock(&rb->lock);
	if (!err && !rb->mem_log)
		err = sync_log(rb, target);
	if (!err && (rb->mem_log || rb->durable_remote)) {
		pthread_mutex_lock(&rb->lock);
		err = wait_uploaded(rb, target);
		pthread_mutex_unlock(&rb->lock);
	}
	return err;
}

/* ---- reading ---- */

struct span {
	uint32_t off, len;
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* Do @ops (n of them) cover [off, off + len) together? */
static int covered(const struct wop *ops, size_t n, uint32_t off, uint32_t len)
{
	struct span *s = malloc(n * sizeof(*s));
	uint64_t at = off;
	size_t i;

	if (!s)
		return 0;
	for (i = 0; i < n; i++) {
		s[i].off = ops[i].off;
		s[i].len = ops[i].len;
	}
	qsort(s, n, sizeof(*s), cmp_span);
	for (i = 0; i < n && at < (uint64_t)off + len; i++) {
		if (s[i].off > at)
			break;
		at = ZVD_MAX(at, (uint64_t)s[i].off + s[i].len);
	}
	free(s);
	return at >= (uint64_t)off + len;
}

/* The cluster's bytes, through the read cache for small aligned reads. */
static int remote_read(struct rados_backend *rb, uint64_t obj, uint8_t *buf,
		       uint32_t len, uint32_t off)
{
	uint64_t at = (obj << OBJ_SHIFT) + off, gen = 0;
	int cache = len <= CACHED_READ_MAX && !(off % RC_BLOCK) &&
		    !(len % RC_BLOCK);
	char oid[NAME_MAX_LEN + 20];
	int n;

	if (cache) {
		if (rc_get(&rb->rc, buf, at, len))
			return 0;
		gen = rc_gen(&rb->rc);
	}
	obj_name(rb, obj, oid);
	n = rados_read(rb->io, oid, (char *)buf, len, off);
	if (n == -ENOENT)
		n = 0;
	if (n < 0)
		return n;
	memset(buf + n, 0, len - (uint32_t)n);
	if (cache)
		rc_put(&rb->rc, buf, at, len, gen);
	return 0;
}

/* Writers may reuse the ring up to what the cluster has and no reader
 * still reads (lock held). */
static void set_usable(struct rados_backend *rb)
{
	uint64_t u = rb->tail_done;
	unsigned i;

	for (i = 0; i < MAX_PINS; i++)
		if ((rb->pinned >> i & 1) && rb->pins[i] < u)
			u = rb->pins[i];
	if (u > rb->usable) {
		rb->usable = u;
		pthread_cond_broadcast(&rb->cv);
	}
}

/* Keep writers off the records a reader is about to read (lock held;
 * waits for a free slot). Returns the slot. */
static unsigned pin_ring(struct rados_backend *rb, const struct wop *ops,
			 size_t n)
{
	uint64_t oldest = ops[0].pos;
	unsigned i;
	size_t k;

	for (k = 1; k < n; k++)
		oldest = ZVD_MIN(oldest, ops[k].pos);
	while (rb->pinned == ~0ull)
		pthread_cond_wait(&rb->cv, &rb->lock);
	for (i = 0; rb->pinned >> i & 1; i++)
		;
	rb->pins[i] = oldest;
	rb->pinned |= 1ull << i;
	return i;
}

/* Read part of one object: the cluster's bytes (unless the logged
 * operations cover the range), then the logged operations on top, in
 * order. The ring is not reused while a reader is in it. */
static int read_piece(struct rados_backend *rb, uint64_t obj, uint8_t *buf,
		      uint32_t len, uint32_t off)
{
	struct wop *ops = NULL, *w;
	size_t n = 0, cap = 0, i;
	unsigned pin = 0;
	int err = 0;

	pthread_mutex_lock(&rb->lock);
	if (rb->lb) {
		struct wobj *o = *ht_slot(rb, obj);
		for (w = o ? o->first : NULL; w; w = w->onext) {
			if (w->off >= off + len || w->off + w->len <= off)
				continue;
			if (n == cap) {
				struct wop *p = realloc(ops, (cap ? cap * 2 : 8) *
								     sizeof(*p));
				if (!p) {
					err = -ENOMEM;
					break;
				}
				ops = p;
				cap = cap ? cap * 2 : 8;
			}
			ops[n++] = *w;
		}
		if (n)
			pin = pin_ring(rb, ops, n);
	}
	pthread_mutex_unlock(&rb->lock);
	if (!err && !(n && covered(ops, n, off, len)))
		err = remote_read(rb, obj, buf, len, off);
	for (i = 0; i < n && !err; i++) {
		uint32_t a = ZVD_MAX(ops[i].off, off);
		uint32_t b = ZVD_MIN(ops[i].off + ops[i].len, off + len);

		if (ops[i].type == WR_ZERO)
			memset(buf + (a - off), 0, b - a);
		else
			err = be_read(rb->lb, buf + (a - off), b - a,
				      ring_off(rb, ops[i].pos) + WL_REC +
					      (a - ops[i].off));
	}
	if (n) {
		pthread_mutex_lock(&rb->lock);
		rb->pinned &= ~(1ull << pin);
		set_usable(rb);
		pthread_mutex_unlock(&rb->lock);
	}
	free(ops);
	return err;
}

static int rb_read(struct zvd_backend *be, void *buf, size_t len,
		   uint64_t off)
{
	struct rados_backend *rb = to_rb(be);
	uint8_t *p = buf;
	int err = 0;

	err = __atomic_load_n(&rb->err, __ATOMIC_RELAXED);
	while (len && !err) {
		uint32_t in = (uint32_t)(off & (OBJ - 1));
		uint32_t n = (uint32_t)ZVD_MIN(len, (uint64_t)(OBJ - in));

		err = read_piece(rb, off >> OBJ_SHIFT, p, n, in);
		p += n;
		off += n;
		len -= n;
	}
	return err;
}

static int rb_size(struct zvd_backend *be, uint64_t *size)
{
	struct rados_backend *rb = to_rb(be);

	pthread_mutex_lock(&rb->lock);
	*size = rb->size;
	pthread_mutex_unlock(&rb->lock);
	return 0;
}

/* ---- uploading ---- */

/* One object's part of a batch. */
struct up_obj {
	uint64_t obj;
	uint8_t *buf;
	uint64_t bytes;	   /* write data after the last whole zero */
	uint64_t zero_seq; /* the last whole zero's sequence number */
	int whole_zero;	   /* the object is emptied first */
	int after;	   /* operations follow the last whole zero */
	rados_write_op_t op;
	rados_completion_t c;
};

static struct up_obj *find_obj(struct up_obj *u, size_t *n, uint64_t obj)
{
	size_t i;

	for (i = *n; i-- > 0;)
		if (u[i].obj == obj)
			return &u[i];
	memset(&u[*n], 0, sizeof(u[*n]));
	u[*n].obj = obj;
	return &u[(*n)++];
}

/* Build the write operation of @o from the batch's operations on it. */
static int build_op(struct rados_backend *rb, struct up_obj *o,
		    struct wop *first, struct wop *last)
{
	uint64_t at = 0, run_at = 0;
	uint32_t run_off = 0, run_len = 0;
	struct wop *w;
	int err;

	if (o->bytes && !(o->buf = malloc(o->bytes)))
		return -ENOMEM;
	o->op = rados_create_write_op();
	if (o->whole_zero) {
		/* only what follows the last whole zero matters; the first
		 * object carries the lock and attributes: emptied, kept */
		if (!o->after && o->obj) {
			rados_write_op_remove(o->op);
			return 0;
		}
		rados_write_op_truncate(o->op, 0);
	}
	/* contiguous writes (a volume appending to its segment) go as one
	 * step: their data lies back to back in o->buf */
	for (w = first;; w = w->next) {
		if (w->obj == o->obj && w->type != WR_FLUSH &&
		    (!o->whole_zero || w->seq > o->zero_seq)) {
			if (w->type == WR_ZERO || w->off != run_off + run_len) {
				if (run_len)
					rados_write_op_write(o->op,
							     (char *)o->buf + run_at,
							     run_len, run_off);
				run_len = 0;
			}
			if (w->type == WR_ZERO) {
				rados_write_op_zero(o->op, w->off, w->len);
			} else {
				err = be_read(rb->lb, o->buf + at, w->len,
					      ring_off(rb, w->pos) + WL_REC);
				if (err)
					return err;
				if (!run_len) {
					run_off = w->off;
					run_at = at;
				}
				run_len += w->len;
				at += w->len;
			}
		}
		if (w == last)
			break;
	}
	if (run_len)
		rados_write_op_write(o->op, (char *)o->buf + run_at, run_len,
				     run_off);
	return 0;
}

/* Upload the operations from @first up to and including @last: one
 * write operation per object, all at once, and wait for them. */
static int upload(struct rados_backend *rb, struct wop *first, struct wop *last,
		  size_t nops)
{
	struct up_obj *u = calloc(nops, sizeof(*u));
	uint64_t max_end = 0;
	size_t n = 0, i;
	struct wop *w;
	int err = 0;

	if (!u)
		return -ENOMEM;
	for (w = first;; w = w->next) {
		if (w->type != WR_FLUSH) {
			struct up_obj *o = find_obj(u, &n, w->obj);
			if (w->type == WR_ZERO && w->off == 0 && w->len == OBJ) {
				o->whole_zero = 1;
				o->zero_seq = w->seq;
				o->bytes = 0;
				o->after = 0;
			} else {
				o->after = 1;
			}
			if (w->type == WR_WRITE) {
				o->bytes += w->len;
				max_end = ZVD_MAX(max_end, (w->obj << OBJ_SHIFT) +
								   w->off + w->len);
			}
		}
		if (w == last)
			break;
	}
	/* no object may lie beyond zvd.size: raise it first */
	if (max_end > rb->remote_size) {
		uint64_t grow = (max_end + SIZE_STEP - 1) / SIZE_STEP * SIZE_STEP;
		err = set_xattr_u64(rb, "zvd.size", grow);
		if (!err)
			rb->remote_size = grow;
	}
	for (i = 0; i < n && !err; i++) {
		struct up_obj *o = &u[i];
		char oid[NAME_MAX_LEN + 20];

		err = build_op(rb, o, first, last);
		if (!err)
			err = rados_aio_create_completion2(NULL, NULL, &o->c);
		if (err)
			break;
		obj_name(rb, o->obj, oid);
		err = rados_aio_write_op_operate(o->op, rb->io, o->c, oid, NULL,
						 0);
		if (err) {
			/* never submitted: nothing to wait for */
			rados_aio_release(o->c);
			o->c = NULL;
			break;
		}
		pthread_mutex_lock(&rb->lock);
		rb->st.object_ops++;
		pthread_mutex_unlock(&rb->lock);
	}
	for (i = 0; i < n; i++) {
		struct up_obj *o = &u[i];
		if (o->c) {
			int r;
			rados_aio_wait_for_complete(o->c);
			r = rados_aio_get_return_value(o->c);
			/* removing an object that is not there is fine */
			if (r < 0 &&
			    !(r == -ENOENT && o->whole_zero && !o->after && o->obj) &&
			    !err)
				err = r;
			rados_aio_release(o->c);
		}
		if (o->op)
			rados_release_write_op(o->op);
		free(o->buf);
	}
	free(u);
	return err;
}

static int batch_ready(struct rados_backend *rb)
{
	struct timespec now;

	if (!rb->q)
		return 0;
	if (rb->nflush || rb->pend_bytes >= BATCH_MIN || rb->up_waiters ||
	    rb->space_waiters || rb->stop)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - rb->first_t.tv_sec) * 1000000000ll +
		       (now.tv_nsec - rb->first_t.tv_nsec) >= BATCH_AGE_NS;
}

/* Record in the log's header that the cluster has everything before
 * @tail (uploader only), so that the ring below it can be reused. */
static int save_tail(struct rados_backend *rb, uint64_t tail, uint64_t seq,
		     uint32_t prev)
{
	int err = 0;

	if (!rb->mem_log) {
		struct wl_head h = rb->wh;
		h.tail = tail;
		h.tail_seq = seq;
		h.tail_prev = prev;
		pthread_mutex_lock(&rb->sync_lock);
		err = wl_write_head(rb->lb, &h);
		if (!err)
			err = be_flush(rb->lb);
		pthread_mutex_unlock(&rb->sync_lock);
		if (err)
			return err;
		rb->wh.gen = h.gen;
		rb->last_save = time(NULL);
		rb->wh.tail = tail;
		rb->wh.tail_seq = seq;
		rb->wh.tail_prev = prev;
	}
	pthread_mutex_lock(&rb->lock);
	rb->tail_done = tail;
	set_usable(rb);
	pthread_cond_broadcast(&rb->cv);
	pthread_mutex_unlock(&rb->lock);
	return 0;
}

static void *upload_main(void *arg)
{
	struct rados_backend *rb = arg;
	unsigned failures = 0;

	pthread_mutex_lock(&rb->lock);
	for (;;) {
		struct wop *first, *last, *after, *w;
		uint64_t bytes = 0, tail, tail_seq;
		uint32_t tail_prev;
		size_t nops = 0;
		int err, ends_flush, save;

		while ((!batch_ready(rb) || !lease_ok(rb)) && !rb->abandoned &&
		       !rb->err && !(rb->stop && !rb->q)) {
			struct timespec t;
			deadline(&t, BATCH_AGE_NS);
			pthread_cond_timedwait(&rb->cv, &rb->lock, &t);
		}
		if (rb->abandoned || rb->err || !rb->q)
			break;
		first = rb->q;
		for (w = first;; w = w->next) {
			nops++;
			bytes += w->type == WR_WRITE ? w->len : 0;
			if (w->type == WR_FLUSH || !w->next || bytes >= BATCH_MAX)
				break;
		}
		last = w;
		ends_flush = last->type == WR_FLUSH;
		pthread_mutex_unlock(&rb->lock);

		err = upload(rb, first, last, nops);

		pthread_mutex_lock(&rb->lock);
		if (rb->abandoned)
			break; /* "dead": nothing more reaches the log */
		if (err) {
			struct timespec t;
			rb->up_error = 1;
			/* a closing image gives up after a few tries; its
			 * log keeps the writes for the next open */
			if (rb->stop && ++failures >= 3) {
				rb->err = err;
				pthread_cond_broadcast(&rb->cv);
				break;
			}
			/* a second before the next try, whatever wakes us */
			deadline(&t, 1000000000ll);
			while (!rb->abandoned && !rb->err &&
			       pthread_cond_timedwait(&rb->cv, &rb->lock, &t) !=
				       ETIMEDOUT)
				;
			continue;
		}
		failures = 0;
		rb->up_error = 0;
		/* the cluster's bytes changed: out of the read cache before
		 * the operations leave the index */
		for (w = first;; w = w->next) {
			if (w->type != WR_FLUSH)
				rc_invalidate(&rb->rc, (w->obj << OBJ_SHIFT) + w->off,
					      w->len);
			if (w == last)
				break;
		}
		after = last->next;
		while (rb->q != after) {
			w = rb->q;
			rb->q = w->next;
			if (w->type == WR_FLUSH)
				rb->nflush--;
			else
				index_drop(rb, w);
			if (w->type == WR_WRITE)
				rb->pend_bytes -= w->len;
			rb->uploaded = w->end;
			free(w);
		}
		if (!rb->q) {
			rb->qlast = NULL;
			rb->uploaded = rb->wpos;
		} else {
			clock_gettime(CLOCK_MONOTONIC, &rb->first_t);
		}
		rb->st.batches++;
		rb->st.uploaded_bytes += bytes;
		if (ends_flush)
			rb->st.flushes_uploaded++;
		tail = rb->q ? rb->q->pos : rb->wpos;
		tail_seq = rb->q ? rb->q->seq : rb->wseq;
		tail_prev = rb->q ? rb->q->prev : rb->wprev;
		/* after a whole flush interval, before the next one starts:
		 * a replay must never send the cluster records it already
		 * has from before a flush it completed (it would roll later
		 * ones back) */
		save = ends_flush || rb->mem_log || rb->space_waiters ||
		       tail - rb->tail_done > rb->wh.area / 4 ||
		       time(NULL) != rb->last_save;
		pthread_cond_broadcast(&rb->cv);
		pthread_mutex_unlock(&rb->lock);

		if (save && save_tail(rb, tail, tail_seq, tail_prev))
			die(rb, -EIO);
		if (ends_flush && time(NULL) != rb->last_stamp)
			stamp_progress(rb);
		pthread_mutex_lock(&rb->lock);
	}
	pthread_mutex_unlock(&rb->lock);
	return NULL;
}

/* ---- the local log at open ---- */

/* Index the records a log holds from its tail on. */
static int replay(struct rados_backend *rb)
{
	uint64_t pos = rb->wh.tail, seq = rb->wh.tail_seq, area = rb->wh.area;
	uint32_t prev = rb->wh.tail_prev;
	uint8_t *buf = malloc(WL_REC + OBJ + 8);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		uint64_t left = area - pos % area, size;
		struct wl_rec r;

		if (left < WL_REC) {
			pos += left;
			continue;
		}
		err = be_read(rb->lb, buf, WL_REC, WL_START + pos % area);
		if (err || wl_decode(buf, &rb->wh, seq, prev, &r))
			break;
		size = wl_rec_size(&r);
		if (size > left)
			break;
		if (size > WL_REC) {
			err = be_read(rb->lb, buf + WL_REC, size - WL_REC,
				      WL_START + pos % area + WL_REC);
			if (err)
				break;
		}
		if (!wl_check(buf, &r))
			break;
		if (r.type == WR_WRAP) {
			pos += left;
			seq++;
			prev = r.crc;
			continue;
		}
		err = queue_op(rb, &r, pos);
		if (err)
			break;
		if (r.type == WR_WRITE) {
			rb->st.replayed_bytes += r.len;
			rb->size = ZVD_MAX(rb->size,
					   (r.obj << OBJ_SHIFT) + r.off + r.len);
		}
		rb->dirty = r.type != WR_FLUSH;
		seq++;
		prev = r.crc;
		pos += size;
	}
	free(buf);
	rb->wpos = pos;
	rb->wseq = seq;
	rb->wprev = prev;
	rb->uploaded = rb->tail_done = rb->usable = rb->synced = rb->wh.tail;
	return err;
}

static void hex_id(const uint8_t *id, char *out)
{
	int i;

	for (i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", id[i]);
}

/* Set up the write-back log: a fresh one, or replay one this image's
 * last writer left. Then mark the image as having a log whose writes the
 * cluster may lack. */
static int open_log(struct rados_backend *rb, const struct zvd_rados_options *o,
		    const char *uri)
{
	char marker[40] = "", image[WL_IMAGE_MAX + 128];
	int n, err, fresh = 1, head = -ENODATA;

	snprintf(image, sizeof(image), "%s/%s", rb->pool, rb->name);
	n = rados_getxattr(rb->io, rb->hdr, "zvd.log", marker,
			   sizeof(marker) - 1);
	marker[n > 0 ? n : 0] = 0;
	if (!rb->mem_log)
		head = wl_read_head(rb->lb, &rb->wh);
	if (head && head != -ENODATA) {
		/* never start afresh over a log that could not be read */
		say("%s: cannot read the cache %s: %s", uri,
		    o->cache ? o->cache : "", strerror(-head));
		return head;
	}
	if (head == 0) {
		char id[33];

		hex_id(rb->wh.id, id);
		if (strncmp(rb->wh.image, image, WL_IMAGE_MAX)) {
			say("%s: the cache %s is the log of another image "
				 "(%s)", uri, o->cache ? o->cache : "",
				 rb->wh.image);
			return -EINVAL;
		}
		err = replay(rb);
		if (err)
			return err;
		if (rb->q && strcmp(marker, id)) {
			say("%s: the cache %s holds writes from an earlier "
				 "session that never reached the cluster, but the "
				 "image was opened without it since; move the "
				 "cache away to use the image as the cluster has "
				 "it", uri, o->cache ? o->cache : "");
			return -ESTALE;
		}
		fresh = !strcmp(marker, id) ? 0 : 1;
		if (!fresh)
			strcpy(rb->st.log_id, id);
	}
	if (marker[0] && fresh)
		rb->st.lost_log = 1;
	if (fresh) {
		uint64_t a = zvd_random64(), b = zvd_random64();

		memset(&rb->wh, 0, sizeof(rb->wh));
		memcpy(rb->wh.id, &a, 8);
		memcpy(rb->wh.id + 8, &b, 8);
		memcpy(rb->wh.image, image, WL_IMAGE_MAX - 1);
		rb->wh.area = o->cache_size ? o->cache_size
					    : rb->mem_log ? 256ull << 20
							  : 1ull << 30;
		if (rb->wh.area < (8u << 20))
			rb->wh.area = 8u << 20;
		rb->wpos = rb->wseq = rb->uploaded = rb->tail_done = 0;
		rb->usable = rb->synced = 0;
		rb->wprev = 0; /* the header's tail_prev */
		hex_id(rb->wh.id, rb->st.log_id);
		if (!rb->mem_log) {
			err = wl_write_head(rb->lb, &rb->wh);
			if (!err)
				err = wl_write_head(rb->lb, &rb->wh);
			if (!err)
				err = be_flush(rb->lb);
			if (err)
				return err;
		}
	}
	if (rb->mem_log) {
		rb->st.log_id[0] = 0;
		n = marker[0] ? rados_rmxattr(rb->io, rb->hdr, "zvd.log") : 0;
	} else {
		n = rados_setxattr(rb->io, rb->hdr, "zvd.log", rb->st.log_id,
				   strlen(rb->st.log_id));
	}
	return n < 0 && n != -ENODATA ? n : 0;
}

/* Writes the crashed writer made after its last flush end where this
 * one's begin: close them off as a flush of their own. Called once the
 * uploader runs (a full ring only it can free). */
static int close_replayed(struct rados_backend *rb)
{
	struct wl_rec r = { .type = WR_FLUSH };
	int err = 0;

	if (!rb->dirty)
		return 0;
	pthread_mutex_lock(&rb->lock);
	err = append(rb, &r, NULL);
	if (!err)
		rb->dirty = 0;
	pthread_mutex_unlock(&rb->lock);
	return err ? err : sync_log(rb, rb->wpos);
}

/* ---- open and close ---- */

/* Stop the uploader (it drains the log first unless abandoned), then the
 * renew thread: the lease must hold while anything may still be written. */
static void stop_threads(struct rados_backend *rb)
{
	pthread_mutex_lock(&rb->lock);
	rb->stop = 1;
	pthread_cond_broadcast(&rb->cv);
	pthread_mutex_unlock(&rb->lock);
	if (rb->up_run)
		pthread_join(rb->up, NULL);
	pthread_mutex_lock(&rb->lock);
	rb->renew_stop = 1;
	pthread_cond_broadcast(&rb->renew_cv);
	pthread_mutex_unlock(&rb->lock);
	if (rb->renew_run)
		pthread_join(rb->renew, NULL);
	rb->up_run = rb->renew_run = 0;
}

static void rb_destroy(struct zvd_backend *be)
{
	struct rados_backend *rb = to_rb(be);
	struct wop *w;

	stop_threads(rb);
	if (!rb->readonly && !rb->abandoned && !rb->err && !rb->q &&
	    (rb->mem_log || !save_tail(rb, rb->wpos, rb->wseq, rb->wprev))) {
		/* everything is in the cluster: the log holds nothing */
		stamp_progress(rb);
		rados_rmxattr(rb->io, rb->hdr, "zvd.log");
	}
	if (rb->locked && !rb->abandoned)
		rados_unlock(rb->io, rb->hdr, LOCK_NAME, rb->cookie);
	while ((w = rb->q)) {
		rb->q = w->next;
		if (w->type != WR_FLUSH)
			index_drop(rb, w);
		free(w);
	}
	if (rb->own_lb)
		zvd_backend_close(rb->lb);
	rados_ioctx_destroy(rb->io);
	rados_shutdown(rb->cl);
	pthread_mutex_destroy(&rb->lock);
	pthread_mutex_destroy(&rb->sync_lock);
	pthread_cond_destroy(&rb->cv);
	pthread_cond_destroy(&rb->renew_cv);
	rc_free(&rb->rc);
	free(rb->rec);
	free(rb);
}

static int rb_truncate(struct zvd_backend *be, uint64_t size)
{
	struct rados_backend *rb = to_rb(be);
	uint64_t obj, end;
	char oid[NAME_MAX_LEN + 20];
	int err;

	if (rb->readonly)
		return -EROFS;
	pthread_mutex_lock(&rb->lock);
	err = wait_uploaded(rb, rb->wpos);
	end = ZVD_MAX(rb->remote_size, rb->size);
	pthread_mutex_unlock(&rb->lock);
	if (err)
		return err;
	for (obj = (size + OBJ - 1) >> OBJ_SHIFT; obj < (end + OBJ - 1) >> OBJ_SHIFT;
	     obj++) {
		obj_name(rb, obj, oid);
		err = rados_remove(rb->io, oid);
		pthread_mutex_lock(&rb->lock);
		rb->st.object_ops++;
		pthread_mutex_unlock(&rb->lock);
		if (err && err != -ENOENT)
			return err;
	}
	if (size & (OBJ - 1)) {
		obj_name(rb, size >> OBJ_SHIFT, oid);
		err = rados_trunc(rb->io, oid, size & (OBJ - 1));
		if (err && err != -ENOENT)
			return err;
	}
	/* after the objects changed: a reader that read before caches
	 * nothing (its generation is stale) */
	if (end > size)
		rc_invalidate(&rb->rc, size, end - size);
	err = set_xattr_u64(rb, "zvd.size", size);
	if (err)
		return err;
	pthread_mutex_lock(&rb->lock);
	rb->size = rb->remote_size = size;
	pthread_mutex_unlock(&rb->lock);
	return 0;
}

static const struct zvd_backend_ops rados_ops = {
	.name = "rados",
	.read = rb_read,
	.write = rb_write,
	.flush = rb_flush,
	.zero = rb_zero,
	.size = rb_size,
	.truncate = rb_truncate,
	.destroy = rb_destroy,
};

/* Create the image's first object, empty, with its attributes. */
static int create_header(struct rados_backend *rb, const char *uri)
{
	rados_write_op_t op = rados_create_write_op();
	int err;

	rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
	rados_write_op_setxattr(op, "zvd.size", "0", 1);
	err = rados_write_op_operate(op, rb->io, rb->hdr, NULL, 0);
	rados_release_write_op(op);
	if (err == -EEXIST)
		say("%s: the image already exists (zvd create never "
			 "overwrites one)", uri);
	return err;
}

static int open_remote(struct rados_backend *rb, unsigned flags,
		       const char *uri)
{
	uint64_t size = 0;
	int err;

	if (flags & ZVD_FILE_CREATE) {
		err = create_header(rb, uri);
		if (err)
			return err;
	}
	err = get_xattr_u64(rb, "zvd.size", &size);
	if (err == -ENOENT || err == -ENODATA) {
		say("%s: no such image", uri);
		return -ENOENT;
	}
	if (err < 0)
		return err;
	rb->size = rb->remote_size = size;
	if (!(flags & BE_FILE_NOLOCK)) {
		char boot[40];
		boot_id(boot, sizeof(boot));
		snprintf(rb->cookie, sizeof(rb->cookie), "%s %d %08x",
			 boot[0] ? boot : "-", (int)getpid(),
			 (unsigned)zvd_random64());
		rb->shared = rb->readonly;
		err = take_lock(rb, 0);
		if ((err == -EBUSY || err == -EEXIST) && break_dead_local(rb, boot))
			err = take_lock(rb, 0);
		if (err == -EBUSY || err == -EEXIST) {
			describe_holder(rb);
			say("%s: the image is in use (locked by %s); if that "
				 "server is dead, 'zvd break-lock %s' frees it",
				 uri, rb->st.holder[0] ? rb->st.holder : "another client",
				 uri);
			return -EBUSY;
		}
		if (err < 0)
			return err;
		rb->locked = 1;
		clock_gettime(CLOCK_MONOTONIC, &rb->renewed);
	}
	read_progress(rb);
	{
		char m[40];
		rb->st.dirty = rados_getxattr(rb->io, rb->hdr, "zvd.log", m,
					      sizeof(m)) > 0;
	}
	return 0;
}

int zvd_backend_rados_open(const char *uri, unsigned flags,
			   const struct zvd_rados_options *o,
			   struct zvd_backend **out)
{
	static const struct zvd_rados_options none;
	struct rados_backend *rb;
	int err;

	rados_why[0] = 0;
	if (!uri || !out ||
	    (flags & ~(ZVD_FILE_CREATE | ZVD_FILE_READONLY | BE_FILE_NOLOCK)) ||
	    ((flags & ZVD_FILE_CREATE) && (flags & ZVD_FILE_READONLY)))
		return -EINVAL;
	if (!o)
		o = &none;
	rb = calloc(1, sizeof(*rb));
	if (!rb)
		return -ENOMEM;
	be_init(&rb->be, &rados_ops);
	pthread_mutex_init(&rb->lock, NULL);
	pthread_mutex_init(&rb->sync_lock, NULL);
	cond_init_mono(&rb->cv);
	cond_init_mono(&rb->renew_cv);
	rb->readonly = !!(flags & ZVD_FILE_READONLY);
	err = rc_init(&rb->rc, o->read_cache ? o->read_cache : READ_CACHE);
	if (err)
		goto fail_early;
	err = parse_uri(uri, rb->pool, rb->name);
	if (err)
		goto fail_early;
	sprintf(rb->hdr, "%s.%016x", rb->name, 0);
	err = connect_pool(&rb->cl, &rb->io, rb->pool, uri);
	if (err)
		goto fail_early;
	rb->be.path = strdup(uri);
	rb->rec = malloc(WL_REC + OBJ + 8);
	if (!rb->be.path || !rb->rec) {
		err = -ENOMEM;
		goto fail;
	}
	err = open_remote(rb, flags, uri);
	if (err)
		goto fail;
	if (!rb->readonly) {
		rb->durable_remote = o->durable_remote;
		if (o->cache_be) {
			rb->lb = o->cache_be;
		} else if (o->cache) {
			err = zvd_backend_file_open(o->cache, 0, &rb->lb);
			if (err == -ENOENT) {
				err = zvd_backend_file_open(o->cache,
							    ZVD_FILE_CREATE,
							    &rb->lb);
				/* it holds the data in the clear */
				if (!err)
					chmod(o->cache, 0600);
			}
			if (err) {
				say("cannot open the cache %s: %s", o->cache,
				    strerror(-err));
				goto fail;
			}
			rb->own_lb = 1;
		} else {
			err = zvd_backend_mem_create(&rb->lb);
			if (err)
				goto fail;
			rb->own_lb = 1;
			rb->mem_log = 1;
		}
		err = open_log(rb, o, uri);
		if (err)
			goto fail;
		if (pthread_create(&rb->up, NULL, upload_main, rb)) {
			err = -EAGAIN;
			goto fail;
		}
		rb->up_run = 1;
		err = close_replayed(rb);
		if (err)
			goto fail;
	}
	if (rb->locked) {
		if (pthread_create(&rb->renew, NULL, renew_main, rb)) {
			err = -EAGAIN;
			goto fail;
		}
		rb->renew_run = 1;
	}
	*out = &rb->be;
	return 0;
fail:
	/* nothing was written: leave the image as it was */
	rb->abandoned = 1;
	stop_threads(rb);
	if (rb->locked)
		rados_unlock(rb->io, rb->hdr, LOCK_NAME, rb->cookie);
	rb->locked = 0;
	if (rb->own_lb)
		zvd_backend_close(rb->lb);
	rb->own_lb = 0;
	{
		struct wop *w;
		while ((w = rb->q)) {
			rb->q = w->next;
			if (w->type != WR_FLUSH)
				index_drop(rb, w);
			free(w);
		}
	}
	rados_ioctx_destroy(rb->io);
	rados_shutdown(rb->cl);
fail_early:
	if (!rados_why[0])
		say("%s: %s", uri, strerror(-err));
	free(rb->be.path);
	free(rb->rec);
	pthread_mutex_destroy(&rb->lock);
	pthread_mutex_destroy(&rb->sync_lock);
	pthread_cond_destroy(&rb->cv);
	pthread_cond_destroy(&rb->renew_cv);
	pthread_mutex_destroy(&rb->be.fault_lock);
	rc_free(&rb->rc);
	free(rb);
	return err;
}

int zvd_backend_open(const char *path, unsigned flags,
		     struct zvd_backend **out)
{
	if (zvd_is_rados(path))
		return zvd_backend_rados_open(
			path, flags,
			flags & ZVD_FILE_READONLY ? NULL : rados_defaults, out);
	return zvd_backend_file_open(path, flags, out);
}

int zvd_rados_status(struct zvd_backend *be, struct zvd_rados_status *st)
{
	struct rados_backend *rb;

	if (!be || be->ops != &rados_ops)
		return -EINVAL;
	rb = to_rb(be);
	pthread_mutex_lock(&rb->lock);
	*st = rb->st;
	st->pending_bytes = rb->pend_bytes;
	st->upload_error = rb->up_error;
	pthread_mutex_lock(&rb->rc.lock);
	st->cache_hits = rb->rc.hits;
	st->cache_misses = rb->rc.misses;
	pthread_mutex_unlock(&rb->rc.lock);
	pthread_mutex_unlock(&rb->lock);
	return 0;
}

int zvd_rados_abandon(struct zvd_backend *be)
{
	struct rados_backend *rb;

	if (!be || be->ops != &rados_ops)
		return -EINVAL;
	rb = to_rb(be);
	pthread_mutex_lock(&rb->lock);
	rb->abandoned = 1;
	if (!rb->err)
		rb->err = -EIO;
	pthread_cond_broadcast(&rb->cv);
	pthread_cond_broadcast(&rb->renew_cv);
	pthread_mutex_unlock(&rb->lock);
	stop_threads(rb);
	if (rb->locked)
		rados_unlock(rb->io, rb->hdr, LOCK_NAME, rb->cookie);
	rb->locked = 0;
	return 0;
}

/* 1 if the image's first object exists, 0 if not, or -errno. */
int rados_exists(const char *uri)
{
	char pool[128], name[NAME_MAX_LEN + 1], hdr[NAME_MAX_LEN + 20];
	rados_t cl;
	rados_ioctx_t io;
	uint64_t size;
	time_t mtime;
	int err = parse_uri(uri, pool, name);

	if (!err)
		err = connect_pool(&cl, &io, pool, uri);
	if (err)
		return err;
	sprintf(hdr, "%s.%016x", name, 0);
	err = rados_stat(io, hdr, &size, &mtime);
	rados_ioctx_destroy(io);
	rados_shutdown(cl);
	return err == 0 ? 1 : err == -ENOENT ? 0 : err;
}

/* Remove every object of the image, its first one last. Refuses an
 * image someone holds the lock of. */
int rados_remove_image(const char *uri)
{
	struct rados_backend *rb;
	struct zvd_backend *be;
	uint64_t obj, end;
	char oid[NAME_MAX_LEN + 20];
	int err = zvd_backend_rados_open(uri, ZVD_FILE_READONLY | BE_FILE_NOLOCK,
					 NULL, &be);

	if (err)
		return err;
	rb = to_rb(be);
	/* exclusive: nobody may be using it */
	sprintf(rb->cookie, "remove %08x", (unsigned)zvd_random64());
	err = take_lock(rb, 0);
	if (err) {
		zvd_backend_close(be);
		return err == -EEXIST ? -EBUSY : err;
	}
	rb->locked = 1;
	end = (rb->remote_size + OBJ - 1) >> OBJ_SHIFT;
	for (obj = end; obj-- > 1;) {
		obj_name(rb, obj, oid);
		err = rados_remove(rb->io, oid);
		if (err && err != -ENOENT)
			break;
		err = 0;
	}
	if (!err) {
		rados_unlock(rb->io, rb->hdr, LOCK_NAME, rb->cookie);
		rb->locked = 0;
		err = rados_remove(rb->io, rb->hdr);
	}
	zvd_backend_close(be);
	return err;
}

/* ---- views ---- */

/* A read-only backend reading through a writer's: what it logged and
 * what the cluster has. The writer must outlive it (a snapshot view of
 * an open image, zvd_open_snapshot_of). */
struct rados_view {
	struct zvd_backend be;
	struct zvd_backend *writer;
};

static int view_read(struct zvd_backend *be, void *buf, size_t len,
		     uint64_t off)
{
	return rb_read(((struct rados_view *)be)->writer, buf, len, off);
}

static int view_write(struct zvd_backend *be, const void *buf, size_t len,
		      uint64_t off)
{
	return -EROFS;
}

static int view_flush(struct zvd_backend *be)
{
	return 0;
}

static int view_zero(struct zvd_backend *be, uint64_t off, uint64_t len)
{
	return -EROFS;
}

static int view_size(struct zvd_backend *be, uint64_t *size)
{
	return rb_size(((struct rados_view *)be)->writer, size);
}

static void view_destroy(struct zvd_backend *be)
{
	free(be);
}

static const struct zvd_backend_ops view_ops = {
	.name = "rados-view",
	.read = view_read,
	.write = view_write,
	.flush = view_flush,
	.zero = view_zero,
	.size = view_size,
	.destroy = view_destroy,
};

int rados_open_view(struct zvd_backend *writer, struct zvd_backend **out)
{
	struct rados_view *v;

	if (writer->ops != &rados_ops)
		return -EINVAL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	be_init(&v->be, &view_ops);
	v->writer = writer;
	v->be.path = strdup(writer->path);
	if (!v->be.path) {
		free(v);
		return -ENOMEM;
	}
	*out = &v->be;
	return 0;
}

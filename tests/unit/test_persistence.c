// SPDX-License-Identifier: MIT
/*
 * test_persistence.c - what survives zvd_close and zvd_open: the full zone
 * report and every byte of data, on the mem backend (kept across handles
 * by wrapping it in a crash backend, which does not own it) and on a file
 * backend in a temporary directory. Also: zvd_check on clean images, a
 * reset giving space back, thin provisioning, a journal long enough to
 * span chunks and be checkpointed, read-only opens, images that are not
 * images, and the file lock.
 *
 * Sections:
 *   1. storage: a mem or file place an image lives in, reopened at will
 *   2. the model: expected bytes and offline zones, a random workload
 *   3. cases
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "zvd.h"

static char msg[512];

#define FAILF(...)                                               \
	do {                                                     \
		snprintf(msg, sizeof(msg), __VA_ARGS__);         \
		return -1;                                       \
	} while (0)

#define EXPECT(c)                                                          \
	do {                                                               \
		if (!(c))                                                  \
			FAILF("%s:%d: %s", __FILE__, __LINE__, #c);        \
	} while (0)

#define CHECK_R(expr)                                     \
	do {                                              \
		int cr_ = (expr);                         \
		if (cr_)                                  \
			printf("#   %s\n", msg);          \
		CHECK(cr_ == 0 && #expr);                 \
	} while (0)

/* ---- 1. storage -------------------------------------------------------- */

enum { ST_MEM, ST_FILE };

struct store {
	int kind;
	struct zvd_backend *mem; /* ST_MEM: the backend that holds the bytes */
	char dir[64];
	char path[128];
	uint64_t seed;
};

static int store_init(struct store *s, int kind)
{
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	if (kind == ST_MEM)
		return zvd_backend_mem_create(&s->mem) ? -1 : 0;
	snprintf(s->dir, sizeof(s->dir), "/tmp/zvd-persist-XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	snprintf(s->path, sizeof(s->path), "%s/img", s->dir);
	return 0;
}

static void store_fini(struct store *s)
{
	if (s->kind == ST_MEM) {
		zvd_backend_close(s->mem);
		return;
	}
	unlink(s->path);
	rmdir(s->dir);
}

/* A backend over the store, for one device handle to own. */
static int store_backend(struct store *s, int create, struct zvd_backend **be)
{
	if (s->kind == ST_MEM)
		return zvd_backend_crash_create(s->mem, ++s->seed, be);
	return zvd_backend_file_open(s->path, create ? ZVD_FILE_CREATE : 0, be);
}

static int store_create(struct store *s, const struct zvd_geometry *g,
			struct zvd_dev **dev)
{
	struct zvd_backend *be;
	int ret;

	ret = store_backend(s, 1, &be);
	if (ret)
		return ret;
	ret = zvd_create(be, g, dev);
	if (ret)
		zvd_backend_close(be);
	return ret;
}

static int store_open(struct store *s, unsigned flags, struct zvd_dev **dev)
{
	struct zvd_backend *be;
	int ret;

	ret = store_backend(s, 0, &be);
	if (ret)
		return ret;
	ret = zvd_open(be, flags, dev);
	if (ret)
		zvd_backend_close(be);
	return ret;
}

static void count_problem(void *arg, const char *problem)
{
	printf("#   check: %s\n", problem);
	(*(int *)arg)++;
}

/* zvd_check over the store (no device open on it); the problem count. */
static int store_check(struct store *s)
{
	struct zvd_backend *be;
	int n = 0, ret;

	if (s->kind == ST_MEM)
		return zvd_check(s->mem, count_problem, &n);
	ret = zvd_backend_file_open(s->path, ZVD_FILE_READONLY, &be);
	if (ret)
		return ret;
	ret = zvd_check(be, count_problem, &n);
	zvd_backend_close(be);
	if (ret >= 0 && ret != n)
		return -ERANGE;
	return ret;
}

static void geo(struct zvd_geometry *g, uint32_t bs, uint64_t zs,
		uint64_t cap, uint32_t nz, uint32_t nconv, uint32_t mo,
		uint32_t ma, uint32_t mapp)
{
	memset(g, 0, sizeof(*g));
	g->block_size = bs;
	g->zone_size = zs;
	g->zone_capacity = cap;
	g->size = zs * nz;
	g->nr_conv_zones = nconv;
	g->max_open = mo;
	g->max_active = ma;
	g->max_append = mapp;
}

/* ---- 2. the model ------------------------------------------------------ */

struct model {
	struct zvd_geometry g;
	uint32_t nz;
	uint8_t *data;	  /* expected bytes of the device */
	uint8_t *offline; /* per zone */
	uint64_t rng;
	uint32_t fails;	  /* zones failed so far */
	uint64_t ops;	  /* successful changes */
};

static int model_init(struct model *m, const struct zvd_geometry *g)
{
	memset(m, 0, sizeof(*m));
	m->g = *g;
	m->nz = (uint32_t)(g->size / g->zone_size);
	m->data = calloc(1, g->size);
	m->offline = calloc(1, m->nz);
	m->rng = 0x1234567;
	return m->data && m->offline ? 0 : -1;
}

static void model_free(struct model *m)
{
	free(m->data);
	free(m->offline);
}

static uint64_t rnd(struct model *m)
{
	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	return m->rng;
}

static void pat(uint8_t *b, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t v = (i + 1) * 0x9E3779B97F4A7C15ull ^
			     (seed * 0xC2B2AE3D27D4EB4Full);
		b[i] = (uint8_t)((v >> 56) | 1);
	}
}

static int zinfo(struct zvd_dev *dev, uint32_t zi, struct zvd_zone *z)
{
	return zvd_report(dev, zi, ZVD_REPORT_ALL, z, 1) == 1 ? 0 : -1;
}

/* Errnos a random request may meet without anything being wrong. */
static int expected_refusal(int ret)
{
	return ret == -EIO || ret == -ETOOMANYREFS || ret == -EOVERFLOW;
}

/* A write or an append at the write pointer of sequential zone @zi. */
static int seq_data(struct zvd_dev *dev, struct model *m, uint32_t zi,
		    int append, uint64_t r)
{
	struct zvd_zone z;
	uint32_t bs = m->g.block_size;
	uint64_t room, len, where = UINT64_MAX;
	uint8_t *b;
	int ret;

	EXPECT(zinfo(dev, zi, &z) == 0);
	if (z.cond == ZVD_COND_FULL || z.cond == ZVD_COND_READ_ONLY ||
	    z.cond == ZVD_COND_OFFLINE)
		return 0;
	room = z.start + z.capacity - z.wp;
	len = (uint64_t)bs * (1 + (r >> 20) % 6);
	if (append && m->g.max_append && len > m->g.max_append)
		len = m->g.max_append;
	if (len > room)
		len = room;
	b = malloc(len);
	EXPECT(b);
	pat(b, len, r);
	if (append)
		ret = zvd_append(dev, zi, b, len, (r >> 40) & 1 ? ZVD_WRITE_FUA : 0,
				 &where);
	else
		ret = zvd_write(dev, b, len, z.wp,
				(r >> 40) & 1 ? ZVD_WRITE_FUA : 0);
	if (ret >= 0) {
		if (append && where != z.wp) {
			free(b);
			FAILF("append to zone %u landed at %llu, wp was %llu",
			      zi, (unsigned long long)where,
			      (unsigned long long)z.wp);
		}
		memcpy(m->data + z.wp, b, len);
		m->ops++;
	}
	free(b);
	if (ret < 0 && ret != -ETOOMANYREFS && ret != -EOVERFLOW)
		FAILF("%s of %llu at zone %u wp %llu (cond %s): %d",
		      append ? "append" : "write", (unsigned long long)len, zi,
		      (unsigned long long)z.wp, zvd_cond_name(z.cond), ret);
	return 0;
}

/* A write somewhere in the conventional zones (possibly spanning them). */
static int conv_data(struct zvd_dev *dev, struct model *m, uint64_t r)
{
	uint32_t bs = m->g.block_size;
	uint64_t area = m->g.zone_size * m->g.nr_conv_zones;
	uint64_t len = (uint64_t)bs * (1 + (r >> 20) % 4);
	uint64_t off = ((r >> 30) % (area / bs)) * bs;
	int ret;

	if (off + len > area)
		off = area - len;
	pat(m->data + off, len, r);
	ret = zvd_write(dev, m->data + off, len, off, 0);
	if (ret < 0)
		FAILF("conventional write %llu+%llu: %d",
		      (unsigned long long)off, (unsigned long long)len, ret);
	m->ops++;
	return 0;
}

static int zone_op(struct zvd_dev *dev, struct model *m, uint32_t zi,
		   enum zvd_zone_op op)
{
	int ret = zvd_zone_mgmt(dev, op, zi);

	if (ret && !expected_refusal(ret))
		FAILF("zone op %d on zone %u: %d", op, zi, ret);
	if (!ret && op == ZVD_OP_RESET)
		memset(m->data + (uint64_t)zi * m->g.zone_size, 0,
		       m->g.zone_size);
	if (!ret)
		m->ops++;
	return 0;
}

static int zone_fail(struct zvd_dev *dev, struct model *m, uint32_t zi,
		     enum zvd_zone_cond c)
{
	struct zvd_zone z;
	int ret;

	if (m->fails >= m->nz / 4 || m->offline[zi])
		return 0;
	EXPECT(zinfo(dev, zi, &z) == 0);
	if (z.cond == c)
		return 0; /* failing it again is not a rule of the model */
	ret = zvd_zone_fail(dev, zi, c);
	if (ret)
		FAILF("zone_fail %u -> %d: %d", zi, c, ret);
	m->fails++;
	if (c == ZVD_COND_OFFLINE) {
		m->offline[zi] = 1;
		memset(m->data + (uint64_t)zi * m->g.zone_size, 0,
		       m->g.zone_size);
	}
	return 0;
}

/* @n random requests over all zones; flushes now and then. */
static int workload(struct zvd_dev *dev, struct model *m, int n, int fails)
{
	for (int i = 0; i < n; i++) {
		uint64_t r = rnd(m);
		uint32_t zi = (uint32_t)(r % m->nz);
		uint32_t kind = (uint32_t)((r >> 8) % 100);
		int ret = 0;

		if (zi < m->g.nr_conv_zones)
			ret = conv_data(dev, m, r);
		else if (kind < 40)
			ret = seq_data(dev, m, zi, 0, r);
		else if (kind < 60)
			ret = seq_data(dev, m, zi, 1, r);
		else if (kind < 68)
			ret = zone_op(dev, m, zi, ZVD_OP_OPEN);
		else if (kind < 76)
			ret = zone_op(dev, m, zi, ZVD_OP_CLOSE);
		else if (kind < 83)
			ret = zone_op(dev, m, zi, ZVD_OP_FINISH);
		else if (kind < 93)
			ret = zone_op(dev, m, zi, ZVD_OP_RESET);
		else if (kind < 95 && fails)
			ret = zone_fail(dev, m, zi, ZVD_COND_READ_ONLY);
		else if (kind < 96 && fails)
			ret = zone_fail(dev, m, zi, ZVD_COND_OFFLINE);
		else if (kind < 97)
			ret = zone_op(dev, m, ZVD_ALL_ZONES,
				      (enum zvd_zone_op)(ZVD_OP_OPEN + r % 3));
		if (ret)
			return ret;
		if (i % 37 == 36 && zvd_flush(dev))
			FAILF("flush failed");
	}
	return 0;
}

/* The device holds what the model says: data, and offline zones. */
static int verify_data(struct zvd_dev *dev, struct model *m)
{
	uint64_t zs = m->g.zone_size;
	uint8_t *b = malloc(zs);
	struct zvd_zone z;

	EXPECT(b);
	for (uint32_t zi = 0; zi < m->nz; zi++) {
		int ret = zvd_read(dev, b, zs, zi * zs);

		if (zinfo(dev, zi, &z)) {
			free(b);
			FAILF("report of zone %u failed", zi);
		}
		if ((z.cond == ZVD_COND_OFFLINE) != m->offline[zi]) {
			free(b);
			FAILF("zone %u: cond %s, model offline %d", zi,
			      zvd_cond_name(z.cond), m->offline[zi]);
		}
		if (m->offline[zi]) {
			if (ret != -EIO) {
				free(b);
				FAILF("read of offline zone %u: %d", zi, ret);
			}
			continue;
		}
		if (ret || memcmp(b, m->data + zi * zs, zs)) {
			size_t i = 0;

			while (!ret && i < zs && b[i] == m->data[zi * zs + i])
				i++;
			free(b);
			FAILF("zone %u (cond %s, wp %llu): read %d, first "
			      "difference at byte %zu",
			      zi, zvd_cond_name(z.cond),
			      (unsigned long long)z.wp, ret, i);
		}
	}
	free(b);
	return 0;
}

/* A device's whole visible state: report, counts, geometry. */
struct state {
	uint32_t n;
	struct zvd_zone *z;
	struct zvd_geometry g;
	uint32_t open, active;
};

static int state_take(struct zvd_dev *dev, struct state *s)
{
	struct zvd_space sp;

	memset(s, 0, sizeof(*s));
	s->n = zvd_nr_zones(dev);
	s->z = calloc(s->n, sizeof(*s->z));
	EXPECT(s->z);
	EXPECT(zvd_report(dev, 0, ZVD_REPORT_ALL, s->z, s->n) == (int)s->n);
	zvd_get_geometry(dev, &s->g);
	EXPECT(zvd_get_space(dev, &sp) == 0);
	s->open = sp.open_zones;
	s->active = sp.active_zones;
	return 0;
}

static void state_free(struct state *s)
{
	free(s->z);
	s->z = NULL;
}

static int state_cmp(const struct state *a, const struct state *b)
{
	if (a->n != b->n)
		FAILF("zone count %u -> %u", a->n, b->n);
	if (memcmp(&a->g, &b->g, sizeof(a->g)))
		FAILF("geometry differs");
	for (uint32_t i = 0; i < a->n; i++) {
		const struct zvd_zone *x = &a->z[i], *y = &b->z[i];

		if (x->start != y->start || x->len != y->len ||
		    x->capacity != y->capacity || x->wp != y->wp ||
		    x->type != y->type || x->cond != y->cond ||
		    x->written != y->written || x->writes != y->writes ||
		    x->resets != y->resets || x->finishes != y->finishes)
			FAILF("zone %u: cond %s->%s wp %llu->%llu written "
			      "%llu->%llu writes %llu->%llu resets %llu->%llu "
			      "finishes %llu->%llu",
			      i, zvd_cond_name(x->cond), zvd_cond_name(y->cond),
			      (unsigned long long)x->wp,
			      (unsigned long long)y->wp,
			      (unsigned long long)x->written,
			      (unsigned long long)y->written,
			      (unsigned long long)x->writes,
			      (unsigned long long)y->writes,
			      (unsigned long long)x->resets,
			      (unsigned long long)y->resets,
			      (unsigned long long)x->finishes,
			      (unsigned long long)y->finishes);
	}
	if (a->open != b->open || a->active != b->active)
		FAILF("open/active %u/%u -> %u/%u", a->open, a->active, b->open,
		      b->active);
	return 0;
}

/*
 * Close @*dev, check the image, reopen it into @*dev and compare the
 * state and the data with what they were and with the model.
 */
static int reopen_and_compare(struct store *s, struct zvd_dev **dev,
			      struct model *m)
{
	struct state before, after;
	int ret;

	if (state_take(*dev, &before))
		return -1;
	ret = zvd_close(*dev);
	*dev = NULL;
	if (ret) {
		state_free(&before);
		FAILF("zvd_close: %d", ret);
	}
	ret = store_check(s);
	if (ret) {
		state_free(&before);
		FAILF("zvd_check after close: %d", ret);
	}
	ret = store_open(s, 0, dev);
	if (ret) {
		state_free(&before);
		FAILF("zvd_open: %d", ret);
	}
	if (state_take(*dev, &after)) {
		state_free(&before);
		return -1;
	}
	ret = state_cmp(&before, &after);
	state_free(&before);
	state_free(&after);
	if (ret)
		return ret;
	return verify_data(*dev, m);
}

/* ---- 3. cases ---------------------------------------------------------- */

/* Rounds of random work, each followed by a reopen. */
static int persist_rounds(int kind, uint32_t bs)
{
	struct store s;
	struct model m;
	struct zvd_geometry g;
	struct zvd_dev *dev = NULL;
	int rc = -1;

	geo(&g, bs, 65536, 57344, 16, 2, 4, 6, 16384);
	EXPECT(store_init(&s, kind) == 0);
	if (model_init(&m, &g)) {
		store_fini(&s);
		FAILF("out of memory");
	}
	if (store_create(&s, &g, &dev)) {
		snprintf(msg, sizeof(msg), "create failed");
		goto out;
	}
	for (int round = 0; round < 6; round++) {
		if (workload(dev, &m, 300, 1))
			goto out;
		if (verify_data(dev, &m))
			goto out;
		if (reopen_and_compare(&s, &dev, &m))
			goto out;
	}
	if (m.ops < 500) {
		snprintf(msg, sizeof(msg), "only %llu changes succeeded",
			 (unsigned long long)m.ops);
		goto out;
	}
	rc = 0;
out:
	zvd_close(dev);
	if (!rc && store_check(&s)) {
		snprintf(msg, sizeof(msg), "zvd_check at the end");
		rc = -1;
	}
	model_free(&m);
	store_fini(&s);
	return rc;
}

static void persist_mem_4k(void)
{
	CHECK_R(persist_rounds(ST_MEM, 4096));
}

static void persist_mem_512(void)
{
	CHECK_R(persist_rounds(ST_MEM, 512));
}

static void persist_file_4k(void)
{
	CHECK_R(persist_rounds(ST_FILE, 4096));
}

static void persist_file_512(void)
{
	CHECK_R(persist_rounds(ST_FILE, 512));
}

/* Every condition and the failed zones, explicitly, on both backends. */
static int persist_conditions(int kind)
{
	struct store s;
	struct model m;
	struct zvd_geometry g;
	struct zvd_dev *dev = NULL;
	uint8_t b[8192];
	uint64_t where;
	int rc = -1;

	geo(&g, 4096, 65536, 49152, 10, 1, 0, 0, 0);
	EXPECT(store_init(&s, kind) == 0);
	if (model_init(&m, &g) || store_create(&s, &g, &dev)) {
		snprintf(msg, sizeof(msg), "setup failed");
		goto out;
	}
	/* 0 conv, 1 E, 2 IO, 3 EO, 4 C, 5 F (finished), 6 F (written full),
	 * 7 RO, 8 OFF, 9 C at its start */
	pat(b, sizeof(b), 1);
	if (zvd_write(dev, b, 8192, 4096, 0) < 0 ||
	    zvd_write(dev, b, 4096, 2 * 65536, 0) < 0 ||
	    zvd_zone_mgmt(dev, ZVD_OP_OPEN, 3) ||
	    zvd_append(dev, 3, b, 8192, 0, &where) < 0 ||
	    zvd_write(dev, b, 8192, 4 * 65536, 0) < 0 ||
	    zvd_zone_mgmt(dev, ZVD_OP_CLOSE, 4) ||
	    zvd_write(dev, b, 4096, 5 * 65536, 0) < 0 ||
	    zvd_zone_mgmt(dev, ZVD_OP_FINISH, 5) ||
	    zvd_zone_mgmt(dev, ZVD_OP_OPEN, 9) ||
	    zvd_zone_mgmt(dev, ZVD_OP_CLOSE, 9) ||
	    zvd_write(dev, b, 4096, 7 * 65536, 0) < 0 ||
	    zvd_zone_fail(dev, 7, ZVD_COND_READ_ONLY) ||
	    zvd_write(dev, b, 4096, 8 * 65536, 0) < 0 ||
	    zvd_zone_fail(dev, 8, ZVD_COND_OFFLINE)) {
		snprintf(msg, sizeof(msg), "setup requests failed");
		goto out;
	}
	memcpy(m.data + 4096, b, 8192);
	memcpy(m.data + 2 * 65536, b, 4096);
	memcpy(m.data + 3 * 65536, b, 8192);
	memcpy(m.data + 4 * 65536, b, 8192);
	memcpy(m.data + 5 * 65536, b, 4096);
	memcpy(m.data + 7 * 65536, b, 4096);
	m.offline[8] = 1;
	for (int i = 0; i < 6; i++) {
		pat(m.data + 6 * 65536 + i * 8192, 8192, 100 + i);
		if (zvd_write(dev, m.data + 6 * 65536 + i * 8192, 8192,
			      6 * 65536 + i * 8192, 0) < 0) {
			snprintf(msg, sizeof(msg), "fill zone 6 failed");
			goto out;
		}
	}
	/* no flush: zvd_close must make it durable */
	if (reopen_and_compare(&s, &dev, &m))
		goto out;
	{
		static const uint8_t want[10] = {
			ZVD_COND_NOT_WP, ZVD_COND_EMPTY,  ZVD_COND_IMP_OPEN,
			ZVD_COND_EXP_OPEN, ZVD_COND_CLOSED, ZVD_COND_FULL,
			ZVD_COND_FULL,	 ZVD_COND_READ_ONLY, ZVD_COND_OFFLINE,
			ZVD_COND_CLOSED,
		};
		struct zvd_zone z[10];

		if (zvd_report(dev, 0, ZVD_REPORT_ALL, z, 10) != 10) {
			snprintf(msg, sizeof(msg), "report failed");
			goto out;
		}
		for (int i = 0; i < 10; i++)
			if (z[i].cond != want[i]) {
				snprintf(msg, sizeof(msg),
					 "zone %d reopened as %s, not %s", i,
					 zvd_cond_name(z[i].cond),
					 zvd_cond_name(want[i]));
				goto out;
			}
		if (z[9].wp != 9 * 65536 || z[3].wp != 3 * 65536 + 8192) {
			snprintf(msg, sizeof(msg), "write pointers differ");
			goto out;
		}
	}
	/* the reopened device goes on from where it was */
	pat(b, 4096, 7);
	if (zvd_write(dev, b, 4096, 2 * 65536 + 4096, 0) < 0 ||
	    zvd_append(dev, 4, b, 4096, 0, &where) < 0 ||
	    where != 4 * 65536 + 8192) {
		snprintf(msg, sizeof(msg), "writes after reopen failed");
		goto out;
	}
	memcpy(m.data + 2 * 65536 + 4096, b, 4096);
	memcpy(m.data + 4 * 65536 + 8192, b, 4096);
	if (reopen_and_compare(&s, &dev, &m))
		goto out;
	rc = 0;
out:
	zvd_close(dev);
	model_free(&m);
	store_fini(&s);
	return rc;
}

static void persist_conditions_mem(void)
{
	CHECK_R(persist_conditions(ST_MEM));
}

static void persist_conditions_file(void)
{
	CHECK_R(persist_conditions(ST_FILE));
}

/* A fresh image checks clean, on both backends, with the default
 * geometry and a small one. */
static void check_clean_images(void)
{
	for (int kind = ST_MEM; kind <= ST_FILE; kind++) {
		struct store s;
		struct zvd_geometry g, g2;
		struct zvd_dev *dev;

		CHECK_EQ(store_init(&s, kind), 0);
		zvd_geometry_default(&g);
		CHECK_EQ(store_create(&s, &g, &dev), 0);
		CHECK_EQ(zvd_close(dev), 0);
		CHECK_EQ(store_check(&s), 0);
		store_fini(&s);

		CHECK_EQ(store_init(&s, kind), 0);
		geo(&g, 512, 98304, 65536, 7, 3, 2, 3, 4096);
		CHECK_EQ(store_create(&s, &g, &dev), 0);
		CHECK_EQ(zvd_close(dev), 0);
		CHECK_EQ(store_check(&s), 0);
		CHECK_EQ(store_open(&s, 0, &dev), 0);
		zvd_get_geometry(dev, &g2);
		CHECK(memcmp(&g, &g2, sizeof(g)) == 0);
		CHECK_EQ(zvd_close(dev), 0);
		store_fini(&s);
	}
}

/* A reset gives the zone's space back. */
static void reset_gives_space_back(void)
{
	struct store s;
	struct zvd_geometry g;
	struct zvd_dev *dev;
	struct zvd_space a, b, c;
	uint8_t *buf = malloc(1 << 20);

	CHECK(buf);
	CHECK_EQ(store_init(&s, ST_MEM), 0);
	geo(&g, 4096, 1 << 20, 1 << 20, 8, 0, 0, 0, 0);
	CHECK_EQ(store_create(&s, &g, &dev), 0);
	CHECK_EQ(zvd_get_space(dev, &a), 0);
	pat(buf, 1 << 20, 3);
	for (uint32_t zi = 1; zi < 4; zi++)
		CHECK(zvd_write(dev, buf, 1 << 20, (uint64_t)zi << 20, 0) >= 0);
	CHECK_EQ(zvd_flush(dev), 0);
	CHECK_EQ(zvd_get_space(dev, &b), 0);
	CHECK(b.data_bytes >= a.data_bytes + (3u << 20));
	CHECK_EQ(zvd_zone_mgmt(dev, ZVD_OP_RESET, 2), 0);
	CHECK_EQ(zvd_get_space(dev, &c), 0);
	CHECK(c.data_bytes < b.data_bytes);
	CHECK(c.data_bytes <= b.data_bytes - (1u << 20));
	CHECK_EQ(zvd_zone_mgmt(dev, ZVD_OP_RESET, ZVD_ALL_ZONES), 0);
	CHECK_EQ(zvd_get_space(dev, &c), 0);
	CHECK_EQ(c.data_bytes, a.data_bytes);
	/* and it stays given back across a reopen */
	CHECK_EQ(zvd_close(dev), 0);
	CHECK_EQ(store_open(&s, 0, &dev), 0);
	CHECK_EQ(zvd_get_space(dev, &c), 0);
	CHECK_EQ(c.data_bytes, a.data_bytes);
	CHECK_EQ(zvd_close(dev), 0);
	store_fini(&s);
	free(buf);
}

/* On a file the backend's blocks are given back too. */
static void reset_gives_file_blocks_back(void)
{
	struct store s;
	struct zvd_geometry g;
	struct zvd_dev *dev;
	struct stat a, b;
	uint8_t *buf = malloc(1 << 20);

	CHECK(buf);
	CHECK_EQ(store_init(&s, ST_FILE), 0);
	geo(&g, 4096, 1 << 20, 1 << 20, 8, 0, 0, 0, 0);
	CHECK_EQ(store_create(&s, &g, &dev), 0);
	pat(buf, 1 << 20, 3);
	for (uint32_t zi = 1; zi < 5; zi++)
		CHECK(zvd_write(dev, buf, 1 << 20, (uint64_t)zi << 20, 0) >= 0);
	CHECK_EQ(zvd_flush(dev), 0);
	CHECK_EQ(stat(s.path, &a), 0);
	CHECK_EQ(zvd_zone_mgmt(dev, ZVD_OP_RESET, ZVD_ALL_ZONES), 0);
	CHECK_EQ(zvd_close(dev), 0);
	CHECK_EQ(stat(s.path, &b), 0);
	printf("#   file blocks: %lld KiB -> %lld KiB\n",
	       (long long)a.st_blocks / 2, (long long)b.st_blocks / 2);
	if (a.st_blocks < 4 * 2048) {
		store_fini(&s);
		free(buf);
		SKIP("the file system does not report allocated blocks");
	}
	CHECK(b.st_blocks * 512 <= a.st_blocks * 512 - (3 << 20));
	CHECK_EQ(store_check(&s), 0);
	store_fini(&s);
	free(buf);
}

/* A fresh default (4 GiB) image takes far less than 4 GiB. */
static void thin_provisioning(void)
{
	for (int kind = ST_MEM; kind <= ST_FILE; kind++) {
		struct store s;
		struct zvd_geometry g;
		struct zvd_dev *dev;
		struct zvd_space sp;
		uint8_t b[4096];
		uint32_t nz;

		CHECK_EQ(store_init(&s, kind), 0);
		zvd_geometry_default(&g);
		CHECK_EQ(store_create(&s, &g, &dev), 0);
		CHECK_EQ(zvd_get_space(dev, &sp), 0);
		CHECK_EQ(sp.virtual_size, 4ull << 30);
		CHECK_EQ(sp.data_bytes, 0);
		CHECK(sp.meta_bytes < (64u << 20));
		CHECK(sp.chunk_size > 0);
		/* one block in every zone takes one chunk per zone at most */
		nz = zvd_nr_zones(dev);
		CHECK_EQ(nz, 32);
		pat(b, sizeof(b), 9);
		for (uint32_t zi = 0; zi < nz; zi++) {
			if (zi % 8 == 0) /* stay under the limits */
				CHECK_EQ(zvd_zone_mgmt(dev, ZVD_OP_FINISH,
						       ZVD_ALL_ZONES), 0);
			CHECK(zvd_write(dev, b, 4096, (uint64_t)zi << 27, 0) >=
			      0);
		}
		CHECK_EQ(zvd_flush(dev), 0);
		CHECK_EQ(zvd_get_space(dev, &sp), 0);
		CHECK(sp.data_bytes >= 32 * 4096);
		CHECK(sp.data_bytes <= 32 * sp.chunk_size);
		CHECK(sp.data_bytes + sp.meta_bytes < (256u << 20));
		CHECK(sp.backend_bytes < (256u << 20));
		CHECK_EQ(zvd_close(dev), 0);
		if (kind == ST_FILE) {
			struct stat st;

			CHECK_EQ(stat(s.path, &st), 0);
			printf("#   4 GiB image with 32 blocks: %lld KiB on "
			       "disk, size %lld\n",
			       (long long)st.st_blocks / 2,
			       (long long)st.st_size);
			CHECK((uint64_t)st.st_blocks * 512 < (256u << 20));
		}
		CHECK_EQ(store_check(&s), 0);
		store_fini(&s);
	}
}

/*
 * Thousands of small writes, each flushed, with zone operations between
 * and a reopen every few hundred: the journal must span chunks and be
 * checkpointed, and every reopen must find the exact state.
 */
static int many_flushes(int kind, int writes, int reopen_every)
{
	struct store s;
	struct model m;
	struct zvd_geometry g;
	struct zvd_dev *dev = NULL;
	struct zvd_space sp;
	uint64_t meta_max = 0;
	uint32_t zi = 1;
	int rc = -1, reopens = 0;

	memset(&sp, 0, sizeof(sp));

	geo(&g, 512, 65536, 65536, 32, 1, 0, 0, 0);
	EXPECT(store_init(&s, kind) == 0);
	if (model_init(&m, &g) || store_create(&s, &g, &dev)) {
		snprintf(msg, sizeof(msg), "setup failed");
		goto out;
	}
	for (int i = 0; i < writes; i++) {
		struct zvd_zone z;
		uint64_t r = rnd(&m);

		if (zinfo(dev, zi, &z)) {
			snprintf(msg, sizeof(msg), "report failed");
			goto out;
		}
		if (z.cond == ZVD_COND_FULL) {
			/* next zone; now and then reset an old one */
			zi = zi % 31 + 1;
			if (zvd_zone_mgmt(dev, ZVD_OP_RESET, zi)) {
				snprintf(msg, sizeof(msg), "reset failed");
				goto out;
			}
			memset(m.data + (uint64_t)zi * 65536, 0, 65536);
			continue;
		}
		if (r % 5 == 0) {
			if (conv_data(dev, &m, r))
				goto out;
		} else {
			pat(m.data + z.wp, 512, r);
			if (zvd_write(dev, m.data + z.wp, 512, z.wp, 0) < 0) {
				snprintf(msg, sizeof(msg), "write %d failed", i);
				goto out;
			}
		}
		if (r % 97 == 0 && zvd_zone_mgmt(dev, ZVD_OP_CLOSE, zi)) {
			snprintf(msg, sizeof(msg), "close failed");
			goto out;
		}
		if (zvd_flush(dev)) {
			snprintf(msg, sizeof(msg), "flush %d failed", i);
			goto out;
		}
		if (zvd_get_space(dev, &sp) == 0 && sp.meta_bytes > meta_max)
			meta_max = sp.meta_bytes;
		if (i % reopen_every == reopen_every - 1) {
			if (reopen_and_compare(&s, &dev, &m))
				goto out;
			reopens++;
		}
	}
	if (reopen_and_compare(&s, &dev, &m))
		goto out;
	printf("#   %d writes, %d reopens, meta_bytes up to %llu (chunk %llu)\n",
	       writes, reopens + 1, (unsigned long long)meta_max,
	       (unsigned long long)sp.chunk_size);
	rc = 0;
out:
	zvd_close(dev);
	model_free(&m);
	store_fini(&s);
	return rc;
}

static void journal_many_flushes_mem(void)
{
	CHECK_R(many_flushes(ST_MEM, 5000, 400));
}

static void journal_many_flushes_file(void)
{
	CHECK_R(many_flushes(ST_FILE, 2500, 250));
}

/* Reopen many times with nothing in between, then with a little. */
static void reopen_many_times(void)
{
	struct store s;
	struct model m;
	struct zvd_geometry g;
	struct zvd_dev *dev = NULL;

	geo(&g, 4096, 65536, 65536, 8, 1, 3, 4, 0);
	CHECK_EQ(store_init(&s, ST_MEM), 0);
	CHECK_EQ(model_init(&m, &g), 0);
	CHECK_EQ(store_create(&s, &g, &dev), 0);
	CHECK_R(workload(dev, &m, 100, 0));
	for (int i = 0; i < 50; i++)
		CHECK_R(reopen_and_compare(&s, &dev, &m));
	for (int i = 0; i < 50; i++) {
		CHECK_R(workload(dev, &m, 10, 0));
		CHECK_R(reopen_and_compare(&s, &dev, &m));
	}
	zvd_close(dev);
	model_free(&m);
	store_fini(&s);
}

/*
 * docs/ZONED.md: at the open limit "the IO zone that was implicitly
 * opened longest ago is closed". The rule has no exception for a
 * reopen, so the age order of the implicitly open zones must survive it.
 */
static void implicit_open_age_survives_reopen(void)
{
	for (int kind = ST_MEM; kind <= ST_FILE; kind++) {
		struct store s;
		struct zvd_geometry g;
		struct zvd_dev *dev = NULL;
		struct zvd_zone z[6];
		uint8_t b[4096];

		geo(&g, 4096, 65536, 65536, 6, 0, 2, 0, 0);
		pat(b, sizeof(b), 11);
		CHECK_EQ(store_init(&s, kind), 0);
		CHECK_EQ(store_create(&s, &g, &dev), 0);
		/* zone 3 is opened first, then zone 2 */
		CHECK(zvd_write(dev, b, 4096, 3 * 65536, 0) >= 0);
		CHECK(zvd_write(dev, b, 4096, 2 * 65536, 0) >= 0);
		CHECK_EQ(zvd_close(dev), 0);
		CHECK_EQ(store_open(&s, 0, &dev), 0);
		CHECK_EQ(zvd_report(dev, 0, ZVD_REPORT_ALL, z, 6), 6);
		CHECK_EQ(z[2].cond, ZVD_COND_IMP_OPEN);
		CHECK_EQ(z[3].cond, ZVD_COND_IMP_OPEN);
		CHECK(zvd_write(dev, b, 4096, 4 * 65536, 0) >= 0);
		CHECK_EQ(zvd_report(dev, 0, ZVD_REPORT_ALL, z, 6), 6);
		CHECK_EQ(z[4].cond, ZVD_COND_IMP_OPEN);
		CHECK_EQ(z[3].cond, ZVD_COND_CLOSED); /* the oldest */
		CHECK_EQ(z[2].cond, ZVD_COND_IMP_OPEN);
		zvd_close(dev);
		store_fini(&s);
	}
}

/* A read-only open reads everything and changes nothing. */
static void readonly_open(void)
{
	struct store s;
	struct model m;
	struct zvd_geometry g;
	struct zvd_dev *dev = NULL;
	struct state a, b;
	uint8_t buf[4096];
	uint64_t where;

	geo(&g, 4096, 65536, 49152, 8, 1, 0, 0, 0);
	CHECK_EQ(store_init(&s, ST_FILE), 0);
	CHECK_EQ(model_init(&m, &g), 0);
	CHECK_EQ(store_create(&s, &g, &dev), 0);
	CHECK_R(workload(dev, &m, 200, 0));
	CHECK_R(state_take(dev, &a));
	CHECK_EQ(zvd_close(dev), 0);
	{
		struct zvd_backend *be;

		CHECK_EQ(zvd_backend_file_open(s.path, ZVD_FILE_READONLY, &be),
			 0);
		CHECK_EQ(zvd_open(be, ZVD_OPEN_READONLY, &dev), 0);
	}
	CHECK_R(verify_data(dev, &m));
	memset(buf, 1, sizeof(buf));
	CHECK(zvd_write(dev, buf, 4096, 0, 0) < 0);
	CHECK(zvd_append(dev, 3, buf, 4096, 0, &where) < 0);
	CHECK(zvd_zone_mgmt(dev, ZVD_OP_RESET, ZVD_ALL_ZONES) < 0);
	CHECK(zvd_zone_mgmt(dev, ZVD_OP_FINISH, 2) < 0);
	CHECK(zvd_zone_fail(dev, 4, ZVD_COND_OFFLINE) < 0);
	CHECK_R(state_take(dev, &b));
	CHECK_R(state_cmp(&a, &b));
	state_free(&b);
	CHECK_EQ(zvd_close(dev), 0);
	CHECK_EQ(store_open(&s, 0, &dev), 0);
	CHECK_R(state_take(dev, &b));
	CHECK_R(state_cmp(&a, &b));
	CHECK_R(verify_data(dev, &m));
	state_free(&a);
	state_free(&b);
	zvd_close(dev);
	model_free(&m);
	store_fini(&s);
}

/* zvd_create refuses a backend that already holds an image, and the image
 * is left intact. */
static void create_over_image_refused(void)
{
	struct store s;
	struct zvd_geometry g;
	struct zvd_dev *dev = NULL;
	struct zvd_backend *be;
	uint8_t b[4096], r[4096];

	geo(&g, 4096, 65536, 65536, 4, 1, 0, 0, 0);
	CHECK_EQ(store_init(&s, ST_MEM), 0);
	CHECK_EQ(store_create(&s, &g, &dev), 0);
	pat(b, sizeof(b), 5);
	CHECK(zvd_write(dev, b, 4096, 65536, 0) >= 0);
	CHECK_EQ(zvd_close(dev), 0);
	CHECK_EQ(store_backend(&s, 1, &be), 0);
	CHECK(zvd_create(be, &g, &dev) < 0);
	zvd_backend_close(be);
	CHECK_EQ(store_open(&s, 0, &dev), 0);
	CHECK_EQ(zvd_read(dev, r, 4096, 65536), 0);
	CHECK(memcmp(b, r, 4096) == 0);
	zvd_close(dev);
	store_fini(&s);
}

/* What is not an image is refused with -EUCLEAN. */
static void open_not_an_image(void)
{
	struct store s;
	struct zvd_backend *be;
	struct zvd_dev *dev;
	uint8_t junk[65536];
	int fd;

	CHECK_EQ(store_init(&s, ST_FILE), 0);
	fd = open(s.path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	CHECK(fd >= 0);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 7 + 3);
	for (int i = 0; i < 16; i++)
		CHECK_EQ(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	CHECK_EQ(zvd_backend_file_open(s.path, 0, &be), 0);
	CHECK_EQ(zvd_open(be, 0, &dev), -EUCLEAN);
	zvd_backend_close(be);
	CHECK_EQ(zvd_backend_file_open(s.path, ZVD_FILE_READONLY, &be), 0);
	CHECK(zvd_check(be, NULL, NULL) != 0);
	zvd_backend_close(be);
	store_fini(&s);

	/* an empty backend holds no image either */
	CHECK_EQ(store_init(&s, ST_MEM), 0);
	CHECK_EQ(store_backend(&s, 0, &be), 0);
	CHECK(zvd_open(be, 0, &dev) < 0);
	zvd_backend_close(be);
	store_fini(&s);
}

/* A second writer of the same file gets -EBUSY (from another process,
 * since locks may be per process). */
static void file_lock(void)
{
	struct store s;
	struct zvd_geometry g;
	struct zvd_dev *dev;
	pid_t pid;
	int status;

	geo(&g, 4096, 65536, 65536, 4, 0, 0, 0, 0);
	CHECK_EQ(store_init(&s, ST_FILE), 0);
	CHECK_EQ(store_create(&s, &g, &dev), 0);
	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct zvd_backend *be;
		int ret = zvd_backend_file_open(s.path, 0, &be);

		_exit(ret == -EBUSY ? 0 : 1);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ(zvd_close(dev), 0);
	/* and once it is closed, the file can be opened again */
	CHECK_EQ(store_open(&s, 0, &dev), 0);
	CHECK_EQ(zvd_close(dev), 0);
	store_fini(&s);
}

int main(void)
{
	RUN(persist_mem_4k);
	RUN(persist_mem_512);
	RUN(persist_file_4k);
	RUN(persist_file_512);
	RUN(persist_conditions_mem);
	RUN(persist_conditions_file);
	RUN(check_clean_images);
	RUN(reset_gives_space_back);
	RUN(reset_gives_file_blocks_back);
	RUN(thin_provisioning);
	RUN(journal_many_flushes_mem);
	RUN(journal_many_flushes_file);
	RUN(reopen_many_times);
	RUN(implicit_open_age_survives_reopen);
	RUN(readonly_open);
	RUN(create_over_image_refused);
	RUN(open_not_an_image);
	RUN(file_lock);
	HARNESS_EXIT();
}

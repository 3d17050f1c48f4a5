// SPDX-License-Identifier: MIT
/*
 * test_csd_examples.c - the example programs (examples/csd), built with
 * clang and loaded through the ELF loader, give the same answers as the
 * same computation in plain C over the same zone data; many threads run
 * one program at once; the ELF loader handles calls, global and constant
 * data, and refuses broken objects. Skips when clang is missing.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include <zvd_bpf_helpers.h>
#include <zvd_csd.h>

#include "../../examples/csd/common.h"
#include "harness.h"

#define ZONE_SIZE (4u << 20)
#define NR_ZONES 6

static char root[PATH_MAX], objdir[PATH_MAX];
static bool have_objs;
static struct zvd_dev *dev;
static uint8_t *zdata[NR_ZONES];
static size_t zlen[NR_ZONES];

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* ---- test data ---- */

static void fill_zone(uint32_t z, size_t len, int kind)
{
	uint8_t *b = malloc(len);
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t v = next_rand();

		if (kind == 1)
			v %= 1000; /* small values for count */
		else if (kind == 3)
			v = (uint64_t)((int64_t)(v % 2000001) - 1000000);
		memcpy(b + i, &v, 8);
	}
	if (kind == 2) {
		static const size_t at[] = { 0, 4093, CSD_CHUNK - 3, CSD_CHUNK + 100,
					     (2u << 20) - 6 };
		for (i = 0; i < len; i++)
			b[i] = (uint8_t)('a' + b[i] % 26);
		for (i = 0; i < sizeof(at) / sizeof(at[0]); i++)
			memcpy(b + at[i], "needle", 6);
	}
	zdata[z] = b;
	zlen[z] = len;
}

static int make_dev(void)
{
	struct zvd_backend *be;
	struct zvd_geometry g;
	uint32_t z;
	int rc;

	zvd_geometry_default(&g);
	g.size = (uint64_t)NR_ZONES * ZONE_SIZE;
	g.zone_size = g.zone_capacity = ZONE_SIZE;
	g.max_open = g.max_active = 0;
	rc = zvd_backend_mem_create(&be);
	if (!rc)
		rc = zvd_create(be, &g, &dev);
	if (rc)
		return rc;
	fill_zone(1, 256u << 10, 1);
	fill_zone(2, 2u << 20, 2);
	fill_zone(3, 96u << 10, 3);
	fill_zone(4, 3u << 20, 0);
	for (z = 1; z <= 4; z++) {
		rc = zvd_write(dev, zdata[z], zlen[z], (uint64_t)z * ZONE_SIZE, 0);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- running an example ---- */

static struct zvd_csd_prog *load_example(const char *name)
{
	char path[PATH_MAX + 32];
	struct zvd_csd_prog *p = NULL;
	struct zvd_csd_diag d;
	FILE *f;
	uint8_t *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s.o", objdir, name);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n);
	if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n &&
	    zvd_csd_prog_load_elf(buf, (size_t)n, NULL, &p, &d))
		printf("# %s: %s\n", path, d.msg);
	free(buf);
	fclose(f);
	return p;
}

struct out {
	uint64_t buf[1024];
	struct zvd_csd_result res;
};

static int run_example(const char *name, uint32_t first, uint32_t nr,
		       const struct zvd_csd_kv *args, uint32_t nargs,
		       struct out *o)
{
	struct zvd_csd_run_opts opts = {
		.zone = first, .first_zone = first, .nr_zones = nr,
		.args = args, .nr_args = nargs, .out = o->buf,
		.out_cap = sizeof(o->buf),
	};
	struct zvd_csd_prog *p = load_example(name);
	struct zvd_csd_diag d;
	int rc;

	if (!p)
		return -ENOENT;
	rc = zvd_csd_run(p, dev, &opts, &o->res, &d);
	if (rc)
		printf("# %s: %s\n", name, d.msg);
	zvd_csd_prog_free(p);
	return rc;
}

/* The record @key of a run's output: its values and their count. */
static const uint64_t *record(const struct out *o, const char *key,
			      uint32_t *n)
{
	struct zvd_csd_record r;
	size_t pos = 0;

	while (zvd_csd_record_next(o->buf, o->res.bytes_returned, &pos, &r) > 0)
		if (r.key_len == strlen(key) && !memcmp(r.key, key, r.key_len)) {
			*n = r.val_len / 8;
			return r.val;
		}
	*n = 0;
	return NULL;
}

static uint64_t rec1(const struct out *o, const char *key)
{
	uint32_t n;
	const uint64_t *v = record(o, key, &n);

	return v && n == 1 ? v[0] : UINT64_MAX;
}

/* ---- cases ---- */

static void build_examples(void)
{
	char cmd[3 * PATH_MAX];

	if (system("command -v clang >/dev/null 2>&1"))
		SKIP("clang is not installed (scripts/deps.sh installs it)");
	snprintf(cmd, sizeof(cmd), "make -s -C %s/examples/csd OUT=%s >&2", root,
		 objdir);
	CHECK_EQ(system(cmd), 0);
	have_objs = true;
	CHECK_EQ(make_dev(), 0);
}

#define NEED_OBJS()                                        \
	do {                                               \
		if (!have_objs)                            \
			SKIP("the examples were not built"); \
	} while (0)

static uint64_t ref_count(const uint8_t *b, size_t len, int op, uint64_t k)
{
	uint64_t m = 0, v;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&v, b + i, 8);
		m += op == OP_EQ ? v == k : op == OP_NE ? v != k :
		     op == OP_LT ? v < k : op == OP_LE ? v <= k :
		     op == OP_GT ? v > k : v >= k;
	}
	return m;
}

static void count_matches_c(void)
{
	static const char *ops[] = { "eq", "ne", "lt", "le", "gt", "ge" };
	struct out o;
	int op;

	NEED_OBJS();
	for (op = 0; op < 6; op++) {
		struct zvd_csd_kv args[] = { { "op", ops[op] }, { "value", "500" } };
		uint64_t want = ref_count(zdata[1], zlen[1], op, 500);

		CHECK_EQ(run_example("count", 1, 1, args, 2, &o), 0);
		CHECK_EQ(o.res.r0, want);
		CHECK_EQ(rec1(&o, "matched"), want);
		CHECK_EQ(rec1(&o, "values"), zlen[1] / 8);
		CHECK_EQ(o.res.bytes_read, zlen[1]);
	}
}

static void count_rejects_bad_op(void)
{
	struct zvd_csd_kv args[] = { { "op", "xx" } };
	struct out o;

	NEED_OBJS();
	CHECK_EQ(run_example("count", 1, 1, args, 1, &o), 0);
	CHECK_EQ((int64_t)o.res.r0, -ZVD_EINVAL);
}

static void stats_match_c(void)
{
	struct zvd_csd_kv args[] = { { "record", "24" }, { "columns", "3" } };
	int64_t sum[3] = { 0 }, mn[3], mx[3], v;
	uint64_t rows = 0;
	const uint64_t *s, *lo, *hi;
	uint32_t n, c;
	size_t r;
	struct out o;

	NEED_OBJS();
	for (c = 0; c < 3; c++) {
		mn[c] = INT64_MAX;
		mx[c] = INT64_MIN;
	}
	for (r = 0; r + 24 <= zlen[3]; r += 24, rows++)
		for (c = 0; c < 3; c++) {
			memcpy(&v, zdata[3] + r + 8 * c, 8);
			sum[c] = (int64_t)((uint64_t)sum[c] + (uint64_t)v);
			mn[c] = v < mn[c] ? v : mn[c];
			mx[c] = v > mx[c] ? v : mx[c];
		}
	CHECK_EQ(run_example("stats", 3, 1, args, 2, &o), 0);
	CHECK_EQ(o.res.r0, rows);
	CHECK_EQ(rec1(&o, "rows"), rows);
	s = record(&o, "sum", &n);
	CHECK(s && n == 3);
	lo = record(&o, "min", &n);
	CHECK(lo && n == 3);
	hi = record(&o, "max", &n);
	CHECK(hi && n == 3);
	for (c = 0; c < 3; c++) {
		CHECK_EQ((int64_t)s[c], sum[c]);
		CHECK_EQ((int64_t)lo[c], mn[c]);
		CHECK_EQ((int64_t)hi[c], mx[c]);
	}
}

static void histogram_matches_c(void)
{
	unsigned long long hist[256] = { 0 };
	const uint64_t *h;
	uint64_t total = 0;
	uint32_t z, n, i;
	struct out o;

	NEED_OBJS();
	for (z = 1; z <= 4; z++) {
		for (i = 0; i < zlen[z]; i++)
			hist[zdata[z][i]]++;
		total += zlen[z];
	}
	CHECK_EQ(run_example("histogram", 1, 5, NULL, 0, &o), 0);
	CHECK_EQ(rec1(&o, "bytes"), total);
	h = record(&o, "histogram", &n);
	CHECK(h && n == 256);
	for (i = 0; i < 256; i++)
		CHECK_EQ(h[i], hist[i]);
	CHECK_EQ(rec1(&o, "entropy_ubits"), csd_entropy_ubits(hist));
	CHECK_EQ(o.res.r0, csd_entropy_ubits(hist));
	/* random bytes are close to 8 bits; zone 2's letters to log2(26) */
	CHECK_EQ(run_example("histogram", 4, 1, NULL, 0, &o), 0);
	CHECK(o.res.r0 > 7990000 && o.res.r0 <= 8000000);
	CHECK_EQ(run_example("histogram", 2, 1, NULL, 0, &o), 0);
	CHECK(o.res.r0 > 4690000 && o.res.r0 < 4710000);
}

static void search_matches_c(void)
{
	struct zvd_csd_kv args[] = { { "pattern", "needle" } };
	uint64_t want[16], nwant = 0;
	const uint64_t *offs;
	uint32_t n, i;
	size_t k;
	struct out o;

	NEED_OBJS();
	for (k = 0; k + 6 <= zlen[2]; k++)
		if (!memcmp(zdata[2] + k, "needle", 6) && nwant < 16)
			want[nwant++] = 2ull * ZONE_SIZE + k;
	CHECK(nwant >= 5);
	CHECK_EQ(run_example("search", 1, 4, args, 1, &o), 0);
	CHECK_EQ(rec1(&o, "matches"), nwant);
	offs = record(&o, "offsets", &n);
	CHECK(offs);
	CHECK_EQ(n, nwant);
	for (i = 0; i < n; i++)
		CHECK_EQ(offs[i], want[i]);
}

struct worker {
	pthread_t t;
	struct zvd_csd_prog *p;
	struct out o;
	int rc;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct zvd_csd_run_opts opts = { .zone = 1, .first_zone = 1,
					 .nr_zones = 4, .out = w->o.buf,
					 .out_cap = sizeof(w->o.buf) };
	struct zvd_csd_diag d;

	w->rc = zvd_csd_run(w->p, dev, &opts, &w->o.res, &d);
	return NULL;
}

static void many_threads_one_program(void)
{
	struct worker w[8];
	struct zvd_csd_prog *p;
	int i;

	NEED_OBJS();
	p = load_example("histogram");
	CHECK(p);
	for (i = 0; i < 8; i++) {
		w[i].p = p;
		pthread_create(&w[i].t, NULL, work, &w[i]);
	}
	for (i = 0; i < 8; i++)
		pthread_join(w[i].t, NULL);
	for (i = 0; i < 8; i++) {
		CHECK_EQ(w[i].rc, 0);
		CHECK_EQ(w[i].o.res.bytes_returned, w[0].o.res.bytes_returned);
		CHECK(!memcmp(w[i].o.buf, w[0].o.buf, w[0].o.res.bytes_returned));
		CHECK_EQ(w[i].o.res.r0, w[0].o.res.r0);
	}
	zvd_csd_prog_free(p);
}

/* ---- the ELF loader on a program with calls and data ---- */

static const char elf_src[] =
	"#include <zvd_bpf_helpers.h>\n"
	"static const zvd_u64 tab[4] = { 10, 20, 30, 40 };\n"
	"zvd_u64 counter = 5;\n"
	"static char scratch[64];\n"
	"__attribute__((noinline)) static zvd_u64 sq(zvd_u64 x) { return x * x; }\n"
	"__attribute__((noinline)) zvd_u64 add3(zvd_u64 a, zvd_u64 b, zvd_u64 c)\n"
	"{ return a + sq(b) + c; }\n"
	"ZVD_CSD_PROG zvd_u64 entry(const struct zvd_csd_ctx *ctx)\n"
	"{ zvd_u64 i, s = 0; counter++;\n"
	"  for (i = 0; i < 4; i++) { s += tab[i]; scratch[i] = (char)i; }\n"
	"  zvd_trace(\"hello\", 5, s);\n"
	"  return add3(s, ctx->zone, counter) + scratch[3]; }\n";

static int load_file(const char *path, struct zvd_csd_prog **p,
		     struct zvd_csd_diag *d, uint8_t **copy, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		return -ENOENT;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	*copy = malloc((size_t)n);
	*len = fread(*copy, 1, (size_t)n, f);
	fclose(f);
	return zvd_csd_prog_load_elf(*copy, *len, NULL, p, d);
}

static void trace_cb(void *arg, const char *msg, uint64_t v)
{
	if (!strcmp(msg, "hello"))
		*(uint64_t *)arg = v;
}

static void elf_calls_and_data(void)
{
	char src[PATH_MAX + 16], obj[PATH_MAX + 32], cmd[4 * PATH_MAX];
	struct zvd_csd_run_opts opts = { .zone = 3, .trace = trace_cb };
	struct zvd_csd_prog *p;
	struct zvd_csd_result res;
	struct zvd_csd_diag d;
	uint64_t traced = 0;
	uint8_t *copy;
	size_t len;
	FILE *f;
	int cpu;

	NEED_OBJS();
	snprintf(src, sizeof(src), "%s/elf_test.c", objdir);
	f = fopen(src, "w");
	CHECK(f);
	fputs(elf_src, f);
	fclose(f);
	opts.trace_arg = &traced;
	for (cpu = 1; cpu <= 3; cpu++) {
		snprintf(obj, sizeof(obj), "%s/elf_test_v%u.o", objdir, (unsigned)cpu & 7);
		snprintf(cmd, sizeof(cmd),
			 "clang -target bpf -mcpu=v%d -O2 -I%s/include -c %s -o %s",
			 cpu, root, src, obj);
		CHECK_EQ(system(cmd), 0);
		CHECK_EQ(load_file(obj, &p, &d, &copy, &len), 0);
		/* twice: each run starts from fresh data (counter = 5) */
		CHECK_EQ(zvd_csd_run(p, dev, &opts, &res, &d), 0);
		CHECK_EQ(res.r0, 100 + 9 + 6 + 3);
		CHECK_EQ(zvd_csd_run(p, dev, &opts, &res, &d), 0);
		CHECK_EQ(res.r0, 100 + 9 + 6 + 3);
		CHECK_EQ(traced, 100);
		CHECK_EQ(res.trace_lines, 1);
		zvd_csd_prog_free(p);
		free(copy);
	}
}

static void elf_refuses_broken_objects(void)
{
	char obj[PATH_MAX + 16];
	struct zvd_csd_prog *p = NULL;
	struct zvd_csd_diag d;
	uint8_t *copy, *bad;
	size_t len, cut;

	NEED_OBJS();
	snprintf(obj, sizeof(obj), "%s/count.o", objdir);
	CHECK_EQ(load_file(obj, &p, &d, &copy, &len), 0);
	zvd_csd_prog_free(p);
	bad = malloc(len);
	/* every truncation fails cleanly */
	for (cut = 0; cut < len; cut += 7) {
		CHECK(zvd_csd_prog_load_elf(copy, cut, NULL, &p, &d) < 0);
		CHECK(p == NULL);
	}
	/* wrong machine, wrong class, no such entry */
	memcpy(bad, copy, len);
	bad[18] = 62; /* EM_X86_64 */
	CHECK_EQ(zvd_csd_prog_load_elf(bad, len, NULL, &p, &d), -EINVAL);
	memcpy(bad, copy, len);
	bad[4] = 1; /* ELFCLASS32 */
	CHECK_EQ(zvd_csd_prog_load_elf(bad, len, NULL, &p, &d), -EINVAL);
	CHECK_EQ(zvd_csd_prog_load_elf(copy, len, "nope", &p, &d), -EINVAL);
	CHECK(strstr(d.msg, "nope"));
	/* section table pointing outside the file */
	memcpy(bad, copy, len);
	bad[0x28] = 0xff;
	bad[0x2f] = 0x7f;
	CHECK_EQ(zvd_csd_prog_load_elf(bad, len, NULL, &p, &d), -EINVAL);
	/* an unaligned buffer still loads */
	memcpy(bad + 1, copy, len - 1);
	free(bad);
	bad = malloc(len + 1);
	memcpy(bad + 1, copy, len);
	CHECK_EQ(zvd_csd_prog_load_elf(bad + 1, len, "count", &p, &d), 0);
	zvd_csd_prog_free(p);
	free(bad);
	free(copy);
}

static void teardown(void)
{
	int z;

	for (z = 0; z < NR_ZONES; z++)
		free(zdata[z]);
	CHECK_EQ(zvd_close(dev), 0);
}

int main(int argc, char **argv)
{
	char self[PATH_MAX], *dir;

	(void)argc;
	if (!realpath(argv[0], self))
		return 1;
	dir = dirname(self);			/* build/tests/unit */
	snprintf(objdir, sizeof(objdir), "%s/../../examples/csd", dir);
	snprintf(root, sizeof(root), "%s/../../..", dir);
	RUN(build_examples);
	RUN(count_matches_c);
	RUN(count_rejects_bad_op);
	RUN(stats_match_c);
	RUN(histogram_matches_c);
	RUN(search_matches_c);
	RUN(many_threads_one_program);
	RUN(elf_calls_and_data);
	RUN(elf_refuses_broken_objects);
	RUN(teardown);
	HARNESS_EXIT();
}

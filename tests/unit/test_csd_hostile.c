// SPDX-License-Identifier: MIT
/*
 * test_csd_hostile.c - programs that try to escape: out-of-bounds loads
 * and stores (null, past the context, below the stack, into read-only
 * memory), pointer arithmetic that leaves a region, helper calls with bad
 * pointers, lengths and zones, appends without a grant, reads past the
 * write pointer, endless loops. Each must end with a clear error and
 * leave the device as it was; none may crash (the SAN build checks that
 * nothing outside the program's memory is touched).
 */
#include <errno.h>

#include <zvd_bpf_helpers.h>

#include "csd_asm.h"
#include "harness.h"

#define ZONE_SIZE (1u << 20)
#define DATA_LEN (64u << 10)

static struct zvd_dev *dev;

static int make_dev(void)
{
	struct zvd_backend *be;
	struct zvd_geometry g;
	uint8_t *buf;
	int rc;

	zvd_geometry_default(&g);
	g.size = 8 * ZONE_SIZE;
	g.zone_size = g.zone_capacity = ZONE_SIZE;
	g.max_open = g.max_active = 0;
	g.max_append = 0;
	rc = zvd_backend_mem_create(&be);
	if (rc)
		return rc;
	rc = zvd_create(be, &g, &dev);
	if (rc)
		return rc;
	buf = malloc(DATA_LEN);
	if (!buf)
		return -ENOMEM;
	memset(buf, 0xab, DATA_LEN);
	rc = zvd_write(dev, buf, DATA_LEN, 1 * ZONE_SIZE, 0);
	free(buf);
	return rc;
}

static uint64_t out_buf[64];

/* Run @p on zone 1 (grant zones 1-1) with @flags and @budget. */
static int run_on(const struct t_insn *p, size_t n, uint32_t flags,
		  uint64_t budget, struct zvd_csd_result *res,
		  struct zvd_csd_diag *d)
{
	struct zvd_csd_run_opts o = { .zone = 1, .first_zone = 1,
				      .nr_zones = 1, .flags = flags,
				      .max_insns = budget, .out = out_buf,
				      .out_cap = sizeof(out_buf) };
	struct zvd_csd_prog *prog;
	int rc = t_load(p, n, &prog, d);

	if (rc)
		return 1000 - rc;
	rc = zvd_csd_run(prog, dev, &o, res, d);
	zvd_csd_prog_free(prog);
	return rc;
}

/* Expect @p to stop with @err and @word in the message. */
#define STOPS(err, word, ...)                                              \
	do {                                                               \
		struct t_insn p_[] = { __VA_ARGS__ };                      \
		struct zvd_csd_result res_;                                \
		struct zvd_csd_diag d_;                                    \
		int rc_ = run_on(p_, NI(p_), 0, 1000000, &res_, &d_);      \
		if (rc_ != (err) || !strstr(d_.msg, word))                 \
			printf("# rc %d want %d: '%s' (want '%s')\n", rc_, \
			       (err), d_.msg, word);                       \
		CHECK_EQ(rc_, err);                                        \
		CHECK(strstr(d_.msg, word));                               \
	} while (0)

/* Expect @p to exit normally with r0 == @want. */
#define RETURNS(want, ...)                                                \
	do {                                                              \
		struct t_insn p_[] = { __VA_ARGS__ };                     \
		struct zvd_csd_result res_;                               \
		struct zvd_csd_diag d_;                                   \
		int rc_ = run_on(p_, NI(p_), 0, 1000000, &res_, &d_);     \
		if (rc_)                                                  \
			printf("# rc %d: %s\n", rc_, d_.msg);             \
		CHECK_EQ(rc_, 0);                                         \
		CHECK_EQ((int64_t)res_.r0, want);                         \
	} while (0)

/* r3 = r10 - 512: a stack buffer */
#define STACKBUF(r) MOVR(r, 10), ADDK(r, -512)

static void setup(void)
{
	CHECK_EQ(make_dev(), 0);
}

static void bad_loads(void)
{
	STOPS(-EFAULT, "outside", I(0x79, 0, 0, 0, 0), EXIT); /* null */
	STOPS(-EFAULT, "outside", MOVR(3, 1), I(0x0f, 3, 2, 0, 0),
	      I(0x71, 0, 3, 0, 0), EXIT); /* ctx + ctx size */
	STOPS(-EFAULT, "outside", I(0x79, 0, 1, -8, 0), EXIT); /* before ctx */
	STOPS(-EFAULT, "outside", I(0x79, 0, 10, 0, 0), EXIT); /* above stack */
	STOPS(-EFAULT, "outside", MOVR(3, 10), ADDK(3, -4097),
	      I(0x71, 0, 3, 0, 0), EXIT); /* below the deepest frame */
	STOPS(-EFAULT, "outside", LDDW(3, UINT64_MAX), I(0x71, 0, 3, 0, 0), EXIT);
	/* pointer arithmetic into the next region (no data here) */
	STOPS(-EFAULT, "outside", LDDW(3, 1ull << 32), I(0x0f, 3, 1, 0, 0),
	      I(0x71, 0, 3, 0, 0), EXIT);
	STOPS(-EFAULT, "outside", MOVR(3, 1), ADDK(3, -1), I(0x71, 0, 3, 0, 0),
	      EXIT);
	/* a load that starts inside and ends outside */
	STOPS(-EFAULT, "outside", MOVR(3, 10), I(0x79, 0, 3, -4, 0), EXIT);
}

static void bad_stores(void)
{
	STOPS(-EFAULT, "read-only", ST(SZ_W, 1, 0, 1), MOV(0, 0), EXIT);
	STOPS(-EFAULT, "outside", ST(SZ_DW, 10, 0, 1), MOV(0, 0), EXIT);
	STOPS(-EFAULT, "outside", MOV(3, 8), ST(SZ_B, 3, 0, 1), MOV(0, 0), EXIT);
	STOPS(-EFAULT, "outside", MOVR(3, 10), STX(SZ_DW, 3, 3, -4099), MOV(0, 0),
	      EXIT);
	/* atomics: outside and misaligned */
	STOPS(-EFAULT, "outside", I(0xdb, 10, 1, 0, 0), MOV(0, 0), EXIT);
	STOPS(-EFAULT, "aligned", I(0xdb, 10, 1, -12, 0), MOV(0, 0), EXIT);
}

static void helper_bad_pointers(void)
{
	/* zvd_read into null, into the read-only context, across the end
	 * of the stack */
	STOPS(-EFAULT, "zvd_read buffer", MOV(1, 1), MOV(2, 0), MOV(3, 0),
	      MOV(4, 16), CALL(ZVD_HELPER_READ), EXIT);
	STOPS(-EFAULT, "zvd_read buffer", MOVR(3, 1), MOV(1, 1), MOV(2, 0),
	      MOV(4, 16), CALL(ZVD_HELPER_READ), EXIT);
	STOPS(-EFAULT, "zvd_read buffer", MOV(1, 1), MOV(2, 0), STACKBUF(3),
	      MOV(4, 4096), CALL(ZVD_HELPER_READ), EXIT);
	STOPS(-EINVAL, "over the limit", MOV(1, 1), MOV(2, 0), STACKBUF(3),
	      LDDW(4, 1ull << 32), CALL(ZVD_HELPER_READ), EXIT);
	/* zvd_emit: bad key length, key and value pointers */
	STOPS(-EINVAL, "key length", STACKBUF(1), MOV(2, 0), MOV(3, 1),
	      STACKBUF(4), MOV(5, 8), CALL(ZVD_HELPER_EMIT), EXIT);
	STOPS(-EINVAL, "key length", STACKBUF(1), MOV(2, 64), MOV(3, 1),
	      STACKBUF(4), MOV(5, 8), CALL(ZVD_HELPER_EMIT), EXIT);
	STOPS(-EFAULT, "zvd_emit", MOV(1, 64), MOV(2, 3), MOV(3, 1),
	      STACKBUF(4), MOV(5, 8), CALL(ZVD_HELPER_EMIT), EXIT);
	STOPS(-EFAULT, "zvd_emit value", STACKBUF(1), MOV(2, 3), MOV(3, 1),
	      STACKBUF(4), MOV(5, 1024), CALL(ZVD_HELPER_EMIT), EXIT);
	STOPS(-EINVAL, "bad type", STACKBUF(1), MOV(2, 3), MOV(3, 9),
	      STACKBUF(4), MOV(5, 8), CALL(ZVD_HELPER_EMIT), EXIT);
	/* geometry into the context, trace too long, arg into rodata */
	STOPS(-EFAULT, "zvd_geometry", MOVR(1, 1), MOV(2, 64),
	      CALL(ZVD_HELPER_GEOMETRY), EXIT);
	STOPS(-EINVAL, "too large", STACKBUF(1), MOV(2, 100000),
	      CALL(ZVD_HELPER_GEOMETRY), EXIT);
	STOPS(-EINVAL, "zvd_trace", STACKBUF(1), MOV(2, 129), MOV(3, 0),
	      CALL(ZVD_HELPER_TRACE), EXIT);
	STOPS(-EFAULT, "zvd_arg buffer", MOVR(3, 1), STACKBUF(1), MOV(2, 1),
	      MOV(4, 8), CALL(ZVD_HELPER_ARG), EXIT);
	STOPS(-EFAULT, "zvd_arg_u64", STACKBUF(1), MOV(2, 1), MOV(3, 0),
	      CALL(ZVD_HELPER_ARG_U64), EXIT);
}

static void helper_zone_grants(void)
{
	STOPS(-EACCES, "not granted", MOV(1, 2), MOV(2, 0), STACKBUF(3),
	      MOV(4, 16), CALL(ZVD_HELPER_READ), EXIT);
	STOPS(-EACCES, "not granted", MOV(1, 0), MOV(2, 0), STACKBUF(3),
	      MOV(4, 16), CALL(ZVD_HELPER_READ), EXIT);
	STOPS(-EACCES, "not granted", LDDW(1, (1ull << 32) + 1), MOV(2, 0),
	      STACKBUF(3), MOV(4, 16), CALL(ZVD_HELPER_READ), EXIT);
	STOPS(-EACCES, "not granted", MOV(1, 3), STACKBUF(2), MOV(3, 64),
	      CALL(ZVD_HELPER_ZONE_INFO), EXIT);
	/* append without the grant */
	STOPS(-EACCES, "append", MOV(1, 1), STACKBUF(2), MOV(3, 512), MOV(4, 0),
	      CALL(ZVD_HELPER_APPEND), EXIT);
}

static void append_grant_is_one_zone(void)
{
	struct t_insn other[] = { MOV(1, 2), STACKBUF(2), MOV(3, 512), MOV(4, 0),
				  CALL(ZVD_HELPER_APPEND), EXIT };
	struct zvd_csd_result res;
	struct zvd_csd_diag d;
	struct zvd_zone z;

	CHECK_EQ(run_on(other, NI(other), ZVD_CSD_GRANT_APPEND, 0, &res, &d),
		 -EACCES);
	CHECK_EQ(zvd_report(dev, 1, ZVD_REPORT_ALL, &z, 1), 1);
	CHECK_EQ(z.wp - z.start, DATA_LEN); /* nothing moved */
}

static void reads_stop_at_write_pointer(void)
{
	/* 100 bytes before the write pointer: only 100 come back */
	RETURNS(100, MOV(1, 1), MOV(2, DATA_LEN - 100), STACKBUF(3),
		MOV(4, 512), CALL(ZVD_HELPER_READ), EXIT);
	RETURNS(0, MOV(1, 1), MOV(2, DATA_LEN), STACKBUF(3), MOV(4, 512),
		CALL(ZVD_HELPER_READ), EXIT);
	RETURNS(0, MOV(1, 1), LDDW(2, UINT64_MAX), STACKBUF(3), MOV(4, 512),
		CALL(ZVD_HELPER_READ), EXIT);
	/* an unaligned read gets the right bytes */
	RETURNS(0xab, MOV(1, 1), MOV(2, 4095), STACKBUF(3), MOV(4, 3),
		CALL(ZVD_HELPER_READ), I(0x71, 0, 10, -511, 0), EXIT);
}

static void endless_loop_hits_budget(void)
{
	struct t_insn p[] = { MOV(0, 0), I(0x15, 0, 0, 1, 1), JA(-2), EXIT };
	struct zvd_csd_result res;
	struct zvd_csd_diag d;

	CHECK_EQ(run_on(p, NI(p), 0, 100000, &res, &d), -E2BIG);
	CHECK_EQ(res.insns, 100000);
	CHECK(strstr(d.msg, "budget"));
}

static void emit_overflow_is_not_fatal(void)
{
	/* emit 256 bytes into a 512-byte cap three times: -ENOSPC the third */
	struct t_insn p[] = {
		STACKBUF(6), ST(SZ_B, 6, 0, 'k'),
		MOV(7, 0),
		MOVR(1, 6), MOV(2, 1), MOV(3, ZVD_REC_BYTES), MOVR(4, 6),
		MOV(5, 256), CALL(ZVD_HELPER_EMIT), ADDK(7, 1),
		I(0x15, 0, 0, -8, 0), /* again while it returns 0 */
		MOVR(0, 7), EXIT,
	};
	struct zvd_csd_result res;
	struct zvd_csd_diag d;

	CHECK_EQ(run_on(p, NI(p), 0, 0, &res, &d), 0);
	CHECK_EQ(res.r0, sizeof(out_buf) / (8 + 8 + 256) + 1);
	CHECK(res.bytes_returned <= sizeof(out_buf));
}

static void no_device(void)
{
	struct t_insn p[] = { MOV(1, 0), MOV(2, 0), STACKBUF(3), MOV(4, 8),
			      CALL(ZVD_HELPER_READ), EXIT };
	struct zvd_csd_run_opts o = { .zone = 0 };
	struct zvd_csd_prog *prog;
	struct zvd_csd_result res;
	struct zvd_csd_diag d;

	CHECK_EQ(t_load(p, NI(p), &prog, &d), 0);
	CHECK_EQ(zvd_csd_run(prog, NULL, &o, &res, &d), 0);
	CHECK_EQ((int64_t)res.r0, -ENODEV);
	zvd_csd_prog_free(prog);
}

static void bad_grants_refused(void)
{
	struct t_insn p[] = { MOV(0, 0), EXIT };
	struct zvd_csd_run_opts o = { .zone = 5, .first_zone = 1, .nr_zones = 2 };
	struct zvd_csd_prog *prog;
	struct zvd_csd_result res;
	struct zvd_csd_diag d;

	CHECK_EQ(t_load(p, NI(p), &prog, &d), 0);
	CHECK_EQ(zvd_csd_run(prog, dev, &o, &res, &d), -EINVAL);
	o.zone = 7;
	o.first_zone = 6;
	o.nr_zones = 5; /* beyond the 8 zones */
	CHECK_EQ(zvd_csd_run(prog, dev, &o, &res, &d), -EINVAL);
	zvd_csd_prog_free(prog);
}

static void device_unharmed(void)
{
	struct zvd_zone z;
	uint8_t buf[4096];

	CHECK_EQ(zvd_report(dev, 1, ZVD_REPORT_ALL, &z, 1), 1);
	CHECK_EQ(z.wp - z.start, DATA_LEN);
	CHECK_EQ(zvd_read(dev, buf, sizeof(buf), ZONE_SIZE), 0);
	CHECK(buf[0] == 0xab && buf[4095] == 0xab);
	CHECK_EQ(zvd_close(dev), 0);
}

int main(void)
{
	RUN(setup);
	RUN(bad_loads);
	RUN(bad_stores);
	RUN(helper_bad_pointers);
	RUN(helper_zone_grants);
	RUN(append_grant_is_one_zone);
	RUN(reads_stop_at_write_pointer);
	RUN(endless_loop_hits_budget);
	RUN(emit_overflow_is_not_fatal);
	RUN(no_device);
	RUN(bad_grants_refused);
	RUN(device_unharmed);
	HARNESS_EXIT();
}

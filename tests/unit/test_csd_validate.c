// SPDX-License-Identifier: MIT
/*
 * test_csd_validate.c - every load-time rejection of the validator and
 * the raw loader: sizes, opcodes, registers, r10 writes, reserved
 * fields, lddw shape, jump and call targets, helpers, falling off the
 * end or into another function, no reachable exit. Each case checks the
 * errno and a word of the message.
 */
#include <errno.h>

#include <zvd_bpf_helpers.h>

#include "csd_asm.h"
#include "harness.h"

/* Expect loading @p to fail with @err and a message containing @word. */
static int rejects(const struct t_insn *p, size_t n, int err, const char *word)
{
	struct zvd_csd_prog *prog = NULL;
	struct zvd_csd_diag d = { 0 };
	int rc = t_load(p, n, &prog, &d);

	zvd_csd_prog_free(prog);
	if (rc != err || !strstr(d.msg, word)) {
		printf("# rc %d (want %d), message '%s' (want '%s')\n", rc, err,
		       d.msg, word);
		return 0;
	}
	return 1;
}

#define REJECT(word, ...)                                             \
	do {                                                          \
		struct t_insn p_[] = { __VA_ARGS__ };                 \
		CHECK(rejects(p_, NI(p_), -EINVAL, word));            \
	} while (0)

static void sizes(void)
{
	struct zvd_csd_prog *prog = NULL;
	struct zvd_csd_diag d;
	uint8_t odd[12] = { 0 };

	CHECK_EQ(zvd_csd_prog_load_raw(odd, 0, &prog, &d), -EINVAL);
	CHECK_EQ(zvd_csd_prog_load_raw(odd, 12, &prog, &d), -EINVAL);
	CHECK(strstr(d.msg, "8-byte"));
	CHECK(prog == NULL);
}

static void too_long(void)
{
	size_t n = ZVD_CSD_MAX_INSNS + 1;
	struct t_insn *p = calloc(n, sizeof(*p));
	struct zvd_csd_prog *prog = NULL;
	struct zvd_csd_diag d;

	CHECK(p);
	CHECK_EQ(t_load(p, n, &prog, &d), -E2BIG);
	free(p);
}

static void unknown_opcodes(void)
{
	REJECT("unknown", I(0x00, 0, 0, 0, 0), EXIT);  /* LD class, not lddw */
	REJECT("legacy", I(0x20, 0, 0, 0, 0), EXIT);   /* LD ABS */
	REJECT("unknown", I(0xe7, 0, 0, 0, 0), EXIT);  /* ALU64 code 0xe */
	REJECT("unknown", I(0xf4, 0, 0, 0, 0), EXIT);  /* ALU code 0xf */
	REJECT("unknown", I(0xe5, 0, 0, 0, 0), EXIT);  /* JMP code 0xe */
	REJECT("unknown", I(0x8d, 0, 1, 0, 0), EXIT);  /* callx */
	REJECT("unknown", I(0x96, 0, 0, 0, 0), EXIT);  /* exit in JMP32 */
	REJECT("unknown", I(0x99, 0, 1, 0, 0), EXIT);  /* MEMSX DW */
	REJECT("unknown", I(0xd3, 1, 2, 0, 0), EXIT);  /* atomic byte */
	REJECT("atomic", I(0xdb, 1, 2, 0, 0x10), EXIT);
	REJECT("unknown", I(0xdf, 0, 0, 0, 16), EXIT); /* ALU64 END with X */
}

static void registers(void)
{
	REJECT("register", I(0xbf, 11, 0, 0, 0), EXIT);
	REJECT("register", I(0xbf, 0, 12, 0, 0), EXIT);
	REJECT("r10", MOV(10, 0), EXIT);
	REJECT("r10", I(0x79, 10, 1, 0, 0), EXIT);
	REJECT("r10", LDDW(10, 1), EXIT);
	REJECT("r10", I(0xdb, 1, 10, 0, 0x01), EXIT); /* fetch writes src */
}

static void reserved_fields(void)
{
	REJECT("imm must be 0", I(0x0f, 0, 1, 0, 5), EXIT);
	REJECT("src must be 0", I(0x07, 0, 1, 0, 5), EXIT);
	REJECT("offset", I(0x07, 0, 0, 3, 5), EXIT);
	REJECT("division offset", I(0x37, 0, 0, 2, 5), EXIT);
	REJECT("neg", I(0x8f, 0, 1, 0, 0), EXIT);
	REJECT("movsx", I(0xb7, 0, 0, 8, 0), EXIT);
	REJECT("movsx", I(0xbf, 0, 1, 7, 0), EXIT);
	REJECT("movsx", I(0xbc, 0, 1, 32, 0), EXIT);
	REJECT("width", I(0xd4, 0, 0, 0, 8), EXIT);
	REJECT("width", I(0xd7, 0, 0, 0, 48), EXIT);
	REJECT("ja", I(0x05, 1, 0, 0, 0), EXIT);
	REJECT("ja32", I(0x06, 0, 0, 1, 0), EXIT);
	REJECT("exit", I(0x95, 0, 0, 0, 1));
	REJECT("call", I(0x85, 1, 0, 0, 1), EXIT);
	REJECT("BTF", I(0x85, 0, 2, 0, 1), EXIT);
	REJECT("load", I(0x61, 0, 1, 0, 1), EXIT);
	REJECT("store", I(0x63, 1, 0, 0, 1), EXIT);
	REJECT("store-immediate", I(0x62, 1, 2, 0, 1), EXIT);
	REJECT("imm must be 0", I(0x1d, 0, 1, 0, 1), EXIT);
	REJECT("src must be 0", I(0x15, 0, 1, 0, 1), EXIT);
}

static void lddw_shape(void)
{
	REJECT("last slot", EXIT, I(0x18, 0, 0, 0, 1));
	REJECT("second slot", I(0x18, 0, 0, 0, 1), I(0xb7, 0, 0, 0, 0), EXIT);
	REJECT("second slot", I(0x18, 0, 0, 0, 1), I(0, 1, 0, 0, 0), EXIT);
	REJECT("second slot", I(0x18, 0, 0, 0, 1), I(0, 0, 0, 1, 0), EXIT);
	REJECT("pseudo", I(0x18, 0, 1, 0, 1), I(0, 0, 0, 0, 0), EXIT);
}

static void jump_targets(void)
{
	REJECT("outside", JA(5), EXIT);
	REJECT("outside", JA(-3), EXIT);
	REJECT("outside", I(0x15, 0, 0, 100, 0), EXIT);
	REJECT("outside", I(0x06, 0, 0, 0, 1 << 30), EXIT);
	REJECT("middle of an lddw", JA(1), LDDW(0, 1), EXIT);
	REJECT("middle of an lddw", I(0x15, 0, 0, 2, 0), MOV(0, 1), LDDW(1, 2), EXIT);
	REJECT("outside", CALL_LOCAL(10), EXIT);
	REJECT("middle of an lddw", CALL_LOCAL(2), EXIT, LDDW(0, 1), EXIT);
}

static void helpers(void)
{
	REJECT("unknown helper", CALL(0), EXIT);
	REJECT("unknown helper", CALL(ZVD_HELPER_COUNT), EXIT);
	REJECT("unknown helper", CALL(-1), EXIT);
}

static void control_flow(void)
{
	REJECT("falls off", MOV(0, 0));
	REJECT("falls off", MOV(0, 0), I(0x15, 0, 0, -2, 0));
	REJECT("no exit", JA(-1));
	REJECT("no exit", MOV(0, 0), JA(-2));
	/* main falls through into the function it calls */
	REJECT("another function", CALL_LOCAL(0), MOV(0, 1), EXIT);
	/* a jump from main into the middle of a subprogram */
	REJECT("another function", CALL_LOCAL(2), JA(2), EXIT, MOV(0, 1),
	       MOV(0, 2), EXIT);
}

static void accepts_valid(void)
{
	struct t_insn p[] = { MOV(0, 1), I(0x15, 0, 0, 1, 0), CALL_LOCAL(1),
			      EXIT, MOV(0, 2), EXIT };
	struct t_insn unreachable_junk_ok[] = { EXIT, MOV(0, 1) };
	struct zvd_csd_prog *prog;
	struct zvd_csd_diag d;

	CHECK_EQ(t_load(p, NI(p), &prog, &d), 0);
	CHECK_EQ(zvd_csd_prog_len(prog), 6);
	zvd_csd_prog_free(prog);
	/* validation of every slot still applies, but unreachable code
	 * need not end in an exit */
	CHECK_EQ(t_load(unreachable_junk_ok, 2, &prog, &d), 0);
	zvd_csd_prog_free(prog);
	zvd_csd_prog_free(NULL);
}

int main(void)
{
	RUN(sizes);
	RUN(too_long);
	RUN(unknown_opcodes);
	RUN(registers);
	RUN(reserved_fields);
	RUN(lddw_shape);
	RUN(jump_targets);
	RUN(helpers);
	RUN(control_flow);
	RUN(accepts_valid);
	HARNESS_EXIT();
}

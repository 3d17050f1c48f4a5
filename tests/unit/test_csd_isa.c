// SPDX-License-Identifier: MIT
/*
 * test_csd_isa.c - the eBPF interpreter, instruction by instruction
 * (RFC 9669): every ALU and ALU64 operation in both source forms,
 * division and modulo by zero and INT_MIN / -1, shift masking, sign
 * extension, 32-bit zero extension, byte swaps, every conditional jump
 * in 64 and 32 bits, loads and stores of every size, sign-extending
 * loads, atomics, lddw, local calls and the frame registers.
 */
#include <errno.h>
#include <inttypes.h>

#include "csd_asm.h"
#include "harness.h"

#define M64 UINT64_MAX
#define MIN64 0x8000000000000000ull
#define X 0x1000 /* table flag: register form (b in r1) */

struct alu_case {
	uint8_t op;
	int16_t off;
	uint64_t a, b, want;
	int line;
};

#define A(op, off, a, b, want) { op, off, a, b, want, __LINE__ }

static const struct alu_case alu_cases[] = {
	/* ALU64, register source */
	A(0x0f, 0, 1, 2, 3), A(0x0f, 0, M64, 1, 0),
	A(0x1f, 0, 1, 2, M64),
	A(0x2f, 0, 1ull << 32, 1ull << 32, 0), A(0x2f, 0, 3, M64, (uint64_t)-3),
	A(0x3f, 0, 10, 3, 3), A(0x3f, 0, 10, 0, 0), A(0x3f, 0, M64, 2, M64 >> 1),
	A(0x3f, 1, (uint64_t)-10, 3, (uint64_t)-3), A(0x3f, 1, MIN64, M64, MIN64),
	A(0x3f, 1, 5, 0, 0),
	A(0x9f, 0, 10, 3, 1), A(0x9f, 0, 10, 0, 10),
	A(0x9f, 1, (uint64_t)-10, 3, (uint64_t)-1), A(0x9f, 1, 10, (uint64_t)-3, 1),
	A(0x9f, 1, MIN64, M64, 0), A(0x9f, 1, (uint64_t)-7, 0, (uint64_t)-7),
	A(0x4f, 0, 0xf0, 0x0f, 0xff), A(0x5f, 0, 0xf0, 0x3c, 0x30),
	A(0xaf, 0, 0xff, 0x0f, 0xf0),
	A(0x6f, 0, 1, 63, MIN64), A(0x6f, 0, 1, 64, 1), A(0x6f, 0, 1, 65, 2),
	A(0x7f, 0, MIN64, 63, 1), A(0x7f, 0, MIN64, 64, MIN64),
	A(0xcf, 0, MIN64, 63, M64), A(0xcf, 0, (uint64_t)-16, 2, (uint64_t)-4),
	A(0xbf, 0, 7, 0x1234, 0x1234),
	A(0xbf, 8, 0, 0x80, 0xffffffffffffff80ull), A(0xbf, 8, 0, 0x17f, 0x7f),
	A(0xbf, 16, 0, 0x8000, 0xffffffffffff8000ull),
	A(0xbf, 32, 0, 0x80000000, 0xffffffff80000000ull),
	/* ALU64, immediate source (sign-extended) */
	A(0x07, 0, 5, -3, 2), A(0x17, 0, 5, 7, (uint64_t)-2),
	A(0x27, 0, 5, -1, (uint64_t)-5), A(0xb7, 0, 9, -1, M64),
	A(0x57, 0, M64, 0x80000000, 0xffffffff80000000ull),
	A(0x47, 0, 0, -2, (uint64_t)-2), A(0xa7, 0, 0, -1, M64),
	A(0x37, 0, 10, 0, 0), A(0x37, 0, 10, -1, 0), A(0x37, 1, 10, -1, (uint64_t)-10),
	A(0x97, 0, 10, 0, 10), A(0x97, 1, (uint64_t)-10, 3, (uint64_t)-1),
	A(0x67, 0, 1, 65, 2), A(0x77, 0, 4, 66, 1),
	A(0xc7, 0, (uint64_t)-16, 2, (uint64_t)-4), A(0x87, 0, 5, 0, (uint64_t)-5),
	A(0xd7, 0, 0x1122334455667788ull, 16, 0x8877),
	A(0xd7, 0, 0x1122334455667788ull, 32, 0x88776655),
	A(0xd7, 0, 0x1122334455667788ull, 64, 0x8877665544332211ull),
	/* ALU (32-bit): results are zero-extended */
	A(0x0c, 0, 0xffffffff, 1, 0), A(0x0c, 0, 0x1ffffffffull, 0, 0xffffffff),
	A(0x1c, 0, 0, 1, 0xffffffff),
	A(0x2c, 0, 0x10000, 0x10000, 0),
	A(0x3c, 0, 0x100000010ull, 3, 5), A(0x3c, 0, 0x100000010ull, 0, 0),
	A(0x3c, 1, (uint32_t)-10, 3, (uint32_t)-3),
	A(0x3c, 1, 0x80000000, 0xffffffff, 0x80000000),
	A(0x9c, 0, 0x10000000aull, 3, 1),
	A(0x9c, 0, 0xffffffff0000000aull, 0, 0xa),
	A(0x9c, 1, (uint32_t)-10, 3, 0xffffffff),
	A(0x9c, 1, 0x80000000, 0xffffffff, 0),
	A(0x4c, 0, 0xffffffff00000000ull, 1, 1),
	A(0x5c, 0, M64, 0xff00000000ull, 0), A(0xac, 0, M64, 0, 0xffffffff),
	A(0x6c, 0, 1, 31, 0x80000000), A(0x6c, 0, 1, 32, 1),
	A(0x7c, 0, 0xffffffff80000000ull, 31, 1),
	A(0xcc, 0, 0x80000000, 31, 0xffffffff),
	A(0xbc, 0, 7, 0xffffffff12345678ull, 0x12345678),
	A(0xbc, 8, 0, 0x80, 0xffffff80), A(0xbc, 16, 0, 0x8000, 0xffff8000),
	/* ALU (32-bit), immediate source */
	A(0x04, 0, 0xffffffff, 1, 0), A(0xb4, 0, 5, -1, 0xffffffff),
	A(0x84, 0, 1, 0, 0xffffffff), A(0x34, 0, 7, 0, 0),
	A(0x94, 0, 0x1234500000007ull, 0, 7),
	A(0xc4, 0, 0x80000000, 4, 0xf8000000), A(0x64, 0, 3, 33, 6),
	A(0xd4, 0, 0x1122334455667788ull, 16, 0x7788),
	A(0xd4, 0, 0x1122334455667788ull, 32, 0x55667788),
	A(0xd4, 0, 0x1122334455667788ull, 64, 0x1122334455667788ull),
	A(0xdc, 0, 0x1122334455667788ull, 16, 0x8877),
	A(0xdc, 0, 0x1122334455667788ull, 32, 0x88776655),
	A(0xdc, 0, 0x1122334455667788ull, 64, 0x8877665544332211ull),
};

static void alu_ops(void)
{
	size_t k;

	for (k = 0; k < NI(alu_cases); k++) {
		const struct alu_case *c = &alu_cases[k];
		bool x = c->op & 0x08 && (c->op & 0xf0) != 0xd0;
		struct t_insn p[] = {
			LDDW(0, c->a), LDDW(1, c->b),
			x ? I(c->op, 0, 1, c->off, 0)
			  : I(c->op, 0, 0, c->off, (int32_t)c->b),
			EXIT,
		};
		struct zvd_csd_diag d;
		uint64_t r0 = 0;
		int rc = t_exec(p, NI(p), NULL, 0, 0, &r0, &d);

		if (rc || r0 != c->want)
			printf("# line %d: op 0x%02x off %d: rc %d r0 0x%" PRIx64
			       " want 0x%" PRIx64 " (%s)\n",
			       c->line, c->op, c->off, rc, r0, c->want,
			       rc ? d.msg : "");
		CHECK_EQ(rc, 0);
		CHECK(r0 == c->want);
	}
}

struct jmp_case {
	uint8_t op;
	uint64_t a, b;
	int taken, line;
};

#define J(op, a, b, t) { op, a, b, t, __LINE__ }

static const struct jmp_case jmp_cases[] = {
	J(0x1d, 5, 5, 1), J(0x1d, 5, 6, 0), J(0x15, M64, -1, 1),
	J(0x2d, M64, 1, 1), J(0x2d, 1, 1, 0), J(0x25, 2, 1, 1),
	J(0x3d, 1, 1, 1), J(0x3d, 0, 1, 0), J(0x35, 1, -1, 0),
	J(0x4d, 6, 1, 0), J(0x4d, 6, 2, 1), J(0x45, 6, 4, 1),
	J(0x5d, 1, 2, 1), J(0x5d, 2, 2, 0), J(0x55, 2, 3, 1),
	J(0x6d, M64, 1, 0), J(0x6d, 1, M64, 1), J(0x65, 0, -1, 1),
	J(0x7d, M64, M64, 1), J(0x7d, (uint64_t)-2, M64, 0), J(0x75, 0, 0, 1),
	J(0xad, 1, M64, 1), J(0xad, M64, 1, 0), J(0xa5, 0, 1, 1),
	J(0xbd, 1, 1, 1), J(0xbd, 2, 1, 0), J(0xb5, 1, -1, 1),
	J(0xcd, M64, 1, 1), J(0xcd, 1, M64, 0), J(0xc5, (uint64_t)-5, -4, 1),
	J(0xdd, M64, M64, 1), J(0xdd, 0, M64, 0), J(0xd5, 0, 0, 1),
	/* JMP32: only the low 32 bits count */
	J(0x1e, 0x100000005ull, 5, 1), J(0x16, 0x100000005ull, 5, 1),
	J(0x2e, 0x1, 0x100000000ull, 1), J(0x26, 0xffffffff, -1, 0),
	J(0x3e, 0x100000000ull, 1, 0), J(0x36, 5, 5, 1),
	J(0x4e, 0x100000000ull, 0x100000000ull, 0), J(0x46, 3, 2, 1),
	J(0x5e, 0x100000001ull, 1, 0), J(0x56, 1, 2, 1),
	J(0x6e, 0x80000000, 1, 0), J(0x66, 1, -1, 1),
	J(0x7e, 0xffffffff, 0xffffffff, 1), J(0x76, 0x80000000, 0, 0),
	J(0xae, 0xffffffff, 1, 0), J(0xa6, 0x1ffffffffull, 1, 0),
	J(0xbe, 1, 1, 1), J(0xb6, 2, 1, 0),
	J(0xce, 0x80000000, 1, 1), J(0xc6, 0xfffffffe, -1, 1),
	J(0xde, 0xffffffff, 0xffffffff, 1), J(0xd6, 0, -1, 0),
};

static void jumps(void)
{
	size_t k;

	for (k = 0; k < NI(jmp_cases); k++) {
		const struct jmp_case *c = &jmp_cases[k];
		struct t_insn p[] = {
			MOV(0, 0), LDDW(1, c->a), LDDW(2, c->b),
			c->op & 0x08 ? I(c->op, 1, 2, 1, 0)
				     : I(c->op, 1, 0, 1, (int32_t)c->b),
			EXIT, MOV(0, 1), EXIT,
		};
		struct zvd_csd_diag d;
		uint64_t r0 = 9;
		int rc = t_exec(p, NI(p), NULL, 0, 0, &r0, &d);

		if (rc || r0 != (uint64_t)c->taken)
			printf("# line %d: op 0x%02x: rc %d taken %" PRIu64 "\n",
			       c->line, c->op, rc, r0);
		CHECK_EQ(rc, 0);
		CHECK_EQ(r0, c->taken);
	}
}

static void ja_forms(void)
{
	struct t_insn p[] = { MOV(0, 1), JA(1), MOV(0, 2), I(0x06, 0, 0, 0, 1),
			      MOV(0, 3), EXIT };
	struct zvd_csd_diag d;
	uint64_t r0;

	CHECK_EQ(t_exec(p, NI(p), NULL, 0, 0, &r0, &d), 0);
	CHECK_EQ(r0, 1);
}

static void lddw_full_width(void)
{
	struct t_insn p[] = { LDDW(0, 0x8123456789abcdefull), EXIT };
	struct zvd_csd_diag d;
	uint64_t r0;

	CHECK_EQ(t_exec(p, NI(p), NULL, 0, 0, &r0, &d), 0);
	CHECK(r0 == 0x8123456789abcdefull);
}

/* Load @op of the window's bytes at offset @off. */
static uint64_t load_one(uint8_t op, int16_t off, uint8_t *mem, int *rc)
{
	struct t_insn p[] = { I(op, 0, 1, off, 0), EXIT };
	struct zvd_csd_diag d;
	uint64_t r0 = 0;

	*rc = t_exec(p, NI(p), mem, 16, 0, &r0, &d);
	return r0;
}

static void loads_every_size(void)
{
	uint8_t mem[16] = { 0x88, 0x77, 0x66, 0x85, 0x44, 0x33, 0x22, 0x91 };
	int rc;

	CHECK(load_one(0x71, 0, mem, &rc) == 0x88 && !rc);
	CHECK(load_one(0x69, 0, mem, &rc) == 0x7788 && !rc);
	CHECK(load_one(0x61, 0, mem, &rc) == 0x85667788 && !rc);
	CHECK(load_one(0x79, 0, mem, &rc) == 0x9122334485667788ull && !rc);
	CHECK(load_one(0x71, 3, mem, &rc) == 0x85 && !rc);
	/* sign-extending loads (cpu v4) */
	CHECK(load_one(0x91, 0, mem, &rc) == 0xffffffffffffff88ull && !rc);
	CHECK(load_one(0x89, 0, mem, &rc) == 0x7788 && !rc);
	CHECK(load_one(0x89, 2, mem, &rc) == 0xffffffffffff8566ull && !rc);
	CHECK(load_one(0x81, 0, mem, &rc) == 0xffffffff85667788ull && !rc);
	CHECK(load_one(0x81, 4, mem, &rc) == 0xffffffff91223344ull && !rc);
}

static void stores_every_size(void)
{
	uint8_t mem[16] = { 0 };
	struct t_insn p[] = {
		LDDW(2, 0x1122334455667788ull),
		STX(SZ_B, 1, 2, 0), STX(SZ_H, 1, 2, 2), STX(SZ_W, 1, 2, 4),
		STX(SZ_DW, 1, 2, 8), ST(SZ_B, 1, 1, -1), MOV(0, 0), EXIT,
	};
	struct t_insn q[] = { ST(SZ_DW, 1, 0, -2), ST(SZ_W, 1, 8, -1),
			      ST(SZ_H, 1, 12, 0x1234), MOV(0, 0), EXIT };
	static const uint8_t want[16] = { 0x88, 0xff, 0x88, 0x77, 0x88, 0x77,
					  0x66, 0x55, 0x88, 0x77, 0x66, 0x55,
					  0x44, 0x33, 0x22, 0x11 };
	struct zvd_csd_diag d;
	uint64_t r0, v;

	CHECK_EQ(t_exec(p, NI(p), mem, sizeof(mem), 0, &r0, &d), 0);
	CHECK(!memcmp(mem, want, 16));
	CHECK_EQ(t_exec(q, NI(q), mem, sizeof(mem), 0, &r0, &d), 0);
	memcpy(&v, mem, 8);
	CHECK(v == (uint64_t)-2); /* ST DW sign-extends its imm */
	memcpy(&v, mem + 8, 8);
	CHECK(v == 0x11221234ffffffffull);
}

static void stack_round_trip(void)
{
	struct t_insn p[] = { LDDW(1, 0xdeadbeefcafef00dull), STX(SZ_DW, 10, 1, -8),
			      LDX(SZ_DW, 0, 10, -8), EXIT };
	struct zvd_csd_diag d;
	uint64_t r0;

	CHECK_EQ(t_exec(p, NI(p), NULL, 0, 0, &r0, &d), 0);
	CHECK(r0 == 0xdeadbeefcafef00dull);
}

/* Atomic @imm of @size (0xc3 W / 0xdb DW) on mem[0] = @init with
 * r2 = @src, r0 = @r0in; returns r0 after and the memory and r2. */
static int atomic_one(uint8_t op, int32_t imm, uint64_t init, uint64_t src,
		      uint64_t r0in, uint64_t *mem_out, uint64_t *r2_out,
		      uint64_t *r0_out)
{
	uint64_t mem[2] = { init, 0 };
	struct t_insn p[] = {
		LDDW(2, src), LDDW(0, r0in), I(op, 1, 2, 0, imm),
		STX(SZ_DW, 1, 2, 8), EXIT,
	};
	struct zvd_csd_diag d;
	int rc = t_exec(p, NI(p), mem, sizeof(mem), 0, r0_out, &d);

	*mem_out = mem[0];
	*r2_out = mem[1];
	return rc;
}

static void atomics(void)
{
	uint64_t m, r2, r0;

	CHECK_EQ(atomic_one(0xdb, 0x00, 5, 3, 0, &m, &r2, &r0), 0);
	CHECK(m == 8 && r2 == 3);
	CHECK_EQ(atomic_one(0xdb, 0x01, 5, 3, 0, &m, &r2, &r0), 0);
	CHECK(m == 8 && r2 == 5);
	CHECK_EQ(atomic_one(0xdb, 0x41, 0xf0, 0x0f, 0, &m, &r2, &r0), 0);
	CHECK(m == 0xff && r2 == 0xf0);
	CHECK_EQ(atomic_one(0xdb, 0x51, 0xf0, 0x3c, 0, &m, &r2, &r0), 0);
	CHECK(m == 0x30 && r2 == 0xf0);
	CHECK_EQ(atomic_one(0xdb, 0xa1, 0xff, 0x0f, 0, &m, &r2, &r0), 0);
	CHECK(m == 0xf0 && r2 == 0xff);
	CHECK_EQ(atomic_one(0xdb, 0xe1, 1, 2, 0, &m, &r2, &r0), 0);
	CHECK(m == 2 && r2 == 1);
	CHECK_EQ(atomic_one(0xdb, 0xf1, 7, 9, 7, &m, &r2, &r0), 0);
	CHECK(m == 9 && r0 == 7);
	CHECK_EQ(atomic_one(0xdb, 0xf1, 7, 9, 6, &m, &r2, &r0), 0);
	CHECK(m == 7 && r0 == 7);
	/* 32-bit: the upper half of memory is untouched, results zero-extended */
	CHECK_EQ(atomic_one(0xc3, 0x01, 0xaaaaaaaaffffffffull, 1, 0, &m, &r2, &r0), 0);
	CHECK(m == 0xaaaaaaaa00000000ull && r2 == 0xffffffff);
	CHECK_EQ(atomic_one(0xc3, 0xf1, 0x1100000005ull, 9, 0xff00000005ull, &m, &r2, &r0), 0);
	CHECK(m == 0x1100000009ull && r0 == 5);
	CHECK_EQ(atomic_one(0xc3, 0xe1, 0x1100000005ull, 0xffffffff00000007ull, 0, &m, &r2, &r0), 0);
	CHECK(m == 0x1100000007ull && r2 == 5);
}

static void local_call_keeps_callee_saved(void)
{
	/* main: r6..r9 = 6..9; call f; r0 = r6+r7+r8+r9 + r0; f clobbers
	 * r6..r9 and uses its own stack frame */
	struct t_insn p[] = {
		MOV(6, 6), MOV(7, 7), MOV(8, 8), MOV(9, 9),
		ST(SZ_DW, 10, -8, 100),
		CALL_LOCAL(7),
		I(0x0f, 0, 6, 0, 0), I(0x0f, 0, 7, 0, 0), I(0x0f, 0, 8, 0, 0),
		I(0x0f, 0, 9, 0, 0),
		LDX(SZ_DW, 1, 10, -8), I(0x0f, 0, 1, 0, 0),
		EXIT,
		/* f: */
		MOV(6, 0), MOV(7, 0), MOV(8, 0), MOV(9, 0),
		ST(SZ_DW, 10, -8, 1), MOV(0, 1000), EXIT,
	};
	struct zvd_csd_diag d;
	uint64_t r0;

	CHECK_EQ(t_exec(p, NI(p), NULL, 0, 0, &r0, &d), 0);
	CHECK_EQ(r0, 1000 + 6 + 7 + 8 + 9 + 100);
}

static void call_depth_limit(void)
{
	/* f calls itself forever: -ELOOP, not a host stack overflow */
	struct t_insn p[] = { CALL_LOCAL(-1), EXIT };
	struct zvd_csd_diag d;
	uint64_t r0;

	CHECK_EQ(t_exec(p, NI(p), NULL, 0, 0, &r0, &d), -ELOOP);
}

static void registers_start_clean(void)
{
	/* r0, r3-r9 are zero at entry; r2 is the window length */
	struct t_insn p[] = { MOVR(0, 2), I(0x0f, 0, 3, 0, 0),
			      I(0x0f, 0, 9, 0, 0), EXIT };
	uint8_t mem[24];
	struct zvd_csd_diag d;
	uint64_t r0;

	CHECK_EQ(t_exec(p, NI(p), mem, sizeof(mem), 0, &r0, &d), 0);
	CHECK_EQ(r0, 24);
}

static void insns_are_counted(void)
{
	struct t_insn p[] = { MOV(0, 3), I(0x17, 0, 0, 0, 1),
			      I(0x55, 0, 0, -2, 0), EXIT };
	struct zvd_csd_prog *prog;
	struct zvd_csd_result res;
	struct zvd_csd_diag d;

	CHECK_EQ(t_load(p, NI(p), &prog, &d), 0);
	CHECK_EQ(zvd_csd_exec(prog, NULL, 0, 0, &res, &d), 0);
	CHECK_EQ(res.insns, 1 + 3 * 2 + 1);
	zvd_csd_prog_free(prog);
}

int main(void)
{
	RUN(alu_ops);
	RUN(jumps);
	RUN(ja_forms);
	RUN(lddw_full_width);
	RUN(loads_every_size);
	RUN(stores_every_size);
	RUN(stack_round_trip);
	RUN(atomics);
	RUN(local_call_keeps_callee_saved);
	RUN(call_depth_limit);
	RUN(registers_start_clean);
	RUN(insns_are_counted);
	HARNESS_EXIT();
}

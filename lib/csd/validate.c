// SPDX-License-Identifier: MIT
/*
 * validate.c - load-time checks of an instruction image, before it may
 * run:
 *   1. every slot: opcode on the allowlist (RFC 9669 base32, base64,
 *      divmul32/64, atomic32/64, cpu v4), registers 0-10, no write to r10,
 *      reserved fields zero, lddw complete with src 0;
 *   2. every jump and local call lands inside the program and never in
 *      the second slot of an lddw; helper numbers are known;
 *   3. from the entry: nothing falls off the end or into another
 *      function, no jump crosses into another function, and an exit is
 *      reachable.
 * Run-time checks (memory, budget, call depth) are vm.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csd.h"

/* ---- 1. one slot ---- */

/* Atomic operations (imm of 0xc3 / 0xdb). */
static bool atomic_op_ok(int32_t imm)
{
	switch (imm) {
	case 0x00: case 0x01: case 0x40: case 0x41: case 0x50: case 0x51:
	case 0xa0: case 0xa1: case 0xe1: case 0xf1:
		return true;
	}
	return false;
}

/* Check an ALU or ALU64 slot; NULL when fine, else why not. */
static const char *check_alu(const struct csd_insn *i)
{
	uint8_t code = i->op >> 4;
	bool x = i->op & 0x08, is64 = (i->op & 7) == CSD_ALU64;

	if (code > 0xc && code != 0xd)
		return "unknown ALU operation";
	if (x && i->imm && code != 0xd)
		return "imm must be 0 with a register source";
	if (!x && CSD_SRC(i))
		return "src must be 0 with an immediate source";
	if (code == 0xd) {
		if (CSD_SRC(i) || i->off)
			return "reserved fields of a byte swap are not 0";
		if (is64 && x)
			return "unknown ALU64 byte-swap opcode";
		if (i->imm != 16 && i->imm != 32 && i->imm != 64)
			return "byte-swap width must be 16, 32 or 64";
		return NULL;
	}
	if (code == 0x8 && x)
		return "neg takes no source register";
	if (code == 0x3 || code == 0x9)
		return i->off == 0 || i->off == 1 ? NULL
						  : "division offset must be 0 or 1";
	if (code == 0xb && i->off) {
		if (!x)
			return "movsx needs a register source";
		if (i->off == 8 || i->off == 16 || (is64 && i->off == 32))
			return NULL;
		return "movsx offset must be 8, 16 (or 32 for ALU64)";
	}
	return i->off ? "offset must be 0 for this ALU operation" : NULL;
}

static const char *check_jmp(const struct csd_insn *i)
{
	uint8_t code = i->op >> 4;
	bool x = i->op & 0x08, j32 = (i->op & 7) == CSD_JMP32;

	if (i->op == 0x05)
		return i->regs || i->imm ? "reserved fields of ja are not 0" : NULL;
	if (i->op == 0x06)
		return i->regs || i->off ? "reserved fields of ja32 are not 0" : NULL;
	if (i->op == 0x85) {
		if (CSD_DST(i) || i->off)
			return "reserved fields of call are not 0";
		if (CSD_SRC(i) > CSD_CALL_LOCAL)
			return "calls by BTF id are not supported";
		return NULL;
	}
	if (i->op == 0x95)
		return i->regs || i->off || i->imm ? "reserved fields of exit are not 0"
						   : NULL;
	if (code == 0x8 || code == 0x9 || code > 0xd || (j32 && code == 0))
		return "unknown jump opcode";
	if (x && i->imm)
		return "imm must be 0 with a register source";
	if (!x && CSD_SRC(i))
		return "src must be 0 with an immediate source";
	return NULL;
}

static const char *check_mem(const struct csd_insn *i)
{
	uint8_t mode = i->op & 0xe0, cls = i->op & 7, size = (i->op >> 3) & 3;

	switch (cls) {
	case CSD_LDX:
		if (mode != 0x60 && !(mode == 0x80 && size != 3))
			return "unknown load opcode";
		return i->imm ? "imm of a load must be 0" : NULL;
	case CSD_ST:
		if (mode != 0x60)
			return "unknown store opcode";
		return CSD_SRC(i) ? "src of a store-immediate must be 0" : NULL;
	case CSD_STX:
		if (mode == 0x60)
			return i->imm ? "imm of a store must be 0" : NULL;
		if (mode != 0xc0 || (size != 0 && size != 3))
			return "unknown store opcode";
		return atomic_op_ok(i->imm) ? NULL : "unknown atomic operation";
	}
	return "unknown opcode";
}

/* Does slot @i write register dst (or src, for fetching atomics)? */
static bool writes_r10(const struct csd_insn *i)
{
	uint8_t cls = i->op & 7;

	if (cls == CSD_ALU || cls == CSD_ALU64 || cls == CSD_LDX ||
	    cls == CSD_LD)
		return CSD_DST(i) == 10;
	if (cls == CSD_STX && (i->op & 0xe0) == 0xc0 && (i->imm & 1) &&
	    i->imm != 0xf1)
		return CSD_SRC(i) == 10;
	return false;
}

static const char *check_lddw(const struct csd_insn *i, uint32_t pc,
			      uint32_t n)
{
	if (pc + 1 >= n)
		return "lddw in the last slot";
	if (CSD_SRC(i))
		return "lddw pseudo sources (maps, BTF) are not supported";
	if (i->off)
		return "reserved fields of lddw are not 0";
	if (i[1].op || i[1].regs || i[1].off)
		return "second slot of lddw is not zero apart from imm";
	return NULL;
}

static const char *check_slot(const struct csd_insn *i, uint32_t pc,
			      uint32_t n)
{
	const char *why;

	if (CSD_DST(i) > 10 || CSD_SRC(i) > 10)
		return "register number above 10";
	switch (i->op & 7) {
	case CSD_LD:
		if (i->op == 0x18)
			why = check_lddw(i, pc, n);
		else if ((i->op & 0xe0) == 0x20 || (i->op & 0xe0) == 0x40)
			why = "legacy packet loads are not supported";
		else
			why = "unknown opcode";
		break;
	case CSD_ALU:
	case CSD_ALU64:
		why = check_alu(i);
		break;
	case CSD_JMP:
	case CSD_JMP32:
		why = check_jmp(i);
		break;
	default:
		why = check_mem(i);
		break;
	}
	if (!why && writes_r10(i))
		why = "r10 is read-only";
	if (!why && i->op == 0x85 && CSD_SRC(i) == CSD_CALL_HELPER &&
	    !csd_helper(i->imm))
		why = "unknown helper";
	return why;
}

/* ---- 2. control flow ---- */

struct vstate {
	const struct csd_insn *insns;
	uint32_t n;
	uint8_t *flags;	    /* per slot: SLOT_* */
	uint32_t *starts;   /* sorted function starts */
	uint32_t nstarts;
	uint32_t *work;	    /* BFS stack */
	uint32_t nwork;
	struct zvd_csd_diag *diag;
};

enum {
	SLOT_SECOND = 1,  /* second half of an lddw */
	SLOT_START = 2,	  /* a function starts here */
	SLOT_SEEN = 4,	  /* reachable from the entry */
};

static bool is_jump(const struct csd_insn *i)
{
	uint8_t cls = i->op & 7;

	return (cls == CSD_JMP || cls == CSD_JMP32) && i->op != 0x85 &&
	       i->op != 0x95;
}

/* Target slot of jump or local call @i at @pc, as a 64-bit number. */
static int64_t target_of(const struct csd_insn *i, uint32_t pc)
{
	if (i->op == 0x06 || i->op == 0x85)
		return (int64_t)pc + 1 + i->imm;
	return (int64_t)pc + 1 + i->off;
}

static int check_target(struct vstate *v, uint32_t pc, int64_t t)
{
	if (t < 0 || t >= v->n)
		return csd_diag(v->diag, -EINVAL, pc,
				"pc %u: jump target %lld is outside the program",
				pc, (long long)t);
	if (v->flags[t] & SLOT_SECOND)
		return csd_diag(v->diag, -EINVAL, pc,
				"pc %u: jump into the middle of an lddw", pc);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Pass over every slot: check it, mark lddw halves, collect starts. */
static int scan_slots(struct vstate *v, uint32_t entry)
{
	const struct csd_insn *i;
	const char *why;
	uint32_t pc;

	v->starts[v->nstarts++] = entry;
	for (pc = 0; pc < v->n; pc++) {
		i = &v->insns[pc];
		why = check_slot(i, pc, v->n);
		if (why)
			return csd_diag(v->diag, -EINVAL, pc,
					"pc %u: %s (opcode 0x%02x)", pc, why,
					i->op);
		if (i->op == 0x18)
			v->flags[++pc] |= SLOT_SECOND;
	}
	for (pc = 0; pc < v->n; pc++) {
		i = &v->insns[pc];
		if (v->flags[pc] & SLOT_SECOND)
			continue;
		if (is_jump(i) || (i->op == 0x85 && CSD_SRC(i) == CSD_CALL_LOCAL)) {
			int err = check_target(v, pc, target_of(i, pc));

			if (err)
				return err;
		}
		if (i->op == 0x85 && CSD_SRC(i) == CSD_CALL_LOCAL)
			v->starts[v->nstarts++] = (uint32_t)target_of(i, pc);
	}
	qsort(v->starts, v->nstarts, sizeof(*v->starts), cmp_u32);
	for (pc = 0; pc < v->nstarts; pc++)
		v->flags[v->starts[pc]] |= SLOT_START;
	return 0;
}

/* Index of the function holding @pc, or -1 before the first one. */
static long func_of(const struct vstate *v, uint32_t pc)
{
	uint32_t lo = 0, hi = v->nstarts;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (v->starts[mid] <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (long)lo - 1;
}

/* Follow the edge from @pc to @to; @call: a call into a new function. */
static int visit(struct vstate *v, uint32_t pc, uint64_t to, bool call)
{
	if (to >= v->n)
		return csd_diag(v->diag, -EINVAL, pc,
				"pc %u: execution falls off the end of the program",
				pc);
	if (!call && func_of(v, (uint32_t)to) != func_of(v, pc))
		return csd_diag(v->diag, -EINVAL, pc,
				"pc %u: execution runs into another function at %llu",
				pc, (unsigned long long)to);
	if (v->flags[to] & SLOT_SEEN)
		return 0;
	v->flags[to] |= SLOT_SEEN;
	v->work[v->nwork++] = (uint32_t)to;
	return 0;
}

/* Successors of @pc; sets *exit when it is an exit. */
static int follow(struct vstate *v, uint32_t pc, bool *exit)
{
	const struct csd_insn *i = &v->insns[pc];
	int err = 0;

	if (i->op == 0x95) {
		*exit = true;
		return 0;
	}
	if (i->op == 0x18)
		return visit(v, pc, (uint64_t)pc + 2, false);
	if (i->op == 0x85 && CSD_SRC(i) == CSD_CALL_LOCAL)
		err = visit(v, pc, (uint64_t)target_of(i, pc), true);
	else if (is_jump(i))
		err = visit(v, pc, (uint64_t)target_of(i, pc), false);
	if (err || i->op == 0x05 || i->op == 0x06)
		return err;
	return visit(v, pc, (uint64_t)pc + 1, false);
}

static int walk(struct vstate *v, uint32_t entry)
{
	bool exit = false;
	int err;

	v->flags[entry] |= SLOT_SEEN;
	v->work[v->nwork++] = entry;
	while (v->nwork) {
		err = follow(v, v->work[--v->nwork], &exit);
		if (err)
			return err;
	}
	if (!exit)
		return csd_diag(v->diag, -EINVAL, UINT32_MAX,
				"no exit is reachable from the entry");
	return 0;
}

/* ---- entry point ---- */

int csd_validate(const struct csd_insn *insns, uint32_t n, uint32_t entry,
		 struct zvd_csd_diag *diag)
{
	struct vstate v = { .insns = insns, .n = n, .diag = diag };
	int err;

	if (!n)
		return csd_diag(diag, -EINVAL, UINT32_MAX, "empty program");
	if (n > ZVD_CSD_MAX_INSNS)
		return csd_diag(diag, -E2BIG, UINT32_MAX,
				"program of %u slots is over the limit of %u", n,
				ZVD_CSD_MAX_INSNS);
	if (entry >= n)
		return csd_diag(diag, -EINVAL, entry, "entry outside the program");
	v.flags = calloc(n, 1);
	v.starts = calloc((size_t)n + 1, sizeof(*v.starts));
	v.work = calloc(n, sizeof(*v.work));
	if (!v.flags || !v.starts || !v.work) {
		err = csd_diag(diag, -ENOMEM, UINT32_MAX, "out of memory");
		goto out;
	}
	err = scan_slots(&v, entry);
	if (!err && (v.flags[entry] & SLOT_SECOND))
		err = csd_diag(diag, -EINVAL, entry,
			       "entry in the middle of an lddw");
	if (!err)
		err = walk(&v, entry);
out:
	free(v.flags);
	free(v.starts);
	free(v.work);
	return err;
}

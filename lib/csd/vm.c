// SPDX-License-Identifier: MIT
/*
 * vm.c - the eBPF interpreter: RFC 9669 semantics for every instruction
 * the validator admits, with a check on every load, store and fetch.
 *
 * Sections: memory checks; ALU helpers (division, byte swaps); atomics;
 * calls and exits; the dispatch loop.
 *
 * The validator has already ruled out bad opcodes, registers, writes to
 * r10 and jumps outside the program; the loop still checks the pc on
 * every fetch so that a validator bug cannot become a host read. Guest
 * addresses are (region << 32) | offset (see csd.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "csd.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* ---- memory checks ---- */

int csd_fail(struct csd_run *run, int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (run->fault)
		return run->fault;
	run->fault = err;
	run->diag->err = err;
	run->diag->pc = run->pc;
	n = snprintf(run->diag->msg, sizeof(run->diag->msg), "pc %u: ",
		     run->pc);
	if (n < 0 || (size_t)n >= sizeof(run->diag->msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(run->diag->msg + n, sizeof(run->diag->msg) - n, fmt, ap);
	va_end(ap);
	return err;
}

static const char *const region_names[CSD_R_COUNT] = {
	"null", "stack", "context", "data", "rodata",
};

void *csd_mem(struct csd_run *run, uint64_t addr, uint64_t len, bool write,
	      const char *what)
{
	uint64_t r = addr >> 32, off = (uint32_t)addr;
	const struct csd_region_map *m;

	if (r < CSD_R_COUNT) {
		m = &run->reg[r];
		if (len <= m->len && off <= m->len - len && m->base &&
		    (!write || m->writable))
			return m->base + off;
		if (m->base && len <= m->len && off <= m->len - len) {
			csd_fail(run, -EFAULT,
				 "%s: write to read-only %s memory at 0x%llx",
				 what, region_names[r],
				 (unsigned long long)addr);
			return NULL;
		}
	}
	csd_fail(run, -EFAULT,
		 "%s: %llu bytes at 0x%llx are outside the program's memory",
		 what, (unsigned long long)len, (unsigned long long)addr);
	return NULL;
}

/* The fast path of a load or store of @size bytes. */
static inline uint8_t *mem_at(struct csd_run *run, uint64_t addr,
			      uint32_t size, bool write)
{
	uint64_t r = addr >> 32, off = (uint32_t)addr;
	const struct csd_region_map *m;

	if (likely(r < CSD_R_COUNT)) {
		m = &run->reg[r];
		if (likely(off + size <= m->len && (!write || m->writable)))
			return m->base + off;
	}
	return NULL;
}

static int mem_fault(struct csd_run *run, uint64_t addr, uint32_t size,
		     bool write)
{
	csd_mem(run, addr, size, write, write ? "store" : "load");
	return run->fault;
}

static uint64_t load_n(const uint8_t *p, uint32_t size)
{
	uint64_t v64;
	uint32_t v32;
	uint16_t v16;

	switch (size) {
	case 1:
		return *p;
	case 2:
		memcpy(&v16, p, 2);
		return v16;
	case 4:
		memcpy(&v32, p, 4);
		return v32;
	default:
		memcpy(&v64, p, 8);
		return v64;
	}
}

static void store_n(uint8_t *p, uint32_t size, uint64_t v)
{
	uint32_t v32 = (uint32_t)v;
	uint16_t v16 = (uint16_t)v;

	switch (size) {
	case 1:
		*p = (uint8_t)v;
		break;
	case 2:
		memcpy(p, &v16, 2);
		break;
	case 4:
		memcpy(p, &v32, 4);
		break;
	default:
		memcpy(p, &v, 8);
		break;
	}
}

/* Size in bytes of a load or store opcode (bits 4-3). */
static inline uint32_t op_size(uint8_t op)
{
	static const uint8_t sizes[4] = { 4, 2, 1, 8 };

	return sizes[(op >> 3) & 3];
}

static uint64_t sign_extend(uint64_t v, unsigned bits)
{
	switch (bits) {
	case 8:
		return (uint64_t)(int64_t)(int8_t)v;
	case 16:
		return (uint64_t)(int64_t)(int16_t)v;
	case 32:
		return (uint64_t)(int64_t)(int32_t)v;
	default:
		return v;
	}
}

/* ---- ALU helpers ---- */

/* Division and modulo with RFC 9669 results for a zero divisor and the
 * INT_MIN / -1 case (which C leaves undefined and x86 traps on). */
static uint64_t div64(uint64_t a, uint64_t b, bool sgn, bool mod)
{
	if (!b)
		return mod ? a : 0;
	if (!sgn)
		return mod ? a % b : a / b;
	if ((int64_t)b == -1)
		return mod ? 0 : (uint64_t)0 - a;
	return mod ? (uint64_t)((int64_t)a % (int64_t)b)
		   : (uint64_t)((int64_t)a / (int64_t)b);
}

static uint32_t div32(uint32_t a, uint32_t b, bool sgn, bool mod)
{
	if (!b)
		return mod ? a : 0;
	if (!sgn)
		return mod ? a % b : a / b;
	if ((int32_t)b == -1)
		return mod ? 0 : (uint32_t)0 - a;
	return mod ? (uint32_t)((int32_t)a % (int32_t)b)
		   : (uint32_t)((int32_t)a / (int32_t)b);
}

static uint64_t bswap(uint64_t v, int32_t width)
{
	switch (width) {
	case 16:
		return __builtin_bswap16((uint16_t)v);
	case 32:
		return __builtin_bswap32((uint32_t)v);
	default:
		return __builtin_bswap64(v);
	}
}

static uint64_t to_le(uint64_t v, int32_t width)
{
	switch (width) {
	case 16:
		return (uint16_t)v;
	case 32:
		return (uint32_t)v;
	default:
		return v;
	}
}

/* ---- atomics ---- */

/* An atomic read-modify-write of @size (4 or 8) bytes at @p. Returns the
 * old value (zero-extended). */
static uint64_t atomic_rmw(void *p, uint32_t size, int32_t imm, uint64_t v,
			   uint64_t expect)
{
	uint64_t old64 = expect;
	uint32_t old32 = (uint32_t)expect;

	if (size == 8) {
		uint64_t *q = p;

		switch (imm & ~1) {
		case 0x00: return __atomic_fetch_add(q, v, __ATOMIC_SEQ_CST);
		case 0x40: return __atomic_fetch_or(q, v, __ATOMIC_SEQ_CST);
		case 0x50: return __atomic_fetch_and(q, v, __ATOMIC_SEQ_CST);
		case 0xa0: return __atomic_fetch_xor(q, v, __ATOMIC_SEQ_CST);
		case 0xe0: return __atomic_exchange_n(q, v, __ATOMIC_SEQ_CST);
		default:
			__atomic_compare_exchange_n(q, &old64, v, false,
						    __ATOMIC_SEQ_CST,
						    __ATOMIC_SEQ_CST);
			return old64;
		}
	} else {
		uint32_t *q = p, w = (uint32_t)v;

		switch (imm & ~1) {
		case 0x00: return __atomic_fetch_add(q, w, __ATOMIC_SEQ_CST);
		case 0x40: return __atomic_fetch_or(q, w, __ATOMIC_SEQ_CST);
		case 0x50: return __atomic_fetch_and(q, w, __ATOMIC_SEQ_CST);
		case 0xa0: return __atomic_fetch_xor(q, w, __ATOMIC_SEQ_CST);
		case 0xe0: return __atomic_exchange_n(q, w, __ATOMIC_SEQ_CST);
		default:
			__atomic_compare_exchange_n(q, &old32, w, false,
						    __ATOMIC_SEQ_CST,
						    __ATOMIC_SEQ_CST);
			return old32;
		}
	}
}

/* Execute the atomic instruction @i. Returns 0 or the fault. */
static int do_atomic(struct csd_run *run, const struct csd_insn *i,
		     uint64_t *r)
{
	uint32_t size = op_size(i->op);
	uint64_t addr = r[CSD_DST(i)] + (uint64_t)(int64_t)i->off;
	uint8_t *p = mem_at(run, addr, size, true);
	uint64_t old;

	if (!p)
		return mem_fault(run, addr, size, true);
	if ((uintptr_t)p % size)
		return csd_fail(run, -EFAULT,
				"atomic access at 0x%llx is not aligned",
				(unsigned long long)addr);
	old = atomic_rmw(p, size, i->imm, r[CSD_SRC(i)], r[0]);
	if (i->imm == 0xf1)
		r[0] = old;
	else if (i->imm & 1)
		r[CSD_SRC(i)] = old;
	return 0;
}

/* ---- calls ---- */

struct frame {
	uint64_t saved[4]; /* r6-r9 */
	uint32_t ret_pc;
};

struct call_stack {
	struct frame f[ZVD_CSD_MAX_FRAMES];
	uint32_t depth;
};

static int call_helper(struct csd_run *run, int32_t id, uint64_t *r)
{
	csd_helper_fn fn = csd_helper(id);

	if (!fn)
		return csd_fail(run, -EINVAL, "unknown helper %d", id);
	run->res->helper_calls++;
	r[0] = fn(run, &r[1]);
	return run->fault;
}

static int call_local(struct csd_run *run, struct call_stack *cs,
		      uint64_t *r, uint32_t *pc, int32_t imm)
{
	struct frame *f;

	if (cs->depth + 1 >= ZVD_CSD_MAX_FRAMES)
		return csd_fail(run, -ELOOP, "calls nested deeper than %u",
				ZVD_CSD_MAX_FRAMES);
	f = &cs->f[cs->depth++];
	memcpy(f->saved, &r[6], sizeof(f->saved));
	f->ret_pc = *pc + 1;
	r[10] -= ZVD_CSD_STACK_FRAME;
	*pc = (uint32_t)((int64_t)*pc + 1 + imm);
	return 0;
}

/* Return from a local call; false when the program is done. */
static bool do_exit(struct call_stack *cs, uint64_t *r, uint32_t *pc)
{
	struct frame *f;

	if (!cs->depth)
		return false;
	f = &cs->f[--cs->depth];
	memcpy(&r[6], f->saved, sizeof(f->saved));
	r[10] += ZVD_CSD_STACK_FRAME;
	*pc = f->ret_pc;
	return true;
}

/* ---- the dispatch loop ---- */

static int ld_st(struct csd_run *run, const struct csd_insn *i, uint64_t *r)
{
	uint32_t size = op_size(i->op);
	uint64_t addr;
	uint8_t *p;

	switch (i->op & 7) {
	case CSD_LDX:
		addr = r[CSD_SRC(i)] + (uint64_t)(int64_t)i->off;
		p = mem_at(run, addr, size, false);
		if (unlikely(!p))
			return mem_fault(run, addr, size, false);
		r[CSD_DST(i)] = load_n(p, size);
		if ((i->op & 0xe0) == 0x80)
			r[CSD_DST(i)] = sign_extend(r[CSD_DST(i)], size * 8);
		return 0;
	case CSD_ST:
	case CSD_STX:
		addr = r[CSD_DST(i)] + (uint64_t)(int64_t)i->off;
		p = mem_at(run, addr, size, true);
		if (unlikely(!p))
			return mem_fault(run, addr, size, true);
		store_n(p, size, (i->op & 7) == CSD_ST ? (uint64_t)(int64_t)i->imm
						      : r[CSD_SRC(i)]);
		return 0;
	}
	return csd_fail(run, -EINVAL, "bad load/store opcode 0x%02x", i->op);
}

/*
 * One handler per opcode, dispatched through a table of label addresses
 * (GNU C computed goto): a flat jump per instruction instead of nested
 * switches. Each NEXT checks the pc and counts the instruction against
 * the budget before the fetch.
 */
#define D r[i->regs & 0xf]
#define S r[i->regs >> 4]
#define K ((uint64_t)(int64_t)i->imm)
#define K32 ((uint32_t)i->imm)
#define D32 ((uint32_t)D)
#define S32 ((uint32_t)S)

#define NEXT                                    \
	do {                                    \
		if (unlikely(pc >= n))          \
			goto bad_pc;            \
		if (unlikely(++count > budget)) \
			goto over;              \
		i = &code[pc];                  \
		goto *tbl[i->op];               \
	} while (0)

#define OP(lbl, stmt) \
	lbl:          \
	stmt;         \
	pc++;         \
	NEXT

#define JMP(lbl, cond)        \
	lbl:                  \
	if (cond)             \
		pc += i->off; \
	pc++;                 \
	NEXT

#define LDX(lbl, sz, T, EXT)                                    \
	lbl: {                                                  \
		uint64_t a_ = S + (uint64_t)(int64_t)i->off;    \
		uint8_t *p_ = mem_at_local(reg, a_, sz, false); \
		T v_;                                           \
		if (unlikely(!p_))                              \
			goto fault_mem;                         \
		memcpy(&v_, p_, sz);                            \
		D = EXT(v_);                                    \
		pc++;                                           \
		NEXT;                                           \
	}

#define STORE(lbl, sz, T, VAL)                                 \
	lbl: {                                                 \
		uint64_t a_ = D + (uint64_t)(int64_t)i->off;   \
		uint8_t *p_ = mem_at_local(reg, a_, sz, true); \
		T v_ = (T)(VAL);                               \
		if (unlikely(!p_))                             \
			goto fault_mem;                        \
		memcpy(p_, &v_, sz);                           \
		pc++;                                          \
		NEXT;                                          \
	}

#define ZX(v) ((uint64_t)(v))
#define SX8(v) ((uint64_t)(int64_t)(int8_t)(v))
#define SX16(v) ((uint64_t)(int64_t)(int16_t)(v))
#define SX32(v) ((uint64_t)(int64_t)(int32_t)(v))

static inline uint8_t *mem_at_local(const struct csd_region_map *reg,
				    uint64_t addr, uint32_t size, bool write)
{
	uint64_t r = addr >> 32, off = (uint32_t)addr;

	if (likely(r < CSD_R_COUNT && off + size <= reg[r].len &&
		   (!write || reg[r].writable)))
		return reg[r].base + off;
	return NULL;
}

/* The table starts with every slot on bad_op and overrides the valid ones. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
int csd_vm_run(struct csd_run *run, uint64_t r1, uint64_t r2)
{
	static const void *const tbl[256] = {
		[0 ... 255] = &&bad_op,
		/* ALU64 */
		[0x07] = &&add64_k, [0x0f] = &&add64_x,
		[0x17] = &&sub64_k, [0x1f] = &&sub64_x,
		[0x27] = &&mul64_k, [0x2f] = &&mul64_x,
		[0x37] = &&div64_k, [0x3f] = &&div64_x,
		[0x47] = &&or64_k, [0x4f] = &&or64_x,
		[0x57] = &&and64_k, [0x5f] = &&and64_x,
		[0x67] = &&lsh64_k, [0x6f] = &&lsh64_x,
		[0x77] = &&rsh64_k, [0x7f] = &&rsh64_x,
		[0x87] = &&neg64,
		[0x97] = &&mod64_k, [0x9f] = &&mod64_x,
		[0xa7] = &&xor64_k, [0xaf] = &&xor64_x,
		[0xb7] = &&mov64_k, [0xbf] = &&mov64_x,
		[0xc7] = &&arsh64_k, [0xcf] = &&arsh64_x,
		[0xd7] = &&bswap64,
		/* ALU */
		[0x04] = &&add32_k, [0x0c] = &&add32_x,
		[0x14] = &&sub32_k, [0x1c] = &&sub32_x,
		[0x24] = &&mul32_k, [0x2c] = &&mul32_x,
		[0x34] = &&div32_k, [0x3c] = &&div32_x,
		[0x44] = &&or32_k, [0x4c] = &&or32_x,
		[0x54] = &&and32_k, [0x5c] = &&and32_x,
		[0x64] = &&lsh32_k, [0x6c] = &&lsh32_x,
		[0x74] = &&rsh32_k, [0x7c] = &&rsh32_x,
		[0x84] = &&neg32,
		[0x94] = &&mod32_k, [0x9c] = &&mod32_x,
		[0xa4] = &&xor32_k, [0xac] = &&xor32_x,
		[0xb4] = &&mov32_k, [0xbc] = &&mov32_x,
		[0xc4] = &&arsh32_k, [0xcc] = &&arsh32_x,
		[0xd4] = &&le32, [0xdc] = &&be32,
		/* JMP */
		[0x05] = &&ja, [0x06] = &&ja32,
		[0x15] = &&jeq_k, [0x1d] = &&jeq_x,
		[0x25] = &&jgt_k, [0x2d] = &&jgt_x,
		[0x35] = &&jge_k, [0x3d] = &&jge_x,
		[0x45] = &&jset_k, [0x4d] = &&jset_x,
		[0x55] = &&jne_k, [0x5d] = &&jne_x,
		[0x65] = &&jsgt_k, [0x6d] = &&jsgt_x,
		[0x75] = &&jsge_k, [0x7d] = &&jsge_x,
		[0xa5] = &&jlt_k, [0xad] = &&jlt_x,
		[0xb5] = &&jle_k, [0xbd] = &&jle_x,
		[0xc5] = &&jslt_k, [0xcd] = &&jslt_x,
		[0xd5] = &&jsle_k, [0xdd] = &&jsle_x,
		[0x85] = &&call, [0x95] = &&exit,
		/* JMP32 */
		[0x16] = &&jeq32_k, [0x1e] = &&jeq32_x,
		[0x26] = &&jgt32_k, [0x2e] = &&jgt32_x,
		[0x36] = &&jge32_k, [0x3e] = &&jge32_x,
		[0x46] = &&jset32_k, [0x4e] = &&jset32_x,
		[0x56] = &&jne32_k, [0x5e] = &&jne32_x,
		[0x66] = &&jsgt32_k, [0x6e] = &&jsgt32_x,
		[0x76] = &&jsge32_k, [0x7e] = &&jsge32_x,
		[0xa6] = &&jlt32_k, [0xae] = &&jlt32_x,
		[0xb6] = &&jle32_k, [0xbe] = &&jle32_x,
		[0xc6] = &&jslt32_k, [0xce] = &&jslt32_x,
		[0xd6] = &&jsle32_k, [0xde] = &&jsle32_x,
		/* loads and stores */
		[0x18] = &&lddw,
		[0x61] = &&ldxw, [0x69] = &&ldxh, [0x71] = &&ldxb,
		[0x79] = &&ldxdw,
		[0x81] = &&ldxsw, [0x89] = &&ldxsh, [0x91] = &&ldxsb,
		[0x62] = &&stw, [0x6a] = &&sth, [0x72] = &&stb, [0x7a] = &&stdw,
		[0x63] = &&stxw, [0x6b] = &&stxh, [0x73] = &&stxb,
		[0x7b] = &&stxdw,
		[0xc3] = &&atomic, [0xdb] = &&atomic,
	};
#pragma GCC diagnostic pop
	const struct csd_insn *code = run->prog->insns, *i;
	const uint32_t n = run->prog->n;
	uint64_t r[11] = { 0 }, count = 0, budget = run->max_insns;
	struct csd_region_map reg[CSD_R_COUNT];
	struct call_stack cs;
	uint32_t pc = run->prog->entry;

	memcpy(reg, run->reg, sizeof(reg));
	cs.depth = 0;
	r[1] = r1;
	r[2] = r2;
	r[10] = CSD_ADDR(CSD_R_STACK, CSD_STACK_SIZE);
	i = code;
	NEXT;

	OP(add64_k, D += K);
	OP(add64_x, D += S);
	OP(sub64_k, D -= K);
	OP(sub64_x, D -= S);
	OP(mul64_k, D *= K);
	OP(mul64_x, D *= S);
	OP(div64_k, D = div64(D, K, i->off == 1, false));
	OP(div64_x, D = div64(D, S, i->off == 1, false));
	OP(or64_k, D |= K);
	OP(or64_x, D |= S);
	OP(and64_k, D &= K);
	OP(and64_x, D &= S);
	OP(lsh64_k, D <<= (K & 63));
	OP(lsh64_x, D <<= (S & 63));
	OP(rsh64_k, D >>= (K & 63));
	OP(rsh64_x, D >>= (S & 63));
	OP(neg64, D = (uint64_t)0 - D);
	OP(mod64_k, D = div64(D, K, i->off == 1, true));
	OP(mod64_x, D = div64(D, S, i->off == 1, true));
	OP(xor64_k, D ^= K);
	OP(xor64_x, D ^= S);
	OP(mov64_k, D = K);
	OP(mov64_x, D = i->off ? sign_extend(S, (unsigned)i->off) : S);
	OP(arsh64_k, D = (uint64_t)((int64_t)D >> (K & 63)));
	OP(arsh64_x, D = (uint64_t)((int64_t)D >> (S & 63)));
	OP(bswap64, D = bswap(D, i->imm));

	OP(add32_k, D = (uint32_t)(D32 + K32));
	OP(add32_x, D = (uint32_t)(D32 + S32));
	OP(sub32_k, D = (uint32_t)(D32 - K32));
	OP(sub32_x, D = (uint32_t)(D32 - S32));
	OP(mul32_k, D = (uint32_t)(D32 * K32));
	OP(mul32_x, D = (uint32_t)(D32 * S32));
	OP(div32_k, D = div32(D32, K32, i->off == 1, false));
	OP(div32_x, D = div32(D32, S32, i->off == 1, false));
	OP(or32_k, D = D32 | K32);
	OP(or32_x, D = D32 | S32);
	OP(and32_k, D = D32 & K32);
	OP(and32_x, D = D32 & S32);
	OP(lsh32_k, D = (uint32_t)(D32 << (K32 & 31)));
	OP(lsh32_x, D = (uint32_t)(D32 << (S32 & 31)));
	OP(rsh32_k, D = D32 >> (K32 & 31));
	OP(rsh32_x, D = D32 >> (S32 & 31));
	OP(neg32, D = (uint32_t)(0 - D32));
	OP(mod32_k, D = div32(D32, K32, i->off == 1, true));
	OP(mod32_x, D = div32(D32, S32, i->off == 1, true));
	OP(xor32_k, D = D32 ^ K32);
	OP(xor32_x, D = D32 ^ S32);
	OP(mov32_k, D = K32);
	OP(mov32_x, D = i->off ? (uint32_t)sign_extend(S, (unsigned)i->off) : S32);
	OP(arsh32_k, D = (uint32_t)((int32_t)D32 >> (K32 & 31)));
	OP(arsh32_x, D = (uint32_t)((int32_t)D32 >> (S32 & 31)));
	OP(le32, D = to_le(D, i->imm));
	OP(be32, D = bswap(D, i->imm));

	JMP(ja, true);
	JMP(jeq_k, D == K);
	JMP(jeq_x, D == S);
	JMP(jgt_k, D > K);
	JMP(jgt_x, D > S);
	JMP(jge_k, D >= K);
	JMP(jge_x, D >= S);
	JMP(jset_k, D & K);
	JMP(jset_x, D & S);
	JMP(jne_k, D != K);
	JMP(jne_x, D != S);
	JMP(jsgt_k, (int64_t)D > (int64_t)K);
	JMP(jsgt_x, (int64_t)D > (int64_t)S);
	JMP(jsge_k, (int64_t)D >= (int64_t)K);
	JMP(jsge_x, (int64_t)D >= (int64_t)S);
	JMP(jlt_k, D < K);
	JMP(jlt_x, D < S);
	JMP(jle_k, D <= K);
	JMP(jle_x, D <= S);
	JMP(jslt_k, (int64_t)D < (int64_t)K);
	JMP(jslt_x, (int64_t)D < (int64_t)S);
	JMP(jsle_k, (int64_t)D <= (int64_t)K);
	JMP(jsle_x, (int64_t)D <= (int64_t)S);

	JMP(jeq32_k, D32 == K32);
	JMP(jeq32_x, D32 == S32);
	JMP(jgt32_k, D32 > K32);
	JMP(jgt32_x, D32 > S32);
	JMP(jge32_k, D32 >= K32);
	JMP(jge32_x, D32 >= S32);
	JMP(jset32_k, D32 & K32);
	JMP(jset32_x, D32 & S32);
	JMP(jne32_k, D32 != K32);
	JMP(jne32_x, D32 != S32);
	JMP(jsgt32_k, (int32_t)D32 > (int32_t)K32);
	JMP(jsgt32_x, (int32_t)D32 > (int32_t)S32);
	JMP(jsge32_k, (int32_t)D32 >= (int32_t)K32);
	JMP(jsge32_x, (int32_t)D32 >= (int32_t)S32);
	JMP(jlt32_k, D32 < K32);
	JMP(jlt32_x, D32 < S32);
	JMP(jle32_k, D32 <= K32);
	JMP(jle32_x, D32 <= S32);
	JMP(jslt32_k, (int32_t)D32 < (int32_t)K32);
	JMP(jslt32_x, (int32_t)D32 < (int32_t)S32);
	JMP(jsle32_k, (int32_t)D32 <= (int32_t)K32);
	JMP(jsle32_x, (int32_t)D32 <= (int32_t)S32);

ja32:
	pc += 1 + i->imm;
	NEXT;
lddw:
	D = (uint64_t)(uint32_t)i->imm | (uint64_t)(uint32_t)i[1].imm << 32;
	pc += 2;
	NEXT;

	LDX(ldxw, 4, uint32_t, ZX);
	LDX(ldxh, 2, uint16_t, ZX);
	LDX(ldxb, 1, uint8_t, ZX);
	LDX(ldxdw, 8, uint64_t, ZX);
	LDX(ldxsw, 4, uint32_t, SX32);
	LDX(ldxsh, 2, uint16_t, SX16);
	LDX(ldxsb, 1, uint8_t, SX8);
	STORE(stw, 4, uint32_t, i->imm);
	STORE(sth, 2, uint16_t, i->imm);
	STORE(stb, 1, uint8_t, i->imm);
	STORE(stdw, 8, uint64_t, K);
	STORE(stxw, 4, uint32_t, S);
	STORE(stxh, 2, uint16_t, S);
	STORE(stxb, 1, uint8_t, S);
	STORE(stxdw, 8, uint64_t, S);

atomic:
	run->pc = pc;
	if (do_atomic(run, i, r))
		goto out;
	pc++;
	NEXT;
call:
	run->pc = pc;
	if (CSD_SRC(i) == CSD_CALL_LOCAL) {
		if (call_local(run, &cs, r, &pc, i->imm))
			goto out;
		NEXT;
	}
	if (call_helper(run, i->imm, r))
		goto out;
	pc++;
	NEXT;
exit:
	if (do_exit(&cs, r, &pc))
		NEXT;
	run->res->insns = count;
	run->res->r0 = r[0];
	return 0;

fault_mem:
	run->pc = pc;
	ld_st(run, i, r); /* the slow path names the fault */
	goto out;
bad_op:
	run->pc = pc;
	csd_fail(run, -EINVAL, "bad opcode 0x%02x", i->op);
	goto out;
bad_pc:
	run->pc = pc;
	csd_fail(run, -EFAULT, "jumped outside the program");
	goto out;
over:
	run->pc = pc;
	count--;
	csd_fail(run, -E2BIG, "instruction budget of %llu exhausted",
		 (unsigned long long)budget);
out:
	run->res->insns = count;
	return run->fault;
}

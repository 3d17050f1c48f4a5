/* SPDX-License-Identifier: MIT */
/*
 * csd_asm.h - a tiny eBPF assembler for the csd tests: one macro per
 * instruction form, and helpers that load and run a program with the
 * library (zvd_csd.h).
 */
#ifndef ZVD_TEST_CSD_ASM_H
#define ZVD_TEST_CSD_ASM_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <zvd_csd.h>

struct t_insn {
	uint8_t op;
	uint8_t regs;
	int16_t off;
	int32_t imm;
};

#define I(op, d, s, off, imm) \
	((struct t_insn){ (op), (uint8_t)((s) << 4 | (d)), (int16_t)(off), (int32_t)(imm) })
#define MOV(d, k) I(0xb7, d, 0, 0, k)		/* r_d = k (sign-extended) */
#define MOVR(d, s) I(0xbf, d, s, 0, 0)		/* r_d = r_s */
#define ADDK(d, k) I(0x07, d, 0, 0, k)
#define LDDW(d, v)                                          \
	I(0x18, d, 0, 0, (int32_t)(uint32_t)(uint64_t)(v)), \
	I(0, 0, 0, 0, (int32_t)(uint32_t)((uint64_t)(v) >> 32))
#define LDX(sz, d, s, off) I(0x61 | (sz), d, s, off, 0) /* sz: W 0, H 8, B 0x10, DW 0x18 */
#define STX(sz, d, s, off) I(0x63 | (sz), d, s, off, 0)
#define ST(sz, d, off, k) I(0x62 | (sz), d, 0, off, k)
#define JA(off) I(0x05, 0, 0, off, 0)
#define CALL(id) I(0x85, 0, 0, 0, id)
#define CALL_LOCAL(rel) I(0x85, 0, 1, 0, rel)
#define EXIT I(0x95, 0, 0, 0, 0)
#define SZ_W 0x00
#define SZ_H 0x08
#define SZ_B 0x10
#define SZ_DW 0x18

#define NI(a) (sizeof(a) / sizeof((a)[0]))

/* Load @n slots; 0 or -errno with the message in *d. */
static inline int t_load(const struct t_insn *p, size_t n,
			 struct zvd_csd_prog **out, struct zvd_csd_diag *d)
{
	return zvd_csd_prog_load_raw(p, n * sizeof(*p), out, d);
}

/* Load and run with a memory window; the run's result (0 or -errno),
 * r0 in *r0. A load failure returns 1000 + the errno. */
static inline int t_exec(const struct t_insn *p, size_t n, void *mem,
			 size_t len, uint64_t budget, uint64_t *r0,
			 struct zvd_csd_diag *d)
{
	struct zvd_csd_prog *prog;
	struct zvd_csd_result res;
	int rc = t_load(p, n, &prog, d);

	*r0 = 0;
	if (rc)
		return 1000 - rc;
	rc = zvd_csd_exec(prog, mem, len, budget, &res, d);
	*r0 = res.r0;
	zvd_csd_prog_free(prog);
	return rc;
}

#endif

/* SPDX-License-Identifier: MIT */
/*
 * csd.h - what the files of the csd layer (eBPF programs next to zone
 * data) share. Only zvd_csd.h is public.
 *
 *   prog.c      program objects, diagnostics, raw loading
 *   validate.c  load-time validation of an instruction image
 *   elf.c       the ELF loader (clang -target bpf objects)
 *   vm.c        the interpreter and its memory checks
 *   helpers.c   the helper functions programs call
 *   run.c       runs: memory layout, budgets, result records
 *
 * Guest memory: an address is (region << 32) | offset. Region 0 is
 * nothing (so NULL faults), the others are the run's stack, its read-only
 * context or caller window, its copy of the object's data and the
 * object's read-only data. Every access is checked against the region's
 * length and writability; nothing else of the host is reachable.
 */
#ifndef ZVD_CSD_INT_H
#define ZVD_CSD_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <zvd.h>
#include <zvd_bpf_helpers.h>
#include <zvd_csd.h>

/* One instruction slot, as RFC 9669 encodes it (little-endian host). */
struct csd_insn {
	uint8_t op;
	uint8_t regs; /* dst in the low nibble, src in the high one */
	int16_t off;
	int32_t imm;
};

#define CSD_DST(i) ((i)->regs & 0xf)
#define CSD_SRC(i) ((i)->regs >> 4)

/* Opcode classes (op & 7). */
enum {
	CSD_LD = 0,
	CSD_LDX = 1,
	CSD_ST = 2,
	CSD_STX = 3,
	CSD_ALU = 4,
	CSD_JMP = 5,
	CSD_JMP32 = 6,
	CSD_ALU64 = 7,
};

/* Call kinds (src of 0x85). */
#define CSD_CALL_HELPER 0
#define CSD_CALL_LOCAL 1

/* Guest memory regions. */
enum csd_region {
	CSD_R_NULL = 0,
	CSD_R_STACK,
	CSD_R_CTX,    /* the context (device runs) or caller window (exec) */
	CSD_R_DATA,   /* per-run copy of .data and .bss */
	CSD_R_RODATA, /* the object's .rodata*, shared, read-only */
	CSD_R_COUNT
};

#define CSD_ADDR(r, off) (((uint64_t)(r) << 32) | (uint64_t)(off))
#define CSD_STACK_SIZE (ZVD_CSD_STACK_FRAME * ZVD_CSD_MAX_FRAMES)

/* A loaded program: immutable once loaded, shared by concurrent runs. */
struct zvd_csd_prog {
	struct csd_insn *insns;
	uint32_t n;	  /* slots */
	uint32_t entry;	  /* slot the run starts at */
	uint8_t *data;	  /* initial image of the writable data */
	uint32_t data_len;
	uint8_t *rodata;
	uint32_t rodata_len;
};

struct csd_region_map {
	uint8_t *base;
	uint64_t len;
	bool writable;
};

/* The state of one run; lives on the caller's stack, owns nothing the
 * program can outlive. */
struct csd_run {
	const struct zvd_csd_prog *prog;
	struct csd_region_map reg[CSD_R_COUNT];
	uint64_t max_insns;
	struct zvd_csd_result *res;
	struct zvd_csd_diag *diag;
	int fault;	 /* -errno that ends the run, 0 while running */
	uint32_t pc;	 /* slot being executed */
	/* device runs */
	struct zvd_dev *dev;
	const struct zvd_csd_run_opts *opts;
	uint8_t *out;
	size_t out_cap;
	uint8_t *bounce;
	size_t bounce_len;
	uint32_t max_trace;
	struct zvd_geometry geom;
};

/* ---- prog.c ---- */

/* Fill @diag (if not NULL) and return @err. */
int csd_diag(struct zvd_csd_diag *diag, int err, uint32_t pc,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Take ownership of @insns (@n slots) plus data images, validate and
 * build a program. Frees everything on failure. */
int csd_prog_build(struct csd_insn *insns, uint32_t n, uint32_t entry,
		   uint8_t *data, uint32_t data_len, uint8_t *rodata,
		   uint32_t rodata_len, struct zvd_csd_prog **out,
		   struct zvd_csd_diag *diag);

/* ---- validate.c ---- */

/* Check an image before it may run; 0 or -EINVAL with @diag set. */
int csd_validate(const struct csd_insn *insns, uint32_t n, uint32_t entry,
		 struct zvd_csd_diag *diag);

/* ---- vm.c ---- */

/* Run from prog->entry with r1, r2; returns 0 or the fault. */
int csd_vm_run(struct csd_run *run, uint64_t r1, uint64_t r2);

/* Host pointer for [addr, addr+len) of guest memory, or NULL (and the run
 * faults with -EFAULT, naming @what) when it is not all inside one region
 * (writable if @write). */
void *csd_mem(struct csd_run *run, uint64_t addr, uint64_t len, bool write,
	      const char *what);

/* End the run with @err and a message; returns @err. */
int csd_fail(struct csd_run *run, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- helpers.c ---- */

typedef uint64_t (*csd_helper_fn)(struct csd_run *run, const uint64_t *a);

/* The helper with number @id, or NULL. */
csd_helper_fn csd_helper(int32_t id);

#endif /* ZVD_CSD_INT_H */

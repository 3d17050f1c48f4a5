/* SPDX-License-Identifier: MIT */
/*
 * zvd_csd.h - computational storage: sandboxed eBPF programs that run next
 * to zone data (the host side; program authors include zvd_bpf_helpers.h).
 *
 * Sections:
 *   1. programs: load (ELF object or raw instructions), validate, free
 *   2. running a program over zones of a device
 *   3. the result records a program emits
 *   4. running without a device (tests, the conformance plugin)
 *
 * The VM implements the RFC 9669 instruction set (conformance groups
 * base32, base64, divmul32, divmul64, atomic32, atomic64, and the cpu v4
 * additions). A program is validated once at load time; every load, store
 * and helper pointer is checked at run time against the memory the run
 * owns: its stack, its copy of the object's data, a read-only context and
 * the object's read-only data. A loaded program is immutable, so any
 * number of threads may run it at once; each run has its own memory.
 *
 * Guest addresses are not host addresses: a program never learns where
 * its memory lives in zvd.
 *
 * Conventions are those of zvd.h: 0 or -errno, caller-owned buffers,
 * release functions that accept NULL.
 */
#ifndef ZVD_CSD_H
#define ZVD_CSD_H

#include <stddef.h>
#include <stdint.h>

#include <zvd.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- 1. programs -------------------------------------------------------- */

struct zvd_csd_prog;

/* Why a load or a run failed: the negative errno, the instruction (slot
 * index, or UINT32_MAX when none applies) and a one-line message. */
struct zvd_csd_diag {
	int err;
	uint32_t pc;
	char msg[160];
};

/* Limits a loader enforces. */
#define ZVD_CSD_MAX_INSNS (1u << 20)	      /* instruction slots */
#define ZVD_CSD_MAX_DATA (16u << 20)	      /* bytes of .data + .bss */
#define ZVD_CSD_MAX_RODATA (16u << 20)	      /* bytes of .rodata* */
#define ZVD_CSD_STACK_FRAME 512u	      /* bytes per call frame */
#define ZVD_CSD_MAX_FRAMES 8u		      /* call depth */

/*
 * Load an ELF object built with `clang -target bpf -O2` (ELF64 LE, ET_REL,
 * EM_BPF). @entry names the function to run; NULL picks the first global
 * function in a section named "csd" (or "csd/..."), else the only global
 * function. The object's bytes are copied; @elf may be freed afterwards.
 * On failure returns -errno and, if @diag is not NULL, says why.
 */
int zvd_csd_prog_load_elf(const void *elf, size_t len, const char *entry,
			  struct zvd_csd_prog **out, struct zvd_csd_diag *diag);

/* Load raw instructions (8-byte slots, host order); entry is slot 0. */
int zvd_csd_prog_load_raw(const void *insns, size_t len,
			  struct zvd_csd_prog **out, struct zvd_csd_diag *diag);

/* Release a program; accepts NULL. */
void zvd_csd_prog_free(struct zvd_csd_prog *prog);

/* Number of instruction slots of a loaded program. */
uint32_t zvd_csd_prog_len(const struct zvd_csd_prog *prog);

/* ---- 2. running over zones ------------------------------------------------ */

/* One argument handed to the program (what `--arg KEY=VALUE` gives). */
struct zvd_csd_kv {
	const char *key;
	const char *value;
};

/* A trace line the program left with zvd_trace(). */
typedef void (*zvd_csd_trace_fn)(void *arg, const char *msg, uint64_t value);

enum zvd_csd_run_flags {
	ZVD_CSD_GRANT_APPEND = 1 << 0, /* the program may append to @zone */
};

/* What a run may touch and how far it may go. */
struct zvd_csd_run_opts {
	uint32_t zone;		/* the zone the run is about (ctx->zone) */
	uint32_t first_zone;	/* zones the program may read: */
	uint32_t nr_zones;	/* [first_zone, first_zone + nr_zones) */
	uint32_t flags;		/* enum zvd_csd_run_flags */
	const struct zvd_csd_kv *args; /* caller-owned, @nr_args entries */
	uint32_t nr_args;
	uint32_t max_trace;	/* trace lines passed on; 0 = 64 */
	uint64_t max_insns;	/* instruction budget; 0 = default */
	void *out;		/* caller-owned result buffer */
	size_t out_cap;		/* its size: the cap on returned bytes */
	zvd_csd_trace_fn trace; /* NULL: trace lines are only counted */
	void *trace_arg;
	uint64_t reserved[4];
};

/* Default instruction budget: 2^40, minutes of work. */
#define ZVD_CSD_DEFAULT_MAX_INSNS (1ull << 40)

/* What a run did and what it cost. */
struct zvd_csd_result {
	uint64_t r0;		 /* the program's return value */
	uint64_t insns;		 /* instructions executed */
	uint64_t helper_calls;
	uint64_t bytes_read;	 /* zone bytes read by helpers */
	uint64_t bytes_appended;
	uint64_t bytes_returned; /* bytes of @out used */
	uint64_t trace_lines;	 /* lines the program traced (incl. dropped) */
	uint64_t ns;		 /* wall time of the run */
	uint64_t reserved[4];
};

/*
 * Run @prog over zones of @dev (which may be NULL: zone helpers then fail
 * with -ENODEV). The program gets r1 = a read-only struct zvd_csd_ctx
 * (see zvd_bpf_helpers.h), r2 = its size. Returns 0 when the program
 * exited (its r0 in res->r0), or -errno when the run was stopped: -EFAULT
 * for a memory violation, -EACCES for a zone it was not granted, -E2BIG
 * when the budget ran out, -ELOOP for calls too deep, -EINVAL for a bad
 * helper argument. @diag says where and why. @res is filled either way.
 */
int zvd_csd_run(const struct zvd_csd_prog *prog, struct zvd_dev *dev,
		const struct zvd_csd_run_opts *opts,
		struct zvd_csd_result *res, struct zvd_csd_diag *diag);

/* ---- 3. result records ------------------------------------------------------ */

/*
 * zvd_emit() appends one record to the result buffer: a header, the key
 * and the value, each padded to 8 bytes. Decode them with
 * zvd_csd_record_next().
 */
enum zvd_csd_rec_type {
	ZVD_CSD_REC_U64 = 1,   /* array of uint64_t */
	ZVD_CSD_REC_I64 = 2,   /* array of int64_t */
	ZVD_CSD_REC_STR = 3,   /* text */
	ZVD_CSD_REC_BYTES = 4, /* opaque bytes */
};

struct zvd_csd_record {
	uint32_t type;	   /* enum zvd_csd_rec_type */
	uint32_t key_len;
	uint32_t val_len;  /* bytes */
	const char *key;   /* points into the buffer: not NUL-terminated */
	const void *val;   /* points into the buffer; 8-byte aligned if the
			    * buffer is */
};

/*
 * Decode the record at *pos of @buf (@len bytes) and advance *pos.
 * Returns 1 for a record, 0 at the end, -EBADMSG for a malformed buffer.
 */
int zvd_csd_record_next(const void *buf, size_t len, size_t *pos,
			struct zvd_csd_record *rec);

/* ---- 4. running without a device ---------------------------------------------- */

/*
 * Run @prog with r1 = @mem (a writable window of @mem_len bytes the
 * caller owns; may be NULL with 0) and r2 = @mem_len, no device and no
 * result buffer. For tests and the bpf_conformance plugin. Returns as
 * zvd_csd_run().
 */
int zvd_csd_exec(const struct zvd_csd_prog *prog, void *mem, size_t mem_len,
		 uint64_t max_insns, struct zvd_csd_result *res,
		 struct zvd_csd_diag *diag);

#ifdef __cplusplus
}
#endif
#endif /* ZVD_CSD_H */

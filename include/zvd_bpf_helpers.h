/* SPDX-License-Identifier: MIT */
/*
 * zvd_bpf_helpers.h - what an eBPF program run by zvd (`zvd csd run`) may
 * call, and the structures it sees. Include it in a program built with
 *
 *     clang -target bpf -mcpu=v3 -O2 -c prog.c -o prog.o
 *
 * It needs no libc header. The host side includes it too, for the shared
 * structures and helper numbers.
 *
 * The program:
 *   - has one entry function, placed in section "csd" with ZVD_CSD_PROG,
 *     taking (const struct zvd_csd_ctx *ctx, unsigned long ctx_size) and
 *     returning a 64-bit value (the run's r0);
 *   - has a 512-byte stack per call frame (clang refuses more), up to 8
 *     frames of bpf-to-bpf calls, and may use global and static data
 *     (.data, .bss, .rodata: 16 MiB each at most). Each run starts from a
 *     fresh copy of the object's data; nothing survives a run;
 *   - can read and write only its stack and its globals, and read its
 *     context and constants. Any other access ends the run with -EFAULT;
 *   - runs at most a budget of instructions (default 2^40, `--max-insns`):
 *     past it the run ends with -E2BIG.
 *
 * Every helper checks each pointer it is given against the program's
 * memory and each length against its limit. A bad pointer or length
 * (the program's own fault) ends the run with a clear error; a refusal
 * the program can handle (no such argument, output full, end of data)
 * is returned as a negative errno (ZVD_E* below).
 */
#ifndef ZVD_BPF_HELPERS_H
#define ZVD_BPF_HELPERS_H

/* Fixed-width types that need no libc (the compiler predefines these). */
typedef __UINT8_TYPE__ zvd_u8;
typedef __UINT16_TYPE__ zvd_u16;
typedef __UINT32_TYPE__ zvd_u32;
typedef __UINT64_TYPE__ zvd_u64;
typedef __INT64_TYPE__ zvd_s64;

/* Errors helpers return (Linux errno values, negated). */
#define ZVD_ENOENT 2
#define ZVD_EIO 5
#define ZVD_E2BIG 7
#define ZVD_EACCES 13
#define ZVD_EFAULT 14
#define ZVD_ENODEV 19
#define ZVD_EINVAL 22
#define ZVD_ENOSPC 28

/* ctx->flags */
#define ZVD_CSD_CTX_APPEND 1u /* the program may append to ctx->zone */

/*
 * The context (r1, read-only). The program may read zones
 * [first_zone, first_zone + nr_zones); ctx->zone is among them.
 */
struct zvd_csd_ctx {
	zvd_u32 zone;	     /* the zone the run is about (--zone) */
	zvd_u32 first_zone;  /* first zone it may read (--zones A-B) */
	zvd_u32 nr_zones;    /* how many zones it may read */
	zvd_u32 flags;	     /* ZVD_CSD_CTX_* */
	zvd_u32 block_size;  /* device block size */
	zvd_u32 nr_args;     /* arguments given (--arg) */
	zvd_u64 zone_size;   /* bytes */
	zvd_u64 out_cap;     /* bytes zvd_emit() may return in all */
	zvd_u64 max_insns;   /* the instruction budget */
	zvd_u64 reserved[4];
};

/* Device geometry (zvd_geometry). */
struct zvd_csd_geom {
	zvd_u64 size;	       /* bytes */
	zvd_u64 zone_size;
	zvd_u64 zone_capacity;
	zvd_u32 block_size;
	zvd_u32 nr_zones;
	zvd_u32 nr_conv_zones;
	zvd_u32 max_append;    /* bytes, 0 = the zone capacity */
	zvd_u64 reserved[2];
};

/* One zone (zvd_zone_info). */
struct zvd_csd_zone {
	zvd_u64 start;	   /* byte offset of the zone on the device */
	zvd_u64 len;	   /* zone size */
	zvd_u64 capacity;  /* writable bytes */
	zvd_u64 wp;	   /* write pointer, bytes from the zone start
			    * (len for conventional and full zones,
			    * ~0 for read-only and offline ones) */
	zvd_u64 readable;  /* bytes from the zone start zvd_read() serves:
			    * the written data of a sequential zone, all of
			    * a conventional one, 0 when offline */
	zvd_u8 type;	   /* 1 conventional, 2 sequential */
	zvd_u8 cond;	   /* 0 not-wp, 1 empty, 2 implicit open, 3 explicit
			    * open, 4 closed, 5 full, 6 read-only, 7 offline */
	zvd_u8 reserved0[6];
	zvd_u64 reserved[2];
};

/* Types of result records (zvd_emit). */
#define ZVD_REC_U64 1	/* array of zvd_u64 */
#define ZVD_REC_I64 2	/* array of zvd_s64 */
#define ZVD_REC_STR 3	/* text */
#define ZVD_REC_BYTES 4 /* opaque bytes */

/* Helper numbers (the imm of `call`). */
enum zvd_csd_helper_id {
	ZVD_HELPER_EMIT = 1,
	ZVD_HELPER_READ = 2,
	ZVD_HELPER_APPEND = 3,
	ZVD_HELPER_GEOMETRY = 4,
	ZVD_HELPER_ZONE_INFO = 5,
	ZVD_HELPER_ARG = 6,
	ZVD_HELPER_ARG_U64 = 7,
	ZVD_HELPER_TRACE = 8,
	ZVD_HELPER_COUNT
};

/* Limits the helpers enforce. */
#define ZVD_CSD_MAX_KEY 63	     /* bytes of a record or argument key */
#define ZVD_CSD_MAX_IO (1u << 24)    /* bytes per zvd_read / zvd_append */
#define ZVD_CSD_MAX_TRACE_MSG 128    /* bytes of a trace message */

#ifdef __bpf__

#define ZVD_CSD_PROG __attribute__((section("csd"), used))

/*
 * zvd_emit - return data to the caller.
 * Appends a record {key, type, value} to the run's result buffer.
 * @key/@key_len: 1..63 bytes; @type: ZVD_REC_*; @val/@val_len: the value
 * (a multiple of 8 bytes for U64/I64).
 * Returns 0, or -ZVD_ENOSPC when the buffer (ctx->out_cap) is full (the
 * record is then not stored). Ends the run with -EFAULT for a pointer
 * outside the program's memory, -EINVAL for a bad key length or type.
 */
static long (*const zvd_emit)(const char *key, zvd_u32 key_len, zvd_u32 type,
			      const void *val, zvd_u32 val_len) = (void *)1;

/*
 * zvd_read - read zone data into program memory.
 * Reads up to @len bytes (at most ZVD_CSD_MAX_IO) at byte @off from the
 * start of zone @zone into @buf. Any offset and length are accepted.
 * Reads stop at the zone's readable limit (never past the write pointer).
 * Returns the bytes read (0 at or past the limit), or -ZVD_EIO when the
 * device failed (an offline zone). Ends the run with -EACCES for a zone
 * outside [ctx->first_zone, +nr_zones), -EFAULT for a @buf range outside
 * writable program memory, -EINVAL for a @len over the limit.
 */
static long (*const zvd_read)(zvd_u32 zone, zvd_u64 off, void *buf,
			      zvd_u32 len) = (void *)2;

/*
 * zvd_append - zone-append @len bytes from @buf to zone @zone.
 * Only ctx->zone, and only when the caller granted it (ctx->flags has
 * ZVD_CSD_CTX_APPEND). @len must be a multiple of the block size and
 * within the device's append limit. Stores where the data landed (byte
 * offset on the device) in *@where unless @where is 0.
 * Returns 0 or the device's -errno (zone full, ...). Ends the run with
 * -EACCES without the grant, -EFAULT for bad pointers.
 */
static long (*const zvd_append)(zvd_u32 zone, const void *buf, zvd_u32 len,
				zvd_u64 *where) = (void *)3;

/*
 * zvd_geometry - copy the device geometry into @g (@size bytes: pass
 * sizeof(*g)). Returns 0 or -ZVD_ENODEV when the run has no device.
 */
static long (*const zvd_geometry)(struct zvd_csd_geom *g,
				  zvd_u32 size) = (void *)4;

/*
 * zvd_zone_info - describe zone @zone (a granted one) into @z (@size
 * bytes). Returns 0 or -errno; ends the run with -EACCES for a zone not
 * granted.
 */
static long (*const zvd_zone_info)(zvd_u32 zone, struct zvd_csd_zone *z,
				   zvd_u32 size) = (void *)5;

/*
 * zvd_arg - the value of argument @key (--arg KEY=VALUE) as text.
 * Copies at most @buf_len - 1 bytes and a NUL into @buf (@buf_len may be
 * 0). Returns the value's full length, or -ZVD_ENOENT.
 */
static long (*const zvd_arg)(const char *key, zvd_u32 key_len, char *buf,
			     zvd_u32 buf_len) = (void *)6;

/*
 * zvd_arg_u64 - the value of argument @key as a number (decimal, or hex
 * with 0x; a leading '-' gives the two's complement) into *@out.
 * Returns 0, -ZVD_ENOENT, or -ZVD_EINVAL when it is not a number.
 */
static long (*const zvd_arg_u64)(const char *key, zvd_u32 key_len,
				 zvd_u64 *out) = (void *)7;

/*
 * zvd_trace - leave a line (@msg of at most 128 bytes, and a value) in
 * the run's bounded trace. Returns 0, or 1 when the trace was full and
 * the line was only counted.
 */
static long (*const zvd_trace)(const char *msg, zvd_u32 msg_len,
			       zvd_u64 value) = (void *)8;

/* Convenience: emit a single unsigned or signed number. */
static inline long zvd_emit_u64(const char *key, zvd_u32 key_len, zvd_u64 v)
{
	return zvd_emit(key, key_len, ZVD_REC_U64, &v, sizeof(v));
}

static inline long zvd_emit_s64(const char *key, zvd_u32 key_len, zvd_s64 v)
{
	return zvd_emit(key, key_len, ZVD_REC_I64, &v, sizeof(v));
}

/* sizeof a string literal without its NUL, for keys. */
#define ZVD_KEY(s) (s), (sizeof(s) - 1)

#endif /* __bpf__ */
#endif /* ZVD_BPF_HELPERS_H */

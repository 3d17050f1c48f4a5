// SPDX-License-Identifier: MIT
/*
 * stats.c - sum, minimum and maximum of signed 64-bit integer columns of
 * fixed-size records in the granted zones.
 *
 *   zvd csd run IMG stats.o --zone N --arg record=16 --arg columns=2
 *
 * record: bytes per record, a multiple of 8 up to 64 (default 8);
 * columns: how many 64-bit little-endian signed columns start each
 * record (default record / 8). A partial record at the end of a zone's
 * data is ignored. Emits "rows", "sum", "min" and "max" (one value per
 * column; the sum wraps modulo 2^64); returns the row count.
 */
#include <zvd_bpf_helpers.h>

#include "common.h"

#define MAX_COLS 8

static zvd_u8 buf[CSD_CHUNK];

struct acc {
	zvd_s64 sum[MAX_COLS], min[MAX_COLS], max[MAX_COLS];
	zvd_u64 rows;
};

static struct acc acc;

static void add_rows(zvd_u64 n, zvd_u64 rec, zvd_u64 cols)
{
	zvd_u64 r, c;

	for (r = 0; r + rec <= n; r += rec) {
		const zvd_s64 *v = (const zvd_s64 *)(buf + r);

		for (c = 0; c < cols; c++) {
			acc.sum[c] += v[c];
			if (v[c] < acc.min[c])
				acc.min[c] = v[c];
			if (v[c] > acc.max[c])
				acc.max[c] = v[c];
		}
		acc.rows++;
	}
}

ZVD_CSD_PROG zvd_u64 stats(const struct zvd_csd_ctx *ctx)
{
	zvd_u32 z, end = ctx->first_zone + ctx->nr_zones;
	zvd_u64 rec = 8, cols = 0, c, want;

	zvd_arg_u64(ZVD_KEY("record"), &rec);
	zvd_arg_u64(ZVD_KEY("columns"), &cols);
	if (!cols)
		cols = rec / 8;
	if (!rec || rec % 8 || rec > 8 * MAX_COLS || cols > rec / 8)
		return -ZVD_EINVAL;
	for (c = 0; c < MAX_COLS; c++) {
		acc.min[c] = (zvd_s64)(~0ull >> 1);
		acc.max[c] = -acc.min[c] - 1;
	}
	want = CSD_CHUNK - CSD_CHUNK % rec;
	for (z = ctx->first_zone; z < end; z++) {
		zvd_u64 off = 0;
		long n;

		while ((n = zvd_read(z, off, buf, (zvd_u32)want)) > 0) {
			add_rows((zvd_u64)n, rec, cols);
			off += (zvd_u64)n;
		}
		if (n < 0)
			return (zvd_u64)n;
	}
	zvd_emit_u64(ZVD_KEY("rows"), acc.rows);
	zvd_emit(ZVD_KEY("sum"), ZVD_REC_I64, acc.sum, cols * 8);
	zvd_emit(ZVD_KEY("min"), ZVD_REC_I64, acc.min, cols * 8);
	zvd_emit(ZVD_KEY("max"), ZVD_REC_I64, acc.max, cols * 8);
	return acc.rows;
}

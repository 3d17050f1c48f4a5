// SPDX-License-Identifier: MIT
/*
 * count.c - count the 64-bit little-endian values in the granted zones
 * that match a predicate.
 *
 *   zvd csd run IMG count.o --zone N [--zones A-B] --arg op=lt --arg value=K
 *
 * op: eq, ne, lt, le, gt, ge (unsigned compare; default eq); value: K
 * (default 0). Emits "matched" and "values"; returns the match count.
 */
#include <zvd_bpf_helpers.h>

#include "common.h"

static zvd_u64 buf[CSD_CHUNK / 8];

/* Count the matches among @n values; the loop is written once per
 * operator so that it holds no branch on the operator. */
static zvd_u64 count_chunk(int op, zvd_u64 k, zvd_u64 n)
{
	zvd_u64 i, m = 0;

	switch (op) {
	case OP_EQ: for (i = 0; i < n; i++) m += buf[i] == k; break;
	case OP_NE: for (i = 0; i < n; i++) m += buf[i] != k; break;
	case OP_LT: for (i = 0; i < n; i++) m += buf[i] < k; break;
	case OP_LE: for (i = 0; i < n; i++) m += buf[i] <= k; break;
	case OP_GT: for (i = 0; i < n; i++) m += buf[i] > k; break;
	default: for (i = 0; i < n; i++) m += buf[i] >= k; break;
	}
	return m;
}

ZVD_CSD_PROG zvd_u64 count(const struct zvd_csd_ctx *ctx)
{
	zvd_u64 k = 0, matched = 0, values = 0;
	zvd_u32 z, end = ctx->first_zone + ctx->nr_zones;
	int op = arg_op();

	if (op < 0)
		return -ZVD_EINVAL;
	if (zvd_arg_u64(ZVD_KEY("value"), &k) == -ZVD_EINVAL)
		return -ZVD_EINVAL;
	for (z = ctx->first_zone; z < end; z++) {
		zvd_u64 off = 0;
		long n;

		while ((n = zvd_read(z, off, buf, CSD_CHUNK)) > 0) {
			matched += count_chunk(op, k, (zvd_u64)n / 8);
			values += (zvd_u64)n / 8;
			off += (zvd_u64)n;
		}
		if (n < 0)
			return (zvd_u64)n;
	}
	zvd_emit_u64(ZVD_KEY("matched"), matched);
	zvd_emit_u64(ZVD_KEY("values"), values);
	return matched;
}

// SPDX-License-Identifier: MIT
/*
 * histogram.c - byte histogram of the granted zones' data and its
 * Shannon entropy.
 *
 *   zvd csd run IMG histogram.o --zone N [--zones A-B]
 *
 * Emits "bytes", "histogram" (256 counts) and "entropy_ubits" (entropy
 * in millionths of a bit per byte, 0..8000000); returns the entropy.
 */
#include <zvd_bpf_helpers.h>

#include "common.h"

static zvd_u8 buf[CSD_CHUNK];
static unsigned long long hist[256];

static void add_chunk(zvd_u64 n)
{
	zvd_u64 i;

	for (i = 0; i < n; i++)
		hist[buf[i]]++;
}

ZVD_CSD_PROG zvd_u64 histogram(const struct zvd_csd_ctx *ctx)
{
	zvd_u32 z, end = ctx->first_zone + ctx->nr_zones;
	zvd_u64 total = 0, e;

	for (z = ctx->first_zone; z < end; z++) {
		zvd_u64 off = 0;
		long n;

		while ((n = zvd_read(z, off, buf, CSD_CHUNK)) > 0) {
			add_chunk((zvd_u64)n);
			off += (zvd_u64)n;
		}
		if (n < 0)
			return (zvd_u64)n;
		total += off;
	}
	e = csd_entropy_ubits(hist);
	zvd_emit_u64(ZVD_KEY("bytes"), total);
	zvd_emit(ZVD_KEY("histogram"), ZVD_REC_U64, hist, sizeof(hist));
	zvd_emit_u64(ZVD_KEY("entropy_ubits"), e);
	return e;
}

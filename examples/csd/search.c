// SPDX-License-Identifier: MIT
/*
 * search.c - find a byte string in the granted zones' data.
 *
 *   zvd csd run IMG search.o --zone N --arg pattern=TEXT [--arg max=M]
 *
 * pattern: 1..64 bytes; max: offsets to return (default 1024, at most
 * 4096). Matches do not span zones. Emits "matches" (all of them) and
 * "offsets" (device byte offsets of the first max matches, ascending);
 * returns the match count.
 */
#include <zvd_bpf_helpers.h>

#include "common.h"

#define MAX_PAT 64
#define MAX_OFFS 4096

static zvd_u8 buf[MAX_PAT + CSD_CHUNK];
static zvd_u64 offs[MAX_OFFS];
static char pat[MAX_PAT + 1];

struct scan {
	zvd_u64 plen, max, matches, base;
};

static int match_at(const zvd_u8 *p, zvd_u64 plen)
{
	zvd_u64 j;

	for (j = 1; j < plen; j++)
		if (p[j] != (zvd_u8)pat[j])
			return 0;
	return 1;
}

/* Scan buf[0, total): @base is the device offset of buf[0]. */
static void scan(struct scan *s, zvd_u64 total)
{
	zvd_u8 first = (zvd_u8)pat[0];
	zvd_u64 i;

	for (i = 0; i + s->plen <= total; i++) {
		if (buf[i] != first || !match_at(buf + i, s->plen))
			continue;
		if (s->matches < s->max)
			offs[s->matches] = s->base + i;
		s->matches++;
	}
}

/* Keep the last plen - 1 bytes for the next chunk; returns how many. */
static zvd_u64 carry(const struct scan *s, zvd_u64 total)
{
	zvd_u64 keep = s->plen - 1 < total ? s->plen - 1 : total, j;

	for (j = 0; j < keep; j++)
		buf[j] = buf[total - keep + j];
	return keep;
}

static long scan_zone(struct scan *s, zvd_u32 z)
{
	struct zvd_csd_zone zi;
	zvd_u64 off = 0, keep = 0;
	long n;

	n = zvd_zone_info(z, &zi, sizeof(zi));
	if (n < 0)
		return n;
	while ((n = zvd_read(z, off, buf + keep, CSD_CHUNK)) > 0) {
		s->base = zi.start + off - keep;
		scan(s, keep + (zvd_u64)n);
		keep = carry(s, keep + (zvd_u64)n);
		off += (zvd_u64)n;
	}
	return n;
}

ZVD_CSD_PROG zvd_u64 search(const struct zvd_csd_ctx *ctx)
{
	struct scan s = { .max = 1024 };
	zvd_u32 z, end = ctx->first_zone + ctx->nr_zones;
	long n = zvd_arg(ZVD_KEY("pattern"), pat, sizeof(pat));

	if (n <= 0 || n > MAX_PAT)
		return -ZVD_EINVAL;
	s.plen = (zvd_u64)n;
	zvd_arg_u64(ZVD_KEY("max"), &s.max);
	if (s.max > MAX_OFFS)
		s.max = MAX_OFFS;
	for (z = ctx->first_zone; z < end; z++) {
		n = scan_zone(&s, z);
		if (n < 0)
			return (zvd_u64)n;
	}
	zvd_emit_u64(ZVD_KEY("matches"), s.matches);
	zvd_emit(ZVD_KEY("offsets"), ZVD_REC_U64, offs,
		 (s.matches < s.max ? s.matches : s.max) * 8);
	return s.matches;
}

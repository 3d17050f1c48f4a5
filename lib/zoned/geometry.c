// SPDX-License-Identifier: MIT
/*
 * geometry.c - the rules a device geometry must keep, its default, its
 * encoding in the superblock and the chunk size chosen for it.
 */
#include <errno.h>

#include "util/util.h"
#include "zoned/zoned.h"

#define MAX_ZONE_SIZE (64ull << 30) /* keeps a zone's map within a chunk */
#define MAX_ZONES (1u << 24)

void zvd_geometry_default(struct zvd_geometry *g)
{
	memset(g, 0, sizeof(*g));
	g->size = 4ull << 30;
	g->zone_size = 128ull << 20;
	g->zone_capacity = 124ull << 20;
	g->block_size = 4096;
	g->max_open = 12;
	g->max_active = 12;
	g->max_append = 1u << 20;
}

static int bad(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return -EINVAL;
}

int zvd_geometry_validate(const struct zvd_geometry *g, const char **why)
{
	uint64_t nr_zones, nr_seq;

	if (!g)
		return bad(why, "no geometry");
	if (g->block_size != 512 && g->block_size != 4096)
		return bad(why, "block size must be 512 or 4096");
	if (!g->zone_size || g->zone_size % g->block_size)
		return bad(why, "zone size must be a non-zero multiple of the block size");
	if (g->zone_size > MAX_ZONE_SIZE)
		return bad(why, "zone size must be at most 64 GiB");
	if (!g->zone_capacity || g->zone_capacity % g->block_size)
		return bad(why, "zone capacity must be a non-zero multiple of the block size");
	if (g->zone_capacity > g->zone_size)
		return bad(why, "zone capacity must not exceed the zone size");
	if (!g->size || g->size % g->zone_size)
		return bad(why, "device size must be a non-zero multiple of the zone size");
	nr_zones = g->size / g->zone_size;
	if (nr_zones > MAX_ZONES)
		return bad(why, "too many zones (at most 16777216)");
	if (g->nr_conv_zones >= nr_zones)
		return bad(why, "at least one zone must be sequential");
	nr_seq = nr_zones - g->nr_conv_zones;
	if (g->max_open > nr_seq)
		return bad(why, "max open zones exceeds the number of sequential zones");
	if (g->max_active > nr_seq)
		return bad(why, "max active zones exceeds the number of sequential zones");
	if (g->max_open && g->max_active && g->max_open > g->max_active)
		return bad(why, "max open zones must not exceed max active zones");
	if (g->max_append % g->block_size)
		return bad(why, "zone-append limit must be a multiple of the block size");
	if (g->profile >= ZVD_PROFILE_COUNT)
		return bad(why, "unknown zone-model profile");
	if (g->size / geo_chunk_size(g) >= (1ull << 31))
		return bad(why, "device too large for its zone size");
	if (why)
		*why = NULL;
	return 0;
}

/* A power of two between 64 KiB and 1 MiB, no larger than a zone needs. */
uint32_t geo_chunk_size(const struct zvd_geometry *g)
{
	uint64_t c = 1u << 20;

	while (c > (64u << 10) && c / 2 >= g->zone_size)
		c /= 2;
	return (uint32_t)c;
}

void geo_encode(const struct zvd_geometry *g, uint8_t *b)
{
	put_le64(b + 0, g->size);
	put_le64(b + 8, g->zone_size);
	put_le64(b + 16, g->zone_capacity);
	put_le32(b + 24, g->block_size);
	put_le32(b + 28, g->nr_conv_zones);
	put_le32(b + 32, g->max_open);
	put_le32(b + 36, g->max_active);
	put_le32(b + 40, g->max_append);
	put_le32(b + 44, g->profile);
}

int geo_decode(struct zvd_geometry *g, const uint8_t *b, size_t len)
{
	if (len < GEO_BLOB_LEN - 4)
		return -EUCLEAN;
	memset(g, 0, sizeof(*g));
	g->size = get_le64(b + 0);
	g->zone_size = get_le64(b + 8);
	g->zone_capacity = get_le64(b + 16);
	g->block_size = get_le32(b + 24);
	g->nr_conv_zones = get_le32(b + 28);
	g->max_open = get_le32(b + 32);
	g->max_active = get_le32(b + 36);
	g->max_append = get_le32(b + 40);
	g->profile = len >= GEO_BLOB_LEN ? get_le32(b + 44) : ZVD_PROFILE_ZNS;
	return zvd_geometry_validate(g, NULL) ? -EUCLEAN : 0;
}

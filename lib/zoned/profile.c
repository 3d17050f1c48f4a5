// SPDX-License-Identifier: MIT
/*
 * profile.c - the zone-model profiles: each is a table of the rules on
 * which the references differ, consulted at the few places the model makes
 * those choices (mgmt.c, io.c). docs/PROFILES.md explains each rule and
 * its source.
 */
#include <errno.h>
#include <string.h>

#include "zoned/zoned.h"

static const struct zprofile profiles[ZVD_PROFILE_COUNT] = {
	[ZVD_PROFILE_ZNS] = {
		/* NVMe ZNS 1.1; QEMU hw/nvme where the spec leaves a choice */
		.name = "zns",
		.close_victim_first = 1,	/* nvme_zrm_open_flags */
	},
	[ZVD_PROFILE_NULL_BLK] = {
		/* drivers/block/null_blk/zoned.c, Linux 6.12 */
		.name = "null_blk",
		.close_empty_to_empty = 1,	/* null_close_zone, victims */
		.finish_checks_resources = 1,	/* null_finish_zone */
		.victim_round_robin = 1,	/* null_close_imp_open_zone */
		.victim_needs_active_room = 1,	/* null_check_open */
		.past_wp_fill = 0xff,		/* nullb_fill_pattern */
		.null_wp = 1,			/* wp start+cap / start+len / -1 */
		.fail_again_empties = 1,	/* null_set_zone_cond */
		.type_error_is_io = 1,		/* BLK_STS_IOERR throughout */
	},
};

const struct zprofile *zprofile_get(uint32_t profile)
{
	return profile < ZVD_PROFILE_COUNT ? &profiles[profile] : NULL;
}

const char *zvd_profile_name(uint32_t profile)
{
	return profile < ZVD_PROFILE_COUNT ? profiles[profile].name : NULL;
}

int zvd_profile_parse(const char *name)
{
	for (uint32_t i = 0; name && i < ZVD_PROFILE_COUNT; i++)
		if (!strcmp(name, profiles[i].name))
			return (int)i;
	return -EINVAL;
}

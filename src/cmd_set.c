// SPDX-License-Identifier: MIT
/*
 * cmd_set.c - zvd set IMAGE --profile zns|null_blk: change an image's
 * settings that can change after creation (today its zone-model profile).
 */
#include "cli.h"

enum { OPT_PROFILE };

static const struct cli_opt opts[] = {
	[OPT_PROFILE] = { "profile", true },
	{ NULL, false },
};

int cmd_set(int argc, char **argv)
{
	struct zvd_geometry g;
	struct zvd_dev *dev;
	struct cli_args a;
	uint32_t profile;
	int rc;

	rc = cli_parse(argc, argv, opts, 1, 1, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	if (!a.val[OPT_PROFILE])
		return cli_usage_error("set", "nothing to set (--profile P)");
	rc = cli_arg_profile("set", a.val[OPT_PROFILE], &profile);
	if (rc)
		return rc;
	rc = cli_open("set", a.pos[0], false, &dev);
	if (rc)
		return rc;
	zvd_get_geometry(dev, &g);
	rc = zvd_set_profile(dev, profile);
	if (rc < 0) {
		cli_dev_error("set", dev, rc);
		zvd_close(dev);
		return CLI_EXIT_REFUSED;
	}
	rc = cli_close("set", dev);
	if (rc)
		return rc;
	printf("%s: profile %s (was %s)\n", a.pos[0], zvd_profile_name(profile),
	       zvd_profile_name(g.profile));
	return 0;
}

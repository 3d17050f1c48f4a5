// SPDX-License-Identifier: MIT
/*
 * cmd_zone.c - the zone management commands (zvd open, close, finish,
 * reset) and fault injection (zvd fail). Each names one zone or --all,
 * calls the library once and prints the zone's new state.
 */
#include <string.h>

#include "cli.h"

enum { OPT_ALL };

static const struct cli_opt mgmt_opts[] = {
	[OPT_ALL] = { "all", false },
	{ NULL, false },
};

static const struct cli_opt no_opts[] = {
	{ NULL, false },
};

static const struct {
	const char *cmd;
	enum zvd_zone_op op;
	const char *done;
} ops[] = {
	{ "open", ZVD_OP_OPEN, "opened" },
	{ "close", ZVD_OP_CLOSE, "closed" },
	{ "finish", ZVD_OP_FINISH, "finished" },
	{ "reset", ZVD_OP_RESET, "reset" },
};

/* Print "zone N: COND, write pointer W" after a change. */
static int show_zone(const char *cmd, struct zvd_dev *dev, uint32_t zone)
{
	struct zvd_zone z;
	int rc = cli_get_zone(cmd, dev, zone, &z);

	if (rc)
		return rc;
	if (z.wp == ZVD_WP_INVALID)
		printf("zone %u: %s\n", zone, zvd_cond_name(z.cond));
	else
		printf("zone %u: %s, write pointer %llu\n", zone,
		       zvd_cond_name(z.cond), (unsigned long long)z.wp);
	return 0;
}

/* Which zone the arguments name: N, or ZVD_ALL_ZONES for --all. */
static int target_zone(const struct cli_args *a, uint32_t *zone)
{
	if (a->val[OPT_ALL] && a->npos == 2)
		return cli_usage_error(a->cmd, "give a zone number or --all, not both");
	if (a->val[OPT_ALL]) {
		*zone = ZVD_ALL_ZONES;
		return 0;
	}
	if (a->npos < 2)
		return cli_usage_error(a->cmd, "missing the zone number (or --all)");
	return cli_arg_u32(a->cmd, "zone", a->pos[1], zone);
}

int cmd_zone_op(int argc, char **argv)
{
	struct zvd_dev *dev;
	struct cli_args a;
	uint32_t zone;
	size_t i = 0;
	int rc;

	while (strcmp(ops[i].cmd, argv[0]))
		i++;
	rc = cli_parse(argc, argv, mgmt_opts, 1, 2, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	rc = target_zone(&a, &zone);
	if (rc)
		return rc;
	rc = cli_open(a.cmd, a.pos[0], false, &dev);
	if (rc)
		return rc;
	rc = zvd_zone_mgmt(dev, ops[i].op, zone);
	if (rc < 0)
		rc = cli_dev_error(a.cmd, dev, rc);
	else if (zone == ZVD_ALL_ZONES)
		printf("all zones: %s\n", ops[i].done);
	else
		rc = show_zone(a.cmd, dev, zone);
	if (rc) {
		zvd_close(dev);
		return rc;
	}
	return cli_close(a.cmd, dev);
}

int cmd_fail(int argc, char **argv)
{
	enum zvd_zone_cond cond;
	struct zvd_dev *dev;
	struct cli_args a;
	uint32_t zone;
	int rc;

	rc = cli_parse(argc, argv, no_opts, 3, 3, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	rc = cli_arg_u32("fail", "zone", a.pos[1], &zone);
	if (rc)
		return rc;
	if (!strcmp(a.pos[2], "read-only"))
		cond = ZVD_COND_READ_ONLY;
	else if (!strcmp(a.pos[2], "offline"))
		cond = ZVD_COND_OFFLINE;
	else
		return cli_usage_error("fail", "'%s': expected read-only or offline",
				       a.pos[2]);
	rc = cli_open("fail", a.pos[0], false, &dev);
	if (rc)
		return rc;
	rc = zvd_zone_fail(dev, zone, cond);
	if (rc < 0)
		rc = cli_dev_error("fail", dev, rc);
	else
		rc = show_zone("fail", dev, zone);
	if (rc) {
		zvd_close(dev);
		return rc;
	}
	return cli_close("fail", dev);
}

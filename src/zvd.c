// SPDX-License-Identifier: MIT
/*
 * zvd.c - main of the zvd command: find the command named by argv[1] and
 * run it. Help and --version are handled here.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct cli_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
};

static const struct cli_cmd cmds[] = {
	{ "create", cmd_create }, { "info", cmd_info },
	{ "report", cmd_report }, { "open", cmd_zone_op },
	{ "close", cmd_zone_op }, { "finish", cmd_zone_op },
	{ "reset", cmd_zone_op }, { "write", cmd_write },
	{ "append", cmd_append }, { "read", cmd_read },
	{ "check", cmd_check },	  { "fail", cmd_fail },
	{ "set", cmd_set },
	{ "csd", cmd_csd },
	{ "snapshot", cmd_snapshot }, { "rollback", cmd_rollback },
	{ "clone", cmd_clone },	  { "rebase", cmd_rebase },
	{ "flatten", cmd_flatten }, { "delete", cmd_delete },
	{ "gc", cmd_gc },	  { "break-lock", cmd_break_lock },	  { "convert", cmd_convert },
	{ "__hold", cmd_hold },
	{ "serve", cmd_serve },	  { "up", cmd_up },
	{ "vm", cmd_vm },
};

static int cmd_help(int argc, char **argv)
{
	if (argc > 2)
		return cli_usage_error("help", "unexpected argument '%s'",
				       argv[2]);
	if (argc == 2 && strcmp(argv[1], "--help") && strcmp(argv[1], "-h")) {
		if (cli_help_print(argv[1], stdout))
			return cli_usage_error("help", "unknown command '%s'",
					       argv[1]);
		return 0;
	}
	cli_help_print(argc == 2 ? "help" : NULL, stdout);
	return 0;
}

/*
 * Options before the command for images on RADOS: --ceph-conf FILE,
 * --ceph-id NAME, --keyring FILE. They become CEPH_CONF, CEPH_ID and
 * CEPH_ARGS, where librados (lib/backend/rados.c) reads them. Returns how
 * many arguments they took, or -1 after a usage error.
 */
static int ceph_options(int argc, char **argv)
{
	int i = 1;

	while (i < argc && !strncmp(argv[i], "--", 2)) {
		const char *opt = argv[i];

		if (strcmp(opt, "--ceph-conf") && strcmp(opt, "--ceph-id") &&
		    strcmp(opt, "--keyring"))
			break;
		if (i + 1 >= argc || !argv[i + 1][0]) {
			cli_usage_error(NULL, "%s needs a value", opt);
			return -1;
		}
		if (!strcmp(opt, "--ceph-conf")) {
			setenv("CEPH_CONF", argv[i + 1], 1);
		} else if (!strcmp(opt, "--ceph-id")) {
			setenv("CEPH_ID", argv[i + 1], 1);
		} else {
			const char *old = getenv("CEPH_ARGS");
			size_t n = (old ? strlen(old) : 0) + strlen(argv[i + 1]) + 16;
			char *args = malloc(n);
			if (!args)
				return -1;
			snprintf(args, n, "%s%s--keyring %s", old ? old : "",
				 old ? " " : "", argv[i + 1]);
			setenv("CEPH_ARGS", args, 1);
			free(args);
		}
		i += 2;
	}
	return i - 1;
}

int main(int argc, char **argv)
{
	size_t i;
	int skip = ceph_options(argc, argv);

	if (skip < 0)
		return CLI_EXIT_USAGE;
	argc -= skip;
	argv += skip;
	if (argc < 2) {
		cli_help_print(NULL, stderr);
		return CLI_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("zvd %s\n", ZVD_CLI_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help(1, argv + 1);
	if (!strcmp(argv[1], "help"))
		return cmd_help(argc - 1, argv + 1);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].run(argc - 1, argv + 1);
	return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
}

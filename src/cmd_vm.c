// SPDX-License-Identifier: MIT
/*
 * cmd_vm.c - zvd vm: boot the test-bed VM (Debian's Linux 6.12 in QEMU,
 * with ublk, null_blk and the zoned tools) by handing the command line to
 * scripts/vm/zvd-vm, which does the work. The script is found next to the
 * binary (build/zvd -> ../scripts/vm/zvd-vm), in an installed share
 * directory, or through $ZVD_VM_RUNNER.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Where the runner may live, relative to the directory of the binary. */
static const char *const runner_paths[] = {
	"../scripts/vm/zvd-vm",	  /* build/zvd in a source tree */
	"scripts/vm/zvd-vm",	  /* a binary at the top of the tree */
	"../share/zvd/vm/zvd-vm", /* installed under a prefix */
};

/* Fill @out with the path of the runner; returns 0, or -ENOENT. */
static int find_runner(char *out, size_t len)
{
	char exe[PATH_MAX];
	const char *env = getenv("ZVD_VM_RUNNER");
	ssize_t n;
	size_t i;
	char *slash;

	if (env && *env) {
		snprintf(out, len, "%s", env);
		return access(out, X_OK) ? -ENOENT : 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -ENOENT;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	for (i = 0; i < sizeof(runner_paths) / sizeof(runner_paths[0]); i++) {
		if ((size_t)snprintf(out, len, "%s/%s", exe, runner_paths[i]) >=
		    len)
			continue;
		if (!access(out, X_OK))
			return 0;
	}
	return -ENOENT;
}

/* True when --help or -h comes before any "--" (what follows "--" is the
 * guest script's). */
static bool wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return false;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	}
	return false;
}

int cmd_vm(int argc, char **argv)
{
	char runner[PATH_MAX];

	if (wants_help(argc, argv)) {
		cli_help_print("vm", stdout);
		return 0;
	}
	if (find_runner(runner, sizeof(runner)))
		return cli_error("vm",
				 "cannot find scripts/vm/zvd-vm next to this "
				 "binary; set ZVD_VM_RUNNER to its path");
	/* the runner takes exactly our arguments; argv[0] becomes its name */
	argv[0] = runner;
	execv(runner, argv);
	return cli_error("vm", "cannot run %s: %s", runner, strerror(errno));
}

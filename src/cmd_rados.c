// SPDX-License-Identifier: MIT
/*
 * cmd_rados.c - zvd break-lock rados://POOL/NAME: free an image on RADOS
 * whose server died.
 */
#include <errno.h>
#include <string.h>

#include "cli.h"

int cmd_break_lock(int argc, char **argv)
{
	static const struct cli_opt opts[] = { { NULL, false } };
	struct cli_args a;
	char who[256] = "";
	int rc;

	rc = cli_parse(argc, argv, opts, 1, 1, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	if (!zvd_is_rados(a.pos[0]))
		return cli_usage_error("break-lock",
				       "%s: only an image on RADOS (rados://POOL/NAME) "
				       "has a lock to break; a file's lock dies with "
				       "its process", a.pos[0]);
	rc = zvd_rados_break_lock(a.pos[0], who, sizeof(who));
	if (rc == -ENOENT)
		return cli_error("break-lock", "%s: nobody holds its lock", a.pos[0]);
	if (rc < 0 && zvd_rados_why())
		return cli_error("break-lock", "%s", zvd_rados_why());
	if (rc < 0)
		return cli_error("break-lock", "%s: %s", a.pos[0], strerror(-rc));
	printf("broke the lock of %s held by %s\n", a.pos[0], who);
	return 0;
}

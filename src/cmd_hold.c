// SPDX-License-Identifier: MIT
/*
 * cmd_hold.c - zvd __hold IMAGE [--write-every MS]: a stand-in for a
 * server, for the tests of the control socket. It opens the image
 * read-write (taking its lock), serves IMAGE.zvd-ctl exactly as a real
 * server does (ctl_start / ctl_stop), prints "holding IMAGE" and waits
 * for SIGTERM or SIGINT. With --write-every it also writes one block to
 * conventional zone 0 (when the image has one) every MS milliseconds,
 * block after block, so that snapshots are taken under I/O. Not listed in
 * the help.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "ctl.h"

enum { OPT_WRITE_EVERY };

static const struct cli_opt opts[] = {
	[OPT_WRITE_EVERY] = { "write-every", true },
	{ NULL, false },
};

/* Wait for a signal in @set for up to @ms (0: for ever). Returns the
 * signal, or 0 on timeout. */
static int wait_signal(const sigset_t *set, uint32_t ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	int sig;

	do {
		sig = ms ? sigtimedwait(set, NULL, &ts) : sigwaitinfo(set, NULL);
	} while (sig < 0 && errno == EINTR);
	return sig < 0 ? 0 : sig;
}

/* One block, with its sequence number in it, at the next place of zone 0. */
static int write_one(struct zvd_dev *dev, const struct zvd_geometry *g,
		     char *buf, uint64_t *n)
{
	uint64_t blocks = g->zone_size / g->block_size;
	int rc;

	memset(buf, 0, g->block_size);
	snprintf(buf, g->block_size, "block %llu", (unsigned long long)*n);
	rc = zvd_write(dev, buf, g->block_size,
		       (*n % blocks) * g->block_size, 0);
	if (rc == 0)
		rc = zvd_flush(dev);
	(*n)++;
	return rc;
}

int cmd_hold(int argc, char **argv)
{
	uint32_t every = 0;
	struct zvd_geometry g;
	struct zvd_dev *dev;
	struct cli_args a;
	sigset_t set;
	uint64_t n = 0;
	char *buf = NULL;
	int rc;

	rc = cli_parse(argc, argv, opts, 1, 1, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	if (a.val[OPT_WRITE_EVERY]) {
		rc = cli_arg_u32("__hold", "--write-every",
				 a.val[OPT_WRITE_EVERY], &every);
		if (rc)
			return rc;
	}
	/* Block the signals before any thread starts, so that only
	 * sigwait takes them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	rc = cli_open("__hold", a.pos[0], false, &dev);
	if (rc)
		return rc;
	zvd_get_geometry(dev, &g);
	if (!g.nr_conv_zones)
		every = 0;
	buf = malloc(g.block_size);
	rc = buf ? ctl_start(dev, a.pos[0]) : -ENOMEM;
	if (rc < 0) {
		free(buf);
		zvd_close(dev);
		return cli_error("__hold", "%s: control socket: %s", a.pos[0],
				 strerror(-rc));
	}
	printf("holding %s\n", a.pos[0]);
	fflush(stdout);
	while (!wait_signal(&set, every))
		if (write_one(dev, &g, buf, &n) < 0)
			every = 0;
	ctl_stop();
	free(buf);
	return cli_close("__hold", dev);
}

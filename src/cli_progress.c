// SPDX-License-Identifier: MIT
/*
 * cli_progress.c - progress of long commands (convert, rebase, flatten)
 * on stderr: "import: 42% (430 of 1024 MiB, 612.3 MB/s)", redrawn in place
 * at most five times a second, ended by a newline. Shown only when stderr
 * is a terminal unless --progress forces it; --quiet silences it.
 */
#include <time.h>
#include <unistd.h>

#include "cli.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_init(struct cli_progress *p, const char *what,
		       bool force, bool quiet)
{
	p->what = what;
	p->on = !quiet && (force || isatty(STDERR_FILENO));
	p->drawn = false;
	p->start = now();
	p->last = 0;
}

static void draw(struct cli_progress *p, uint64_t done, uint64_t total)
{
	double t = now() - p->start;
	double mbs = t > 0 ? (double)done / 1e6 / t : 0;
	unsigned pct = total ? (unsigned)(done * 100 / total) : 100;

	fprintf(stderr, "\r%s: %3u%% (%llu of %llu MiB, %.1f MB/s)  ", p->what,
		pct, (unsigned long long)(done >> 20),
		(unsigned long long)(total >> 20), mbs);
	fflush(stderr);
	p->drawn = true;
}

void cli_progress_update(struct cli_progress *p, uint64_t done,
			 uint64_t total)
{
	double t;

	if (!p->on)
		return;
	t = now();
	if (done < total && t - p->last < 0.2)
		return;
	p->last = t;
	draw(p, done, total);
}

void cli_progress_fn(void *arg, uint64_t done, uint64_t total)
{
	cli_progress_update(arg, done, total);
}

void cli_progress_done(struct cli_progress *p)
{
	if (p->on && p->drawn)
		fputc('\n', stderr);
	p->drawn = false;
}

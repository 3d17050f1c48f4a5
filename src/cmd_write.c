// SPDX-License-Identifier: MIT
/*
 * cmd_write.c - zvd write: copy the input into zone N at its write
 * pointer (or at --offset), CLI_PIECE bytes at a time so memory stays
 * bounded whatever the input size.
 *
 * A regular input file is checked for block alignment before anything is
 * written; a pipe can only be checked at its end, after the whole blocks
 * before the tail were written.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

enum { OPT_INPUT, OPT_OFFSET, OPT_PAD, OPT_FUA };

static const struct cli_opt opts[] = {
	[OPT_INPUT] = { "input", true },
	[OPT_OFFSET] = { "offset", true },
	[OPT_PAD] = { "pad", false },
	[OPT_FUA] = { "fua", false },
	{ NULL, false },
};

struct wjob {
	struct zvd_dev *dev;
	uint32_t zone;
	uint32_t bs;
	bool seq;		/* zone N is sequential */
	uint64_t zone_start;
	int fd;
	bool pad;
	unsigned flags;
	uint64_t off;	 /* where the next piece goes */
	uint64_t done;	 /* bytes written, padding included */
	uint64_t padded; /* zero bytes added by --pad */
};

/* Where the write starts. Returns 0 or an exit code. */
static int pick_offset(const struct cli_args *a, struct wjob *w,
		       const struct zvd_zone *z)
{
	uint32_t in;
	int rc;

	w->seq = z->type == ZVD_ZONE_SEQUENTIAL;
	w->zone_start = z->start;
	if (a->val[OPT_OFFSET]) {
		rc = cli_arg_size("write", "--offset", a->val[OPT_OFFSET],
				  &w->off);
		if (rc)
			return rc;
		in = zvd_zone_of(w->dev, w->off);
		if (in == UINT32_MAX)
			return cli_usage_error("write", "--offset %llu is beyond the end of the device",
					       (unsigned long long)w->off);
		if (in != w->zone)
			return cli_usage_error("write", "--offset %llu is in zone %u, not in zone %u",
					       (unsigned long long)w->off, in,
					       w->zone);
		return 0;
	}
	if (z->type == ZVD_ZONE_CONVENTIONAL)
		return cli_usage_error("write", "zone %u is conventional: give --offset",
				       w->zone);
	/* Without a valid write pointer, aim at the zone start and let the
	 * library refuse with the zone's own status (full, read-only, ...). */
	if (z->wp == ZVD_WP_INVALID || z->cond == ZVD_COND_FULL)
		w->off = z->start;
	else
		w->off = z->wp;
	return 0;
}

static int unaligned(const struct wjob *w, uint64_t len)
{
	return cli_error("write",
			 "zone %u: input length %llu is not a multiple of the block size %u (use --pad to zero-pad the last block)",
			 w->zone, (unsigned long long)len, w->bs);
}

/* Refuse an unaligned regular file before writing any of it. */
static int precheck_input(const struct wjob *w)
{
	struct stat st;

	if (w->pad || fstat(w->fd, &st) || !S_ISREG(st.st_mode))
		return 0;
	if ((uint64_t)st.st_size % w->bs)
		return unaligned(w, (uint64_t)st.st_size);
	return 0;
}

/* After a failure: say how much of the input is already on the device. */
static void report_partial(const struct wjob *w)
{
	if (w->done)
		fprintf(stderr, "zvd write: %llu bytes had been written before the failure\n",
			(unsigned long long)w->done);
}

/*
 * Where the next piece goes: w->off, unless a sequential zone is used up
 * and w->off has reached the next zone. The write names zone N, so it is
 * aimed at zone N's start and the library refuses it with zone N's
 * status rather than writing into the next zone.
 */
static uint64_t piece_offset(const struct wjob *w)
{
	if (w->seq && zvd_zone_of(w->dev, w->off) != w->zone)
		return w->zone_start;
	return w->off;
}

/* Copy the input to the device. Returns 0 or an exit code. */
static int copy_input(struct wjob *w, char *buf)
{
	for (;;) {
		ssize_t n = cli_read_full(w->fd, buf, CLI_PIECE);
		size_t len;
		int rc;

		if (n < 0) {
			rc = cli_error("write", "reading the input: %s",
				       strerror((int)-n));
			report_partial(w);
			return rc;
		}
		if (n == 0)
			return 0;
		len = (size_t)n;
		if (len % w->bs) {
			if (!w->pad) {
				rc = unaligned(w, w->done + len);
				report_partial(w);
				return rc;
			}
			w->padded = w->bs - len % w->bs;
			memset(buf + len, 0, w->padded);
			len += w->padded;
		}
		rc = zvd_write(w->dev, buf, len, piece_offset(w), w->flags);
		if (rc < 0) {
			rc = cli_dev_error("write", w->dev, rc);
			report_partial(w);
			return rc;
		}
		w->off += len;
		w->done += len;
		if ((size_t)n < CLI_PIECE)
			return 0;
	}
}

static void print_result(const struct wjob *w, uint64_t start,
			 const struct zvd_zone *z)
{
	printf("wrote %llu bytes to zone %u at offset %llu", (unsigned long long)w->done,
	       w->zone, (unsigned long long)start);
	if (w->padded)
		printf(" (%llu zero bytes of padding)", (unsigned long long)w->padded);
	if (z->type == ZVD_ZONE_CONVENTIONAL)
		printf("; conventional zone, no write pointer\n");
	else if (z->wp == ZVD_WP_INVALID)
		printf("; zone %s\n", zvd_cond_name(z->cond));
	else
		printf("; write pointer %llu (%s)\n", (unsigned long long)z->wp,
		       zvd_cond_name(z->cond));
}

static int run(const struct cli_args *a, struct wjob *w)
{
	struct zvd_geometry g;
	struct zvd_zone z;
	uint64_t start;
	char *buf;
	int rc;

	zvd_get_geometry(w->dev, &g);
	w->bs = g.block_size;
	rc = cli_get_zone("write", w->dev, w->zone, &z);
	if (!rc)
		rc = pick_offset(a, w, &z);
	if (!rc)
		rc = precheck_input(w);
	if (rc)
		return rc;
	/* Room for a piece plus the padding of its last block. */
	buf = malloc(CLI_PIECE + w->bs);
	if (!buf)
		return cli_error("write", "out of memory");
	start = w->off;
	rc = copy_input(w, buf);
	free(buf);
	if (!rc)
		rc = cli_get_zone("write", w->dev, w->zone, &z);
	if (rc)
		return rc;
	rc = cli_close("write", w->dev);
	w->dev = NULL;
	if (!rc)
		print_result(w, start, &z);
	return rc;
}

int cmd_write(int argc, char **argv)
{
	struct wjob w = { 0 };
	struct cli_args a;
	int rc;

	rc = cli_parse(argc, argv, opts, 2, 2, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	rc = cli_arg_u32("write", "zone", a.pos[1], &w.zone);
	if (rc)
		return rc;
	w.pad = a.val[OPT_PAD] != NULL;
	w.flags = a.val[OPT_FUA] ? ZVD_WRITE_FUA : 0;
	rc = cli_open_input("write", a.val[OPT_INPUT], &w.fd);
	if (rc)
		return rc;
	rc = cli_open("write", a.pos[0], false, &w.dev);
	if (!rc)
		rc = run(&a, &w);
	if (w.dev)
		zvd_close(w.dev);
	cli_close_fd(w.fd);
	return rc;
}

// SPDX-License-Identifier: MIT
/*
 * cmd_read.c - zvd read: copy a byte range of the device to a file or
 * standard output, CLI_PIECE bytes at a time. The first piece takes the
 * odd remainder, so a length the library refuses is refused before any
 * output is written.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

enum { OPT_OFFSET, OPT_LENGTH, OPT_OUTPUT };

static const struct cli_opt opts[] = {
	[OPT_OFFSET] = { "offset", true },
	[OPT_LENGTH] = { "length", true },
	[OPT_OUTPUT] = { "output", true },
	{ NULL, false },
};

static int copy_out(struct zvd_dev *dev, int fd, uint64_t off, uint64_t len)
{
	uint64_t piece = len % CLI_PIECE ? len % CLI_PIECE : CLI_PIECE;
	char *buf = malloc(CLI_PIECE);
	int rc = 0;

	if (!buf)
		return cli_error("read", "out of memory");
	do {
		if (piece > len)
			piece = len;
		rc = zvd_read(dev, buf, piece, off);
		if (rc < 0) {
			rc = cli_dev_error("read", dev, rc);
			break;
		}
		rc = cli_write_full(fd, buf, piece);
		if (rc < 0) {
			rc = cli_error("read", "writing the output: %s",
				       strerror(-rc));
			break;
		}
		off += piece;
		len -= piece;
		piece = CLI_PIECE;
	} while (len);
	free(buf);
	return rc;
}

/* Non-zero when @out names the image file itself (truncating it for the
 * output would destroy the image). */
static bool same_file(const char *image, const char *out)
{
	struct stat a, b;

	if (!out || stat(image, &a) || stat(out, &b))
		return false;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int cmd_read(int argc, char **argv)
{
	struct cli_image im;
	struct zvd_dev *dev;
	struct cli_args a;
	uint64_t off, len;
	int fd, rc, rc2;

	rc = cli_parse(argc, argv, opts, 1, 1, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	if (!a.val[OPT_OFFSET] || !a.val[OPT_LENGTH])
		return cli_usage_error("read", "--offset and --length are required");
	rc = cli_arg_size("read", "--offset", a.val[OPT_OFFSET], &off);
	if (!rc)
		rc = cli_arg_size("read", "--length", a.val[OPT_LENGTH], &len);
	if (rc)
		return rc;
	rc = cli_parse_image("read", a.pos[0], &im);
	if (rc)
		return rc;
	if (same_file(im.path, a.val[OPT_OUTPUT]))
		return cli_usage_error("read", "--output %s is the image itself",
				       a.val[OPT_OUTPUT]);
	rc = cli_open_image("read", a.pos[0], true, NULL, &dev);
	if (rc)
		return rc;
	rc = cli_open_output("read", a.val[OPT_OUTPUT], &fd);
	if (!rc) {
		rc = copy_out(dev, fd, off, len);
		cli_close_fd(fd);
	}
	rc2 = cli_close("read", dev);
	return rc ? rc : rc2;
}

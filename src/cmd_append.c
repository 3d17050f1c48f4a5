// SPDX-License-Identifier: MIT
/*
 * cmd_append.c - zvd append: one zone append of the whole input (at most
 * the device's append limit) and the offset where it landed.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { OPT_INPUT, OPT_PAD, OPT_FUA, OPT_JSON };

static const struct cli_opt opts[] = {
	[OPT_INPUT] = { "input", true },
	[OPT_PAD] = { "pad", false },
	[OPT_FUA] = { "fua", false },
	[OPT_JSON] = { "json", false },
	{ NULL, false },
};

/* Read the input into a new buffer of limit + block size bytes; *len is
 * how much was read, limit + 1 at most. Returns 0 or an exit code. */
static int read_input(int fd, uint64_t limit, uint32_t bs, char **buf,
		      size_t *len)
{
	ssize_t n;

	*buf = malloc(limit + bs);
	if (!*buf)
		return cli_error("append", "out of memory (append limit %llu bytes)",
				 (unsigned long long)limit);
	n = cli_read_full(fd, *buf, limit + 1);
	if (n < 0)
		return cli_error("append", "reading the input: %s",
				 strerror((int)-n));
	*len = (size_t)n;
	return 0;
}

static void print_result(bool json, uint64_t where, size_t len)
{
	struct cli_json j;

	if (!json) {
		printf("%llu\n", (unsigned long long)where);
		return;
	}
	cli_json_init(&j, stdout);
	cli_json_obj_begin(&j, NULL);
	cli_json_u64(&j, "offset", where);
	cli_json_u64(&j, "length", len);
	cli_json_obj_end(&j);
	cli_json_done(&j);
}

/* Append the input; *where and *len say where it landed and how much. */
static int run(const struct cli_args *a, struct zvd_dev *dev, uint32_t zone,
	       int fd, char **buf, uint64_t *where, size_t *lenp)
{
	struct zvd_geometry g;
	struct zvd_zone z;
	uint64_t limit;
	size_t len = 0;
	int rc;

	zvd_get_geometry(dev, &g);
	limit = g.max_append ? g.max_append : g.zone_capacity;
	rc = cli_get_zone("append", dev, zone, &z);
	if (!rc)
		rc = read_input(fd, limit, g.block_size, buf, &len);
	if (rc)
		return rc;
	if (len > limit)
		return cli_error("append", "zone %u: %s: the input is larger than the zone append limit of %llu bytes",
				 zone, zvd_status_name(ZVD_INVALID_FIELD),
				 (unsigned long long)limit);
	if (len % g.block_size) {
		if (!a->val[OPT_PAD])
			return cli_error("append", "zone %u: input length %zu is not a multiple of the block size %u (use --pad to zero-pad the last block)",
					 zone, len, g.block_size);
		memset(*buf + len, 0, g.block_size - len % g.block_size);
		len += g.block_size - len % g.block_size;
	}
	rc = zvd_append(dev, zone, *buf, len,
			a->val[OPT_FUA] ? ZVD_WRITE_FUA : 0, where);
	if (rc < 0)
		return cli_dev_error("append", dev, rc);
	*lenp = len;
	return 0;
}

int cmd_append(int argc, char **argv)
{
	struct zvd_dev *dev;
	struct cli_args a;
	char *buf = NULL;
	uint64_t where = 0;
	size_t len = 0;
	uint32_t zone;
	int fd, rc;

	rc = cli_parse(argc, argv, opts, 2, 2, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	rc = cli_arg_u32("append", "zone", a.pos[1], &zone);
	if (rc)
		return rc;
	rc = cli_open_input("append", a.val[OPT_INPUT], &fd);
	if (rc)
		return rc;
	rc = cli_open("append", a.pos[0], false, &dev);
	if (!rc) {
		rc = run(&a, dev, zone, fd, &buf, &where, &len);
		if (rc)
			zvd_close(dev);
		else
			rc = cli_close("append", dev);
		if (!rc)
			print_result(a.val[OPT_JSON] != NULL, where, len);
	}
	free(buf);
	cli_close_fd(fd);
	return rc;
}

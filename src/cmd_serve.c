// SPDX-License-Identifier: MIT
/*
 * cmd_serve.c - zvd serve --ublk IMAGE and zvd up [IMAGE]: present an
 * image as a zoned block device through the best front end the host has
 * (so far the one front end: ublk, in src/ublk/). `serve --mem` serves an
 * in-memory copy of the image, for benchmarks; `up` creates a default
 * image when there is none and explains what to do on a host without
 * ublk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "ublk/ublk.h"

#define UP_DEFAULT_IMAGE "zvd.img"

/* up takes the first three (its table stops there). */
enum { OPT_QUEUES, OPT_DEPTH, OPT_ID, OPT_UBLK, OPT_MEM };

static const struct cli_opt opts[] = {
	[OPT_QUEUES] = { "queues", true }, [OPT_DEPTH] = { "depth", true },
	[OPT_ID] = { "id", true },	   [OPT_UBLK] = { "ublk", false },
	[OPT_MEM] = { "mem", false },	   { NULL, false },
};

static const struct cli_opt up_opts[] = {
	[OPT_QUEUES] = { "queues", true },
	[OPT_DEPTH] = { "depth", true },
	[OPT_ID] = { "id", true },
	{ NULL, false },
};

/* --queues, --depth and --id into @o. Returns 0 or an exit code. */
static int parse_numbers(const char *cmd, const struct cli_args *a,
			 struct ublk_srv_opts *o)
{
	uint32_t v;
	int rc;

	o->cmd = cmd;
	o->dev_id = -1;
	if (a->val[OPT_QUEUES]) {
		rc = cli_arg_u32(cmd, "--queues", a->val[OPT_QUEUES], &v);
		if (rc)
			return rc;
		if (v < 1 || v > UBLK_SRV_MAX_QUEUES)
			return cli_usage_error(cmd, "--queues: %u is not between 1 and %u",
					       v, UBLK_SRV_MAX_QUEUES);
		o->nr_queues = (uint16_t)v;
	}
	if (a->val[OPT_DEPTH]) {
		rc = cli_arg_u32(cmd, "--depth", a->val[OPT_DEPTH], &v);
		if (rc)
			return rc;
		if (v < 1 || v > UBLK_SRV_MAX_DEPTH)
			return cli_usage_error(cmd, "--depth: %u is not between 1 and %u",
					       v, UBLK_SRV_MAX_DEPTH);
		o->depth = (uint16_t)v;
	}
	if (a->val[OPT_ID]) {
		rc = cli_arg_u32(cmd, "--id", a->val[OPT_ID], &v);
		if (rc)
			return rc;
		if (v >= (1u << 20))
			return cli_usage_error(cmd, "--id: %u is too large (at most %u)",
					       v, (1u << 20) - 1);
		o->dev_id = (int32_t)v;
	}
	return 0;
}

/* ---- --mem: an in-memory copy of the image --------------------------------- */

/* Copy @len bytes at @off from @src to @dst, skipping pieces of zeros
 * (the mem backend stays sparse). */
static int copy_range(struct zvd_dev *src, struct zvd_dev *dst, char *buf,
		      uint64_t off, uint64_t len)
{
	static const char zeros[4096];
	uint64_t done = 0;
	int rc;

	while (done < len) {
		size_t n = len - done > CLI_PIECE ? CLI_PIECE : len - done;
		size_t i;

		rc = zvd_read(src, buf, n, off + done);
		if (rc < 0)
			return rc;
		for (i = 0; i < n && !memcmp(buf + i, zeros, 4096); i += 4096)
			;
		if (i < n) {
			rc = zvd_write(dst, buf, n, off + done, 0);
			if (rc < 0)
				return rc;
		}
		done += n;
	}
	return 0;
}

/* Give zone @idx of @dst the data and condition of @z. */
static int copy_zone(struct zvd_dev *src, struct zvd_dev *dst, char *buf,
		     uint32_t idx, const struct zvd_zone *z)
{
	int rc = 0;

	if (z->type == ZVD_ZONE_CONVENTIONAL)
		return copy_range(src, dst, buf, z->start, z->len);
	if (z->cond == ZVD_COND_OFFLINE)
		return zvd_zone_fail(dst, idx, ZVD_COND_OFFLINE);
	if (z->written) {
		/* zeros count here: the write pointer must end up right */
		uint64_t done = 0;

		while (!rc && done < z->written) {
			size_t n = z->written - done > CLI_PIECE ?
					   CLI_PIECE :
					   z->written - done;

			rc = zvd_read(src, buf, n, z->start + done);
			if (rc >= 0)
				rc = zvd_write(dst, buf, n, z->start + done, 0);
			done += n;
		}
		if (rc < 0)
			return rc;
	}
	switch (z->cond) {
	case ZVD_COND_EXP_OPEN:
		return zvd_zone_mgmt(dst, ZVD_OP_OPEN, idx);
	case ZVD_COND_CLOSED:
		if (!z->written)
			rc = zvd_zone_mgmt(dst, ZVD_OP_OPEN, idx);
		return rc < 0 ? rc : zvd_zone_mgmt(dst, ZVD_OP_CLOSE, idx);
	case ZVD_COND_FULL:
		return z->written < z->capacity ?
			       zvd_zone_mgmt(dst, ZVD_OP_FINISH, idx) :
			       0;
	case ZVD_COND_READ_ONLY:
		return zvd_zone_fail(dst, idx, ZVD_COND_READ_ONLY);
	default:
		return 0;
	}
}

static int copy_zones(struct zvd_dev *src, struct zvd_dev *dst)
{
	struct zvd_zone *zones = calloc(CLI_REPORT_BATCH, sizeof(*zones));
	char *buf = malloc(CLI_PIECE);
	uint32_t next = 0, nr = zvd_nr_zones(src);
	int n = 0, i, rc = -ENOMEM;

	if (!zones || !buf)
		goto out;
	rc = 0;
	while (!rc && next < nr) {
		n = zvd_report(src, next, ZVD_REPORT_ALL, zones,
			       CLI_REPORT_BATCH);
		if (n <= 0) {
			rc = n < 0 ? n : -EIO;
			break;
		}
		for (i = 0; !rc && i < n; i++)
			rc = copy_zone(src, dst, buf, next + (uint32_t)i,
				       &zones[i]);
		next += (uint32_t)n;
	}
out:
	free(zones);
	free(buf);
	return rc;
}

/* Load the image at @path into a new device on the mem backend. */
static int load_mem(const char *cmd, const char *path, struct zvd_dev **out)
{
	struct zvd_backend *be = NULL;
	struct zvd_dev *src, *dst = NULL;
	struct zvd_geometry g;
	int rc;

	rc = cli_open(cmd, path, true, &src);
	if (rc)
		return rc;
	zvd_get_geometry(src, &g);
	rc = zvd_backend_mem_create(&be);
	if (rc == 0) {
		rc = zvd_create(be, &g, &dst);
		if (rc < 0)
			zvd_backend_close(be);
	}
	if (rc == 0)
		rc = copy_zones(src, dst);
	zvd_close(src);
	if (rc < 0) {
		zvd_close(dst);
		return cli_error(cmd, "%s: loading the image into memory: %s",
				 path, strerror(-rc));
	}
	fprintf(stderr,
		"zvd %s: serving an in-memory copy of %s: changes are lost "
		"at exit\n", cmd, path);
	*out = dst;
	return 0;
}

/* ---- serving --------------------------------------------------------------- */

/* Refuse an image the kernel would refuse, before touching ublk. */
static int check_image(const char *cmd, const char *path,
		       struct zvd_dev *dev)
{
	struct zvd_geometry g;
	char why[512];

	zvd_get_geometry(dev, &g);
	if (ublk_geometry_check(&g, why, sizeof(why)) == 0)
		return 0;
	return cli_error(cmd, "%s cannot be a zoned ublk device: %s", path,
			 why);
}

/* What to do on a host without ublk (for zvd up). */
static void offer_vm(const char *cmd, const char *path)
{
	char *abs = realpath(path, NULL);
	struct utsname u;

	if (uname(&u))
		strcpy(u.release, "?");
	if (abs)
		path = abs; /* the guest shares the image's directory there */
	fprintf(stderr,
		"zvd %s: this host (Linux %s) cannot present %s as a block "
		"device.\n"
		"  'zvd vm %s' boots a small guest with Debian's Linux 6.12, "
		"which has\n"
		"  ublk and zoned block devices, with the image's directory "
		"shared; run\n"
		"  'zvd up %s' there. Here the image works with every other "
		"zvd command:\n"
		"  zvd info, zvd report, zvd write, zvd read ...\n",
		cmd, u.release, path, path, path);
	free(abs);
}

/* Open or load the image, check it, open ublk, serve. */
static int serve_image(const char *cmd, const char *path, bool mem,
		       const struct ublk_srv_opts *o)
{
	struct zvd_dev *dev;
	char why[512];
	int rc, rc2, ctrl;

	rc = mem ? load_mem(cmd, path, &dev) : cli_open(cmd, path, false, &dev);
	if (rc)
		return rc;
	rc = check_image(cmd, path, dev);
	if (rc) {
		zvd_close(dev);
		return rc;
	}
	ctrl = ublk_ctrl_open(why, sizeof(why));
	if (ctrl < 0) {
		cli_error(cmd, "%s", why);
		if (!strcmp(cmd, "up"))
			offer_vm(cmd, path);
		zvd_close(dev);
		return CLI_EXIT_REFUSED;
	}
	/* snapshot and gc requests on the held image come through this */
	if (!mem && ctl_start(dev, path) < 0)
		fprintf(stderr, "zvd %s: no control socket for %s; snapshot "
			"commands will not reach this server\n", cmd, path);
	rc = ublk_serve(dev, o, ctrl);
	if (!mem)
		ctl_stop();
	rc2 = cli_close(cmd, dev);
	if (!rc && !rc2)
		fprintf(stderr, "zvd %s: %s flushed and closed\n", cmd, path);
	return rc ? rc : rc2;
}

int cmd_serve(int argc, char **argv)
{
	struct ublk_srv_opts o = { 0 };
	struct cli_args a;
	int rc;

	rc = cli_parse(argc, argv, opts, 1, 1, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	if (!a.val[OPT_UBLK])
		return cli_usage_error("serve",
				       "name the front end: --ublk (the only "
				       "one so far)");
	rc = parse_numbers("serve", &a, &o);
	if (rc)
		return rc;
	return serve_image("serve", a.pos[0], a.val[OPT_MEM] != NULL, &o);
}

/* Create @path with the default geometry. Returns 0 or an exit code. */
static int create_default(const char *path)
{
	struct zvd_backend *be;
	struct zvd_geometry g;
	struct zvd_dev *dev;
	char s1[32], s2[32];
	int rc;

	zvd_geometry_default(&g);
	rc = cli_open_backend("up", path, ZVD_FILE_CREATE, &be);
	if (rc)
		return rc;
	rc = zvd_create(be, &g, &dev);
	if (rc < 0) {
		zvd_backend_close(be);
		unlink(path);
		return cli_error("up", "%s: creating the image: %s", path,
				 strerror(-rc));
	}
	rc = cli_close("up", dev);
	if (rc)
		return rc;
	fprintf(stderr, "zvd up: created %s: %s in zones of %s\n", path,
		cli_fmt_size(g.size, s1, sizeof(s1)),
		cli_fmt_size(g.zone_size, s2, sizeof(s2)));
	return 0;
}

int cmd_up(int argc, char **argv)
{
	struct ublk_srv_opts o = { 0 };
	const char *path = UP_DEFAULT_IMAGE;
	struct cli_args a;
	int rc;

	rc = cli_parse(argc, argv, up_opts, 0, 1, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	rc = parse_numbers("up", &a, &o);
	if (rc)
		return rc;
	if (a.npos)
		path = a.pos[0];
	if (access(path, F_OK) != 0) {
		rc = create_default(path);
		if (rc)
			return rc;
	}
	return serve_image("up", path, false, &o);
}

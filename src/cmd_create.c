// SPDX-License-Identifier: MIT
/*
 * cmd_create.c - zvd create: build a geometry from the defaults and the
 * options, let the library validate it, then create the image file.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* The geometry options come first, in the order of CLI_GEOMETRY_OPTS. */
enum {
	OPT_SIZE,
	OPT_ZONE_SIZE,
	OPT_ZONE_CAP,
	OPT_CONV,
	OPT_BLOCK,
	OPT_MAX_OPEN,
	OPT_MAX_ACTIVE,
	OPT_MAX_APPEND,
	OPT_PROFILE,
	OPT_BACKING,
	OPT_VOLUME,
};

static const struct cli_opt opts[] = {
	CLI_GEOMETRY_OPTS,
	[OPT_BACKING] = { "backing", true },
	[OPT_VOLUME] = { "conventional", false },
	{ NULL, false },
};

/* A size option that must fit the 32-bit field of the geometry. */
static int size32(const char *cmd, const char *what, const char *s,
		  uint32_t *out)
{
	uint64_t v;
	int rc = cli_arg_size(cmd, what, s, &v);

	if (rc)
		return rc;
	if (v > UINT32_MAX)
		return cli_usage_error(cmd, "%s: '%s' is too large (at most %u)",
				       what, s, UINT32_MAX);
	*out = (uint32_t)v;
	return 0;
}

bool cli_geometry_given(const char *const *val)
{
	int i;

	for (i = 0; i < CLI_NR_GEOMETRY_OPTS; i++)
		if (val[i])
			return true;
	return false;
}

int cli_build_geometry(const char *cmd, const char *const *v,
		       struct zvd_geometry *g)
{
	int rc = 0;

	zvd_geometry_default(g);
	if (!rc && v[OPT_SIZE])
		rc = cli_arg_size(cmd, "--size", v[OPT_SIZE], &g->size);
	if (!rc && v[OPT_ZONE_SIZE]) {
		rc = cli_arg_size(cmd, "--zone-size", v[OPT_ZONE_SIZE],
				  &g->zone_size);
		g->zone_capacity = g->zone_size;
	}
	if (!rc && v[OPT_ZONE_CAP])
		rc = cli_arg_size(cmd, "--zone-capacity", v[OPT_ZONE_CAP],
				  &g->zone_capacity);
	if (!rc && v[OPT_CONV])
		rc = cli_arg_u32(cmd, "--conventional-zones", v[OPT_CONV],
				 &g->nr_conv_zones);
	if (!rc && v[OPT_BLOCK])
		rc = size32(cmd, "--block-size", v[OPT_BLOCK], &g->block_size);
	if (!rc && v[OPT_MAX_OPEN])
		rc = cli_arg_u32(cmd, "--max-open", v[OPT_MAX_OPEN],
				 &g->max_open);
	if (!rc && v[OPT_MAX_ACTIVE])
		rc = cli_arg_u32(cmd, "--max-active", v[OPT_MAX_ACTIVE],
				 &g->max_active);
	if (!rc && v[OPT_MAX_APPEND])
		rc = size32(cmd, "--max-append", v[OPT_MAX_APPEND], &g->max_append);
	if (!rc && v[OPT_PROFILE])
		rc = cli_arg_profile(cmd, v[OPT_PROFILE], &g->profile);
	return rc;
}

int cli_arg_profile(const char *cmd, const char *s, uint32_t *out)
{
	int p = zvd_profile_parse(s);

	if (p < 0)
		return cli_usage_error(cmd, "--profile: '%s' is not a profile "
				       "(zns or null_blk)", s);
	*out = (uint32_t)p;
	return 0;
}

static void print_created(const char *path, const struct zvd_geometry *g)
{
	char zs[32], cap[32], size[32];

	printf("created %s: %s, %llu zones of %s (capacity %s), "
	       "%u conventional, %u-byte blocks, max open %u, max active %u, "
	       "profile %s\n",
	       path, cli_fmt_size(g->size, size, sizeof(size)),
	       (unsigned long long)(g->size / g->zone_size),
	       cli_fmt_size(g->zone_size, zs, sizeof(zs)),
	       cli_fmt_size(g->zone_capacity, cap, sizeof(cap)),
	       g->nr_conv_zones, g->block_size, g->max_open, g->max_active,
	       zvd_profile_name(g->profile));
}

/* zvd create IMAGE --conventional [--size S]: a log-structured volume. */
static int create_volume(const char *path, const char *const *val)
{
	struct zvd_backend *be;
	struct zvd_dev *dev;
	uint64_t size = 4ull << 30;
	char sz[32];
	int rc;

	for (int i = 1; i < CLI_NR_GEOMETRY_OPTS; i++)
		if (val[i])
			return cli_usage_error("create",
					       "--conventional: a volume has no zones; only --size applies");
	if (val[OPT_SIZE]) {
		rc = cli_arg_size("create", "--size", val[OPT_SIZE], &size);
		if (rc)
			return rc;
	}
	if (!size || size % ZVD_VOLUME_BLOCK)
		return cli_usage_error("create",
				       "--size: a volume's size must be a non-zero multiple of 4096 bytes");
	rc = cli_open_backend("create", path, ZVD_FILE_CREATE, &be);
	if (rc)
		return rc;
	rc = zvd_create_volume(be, size, &dev);
	if (rc < 0) {
		zvd_backend_close(be);
		zvd_backend_remove(path);
		return cli_error("create", "%s: creating the volume failed: %s",
				 path, rc == -EINVAL ? "size out of range (at most 4 TiB)"
						     : strerror(-rc));
	}
	rc = cli_close("create", dev);
	if (rc) {
		zvd_backend_remove(path);
		return rc;
	}
	printf("created %s: volume of %s (conventional, log-structured, thin)\n",
	       path, cli_fmt_size(size, sz, sizeof(sz)));
	return 0;
}

int cmd_create(int argc, char **argv)
{
	struct zvd_geometry g;
	struct zvd_backend *be;
	struct zvd_dev *dev;
	struct cli_args a;
	const char *why = NULL;
	const char *path;
	int rc;

	rc = cli_parse(argc, argv, opts, 1, 1, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	path = a.pos[0];
	if (a.val[OPT_BACKING]) {
		if (cli_geometry_given(a.val))
			return cli_usage_error("create",
					       "--backing: the new image takes the geometry of %s; no geometry option may be given with it",
					       a.val[OPT_BACKING]);
		return cli_create_backed(path, a.val[OPT_BACKING]);
	}
	if (a.val[OPT_VOLUME])
		return create_volume(path, a.val);
	rc = cli_build_geometry("create", a.val, &g);
	if (rc)
		return rc;
	if (zvd_geometry_validate(&g, &why) < 0)
		return cli_usage_error("create", "invalid geometry: %s",
				       why ? why : "rejected by the library");
	rc = cli_open_backend("create", path, ZVD_FILE_CREATE, &be);
	if (rc)
		return rc;
	rc = zvd_create(be, &g, &dev);
	if (rc < 0) {
		/* The file is ours: we created it a moment ago. */
		zvd_backend_close(be);
		zvd_backend_remove(path);
		return cli_error("create", "%s: creating the image failed: %s",
				 path, strerror(-rc));
	}
	zvd_get_geometry(dev, &g);
	rc = cli_close("create", dev);
	if (rc) {
		zvd_backend_remove(path);
		return rc;
	}
	print_created(path, &g);
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * cmd_clone.c - images that share data: zvd clone, zvd create --backing,
 * zvd rebase, zvd flatten, zvd delete, and zvd gc which gives back the
 * space that deleted snapshots and clones held.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "ctl.h"

enum { OPT_BACKING, OPT_PROGRESS, OPT_QUIET };

static const struct cli_opt rebase_opts[] = {
	[OPT_BACKING] = { "backing", true },
	[OPT_PROGRESS] = { "progress", false },
	[OPT_QUIET] = { "quiet", false },
	{ NULL, false },
};

static const struct cli_opt no_opts[] = {
	{ NULL, false },
};

static bool exists(const char *path)
{
	struct stat st;

	if (zvd_is_rados(path))
		return zvd_backend_exists(path) == 1;
	return lstat(path, &st) == 0;
}

/* Why a call that names image files refused, when it has no handle to ask. */
static int path_error(const char *cmd, const char *what, int rc)
{
	switch (rc) {
	case -EEXIST:
		return cli_error(cmd, "%s: the file already exists (zvd never overwrites a file)",
				 what);
	case -EBUSY:
		return cli_error(cmd, "%s: the image is in use by another process (it is locked)",
				 what);
	case -EUCLEAN:
		return cli_error(cmd, "%s: not a valid zvd image (run 'zvd check')",
				 what);
	}
	return cli_error(cmd, "%s: %s", what, strerror(-rc));
}

/* ---- zvd clone IMAGE@NAME NEW --------------------------------------------- */

int cmd_clone(int argc, char **argv)
{
	struct cli_image im;
	struct cli_args a;
	const char *dst;
	int rc;

	rc = cli_parse(argc, argv, no_opts, 2, 2, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	rc = cli_parse_image("clone", a.pos[0], &im);
	if (rc)
		return rc;
	dst = a.pos[1];
	if (!im.snap[0])
		return cli_usage_error("clone",
				       "'%s': name the snapshot to clone, as IMAGE@NAME (zvd snapshot create makes one)",
				       a.pos[0]);
	if (!exists(im.path))
		return cli_error("clone", "%s: no such file", im.path);
	if (exists(dst))
		return path_error("clone", dst, -EEXIST);
	rc = zvd_clone(im.path, im.snap, dst);
	if (rc == -ENOENT)
		return cli_error("clone", "%s: no snapshot named '%s'", im.path,
				 im.snap);
	if (rc == -EBUSY)
		return cli_error("clone",
				 "%s: the image is open for writing by another process (it is locked); a clone needs it unchanged for a moment",
				 im.path);
	if (rc < 0)
		return path_error("clone", rc == -EEXIST ? dst : im.path, rc);
	printf("cloned %s@%s to %s\n", im.path, im.snap, dst);
	return 0;
}

/* ---- zvd create NEW --backing BASE ------------------------------------------- */

int cli_create_backed(const char *new_path, const char *base_path)
{
	struct zvd_geometry g;
	struct zvd_dev *dev;
	char size[32], zs[32];
	int rc;

	if (!exists(base_path))
		return cli_error("create", "--backing %s: no such file",
				 base_path);
	if (exists(new_path))
		return path_error("create", new_path, -EEXIST);
	rc = zvd_create_backed(base_path, new_path);
	if (rc < 0)
		return path_error("create", rc == -EEXIST ? new_path : base_path,
				  rc);
	rc = cli_open("create", new_path, true, &dev);
	if (rc)
		return rc;
	zvd_get_geometry(dev, &g);
	rc = cli_close("create", dev);
	if (rc)
		return rc;
	printf("created %s over backing image %s: %s, %llu zones of %s\n",
	       new_path, base_path, cli_fmt_size(g.size, size, sizeof(size)),
	       (unsigned long long)(g.size / g.zone_size),
	       cli_fmt_size(g.zone_size, zs, sizeof(zs)));
	return 0;
}

/* ---- zvd rebase IMAGE --backing NEWBASE, zvd flatten IMAGE -------------------- */

static int do_rebase(const char *cmd, const char *path, const char *base,
		     const struct cli_args *a)
{
	struct cli_progress p;
	struct zvd_dev *dev;
	int rc, rc2;

	if (base && !exists(base))
		return cli_error(cmd, "--backing %s: no such file", base);
	rc = cli_open_unless_busy(cmd, path, false, &dev);
	if (rc == -EBUSY)
		return cli_refuse_served(cmd, path);
	if (rc)
		return rc;
	cli_progress_init(&p, cmd, a->val[OPT_PROGRESS], a->val[OPT_QUIET]);
	rc = zvd_rebase(dev, base, cli_progress_fn, &p);
	cli_progress_done(&p);
	if (rc < 0) {
		char text[512] = "";

		zvd_last_error_text(dev, text, sizeof(text));
		if (!text[0] && base && rc == -EBUSY)
			snprintf(text, sizeof(text),
				 "%s is in use by another process", base);
		if (!text[0] && base && rc == -EINVAL)
			snprintf(text, sizeof(text),
				 "%s cannot back this image (a different geometry, or it depends on %s)",
				 base, path);
		rc = cli_error(cmd, "%s: %s", path,
			       text[0] ? text : strerror(-rc));
	} else if (base) {
		printf("rebased %s onto %s\n", path, base);
	} else {
		printf("flattened %s: it depends on no other image\n", path);
	}
	rc2 = cli_close(cmd, dev);
	return rc ? rc : rc2;
}

int cmd_rebase(int argc, char **argv)
{
	struct cli_args a;
	int rc;

	rc = cli_parse(argc, argv, rebase_opts, 1, 1, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	if (!a.val[OPT_BACKING])
		return cli_usage_error("rebase",
				       "--backing NEWBASE is required (zvd flatten removes the backing image)");
	return do_rebase("rebase", a.pos[0], a.val[OPT_BACKING], &a);
}

int cmd_flatten(int argc, char **argv)
{
	struct cli_args a;
	int rc;

	rc = cli_parse(argc, argv, rebase_opts, 1, 1, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	if (a.val[OPT_BACKING])
		return cli_usage_error("flatten",
				       "--backing: flatten removes the backing image (zvd rebase changes it)");
	return do_rebase("flatten", a.pos[0], NULL, &a);
}

/* ---- zvd delete IMAGE ---------------------------------------------------------- */

/* zvd_delete_image refused with -EBUSY: find out whether clones are why. */
static int explain_delete_busy(const char *path)
{
	struct zvd_snapshot_info *s;
	struct zvd_backend *be;
	struct zvd_dev *dev;
	char names[512] = "";
	size_t used = 0;
	int i, n;

	if (zvd_backend_open(path, ZVD_FILE_READONLY, &be))
		return cli_error("delete",
				 "%s: the image is in use by another process (it is locked)",
				 path);
	if (zvd_open(be, ZVD_OPEN_READONLY, &dev)) {
		zvd_backend_close(be);
		return cli_error("delete", "%s: the image is in use", path);
	}
	n = cli_snapshot_list("delete", dev, &s);
	for (i = 0; i < n; i++) {
		if (!s[i].nr_clones || used >= sizeof(names) - 1)
			continue;
		used += (size_t)snprintf(names + used, sizeof(names) - used,
					 "%s'%s' (%u)", used ? ", " : "",
					 s[i].name, s[i].nr_clones);
	}
	if (n >= 0)
		free(s);
	zvd_close(dev);
	if (names[0])
		return cli_error("delete",
				 "%s: clones depend on its snapshots %s; delete or flatten them first",
				 path, names);
	return cli_error("delete", "%s: the image is in use", path);
}

int cmd_delete(int argc, char **argv)
{
	struct cli_args a;
	int rc;

	rc = cli_parse(argc, argv, no_opts, 1, 1, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	if (!exists(a.pos[0]))
		return cli_error("delete", "%s: no such file", a.pos[0]);
	rc = zvd_delete_image(a.pos[0]);
	if (rc == -EBUSY)
		return explain_delete_busy(a.pos[0]);
	if (rc < 0)
		return path_error("delete", a.pos[0], rc);
	printf("deleted %s\n", a.pos[0]);
	return 0;
}

/* ---- zvd gc IMAGE ------------------------------------------------------------------ */

static int gc_via_server(const char *path)
{
	char *reply;
	long long shrunk;
	int rc = ctl_request(path, "gc", &reply);

	if (rc < 0)
		return cli_error("gc",
				 "%s: the image is in use by another process (it is locked)",
				 path);
	fprintf(stderr, "zvd gc: %s is held by a running server; asked it through its control socket\n",
		path);
	if (sscanf(reply, "ok %lld", &shrunk) == 1)
		printf("gc %s: the backend shrank by %lld bytes\n", path, shrunk);
	else
		rc = cli_error("gc", "%s: the server refused: %s", path, reply);
	free(reply);
	return rc;
}

int cmd_gc(int argc, char **argv)
{
	struct zvd_space before, after;
	struct zvd_dev *dev;
	struct cli_args a;
	int64_t shrunk;
	int rc, rc2;

	rc = cli_parse(argc, argv, no_opts, 1, 1, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	rc = cli_open_unless_busy("gc", a.pos[0], false, &dev);
	if (rc == -EBUSY)
		return gc_via_server(a.pos[0]);
	if (rc)
		return rc;
	rc = zvd_get_space(dev, &before);
	shrunk = rc < 0 ? rc : zvd_gc(dev);
	if (shrunk >= 0)
		rc = zvd_get_space(dev, &after);
	if (shrunk < 0 || rc < 0) {
		rc = cli_dev_error("gc", dev, shrunk < 0 ? (int)shrunk : rc);
	} else {
		printf("gc %s: the backend shrank by %lld bytes; data %llu -> %llu bytes, backend %llu -> %llu bytes\n",
		       a.pos[0], (long long)shrunk,
		       (unsigned long long)before.data_bytes,
		       (unsigned long long)after.data_bytes,
		       (unsigned long long)before.backend_bytes,
		       (unsigned long long)after.backend_bytes);
		rc = 0;
	}
	rc2 = cli_close("gc", dev);
	return rc ? rc : rc2;
}

// SPDX-License-Identifier: MIT
/*
 * cmd_info.c - zvd info: geometry, zones per condition, open and active
 * counts, and space, as text or one JSON object.
 */
#include <stdlib.h>

#include "cli.h"

enum { OPT_JSON };

static const struct cli_opt opts[] = {
	[OPT_JSON] = { "json", false },
	{ NULL, false },
};

struct info {
	struct zvd_geometry g;
	struct zvd_space sp;
	uint32_t nr_zones;
	uint64_t per_cond[ZVD_COND_COUNT];
	struct cli_image im;
	int has_backing;
	char backing[4096];
	char backing_snap[ZVD_NAME_MAX + 1];
	int nr_snaps;
	struct zvd_snapshot_info *snaps;
	int volume;
	struct zvd_volume_stats vs;
	int rados;
	struct zvd_rados_status rs;
};

/* Write amplification: bytes written to the log per byte written by
 * clients (1.00 when garbage collection has not copied anything). */
static double write_amp(const struct zvd_volume_stats *vs)
{
	if (!vs->user_bytes)
		return 1.0;
	return (double)(vs->user_bytes + vs->gc_bytes) / (double)vs->user_bytes;
}

/* Count zones per condition, CLI_REPORT_BATCH zones at a time. */
static int count_conditions(struct zvd_dev *dev, struct info *in)
{
	struct zvd_zone *z = calloc(CLI_REPORT_BATCH, sizeof(*z));
	uint32_t next = 0;
	int i, n;

	if (!z)
		return cli_error("info", "out of memory");
	while (next < in->nr_zones) {
		n = zvd_report(dev, next, ZVD_REPORT_ALL, z, CLI_REPORT_BATCH);
		if (n < 0) {
			free(z);
			return cli_dev_error("info", dev, n);
		}
		if (n == 0)
			break;
		for (i = 0; i < n; i++)
			if (z[i].cond < ZVD_COND_COUNT)
				in->per_cond[z[i].cond]++;
		next = cli_zone_index(dev, &z[n - 1]) + 1;
	}
	free(z);
	return 0;
}

/* The backing image and the snapshots. A snapshot view lists the
 * snapshots of its image where the library allows it. */
static int dependencies(struct zvd_dev *dev, struct info *in)
{
	int n = zvd_get_backing(dev, in->backing, sizeof(in->backing),
				in->backing_snap, sizeof(in->backing_snap));

	if (n < 0)
		return cli_dev_error("info", dev, n);
	in->has_backing = n > 0;
	if (in->im.snap[0] && zvd_snapshot_list(dev, NULL, 0) < 0)
		return 0;
	in->nr_snaps = cli_snapshot_list("info", dev, &in->snaps);
	if (in->nr_snaps < 0) {
		in->nr_snaps = 0;
		return CLI_EXIT_REFUSED;
	}
	return 0;
}

static void line_size(const char *label, uint64_t v)
{
	char buf[32];

	printf("%-18s %llu (%s)\n", label, (unsigned long long)v,
	       cli_fmt_size(v, buf, sizeof(buf)));
}

/* An image on RADOS: how far the cluster got. */
static void print_rados(const char *path, const struct zvd_rados_status *rs)
{
	char t[64] = "never";

	if (rs->confirmed_time)
		cli_fmt_time((uint64_t)rs->confirmed_time, t, sizeof(t));
	printf("rados:\n");
	printf("  %-16s %s.<16 hex digits>, %u KiB each\n", "objects:",
	       path + 8, ZVD_RADOS_OBJECT >> 10);
	printf("  %-16s %s (after %llu flushes of that writer)\n",
	       "last upload:", t, (unsigned long long)rs->confirmed_flushes);
	printf("  %-16s %s\n", "local log:",
	       rs->dirty ? "a writer's local log may hold writes the cluster "
			   "lacks; shown here is the image as far as the "
			   "cluster got (a server given that log replays "
			   "them; without it the image stays as shown)"
			 : "none: the cluster has every write");
}

static void print_text(const char *path, const struct info *in)
{
	const struct zvd_geometry *g = &in->g;
	int c;

	printf("%-18s %s\n", "image:", in->im.path);
	if (in->im.snap[0])
		printf("%-18s %s (a read-only view)\n", "snapshot:",
		       in->im.snap);
	line_size("size:", g->size);
	if (in->volume) {
		printf("%-18s volume (conventional, log-structured)\n", "kind:");
		printf("log:\n");
		line_size("  user writes:", in->vs.user_bytes);
		line_size("  gc rewrites:", in->vs.gc_bytes);
		printf("%-18s %.2f\n", "  write amp:", write_amp(&in->vs));
		line_size("  live data:", in->vs.live_bytes);
		printf("%-18s %llu of 1 MiB\n", "  segments:",
		       (unsigned long long)in->vs.segments);
		printf("%-18s %llu\n", "  gc segments:",
		       (unsigned long long)in->vs.gc_runs);
		goto space;
	}
	printf("%-18s %u (%u conventional, %u sequential)\n", "zones:",
	       in->nr_zones, g->nr_conv_zones, in->nr_zones - g->nr_conv_zones);
	line_size("zone size:", g->zone_size);
	line_size("zone capacity:", g->zone_capacity);
	printf("%-18s %u\n", "block size:", g->block_size);
	printf("%-18s %u\n", "max open:", g->max_open);
	printf("%-18s %u\n", "max active:", g->max_active);
	line_size("max append:", g->max_append);
	printf("%-19s%s\n", "profile:", zvd_profile_name(g->profile));
	printf("%-18s %u\n", "open zones:", in->sp.open_zones);
	printf("%-18s %u\n", "active zones:", in->sp.active_zones);
	printf("zones by condition:\n");
	for (c = 0; c < ZVD_COND_COUNT; c++)
		printf("  %-18s %llu\n", zvd_cond_name(c),
		       (unsigned long long)in->per_cond[c]);
space:
	printf("space:\n");
	line_size("  virtual size:", in->sp.virtual_size);
	line_size("  data bytes:", in->sp.data_bytes);
	line_size("  metadata bytes:", in->sp.meta_bytes);
	line_size("  backend bytes:", in->sp.backend_bytes);
	line_size("  chunk size:", in->sp.chunk_size);
	if (!in->has_backing)
		printf("%-18s none\n", "backing:");
	else if (in->backing_snap[0])
		printf("%-18s %s@%s\n", "backing:", in->backing,
		       in->backing_snap);
	else
		printf("%-18s %s\n", "backing:", in->backing);
	printf("%-18s %d\n", "snapshots:", in->nr_snaps);
	if (in->nr_snaps)
		cli_print_snapshots(in->snaps, in->nr_snaps);
	if (in->rados)
		print_rados(path, &in->rs);
}

static void print_json(const char *path, const struct info *in)
{
	const struct zvd_geometry *g = &in->g;
	struct cli_json j;
	int c;

	cli_json_init(&j, stdout);
	cli_json_obj_begin(&j, NULL);
	cli_json_str(&j, "image", in->im.path);
	cli_json_u64(&j, "size", g->size);
	cli_json_str(&j, "kind", in->volume ? "volume" : "zoned");
	if (in->volume) {
		cli_json_obj_begin(&j, "log");
		cli_json_u64(&j, "user_bytes", in->vs.user_bytes);
		cli_json_u64(&j, "gc_bytes", in->vs.gc_bytes);
		cli_json_double(&j, "write_amplification", write_amp(&in->vs));
		cli_json_u64(&j, "live_bytes", in->vs.live_bytes);
		cli_json_u64(&j, "segments", in->vs.segments);
		cli_json_u64(&j, "segment_size", in->vs.segment_bytes);
		cli_json_u64(&j, "gc_segments", in->vs.gc_runs);
		cli_json_obj_end(&j);
	}
	cli_json_u64(&j, "zone_size", g->zone_size);
	cli_json_u64(&j, "zone_capacity", g->zone_capacity);
	cli_json_u64(&j, "block_size", g->block_size);
	cli_json_u64(&j, "zones", in->nr_zones);
	cli_json_u64(&j, "conventional_zones", g->nr_conv_zones);
	cli_json_u64(&j, "sequential_zones", in->nr_zones - g->nr_conv_zones);
	cli_json_u64(&j, "max_open", g->max_open);
	cli_json_u64(&j, "max_active", g->max_active);
	cli_json_u64(&j, "max_append", g->max_append);
	cli_json_str(&j, "profile", zvd_profile_name(g->profile));
	cli_json_u64(&j, "open_zones", in->sp.open_zones);
	cli_json_u64(&j, "active_zones", in->sp.active_zones);
	cli_json_obj_begin(&j, "conditions");
	for (c = 0; c < ZVD_COND_COUNT; c++)
		cli_json_u64(&j, zvd_cond_name(c), in->per_cond[c]);
	cli_json_obj_end(&j);
	cli_json_obj_begin(&j, "space");
	cli_json_u64(&j, "virtual_size", in->sp.virtual_size);
	cli_json_u64(&j, "data_bytes", in->sp.data_bytes);
	cli_json_u64(&j, "meta_bytes", in->sp.meta_bytes);
	cli_json_u64(&j, "backend_bytes", in->sp.backend_bytes);
	cli_json_u64(&j, "chunk_size", in->sp.chunk_size);
	cli_json_obj_end(&j);
	if (in->im.snap[0])
		cli_json_str(&j, "snapshot", in->im.snap);
	if (in->has_backing) {
		cli_json_obj_begin(&j, "backing");
		cli_json_str(&j, "path", in->backing);
		cli_json_str(&j, "snapshot", in->backing_snap);
		cli_json_obj_end(&j);
	} else {
		cli_json_null(&j, "backing");
	}
	cli_json_snapshots(&j, "snapshots", in->snaps, in->nr_snaps);
	if (in->rados) {
		cli_json_obj_begin(&j, "rados");
		cli_json_u64(&j, "object_size", ZVD_RADOS_OBJECT);
		cli_json_u64(&j, "last_upload_time", (uint64_t)in->rs.confirmed_time);
		cli_json_u64(&j, "last_upload_flushes", in->rs.confirmed_flushes);
		cli_json_bool(&j, "log_pending", in->rs.dirty);
		cli_json_obj_end(&j);
	}
	cli_json_obj_end(&j);
	cli_json_done(&j);
}

int cmd_info(int argc, char **argv)
{
	struct info in = { 0 };
	struct zvd_dev *dev;
	struct cli_args a;
	int rc;

	rc = cli_parse(argc, argv, opts, 1, 1, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	rc = cli_open_image("info", a.pos[0], true, &in.im, &dev);
	if (rc)
		return rc;
	zvd_get_geometry(dev, &in.g);
	in.nr_zones = zvd_nr_zones(dev);
	in.volume = zvd_is_volume(dev);
	if (in.volume)
		zvd_volume_stats(dev, &in.vs);
	in.rados = zvd_rados_status(zvd_backend_of(dev), &in.rs) == 0;
	rc = zvd_get_space(dev, &in.sp);
	if (rc < 0)
		rc = cli_dev_error("info", dev, rc);
	else
		rc = count_conditions(dev, &in);
	if (!rc)
		rc = dependencies(dev, &in);
	if (rc) {
		free(in.snaps);
		zvd_close(dev);
		return rc;
	}
	rc = cli_close("info", dev);
	if (rc)
		return rc;
	if (a.val[OPT_JSON])
		print_json(a.pos[0], &in);
	else
		print_text(a.pos[0], &in);
	free(in.snaps);
	return 0;
}

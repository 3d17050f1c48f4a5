// SPDX-License-Identifier: MIT
/*
 * cmd_report.c - zvd report: list zones as a table or a JSON array,
 * asking the library for CLI_REPORT_BATCH zones at a time so a device
 * with millions of zones costs no more memory than one with ten.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { OPT_JSON, OPT_ZONE, OPT_FILTER };

static const struct cli_opt opts[] = {
	[OPT_JSON] = { "json", false },
	[OPT_ZONE] = { "zone", true },
	[OPT_FILTER] = { "filter", true },
	{ NULL, false },
};

static const struct {
	const char *name;
	enum zvd_report_filter filter;
} filters[] = {
	{ "all", ZVD_REPORT_ALL },
	{ "empty", ZVD_REPORT_EMPTY },
	{ "implicit-open", ZVD_REPORT_IMP_OPEN },
	{ "explicit-open", ZVD_REPORT_EXP_OPEN },
	{ "closed", ZVD_REPORT_CLOSED },
	{ "full", ZVD_REPORT_FULL },
	{ "read-only", ZVD_REPORT_READ_ONLY },
	{ "offline", ZVD_REPORT_OFFLINE },
	{ "not-write-pointer", ZVD_REPORT_NOT_WP },
};

static int parse_filter(const char *s, enum zvd_report_filter *f)
{
	size_t i;

	for (i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		if (!strcmp(s, filters[i].name)) {
			*f = filters[i].filter;
			return 0;
		}
	}
	return cli_usage_error("report", "--filter: unknown condition '%s'",
			       s);
}

struct printer {
	struct zvd_dev *dev;
	bool json;
	struct cli_json j;
};

static const char *type_name(uint8_t type)
{
	return type == ZVD_ZONE_CONVENTIONAL ? "conventional" : "sequential";
}

static void print_zone(struct printer *p, const struct zvd_zone *z)
{
	uint32_t idx = cli_zone_index(p->dev, z);
	struct cli_json *j = &p->j;
	char wp[24] = "-";

	if (!p->json) {
		if (z->wp != ZVD_WP_INVALID)
			snprintf(wp, sizeof(wp), "%llu",
				 (unsigned long long)z->wp);
		printf("%6u %-4s %-17s %14llu %12llu %12llu %14s %12llu %8llu %7llu %8llu\n",
		       idx, z->type == ZVD_ZONE_CONVENTIONAL ? "conv" : "seq",
		       zvd_cond_name(z->cond), (unsigned long long)z->start,
		       (unsigned long long)z->len,
		       (unsigned long long)z->capacity, wp,
		       (unsigned long long)z->written,
		       (unsigned long long)z->writes,
		       (unsigned long long)z->resets,
		       (unsigned long long)z->finishes);
		return;
	}
	cli_json_obj_begin(j, NULL);
	cli_json_u64(j, "index", idx);
	cli_json_str(j, "type", type_name(z->type));
	cli_json_str(j, "cond", zvd_cond_name(z->cond));
	cli_json_u64(j, "start", z->start);
	cli_json_u64(j, "length", z->len);
	cli_json_u64(j, "capacity", z->capacity);
	if (z->wp == ZVD_WP_INVALID)
		cli_json_null(j, "wp");
	else
		cli_json_u64(j, "wp", z->wp);
	cli_json_u64(j, "written", z->written);
	cli_json_u64(j, "writes", z->writes);
	cli_json_u64(j, "resets", z->resets);
	cli_json_u64(j, "finishes", z->finishes);
	cli_json_obj_end(j);
}

/* Report zones first..last (inclusive) that match @f. */
static int report_range(struct printer *p, uint32_t first, uint32_t last,
			enum zvd_report_filter f)
{
	struct zvd_zone *z = calloc(CLI_REPORT_BATCH, sizeof(*z));
	uint64_t next = first;
	int i, n;

	if (!z)
		return cli_error("report", "out of memory");
	while (next <= last) {
		uint64_t want = (uint64_t)last - next + 1;

		if (want > CLI_REPORT_BATCH)
			want = CLI_REPORT_BATCH;
		n = zvd_report(p->dev, (uint32_t)next, f, z, (uint32_t)want);
		if (n < 0) {
			free(z);
			return cli_dev_error("report", p->dev, n);
		}
		for (i = 0; i < n && cli_zone_index(p->dev, &z[i]) <= last; i++)
			print_zone(p, &z[i]);
		if (n < (int)want)
			break;
		next = (uint64_t)cli_zone_index(p->dev, &z[n - 1]) + 1;
	}
	free(z);
	return 0;
}

static int run(struct printer *p, const struct cli_args *a)
{
	enum zvd_report_filter f = ZVD_REPORT_ALL;
	uint32_t nr = zvd_nr_zones(p->dev);
	uint32_t first = 0, last = nr - 1;
	int rc;

	if (a->val[OPT_FILTER] && parse_filter(a->val[OPT_FILTER], &f))
		return CLI_EXIT_USAGE;
	if (a->val[OPT_ZONE]) {
		rc = cli_arg_u32("report", "--zone", a->val[OPT_ZONE], &first);
		if (rc)
			return rc;
		if (first >= nr)
			return cli_error("report",
					 "zone %u: %s: no such zone (the device has %u zones, 0 to %u)",
					 first,
					 zvd_status_name(ZVD_INVALID_FIELD),
					 nr, nr - 1);
		last = first;
	}
	if (p->json) {
		cli_json_arr_begin(&p->j, NULL);
	} else {
		printf("%6s %-4s %-17s %14s %12s %12s %14s %12s %8s %7s %8s\n",
		       "zone", "type", "cond", "start", "length", "capacity",
		       "wp", "written", "writes", "resets", "finishes");
	}
	rc = report_range(p, first, last, f);
	if (rc)
		return rc;
	if (p->json) {
		cli_json_arr_end(&p->j);
		cli_json_done(&p->j);
	}
	return 0;
}

int cmd_report(int argc, char **argv)
{
	struct printer p = { 0 };
	struct cli_args a;
	int rc, rc2;

	rc = cli_parse(argc, argv, opts, 1, 1, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	rc = cli_open_image("report", a.pos[0], true, NULL, &p.dev);
	if (rc)
		return rc;
	p.json = a.val[OPT_JSON] != NULL;
	cli_json_init(&p.j, stdout);
	rc = run(&p, &a);
	rc2 = cli_close("report", p.dev);
	return rc ? rc : rc2;
}

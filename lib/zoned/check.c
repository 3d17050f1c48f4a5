// SPDX-License-Identifier: MIT
/*
 * check.c - zvd_check: open an image read-only and verify every invariant
 * the durability contract promises, naming each violation.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "util/util.h"
#include "zoned/zoned.h"

struct checker {
	zvd_check_fn report;
	void *arg;
	int problems;
};

__attribute__((format(printf, 2, 3)))
static void problem(struct checker *c, const char *fmt, ...)
{
	char msg[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->problems++;
	if (c->report)
		c->report(c->arg, msg);
}

/* After a successful replay: every zone, then the resource limits. */
static int check_zones(struct checker *c, struct zvd_dev *dev)
{
	char buf[160];
	uint64_t size;
	int err = be_size(dev->be, &size);

	for (uint32_t zi = 0; !err && zi < dev->nr_zones; zi++) {
		const char *why = zone_problem(dev, zi, &dev->zones[zi].st, size,
					       buf, sizeof(buf));
		if (why)
			problem(c, "zone %u: %s", zi, why);
		for (uint32_t i = 0; i < dev->nr_snaps; i++) {
			struct snap *s = dev->snaps[i];
			if (!s->saved || !s->saved[zi])
				continue;
			why = zone_problem(dev, zi, s->saved[zi], size, buf,
					   sizeof(buf));
			if (why)
				problem(c, "snapshot '%s', zone %u: %s", s->name,
					zi, why);
		}
	}
	if (dev->g.max_open && dev->nr_open > dev->g.max_open)
		problem(c, "%u zones are open, above the limit of %u",
			dev->nr_open, dev->g.max_open);
	if (dev->g.max_active && dev->nr_active > dev->g.max_active)
		problem(c, "%u zones are active, above the limit of %u",
			dev->nr_active, dev->g.max_active);
	return err;
}

int zvd_check(struct zvd_backend *be, zvd_check_fn report, void *arg)
{
	struct checker c = { .report = report, .arg = arg };
	struct zvd_dev *dev;
	const char *why;
	char reason[160];
	uint32_t zone;
	int err;

	if (!be)
		return -EINVAL;
	err = vol_check_be(be, report, arg);
	if (err != -EMEDIUMTYPE)
		return err;
	err = dev_open_image(be, 1, &dev, &why);
	if (err == -EUCLEAN) {
		problem(&c, "superblock: %s", why);
		return c.problems;
	}
	if (err)
		return err;
	err = dev_load(dev, 0, reason, sizeof(reason), &zone);
	if (err == -EUCLEAN && zone != ZONE_NONE)
		problem(&c, "zone %u: %s", zone, reason);
	else if (err == -EUCLEAN)
		problem(&c, "journal: %s", reason);
	else if (!err)
		err = check_zones(&c, dev);
	dev_free(dev);
	if (err && err != -EUCLEAN)
		return err;
	return c.problems;
}

// SPDX-License-Identifier: MIT
/*
 * cli_dev.c - opening and closing images for the zvd command, turning a
 * library failure into one clear line on stderr, looking up one zone, and
 * whole-buffer reads and writes on file descriptors, and naming a
 * snapshot as IMAGE@NAME.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* Why a backend could not be opened, in words. */
static const char *open_reason(int rc)
{
	switch (rc) {
	case -EBUSY:
	case -EAGAIN:
		return "the image is in use by another process (it is locked)";
	case -EEXIST:
		return "the file already exists (zvd create never overwrites a file)";
	case -ENOENT:
		return "no such file";
	default:
		return strerror(-rc);
	}
}

int cli_open_backend(const char *cmd, const char *path, unsigned flags,
		     struct zvd_backend **out)
{
	int rc;

	*out = NULL;
	rc = zvd_backend_open(path, flags, out);
	if (rc < 0 && zvd_is_rados(path) && zvd_rados_why())
		return cli_error(cmd, "%s", zvd_rados_why());
	if (rc < 0)
		return cli_error(cmd, "%s: %s", path, open_reason(rc));
	if (zvd_is_rados(path) && !(flags & ZVD_FILE_READONLY))
		cli_rados_note(cmd, path, *out);
	return 0;
}

static struct zvd_rados_options rados_opts;

int cli_rados_options(const char *cmd, const char *image, const char *cache,
		      const char *cache_size, bool durable_remote)
{
	const char *why;

	if (!image && (cache || cache_size || durable_remote))
		return cli_usage_error(cmd, "--cache, --cache-size and --durable-remote "
				       "are for a writable image on RADOS (rados://POOL/NAME)");
	if (cache_size && !cache)
		return cli_usage_error(cmd, "--cache-size needs --cache PATH");
	memset(&rados_opts, 0, sizeof(rados_opts));
	rados_opts.cache = cache;
	rados_opts.durable_remote = durable_remote;
	if (cache_size) {
		if (cli_parse_size(cache_size, &rados_opts.cache_size, &why))
			return cli_usage_error(cmd, "--cache-size %s: %s", cache_size, why);
		if (rados_opts.cache_size < (16u << 20) ||
		    rados_opts.cache_size > (1ull << 40))
			return cli_usage_error(cmd, "--cache-size %s: must be 16M to 1T",
					       cache_size);
	}
	zvd_rados_set_defaults(&rados_opts);
	return 0;
}

void cli_rados_note(const char *cmd, const char *path, struct zvd_backend *be)
{
	struct zvd_rados_status st;
	char t[64] = "never";

	if (zvd_rados_status(be, &st))
		return;
	if (st.confirmed_time)
		cli_fmt_time((uint64_t)st.confirmed_time, t, sizeof(t));
	if (st.lost_log)
		fprintf(stderr, "zvd %s: %s: the local log of its last writer, which may "
			"have held writes the cluster lacks, is gone: the image is "
			"as far as the cluster got (last upload confirmed %s)\n",
			cmd, path, t);
	if (st.replayed_bytes)
		fprintf(stderr, "zvd %s: %s: the local log held %llu bytes of writes "
			"not yet in the cluster; they are read from it and uploaded now\n",
			cmd, path, (unsigned long long)st.replayed_bytes);
}

static void show_problem(void *arg, const char *problem)
{
	int *n = arg;

	if ((*n)++ < 3)
		fprintf(stderr, "  %s\n", problem);
}

/* zvd_open refused the image as invalid: say why, through zvd_check. */
static void explain_invalid(struct zvd_backend *be)
{
	int n = 0;
	int rc = zvd_check(be, show_problem, &n);

	if (n > 3)
		fprintf(stderr, "  (%d more; run 'zvd check' for all)\n", n - 3);
	else if (rc < 0)
		fprintf(stderr, "  (the image could not be checked: %s)\n",
			strerror(-rc));
}

int cli_open(const char *cmd, const char *path, bool readonly,
	     struct zvd_dev **out)
{
	struct zvd_backend *be;
	int rc;

	*out = NULL;
	rc = cli_open_backend(cmd, path,
			      readonly ? ZVD_FILE_READONLY : 0, &be);
	if (rc)
		return rc;
	rc = zvd_open(be, readonly ? ZVD_OPEN_READONLY : 0, out);
	if (rc == 0)
		return 0;
	*out = NULL;
	if (rc == -EUCLEAN) {
		cli_error(cmd, "%s: not a valid zvd image:", path);
		explain_invalid(be);
	} else {
		cli_error(cmd, "%s: cannot open the image: %s", path,
			  strerror(-rc));
	}
	zvd_backend_close(be);
	return CLI_EXIT_REFUSED;
}

int cli_close(const char *cmd, struct zvd_dev *dev)
{
	int rc = zvd_close(dev);

	if (rc < 0)
		return cli_error(cmd, "flushing the image failed: %s",
				 strerror(-rc));
	return 0;
}

/* The numbers of a failure, for when the library gave no text. */
static void error_numbers(const struct zvd_error *e, char *buf, size_t len)
{
	int n = snprintf(buf, len, "offset %llu, length %llu",
			 (unsigned long long)e->offset,
			 (unsigned long long)e->length);

	if (e->wp != ZVD_WP_INVALID && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - n, ", write pointer %llu",
			      (unsigned long long)e->wp);
	if (e->limit && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - n, ", limit %llu",
			 (unsigned long long)e->limit);
}

int cli_dev_error(const char *cmd, struct zvd_dev *dev, int rc)
{
	struct zvd_error e;
	char text[512], zone[32] = "", nums[160];
	const char *t = text, *name;

	zvd_last_error(dev, &e);
	zvd_last_error_text(dev, text, sizeof(text));
	if (e.status == ZVD_OK || e.err != rc)
		return cli_error(cmd, "%s", strerror(-rc));
	if (e.zone != UINT32_MAX) {
		snprintf(zone, sizeof(zone), "zone %u: ", e.zone);
		/* The library's text may already name the zone. */
		if (!strncmp(t, zone, strlen(zone)))
			t += strlen(zone);
	}
	if (!*t) {
		error_numbers(&e, nums, sizeof(nums));
		t = nums;
	}
	name = zvd_status_name(e.status);
	if (strstr(t, name))
		return cli_error(cmd, "%s%s", zone, t);
	return cli_error(cmd, "%s%s: %s", zone, name, t);
}

uint32_t cli_zone_index(const struct zvd_dev *dev, const struct zvd_zone *z)
{
	return zvd_zone_of(dev, z->start);
}

int cli_get_zone(const char *cmd, struct zvd_dev *dev, uint32_t zone,
		 struct zvd_zone *z)
{
	uint32_t nr = zvd_nr_zones(dev);
	int rc;

	if (zone >= nr)
		return cli_error(cmd,
				 "zone %u: %s: no such zone (the device has %u zones, 0 to %u)",
				 zone, zvd_status_name(ZVD_INVALID_FIELD), nr,
				 nr - 1);
	rc = zvd_report(dev, zone, ZVD_REPORT_ALL, z, 1);
	if (rc < 0)
		return cli_dev_error(cmd, dev, rc);
	if (rc != 1 || cli_zone_index(dev, z) != zone)
		return cli_error(cmd, "zone %u: the library did not report it",
				 zone);
	return 0;
}

ssize_t cli_read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int cli_write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return 0;
}

int cli_open_input(const char *cmd, const char *path, int *fd)
{
	if (!path || !strcmp(path, "-")) {
		*fd = STDIN_FILENO;
		return 0;
	}
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return cli_error(cmd, "--input %s: %s", path, strerror(errno));
	return 0;
}

int cli_open_output(const char *cmd, const char *path, int *fd)
{
	if (!path || !strcmp(path, "-")) {
		*fd = STDOUT_FILENO;
		return 0;
	}
	*fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (*fd < 0)
		return cli_error(cmd, "--output %s: %s", path, strerror(errno));
	return 0;
}

void cli_close_fd(int fd)
{
	if (fd > STDERR_FILENO)
		close(fd);
}

int cli_open_unless_busy(const char *cmd, const char *path, bool readonly,
			 struct zvd_dev **out)
{
	struct zvd_backend *be;
	int rc;

	*out = NULL;
	rc = zvd_backend_open(path, readonly ? ZVD_FILE_READONLY : 0, &be);
	if (rc == -EBUSY)
		return -EBUSY;
	if (rc < 0)
		return cli_error(cmd, "%s: %s", path, open_reason(rc));
	zvd_backend_close(be);
	/* Not locked a moment ago: open it the ordinary way (a server that
	 * took it meanwhile gets the ordinary message). */
	return cli_open(cmd, path, readonly, out);
}

int cli_parse_image(const char *cmd, const char *spec, struct cli_image *im)
{
	const char *at = strrchr(spec, '@');
	struct stat st;
	size_t plen;

	memset(im, 0, sizeof(*im));
	im->spec = spec;
	if (!at || stat(spec, &st) == 0) {
		if (strlen(spec) >= sizeof(im->path))
			return cli_usage_error(cmd, "%s: path too long", spec);
		strcpy(im->path, spec);
		return 0;
	}
	plen = (size_t)(at - spec);
	if (plen == 0 || !at[1])
		return cli_usage_error(cmd,
				       "'%s': expected IMAGE@SNAPSHOT with both parts",
				       spec);
	if (plen >= sizeof(im->path))
		return cli_usage_error(cmd, "%s: path too long", spec);
	if (strlen(at + 1) > ZVD_NAME_MAX)
		return cli_usage_error(cmd,
				       "'%s': snapshot name longer than %d characters",
				       at + 1, ZVD_NAME_MAX);
	memcpy(im->path, spec, plen);
	im->path[plen] = '\0';
	strcpy(im->snap, at + 1);
	return 0;
}

/* Open snapshot @im->snap of @im->path as a read-only view. */
static int open_snapshot(const char *cmd, const struct cli_image *im,
			 struct zvd_dev **out)
{
	struct zvd_backend *be;
	int rc;

	rc = cli_open_backend(cmd, im->path, ZVD_FILE_READONLY, &be);
	if (rc)
		return rc;
	rc = zvd_open_snapshot(be, im->snap, out);
	if (rc == 0)
		return 0;
	*out = NULL;
	zvd_backend_close(be);
	if (rc == -ENOENT)
		return cli_error(cmd, "%s: no snapshot named '%s' (zvd snapshot list %s shows them)",
				 im->path, im->snap, im->path);
	if (rc == -EINVAL)
		return cli_error(cmd, "%s: '%s' is not a valid snapshot name",
				 im->path, im->snap);
	if (rc == -EUCLEAN)
		return cli_error(cmd, "%s: not a valid zvd image (run 'zvd check %s')",
				 im->path, im->path);
	return cli_error(cmd, "%s@%s: cannot open the snapshot: %s", im->path,
			 im->snap, strerror(-rc));
}

int cli_open_image(const char *cmd, const char *spec, bool readonly,
		   struct cli_image *im, struct zvd_dev **out)
{
	struct cli_image local;
	int rc;

	if (!im)
		im = &local;
	*out = NULL;
	rc = cli_parse_image(cmd, spec, im);
	if (rc)
		return rc;
	if (im->snap[0])
		return open_snapshot(cmd, im, out);
	return cli_open(cmd, im->path, readonly, out);
}

// SPDX-License-Identifier: MIT
/*
 * cmd_convert.c - zvd convert import RAW IMAGE and zvd convert export
 * IMAGE[@NAME] RAW: between a zvd image and a raw file whose byte X is the
 * device's byte X (a plain disk image, or the data file of a QEMU NVMe ZNS
 * namespace, whose zone i starts at i * zone size).
 *
 * Import rule, per zone:
 *   - conventional: every non-zero block is written where it is;
 *   - sequential: the write pointer becomes the end of the last non-zero
 *     block below the zone capacity, and everything from the zone start to
 *     it is written with zvd_write (zero blocks included); a non-zero byte
 *     between the capacity and the zone end cannot be represented and
 *     refuses the import; a zone left with data below its capacity is
 *     closed, or finished if with it the open zones have reached the active
 *     limit (so the next zone can still be written). A zone filled to its
 *     capacity is full; a zone without data stays empty.
 * Holes of a sparse RAW are skipped with SEEK_DATA. Export writes a sparse
 * raw file: zero blocks are skipped and the file is sized with ftruncate.
 *
 * Sections: 1. options and helpers  2. import  3. export  4. main
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* ---- 1. options and helpers -------------------------------------------------- */

enum {
	OPT_PROGRESS = CLI_NR_GEOMETRY_OPTS,
	OPT_QUIET,
	OPT_VOLUME,
};

static const struct cli_opt opts[] = {
	CLI_GEOMETRY_OPTS,
	[OPT_PROGRESS] = { "progress", false },
	[OPT_QUIET] = { "quiet", false },
	[OPT_VOLUME] = { "conventional", false },
	{ NULL, false },
};

static bool is_zero(const char *p, size_t len)
{
	static const char zero[16];

	if (len <= sizeof(zero))
		return !memcmp(p, zero, len);
	return !memcmp(p, zero, sizeof(zero)) &&
	       !memcmp(p, p + sizeof(zero), len - sizeof(zero));
}

/* Read @len bytes at @off, zero-filling past the end of the file. */
static int pread_full(int fd, char *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done,
				  (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	memset(buf + done, 0, len - done);
	return 0;
}

/* The first offset >= @off holding data (SEEK_DATA), or @end if none
 * before it. A file system without SEEK_DATA says "data at @off". */
static uint64_t next_data(int fd, uint64_t off, uint64_t end)
{
	off_t d = lseek(fd, (off_t)off, SEEK_DATA);

	if (d < 0)
		return errno == ENXIO ? end : off;
	return (uint64_t)d < end ? (uint64_t)d : end;
}

/* ---- 2. import ----------------------------------------------------------------- */

struct import {
	int fd;
	uint64_t raw_size;
	struct zvd_dev *dev;
	struct zvd_geometry g;
	struct cli_progress p;
	char *buf;
	char *zeros;
	uint64_t data, closed, finished, full;
};

static int write_dev(struct import *im, const char *buf, uint64_t len,
		     uint64_t off)
{
	int rc = zvd_write(im->dev, buf, len, off, 0);

	return rc < 0 ? cli_dev_error("convert", im->dev, rc) : 0;
}

/* Write @len zero bytes at @off (the zeros below a write pointer). */
static int write_zeros(struct import *im, uint64_t off, uint64_t len)
{
	while (len) {
		uint64_t n = len < CLI_PIECE ? len : CLI_PIECE;
		int rc = write_dev(im, im->zeros, n, off);

		if (rc)
			return rc;
		off += n;
		len -= n;
	}
	return 0;
}

/*
 * Copy the non-zero blocks of RAW's [start, end) to the device. With
 * @seq, the zero blocks between them are written too (a sequential zone
 * takes its data in order) but trailing zeros are not; *wp is set to the
 * end of the last non-zero block.
 */
static int copy_range(struct import *im, uint64_t start, uint64_t end,
		      bool seq, uint64_t *wp)
{
	uint64_t bs = im->g.block_size, pos = start;
	int rc;

	*wp = start;
	while (pos < end) {
		uint64_t data = next_data(im->fd, pos, end), n, i, run;

		data -= (data - start) % bs;
		if (data > pos) {
			pos = data; /* a hole: zeros */
			continue;
		}
		n = end - pos < CLI_PIECE ? end - pos : CLI_PIECE;
		rc = pread_full(im->fd, im->buf, n, pos);
		if (rc < 0)
			return cli_error("convert", "reading the raw file: %s",
					 strerror(-rc));
		for (i = 0; i < n; i += run) {
			bool zero = is_zero(im->buf + i, bs);

			for (run = bs; i + run < n &&
				       is_zero(im->buf + i + run, bs) == zero;
			     run += bs)
				;
			if (zero)
				continue;
			if (seq && *wp < pos + i)
				rc = write_zeros(im, *wp, pos + i - *wp);
			if (!rc)
				rc = write_dev(im, im->buf + i, run, pos + i);
			if (rc)
				return rc;
			im->data += run;
			*wp = pos + i + run;
		}
		pos += n;
		cli_progress_update(&im->p, pos < im->raw_size ? pos : im->raw_size,
				    im->raw_size);
	}
	return 0;
}

/* RAW must hold only zeros in [start, end): past a zone's capacity. */
static int check_gap(struct import *im, uint32_t zone, uint64_t start,
		     uint64_t end)
{
	uint64_t pos = start, n, i;
	int rc;

	while ((pos = next_data(im->fd, pos, end)) < end) {
		n = end - pos < CLI_PIECE ? end - pos : CLI_PIECE;
		rc = pread_full(im->fd, im->buf, n, pos);
		if (rc < 0)
			return cli_error("convert", "reading the raw file: %s",
					 strerror(-rc));
		for (i = 0; i < n; i++)
			if (im->buf[i])
				return cli_error("convert",
						 "zone %u: the raw file has data at offset %llu, past the zone capacity (%llu bytes from offset %llu): give the geometry it was written with",
						 zone, (unsigned long long)(pos + i),
						 (unsigned long long)im->g.zone_capacity,
						 (unsigned long long)start - im->g.zone_capacity);
		pos += n;
	}
	return 0;
}

/* A sequential zone written up to @wp (below its capacity): close it, or
 * finish it when the active limit is reached. */
static int settle_zone(struct import *im, uint32_t zone)
{
	struct zvd_space sp;
	enum zvd_zone_op op = ZVD_OP_CLOSE;
	int rc = zvd_get_space(im->dev, &sp);

	if (rc < 0)
		return cli_dev_error("convert", im->dev, rc);
	if (im->g.max_active && sp.active_zones >= im->g.max_active)
		op = ZVD_OP_FINISH;
	rc = zvd_zone_mgmt(im->dev, op, zone);
	if (rc < 0)
		return cli_dev_error("convert", im->dev, rc);
	if (op == ZVD_OP_FINISH)
		im->finished++;
	else
		im->closed++;
	return 0;
}

static int import_zone(struct import *im, uint32_t zone)
{
	uint64_t start = (uint64_t)zone * im->g.zone_size;
	uint64_t cap_end = start + im->g.zone_capacity;
	uint64_t end = start + im->g.zone_size, wp;
	bool seq = zone >= im->g.nr_conv_zones;
	int rc;

	if (start >= im->raw_size)
		return 0;
	if (end > im->raw_size)
		end = im->raw_size;
	if (!seq)
		return copy_range(im, start, end, false, &wp);
	if (cap_end < end) {
		rc = check_gap(im, zone, cap_end, end);
		if (rc)
			return rc;
	} else {
		cap_end = end;
	}
	rc = copy_range(im, start, cap_end, true, &wp);
	if (rc || wp == start)
		return rc;
	if (wp == start + im->g.zone_capacity) {
		im->full++;
		return 0;
	}
	return settle_zone(im, zone);
}

/* The device size: --size, or the raw file's rounded up to whole zones
 * (and at least one sequential zone). */
static int pick_size(struct import *im, const char *const *val)
{
	uint64_t zs = im->g.zone_size, min, seq;
	bool given = val[0] != NULL;

	if (given) {
		if (im->raw_size > im->g.size)
			return cli_usage_error("convert",
					       "the raw file (%llu bytes) is larger than --size (%llu bytes)",
					       (unsigned long long)im->raw_size,
					       (unsigned long long)im->g.size);
		return 0;
	}
	if (!zs)
		return 0; /* validation says why */
	min = ((uint64_t)im->g.nr_conv_zones + 1) * zs;
	im->g.size = (im->raw_size + zs - 1) / zs * zs;
	if (im->g.size < min)
		im->g.size = min;
	/* A small device: the default limits may not exceed its zones. */
	seq = im->g.size / zs - im->g.nr_conv_zones;
	if (!val[5] && im->g.max_open > seq)
		im->g.max_open = (uint32_t)seq;
	if (!val[6] && im->g.max_active > seq)
		im->g.max_active = (uint32_t)seq;
	return 0;
}

static int import_all(struct import *im)
{
	uint32_t z, nr = zvd_nr_zones(im->dev);
	int rc = 0;

	im->buf = malloc(CLI_PIECE);
	im->zeros = calloc(1, CLI_PIECE);
	if (!im->buf || !im->zeros)
		rc = cli_error("convert", "out of memory");
	for (z = 0; !rc && z < nr; z++)
		rc = import_zone(im, z);
	cli_progress_update(&im->p, im->raw_size, im->raw_size);
	cli_progress_done(&im->p);
	free(im->buf);
	free(im->zeros);
	return rc;
}

/* Import into a volume: its size is --size or the raw file's (rounded up
 * to 4 KiB); only the raw file's non-zero blocks are written (thin). */
static int import_volume(struct import *im, const char *raw,
			 const char *image, const struct cli_args *a)
{
	struct zvd_backend *be;
	uint64_t size, wp;
	int rc;

	for (int i = 1; i < CLI_NR_GEOMETRY_OPTS; i++)
		if (a->val[i])
			return cli_usage_error("convert",
					       "--conventional: a volume has no zones; only --size applies");
	size = (im->raw_size + ZVD_VOLUME_BLOCK - 1) & ~(uint64_t)(ZVD_VOLUME_BLOCK - 1);
	if (a->val[0]) {
		rc = cli_arg_size("convert", "--size", a->val[0], &size);
		if (rc)
			return rc;
		if (size < im->raw_size || size % ZVD_VOLUME_BLOCK)
			return cli_usage_error("convert",
					       "--size: at least the raw file's %llu bytes, a multiple of 4096",
					       (unsigned long long)im->raw_size);
	}
	if (!size)
		return cli_usage_error("convert", "%s is empty: give --size", raw);
	rc = cli_open_backend("convert", image, ZVD_FILE_CREATE, &be);
	if (rc)
		return rc;
	rc = zvd_create_volume(be, size, &im->dev);
	if (rc < 0) {
		zvd_backend_close(be);
		zvd_backend_remove(image);
		return cli_error("convert", "%s: creating the volume failed: %s",
				 image, strerror(-rc));
	}
	im->g.block_size = ZVD_VOLUME_BLOCK; /* the unit zeros are skipped in */
	cli_progress_init(&im->p, "import", a->val[OPT_PROGRESS],
			  a->val[OPT_QUIET]);
	im->buf = malloc(CLI_PIECE);
	im->zeros = calloc(1, CLI_PIECE);
	rc = im->buf && im->zeros ? 0 : cli_error("convert", "out of memory");
	if (!rc)
		rc = copy_range(im, 0, (im->raw_size + ZVD_VOLUME_BLOCK - 1) &
					 ~(uint64_t)(ZVD_VOLUME_BLOCK - 1),
				false, &wp);
	cli_progress_update(&im->p, im->raw_size, im->raw_size);
	cli_progress_done(&im->p);
	free(im->buf);
	free(im->zeros);
	if (rc) {
		zvd_close(im->dev);
		zvd_backend_remove(image);
		return rc;
	}
	rc = cli_close("convert", im->dev);
	if (rc) {
		zvd_backend_remove(image);
		return rc;
	}
	printf("imported %s into %s: a volume of %llu bytes, %llu bytes of data\n",
	       raw, image, (unsigned long long)size,
	       (unsigned long long)im->data);
	return 0;
}

static int do_import(const char *raw, const char *image,
		     const struct cli_args *a)
{
	struct import im = { .fd = -1 };
	struct zvd_backend *be;
	const char *why = NULL;
	struct stat st;
	int rc;

	rc = cli_build_geometry("convert", a->val, &im.g);
	if (rc)
		return rc;
	im.fd = open(raw, O_RDONLY | O_CLOEXEC);
	if (im.fd < 0)
		return cli_error("convert", "%s: %s", raw, strerror(errno));
	if (fstat(im.fd, &st) || !S_ISREG(st.st_mode)) {
		close(im.fd);
		return cli_error("convert", "%s: not a regular file", raw);
	}
	im.raw_size = (uint64_t)st.st_size;
	if (a->val[OPT_VOLUME]) {
		rc = import_volume(&im, raw, image, a);
		close(im.fd);
		return rc;
	}
	rc = pick_size(&im, a->val);
	if (!rc && zvd_geometry_validate(&im.g, &why) < 0)
		rc = cli_usage_error("convert", "invalid geometry: %s",
				     why ? why : "rejected by the library");
	if (!rc)
		rc = cli_open_backend("convert", image, ZVD_FILE_CREATE, &be);
	if (rc) {
		close(im.fd);
		return rc;
	}
	rc = zvd_create(be, &im.g, &im.dev);
	if (rc < 0) {
		zvd_backend_close(be);
		zvd_backend_remove(image);
		close(im.fd);
		return cli_error("convert", "%s: creating the image failed: %s",
				 image, strerror(-rc));
	}
	cli_progress_init(&im.p, "import", a->val[OPT_PROGRESS],
			  a->val[OPT_QUIET]);
	rc = import_all(&im);
	close(im.fd);
	if (rc) {
		zvd_close(im.dev);
		zvd_backend_remove(image);
		return rc;
	}
	rc = cli_close("convert", im.dev);
	if (rc) {
		zvd_backend_remove(image);
		return rc;
	}
	printf("imported %s into %s: %llu bytes of data; %llu sequential zones full, %llu closed, %llu finished\n",
	       raw, image, (unsigned long long)im.data,
	       (unsigned long long)im.full, (unsigned long long)im.closed,
	       (unsigned long long)im.finished);
	return 0;
}

/* ---- 3. export --------------------------------------------------------------------- */

struct export {
	int fd;
	struct zvd_dev *dev;
	struct zvd_geometry g;
	struct cli_progress p;
	char *buf;
	uint64_t data;
};

/* How many bytes from the start of zone @z can hold data. */
static uint64_t zone_extent(const struct zvd_zone *z)
{
	if (z->type == ZVD_ZONE_CONVENTIONAL)
		return z->len;
	switch (z->cond) {
	case ZVD_COND_EMPTY:
	case ZVD_COND_OFFLINE:
		return 0;
	case ZVD_COND_FULL:
	case ZVD_COND_READ_ONLY:
		return z->capacity;
	default:
		return z->wp - z->start;
	}
}

/* Copy the non-zero blocks of [off, off + len) of the device to RAW. */
static int export_range(struct export *ex, uint64_t off, uint64_t len)
{
	uint64_t bs = ex->g.block_size, end = off + len;
	int rc;

	while (off < end) {
		uint64_t n = end - off < CLI_PIECE ? end - off : CLI_PIECE, i, run;

		rc = zvd_read(ex->dev, ex->buf, n, off);
		if (rc < 0)
			return cli_dev_error("convert", ex->dev, rc);
		for (i = 0; i < n; i += run) {
			bool zero = is_zero(ex->buf + i, bs);
			ssize_t w;

			for (run = bs; i + run < n &&
				       is_zero(ex->buf + i + run, bs) == zero;
			     run += bs)
				;
			if (zero)
				continue;
			w = pwrite(ex->fd, ex->buf + i, run, (off_t)(off + i));
			if (w != (ssize_t)run)
				return cli_error("convert", "writing the raw file: %s",
						 w < 0 ? strerror(errno) : "short write");
			ex->data += run;
		}
		off += n;
		cli_progress_update(&ex->p, off, ex->g.size);
	}
	return 0;
}

static int export_all(struct export *ex)
{
	struct zvd_zone *z = calloc(CLI_REPORT_BATCH, sizeof(*z));
	uint32_t next = 0, nr = zvd_nr_zones(ex->dev);
	int i, n, rc = 0;

	ex->buf = malloc(CLI_PIECE);
	if (!z || !ex->buf)
		rc = cli_error("convert", "out of memory");
	while (!rc && next < nr) {
		n = zvd_report(ex->dev, next, ZVD_REPORT_ALL, z, CLI_REPORT_BATCH);
		if (n <= 0) {
			rc = n < 0 ? cli_dev_error("convert", ex->dev, n) : 0;
			break;
		}
		for (i = 0; !rc && i < n; i++) {
			if (z[i].cond == ZVD_COND_OFFLINE)
				fprintf(stderr, "zvd convert: zone %u is offline: its bytes are exported as zeros\n",
					cli_zone_index(ex->dev, &z[i]));
			rc = export_range(ex, z[i].start, zone_extent(&z[i]));
		}
		next = cli_zone_index(ex->dev, &z[n - 1]) + 1;
	}
	if (!rc)
		cli_progress_update(&ex->p, ex->g.size, ex->g.size);
	cli_progress_done(&ex->p);
	free(ex->buf);
	free(z);
	return rc;
}

static int do_export(const char *spec, const char *raw,
		     const struct cli_args *a)
{
	if (a->val[OPT_VOLUME])
		return cli_usage_error("convert",
				       "export takes no --conventional (the image is what it is)");
	struct export ex = { .fd = -1 };
	struct cli_image im;
	int rc, rc2;

	if (cli_geometry_given(a->val))
		return cli_usage_error("convert",
				       "export takes no geometry option (the image has its own)");
	rc = cli_open_image("convert", spec, true, &im, &ex.dev);
	if (rc)
		return rc;
	zvd_get_geometry(ex.dev, &ex.g);
	ex.fd = open(raw, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (ex.fd < 0) {
		rc = errno == EEXIST ?
			     cli_error("convert", "%s: the file already exists (zvd convert never overwrites a file)",
				       raw) :
			     cli_error("convert", "%s: %s", raw, strerror(errno));
		zvd_close(ex.dev);
		return rc;
	}
	cli_progress_init(&ex.p, "export", a->val[OPT_PROGRESS],
			  a->val[OPT_QUIET]);
	rc = export_all(&ex);
	if (!rc && (ftruncate(ex.fd, (off_t)ex.g.size) || fsync(ex.fd)))
		rc = cli_error("convert", "%s: %s", raw, strerror(errno));
	close(ex.fd);
	rc2 = cli_close("convert", ex.dev);
	if (rc || rc2) {
		unlink(raw);
		return rc ? rc : rc2;
	}
	printf("exported %s to %s: %llu bytes, %llu of them data\n", spec, raw,
	       (unsigned long long)ex.g.size, (unsigned long long)ex.data);
	return 0;
}

/* ---- 4. main ---------------------------------------------------------------------- */

int cmd_convert(int argc, char **argv)
{
	struct cli_args a;
	int rc;

	rc = cli_parse(argc, argv, opts, 3, 3, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	if (a.val[OPT_PROGRESS] && a.val[OPT_QUIET])
		return cli_usage_error("convert", "--progress and --quiet exclude each other");
	if (!strcmp(a.pos[0], "import"))
		return do_import(a.pos[1], a.pos[2], &a);
	if (!strcmp(a.pos[0], "export"))
		return do_export(a.pos[1], a.pos[2], &a);
	return cli_usage_error("convert", "unknown direction '%s' (import or export)",
			       a.pos[0]);
}

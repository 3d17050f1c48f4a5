// SPDX-License-Identifier: MIT
/*
 * layer.c - images that read through to another: backing images and
 * clones. Where a zone state maps no chunk below its base_len, the data is
 * read from the backing image at the same position (a whole image opened
 * read-only, or a snapshot of one); writes copy it into the image first
 * (io.c). This file opens and records the backing image, creates clones
 * and backed images, rebases and flattens, deletes images, and collects
 * garbage.
 *
 * BACKING record (little-endian): 0 type  1 present  4 snapshot id (0: a
 * whole image)  8 base uuid[16]  24 name_len (u16)  26 path_len (u16)
 * 28 snapshot name, then the base's path (absolute).
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/util.h"
#include "zoned/zoned.h"

/* ---- the record ---- */

int backing_replay(struct zvd_dev *dev, const uint8_t *p, size_t len)
{
	struct backing *bk = &dev->bk;
	size_t nl, pl;

	if (len < 28)
		return -EUCLEAN;
	nl = get_le16(p + 24);
	pl = get_le16(p + 26);
	if (len != 28 + nl + pl || nl > ZVD_NAME_MAX)
		return -EUCLEAN;
	free(bk->path);
	memset(bk, 0, sizeof(*bk));
	bk->present = p[1];
	if (!bk->present)
		return 0;
	bk->snap_id = get_le32(p + 4);
	memcpy(bk->uuid, p + 8, 16);
	memcpy(bk->snap, p + 28, nl);
	bk->path = strndup((const char *)p + 28 + nl, pl);
	return bk->path ? 0 : -ENOMEM;
}

int backing_encode(struct zvd_dev *dev, struct img_recs *recs)
{
	struct backing *bk = &dev->bk;
	size_t nl = bk->present ? strlen(bk->snap) : 0;
	size_t pl = bk->present ? strlen(bk->path) : 0;
	uint8_t *p;

	if (!bk->present)
		return 0; /* rebase and flatten checkpoint: absence says none */
	p = img_recs_add(recs, 28 + nl + pl);
	if (!p)
		return -ENOMEM;
	memset(p, 0, 28);
	p[0] = REC_BACKING;
	p[1] = (uint8_t)bk->present;
	put_le32(p + 4, bk->snap_id);
	memcpy(p + 8, bk->uuid, 16);
	put_le16(p + 24, (uint16_t)nl);
	put_le16(p + 26, (uint16_t)pl);
	memcpy(p + 28, bk->snap, nl);
	memcpy(p + 28 + nl, bk->path, pl);
	return 0;
}

/* ---- opening ---- */

/* Open the image at @path read-only: a snapshot view without a lock (it
 * never changes), a whole image with a shared lock (so nobody writes it). */
static int open_base(const char *path, const char *snap, uint32_t snap_id,
		     struct zvd_dev **out)
{
	struct zvd_backend *be;
	struct zvd_dev *dev;
	unsigned flags = ZVD_FILE_READONLY | (snap_id ? BE_FILE_NOLOCK : 0);
	int err = zvd_backend_open(path, flags, &be);

	if (err)
		return err;
	err = zvd_open(be, ZVD_OPEN_READONLY, &dev);
	if (err) {
		zvd_backend_close(be);
		return err;
	}
	if (snap_id) {
		err = dev_apply_snapshot(dev, snap, snap_id);
		if (err) {
			zvd_close(dev);
			return err;
		}
	}
	*out = dev;
	return 0;
}

static int same_geometry(const struct zvd_geometry *a,
			 const struct zvd_geometry *b)
{
	return a->size == b->size && a->zone_size == b->zone_size &&
	       a->zone_capacity == b->zone_capacity &&
	       a->block_size == b->block_size &&
	       a->nr_conv_zones == b->nr_conv_zones;
}

int backing_open(struct zvd_dev *dev)
{
	struct backing *bk = &dev->bk;
	int err;

	if (!bk->present || bk->dev)
		return 0;
	err = open_base(bk->path, bk->snap, bk->snap_id, &bk->dev);
	if (err)
		return err;
	if (memcmp(img_uuid(bk->dev->img), bk->uuid, 16) ||
	    !same_geometry(&bk->dev->g, &dev->g)) {
		backing_close(dev);
		return -ESTALE; /* not the image this one was made from */
	}
	return 0;
}

void backing_close(struct zvd_dev *dev)
{
	zvd_close(dev->bk.dev);
	dev->bk.dev = NULL;
	free(dev->bk.path);
	dev->bk.path = NULL;
}

int backing_read(struct zvd_dev *dev, void *buf, uint64_t len, uint64_t off)
{
	if (!dev->bk.dev) {
		memset(buf, 0, len);
		return 0;
	}
	return zvd_read(dev->bk.dev, buf, len, off) ? -EIO : 0;
}

int zvd_get_backing(struct zvd_dev *dev, char *path, size_t path_len,
		    char *snap, size_t snap_len)
{
	if (dev->vol)
		return vol_get_backing(dev, path, path_len, snap, snap_len);
	if (!dev->bk.present)
		return 0;
	if (path && path_len)
		snprintf(path, path_len, "%s", dev->bk.path);
	if (snap && snap_len)
		snprintf(snap, snap_len, "%s", dev->bk.snap);
	return 1;
}

/* ---- creating layered images ---- */

/* The zones of a new image reading through to @base's view of them. */
static void inherit_zones(struct zvd_dev *dev, struct zvd_dev *base)
{
	for (uint32_t zi = 0; zi < dev->nr_zones; zi++) {
		const struct zview *v = &base->zones[zi].st;
		struct zview *n = &dev->zones[zi].st;

		n->cond = v->cond;
		n->wp = v->wp;
		n->writes = v->writes;
		n->resets = v->resets;
		n->finishes = v->finishes;
		n->io_stamp = v->io_stamp;
		if (zone_is_conv(dev, zi))
			n->base_len = dev->g.zone_size;
		else if (v->cond != ZVD_COND_OFFLINE)
			n->base_len = v->wp;
	}
}

static int write_all(struct zvd_dev *dev, struct img_recs *recs, void *arg)
{
	(void)arg;
	return dev_encode_all(dev, recs);
}

/* Create the image file @new_path over @base (a view opened by the
 * caller) and commit its whole state. */
static int create_layer(struct zvd_dev *base, const char *base_abs,
			const char *snap, uint32_t snap_id,
			const char *new_path, const uint8_t *uuid)
{
	struct zvd_backend *be;
	struct zvd_dev *dev;
	struct flush_op op = { .apply = write_all, .full = 1 };
	int err = zvd_backend_open(new_path, ZVD_FILE_CREATE, &be);

	if (err)
		return err;
	err = dev_create(be, &base->g, uuid, &dev);
	if (err) {
		zvd_backend_close(be);
		be_remove(new_path);
		return err;
	}
	inherit_zones(dev, base);
	dev->bk.present = 1;
	dev->bk.snap_id = snap_id;
	memcpy(dev->bk.uuid, img_uuid(base->img), 16);
	snprintf(dev->bk.snap, sizeof(dev->bk.snap), "%s", snap ? snap : "");
	dev->bk.path = strdup(base_abs);
	err = dev->bk.path ? dev_rebuild_resources(dev) : -ENOMEM;
	if (!err)
		err = dev_flush_op(dev, &op);
	if (!err)
		err = zvd_close(dev);
	else
		zvd_close(dev);
	if (err)
		be_remove(new_path);
	return err;
}

int zvd_create_backed(const char *base_path, const char *new_path)
{
	char abs[PATH_MAX];
	struct zvd_dev *base;
	uint8_t uuid[16];
	int err;

	if (!base_path || !new_path)
		return -EINVAL;
	if (be_abspath(base_path, abs))
		return -errno;
	err = open_base(abs, NULL, 0, &base);
	if (err)
		return err;
	put_le64(uuid, zvd_random64());
	put_le64(uuid + 8, zvd_random64());
	if (base->vol)
		err = vol_create_layer(base, abs, "", new_path, uuid);
	else
		err = create_layer(base, abs, NULL, 0, new_path, uuid);
	zvd_close(base);
	return err;
}

/* Open an image by path for writing, remembering its path. */
static int open_rw(const char *path, struct zvd_dev **out)
{
	struct zvd_backend *be;
	int err = zvd_backend_open(path, 0, &be);

	if (err)
		return err;
	err = zvd_open(be, 0, out);
	if (err)
		zvd_backend_close(be);
	return err;
}

/* zvd_clone of a volume: the same steps through lib/volume/. Closes
 * @origin. */
static int clone_volume(struct zvd_dev *origin, const char *abs,
			const char *snapshot, const char *nabs)
{
	struct zvd_dev *view;
	uint8_t uuid[16];
	int err;

	put_le64(uuid, zvd_random64());
	put_le64(uuid + 8, zvd_random64());
	/* recorded first, as for zoned images */
	err = vol_register_clone(origin, snapshot, uuid, nabs, 1);
	if (!err) {
		err = open_base(abs, snapshot, 1, &view);
		if (!err) {
			err = vol_create_layer(view, abs, snapshot, nabs, uuid);
			zvd_close(view);
		}
		if (err)
			vol_register_clone(origin, snapshot, uuid, NULL, 0);
	}
	zvd_close(origin);
	return err;
}

int zvd_clone(const char *origin_path, const char *snapshot,
	      const char *new_path)
{
	char abs[PATH_MAX], nabs[PATH_MAX];
	struct clone_args a = { .add = 1 };
	struct flush_op op = { .apply = snap_clone_apply, .arg = &a };
	struct zvd_dev *origin, *view;
	uint8_t uuid[16];
	struct snap *s;
	int err;

	if (!origin_path || !snapshot || !new_path)
		return -EINVAL;
	if (be_abspath(origin_path, abs))
		return -errno;
	if (be_exists(new_path))
		return -EEXIST;
	/* the clone's own path, absolute, for the origin's record */
	if (be_abspath_new(new_path, nabs))
		return -errno;

	err = open_rw(abs, &origin);
	if (err)
		return err;
	if (origin->vol)
		return clone_volume(origin, abs, snapshot, nabs);
	s = snap_find(origin, snapshot);
	if (!s) {
		zvd_close(origin);
		return -ENOENT;
	}
	/* record the clone first: a power cut before the clone is complete
	 * leaves a record that names no clone, which snapshot delete drops */
	put_le64(uuid, zvd_random64());
	put_le64(uuid + 8, zvd_random64());
	a.snap_id = s->id;
	a.uuid = uuid;
	a.path = nabs;
	err = dev_flush_op(origin, &op);
	if (!err) {
		err = open_base(abs, snapshot, a.snap_id, &view);
		if (!err) {
			err = create_layer(view, abs, snapshot, a.snap_id, nabs,
					   uuid);
			zvd_close(view);
		}
		if (err) {
			a.add = 0;
			dev_flush_op(origin, &op);
		}
	}
	zvd_close(origin);
	return err;
}

/* ---- rebase and flatten ---- */

struct rebase_args {
	struct zvd_dev *nb; /* the new base, or NULL to flatten */
	const char *nb_abs;
	zvd_progress_fn progress;
	void *parg;
	uint64_t done, total;
	uint8_t *old, *new;
};

/* Give state @v of zone @zi its own copy of every slot whose data reads
 * through to the old backing and would read differently from the new one
 * (from none, when flattening). */
static int rebase_view(struct zvd_dev *dev, uint32_t zi, struct zview *v,
		       struct rebase_args *a)
{
	uint64_t chunk = 1ull << dev->chunk_shift;

	for (uint32_t slot = 0; slot < dev->slots; slot++) {
		uint64_t pos = (uint64_t)slot << dev->chunk_shift;
		uint64_t n = pos < v->base_len ? ZVD_MIN(chunk, v->base_len - pos) : 0;
		uint64_t off = zone_start(dev, zi) + pos;
		uint32_t c;
		int err, same;

		if (!n || (v->map && v->map[slot]))
			continue;
		err = backing_read(dev, a->old, n, off);
		if (err)
			return err;
		if (a->nb) {
			err = zvd_read(a->nb, a->new, n, off) ? -EIO : 0;
			if (err)
				return err;
		} else {
			memset(a->new, 0, n);
		}
		same = !memcmp(a->old, a->new, n);
		a->done += n;
		if (a->progress)
			a->progress(a->parg, a->done, a->total);
		if (same)
			continue; /* the new base (or zeros) reads the same */
		if (!v->map) {
			v->map = calloc(dev->slots, sizeof(*v->map));
			if (!v->map)
				return -ENOMEM;
		}
		err = img_alloc(dev->img, &c);
		if (!err)
			err = be_write(dev->be, a->old, n,
				       img_chunk_off(dev->chunk_shift, c));
		if (err)
			return err;
		v->map[slot] = c;
	}
	if (!a->nb)
		v->base_len = 0;
	v->persisted = 0;
	return 0;
}

static int rebase_apply(struct zvd_dev *dev, struct img_recs *recs, void *arg)
{
	struct rebase_args *a = arg;
	struct backing nbk = { 0 };
	int err = 0;

	for (uint32_t zi = 0; zi < dev->nr_zones && !err; zi++) {
		struct zone *z = &dev->zones[zi];

		pthread_rwlock_wrlock(&z->lock);
		if (z->st.base_len)
			err = rebase_view(dev, zi, &z->st, a);
		for (uint32_t i = 0; i < dev->nr_snaps && !err; i++) {
			struct snap *s = dev->snaps[i];
			if (s->saved && s->saved[zi] && s->saved[zi]->base_len)
				err = rebase_view(dev, zi, s->saved[zi], a);
		}
		mark_dirty(dev, zi);
		pthread_rwlock_unlock(&z->lock);
	}
	if (err)
		return err;
	/* switch to the new base (the whole state is written next) */
	if (a->nb) {
		nbk.present = 1;
		memcpy(nbk.uuid, img_uuid(a->nb->img), 16);
		nbk.path = strdup(a->nb_abs);
		if (!nbk.path)
			return -ENOMEM;
		nbk.dev = a->nb;
		a->nb = NULL; /* the device owns it now */
	}
	backing_close(dev);
	dev->bk = nbk;
	(void)recs;
	return 0;
}

/* Is the image with uuid @uuid somewhere below @dev? */
static int depends_on(struct zvd_dev *dev, const uint8_t *uuid)
{
	for (; dev; dev = dev->vol ? vol_base(dev) : dev->bk.dev)
		if (!memcmp(img_uuid(dev->img), uuid, 16))
			return 1;
	return 0;
}

/* A flattened clone no longer needs its origin's snapshot: tell the
 * origin, if it can be opened now (else snapshot delete finds the record
 * stale later). */
static void unregister_clone(const char *origin, uint32_t snap_id,
			     const uint8_t *uuid)
{
	struct clone_args a = { .snap_id = snap_id, .uuid = uuid, .add = 0 };
	struct flush_op op = { .apply = snap_clone_apply, .arg = &a };
	struct zvd_dev *o;

	if (open_rw(origin, &o))
		return;
	if (o->vol)
		vol_unregister_clone(o, uuid);
	else
		dev_flush_op(o, &op);
	zvd_close(o);
}

/* zvd_rebase of a volume. */
static int rebase_volume(struct zvd_dev *dev, const char *new_base_path,
			 zvd_progress_fn progress, void *arg)
{
	char abs[PATH_MAX], origin[PATH_MAX] = "", snap[ZVD_NAME_MAX + 1];
	struct zvd_dev *nb = NULL;
	int err;

	if (vol_get_backing(dev, origin, sizeof(origin), snap, sizeof(snap)) &&
	    !snap[0])
		origin[0] = 0; /* a whole base image records no clone */
	if (new_base_path) {
		if (be_abspath(new_base_path, abs))
			return dev_fail_msg(dev, -errno, "%s: %s", new_base_path,
					    strerror(errno));
		err = open_base(abs, NULL, 0, &nb);
		if (err)
			return dev_fail_msg(dev, err, "%s: cannot open it as a base image: %s",
					    new_base_path, strerror(-err));
		if (!nb->vol || depends_on(nb, img_uuid(dev->img))) {
			zvd_close(nb);
			return dev_fail_msg(dev, nb->vol ? -ELOOP : -EINVAL,
					    "%s cannot be the base of this volume",
					    new_base_path);
		}
	}
	err = vol_rebase(dev, nb, abs, progress, arg);
	if (err)
		zvd_close(nb);
	if (!err && origin[0])
		unregister_clone(origin, 0, img_uuid(dev->img));
	return err;
}

int zvd_rebase(struct zvd_dev *dev, const char *new_base_path,
	       zvd_progress_fn progress, void *arg)
{
	struct rebase_args a = { .progress = progress, .parg = arg };
	struct flush_op op = { .apply = rebase_apply, .arg = &a, .full = 1 };
	char abs[PATH_MAX], origin[PATH_MAX] = "";
	uint32_t origin_snap = dev->bk.snap_id;
	int err;

	if (dev->readonly)
		return dev_fail_msg(dev, -EROFS, "the image is open read-only");
	if (dev->vol)
		return rebase_volume(dev, new_base_path, progress, arg);
	if (dev->bk.present && dev->bk.snap_id)
		snprintf(origin, sizeof(origin), "%s", dev->bk.path);
	if (new_base_path) {
		if (be_abspath(new_base_path, abs))
			return dev_fail_msg(dev, -errno, "%s: %s", new_base_path,
					    strerror(errno));
		err = open_base(abs, NULL, 0, &a.nb);
		if (err)
			return dev_fail_msg(dev, err, "%s: cannot open it as a base image: %s",
					    new_base_path, strerror(-err));
		a.nb_abs = abs;
		if (!same_geometry(&a.nb->g, &dev->g)) {
			zvd_close(a.nb);
			return dev_fail_msg(dev, -EINVAL,
					    "%s has another geometry than the image",
					    new_base_path);
		}
		if (depends_on(a.nb, img_uuid(dev->img))) {
			zvd_close(a.nb);
			return dev_fail_msg(dev, -ELOOP,
					    "%s reads through to this image itself",
					    new_base_path);
		}
	}
	for (uint32_t zi = 0; zi < dev->nr_zones; zi++)
		a.total += dev->zones[zi].st.base_len;
	a.old = malloc(1ull << dev->chunk_shift);
	a.new = malloc(1ull << dev->chunk_shift);
	err = a.old && a.new ? dev_flush_op(dev, &op) : -ENOMEM;
	free(a.old);
	free(a.new);
	zvd_close(a.nb); /* NULL once the device took it */
	if (!err && origin[0])
		unregister_clone(origin, origin_snap, img_uuid(dev->img));
	return err;
}

/* ---- deleting images ---- */

/*
 * The clones recorded for snapshot @snap that no longer depend on it: the
 * file is gone, is another image, or no longer reads through to this one.
 * Returned in *stale (malloc'd, caller frees).
 */
int clones_find_stale(struct zvd_dev *dev, const char *snap,
		      uint8_t (**stale)[16], uint32_t *nr)
{
	struct snap *s = snap_find(dev, snap);

	*stale = NULL;
	*nr = 0;
	if (!s || !s->nr_clones)
		return 0;
	*stale = calloc(s->nr_clones, sizeof(**stale));
	if (!*stale)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->nr_clones; i++) {
		struct clone_ref *c = &s->clones[i];
		struct zvd_backend *be;
		struct zvd_dev *cd;
		const char *why;
		char reason[160];
		uint32_t zone;
		int err, gone;

		err = zvd_backend_open(c->path,
					    ZVD_FILE_READONLY | BE_FILE_NOLOCK, &be);
		if (err) {
			gone = err == -ENOENT;
		} else if (dev_open_image(be, 1, &cd, &why)) {
			gone = 1; /* not an image any more */
			zvd_backend_close(be);
		} else {
			gone = memcmp(img_uuid(cd->img), c->uuid, 16) != 0;
			if (!gone && !dev_load(cd, 0, reason, sizeof(reason), &zone))
				gone = !cd->bk.present || cd->bk.snap_id != s->id ||
				       memcmp(cd->bk.uuid, img_uuid(dev->img), 16);
			dev_free(cd);
			zvd_backend_close(be);
		}
		if (gone)
			memcpy((*stale)[(*nr)++], c->uuid, 16);
	}
	return 0;
}

int zvd_delete_image(const char *path)
{
	struct zvd_backend *be;
	struct zvd_dev *dev;
	char origin[PATH_MAX] = "";
	uint8_t uuid[16];
	uint32_t snap_id = 0;
	int err = zvd_backend_open(path, 0, &be);

	if (err)
		return err;
	err = zvd_open(be, 0, &dev);
	if (err == -EUCLEAN) {
		/* not a valid image: it holds nothing to unregister */
		zvd_backend_close(be);
		return be_remove(path);
	}
	if (err) {
		zvd_backend_close(be);
		return err;
	}
	if (dev->vol) {
		char snap[ZVD_NAME_MAX + 1];

		if (vol_has_clones(dev))
			err = -EBUSY;
		else if (vol_get_backing(dev, origin, sizeof(origin), snap,
					 sizeof(snap)) && !snap[0])
			origin[0] = 0;
		memcpy(uuid, img_uuid(dev->img), 16);
	}
	for (uint32_t i = 0; i < dev->nr_snaps && !err; i++) {
		uint8_t (*stale)[16];
		uint32_t nr;

		err = clones_find_stale(dev, dev->snaps[i]->name, &stale, &nr);
		if (!err && nr < dev->snaps[i]->nr_clones)
			err = -EBUSY; /* a live clone depends on this image */
		free(stale);
	}
	if (!err && dev->bk.present && dev->bk.snap_id) {
		snprintf(origin, sizeof(origin), "%s", dev->bk.path);
		snap_id = dev->bk.snap_id;
		memcpy(uuid, img_uuid(dev->img), 16);
	}
	zvd_close(dev);
	if (err)
		return err;
	err = be_remove(path);
	if (err)
		return err;
	if (origin[0])
		unregister_clone(origin, snap_id, uuid);
	return 0;
}

/* ---- garbage collection ---- */

int64_t zvd_gc(struct zvd_dev *dev)
{
	struct flush_op op = { .apply = write_all, .full = 1 };
	int err;

	if (dev->vol)
		return vol_gc(dev);
	if (dev->readonly)
		return -EROFS;
	/* a checkpoint rewrites the journal compactly and frees the old one */
	err = dev_flush_op(dev, &op);
	if (err)
		return err;
	return img_shrink(dev->img);
}

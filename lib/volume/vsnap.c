// SPDX-License-Identifier: MIT
/*
 * vsnap.c - a volume's snapshots, backing image and clones.
 *
 *   snapshots  a snapshot is a map sharing every leaf with the live map
 *              when taken (one record, nothing copied); rollback makes the
 *              live map share the snapshot's leaves; delete drops its map
 *   backing    blocks never written read through to a read-only volume
 *              (a whole image, or a snapshot of one for a clone)
 *   clones     the origin records each clone of a snapshot, so that the
 *              snapshot is not deleted under it
 *   rebase     copy in what would read differently, then switch the
 *              backing record in one checkpoint
 *
 * Every change is a record in the volume's pending list, committed (with
 * everything before it) before the call returns.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"
#include "volume/vol_int.h"

/* ---- the snapshot list ---- */

struct vsnap *vsnap_find(struct vol *v, const char *name)
{
	for (uint32_t k = 0; k < v->nr_snaps; k++)
		if (!strcmp(v->snaps[k]->name, name))
			return v->snaps[k];
	return NULL;
}

static struct vsnap *vsnap_by_id(struct vol *v, uint32_t id)
{
	for (uint32_t k = 0; k < v->nr_snaps; k++)
		if (v->snaps[k]->id == id)
			return v->snaps[k];
	return NULL;
}

static void vsnap_free(struct vol *v, struct vsnap *s)
{
	map_drop(v, &s->map);
	for (uint32_t i = 0; i < s->nr_clones; i++)
		free(s->clones[i].path);
	free(s->clones);
	free(s);
}

void vsnaps_free(struct vol *v)
{
	for (uint32_t k = 0; k < v->nr_snaps; k++)
		vsnap_free(v, v->snaps[k]);
	free(v->snaps);
	v->snaps = NULL;
	v->nr_snaps = 0;
}

/* Add a snapshot: its map shares the live map's leaves, or is empty. */
static int vsnap_add(struct vol *v, uint32_t id, uint64_t created,
		     const char *name, size_t nl, int from_live)
{
	struct vsnap *s, **arr;
	int err;

	if (!nl || nl > ZVD_NAME_MAX || id < v->next_snap_id)
		return -EUCLEAN;
	s = calloc(1, sizeof(*s));
	arr = realloc(v->snaps, (v->nr_snaps + 1) * sizeof(*arr));
	if (!s || !arr) {
		free(s);
		if (arr)
			v->snaps = arr;
		return -ENOMEM;
	}
	v->snaps = arr;
	err = from_live ? map_share(v, &s->map, &v->live) : map_init(v, &s->map);
	if (err) {
		free(s);
		return err;
	}
	s->id = id;
	s->created = created;
	memcpy(s->name, name, nl);
	v->snaps[v->nr_snaps++] = s;
	v->next_snap_id = id + 1;
	return 0;
}

static void vsnap_remove(struct vol *v, struct vsnap *s)
{
	uint32_t k = 0;

	while (v->snaps[k] != s)
		k++;
	memmove(v->snaps + k, v->snaps + k + 1,
		(v->nr_snaps - k - 1) * sizeof(*v->snaps));
	v->nr_snaps--;
	vsnap_free(v, s);
}

static int clone_set(struct vsnap *s, const uint8_t *uuid, const char *path,
		     size_t pl, int add)
{
	for (uint32_t i = 0; i < s->nr_clones; i++) {
		if (memcmp(s->clones[i].uuid, uuid, 16))
			continue;
		if (!add) {
			free(s->clones[i].path);
			s->clones[i] = s->clones[--s->nr_clones];
		}
		return 0;
	}
	if (add) {
		struct vclone *c = realloc(s->clones,
					   (s->nr_clones + 1) * sizeof(*c));
		if (!c)
			return -ENOMEM;
		s->clones = c;
		c[s->nr_clones].path = strndup(path, pl);
		if (!c[s->nr_clones].path)
			return -ENOMEM;
		memcpy(c[s->nr_clones++].uuid, uuid, 16);
	}
	return 0;
}

/* ---- records ---- */

static int rec_snap(struct img_recs *r, const struct vsnap *s, int from_live)
{
	size_t nl = strlen(s->name);
	uint8_t *p = img_recs_add(r, 17 + nl);

	if (!p)
		return -ENOMEM;
	memset(p, 0, 17);
	p[0] = VR_SNAP;
	p[1] = (uint8_t)from_live;
	put_le32(p + 4, s->id);
	put_le64(p + 8, s->created);
	p[16] = (uint8_t)nl;
	memcpy(p + 17, s->name, nl);
	return 0;
}

static int rec_id(struct img_recs *r, uint8_t type, uint32_t id)
{
	uint8_t *p = img_recs_add(r, 8);

	if (!p)
		return -ENOMEM;
	memset(p, 0, 8);
	p[0] = type;
	put_le32(p + 4, id);
	return 0;
}

static int rec_clone(struct img_recs *r, uint32_t snap_id,
		     const uint8_t *uuid, const char *path, int add)
{
	size_t pl = strlen(path);
	uint8_t *p = img_recs_add(r, 26 + pl);

	if (!p || pl > UINT16_MAX)
		return -ENOMEM;
	memset(p, 0, 26);
	p[0] = VR_CLONE;
	p[1] = (uint8_t)add;
	put_le32(p + 4, snap_id);
	memcpy(p + 8, uuid, 16);
	put_le16(p + 24, (uint16_t)pl);
	memcpy(p + 26, path, pl);
	return 0;
}

static int rec_backing(struct vol *v, struct img_recs *r)
{
	size_t nl = strlen(v->base_snap);
	size_t pl = v->base_path ? strlen(v->base_path) : 0;
	uint8_t *p = img_recs_add(r, 24 + nl + pl);

	if (!p || pl > UINT16_MAX)
		return -ENOMEM;
	memset(p, 0, 24);
	p[0] = VR_BACKING;
	p[1] = (uint8_t)v->has_base;
	memcpy(p + 4, v->base_uuid, 16);
	p[20] = (uint8_t)nl;
	put_le16(p + 22, (uint16_t)pl);
	memcpy(p + 24, v->base_snap, nl);
	if (pl)
		memcpy(p + 24 + nl, v->base_path, pl);
	return 0;
}

int vsnap_replay(struct zvd_dev *dev, const uint8_t *p, size_t len)
{
	struct vol *v = dev->vol;
	struct vsnap *s;

	switch (p[0]) {
	case VR_SNAP:
		if (len < 17 || len != 17u + p[16])
			return -EUCLEAN;
		return vsnap_add(v, get_le32(p + 4), get_le64(p + 8),
				 (const char *)p + 17, p[16], p[1]);
	case VR_SNAP_DEL:
	case VR_ROLLBACK:
		s = vsnap_by_id(v, get_le32(p + 4));
		if (!s)
			return -EUCLEAN;
		if (p[0] == VR_SNAP_DEL) {
			vsnap_remove(v, s);
			return 0;
		}
		map_drop(v, &v->live);
		return map_share(v, &v->live, &s->map);
	case VR_CLONE:
		if (len < 26 || len != 26u + get_le16(p + 24))
			return -EUCLEAN;
		s = vsnap_by_id(v, get_le32(p + 4));
		if (!s)
			return -EUCLEAN;
		return clone_set(s, p + 8, (const char *)p + 26,
				 get_le16(p + 24), p[1]);
	case VR_BACKING:
		if (len < 24 || len != 24u + p[20] + get_le16(p + 22) ||
		    p[20] > ZVD_NAME_MAX)
			return -EUCLEAN;
		free(v->base_path);
		v->base_path = NULL;
		v->has_base = p[1];
		memcpy(v->base_uuid, p + 4, 16);
		memcpy(v->base_snap, p + 24, p[20]);
		v->base_snap[p[20]] = 0;
		if (v->has_base) {
			v->base_path = strndup((const char *)p + 24 + p[20],
					       get_le16(p + 22));
			if (!v->base_path)
				return -ENOMEM;
		}
		return 0;
	}
	return -EUCLEAN;
}

int vsnap_encode_all(struct zvd_dev *dev, struct img_recs *r)
{
	struct vol *v = dev->vol;
	int err = v->has_base ? rec_backing(v, r) : 0;

	for (uint32_t k = 0; k < v->nr_snaps && !err; k++) {
		struct vsnap *s = v->snaps[k];

		err = rec_snap(r, s, 0);
		for (uint32_t i = 0; i < s->nr_clones && !err; i++)
			err = rec_clone(r, s->id, s->clones[i].uuid,
					s->clones[i].path, 1);
		if (!err)
			err = map_encode(v, &s->map, s->id, r);
	}
	return err;
}

/* ---- snapshot calls ---- */

int vol_snapshot_create(struct zvd_dev *dev, const char *name)
{
	struct vol *v = dev->vol;
	int err = vol_writable(dev);

	if (err)
		return err;
	pthread_rwlock_wrlock(&v->lock);
	if (vsnap_find(v, name)) {
		err = dev_fail_msg(dev, -EEXIST, "snapshot '%s' exists", name);
	} else {
		err = vsnap_add(v, v->next_snap_id, (uint64_t)time(NULL), name,
				strlen(name), 1);
		if (!err)
			err = rec_snap(&v->pend, v->snaps[v->nr_snaps - 1], 1);
	}
	pthread_rwlock_unlock(&v->lock);
	return err ? err : vol_commit(dev, 0);
}

/* A clone recorded for a snapshot is stale when its file is gone or is
 * another image than the one recorded. */
static int clone_alive(const struct vclone *c)
{
	struct zvd_backend *be;
	struct zvd_dev *cd;
	int alive;

	if (zvd_backend_open(c->path, ZVD_FILE_READONLY | BE_FILE_NOLOCK,
				  &be))
		return 0;
	if (zvd_open(be, ZVD_OPEN_READONLY, &cd)) {
		zvd_backend_close(be);
		return 0;
	}
	alive = !memcmp(img_uuid(cd->img), c->uuid, 16);
	zvd_close(cd);
	return alive;
}

int vol_snapshot_delete(struct zvd_dev *dev, const char *name)
{
	struct vol *v = dev->vol;
	struct vsnap *s;
	int err = vol_writable(dev);

	if (err)
		return err;
	pthread_rwlock_wrlock(&v->lock);
	s = vsnap_find(v, name);
	if (!s) {
		pthread_rwlock_unlock(&v->lock);
		return dev_fail_msg(dev, -ENOENT, "no snapshot '%s'", name);
	}
	if (s->views) {
		pthread_rwlock_unlock(&v->lock);
		return dev_fail_msg(dev, -EBUSY, "snapshot '%s' is open as a "
				    "view (served)", name);
	}
	for (uint32_t i = 0; i < s->nr_clones && !err; i++) {
		if (clone_alive(&s->clones[i])) {
			err = dev_fail_msg(dev, -EBUSY,
					   "snapshot '%s' has a clone: %s", name,
					   s->clones[i].path);
		} else {
			err = rec_clone(&v->pend, s->id, s->clones[i].uuid,
					s->clones[i].path, 0);
			if (!err)
				clone_set(s, s->clones[i].uuid, NULL, 0, 0);
			i--;
		}
	}
	if (!err)
		err = rec_id(&v->pend, VR_SNAP_DEL, s->id);
	if (!err) {
		vsnap_remove(v, s);
		gc_unpin_all(v);
	}
	pthread_rwlock_unlock(&v->lock);
	return err ? err : vol_commit(dev, 0);
}

/* Blocks held only by snapshot @s (not shared with another map). */
static uint64_t exclusive_blocks(struct vol *v, const struct vsnap *s)
{
	uint64_t n = 0;

	for (uint32_t li = 0; li < v->nleaves; li++) {
		const struct leaf *l = s->map.l[li];

		if (!l || l->refs > 1)
			continue;
		for (uint32_t i = 0; i < LEAF_N; i++) {
			uint32_t loc = l->e[i];

			if (loc >= 2 &&
			    v->segs[loc_chunk(v, loc)].ref[loc & (v->bps - 1)] == 1)
				n++;
		}
	}
	return n;
}

int vol_snapshot_list(struct zvd_dev *dev, struct zvd_snapshot_info *out,
		      uint32_t max)
{
	struct vol *v = dev->vol;
	int n;

	pthread_rwlock_rdlock(&v->lock);
	for (uint32_t k = 0; k < v->nr_snaps && k < max; k++) {
		struct vsnap *s = v->snaps[k];

		memset(&out[k], 0, sizeof(out[k]));
		out[k].id = s->id;
		out[k].created = s->created;
		out[k].nr_clones = s->nr_clones;
		out[k].exclusive_bytes = exclusive_blocks(v, s) << VBLK_SHIFT;
		snprintf(out[k].name, sizeof(out[k].name), "%s", s->name);
	}
	n = (int)v->nr_snaps;
	pthread_rwlock_unlock(&v->lock);
	return n;
}

int vol_rollback(struct zvd_dev *dev, const char *name)
{
	struct vol *v = dev->vol;
	struct vsnap *s;
	int err = vol_writable(dev);

	if (err)
		return err;
	pthread_rwlock_wrlock(&v->lock);
	s = vsnap_find(v, name);
	if (!s) {
		err = dev_fail_msg(dev, -ENOENT, "no snapshot '%s'", name);
	} else {
		map_drop(v, &v->live);
		err = map_share(v, &v->live, &s->map);
		if (!err)
			err = rec_id(&v->pend, VR_ROLLBACK, s->id);
		if (err)
			img_set_broken(v->img);
	}
	pthread_rwlock_unlock(&v->lock);
	return err ? err : vol_commit(dev, 0);
}

int vol_select_snapshot(struct zvd_dev *dev, const char *name)
{
	struct vol *v = dev->vol;
	struct vsnap *s = vsnap_find(v, name);

	if (!s)
		return -ENOENT;
	v->rmap = &s->map;
	return 0;
}

/* ---- backing images ---- */

/* Open the volume at @path read-only: a snapshot view without a lock (it
 * never changes), a whole image with a shared lock. */
static int open_view(const char *path, const char *snap, struct zvd_dev **out)
{
	struct zvd_backend *be;
	unsigned flags = ZVD_FILE_READONLY | (snap[0] ? BE_FILE_NOLOCK : 0);
	int err = zvd_backend_open(path, flags, &be);

	if (err)
		return err;
	err = snap[0] ? zvd_open_snapshot(be, snap, out)
		      : zvd_open(be, ZVD_OPEN_READONLY, out);
	if (err)
		zvd_backend_close(be);
	else if (!zvd_is_volume(*out)) {
		zvd_close(*out);
		err = -EMEDIUMTYPE;
	}
	return err;
}

int vbacking_open(struct zvd_dev *dev)
{
	struct vol *v = dev->vol;
	int err;

	if (!v->has_base || v->base)
		return 0;
	err = open_view(v->base_path, v->base_snap, &v->base);
	if (err)
		return err;
	if (memcmp(img_uuid(v->base->img), v->base_uuid, 16)) {
		zvd_close(v->base);
		v->base = NULL;
		return -ESTALE; /* not the image this one was made from */
	}
	return 0;
}

int vbacking_read(struct zvd_dev *dev, void *buf, size_t len, uint64_t off)
{
	struct vol *v = dev->vol;
	uint64_t bsize = zvd_size(v->base);
	size_t n = off < bsize ? (size_t)ZVD_MIN(len, bsize - off) : 0;

	memset((uint8_t *)buf + n, 0, len - n);
	return n && zvd_read(v->base, buf, n, off) ? -EIO : 0;
}

int vol_get_backing(struct zvd_dev *dev, char *path, size_t path_len,
		    char *snap, size_t snap_len)
{
	struct vol *v = dev->vol;

	if (!v->has_base)
		return 0;
	if (path && path_len)
		snprintf(path, path_len, "%s", v->base_path);
	if (snap && snap_len)
		snprintf(snap, snap_len, "%s", v->base_snap);
	return 1;
}

/* Create the volume file @new_path reading through to @base (opened by the
 * caller; @snap "" for a whole image) and commit it in one checkpoint. */
int vol_create_layer(struct zvd_dev *base, const char *base_abs,
		     const char *snap, const char *new_path,
		     const uint8_t *uuid)
{
	struct zvd_backend *be;
	struct zvd_dev *dev;
	struct vol *v;
	int err = zvd_backend_open(new_path, ZVD_FILE_CREATE, &be);

	if (err)
		return err;
	err = vol_create(be, base->vol->size, uuid, &dev);
	if (err) {
		zvd_backend_close(be);
		be_remove(new_path);
		return err;
	}
	v = dev->vol;
	v->has_base = 1;
	memcpy(v->base_uuid, img_uuid(base->img), 16);
	snprintf(v->base_snap, sizeof(v->base_snap), "%s", snap);
	v->base_path = strdup(base_abs);
	err = v->base_path ? vol_commit(dev, 1) : -ENOMEM;
	if (!err)
		err = zvd_close(dev);
	else
		zvd_close(dev);
	if (err)
		be_remove(new_path);
	return err;
}

/* Record (or drop) a clone of snapshot @snap in the origin @o. */
int vol_register_clone(struct zvd_dev *o, const char *snap,
		       const uint8_t *uuid, const char *path, int add)
{
	struct vol *v = o->vol;
	struct vsnap *s;
	int err;

	pthread_rwlock_wrlock(&v->lock);
	s = vsnap_find(v, snap);
	err = s ? clone_set(s, uuid, path, path ? strlen(path) : 0, add)
		: -ENOENT;
	if (!err)
		err = rec_clone(&v->pend, s->id, uuid, path ? path : "", add);
	pthread_rwlock_unlock(&v->lock);
	return err ? err : vol_commit(o, 0);
}

/* Drop the clone @uuid from whichever snapshot of @o records it. */
int vol_unregister_clone(struct zvd_dev *o, const uint8_t *uuid)
{
	struct vol *v = o->vol;
	int err = 0;

	pthread_rwlock_wrlock(&v->lock);
	for (uint32_t k = 0; k < v->nr_snaps && !err; k++) {
		struct vsnap *s = v->snaps[k];

		for (uint32_t i = 0; i < s->nr_clones && !err; i++) {
			if (memcmp(s->clones[i].uuid, uuid, 16))
				continue;
			err = rec_clone(&v->pend, s->id, uuid,
					s->clones[i].path, 0);
			if (!err)
				clone_set(s, uuid, NULL, 0, 0);
			break;
		}
	}
	pthread_rwlock_unlock(&v->lock);
	return err ? err : vol_commit(o, 0);
}

int vol_snapshot_view(struct zvd_dev *dev, const char *name, int delta,
		      uint32_t *id)
{
	struct vol *v = dev->vol;
	struct vsnap *s;

	pthread_rwlock_wrlock(&v->lock);
	s = delta > 0 ? vsnap_find(v, name) : vsnap_by_id(v, *id);
	if (s) {
		s->views += (uint32_t)delta;
		*id = s->id;
	}
	pthread_rwlock_unlock(&v->lock);
	return s ? 0 : -ENOENT;
}

struct zvd_dev *vol_base(struct zvd_dev *dev)
{
	return dev->vol->base;
}

/* Does any snapshot of @dev have a live clone? */
int vol_has_clones(struct zvd_dev *dev)
{
	struct vol *v = dev->vol;

	for (uint32_t k = 0; k < v->nr_snaps; k++)
		for (uint32_t i = 0; i < v->snaps[k]->nr_clones; i++)
			if (clone_alive(&v->snaps[k]->clones[i]))
				return 1;
	return 0;
}

/*
 * Rebase onto @nb (NULL: flatten): every block never written that reads
 * differently through @nb than through the current backing image is
 * copied in first; then the backing record changes, in one checkpoint.
 */
int vol_rebase(struct zvd_dev *dev, struct zvd_dev *nb, const char *nb_abs,
	       zvd_progress_fn progress, void *arg)
{
	struct vol *v = dev->vol;
	uint8_t *old = malloc(VBLK), *new = malloc(VBLK);
	int err = vol_writable(dev);

	if (!err && (!old || !new))
		err = -ENOMEM;
	for (uint64_t lba = 0; lba < v->nblocks && !err; lba++) {
		uint64_t off = lba << VBLK_SHIFT;
		uint32_t loc;

		pthread_rwlock_rdlock(&v->lock);
		loc = map_get(v, &v->live, lba);
		pthread_rwlock_unlock(&v->lock);
		if (progress && !(lba & 4095))
			progress(arg, off, v->size);
		if (loc != LOC_NONE || !v->base)
			continue;
		err = vbacking_read(dev, old, VBLK, off);
		if (err)
			break;
		if (nb && off < zvd_size(nb)) {
			err = zvd_read(nb, new, VBLK, off);
			if (err)
				break;
		} else {
			memset(new, 0, VBLK);
		}
		if (memcmp(old, new, VBLK))
			err = vol_write(dev, old, VBLK, off, 0);
	}
	free(old);
	free(new);
	if (err)
		return err;
	pthread_rwlock_wrlock(&v->lock);
	if (v->base)
		zvd_close(v->base);
	v->base = nb;
	free(v->base_path);
	v->base_path = nb ? strdup(nb_abs) : NULL;
	v->has_base = nb != NULL;
	v->base_snap[0] = 0;
	if (nb)
		memcpy(v->base_uuid, img_uuid(nb->img), 16);
	else
		memset(v->base_uuid, 0, 16);
	err = rec_backing(v, &v->pend);
	pthread_rwlock_unlock(&v->lock);
	if (progress)
		progress(arg, v->size, v->size);
	return err ? err : vol_commit(dev, 1);
}

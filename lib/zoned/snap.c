// SPDX-License-Identifier: MIT
/*
 * snap.c - snapshots: create, delete, list, rollback and read-only views.
 *
 * Taking a snapshot copies nothing: it records its name in the journal.
 * The first change to a zone afterwards first gives the newest snapshot a
 * copy of the zone's state (zone_preserve), and the two are committed in
 * one transaction. A snapshot reads a zone from its own copy, else from the
 * next newer snapshot's, else from the live zone. Chunks below a write
 * pointer never change until reset, and a chunk that more than one state
 * maps is copied before it is written (io.c), so no snapshot is disturbed.
 *
 * Records (little-endian):
 *   SNAP_CREATE  0 type  4 id  8 created  16 name_len (u16)  18 name
 *   SNAP_DELETE  0 type  4 id
 *   CLONE_REF    0 type  4 snapshot id  8 clone uuid[16]  24 path_len (u16)
 *                26 path
 *   CLONE_UNREF  0 type  4 snapshot id  8 clone uuid[16]
 *   SNAP_ZONE    a zone record (state.c) carrying the snapshot id
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "util/util.h"
#include "zoned/zoned.h"

/* ---- lookup ---- */

static int snap_index(struct zvd_dev *dev, const char *name)
{
	for (uint32_t i = 0; i < dev->nr_snaps; i++)
		if (!strcmp(dev->snaps[i]->name, name))
			return (int)i;
	return -1;
}

struct snap *snap_find(struct zvd_dev *dev, const char *name)
{
	int i = snap_index(dev, name);

	return i < 0 ? NULL : dev->snaps[i];
}

static int snap_index_by_id(struct zvd_dev *dev, uint32_t id)
{
	for (uint32_t i = 0; i < dev->nr_snaps; i++)
		if (dev->snaps[i]->id == id)
			return (int)i;
	return -1;
}

/* Zone @zi as snapshot number @idx sees it. */
const struct zview *snap_view(struct zvd_dev *dev, uint32_t idx, uint32_t zi)
{
	for (uint32_t j = idx; j < dev->nr_snaps; j++)
		if (dev->snaps[j]->saved && dev->snaps[j]->saved[zi])
			return dev->snaps[j]->saved[zi];
	return &dev->zones[zi].st;
}

static int name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (!n || n > ZVD_NAME_MAX || name[0] == '.' || name[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* ---- memory ---- */

static void snap_free(struct zvd_dev *dev, struct snap *s, int with_refs)
{
	for (uint32_t zi = 0; s->saved && zi < dev->nr_zones; zi++) {
		struct zview *v = s->saved[zi];
		if (!v)
			continue;
		if (with_refs) {
			zview_free(dev, v);
		} else {
			zview_free_raw(dev, v);
			free(v);
		}
	}
	for (uint32_t i = 0; i < s->nr_clones; i++)
		free(s->clones[i].path);
	free(s->clones);
	free(s->saved);
	free(s);
}

void snaps_free(struct zvd_dev *dev)
{
	for (uint32_t i = 0; i < dev->nr_snaps; i++)
		snap_free(dev, dev->snaps[i], 0);
	free(dev->snaps);
	dev->snaps = NULL;
	dev->nr_snaps = 0;
	free(dev->emitted);
}

static struct snap *snap_add(struct zvd_dev *dev, uint32_t id,
			     uint64_t created, const char *name, size_t len)
{
	struct snap **arr, *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	arr = realloc(dev->snaps, (dev->nr_snaps + 1) * sizeof(*arr));
	if (!arr) {
		free(s);
		return NULL;
	}
	dev->snaps = arr;
	s->id = id;
	s->created = created;
	memcpy(s->name, name, ZVD_MIN(len, (size_t)ZVD_NAME_MAX));
	dev->snaps[dev->nr_snaps++] = s;
	dev->next_snap_id = ZVD_MAX(dev->next_snap_id, id + 1);
	return s;
}

static void snap_remove(struct zvd_dev *dev, uint32_t idx)
{
	memmove(dev->snaps + idx, dev->snaps + idx + 1,
		(dev->nr_snaps - idx - 1) * sizeof(*dev->snaps));
	dev->nr_snaps--;
}

static int clone_add(struct snap *s, const uint8_t *uuid, const char *path,
		     size_t len)
{
	struct clone_ref *c = realloc(s->clones,
				      (s->nr_clones + 1) * sizeof(*c));

	if (!c)
		return -ENOMEM;
	s->clones = c;
	c = &s->clones[s->nr_clones];
	memcpy(c->uuid, uuid, 16);
	c->path = strndup(path, len);
	if (!c->path)
		return -ENOMEM;
	s->nr_clones++;
	return 0;
}

static void clone_remove(struct snap *s, const uint8_t *uuid)
{
	for (uint32_t i = 0; i < s->nr_clones; i++) {
		if (memcmp(s->clones[i].uuid, uuid, 16))
			continue;
		free(s->clones[i].path);
		s->clones[i] = s->clones[--s->nr_clones];
		return;
	}
}

/* ---- records ---- */

static int encode_create(struct snap *s, struct img_recs *recs)
{
	size_t n = strlen(s->name);
	uint8_t *p = img_recs_add(recs, 18 + n);

	if (!p)
		return -ENOMEM;
	memset(p, 0, 18);
	p[0] = REC_SNAP_CREATE;
	put_le32(p + 4, s->id);
	put_le64(p + 8, s->created);
	put_le16(p + 16, (uint16_t)n);
	memcpy(p + 18, s->name, n);
	return 0;
}

static int encode_id(uint8_t type, uint32_t id, struct img_recs *recs)
{
	uint8_t *p = img_recs_add(recs, 8);

	if (!p)
		return -ENOMEM;
	memset(p, 0, 8);
	p[0] = type;
	put_le32(p + 4, id);
	return 0;
}

int snap_encode_clone(uint8_t type, uint32_t snap_id, const uint8_t *uuid,
		      const char *path, struct img_recs *recs)
{
	size_t n = path ? strlen(path) : 0;
	uint8_t *p = img_recs_add(recs, 26 + n);

	if (!p)
		return -ENOMEM;
	memset(p, 0, 26);
	p[0] = type;
	put_le32(p + 4, snap_id);
	memcpy(p + 8, uuid, 16);
	put_le16(p + 24, (uint16_t)n);
	if (n)
		memcpy(p + 26, path, n);
	return 0;
}

static int emit(struct zvd_dev *dev, struct snap *s, uint32_t zi,
		struct img_recs *recs)
{
	struct zview *v = s->saved[zi];

	if (dev->nr_emitted == dev->cap_emitted) {
		uint32_t n = dev->cap_emitted ? dev->cap_emitted * 2 : 64;
		struct zview **p = realloc(dev->emitted, n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		dev->emitted = p;
		dev->cap_emitted = n;
	}
	dev->emitted[dev->nr_emitted++] = v;
	return zview_encode(dev, REC_SNAP_ZONE, s->id, zi, v, recs);
}

int snap_encode_all(struct zvd_dev *dev, struct img_recs *recs)
{
	int err = 0;

	dev->nr_emitted = 0;
	for (uint32_t i = 0; i < dev->nr_snaps && !err; i++) {
		struct snap *s = dev->snaps[i];

		err = encode_create(s, recs);
		for (uint32_t c = 0; c < s->nr_clones && !err; c++)
			err = snap_encode_clone(REC_CLONE_REF, s->id,
						s->clones[c].uuid,
						s->clones[c].path, recs);
	}
	for (uint32_t i = 0; i < dev->nr_snaps && !err; i++)
		for (uint32_t zi = 0; dev->snaps[i]->saved && zi < dev->nr_zones &&
				      !err; zi++)
			if (dev->snaps[i]->saved[zi])
				err = emit(dev, dev->snaps[i], zi, recs);
	return err;
}

/* Record the snapshot copies of zone @zi not yet in the journal. */
int snap_emit_dirty(struct zvd_dev *dev, uint32_t zi, struct img_recs *recs)
{
	int err = 0;

	for (uint32_t i = 0; i < dev->nr_snaps && !err; i++) {
		struct snap *s = dev->snaps[i];
		if (s->saved && s->saved[zi] && !s->saved[zi]->persisted)
			err = emit(dev, s, zi, recs);
	}
	return err;
}

/* After a durable commit: what it recorded is in the journal. */
void snap_mark_persisted(struct zvd_dev *dev, int ok)
{
	for (uint32_t i = 0; ok && i < dev->nr_emitted; i++)
		dev->emitted[i]->persisted = 1;
	dev->nr_emitted = 0;
}

/* Replay a snapshot record. */
int snap_replay(struct zvd_dev *dev, const uint8_t *p, size_t len,
		const char **why)
{
	struct zview v, *nv;
	uint32_t zi, id;
	int i, err;

	*why = "snapshot record is malformed";
	if (len < 8)
		return -EUCLEAN;
	id = get_le32(p + 4);
	i = snap_index_by_id(dev, id);
	switch (p[0]) {
	case REC_SNAP_CREATE:
		if (len < 18 || len != 18 + (size_t)get_le16(p + 16) || i >= 0 ||
		    id < dev->next_snap_id)
			return -EUCLEAN;
		return snap_add(dev, id, get_le64(p + 8), (const char *)p + 18,
				get_le16(p + 16)) ? 0 : -ENOMEM;
	case REC_SNAP_DELETE:
		if (i < 0)
			return -EUCLEAN;
		snap_free(dev, dev->snaps[i], 0);
		snap_remove(dev, (uint32_t)i);
		return 0;
	case REC_CLONE_REF:
		if (i < 0 || len < 26 || len != 26 + (size_t)get_le16(p + 24))
			return -EUCLEAN;
		return clone_add(dev->snaps[i], p + 8, (const char *)p + 26,
				 get_le16(p + 24));
	case REC_CLONE_UNREF:
		if (i < 0 || len < 24)
			return -EUCLEAN;
		clone_remove(dev->snaps[i], p + 8);
		return 0;
	case REC_SNAP_ZONE:
		err = zview_decode(dev, p, len, &zi, &id, &v, why);
		if (err)
			return err;
		i = snap_index_by_id(dev, id);
		nv = i < 0 ? NULL : malloc(sizeof(*nv));
		if (!nv) {
			zview_free_raw(dev, &v);
			*why = "snapshot copy of a zone names no snapshot";
			return i < 0 ? -EUCLEAN : -ENOMEM;
		}
		*nv = v;
		if (!dev->snaps[i]->saved)
			dev->snaps[i]->saved = calloc(dev->nr_zones,
						      sizeof(struct zview *));
		if (!dev->snaps[i]->saved) {
			zview_free_raw(dev, nv);
			free(nv);
			return -ENOMEM;
		}
		if (dev->snaps[i]->saved[zi]) {
			zview_free_raw(dev, dev->snaps[i]->saved[zi]);
			free(dev->snaps[i]->saved[zi]);
		}
		dev->snaps[i]->saved[zi] = nv;
		return 0;
	}
	return -EUCLEAN;
}

/* After replay: which zones the newest snapshot already holds. */
void snaps_after_load(struct zvd_dev *dev)
{
	struct snap *s = dev->nr_snaps ? dev->snaps[dev->nr_snaps - 1] : NULL;

	for (uint32_t zi = 0; zi < dev->nr_zones; zi++)
		dev->zones[zi].saved_upto =
			s && s->saved && s->saved[zi] ? s->id : 0;
}

int snaps_ref_chunks(struct zvd_dev *dev, uint32_t *bad_zone)
{
	for (uint32_t i = 0; i < dev->nr_snaps; i++) {
		struct snap *s = dev->snaps[i];
		for (uint32_t zi = 0; s->saved && zi < dev->nr_zones; zi++) {
			if (s->saved[zi] && zview_ref_chunks(dev, s->saved[zi])) {
				*bad_zone = zi;
				return -EUCLEAN;
			}
		}
	}
	return 0;
}

/* Record (a->add) or forget a clone of snapshot a->snap_id. */
int snap_clone_apply(struct zvd_dev *dev, struct img_recs *recs, void *arg)
{
	struct clone_args *a = arg;
	int i = snap_index_by_id(dev, a->snap_id);
	int err;

	if (i < 0)
		return -ENOENT;
	if (!a->add)
		clone_remove(dev->snaps[i], a->uuid);
	else if ((err = clone_add(dev->snaps[i], a->uuid, a->path,
				  strlen(a->path))))
		return err;
	return snap_encode_clone(a->add ? REC_CLONE_REF : REC_CLONE_UNREF,
				 a->snap_id, a->uuid, a->add ? a->path : NULL,
				 recs);
}

/* ---- create ---- */

static int create_apply(struct zvd_dev *dev, struct img_recs *recs, void *arg)
{
	const char *name = arg;
	struct snap *s;

	if (snap_find(dev, name))
		return dev_fail_msg(dev, -EEXIST,
				    "a snapshot named '%s' exists already", name);
	s = snap_add(dev, dev->next_snap_id, (uint64_t)time(NULL), name,
		     strlen(name));
	if (!s)
		return -ENOMEM;
	return encode_create(s, recs);
}

static int check_name(struct zvd_dev *dev, const char *name)
{
	if (!name_valid(name))
		return dev_fail_msg(dev, -EINVAL,
				    "'%s' is not a valid snapshot name (1 to %d characters of A-Z a-z 0-9 . _ -, not starting with . or -)",
				    name ? name : "", ZVD_NAME_MAX);
	if (dev->readonly)
		return dev_fail_msg(dev, -EROFS, "the image is open read-only");
	return 0;
}

int zvd_snapshot_create(struct zvd_dev *dev, const char *name)
{
	struct flush_op op = { .apply = create_apply, .arg = (void *)name };
	int err = check_name(dev, name);

	if (!err && dev->vol)
		return vol_snapshot_create(dev, name);
	return err ? err : dev_flush_op(dev, &op);
}

/* ---- delete ---- */

struct delete_args {
	const char *name;
	uint8_t (*stale)[16]; /* clones found gone, to forget */
	uint32_t nr_stale;
};

/* Hand snapshot @idx's zone copies to the next older snapshot where that
 * one reads through it; drop the rest. */
static void hand_down(struct zvd_dev *dev, uint32_t idx)
{
	struct snap *s = dev->snaps[idx];
	struct snap *older = idx ? dev->snaps[idx - 1] : NULL;
	int newest = idx == dev->nr_snaps - 1;

	for (uint32_t zi = 0; s->saved && zi < dev->nr_zones; zi++) {
		struct zview *v = s->saved[zi];

		if (!v)
			continue;
		s->saved[zi] = NULL;
		if (older && !older->saved)
			older->saved = calloc(dev->nr_zones, sizeof(*older->saved));
		if (older && older->saved && !older->saved[zi]) {
			older->saved[zi] = v;
			v->persisted = 0;
			mark_dirty(dev, zi);
		} else {
			zview_free(dev, v);
		}
		if (newest && dev->zones[zi].saved_upto == s->id)
			dev->zones[zi].saved_upto = older ? older->id : 0;
	}
}

static int delete_apply(struct zvd_dev *dev, struct img_recs *recs, void *arg)
{
	struct delete_args *a = arg;
	int i = snap_index(dev, a->name);
	struct snap *s;
	char list[400] = "";
	int err = 0;

	if (i < 0)
		return dev_fail_msg(dev, -ENOENT, "no snapshot named '%s'",
				    a->name);
	s = dev->snaps[i];
	for (uint32_t k = 0; k < a->nr_stale && !err; k++) {
		clone_remove(s, a->stale[k]);
		err = snap_encode_clone(REC_CLONE_UNREF, s->id, a->stale[k],
					NULL, recs);
	}
	if (err)
		return err;
	if (s->nr_clones) {
		for (uint32_t c = 0; c < s->nr_clones; c++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list),
				 "%s%s", c ? ", " : "", s->clones[c].path);
		return dev_fail_msg(dev, -EBUSY,
				    "snapshot '%s' has %u clone%s depending on it: %s (delete or flatten them first)",
				    a->name, s->nr_clones,
				    s->nr_clones == 1 ? "" : "s", list);
	}
	hand_down(dev, (uint32_t)i);
	err = encode_id(REC_SNAP_DELETE, s->id, recs);
	snap_remove(dev, (uint32_t)i);
	snap_free(dev, s, 1);
	return err;
}

int zvd_snapshot_delete(struct zvd_dev *dev, const char *name)
{
	struct delete_args a = { .name = name };
	struct flush_op op = { .apply = delete_apply, .arg = &a };
	int err = check_name(dev, name);

	if (err)
		return err;
	if (dev->vol)
		return vol_snapshot_delete(dev, name);
	if (snap_views(dev, name, 0, NULL) > 0)
		return dev_fail_msg(dev, -EBUSY, "snapshot '%s' is open as a "
				    "view (served)", name);
	err = clones_find_stale(dev, name, &a.stale, &a.nr_stale);
	if (!err)
		err = dev_flush_op(dev, &op);
	free(a.stale);
	return err;
}

/* ---- list ---- */

/* Bytes of chunks that only @s's copies map. Caller excludes changes. */
static uint64_t exclusive_bytes(struct zvd_dev *dev, struct snap *s)
{
	uint64_t n = 0;

	for (uint32_t zi = 0; s->saved && zi < dev->nr_zones; zi++) {
		struct zview *v = s->saved[zi];
		for (uint32_t k = 0; v && v->map && k < dev->slots; k++) {
			if (v->map[k] && img_refcount(dev->img, v->map[k]) == 1)
				n++;
			if (v->cow && v->cow[k] &&
			    img_refcount(dev->img, v->cow[k]->base) == 1)
				n++;
		}
	}
	return n << dev->chunk_shift;
}

int zvd_snapshot_list(struct zvd_dev *dev, struct zvd_snapshot_info *out,
		      uint32_t max)
{
	if (dev->vol)
		return vol_snapshot_list(dev, out, max);
	uint32_t n;

	if (max && !out)
		return -EINVAL;
	pthread_rwlock_wrlock(&dev->state_lock);
	n = dev->nr_snaps;
	for (uint32_t i = 0; i < n && i < max; i++) {
		struct snap *s = dev->snaps[i];

		memset(&out[i], 0, sizeof(out[i]));
		out[i].id = s->id;
		out[i].created = s->created;
		out[i].nr_clones = s->nr_clones;
		out[i].exclusive_bytes = exclusive_bytes(dev, s);
		memcpy(out[i].name, s->name, sizeof(out[i].name));
	}
	pthread_rwlock_unlock(&dev->state_lock);
	return (int)n;
}

/* ---- rollback ---- */

static int rollback_apply(struct zvd_dev *dev, struct img_recs *recs,
			  void *arg)
{
	int idx = snap_index(dev, arg);
	int err = 0;

	if (idx < 0)
		return dev_fail_msg(dev, -ENOENT, "no snapshot named '%s'",
				    (const char *)arg);
	for (uint32_t zi = 0; zi < dev->nr_zones && !err; zi++) {
		const struct zview *v = snap_view(dev, (uint32_t)idx, zi);
		struct zone *z = &dev->zones[zi];

		if (v == &z->st)
			continue; /* unchanged since the snapshot */
		pthread_rwlock_wrlock(&z->lock);
		err = zone_preserve(dev, zi);
		/* zone_preserve may have put the live state in the same
		 * snapshot: look again */
		v = snap_view(dev, (uint32_t)idx, zi);
		if (!err && v != &z->st)
			err = zview_replace(dev, &z->st, v);
		z->st.persisted = 0;
		mark_dirty(dev, zi);
		pthread_rwlock_unlock(&z->lock);
	}
	if (!err)
		err = dev_rebuild_resources(dev);
	return err;
}

int zvd_rollback(struct zvd_dev *dev, const char *name)
{
	struct flush_op op = { .apply = rollback_apply, .arg = (void *)name };
	int err = check_name(dev, name);

	if (!err && dev->vol)
		return vol_rollback(dev, name);
	return err ? err : dev_flush_op(dev, &op);
}

/* ---- views ---- */

/*
 * Turn an opened, read-only device into a view of its snapshot @name (with
 * id @want_id unless 0). -ENOENT if there is no such snapshot.
 */
int dev_apply_snapshot(struct zvd_dev *dev, const char *name,
		       uint32_t want_id)
{
	int idx = name ? snap_index(dev, name) : -1;
	int err = 0;

	if (dev->vol)
		return vol_select_snapshot(dev, name);
	if (idx < 0 || (want_id && dev->snaps[idx]->id != want_id))
		return -ENOENT;
	for (uint32_t zi = 0; zi < dev->nr_zones && !err; zi++) {
		const struct zview *v = snap_view(dev, (uint32_t)idx, zi);
		if (v != &dev->zones[zi].st)
			err = zview_replace(dev, &dev->zones[zi].st, v);
	}
	return err ? err : dev_rebuild_resources(dev);
}

/*
 * The views of snapshot @name (@id when @name is NULL): add @delta, store
 * its id in *id (if not NULL) and return how many views it has now, or
 * -ENOENT.
 */
int snap_views(struct zvd_dev *dev, const char *name, int delta,
	       uint32_t *id)
{
	int n = -ENOENT;

	pthread_mutex_lock(&dev->snap_lock);
	for (uint32_t i = 0; i < dev->nr_snaps; i++) {
		struct snap *s = dev->snaps[i];

		if (name ? strcmp(s->name, name) : s->id != *id)
			continue;
		s->views += (uint32_t)delta;
		if (id)
			*id = s->id;
		n = (int)s->views;
		break;
	}
	pthread_mutex_unlock(&dev->snap_lock);
	return n;
}

int zvd_open_snapshot_of(struct zvd_dev *dev, const char *name,
			 struct zvd_dev **out)
{
	struct zvd_backend *be;
	uint32_t id = 0;
	int err;

	if (!name || !name_valid(name))
		return dev_fail_msg(dev, -EINVAL, "'%s' is not a valid snapshot "
				    "name", name ? name : "");
	if (!dev->be->path)
		return dev_fail_msg(dev, -EOPNOTSUPP,
				    "a view needs an image in a file");
	/* counted first, so the snapshot cannot go while the view opens */
	err = dev->vol ? vol_snapshot_view(dev, name, 1, &id)
		       : snap_views(dev, name, 1, &id);
	if (err < 0)
		return dev_fail_msg(dev, -ENOENT, "no snapshot '%s'", name);
	/* the image is locked by @dev; the snapshot never changes, so the
	 * view reads the image without a lock of its own */
	err = be_open_view(dev->be, &be);
	if (!err) {
		err = zvd_open_snapshot(be, name, out);
		if (err)
			zvd_backend_close(be);
	}
	if (err) {
		if (dev->vol)
			vol_snapshot_view(dev, NULL, -1, &id);
		else
			snap_views(dev, NULL, -1, &id);
		return err;
	}
	(*out)->view_of = dev;
	(*out)->view_snap = id;
	return 0;
}

int zvd_open_snapshot(struct zvd_backend *be, const char *name,
		      struct zvd_dev **out)
{
	struct zvd_dev *dev;
	int err = zvd_open(be, ZVD_OPEN_READONLY, &dev);

	if (err)
		return err;
	err = dev->vol ? vol_select_snapshot(dev, name)
		       : dev_apply_snapshot(dev, name, 0);
	if (err) {
		dev_free(dev); /* the caller keeps @be */
		return err;
	}
	*out = dev;
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * zvd.h - the public interface of libzvd, a persistent zoned-device engine.
 *
 * Sections:
 *   1. errors and zone statuses
 *   2. backends (where bytes live: file, mem, crash)
 *   3. geometry and zone descriptors
 *   4. devices: create, open, close
 *   5. the data path: read, write, append, flush
 *   6. zone management and report
 *   7. fault injection and checking
 *   8. snapshots, clones, backing images
 *
 * Conventions:
 *   - every function returns 0 (or a count) on success and a negative errno
 *     on failure; the library never sets errno and never prints;
 *   - positions and lengths are in bytes;
 *   - every handle has a matching release function that accepts NULL;
 *   - the caller owns every buffer it passes in; the library keeps no
 *     pointer to it after the call returns.
 */
#ifndef ZVD_H
#define ZVD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- 1. errors and zone statuses ------------------------------------- */

/*
 * The precise reason a request was refused. A refused request changes
 * nothing. The negative errno a call returns is the one the Linux block
 * layer would report for the same NVMe status (see zvd_status_errno()).
 */
enum zvd_status {
	ZVD_OK = 0,
	ZVD_INVALID_FIELD,	/* bad range, alignment, zone or argument: -EINVAL */
	ZVD_INVALID_WRITE,	/* write not at the write pointer: -EIO */
	ZVD_ZONE_FULL,		/* zone is full: -EIO */
	ZVD_BOUNDARY,		/* crosses the zone capacity or a zone: -EIO */
	ZVD_TOO_MANY_OPEN,	/* open limit reached: -ETOOMANYREFS */
	ZVD_TOO_MANY_ACTIVE,	/* active limit reached: -EOVERFLOW */
	ZVD_READ_ONLY,		/* zone is read-only: -EIO */
	ZVD_OFFLINE,		/* zone is offline: -EIO */
	ZVD_INVALID_TRANSITION, /* operation not allowed in this condition: -EIO */
	ZVD_IO_ERROR,		/* the backend failed; the errno says how */
	ZVD_STATUS_COUNT
};

/* Short stable name of a status ("zone-full", ...); never NULL. */
const char *zvd_status_name(enum zvd_status st);

/* The negative errno that goes with a zone status (ZVD_OK gives 0). */
int zvd_status_errno(enum zvd_status st);

/* Details of the most recent failure on a device handle. */
struct zvd_error {
	enum zvd_status status;
	int err;	   /* the negative errno the call returned */
	uint32_t zone;	   /* zone concerned, or UINT32_MAX */
	uint32_t reserved0;
	uint64_t offset;   /* byte offset of the request */
	uint64_t length;   /* byte length of the request */
	uint64_t wp;	   /* zone's write pointer at the time, if relevant */
	uint64_t limit;	   /* the limit that was hit (capacity, max open, ...) */
	uint64_t reserved[4];
};

/* ---- 2. backends ------------------------------------------------------- */

/*
 * A backend is where an image's bytes live. It is an opaque handle with a
 * table of operations (read, write, flush, discard, size); the crash
 * backend wraps another one to simulate power cuts.
 */
struct zvd_backend;

enum zvd_file_flags {
	ZVD_FILE_CREATE = 1 << 0,   /* create the file; fail if it exists */
	ZVD_FILE_READONLY = 1 << 1, /* open read-only with a shared lock */
};

/*
 * Open (or create) an ordinary file as a backend. The file is locked
 * (exclusive unless ZVD_FILE_READONLY): a second writer gets -EBUSY.
 * On success *out owns the file descriptor.
 */
int zvd_backend_file_open(const char *path, unsigned flags,
			  struct zvd_backend **out);

/*
 * Open (or create) the image named @path: "rados://POOL/NAME" opens a
 * RADOS image with the options last given to zvd_rados_set_defaults,
 * anything else is a file (zvd_backend_file_open). Flags as for files.
 */
int zvd_backend_open(const char *path, unsigned flags,
		     struct zvd_backend **out);

/* Delete the image named @path (a file, or a RADOS image's objects).
 * Nothing checks that nothing depends on it: see zvd_delete_image. */
int zvd_backend_remove(const char *path);

/* 1 if an image (a file, or a RADOS image) named @path exists, 0 if not,
 * or -errno when that cannot be told (the cluster is unreachable). */
int zvd_backend_exists(const char *path);

/* Is @path a "rados://" image name? */
int zvd_is_rados(const char *path);

/*
 * RADOS images. The image's bytes are objects NAME.<16 hex digits> of
 * ZVD_RADOS_OBJECT bytes each in POOL; NAME.0000000000000000 also carries
 * the image's lock and attributes. Writes go first to a write-back log
 * (a file on local disk, or memory) and are uploaded in the background,
 * in order, flush by flush, so the cluster always holds a state some
 * flush left plus part of the next: what a power cut leaves. The cluster
 * is found through CEPH_CONF (else /etc/ceph/ceph.conf) and CEPH_ARGS.
 */
#define ZVD_RADOS_OBJECT (1u << 20)

struct zvd_rados_options {
	/* The local write-back log: a file (created when missing) or a
	 * backend the caller owns (tests: crash over mem). Neither: the log
	 * is kept in memory and a flush waits for the cluster. */
	const char *cache;
	struct zvd_backend *cache_be;
	uint64_t cache_size;	/* log bytes; 0: 1 GiB (256 MiB in memory) */
	int durable_remote;	/* a flush waits for the cluster too */
	uint64_t read_cache;	/* bytes of blocks read from the cluster
				 * kept in memory; 0: 64 MiB */
};

/* Open (flags as for files; BE_FILE_NOLOCK too) the image at @uri. */
int zvd_backend_rados_open(const char *uri, unsigned flags,
			   const struct zvd_rados_options *o,
			   struct zvd_backend **out);

/* The options zvd_backend_open uses for writable RADOS images. The
 * strings are not copied. NULL: none. */
void zvd_rados_set_defaults(const struct zvd_rados_options *o);

struct zvd_rados_status {
	uint64_t pending_bytes;	  /* logged, not yet in the cluster */
	uint64_t uploaded_bytes;  /* uploaded since open */
	uint64_t batches;	  /* upload batches since open */
	uint64_t object_ops;	  /* object writes, zeroes and removes issued */
	uint64_t replayed_bytes;  /* found in the local log at open */
	uint64_t flushes_uploaded; /* flush points the cluster has reached */
	int64_t confirmed_time;	  /* unix time the cluster last confirmed an
				   * upload (any writer), 0: never */
	uint64_t confirmed_flushes; /* that writer's flush count then */
	int dirty;		  /* a writer's log may hold writes the
				   * cluster lacks (it is open, or died) */
	int lost_log;		  /* at this open: a log that held writes
				   * the cluster lacks was not found; the
				   * image is as far as the cluster got */
	int upload_error;	  /* the last upload failed (it is retried) */
	uint64_t cache_hits, cache_misses; /* the read cache's */
	char log_id[33];	  /* this writer's local log, hex */
	char holder[128];	  /* who holds the lock, if known */
};

/* The state of a RADOS backend; -EINVAL for another kind. */
int zvd_rados_status(struct zvd_backend *be, struct zvd_rados_status *st);

/* Why the last zvd_backend_open or zvd_backend_rados_open of a RADOS
 * image in this thread failed, in words (NULL: no more to say). */
const char *zvd_rados_why(void);

/* Break the lock on @uri whoever holds it, blocklisting the holder first
 * so a live one cannot write any more. @who (may be NULL) receives the
 * holder broken; -ENOENT when nobody held it. */
int zvd_rados_break_lock(const char *uri, char *who, size_t who_len);

/* For tests: the process "dies" now: uploads stop where they are, the
 * lock is dropped, nothing more reaches the log or the cluster; every
 * later operation fails with -EIO. */
int zvd_rados_abandon(struct zvd_backend *be);

/* A sparse in-memory backend; its memory grows with what is written. */
int zvd_backend_mem_create(struct zvd_backend **out);

/*
 * A crash-simulating backend over @inner (which it does not own): writes
 * and discards are held in memory until flush, reads see them. At a power
 * cut each held write is kept, dropped or torn (a random subset of its
 * 512-byte sectors reaches @inner). @seed makes the choices repeatable.
 */
int zvd_backend_crash_create(struct zvd_backend *inner, uint64_t seed,
			     struct zvd_backend **out);

/* Cut the power now: settle every held write as above. After the cut every
 * operation fails with -EIO; close the backend and reopen @inner. */
int zvd_crash_cut(struct zvd_backend *crash);

/* Cut the power automatically just before the @n-th next write, discard or
 * flush (n = 1: before the very next one). 0 disarms. */
int zvd_crash_arm(struct zvd_backend *crash, uint64_t n);

/* Non-zero once the power has been cut. */
int zvd_crash_is_cut(const struct zvd_backend *crash);

/*
 * Inject a failure: the @n-th next write (n >= 1) of @be fails with @err
 * (a negative errno), and so does every write after it while @sticky is
 * non-zero. n = 0 clears the fault. Works on every backend.
 */
int zvd_backend_inject_write_error(struct zvd_backend *be, uint64_t n,
				   int err, int sticky);

/* Release a backend; accepts NULL. */
void zvd_backend_close(struct zvd_backend *be);

/* ---- 3. geometry and zone descriptors --------------------------------- */

enum zvd_zone_type {
	ZVD_ZONE_CONVENTIONAL = 1,
	ZVD_ZONE_SEQUENTIAL = 2,
};

enum zvd_zone_cond {
	ZVD_COND_NOT_WP = 0, /* conventional zones */
	ZVD_COND_EMPTY,
	ZVD_COND_IMP_OPEN,
	ZVD_COND_EXP_OPEN,
	ZVD_COND_CLOSED,
	ZVD_COND_FULL,
	ZVD_COND_READ_ONLY,
	ZVD_COND_OFFLINE,
	ZVD_COND_COUNT
};

/* "empty", "implicit-open", ...; "not-write-pointer" for conventional. */
const char *zvd_cond_name(enum zvd_zone_cond cond);

/*
 * The shape of a device. zone_size need not be a power of two; the device
 * size is a whole number of zones. Limits of 0 mean "no limit".
 */
struct zvd_geometry {
	uint64_t size;		  /* bytes, a multiple of zone_size */
	uint64_t zone_size;	  /* bytes, a multiple of block_size */
	uint64_t zone_capacity;	  /* bytes, <= zone_size, multiple of block */
	uint32_t block_size;	  /* 512 or 4096 */
	uint32_t nr_conv_zones;	  /* conventional zones at the start */
	uint32_t max_open;	  /* open zone limit, 0 = none */
	uint32_t max_active;	  /* active zone limit, 0 = none */
	uint32_t max_append;	  /* zone-append size limit in bytes, 0 = none */
	uint32_t profile;	  /* enum zvd_profile: whose behaviour to copy */
	uint64_t reserved[6];
};

/*
 * Zone-model profiles: which reference device the model copies exactly
 * where references disagree (docs/PROFILES.md lists every difference).
 */
enum zvd_profile {
	ZVD_PROFILE_ZNS = 0,	  /* NVMe ZNS; QEMU's device where the spec
				   * leaves a choice */
	ZVD_PROFILE_NULL_BLK = 1, /* Linux 6.12 null_blk, quirks included */
	ZVD_PROFILE_COUNT
};

/* "zns", "null_blk"; NULL for an unknown profile. */
const char *zvd_profile_name(uint32_t profile);

/* The profile named @name, or -EINVAL. */
int zvd_profile_parse(const char *name);

/* Fill @g with the default geometry: 4 GiB, 128 MiB zones of 124 MiB
 * capacity, 4 KiB blocks, 12 open / 12 active, 1 MiB append limit. */
void zvd_geometry_default(struct zvd_geometry *g);

/*
 * Check a geometry. Returns 0, or -EINVAL with a static message in *why
 * (if why is not NULL) saying which rule it breaks.
 */
int zvd_geometry_validate(const struct zvd_geometry *g, const char **why);

/* Value reported as the write pointer where it is not valid
 * (read-only and offline zones). */
#define ZVD_WP_INVALID UINT64_MAX

/* One zone, as reported. */
struct zvd_zone {
	uint64_t start;	   /* bytes */
	uint64_t len;	   /* zone size */
	uint64_t capacity; /* writable bytes */
	uint64_t wp;	   /* write pointer: start+len when full, start+len for
			    * conventional zones, ZVD_WP_INVALID when read-only
			    * or offline */
	uint8_t type;	   /* enum zvd_zone_type */
	uint8_t cond;	   /* enum zvd_zone_cond */
	uint8_t reserved0[6];
	uint64_t written;  /* bytes of data the zone holds from its start */
	uint64_t writes;   /* counters since creation: write/append requests */
	uint64_t resets;
	uint64_t finishes;
	uint64_t reserved[3];
};

/* ---- 4. devices --------------------------------------------------------- */

struct zvd_dev;

enum zvd_open_flags {
	ZVD_OPEN_READONLY = 1 << 0, /* refuse every change */
};

/*
 * Create a new zoned image on @be (which must be empty) and open it.
 * The device takes ownership of @be on success (zvd_close releases it);
 * on failure the caller keeps it.
 */
int zvd_create(struct zvd_backend *be, const struct zvd_geometry *g,
	       struct zvd_dev **out);

/*
 * Open an existing image, recovering to the last durable state. Ownership
 * of @be as for zvd_create. Returns -EUCLEAN (with a reason readable
 * through zvd_last_error) for an image that is not valid.
 */
int zvd_open(struct zvd_backend *be, unsigned flags, struct zvd_dev **out);

/* Flush and release; accepts NULL. Returns the flush result. */
int zvd_close(struct zvd_dev *dev);

/* The device's geometry. */
void zvd_get_geometry(const struct zvd_dev *dev, struct zvd_geometry *g);

/* Change the zone-model profile of an image (durable before it returns).
 * Zone states are kept as they are. */
int zvd_set_profile(struct zvd_dev *dev, uint32_t profile);

/* Space: bytes of the backend in use for data and for metadata. */
struct zvd_space {
	uint64_t virtual_size;	 /* what the device presents */
	uint64_t data_bytes;	 /* allocated to zone data */
	uint64_t meta_bytes;	 /* allocated to superblocks and journal */
	uint64_t backend_bytes;	 /* the backend's high-water size */
	uint64_t chunk_size;	 /* allocation unit */
	uint32_t open_zones;
	uint32_t active_zones;
	uint64_t reserved[6];
};
int zvd_get_space(struct zvd_dev *dev, struct zvd_space *sp);

/* The most recent failure on @dev (status ZVD_OK if none). With several
 * threads, a later failure on another thread may replace it. */
void zvd_last_error(struct zvd_dev *dev, struct zvd_error *err);

/* Describe the most recent failure in words ("zone 3: not at the write
 * pointer (offset 8192, write pointer 4096)") into @buf of @len bytes. */
void zvd_last_error_text(struct zvd_dev *dev, char *buf, size_t len);

/* ---- 5. the data path --------------------------------------------------- */

/*
 * Read @len bytes at @off into @buf. Offsets and lengths are multiples of
 * the block size; a read may span zones. Blocks never written, or at or
 * beyond a zone's write pointer, read as zeros. Reading an offline zone
 * fails with ZVD_OFFLINE. Returns 0 or -errno.
 */
int zvd_read(struct zvd_dev *dev, void *buf, size_t len, uint64_t off);

/*
 * Write @len bytes from @buf at @off. In a sequential zone the write must
 * start at the write pointer and end within the zone capacity; in
 * conventional zones it may go anywhere (and span conventional zones).
 * Durable once zvd_flush() returns (or at once with ZVD_WRITE_FUA).
 */
enum zvd_write_flags {
	ZVD_WRITE_FUA = 1 << 0, /* durable before the call returns */
};
int zvd_write(struct zvd_dev *dev, const void *buf, size_t len, uint64_t off,
	      unsigned flags);

/*
 * Zone append: write @len bytes at zone @zone's write pointer and store the
 * byte offset where the data landed in *where. Concurrent appends to one
 * zone each get a distinct place, with no gaps between them.
 */
int zvd_append(struct zvd_dev *dev, uint32_t zone, const void *buf,
	       size_t len, unsigned flags, uint64_t *where);

/* Make everything written so far durable (group commit: concurrent callers
 * share one backend sync where they can). */
int zvd_flush(struct zvd_dev *dev);

/* ---- 6. zone management and report --------------------------------------- */

enum zvd_zone_op {
	ZVD_OP_OPEN = 1,
	ZVD_OP_CLOSE,
	ZVD_OP_FINISH,
	ZVD_OP_RESET,
};

/* Zone number of a byte offset (UINT32_MAX when beyond the device). */
uint32_t zvd_zone_of(const struct zvd_dev *dev, uint64_t off);

/* Number of zones. */
uint32_t zvd_nr_zones(const struct zvd_dev *dev);

/*
 * Apply a zone operation to zone @zone, or with @zone == ZVD_ALL_ZONES to
 * every zone it applies to (open: closed zones; close: open zones; finish:
 * open and closed zones; reset: open, closed and full zones). Durable before
 * it returns. An operation on all zones is all or nothing.
 */
#define ZVD_ALL_ZONES UINT32_MAX
int zvd_zone_mgmt(struct zvd_dev *dev, enum zvd_zone_op op, uint32_t zone);

/* Report filters (the ZNS reporting options). */
enum zvd_report_filter {
	ZVD_REPORT_ALL = 0,
	ZVD_REPORT_EMPTY,
	ZVD_REPORT_IMP_OPEN,
	ZVD_REPORT_EXP_OPEN,
	ZVD_REPORT_CLOSED,
	ZVD_REPORT_FULL,
	ZVD_REPORT_READ_ONLY,
	ZVD_REPORT_OFFLINE,
	ZVD_REPORT_NOT_WP,
};

/*
 * Describe up to @max zones, starting at zone @first, that match @filter,
 * into @zones (caller-owned, @max entries). Returns how many were stored.
 */
int zvd_report(struct zvd_dev *dev, uint32_t first,
	       enum zvd_report_filter filter, struct zvd_zone *zones,
	       uint32_t max);

/* ---- 7. fault injection and checking -------------------------------------- */

/*
 * Put a sequential zone read-only or offline, as a failing drive does.
 * Read-only keeps the data readable; offline makes it unreachable and frees
 * its space. A read-only zone can go offline; nothing comes back. Durable
 * before it returns.
 */
int zvd_zone_fail(struct zvd_dev *dev, uint32_t zone, enum zvd_zone_cond cond);

/*
 * Check an image without changing it. @report, if not NULL, is called once
 * per problem found with a one-line description. Returns the number of
 * problems (0 = clean) or -errno if the image could not be read at all.
 */
typedef void (*zvd_check_fn)(void *arg, const char *problem);
int zvd_check(struct zvd_backend *be, zvd_check_fn report, void *arg);

/* ---- 8. snapshots, clones, backing images -------------------------------- */

/*
 * A snapshot is a frozen, named view of a whole image: data and, for zoned
 * images, every zone's state (condition, write pointer, read-only/offline).
 * Taking one is O(1): nothing is copied; later changes preserve what the
 * snapshot sees. Names: 1 to ZVD_NAME_MAX characters of [A-Za-z0-9._-],
 * not starting with '.' or '-'. Every operation here is durable and atomic
 * before it returns (after a power cut it either happened or it did not).
 */
#define ZVD_NAME_MAX 64

struct zvd_snapshot_info {
	uint32_t id;		      /* creation order, never reused */
	uint32_t nr_clones;	      /* clones that depend on it */
	uint64_t created;	      /* seconds since the epoch */
	uint64_t exclusive_bytes;     /* space only this snapshot holds */
	char name[ZVD_NAME_MAX + 1];
	uint8_t reserved0[7];
	uint64_t reserved[4];
};

/* Take a snapshot of everything written so far (it flushes first).
 * -EEXIST if the name is taken, -EINVAL if it is not a valid name. */
int zvd_snapshot_create(struct zvd_dev *dev, const char *name);

/* Delete a snapshot; its space comes back. -ENOENT if there is none by that
 * name; -EBUSY if clones depend on it (zvd_last_error_text names them). */
int zvd_snapshot_delete(struct zvd_dev *dev, const char *name);

/* Describe up to @max snapshots, oldest first, into @out (caller-owned).
 * Returns how many snapshots exist (which may be more than @max). */
int zvd_snapshot_list(struct zvd_dev *dev, struct zvd_snapshot_info *out,
		      uint32_t max);

/* Make the image read exactly as the snapshot does (data and zone states).
 * The snapshot, and snapshots taken after it, are kept. */
int zvd_rollback(struct zvd_dev *dev, const char *name);

/* Open a read-only view of snapshot @name of the image on @be. Ownership of
 * @be as for zvd_open. */
int zvd_open_snapshot(struct zvd_backend *be, const char *name,
		      struct zvd_dev **out);

/*
 * Open a read-only view of snapshot @name of the image @dev has open (for
 * writing, typically: the view needs no lock of its own, since the
 * snapshot never changes). While the view is open the snapshot cannot be
 * deleted through @dev (-EBUSY). Close the view before @dev. The image
 * must be in a file (-EOPNOTSUPP otherwise).
 */
int zvd_open_snapshot_of(struct zvd_dev *dev, const char *name,
			 struct zvd_dev **out);

/*
 * Clone: create the image file @new_path as a writable image that reads as
 * snapshot @snapshot of the image at @origin_path, sharing its data (only
 * what the clone changes takes space). The origin records the clone, and
 * its snapshot cannot be deleted while the clone exists. The origin must
 * not be open for writing elsewhere (-EBUSY).
 */
int zvd_clone(const char *origin_path, const char *snapshot,
	      const char *new_path);

/*
 * Create the image file @new_path layered over the image at @base_path,
 * which becomes its read-only backing image: the new image reads as the
 * base does now, and only what it changes takes space. The base is opened
 * read-only (shared lock) whenever the new image is open.
 */
int zvd_create_backed(const char *base_path, const char *new_path);

/* Delete the image file at @path. A clone is first unregistered from its
 * origin (so the origin's snapshot can be deleted again). -EBUSY if the
 * image is open, or if clones of its snapshots exist. */
int zvd_delete_image(const char *path);

/* Progress of long operations: done out of total (bytes). */
typedef void (*zvd_progress_fn)(void *arg, uint64_t done, uint64_t total);

/*
 * Rebase: make @new_base_path the backing image without changing what the
 * image reads (data that differs between the old and new backing is copied
 * into the image first). @new_base_path NULL flattens: everything read from
 * backing images is copied in and the dependency removed (for a clone, the
 * origin's record of it is dropped). The device must be open read-write.
 */
int zvd_rebase(struct zvd_dev *dev, const char *new_base_path,
	       zvd_progress_fn progress, void *arg);

/* Where the image's data falls through to: the backing image's path (as
 * stored) into @path, the snapshot name (empty for a whole image) into
 * @snap. Returns 1 if there is a backing image, 0 if none. */
int zvd_get_backing(struct zvd_dev *dev, char *path, size_t path_len,
		    char *snap, size_t snap_len);

/*
 * Garbage collection: give back space no state references. Freed space is
 * returned as snapshots and zones are released; this also rewrites the
 * journal compactly and shrinks the backend's end if it is free.
 * Runs alongside I/O. Returns the bytes the backend shrank by.
 */
int64_t zvd_gc(struct zvd_dev *dev);


/* ---- 9. volumes ---------------------------------------------------------- */

/*
 * A volume is an ordinary random-write block device (no zones) kept as a
 * log: writes are appended to the image's newest segment and a map finds
 * live data; garbage collection rewrites the live blocks of mostly-dead
 * segments. zvd_read, zvd_write, zvd_flush, the snapshot, clone and
 * backing-image calls of section 8, zvd_check and zvd_get_space work on a
 * volume as on a zoned image; the zone calls report one conventional zone
 * and refuse changes (-EINVAL). Requests are multiples of 512 bytes.
 *
 * Crash consistency: after a power cut a volume reads as some prefix of
 * the writes (and discards) it acknowledged, including everything before
 * the last zvd_flush that returned.
 */
#define ZVD_VOLUME_SECTOR 512u
#define ZVD_VOLUME_BLOCK 4096u	/* unit of the map */

/* Create an empty volume of @size bytes (a multiple of 4096) on @be, which
 * must be empty, and open it. Ownership of @be as for zvd_create. */
int zvd_create_volume(struct zvd_backend *be, uint64_t size,
		      struct zvd_dev **out);

/* 1 for a volume, 0 for a zoned image. */
int zvd_is_volume(const struct zvd_dev *dev);

/* The backend @dev was opened on (for zvd_rados_status). */
struct zvd_backend *zvd_backend_of(struct zvd_dev *dev);

/* The size the device presents, in bytes (zoned or volume). */
uint64_t zvd_size(const struct zvd_dev *dev);

/* 1 if the handle refuses changes (opened read-only, or a snapshot). */
int zvd_is_readonly(const struct zvd_dev *dev);

/*
 * Discard (TRIM) @len bytes at @off: the range reads as zeros afterwards
 * and its space comes back once no snapshot holds it. Blocks only partly
 * covered keep their data. Durable as writes are. Volumes only
 * (-EOPNOTSUPP on zoned images).
 */
int zvd_discard(struct zvd_dev *dev, uint64_t off, uint64_t len,
		unsigned flags);

/* Write zeros to @len bytes at @off without storing them (whole blocks are
 * recorded as zero, partial blocks written). Volumes only. */
int zvd_write_zeroes(struct zvd_dev *dev, uint64_t off, uint64_t len,
		     unsigned flags);

/* One extent of a device's allocation map. */
enum zvd_extent_flags {
	ZVD_EXTENT_HOLE = 1 << 0, /* no space allocated (thin) */
	ZVD_EXTENT_ZERO = 1 << 1, /* reads as zeros */
};
struct zvd_extent {
	uint64_t off, len;
	uint32_t flags;
	uint32_t reserved;
};

/*
 * Describe [off, off+len) as up to @max consecutive extents into @out
 * (caller-owned), merging neighbours with equal flags. Returns the number
 * of extents written (>= 1 when len > 0); they cover the range from @off
 * on, possibly stopping short of off+len when @max is reached. Data read
 * through to a backing image is described as the backing image describes
 * it. A zoned image describes every block below a write pointer as data.
 */
int zvd_map(struct zvd_dev *dev, uint64_t off, uint64_t len,
	    struct zvd_extent *out, uint32_t max);

/* A volume's log and garbage collector. */
struct zvd_volume_stats {
	uint64_t user_bytes;	 /* written by clients, since creation */
	uint64_t gc_bytes;	 /* rewritten by garbage collection */
	uint64_t live_bytes;	 /* data blocks some map references */
	uint64_t segment_bytes;	 /* segment size */
	uint64_t segments;	 /* segments holding data */
	uint64_t gc_runs;	 /* segments reclaimed, since creation */
	uint64_t checkpoints;	 /* in this session */
	uint64_t reserved[8];
};

/* Write amplification is (user_bytes + gc_bytes) / user_bytes. */
int zvd_volume_stats(struct zvd_dev *dev, struct zvd_volume_stats *st);

#ifdef __cplusplus
}
#endif
#endif /* ZVD_H */

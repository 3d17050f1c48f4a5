/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what the files of the zvd command share.
 *
 *   cli_args.c  option parsing and size / number parsing
 *   cli_json.c  a tiny JSON printer
 *   cli_dev.c   opening images, reporting library errors, zone look-ups
 *   cli_help.c  the help text of every command (kept in step with
 *               docs/zvd.1.md)
 *   cmd_*.c     one file per group of commands
 *   zvd.c       main: dispatch to a command
 *
 * The command is a thin layer over <zvd.h>: it parses, calls the library
 * and prints. Every rule about zones lives in the library.
 */
#ifndef ZVD_CLI_H
#define ZVD_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <zvd.h>

#define ZVD_CLI_VERSION "0.1.0"

/* Exit codes: the device (or the system) refused, or the command line is
 * wrong. Success is 0. */
#define CLI_EXIT_REFUSED 1
#define CLI_EXIT_USAGE 2

/* Size of the pieces large inputs and outputs are moved in. */
#define CLI_PIECE (1u << 20)

/* Zones asked of zvd_report() at a time. */
#define CLI_REPORT_BATCH 1024u

/* ---- cli_args.c -------------------------------------------------------- */

#define CLI_MAX_OPTS 16
#define CLI_MAX_POS 4

/* One option a command accepts: "--name" or "--name VALUE". */
struct cli_opt {
	const char *name;
	bool has_arg;
};

/* A parsed command line. val[i] is the value of opts[i] ("" for a flag
 * that was given), or NULL when it was not given. */
struct cli_args {
	const char *cmd;
	int npos;
	const char *pos[CLI_MAX_POS];
	const char *val[CLI_MAX_OPTS];
};

/*
 * Parse argv[1..argc-1] (argv[0] is the command name) against @opts (a
 * table ended by a NULL name), expecting @min_pos to @max_pos positional
 * arguments. Returns 0 when parsed, 1 when --help was given (help has
 * been printed), or -1 after printing a usage error.
 */
int cli_parse(int argc, char **argv, const struct cli_opt *opts,
	      int min_pos, int max_pos, struct cli_args *a);

/* Print "zvd CMD: message" and a hint to stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Print "zvd CMD: message" to stderr; returns CLI_EXIT_REFUSED. */
int cli_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Parse a byte size: decimal digits with an optional binary suffix
 * (K, M, G, T or KiB, MiB, GiB, TiB). Returns 0, or -1 with a reason in
 * *why.
 */
int cli_parse_size(const char *s, uint64_t *out, const char **why);

/* Parse a plain decimal number that fits in 32 bits. */
int cli_parse_u32(const char *s, uint32_t *out, const char **why);

/* The same, printing a usage error that names @what on failure: they
 * return 0 or CLI_EXIT_USAGE. */
int cli_arg_size(const char *cmd, const char *what, const char *s,
		 uint64_t *out);
int cli_arg_u32(const char *cmd, const char *what, const char *s,
		uint32_t *out);

/* "128 MiB", "4 KiB", or "5000 B" (exact binary units only). */
const char *cli_fmt_size(uint64_t v, char *buf, size_t len);

/* ---- cli_json.c -------------------------------------------------------- */

struct cli_json {
	FILE *f;
	int depth;
	bool need_comma;
};

void cli_json_init(struct cli_json *j, FILE *f);
void cli_json_obj_begin(struct cli_json *j, const char *key);
void cli_json_obj_end(struct cli_json *j);
void cli_json_arr_begin(struct cli_json *j, const char *key);
void cli_json_arr_end(struct cli_json *j);
void cli_json_u64(struct cli_json *j, const char *key, uint64_t v);
void cli_json_str(struct cli_json *j, const char *key, const char *s);
void cli_json_double(struct cli_json *j, const char *key, double v);
void cli_json_bool(struct cli_json *j, const char *key, bool v);
void cli_json_null(struct cli_json *j, const char *key);
/* End the document with a newline. */
void cli_json_done(struct cli_json *j);

/* ---- cli_dev.c --------------------------------------------------------- */

/*
 * Open the image at @path, read-only (shared lock) or read-write
 * (exclusive lock). Returns 0 or an exit code after printing why.
 */
int cli_open(const char *cmd, const char *path, bool readonly,
	     struct zvd_dev **out);

/* Open only the backend of an image (for zvd check). */
/* @t (seconds since the epoch) as "YYYY-MM-DD HH:MM:SS UTC" in @buf. */
const char *cli_fmt_time(uint64_t t, char *buf, size_t len);

/* Check and set the options of a writable RADOS image (@image, or NULL
 * when there is none: then the options are refused). Returns 0 or an
 * exit code. */
int cli_rados_options(const char *cmd, const char *image, const char *cache,
		      const char *cache_size, bool durable_remote);

/* Say on stderr what opening a RADOS image found (a lost or replayed
 * local log). */
void cli_rados_note(const char *cmd, const char *path,
		    struct zvd_backend *be);

int cli_open_backend(const char *cmd, const char *path, unsigned flags,
		     struct zvd_backend **out);

/* Close @dev (which flushes); returns 0 or an exit code after printing. */
int cli_close(const char *cmd, struct zvd_dev *dev);

/* Report the failure @rc of a call on @dev: the zone, the status name and
 * the numbers. Returns CLI_EXIT_REFUSED. */
int cli_dev_error(const char *cmd, struct zvd_dev *dev, int rc);

/* Describe zone @zone into @z. Returns 0, or an exit code after printing
 * (no such zone, or the report failed). */
int cli_get_zone(const char *cmd, struct zvd_dev *dev, uint32_t zone,
		 struct zvd_zone *z);

/* Zone index of a reported zone. */
uint32_t cli_zone_index(const struct zvd_dev *dev, const struct zvd_zone *z);

/* Read up to @len bytes from @fd, stopping early only at end of input.
 * Returns the count or -errno. */
ssize_t cli_read_full(int fd, void *buf, size_t len);

/* Write all of @buf to @fd. Returns 0 or -errno. */
int cli_write_full(int fd, const void *buf, size_t len);

/* Open --input (NULL or "-": standard input) / --output (NULL or "-":
 * standard output, else created or truncated). Return 0 or an exit code
 * after printing. */
int cli_open_input(const char *cmd, const char *path, int *fd);
int cli_open_output(const char *cmd, const char *path, int *fd);

/* Close a descriptor from the above unless it is a standard one. */
void cli_close_fd(int fd);

/*
 * An image named on the command line, maybe as IMAGE@NAME: a snapshot
 * NAME of IMAGE. @spec is split at its last '@' only when no file of that
 * name exists, so an image whose file name holds '@' is still reachable.
 */
struct cli_image {
	const char *spec;	     /* as given */
	char path[4096];	     /* the image file */
	char snap[ZVD_NAME_MAX + 1]; /* "" for the image itself */
};

/* Split @spec into @im. Returns 0 or an exit code after printing. */
int cli_parse_image(const char *cmd, const char *spec, struct cli_image *im);

/* Open @spec (IMAGE or IMAGE@NAME). A snapshot is always opened as a
 * read-only view; @readonly is for the image itself. Fills @im when it is
 * not NULL. Returns 0 or an exit code after printing. */
int cli_open_image(const char *cmd, const char *spec, bool readonly,
		   struct cli_image *im, struct zvd_dev **out);

/* As cli_open(), but an image locked by another process is not an error
 * here: return -EBUSY without printing (the caller may ask the server
 * holding it through its control socket, see ctl.h). */
int cli_open_unless_busy(const char *cmd, const char *path, bool readonly,
			 struct zvd_dev **out);

/* ---- cli_progress.c ---------------------------------------------------- */

/* Progress of a long command on stderr: percent and MB/s, redrawn at most
 * five times a second. Shown when stderr is a terminal, or always with
 * --progress; never with --quiet. */
struct cli_progress {
	const char *what;
	bool on;
	bool drawn;
	double start;
	double last;
};

/* Decide whether to show progress from --progress / --quiet. */
void cli_progress_init(struct cli_progress *p, const char *what,
		       bool force, bool quiet);
void cli_progress_update(struct cli_progress *p, uint64_t done,
			 uint64_t total);
/* The same, as a zvd_progress_fn (arg is a struct cli_progress). */
void cli_progress_fn(void *arg, uint64_t done, uint64_t total);
/* End the line if one was drawn. */
void cli_progress_done(struct cli_progress *p);

/* ---- cli_help.c -------------------------------------------------------- */

/* Print the help of @cmd (NULL: the overview) to @f; -1 if unknown. */
int cli_help_print(const char *cmd, FILE *f);

/* Print the synopsis of @cmd to @f. */
void cli_help_synopsis(const char *cmd, FILE *f);

/* ---- commands (cmd_*.c): argv[0] is the command name --------------------- */

int cmd_create(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_zone_op(int argc, char **argv);
int cmd_fail(int argc, char **argv);
int cmd_write(int argc, char **argv);
int cmd_append(int argc, char **argv);
int cmd_read(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_csd(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_vm(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_clone(int argc, char **argv);
int cmd_rebase(int argc, char **argv);
int cmd_flatten(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_break_lock(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_hold(int argc, char **argv);
int cmd_set(int argc, char **argv);

/* cmd_snapshot.c: every snapshot of @dev into *out (to free); returns
 * the count, or -1 after printing why (exit with CLI_EXIT_REFUSED). */
int cli_snapshot_list(const char *cmd, struct zvd_dev *dev,
		      struct zvd_snapshot_info **out);
/* Print snapshots as a table, or as a JSON array under @key. */
void cli_print_snapshots(const struct zvd_snapshot_info *s, int n);
void cli_json_snapshots(struct cli_json *j, const char *key,
			const struct zvd_snapshot_info *s, int n);

/* Refuse an operation on an image a server holds ("stop the server
 * first"). Returns CLI_EXIT_REFUSED. */
int cli_refuse_served(const char *cmd, const char *path);

/* cmd_clone.c: zvd create NEW --backing BASE (called by cmd_create). */
int cli_create_backed(const char *new_path, const char *base_path);

/* cmd_create.c: the geometry options, shared by create and convert
 * import. A command's option table starts with CLI_GEOMETRY_OPTS, so
 * val[0 .. CLI_NR_GEOMETRY_OPTS - 1] are their values. */
#define CLI_GEOMETRY_OPTS                                                \
	{ "size", true }, { "zone-size", true }, { "zone-capacity", true }, \
	{ "conventional-zones", true }, { "block-size", true },              \
	{ "max-open", true }, { "max-active", true }, { "max-append", true }, \
	{ "profile", true }
#define CLI_NR_GEOMETRY_OPTS 9
/* Apply the geometry options in @val to the default geometry. Returns 0
 * or an exit code after printing. */
int cli_arg_profile(const char *cmd, const char *s, uint32_t *out);
int cli_build_geometry(const char *cmd, const char *const *val,
		       struct zvd_geometry *g);
/* True when any geometry option was given. */
bool cli_geometry_given(const char *const *val);

#endif /* ZVD_CLI_H */

// SPDX-License-Identifier: MIT
/*
 * cmd_snapshot.c - zvd snapshot create|list|delete and zvd rollback.
 *
 * When the image is locked by a running server (zvd serve), snapshot
 * create, list and delete ask the server through its control socket
 * (ctl.h) instead, and say so; rollback changes what the server's device
 * reads under it, so it is refused until the server stops.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "ctl.h"

enum { OPT_JSON };

static const struct cli_opt opts[] = {
	[OPT_JSON] = { "json", false },
	{ NULL, false },
};

static const struct cli_opt no_opts[] = {
	{ NULL, false },
};

/* ---- listing ------------------------------------------------------------- */

int cli_snapshot_list(const char *cmd, struct zvd_dev *dev,
		      struct zvd_snapshot_info **out)
{
	struct zvd_snapshot_info *s = NULL, *t;
	uint32_t cap = 16;
	int n;

	*out = NULL;
	for (;;) {
		t = realloc(s, cap * sizeof(*s));
		if (!t) {
			free(s);
			cli_error(cmd, "out of memory");
			return -1;
		}
		s = t;
		n = zvd_snapshot_list(dev, s, cap);
		if (n < 0 || (uint32_t)n <= cap)
			break;
		cap = (uint32_t)n; /* more were taken meanwhile: again */
	}
	if (n < 0) {
		free(s);
		cli_dev_error(cmd, dev, n);
		return -1;
	}
	*out = s;
	return n;
}

const char *cli_fmt_time(uint64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) ||
	    !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, len, "%llu", (unsigned long long)t);
	return buf;
}

void cli_print_snapshots(const struct zvd_snapshot_info *s, int n)
{
	char when[40], ex[32];
	int i;

	printf("%5s  %-24s %-23s %14s %-10s %6s\n", "id", "name", "created",
	       "exclusive", "", "clones");
	for (i = 0; i < n; i++)
		printf("%5u  %-24s %-23s %14llu %-10s %6u\n", s[i].id,
		       s[i].name, cli_fmt_time(s[i].created, when, sizeof(when)),
		       (unsigned long long)s[i].exclusive_bytes,
		       cli_fmt_size(s[i].exclusive_bytes, ex, sizeof(ex)),
		       s[i].nr_clones);
}

void cli_json_snapshots(struct cli_json *j, const char *key,
			const struct zvd_snapshot_info *s, int n)
{
	int i;

	cli_json_arr_begin(j, key);
	for (i = 0; i < n; i++) {
		cli_json_obj_begin(j, NULL);
		cli_json_u64(j, "id", s[i].id);
		cli_json_str(j, "name", s[i].name);
		cli_json_u64(j, "created", s[i].created);
		cli_json_u64(j, "exclusive_bytes", s[i].exclusive_bytes);
		cli_json_u64(j, "clones", s[i].nr_clones);
		cli_json_obj_end(j);
	}
	cli_json_arr_end(j);
}

static void print_list(const struct zvd_snapshot_info *s, int n, bool json)
{
	struct cli_json j;

	if (!json) {
		cli_print_snapshots(s, n);
		return;
	}
	cli_json_init(&j, stdout);
	cli_json_snapshots(&j, NULL, s, n);
	cli_json_done(&j);
}

/* ---- errors ---------------------------------------------------------------- */

/* Say why a snapshot operation on @path refused: @err is a positive errno,
 * @text the library's words (may be empty). */
static int snap_refused(const char *cmd, const char *path, const char *name,
			int err, const char *text)
{
	switch (err) {
	case EINVAL:
		if (name)
			return cli_usage_error(cmd,
					       "'%s' is not a valid snapshot name (1 to %d characters of A-Z a-z 0-9 . _ -, not starting with '.' or '-')%s%s",
					       name, ZVD_NAME_MAX,
					       *text ? ": " : "", text);
		break;
	case EEXIST:
		return cli_error(cmd, "%s: a snapshot named '%s' already exists",
				 path, name);
	case ENOENT:
		return cli_error(cmd, "%s: no snapshot named '%s'", path, name);
	case EBUSY:
		return cli_error(cmd, "%s: snapshot '%s' is in use: %s", path,
				 name, *text ? text : "clones depend on it");
	}
	return cli_error(cmd, "%s: %s", path, *text ? text : strerror(err));
}

static int snap_error(const char *cmd, const char *path, const char *name,
		      struct zvd_dev *dev, int rc)
{
	char text[512] = "";

	zvd_last_error_text(dev, text, sizeof(text));
	return snap_refused(cmd, path, name, -rc, text);
}

/* ---- through a running server ------------------------------------------------ */

/* Parse "ID CREATED EXCLUSIVE CLONES NAME" lines into @s. */
static int parse_list(const char *p, struct zvd_snapshot_info *s, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		unsigned long long created, ex;
		unsigned id, clones;
		int used = 0;

		p = strchr(p, '\n');
		if (!p)
			return -1;
		p++;
		memset(&s[i], 0, sizeof(s[i]));
		if (sscanf(p, "%u %llu %llu %u %64s%n", &id, &created, &ex,
			   &clones, s[i].name, &used) != 5 || !used)
			return -1;
		s[i].id = id;
		s[i].created = created;
		s[i].exclusive_bytes = ex;
		s[i].nr_clones = clones;
	}
	return 0;
}

static int server_list(const char *path, const char *reply, bool json)
{
	struct zvd_snapshot_info *s;
	int n;

	if (sscanf(reply, "ok %d", &n) != 1 || n < 0 || n > 1 << 20)
		return cli_error("snapshot", "%s: the server's reply is not understood",
				 path);
	s = calloc((size_t)n + 1, sizeof(*s));
	if (!s)
		return cli_error("snapshot", "out of memory");
	if (parse_list(reply, s, n)) {
		free(s);
		return cli_error("snapshot", "%s: the server's reply is not understood",
				 path);
	}
	print_list(s, n, json);
	free(s);
	return 0;
}

/*
 * @path is locked: ask the server that holds it. @sub is create, list or
 * delete, @name the snapshot (NULL for list).
 */
static int via_server(const char *sub, const char *path, const char *name,
		      bool json)
{
	char sock[4096], req[CTL_LINE_MAX + 1], *reply;
	int err = 0, used = 0, rc;

	if (ctl_socket_path(path, sock, sizeof(sock)))
		snprintf(sock, sizeof(sock), "%s%s", path, CTL_SUFFIX);
	snprintf(req, sizeof(req), "snapshot-%s%s%s", sub, name ? " " : "",
		 name ? name : "");
	rc = ctl_request(path, req, &reply);
	if (rc == -ENOENT)
		return cli_error("snapshot",
				 "%s: the image is in use by another process (it is locked) and no server answers on %s",
				 path, sock);
	if (rc < 0)
		return cli_error("snapshot", "%s: asking the server on %s: %s",
				 path, sock, strerror(-rc));
	fprintf(stderr, "zvd snapshot: %s is held by a running server; asked it through %s\n",
		path, sock);
	if (sscanf(reply, "error %d %n", &err, &used) == 1 && used) {
		char *nl = strchr(reply + used, '\n');

		if (nl)
			*nl = '\0';
		rc = snap_refused("snapshot", path, name, err, reply + used);
	} else if (strncmp(reply, "ok", 2)) {
		rc = cli_error("snapshot", "%s: the server's reply is not understood",
			       path);
	} else if (!strcmp(sub, "list")) {
		rc = server_list(path, reply, json);
	} else if (!strcmp(sub, "create")) {
		unsigned id = 0;

		sscanf(reply, "ok %u", &id);
		printf("created snapshot %s (id %u) of %s\n", name, id, path);
	} else {
		printf("deleted snapshot %s of %s\n", name, path);
	}
	free(reply);
	return rc;
}

/* ---- zvd snapshot ---------------------------------------------------------------- */

static int snap_create(struct zvd_dev *dev, const char *path, const char *name)
{
	struct zvd_snapshot_info *s;
	uint32_t id = 0;
	int i, n, rc = zvd_snapshot_create(dev, name);

	if (rc < 0)
		return snap_error("snapshot", path, name, dev, rc);
	n = cli_snapshot_list("snapshot", dev, &s);
	if (n < 0)
		return CLI_EXIT_REFUSED;
	for (i = 0; i < n; i++)
		if (!strcmp(s[i].name, name))
			id = s[i].id;
	free(s);
	printf("created snapshot %s (id %u) of %s\n", name, id, path);
	return 0;
}

static int snap_delete(struct zvd_dev *dev, const char *path, const char *name)
{
	int rc = zvd_snapshot_delete(dev, name);

	if (rc < 0)
		return snap_error("snapshot", path, name, dev, rc);
	printf("deleted snapshot %s of %s\n", name, path);
	return 0;
}

static int snap_list(struct zvd_dev *dev, bool json)
{
	struct zvd_snapshot_info *s;
	int n = cli_snapshot_list("snapshot", dev, &s);

	if (n < 0)
		return CLI_EXIT_REFUSED;
	print_list(s, n, json);
	free(s);
	return 0;
}

int cmd_snapshot(int argc, char **argv)
{
	const char *sub, *path, *name = NULL;
	struct zvd_dev *dev;
	struct cli_args a;
	bool list, json;
	int rc, rc2;

	rc = cli_parse(argc, argv, opts, 2, 3, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	sub = a.pos[0];
	path = a.pos[1];
	json = a.val[OPT_JSON] != NULL;
	list = !strcmp(sub, "list");
	if (!list && strcmp(sub, "create") && strcmp(sub, "delete"))
		return cli_usage_error("snapshot",
				       "unknown subcommand '%s' (create, list or delete)",
				       sub);
	if (list && a.npos != 2)
		return cli_usage_error("snapshot", "list takes no NAME ('%s')",
				       a.pos[2]);
	if (!list && a.npos != 3)
		return cli_usage_error("snapshot", "%s needs IMAGE NAME", sub);
	if (!list && json)
		return cli_usage_error("snapshot", "--json is for list only");
	if (!list)
		name = a.pos[2];
	rc = cli_open_unless_busy("snapshot", path, list, &dev);
	if (rc == -EBUSY)
		return via_server(sub, path, name, json);
	if (rc)
		return rc;
	if (list)
		rc = snap_list(dev, json);
	else if (!strcmp(sub, "create"))
		rc = snap_create(dev, path, name);
	else
		rc = snap_delete(dev, path, name);
	rc2 = cli_close("snapshot", dev);
	return rc ? rc : rc2;
}

/* ---- zvd rollback ------------------------------------------------------------------ */

/* Refuse an operation on an image a server holds, naming the socket when
 * there is one. Returns CLI_EXIT_REFUSED. */
int cli_refuse_served(const char *cmd, const char *path)
{
	char sock[4096], *reply = NULL;

	if (!ctl_socket_path(path, sock, sizeof(sock)) &&
	    ctl_request(path, "info", &reply) == 0) {
		free(reply);
		return cli_error(cmd,
				 "%s: the image is served by a running zvd server (control socket %s); stop the server first",
				 path, sock);
	}
	return cli_error(cmd,
			 "%s: the image is in use by another process (it is locked); stop the server or the process first",
			 path);
}

int cmd_rollback(int argc, char **argv)
{
	struct zvd_dev *dev;
	struct cli_args a;
	int rc, rc2;

	rc = cli_parse(argc, argv, no_opts, 2, 2, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	rc = cli_open_unless_busy("rollback", a.pos[0], false, &dev);
	if (rc == -EBUSY)
		return cli_refuse_served("rollback", a.pos[0]);
	if (rc)
		return rc;
	rc = zvd_rollback(dev, a.pos[1]);
	if (rc < 0)
		rc = snap_error("rollback", a.pos[0], a.pos[1], dev, rc);
	else
		printf("rolled back %s to snapshot %s\n", a.pos[0], a.pos[1]);
	rc2 = cli_close("rollback", dev);
	return rc ? rc : rc2;
}

// SPDX-License-Identifier: MIT
/*
 * cmd_serve.c - zvd serve --ublk IMAGE, zvd serve --nbd IMAGE... and
 * zvd up [IMAGE]: present an image as a zoned block device through ublk
 * (src/ublk/), or images and snapshots as NBD exports (src/nbd/).
 * `serve --mem` serves an in-memory copy of the image, for benchmarks;
 * `up` creates a default image when there is none and explains what to do
 * on a host without ublk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "nbd/nbd.h"
#include "ublk/ublk.h"

#define UP_DEFAULT_IMAGE "zvd.img"

/* up takes the first three (its table stops there). */
enum { OPT_QUEUES, OPT_DEPTH, OPT_ID, OPT_UBLK, OPT_MEM, OPT_CACHE,
       OPT_CACHE_SIZE, OPT_DURABLE };

static const struct cli_opt opts[] = {
	[OPT_QUEUES] = { "queues", true }, [OPT_DEPTH] = { "depth", true },
	[OPT_ID] = { "id", true },	   [OPT_UBLK] = { "ublk", false },
	[OPT_MEM] = { "mem", false },
	[OPT_CACHE] = { "cache", true },   [OPT_CACHE_SIZE] = { "cache-size", true },
	[OPT_DURABLE] = { "durable-remote", false }, { NULL, false },
};

static const struct cli_opt up_opts[] = {
	[OPT_QUEUES] = { "queues", true },
	[OPT_DEPTH] = { "depth", true },
	[OPT_ID] = { "id", true },
	{ NULL, false },
};

/* --queues, --depth and --id into @o. Returns 0 or an exit code. */
static int parse_numbers(const char *cmd, const struct cli_args *a,
			 struct ublk_srv_opts *o)
{
	uint32_t v;
	int rc;

	o->cmd = cmd;
	o->dev_id = -1;
	if (a->val[OPT_QUEUES]) {
		rc = cli_arg_u32(cmd, "--queues", a->val[OPT_QUEUES], &v);
		if (rc)
			return rc;
		if (v < 1 || v > UBLK_SRV_MAX_QUEUES)
			return cli_usage_error(cmd, "--queues: %u is not between 1 and %u",
					       v, UBLK_SRV_MAX_QUEUES);
		o->nr_queues = (uint16_t)v;
	}
	if (a->val[OPT_DEPTH]) {
		rc = cli_arg_u32(cmd, "--depth", a->val[OPT_DEPTH], &v);
		if (rc)
			return rc;
		if (v < 1 || v > UBLK_SRV_MAX_DEPTH)
			return cli_usage_error(cmd, "--depth: %u is not between 1 and %u",
					       v, UBLK_SRV_MAX_DEPTH);
		o->depth = (uint16_t)v;
	}
	if (a->val[OPT_ID]) {
		rc = cli_arg_u32(cmd, "--id", a->val[OPT_ID], &v);
		if (rc)
			return rc;
		if (v >= (1u << 20))
			return cli_usage_error(cmd, "--id: %u is too large (at most %u)",
					       v, (1u << 20) - 1);
		o->dev_id = (int32_t)v;
	}
	return 0;
}

/* ---- --mem: an in-memory copy of the image --------------------------------- */

/* Copy @len bytes at @off from @src to @dst, skipping pieces of zeros
 * (the mem backend stays sparse). */
static int copy_range(struct zvd_dev *src, struct zvd_dev *dst, char *buf,
		      uint64_t off, uint64_t len)
{
	static const char zeros[4096];
	uint64_t done = 0;
	int rc;

	while (done < len) {
		size_t n = len - done > CLI_PIECE ? CLI_PIECE : len - done;
		size_t i;

		rc = zvd_read(src, buf, n, off + done);
		if (rc < 0)
			return rc;
		for (i = 0; i < n && !memcmp(buf + i, zeros, 4096); i += 4096)
			;
		if (i < n) {
			rc = zvd_write(dst, buf, n, off + done, 0);
			if (rc < 0)
				return rc;
		}
		done += n;
	}
	return 0;
}

/* Give zone @idx of @dst the data and condition of @z. */
static int copy_zone(struct zvd_dev *src, struct zvd_dev *dst, char *buf,
		     uint32_t idx, const struct zvd_zone *z)
{
	int rc = 0;

	if (z->type == ZVD_ZONE_CONVENTIONAL)
		return copy_range(src, dst, buf, z->start, z->len);
	if (z->cond == ZVD_COND_OFFLINE)
		return zvd_zone_fail(dst, idx, ZVD_COND_OFFLINE);
	if (z->written) {
		/* zeros count here: the write pointer must end up right */
		uint64_t done = 0;

		while (!rc && done < z->written) {
			size_t n = z->written - done > CLI_PIECE ?
					   CLI_PIECE :
					   z->written - done;

			rc = zvd_read(src, buf, n, z->start + done);
			if (rc >= 0)
				rc = zvd_write(dst, buf, n, z->start + done, 0);
			done += n;
		}
		if (rc < 0)
			return rc;
	}
	switch (z->cond) {
	case ZVD_COND_EXP_OPEN:
		return zvd_zone_mgmt(dst, ZVD_OP_OPEN, idx);
	case ZVD_COND_CLOSED:
		if (!z->written)
			rc = zvd_zone_mgmt(dst, ZVD_OP_OPEN, idx);
		return rc < 0 ? rc : zvd_zone_mgmt(dst, ZVD_OP_CLOSE, idx);
	case ZVD_COND_FULL:
		return z->written < z->capacity ?
			       zvd_zone_mgmt(dst, ZVD_OP_FINISH, idx) :
			       0;
	case ZVD_COND_READ_ONLY:
		return zvd_zone_fail(dst, idx, ZVD_COND_READ_ONLY);
	default:
		return 0;
	}
}

static int copy_zones(struct zvd_dev *src, struct zvd_dev *dst)
{
	struct zvd_zone *zones = calloc(CLI_REPORT_BATCH, sizeof(*zones));
	char *buf = malloc(CLI_PIECE);
	uint32_t next = 0, nr = zvd_nr_zones(src);
	int n = 0, i, rc = -ENOMEM;

	if (!zones || !buf)
		goto out;
	rc = 0;
	while (!rc && next < nr) {
		n = zvd_report(src, next, ZVD_REPORT_ALL, zones,
			       CLI_REPORT_BATCH);
		if (n <= 0) {
			rc = n < 0 ? n : -EIO;
			break;
		}
		for (i = 0; !rc && i < n; i++)
			rc = copy_zone(src, dst, buf, next + (uint32_t)i,
				       &zones[i]);
		next += (uint32_t)n;
	}
out:
	free(zones);
	free(buf);
	return rc;
}

/* Load the image at @path into a new device on the mem backend. */
static int load_mem(const char *cmd, const char *path, struct zvd_dev **out)
{
	struct zvd_backend *be = NULL;
	struct zvd_dev *src, *dst = NULL;
	struct zvd_geometry g;
	int rc;

	rc = cli_open(cmd, path, true, &src);
	if (rc)
		return rc;
	if (zvd_is_volume(src) == 1) { /* the copy is made zone by zone */
		zvd_close(src);
		return cli_error(cmd, "%s is a volume: --mem serves zoned "
				 "images only", path);
	}
	zvd_get_geometry(src, &g);
	rc = zvd_backend_mem_create(&be);
	if (rc == 0) {
		rc = zvd_create(be, &g, &dst);
		if (rc < 0)
			zvd_backend_close(be);
	}
	if (rc == 0)
		rc = copy_zones(src, dst);
	zvd_close(src);
	if (rc < 0) {
		zvd_close(dst);
		return cli_error(cmd, "%s: loading the image into memory: %s",
				 path, strerror(-rc));
	}
	fprintf(stderr,
		"zvd %s: serving an in-memory copy of %s: changes are lost "
		"at exit\n", cmd, path);
	*out = dst;
	return 0;
}

/* ---- serving --------------------------------------------------------------- */

/* Refuse an image the kernel would refuse, before touching ublk. */
static int check_image(const char *cmd, const char *path,
		       struct zvd_dev *dev)
{
	struct zvd_geometry g;
	char why[512];

	if (zvd_is_volume(dev) == 1) /* an ordinary ublk device */
		return ublk_image_check(dev, why, sizeof(why)) == 0 ? 0 :
		       cli_error(cmd, "%s: %s", path, why);
	zvd_get_geometry(dev, &g);
	if (ublk_geometry_check(&g, why, sizeof(why)) == 0)
		return 0;
	return cli_error(cmd, "%s cannot be a zoned ublk device: %s", path,
			 why);
}

/* What to do on a host without ublk (for zvd up). */
static void offer_vm(const char *cmd, const char *path)
{
	char *abs = realpath(path, NULL);
	struct utsname u;

	if (uname(&u))
		strcpy(u.release, "?");
	if (abs)
		path = abs; /* the guest shares the image's directory there */
	fprintf(stderr,
		"zvd %s: this host (Linux %s) cannot present %s as a block "
		"device.\n"
		"  'zvd vm %s' boots a small guest with Debian's Linux 6.12, "
		"which has\n"
		"  ublk and zoned block devices, with the image's directory "
		"shared; run\n"
		"  'zvd up %s' there. Here the image works with every other "
		"zvd command:\n"
		"  zvd info, zvd report, zvd write, zvd read ...\n",
		cmd, u.release, path, path, path);
	free(abs);
}

/* Open or load the image, check it, open ublk, serve. */
static int serve_image(const char *cmd, const char *path, bool mem,
		       const struct ublk_srv_opts *o)
{
	struct zvd_dev *dev;
	char why[512];
	int rc, rc2, ctrl;

	rc = mem ? load_mem(cmd, path, &dev) : cli_open(cmd, path, false, &dev);
	if (rc)
		return rc;
	rc = check_image(cmd, path, dev);
	if (rc) {
		zvd_close(dev);
		return rc;
	}
	ctrl = ublk_ctrl_open(why, sizeof(why));
	if (ctrl < 0) {
		cli_error(cmd, "%s", why);
		if (!strcmp(cmd, "up"))
			offer_vm(cmd, path);
		zvd_close(dev);
		return CLI_EXIT_REFUSED;
	}
	/* snapshot and gc requests on the held image come through this */
	if (!mem && ctl_start(dev, path) < 0)
		fprintf(stderr, "zvd %s: no control socket for %s; snapshot "
			"commands will not reach this server\n", cmd, path);
	rc = ublk_serve(dev, o, ctrl);
	if (!mem)
		ctl_stop();
	rc2 = cli_close(cmd, dev);
	if (!rc && !rc2)
		fprintf(stderr, "zvd %s: %s flushed and closed\n", cmd, path);
	return rc ? rc : rc2;
}

/* ---- --nbd: images and snapshots as NBD exports ---------------------------- */

/*
 * serve --nbd takes any number of images (cli_parse stops at
 * CLI_MAX_POS), so it reads its own command line: the same rules as
 * cli_parse (--name VALUE or --name=VALUE, "--" ends the options).
 */
struct nbd_cli {
	int nimages;
	const char *images[NBD_MAX_EXPORTS];
	const char *socket;
	const char *tcp;
	bool readonly;
	const char *tls;	/* off, on, require */
	const char *tls_psk;
	const char *tls_creds;
	bool tls_verify_peer;
	const char *cache;	/* RADOS images: the local write-back log */
	const char *cache_size;
	bool durable_remote;
};

/* Options of --ublk, refused with --nbd. */
static bool is_ublk_option(const char *name, size_t len)
{
	static const char *const names[] = { "queues", "depth", "id", "mem",
					     "ublk" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && !strncmp(names[i], name, len))
			return true;
	return false;
}

/* Parse one "--name[=value]" at argv[*i]. Returns 0 or an exit code. */
static int nbd_option(int argc, char **argv, int *i, struct nbd_cli *o)
{
	const char *name = argv[*i] + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const char **slot = NULL;

	if (len == 3 && !strncmp(name, "nbd", 3)) {
		if (eq)
			return cli_usage_error("serve", "--nbd takes no value");
		return 0;
	}
	if (len == 8 && !strncmp(name, "readonly", 8)) {
		if (eq)
			return cli_usage_error("serve", "--readonly takes no value");
		o->readonly = true;
		return 0;
	}
	if (len == 14 && !strncmp(name, "durable-remote", 14)) {
		if (eq)
			return cli_usage_error("serve", "--durable-remote takes no value");
		o->durable_remote = true;
		return 0;
	}
	if (len == 15 && !strncmp(name, "tls-verify-peer", 15)) {
		if (eq)
			return cli_usage_error("serve", "--tls-verify-peer takes no value");
		o->tls_verify_peer = true;
		return 0;
	}
	if (len == 6 && !strncmp(name, "socket", 6))
		slot = &o->socket;
	else if (len == 3 && !strncmp(name, "tcp", 3))
		slot = &o->tcp;
	else if (len == 3 && !strncmp(name, "tls", 3))
		slot = &o->tls;
	else if (len == 7 && !strncmp(name, "tls-psk", 7))
		slot = &o->tls_psk;
	else if (len == 9 && !strncmp(name, "tls-creds", 9))
		slot = &o->tls_creds;
	else if (len == 5 && !strncmp(name, "cache", 5))
		slot = &o->cache;
	else if (len == 10 && !strncmp(name, "cache-size", 10))
		slot = &o->cache_size;
	if (!slot) {
		if (is_ublk_option(name, len))
			return cli_usage_error("serve", "--%.*s is an option of --ublk, not of --nbd",
					       (int)len, name);
		return cli_usage_error("serve", "unknown option '--%.*s'",
				       (int)len, name);
	}
	if (*slot)
		return cli_usage_error("serve", "--%.*s given more than once",
				       (int)len, name);
	if (eq) {
		*slot = eq + 1;
	} else {
		if (*i + 1 >= argc)
			return cli_usage_error("serve", "--%.*s needs a value",
					       (int)len, name);
		*slot = argv[++*i];
	}
	return 0;
}

/* --tls MODE and its credentials. Credentials without --tls mean
 * --tls require. Returns 0 or an exit code. */
static int check_tls_options(struct nbd_cli *o)
{
	bool creds = o->tls_psk || o->tls_creds;

	if (o->tls && strcmp(o->tls, "off") && strcmp(o->tls, "on") &&
	    strcmp(o->tls, "require"))
		return cli_usage_error("serve", "--tls %s: expected off, on or require",
				       o->tls);
	if (!o->tls && creds)
		o->tls = "require";
	if (!o->tls || !strcmp(o->tls, "off")) {
		if (creds || o->tls_verify_peer)
			return cli_usage_error("serve", "TLS credentials given with --tls off");
		return 0;
	}
	if (!creds)
		return cli_usage_error("serve", "--tls %s needs --tls-psk FILE or --tls-creds DIR",
				       o->tls);
	if (o->tls_psk && o->tls_creds)
		return cli_usage_error("serve", "--tls-psk and --tls-creds: choose one");
	if (o->tls_verify_peer && !o->tls_creds)
		return cli_usage_error("serve", "--tls-verify-peer needs --tls-creds DIR");
	return 0;
}

/* Returns 0, -1 after --help, or an exit code. */
static int parse_nbd(int argc, char **argv, struct nbd_cli *o)
{
	bool only_pos = false;
	int i, rc;

	memset(o, 0, sizeof(*o));
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (only_pos || arg[0] != '-' || !arg[1]) {
			if (o->nimages == NBD_MAX_EXPORTS)
				return cli_usage_error("serve", "at most %d images",
						       NBD_MAX_EXPORTS);
			o->images[o->nimages++] = arg;
		} else if (!strcmp(arg, "--")) {
			only_pos = true;
		} else if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			cli_help_print("serve", stdout);
			return -1;
		} else if (arg[1] != '-') {
			return cli_usage_error("serve", "unknown option '%s'", arg);
		} else {
			rc = nbd_option(argc, argv, &i, o);
			if (rc)
				return rc;
		}
	}
	if (!o->nimages)
		return cli_usage_error("serve", "name at least one image to serve");
	if (o->socket && o->tcp)
		return cli_usage_error("serve", "--socket and --tcp: choose one");
	if (o->socket && !o->socket[0])
		return cli_usage_error("serve", "--socket needs a path");
	rc = check_tls_options(o);
	if (rc)
		return rc;
	{
		/* one writable RADOS image takes the cache */
		const char *rados = NULL;
		for (i = 0; i < o->nimages; i++) {
			if (!zvd_is_rados(o->images[i]) || o->readonly ||
			    strchr(o->images[i] + 8, '@'))
				continue;
			if (rados && o->cache)
				return cli_usage_error("serve", "--cache serves one RADOS image; "
						       "serve %s from a server of its own",
						       o->images[i]);
			rados = o->images[i];
		}
		return cli_rados_options("serve", rados, o->cache, o->cache_size,
					 o->durable_remote);
	}
}

/* Split --tcp HOST:PORT (or :PORT, which means 127.0.0.1) into @host and
 * @port. Returns 0 or an exit code. */
static int parse_tcp(const char *s, char *host, size_t hlen, char *port,
		     size_t plen)
{
	const char *colon = strrchr(s, ':');
	size_t n;
	uint32_t v;
	const char *why;

	if (!colon)
		return cli_usage_error("serve", "--tcp %s: expected HOST:PORT or :PORT", s);
	if (cli_parse_u32(colon + 1, &v, &why) || v > 65535)
		return cli_usage_error("serve", "--tcp %s: '%s' is not a port number",
				       s, colon + 1);
	snprintf(port, plen, "%u", v);
	n = (size_t)(colon - s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n == 0) {
		snprintf(host, hlen, "127.0.0.1");
		return 0;
	}
	if (n >= hlen)
		return cli_usage_error("serve", "--tcp: host name too long");
	memcpy(host, s, n);
	host[n] = '\0';
	return 0;
}

/* The export name of @spec: its file name without the directory. */
static const char *export_name(const char *spec)
{
	const char *slash = strrchr(spec, '/');

	return slash && slash[1] ? slash + 1 : spec;
}

/* Refuse two exports of one name. */
static int check_exports(const struct nbd_cli *o, const struct cli_image *im)
{
	int i, j;

	for (i = 0; i < o->nimages; i++)
		for (j = 0; j < i; j++) {
			if (!strcmp(export_name(im[i].spec),
				    export_name(im[j].spec)))
				return cli_usage_error("serve",
						       "two exports would be named '%s'; "
						       "serve them from two servers",
						       export_name(im[i].spec));
		}
	return 0;
}

/* Close what open_exports opened: snapshot exports first (a view of a
 * served image must close before it). Returns 0 or an exit code. */
static int close_exports(struct zvd_dev **devs, const struct cli_image *im,
			 int n, bool report)
{
	int i, k, rc = 0, r;

	for (k = 0; k < 2 * n; k++) {
		i = k % n;
		if (!devs[i] || (k < n) != (im[i].snap[0] != 0))
			continue;
		r = cli_close("serve", devs[i]);
		if (!r && report)
			fprintf(stderr, "zvd serve: %s flushed and closed\n",
				im[i].spec);
		if (r && !rc)
			rc = r;
	}
	return rc;
}

/* Open export @i: a snapshot of an image already open here for writing
 * is a view of that image; anything else is opened from its file. */
static int open_export(const struct nbd_cli *o, struct cli_image *im,
		       struct zvd_dev **devs, int i)
{
	int j, err;

	for (j = 0; im[i].snap[0] && !o->readonly && j < o->nimages; j++) {
		if (im[j].snap[0] || !devs[j] || strcmp(im[i].path, im[j].path))
			continue;
		err = zvd_open_snapshot_of(devs[j], im[i].snap, &devs[i]);
		if (err)
			return cli_dev_error("serve", devs[j], err);
		return 0;
	}
	return cli_open_image("serve", o->images[i], o->readonly, &im[i],
			      &devs[i]);
}

static int open_exports(const struct nbd_cli *o, struct cli_image *im,
			struct zvd_dev **devs, struct nbd_export *ex)
{
	int i, rc;

	for (i = 0; i < o->nimages; i++) {
		rc = cli_parse_image("serve", o->images[i], &im[i]);
		if (rc)
			return rc;
	}
	rc = check_exports(o, im);
	if (rc)
		return rc;
	/* images first, then snapshots: a snapshot of an image this server
	 * writes is opened as a view of it (the image's lock would keep a
	 * second opening out) */
	for (int pass = 0; pass < 2; pass++) {
		for (i = 0; i < o->nimages; i++) {
			if ((pass == 0) == (im[i].snap[0] != 0))
				continue;
			rc = open_export(o, im, devs, i);
			if (rc) {
				close_exports(devs, im, o->nimages, false);
				return rc;
			}
			nbd_export_init(&ex[i], export_name(o->images[i]),
					devs[i], o->readonly);
		}
	}
	return 0;
}

/* How announce describes TLS. */
static const char *tls_note(const struct nbd_cli *o)
{
	if (!o->tls || !strcmp(o->tls, "off"))
		return "";
	if (!strcmp(o->tls, "on"))
		return o->tls_psk ? ", TLS (PSK) offered" : ", TLS (X.509) offered";
	return o->tls_psk ? ", TLS (PSK) required" : ", TLS (X.509) required";
}

/* Print where the server listens and a URI per export on stdout (what
 * scripts wait for), and a note on stderr. */
static void announce(const struct nbd_server *s, const struct nbd_cli *o)
{
	char uri[8192];
	int i;

	printf("%s\n", nbd_server_address(s));
	for (i = 0; i < o->nimages; i++)
		if (nbd_server_uri(s, (unsigned)i, uri, sizeof(uri)) == 0)
			printf("%s\n", uri);
	fflush(stdout);
	fprintf(stderr,
		"zvd serve: NBD server on %s, %d export%s%s%s; SIGINT or SIGTERM "
		"stops it\n",
		nbd_server_address(s), o->nimages, o->nimages == 1 ? "" : "s",
		o->readonly ? " (read-only)" : "", tls_note(o));
}

/* Make the listening socket from --socket / --tcp or the default. */
static int nbd_listen_on(const struct nbd_cli *o, const struct cli_image *im,
			 const struct nbd_export *ex, struct nbd_server **s)
{
	char host[256], port[16], path[4096], why[512];
	struct nbd_listen l = { 0 };
	int rc;

	if (o->tcp) {
		rc = parse_tcp(o->tcp, host, sizeof(host), port, sizeof(port));
		if (rc)
			return rc;
		l.host = host;
		l.port = port;
	} else if (o->socket) {
		l.socket_path = o->socket;
	} else {
		if (strlen(im[0].path) + sizeof(".nbd.sock") > sizeof(path) - 16)
			return cli_error("serve", "%s: path too long; name a socket with --socket PATH",
					 im[0].path);
		if (zvd_is_rados(im[0].path)) {
			/* rados://POOL/NAME: /tmp/zvd-rados.POOL.NAME.nbd.sock */
			const char *p = im[0].path + 8, *slash = strchr(p, '/');
			snprintf(path, sizeof(path), "/tmp/zvd-rados.%.*s.%s.nbd.sock",
				 (int)(slash - p), p, slash + 1);
		} else {
			strcpy(path, im[0].path);
			strcat(path, ".nbd.sock");
		}
		l.socket_path = path;
	}
	rc = nbd_server_create(ex, (unsigned)o->nimages, &l, s, why,
			       sizeof(why));
	if (rc == 0)
		return 0;
	if (rc == -ENAMETOOLONG && !o->socket && !o->tcp)
		return cli_error("serve", "%s; name a shorter one with --socket PATH",
				 why);
	return cli_error("serve", "cannot listen: %s", why);
}

/* The TLS credentials --tls-psk or --tls-creds names (none with TLS
 * off). Returns 0 or an exit code. */
static int load_tls(const struct nbd_cli *o, struct nbd_tls **tls)
{
	struct nbd_tls_opts t = { 0 };
	char why[1024];
	struct stat st;

	if (o->tls && !strcmp(o->tls, "on"))
		t.mode = NBD_TLS_ON;
	else if (o->tls && !strcmp(o->tls, "require"))
		t.mode = NBD_TLS_REQUIRE;
	t.psk_file = o->tls_psk;
	t.creds_dir = o->tls_creds;
	t.verify_peer = o->tls_verify_peer;
	if (nbd_tls_create(&t, tls, why, sizeof(why)))
		return cli_error("serve", "TLS: %s", why);
	if (o->tls_psk && stat(o->tls_psk, &st) == 0 && (st.st_mode & 077))
		fprintf(stderr, "zvd serve: warning: %s can be read by others "
			"than its owner (chmod 600 it)\n", o->tls_psk);
	return 0;
}

static int serve_nbd(int argc, char **argv)
{
	static struct cli_image im[NBD_MAX_EXPORTS];
	struct zvd_dev *devs[NBD_MAX_EXPORTS] = { 0 };
	struct nbd_export ex[NBD_MAX_EXPORTS];
	struct nbd_server *s = NULL;
	struct nbd_tls *tls = NULL;
	struct nbd_cli o;
	int i, rc, rc2;

	rc = parse_nbd(argc, argv, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	rc = load_tls(&o, &tls);
	if (rc)
		return rc;
	rc = open_exports(&o, im, devs, ex);
	if (rc) {
		nbd_tls_free(tls);
		return rc;
	}
	rc = nbd_listen_on(&o, im, ex, &s);
	if (rc) {
		close_exports(devs, im, o.nimages, false);
		nbd_tls_free(tls);
		return rc;
	}
	nbd_server_set_tls(s, tls);
	/* snapshot and gc requests on the held images come through this */
	for (i = 0; i < o.nimages; i++)
		if (!ex[i].readonly && !im[i].snap[0] &&
		    ctl_start(devs[i], im[i].path) < 0)
			fprintf(stderr, "zvd serve: no control socket for %s; "
				"snapshot commands will not reach this server\n",
				im[i].path);
	announce(s, &o);
	rc = nbd_server_run(s);
	if (rc)
		rc = cli_error("serve", "the NBD server failed: %s",
			       strerror(-rc));
	nbd_server_free(s);
	nbd_tls_free(tls);
	ctl_stop();
	rc2 = close_exports(devs, im, o.nimages, true);
	return rc ? rc : rc2;
}

/* Is --nbd among the options (before a "--")? */
static bool wants_nbd(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--nbd"))
			return true;
	return false;
}

int cmd_serve(int argc, char **argv)
{
	struct ublk_srv_opts o = { 0 };
	struct cli_args a;
	int rc;

	if (wants_nbd(argc, argv))
		return serve_nbd(argc, argv);
	rc = cli_parse(argc, argv, opts, 1, 1, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	if (!a.val[OPT_UBLK])
		return cli_usage_error("serve",
				       "name the front end: --ublk or --nbd");
	rc = parse_numbers("serve", &a, &o);
	if (rc)
		return rc;
	rc = cli_rados_options("serve", zvd_is_rados(a.pos[0]) ? a.pos[0] : NULL,
			       a.val[OPT_CACHE], a.val[OPT_CACHE_SIZE],
			       a.val[OPT_DURABLE] != NULL);
	if (rc)
		return rc;
	return serve_image("serve", a.pos[0], a.val[OPT_MEM] != NULL, &o);
}

/* Create @path with the default geometry. Returns 0 or an exit code. */
static int create_default(const char *path)
{
	struct zvd_backend *be;
	struct zvd_geometry g;
	struct zvd_dev *dev;
	char s1[32], s2[32];
	int rc;

	zvd_geometry_default(&g);
	rc = cli_open_backend("up", path, ZVD_FILE_CREATE, &be);
	if (rc)
		return rc;
	rc = zvd_create(be, &g, &dev);
	if (rc < 0) {
		zvd_backend_close(be);
		zvd_backend_remove(path);
		return cli_error("up", "%s: creating the image: %s", path,
				 strerror(-rc));
	}
	rc = cli_close("up", dev);
	if (rc)
		return rc;
	fprintf(stderr, "zvd up: created %s: %s in zones of %s\n", path,
		cli_fmt_size(g.size, s1, sizeof(s1)),
		cli_fmt_size(g.zone_size, s2, sizeof(s2)));
	return 0;
}

int cmd_up(int argc, char **argv)
{
	struct ublk_srv_opts o = { 0 };
	const char *path = UP_DEFAULT_IMAGE;
	struct cli_args a;
	int rc;

	rc = cli_parse(argc, argv, up_opts, 0, 1, &a);
	if (rc)
		return rc > 0 ? 0 : CLI_EXIT_USAGE;
	rc = parse_numbers("up", &a, &o);
	if (rc)
		return rc;
	if (a.npos)
		path = a.pos[0];
	if (zvd_backend_exists(path) == 0) {
		rc = create_default(path);
		if (rc)
			return rc;
	}
	return serve_image("up", path, false, &o);
}

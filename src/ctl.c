// SPDX-License-Identifier: MIT
/*
 * ctl.c - the control socket of a running zvd server (see ctl.h for the
 * protocol): the server's thread, one request per connection, and the
 * client call the CLI uses when an image is locked by a server.
 *
 * Sections: 1. paths  2. requests  3. the server thread  4. start, stop
 *           5. the client
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"

/* How long one side waits for the other to send its line. */
#define CTL_TIMEOUT_MS 5000

/* ---- 1. paths ------------------------------------------------------------ */

int ctl_socket_path(const char *image_path, char *buf, size_t len)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);
	int n;

	if (zvd_is_rados(image_path)) {
		/* rados://POOL/NAME: a socket in /tmp, for commands run on
		 * the server's host */
		const char *p = image_path + 8, *slash = strchr(p, '/');
		if (!slash)
			return -EINVAL;
		n = snprintf(buf, len, "/tmp/zvd-rados.%.*s.%s%s",
			     (int)(slash - p), p, slash + 1, CTL_SUFFIX);
	} else {
		n = snprintf(buf, len, "%s%s", image_path, CTL_SUFFIX);
	}

	if (n < 0 || (size_t)n >= len || (size_t)n >= max)
		return -ENAMETOOLONG;
	return 0;
}

static int make_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

/* ---- 2. requests ----------------------------------------------------------- */

/* A growing reply buffer. */
struct reply {
	char *buf;
	size_t len, cap;
	int nomem;
};

static void put(struct reply *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct reply *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = r->cap - r->len;

		va_start(ap, fmt);
		n = vsnprintf(r->buf ? r->buf + r->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			r->nomem = 1;
			return;
		}
		if ((size_t)n < room) {
			r->len += (size_t)n;
			return;
		}
		char *b = realloc(r->buf, r->cap + (size_t)n + 256);

		if (!b) {
			r->nomem = 1;
			return;
		}
		r->buf = b;
		r->cap += (size_t)n + 256;
	}
}

/* "error ERRNO MESSAGE": the library's words if it has some. */
static void put_error(struct reply *r, struct zvd_dev *dev, int rc)
{
	char text[512] = "";

	if (dev)
		zvd_last_error_text(dev, text, sizeof(text));
	put(r, "error %d %s\n", -rc, text[0] ? text : strerror(-rc));
}

/* All snapshots of @dev into *out (to free). Returns the count or -errno. */
static int list_all(struct zvd_dev *dev, struct zvd_snapshot_info **out)
{
	struct zvd_snapshot_info *s = NULL;
	uint32_t cap = 16;
	int n;

	for (;;) {
		struct zvd_snapshot_info *t = realloc(s, cap * sizeof(*s));

		if (!t) {
			free(s);
			return -ENOMEM;
		}
		s = t;
		n = zvd_snapshot_list(dev, s, cap);
		if (n < 0 || (uint32_t)n <= cap)
			break;
		cap = (uint32_t)n;
	}
	if (n < 0) {
		free(s);
		return n;
	}
	*out = s;
	return n;
}

static void do_snapshot_list(struct zvd_dev *dev, struct reply *r)
{
	struct zvd_snapshot_info *s;
	int i, n = list_all(dev, &s);

	if (n < 0) {
		put_error(r, dev, n);
		return;
	}
	put(r, "ok %d\n", n);
	for (i = 0; i < n; i++)
		put(r, "%u %llu %llu %u %s\n", s[i].id,
		    (unsigned long long)s[i].created,
		    (unsigned long long)s[i].exclusive_bytes, s[i].nr_clones,
		    s[i].name);
	free(s);
}

static void do_snapshot_create(struct zvd_dev *dev, const char *name,
			       struct reply *r)
{
	struct zvd_snapshot_info *s;
	uint32_t id = 0;
	int i, n, rc = zvd_snapshot_create(dev, name);

	if (rc < 0) {
		put_error(r, dev, rc);
		return;
	}
	n = list_all(dev, &s);
	for (i = 0; i < n; i++)
		if (!strcmp(s[i].name, name))
			id = s[i].id;
	if (n >= 0)
		free(s);
	put(r, "ok %u %s\n", id, name);
}

static void do_info(struct zvd_dev *dev, struct reply *r)
{
	struct zvd_space sp;
	int n, rc = zvd_get_space(dev, &sp);

	if (rc < 0) {
		put_error(r, dev, rc);
		return;
	}
	n = zvd_snapshot_list(dev, NULL, 0);
	if (n < 0) {
		put_error(r, dev, n);
		return;
	}
	put(r, "ok virtual_size=%llu data_bytes=%llu meta_bytes=%llu backend_bytes=%llu snapshots=%d\n",
	    (unsigned long long)sp.virtual_size,
	    (unsigned long long)sp.data_bytes,
	    (unsigned long long)sp.meta_bytes,
	    (unsigned long long)sp.backend_bytes, n);
}

/* Run one request line (without its newline) on @dev. */
static void serve_line(struct zvd_dev *dev, const char *line, struct reply *r)
{
	const char *arg = strchr(line, ' ');
	size_t verb = arg ? (size_t)(arg - line) : strlen(line);
	int rc;

	if (arg)
		arg++;
#define IS(v) (verb == strlen(v) && !strncmp(line, v, verb))
	if (IS("snapshot-create") && arg && *arg) {
		do_snapshot_create(dev, arg, r);
	} else if (IS("snapshot-delete") && arg && *arg) {
		rc = zvd_snapshot_delete(dev, arg);
		if (rc < 0)
			put_error(r, dev, rc);
		else
			put(r, "ok\n");
	} else if (IS("snapshot-list") && !arg) {
		do_snapshot_list(dev, r);
	} else if (IS("info") && !arg) {
		do_info(dev, r);
	} else if (IS("gc") && !arg) {
		int64_t shrunk = zvd_gc(dev);

		if (shrunk < 0)
			put_error(r, dev, (int)shrunk);
		else
			put(r, "ok %lld\n", (long long)shrunk);
	} else {
		put(r, "error %d unknown request '%.*s'\n", EINVAL,
		    (int)(verb > 64 ? 64 : verb), line);
	}
#undef IS
}

/* ---- 3. the server thread --------------------------------------------------- */

struct ctl_server {
	struct ctl_server *next;
	struct zvd_dev *dev;
	char path[PATH_MAX];
	int lfd;
	int wake[2]; /* written by ctl_stop() to end the thread */
	pthread_t thread;
};

/* Read one line from @fd into @line (NUL-terminated, newline dropped).
 * Returns 0, or -1 for a line too long, a timeout or a closed peer. */
static int read_line(int fd, char *line, size_t len)
{
	size_t got = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		char *nl;

		if (poll(&p, 1, CTL_TIMEOUT_MS) <= 0)
			return -1;
		n = read(fd, line + got, len - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
		line[got] = '\0';
		nl = memchr(line, '\n', got);
		if (nl) {
			*nl = '\0';
			return 0;
		}
		if (got == len - 1)
			return -1;
	}
}

static void serve_conn(struct ctl_server *s, int fd)
{
	char line[CTL_LINE_MAX + 1];
	struct reply r = { 0 };
	size_t off = 0;

	if (read_line(fd, line, sizeof(line))) {
		static const char bad[] = "error 22 expected one request line\n";

		(void)!send(fd, bad, sizeof(bad) - 1, MSG_NOSIGNAL);
		return;
	}
	serve_line(s->dev, line, &r);
	if (r.nomem) {
		free(r.buf);
		r.buf = strdup("error 12 out of memory\n");
		r.len = r.buf ? strlen(r.buf) : 0;
	}
	while (off < r.len) {
		ssize_t n = send(fd, r.buf + off, r.len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(r.buf);
}

static void *server_main(void *arg)
{
	struct ctl_server *s = arg;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = s->lfd, .events = POLLIN },
			{ .fd = s->wake[0], .events = POLLIN },
		};
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve_conn(s, fd);
		close(fd);
	}
	return NULL;
}

/* ---- 4. start, stop ----------------------------------------------------------- */

static pthread_mutex_t servers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ctl_server *servers;

/* Bind and listen on s->path, replacing a stale socket. Returns 0 or
 * -errno. */
static int make_socket(struct ctl_server *s)
{
	struct sockaddr_un sa;
	struct stat st;
	int rc = make_addr(s->path, &sa);

	if (rc)
		return rc;
	/* The caller holds the image's exclusive lock, so a socket already
	 * there belongs to a server that died; but never unlink a file that
	 * is not a socket. */
	if (lstat(s->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		unlink(s->path);
	}
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0)
		return -errno;
	/* Nobody can connect before listen(), so the mode is set in time. */
	if (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(s->path, 0600) || listen(s->lfd, 8)) {
		rc = -errno;
		unlink(s->path);
		close(s->lfd);
		return rc;
	}
	return 0;
}

int ctl_start(struct zvd_dev *dev, const char *image_path)
{
	struct ctl_server *s = calloc(1, sizeof(*s));
	sigset_t all, old;
	int rc;

	if (!s)
		return -ENOMEM;
	s->dev = dev;
	s->lfd = s->wake[0] = s->wake[1] = -1;
	rc = ctl_socket_path(image_path, s->path, sizeof(s->path));
	if (!rc)
		rc = make_socket(s);
	if (rc) {
		free(s);
		return rc;
	}
	if (pipe2(s->wake, O_CLOEXEC)) {
		rc = -errno;
		goto fail;
	}
	/* The thread takes no signals: the server's handlers run in its own
	 * threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&s->thread, NULL, server_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		goto fail;
	pthread_mutex_lock(&servers_lock);
	s->next = servers;
	servers = s;
	pthread_mutex_unlock(&servers_lock);
	fprintf(stderr, "zvd: control socket %s\n", s->path);
	return 0;
fail:
	if (s->wake[0] >= 0) {
		close(s->wake[0]);
		close(s->wake[1]);
	}
	unlink(s->path);
	close(s->lfd);
	free(s);
	return rc;
}

void ctl_stop(void)
{
	struct ctl_server *s, *next;

	pthread_mutex_lock(&servers_lock);
	s = servers;
	servers = NULL;
	pthread_mutex_unlock(&servers_lock);
	for (; s; s = next) {
		next = s->next;
		(void)!write(s->wake[1], "x", 1);
		pthread_join(s->thread, NULL);
		unlink(s->path);
		close(s->lfd);
		close(s->wake[0]);
		close(s->wake[1]);
		free(s);
	}
}

/* ---- 5. the client -------------------------------------------------------------- */

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read until the server closes. */
static int read_reply(int fd, char **reply)
{
	size_t len = 0, cap = 1024;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len + 1 == cap) {
			char *b = realloc(buf, cap * 2);

			if (!b) {
				free(buf);
				return -ENOMEM;
			}
			buf = b;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int rc = errno == EAGAIN ? -ETIMEDOUT : -errno;

			free(buf);
			return rc;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*reply = buf;
	return 0;
}

int ctl_request(const char *image_path, const char *request, char **reply)
{
	char path[PATH_MAX], line[CTL_LINE_MAX + 2];
	struct timeval tv = { .tv_sec = 600 };
	struct sockaddr_un sa;
	int fd, rc;

	*reply = NULL;
	rc = ctl_socket_path(image_path, path, sizeof(path));
	if (!rc)
		rc = make_addr(path, &sa);
	if (rc)
		return rc;
	if (strlen(request) > CTL_LINE_MAX || strchr(request, '\n'))
		return -EINVAL;
	snprintf(line, sizeof(line), "%s\n", request);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A snapshot of a busy image can take a while; a dead server must
	 * not hang the command for ever. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		rc = errno == ECONNREFUSED ? -ENOENT : -errno;
		close(fd);
		return rc;
	}
	rc = send_all(fd, line, strlen(line));
	if (!rc)
		rc = read_reply(fd, reply);
	close(fd);
	return rc;
}

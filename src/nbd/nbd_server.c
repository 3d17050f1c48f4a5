// SPDX-License-Identifier: MIT
/*
 * nbd_server.c - the listening side of the NBD server: the Unix or TCP
 * socket, the URIs clients use, the accept loop (one thread per
 * connection, which runs its handshake and then its workers), and a clean
 * stop on SIGINT or SIGTERM: stop accepting, stop reading requests, let
 * the ones in flight finish, and wait for every connection to close.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "nbd_int.h"

/* Seconds a stopping server waits for replies to go out. */
#define STOP_GRACE_S 5

struct nbd_server {
	const struct nbd_export *ex;
	unsigned nr;
	const struct nbd_tls *tls; /* NULL: TLS off */
	int lfd;
	bool is_unix;
	char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char address[4200];	 /* absolute socket path or HOST:PORT */
	char uri_host[300];	 /* TCP: HOST:PORT as a URI wants it */

	pthread_mutex_t lock;
	pthread_cond_t idle;	 /* signalled when a connection ends */
	unsigned nconns;
	int fds[NBD_MAX_CONNS];	 /* -1: free slot */
};

struct conn_arg {
	struct nbd_server *s;
	int slot;
	int fd;
};

/* The write end of the pipe the signal handler wakes the loop through:
 * a signal handler can reach nothing else. */
static volatile int stop_fd = -1;

static void on_stop_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;

	if (stop_fd >= 0 && write(stop_fd, &c, 1) < 0) {
		/* the loop is already waking up */
	}
	errno = saved;
}

/* ---- sockets -------------------------------------------------------------- */

/* Refuse to replace anything but a dead server's socket at @path. */
static int clear_stale_socket(const char *path, char *why, size_t len)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(why, len, "%s exists and is not a socket", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strcpy(a.sun_path, path);
	rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	if (rc == 0) {
		snprintf(why, len, "a server is already listening on %s", path);
		return -EADDRINUSE;
	}
	if (errno != ECONNREFUSED)
		return -errno;
	return unlink(path) < 0 ? -errno : 0;
}

static int listen_unix(struct nbd_server *s, const char *path, char *why,
		       size_t len)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char cwd[4096];
	mode_t old;
	int rc;

	if (strlen(path) >= sizeof(a.sun_path)) {
		snprintf(why, len, "socket path %s is longer than %zu bytes",
			 path, sizeof(a.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	rc = clear_stale_socket(path, why, len);
	if (rc) {
		if (!*why)
			snprintf(why, len, "%s: %s", path, strerror(-rc));
		return rc;
	}
	strcpy(a.sun_path, path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0)
		return -errno;
	/* only the owner may connect: the socket gives full access */
	old = umask(0177);
	rc = bind(s->lfd, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (rc == 0)
		rc = chmod(path, 0600);
	if (rc == 0)
		rc = listen(s->lfd, SOMAXCONN);
	if (rc < 0) {
		rc = -errno;
		snprintf(why, len, "%s: %s", path, strerror(-rc));
		return rc;
	}
	s->is_unix = true;
	strcpy(s->sock_path, path);
	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		snprintf(s->address, sizeof(s->address), "%s", path);
	else
		snprintf(s->address, sizeof(s->address), "%s/%s",
			 strcmp(cwd, "/") ? cwd : "", path);
	return 0;
}

/* Record the address @fd is bound to as HOST:PORT. */
static void note_tcp_address(struct nbd_server *s)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256] = "?", port[32] = "?";

	if (getsockname(s->lfd, (struct sockaddr *)&ss, &sl) == 0)
		getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host),
			    port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
	if (ss.ss_family == AF_INET6)
		snprintf(s->uri_host, sizeof(s->uri_host), "[%s]:%s", host,
			 port);
	else
		snprintf(s->uri_host, sizeof(s->uri_host), "%s:%s", host, port);
	snprintf(s->address, sizeof(s->address), "%s", s->uri_host);
}

static int listen_tcp(struct nbd_server *s, const char *host,
		      const char *port, char *why, size_t len)
{
	struct addrinfo hints = { 0 }, *res, *ai;
	int one = 1, rc, err = -EADDRNOTAVAIL;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		snprintf(why, len, "%s:%s: %s", host, port, gai_strerror(rc));
		return -EINVAL;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
				ai->ai_protocol);

		if (fd < 0) {
			err = -errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, SOMAXCONN) == 0) {
			s->lfd = fd;
			break;
		}
		err = -errno;
		close(fd);
	}
	freeaddrinfo(res);
	if (s->lfd < 0) {
		snprintf(why, len, "%s:%s: %s", host, port, strerror(-err));
		return err;
	}
	note_tcp_address(s);
	return 0;
}

int nbd_server_create(const struct nbd_export *ex, unsigned nr,
		      const struct nbd_listen *l, struct nbd_server **out,
		      char *why, size_t why_len)
{
	struct nbd_server *s;
	unsigned i;
	int rc;

	*out = NULL;
	why[0] = '\0';
	if (nr == 0 || nr > NBD_MAX_EXPORTS)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ex = ex;
	s->nr = nr;
	s->lfd = -1;
	for (i = 0; i < NBD_MAX_CONNS; i++)
		s->fds[i] = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle, NULL);
	if (l->socket_path)
		rc = listen_unix(s, l->socket_path, why, why_len);
	else
		rc = listen_tcp(s, l->host, l->port, why, why_len);
	if (rc) {
		if (!why[0])
			snprintf(why, why_len, "%s", strerror(-rc));
		nbd_server_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void nbd_server_free(struct nbd_server *s)
{
	if (!s)
		return;
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->is_unix)
		unlink(s->sock_path);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->idle);
	free(s);
}

void nbd_server_set_tls(struct nbd_server *s, const struct nbd_tls *tls)
{
	s->tls = tls;
}

const char *nbd_server_address(const struct nbd_server *s)
{
	return s->address;
}

/* Append @src to @dst (at *pos, @len bytes in all), percent-encoding every
 * byte but the unreserved ones and those in @keep. */
static int put_encoded(char *dst, size_t len, size_t *pos, const char *src,
		       const char *keep)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *src; src++) {
		unsigned char ch = (unsigned char)*src;
		bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9') || strchr("-._~", ch) ||
			     strchr(keep, ch);

		if (*pos + 4 >= len)
			return -ENAMETOOLONG;
		if (plain) {
			dst[(*pos)++] = (char)ch;
		} else {
			dst[(*pos)++] = '%';
			dst[(*pos)++] = hex[ch >> 4];
			dst[(*pos)++] = hex[ch & 15];
		}
	}
	dst[*pos] = '\0';
	return 0;
}

int nbd_server_uri(const struct nbd_server *s, unsigned i, char *buf,
		   size_t len)
{
	const char *scheme = nbd_tls_mode(s->tls) == NBD_TLS_OFF ? "nbd" : "nbds";
	size_t pos;
	int n;

	if (i >= s->nr)
		return -EINVAL;
	if (s->is_unix)
		n = snprintf(buf, len, "%s+unix:///", scheme);
	else
		n = snprintf(buf, len, "%s://%s/", scheme, s->uri_host);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	pos = (size_t)n;
	if (put_encoded(buf, len, &pos, s->ex[i].name, "@+:!$&'()*,;="))
		return -ENAMETOOLONG;
	if (!s->is_unix)
		return 0;
	if (pos + 9 >= len)
		return -ENAMETOOLONG;
	strcpy(buf + pos, "?socket=");
	pos += 8;
	return put_encoded(buf, len, &pos, s->address, "/@+:!$'()*,;");
}

/* ---- connections ---------------------------------------------------------- */

static void *conn_main(void *arg)
{
	struct conn_arg *ca = arg;
	struct nbd_server *s = ca->s;
	int fd = ca->fd;

	nbd_serve_connection_tls(s->ex, s->nr, s->tls, fd);
	pthread_mutex_lock(&s->lock);
	s->fds[ca->slot] = -1;
	close(fd);
	s->nconns--;
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
	free(ca);
	return NULL;
}

/* Take connection @fd on; closes it when it cannot be served. */
static void start_conn(struct nbd_server *s, int fd)
{
	struct conn_arg *ca = malloc(sizeof(*ca));
	pthread_attr_t at;
	pthread_t t;
	int one = 1, slot = -1, i;

	if (!s->is_unix)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pthread_mutex_lock(&s->lock);
	for (i = 0; ca && i < NBD_MAX_CONNS && slot < 0; i++)
		if (s->fds[i] < 0)
			slot = i;
	if (slot >= 0) {
		s->fds[slot] = fd;
		s->nconns++;
	}
	pthread_mutex_unlock(&s->lock);
	if (slot < 0) {
		free(ca);
		close(fd);
		return;
	}
	ca->s = s;
	ca->slot = slot;
	ca->fd = fd;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &at, conn_main, ca)) {
		pthread_mutex_lock(&s->lock);
		s->fds[slot] = -1;
		s->nconns--;
		pthread_mutex_unlock(&s->lock);
		close(fd);
		free(ca);
	}
	pthread_attr_destroy(&at);
}

/* Shut every connection down in direction @how (SHUT_RD, SHUT_RDWR).
 * Called with s->lock. */
static void shutdown_conns(struct nbd_server *s, int how)
{
	int i;

	for (i = 0; i < NBD_MAX_CONNS; i++)
		if (s->fds[i] >= 0)
			shutdown(s->fds[i], how);
}

/* Stop every connection reading and wait until all have closed. A client
 * that does not read its replies would block them forever: after a grace
 * period its connection is cut in both directions. */
static void stop_conns(struct nbd_server *s)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += STOP_GRACE_S;
	pthread_mutex_lock(&s->lock);
	shutdown_conns(s, SHUT_RD);
	while (s->nconns &&
	       pthread_cond_timedwait(&s->idle, &s->lock, &until) != ETIMEDOUT)
		;
	shutdown_conns(s, SHUT_RDWR);
	while (s->nconns)
		pthread_cond_wait(&s->idle, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

int nbd_server_run(struct nbd_server *s)
{
	struct sigaction sa = { 0 }, old_int, old_term;
	struct pollfd p[2];
	int pfd[2], rc = 0;
	char c;

	if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	stop_fd = pfd[1];
	sa.sa_handler = on_stop_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	signal(SIGPIPE, SIG_IGN);

	p[0].fd = s->lfd;
	p[0].events = POLLIN;
	p[1].fd = pfd[0];
	p[1].events = POLLIN;
	for (;;) {
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				poll(NULL, 0, 100); /* let connections end */
			continue;
		}
		start_conn(s, fd);
	}
	stop_conns(s);
	while (read(pfd[0], &c, 1) == 1)
		;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	stop_fd = -1;
	close(pfd[0]);
	close(pfd[1]);
	return rc;
}

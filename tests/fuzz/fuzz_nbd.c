// SPDX-License-Identifier: MIT
/*
 * fuzz_nbd.c - libFuzzer target for the NBD server: the fixed newstyle
 * handshake and the request stream (src/nbd/).
 *
 * The input is everything a client sends on one connection. The server
 * (nbd_serve_connection) runs on one end of a socketpair in the fuzzing
 * thread; a client thread writes the input to the other end, then shuts
 * its sending side, and reads and drops every reply until the server's
 * end closes, so neither side can block the other.
 *
 * Exports, made fresh for each input so a run does not depend on the
 * ones before it: "" and "vol" (an 8 MiB volume), "zoned" (an 8 MiB
 * zoned image, 4 KiB blocks, one conventional zone) and "ro" (the volume,
 * read-only). A crash, sanitizer report, leak or hang is a finding.
 *
 * To see what the server answered to one input:
 *   ZVD_FUZZ_NBD_DUMP=replies.bin fuzz_nbd INPUT
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nbd.h"
#include "zvd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct client {
	int fd;
	const uint8_t *data;
	size_t size;
	FILE *dump; /* ZVD_FUZZ_NBD_DUMP: the replies go there too */
};

/* Write the input while draining replies; then drain until the server
 * closes its end. */
static void *client_main(void *arg)
{
	struct client *cl = arg;
	static char sink[1 << 16];
	size_t pos = 0;
	bool sending = true;

	if (!cl->size) {
		shutdown(cl->fd, SHUT_WR);
		sending = false;
	}
	for (;;) {
		struct pollfd p = { cl->fd, POLLIN | (sending ? POLLOUT : 0), 0 };
		ssize_t n;

		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(cl->fd, sink, sizeof(sink), MSG_DONTWAIT);
			if (n == 0)
				break; /* the server's end is closed */
			if (n > 0 && cl->dump)
				fwrite(sink, 1, (size_t)n, cl->dump);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				break;
		}
		if (sending && (p.revents & POLLOUT)) {
			n = send(cl->fd, cl->data + pos, cl->size - pos,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0)
				pos += (size_t)n;
			if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
			    pos == cl->size) {
				/* all sent, or the server stopped reading */
				shutdown(cl->fd, SHUT_WR);
				sending = false;
			}
		}
	}
	return NULL;
}

static struct zvd_dev *make_volume(void)
{
	struct zvd_backend *be;
	struct zvd_dev *dev;

	if (zvd_backend_mem_create(&be))
		return NULL;
	if (zvd_create_volume(be, 8 << 20, &dev))
		return NULL;
	return dev;
}

static struct zvd_dev *make_zoned(void)
{
	struct zvd_backend *be;
	struct zvd_geometry g;
	struct zvd_dev *dev;

	if (zvd_backend_mem_create(&be))
		return NULL;
	zvd_geometry_default(&g);
	g.size = 8 << 20;
	g.zone_size = 1 << 20;
	g.zone_capacity = 768 << 10;
	g.nr_conv_zones = 1;
	g.max_open = 2;
	g.max_active = 3;
	if (zvd_create(be, &g, &dev))
		return NULL;
	return dev;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nbd_export ex[4];
	struct zvd_dev *vol, *zoned;
	struct client cl = { .data = data, .size = size };
	pthread_t t;
	int sv[2];

	vol = make_volume();
	zoned = make_zoned();
	if (!vol || !zoned)
		abort();
	nbd_export_init(&ex[0], "vol", vol, false);
	nbd_export_init(&ex[1], "zoned", zoned, false);
	nbd_export_init(&ex[2], "ro", vol, true);
	nbd_export_init(&ex[3], "zoned-ro", zoned, true);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	cl.fd = sv[1];
	if (getenv("ZVD_FUZZ_NBD_DUMP"))
		cl.dump = fopen(getenv("ZVD_FUZZ_NBD_DUMP"), "wb");
	if (pthread_create(&t, NULL, client_main, &cl))
		abort();
	nbd_serve_connection(ex, 4, sv[0]);
	close(sv[0]);
	pthread_join(t, NULL);
	close(sv[1]);
	if (cl.dump)
		fclose(cl.dump);
	zvd_close(vol);
	zvd_close(zoned);
	return 0;
}

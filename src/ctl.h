/* SPDX-License-Identifier: MIT */
/*
 * ctl.h - the control socket of a running zvd server, so that commands
 * such as 'zvd snapshot create' work on an image a server holds open
 * (and locked) instead of failing with "in use".
 *
 * What a server must do (exactly two calls):
 *
 *   1. after opening the image read-write with zvd_open():
 *          rc = ctl_start(dev, image_path);
 *      (a negative errno if the socket could not be made; the server may
 *      go on without it). It prints "zvd: control socket PATH" on stderr.
 *   2. on exit, before zvd_close(dev):
 *          ctl_stop();
 *
 * ctl_start() makes the Unix stream socket IMAGE.zvd-ctl (next to the
 * image file, mode 0600: only the image's owner may drive it) and a thread
 * that serves it. A stale socket left by a killed server is replaced: the
 * image's exclusive lock, which the server holds, proves no other server
 * owns it. ctl_stop() ends the thread and removes the socket of every
 * ctl_start() of the process.
 *
 * The protocol, one request per connection:
 *   request:  one line of at most CTL_LINE_MAX bytes, ended by '\n':
 *               snapshot-create NAME
 *               snapshot-delete NAME
 *               snapshot-list
 *               info
 *               gc
 *   reply:    "ok ..." or "error ERRNO MESSAGE" (ERRNO a positive errno
 *             number, MESSAGE the library's words), then the server closes
 *             the connection. Replies:
 *               snapshot-create: "ok ID NAME"
 *               snapshot-delete: "ok"
 *               snapshot-list:   "ok COUNT", then COUNT lines
 *                                "ID CREATED EXCLUSIVE_BYTES CLONES NAME"
 *               info:            "ok virtual_size=N data_bytes=N
 *                                meta_bytes=N backend_bytes=N snapshots=N"
 *               gc:              "ok SHRUNK_BYTES"
 * The requests go to the library on the server's handle, which is
 * thread-safe, so they run alongside the server's I/O.
 */
#ifndef ZVD_CTL_H
#define ZVD_CTL_H

#include <stddef.h>

#include <zvd.h>

#define CTL_SUFFIX ".zvd-ctl"
#define CTL_LINE_MAX 256

/* Serve the control socket of @image_path for @dev (see above). @dev must
 * stay open until ctl_stop() returns. Returns 0 or -errno. */
int ctl_start(struct zvd_dev *dev, const char *image_path);

/* Stop every control socket this process started; accepts none. */
void ctl_stop(void);

/* The socket path of @image_path into @buf. Returns 0 or -ENAMETOOLONG. */
int ctl_socket_path(const char *image_path, char *buf, size_t len);

/*
 * Client side: send @request (no newline) to the server of @image_path and
 * store its whole reply, NUL-terminated, in *reply (to free()). Returns 0
 * when a reply came (it may be an "error" one), -ENOENT when no server
 * listens there, or another -errno.
 */
int ctl_request(const char *image_path, const char *request, char **reply);

#endif /* ZVD_CTL_H */

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""nbd_hostile.py - a raw NBD client that breaks the protocol on purpose.

usage: nbd_hostile.py SOCKET EXPORT SIZE SCENARIO...

Each SCENARIO connects to the Unix socket SOCKET, misbehaves in one way and
checks the server's answer: the error the protocol defines, or a closed
connection. Prints "ok SCENARIO" or "not ok SCENARIO: why" per scenario
and exits 1 if any failed. EXPORT is the export's name and SIZE its size in
bytes; 'list' prints the scenario names.

Written from the protocol (docs/NBD.md, the NBD proto.md); no library.
"""
import socket
import struct
import sys
import time

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
REPLY_MAGIC = 0x0003E889045565A9
REQ_MAGIC = 0x25609513
SIMPLE_MAGIC = 0x67446698
CHUNK_MAGIC = 0x668E33EF

OPT_EXPORT_NAME, OPT_ABORT, OPT_LIST, OPT_STARTTLS = 1, 2, 3, 5
OPT_INFO, OPT_GO, OPT_STRUCTURED = 6, 7, 8
OPT_LIST_META, OPT_SET_META = 9, 10
REP_ACK, REP_SERVER, REP_INFO, REP_META = 1, 2, 3, 4
ERR_UNSUP, ERR_POLICY, ERR_INVALID = 0x80000001, 0x80000002, 0x80000003
ERR_UNKNOWN, ERR_TOO_BIG = 0x80000006, 0x80000009

CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH, CMD_TRIM = 0, 1, 2, 3, 4
CMD_CACHE, CMD_WRITE_ZEROES, CMD_BLOCK_STATUS = 5, 6, 7
FLAG_FUA, FLAG_DF, FLAG_REQ_ONE = 1, 4, 8
EPERM, EIO, EINVAL, ENOSPC, EOVERFLOW = 1, 5, 22, 28, 75


class Closed(Exception):
    pass


class Fail(Exception):
    pass


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(path)
        self.cookie = 0

    def recv(self, n):
        b = b""
        while len(b) < n:
            try:
                k = self.s.recv(n - len(b))
            except ConnectionResetError:
                k = b""
            if not k:
                raise Closed("closed after %d of %d bytes" % (len(b), n))
            b += k
        return b

    def send(self, b):
        self.s.sendall(b)

    def close(self):
        self.s.close()

    def is_closed(self):
        """True when the server has closed the connection (EOF within
        a few seconds, no more data)."""
        try:
            self.s.settimeout(5)
            return self.s.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    # -- handshake --
    def greet(self, flags=3):
        magic, opt, hflags = struct.unpack(">QQH", self.recv(18))
        if magic != NBDMAGIC or opt != IHAVEOPT:
            raise Fail("bad greeting")
        if not hflags & 1:
            raise Fail("server is not fixed newstyle")
        self.send(struct.pack(">I", flags))

    def option(self, opt, data=b""):
        self.send(struct.pack(">QII", IHAVEOPT, opt, len(data)) + data)

    def reply(self, opt):
        magic, o, typ, ln = struct.unpack(">QIII", self.recv(20))
        if magic != REPLY_MAGIC:
            raise Fail("bad option reply magic %#x" % magic)
        if o != opt:
            raise Fail("reply for option %d, expected %d" % (o, opt))
        return typ, self.recv(ln)

    def expect_reply(self, opt, want):
        typ, data = self.reply(opt)
        if typ != want:
            raise Fail("option %d: reply %#x, expected %#x (%r)" %
                       (opt, typ, want, data[:80]))
        return data

    def go(self, name, structured=True, meta=False):
        if structured:
            self.option(OPT_STRUCTURED)
            self.expect_reply(OPT_STRUCTURED, REP_ACK)
        if meta:
            q = b"base:allocation"
            n = name.encode()
            self.option(OPT_SET_META, struct.pack(">I", len(n)) + n +
                        struct.pack(">II", 1, len(q)) + q)
            self.expect_reply(OPT_SET_META, REP_META)
            self.expect_reply(OPT_SET_META, REP_ACK)
        n = name.encode()
        self.option(OPT_GO, struct.pack(">I", len(n)) + n +
                    struct.pack(">H", 0))
        self.size = self.flags = None
        while True:
            typ, data = self.reply(OPT_GO)
            if typ == REP_ACK:
                break
            if typ != REP_INFO:
                raise Fail("GO: reply %#x %r" % (typ, data[:80]))
            if struct.unpack(">H", data[:2])[0] == 0:
                _, self.size, self.flags = struct.unpack(">HQH", data)
        if self.size is None:
            raise Fail("GO: no INFO_EXPORT before ACK")
        self.structured = structured

    # -- transmission --
    def request(self, cmd, off=0, length=0, flags=0, payload=b""):
        self.cookie += 1
        self.send(struct.pack(">IHHQQI", REQ_MAGIC, flags, cmd, self.cookie,
                              off, length) + payload)
        return self.cookie

    def simple_reply(self, cookie, datalen=0):
        magic, err, c = struct.unpack(">IIQ", self.recv(16))
        if magic != SIMPLE_MAGIC:
            raise Fail("reply magic %#x, expected a simple reply" % magic)
        if c != cookie:
            raise Fail("reply for cookie %d, expected %d" % (c, cookie))
        data = self.recv(datalen) if err == 0 and datalen else b""
        return err, data

    def structured_reply(self, cookie):
        """All chunks of one structured reply: (error, data, extents)."""
        err, data, ext = 0, b"", []
        while True:
            magic, fl, typ, c, ln = struct.unpack(">IHHQI", self.recv(20))
            if magic != CHUNK_MAGIC:
                raise Fail("chunk magic %#x" % magic)
            if c != cookie:
                raise Fail("chunk for cookie %d, expected %d" % (c, cookie))
            body = self.recv(ln)
            if typ == 1:
                data += body[8:]
            elif typ == 5:
                for i in range(4, ln, 8):
                    ext.append(struct.unpack(">II", body[i:i + 8]))
            elif typ & 0x8000:
                err = struct.unpack(">I", body[:4])[0]
            if fl & 1:
                return err, data, ext

    def read(self, off, length, flags=0):
        c = self.request(CMD_READ, off, length, flags)
        if self.structured:
            err, data, _ = self.structured_reply(c)
            return err, data
        return self.simple_reply(c, length)

    def simple(self, cmd, off=0, length=0, flags=0, payload=b""):
        c = self.request(cmd, off, length, flags, payload)
        return self.simple_reply(c)[0]


def expect(what, got, want):
    if got != want:
        raise Fail("%s: got %r, expected %r" % (what, got, want))


def expect_closed(c, what):
    if not c.is_closed():
        raise Fail("%s: the server kept the connection open" % what)


# ---- scenarios: each takes (path, export, size) ----------------------------

def sc_bad_client_flags(p, name, size):
    c = Conn(p)
    c.greet(flags=1 | 4)  # an unknown client flag
    expect_closed(c, "unknown client flag")


def sc_bad_option_magic(p, name, size):
    c = Conn(p)
    c.greet()
    c.send(struct.pack(">QII", 0x1122334455667788, OPT_GO, 0))
    expect_closed(c, "bad option magic")


def sc_truncated_option(p, name, size):
    c = Conn(p)
    c.greet()
    c.send(struct.pack(">QII", IHAVEOPT, OPT_GO, 100) + b"\0\0")
    c.close()  # vanish with 98 bytes owed


def sc_truncated_greeting(p, name, size):
    c = Conn(p)
    c.recv(18)
    c.send(b"\0\0")  # half the client flags
    c.close()


def sc_unknown_option(p, name, size):
    c = Conn(p)
    c.greet()
    c.option(99, b"hello")
    c.expect_reply(99, ERR_UNSUP)
    c.option(0x7FFFFFFF)
    c.expect_reply(0x7FFFFFFF, ERR_UNSUP)
    c.go(name)  # still in step
    expect("size", c.size, size)


def sc_starttls_refused(p, name, size):
    c = Conn(p)
    c.greet()
    c.option(OPT_STARTTLS)
    typ, _ = c.reply(OPT_STARTTLS)
    if typ not in (ERR_UNSUP, ERR_POLICY):
        raise Fail("STARTTLS: reply %#x" % typ)
    c.go(name)


def sc_big_option(p, name, size):
    c = Conn(p)
    c.greet()
    c.option(OPT_GO, b"\0" * (200 << 10))
    typ, _ = c.reply(OPT_GO)
    if typ not in (ERR_TOO_BIG, ERR_INVALID):
        raise Fail("200 KiB GO: reply %#x" % typ)
    c.go(name)


def sc_huge_option(p, name, size):
    c = Conn(p)
    c.greet()
    c.send(struct.pack(">QII", IHAVEOPT, 99, 0xFFFFFFFF))
    expect_closed(c, "a 4 GiB option")


def sc_bad_info_lengths(p, name, size):
    c = Conn(p)
    c.greet()
    n = name.encode()
    # name length past the option's end
    c.option(OPT_GO, struct.pack(">I", 1000) + n + b"\0\0")
    c.expect_reply(OPT_GO, ERR_INVALID)
    # two information requests announced, one sent
    c.option(OPT_INFO, struct.pack(">I", len(n)) + n +
             struct.pack(">HH", 2, 0))
    c.expect_reply(OPT_INFO, ERR_INVALID)
    # too short to hold the lengths
    c.option(OPT_GO, b"\0\0\0")
    c.expect_reply(OPT_GO, ERR_INVALID)
    c.go(name)


def sc_unknown_export(p, name, size):
    c = Conn(p)
    c.greet()
    for bad in (b"nope", b"../" + name.encode(), b"/etc/passwd",
                name.encode() + b"\0", name.encode() + b"@s"):
        c.option(OPT_GO, struct.pack(">I", len(bad)) + bad + b"\0\0")
        c.expect_reply(OPT_GO, ERR_UNKNOWN)
    c.option(OPT_EXPORT_NAME, b"/etc/passwd")
    expect_closed(c, "EXPORT_NAME of an unknown export")


def sc_list_with_data(p, name, size):
    c = Conn(p)
    c.greet()
    c.option(OPT_LIST, b"x")
    c.expect_reply(OPT_LIST, ERR_INVALID)
    c.option(OPT_LIST)
    names = []
    while True:
        typ, data = c.reply(OPT_LIST)
        if typ == REP_ACK:
            break
        expect("LIST reply", typ, REP_SERVER)
        ln = struct.unpack(">I", data[:4])[0]
        names.append(data[4:4 + ln].decode())
    if name not in names:
        raise Fail("LIST: %r not in %r" % (name, names))


def sc_meta_without_structured(p, name, size):
    c = Conn(p)
    c.greet()
    n = name.encode()
    q = b"base:allocation"
    c.option(OPT_SET_META, struct.pack(">I", len(n)) + n +
             struct.pack(">II", 1, len(q)) + q)
    c.expect_reply(OPT_SET_META, ERR_INVALID)
    c.option(OPT_STRUCTURED)
    c.expect_reply(OPT_STRUCTURED, REP_ACK)
    # a query longer than the option
    c.option(OPT_SET_META, struct.pack(">I", len(n)) + n +
             struct.pack(">II", 1, 500) + q)
    c.expect_reply(OPT_SET_META, ERR_INVALID)
    c.go(name, structured=False)


def sc_abort(p, name, size):
    c = Conn(p)
    c.greet()
    c.option(OPT_ABORT)
    c.expect_reply(OPT_ABORT, REP_ACK)
    expect_closed(c, "ABORT")


def sc_export_name_old_style(p, name, size):
    c = Conn(p)
    c.greet(flags=1)  # no NO_ZEROES: 124 zero bytes follow
    c.option(OPT_EXPORT_NAME, name.encode())
    sz, fl = struct.unpack(">QH", c.recv(10))
    expect("size", sz, size)
    expect("padding", c.recv(124), b"\0" * 124)
    c.structured = False
    err, data = c.read(0, 4096)
    expect("read", err, 0)


def sc_bad_requests(p, name, size):
    c = Conn(p)
    c.greet()
    c.go(name)
    expect("unknown command", c.simple(99), EINVAL)
    expect("unknown flag", c.simple(CMD_FLUSH, flags=1 << 9), EINVAL)
    expect("flush with offset", c.simple(CMD_FLUSH, 4096, 0), EINVAL)
    expect("unaligned read", c.read(100, 512)[0], EINVAL)
    expect("unaligned length", c.read(0, 100)[0], EINVAL)
    expect("read past the end", c.read(size, 512)[0], EINVAL)
    expect("read overflowing", c.read(2**64 - 512, 1024)[0], EINVAL)
    expect("oversize read", c.read(0, 64 << 20)[0], EOVERFLOW)
    expect("DF on a simple flag", c.simple(CMD_WRITE, 0, 512, FLAG_DF,
                                           b"\0" * 512), EINVAL)
    expect("REQ_ONE on read", c.read(0, 512, FLAG_REQ_ONE)[0], EINVAL)
    bs = c.request(CMD_BLOCK_STATUS, 0, 4096)
    expect("block status without a context",
           c.structured_reply(bs)[0], EINVAL)
    expect("write past the end",
           c.simple(CMD_WRITE, size, 4096, 0, b"\xee" * 4096), ENOSPC)
    expect("write overflowing",
           c.simple(CMD_WRITE, 2**64 - 512, 1024, 0, b"\xee" * 1024), ENOSPC)
    # a refused write's payload was consumed: the stream is in step
    err, data = c.read(0, 512)
    expect("read after refused writes", err, 0)
    expect("cache", c.simple(CMD_CACHE, 0, 1 << 20), 0)
    expect("cache past the end", c.simple(CMD_CACHE, size, 512), EINVAL)


def sc_oversize_write(p, name, size):
    c = Conn(p)
    c.greet()
    c.go(name)
    ln = (32 << 20) + 4096
    err = c.simple(CMD_WRITE, 0, ln, 0, b"\xab" * ln)
    if err not in (EINVAL, EOVERFLOW):
        raise Fail("a %d-byte write: error %d" % (ln, err))
    expect("read after", c.read(0, 512)[0], 0)


def sc_bad_request_magic(p, name, size):
    c = Conn(p)
    c.greet()
    c.go(name)
    c.send(struct.pack(">IHHQQI", 0xDEADBEEF, 0, CMD_READ, 1, 0, 512))
    expect_closed(c, "bad request magic")


def sc_vanish_mid_write(p, name, size):
    c = Conn(p)
    c.greet()
    c.go(name)
    c.send(struct.pack(">IHHQQI", REQ_MAGIC, 0, CMD_WRITE, 7, 0, 1 << 20) +
           b"\x99" * (100 << 10))
    c.close()


def sc_vanish_mid_header(p, name, size):
    c = Conn(p)
    c.greet()
    c.go(name)
    c.send(struct.pack(">IHH", REQ_MAGIC, 0, CMD_READ))
    c.close()


def sc_pipelined_then_vanish(p, name, size):
    c = Conn(p)
    c.greet()
    c.go(name)
    for i in range(64):
        c.request(CMD_READ, (i * 4096) % size, 4096)
    c.close()  # never read the replies


def sc_many_handshakes(p, name, size):
    conns = []
    for i in range(50):
        c = Conn(p)
        if i % 2:
            c.greet()
        conns.append(c)
    for c in conns:
        c.close()


def sc_structured_errors(p, name, size):
    c = Conn(p)
    c.greet()
    c.go(name, structured=True, meta=True)
    err, data = c.read(size, 512)
    expect("structured read past the end", err, EINVAL)
    cookie = c.request(CMD_BLOCK_STATUS, 0, 8192, FLAG_REQ_ONE)
    err, _, ext = c.structured_reply(cookie)
    expect("block status", err, 0)
    if len(ext) != 1 or ext[0][0] == 0 or ext[0][0] > 8192:
        raise Fail("REQ_ONE block status: extents %r" % ext)
    cookie = c.request(CMD_BLOCK_STATUS, size - 512, 4096)
    expect("block status past the end", c.structured_reply(cookie)[0],
           EINVAL)
    err, data = c.read(0, 4096, FLAG_DF)
    expect("DF read", (err, len(data)), (0, 4096))


def sc_readonly_write(p, name, size):
    c = Conn(p)
    c.greet()
    c.go(name)
    if not c.flags & 2:
        raise Fail("export not advertised read-only (flags %#x)" % c.flags)
    expect("write", c.simple(CMD_WRITE, 0, 512, 0, b"\1" * 512), EPERM)
    expect("trim", c.simple(CMD_TRIM, 0, 4096), EPERM)
    expect("write zeroes", c.simple(CMD_WRITE_ZEROES, 0, 4096), EPERM)
    expect("flush", c.simple(CMD_FLUSH), 0)
    expect("read", c.read(0, 512)[0], 0)


def sc_disconnect(p, name, size):
    c = Conn(p)
    c.greet()
    c.go(name)
    c.request(CMD_DISC)
    expect_closed(c, "DISC")


def hold_not_reading(p, name, size):
    """Pile up reads without reading a reply, then stay connected (not a
    scenario: serve.sh stops the server meanwhile)."""
    c = Conn(p)
    c.greet()
    c.go(name)
    for i in range(256):
        c.request(CMD_READ, 0, 1 << 20)
    time.sleep(60)


SCENARIOS = {k[3:]: v for k, v in sorted(globals().items())
             if k.startswith("sc_")}


def main():
    if len(sys.argv) == 5 and sys.argv[4] == "hold_not_reading":
        hold_not_reading(sys.argv[1], sys.argv[2], int(sys.argv[3]))
        return 0
    if len(sys.argv) >= 2 and sys.argv[1] == "list":
        print(" ".join(SCENARIOS))
        return 0
    if len(sys.argv) < 5:
        print(__doc__)
        return 2
    path, name, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    failed = 0
    for sc in sys.argv[4:]:
        try:
            SCENARIOS[sc](path, name, size)
            print("ok %s" % sc)
        except (Fail, Closed, OSError) as e:
            print("not ok %s: %s" % (sc, e))
            failed = 1
    return failed


if __name__ == "__main__":
    sys.exit(main())

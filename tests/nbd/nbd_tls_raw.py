#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""nbd_tls_raw.py - a raw NBD client for the TLS parts of the handshake.

usage: nbd_tls_raw.py ADDRESS EXPORT CA_CERT SCENARIO...

ADDRESS is a Unix socket path or HOST:PORT; EXPORT the export's name;
CA_CERT the CA that signed the server's X.509 certificate (only the
x509_* scenarios use it; "-" otherwise). Each SCENARIO connects, does one
thing and checks the server's answer. Prints "ok SCENARIO" or
"not ok SCENARIO: why" and exits 1 if any failed; 'list' prints the
scenario names.

Written from the protocol (docs/NBD.md, the NBD proto.md); no NBD library.
"""
import os
import socket
import ssl
import struct
import sys

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
REPLY_MAGIC = 0x0003E889045565A9
REQ_MAGIC = 0x25609513
SIMPLE_MAGIC = 0x67446698

OPT_EXPORT_NAME, OPT_ABORT, OPT_LIST, OPT_STARTTLS = 1, 2, 3, 5
OPT_INFO, OPT_GO, OPT_STRUCTURED = 6, 7, 8
REP_ACK, REP_SERVER, REP_INFO = 1, 2, 3
ERR_POLICY, ERR_INVALID, ERR_TLS_REQD = 0x80000002, 0x80000003, 0x80000005
FLAG_SEND_DF = 1 << 7
CMD_READ, CMD_DISC = 0, 2


class Closed(Exception):
    pass


class Fail(Exception):
    pass


class Conn:
    def __init__(self, addr):
        if ":" in addr and not addr.startswith("/"):
            host, port = addr.rsplit(":", 1)
            self.s = socket.create_connection((host, int(port)), timeout=10)
        else:
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.s.settimeout(10)
            self.s.connect(addr)

    def recv(self, n):
        b = b""
        while len(b) < n:
            try:
                k = self.s.recv(n - len(b))
            except (ConnectionResetError, ssl.SSLError):
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
        """True when the server closes the connection within a few
        seconds, having sent at most a short TLS alert first."""
        got = b""
        try:
            self.s.settimeout(5)
            while len(got) <= 64:
                k = self.s.recv(64)
                if not k:
                    return True
                got += k
            return False
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            return True
        except socket.timeout:
            return False

    def greet(self, flags=3):
        magic, opt, hflags = struct.unpack(">QQH", self.recv(18))
        if magic != NBDMAGIC or opt != IHAVEOPT or not hflags & 1:
            raise Fail("bad greeting")
        self.send(struct.pack(">I", flags))

    def option(self, opt, data=b""):
        return struct.pack(">QII", IHAVEOPT, opt, len(data)) + data

    def send_option(self, opt, data=b""):
        self.send(self.option(opt, data))

    def reply(self, opt):
        magic, o, typ, ln = struct.unpack(">QIII", self.recv(20))
        if magic != REPLY_MAGIC or o != opt:
            raise Fail("bad option reply (magic %#x, option %d)" % (magic, o))
        return typ, self.recv(ln)

    def expect(self, opt, want):
        typ, data = self.reply(opt)
        if typ != want:
            raise Fail("option %d: reply %#x, expected %#x (%r)" %
                       (opt, typ, want, data[:80]))
        return data

    def starttls_ack(self):
        self.send_option(OPT_STARTTLS)
        self.expect(OPT_STARTTLS, REP_ACK)

    def wrap(self, ca):
        ctx = ssl.create_default_context(cafile=ca)
        ctx.check_hostname = False  # the name is not what is tested here
        self.s = ctx.wrap_socket(self.s, server_hostname="localhost")


def go_payload(name):
    n = name.encode()
    return struct.pack(">I", len(n)) + n + struct.pack(">H", 0)


# -- scenarios -----------------------------------------------------------------

def sc_tls_reqd(a, name, ca):
    """--tls require: options before STARTTLS get ERR_TLS_REQD; ABORT
    still gets its ACK."""
    c = Conn(a)
    c.greet()
    for opt, data in ((OPT_GO, go_payload(name)), (OPT_INFO, go_payload(name)),
                      (OPT_LIST, b""), (OPT_STRUCTURED, b""), (99, b"xyz")):
        c.send_option(opt, data)
        c.expect(opt, ERR_TLS_REQD)
    c.send_option(OPT_ABORT)
    c.expect(OPT_ABORT, REP_ACK)
    c.close()


def sc_export_name_plain(a, name, ca):
    """--tls require: EXPORT_NAME before STARTTLS (no error reply exists)
    closes the connection."""
    c = Conn(a)
    c.greet()
    c.send_option(OPT_EXPORT_NAME, name.encode())
    if not c.is_closed():
        raise Fail("EXPORT_NAME without TLS was not refused")


def sc_no_fixed_newstyle(a, name, ca):
    """--tls require: a client without fixed newstyle cannot do TLS."""
    c = Conn(a)
    c.greet(flags=0)
    if not c.is_closed():
        raise Fail("a client that cannot do STARTTLS was kept")


def sc_starttls_data(a, name, ca):
    """STARTTLS with data: ERR_INVALID, and the stream stays in step."""
    c = Conn(a)
    c.greet()
    c.send_option(OPT_STARTTLS, b"junk")
    c.expect(OPT_STARTTLS, ERR_INVALID)
    c.send_option(OPT_ABORT)
    c.expect(OPT_ABORT, REP_ACK)
    c.close()


def sc_starttls_pipelined(a, name, ca):
    """Plain bytes sent behind STARTTLS (a man in the middle's injection)
    are never taken: the connection closes, without an ACK."""
    c = Conn(a)
    c.greet()
    c.send(c.option(OPT_STARTTLS) + c.option(OPT_GO, go_payload(name)))
    try:
        typ, _ = c.reply(OPT_STARTTLS)
    except Closed:
        return
    raise Fail("STARTTLS with bytes behind it got reply %#x" % typ)


def sc_starttls_garbage(a, name, ca):
    """STARTTLS, then bytes that are no TLS handshake: closed. (Random
    bytes could look like the start of a long record, which the server
    waits for until its handshake timeout; these cannot.)"""
    c = Conn(a)
    c.greet()
    c.starttls_ack()
    c.send(b"GET / HTTP/1.1\r\n\r\n" + bytes(600))
    if not c.is_closed():
        raise Fail("garbage instead of a TLS handshake was not refused")


def sc_starttls_nbd_instead(a, name, ca):
    """STARTTLS, then plain NBD options as if nothing happened: closed."""
    c = Conn(a)
    c.greet()
    c.starttls_ack()
    c.send(c.option(OPT_GO, go_payload(name)))
    if not c.is_closed():
        raise Fail("plain options after STARTTLS were not refused")


def sc_starttls_half_hello(a, name, ca):
    """STARTTLS, then half a TLS record, then gone."""
    c = Conn(a)
    c.greet()
    c.starttls_ack()
    c.send(b"\x16\x03\x01\x02\x00" + os.urandom(40))
    c.close()


def sc_starttls_vanish(a, name, ca):
    """STARTTLS, then gone before any handshake."""
    c = Conn(a)
    c.greet()
    c.starttls_ack()
    c.close()


def sc_x509_starttls_twice(a, name, ca):
    """Over TLS, a second STARTTLS gets ERR_INVALID."""
    c = Conn(a)
    c.greet()
    c.starttls_ack()
    c.wrap(ca)
    c.send_option(OPT_STARTTLS)
    c.expect(OPT_STARTTLS, ERR_INVALID)
    c.send_option(OPT_ABORT)
    c.expect(OPT_ABORT, REP_ACK)
    c.close()


def sc_x509_plain_state_dropped(a, name, ca):
    """Structured replies negotiated in plain text do not survive
    STARTTLS: GO over TLS then advertises no SEND_DF, and a READ gets a
    simple reply."""
    c = Conn(a)
    c.greet()
    c.send_option(OPT_STRUCTURED)
    c.expect(OPT_STRUCTURED, REP_ACK)
    c.starttls_ack()
    c.wrap(ca)
    c.send_option(OPT_GO, go_payload(name))
    flags = None
    while True:
        typ, data = c.reply(OPT_GO)
        if typ == REP_ACK:
            break
        if typ != REP_INFO:
            raise Fail("GO over TLS: reply %#x %r" % (typ, data[:80]))
        if struct.unpack(">H", data[:2])[0] == 0:
            _, _, flags = struct.unpack(">HQH", data)
    if flags is None or flags & FLAG_SEND_DF:
        raise Fail("transmission flags %r after STARTTLS" % flags)
    c.send(struct.pack(">IHHQQI", REQ_MAGIC, 0, CMD_READ, 7, 0, 4096))
    magic, err, cookie = struct.unpack(">IIQ", c.recv(16))
    if magic != SIMPLE_MAGIC or err or cookie != 7:
        raise Fail("READ over TLS: magic %#x error %d" % (magic, err))
    c.recv(4096)
    c.send(struct.pack(">IHHQQI", REQ_MAGIC, 0, CMD_DISC, 8, 0, 0))
    c.close()


SCENARIOS = {k[3:]: v for k, v in sorted(globals().items())
             if k.startswith("sc_")}


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "list":
        print("\n".join(SCENARIOS))
        return 0
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    addr, name, ca = sys.argv[1:4]
    bad = 0
    for sc in sys.argv[4:]:
        try:
            SCENARIOS[sc](addr, name, ca)
            print("ok", sc)
        except (Fail, Closed, OSError, ssl.SSLError) as e:
            print("not ok %s: %s" % (sc, e))
            bad = 1
    return bad


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of fuzz_nbd (tests/fuzz/corpus/nbd): what a client
sends on one connection, from client flags through the handshake to the
requests. Run from anywhere; rewrites the seed files it names."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "nbd")

IHAVEOPT = 0x49484156454F5054
REQ_MAGIC = 0x25609513
OPT_EXPORT_NAME, OPT_ABORT, OPT_LIST, OPT_STARTTLS, OPT_INFO, OPT_GO = 1, 2, 3, 5, 6, 7
OPT_STRUCTURED, OPT_LIST_META, OPT_SET_META = 8, 9, 10
READ, WRITE, DISC, FLUSH, TRIM, CACHE, WZ, BS = range(8)
FUA, NO_HOLE, DF, REQ_ONE, FAST_ZERO = 1, 2, 4, 8, 16


def flags(no_zeroes=True):
    return struct.pack(">I", 1 | (2 if no_zeroes else 0))


def opt(o, data=b""):
    return struct.pack(">QII", IHAVEOPT, o, len(data)) + data


def go(name=b"", infos=(), o=OPT_GO):
    return opt(o, struct.pack(">I", len(name)) + name +
               struct.pack(">H", len(infos)) +
               b"".join(struct.pack(">H", i) for i in infos))


def meta(name=b"", queries=(b"base:allocation",), o=OPT_SET_META):
    d = struct.pack(">I", len(name)) + name + struct.pack(">I", len(queries))
    for q in queries:
        d += struct.pack(">I", len(q)) + q
    return opt(o, d)


def req(t, off=0, length=0, fl=0, cookie=1, payload=b""):
    return struct.pack(">IHHQQI", REQ_MAGIC, fl, t, cookie, off, length) + payload


def disc():
    return req(DISC, cookie=99)


def hs(name=b"", structured=True, set_meta=True):
    s = flags()
    if structured:
        s += opt(OPT_STRUCTURED)
    if set_meta:
        s += meta(name)
    return s + go(name, (3,))


seeds = {
    "go_disc": hs(structured=False, set_meta=False) + disc(),
    "go_read": hs() + req(READ, 0, 4096) + req(READ, 8192, 512, DF, 2) + disc(),
    "go_write": hs() + req(WRITE, 4096, 1024, FUA, 3, b"\xa5" * 1024) +
    req(READ, 4096, 4096, 0, 4) + disc(),
    "go_flush": hs() + req(WRITE, 0, 512, 0, 5, b"z" * 512) + req(FLUSH, cookie=6) + disc(),
    "go_trim": hs() + req(WRITE, 0, 1024, 0, 7, bytes(range(256)) * 4) +
    req(TRIM, 0, 4096, 0, 8) + req(WZ, 4096, 4096, NO_HOLE, 9) +
    req(WZ, 0, 8192, FAST_ZERO, 10) + disc(),
    "go_block_status": hs() + req(WRITE, 65536, 512, 0, 11, b"b" * 512) +
    req(BS, 0, 1 << 20, 0, 12) + req(BS, 0, 1 << 20, REQ_ONE, 13) +
    req(CACHE, 0, 4096, 0, 14) + disc(),
    "export_name": flags(False) + opt(OPT_STRUCTURED) +
    opt(OPT_EXPORT_NAME, b"vol") + req(READ, 0, 512) + disc(),
    "options": flags() + opt(OPT_LIST) + go(b"zoned", (0, 1, 2, 3), OPT_INFO) +
    opt(OPT_STARTTLS) + opt(99, b"junk") + opt(OPT_STRUCTURED) +
    meta(b"vol", (b"base:",), OPT_LIST_META) + meta(b"vol", (), OPT_LIST_META) +
    opt(OPT_ABORT),
    "zoned": hs(b"zoned") + req(WRITE, 0, 4096, 0, 1, b"q" * 4096) +
    req(WRITE, 1 << 20, 4096, 0, 2, b"s" * 4096) + req(TRIM, 0, 4096, 0, 3) +
    req(BS, 0, 3 << 20, 0, 4) + req(READ, 1 << 20, 8192, 0, 5) + disc(),
    "readonly": hs(b"ro") + req(WRITE, 0, 512, 0, 1, b"r" * 512) +
    req(TRIM, 0, 512, 0, 2) + req(FLUSH, cookie=3) + req(READ, 0, 512, 0, 4) + disc(),
    "bad_requests": hs() + req(READ, 1, 512) + req(READ, (8 << 20) - 512, 1024, 0, 2) +
    req(WRITE, 1 << 62, 512, 0, 3, b"w" * 512) + req(FLUSH, 0, 1, 0, 4) +
    req(42, 0, 0, 0, 5) + req(READ, 0, 512, 0x8000, 6) + disc(),
    "pipelined": hs() + b"".join(req(WRITE, 512 * i, 512, 0, i, bytes([i]) * 512)
                                 for i in range(16)) +
    b"".join(req(READ, 512 * i, 512, 0, 100 + i) for i in range(16)) + disc(),
}

os.makedirs(OUT, exist_ok=True)
for name, blob in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(blob)

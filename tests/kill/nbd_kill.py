#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""nbd_kill.py - kill -9 'zvd serve --nbd' under a verifying load.

usage: nbd_kill.py ZVD IMAGE KIND KILLS SEED

KIND is "volume" (the whole export is checked) or "zoned" (an image whose
first ZONED_CONV bytes are conventional zones; only those are written).
One cycle: start the server on IMAGE, read the whole device back and
check it against the model, run the load, SIGKILL the server after a
random delay, run 'zvd check IMAGE' (must say clean). After KILLS cycles
the server is started once more, checked, stopped with SIGTERM and the
image checked again.

The load, raw NBD over the Unix socket (fixed newstyle, simple replies,
no library), all connections sharing the model under one lock:
- CONNS "random" connections with up to QD requests in flight each: 1-4
  block writes (some FUA), and on a volume TRIM and WRITE_ZEROES, over
  the random region; FLUSH every so often. No two requests in flight
  touch the same block, so each block's history is in the order the
  server applied it.
- one "serial" connection, one request in flight at a time, over its own
  region: its acknowledged order is total, so on a volume what survives
  of it must be a prefix (docs/VOLUMES.md).

Every 512-byte sector written says what it is (block, generation, sector)
and the rest of its bytes are a function of those, so any sector read
back is zeros, exactly one sector some write of this block sent, or
garbage. The model keeps, per block, the operations sent on it; each
acknowledgement takes the next number of a global counter. A FLUSH notes
the counter when it is sent and, once acknowledged, raises the floor to
it (a FUA write makes itself durable, and on a volume everything
acknowledged before it was sent). After a kill a block's sectors must
each come from its floor operation (the last one acknowledged at or
below the floor) or from an operation sent after it, acknowledged or
not; a value from before the floor is a lost flushed write, anything
else wrong bytes. A volume block must not mix operations (no tearing);
a zoned image's conventional block may (un-flushed overwrites tear at
512-byte sectors, docs/ARCHITECTURE.md). What was read becomes the next
cycle's baseline.

Prints "# " lines (per-kill trouble, the summary) and a last line
"RESULT ok" or "RESULT fail"; exits 1 on any failure. Environment:
ZVD_KILL_MAXDELAY (seconds of load before a kill, default 1.0),
ZVD_KILL_CONNS (4), ZVD_KILL_QD (8).

Hooks for other back ends (tests/rados/kill.sh), all unset by default:
ZVD_KILL_SERVE_ARGS (more arguments for 'zvd serve', split as the shell
would), ZVD_KILL_SOCKET (the socket, default IMAGE.nbd.sock),
ZVD_KILL_BETWEEN (a shell command run after each kill, before 'zvd
check' and the restart; failing fails the cycle), ZVD_KILL_LOSSY=1 (what
the server acknowledged may be lost, say with its write-back cache
deleted: a block may go back to any earlier value, but still no bytes
nobody wrote, no tearing, and the prefix checks hold; the flushed writes
lost are counted, not failed).
"""
import hashlib
import os
import random
import shlex
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
import zlib

BS = 4096
SECT = 512
SPB = BS // SECT
MIB = 1 << 20
ZONED_CONV = 32 * MIB  # see nbd_kill.sh: 4 conventional zones of 8 MiB
SERIAL_BLOCKS = 256

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
REPLY_MAGIC = 0x0003E889045565A9
REQ_MAGIC = 0x25609513
SIMPLE_MAGIC = 0x67446698
OPT_GO, REP_ACK, REP_INFO = 7, 1, 3
CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH = 0, 1, 2, 3
CMD_TRIM, CMD_WRITE_ZEROES = 4, 6
FLAG_FUA = 1
MAGIC = b"ZVDKILL1"
ZEROS = bytes(SECT)


class Closed(Exception):
    pass


# ---- content ---------------------------------------------------------------

def sector(blk, gen, s):
    """The 512 bytes sector s of block blk holds after write generation gen."""
    h = struct.pack(">8sQQI", MAGIC, blk, gen, s)
    fill = hashlib.blake2b(h, digest_size=64).digest() * 8
    body = h + fill[:SECT - 4 - len(h)]
    return body + struct.pack(">I", zlib.crc32(body))


def block_data(blk, gen):
    return b"".join(sector(blk, gen, s) for s in range(SPB))


def sector_value(blk, s, data):
    """0 for zeros, the generation for a sector some write of blk sent,
    None for anything else."""
    if data == ZEROS:
        return 0
    magic, b, gen, si = struct.unpack(">8sQQI", data[:28])
    if magic == MAGIC and b == blk and si == s and gen > 0 and \
            data == sector(blk, gen, s):
        return gen
    return None


def describe(data):
    if data == ZEROS:
        return "zeros"
    magic, b, gen, si = struct.unpack(">8sQQI", data[:28])
    if magic == MAGIC:
        return "block %d gen %d sector %d%s" % (
            b, gen, si, "" if data == sector(b, gen, si) else " (damaged)")
    return "garbage %s" % data[:16].hex()


def short(vals):
    """A block's sector values: one number when they agree."""
    return vals[0] if len(set(vals)) == 1 else list(vals)


# ---- the model -------------------------------------------------------------

class Op:
    """One operation on a block: vals is the value of each sector after it
    (a generation, or 0 for zeros)."""
    __slots__ = ("gen", "vals", "sent", "ack", "durable", "serial")

    def __init__(self, gen, vals, sent, serial=False):
        self.gen = gen
        self.vals = vals
        self.sent = sent  # the acknowledgement counter when sent
        self.ack = None
        self.durable = False
        self.serial = serial


class Model:
    def __init__(self, nblocks, serial_lo, volume):
        self.lock = threading.Lock()
        self.volume = volume
        self.nblocks = nblocks
        self.serial_lo = serial_lo  # serial region: [serial_lo, nblocks)
        self.gen = 0
        self.acks = 0
        self.floor = 0
        self.busy = set()
        self.hist = [[self.baseline((0,) * SPB)] for _ in range(nblocks)]
        self.serial_ops = []  # (op, block) in issue order, this cycle
        self.stats = dict(writes=0, flushes=0, trims=0, fua=0, errors=0)
        self.error = None

    def baseline(self, vals):
        op = Op(0, tuple(vals), -1)
        op.ack = 0
        return op

    def new_cycle(self):
        self.acks = self.floor = 0
        self.busy.clear()
        self.serial_ops = []

    def floor_index(self, ops, lossy=False):
        f = 0
        if lossy:
            return f
        for i, op in enumerate(ops):
            if op.ack is not None and (op.ack <= self.floor or op.durable):
                f = i
        return f


# ---- NBD -------------------------------------------------------------------

class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(30)
        self.s.connect(path)
        self.cookie = 0
        magic, opt, _ = struct.unpack(">QQH", self.recv(18))
        if magic != NBDMAGIC or opt != IHAVEOPT:
            raise Closed("bad greeting")
        self.s.sendall(struct.pack(">I", 3))
        self.s.sendall(struct.pack(">QII", IHAVEOPT, OPT_GO, 6) +
                       struct.pack(">IH", 0, 0))
        self.size = None
        while True:
            magic, _, typ, ln = struct.unpack(">QIII", self.recv(20))
            data = self.recv(ln)
            if typ == REP_ACK:
                break
            if typ != REP_INFO:
                raise Closed("GO refused: %#x" % typ)
            if struct.unpack(">H", data[:2])[0] == 0:
                _, self.size, self.flags = struct.unpack(">HQH", data)

    def recv(self, n):
        b = bytearray()
        while len(b) < n:
            try:
                k = self.s.recv(n - len(b))
            except (ConnectionResetError, socket.timeout):
                k = b""
            if not k:
                raise Closed("closed")
            b += k
        return bytes(b)

    def send(self, cmd, off, length, flags=0, payload=b""):
        self.cookie += 1
        self.s.sendall(struct.pack(">IHHQQI", REQ_MAGIC, flags, cmd,
                                   self.cookie, off, length) + payload)
        return self.cookie

    def reply(self):
        magic, err, cookie = struct.unpack(">IIQ", self.recv(16))
        if magic != SIMPLE_MAGIC:
            raise Closed("bad reply magic %#x" % magic)
        return cookie, err

    def read(self, off, length):
        c = self.send(CMD_READ, off, length)
        cookie, err = self.reply()
        if cookie != c or err:
            raise Closed("read %d+%d: error %d" % (off, length, err))
        return self.recv(length)

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


# ---- the load --------------------------------------------------------------

def acked(m, kind, op_blocks, fua_floor, err):
    """Record an acknowledgement (the model lock held)."""
    if err:
        m.stats["errors"] += 1
        if m.error is None:
            m.error = "a %s was refused with error %d" % (kind, err)
        return
    m.acks += 1
    if kind == "flush":
        m.stats["flushes"] += 1
        m.floor = max(m.floor, fua_floor)
        return
    ops, blocks = op_blocks
    ops.ack = m.acks
    if fua_floor is not None:
        ops.durable = True
        m.stats["fua"] += 1
        if m.volume:
            m.floor = max(m.floor, fua_floor)
    m.stats["trims" if kind == "trim" else "writes"] += 1
    m.busy.difference_update(blocks)


def pick_op(m, rng, serial):
    """Choose and register the next operation (the model lock held):
    (command, flags, offset, length, payload, op, blocks) or None."""
    r = rng.random()
    if r < (0.1 if serial else 0.04):
        return (CMD_FLUSH, 0, 0, 0, b"", None, [])
    if serial:
        lo, hi, n = m.serial_lo, m.nblocks, 1
    else:
        lo, hi, n = 0, m.serial_lo, rng.choice((1, 1, 1, 2, 4))
    b = rng.randrange(lo, hi - n + 1)
    blocks = list(range(b, b + n))
    if m.busy.intersection(blocks):
        return None
    m.gen += 1
    cmd, flags = CMD_WRITE, 0
    r = rng.random()
    if m.volume and r < 0.08:
        cmd = CMD_TRIM if r < 0.05 else CMD_WRITE_ZEROES
    elif r > 0.96:
        flags = FLAG_FUA
    vals = (0 if cmd != CMD_WRITE else m.gen,) * SPB
    op = Op(m.gen, vals, m.acks, serial)
    for x in blocks:
        m.hist[x].append(op)
    if serial:
        m.serial_ops.append((op, b))
    m.busy.update(blocks)
    payload = b"".join(block_data(x, m.gen) for x in blocks) \
        if cmd == CMD_WRITE else b""
    return (cmd, flags, b * BS, n * BS, payload, op, blocks)


def run_conn(m, path, rng, serial, qd, stop):
    """One connection's load until the server goes away or stop is set."""
    try:
        c = Conn(path)
    except (OSError, Closed):
        return
    pending = {}  # cookie -> (kind, (op, blocks), floor-at-send)
    room = threading.Condition(m.lock)

    def reader():
        try:
            while True:
                cookie, err = c.reply()
                with m.lock:
                    kind, ob, fl = pending.pop(cookie)
                    acked(m, kind, ob, fl, err)
                    room.notify_all()
        except (OSError, Closed, KeyError, struct.error):
            with m.lock:
                pending[None] = "dead"
                room.notify_all()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    depth = 1 if serial else qd
    try:
        while not stop.is_set():
            with m.lock:
                while len(pending) >= depth and None not in pending:
                    room.wait(0.5)
                if None in pending:
                    break
                p = pick_op(m, rng, serial)
                if p is None:
                    continue
                cmd, flags, off, ln, payload, op, blocks = p
                kind = {CMD_FLUSH: "flush", CMD_WRITE: "write"}.get(
                    cmd, "trim")
                fl = m.acks if cmd == CMD_FLUSH or flags & FLAG_FUA \
                    else None
                pending[c.cookie + 1] = (kind, (op, blocks), fl)
            c.send(cmd, off, ln if cmd != CMD_FLUSH else 0, flags, payload)
    except (OSError, Closed):
        pass
    c.close()
    t.join(5)


# ---- verification ----------------------------------------------------------

class Verifier:
    def __init__(self, m, seed, kind):
        self.m = m
        self.seed = seed
        self.kind = kind
        self.problems = []
        self.lost = self.wrong = self.blocks = self.unordered = 0
        self.lossy = os.environ.get("ZVD_KILL_LOSSY") == "1"
        self.dropped = 0  # flushed writes lost, allowed when lossy

    def problem(self, cycle, text):
        if len(self.problems) < 20:
            self.problems.append("seed %d %s kill %d: %s" %
                                 (self.seed, self.kind, cycle, text))

    def check(self, conn, cycle):
        m = self.m
        step = MIB
        span = m.nblocks * BS
        observed = []
        for off in range(0, span, step):
            data = conn.read(off, min(step, span - off))
            for i in range(0, len(data), BS):
                blk = (off + i) // BS
                observed.append(self.check_block(
                    cycle, blk, data[i:i + BS]))
        if m.volume:
            self.check_prefix(cycle, observed)
            self.check_order(cycle, observed)
        for blk, vals in enumerate(observed):
            m.hist[blk] = [m.baseline(vals)]

    def check_block(self, cycle, blk, data):
        m = self.m
        ops = m.hist[blk]
        f = m.floor_index(ops, self.lossy)
        flushed = set(op.vals for op in ops[m.floor_index(ops):])
        vals, why = [], []
        bad = lost = False
        for s in range(SPB):
            piece = data[s * SECT:(s + 1) * SECT]
            v = sector_value(blk, s, piece)
            if v is None:
                bad = True
                why.append("sector %d is %s" % (s, describe(piece)))
                v = ops[f].vals[s]
            elif v not in {op.vals[s] for op in ops[f:]}:
                if not self.lossy and \
                        (v == 0 or v in {op.vals[s] for op in ops[:f]}):
                    lost = True
                else:
                    bad = True
                    why.append("sector %d is gen %d, never written "
                               "there" % (s, v))
            vals.append(v)
        if m.volume and not bad and not lost and \
                not any(tuple(vals) == op.vals for op in ops[f:]):
            bad = True
            why.append("torn")
        if bad or lost:
            self.problem(cycle, "block %d: %s: holds %s, flushed %s, "
                         "sent after it %s%s" % (
                             blk, "lost flushed write" if lost else
                             "wrong bytes", short(vals), short(ops[f].vals),
                             [short(op.vals) for op in ops[f + 1:]][:6],
                             "; " + ", ".join(why) if why else ""))
        if self.lossy and not bad and tuple(vals) not in flushed:
            self.dropped += 1
        self.blocks += 1
        self.lost += lost
        self.wrong += bad
        return tuple(vals)

    def check_order(self, cycle, observed):
        """Across all connections: no operation sent after another was
        acknowledged may survive while that other is lost. Blocks whose
        contents more than one operation could have left are skipped."""
        m = self.m
        newest = lost = None
        for blk, vals in enumerate(observed):
            ops = m.hist[blk]
            idx = [i for i, op in enumerate(ops) if op.vals == vals]
            if len(idx) != 1:
                continue
            i = idx[0]
            if i > 0 and (newest is None or ops[i].sent > newest[1].sent):
                newest = (blk, ops[i])
            for op in ops[i + 1:]:
                if op.ack is not None:
                    if lost is None or op.ack < lost[1].ack:
                        lost = (blk, op)
                    break
        if newest and lost and lost[1].ack <= newest[1].sent:
            self.unordered += 1
            self.problems.append(
                "seed %d %s kill %d: not a prefix: gen %d (block %d, "
                "acknowledged as #%d) is lost but gen %d (block %d, sent "
                "after #%d) survived" % (
                    self.seed, self.kind, cycle, lost[1].gen, lost[0],
                    lost[1].ack, newest[1].gen, newest[0], newest[1].sent))

    def check_prefix(self, cycle, observed):
        """What survives of the serial connection must be a prefix of what
        it sent (one request at a time: a total order)."""
        m = self.m
        lo = m.serial_lo
        state = [m.hist[b][0].vals for b in range(lo, m.nblocks)]
        want = [observed[b] for b in range(lo, m.nblocks)]
        miss = sum(1 for a, b in zip(state, want) if a != b)
        if miss == 0:
            return
        for op, b in m.serial_ops:
            i = b - lo
            miss -= state[i] != want[i]
            state[i] = op.vals
            miss += state[i] != want[i]
            if miss == 0:
                return
        self.unordered += 1
        self.problems.append("seed %d %s kill %d: the serial region is no "
                             "prefix of the %d writes sent on one "
                             "connection" % (self.seed, self.kind, cycle,
                                             len(m.serial_ops)))


# ---- the campaign ----------------------------------------------------------

def start_server(zvd, img, sock):
    more = shlex.split(os.environ.get("ZVD_KILL_SERVE_ARGS", ""))
    p = subprocess.Popen([zvd, "serve", "--nbd", img, "--socket", sock] +
                         more,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = [p.stdout.readline(), p.stdout.readline()]
    if not lines[1]:
        err = p.stderr.read().decode(errors="replace")
        p.wait()
        raise RuntimeError("the server did not start: %s" % err[:300])
    return p


def zvd_check(zvd, img):
    r = subprocess.run([zvd, "check", img], capture_output=True, text=True)
    if r.returncode != 0 or "clean" not in r.stdout:
        return "zvd check exited %d: %s %s" % (
            r.returncode, r.stdout.strip()[:300], r.stderr.strip()[:300])
    return None


def main():
    try:
        campaign()
    except Exception:
        # a failure of the driver itself: say where, for the record
        for line in traceback.format_exc().splitlines():
            print("# " + line)
        print("RESULT fail")
        sys.exit(1)


def campaign():
    zvd, img, kind, kills, seed = sys.argv[1:6]
    kills, seed = int(kills), int(seed)
    maxdelay = float(os.environ.get("ZVD_KILL_MAXDELAY", "1.0"))
    conns = int(os.environ.get("ZVD_KILL_CONNS", "4"))
    qd = int(os.environ.get("ZVD_KILL_QD", "8"))
    rng = random.Random(seed)
    sock = os.environ.get("ZVD_KILL_SOCKET") or img + ".nbd.sock"
    between = os.environ.get("ZVD_KILL_BETWEEN")
    fails = []
    m = v = None
    t0 = time.time()
    for cycle in range(kills + 1):
        print("# cycle %d" % cycle, file=sys.stderr)
        try:
            srv = start_server(zvd, img, sock)
            c = Conn(sock)
        except (RuntimeError, OSError, Closed) as e:
            fails.append("seed %d %s kill %d: restarting: %s" %
                         (seed, kind, cycle, e))
            break
        if m is None:
            volume = kind == "volume"
            span = c.size if volume else ZONED_CONV
            m = Model(span // BS, span // BS - SERIAL_BLOCKS, volume)
            v = Verifier(m, seed, kind)
        try:
            v.check(c, cycle)
        except (OSError, Closed) as e:
            fails.append("seed %d %s kill %d: reading back failed: %s" %
                         (seed, kind, cycle, e))
        c.close()
        m.new_cycle()
        if cycle == kills:
            srv.send_signal(signal.SIGTERM)
            if srv.wait(30) != 0:
                fails.append("the server exited %d after SIGTERM: %s" % (
                    srv.returncode, srv.stderr.read()[:300]))
            e = zvd_check(zvd, img)
            if e:
                fails.append("after the last stop: " + e)
            break
        stop = threading.Event()
        threads = [threading.Thread(target=run_conn, args=(
            m, sock, random.Random(rng.random()), i == conns, qd, stop))
            for i in range(conns + 1)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.02, maxdelay))
        if srv.poll() is not None:
            fails.append("seed %d %s kill %d: the server died by itself "
                         "(status %d): %s" % (seed, kind, cycle,
                                              srv.returncode,
                                              srv.stderr.read()[:300]))
        srv.kill()
        srv.wait()
        stop.set()
        for t in threads:
            t.join()
        if m.error:
            fails.append("seed %d %s kill %d: %s" % (seed, kind, cycle,
                                                    m.error))
            m.error = None
        if between:
            r = subprocess.run(between, shell=True, capture_output=True,
                               text=True)
            if r.returncode != 0:
                fails.append("seed %d %s kill %d: '%s' exited %d: %s" % (
                    seed, kind, cycle, between, r.returncode,
                    (r.stdout + r.stderr).strip()[:300]))
        e = zvd_check(zvd, img)
        if e:
            fails.append("seed %d %s kill %d: %s" % (seed, kind, cycle, e))
        if len(fails) > 20:
            break
    if m is None:
        print("# " + fails[0])
        print("RESULT fail")
        sys.exit(1)
    s = m.stats
    print("# %s seed %d: %d kills, %d writes acknowledged (%d FUA), %d "
          "trims/zeroes, %d flushes, %d blocks verified, %d lost flushed "
          "writes, %d wrong bytes%s, %.1f s" % (
              kind, seed, kills, s["writes"], s["fua"], s["trims"],
              s["flushes"], v.blocks, v.lost, v.wrong,
              ", %d prefix violations" % v.unordered if m.volume else "",
              time.time() - t0))
    if v.lossy:
        print("# %s seed %d: %d blocks went back to before a flush (the "
              "cache was dropped: allowed)" % (kind, seed, v.dropped))
    for p in fails + v.problems:
        print("# " + p)
    ok = not fails and not v.problems and v.lost == 0 and v.wrong == 0
    print("RESULT " + ("ok" if ok else "fail"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

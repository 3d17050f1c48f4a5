#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""opcount.py - what the OSD's perf counters count for each client operation

Runs one librados operation at a time against a test cluster
(scripts/ceph-test-cluster) and prints how the counters in the "osd" section
of `ceph daemon osd.0 perf dump` (read through the OSD's admin socket) moved.
Each librados call is one client op at the OSD; a compound write op (several
steps in one rados_write_op) is still one op_w.

  eval "$(scripts/ceph-test-cluster start /tmp/zvd-ceph)"
  /usr/bin/python3 tests/rados/opcount.py
  scripts/ceph-test-cluster stop /tmp/zvd-ceph

Uses Debian's python3-rados (it comes with ceph-common), hence /usr/bin/python3
rather than whatever python3 is first in PATH.
"""
import json
import os
import subprocess
import sys

import rados

KEYS = ("op", "op_w", "op_r", "op_rw", "op_in_bytes", "op_out_bytes",
        "op_w_in_bytes", "op_r_out_bytes", "op_rw_in_bytes", "subop")


def counters(conf):
    out = subprocess.run(["ceph", "-c", conf, "daemon", "osd.0", "perf", "dump"],
                         check=True, capture_output=True, text=True).stdout
    osd = json.loads(out)["osd"]
    return {k: osd[k] for k in KEYS}


def main():
    conf = os.environ.get("CEPH_CONF")
    pool = os.environ.get("CEPH_POOL") or "zvd"
    if not conf:
        sys.exit("opcount.py: set CEPH_CONF (eval the start lines)")
    cl = rados.Rados(conffile=conf, name="client.admin")
    cl.connect(timeout=10)
    io = cl.open_ioctx(pool)
    mib4 = b"\xa5" * (4 << 20)
    kib4 = b"\x5a" * 4096
    obj = "zvd-opcount.%d" % os.getpid()

    def compound():
        with rados.WriteOpCtx() as op:
            op.write(kib4, 0)
            op.write(kib4, 1 << 20)
            io.set_omap(op, ("k1", "k2"), (b"v1", b"v2"))
            io.operate_write_op(op, obj)

    def aio_pair():
        c1 = io.aio_write(obj, kib4, 0)
        c2 = io.aio_write(obj, kib4, 8192)
        c1.wait_for_complete()
        c2.wait_for_complete()

    steps = [
        ("write_full 4 MiB (new object)", lambda: io.write_full(obj, mib4)),
        ("write_full 4 MiB (overwrite)", lambda: io.write_full(obj, mib4)),
        ("write 4 KiB at 0", lambda: io.write(obj, kib4, 0)),
        ("append 4 KiB", lambda: io.append(obj, kib4)),
        ("2 aio_write 4 KiB", aio_pair),
        ("write op: 2 writes + omap set", compound),
        ("read 4 MiB", lambda: io.read(obj, 4 << 20, 0)),
        ("read 4 KiB", lambda: io.read(obj, 4096, 0)),
        ("stat", lambda: io.stat(obj)),
        ("lock_exclusive (cls lock)",
         lambda: io.lock_exclusive(obj, "zvd.lock", "c", duration=30)),
        ("unlock (cls lock)", lambda: io.unlock(obj, "zvd.lock", "c")),
        ("remove", lambda: io.remove_object(obj)),
    ]
    print("%-32s %s" % ("client operation", " ".join(KEYS)))
    before = counters(conf)
    for name, fn in steps:
        fn()
        after = counters(conf)
        d = {k: after[k] - before[k] for k in KEYS}
        print("%-32s %s" % (name, " ".join("%s=%d" % (k, d[k]) for k in KEYS if d[k])))
        before = after
    io.close()
    cl.shutdown()


if __name__ == "__main__":
    main()

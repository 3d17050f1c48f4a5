#!/bin/bash
# SPDX-License-Identifier: MIT
# The zoned ublk device in a 6.12 guest: blkzone report / open / close /
# finish / reset, zbd report, errors and the open and active limits, clean
# removal on SIGTERM and SIGINT, zvd up, the refusal of a non-power-of-two
# zone size (guest cases in tests/vm/guest/ublk_zones.sh). Then, on the
# host: what blkzone and zbd reported on the live device must be what the
# image holds once the server has stopped (zvd report --json).
. "$(dirname "$0")/lib.sh"

vm_require "ublk-zones blkzone_and_zbd_match_image" || exit 0
vm_run --timeout "${ZVD_VM_TIMEOUT:-1200}" <"$VM_TESTS_DIR/guest/ublk_zones.sh"
VMOUT=$VM_T/run

# blkzone: "start: 0x..., len 0x..., cap 0x..., wptr 0x... ..., zcond:14(fu)
# [type: 2(...)]", sectors, the write pointer relative to the zone start
# (0 for conventional zones). zbd -csv: bytes, absolute write pointer.
compare() {
	python3 - "$VMOUT/zvd.json" "$VMOUT/blkzone.txt" "$VMOUT/zbd.csv" <<'EOF'
import json, re, sys
img = json.load(open(sys.argv[1]))
cond = {"not-write-pointer": 0, "empty": 1, "implicit-open": 2,
        "explicit-open": 3, "closed": 4, "read-only": 0xD, "full": 0xE,
        "offline": 0xF}
want = []
for z in img:
    conv = z["type"] == "conventional"
    want.append(dict(type=1 if conv else 2, cond=cond[z["cond"]],
                     start=z["start"], len=z["length"], cap=z["capacity"],
                     wp=None if conv or z["wp"] is None else z["wp"]))
bad = []
rx = re.compile(r"start: 0x([0-9a-f]+), len 0x([0-9a-f]+), cap 0x([0-9a-f]+), "
                r"wptr 0x([0-9a-f]+) .*zcond:\s*(\d+)\(\w+\) \[type: (\d+)")
got = [m.groups() for m in map(rx.search, open(sys.argv[2])) if m]
if len(got) != len(want):
    bad.append("blkzone lists %d zones, the image has %d" % (len(got), len(want)))
for i, (g, w) in enumerate(zip(got, want)):
    s, l, c, wp, cd, ty = [int(x, 16) for x in g[:4]] + [int(g[4]), int(g[5])]
    have = dict(type=ty, cond=cd, start=s * 512, len=l * 512, cap=c * 512,
                wp=None if ty == 1 else (s + wp) * 512)
    if have != w:
        bad.append("blkzone zone %d: %s, image: %s" % (i, have, w))
rows = [r.split(",") for r in open(sys.argv[3]) if re.match(r"\d", r)]
if len(rows) != len(want):
    bad.append("zbd lists %d zones, the image has %d" % (len(rows), len(want)))
for i, (r, w) in enumerate(zip(rows, want)):
    ty, st, ln, cp, wp, cd = int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6], 16)
    have = dict(type=ty, cond=cd, start=st, len=ln, cap=cp,
                wp=None if ty == 1 else wp)
    if have != w:
        bad.append("zbd zone %d: %s, image: %s" % (i, have, w))
for b in bad[:5]:
    print(b)
sys.exit(1 if bad else 0)
EOF
}

c=blkzone_and_zbd_match_image
if [ ! -s "$VMOUT/zvd.json" ] || [ ! -s "$VMOUT/blkzone.txt" ] || [ ! -s "$VMOUT/zbd.csv" ]; then
	echo "not ok $c: the guest left no reports to compare"
	VM_ANY_FAILED=1
elif ! command -v python3 >/dev/null 2>&1; then
	echo "skip $c # no python3"
elif msg=$(compare 2>&1); then
	echo "ok $c"
else
	echo "not ok $c: $(echo "$msg" | tr '\n' '|')"
	VM_ANY_FAILED=1
fi
vm_finish

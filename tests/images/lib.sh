#!/bin/bash
# SPDX-License-Identifier: MIT
#
# lib.sh - what the image-management shell tests share: tests/cli/lib.sh
# (begin, run_zvd, want_*, json_check, $T ...) and a few helpers of their
# own. Not a test itself.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	exit 0
fi
. "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"

# Zone states of two "report --json" files are the same: type, condition,
# write pointer and data held of every zone (the counters of writes,
# resets and finishes count events since creation and may differ).
# Prints the first difference and returns 1 when they differ.
same_zones() {
	python3 - "$1" "$2" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
b = json.load(open(sys.argv[2]))
keys = ("index", "type", "cond", "start", "capacity", "wp", "written")
if len(a) != len(b):
    print("%d zones against %d" % (len(a), len(b))); sys.exit(1)
for x, y in zip(a, b):
    for k in keys:
        if x[k] != y[k]:
            print("zone %d: %s %s against %s" % (x["index"], k, x[k], y[k]))
            sys.exit(1)
PY
}

# Wait up to 10 s for file $1 to exist (a socket a server makes).
wait_for() {
	local i
	for i in $(seq 100); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

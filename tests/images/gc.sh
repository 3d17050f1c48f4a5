#!/bin/bash
# SPDX-License-Identifier: MIT
# zvd gc: the space a deleted snapshot or clone held comes back, the
# image file shrinks, and what the image reads does not change.
. "$(dirname "$0")/lib.sh"

IMG=$T/g.img
M=$((1 << 20))
small_image "$IMG" --conventional-zones 1 || echo "# setup: create failed"
make_data "$T/big" $((4 * M))
for z in 1 2 3 4; do
	"$ZVD" write "$IMG" $z --input "$T/big" >/dev/null
done

data_bytes() {
	"$ZVD" info "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["space"]["data_bytes"])'
}
blocks() {
	echo $(($(stat -c %b "$1") * $(stat -c %B "$1")))
}

begin gc_plain_image
run_zvd gc "$IMG"
want_rc 0
want_out "^gc .*g.img: the backend shrank by [0-9]+ bytes; data [0-9]+ -> [0-9]+ bytes"
end

begin snapshot_holds_space
d0=$(data_bytes "$IMG")
"$ZVD" snapshot create "$IMG" keep >/dev/null || fail_case "snapshot"
[ "$(data_bytes "$IMG")" = "$d0" ] || fail_case "a snapshot took data space"
"$ZVD" reset "$IMG" --all >/dev/null || fail_case "reset"
"$ZVD" write "$IMG" 5 --input "$T/big" >/dev/null || fail_case "write"
d1=$(data_bytes "$IMG")
[ "$d1" -ge $((d0 + 4 * M)) ] || fail_case "data bytes $d1 after the rewrite, $d0 before"
run_zvd snapshot list "$IMG" --json
have_python && json_check "d[0]['exclusive_bytes'] >= 16 << 20" "the snapshot does not hold the reset zones' data alone"
end

begin delete_and_gc_gives_back
b0=$(blocks "$IMG")
"$ZVD" snapshot delete "$IMG" keep >/dev/null || fail_case "delete"
run_zvd gc "$IMG"
want_rc 0
d2=$(data_bytes "$IMG")
[ "$d2" -le $((d1 - 16 * M)) ] || fail_case "data bytes $d2 after gc, $d1 before"
b1=$(blocks "$IMG")
[ "$b1" -le $((b0 - 8 * M)) ] || fail_case "the file uses $b1 bytes after gc, $b0 before"
run_zvd read "$IMG" --offset $((5 * 4 * M)) --length $((4 * M))
cmp -s "$T/big" "$T/out" || fail_case "gc changed the data"
end

begin deleted_clone_gives_back
"$ZVD" snapshot create "$IMG" s >/dev/null || fail_case "snapshot"
"$ZVD" clone "$IMG@s" "$T/c.img" >/dev/null || fail_case "clone"
"$ZVD" reset "$IMG" 5 >/dev/null
run_zvd snapshot delete "$IMG" s
want_rc 1
"$ZVD" delete "$T/c.img" >/dev/null || fail_case "delete the clone"
"$ZVD" snapshot delete "$IMG" s >/dev/null || fail_case "delete the snapshot"
run_zvd gc "$IMG"
want_rc 0
[ "$(data_bytes "$IMG")" -lt "$d2" ] || fail_case "no space came back"
end

begin gc_errors
run_zvd gc
want_rc 2
run_zvd gc "$T/none.img"
want_rc 1
want_err "no such file"
end

begin gc_check_clean
run_zvd check "$IMG"
want_rc 0
end

finish

#!/bin/bash
# SPDX-License-Identifier: MIT
# zvd clone, zvd create --backing, zvd rebase, zvd flatten and
# zvd delete: what each image reads, the dependencies info shows, and the
# errors.
. "$(dirname "$0")/lib.sh"

O=$T/origin.img
C=$T/clone.img
ZS=$((4 << 20))
small_image "$O" --conventional-zones 1 || echo "# setup: create failed"
make_data "$T/a" 65536
make_data "$T/b" 65536
"$ZVD" write "$O" 1 --input "$T/a" >/dev/null
"$ZVD" write "$O" 0 --offset 0 --input "$T/a" >/dev/null
"$ZVD" snapshot create "$O" base >/dev/null
"$ZVD" report "$O" --json >"$T/report_base"
"$ZVD" reset "$O" 1 >/dev/null
"$ZVD" write "$O" 2 --input "$T/b" >/dev/null

begin clone_needs_a_snapshot
run_zvd clone "$O" "$C"
want_rc 2
want_err "IMAGE@NAME"
run_zvd clone "$O@nope" "$C"
want_rc 1
want_err "no snapshot named 'nope'"
[ ! -e "$C" ] || fail_case "a failed clone left $C"
run_zvd clone "$T/none.img@base" "$C"
want_rc 1
want_err "no such file"
run_zvd clone "$O@base"
want_rc 2
end

begin clone_creates
run_zvd clone "$O@base" "$C"
want_rc 0
want_out "^cloned .*origin.img@base to .*clone.img$"
run_zvd report "$C" --json
d=$(same_zones "$T/report_base" "$T/out") || fail_case "the clone's zones differ from the snapshot's: $d"
run_zvd read "$C" --offset $ZS --length 65536
cmp -s "$T/a" "$T/out" || fail_case "the clone does not read the snapshot's data"
end

begin clone_refuses_existing_file
run_zvd clone "$O@base" "$C"
want_rc 1
want_err "already exists"
end

begin clone_info_shows_origin
run_zvd info "$C" --json
want_rc 0
have_python && json_check 'd["backing"]["snapshot"] == "base" and d["backing"]["path"].endswith("origin.img")'
run_zvd info "$C"
want_out '^backing: +.*origin.img@base$'
run_zvd snapshot list "$O" --json
have_python && json_check 'd[0]["name"] == "base" and d[0]["clones"] == 1'
end

begin clone_diverges
make_data "$T/c" 65536
"$ZVD" reset "$C" 1 >/dev/null || fail_case "reset on the clone"
"$ZVD" write "$C" 1 --input "$T/c" >/dev/null || fail_case "write on the clone"
run_zvd read "$C" --offset $ZS --length 65536
cmp -s "$T/c" "$T/out" || fail_case "the clone does not read its own write"
run_zvd read "$O@base" --offset $ZS --length 65536
cmp -s "$T/a" "$T/out" || fail_case "the origin's snapshot changed with the clone"
[ "$(zone_field "$O" 1 cond)" = empty ] || fail_case "the origin's zone 1 changed"
end

begin origin_snapshot_delete_refused
run_zvd snapshot delete "$O" base
want_rc 1
want_err "clone.img"
run_zvd snapshot list "$O" --json
have_python && json_check '[s["name"] for s in d] == ["base"]'
end

begin origin_delete_refused
run_zvd delete "$O"
want_rc 1
want_err "clones depend on its snapshots 'base'"
[ -e "$O" ] || fail_case "the origin is gone"
end

begin delete_clone_then_snapshot
run_zvd delete "$C"
want_rc 0
want_out "^deleted .*clone.img$"
[ ! -e "$C" ] || fail_case "the clone file is still there"
run_zvd snapshot delete "$O" base
want_rc 0
end

begin delete_errors
run_zvd delete "$T/none.img"
want_rc 1
want_err "no such file"
run_zvd delete
want_rc 2
end

# backing images
B=$T/base.img
B2=$T/base2.img
B3=$T/base3.img
V=$T/over.img
make_base() {
	small_image "$1" --conventional-zones 1
	"$ZVD" write "$1" 1 --input "$2" >/dev/null
	"$ZVD" write "$1" 0 --offset 8192 --input "$2" >/dev/null
	"$ZVD" finish "$1" 3 >/dev/null
}
make_base "$B" "$T/a"
make_base "$B2" "$T/a"
make_base "$B3" "$T/b"

begin create_backing
run_zvd create "$V" --backing "$B"
want_rc 0
want_out "^created .*over.img over backing image .*base.img"
run_zvd report "$B" --json
cp "$T/out" "$T/report_b"
run_zvd report "$V" --json
d=$(same_zones "$T/report_b" "$T/out") || fail_case "the overlay's zones differ from the base's: $d"
run_zvd read "$V" --offset $ZS --length 65536
cmp -s "$T/a" "$T/out" || fail_case "the overlay does not read the base's data"
run_zvd info "$V" --json
have_python && json_check 'd["backing"]["path"].endswith("base.img") and d["backing"]["snapshot"] == ""'
end

begin create_backing_errors
run_zvd create "$T/o2.img" --backing "$B" --size 64M
want_rc 2
want_err "no geometry option"
run_zvd create "$T/o2.img" --backing "$T/none.img"
want_rc 1
want_err "no such file"
[ ! -e "$T/o2.img" ] || fail_case "a failed create left a file"
run_zvd create "$V" --backing "$B"
want_rc 1
want_err "already exists"
end

# the overlay changes: its own data over the base's
"$ZVD" write "$V" 1 --input "$T/b" >/dev/null
"$ZVD" write "$V" 0 --offset 65536 --input "$T/b" >/dev/null
"$ZVD" read "$V" --offset 0 --length $((2 * ZS)) --output "$T/v_before"
"$ZVD" report "$V" --json >"$T/report_v"

begin overlay_keeps_base
run_zvd read "$B" --offset $ZS --length 131072
head -c 65536 "$T/a" | cmp -s - <(head -c 65536 "$T/out") || fail_case "the base changed under the overlay"
end

begin rebase_to_identical_copy
run_zvd rebase "$V" --backing "$B2" --quiet
want_rc 0
want_out "^rebased .*over.img onto .*base2.img$"
run_zvd read "$V" --offset 0 --length $((2 * ZS))
cmp -s "$T/v_before" "$T/out" || fail_case "the image reads differently after the rebase"
run_zvd info "$V" --json
have_python && json_check 'd["backing"]["path"].endswith("base2.img")'
end

begin rebase_to_different_base
run_zvd rebase "$V" --backing "$B3" --quiet
want_rc 0
run_zvd read "$V" --offset 0 --length $((2 * ZS))
cmp -s "$T/v_before" "$T/out" || fail_case "the image reads differently after the rebase"
run_zvd report "$V" --json
d=$(same_zones "$T/report_v" "$T/out") || fail_case "the zones changed with the rebase: $d"
end

begin rebase_errors
run_zvd rebase "$V"
want_rc 2
want_err "--backing NEWBASE is required"
run_zvd rebase "$V" --backing "$T/none.img"
want_rc 1
want_err "no such file"
run_zvd rebase "$V" --backing "$B3" --progress --quiet
want_rc 0
end

begin flatten
run_zvd flatten "$V" --progress
want_rc 0
want_out "^flattened .*over.img"
run_zvd info "$V" --json
have_python && json_check 'd["backing"] is None'
mv "$B3" "$B3.away"
run_zvd read "$V" --offset 0 --length $((2 * ZS))
want_rc 0
cmp -s "$T/v_before" "$T/out" || fail_case "the flattened image reads differently without its old base"
mv "$B3.away" "$B3"
end

begin flatten_usage
run_zvd flatten "$V" --backing "$B"
want_rc 2
end

begin images_check_clean
for f in "$O" "$B" "$B2" "$B3" "$V"; do
	"$ZVD" check "$f" >/dev/null || fail_case "$f is not clean"
done
end

finish

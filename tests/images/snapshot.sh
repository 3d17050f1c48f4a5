#!/bin/bash
# SPDX-License-Identifier: MIT
# zvd snapshot create|list|delete, zvd rollback, and reading snapshots as
# IMAGE@NAME with read, report and info, with their errors.
. "$(dirname "$0")/lib.sh"

IMG=$T/s.img
ZS=$((4 << 20))
small_image "$IMG" --conventional-zones 1 || echo "# setup: create failed"
make_data "$T/a" 65536
make_data "$T/b" 65536
make_data "$T/c" 8192
"$ZVD" write "$IMG" 1 --input "$T/a" >/dev/null
"$ZVD" write "$IMG" 0 --offset 0 --input "$T/c" >/dev/null
"$ZVD" write "$IMG" 2 --input "$T/a" >/dev/null
"$ZVD" close "$IMG" 2 >/dev/null
"$ZVD" write "$IMG" 3 --input "$T/a" >/dev/null
"$ZVD" finish "$IMG" 3 >/dev/null
"$ZVD" fail "$IMG" 4 read-only >/dev/null
"$ZVD" report "$IMG" --json >"$T/report0"

begin snapshot_create
run_zvd snapshot create "$IMG" one
want_rc 0
want_out '^created snapshot one \(id [0-9]+\) of .*s\.img$'
end

begin snapshot_create_taken_name
run_zvd snapshot create "$IMG" one
want_rc 1
want_err "already exists"
want_err "one"
end

begin snapshot_create_invalid_names
for n in .hidden -dash 'a/b' 'a b' "$(printf 'x%.0s' $(seq 65))"; do
	run_zvd snapshot create "$IMG" -- "$n"
	[ "$RC" = 2 ] || fail_case "name '$n': exit $RC, expected 2; $(said)"
	grep -qi "not a valid snapshot name" "$T/err" || fail_case "name '$n': $(said)"
done
end

begin snapshot_usage_errors
run_zvd snapshot
want_rc 2
run_zvd snapshot frob "$IMG" x
want_rc 2
want_err "unknown subcommand 'frob'"
run_zvd snapshot create "$IMG"
want_rc 2
run_zvd snapshot list "$IMG" extra
want_rc 2
run_zvd snapshot create "$IMG" x --json
want_rc 2
run_zvd snapshot create "$T/none.img" x
want_rc 1
want_err "no such file"
end

begin snapshot_changes_nothing
run_zvd report "$IMG" --json
want_rc 0
d=$(same_zones "$T/report0" "$T/out") || fail_case "taking the snapshot changed the zones: $d"
end

# Change everything after the snapshot.
"$ZVD" reset "$IMG" 1 >/dev/null
"$ZVD" write "$IMG" 1 --input "$T/b" >/dev/null
"$ZVD" write "$IMG" 0 --offset 4096 --input "$T/b" >/dev/null
"$ZVD" reset "$IMG" 3 >/dev/null
"$ZVD" fail "$IMG" 4 offline >/dev/null
"$ZVD" open "$IMG" 5 >/dev/null

begin snapshot_read_after_reset_and_rewrite
run_zvd read "$IMG@one" --offset $ZS --length 65536
want_rc 0
cmp -s "$T/a" "$T/out" || fail_case "IMAGE@one does not read the data the snapshot kept"
run_zvd read "$IMG" --offset $ZS --length 65536
cmp -s "$T/b" "$T/out" || fail_case "the image does not read the new data"
end

begin snapshot_read_conventional_overwrite
run_zvd read "$IMG@one" --offset 0 --length 8192
want_rc 0
cmp -s "$T/c" "$T/out" || fail_case "the snapshot's conventional data changed"
end

begin snapshot_report_keeps_zone_states
run_zvd report "$IMG@one" --json
want_rc 0
d=$(same_zones "$T/report0" "$T/out") || fail_case "report IMAGE@one differs from the report when it was taken: $d"
[ "$(zone_field "$IMG" 4 cond)" = offline ] || fail_case "the image's zone 4 is not offline"
end

begin snapshot_info_view
run_zvd info "$IMG@one" --json
want_rc 0
have_python && json_check 'd["snapshot"] == "one" and d["conditions"]["read-only"] == 1 and d["conditions"]["full"] == 1'
run_zvd info "$IMG@one"
want_rc 0
want_out '^snapshot: +one'
end

begin snapshot_view_is_read_only
run_zvd write "$IMG@one" 1 --input "$T/a"
want_rc 1
run_zvd reset "$IMG@one" 1
want_rc 1
end

begin snapshot_missing_name
run_zvd read "$IMG@nope" --offset 0 --length 4096
want_rc 1
want_err "no snapshot named 'nope'"
run_zvd report "$IMG@"
want_rc 2
end

begin snapshot_at_in_file_name
# an image whose file name holds '@' opens as itself
cp "$IMG" "$T/x@y.img" 2>/dev/null
run_zvd info "$T/x@y.img" --json
want_rc 0
have_python && json_check 'd.get("snapshot") is None'
rm -f "$T/x@y.img"
end

begin snapshot_list_text_and_json
"$ZVD" snapshot create "$IMG" two >/dev/null || fail_case "create two"
run_zvd snapshot list "$IMG"
want_rc 0
want_out '^ +id +name +created +exclusive'
want_out ' one '
want_out ' two '
run_zvd snapshot list "$IMG" --json
want_rc 0
have_python && json_check '[s["name"] for s in d] == ["one", "two"] and d[0]["id"] < d[1]["id"] and all(set(s) == {"id","name","created","exclusive_bytes","clones"} for s in d)'
end

begin snapshot_info_lists_snapshots
run_zvd info "$IMG" --json
want_rc 0
have_python && json_check 'd["backing"] is None and [s["name"] for s in d["snapshots"]] == ["one", "two"]'
run_zvd info "$IMG"
want_out '^snapshots: +2'
want_out '^backing: +none'
end

begin snapshot_exclusive_bytes
# zone 1's first data and zone 3's are held by snapshot one alone now
run_zvd snapshot list "$IMG" --json
have_python && json_check 'd[0]["exclusive_bytes"] > 0' "snapshot one holds no exclusive bytes"
end

begin rollback
run_zvd rollback "$IMG" one
want_rc 0
want_out '^rolled back .* to snapshot one$'
run_zvd report "$IMG" --json
d=$(same_zones "$T/report0" "$T/out") || fail_case "after rollback the zones differ: $d"
run_zvd read "$IMG" --offset $ZS --length 65536
cmp -s "$T/a" "$T/out" || fail_case "after rollback zone 1 does not read the old data"
run_zvd snapshot list "$IMG" --json
have_python && json_check '[s["name"] for s in d] == ["one", "two"]' "rollback dropped snapshots"
end

begin rollback_to_later_snapshot
run_zvd rollback "$IMG" two
want_rc 0
[ "$(zone_field "$IMG" 4 cond)" = offline ] || fail_case "zone 4 is not offline as in snapshot two"
run_zvd read "$IMG" --offset $ZS --length 65536
cmp -s "$T/b" "$T/out" || fail_case "zone 1 does not read snapshot two's data"
end

begin rollback_errors
run_zvd rollback "$IMG" nope
want_rc 1
want_err "no snapshot named 'nope'"
run_zvd rollback "$IMG"
want_rc 2
run_zvd rollback "$T/none.img" one
want_rc 1
end

begin snapshot_delete
run_zvd snapshot delete "$IMG" one
want_rc 0
want_out '^deleted snapshot one of '
run_zvd snapshot delete "$IMG" one
want_rc 1
want_err "no snapshot named 'one'"
run_zvd read "$IMG@one" --offset 0 --length 4096
want_rc 1
run_zvd snapshot list "$IMG" --json
have_python && json_check '[s["name"] for s in d] == ["two"]'
end

begin snapshot_check_clean
run_zvd check "$IMG"
want_rc 0
want_out_is clean
end

finish

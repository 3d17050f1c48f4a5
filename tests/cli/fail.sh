#!/bin/bash
# SPDX-License-Identifier: MIT
# zvd fail: read-only keeps data, offline loses it, nothing comes back.
. "$(dirname "$0")/lib.sh"

IMG=$T/f.img
small_image "$IMG" --conventional-zones 1 || echo "# setup: create failed"
ZS=$((4 << 20))
make_data "$T/16k" 16384
"$ZVD" write "$IMG" 2 --input "$T/16k" >/dev/null || echo "# setup: write failed"

begin fail_read_only
run_zvd fail "$IMG" 2 read-only
want_rc 0
want_out_is "zone 2: read-only"
have_python && [ "$(zone_field "$IMG" 2 wp)" = null ] && [ "$(zone_field "$IMG" 2 cond)" = read-only ] ||
	fail_case "zone 2 not read-only with a null write pointer"
end

begin read_only_keeps_data
run_zvd read "$IMG" --offset $((2 * ZS)) --length 16384
want_rc 0
cmp -s "$T/16k" "$T/out" || fail_case "read-only zone lost its data"
end

begin read_only_refuses_writes
run_zvd write "$IMG" 2 --input "$T/16k"
want_rc 1
want_err 'zone 2'
want_err 'read-only|read only'
run_zvd append "$IMG" 2 --input "$T/16k"
want_rc 1
want_err 'read-only|read only'
end

begin read_only_refuses_zone_ops
for op in open close finish reset; do
	run_zvd $op "$IMG" 2
	[ "$RC" = 1 ] || fail_case "$op on a read-only zone exited $RC"
done
want_err 'zone 2'
end

begin read_only_to_offline
run_zvd fail "$IMG" 2 offline
want_rc 0
want_out_is "zone 2: offline"
end

begin offline_refuses_reads
run_zvd read "$IMG" --offset $((2 * ZS)) --length 4096
want_rc 1
want_err 'zone 2'
want_err 'offline'
end

begin offline_stays_offline
run_zvd fail "$IMG" 2 read-only
want_rc 1
want_err 'zone 2'
run_zvd reset "$IMG" 2
want_rc 1
have_python && [ "$(zone_field "$IMG" 2 cond)" = offline ] || fail_case "zone 2 left offline"
end

begin fail_empty_zone_offline
run_zvd fail "$IMG" 3 offline
want_rc 0
run_zvd write "$IMG" 3 --input "$T/16k"
want_rc 1
want_err 'offline'
end

begin fail_frees_active_slot
"$ZVD" open "$IMG" 4 >/dev/null
run_zvd fail "$IMG" 4 read-only
want_rc 0
run_zvd info "$IMG" --json
have_python && json_check 'd["open_zones"] == 0 and d["active_zones"] == 0'
end

begin fail_conventional_refused
run_zvd fail "$IMG" 0 read-only
want_rc 1
want_err 'zone 0'
want_err 'invalid'
end

begin fail_bad_condition
run_zvd fail "$IMG" 5 broken
want_rc 2
want_err "'broken': expected read-only or offline"
end

begin report_counts_failed_zones
run_zvd info "$IMG" --json
have_python && json_check 'd["conditions"]["offline"] == 2 and d["conditions"]["read-only"] == 1'
end

finish

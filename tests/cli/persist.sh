#!/bin/bash
# SPDX-License-Identifier: MIT
# State persists across invocations: every zvd command is a separate
# process, so each check below reads what earlier processes left.
. "$(dirname "$0")/lib.sh"

IMG=$T/p.img
small_image "$IMG" --conventional-zones 1 || echo "# setup: create failed"
ZS=$((4 << 20))
make_data "$T/a" 20480
make_data "$T/conv" 8192

begin persist_write_pointer_and_data
"$ZVD" write "$IMG" 1 --input "$T/a" >/dev/null || fail_case "write"
[ "$(zone_field "$IMG" 1 wp)" = $((ZS + 20480)) ] || fail_case "write pointer not kept"
[ "$(zone_field "$IMG" 1 written)" = 20480 ] || fail_case "written not kept"
run_zvd read "$IMG" --offset $ZS --length 20480
cmp -s "$T/a" "$T/out" || fail_case "data not kept"
end

begin persist_second_write_continues
"$ZVD" write "$IMG" 1 --input "$T/a" >/dev/null || fail_case "write"
[ "$(zone_field "$IMG" 1 wp)" = $((ZS + 40960)) ] || fail_case "write pointer not kept"
[ "$(zone_field "$IMG" 1 writes)" = 2 ] || fail_case "writes counter not kept"
end

begin persist_conventional_data
"$ZVD" write "$IMG" 0 --offset 64K --input "$T/conv" >/dev/null || fail_case "write"
run_zvd read "$IMG" --offset 64K --length 8192
cmp -s "$T/conv" "$T/out" || fail_case "conventional data not kept"
end

begin persist_explicit_open
"$ZVD" open "$IMG" 2 >/dev/null || fail_case "open"
[ "$(zone_field "$IMG" 2 cond)" = explicit-open ] || fail_case "explicit open not kept: $(zone_field "$IMG" 2 cond)"
end

begin persist_closed
"$ZVD" close "$IMG" 2 >/dev/null || fail_case "close"
[ "$(zone_field "$IMG" 2 cond)" = closed ] || fail_case "closed not kept"
end

begin persist_full_and_finishes
"$ZVD" finish "$IMG" 3 >/dev/null || fail_case "finish"
[ "$(zone_field "$IMG" 3 cond)" = full ] || fail_case "full not kept"
[ "$(zone_field "$IMG" 3 finishes)" = 1 ] || fail_case "finishes not kept"
end

begin persist_reset_and_resets
"$ZVD" reset "$IMG" 1 >/dev/null || fail_case "reset"
[ "$(zone_field "$IMG" 1 cond)" = empty ] || fail_case "empty not kept"
[ "$(zone_field "$IMG" 1 resets)" = 1 ] || fail_case "resets not kept"
[ "$(zone_field "$IMG" 1 wp)" = $ZS ] || fail_case "write pointer not back at start"
run_zvd read "$IMG" --offset $ZS --length 20480
head -c 20480 /dev/zero | cmp -s - "$T/out" || fail_case "reset zone does not read zeros"
end

begin persist_append
run_zvd append "$IMG" 4 --input "$T/a"
want_rc 0
run_zvd append "$IMG" 4 --input "$T/a"
want_rc 0
want_out_is $((4 * ZS + 20480))
end

begin persist_failed_zones
"$ZVD" fail "$IMG" 5 read-only >/dev/null || fail_case "fail read-only"
"$ZVD" fail "$IMG" 6 offline >/dev/null || fail_case "fail offline"
[ "$(zone_field "$IMG" 5 cond)" = read-only ] || fail_case "read-only not kept"
[ "$(zone_field "$IMG" 6 cond)" = offline ] || fail_case "offline not kept"
end

begin persist_open_counts
run_zvd info "$IMG" --json
want_rc 0
# zone 4 implicitly open (appends), zone 2 closed.
have_python && json_check 'd["open_zones"] == 1 and d["active_zones"] == 2'
end

begin persist_check_clean
run_zvd check "$IMG"
want_rc 0
want_out_is clean
end

finish

#!/bin/bash
# SPDX-License-Identifier: MIT
# zvd open, close, finish and reset, on one zone and on --all, and the
# open / active limits.
. "$(dirname "$0")/lib.sh"

IMG=$T/z.img
"$ZVD" create "$IMG" --size 64M --zone-size 4M --zone-capacity 3M \
	--conventional-zones 1 --max-open 3 --max-active 4 >/dev/null ||
	echo "# setup: create failed"
ZS=$((4 << 20))
make_data "$T/8k" 8192

begin open_zone
run_zvd open "$IMG" 2
want_rc 0
want_out_is "zone 2: explicit-open, write pointer $((2 * ZS))"
end

begin close_zone
run_zvd close "$IMG" 2
want_rc 0
want_out_is "zone 2: closed, write pointer $((2 * ZS))"
end

begin write_then_close_keeps_write_pointer
"$ZVD" write "$IMG" 3 --input "$T/8k" >/dev/null
run_zvd close "$IMG" 3
want_rc 0
want_out_is "zone 3: closed, write pointer $((3 * ZS + 8192))"
end

begin finish_zone
run_zvd finish "$IMG" 3
want_rc 0
want_out_is "zone 3: full, write pointer $((4 * ZS))"
[ "$(zone_field "$IMG" 3 finishes)" = 1 ] || fail_case "finishes counter not 1"
end

begin finished_zone_reads_zeros_past_old_write_pointer
run_zvd read "$IMG" --offset $((3 * ZS)) --length 16384
want_rc 0
{ cat "$T/8k"; head -c 8192 /dev/zero; } | cmp -s - "$T/out" ||
	fail_case "finished zone reads back wrong"
end

begin reset_zone
run_zvd reset "$IMG" 3
want_rc 0
want_out_is "zone 3: empty, write pointer $((3 * ZS))"
[ "$(zone_field "$IMG" 3 resets)" = 1 ] || fail_case "resets counter not 1"
run_zvd read "$IMG" --offset $((3 * ZS)) --length 8192
head -c 8192 /dev/zero | cmp -s - "$T/out" || fail_case "reset zone does not read zeros"
end

begin close_empty_zone_refused
run_zvd close "$IMG" 4
want_rc 1
want_err 'zone 4'
want_err 'transition'
end

begin open_full_zone_refused
"$ZVD" finish "$IMG" 4 >/dev/null
run_zvd open "$IMG" 4
want_rc 1
want_err 'zone 4'
want_err 'transition'
end

begin zone_op_on_conventional_refused
run_zvd reset "$IMG" 0
want_rc 1
want_err 'zone 0'
want_err 'invalid'
end

begin zone_op_on_missing_zone_refused
run_zvd open "$IMG" 16
want_rc 1
want_err 'zone 16|16'
want_err 'invalid'
end

begin open_limit
"$ZVD" reset "$IMG" --all >/dev/null
"$ZVD" open "$IMG" 5 >/dev/null && "$ZVD" open "$IMG" 6 >/dev/null &&
	"$ZVD" open "$IMG" 7 >/dev/null || fail_case "opening 3 zones failed"
run_zvd open "$IMG" 8
want_rc 1
want_err 'zone 8'
want_err 'open'
[ "$(zone_field "$IMG" 8 cond)" = empty ] || fail_case "zone 8 changed"
end

begin active_limit
"$ZVD" close "$IMG" 7 >/dev/null
"$ZVD" open "$IMG" 8 >/dev/null || fail_case "open 8 (the 4th active zone)"
"$ZVD" close "$IMG" 8 >/dev/null
run_zvd open "$IMG" 9
want_rc 1
want_err 'zone 9'
want_err 'active'
end

begin write_at_open_limit_closes_implicit_zone
"$ZVD" reset "$IMG" --all >/dev/null
"$ZVD" write "$IMG" 5 --input "$T/8k" >/dev/null
"$ZVD" write "$IMG" 6 --input "$T/8k" >/dev/null
"$ZVD" write "$IMG" 7 --input "$T/8k" >/dev/null
run_zvd write "$IMG" 8 --input "$T/8k"
want_rc 0
[ "$(zone_field "$IMG" 5 cond)" = closed ] || fail_case "zone 5 (oldest implicit open) not closed"
end

begin close_all
run_zvd close "$IMG" --all
want_rc 0
want_out_is "all zones: closed"
run_zvd report "$IMG" --json --filter closed
have_python && json_check '[z["index"] for z in d] == [5, 6, 7, 8]'
end

begin open_all
"$ZVD" close "$IMG" 5 >/dev/null
run_zvd open "$IMG" --all
want_rc 1
want_err 'open'
run_zvd report "$IMG" --json --filter closed
have_python && json_check 'len(d) == 4' "open --all is not all or nothing"
"$ZVD" finish "$IMG" 8 >/dev/null
run_zvd open "$IMG" --all
want_rc 0
want_out_is "all zones: opened"
run_zvd report "$IMG" --json --filter explicit-open
have_python && json_check '[z["index"] for z in d] == [5, 6, 7]'
end

begin finish_all
run_zvd finish "$IMG" --all
want_rc 0
want_out_is "all zones: finished"
run_zvd info "$IMG" --json
have_python && json_check 'd["conditions"]["full"] == 4 and d["open_zones"] == 0 and d["active_zones"] == 0'
end

begin reset_all
run_zvd reset "$IMG" --all
want_rc 0
want_out_is "all zones: reset"
run_zvd info "$IMG" --json
have_python && json_check 'd["conditions"]["empty"] == 15 and d["space"]["data_bytes"] == 0'
end

begin zone_and_all_is_a_usage_error
run_zvd reset "$IMG" 3 --all
want_rc 2
want_err 'not both'
end

begin no_zone_is_a_usage_error
run_zvd reset "$IMG"
want_rc 2
want_err 'missing the zone number'
end

finish

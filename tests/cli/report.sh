#!/bin/bash
# SPDX-License-Identifier: MIT
# zvd report: the table, the JSON shape, --zone, --filter and batching.
. "$(dirname "$0")/lib.sh"

IMG=$T/r.img
"$ZVD" create "$IMG" --size 64M --zone-size 4M --zone-capacity 3M \
	--conventional-zones 2 >/dev/null || fail_case "setup: create failed"
make_data "$T/8k" 8192
"$ZVD" write "$IMG" 3 --input "$T/8k" >/dev/null || echo "# setup: write failed"
"$ZVD" finish "$IMG" 5 >/dev/null || echo "# setup: finish failed"
"$ZVD" open "$IMG" 6 >/dev/null || echo "# setup: open failed"
"$ZVD" fail "$IMG" 7 read-only >/dev/null || echo "# setup: fail failed"

begin report_table
run_zvd report "$IMG"
want_rc 0
want_out '^ *zone +type +cond +start +length +capacity +wp'
[ "$(grep -c . "$T/out")" = 17 ] || fail_case "expected a header and 16 rows; $(said)"
want_out '^ +0 +conv +not-write-pointer +0 +4194304 +4194304'
want_out '^ +3 +seq +implicit-open +12582912 +4194304 +3145728 +12591104 +8192 +1 '
want_out '^ +7 +seq +read-only .* - '
end

if ! have_python; then
	begin report_json
	skip_case "no python3"
	end
	finish
fi

KEYS='["index","type","cond","start","length","capacity","wp","written","writes","resets","finishes"]'

begin report_json_is_valid
run_zvd report "$IMG" --json
want_rc 0
python3 -c 'import json,sys; json.load(sys.stdin)' <"$T/out" || fail_case "invalid JSON"
json_check "isinstance(d, list) and len(d) == 16"
json_check "all(sorted(z.keys()) == sorted($KEYS) for z in d)" "a zone object has other keys than $KEYS"
json_check '[z["index"] for z in d] == list(range(16))'
json_check 'all(z["start"] == z["index"] * (4<<20) and z["length"] == 4<<20 for z in d)'
end

begin report_json_conventional_zones
run_zvd report "$IMG" --json
json_check 'all(z["type"] == "conventional" and z["cond"] == "not-write-pointer" for z in d[:2])'
json_check 'all(z["capacity"] == z["length"] for z in d[:2])'
json_check 'all(z["wp"] == z["start"] + z["length"] for z in d[:2])' "conventional wp is start+length"
json_check 'all(z["type"] == "sequential" and z["capacity"] == 3<<20 for z in d[2:])'
end

begin report_json_conditions
run_zvd report "$IMG" --json
json_check 'd[2]["cond"] == "empty" and d[2]["wp"] == d[2]["start"]'
json_check 'd[3]["cond"] == "implicit-open" and d[3]["wp"] == d[3]["start"] + 8192'
json_check 'd[3]["written"] == 8192 and d[3]["writes"] == 1'
json_check 'd[5]["cond"] == "full" and d[5]["wp"] == d[5]["start"] + d[5]["length"]' "full zone wp is start+length"
json_check 'd[5]["finishes"] == 1'
json_check 'd[6]["cond"] == "explicit-open" and d[6]["wp"] == d[6]["start"]'
json_check 'd[7]["cond"] == "read-only" and d[7]["wp"] is None' "read-only wp is null"
end

begin report_zone_option
run_zvd report "$IMG" --json --zone 3
want_rc 0
json_check 'len(d) == 1 and d[0]["index"] == 3'
run_zvd report "$IMG" --zone 15
want_rc 0
want_out '^ +15 +seq +empty'
end

begin report_zone_out_of_range
run_zvd report "$IMG" --zone 16
want_rc 1
want_err 'zone 16'
want_err 'invalid'
end

filter_case() {
	begin "report_filter_$1"
	run_zvd report "$IMG" --json --filter "$1"
	want_rc 0
	json_check "[z['index'] for z in d] == $2"
	end
}
filter_case all 'list(range(16))'
filter_case empty '[2, 4] + list(range(8, 16))'
filter_case implicit-open '[3]'
filter_case explicit-open '[6]'
filter_case closed '[]'
filter_case full '[5]'
filter_case read-only '[7]'
filter_case offline '[]'
filter_case not-write-pointer '[0, 1]'

begin report_filter_with_zone
run_zvd report "$IMG" --json --zone 3 --filter empty
want_rc 0
json_check 'd == []'
run_zvd report "$IMG" --json --zone 3 --filter implicit-open
json_check '[z["index"] for z in d] == [3]'
end

begin report_bad_filter
run_zvd report "$IMG" --filter opened
want_rc 2
want_err "unknown condition 'opened'"
end

begin report_bad_zone_number
run_zvd report "$IMG" --zone x3
want_rc 2
want_err 'invalid number'
end

# More zones than one report batch (1024): every zone, once, in order.
BIG=$T/big.img
begin report_many_zones
run_zvd create "$BIG" --size 3000M --zone-size 1M --max-open 0 --max-active 0
want_rc 0
"$ZVD" write "$BIG" 1500 --input "$T/8k" >/dev/null || fail_case "write 1500"
"$ZVD" write "$BIG" 2999 --input "$T/8k" >/dev/null || fail_case "write 2999"
run_zvd report "$BIG" --json
want_rc 0
json_check '[z["index"] for z in d] == list(range(3000))'
json_check 'd[1500]["cond"] == "implicit-open" and d[2999]["cond"] == "implicit-open"'
run_zvd report "$BIG" --json --filter implicit-open
json_check '[z["index"] for z in d] == [1500, 2999]'
run_zvd report "$BIG" --json --filter empty
json_check 'len(d) == 2998 and 1500 not in [z["index"] for z in d]'
run_zvd info "$BIG" --json
json_check 'd["conditions"]["empty"] == 2998 and d["conditions"]["implicit-open"] == 2'
end

finish

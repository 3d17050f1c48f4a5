#!/bin/bash
# SPDX-License-Identifier: MIT
# zvd convert import / export: round trips through raw files, the
# write-pointer rule of import, sparse export, a snapshot's export, a QEMU
# ZNS-shaped data file, progress, and the errors.
. "$(dirname "$0")/lib.sh"

M=$((1 << 20))
ZS=$((4 * M))

# RAW: 4 zones of 4 MiB. Zone 0 (conventional): data with a hole in the
# middle. Zone 1: data to the end (full). Zone 2: 1 MiB, a zero block,
# 64 KiB more, then zeros (closed at 1 MiB + 68 KiB). Zone 3: zeros.
R=$T/r.raw
make_data "$T/z0" $M
make_data "$T/z1" $ZS
make_data "$T/z2" $M
make_data "$T/z2b" 65536
{
	cat "$T/z0"
	head -c $M /dev/zero
	cat "$T/z0"
	head -c $M /dev/zero
	cat "$T/z1"
	cat "$T/z2"
	head -c 4096 /dev/zero
	cat "$T/z2b"
} >"$R"
truncate -s $((4 * ZS)) "$R"

begin import_raw
run_zvd convert import "$R" "$T/r.img" --zone-size 4M --conventional-zones 1
want_rc 0
want_out "^imported .*r.raw into .*r.img: "
want_out "1 sequential zones full, 1 closed, 0 finished"
want_quiet
end

begin import_write_pointers
[ "$(zone_field "$T/r.img" 1 cond)" = full ] || fail_case "zone 1 is not full"
[ "$(zone_field "$T/r.img" 2 cond)" = closed ] || fail_case "zone 2 is not closed"
[ "$(zone_field "$T/r.img" 2 wp)" = $((2 * ZS + M + 4096 + 65536)) ] || fail_case "zone 2's write pointer is $(zone_field "$T/r.img" 2 wp)"
[ "$(zone_field "$T/r.img" 3 cond)" = empty ] || fail_case "zone 3 is not empty"
run_zvd info "$T/r.img" --json
have_python && json_check 'd["size"] == 16 << 20' "the size is not the raw file's"
end

begin export_round_trip
run_zvd convert export "$T/r.img" "$T/back.raw"
want_rc 0
want_out "^exported .*r.img to .*back.raw: 16777216 bytes"
cmp -s "$R" "$T/back.raw" || fail_case "raw -> image -> raw differs: $(cmp "$R" "$T/back.raw" 2>&1)"
end

begin export_is_sparse
make_data "$T/small" $M
truncate -s $((64 * M)) "$T/sparse.raw"
dd if="$T/small" of="$T/sparse.raw" bs=1M seek=20 conv=notrunc status=none
run_zvd convert import "$T/sparse.raw" "$T/sp.img" --zone-size 4M
want_rc 0
run_zvd convert export "$T/sp.img" "$T/sp.out"
want_rc 0
cmp -s "$T/sparse.raw" "$T/sp.out" || fail_case "the sparse round trip differs"
used=$(($(stat -c %b "$T/sp.out") * $(stat -c %B "$T/sp.out")))
[ "$used" -le $((4 * M)) ] || fail_case "the export uses $used bytes for 1 MiB of data"
end

begin export_snapshot
"$ZVD" snapshot create "$T/r.img" orig >/dev/null || fail_case "snapshot"
"$ZVD" reset "$T/r.img" 1 >/dev/null
"$ZVD" write "$T/r.img" 0 --offset 0 --input "$T/z2b" >/dev/null
run_zvd convert export "$T/r.img@orig" "$T/snap.raw"
want_rc 0
cmp -s "$R" "$T/snap.raw" || fail_case "the snapshot's export differs from the raw it came from"
run_zvd convert export "$T/r.img" "$T/now.raw"
want_rc 0
cmp -s "$R" "$T/now.raw" && fail_case "the image's export did not change"
end

begin import_active_limit
# four partly written zones, at most 2 active: the first is closed, the
# others finished so that the next can be written
make_data "$T/p" 65536
rm -f "$T/act.raw"
for z in 1 2 3 4; do
	dd if="$T/p" of="$T/act.raw" bs=64K seek=$((z * 64)) conv=notrunc status=none
done
truncate -s $((6 * ZS)) "$T/act.raw"
run_zvd convert import "$T/act.raw" "$T/act.img" --zone-size 4M --max-active 2 --max-open 2
want_rc 0
want_out "0 sequential zones full, 1 closed, 3 finished"
c=""
for z in 1 2 3 4 5; do c="$c $(zone_field "$T/act.img" $z cond)"; done
[ "$c" = " closed full full full empty" ] || fail_case "conditions:$c"
run_zvd convert export "$T/act.img" "$T/act.out"
cmp -s "$T/act.raw" "$T/act.out" || fail_case "round trip differs"
end

begin import_zns_data_file
# a QEMU ZNS namespace data file: 4 MiB zones of 3 MiB capacity
make_data "$T/q" $((3 * M))
rm -f "$T/zns.raw"
dd if="$T/q" of="$T/zns.raw" bs=1M seek=0 conv=notrunc status=none
dd if="$T/q" of="$T/zns.raw" bs=1M seek=8 count=2 conv=notrunc status=none
truncate -s $((8 * ZS)) "$T/zns.raw"
run_zvd convert import "$T/zns.raw" "$T/zns.img" --zone-size 4M --zone-capacity 3M
want_rc 0
[ "$(zone_field "$T/zns.img" 0 cond)" = full ] || fail_case "zone 0 not full"
[ "$(zone_field "$T/zns.img" 2 wp)" = $((2 * ZS + 2 * M)) ] || fail_case "zone 2's write pointer"
run_zvd convert export "$T/zns.img" "$T/zns.out"
cmp -s "$T/zns.raw" "$T/zns.out" || fail_case "round trip differs"
end

begin import_data_past_capacity
run_zvd convert import "$R" "$T/cap.img" --zone-size 4M --zone-capacity 3M --conventional-zones 1
want_rc 1
want_err "zone 1: the raw file has data at offset $((ZS + 3 * M))"
[ ! -e "$T/cap.img" ] || fail_case "a failed import left the image"
end

begin import_odd_length_512
make_data "$T/odd.raw" 10000
run_zvd convert import "$T/odd.raw" "$T/odd.img" --zone-size 1M --block-size 512
want_rc 0
run_zvd convert export "$T/odd.img" "$T/odd.out"
want_rc 0
cmp -s "$T/odd.raw" <(head -c 10000 "$T/odd.out") || fail_case "the data differs"
[ "$(stat -c %s "$T/odd.out")" = $M ] || fail_case "size $(stat -c %s "$T/odd.out")"
end

begin import_errors
run_zvd convert import "$R" "$T/small.img" --size 8M --zone-size 4M
want_rc 2
want_err "larger than --size"
run_zvd convert import "$T/none.raw" "$T/x.img"
want_rc 1
want_err "none.raw"
run_zvd convert import "$R" "$T/r.img" --zone-size 4M --conventional-zones 1
want_rc 1
want_err "already exists"
run_zvd convert import "$R" "$T/x.img" --zone-size 4M --block-size 1000
want_rc 2
want_err "invalid geometry"
run_zvd convert import "$T" "$T/x.img"
want_rc 1
want_err "not a regular file"
[ ! -e "$T/x.img" ] || fail_case "a failed import left a file"
end

begin export_errors
run_zvd convert export "$T/r.img" "$T/back.raw"
want_rc 1
want_err "already exists"
run_zvd convert export "$T/r.img@nope" "$T/n.raw"
want_rc 1
want_err "no snapshot named 'nope'"
[ ! -e "$T/n.raw" ] || fail_case "a failed export left a file"
run_zvd convert export "$T/r.img" "$T/n.raw" --size 4M
want_rc 2
end

begin convert_usage
run_zvd convert sideways "$R" "$T/x.img"
want_rc 2
want_err "unknown direction 'sideways'"
run_zvd convert import "$R"
want_rc 2
run_zvd convert export "$T/r.img" "$T/p.raw" --progress --quiet
want_rc 2
end

begin progress_forced_and_quiet
run_zvd convert export "$T/r.img" "$T/p1.raw" --progress
want_rc 0
want_err "export: +100% \(16 of 16 MiB, [0-9.]+ MB/s\)"
run_zvd convert export "$T/r.img" "$T/p2.raw"
want_rc 0
want_quiet
end

finish

#!/bin/bash
# SPDX-License-Identifier: MIT
#
# ublk_zones.sh (guest) - the zoned ublk device through blkzone and zbd:
# attributes, zone operations, errors and limits, clean removal on
# SIGTERM / SIGINT, zvd up, and refusal of an image the kernel would not
# accept. Leaves for the host test, in /vmrun: blkzone.txt and zbd.txt
# (the live device's report after the operations) and zvd.json (the
# image's report after the server stopped).
# the runner copies this script to /vmrun/run.sh; the repository is /host
. /host/tests/vm/guest/lib.sh

IMG=$W/z.img
ZS=8192 # zone size in sectors (4 MiB)
head -c $((1 << 20)) /dev/urandom >"$W/pat"

begin create_image
must zvd create "$IMG" --size 64M --zone-size 4M --zone-capacity 3M \
	--conventional-zones 3 --max-open 6 --max-active 8 --max-append 512K
end

begin serve_live
serve "$IMG" --queues 2 --depth 32 || true
if [ -n "$DEV" ]; then
	q=/sys/block/${DEV#/dev/}/queue
	[ "$(cat $q/zoned)" = host-managed ] || fail_case "zoned: $(cat $q/zoned)"
	[ "$(cat $q/chunk_sectors)" = $ZS ] || fail_case "chunk_sectors $(cat $q/chunk_sectors)"
	[ "$(cat $q/nr_zones)" = 16 ] || fail_case "nr_zones $(cat $q/nr_zones)"
	[ "$(cat $q/max_open_zones)" = 6 ] || fail_case "max_open_zones $(cat $q/max_open_zones)"
	[ "$(cat $q/max_active_zones)" = 8 ] || fail_case "max_active_zones $(cat $q/max_active_zones)"
	[ "$(cat $q/zone_append_max_bytes)" = 524288 ] ||
		fail_case "zone_append_max_bytes $(cat $q/zone_append_max_bytes)"
	[ "$(cat $q/write_cache)" = "write back" ] || fail_case "write_cache $(cat $q/write_cache)"
	[ "$(cat $q/fua)" = 1 ] || fail_case "fua $(cat $q/fua)"
	[ "$(cat $q/logical_block_size)" = 4096 ] ||
		fail_case "logical_block_size $(cat $q/logical_block_size)"
	[ "$(ls -d /sys/block/${DEV#/dev/}/mq/* | wc -l)" = 2 ] ||
		fail_case "$(ls -d /sys/block/${DEV#/dev/}/mq/* | wc -l) hardware queues, not 2"
fi
end
[ -n "$DEV" ] || finish

begin report_initial
blkzone report "$DEV" >"$W/r0" 2>&1 || fail_case "blkzone report: $(cat "$W/r0")"
[ "$(grep -c 'CONVENTIONAL' "$W/r0")" = 3 ] || fail_case "not 3 conventional zones: $(head -n 4 "$W/r0" | tr '\n' '|')"
[ "$(grep -c 'zcond: 1(em)' "$W/r0")" = 13 ] || fail_case "not 13 empty zones"
grep -q 'cap 0x001800' "$W/r0" || fail_case "capacity 3 MiB (0x1800 sectors) not reported"
end

# zone z: sector z*ZS
S3=$((3 * ZS)) S4=$((4 * ZS)) S5=$((5 * ZS)) S6=$((6 * ZS))
S7=$((7 * ZS)) S8=$((8 * ZS)) S9=$((9 * ZS))

begin write_at_wp
dd_write "$DEV" $S3 8 "$W/pat" || fail_case "write at the wp of zone 3: $(cat "$W/dd.err")"
dd_write "$DEV" $((S3 + 64)) 8 "$W/pat" || fail_case "second write at the wp of zone 3: $(cat "$W/dd.err")"
blkzone report -o $S3 -c 1 "$DEV" | grep -q 'wptr 0x000080 .*zcond: 2(oi)' ||
	fail_case "zone 3 not implicitly open at 0x80: $(blkzone report -o $S3 -c 1 "$DEV")"
end

begin read_back
dd if="$DEV" of="$W/rd" bs=4k skip=$((S3 / 8)) count=16 iflag=direct 2>/dev/null
head -c 32768 "$W/pat" >"$W/p1"
cat "$W/p1" "$W/p1" | cmp -s - "$W/rd" || fail_case "zone 3 does not read back what was written"
dd if="$DEV" of="$W/rz" bs=4k skip=$((S3 / 8 + 100)) count=4 iflag=direct 2>/dev/null
head -c 16384 /dev/zero | cmp -s - "$W/rz" || fail_case "blocks past the wp do not read as zeros"
end

begin conventional_random_write
dd_write "$DEV" $((ZS + 800)) 16 "$W/pat" || fail_case "conventional write: $(cat "$W/dd.err")"
dd_write "$DEV" 80 4 "$W/pat" || fail_case "conventional write at 80: $(cat "$W/dd.err")"
dd if="$DEV" of="$W/rc" bs=4k skip=$(((ZS + 800) / 8)) count=16 iflag=direct 2>/dev/null
head -c 65536 "$W/pat" | cmp -s - "$W/rc" || fail_case "conventional zone does not read back"
end

begin blkzone_open
must blkzone open -o $S4 -c 1 "$DEV"
blkzone report -o $S4 -c 1 "$DEV" | grep -q 'zcond: 3(oe)' || fail_case "zone 4 not explicitly open"
end

begin blkzone_close
dd_write "$DEV" $S5 4 "$W/pat" || fail_case "write zone 5: $(cat "$W/dd.err")"
must blkzone close -o $S5 -c 1 "$DEV"
blkzone report -o $S5 -c 1 "$DEV" | grep -q 'wptr 0x000020 .*zcond: 4(cl)' ||
	fail_case "zone 5 not closed at 0x20: $(blkzone report -o $S5 -c 1 "$DEV")"
end

begin blkzone_finish
must blkzone finish -o $S6 -c 1 "$DEV"
blkzone report -o $S6 -c 1 "$DEV" | grep -q 'zcond:14(fu)' || fail_case "zone 6 not full"
end

begin blkzone_reset
dd_write "$DEV" $S7 16 "$W/pat" || fail_case "write zone 7: $(cat "$W/dd.err")"
must blkzone reset -o $S7 -c 1 "$DEV"
blkzone report -o $S7 -c 1 "$DEV" | grep -q 'wptr 0x000000 .*zcond: 1(em)' || fail_case "zone 7 not empty after reset"
dd if="$DEV" of="$W/r7" bs=4k skip=$((S7 / 8)) count=16 iflag=direct 2>/dev/null
head -c 65536 /dev/zero | cmp -s - "$W/r7" || fail_case "reset zone does not read as zeros"
end

begin fill_to_capacity
# 3 MiB of capacity: 768 blocks; the zone is then full
dd if=/dev/urandom of="$W/big" bs=1M count=3 2>/dev/null
dd if="$W/big" of="$DEV" bs=1M seek=$((S8 / 2048)) oflag=direct 2>"$W/dd.err" ||
	fail_case "filling zone 8: $(cat "$W/dd.err")"
blkzone report -o $S8 -c 1 "$DEV" | grep -q 'zcond:14(fu)' || fail_case "zone 8 not full at capacity"
end

begin write_past_capacity_fails
if dd_write "$DEV" $((S9 + 6144)) 1 "$W/pat"; then
	fail_case "a write at the capacity of an empty zone succeeded"
fi
end

begin write_off_wp_fails
if dd_write "$DEV" $((S3 + 512)) 1 "$W/pat"; then
	fail_case "a write off the write pointer succeeded"
fi
grep -qi 'input/output error' "$W/dd.err" || fail_case "not EIO: $(cat "$W/dd.err")"
# the block layer re-reads the zone after a failed write; it is unchanged
blkzone report -o $S3 -c 1 "$DEV" | grep -q 'wptr 0x000080' || fail_case "zone 3 moved"
end

begin write_full_zone_fails
if dd_write "$DEV" $S6 1 "$W/pat"; then
	fail_case "a write to a full zone succeeded"
fi
end

begin conventional_zone_ops_refused
if blkzone reset -o $ZS -c 1 "$DEV" 2>"$W/e"; then
	fail_case "reset of a conventional zone succeeded"
fi
if blkzone finish -o 0 -c 1 "$DEV" 2>"$W/e"; then
	fail_case "finish of a conventional zone succeeded"
fi
end

# after the operations: what the device says, for the host to compare with
# the image once the server has stopped
begin report_snapshot
blkzone report "$DEV" >"$OUT/blkzone.txt" 2>&1 || fail_case "blkzone report failed"
zbd report "$DEV" >"$OUT/zbd.txt" 2>&1 || fail_case "zbd report failed: $(tail -n 2 "$OUT/zbd.txt")"
zbd report -csv "$DEV" >"$OUT/zbd.csv" 2>&1 || note "zbd report -csv failed"
[ "$(grep -c 'start:' "$OUT/blkzone.txt")" = 16 ] || fail_case "blkzone report lists $(grep -c 'start:' "$OUT/blkzone.txt") zones"
end

begin sigterm_removes_device
id=$(dev_id)
stop_server TERM
[ "$SRC" = 0 ] || fail_case "serve exited $SRC after SIGTERM: $(tr '\n' '|' <"$W/serve.err")"
sleep 0.5
[ -e "$DEV" ] && fail_case "$DEV still exists"
[ -e "/dev/ublkc$id" ] && fail_case "/dev/ublkc$id still exists"
grep -q 'flushed and closed' "$W/serve.err" || fail_case "no 'flushed and closed': $(tr '\n' '|' <"$W/serve.err")"
end

begin image_after_stop
zvd report "$IMG" --json >"$OUT/zvd.json" 2>"$W/e" || fail_case "zvd report: $(cat "$W/e")"
zvd check "$IMG" >"$W/c" 2>&1 || fail_case "zvd check: $(cat "$W/c")"
end

# limits: open 2, active 3, no conventional zones
LIMG=$W/l.img
begin limits_enforced
must zvd create "$LIMG" --size 64M --zone-size 4M --max-open 2 --max-active 3
serve "$LIMG" --queues 1 --depth 4
if [ -n "$DEV" ]; then
	must blkzone open -o 0 -c 1 "$DEV"
	must blkzone open -o $ZS -c 1 "$DEV"
	if blkzone open -o $((2 * ZS)) -c 1 "$DEV" 2>"$W/e"; then
		fail_case "a third explicit open (limit 2) succeeded"
	fi
	grep -qi 'too many references' "$W/e" || fail_case "open limit: not ETOOMANYREFS: $(cat "$W/e")"
	must blkzone close -o $ZS -c 1 "$DEV"
	must blkzone open -o $((2 * ZS)) -c 1 "$DEV"
	# 3 active (EO, C, EO): a fourth zone needs an active slot
	if blkzone open -o $((3 * ZS)) -c 1 "$DEV" 2>"$W/e"; then
		fail_case "a fourth active zone (limit 3) opened"
	fi
	grep -qi 'value too large' "$W/e" || fail_case "active limit: not EOVERFLOW: $(cat "$W/e")"
	if dd_write "$DEV" $((4 * ZS)) 1 "$W/pat"; then
		fail_case "a write to a fourth zone (active limit 3) succeeded"
	fi
	grep -qi 'value too large' "$W/dd.err" || fail_case "write at the active limit: not EOVERFLOW: $(cat "$W/dd.err")"
	# reset frees the slot; after a failed write Linux 6.12 fails the
	# zone's writes until the zone is reported again (as on any drive)
	must blkzone reset -o 0 -c 1 "$DEV"
	blkzone report -o $((4 * ZS)) -c 1 "$DEV" >/dev/null
	dd_write "$DEV" $((4 * ZS)) 1 "$W/pat" || fail_case "write after freeing a slot: $(cat "$W/dd.err")"
	stop_server TERM
	[ "$SRC" = 0 ] || fail_case "serve exited $SRC"
fi
end

begin sigint_stops
serve "$LIMG" --queues 1 --depth 1
if [ -n "$DEV" ]; then
	blkzone report "$DEV" >/dev/null || fail_case "report at depth 1"
	stop_server INT
	[ "$SRC" = 0 ] || fail_case "serve exited $SRC after SIGINT"
	[ -e "$DEV" ] && fail_case "$DEV still exists after SIGINT"
fi
end

begin zvd_up_default_image
mkdir -p "$W/up" && cd "$W/up" || fail_case "no dir"
zvd up --queues 1 >"$W/up.out" 2>"$W/up.err" &
upid=$!
for i in $(seq 600); do [ -s "$W/up.out" ] && break; sleep 0.1; done
UDEV=$(head -n 1 "$W/up.out")
[ -f zvd.img ] || fail_case "zvd up created no ./zvd.img"
if [ -b "$UDEV" ]; then
	[ "$(cat /sys/block/${UDEV#/dev/}/queue/nr_zones)" = 32 ] || fail_case "default image: not 32 zones"
else
	fail_case "zvd up brought up no device: $(tr '\n' '|' <"$W/up.err")"
fi
kill -INT $upid
wait $upid
[ $? = 0 ] || fail_case "zvd up exited non-zero after SIGINT"
cd /tmp
end

begin many_zones_report
# 20000 zones: a whole report (1.25 MB) no longer fits the kernel's
# default request, which Linux 6.12 would split (and then mis-number)
must zvd create "$W/m.img" --size $((20000 * 4))M --zone-size 4M \
	--conventional-zones 3 --max-open 16 --max-active 16
if serve "$W/m.img" --queues 2 --depth 8; then
	n=$(cat /sys/block/${DEV#/dev/}/queue/nr_zones)
	[ "$n" = 20000 ] || fail_case "nr_zones $n"
	blkzone report "$DEV" >"$W/m.rep" 2>&1 || fail_case "blkzone report: $(tail -n 1 "$W/m.rep")"
	[ "$(grep -c 'start:' "$W/m.rep")" = 20000 ] || fail_case "$(grep -c 'start:' "$W/m.rep") zones reported"
	[ "$(grep -c CONVENTIONAL "$W/m.rep")" = 3 ] || fail_case "$(grep -c CONVENTIONAL "$W/m.rep") conventional zones reported"
	# every start is the previous one plus a zone
	p=-1 i=0
	while read -r _ st _; do
		st=$((${st%,}))
		if [ $p -ge 0 ] && [ $st != $((p + ZS)) ]; then
			fail_case "zone $i starts at sector $st"
			break
		fi
		p=$st i=$((i + 1))
	done <"$W/m.rep"
	dd_write "$DEV" $((19999 * ZS)) 2 "$W/pat" || fail_case "write to the last zone: $(cat "$W/dd.err")"
	blkzone report -o $((19999 * ZS)) -c 1 "$DEV" | grep -q 'wptr 0x000010 .*zcond: 2(oi)' ||
		fail_case "last zone: $(blkzone report -o $((19999 * ZS)) -c 1 "$DEV")"
	stop_server TERM
fi
end

begin serve_mem_copy
# --mem: the image's zones, data and conditions, served from memory; the
# image file itself never changes
must zvd create "$W/c.img" --size 64M --zone-size 4M --conventional-zones 1
printf hello | zvd write "$W/c.img" 3 --pad >/dev/null
zvd finish "$W/c.img" 5 >/dev/null
zvd open "$W/c.img" 6 >/dev/null
before=$(zvd report "$W/c.img" --json)
if serve "$W/c.img" --mem --queues 2; then
	grep -q 'in-memory copy' "$W/serve.err" || fail_case "no word about the copy"
	blkzone report -o $((3 * ZS)) -c 1 "$DEV" | grep -q 'wptr 0x000008 .*zcond: 2(oi)' ||
		fail_case "zone 3: $(blkzone report -o $((3 * ZS)) -c 1 "$DEV")"
	blkzone report -o $((5 * ZS)) -c 1 "$DEV" | grep -q 'zcond:14(fu)' || fail_case "zone 5 not full"
	blkzone report -o $((6 * ZS)) -c 1 "$DEV" | grep -q 'zcond: 3(oe)' || fail_case "zone 6 not open"
	dd if="$DEV" bs=4k skip=$((3 * ZS / 8)) count=1 iflag=direct 2>/dev/null | head -c 5 | grep -q hello ||
		fail_case "zone 3 data not copied"
	dd_write "$DEV" $((8 * ZS)) 16 "$W/pat" || fail_case "write to the copy: $(cat "$W/dd.err")"
	stop_server INT
	[ "$SRC" = 0 ] || fail_case "serve --mem exited $SRC"
	[ "$(zvd report "$W/c.img" --json)" = "$before" ] || fail_case "serve --mem changed the image"
fi
end

begin refuse_non_power_of_two
must zvd create "$W/np.img" --size 60M --zone-size 6M --max-open 4 --max-active 4
zvd serve --ublk "$W/np.img" >"$W/np.out" 2>"$W/np.err"
rc=$?
[ $rc = 1 ] || fail_case "exit status $rc, not 1"
grep -q 'power of' "$W/np.err" || fail_case "no power-of-two message: $(cat "$W/np.err")"
ls /dev/ublkb* >/dev/null 2>&1 && fail_case "a device was created"
end

finish

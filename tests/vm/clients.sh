#!/bin/bash
# SPDX-License-Identifier: MIT
#
# clients.sh - real clients on zvd's ublk device in the guest: blkzone
# report/reset/open/close/finish and zbd report give what the image holds
# (checked against 'zvd report' after the server stops), fio
# --zonemode=zbd sequential and random writes with crc32c verification and
# zone resets, mkfs.f2fs -m and mkfs.btrfs -O zoned file systems that
# mount, take files and check clean. The same fio and mkfs runs on null_blk
# first show the clients themselves work on this kernel.
. "$(dirname "$0")/lib.sh"

CASES="clients-blkzone-zvd clients-zbd-zvd clients-fio-nullb clients-fio-zvd
clients-f2fs-zvd clients-btrfs-zvd clients-btrfs-nullb"
vm_require "$CASES" || exit 0

vm_run --timeout 900 <<'GUEST'
. /host/tests/vm/guest.inc

have_serve() {
	zvd help serve >/dev/null 2>&1
}
# zvd_serve IMAGE: serve it; DEV is its block device
zvd_serve() {
	zvd serve --ublk "$1" >"$1.out" 2>"$1.err" &
	SERVE_PID=$!
	for _ in $(seq 100); do
		[ -s "$1.out" ] && break
		kill -0 $SERVE_PID 2>/dev/null || break
		sleep 0.1
	done
	DEV=$(head -n 1 "$1.out")
	[ -b "$DEV" ] || { echo "# serve: $(cat "$1.err")"; return 1; }
}
zvd_stop() {
	kill $SERVE_PID 2>/dev/null
	wait $SERVE_PID
}
# "cond wp" of zone $2 from blkzone on device $1 (wp in hex sectors from
# the zone start, as blkzone prints it)
bz() {
	blkzone report -o $(($2 * 8192)) -c 1 "$1" | sed -n 's/.*wptr 0x\([0-9a-f]*\) .*zcond: *\([0-9]*\).*/\2 \1/p'
}
# no verify state files: they would land in /host, the source tree
FIO="fio --output-format=terse --terse-version=3 --ioengine=psync --direct=1 --zonemode=zbd --verify_state_save=0"

# 64 MiB, 4 MiB zones (1 conventional), data written before serving
IMG=/tmp/c.zvd
zvd create $IMG --size 64M --zone-size 4M --conventional-zones 1 --max-open 8 --max-active 8 >/dev/null
dd if=/dev/urandom of=/tmp/d1 bs=1M count=1 status=none
zvd write $IMG 2 --input /tmp/d1 >/dev/null
zvd write $IMG 3 --input /tmp/d1 >/dev/null
zvd finish $IMG 4 >/dev/null

begin clients-blkzone-zvd
if ! have_serve; then
	skip "this zvd has no 'serve --ublk'"
elif zvd_serve $IMG; then
	[ "$(bz $DEV 2)" = "2 000800" ] || fail "zone 2 after a 1 MiB write: [$(bz $DEV 2)], image says implicit open, wp +1 MiB"
	[ "$(bz $DEV 4 | cut -d" " -f1)" = 14 ] || fail "finished zone 4: [$(bz $DEV 4)]"
	[ "$(bz $DEV 0 | cut -d' ' -f1)" = 0 ] || fail "zone 0 is not conventional"
	dd if=$DEV of=/tmp/r1 bs=1M skip=8 count=1 iflag=direct status=none
	cmp -s /tmp/r1 /tmp/d1 || fail "zone 2's data differs"
	must blkzone reset -o $((3 * 8192)) -c 1 $DEV
	must blkzone open -o $((5 * 8192)) -c 1 $DEV
	must blkzone close -o $((2 * 8192)) -c 1 $DEV
	must blkzone finish -o $((6 * 8192)) -c 1 $DEV
	[ "$(bz $DEV 3)" = "1 000000" ] || fail "reset zone 3: [$(bz $DEV 3)]"
	[ "$(bz $DEV 5)" = "3 000000" ] || fail "opened zone 5: [$(bz $DEV 5)]"
	[ "$(bz $DEV 2)" = "4 000800" ] || fail "closed zone 2: [$(bz $DEV 2)]"
	[ "$(bz $DEV 6 | cut -d" " -f1)" = 14 ] || fail "finished zone 6: [$(bz $DEV 6)]"
	zvd_stop
	# what the image now holds (zvd report --json: cond names)
	r=$(zvd report $IMG)
	echo "$r" | grep -E '^ *3 ' | grep -qi empty || fail "image: zone 3 not empty: $(echo "$r" | grep -E '^ *3 ')"
	echo "$r" | grep -E '^ *5 ' | grep -qi 'explicit' || fail "image: zone 5 not explicitly open: $(echo "$r" | grep -E '^ *5 ')"
	echo "$r" | grep -E '^ *2 ' | grep -qi 'closed' || fail "image: zone 2 not closed: $(echo "$r" | grep -E '^ *2 ')"
	echo "$r" | grep -E '^ *6 ' | grep -qi 'full' || fail "image: zone 6 not full: $(echo "$r" | grep -E '^ *6 ')"
else
	fail "zvd serve --ublk did not come up"
fi
end

begin clients-zbd-zvd
if ! have_serve; then
	skip "this zvd has no 'serve --ublk'"
elif zvd_serve $IMG; then
	z=$(zbd report $DEV 2>&1)
	echo "$z" | grep -q 'Zone 00000: cnv' || fail "zbd: zone 0 not conventional"
	echo "$z" | grep -q 'Zone 00002: swr, ofst 00000008388608, len 00000004194304, cap 00000004194304, wp 00000009437184, cl' ||
		fail "zbd zone 2: $(echo "$z" | grep 'Zone 00002')"
	echo "$z" | grep -q 'Zone 00005: .*, oe,' || fail "zbd zone 5: $(echo "$z" | grep 'Zone 00005')"
	zvd_stop
else
	fail "zvd serve --ublk did not come up"
fi
end

# fio: sequential then random writes over the zones, crc32c verified,
# with resets; on null_blk first (the reference), then on zvd
fio_case() {
	local dev=$1 jobs
	must blkzone reset "$dev"
	$FIO --name=seq --filename="$dev" --rw=write --bs=64k --size=16M \
		--verify=crc32c --do_verify=1 >/tmp/fio1 2>&1 || fail "fio seq: $(tail -n 3 /tmp/fio1)"
	$FIO --name=rand --filename="$dev" --rw=randwrite --bs=16k --size=48M \
		--io_size=8M --max_open_zones=4 --zone_reset_threshold=0.5 \
		--zone_reset_frequency=0.05 --verify=crc32c --do_verify=1 \
		>/tmp/fio2 2>&1 || fail "fio randwrite: $(tail -n 3 /tmp/fio2)"
}

begin clients-fio-nullb
nullb_create fz 64 4 zone_nr_conv=1 zone_max_open=8 zone_max_active=8 || fail "null_blk"
fio_case /dev/fz
end

begin clients-fio-zvd
if ! have_serve; then
	skip "this zvd has no 'serve --ublk'"
elif zvd_serve $IMG; then
	fio_case $DEV
	zvd_stop || fail "the server exited non-zero"
	zvd check $IMG >/tmp/chk 2>&1 || fail "zvd check after fio: $(tail -n 3 /tmp/chk)"
else
	fail "zvd serve --ublk did not come up"
fi
end

# file systems: a bigger image (f2fs wants conventional zones for its
# metadata; btrfs wants several zones per block group kind)
mkfs_case() {
	local fs=$1 dev=$2 mkfs
	case $fs in
	f2fs) mkfs="mkfs.f2fs -f -m $dev" ;;
	btrfs) mkfs="mkfs.btrfs -f -O zoned -d single -m single $dev" ;;
	esac
	$mkfs >/tmp/mkfs 2>&1 || { fail "$mkfs: $(tail -n 3 /tmp/mkfs | tr '\n' '|')"; return; }
	mkdir -p /mnt/$fs
	mount -t $fs $dev /mnt/$fs 2>/tmp/mnt || { fail "mount $fs: $(cat /tmp/mnt) $(dmesg | tail -n 3 | tr '\n' '|')"; return; }
	dd if=/dev/urandom of=/tmp/f bs=1M count=8 status=none
	cp /tmp/f /mnt/$fs/f && sync || fail "writing a file on $fs"
	umount /mnt/$fs || fail "umount $fs"
	mount -t $fs $dev /mnt/$fs || { fail "remount $fs"; return; }
	cmp -s /tmp/f /mnt/$fs/f || fail "the file on $fs reads back different"
	umount /mnt/$fs
	case $fs in
	f2fs) fsck.f2fs $dev >/tmp/fsck 2>&1 || fail "fsck.f2fs: $(tail -n 3 /tmp/fsck)" ;;
	btrfs) btrfs check $dev >/tmp/fsck 2>&1 || fail "btrfs check: $(tail -n 3 /tmp/fsck)" ;;
	esac
}

begin clients-btrfs-nullb
nullb_create bt 512 4 zone_max_open=0 zone_max_active=0 || fail "null_blk"
mkfs_case btrfs /dev/bt
nullb_remove bt
end

for fs in f2fs btrfs; do
	begin clients-$fs-zvd
	if ! have_serve; then
		skip "this zvd has no 'serve --ublk'"
		continue
	fi
	img=/tmp/$fs.zvd
	if [ $fs = f2fs ]; then
		zvd create $img --size 512M --zone-size 4M --conventional-zones 16 --max-open 0 --max-active 0 >/dev/null
	else
		zvd create $img --size 512M --zone-size 4M --max-open 0 --max-active 0 >/dev/null
	fi
	if zvd_serve $img; then
		mkfs_case $fs $DEV
		zvd_stop || fail "the server exited non-zero"
		zvd check $img >/tmp/chk 2>&1 || fail "zvd check: $(tail -n 3 /tmp/chk)"
	else
		fail "zvd serve --ublk did not come up"
	fi
	rm -f $img
	end
done
finish
GUEST
vm_finish

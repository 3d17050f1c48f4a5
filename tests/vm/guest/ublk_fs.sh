#!/bin/bash
# SPDX-License-Identifier: MIT
#
# ublk_fs.sh (guest) - file systems on the zoned ublk device: mkfs.f2fs -m
# (metadata in conventional zones) and mkfs.btrfs -O zoned (data written
# with zone append) create file systems that mount and take files; after
# a clean restart of the server, and after kill -9 of the server with the
# file system mounted, they mount again with every synced file intact.
# Also: a restart after kill -9 with the same --id removes the dead device.
# the runner copies this script to /vmrun/run.sh; the repository is /host
. /host/tests/vm/guest/lib.sh

MNT=/mnt/zvdfs
mkdir -p "$MNT"

# put_files DIR N: N files of 4 KiB to 6 MiB of random data under DIR,
# their checksums appended to $W/sums (paths relative to $MNT).
put_files() {
	local dir=$1 n=$2 i kb
	mkdir -p "$MNT/$dir"
	for i in $(seq "$n"); do
		kb=$(((i * 1237) % 6144 + 4))
		head -c $((kb * 1024)) /dev/urandom >"$MNT/$dir/f$i" || return 1
	done
	(cd "$MNT" && md5sum "$dir"/f*) >>"$W/sums"
}

# check_files: every file in $W/sums reads back intact.
check_files() {
	local out
	out=$(cd "$MNT" && md5sum -c "$W/sums" 2>&1) ||
		fail_case "files differ: $(echo "$out" | grep -v ': OK' | head -n 3 | tr '\n' '|')"
}

mounted() {
	grep -q " $MNT " /proc/mounts
}

do_mount() {
	local out
	out=$(mount -t "$FS" "$DEV" "$MNT" 2>&1) || {
		fail_case "mount -t $FS $DEV: $out; $(dmesg | tail -n 3 | tr '\n' '|')"
		return 1
	}
}

do_umount() {
	local out
	out=$(timeout 120 umount "$MNT" 2>&1) || fail_case "umount: $out"
}

# fs_suite NAME MKFS-COMMAND... (the image $IMG exists)
fs_suite() {
	FS=$1
	shift
	: >"$W/sums"

	begin ${FS}_mkfs_mount_files
	if serve "$IMG" --queues 2 --depth 32; then
		if ! out=$("$@" "$DEV" 2>&1); then
			fail_case "$* $DEV: $(echo "$out" | tail -n 3 | tr '\n' '|')"
		elif do_mount; then
			put_files a 12 || fail_case "writing files failed"
			sync
			check_files
			do_umount
		fi
	fi
	end
	[ -n "$SPID" ] || return 0

	begin ${FS}_restart_remount
	stop_server TERM
	[ "$SRC" = 0 ] || fail_case "serve exited $SRC"
	note "$FS: $(grep 'served' "$W/serve.err")"
	if [ "$FS" = btrfs ]; then
		# btrfs writes its data with zone append
		grep -q 'served .* [1-9][0-9]* zone appends' "$W/serve.err" ||
			fail_case "btrfs made no zone append: $(grep served "$W/serve.err")"
	fi
	if serve "$IMG" --queues 1 --depth 16 && do_mount; then
		check_files
		put_files b 8 || fail_case "writing more files failed"
		sync
		check_files
	fi
	end

	begin ${FS}_kill9_mounted_remount
	if [ -n "$SPID" ] && mounted; then
		# synced: a and b; c is written and synced, then the server dies
		id=$(dev_id)
		put_files c 4 && sync
		kill9_server
		# the dead device is held by the mounted file system: a server
		# asking for its id says so instead of waiting for ever
		timeout 90 zvd serve --ublk "$IMG" --id "$id" >"$W/h.out" 2>"$W/h.err"
		hrc=$?
		{ [ $hrc = 1 ] && grep -q 'still held' "$W/h.err"; } ||
			fail_case "serve --id $id while the dead device is held: exit $hrc: $(tr '\n' '|' <"$W/h.err")"
		timeout 120 umount "$MNT" >/dev/null 2>&1 ||
			timeout 60 umount -l "$MNT" >/dev/null 2>&1
		# unmounted, the dead device goes and its id is free again
		if serve "$IMG" --queues 2 --depth 64 --id "$id" && do_mount; then
			check_files
			put_files d 3 && sync && check_files
			do_umount
		fi
		stop_server TERM
		[ "$SRC" = 0 ] || fail_case "serve exited $SRC"
	else
		fail_case "no mounted file system to crash"
	fi
	zvd check "$IMG" >"$W/c" 2>&1 || fail_case "zvd check after the crash: $(cat "$W/c")"
	end
}

IMG=$W/f2fs.img
zvd create "$IMG" --size 512M --zone-size 4M --conventional-zones 8 \
	--max-open 14 --max-active 14 >/dev/null
fs_suite f2fs mkfs.f2fs -f -m
mounted && umount "$MNT"

IMG=$W/btrfs.img
zvd create "$IMG" --size 512M --zone-size 8M --max-open 12 \
	--max-active 12 >/dev/null
fs_suite btrfs mkfs.btrfs -f -O zoned
mounted && umount "$MNT"

begin kill9_restart_same_id
IMG=$W/k.img
zvd create "$IMG" --size 64M --zone-size 4M >/dev/null
if serve "$IMG" --id 7; then
	[ "$DEV" = /dev/ublkb7 ] || fail_case "--id 7 gave $DEV"
	head -c 1048576 /dev/urandom >"$W/k1"
	dd if="$W/k1" of="$DEV" bs=64k oflag=direct conv=fsync 2>/dev/null ||
		fail_case "write failed"
	kill9_server
	if serve "$IMG" --id 7; then
		grep -q 'removing the dead ublk device 7' "$W/serve.err" ||
			fail_case "no word about the dead device: $(tr '\n' '|' <"$W/serve.err")"
		dd if="$DEV" of="$W/k2" bs=64k count=16 iflag=direct 2>/dev/null
		cmp -s "$W/k1" "$W/k2" || fail_case "synced data lost across kill -9"
		stop_server TERM
	fi
fi
end

finish

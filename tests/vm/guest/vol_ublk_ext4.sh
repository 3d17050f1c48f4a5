#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vol_ublk_ext4.sh (guest) - a volume served as an ordinary ublk disk:
# its queue limits (512-byte sectors, 4 KiB physical blocks, discard and
# write-zeroes); discard and write-zeroes on the raw device reach the
# library and persist across a restart; ext4 takes files; fstrim after
# deleting a large file hands its space back to the volume; and after a
# kill -9 of the server under a background writer, the journal replays,
# fsck -f -n is clean and every file synced before the kill (and every
# file whose fsync returned) reads back intact.
# the runner copies this script to /vmrun/run.sh; the repository is /host
. /host/tests/vm/guest/lib.sh

MNT=/mnt/zvdvol
mkdir -p "$MNT"
IMG=$W/vol.img
MiB=1048576

mounted() {
	grep -q " $MNT " /proc/mounts
}

do_mount() {
	local out
	out=$(mount -t ext4 "$DEV" "$MNT" 2>&1) || {
		fail_case "mount $DEV: $out; $(dmesg | tail -n 3 | tr '\n' '|')"
		return 1
	}
}

do_umount() {
	local out
	out=$(timeout 120 umount "$MNT" 2>&1) || fail_case "umount: $out"
}

# stop_clean: SIGTERM the server; it must exit 0 having failed nothing.
stop_clean() {
	stop_server TERM
	[ "$SRC" = 0 ] || fail_case "serve exited $SRC: $(tr '\n' '|' <"$W/serve.err")"
	grep -q 'served .*; 0 failed' "$W/serve.err" ||
		fail_case "requests failed: $(grep served "$W/serve.err")"
	note "$(grep served "$W/serve.err")"
}

# served_count WHAT: how many WHAT ("discards", "write-zeroes") the last
# server said it served.
served_count() {
	sed -n "s/.* \([0-9][0-9]*\) $1[,;].*/\1/p" "$W/serve.err" | head -n 1
}

# live_bytes: the volume's live data (blocks its map references), from
# zvd info --json (server stopped). Segments are collected lazily, so the
# space the log takes (data_bytes) need not shrink at once; this must.
live_bytes() {
	zvd info --json "$IMG" 2>/dev/null | tr -d ' \n' |
		sed -n 's/.*"live_bytes":\([0-9][0-9]*\).*/\1/p'
}

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

# check_sums FILE: every file listed in FILE reads back intact.
check_sums() {
	local out
	[ -s "$1" ] || { fail_case "no checksums in $1"; return 1; }
	out=$(cd "$MNT" && md5sum -c "$1" 2>&1) ||
		fail_case "files differ: $(echo "$out" | grep -v ': OK' | head -n 3 | tr '\n' '|')"
}

# sysfs_is ATTR WANT: /sys/block/<dev>/queue/ATTR reads WANT.
sysfs_is() {
	local got
	got=$(cat "/sys/block/${DEV#/dev/}/queue/$1" 2>&1)
	[ "$got" = "$2" ] || fail_case "queue/$1 is '$got', not '$2'"
}

# -------------------------------------------------------------------------

begin vol_create_serve_limits
if ! out=$(zvd create "$IMG" --conventional --size 256M 2>&1); then
	fail_case "zvd create --conventional: $out"
	finish
fi
# --mem copies zone by zone: a volume is refused, with a reason
timeout 60 zvd serve --ublk "$IMG" --mem >/dev/null 2>"$W/mem.err"
rc=$?
{ [ $rc = 1 ] && grep -q 'is a volume' "$W/mem.err"; } ||
	fail_case "serve --mem of a volume: exit $rc: $(tr '\n' '|' <"$W/mem.err")"
if serve "$IMG" --queues 2 --depth 32; then
	sysfs_is zoned none
	sysfs_is logical_block_size 512
	sysfs_is physical_block_size 4096
	sysfs_is minimum_io_size 4096
	sysfs_is discard_granularity 4096
	sysfs_is discard_max_hw_bytes $((1024 * MiB))
	sysfs_is write_zeroes_max_bytes $((1024 * MiB))
	sysfs_is write_cache "write back"
	sysfs_is fua 1
	sz=$(cat "/sys/block/${DEV#/dev/}/size")
	[ "$sz" = $((256 * MiB / 512)) ] || fail_case "size is $sz sectors"
	grep -q 'is live: a volume of 256 MiB' "$W/serve.err" ||
		fail_case "no volume line: $(tr '\n' '|' <"$W/serve.err")"
fi
end
[ -n "$SPID" ] || finish

# Raw device: 8 MiB of data; discard the first 4 MiB, write zeros over
# 4-6 MiB and over 1 KiB inside one block at 6 MiB + 512 (partial block:
# its other sectors keep their data). $W/want is what must read back.
begin vol_raw_discard_write_zeroes
head -c $((8 * MiB)) /dev/urandom >"$W/raw"
cp "$W/raw" "$W/want"
dd if="$W/raw" of="$DEV" bs=1M oflag=direct conv=fsync 2>/dev/null ||
	fail_case "writing 8 MiB failed"
must blkdiscard -o 0 -l $((4 * MiB)) "$DEV"
must blkdiscard -z -o $((4 * MiB)) -l $((2 * MiB)) "$DEV"
must blkdiscard -z -o $((6 * MiB + 512)) -l 1024 "$DEV"
dd if=/dev/zero of="$W/want" bs=1M count=6 conv=notrunc 2>/dev/null
dd if=/dev/zero of="$W/want" bs=512 seek=$((6 * 2048 + 1)) count=2 \
	conv=notrunc 2>/dev/null
dd if="$DEV" of="$W/got" bs=1M count=8 iflag=direct 2>/dev/null
cmp "$W/want" "$W/got" >"$W/cmp" 2>&1 ||
	fail_case "after discard and write-zeroes: $(head -n 1 "$W/cmp")"
stop_clean
nd=$(served_count discards)
nz=$(served_count write-zeroes)
[ "${nd:-0}" -ge 1 ] || fail_case "no discard reached the server (${nd:-?})"
[ "${nz:-0}" -ge 2 ] || fail_case "fewer than 2 write-zeroes reached the server (${nz:-?})"
# what was discarded and zeroed stays so across a restart
if serve "$IMG" --queues 1 --depth 16; then
	dd if="$DEV" of="$W/got" bs=1M count=8 iflag=direct 2>/dev/null
	cmp "$W/want" "$W/got" >"$W/cmp" 2>&1 ||
		fail_case "after a restart: $(head -n 1 "$W/cmp")"
fi
end
[ -n "$SPID" ] || finish

begin vol_ext4_mkfs_files
: >"$W/sums"
if ! out=$(mkfs.ext4 -F -q "$DEV" 2>&1); then
	fail_case "mkfs.ext4: $(echo "$out" | tail -n 3 | tr '\n' '|')"
elif do_mount; then
	put_files a 10 || fail_case "writing files failed"
	sync
	check_sums "$W/sums"
	do_umount
fi
stop_clean
[ "$(served_count discards)" -ge 1 ] ||
	fail_case "mkfs.ext4 discarded nothing: $(grep served "$W/serve.err")"
zvd check "$IMG" >"$W/c" 2>&1 || fail_case "zvd check: $(tr '\n' '|' <"$W/c")"
end

# fstrim: a 64 MiB file, deleted and trimmed, leaves the volume's live data
begin vol_ext4_fstrim_frees_space
d0=$(live_bytes)
if serve "$IMG" --queues 2 --depth 32 && do_mount; then
	head -c $MiB /dev/urandom >"$W/mb"
	for i in $(seq 64); do cat "$W/mb"; done >"$MNT/big"
	sync
	do_umount
	stop_clean
	d1=$(live_bytes)
	note "live bytes: $d0 before, $d1 with the 64 MiB file"
	if [ -z "$d0" ] || [ -z "$d1" ]; then
		fail_case "zvd info --json has no live_bytes: $(zvd info --json "$IMG" 2>&1 | tr -d '\n' | head -c 300)"
	elif [ "$d1" -lt $((d0 + 60 * MiB)) ]; then
		fail_case "writing 64 MiB grew the live bytes only from $d0 to $d1"
	fi
	if serve "$IMG" --queues 2 --depth 32 && do_mount; then
		rm "$MNT/big"
		sync
		out=$(fstrim -v "$MNT" 2>&1) || fail_case "fstrim: $out"
		note "fstrim: $out"
		tb=$(echo "$out" | sed -n 's/.*(\([0-9][0-9]*\) bytes) trimmed.*/\1/p')
		[ "${tb:-0}" -ge $((60 * MiB)) ] ||
			fail_case "fstrim trimmed ${tb:-?} bytes, not the 64 MiB file"
		check_sums "$W/sums"
		do_umount
		stop_clean
		[ "$(served_count discards)" -ge 1 ] ||
			fail_case "fstrim sent no discard: $(grep served "$W/serve.err")"
		d2=$(live_bytes)
		note "live bytes after fstrim: $d2"
		[ -n "$d2" ] && [ -n "$d1" ] && [ "$d2" -le $((d1 - 60 * MiB)) ] ||
			fail_case "fstrim left the live bytes at $d2 (were $d1 with the file)"
	fi
fi
end

# kill -9 under a writer: files synced before, and every file whose fsync
# returned, survive; the journal replays and the file system is clean.
begin vol_ext4_kill9_under_writes
: >"$W/wsums"
if serve "$IMG" --queues 2 --depth 32 && do_mount; then
	put_files b 4 && sync || fail_case "writing files failed"
	mkdir -p "$MNT/w"
	# the writer: random files with conv=fsync; a file's checksum is
	# recorded only once its fsync has returned
	(
		i=0
		while :; do
			i=$((i + 1))
			head -c $(((i % 7 + 1) * 256 * 1024)) /dev/urandom >"$W/wbuf"
			dd if="$W/wbuf" of="$MNT/w/g$i" bs=64k conv=fsync \
				2>/dev/null || break
			echo "$(md5sum <"$W/wbuf" | cut -d' ' -f1)  w/g$i" >>"$W/wsums"
		done
		echo "$i" >"$W/writer.stopped"
	) &
	WPID=$!
	for t in $(seq 600); do
		[ "$(wc -l <"$W/wsums")" -ge 5 ] && break
		sleep 0.1
	done
	id=$(dev_id)
	done_before=$(wc -l <"$W/wsums")
	kill -0 "$WPID" 2>/dev/null || fail_case "the writer stopped before the kill"
	[ "$done_before" -ge 5 ] || fail_case "the writer synced only $done_before files in 60 s"
	kill9_server
	# the writer fails (EIO, then a read-only file system) or is stopped
	for t in $(seq 300); do
		kill -0 "$WPID" 2>/dev/null || break
		sleep 0.1
	done
	# it must have stopped on its own: a write or fsync failed
	[ -e "$W/writer.stopped" ] ||
		fail_case "the writer kept writing for 30 s after the kill"
	kill "$WPID" 2>/dev/null
	wait "$WPID" 2>/dev/null
	note "the writer had synced $(wc -l <"$W/wsums") files ($done_before when the server was killed)"
	timeout 120 umount "$MNT" >/dev/null 2>&1 ||
		timeout 60 umount -l "$MNT" >/dev/null 2>&1
	# unmounted, the dead device goes and its id is free again
	if serve "$IMG" --queues 2 --depth 32 --id "$id"; then
		grep -q "removing the dead ublk device $id" "$W/serve.err" ||
			note "no dead device $id to remove (already gone)"
		# the journal replays as a mount would; then nothing is left to fix
		out=$(e2fsck -E journal_only -y "$DEV" 2>&1)
		rc=$?
		[ $rc -le 1 ] || fail_case "journal replay: exit $rc: $(echo "$out" | tail -n 3 | tr '\n' '|')"
		out=$(fsck.ext4 -f -n "$DEV" 2>&1)
		rc=$?
		[ $rc = 0 ] || fail_case "fsck.ext4 -f -n: exit $rc: $(echo "$out" | grep -v '^Pass\|^e2fsck' | head -n 5 | tr '\n' '|')"
		if do_mount; then
			check_sums "$W/sums"
			check_sums "$W/wsums"
			do_umount
		fi
		stop_clean
	fi
	zvd check "$IMG" >"$W/c" 2>&1 || fail_case "zvd check after the crash: $(tr '\n' '|' <"$W/c")"
else
	fail_case "no mounted file system to crash"
fi
end

mounted && umount "$MNT"
finish

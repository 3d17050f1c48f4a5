#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vol_nbd_kernel.sh (guest) - the kernel's NBD client (nbd.ko through
# nbd-client) on a volume served by `zvd serve --nbd` over a Unix socket:
# the device has the volume's size and discard; ext4 is made, takes files
# and fstrim; after a disconnect and a server restart, fsck -f -n is clean
# and every file reads back; after kill -9 of the server under the mounted
# file system, a new server and a new connection find every synced file.
# the runner copies this script to /vmrun/run.sh; the repository is /host
. /host/tests/vm/guest/lib.sh

MNT=/mnt/zvdnbd
mkdir -p "$MNT"
IMG=$W/vol.img
NAME=vol.img
SOCK=$W/nbd.sock
NBD=/dev/nbd0
MiB=1048576
NPID=

mounted() {
	grep -q " $MNT " /proc/mounts
}

# nbd_serve: start zvd serve --nbd in the background and wait (60 s at
# most) until it prints the socket path.
nbd_serve() {
	local i
	: >"$W/nbd.out"
	zvd serve --nbd "$IMG" --socket "$SOCK" >"$W/nbd.out" 2>"$W/nbd.err" &
	NPID=$!
	for i in $(seq 600); do
		if [ -s "$W/nbd.out" ] && [ -S "$SOCK" ]; then
			[ "$(head -n 1 "$W/nbd.out")" = "$SOCK" ] && return 0
			fail_case "the server printed '$(head -n 1 "$W/nbd.out")', not $SOCK"
			return 1
		fi
		kill -0 "$NPID" 2>/dev/null || break
		sleep 0.1
	done
	fail_case "zvd serve --nbd did not come up: $(tr '\n' '|' <"$W/nbd.err")"
	kill -9 "$NPID" 2>/dev/null
	wait "$NPID" 2>/dev/null
	NPID=
	return 1
}

# nbd_stop: SIGTERM the server; it must exit 0.
nbd_stop() {
	local i rc
	[ -n "$NPID" ] || return 0
	kill -TERM "$NPID" 2>/dev/null
	for i in $(seq 600); do
		kill -0 "$NPID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$NPID" 2>/dev/null && {
		fail_case "the NBD server did not exit within 60 s of SIGTERM"
		kill -9 "$NPID"
	}
	wait "$NPID"
	rc=$?
	NPID=
	[ $rc = 0 ] || fail_case "zvd serve --nbd exited $rc: $(tr '\n' '|' <"$W/nbd.err")"
}

# connect: attach $NBD to the export, 4 KiB blocks; wait for its size.
connect() {
	local out i
	out=$(nbd-client -u -N "$NAME" -b 4096 "$SOCK" "$NBD" 2>&1) || {
		fail_case "nbd-client: $out"
		return 1
	}
	for i in $(seq 100); do
		[ "$(cat /sys/block/nbd0/size)" != 0 ] && return 0
		sleep 0.1
	done
	fail_case "$NBD has no size after nbd-client: $out"
	return 1
}

disconnect() {
	local out i
	out=$(nbd-client -d "$NBD" 2>&1) || fail_case "nbd-client -d: $out"
	for i in $(seq 100); do
		[ "$(cat /sys/block/nbd0/size)" = 0 ] && return 0
		sleep 0.1
	done
	fail_case "$NBD still has a size after nbd-client -d"
}

do_mount() {
	local out
	out=$(mount -t ext4 "$NBD" "$MNT" 2>&1) || {
		fail_case "mount $NBD: $out; $(dmesg | tail -n 3 | tr '\n' '|')"
		return 1
	}
}

do_umount() {
	local out
	out=$(timeout 120 umount "$MNT" 2>&1) || fail_case "umount: $out"
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

check_files() {
	local out
	out=$(cd "$MNT" && md5sum -c "$W/sums" 2>&1) ||
		fail_case "files differ: $(echo "$out" | grep -v ': OK' | head -n 3 | tr '\n' '|')"
}

fsck_clean() {
	local out rc
	out=$(fsck.ext4 -f -n "$NBD" 2>&1)
	rc=$?
	[ $rc = 0 ] || fail_case "fsck.ext4 -f -n: exit $rc: $(echo "$out" | grep -v '^Pass\|^e2fsck' | head -n 5 | tr '\n' '|')"
}

# finish, stopping what is still running first
finish() {
	mounted && umount "$MNT" 2>/dev/null
	[ -e /sys/block/nbd0/pid ] && nbd-client -d "$NBD" >/dev/null 2>&1
	[ -n "$NPID" ] && kill -9 "$NPID" 2>/dev/null
	exit $ANY_FAILED
}

# -------------------------------------------------------------------------

begin nbd_connect_volume
command -v nbd-client >/dev/null || { fail_case "no nbd-client in the guest"; finish; }
must modprobe nbd
[ -b "$NBD" ] || { fail_case "no $NBD after modprobe nbd"; finish; }
out=$(zvd create "$IMG" --conventional --size 256M 2>&1) ||
	{ fail_case "zvd create --conventional: $out"; finish; }
if nbd_serve && connect; then
	sz=$(cat /sys/block/nbd0/size)
	[ "$sz" = $((256 * MiB / 512)) ] || fail_case "$NBD has $sz sectors"
	lbs=$(cat /sys/block/nbd0/queue/logical_block_size)
	[ "$lbs" = 4096 ] || fail_case "logical block size $lbs, not 4096"
	dmax=$(cat /sys/block/nbd0/queue/discard_max_bytes)
	[ "${dmax:-0}" -gt 0 ] || fail_case "no discard: the server did not offer TRIM"
fi
end
[ -n "$NPID" ] && [ "$(cat /sys/block/nbd0/size)" != 0 ] || finish

# the raw device: data, a discard, zeros where the kernel can send them
begin nbd_raw_data_discard
head -c $((4 * MiB)) /dev/urandom >"$W/raw"
cp "$W/raw" "$W/want"
dd if="$W/raw" of="$NBD" bs=1M oflag=direct conv=fsync 2>/dev/null ||
	fail_case "writing 4 MiB failed"
must blkdiscard -o $MiB -l $MiB "$NBD"
dd if=/dev/zero of="$W/want" bs=1M seek=1 count=1 conv=notrunc 2>/dev/null
if [ "$(cat /sys/block/nbd0/queue/write_zeroes_max_bytes)" -gt 0 ]; then
	must blkdiscard -z -o $((3 * MiB)) -l $MiB "$NBD"
	dd if=/dev/zero of="$W/want" bs=1M seek=3 count=1 conv=notrunc 2>/dev/null
else
	note "this kernel's NBD client offers no write-zeroes"
fi
dd if="$NBD" of="$W/got" bs=1M count=4 iflag=direct 2>/dev/null
cmp "$W/want" "$W/got" >"$W/cmp" 2>&1 || fail_case "read back: $(head -n 1 "$W/cmp")"
end

begin nbd_ext4_files_fstrim
: >"$W/sums"
if ! out=$(mkfs.ext4 -F -q "$NBD" 2>&1); then
	fail_case "mkfs.ext4: $(echo "$out" | tail -n 3 | tr '\n' '|')"
elif do_mount; then
	put_files a 10 || fail_case "writing files failed"
	head -c $((32 * MiB)) /dev/urandom >"$MNT/big"
	sync
	check_files
	rm "$MNT/big"
	sync
	out=$(fstrim -v "$MNT" 2>&1) || fail_case "fstrim: $out"
	tb=$(echo "$out" | sed -n 's/.*(\([0-9][0-9]*\) bytes) trimmed.*/\1/p')
	[ "${tb:-0}" -ge $((32 * MiB)) ] || fail_case "fstrim: $out"
	do_umount
fi
disconnect
nbd_stop
end

begin nbd_reconnect_fsck_verify
if nbd_serve && connect; then
	fsck_clean
	if do_mount; then
		check_files
		put_files b 4 && sync || fail_case "writing more files failed"
		do_umount
	fi
	disconnect
fi
nbd_stop
zvd check "$IMG" >"$W/c" 2>&1 || fail_case "zvd check: $(tr '\n' '|' <"$W/c")"
end

# kill -9 of the server under a mounted file system; synced files survive
begin nbd_kill9_reconnect
if nbd_serve && connect && do_mount; then
	put_files c 3 && sync || fail_case "writing files failed"
	kill -9 "$NPID"
	wait "$NPID" 2>/dev/null
	NPID=
	timeout 120 umount "$MNT" >/dev/null 2>&1 ||
		timeout 60 umount -l "$MNT" >/dev/null 2>&1
	nbd-client -d "$NBD" >/dev/null 2>&1
	for i in $(seq 100); do
		[ "$(cat /sys/block/nbd0/size)" = 0 ] && break
		sleep 0.1
	done
	if nbd_serve && connect; then
		# the journal replays as a mount would; then nothing is left to fix
		out=$(e2fsck -E journal_only -y "$NBD" 2>&1)
		rc=$?
		[ $rc -le 1 ] || fail_case "journal replay: exit $rc: $(echo "$out" | tail -n 3 | tr '\n' '|')"
		fsck_clean
		if do_mount; then
			check_files
			do_umount
		fi
		disconnect
	fi
	nbd_stop
	zvd check "$IMG" >"$W/c" 2>&1 || fail_case "zvd check after the crash: $(tr '\n' '|' <"$W/c")"
fi
end

finish

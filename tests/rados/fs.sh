#!/bin/bash
# SPDX-License-Identifier: MIT
# A file system on a volume on RADOS (issue 8): the host kernel's ext4 on
# a loop device over nbdfuse (libnbd's FUSE client) over 'zvd serve
# --nbd rados://...' with a local write-back log. Files written and
# synced; a snapshot of the frozen file system; a clean stop and a
# restart without the log (the cluster has everything): fsck clean, files
# intact; kill -9 of the server under the mounted file system and a
# restart with the log: the journal replays and every synced file is
# there; the snapshot, served read-only, is a clean file system holding
# what it held. Needs root, /dev/loop-control and /dev/fuse.
. "$(dirname "$0")/lib.sh"

MNT=$T/mnt
FUSE=$T/fuse
CACHE=$T/cache.log
LOOP=

# Attach export $1 as a block device: nbdfuse makes $FUSE/disk, a loop
# device makes it a block device ($LOOP). $2 = -r for read-only.
attach() {
	local i
	mkdir -p "$FUSE"
	(exec nbdfuse ${2:+-r} "$FUSE/disk" "$1" >"$T/fuse.err" 2>&1) &
	CLEANUP_PIDS+=($!)
	disown $!
	for i in $(seq 100); do
		[ -e "$FUSE/disk" ] && break
		sleep 0.1
	done
	LOOP=$(losetup -f --show ${2:+-r} "$FUSE/disk" 2>"$T/loop.err") || {
		fail_case "losetup: $(cat "$T/loop.err") $(cat "$T/fuse.err")"
		LOOP=
		return 1
	}
}

# Undo attach (and a mount); $1 = lazy when the server is dead.
detach() {
	if grep -q " $MNT " /proc/mounts; then
		umount ${1:+-l} "$MNT" 2>/dev/null || umount -l "$MNT"
	fi
	[ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
	LOOP=
	if grep -q " $FUSE " /proc/mounts; then
		fusermount3 -u "$FUSE" 2>/dev/null || fusermount -u "$FUSE" 2>/dev/null ||
			umount -l "$FUSE"
	fi
	sleep 0.2
}

fs_cleanup() {
	detach lazy
}
trap 'fs_cleanup; rados_cleanup' EXIT

# "SUM PATH" lines of every file under $1, sorted.
sums() {
	(cd "$1" && find . -type f ! -path './lost+found/*' -exec md5sum {} + | sort -k2)
}

can_run() {
	rados_ready || return 1
	requires nbdfuse losetup mkfs.ext4 e2fsck || return 1
	if [ ! -e /dev/loop-control ] || [ ! -e /dev/fuse ] || [ "$(id -u)" != 0 ]; then
		skip_case "needs root, /dev/loop-control and /dev/fuse"
		return 1
	fi
	return 0
}

begin ext4_on_a_rados_volume
if can_run; then
	new_image fs
	mkdir -p "$MNT"
	run_zvd create "$IMG" --conventional --size 256M
	want_rc 0
	if must_serve "$IMG" --cache "$CACHE" && attach "$SRV_URI"; then
		must mkfs.ext4 -q -E nodiscard "$LOOP" &&
			must mount "$LOOP" "$MNT" &&
			cp -r "$SRC_ROOT/lib" "$SRC_ROOT/docs" "$MNT/" &&
			head -c 24M /dev/urandom >"$MNT/random.bin" && sync &&
			sums "$MNT" >"$T/sums1"
		# a snapshot of the frozen file system, taken through the
		# server's control socket
		must fsfreeze -f "$MNT"
		run_zvd snapshot create "$IMG" s1
		want_rc 0
		must fsfreeze -u "$MNT"
		# more after the snapshot, then discard what is deleted
		rm -rf "$MNT/docs"
		head -c 8M /dev/urandom >"$MNT/after.bin" && sync
		fstrim "$MNT" >/dev/null 2>&1
		sums "$MNT" >"$T/sums2"
		detach
		stop_server
		[ "$SRV_RC" = 0 ] || fail_case "the server exited $SRV_RC on SIGTERM: $(cat "$T/srv.err")"
	fi
	# the cluster has everything now: no log needed
	if must_serve "$IMG" && attach "$SRV_URI"; then
		e2fsck -fn "$LOOP" >"$T/fsck" 2>&1 ||
			fail_case "fsck after a clean stop: $(tail -3 "$T/fsck" | tr '\n' '|')"
		must mount "$LOOP" "$MNT" && sums "$MNT" >"$T/sums3"
		cmp -s "$T/sums2" "$T/sums3" || fail_case "files differ after a restart without the log"
		detach
		stop_server
	fi
fi
end

begin ext4_kill_9_under_the_mount
if can_run && [ -n "${IMG:-}" ]; then
	rm -f "$CACHE"
	if must_serve "$IMG" --cache "$CACHE" && attach "$SRV_URI" &&
		must mount "$LOOP" "$MNT"; then
		head -c 4M /dev/urandom >"$MNT/synced.bin" && sync
		sums "$MNT" >"$T/sums4"
		# unsynced writes in flight when the server dies
		head -c 16M /dev/urandom >"$MNT/unsynced.bin" &
		writer=$!
		sleep 0.3
		kill -9 "$SRV_PID"
		wait "$SRV_PID" 2>/dev/null
		wait "$writer" 2>/dev/null
		# nbdfuse dies with its server (it aborts)
		detach lazy
		# the same log: what it held is read and uploaded
		if must_serve "$IMG" --cache "$CACHE" && attach "$SRV_URI"; then
			grep -q 'local log held' "$T/srv.err" ||
				echo "# (the log held nothing the cluster lacked)"
			# the journal needs replaying: e2fsck does it
			e2fsck -fy "$LOOP" >"$T/fsck" 2>&1
			[ $? -le 1 ] || fail_case "fsck after kill -9: $(tail -3 "$T/fsck" | tr '\n' '|')"
			e2fsck -fn "$LOOP" >"$T/fsck2" 2>&1 ||
				fail_case "not clean after the repair: $(tail -3 "$T/fsck2" | tr '\n' '|')"
			must mount "$LOOP" "$MNT" && sums "$MNT" | grep -v unsynced.bin >"$T/sums5"
			cmp -s <(grep -v unsynced.bin "$T/sums4") "$T/sums5" ||
				fail_case "synced files differ after kill -9 and replay"
			detach
			stop_server
		fi
	fi
fi
end

begin ext4_snapshot_served_readonly
if can_run && [ -n "${IMG:-}" ]; then
	if must_serve --readonly "$IMG@s1" && attach "$SRV_URI" -r; then
		e2fsck -fn "$LOOP" >"$T/fsck" 2>&1 ||
			fail_case "the snapshot is not a clean file system: $(tail -3 "$T/fsck" | tr '\n' '|')"
		must mount -o ro,noload "$LOOP" "$MNT" && sums "$MNT" >"$T/sums6"
		cmp -s "$T/sums1" "$T/sums6" || fail_case "the snapshot's files differ from what they were"
		detach
		stop_server
	fi
fi
end

finish

#!/bin/bash
# SPDX-License-Identifier: MIT
# Volumes in RADOS (rados://POOL/NAME) against a throwaway single-node
# cluster: create, info, check and the CLI's read and write; the image's
# objects in the pool; 'zvd serve --nbd' with real clients (nbdinfo,
# qemu-io, nbdcopy, fio with verify) with and without a local write-back
# cache, data kept across restarts; one writer at a time and break-lock;
# snapshots served read-only, rollback, clones into RADOS and into a
# file and from a file, snapshots sharing objects, gc; and the errors
# for bad names, a pool that does not exist and a missing image.
. "$(dirname "$0")/lib.sh"

M=$((1 << 20))
make_data "$T/d1" $M
make_data "$T/d8" $((8 * M))

info_json() {
	"$ZVD" info "$1" --json 2>/dev/null >"$T/info.json"
}

begin create_info_check
if rados_ready; then
	new_image vol
	V1=$IMG V1_NAME=$IMG_NAME
	run_zvd create "$IMG" --conventional --size 64M
	want_rc 0
	want_out "volume of 64 MiB"
	run_zvd info "$IMG" --json
	want_rc 0
	json_check "d['kind'] == 'volume' and d['size'] == 64 << 20 and d['space']['data_bytes'] == 0" "a new RADOS volume is not an empty 64 MiB volume"
	run_zvd info "$IMG"
	want_rc 0
	want_out "volume"
	run_zvd check "$IMG"
	want_rc 0
	want_out "clean"
	[ -n "$(pool_objects "$IMG_NAME")" ] ||
		fail_case "create left no object named $IMG_NAME.* in pool $RADOS_POOL"
fi
end

begin create_existing_refused
if rados_ready; then
	run_zvd create "$V1" --conventional --size 32M
	want_rc 1
	want_err "exists"
	run_zvd info "$V1" --json
	json_check "d['size'] == 64 << 20" "a refused create changed the image"
fi
end

# stderr of the last run, with the image name $1 taken out (an error
# that only repeats the name does not say what is wrong), must match $2.
want_err_says() {
	grep -Fv -- "$1" "$T/err" | grep -Eqi -- "$2" ||
		sed "s|$1||g" "$T/err" | grep -Eqi -- "$2" ||
		fail_case "'$LAST_CMD' does not say /$2/; $(said)"
}

begin bad_names
if rados_ready; then
	for n in "rados://" "rados://$RADOS_POOL" "rados://$RADOS_POOL/" "rados:///x"; do
		run_zvd create "$n" --conventional --size 64M
		[ "$RC" != 0 ] && [ "$RC" -lt 128 ] ||
			fail_case "'zvd create $n' exited $RC; $(said)"
		want_err_says "$n" 'pool|name'
		run_zvd info "$n"
		[ "$RC" != 0 ] && [ "$RC" -lt 128 ] ||
			fail_case "'zvd info $n' exited $RC; $(said)"
		want_err_says "$n" 'pool|name'
	done
fi
end

begin missing_pool_and_image
if rados_ready; then
	run_zvd create "rados://nosuchpool/v" --conventional --size 64M
	want_rc 1
	want_err_says "rados://nosuchpool/v" "pool"
	run_zvd info "rados://nosuchpool/v"
	want_rc 1
	want_err_says "rados://nosuchpool/v" "pool"
	run_zvd info "rados://$RADOS_POOL/nosuchimage"
	want_rc 1
	want_err_says "rados://$RADOS_POOL/nosuchimage" "no such|not found|does not exist|no image"
	run_zvd serve --nbd "rados://$RADOS_POOL/nosuchimage" --socket "$T/x.sock"
	want_rc 1
	[ -z "$(pool_objects nosuchimage)" ] ||
		fail_case "opening a missing image made objects: $(pool_objects nosuchimage | head -3 | tr '\n' ' ')"
fi
end

begin no_cluster
if rados_ready; then
	# a configuration file that is not there: an error, not a hang
	CEPH_CONF=$T/none.conf timeout 120 "$ZVD" info "$V1" >"$T/out" 2>"$T/err"
	RC=$?
	LAST_CMD="zvd info $V1 (CEPH_CONF missing)"
	[ "$RC" != 124 ] || fail_case "$LAST_CMD hung for 2 minutes"
	want_rc 1
	[ -s "$T/err" ] || fail_case "$LAST_CMD said nothing on stderr"
fi
end

begin cli_write_read
if rados_ready; then
	# across the boundary of two 1 MiB objects (the CLI writes whole
	# 512-byte sectors)
	must_zvd write "$V1" 0 --input "$T/d1" --offset $((3 * M - 512))
	run_zvd read "$V1" --offset $((3 * M - 512)) --length $M --output "$T/r1"
	want_rc 0
	cmp -s "$T/d1" "$T/r1" || fail_case "zvd read does not return what zvd write wrote"
	run_zvd read "$V1" --offset $((40 * M)) --length 4096 --output "$T/z"
	cmp -s "$T/z" <(head -c 4096 /dev/zero) ||
		fail_case "a never-written block does not read as zeros"
fi
end

begin objects_in_pool
if rados_ready; then
	pool_objects "$V1_NAME" >"$T/objs"
	n=$(wc -l <"$T/objs")
	[ "$n" -ge 2 ] || fail_case "only $n objects after writing 1 MiB: $(tr '\n' ' ' <"$T/objs")"
	bad=$(awk '{print $1}' "$T/objs" | grep -Ev "^$V1_NAME\.[0-9a-f]{16}\$" | head -3)
	[ -z "$bad" ] || fail_case "objects not named $V1_NAME.<16 hex digits>: $bad"
	grep -q "^$V1_NAME\.0000000000000000 " "$T/objs" ||
		fail_case "no object $V1_NAME.0000000000000000"
	big=$(awk -v m=$M '$2 > m {print}' "$T/objs" | head -3)
	[ -z "$big" ] || fail_case "objects larger than 1 MiB: $big"
fi
end

begin nbdinfo_size_and_map
if rados_ready && requires nbdinfo qemu-io; then
	new_image map
	V2=$IMG V2_NAME=$IMG_NAME
	"$ZVD" create "$IMG" --conventional --size 256M >/dev/null
	if must_serve "$IMG"; then
		if must nbdinfo --json "$SRV_URI"; then
			cp "$T/cout" "$T/out"
			json_check 'd["exports"][0]["export-size"] == 256 << 20 and d["exports"][0]["can_trim"] and d["exports"][0]["can_flush"]' "size and flags over NBD"
		fi
		nbd_map "$SRV_URI" >"$T/map0"
		[ "$(cat "$T/map0")" = "0 268435456 3" ] ||
			fail_case "fresh volume map: $(tr '\n' '|' <"$T/map0")"
		qio "$SRV_URI" 'write -P 0x11 1M 4k' flush
		nbd_map "$SRV_URI" >"$T/map1"
		printf '0 1048576 3\n1048576 4096 0\n1052672 267382784 3\n' >"$T/want1"
		cmp -s "$T/map1" "$T/want1" ||
			fail_case "map after one 4 KiB write: $(tr '\n' '|' <"$T/map1")"
		stop_server
		[ "$SRV_RC" = 0 ] || fail_case "the server exited $SRV_RC: $(head -c 300 "$T/srv.err")"
	fi
fi
end

begin qemu_io_patterns
if rados_ready && requires qemu-io; then
	if must_serve "$V2"; then
		# aligned, unaligned, across objects, a write over part of
		# another, zeroes and a discard
		qio "$SRV_URI" 'write -P 0xa1 8M 64k' 'write -P 0xa2 4095 1234' \
			'write -P 0xa3 3145216 1024' 'write -P 0xa4 8196k 512' \
			'write -z 20M 128k' 'write -P 0xa5 30M 1M' flush \
			'discard 30M 512k' &&
			qio "$SRV_URI" 'read -P 0xa1 8M 4k' 'read -P 0xa4 8196k 512' \
				'read -P 0 8188k 4k' 'read -P 0xa1 8393216 60928' \
				'read -P 0 0 4095' 'read -P 0xa2 4095 1234' 'read -P 0 5329 2863' \
				'read -P 0xa3 3145216 1024' 'read -P 0 20M 128k' \
				'read -P 0 30M 512k' 'read -P 0xa5 31232k 512k'
		stop_server
		if must_serve "$V2"; then
			qio "$SRV_URI" 'read -P 0xa2 4095 1234' 'read -P 0xa3 3145216 1024' \
				'read -P 0xa4 8196k 512' 'read -P 0 30M 512k' \
				'read -P 0xa5 31232k 512k' ||
				fail_case "the patterns did not survive a restart"
			stop_server
		fi
	fi
fi
end

begin nbdcopy_in_and_out
if rados_ready && requires nbdcopy; then
	if must_serve "$V2"; then
		must nbdcopy "$T/d8" "$SRV_URI" &&
			must nbdcopy "$SRV_URI" "$T/back" &&
			{ cmp -s -n $((8 * M)) "$T/d8" "$T/back" ||
				fail_case "nbdcopy: the first 8 MiB read back differ from the file copied in"; }
		[ "$(stat -c %s "$T/back" 2>/dev/null)" = $((256 * M)) ] ||
			fail_case "nbdcopy out: $(stat -c %s "$T/back" 2>/dev/null) bytes, not 256 MiB"
		stop_server
	fi
fi
end

begin fio_verify
if rados_ready && requires fio; then
	if must_serve "$V2"; then
		must fio --name=v --ioengine=nbd --uri="$SRV_URI" --rw=randwrite \
			--bsrange=4k-64k --offset=64M --size=16M --iodepth=8 \
			--verify=crc32c --do_verify=1 --verify_fatal=1 \
			--randrepeat=0 --numjobs=1 ||
			echo "# fio: $(grep -i 'err\|verify' "$T/cout" | head -3 | tr '\n' '|')"
		stop_server
		[ "$SRV_RC" = 0 ] || fail_case "the server exited $SRV_RC after fio"
	fi
fi
end

begin snapshot_through_the_server
if rados_ready && requires qemu-io; then
	if must_serve "$V2"; then
		qio "$SRV_URI" 'write -P 0x51 40M 64k' flush
		# the server holds the image: this goes through its
		# control socket
		run_zvd snapshot create "$V2" live
		want_rc 0
		qio "$SRV_URI" 'write -P 0x52 40M 4k' flush
		run_zvd snapshot list "$V2" --json
		want_rc 0
		json_check "[s['name'] for s in d] == ['live']" "snapshot list through the server"
		stop_server
	fi
	run_zvd read "$V2@live" --offset $((40 * M)) --length 4096 --output "$T/r"
	cmp -s "$T/r" <(head -c 4096 /dev/zero | tr '\0' Q) ||
		fail_case "the snapshot taken through the server does not hold what was flushed before it"
	run_zvd read "$V2" --offset $((40 * M)) --length 4096 --output "$T/r"
	cmp -s "$T/r" <(head -c 4096 /dev/zero | tr '\0' R) ||
		fail_case "the image lost the write after the snapshot"
	must_zvd snapshot delete "$V2" live
fi
end

begin cache_options
if rados_ready; then
	run_zvd serve --nbd "$T/none.img" --cache "$T/x.cache"
	want_rc 2
	want_err "rados"
	run_zvd serve --nbd "$V2" --cache-size 64M
	want_rc 2
	want_err "--cache"
	run_zvd serve --nbd "$V2" --cache "$T/x.cache" --cache-size 1M
	want_rc 2
	want_err "16M"
	# a cache is one image's log
	new_image other
	"$ZVD" create "$IMG" --conventional --size 64M >/dev/null
	if must_serve "$IMG" --cache "$T/one.cache"; then
		stop_server
		run_zvd serve --nbd "$V2" --socket "$T/x.sock" --cache "$T/one.cache"
		want_rc 1
		want_err "another image"
	fi
	"$ZVD" delete "$IMG" >/dev/null 2>&1
fi
end

begin data_survives_restart_without_cache
if rados_ready && requires qemu-io; then
	new_image keep
	"$ZVD" create "$IMG" --conventional --size 64M >/dev/null
	if must_serve "$IMG"; then
		qio "$SRV_URI" 'write -P 0x5a 2M 3M' 'write -P 0x5b 40M 4k' flush
		stop_server
		[ "$SRV_RC" = 0 ] || fail_case "the server exited $SRV_RC"
	fi
	# read straight from the cluster, then through a new server
	run_zvd read "$IMG" --offset $((40 * M)) --length 4096 --output "$T/r"
	cmp -s "$T/r" <(head -c 4096 /dev/zero | tr '\0' '\133') ||
		fail_case "zvd read after the server stopped: not the 0x5b written"
	if must_serve "$IMG"; then
		qio "$SRV_URI" 'read -P 0x5a 2M 3M' 'read -P 0x5b 40M 4k' 'read -P 0 5M 1M'
		stop_server
	fi
	run_zvd check "$IMG"
	want_rc 0
fi
end

begin data_survives_restart_with_cache
if rados_ready && requires qemu-io; then
	new_image cache
	VC=$IMG
	"$ZVD" create "$IMG" --conventional --size 64M >/dev/null
	if must_serve "$IMG" --cache "$T/c1" --cache-size 64M; then
		[ -f "$T/c1" ] || fail_case "--cache $T/c1 made no file"
		qio "$SRV_URI" 'write -P 0x61 1M 2M' flush 'write -P 0x62 10M 64k' flush
		stop_server
		[ "$SRV_RC" = 0 ] || fail_case "the server exited $SRV_RC"
	fi
	# the same cache again, then none: a clean stop uploaded everything
	if must_serve "$IMG" --cache "$T/c1" --cache-size 64M; then
		qio "$SRV_URI" 'read -P 0x61 1M 2M' 'read -P 0x62 10M 64k' \
			'write -P 0x63 20M 4k' flush
		stop_server
	fi
	rm -f "$T/c1"
	if must_serve "$IMG"; then
		qio "$SRV_URI" 'read -P 0x61 1M 2M' 'read -P 0x62 10M 64k' 'read -P 0x63 20M 4k' ||
			fail_case "without the cache, after clean stops: writes missing"
		stop_server
	fi
	# --durable-remote: a flush waits for the cluster as well
	if must_serve "$IMG" --cache "$T/c2" --durable-remote; then
		qio "$SRV_URI" 'write -P 0x64 30M 8k' flush
		kill -KILL "$SRV_PID"
		wait "$SRV_PID" 2>/dev/null
		rm -f "$T/c2"
		must_zvd break-lock "$IMG"
		if must_serve "$IMG"; then
			qio "$SRV_URI" 'read -P 0x64 30M 8k' ||
				fail_case "--durable-remote: a flushed write was not in the cluster after kill -9"
			stop_server
		fi
	fi
	run_zvd check "$IMG"
	want_rc 0
fi
end

begin second_server_refused
if rados_ready; then
	if must_serve "$V1"; then
		first=$SRV_PID
		"$ZVD" serve --nbd "$V1" --socket "$T/second.sock" >"$T/out" 2>"$T/err" &
		p=$!
		CLEANUP_PIDS+=("$p")
		if wait_gone "$p" 30; then
			wait "$p"
			RC=$?
			LAST_CMD="zvd serve --nbd $V1 (a second server)"
			want_rc 1
			want_err "lock|in use|held|busy"
		else
			fail_case "a second server on $V1 still runs after 30 s"
			kill -KILL "$p"
		fi
		# the CLI's writers are refused too
		run_zvd write "$V1" 0 --input "$T/d1" --offset 0
		[ "$RC" = 1 ] || fail_case "zvd write on a served image exited $RC; $(said)"
		SRV_PID=$first
		stop_server
		[ "$SRV_RC" = 0 ] || fail_case "the first server exited $SRV_RC"
	fi
fi
end

begin dead_local_holder_needs_no_break_lock
if rados_ready && requires qemu-io; then
	if must_serve "$V1"; then
		qio "$SRV_URI" 'write -P 0x76 11M 4k' flush
		kill -KILL "$SRV_PID"
		wait "$SRV_PID" 2>/dev/null
		# the holder was a process of this host that is gone: the
		# next opener breaks its lock
		if must_serve "$V1"; then
			qio "$SRV_URI" 'read -P 0x76 11M 4k' ||
				fail_case "after kill -9 and a restart: the flushed write is missing"
			stop_server
		fi
	fi
fi
end


begin break_lock_after_kill_elsewhere
# a server "on another host" (ZVD_RADOS_BOOT_ID: another machine's boot,
# as far as the lock's cookie says): its lock stands after kill -9 until
# 'zvd break-lock' breaks it
if rados_ready && requires qemu-io; then
	rm -f "$T/srv.out"
	ZVD_RADOS_BOOT_ID=zvd-test-another-machine \
		"$ZVD" serve --nbd "$V1" --socket "$T/nbd.sock" >"$T/srv.out" 2>"$T/srv.err" &
	SRV_PID=$!
	CLEANUP_PIDS+=("$SRV_PID")
	for i in $(seq 100); do
		[ "$(grep -c . "$T/srv.out" 2>/dev/null)" -ge 2 ] && break
		sleep 0.1
	done
	SRV_URI=$(sed -n 2p "$T/srv.out")
	if [ -z "$SRV_URI" ]; then
		fail_case "the server \"on another host\" did not start: $(head -c 300 "$T/srv.err")"
	else
		qio "$SRV_URI" 'write -P 0x77 12M 4k' flush
		kill -KILL "$SRV_PID"
		wait "$SRV_PID" 2>/dev/null
		rm -f "$T/nbd.sock"
		"$ZVD" serve --nbd "$V1" --socket "$T/second.sock" >"$T/out" 2>"$T/err" &
		p=$!
		CLEANUP_PIDS+=("$p")
		if wait_gone "$p" 20; then
			wait "$p"
			RC=$?
			LAST_CMD="zvd serve --nbd $V1 (its holder killed on another host, before break-lock)"
			want_rc 1
			want_err "in use|lock"
			want_err "break-lock"
		else
			fail_case "a server started while a dead holder's lock (another host) stood"
			kill -TERM "$p"
			wait "$p"
		fi
		run_zvd break-lock "$V1"
		want_rc 0
		want_out "broke the lock"
		if must_serve "$V1"; then
			qio "$SRV_URI" 'read -P 0x77 12M 4k' ||
				fail_case "after break-lock: the flushed write is missing"
			stop_server
		fi
		run_zvd break-lock "$V1"
		want_rc 1
		want_err "nobody holds"
	fi
	run_zvd check "$V1"
	want_rc 0
fi
end

begin break_lock_fences_a_live_server
if rados_ready && requires qemu-io; then
	if must_serve "$V1"; then
		first=$SRV_PID
		first_uri=$SRV_URI
		qio "$SRV_URI" 'write -P 0x78 13M 4k' flush
		run_zvd break-lock "$V1"
		want_rc 0
		# the old holder is blocklisted: a flush on it must fail, not
		# report what it cannot have made durable
		if qemu-io -f raw -c 'write -P 0x79 13M 4k' -c flush "$first_uri" >"$T/cout" 2>&1 &&
			! grep -qi 'error\|fail' "$T/cout"; then
			fail_case "the fenced server still acknowledged a write and a flush"
		fi
		mv "$T/nbd.sock" "$T/old.sock" 2>/dev/null
		if must_serve "$V1"; then
			qio "$SRV_URI" 'read -P 0x78 13M 4k' ||
				fail_case "the new server does not read what the fenced one flushed before"
			stop_server
		fi
		kill -KILL "$first" 2>/dev/null
		wait "$first" 2>/dev/null
	fi
	run_zvd check "$V1"
	want_rc 0
fi
end

begin snapshot_served_read_only
if rados_ready && requires qemu-io nbdinfo; then
	new_image snap
	VS=$IMG VS_NAME=$IMG_NAME
	"$ZVD" create "$IMG" --conventional --size 64M >/dev/null
	if must_serve "$IMG"; then
		qio "$SRV_URI" 'write -P 0x41 0 16M' flush
		stop_server
	fi
	must_zvd snapshot create "$IMG" s1
	must_zvd snapshot list "$IMG" --json
	json_check "[s['name'] for s in d] == ['s1']" "snapshot list"
	if must_serve "$IMG"; then
		qio "$SRV_URI" 'write -P 0x42 0 64k' flush
		stop_server
	fi
	if must_serve "$IMG@s1"; then
		qio -r "$SRV_URI" 'read -P 0x41 0 16M'
		nbdinfo --json "$SRV_URI" >"$T/out" 2>&1
		json_check 'd["exports"][0]["is_read_only"]' "the snapshot export is not read-only"
		if qemu-io -f raw -c 'write -P 0x43 0 4k' "$SRV_URI" >"$T/cout" 2>&1 &&
			! grep -qi 'error\|denied\|not permitted\|read-only' "$T/cout"; then
			fail_case "a write to the snapshot export was accepted"
		fi
		stop_server
	fi
	if must_serve --readonly "$IMG" "$IMG@s1"; then
		qio -r "${SRV_URIS[0]}" 'read -P 0x42 0 64k' 'read -P 0x41 64k 16320k'
		qio -r "${SRV_URIS[1]}" 'read -P 0x41 0 16M'
		stop_server
	fi
	run_zvd info "$IMG@s1" --json
	want_rc 0
	run_zvd read "$IMG@s1" --offset 0 --length 4096 --output "$T/r"
	cmp -s "$T/r" <(head -c 4096 /dev/zero | tr '\0' A) ||
		fail_case "zvd read of IMAGE@s1 is not the data at the snapshot"
fi
end

begin snapshot_shares_objects
if rados_ready && requires qemu-io; then
	# 16 MiB written before s1; s2 and a 4 KiB write may add a couple of
	# objects, a copy would add sixteen
	read -r n0 b0 < <(pool_usage "$VS_NAME")
	must_zvd snapshot create "$VS" s2
	if must_serve "$VS"; then
		qio "$SRV_URI" 'write -P 0x44 5M 4k' flush
		stop_server
	fi
	read -r n1 b1 < <(pool_usage "$VS_NAME")
	echo "# $VS_NAME: $n0 objects ($b0 bytes) before snapshot s2, $n1 ($b1) after it and a 4 KiB write"
	[ "$n1" -le $((n0 + 3)) ] ||
		fail_case "snapshot + 4 KiB write: $n0 -> $n1 objects (a copy?)"
	[ "$b1" -le $((b0 + 4 * M)) ] ||
		fail_case "snapshot + 4 KiB write: $b0 -> $b1 bytes in the pool (a copy?)"
fi
end

begin rollback
if rados_ready && requires qemu-io; then
	must_zvd rollback "$VS" s1
	run_zvd read "$VS" --offset 0 --length 65536 --output "$T/r"
	cmp -s "$T/r" <(head -c 65536 /dev/zero | tr '\0' A) ||
		fail_case "rollback to s1: the first 64 KiB are not what s1 holds"
	run_zvd read "$VS" --offset $((5 * M)) --length 4096 --output "$T/r"
	cmp -s "$T/r" <(head -c 4096 /dev/zero | tr '\0' A) ||
		fail_case "rollback to s1: the write after s2 is still there"
	must_zvd snapshot list "$VS" --json
	json_check "sorted(s['name'] for s in d) == ['s1', 's2']" "rollback lost a snapshot"
	run_zvd rollback "$VS" nosuch
	want_rc 1
	want_err "nosuch"
fi
end

begin clone_into_rados
if rados_ready && requires qemu-io; then
	new_image clone
	VK=$IMG
	run_zvd clone "$VS@s1" "$IMG"
	want_rc 0
fi
# (the rest needs the clone)
if [ "$CASE_FAILED" = 0 ]; then
	run_zvd info "$IMG" --json
	want_rc 0
	json_check "d['backing']['snapshot'] == 's1' and d['space']['data_bytes'] == 0" "a new clone in RADOS is not thin over s1"
	if must_serve "$IMG"; then
		qio "$SRV_URI" 'read -P 0x41 0 16M' 'write -P 0x45 1M 4k' flush
		stop_server
	fi
	run_zvd read "$VS@s1" --offset $M --length 4096 --output "$T/r"
	cmp -s "$T/r" <(head -c 4096 /dev/zero | tr '\0' A) ||
		fail_case "writing the clone changed its origin's snapshot"
	run_zvd snapshot delete "$VS" s1
	want_rc 1
	want_err "clone"
	run_zvd clone "$VS@s1" "$IMG"
	want_rc 1
	want_err "exists"
fi
end

begin clone_into_a_file
if rados_ready; then
	# s2: 64 KiB of 0x42, then 0x41 up to 16 MiB
	"$ZVD" read "$VS@s2" --offset 0 --length $((16 * M)) --output "$T/s2"
	head -c 65536 /dev/zero | tr '\0' B >"$T/want"
	head -c $((16 * M - 65536)) /dev/zero | tr '\0' A >>"$T/want"
	cmp -s "$T/s2" "$T/want" || fail_case "$VS@s2 does not read as written before it"
	run_zvd clone "$VS@s2" "$T/c.img"
	want_rc 0
fi
if [ "$CASE_FAILED" = 0 ]; then
	run_zvd read "$T/c.img" --offset 0 --length $((16 * M)) --output "$T/r"
	cmp -s "$T/r" "$T/want" || fail_case "the file clone does not read as s2"
	must_zvd write "$T/c.img" 0 --input "$T/d1" --offset 0
	run_zvd read "$VS@s2" --offset 0 --length $((16 * M)) --output "$T/r"
	cmp -s "$T/r" "$T/want" ||
		fail_case "writing the file clone changed the RADOS snapshot"
	run_zvd check "$T/c.img"
	want_rc 0
fi
end

begin clone_from_a_file
if rados_ready; then
	F=$T/f.img
	"$ZVD" create "$F" --conventional --size 32M >/dev/null
	"$ZVD" write "$F" 0 --input "$T/d8" --offset $M >/dev/null
	must_zvd snapshot create "$F" base
	new_image fromfile
	VF=$IMG
	run_zvd clone "$F@base" "$IMG"
	want_rc 0
	run_zvd read "$IMG" --offset $M --length $((8 * M)) --output "$T/r"
	cmp -s "$T/r" "$T/d8" || fail_case "the RADOS clone of a file's snapshot does not read as it"
	must_zvd write "$IMG" 0 --input "$T/d1" --offset 0
	run_zvd read "$F@base" --offset 0 --length 4096 --output "$T/r"
	cmp -s "$T/r" <(head -c 4096 /dev/zero) || fail_case "writing the clone changed the file"
	run_zvd check "$IMG"
	want_rc 0
fi
end

begin convert_export_and_import
if rados_ready; then
	run_zvd convert export "$VF" "$T/exp.raw" --quiet
	want_rc 0
	cmp -s -n $M "$T/exp.raw" "$T/d1" && cmp -s -i $M:0 -n $((8 * M)) "$T/exp.raw" "$T/d8" ||
		fail_case "convert export of the RADOS clone differs from what it holds"
	new_image imported
	run_zvd convert import "$T/exp.raw" "$IMG" --conventional --quiet
	want_rc 0
	run_zvd read "$IMG" --offset 0 --length $((9 * M)) --output "$T/r"
	cmp -s "$T/r" <(head -c $((9 * M)) "$T/exp.raw") ||
		fail_case "convert import into RADOS does not read back as the raw file"
fi
end

begin delete_and_gc
if rados_ready && requires qemu-io; then
	# the clones first (those the cases above made): they hold their
	# snapshots
	[ ! -e "$T/c.img" ] || must_zvd delete "$T/c.img"
	must_zvd snapshot delete "$VS" s2
	if [ -n "$VK" ] && "$ZVD" info "$VK" >/dev/null 2>&1; then
		run_zvd delete "$VK"
		want_rc 0
		[ -z "$(pool_objects "${VK##*/}")" ] ||
			fail_case "zvd delete left objects: $(pool_objects "${VK##*/}" | head -3 | tr '\n' ' ')"
	fi
	# (s1 is gone if clone_into_rados failed: its delete went through)
	"$ZVD" snapshot list "$VS" | grep -qw s1 && must_zvd snapshot delete "$VS" s1
	# overwrite the 16 MiB all snapshots held: the old copies are
	# garbage that gc must give back to the pool
	if must_serve "$VS"; then
		qio "$SRV_URI" 'write -P 0x46 0 16M' flush
		stop_server
	fi
	read -r n0 b0 < <(pool_usage "$VS_NAME")
	must_zvd gc "$VS"
	read -r n1 b1 < <(pool_usage "$VS_NAME")
	echo "# gc of $VS_NAME: $n0 objects ($b0 bytes) -> $n1 ($b1)"
	[ "$b1" -le $((20 * M)) ] ||
		fail_case "after gc the pool holds $b1 bytes of $VS_NAME for 16 MiB of live data ($b0 before gc)"
	run_zvd read "$VS" --offset 0 --length 65536 --output "$T/r"
	cmp -s "$T/r" <(head -c 65536 /dev/zero | tr '\0' F) ||
		fail_case "gc changed what the image reads"
	run_zvd snapshot list "$VS" --json
	json_check "d == []" "snapshots left"
fi
end

begin delete_image
if rados_ready; then
	new_image gone
	"$ZVD" create "$IMG" --conventional --size 64M >/dev/null
	"$ZVD" write "$IMG" 0 --input "$T/d8" --offset $((10 * M)) >/dev/null
	[ "$(pool_usage "$IMG_NAME" | cut -d' ' -f1)" -ge 9 ] ||
		fail_case "8 MiB written, but only $(pool_usage "$IMG_NAME") objects/bytes"
	run_zvd delete "$IMG"
	want_rc 0
	[ -z "$(pool_objects "$IMG_NAME")" ] ||
		fail_case "zvd delete left objects: $(pool_objects "$IMG_NAME" | head -3 | tr '\n' ' ')"
	run_zvd info "$IMG"
	want_rc 1
	want_err "no such image"
	run_zvd delete "$IMG"
	want_rc 1
fi
end

begin cluster_from_options
# the cluster named by options before the command, not the environment
if rados_ready; then
	conf=$CEPH_CONF
	env -u CEPH_CONF "$ZVD" --ceph-conf "$conf" --ceph-id admin info "$V1" \
		>"$T/out" 2>"$T/err"
	RC=$?
	LAST_CMD="zvd --ceph-conf CONF --ceph-id admin info $V1 (no CEPH_CONF)"
	want_rc 0
	want_out "rados://"
	env -u CEPH_CONF "$ZVD" --ceph-conf "$conf" --ceph-id nosuchclient info "$V1" \
		>"$T/out" 2>"$T/err"
	RC=$?
	LAST_CMD="zvd --ceph-id nosuchclient info $V1"
	want_rc 1
	want_err "cannot connect"
	"$ZVD" --ceph-conf >"$T/out" 2>"$T/err"
	RC=$?
	LAST_CMD="zvd --ceph-conf"
	want_rc 2
	want_err "needs a value"
fi
end

begin images_check_clean
if rados_ready; then
	for i in "$V1" "$V2" "$VC" "$VS" "$VF"; do
		[ -n "$i" ] || continue
		run_zvd check "$i"
		want_rc 0
		want_out "clean"
	done
fi
end

finish

#!/bin/bash
# SPDX-License-Identifier: MIT
# What a thin volume offers NBD clients beyond reads and writes: the
# allocation map (base:allocation through nbdinfo --map), TRIM (qemu-io
# discard, fio trim) reading back as zeros and showing as a hole,
# WRITE_ZEROES, and snapshots served as read-only exports next to their
# image, refusing writes with EPERM. Also: a zoned image advertises
# neither TRIM nor WRITE_ZEROES.
. "$(dirname "$0")/lib.sh"

V=$T/vol.img
make_volume "$V" || echo "# setup: zvd create --conventional failed"
HOSTILE=$NBD_TESTS_DIR/nbd_hostile.py

begin advertises_trim_and_zero
if requires nbdinfo && must_start "$V"; then
	if must nbdinfo --json "$SRV_URI"; then
		cp "$T/cout" "$T/out"
		json_check 'd["exports"][0]["can_trim"] and d["exports"][0]["can_zero"] and d["exports"][0]["can_fast_zero"]' "trim/zero flags"
		json_check 'd["exports"][0]["description"].startswith("zvd volume")' "description"
	fi
	stop_server
fi
end

begin map_of_a_thin_volume
if requires nbdinfo qemu-io && must_start "$V"; then
	nbd_map "$SRV_URI" >"$T/map0"
	[ "$(cat "$T/map0")" = "0 67108864 3" ] ||
		fail_case "fresh volume map: $(tr '\n' '|' <"$T/map0")"
	must qemu-io -f raw -c 'write -P 0x11 1M 4k' -c flush "$SRV_URI"
	nbd_map "$SRV_URI" >"$T/map1"
	printf '0 1048576 3\n1048576 4096 0\n1052672 66056192 3\n' >"$T/want1"
	cmp -s "$T/map1" "$T/want1" ||
		fail_case "map after one 4 KiB write: $(tr '\n' '|' <"$T/map1")"
	stop_server
fi
end

begin trim_reads_zeros_and_shows_a_hole
if requires nbdinfo qemu-io && must_start "$V"; then
	must qemu-io -f raw -c 'write -P 0x22 8M 2M' -c flush "$SRV_URI" &&
		must qemu-io -f raw -d unmap -c 'discard 8M 1M' -c flush \
			-c 'read -P 0 8M 1M' -c 'read -P 0x22 9M 1M' "$SRV_URI" &&
		! grep -q 'verification failed' "$T/cout" ||
		fail_case "after discard: $(grep -i 'fail' "$T/cout" | head -1)"
	t=$(map_types "$SRV_URI" $((8 << 20)) $((1 << 20)) | tr '\n' ' ')
	[ "$t" = "3 " ] || fail_case "the trimmed MiB is not a hole: types [$t]"
	t=$(map_types "$SRV_URI" $((9 << 20)) $((1 << 20)) | tr '\n' ' ')
	[ "$t" = "0 " ] || fail_case "the MiB after it is not data: types [$t]"
	stop_server
	# and after a restart
	if must_start "$V"; then
		must qemu-io -f raw -c 'read -P 0 8M 1M' -c 'read -P 0x22 9M 1M' \
			"$SRV_URI" && ! grep -q 'verification failed' "$T/cout" ||
			fail_case "after restart: $(grep -i 'fail' "$T/cout" | head -1)"
		stop_server
	fi
fi
end

begin fio_trim
if requires fio qemu-io && must_start "$V"; then
	must qemu-io -f raw -c 'write -P 0x33 16M 1M' "$SRV_URI" &&
		must fio --name=t --ioengine=nbd --uri="$SRV_URI" --rw=trim \
			--bs=64k --offset=16M --size=1M &&
		must qemu-io -f raw -c 'read -P 0 16M 1M' "$SRV_URI" &&
		! grep -q 'verification failed' "$T/cout" ||
		fail_case "fio trim did not zero the range"
	stop_server
fi
end

begin write_zeroes
if requires qemu-io && must_start "$V"; then
	must qemu-io -f raw -c 'write -P 0x44 20M 1M' \
		-c 'write -z 20M 512k' -c 'write -z -u 21495808 4k' \
		-c 'read -P 0 20M 516k' -c 'read -P 0x44 21499904 508k' \
		"$SRV_URI" && ! grep -q 'verification failed' "$T/cout" ||
		fail_case "write zeroes: $(grep -i 'fail' "$T/cout" | head -1)"
	stop_server
fi
end

begin snapshot_exports_are_read_only
if requires qemu-io nbdinfo && must_start "$V"; then
	must qemu-io -f raw -c 'write -P 0x55 0 64k' -c flush "$SRV_URI"
	# the server holds the image: the snapshot goes through its socket
	run_zvd snapshot create "$V" s1
	want_rc 0
	must qemu-io -f raw -c 'write -P 0x66 0 64k' -c flush "$SRV_URI"
	stop_server
	# the image written and its snapshot from one server: the snapshot
	# is a view of the served image, and cannot be deleted while served
	if must_start "$V@s1" "$V"; then
		must qemu-io -f raw -c 'write -P 0x77 64k 64k' -c flush "${SRV_URIS[1]}"
		must qemu-io -f raw -r -c 'read -P 0x55 0 64k' -c 'read -P 0 64k 64k' "${SRV_URIS[0]}" &&
			! grep -q 'verification failed' "$T/cout" ||
			fail_case "the snapshot export changed with the image"
		run_zvd snapshot delete "$V" s1
		want_rc 1
		want_err 'view|served|busy'
		must python3 "$HOSTILE" "$SRV_ADDR" vol.img@s1 $((64 << 20)) readonly_write
		stop_server
		[ "$SRV_RC" = 0 ] || fail_case "the server exited $SRV_RC"
	fi
	if must_start --readonly "$V" "$V@s1"; then
		snap_uri=${SRV_URIS[1]}
		case $snap_uri in
		*/vol.img@s1\?socket=*) ;;
		*) fail_case "snapshot URI [$snap_uri]" ;;
		esac
		must qemu-io -f raw -r -c 'read -P 0x55 0 64k' "$snap_uri" &&
			! grep -q 'verification failed' "$T/cout" ||
			fail_case "the snapshot does not read as taken"
		must qemu-io -f raw -r -c 'read -P 0x66 0 64k' -c 'read -P 0x77 64k 64k' "$SRV_URI" &&
			! grep -q 'verification failed' "$T/cout" ||
			fail_case "the image does not read as written"
		nbdinfo --json "$snap_uri" >"$T/out" 2>&1
		json_check 'd["exports"][0]["is_read_only"]' "snapshot not read-only"
		# the protocol's answer to writes: EPERM
		must python3 "$HOSTILE" "$SRV_ADDR" vol.img@s1 $((64 << 20)) readonly_write
		must python3 "$HOSTILE" "$SRV_ADDR" vol.img $((64 << 20)) readonly_write
		stop_server
	fi
	# a snapshot alone, without --readonly: still read-only
	if must_start "$V@s1"; then
		must python3 "$HOSTILE" "$SRV_ADDR" vol.img@s1 $((64 << 20)) readonly_write
		stop_server
	fi
fi
end

begin zoned_image_has_no_trim_or_zero
Z=$T/z.img
make_zoned "$Z"
if requires nbdinfo && must_start "$Z"; then
	nbdinfo --json "$SRV_URI" >"$T/out" 2>&1
	json_check 'not d["exports"][0]["can_trim"] and not d["exports"][0]["can_zero"] and not d["exports"][0]["can_fast_zero"]' "zoned flags"
	stop_server
fi
end

run_zvd check "$V"
begin volume_check_clean
want_rc 0
end

finish

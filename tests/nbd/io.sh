#!/bin/bash
# SPDX-License-Identifier: MIT
# Data through zvd serve --nbd with real clients, on a thin volume and on
# a zoned image whose first 64 MiB are conventional zones: nbdcopy both
# ways (one connection and four), qemu-img convert and compare, qemu-io
# patterns (512-byte writes inside 4 KiB blocks included), fio's nbd
# engine with crc32c verification on four connections at once, and the
# data still there after the server restarts.
. "$(dirname "$0")/lib.sh"

MIB64=$((64 << 20))
make_data "$T/a.raw" "$MIB64"
make_data "$T/b.raw" "$MIB64"

# cmp the first 64 MiB of $1 and $2
same64() {
	cmp -n "$MIB64" "$1" "$2" >/dev/null 2>&1 ||
		fail_case "$1 and $2 differ: $(cmp -n "$MIB64" "$1" "$2" 2>&1 | head -1)"
}

for kind in volume zoned; do
	IMG=$T/$kind.img
	begin "${kind}_create"
	if [ $kind = volume ]; then
		make_volume "$IMG" || fail_case "zvd create --conventional failed"
	else
		make_zoned "$IMG" || fail_case "zvd create failed"
	fi
	end
	[ -f "$IMG" ] || continue
	start_server "$IMG" || {
		echo "not ok ${kind}_server: $(head -c 300 "$T/srv.err")"
		ANY_FAILED=1
		continue
	}

	begin "${kind}_nbdcopy_in_and_out"
	if requires nbdcopy; then
		must nbdcopy "$T/a.raw" "$SRV_URI" &&
			must nbdcopy "$SRV_URI" "$T/$kind.out" &&
			same64 "$T/a.raw" "$T/$kind.out"
	fi
	end

	begin "${kind}_nbdcopy_four_connections"
	if requires nbdcopy; then
		must nbdcopy --connections=4 --requests=16 "$T/b.raw" "$SRV_URI" &&
			must nbdcopy --connections=4 "$SRV_URI" "$T/$kind.out4" &&
			same64 "$T/b.raw" "$T/$kind.out4"
	fi
	end

	begin "${kind}_qemu_img_convert_and_compare"
	if requires qemu-img; then
		rm -f "$T/$kind.qout"
		must qemu-img convert -n -f raw -O raw "$T/a.raw" "$SRV_URI" &&
			must qemu-img compare -f raw -F raw "$T/a.raw" "$SRV_URI" &&
			must qemu-img convert -f raw -O raw "$SRV_URI" "$T/$kind.qout" &&
			same64 "$T/a.raw" "$T/$kind.qout"
		# and compare must notice a difference
		if qemu-img compare -f raw -F raw "$T/b.raw" "$SRV_URI" >/dev/null 2>&1; then
			fail_case "qemu-img compare found no difference from b.raw"
		fi
	fi
	end

	begin "${kind}_fio_verify_four_jobs"
	if requires fio; then
		# four jobs, four connections, each on its own 16 MiB
		must fio --name=v --ioengine=nbd --uri="$SRV_URI" --rw=randwrite \
			--bs=4k --iodepth=16 --numjobs=4 --size=16m \
			--offset_increment=16m --verify=crc32c --do_verify=1 \
			--verify_fatal=1 --group_reporting
	fi
	end

	begin "${kind}_qemu_io_patterns"
	if requires qemu-io; then
		must qemu-io -f raw \
			-c 'write -P 0xab 1M 64k' \
			-c 'write -P 0xcd 1049088 512' \
			-c 'write -P 0xef 1113600 512' \
			-c 'flush' \
			-c 'read -P 0xab 1M 512' \
			-c 'read -P 0xcd 1049088 512' \
			-c 'read -P 0xab 1049600 60928' \
			-c 'read -P 0xef 1113600 512' \
			"$SRV_URI" &&
			! grep -qi 'fail\|error' "$T/cout" ||
			fail_case "qemu-io: $(grep -i 'fail\|error' "$T/cout" | head -2 | tr '\n' '|')"
		# a wrong pattern must be noticed
		qemu-io -f raw -c 'read -P 0x12 1M 512' "$SRV_URI" >"$T/cout" 2>&1
		grep -q 'Pattern verification failed' "$T/cout" ||
			fail_case "qemu-io did not notice a wrong pattern"
	fi
	end

	begin "${kind}_data_survives_restart"
	stop_server
	[ "$SRV_RC" = 0 ] || fail_case "the server exited $SRV_RC"
	if must_start "$IMG" && requires qemu-io; then
		must qemu-io -f raw -c 'read -P 0xab 1M 512' \
			-c 'read -P 0xcd 1049088 512' "$SRV_URI" &&
			! grep -q 'Pattern verification failed' "$T/cout" ||
			fail_case "the data did not survive: $(head -c 300 "$T/cout")"
	fi
	end
	stop_server
	run_zvd check "$IMG"
	begin "${kind}_check_clean"
	want_rc 0
	end
done

finish

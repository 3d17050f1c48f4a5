#!/bin/bash
# SPDX-License-Identifier: MIT
#
# ublk_fio.sh (guest) - fio --zonemode=zbd on the zoned ublk device:
# sequential and random writes with --verify=crc32c, zone resets included
# (fio resets written zones before rewriting them, and on its reset
# threshold), under several queue counts and depths. The image must check
# clean afterwards and count the resets fio made.
# the runner copies this script to /vmrun/run.sh; the repository is /host
. /host/tests/vm/guest/lib.sh

IMG=$W/f.img

# fio JOB-NAME ARGS...: run fio on $DEV, output in $W/JOB-NAME.fio.
run_fio() {
	local name=$1
	shift
	if ! fio --name="$name" --filename="$DEV" --direct=1 --zonemode=zbd --verify_state_save=0 \
		--verify=crc32c --do_verify=1 --output="$W/$name.fio" "$@" \
		>"$W/$name.stdout" 2>&1; then
		fail_case "fio $name failed: $(grep -iE 'err|verify|bad' "$W/$name.fio" "$W/$name.stdout" | head -n 4 | tr '\n' '|')"
		return 1
	fi
	grep -q 'err= 0' "$W/$name.fio" || fail_case "fio $name reports errors: $(grep 'err=' "$W/$name.fio" | head -n 2)"
}

# Sum of one counter over the image's zones.
image_sum() {
	zvd report "$IMG" --json | grep -o "\"$1\": [0-9]*" |
		awk '{ s += $2 } END { print s + 0 }'
}

begin create_image
must zvd create "$IMG" --size 256M --zone-size 4M --conventional-zones 4 \
	--max-open 8 --max-active 8 --max-append 256K
end

begin fio_seq_write_verify_q1_d1
if serve "$IMG" --queues 1 --depth 1; then
	run_fio seq1 --rw=write --bs=64k --ioengine=psync --offset=16M \
		--size=96M
	stop_server TERM
	[ "$SRC" = 0 ] || fail_case "serve exited $SRC"
fi
end

begin fio_seq_rewrite_resets_q2_d64
if serve "$IMG" --queues 2 --depth 64; then
	# the same zones again: fio must reset them first
	run_fio seq2 --rw=write --bs=128k --ioengine=libaio --iodepth=16 \
		--offset=16M --size=96M
	stop_server TERM
	[ "$SRC" = 0 ] || fail_case "serve exited $SRC"
	r=$(image_sum resets)
	[ "$r" -ge 24 ] || fail_case "only $r zone resets recorded (fio rewrote 24 zones)"
fi
end

begin fio_rand_write_verify_q2_d32
# fio cannot verify across its own zone resets (it asserts), so the
# verifying random run stays within empty zones: 112M..256M, 48M of I/O
if serve "$IMG" --queues 2 --depth 32; then
	run_fio rand --rw=randwrite --bs=16k --ioengine=libaio --iodepth=8 \
		--offset=112M --size=144M --io_size=48M --max_open_zones=4
	stop_server TERM
	[ "$SRC" = 0 ] || fail_case "serve exited $SRC"
fi
end

begin fio_rand_write_zone_resets
# random writes over the whole sequential range, most of it full by now:
# fio resets zones on its threshold and frequency (no verify possible)
if serve "$IMG" --queues 2 --depth 32; then
	r0=$(blkzone report "$DEV" | grep -c 'zcond:14')
	if ! fio --name=reset --filename="$DEV" --direct=1 --zonemode=zbd \
		--rw=randwrite --bs=16k --ioengine=libaio --iodepth=8 \
		--offset=16M --size=240M --io_size=64M --max_open_zones=4 \
		--zone_reset_threshold=0.3 --zone_reset_frequency=0.5 \
		--output="$W/reset.fio" >"$W/reset.stdout" 2>&1; then
		fail_case "fio reset run failed: $(tail -n 3 "$W/reset.stdout" | tr '\n' '|')"
	fi
	stop_server TERM
	[ "$SRC" = 0 ] || fail_case "serve exited $SRC"
	note "full zones before the reset run: $r0"
fi
end

begin fio_conventional_randwrite_verify
if serve "$IMG" --queues 2 --depth 16; then
	run_fio conv --rw=randwrite --bs=4k --ioengine=libaio --iodepth=16 \
		--offset=0 --size=16M --io_size=8M
	stop_server TERM
	[ "$SRC" = 0 ] || fail_case "serve exited $SRC"
fi
end

begin data_survives_restart
# what fio wrote and verified, read back by a new server
if serve "$IMG" --queues 1 --depth 8; then
	run_fio seqv --rw=write --bs=128k --ioengine=libaio --iodepth=8 \
		--offset=16M --size=32M
	sum1=$(dd if="$DEV" bs=1M skip=16 count=32 iflag=direct 2>/dev/null | md5sum)
	stop_server TERM
	if serve "$IMG" --queues 2 --depth 8; then
		sum2=$(dd if="$DEV" bs=1M skip=16 count=32 iflag=direct 2>/dev/null | md5sum)
		[ "$sum1" = "$sum2" ] || fail_case "the data changed across a restart"
		stop_server TERM
	fi
fi
end

begin image_checks_clean
zvd check "$IMG" >"$W/c" 2>&1 || fail_case "zvd check: $(cat "$W/c")"
end

finish

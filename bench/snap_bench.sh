#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# snap_bench.sh - snapshots of zvd against qemu-img on qcow2, in one run,
# on the same file system (bench/run-snap builds and calls it).
#
#   snap_bench.sh ZVD SNAP_WRITE DIR [--writes N] [--reps R]
#
# 1. Snapshot create and rollback on 1 GiB and 64 GiB images holding 1 GiB:
#    - zvd: an image with 64 MiB zones (zone 0 conventional) whose first
#      1 GiB is written; qcow2: an image of the same virtual size whose
#      first 1 GiB is written (qemu-io, 64 KiB clusters, the default);
#    - each side is timed as a whole command, process start included:
#      'zvd snapshot create' / 'zvd rollback' against 'qemu-img snapshot
#      -c' / '-a', R times each (1 MiB overwritten before each create, a
#      zone reset / 2 MiB rewritten before each rollback), medians;
#    - zvd's library call alone (zvd_snapshot_create / zvd_rollback inside
#      the process, bench/snap_write.c) is shown beside it.
# 2. 4 KiB writes spread over a 1 GiB region written through beforehand,
#    with 0 and with 10 snapshots: before the timed run each snapshot
#    follows 2000 such writes, so the timed run is the first write after
#    a snapshot for nearly every cluster / chunk it touches (the case
#    where qcow2 pays copy-on-write):
#    - qcow2: 'qemu-img bench -w -t writeback -d 1 -s 4096 -S STEP
#      --flush-interval N' (buffered like zvd's file backend, one request
#      at a time, one flush at the end, timed by qemu-img itself);
#    - zvd: conventional zones through the library in one process
#      (bench/snap_write.c), the same offsets ((OFFSET + i * STEP) mod
#      1 GiB), one request at a time, one flush at the end, timed
#      around the loop and the flush.
set -euo pipefail

zvd=$1 sw=$2 dir=$3
shift 3
writes=20000 reps=5
while [ $# -gt 0 ]; do
	case $1 in
	--writes) writes=$2; shift ;;
	--reps) reps=$2; shift ;;
	*) echo "snap_bench.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

work=$(mktemp -d "$dir/zvd-snapbench.XXXXXX")
trap 'rm -rf "$work"' EXIT
qio() { qemu-io -f qcow2 -t writeback "$@" >/dev/null; }

# Milliseconds one command takes, whole process.
ms() {
	local t0=$EPOCHREALTIME
	"$@" >/dev/null 2>&1 || { echo "snap_bench.sh: failed: $*" >&2; exit 1; }
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", (b - a) * 1000 }'
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

printf '%-38s %12s %12s %8s\n' "test" "zvd" "qcow2" "qcow2/zvd"
row() { # name zvd qcow2 (times: lower is better)
	printf '%-38s %9s ms %9s ms %8.1f\n' "$1" "$2" "$3" "$(awk -v a="$2" -v b="$3" 'BEGIN { print b / a }')"
}

for size in 1G 64G; do
	line=$("$sw" snap "$work" --size $size --data 1G)
	img=$work/snap.img
	lib_c=$(sed -n 's/.*create_ms_median=\([0-9.]*\).*/\1/p' <<<"$line")
	lib_r=$(sed -n 's/.*rollback_ms_median=\([0-9.]*\).*/\1/p' <<<"$line")
	q=$work/snap.qcow2
	rm -f "$q"
	qemu-img create -f qcow2 "$q" $size >/dev/null
	qio -c "write -q -P 90 0 1G" -c flush "$q"
	zc="" qc="" zr="" qr=""
	for i in $(seq "$reps"); do
		"$zvd" write "$img" 0 --offset $((i << 20)) --input <(head -c 1M /dev/urandom) >/dev/null
		zc="$zc $(ms "$zvd" snapshot create "$img" c$i)"
		qio -c "write -q -P $i $((i << 20)) 1M" "$q"
		qc="$qc $(ms qemu-img snapshot -c c$i "$q")"
	done
	for i in $(seq "$reps"); do
		"$zvd" reset "$img" 1 >/dev/null
		"$zvd" write "$img" 1 --input <(head -c 2M /dev/urandom) >/dev/null
		zr="$zr $(ms "$zvd" rollback "$img" c$i)"
		qio -c "write -q -P 7 $((64 << 20)) 2M" "$q"
		qr="$qr $(ms qemu-img snapshot -a c$i "$q")"
	done
	row "snapshot create, $size image (command)" "$(median <<<"$zc")" "$(median <<<"$qc")"
	printf '%-38s %9s ms\n' "  zvd_snapshot_create() alone" "$lib_c"
	row "rollback, $size image (command)" "$(median <<<"$zr")" "$(median <<<"$qr")"
	printf '%-38s %9s ms\n' "  zvd_rollback() alone" "$lib_r"
	rm -f "$img" "$q"
done

echo
printf '%-38s %12s %12s\n' "4 KiB writes ($writes, depth 1)" "zvd" "qcow2"
declare -A rate
step=$("$sw" step)
for k in 0 10; do
	zl=$("$sw" write "$work" --snapshots $k --writes "$writes")
	z=$(sed -n 's/.*iops=\([0-9]*\).*/\1/p' <<<"$zl")
	q=$work/w.qcow2
	rm -f "$q"
	qemu-img create -f qcow2 "$q" 1G >/dev/null
	qio -c "write -q -P 90 0 1G" -c flush "$q"
	for r in $(seq $k); do
		qemu-img bench -w -q -f qcow2 -t writeback -d 1 -s 4096 -c 2000 \
			-S "$step" -o "$("$sw" offset "$r")" "$q" >/dev/null
		qemu-img snapshot -c s$r "$q"
	done
	secs=$(qemu-img bench -w -f qcow2 -t writeback -d 1 -s 4096 -c "$writes" \
		-S "$step" -o 0 --flush-interval="$writes" "$q" |
		sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p')
	qi=$(awk -v n="$writes" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
	rate[z$k]=$z rate[q$k]=$qi
	printf '%-38s %9s/s %9s/s\n' "$k snapshots (writes per second)" "$z" "$qi"
	rm -f "$q"
done
awk -v z0="${rate[z0]}" -v z10="${rate[z10]}" -v q0="${rate[q0]}" -v q10="${rate[q10]}" \
	'BEGIN { printf "%-38s %11.2f %11.2f\n", "ratio 10 snapshots / 0", z10 / z0, q10 / q0 }'

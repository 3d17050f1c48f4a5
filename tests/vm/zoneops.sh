#!/bin/bash
# SPDX-License-Identifier: MIT
#
# zoneops.sh - the reference side of the differential test: the seeded
# random sequence of zone operations, reads and writes, good and bad
# (tests/vm/zoneops.c) runs on the kernel's own null_blk twice (the
# program must be deterministic: strict), on QEMU's NVMe ZNS namespace
# against null_blk, and on zvd's ublk device against QEMU ZNS, all of one
# geometry, and on zvd's ublk device made with --profile null_blk against
# null_blk: that must match line for line, data hashes included (strict).
# QEMU ZNS against null_blk and zvd (default ZNS profile) against QEMU ZNS
# print their first divergence as "#" lines: the devices follow different,
# documented policies (implicit-close victim, close at the zone start,
# QEMU closing a zone before a failed active check). zvd's default profile
# against null_blk, with divergences classified, is ublk_diff.sh.
#
# The strict pairs (zvd --profile null_blk against null_blk, zvd --profile
# zns against QEMU's ZNS namespace) run $ZVD_VM_OPS operations (default
# 10000) for each seed of $ZVD_VM_SEEDS (default "1 2", spaces or commas);
# the informational
# ones a short sequence of the first seed.
. "$(dirname "$0")/lib.sh"

CASES="zoneops-build zoneops-nullb-deterministic zoneops-zvd-vs-nullb-limits
zoneops-zvd-vs-nullb-nolimits zoneops-zns zoneops-zvd-vs-zns"
vm_require "$CASES" || exit 0
if ! vm_build_helpers; then
	echo "not ok zoneops-build: cannot build tests/vm/zoneops.c -static"
	exit 1
fi
echo "ok zoneops-build"

# shellcheck disable=SC2034 # read by vm_run (lib.sh)
VM_GUEST_VARS="OPS=${ZVD_VM_OPS:-10000} SEEDS=$(echo "${ZVD_VM_SEEDS:-${ZVD_VM_SEED:-1 2}}" | tr ' ' ,)"
vm_run --timeout 900 \
	--nvme-zns size=64M,zone_size=4M,zone_cap=3M,max_open=4,max_active=6 <<'GUEST'
. /host/tests/vm/guest.inc
Z=$VM_HELPERS/zoneops
SEEDS=$(echo "$SEEDS" | tr , ' ')
set -- $SEEDS
SEED=$1
STRICT_OPS=$OPS
echo "# seeds $SEEDS, $OPS operations per sequence of a strict pair"

# run_pair NAME DEV_A DEV_B: same sequence on both, diff the outputs
run_pair() {
	local a=$2 b=$3 out=/vmrun/$1
	"$Z" "$a" --seed "$SEED" --ops "$OPS" >"$out.a" 2>&1 || fail "zoneops on $a failed: $(tail -n 1 "$out.a")"
	"$Z" "$b" --seed "$SEED" --ops "$OPS" >"$out.b" 2>&1 || fail "zoneops on $b failed: $(tail -n 1 "$out.b")"
	if ! cmp -s "$out.a" "$out.b"; then
		# busybox diff speaks only unified: compare line by line
		n=$(awk 'NR == FNR { a[FNR] = $0; next } a[FNR] != $0 { n++ } END { print n + 0 }' "$out.a" "$out.b")
		ln=$(awk 'NR == FNR { a[FNR] = $0; next } a[FNR] != $0 { print FNR; exit }' "$out.a" "$out.b")
		first=$(sed -n "${ln}p" "$out.a")
		second=$(sed -n "${ln}p" "$out.b")
		echo "# $1: first difference, $a: $first"
		echo "# $1: first difference, $b: $second"
		DIFF="$n of $OPS lines differ, the first: [$first] vs [$second]"
		return 1
	fi
	return 0
}

# zvd_serve NAME GEOMETRY...: serve a new image, DEV is its block device
zvd_serve() {
	local img=/tmp/$1.zvd
	shift
	zvd create "$img" "$@" >/dev/null || return 1
	zvd serve --ublk "$img" >"$img.out" 2>"$img.err" &
	SERVE_PID=$!
	for _ in $(seq 100); do
		[ -s "$img.out" ] && break
		kill -0 $SERVE_PID 2>/dev/null || break
		sleep 0.1
	done
	DEV=$(head -n 1 "$img.out")
	[ -b "$DEV" ] || { echo "# serve: $(cat "$img.err")"; return 1; }
}
zvd_stop() {
	kill $SERVE_PID 2>/dev/null
	wait $SERVE_PID 2>/dev/null
}
have_serve() {
	zvd help serve >/dev/null 2>&1
}

# informational and self-checks: a short sequence
OPS=800
begin zoneops-nullb-deterministic
nullb_create na 64 4 zone_capacity=3 zone_nr_conv=2 zone_max_open=4 zone_max_active=6 &&
	nullb_create nb 64 4 zone_capacity=3 zone_nr_conv=2 zone_max_open=4 zone_max_active=6 ||
	fail "cannot create null_blk devices"
run_pair det /dev/na /dev/nb || fail "two null_blk devices differ: $DIFF"
end

# zvd with --profile null_blk copies null_blk's zone behaviour: it must
# give the same lines, data hashes included (strict). Geometry of na: 16
# zones of 4 MiB, capacity 3 MiB, 2 conventional, limits 4/6 (so the
# sequence keeps hitting them); then no limits, no conventional zones.
have_profile() {
	zvd help create 2>/dev/null | grep -q -- '--profile'
}
for g in "limits 2 4 6" "nolimits 0 0 0"; do
	set -- $g
	begin zoneops-zvd-vs-nullb-$1
	if ! have_serve || ! have_profile; then
		skip "this zvd has no 'serve --ublk' or no 'create --profile null_blk'"
		end
		continue
	fi
	nullb_create "p$1" 64 4 zone_capacity=3 zone_nr_conv=$2 zone_max_open=$3 \
		zone_max_active=$4 || fail "cannot create null_blk"
	if zvd_serve "p$1" --size 64M --zone-size 4M --zone-capacity 3M \
		--conventional-zones $2 --max-open $3 --max-active $4 \
		--block-size 4096 --profile null_blk; then
		OPS=$STRICT_OPS
		for SEED in $SEEDS; do
			run_pair "p$1-$SEED" "/dev/p$1" "$DEV" ||
				fail "seed $SEED: zvd --profile null_blk differs from null_blk: $DIFF"
			echo "# zvd-vs-nullb-$1: seed $SEED: $OPS operations, 0 differences"
		done
		OPS=800
		SEED=$(echo $SEEDS | cut -d' ' -f1)
		zvd_stop
	else
		fail "zvd serve --ublk did not come up"
	fi
	end
done

# QEMU's ZNS namespace has no conventional zones: compare with a null_blk
# without them. QEMU follows the NVMe spec where null_blk does not (close
# of an untouched open zone, finish without resources, the implicit-close
# victim), so divergence is information, not failure.
begin zoneops-zns
nullb_create nz 64 4 zone_capacity=3 zone_max_open=4 zone_max_active=6 || fail "cannot create null_blk"
if ZNS=$(zns_dev); then
	d=$ZNS
	if run_pair zns /dev/nz "$d"; then
		echo "# zns: QEMU's ZNS namespace and null_blk agree on all $OPS operations"
	else
		echo "# zns: QEMU vs null_blk: $DIFF"
	fi
	grep -q '^final z15 ' /vmrun/zns.b || fail "the sequence did not complete on $d"
else
	fail "no zoned NVMe namespace"
fi
end

# zvd's zns profile follows NVMe ZNS with QEMU's choices (docs/PROFILES.md),
# so QEMU's ZNS device is its reference: the same sequences, the same
# geometry (no conventional zones); any difference fails (strict).
begin zoneops-zvd-vs-zns
if ! have_serve; then
	skip "this zvd has no 'serve --ublk'"
elif [ -z "${ZNS:-}" ]; then
	fail "no zoned NVMe namespace"
elif zvd_serve zns --size 64M --zone-size 4M --zone-capacity 3M \
	--max-open 4 --max-active 6 --block-size 4096 --profile zns; then
	OPS=$STRICT_OPS
	for SEED in $SEEDS; do
		run_pair "zvdzns-$SEED" "$ZNS" "$DEV" ||
			fail "seed $SEED: zvd --profile zns differs from QEMU's ZNS namespace: $DIFF"
		echo "# zvd-vs-zns: seed $SEED: $OPS operations, 0 differences"
	done
	zvd_stop
else
	fail "zvd serve --ublk did not come up"
fi
end
finish
GUEST
vm_finish

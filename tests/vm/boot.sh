#!/bin/bash
# SPDX-License-Identifier: MIT
#
# boot.sh - the VM test bed itself: the guest boots Debian's 6.12 kernel,
# the modules load, a zoned null_blk device made through configfs has the
# geometry asked for, blkzone and zbd report it, QEMU's NVMe ZNS namespace
# is visible and zoned, and build/zvd runs in the guest.
. "$(dirname "$0")/lib.sh"

CASES="boot-modules boot-nullb-geometry boot-nullb-blkzone boot-nullb-zbd
boot-zns boot-zvd"

# zvd vm itself, on the host: help, and the hand-over to the runner
ZVD=${ZVD:-$SRC_ROOT/build/zvd}
if [ -x "$ZVD" ]; then
	if "$ZVD" vm --help | grep -q '^usage: zvd vm'; then
		echo "ok vm-help"
	else
		echo "not ok vm-help: 'zvd vm --help' printed no usage"
		VM_ANY_FAILED=1
	fi
	out=$(ZVD_VM_RUNNER=/nonexistent "$ZVD" vm 2>&1)
	if [ $? = 1 ] && echo "$out" | grep -q 'ZVD_VM_RUNNER'; then
		echo "ok vm-no-runner"
	else
		echo "not ok vm-no-runner: [$out]"
		VM_ANY_FAILED=1
	fi
fi

vm_require "$CASES vm-exec" || exit $VM_ANY_FAILED
if [ -x "$ZVD" ]; then
	# arguments reach the runner: --prepare prints the cached kernel
	if "$ZVD" vm --prepare 2>/dev/null | grep -q '^kernel .*/vmlinu[xz]$'; then
		echo "ok vm-exec"
	else
		echo "not ok vm-exec: 'zvd vm --prepare' did not reach scripts/vm/zvd-vm"
		VM_ANY_FAILED=1
	fi
fi

vm_run --nvme-zns size=64M,zone_size=4M,zone_cap=3M,max_open=4,max_active=6 <<'GUEST'
. /host/tests/vm/guest.inc

begin boot-modules
case $(uname -r) in 6.12.*) ;; *) fail "kernel $(uname -r), not 6.12" ;; esac
for m in configfs null_blk ublk_drv nvme; do
	grep -q "^$m " /proc/modules || fail "module $m not loaded"
done
[ -c /dev/ublk-control ] || fail "no /dev/ublk-control"
for m in f2fs btrfs nbd; do
	modprobe "$m" || fail "modprobe $m failed"
done
end

# 64 MiB, 4 MiB zones of 3 MiB capacity, 2 conventional, limits 4/6
begin boot-nullb-geometry
nullb_create zt 64 4 zone_capacity=3 zone_nr_conv=2 zone_max_open=4 \
	zone_max_active=6 || fail "cannot create the null_blk device"
q=/sys/block/zt/queue
[ "$(cat $q/zoned)" = host-managed ] || fail "zoned = $(cat $q/zoned)"
[ "$(cat $q/nr_zones)" = 16 ] || fail "nr_zones = $(cat $q/nr_zones)"
[ "$(cat $q/chunk_sectors)" = 8192 ] || fail "chunk_sectors = $(cat $q/chunk_sectors)"
[ "$(cat $q/max_open_zones)" = 4 ] || fail "max_open_zones = $(cat $q/max_open_zones)"
[ "$(cat $q/max_active_zones)" = 6 ] || fail "max_active_zones = $(cat $q/max_active_zones)"
[ "$(cat $q/logical_block_size)" = 4096 ] || fail "block size $(cat $q/logical_block_size)"
end

begin boot-nullb-blkzone
r=$(blkzone report /dev/zt) || fail "blkzone report failed"
[ "$(echo "$r" | grep -c 'CONVENTIONAL')" = 2 ] || fail "not 2 conventional zones: $r"
[ "$(echo "$r" | grep -c 'SEQ_WRITE_REQUIRED')" = 14 ] || fail "not 14 sequential zones"
echo "$r" | sed -n 3p | grep -q 'start: 0x000004000, len 0x002000, cap 0x001800, wptr 0x000000' ||
	fail "zone 2 reads [$(echo "$r" | sed -n 3p)]"
# a write moves the write pointer; blkzone reset/open/close/finish move the
# condition as the kernel's own device says
must dd if=/dev/urandom of=/dev/zt bs=64k count=2 seek=128 oflag=direct status=none
blkzone report -o 16384 -c 1 /dev/zt | grep -q 'wptr 0x000100 .*zcond: 2(oi)' ||
	fail "after a 128 KiB write: $(blkzone report -o 16384 -c 1 /dev/zt)"
must blkzone close -o 16384 -c 1 /dev/zt
blkzone report -o 16384 -c 1 /dev/zt | grep -q 'zcond: 4(cl)' || fail "close did not close"
must blkzone open -o 24576 -c 1 /dev/zt
blkzone report -o 24576 -c 1 /dev/zt | grep -q 'zcond: 3(oe)' || fail "open did not open"
must blkzone finish -o 24576 -c 1 /dev/zt
blkzone report -o 24576 -c 1 /dev/zt | grep -q 'zcond:14(fu)' || fail "finish did not fill"
must blkzone reset /dev/zt
[ "$(blkzone report /dev/zt | grep -c 'zcond: 1(em)')" = 14 ] || fail "reset left zones non-empty"
end

begin boot-nullb-zbd
z=$(zbd report /dev/zt 2>&1) || fail "zbd report failed: $z"
echo "$z" | grep -q 'Zone 00002: swr, ofst 00000008388608, len 00000004194304, cap 00000003145728, wp 00000008388608, em' ||
	fail "zbd report zone 2: $(echo "$z" | grep 'Zone 00002')"
nullb_remove zt
end

begin boot-zns
d=$(zns_dev) || fail "no zoned NVMe namespace"
if [ -n "$d" ]; then
	b=/sys/block/${d#/dev/}/queue
	[ "$(cat $b/chunk_sectors)" = 8192 ] || fail "ZNS zone size $(cat $b/chunk_sectors)"
	[ "$(cat $b/nr_zones)" = 16 ] || fail "ZNS nr_zones $(cat $b/nr_zones)"
	[ "$(cat $b/max_open_zones)" = 4 ] || fail "ZNS max_open $(cat $b/max_open_zones)"
	blkzone report -c 1 "$d" | grep -q 'cap 0x001800' || fail "ZNS capacity: $(blkzone report -c 1 "$d")"
fi
end

begin boot-zvd
if [ -x /host/build/zvd ]; then
	must zvd --version
	must zvd create /tmp/t.zvd --size 64M --zone-size 4M
	must zvd write /tmp/t.zvd 1 --input /host/Makefile --pad
else
	skip "no build/zvd"
fi
end
finish
GUEST
vm_finish

#!/bin/bash
# SPDX-License-Identifier: MIT
#
# ublk_kill.sh - the kill campaign (issue 6) for the ublk server, in one
# boot of the 6.12 guest, on a 64 MiB volume and on a 64 MiB zoned image
# (16 sequential zones of 4 MiB): kill -9 'zvd serve --ublk' at a random
# moment (after up to $ZVD_VM_KILL_MAXDELAY ms of load, default 1500)
# under a verifying load on /dev/ublkbN, restart it with the same --id,
# run zvd check (clean) and read the whole device back against a model.
# tests/vm/ublk_kill.c is the load, the model and the driver (its header
# has the details); tests/vm/guest/ublk_kill.sh runs it for each kind.
#
# The load: 4 threads of synchronous O_DIRECT requests, every 512-byte
# sector stamped with block, generation and a checksum. Volume: writes of
# 4-64 KiB anywhere, some RWF_DSYNC (FUA), BLKDISCARD, BLKZEROOUT,
# fdatasync (FLUSH). Zoned: writes of 4-64 KiB at each zone's write
# pointer (one thread per zone), some FUA, zone resets, fdatasync.
# Checks: volume - no block older than its last flushed value (a lost
# flushed write), no sector nobody wrote there and no block mixing two
# writes (wrong bytes), no write surviving that was sent after a lost
# write had been acknowledged (a prefix violation). Zoned - each zone's
# write pointer at least where the last flush or FUA write left it and at
# most where anything sent ended, in the right epoch (a lost reset shows
# as old data), and every block below it exactly what was written there.
#
# What it can and cannot detect. The image lives on the guest's tmpfs and
# a kill keeps the page cache: data the server has written to the image
# file survives the kill whether or not it was ever synced, so a missing
# fdatasync of the image file under zvd_flush is invisible here (the
# power-cut campaigns in tests/crash are what cover that). What dies with
# the process is what only the server's memory holds: a volume's map
# records and a zoned image's write pointers and zone state, which commit
# at a flush. So it detects a FLUSH or a FUA write acknowledged without
# committing (shown by serving with a build whose ublk FLUSH returned 0
# without calling zvd_flush: lost flushed writes within the first few
# kills, on both kinds), recovery that loses or mangles committed records
# or garbage collection's moves, torn or foreign blocks, out-of-order
# commits, zvd check problems after a crash, and the ublk front end's
# FLUSH/FUA/discard/write-zeroes/reset mapping and dead-device restart.
#
# Environment: ZVD_VM_KILLS (kills per kind, default 10: the suite form,
# about 2 minutes under TCG; 100 or more is the long form), ZVD_VM_SEED
# (default random, printed: the load's choices repeat, not its timing),
# ZVD_VM_KILL_KINDS (default "volume zoned"), ZVD_VM_KILL_ZVD (a host path
# of another zvd binary to serve with, e.g. a deliberately broken build;
# its directory is shared into the guest), ZVD_VM_TIMEOUT (default 300 s +
# 24 s per kill).
. "$(dirname "$0")/lib.sh"

vm_require "ublk-kill-build volume_ublk_kill_campaign zoned_ublk_kill_campaign" || exit 0
if ! vm_build_helpers; then
	echo "not ok ublk-kill-build: cannot build tests/vm/*.c -static"
	exit 1
fi
KILLS=${ZVD_VM_KILLS:-10}
ARGS=()
ZVD_BIN=/host/build/zvd
if [ -n "${ZVD_VM_KILL_ZVD:-}" ]; then
	alt=$(cd "$(dirname "$ZVD_VM_KILL_ZVD")" && pwd)
	ARGS+=(--share "$alt:/zvdalt")
	ZVD_BIN=/zvdalt/$(basename "$ZVD_VM_KILL_ZVD")
	echo "# serving with $ZVD_VM_KILL_ZVD"
fi
# shellcheck disable=SC2034 # read by vm_run (lib.sh)
VM_GUEST_VARS="KILLS=$KILLS KINDS=$(echo "${ZVD_VM_KILL_KINDS:-volume zoned}" | tr ' ' ,) SEED=${ZVD_VM_SEED:-} ZVD_BIN=$ZVD_BIN MAXDELAY=${ZVD_VM_KILL_MAXDELAY:-1500}"
vm_run --timeout "${ZVD_VM_TIMEOUT:-$((300 + 24 * KILLS))}" "${ARGS[@]}" \
	<"$VM_TESTS_DIR/guest/ublk_kill.sh"
vm_finish

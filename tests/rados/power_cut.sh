#!/bin/bash
# SPDX-License-Identifier: MIT
# Power cuts of volumes on RADOS (issue 8): tests/crash/test_vol_power_cut
# in its RADOS mode, on the throwaway cluster. The write-back log lives in
# the crash backend; each cut loses what the log had not synced and stops
# the uploads where they are.
#   - log kept: the reboot replays the log: nothing flushed may be lost
#     and the volume is a prefix of what was written;
#   - log dropped (the machine is gone): the volume must still be a prefix
#     of everything written since the last verified state, flushed or not.
# At every cut the cluster's own copy, without the log, must check clean.
# ZVD_RADOS_CUTS sets the cuts per mode (default 100; the SAN build does a
# quarter).
. "$(dirname "$0")/lib.sh"

BIN=$ZVD_BUILD/tests/crash/test_vol_power_cut
CUTS=${ZVD_RADOS_CUTS:-100}
case $ZVD_BUILD in *san*) CUTS=$(((CUTS + 3) / 4)) ;; esac

for mode in kept dropped; do
	begin "power_cuts_log_$mode"
	rados_ready || { end; continue; }
	if [ ! -x "$BIN" ]; then
		fail_case "$BIN is not built"
		end
		continue
	fi
	ZVD_RADOS_POOL=$RADOS_POOL ZVD_RADOS_LOG=$mode ZVD_SEED=${ZVD_SEED:-$RANDOM} \
		"$BIN" "$CUTS" >"$T/cut.out" 2>&1
	rc=$?
	grep -E '^# (seed|RADOS)|^cuts:' "$T/cut.out"
	if [ "$rc" != 0 ] || ! grep -q '^cuts: .* problems: 0$' "$T/cut.out"; then
		fail_case "$(grep -E '^(not ok|# also|# reproduce)' "$T/cut.out" | head -3 | tr '\n' '|')"
	fi
	end
done

finish

#!/bin/bash
# SPDX-License-Identifier: MIT
# A volume (zvd create --conventional) served as an ordinary ublk disk in
# a 6.12 guest: queue limits (512-byte sectors, 4 KiB blocks, discard,
# write-zeroes), blkdiscard and blkdiscard -z on the raw device, ext4
# with files, fstrim giving a deleted file's space back, and kill -9 of
# the server under a writer: journal replay, fsck -f -n clean, every synced
# file intact (tests/vm/guest/vol_ublk_ext4.sh).
. "$(dirname "$0")/lib.sh"

vm_require "vol-ublk-ext4" || exit 0
vm_run --timeout "${ZVD_VM_TIMEOUT:-1500}" <"$VM_TESTS_DIR/guest/vol_ublk_ext4.sh"
vm_finish

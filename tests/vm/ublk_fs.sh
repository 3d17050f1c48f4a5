#!/bin/bash
# SPDX-License-Identifier: MIT
# File systems on the zoned ublk device in a 6.12 guest: f2fs (mkfs.f2fs
# -m, metadata in conventional zones) and btrfs (-O zoned, data by zone
# append) mount, take files, unmount; after a server restart and after a
# kill -9 of the server under a mounted file system they mount again with
# every synced file intact (tests/vm/guest/ublk_fs.sh).
. "$(dirname "$0")/lib.sh"

vm_require "ublk-fs" || exit 0
vm_run --timeout "${ZVD_VM_TIMEOUT:-1200}" <"$VM_TESTS_DIR/guest/ublk_fs.sh"
vm_finish

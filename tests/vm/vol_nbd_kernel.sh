#!/bin/bash
# SPDX-License-Identifier: MIT
# The kernel's NBD client (nbd.ko, nbd-client -u) on a volume served by
# `zvd serve --nbd` in a 6.12 guest: size and discard, data and discard on
# the raw device, ext4 with files and fstrim, disconnect, server restart,
# fsck -f -n clean and the files intact, and kill -9 of the server under
# the mounted file system (tests/vm/guest/vol_nbd_kernel.sh).
. "$(dirname "$0")/lib.sh"

vm_require "vol-nbd-kernel" || exit 0
vm_run --timeout "${ZVD_VM_TIMEOUT:-1200}" <"$VM_TESTS_DIR/guest/vol_nbd_kernel.sh"
vm_finish

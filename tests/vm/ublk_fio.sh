#!/bin/bash
# SPDX-License-Identifier: MIT
# fio --zonemode=zbd on the zoned ublk device in a 6.12 guest: sequential
# and random writes with --verify=crc32c, zone resets (fio's own before a
# rewrite, and on its reset threshold), one to two queues at depths 1 to
# 64, data intact across a server restart (tests/vm/guest/ublk_fio.sh).
. "$(dirname "$0")/lib.sh"

vm_require "ublk-fio" || exit 0
vm_run --timeout "${ZVD_VM_TIMEOUT:-1200}" <"$VM_TESTS_DIR/guest/ublk_fio.sh"
vm_finish

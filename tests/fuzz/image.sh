#!/bin/bash
# SPDX-License-Identifier: MIT
# Fuzz image metadata on open and check (tests/fuzz/fuzz_image.c): records
# of any content committed with valid checksums, and overwritten
# superblocks and journal heads.
set -u
TARGET=image
. "$(dirname "$0")/fuzz.inc"

#!/bin/bash
# SPDX-License-Identifier: MIT
# Fuzz the NBD server's handshake and request stream (tests/fuzz/fuzz_nbd.c):
# everything a client sends on one connection, served from in-memory
# volume and zoned exports.
set -u
TARGET=nbd
. "$(dirname "$0")/fuzz.inc"

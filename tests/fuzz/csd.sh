#!/bin/bash
# SPDX-License-Identifier: MIT
# Fuzz the eBPF loader, validator and VM (tests/fuzz/fuzz_csd.c).
set -u
TARGET=csd
. "$(dirname "$0")/fuzz.inc"

#!/bin/bash
# SPDX-License-Identifier: MIT
# Fuzz the command line's sizes, numbers and options
# (tests/fuzz/fuzz_cli_args.c), checking each answer against the
# documented syntax.
set -u
TARGET=cli_args
. "$(dirname "$0")/fuzz.inc"

#!/bin/bash
# SPDX-License-Identifier: MIT
# Fuzz the eBPF loader, validator and VM for a bounded time (default 30 s,
# ZVD_FUZZ_SECONDS overrides) from the checked-in seed corpus. Runs once,
# with the normal build: the fuzzer carries its own ASan+UBSan.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
secs=${ZVD_FUZZ_SECONDS:-30}

case ${ZVD_BUILD:-} in
*build-san) echo "skip fuzz_csd # runs once, in the normal build"; exit 0 ;;
esac
out=$(mktemp -d "${TMPDIR:-/tmp}/zvd-fuzz.XXXXXX")
trap 'rm -rf "$out"' EXIT

bash "$here/build" "$out" >"$out/build.log" 2>&1
rc=$?
if [ $rc = 77 ]; then
	echo "skip fuzz_csd # $(tail -n1 "$out/build.log")"
	exit 0
elif [ $rc != 0 ]; then
	echo "not ok fuzz_csd_build: $(tail -n5 "$out/build.log" | tr '\n' '|')"
	exit 1
fi
echo "ok fuzz_csd_build"
mkdir -p "$out/corpus"
if "$out/fuzz_csd" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$out/" "$out/corpus" "$here/corpus/csd" >"$out/log" 2>&1; then
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log")
	echo "ok fuzz_csd # ${runs:-?} inputs in ${secs} s"
else
	echo "not ok fuzz_csd: $(grep -m1 -E 'ERROR|runtime error' "$out/log")"
	grep -A30 -m1 -E 'ERROR|runtime error' "$out/log" | sed 's/^/# /'
	exit 1
fi

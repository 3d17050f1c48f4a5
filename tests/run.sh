#!/bin/bash
# SPDX-License-Identifier: MIT
#
# run.sh - build and run the whole suite: unit tests (tests/unit), power-cut
# tests (tests/crash) and CLI tests (tests/cli), first in the normal build
# and then in the ASan+UBSan build. Every test program prints "ok NAME",
# "not ok NAME: why" or "skip NAME # why" per case; a program that exits
# non-zero without reporting a failure (a crash, a sanitizer report) counts
# as a failed case of its own.
#
# Options: --quick (normal build only), --san-only. Environment:
# ZVD_CUTS overrides the number of power cuts.
set -u
cd "$(dirname "$0")/.."

variants="normal san"
case "${1:-}" in
--quick) variants=normal ;;
--san-only) variants=san ;;
esac

passed=0 failed=0 skipped=0
log=$(mktemp "${TMPDIR:-/tmp}/zvd-tests.XXXXXX")
trap 'rm -f "$log"' EXIT

# Run one test program ($@) and count its cases.
run_one() {
	local name=$1 rc p f s
	shift
	"$@" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	s=$(grep -c '^skip ' "$log")
	grep -E '^(not ok |skip |# )' "$log" | sed "s|^|  $name: |"
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "  $name: not ok (exit status $rc without a failed case)"
		tail -n 20 "$log" | sed "s|^|    |"
		f=1
	fi
	printf '%-44s %4d passed %3d failed %3d skipped\n' "$name" "$p" "$f" "$s"
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
}

for v in $variants; do
	if [ "$v" = san ]; then
		b=build-san
		flags="SAN=1"
		export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
		export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	else
		b=build
		flags=""
	fi
	echo "== $v build ($b)"
	if ! make -j"$(nproc)" $flags >"$log" 2>&1; then
		cat "$log"
		echo "not ok build-$v: the build failed"
		failed=$((failed + 1))
		continue
	fi
	for t in "$b"/tests/unit/test_* "$b"/tests/crash/test_*; do
		case $t in *.d) continue ;; esac
		[ -x "$t" ] || continue
		run_one "$v/${t#"$b"/tests/}" "$t"
	done
	# shell tests: every tests/GROUP/*.sh but lib.sh; the VM test bed
	# boots a guest kernel, so it runs once, with the normal build
	for t in tests/*/*.sh; do
		g=$(basename "$(dirname "$t")")
		[ "$(basename "$t")" = lib.sh ] && continue
		[ "$g" = vm ] && [ "$v" = san ] && continue
		run_one "$v/$g/$(basename "$t" .sh)" env ZVD="$PWD/$b/zvd" \
			ZVD_BUILD="$PWD/$b" bash "$t"
	done
done

echo "total: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]

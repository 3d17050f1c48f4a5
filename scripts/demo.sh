#!/bin/bash
# SPDX-License-Identifier: MIT
#
# demo.sh - a short, real session with the zvd command on a default image
# (4 GiB, 32 zones of 128 MiB with 124 MiB capacity): create, report,
# write, append, read back and compare, zone management, fault injection,
# info, check, and state that persists from one invocation to the next.
#
# Usage: ZVD=build/zvd scripts/demo.sh [IMAGE]
# Without IMAGE the image goes in a temporary directory removed at exit.
# Prints each command and its output; exits non-zero at the first step
# that misbehaves.
set -u

ZVD=${ZVD:-build/zvd}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/zvd-demo.XXXXXX") || exit 1
trap 'rm -rf "$DIR"' EXIT
IMG=${1:-$DIR/demo.img}
ZS=$((128 << 20))

die() {
	echo "demo: FAILED: $*" >&2
	exit 1
}

# Show and run a zvd command; it must succeed. Its output is in $OUT.
z() {
	echo "\$ zvd $*"
	OUT=$("$ZVD" "$@") || die "zvd $* exited $?"
	[ -n "$OUT" ] && printf '%s\n' "$OUT"
	return 0
}

# Show and run a zvd command that must be refused (exit status 1).
z_refused() {
	local rc
	echo "\$ zvd $*    # expected to be refused"
	"$ZVD" "$@" 2>"$DIR/err"
	rc=$?
	cat "$DIR/err"
	[ "$rc" = 1 ] || die "zvd $* exited $rc, expected 1"
	[ -s "$DIR/err" ] || die "zvd $* gave no message"
}

# The value of field $2 of zone $1 in the JSON report.
field() {
	"$ZVD" report "$IMG" --json --zone "$1" |
		python3 -c 'import json,sys; v=json.load(sys.stdin)[0][sys.argv[1]]; print("null" if v is None else v)' "$2"
}

expect() {
	[ "$1" = "$2" ] || die "$3: got '$1', expected '$2'"
	echo "  ok: $3 = $2"
}

command -v python3 >/dev/null || die "python3 is needed to read --json"
[ -x "$ZVD" ] || die "no zvd binary at $ZVD (set ZVD)"
[ -e "$IMG" ] && die "$IMG exists; give a new path"

echo "== create a default image"
z create "$IMG"
z report "$IMG" --zone 0
z report "$IMG" --filter empty --json --zone 1
expect "$(field 31 cond)" empty "zone 31 condition"

echo
echo "== write 3 MiB + 8 KiB to zone 2 (in 1 MiB pieces)"
head -c $(((3 << 20) + 8192)) /dev/urandom >"$DIR/data"
z write "$IMG" 2 --input "$DIR/data"
expect "$(field 2 wp)" $((2 * ZS + (3 << 20) + 8192)) "zone 2 write pointer"
expect "$(field 2 cond)" implicit-open "zone 2 condition"

echo
echo "== append 64 KiB twice to zone 3"
head -c 65536 /dev/urandom >"$DIR/rec"
z append "$IMG" 3 --input "$DIR/rec"
expect "$OUT" $((3 * ZS)) "first append offset"
z append "$IMG" 3 --input "$DIR/rec" --json
expect "$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["offset"])')" \
	$((3 * ZS + 65536)) "second append offset"

echo
echo "== read back and compare"
z read "$IMG" --offset $((2 * ZS)) --length $(((3 << 20) + 8192)) --output "$DIR/back"
cmp "$DIR/data" "$DIR/back" || die "zone 2 data differs"
echo "  ok: zone 2 reads back identical"
z read "$IMG" --offset $((3 * ZS)) --length 65536 --output "$DIR/back"
cmp "$DIR/rec" "$DIR/back" || die "zone 3 data differs"
echo "  ok: zone 3 reads back identical"

echo
echo "== errors are precise and change nothing"
z_refused write "$IMG" 2 --offset $((2 * ZS)) --input "$DIR/rec"
expect "$(field 2 wp)" $((2 * ZS + (3 << 20) + 8192)) "zone 2 write pointer"
head -c $((2 << 20)) /dev/zero >"$DIR/2m"
z_refused append "$IMG" 3 --input "$DIR/2m"

echo
echo "== zone management"
z open "$IMG" 4
z close "$IMG" 2
expect "$(field 2 cond)" closed "zone 2 condition"
z finish "$IMG" 2
expect "$(field 2 cond)" full "zone 2 condition"
z read "$IMG" --offset $((2 * ZS + (3 << 20) + 8192)) --length 4096 --output "$DIR/z"
cmp "$DIR/z" <(head -c 4096 /dev/zero) || die "finished zone does not read zeros past the old write pointer"
echo "  ok: finished zone reads zeros past the old write pointer"
z_refused write "$IMG" 2 --input "$DIR/rec"
z reset "$IMG" 2
expect "$(field 2 cond)" empty "zone 2 condition"
expect "$(field 2 resets)" 1 "zone 2 resets"

echo
echo "== fault injection: zone 3 goes read-only"
z fail "$IMG" 3 read-only
expect "$(field 3 wp)" null "zone 3 write pointer"
z read "$IMG" --offset $((3 * ZS)) --length 65536 --output "$DIR/back"
cmp "$DIR/rec" "$DIR/back" || die "read-only zone lost its data"
echo "  ok: read-only zone keeps its data"
z_refused append "$IMG" 3 --input "$DIR/rec"

echo
echo "== info and check"
z info "$IMG"
z check "$IMG"
expect "$OUT" clean "check"

echo
echo "== state persists across invocations"
z report "$IMG" --filter read-only
expect "$(field 3 cond)" read-only "zone 3 condition"
expect "$(field 4 cond)" explicit-open "zone 4 condition"
expect "$(field 2 resets)" 1 "zone 2 resets"
z close "$IMG" --all
z reset "$IMG" --all
z info "$IMG" --json
expect "$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["conditions"]["empty"], d["conditions"]["read-only"])')" \
	"31 1" "empty and read-only zones"

echo
echo "demo: all steps behaved"

#!/bin/bash
# SPDX-License-Identifier: MIT
#
# lib.sh - helpers the CLI shell tests source. Not a test itself.
#
# A test script does:
#   . "$(dirname "$0")/lib.sh"
#   begin NAME; run_zvd ARGS...; want_rc 0; want_out REGEX; end
#   ...
#   finish
#
# It prints "ok NAME", "not ok NAME: reason" or "skip NAME # why" per
# case and exits 1 if any case failed. $ZVD is the binary under test
# (default build/zvd); every file goes under $T, a fresh mktemp -d
# directory removed at exit.

# Executed rather than sourced (say by a runner globbing *.sh): nothing
# to do.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	exit 0
fi

ZVD=${ZVD:-build/zvd}
case $ZVD in
/*) ;;
*) ZVD=$PWD/$ZVD ;;
esac
CLI_TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_ROOT=$(cd "$CLI_TESTS_DIR/../.." && pwd)

T=$(mktemp -d "${TMPDIR:-/tmp}/zvd-cli.XXXXXX") || exit 1
CLEANUP_PIDS=()
cleanup() {
	local p
	for p in "${CLEANUP_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT

ANY_FAILED=0
CASE=
CASE_FAILED=0

if [ ! -x "$ZVD" ]; then
	echo "not ok setup: no zvd binary at $ZVD"
	exit 1
fi

# Start a case.
begin() {
	CASE=$1
	CASE_FAILED=0
}

# Record a failure of the current case (only the first is printed).
fail_case() {
	if [ "$CASE_FAILED" = 0 ]; then
		echo "not ok $CASE: $*"
	fi
	CASE_FAILED=1
	ANY_FAILED=1
	return 1
}

# Mark the current case skipped.
skip_case() {
	echo "skip $CASE # $*"
	CASE_FAILED=2
}

# End the case: "ok" unless it failed or was skipped.
end() {
	if [ "$CASE_FAILED" = 0 ]; then
		echo "ok $CASE"
	fi
}

finish() {
	exit $ANY_FAILED
}

# Run zvd: stdout in $T/out, stderr in $T/err, exit status in $RC.
# Standard input is inherited (redirect it at the call).
run_zvd() {
	"$ZVD" "$@" >"$T/out" 2>"$T/err"
	RC=$?
	LAST_CMD="zvd $*"
}

# Short form of stderr (and stdout) for failure messages.
said() {
	printf 'stdout [%s] stderr [%s]' "$(head -c 300 "$T/out" | tr '\n' '|')" \
		"$(head -c 300 "$T/err" | tr '\n' '|')"
}

# The last run_zvd must have exited with status $1 (never a signal).
want_rc() {
	if [ "$RC" -ge 128 ]; then
		fail_case "'$LAST_CMD' died with signal $((RC - 128)); $(said)"
	elif [ "$RC" != "$1" ]; then
		fail_case "'$LAST_CMD' exited $RC, expected $1; $(said)"
	fi
}

# stdout / stderr of the last run must match the extended regex $1.
want_out() {
	grep -Eq -- "$1" "$T/out" ||
		fail_case "'$LAST_CMD': stdout does not match /$1/; $(said)"
}
want_err() {
	grep -Eqi -- "$1" "$T/err" ||
		fail_case "'$LAST_CMD': stderr does not match /$1/; $(said)"
}
# stdout must be exactly $1 (one line).
want_out_is() {
	local got
	got=$(cat "$T/out")
	[ "$got" = "$1" ] ||
		fail_case "'$LAST_CMD': stdout is [$got], expected [$1]"
}
# stderr must be empty.
want_quiet() {
	[ ! -s "$T/err" ] ||
		fail_case "'$LAST_CMD': unexpected stderr [$(head -c 300 "$T/err")]"
}

# Run zvd, expecting success; on failure fail the case.
must_zvd() {
	run_zvd "$@"
	want_rc 0
}

have_python() {
	command -v python3 >/dev/null 2>&1
}

# Validate the JSON on stdout of the last run, then evaluate the Python
# expression $1 with the document as d (and failing message $2).
json_check() {
	local msg
	if ! msg=$(python3 -c '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print("invalid JSON: %s" % e); sys.exit(1)
try:
    ok = eval(sys.argv[2])
except Exception as e:
    print("%s raised %r" % (sys.argv[2], e)); sys.exit(1)
if not ok:
    print("false: %s" % sys.argv[2]); sys.exit(1)
' "$T/out" "$1" 2>&1); then
		fail_case "'$LAST_CMD': ${2:-$msg} ($msg)"
	fi
}

# One field of zone $2 of image $1 from report --json, on stdout.
zone_field() {
	"$ZVD" report "$1" --json --zone "$2" 2>/dev/null |
		python3 -c 'import json,sys; z=json.load(sys.stdin)[0]; v=z[sys.argv[1]]; print("null" if v is None else v)' "$3"
}

# Make a file $1 of $2 bytes of random data.
make_data() {
	head -c "$2" /dev/urandom >"$1"
}

# A small image for fast tests: 64 MiB, 4 MiB zones of 4 MiB capacity,
# plus whatever options follow.
small_image() {
	local img=$1
	shift
	"$ZVD" create "$img" --size 64M --zone-size 4M "$@" >/dev/null
}

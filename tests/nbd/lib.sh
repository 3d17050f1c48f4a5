#!/bin/bash
# SPDX-License-Identifier: MIT
#
# lib.sh - what the NBD shell tests share: tests/cli/lib.sh (begin,
# run_zvd, want_*, json_check, $T ...), starting and stopping
# 'zvd serve --nbd', and the images the tests serve. Not a test itself.
#
# The clients are real ones, none of them ours: nbdinfo and nbdcopy
# (libnbd-bin), qemu-img, qemu-io and qemu-nbd (qemu-utils), fio (its nbd
# engine) and python3 for raw protocol abuse. A case whose client is
# missing is skipped and says which.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	exit 0
fi
. "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"
NBD_TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Skip the current case unless every command named is installed; returns
# 1 when it skipped.
requires() {
	local c
	for c in "$@"; do
		if ! command -v "$c" >/dev/null 2>&1; then
			skip_case "$c is not installed (scripts/deps.sh installs it)"
			return 1
		fi
	done
	return 0
}

# A thin 64 MiB volume at $1.
make_volume() {
	"$ZVD" create "$1" --conventional --size 64M >/dev/null
}

# A zoned image at $1 whose first 64 MiB are conventional zones (4 of
# 16 MiB, 512-byte blocks) and whose last 16 MiB is one sequential zone.
make_zoned() {
	"$ZVD" create "$1" --size 80M --zone-size 16M --conventional-zones 4 \
		--block-size 512 --max-open 1 --max-active 1 >/dev/null
}

# Start 'zvd serve --nbd ARGS...' in the background and wait until it
# prints where it listens. Sets SRV_PID, SRV_ADDR (first line: socket path
# or HOST:PORT), SRV_URI (the first export's URI) and SRV_URIS (all).
# Returns 1 (stderr in $T/srv.err) when it did not come up.
start_server() {
	local i n
	rm -f "$T/srv.out" "$T/srv.err"
	"$ZVD" serve --nbd "$@" >"$T/srv.out" 2>"$T/srv.err" &
	SRV_PID=$!
	CLEANUP_PIDS+=("$SRV_PID")
	for i in $(seq 100); do
		n=$(grep -c . "$T/srv.out" 2>/dev/null)
		if [ "${n:-0}" -ge 2 ]; then
			SRV_ADDR=$(sed -n 1p "$T/srv.out")
			SRV_URI=$(sed -n 2p "$T/srv.out")
			mapfile -t SRV_URIS < <(sed -n '2,$p' "$T/srv.out")
			return 0
		fi
		kill -0 "$SRV_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# Stop the server with SIGTERM; its exit status in SRV_RC.
stop_server() {
	kill -TERM "$SRV_PID" 2>/dev/null
	wait "$SRV_PID"
	SRV_RC=$?
}

# Start the server or fail the case saying why. Returns 1 on failure.
must_start() {
	start_server "$@" && return 0
	fail_case "the server did not start: $(head -c 400 "$T/srv.err" | tr '\n' '|')"
	return 1
}

# Run a client command, stdout and stderr in $T/cout; fail the case
# (showing them) when it fails.
must() {
	if ! "$@" >"$T/cout" 2>&1; then
		fail_case "'$*' failed: $(head -c 400 "$T/cout" | tr '\n' '|')"
		return 1
	fi
	return 0
}

# The map of an export as "OFFSET LENGTH TYPE" lines (nbdinfo --map).
nbd_map() {
	nbdinfo --map "$1" | awk '{print $1, $2, $3}'
}

# The types (nbdinfo --map's third column) of the extents of export $1
# that overlap [$2, $2 + $3), sorted, one per line.
map_types() {
	nbd_map "$1" | awk -v a="$2" -v n="$3" \
		'$1 < a + n && $1 + $2 > a {print $3}' | sort -u
}

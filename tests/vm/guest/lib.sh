#!/bin/bash
# SPDX-License-Identifier: MIT
#
# lib.sh - helpers for the ublk scripts that run inside the zvd-vm guest
# (tests/vm/guest/ublk_*.sh; bash and busybox only, no python). The case
# helpers are the test bed's own (tests/vm/guest.inc: begin, fail, skip,
# end, must, finish, nullb_create); this adds the zvd server:
#
#   serve IMG [ARGS]             start "zvd serve --ublk IMG ARGS" in the
#                                background; sets SPID and DEV (/dev/ublkbN)
#   stop_server [SIGNAL]         signal it (TERM), wait; SRC = its status
#   kill9_server                 kill -9 it and wait for the device to go
#
# Files go under $W (guest tmpfs); $OUT (/vmrun) is shared with the host.

. /host/tests/vm/guest.inc
export PATH=/host/build:$PATH
W=$(mktemp -d /tmp/zvdt.XXXXXX)
OUT=/vmrun
SPID=
DEV=

fail_case() {
	fail "$@"
}
skip_case() {
	skip "$@"
}
# finish, stopping a server still running first
finish() {
	[ -n "$SPID" ] && stop_server TERM >/dev/null 2>&1
	exit $ANY_FAILED
}
# A line of context for the host log (not counted as a case).
note() {
	echo "# $*"
}

# serve IMG [ARGS...]: start the server, wait up to 60 s for the path.
serve() {
	local img=$1 i
	shift
	: >"$W/serve.out"
	zvd serve --ublk "$img" "$@" >"$W/serve.out" 2>"$W/serve.err" &
	SPID=$!
	DEV=
	for i in $(seq 600); do
		if [ -s "$W/serve.out" ]; then
			DEV=$(head -n 1 "$W/serve.out")
			[ -b "$DEV" ] && return 0
		fi
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	fail_case "zvd serve --ublk $img $* did not bring up a device: $(tr '\n' '|' <"$W/serve.err")"
	kill -9 "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	SPID=
	return 1
}

# The ublk id of $DEV.
dev_id() {
	echo "${DEV#/dev/ublkb}"
}

# stop_server [SIG]: signal the server and wait (at most 60 s) for it.
stop_server() {
	local sig=${1:-TERM} i
	SRC=
	[ -n "$SPID" ] || return 0
	kill -"$sig" "$SPID" 2>/dev/null
	for i in $(seq 600); do
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$SPID" 2>/dev/null; then
		fail_case "the server did not exit within 60 s of SIG$sig"
		kill -9 "$SPID" 2>/dev/null
	fi
	wait "$SPID"
	SRC=$?
	SPID=
}

# kill -9 the server; the kernel then removes /dev/ublkbN by itself.
kill9_server() {
	local i
	[ -n "$SPID" ] || return 0
	kill -9 "$SPID"
	wait "$SPID" 2>/dev/null
	SPID=
	for i in $(seq 300); do
		[ -b "$DEV" ] || return 0
		sleep 0.1
	done
	fail_case "$DEV still there 30 s after kill -9"
}

# Zone $2 (index) of a device: its start sector, from blkzone.
zone_start() {
	local dev=$1 z=$2 zs
	zs=$(cat "/sys/block/${dev#/dev/}/queue/chunk_sectors")
	echo $((z * zs))
}

# Write $3 4 KiB blocks of pattern file $4 at sector $2 of $1, direct I/O.
dd_write() {
	dd if="$4" of="$1" bs=4k seek=$(($2 / 8)) count="$3" oflag=direct \
		conv=notrunc 2>"$W/dd.err"
}

#!/bin/bash
# SPDX-License-Identifier: MIT
#
# lib.sh - what the RADOS shell tests share: tests/nbd/lib.sh (begin,
# run_zvd, want_*, start_server, requires, ...) and a throwaway Ceph
# cluster for the test file (scripts/ceph-test-cluster, docs/RADOS-TESTBED.md),
# started when this file is sourced and stopped at exit. Not a test itself.
#
# A case starts with 'rados_ready || { end; continue-or-skip; }': when the
# cluster could not start, every case is skipped saying why, never passed.
# new_image gives each case an image name of its own (rados://POOL/NAME).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	exit 0
fi
. "$(dirname "${BASH_SOURCE[0]}")/../nbd/lib.sh"
RADOS_TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The cluster's directory: admin socket paths must fit sun_path, so a
# short one in /tmp whatever TMPDIR is (the script refuses > 80 chars).
RADOS_DIR=$(mktemp -d /tmp/zvdc.XXXXXX) || exit 1
RADOS_UP=0
RADOS_WHY=

# Stop the servers still running (SIGTERM, then SIGKILL after 10 s: a
# server flushing to a cluster that is going away must not outlive the
# test), then the cluster, then remove $T.
rados_cleanup() {
	local p i
	for p in "${CLEANUP_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${CLEANUP_PIDS[@]}"; do
		for i in $(seq 100); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
	done
	CLEANUP_PIDS=()
	if [ -f "$RADOS_DIR/ceph.conf" ]; then
		"$SRC_ROOT/scripts/ceph-test-cluster" stop "$RADOS_DIR" >/dev/null 2>&1
	fi
	rm -rf "$RADOS_DIR"
	cleanup
}
trap rados_cleanup EXIT

if out=$("$SRC_ROOT/scripts/ceph-test-cluster" start "$RADOS_DIR" 2>"$T/cluster.err"); then
	eval "$out"
	RADOS_UP=1
	RADOS_POOL=${CEPH_POOL:-zvd}
	# an operation the cluster cannot serve (a full memstore) fails
	# after a minute rather than hanging the suite; [client] is the
	# conf's last section
	echo "rados osd op timeout = 60" >>"$CEPH_CONF"
	echo "# test cluster in $RADOS_DIR ($(grep -o 'ready in [0-9.]* s' "$T/cluster.err"))"
else
	RADOS_WHY=$(grep -v '^ ' "$T/cluster.err" | tail -n 3 | tr '\n' ' ' | head -c 300)
	echo "# the test cluster could not start: $RADOS_WHY"
fi

# Skip the current case when there is no cluster; returns 1 when it
# skipped.
rados_ready() {
	if [ "$RADOS_UP" != 1 ]; then
		skip_case "the test cluster could not start: ${RADOS_WHY:-no reason given}"
		return 1
	fi
	return 0
}

# A fresh image name, unique on this host (control sockets of RADOS
# images are /tmp/zvd-rados.POOL.NAME.*, whatever the cluster): sets IMG
# (rados://POOL/NAME) and IMG_NAME (NAME, the objects' prefix). $1 is a
# hint that ends up in the name.
RADOS_SEQ=0
new_image() {
	RADOS_SEQ=$((RADOS_SEQ + 1))
	IMG_NAME="t$$-${1:-img}$RADOS_SEQ"
	IMG="rados://$RADOS_POOL/$IMG_NAME"
}

# The objects of image $1 (a NAME) in the pool: "OBJECT SIZE" lines,
# sorted. Objects of NAME are NAME and NAME.*; names given by new_image
# end in a number, so no two images' names are prefixes of each other
# followed by '.'.
pool_objects() {
	/usr/bin/python3 - "$RADOS_POOL" "$1" <<'PY'
import os, signal, sys, rados
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
pool, name = sys.argv[1:3]
c = rados.Rados(conffile=os.environ["CEPH_CONF"])
c.connect()
io = c.open_ioctx(pool)
out = []
for o in io.list_objects():
    if o.key == name or o.key.startswith(name + "."):
        out.append("%s %d" % (o.key, io.stat(o.key)[0]))
for line in sorted(out):
    print(line)
io.close()
c.shutdown()
PY
}

# Number of objects of image $1 (a NAME), and their total bytes:
# "COUNT BYTES".
pool_usage() {
	pool_objects "$1" | awk '{n++; b += $2} END {print n + 0, b + 0}'
}

# Start a server on the rados image(s) given, on a socket in $T:
# start_server's variables (SRV_PID, SRV_URI, ...). Extra arguments go
# to 'zvd serve --nbd' as they are.
rados_serve() {
	start_server "$@" --socket "$T/nbd.sock"
}
must_serve() {
	must_start "$@" --socket "$T/nbd.sock"
}

# Wait up to $2 seconds (default 10) for process $1 to be gone.
wait_gone() {
	local i
	for i in $(seq $((${2:-10} * 10))); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# qemu-io on export $1 with the commands that follow ('-c CMD' pairs
# given as plain words: qio URI 'write -P 1 0 4k' 'read ...'; qio -r
# URI ... opens it read-only). Fails the case saying which pattern did
# not verify.
qio() {
	local uri a=(-d unmap)
	if [ "$1" = -r ]; then
		a+=(-r)
		shift
	fi
	uri=$1
	shift
	while [ $# -gt 0 ]; do
		a+=(-c "$1")
		shift
	done
	if ! qemu-io -f raw "${a[@]}" "$uri" >"$T/cout" 2>&1; then
		fail_case "qemu-io ${a[*]} failed: $(head -c 300 "$T/cout" | tr '\n' '|')"
		return 1
	fi
	if grep -q 'verification failed\|Pattern verification' "$T/cout"; then
		fail_case "qemu-io ${a[*]}: $(grep -i 'fail' "$T/cout" | head -2 | tr '\n' '|')"
		return 1
	fi
	return 0
}

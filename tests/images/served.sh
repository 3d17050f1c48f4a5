#!/bin/bash
# SPDX-License-Identifier: MIT
# Snapshots of a served image: a server (here 'zvd __hold', which calls
# ctl_start / ctl_stop exactly as zvd serve does) holds the image locked
# and writes to it; snapshot create, list and delete and gc go through its
# control socket IMAGE.zvd-ctl; rollback, rebase and flatten are refused.
. "$(dirname "$0")/lib.sh"

IMG=$T/srv.img
SOCK=$IMG.zvd-ctl
small_image "$IMG" --conventional-zones 1 || echo "# setup: create failed"

start_server() {
	"$ZVD" __hold "$IMG" "$@" >"$T/hold.out" 2>"$T/hold.err" &
	HOLD=$!
	CLEANUP_PIDS+=("$HOLD")
	wait_for "$SOCK" && grep -q holding "$T/hold.out" 2>/dev/null ||
		{ sleep 0.2; grep -q holding "$T/hold.out"; }
}
stop_server() {
	kill -TERM "$HOLD" 2>/dev/null
	wait "$HOLD"
}

# Zone 0 of $1 (IMAGE or IMAGE@NAME) holds "block 0", "block 1", ... up
# to some block and zeros after: what the server wrote, in order.
prefix_of_blocks() {
	"$ZVD" read "$1" --offset 0 --length $((4 << 20)) --output "$T/z0" &&
		python3 - "$T/z0" <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
n = 0
while n * 4096 < len(d) and d[n * 4096:n * 4096 + 6] == b"block ":
    want = ("block %d" % n).encode()
    if d[n * 4096:n * 4096 + len(want) + 1] != want + b"\0":
        print("block %d holds %r" % (n, d[n * 4096:n * 4096 + 16])); sys.exit(1)
    n += 1
if any(d[n * 4096:]):
    print("data after block %d" % n); sys.exit(1)
print(n)
PY
}

begin server_starts
if ! start_server --write-every 2; then
	fail_case "the server did not start: $(cat "$T/hold.err")"
fi
grep -q "control socket .*srv.img.zvd-ctl" "$T/hold.err" || fail_case "the server did not print the socket path"
[ -S "$SOCK" ] || fail_case "no socket at $SOCK"
[ "$(stat -c %a "$SOCK")" = 600 ] || fail_case "socket mode $(stat -c %a "$SOCK")"
end

begin image_is_locked
run_zvd info "$IMG"
want_rc 1
want_err "in use"
end

begin snapshot_create_through_server
sleep 0.2
run_zvd snapshot create "$IMG" live1
want_rc 0
want_out "^created snapshot live1 \(id [0-9]+\) of "
want_err "held by a running server; asked it through .*srv.img.zvd-ctl"
sleep 0.2
run_zvd snapshot create "$IMG" live2
want_rc 0
end

begin snapshot_list_through_server
run_zvd snapshot list "$IMG" --json
want_rc 0
have_python && json_check '[s["name"] for s in d] == ["live1", "live2"]'
run_zvd snapshot list "$IMG"
want_rc 0
want_out ' live1 '
end

begin snapshot_errors_through_server
run_zvd snapshot create "$IMG" live1
want_rc 1
want_err "already exists"
run_zvd snapshot create "$IMG" .bad
want_rc 2
want_err "not a valid snapshot name"
run_zvd snapshot delete "$IMG" nope
want_rc 1
want_err "no snapshot named 'nope'"
end

begin changes_refused_while_served
for c in "rollback $IMG live1" "flatten $IMG" "rebase $IMG --backing $IMG"; do
	run_zvd $c
	want_rc 1
	want_err "stop the server first"
done
end

begin gc_through_server
run_zvd gc "$IMG"
want_rc 0
want_out "^gc .*: the backend shrank by [0-9]+ bytes"
end

begin snapshot_delete_through_server
"$ZVD" snapshot create "$IMG" live3 >/dev/null 2>&1 || fail_case "create live3"
run_zvd snapshot delete "$IMG" live3
want_rc 0
want_out "^deleted snapshot live3 of "
end

begin bad_request_refused
if command -v python3 >/dev/null; then
	r=$(python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"frobnicate\n"); print(s.recv(200).decode().strip())' "$SOCK")
	case $r in "error 22 "*) ;; *) fail_case "reply to a bad request: $r" ;; esac
fi
end

begin server_stops_and_removes_socket
stop_server
[ ! -e "$SOCK" ] || fail_case "the socket is still there"
run_zvd check "$IMG"
want_rc 0
end

begin snapshots_taken_under_io_are_consistent
n1=$(prefix_of_blocks "$IMG@live1") || fail_case "live1: $n1"
n2=$(prefix_of_blocks "$IMG@live2") || fail_case "live2: $n2"
n=$(prefix_of_blocks "$IMG") || fail_case "image: $n"
[ "${n1:-0}" -gt 0 ] || fail_case "the server had written nothing by live1"
[ "${n1:-0}" -le "${n2:-0}" ] && [ "${n2:-0}" -le "${n:-0}" ] ||
	fail_case "blocks: live1 $n1, live2 $n2, image $n"
end

begin rollback_after_server_stopped
run_zvd rollback "$IMG" live1
want_rc 0
n=$(prefix_of_blocks "$IMG")
[ "$n" = "$n1" ] || fail_case "after rollback $n blocks, live1 had $n1"
end

begin stale_socket_replaced
start_server || fail_case "start"
{ kill -KILL "$HOLD" && wait "$HOLD"; } 2>/dev/null
[ -S "$SOCK" ] || fail_case "no stale socket to test with"
# the lock died with the server: the image opens directly again
run_zvd snapshot create "$IMG" direct
want_rc 0
grep -q "running server" "$T/err" && fail_case "asked a dead server"
start_server || fail_case "restart over a stale socket: $(cat "$T/hold.err")"
run_zvd snapshot create "$IMG" again
want_rc 0
stop_server
end

finish

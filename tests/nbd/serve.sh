#!/bin/bash
# SPDX-License-Identifier: MIT
# zvd serve --nbd: the command line, the socket (default path, mode,
# stale and foreign files, removal at exit), TCP, what nbdinfo sees of an
# export (flags, block sizes, --json), several exports and the default
# one, unknown export names, and a clean stop on SIGTERM and SIGINT.
. "$(dirname "$0")/lib.sh"

Z=$T/z.img
Y=$T/y.img
make_zoned "$Z" || echo "# setup: create $Z failed"
"$ZVD" create "$Y" --size 96M --zone-size 16M --conventional-zones 4 \
	--block-size 512 --max-open 1 --max-active 1 >/dev/null ||
	echo "# setup: create $Y failed"

begin help_documents_nbd
run_zvd serve --help
want_rc 0
for o in --nbd --socket --tcp --readonly; do
	grep -q -- "$o" "$T/out" || fail_case "serve --help lacks $o"
done
end

begin usage_errors
run_zvd serve --nbd
want_rc 2
want_err 'at least one image'
run_zvd serve --nbd "$Z" --socket "$T/s" --tcp :0
want_rc 2
want_err 'choose one'
run_zvd serve --nbd "$Z" --tcp localhost
want_rc 2
want_err 'HOST:PORT'
run_zvd serve --nbd "$Z" --tcp :99999
want_rc 2
run_zvd serve --nbd "$Z" --queues 2
want_rc 2
want_err 'option of --ublk'
run_zvd serve --nbd "$Z" --frob
want_rc 2
mkdir -p "$T/d"
cp "$Z" "$T/d/z.img"
run_zvd serve --nbd "$Z" "$T/d/z.img"
want_rc 2
want_err "two exports would be named 'z.img'"
end

begin missing_image
run_zvd serve --nbd "$T/none.img"
want_rc 1
want_err 'no such file'
[ ! -e "$T/none.img.nbd.sock" ] || fail_case "a socket was left behind"
end

begin default_socket_and_uri
if must_start "$Z"; then
	[ "$SRV_ADDR" = "$Z.nbd.sock" ] || fail_case "address [$SRV_ADDR], expected $Z.nbd.sock"
	[ "$SRV_URI" = "nbd+unix:///z.img?socket=$Z.nbd.sock" ] ||
		fail_case "URI [$SRV_URI]"
	[ -S "$Z.nbd.sock" ] || fail_case "no socket at $Z.nbd.sock"
	[ "$(stat -c %a "$Z.nbd.sock")" = 600 ] ||
		fail_case "socket mode $(stat -c %a "$Z.nbd.sock"), expected 600"
	stop_server
	[ "$SRV_RC" = 0 ] || fail_case "the server exited $SRV_RC on SIGTERM"
	[ ! -e "$Z.nbd.sock" ] || fail_case "the socket was not removed"
	grep -q 'z.img flushed and closed' "$T/srv.err" ||
		fail_case "no 'flushed and closed' on stderr: $(cat "$T/srv.err")"
fi
end

begin nbdinfo_sees_the_export
if requires nbdinfo && must_start "$Z"; then
	if must nbdinfo --json "$SRV_URI"; then
		cp "$T/cout" "$T/out"
		json_check 'd["exports"][0]["export-size"] == 80 << 20' "size"
		json_check 'd["exports"][0]["export-name"] == "z.img"' "name"
		json_check 'd["structured"] is True' "structured replies"
		json_check 'd["exports"][0]["can_multi_conn"] and d["exports"][0]["can_flush"] and d["exports"][0]["can_fua"]' "flags"
		json_check 'not d["exports"][0]["is_read_only"]' "read-only"
		# a zoned image: no TRIM, no WRITE_ZEROES
		json_check 'not d["exports"][0]["can_trim"] and not d["exports"][0]["can_zero"]' "trim/zero"
		json_check 'd["exports"][0]["block_size_minimum"] == 512 and d["exports"][0]["block_size_preferred"] == 4096 and d["exports"][0]["block_size_maximum"] == 32 << 20' "block sizes"
		json_check '"base:allocation" in d["exports"][0]["contexts"]' "contexts"
	fi
	stop_server
fi
end

begin several_exports_and_the_default
if requires nbdinfo && must_start "$Z" "$Y"; then
	sock=$SRV_ADDR
	if must nbdinfo --list --json "$SRV_URI"; then
		cp "$T/cout" "$T/out"
		json_check 'sorted(e["export-name"] for e in d["exports"]) == ["y.img", "z.img"]' "the list"
		json_check '{e["export-name"]: e["export-size"] for e in d["exports"]} == {"z.img": 80 << 20, "y.img": 96 << 20}' "sizes"
	fi
	[ "${SRV_URIS[1]}" = "nbd+unix:///y.img?socket=$sock" ] ||
		fail_case "second URI [${SRV_URIS[1]}]"
	[ "$(nbdinfo --size "${SRV_URIS[1]}")" = $((96 << 20)) ] ||
		fail_case "y.img does not have y.img's size"
	# "" is the first export
	[ "$(nbdinfo --size "nbd+unix:///?socket=$sock")" = $((80 << 20)) ] ||
		fail_case "the default export is not the first"
	if nbdinfo --size "nbd+unix:///x.img?socket=$sock" >/dev/null 2>&1; then
		fail_case "an unknown export name was served"
	fi
	if nbdinfo --size "nbd+unix:///$Z?socket=$sock" >/dev/null 2>&1; then
		fail_case "an export was found by its path"
	fi
	stop_server
fi
end

begin tcp_loopback
if requires nbdinfo && must_start "$Z" --tcp :0; then
	case $SRV_ADDR in
	127.0.0.1:[0-9]*) ;;
	*) fail_case "address [$SRV_ADDR], expected 127.0.0.1:PORT" ;;
	esac
	[ "$SRV_URI" = "nbd://$SRV_ADDR/z.img" ] || fail_case "URI [$SRV_URI]"
	[ "$(nbdinfo --size "$SRV_URI")" = $((80 << 20)) ] ||
		fail_case "nbdinfo over TCP failed"
	stop_server
	[ "$SRV_RC" = 0 ] || fail_case "exit status $SRV_RC"
fi
end

begin stale_socket_replaced_foreign_file_kept
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$T/stale.sock"
if must_start "$Z" --socket "$T/stale.sock"; then
	[ "$SRV_ADDR" = "$T/stale.sock" ] || fail_case "address [$SRV_ADDR]"
	stop_server
fi
echo precious >"$T/file"
run_zvd serve --nbd "$Z" --socket "$T/file"
want_rc 1
want_err 'not a socket'
[ "$(cat "$T/file")" = precious ] || fail_case "the file was changed"
end

begin second_server_on_a_live_socket_refused
if must_start "$Z" --socket "$T/one.sock"; then
	run_zvd serve --nbd "$Y" --socket "$T/one.sock"
	want_rc 1
	want_err 'already listening'
	stop_server
fi
end

begin relative_socket_printed_absolute
(cd "$T" && exec "$ZVD" serve --nbd z.img --socket rel.sock >"$T/srv.out" 2>"$T/srv.err") &
pid=$!
CLEANUP_PIDS+=("$pid")
for i in $(seq 100); do [ -s "$T/srv.out" ] && break; sleep 0.1; done
addr=$(sed -n 1p "$T/srv.out")
[ "$addr" = "$T/rel.sock" ] || fail_case "address [$addr], expected $T/rel.sock"
kill -TERM "$pid"
wait "$pid"
[ ! -e "$T/rel.sock" ] || fail_case "the socket was not removed"
end

begin stop_with_a_client_not_reading_replies
if must_start "$Z"; then
	python3 "$NBD_TESTS_DIR/nbd_hostile.py" "$SRV_ADDR" z.img $((80 << 20)) \
		hold_not_reading >/dev/null 2>&1 &
	hold=$!
	CLEANUP_PIDS+=("$hold")
	sleep 1
	start=$SECONDS
	stop_server
	[ "$SRV_RC" = 0 ] || fail_case "exit status $SRV_RC"
	[ $((SECONDS - start)) -le 15 ] ||
		fail_case "stopping took $((SECONDS - start)) s"
	kill "$hold" 2>/dev/null
	wait "$hold" 2>/dev/null
fi
end

begin sigint_stops_cleanly
if must_start "$Z"; then
	kill -INT "$SRV_PID"
	wait "$SRV_PID"
	rc=$?
	[ "$rc" = 0 ] || fail_case "exit status $rc after SIGINT"
	[ ! -e "$Z.nbd.sock" ] || fail_case "the socket was not removed"
	run_zvd check "$Z"
	want_rc 0
fi
end

finish

#!/bin/bash
# SPDX-License-Identifier: MIT
# A hostile client (nbd_hostile.py: malformed handshakes and requests,
# bad magic numbers, truncated packets, unknown options and commands,
# oversize lengths, out-of-range offsets, clients vanishing in the middle
# of a write's payload) gets the error the protocol defines or a closed
# connection; meanwhile a well-behaved client keeps being served, the
# server survives, data flushed before is intact and the image checks
# clean after a normal stop.
. "$(dirname "$0")/lib.sh"

HOSTILE=$NBD_TESTS_DIR/nbd_hostile.py

for kind in zoned volume; do
	IMG=$T/$kind.img
	if [ $kind = volume ]; then
		make_volume "$IMG"
	else
		make_zoned "$IMG"
	fi
	begin "${kind}_setup"
	[ -f "$IMG" ] || fail_case "could not create the image"
	if requires qemu-io && must_start "$IMG"; then
		must qemu-io -f raw -c 'write -P 0x5a 0 1M' -c 'write -P 0xa5 1M 1M' \
			-c flush "$SRV_URI"
	fi
	end
	[ "$CASE_FAILED" = 0 ] || continue
	size=$([ $kind = volume ] && echo $((64 << 20)) || echo $((80 << 20)))

	# a well-behaved client reading all along
	(
		while :; do
			if ! qemu-io -f raw -c 'read -P 0x5a 0 1M' "$SRV_URI" >"$T/bg.out" 2>&1 ||
				grep -qi 'fail\|error' "$T/bg.out"; then
				cp "$T/bg.out" "$T/bg.failed"
			fi
			sleep 0.05
		done
	) &
	BG=$!
	CLEANUP_PIDS+=("$BG")

	for sc in $(python3 "$HOSTILE" list); do
		[ "$sc" = readonly_write ] && continue
		begin "${kind}_$sc"
		python3 "$HOSTILE" "$SRV_ADDR" "$kind.img" "$size" "$sc" >"$T/h.out" 2>&1
		grep -q "^ok $sc" "$T/h.out" ||
			fail_case "$(head -c 400 "$T/h.out" | tr '\n' '|')"
		kill -0 "$SRV_PID" 2>/dev/null ||
			fail_case "the server died: $(tail -c 300 "$T/srv.err")"
		end
	done
	kill "$BG" 2>/dev/null
	wait "$BG" 2>/dev/null

	begin "${kind}_others_served_throughout"
	[ ! -f "$T/bg.failed" ] ||
		fail_case "the well-behaved client failed: $(head -c 300 "$T/bg.failed" | tr '\n' '|')"
	rm -f "$T/bg.failed"
	end

	begin "${kind}_flushed_data_intact"
	must qemu-io -f raw -c 'read -P 0x5a 0 1M' -c 'read -P 0xa5 1M 1M' \
		"$SRV_URI" && ! grep -q 'verification failed' "$T/cout" ||
		fail_case "$(grep -i fail "$T/cout" | head -1)"
	end

	begin "${kind}_stops_cleanly"
	stop_server
	[ "$SRV_RC" = 0 ] || fail_case "exit status $SRV_RC: $(tail -c 300 "$T/srv.err")"
	run_zvd check "$IMG"
	want_rc 0
	end
done

# A client that connects and says nothing is cut off after the handshake's
# idle limit (shortened here to 2 s), and others are served meanwhile.
begin idle_handshake_is_cut_off
IMG=$T/idle.img
make_volume "$IMG"
if requires qemu-io && ZVD_NBD_HANDSHAKE_IDLE=2 must_start "$IMG"; then
	python3 - "$SRV_ADDR" >"$T/idle.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
greeting = s.recv(18)
t = time.time()
s.settimeout(10)
try:
    rest = s.recv(1)
except socket.timeout:
    print("still open after 10 s"); sys.exit(1)
print("closed after %.1f s" % (time.time() - t))
sys.exit(0 if len(rest) == 0 and len(greeting) == 18 else 1)
PY
	IDLE=$!
	must qemu-io -f raw -c 'write -P 0x11 0 64k' -c 'read -P 0x11 0 64k' "$SRV_URI"
	wait "$IDLE" || fail_case "idle client: $(cat "$T/idle.out")"
	stop_server
fi
end

finish

#!/bin/bash
# SPDX-License-Identifier: MIT
# kill -9 of 'zvd serve --nbd rados://...' under a verifying load, with
# the model and checks of tests/kill/nbd_kill.py (its hooks give the
# serve arguments, the socket and what to do between kills):
# - no_cache: flush waits for the cluster, so no flushed write may be
#   lost;
# - cache_kept: the local write-back log (--cache) survives the kill and
#   is replayed at the restart: no flushed write may be lost either;
# - cache_dropped: the log is deleted after each kill, so the image opens
#   as far as the cluster got: flushed writes may be lost
#   (ZVD_KILL_LOSSY), but what is left must be a prefix of what was
#   written, with no bytes nobody wrote and no torn block, and 'zvd
#   check' must say clean.
# Then two cases with a known sequence of flushed writes made while the
# OSD is stopped (only the cache has them): kill -9, and restart with the
# cache (everything there, the replay announced) or without it (a prefix
# of the sequence, 'zvd check' clean, and the server and 'zvd info' say
# the image is as far as the cluster got).
#
# Environment: ZVD_KILLS (kills per campaign, default 4), ZVD_KILL_SEED
# (default random, printed), ZVD_RADOS_KILL_CAMPAIGNS (default "no_cache
# cache_kept cache_dropped"), and nbd_kill.py's own.
. "$(dirname "$0")/lib.sh"

KILL_PY=$RADOS_TESTS_DIR/../kill/nbd_kill.py
KILLS=${ZVD_KILLS:-4}
SEED=${ZVD_KILL_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
M=$((1 << 20))
echo "# seed $SEED, $KILLS kills per campaign (ZVD_KILL_SEED=$SEED to repeat)"

# Run nbd_kill.py on $IMG, a fresh 32 MiB volume in RADOS; the
# environment given (NAME=VALUE words) goes to it.
campaign() {
	if ! "$ZVD" create "$IMG" --conventional --size 32M >"$T/out" 2>"$T/err"; then
		fail_case "could not create $IMG: $(said)"
		return
	fi
	env ZVD_KILL_SOCKET="$T/kill.sock" ZVD_KILL_MAXDELAY="${ZVD_KILL_MAXDELAY:-0.7}" \
		"$@" python3 "$KILL_PY" "$ZVD" "$IMG" volume "$KILLS" "$SEED" \
		>"$T/k.out" 2>"$T/k.err"
	grep '^# ' "$T/k.out"
	if ! grep -q '^RESULT ok$' "$T/k.out"; then
		fail_case "$(grep -v '^# .* seed .*kills,' "$T/k.out" | head -3 | tr '\n' '|')"
		tail -n 5 "$T/k.err" | sed 's/^/# stderr: /'
	fi
}

for c in ${ZVD_RADOS_KILL_CAMPAIGNS:-no_cache cache_kept cache_dropped}; do
	begin "${c}_kill_campaign"
	if rados_ready && requires python3; then
		new_image "$c"
		# a killed server of this host is reaped before the restart,
		# so the restart breaks its lock: break-lock finds none
		# ("nobody holds") or breaks it (an unreaped one)
		brk="'$ZVD' break-lock '$IMG' >/dev/null 2>'$T/brk.err' || grep -q 'nobody holds' '$T/brk.err'"
		case $c in
		no_cache)
			campaign ZVD_KILL_BETWEEN="$brk" ;;
		cache_kept)
			campaign ZVD_KILL_BETWEEN="$brk" \
				ZVD_KILL_SERVE_ARGS="--cache '$T/kept.cache' --cache-size 64M" ;;
		cache_dropped)
			campaign ZVD_KILL_BETWEEN="rm -f '$T/dropped.cache' && $brk" \
				ZVD_KILL_SERVE_ARGS="--cache '$T/dropped.cache' --cache-size 64M" \
				ZVD_KILL_LOSSY=1 ;;
		*)
			fail_case "no campaign named $c" ;;
		esac
	fi
	end
done

# 48 MiB of filler at 16 MiB (one flush); then, with the OSD stopped
# (SIGSTOP) so that nothing more reaches the cluster, 256 writes of
# 64 KiB at 0, 64 KiB, ... each of bytes i % 250 + 1 and each flushed,
# through the server at $SRV_URI; then kill -9 the server and let the
# OSD go on. The flushes must complete: the cache makes them durable.
SEQ=256
write_sequence_and_kill() {
	local cmds=() i osd
	osd=$(cat "$RADOS_DIR/run/osd.0.pid" 2>/dev/null)
	for i in $(seq 0 $((SEQ - 1))); do
		cmds+=(-c "write -P $((i % 250 + 1)) $((i * 65536)) 64k" -c flush)
	done
	qio "$SRV_URI" 'write -P 0xee 16M 48M' flush
	[ -n "$osd" ] && kill -STOP "$osd" || fail_case "cannot stop the OSD (pid [$osd])"
	timeout 60 qemu-io -f raw "${cmds[@]}" "$SRV_URI" >"$T/cout" 2>&1 ||
		fail_case "with the OSD stopped, the flushed writes to the cache did not complete: $(head -c 300 "$T/cout" | tr '\n' '|')"
	kill -KILL "$SRV_PID"
	wait "$SRV_PID" 2>/dev/null
	[ -n "$osd" ] && kill -CONT "$osd"
}

# What the image $1 holds of the sequence, from the cluster: prints the
# number of 64 KiB writes fully there, or a line saying what is wrong
# (and returns 1): what is there must be a prefix of the writes (the
# filler, then writes 0, 1, ...; each 4 KiB block of the first write
# missing is old or new, and nothing after it is there).
sequence_prefix() {
	"$ZVD" read "$1" --offset 0 --length $((64 * M)) --output "$T/seq" ||
		{ echo "zvd read failed"; return 1; }
	python3 - "$T/seq" "$SEQ" <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
seq = int(sys.argv[2])
M = 1 << 20
B = 4096
def blocks(lo, hi):
    return [d[o:o + B] for o in range(lo, hi, B)]
fill = [b == b"\xee" * B for b in blocks(16 * M, 64 * M)]
zero = [b == bytes(B) for b in blocks(16 * M, 64 * M)]
if not all(f or z for f, z in zip(fill, zero)):
    print("the filler region holds bytes nobody wrote"); sys.exit(1)
n = 0
while n < seq and d[n * 65536:(n + 1) * 65536] == bytes([n % 250 + 1]) * 65536:
    n += 1
if n < seq:
    pat = bytes([n % 250 + 1]) * B
    for i, b in enumerate(blocks(n * 65536, (n + 1) * 65536)):
        if b != pat and b != bytes(B):
            print("write %d, block %d holds bytes nobody wrote" % (n, i)); sys.exit(1)
    if any(d[(n + 1) * 65536:seq * 65536]):
        k = next(i for i in range(n + 1, seq) if any(d[i * 65536:(i + 1) * 65536]))
        print("not a prefix: write %d is not all there but write %d is (partly)" % (n, k))
        sys.exit(1)
if n > 0 and not all(fill):
    print("not a prefix: %d writes of the sequence are there, but not all the filler flushed before them" % n)
    sys.exit(1)
print(n)
PY
}

begin cache_kept_replays
if rados_ready && requires qemu-io python3; then
	new_image replay
	"$ZVD" create "$IMG" --conventional --size 64M >/dev/null
	if must_serve "$IMG" --cache "$T/r.cache"; then
		write_sequence_and_kill
		n=$(sequence_prefix "$IMG") || fail_case "in the cluster after the kill: $n"
		echo "# the cluster had $n of the $SEQ flushed writes at the kill"
		if must_serve "$IMG" --cache "$T/r.cache"; then
			stop_server
			[ "$SRV_RC" = 0 ] || fail_case "the server exited $SRV_RC"
			if [ "${n:-0}" -lt "$SEQ" ]; then
				grep -q 'the local log held [0-9]* bytes' "$T/srv.err" ||
					fail_case "writes were replayed from the cache, but the server did not say so: $(head -c 300 "$T/srv.err" | tr '\n' '|')"
			fi
		fi
		n=$(sequence_prefix "$IMG")
		[ "$n" = "$SEQ" ] ||
			fail_case "after the restart with the cache: $n of the $SEQ flushed writes"
		run_zvd check "$IMG"
		want_rc 0
	fi
fi
end

begin cache_dropped_prefix_and_info
if rados_ready && requires qemu-io python3; then
	new_image dropped
	"$ZVD" create "$IMG" --conventional --size 64M >/dev/null
	if must_serve "$IMG" --cache "$T/d.cache"; then
		write_sequence_and_kill
		mv "$T/d.cache" "$T/d.cache.old"
		run_zvd check "$IMG"
		want_rc 0
		want_out clean
		# whoever opens the image next must learn that it lost its log
		run_zvd info "$IMG"
		want_rc 0
		cat "$T/out" "$T/err" | grep -qi 'as far as the cluster got' ||
			fail_case "zvd info does not say the image is only as far as the cluster got: $(said)"
		n=$(sequence_prefix "$IMG") || fail_case "without the cache: $n"
		echo "# the image holds $n of the $SEQ flushed writes (its cache deleted)"
		if must_serve "$IMG" --cache "$T/d.cache"; then
			stop_server
			grep -q 'as far as the cluster got' "$T/srv.err" ||
				fail_case "the server opened without the image's log and did not say so: $(head -c 300 "$T/srv.err" | tr '\n' '|')"
		fi
		m=$(sequence_prefix "$IMG")
		[ "$m" = "$n" ] || fail_case "serving changed the image: $n writes before, $m after"
		# the old cache is stale now: its writes would land on top of
		# what was written since
		run_zvd serve --nbd "$IMG" --socket "$T/stale.sock" --cache "$T/d.cache.old"
		want_rc 1
		want_err "earlier session|stale|move the cache away"
		m=$(sequence_prefix "$IMG")
		[ "$m" = "$n" ] || fail_case "the stale cache changed the image: $n writes before, $m after"
	fi
fi
end

finish

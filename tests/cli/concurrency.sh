#!/bin/bash
# SPDX-License-Identifier: MIT
# One writer at a time: while a zvd process holds an image for writing,
# a second writer and readers are refused with a clear message; readers
# share.
. "$(dirname "$0")/lib.sh"

IMG=$T/l.img
small_image "$IMG" || echo "# setup: create failed"
make_data "$T/8k" 8192
mkfifo "$T/fifo" || echo "# setup: mkfifo failed"

# Wait until a writer is refused as busy (the holder has the lock); up to
# about 10 seconds. The probe, closing empty zone 2, changes nothing
# whether or not it is refused.
wait_locked() {
	local i
	for i in $(seq 100); do
		"$ZVD" close "$IMG" 2 >"$T/out" 2>"$T/err"
		if grep -q 'in use' "$T/err"; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

begin second_writer_refused
# The first writer opens the image, then waits for input on the fifo.
"$ZVD" write "$IMG" 1 <"$T/fifo" >"$T/w1.out" 2>"$T/w1.err" &
W1=$!
CLEANUP_PIDS+=("$W1")
exec 3>"$T/fifo"
if wait_locked; then
	run_zvd write "$IMG" 2 --input "$T/8k"
	want_rc 1
	want_err 'l.img: the image is in use by another process'
	run_zvd reset "$IMG" --all
	want_rc 1
	want_err 'in use'
	run_zvd info "$IMG"
	want_rc 1
	want_err 'in use'
else
	fail_case "a second writer was never refused; $(said)"
fi
# Let the first writer finish: it must succeed with its data.
cat "$T/8k" >&3
exec 3>&-
wait "$W1"
[ $? = 0 ] || fail_case "the first writer failed: $(cat "$T/w1.err")"
[ "$(zone_field "$IMG" 1 wp)" = $(((4 << 20) + 8192)) ] || fail_case "first writer's data missing"
[ "$(zone_field "$IMG" 2 cond)" = empty ] || fail_case "zone 2 changed"
end

begin writer_free_again
run_zvd write "$IMG" 2 --input "$T/8k"
want_rc 0
end

begin readers_share_writer_refused
# A reader opens the image, then blocks opening its output fifo.
"$ZVD" read "$IMG" --offset 0 --length 4096 --output "$T/fifo" \
	>"$T/r1.out" 2>"$T/r1.err" &
R1=$!
CLEANUP_PIDS+=("$R1")
if wait_locked; then
	run_zvd info "$IMG"
	want_rc 0
	run_zvd report "$IMG" --zone 1
	want_rc 0
else
	fail_case "a writer was never refused while a reader held the image; $(said)"
fi
cat "$T/fifo" >/dev/null
wait "$R1"
[ $? = 0 ] || fail_case "the reader failed: $(cat "$T/r1.err")"
end

finish

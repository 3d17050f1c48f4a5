#!/bin/bash
# SPDX-License-Identifier: MIT
# zvd serve and zvd up on the build host: argument handling, the refusal
# of images the kernel's zoned block layer would not accept (checked before
# ublk is touched), and the explanation on a host without ublk. Serving a
# device for real is tested in a guest: tests/vm/ublk_*.sh.
. "$(dirname "$0")/lib.sh"

IMG=$T/s.img
small_image "$IMG" --conventional-zones 2 --max-open 4 --max-active 4 ||
	echo "# setup: create failed"
HAVE_UBLK=0
[ -e /dev/ublk-control ] && HAVE_UBLK=1

begin serve_needs_front_end
run_zvd serve "$IMG"
want_rc 2
want_err -- '--ublk'
end

begin serve_needs_image
run_zvd serve --ublk
want_rc 2
end

begin serve_missing_image
run_zvd serve --ublk "$T/none.img"
want_rc 1
want_err 'no such file'
end

begin serve_queues_range
run_zvd serve --ublk "$IMG" --queues 0
want_rc 2
want_err -- '--queues: 0 is not between 1 and'
run_zvd serve --ublk "$IMG" --queues 65
want_rc 2
run_zvd serve --ublk "$IMG" --queues x
want_rc 2
end

begin serve_depth_range
run_zvd serve --ublk "$IMG" --depth 0
want_rc 2
want_err -- '--depth: 0 is not between 1 and 4096'
run_zvd serve --ublk "$IMG" --depth 4097
want_rc 2
end

begin serve_id_range
run_zvd serve --ublk "$IMG" --id 1048576
want_rc 2
want_err -- '--id'
end

begin refuse_non_power_of_two_zone_size
"$ZVD" create "$T/np.img" --size 60M --zone-size 6M --max-open 4 \
	--max-active 4 >/dev/null
run_zvd serve --ublk "$T/np.img"
want_rc 1
want_err 'not a power of two'
want_err '6291456'
want_err 'zone-size 8M'
end

begin refuse_non_power_of_two_with_mem
run_zvd serve --ublk --mem "$T/np.img"
want_rc 1
want_err 'not a power of two'
end

begin refuse_too_many_zones
# 600000 zones of 4 KiB: a report of them would not fit one request
"$ZVD" create "$T/many.img" --size $((600000 * 4096)) --zone-size 4K \
	--max-open 4 --max-active 4 >/dev/null 2>&1
if [ -f "$T/many.img" ]; then
	run_zvd serve --ublk "$T/many.img"
	want_rc 1
	want_err 'zones'
	want_err 'one request'
else
	skip_case "the library refused a 600000-zone geometry"
fi
end

begin image_in_use_is_refused
"$ZVD" create "$T/lock.img" --size 64M --zone-size 4M >/dev/null
if command -v flock >/dev/null 2>&1; then
	exec 9<"$T/lock.img"
	flock -x 9
	run_zvd serve --ublk "$T/lock.img"
	exec 9<&-
	want_rc 1
	want_err 'in use'
else
	skip_case "no flock command"
fi
end

begin serve_without_ublk_explains
if [ "$HAVE_UBLK" = 1 ]; then
	skip_case "this host has ublk"
else
	run_zvd serve --ublk "$IMG"
	want_rc 1
	want_err 'ublk'
	want_err 'ublk-control'
fi
end

begin up_creates_default_image_and_offers_vm
if [ "$HAVE_UBLK" = 1 ]; then
	skip_case "this host has ublk"
else
	mkdir -p "$T/up"
	(cd "$T/up" && "$ZVD" up >"$T/out" 2>"$T/err")
	RC=$?
	LAST_CMD="zvd up"
	want_rc 1
	want_err 'created zvd.img'
	want_err "zvd vm"
	[ -f "$T/up/zvd.img" ] || fail_case "no ./zvd.img"
	run_zvd info "$T/up/zvd.img" --json
	want_rc 0
	have_python && json_check 'd["zone_size"] == 128 << 20 and d["zones"] == 32' \
		"the default image is not 32 zones of 128 MiB"
	# a second run reuses it
	(cd "$T/up" && "$ZVD" up >"$T/out" 2>"$T/err")
	grep -q 'created' "$T/err" && fail_case "zvd up created the image again"
fi
end

begin up_options
run_zvd up "$T/x.img" --mem
want_rc 2
run_zvd up "$T/x.img" --depth 0
want_rc 2
[ -e "$T/x.img" ] && fail_case "a usage error created an image"
end

begin mem_loads_a_copy
if [ "$HAVE_UBLK" = 1 ]; then
	skip_case "this host has ublk (the copy would be served)"
else
	printf 'hello' | "$ZVD" write "$IMG" 3 --pad >/dev/null
	"$ZVD" finish "$IMG" 5 >/dev/null
	"$ZVD" open "$IMG" 6 >/dev/null
	before=$("$ZVD" report "$IMG" --json)
	run_zvd serve --ublk --mem "$IMG"
	want_rc 1
	want_err 'in-memory copy'
	[ "$("$ZVD" report "$IMG" --json)" = "$before" ] ||
		fail_case "serve --mem changed the image"
fi
end

finish

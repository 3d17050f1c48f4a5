#!/bin/bash
# SPDX-License-Identifier: MIT
# zvd check on clean images and on corrupted ones; opening a corrupted
# image fails with a message, never a crash.
. "$(dirname "$0")/lib.sh"

IMG=$T/c.img
small_image "$IMG" || echo "# setup: create failed"
make_data "$T/64k" 65536
"$ZVD" write "$IMG" 1 --input "$T/64k" >/dev/null
"$ZVD" append "$IMG" 2 --input "$T/64k" >/dev/null
"$ZVD" finish "$IMG" 3 >/dev/null
"$ZVD" fail "$IMG" 4 read-only >/dev/null

begin check_new_image_clean
"$ZVD" create "$T/new.img" >/dev/null
run_zvd check "$T/new.img"
want_rc 0
want_out_is clean
end

begin check_used_image_clean
run_zvd check "$IMG"
want_rc 0
want_out_is clean
end

begin check_json_clean
run_zvd check "$IMG" --json
want_rc 0
have_python && json_check 'd["clean"] is True and d["count"] == 0 and d["problems"] == []'
end

begin check_missing_image
run_zvd check "$T/none.img"
want_rc 1
want_err 'no such file'
end

# Corrupt a copy of the image: write $3 bytes of file $2 at each byte
# offset that follows. Expect check to fail, and info, report and write to
# fail cleanly.
corrupt_case() {
	local name=$1 src=$2 count=$3 img=$T/$1.img off
	shift 3
	cp "$IMG" "$img"
	for off in "$@"; do
		dd if="$src" of="$img" bs=1 seek="$off" count="$count" \
			conv=notrunc status=none
	done

	begin "check_finds_$name"
	run_zvd check "$img"
	want_rc 1
	want_out '^[0-9]+ problems?$'
	[ "$(grep -c . "$T/out")" -ge 2 ] || fail_case "no problem listed; $(said)"
	end

	begin "check_json_finds_$name"
	if have_python; then
		run_zvd check "$img" --json
		want_rc 1
		json_check 'd["clean"] is False and d["count"] >= 1 and len(d["problems"]) == d["count"]'
	else
		skip_case "no python3"
	fi
	end

	begin "open_refuses_$name"
	run_zvd info "$img"
	want_rc 1
	want_err "$name.img: "
	run_zvd write "$img" 5 --input "$T/64k"
	want_rc 1
	run_zvd report "$img" --json
	want_rc 1
	end
}

head -c 8192 /dev/urandom >"$T/garbage"
corrupt_case superblocks_overwritten "$T/garbage" 8192 0
head -c 8192 /dev/zero >"$T/zeros"
corrupt_case superblocks_zeroed "$T/zeros" 8192 0
# Eight bytes near the start of each 4 KiB half of the first 8 KiB.
printf 'XXXXXXXX' >"$T/x8"
corrupt_case few_bytes_in_both_superblocks "$T/x8" 8 16 4112

begin open_refuses_truncated_image
cp "$IMG" "$T/trunc.img"
truncate -s 4096 "$T/trunc.img"
run_zvd info "$T/trunc.img"
want_rc 1
want_err 'trunc.img: '
run_zvd check "$T/trunc.img"
want_rc 1
end

begin check_does_not_change_image
cp "$T/superblocks_overwritten.img" "$T/keep.img"
"$ZVD" check "$T/keep.img" >/dev/null 2>&1
cmp -s "$T/keep.img" "$T/superblocks_overwritten.img" || fail_case "check changed the image"
end

finish

#!/bin/bash
# SPDX-License-Identifier: MIT
# Size and number parsing: binary suffixes accepted, garbage, signs,
# overflow and trailing junk rejected with exit 2 and a clear message.
. "$(dirname "$0")/lib.sh"

IMG=$T/s.img
small_image "$IMG" || echo "# setup: create failed"

# Sizes accepted: --length VALUE reads exactly BYTES bytes.
size_ok() {
	begin "size_accepts_$1"
	run_zvd read "$IMG" --offset 0 --length "$1"
	want_rc 0
	[ "$(stat -c %s "$T/out")" = "$2" ] ||
		fail_case "--length $1 read $(stat -c %s "$T/out") bytes, expected $2"
	end
}
size_ok 4096 4096
size_ok 4K 4096
size_ok 4KiB 4096
size_ok 1M 1048576
size_ok 1MiB 1048576
size_ok 3M 3145728
size_ok 0004K 4096

# Sizes refused before anything is opened.
size_bad() {
	begin "size_rejects_$1"
	run_zvd read "$IMG" --offset 0 --length "$2"
	want_rc 2
	want_err "--length: invalid size '"
	[ -n "$3" ] && want_err "$3"
	end
}
size_bad empty "" 'expected a decimal number'
size_bad letters abc 'expected a decimal number'
size_bad negative -4096 'negative'
size_bad plus_sign +4096 'expected a decimal number'
size_bad fraction 1.5M 'unknown suffix'
size_bad hex 0x1000 'unknown suffix'
size_bad trailing_junk 4096x 'unknown suffix'
size_bad trailing_space "4096 " 'unknown suffix'
size_bad leading_space " 4096" 'expected a decimal number'
size_bad unknown_suffix 4X 'unknown suffix'
size_bad decimal_kb 4KB 'unknown suffix'
size_bad double_suffix 4KK 'unknown suffix'
size_bad suffix_only K 'expected a decimal number'
size_bad overflow_digits 18446744073709551616 'too large'
size_bad overflow_suffix_T 16777216T 'too large'
size_bad overflow_suffix_G 17179869184GiB 'too large'

begin size_largest_accepted
# 2^64 - 1 parses; the library then refuses it as out of range.
run_zvd read "$IMG" --offset 18446744073709547520 --length 4096
want_rc 1
want_err 'invalid'
end

begin size_suffixes_in_create
run_zvd create "$T/sfx.img" --size 1G --zone-size 64MiB --zone-capacity 48M --max-append 128K
want_rc 0
run_zvd info "$T/sfx.img" --json
have_python && json_check 'd["size"] == 1<<30 and d["zone_size"] == 64<<20 and d["zone_capacity"] == 48<<20 and d["max_append"] == 128<<10'
end

begin size_terabytes
run_zvd create "$T/tb.img" --size 1T --zone-size 1G --max-open 0 --max-active 0
want_rc 0
run_zvd info "$T/tb.img" --json
have_python && json_check 'd["size"] == 1<<40 and d["zones"] == 1024'
[ "$(du -k "$T/tb.img" | cut -f1)" -lt 65536 ] || fail_case "a 1 TiB image takes $(du -k "$T/tb.img" | cut -f1) KiB"
end

begin create_rejects_bad_size
run_zvd create "$T/bad.img" --size 4GB
want_rc 2
want_err "--size: invalid size '4GB'"
[ ! -e "$T/bad.img" ] || fail_case "file created"
end

begin create_rejects_huge_max_append
run_zvd create "$T/bad.img" --max-append 8G
want_rc 2
want_err -- '--max-append'
[ ! -e "$T/bad.img" ] || fail_case "file created"
end

num_bad() {
	begin "number_rejects_$1"
	run_zvd create "$T/bad.img" --max-open "$2"
	want_rc 2
	want_err "--max-open: invalid number '"
	want_err "$3"
	[ ! -e "$T/bad.img" ] || fail_case "file created"
	end
}
num_bad suffix 4K 'trailing'
num_bad negative -1 'negative'
num_bad too_large 4294967296 'too large'
num_bad junk 12a 'trailing'
num_bad empty '' 'expected a decimal number'

begin zone_number_rejects_suffix
run_zvd reset "$IMG" 1K
want_rc 2
want_err "invalid number '1K'"
end

finish

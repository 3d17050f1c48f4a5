#!/bin/bash
# SPDX-License-Identifier: MIT
# zvd write, append and read: round trips compared with cmp.
. "$(dirname "$0")/lib.sh"

IMG=$T/io.img
"$ZVD" create "$IMG" --size 64M --zone-size 4M --conventional-zones 1 \
	--max-append 64K >/dev/null || echo "# setup: create failed"
ZS=$((4 << 20))

begin write_read_roundtrip
make_data "$T/a" 65536
run_zvd write "$IMG" 1 --input "$T/a"
want_rc 0
want_out "wrote 65536 bytes to zone 1 at offset $ZS; write pointer $((ZS + 65536))"
run_zvd read "$IMG" --offset $ZS --length 65536 --output "$T/a.back"
want_rc 0
cmp -s "$T/a" "$T/a.back" || fail_case "read back differs"
end

begin write_appends_at_write_pointer
make_data "$T/b" 8192
run_zvd write "$IMG" 1 --input "$T/b"
want_rc 0
want_out "at offset $((ZS + 65536)); write pointer $((ZS + 65536 + 8192))"
cat "$T/a" "$T/b" >"$T/ab"
run_zvd read "$IMG" --offset $ZS --length $((65536 + 8192))
cmp -s "$T/ab" "$T/out" || fail_case "the two writes do not read back in order"
end

begin write_from_stdin
make_data "$T/c" 12288
run_zvd write "$IMG" 2 <"$T/c"
want_rc 0
cat "$T/c" | "$ZVD" write "$IMG" 2 >"$T/out" 2>"$T/err"
RC=$?
want_rc 0
cat "$T/c" "$T/c" >"$T/cc"
run_zvd read "$IMG" --offset $((2 * ZS)) --length 24576
cmp -s "$T/cc" "$T/out" || fail_case "stdin writes read back wrong"
end

begin write_large_input_in_pieces
make_data "$T/big" $((3 * 1024 * 1024 + 4096 * 5))
run_zvd write "$IMG" 3 --input "$T/big"
want_rc 0
want_out "wrote $((3 * 1024 * 1024 + 4096 * 5)) bytes"
run_zvd read "$IMG" --offset $((3 * ZS)) --length $((3 * 1024 * 1024 + 4096 * 5)) --output "$T/big.back"
want_rc 0
cmp -s "$T/big" "$T/big.back" || fail_case "large write reads back wrong"
end

begin write_fills_zone_to_full
make_data "$T/zone" $ZS
run_zvd write "$IMG" 4 --input "$T/zone" --fua
want_rc 0
want_out "write pointer $((5 * ZS)) \(full\)"
run_zvd read "$IMG" --offset $((4 * ZS)) --length $ZS --output "$T/zone.back"
cmp -s "$T/zone" "$T/zone.back" || fail_case "full zone reads back wrong"
end

begin write_unaligned_file_refused_before_writing
make_data "$T/odd" 5000
run_zvd write "$IMG" 5 --input "$T/odd"
want_rc 1
want_err 'zone 5: input length 5000 is not a multiple of the block size 4096'
want_err -- '--pad'
[ "$(zone_field "$IMG" 5 cond)" = empty ] || fail_case "zone 5 is no longer empty"
end

begin write_pad
run_zvd write "$IMG" 5 --input "$T/odd" --pad
want_rc 0
want_out 'wrote 8192 bytes .*3192 zero bytes of padding'
{ cat "$T/odd"; head -c 3192 /dev/zero; } >"$T/odd.padded"
run_zvd read "$IMG" --offset $((5 * ZS)) --length 8192
cmp -s "$T/odd.padded" "$T/out" || fail_case "padded write reads back wrong"
end

begin write_unaligned_pipe_refused
head -c 5000 "$T/odd" | "$ZVD" write "$IMG" 6 >"$T/out" 2>"$T/err"
RC=$?
want_rc 1
want_err 'not a multiple of the block size'
[ "$(zone_field "$IMG" 6 cond)" = empty ] || fail_case "zone 6 is no longer empty"
end

begin write_empty_input
run_zvd write "$IMG" 6 </dev/null
want_rc 0
want_out 'wrote 0 bytes'
[ "$(zone_field "$IMG" 6 cond)" = empty ] || fail_case "zone 6 is no longer empty"
end

begin write_conventional_needs_offset
run_zvd write "$IMG" 0 --input "$T/b"
want_rc 2
want_err 'zone 0 is conventional: give --offset'
end

begin write_conventional_anywhere
run_zvd write "$IMG" 0 --offset 1M --input "$T/b"
want_rc 0
run_zvd write "$IMG" 0 --offset 4K --input "$T/b"
want_rc 0
run_zvd read "$IMG" --offset 1M --length 8192
cmp -s "$T/b" "$T/out" || fail_case "conventional write reads back wrong"
run_zvd write "$IMG" 0 --offset 1M --input "$T/c"
want_rc 0
run_zvd read "$IMG" --offset 1M --length 12288
cmp -s "$T/c" "$T/out" || fail_case "conventional overwrite reads back wrong"
end

begin write_offset_in_other_zone
run_zvd write "$IMG" 1 --offset $((2 * ZS)) --input "$T/b"
want_rc 2
want_err "is in zone 2, not in zone 1"
end

begin write_offset_not_at_write_pointer
run_zvd write "$IMG" 7 --offset $((7 * ZS + 8192)) --input "$T/b"
want_rc 1
want_err 'zone 7'
want_err 'write pointer'
[ "$(zone_field "$IMG" 7 cond)" = empty ] || fail_case "zone 7 changed"
end

begin write_too_long_for_zone
make_data "$T/toolong" $((ZS + 4096))
run_zvd write "$IMG" 8 --input "$T/toolong"
want_rc 1
want_err 'zone 8'
want_err 'bytes had been written before the failure'
[ "$(zone_field "$IMG" 8 cond)" = full ] || fail_case "zone 8 not full"
[ "$(zone_field "$IMG" 9 cond)" = empty ] || fail_case "the write spilled into zone 9"
end

begin append_prints_offset
make_data "$T/ap" 16384
run_zvd append "$IMG" 9 --input "$T/ap"
want_rc 0
want_out_is "$((9 * ZS))"
run_zvd append "$IMG" 9 --input "$T/ap"
want_rc 0
want_out_is "$((9 * ZS + 16384))"
cat "$T/ap" "$T/ap" >"$T/apap"
run_zvd read "$IMG" --offset $((9 * ZS)) --length 32768
cmp -s "$T/apap" "$T/out" || fail_case "appends read back wrong"
end

begin append_json
run_zvd append "$IMG" 9 --input "$T/ap" --json
want_rc 0
if have_python; then
	json_check "d == {'offset': $((9 * ZS + 32768)), 'length': 16384}"
fi
end

begin append_from_stdin_with_pad
printf 'hello' | "$ZVD" append "$IMG" 10 --pad >"$T/out" 2>"$T/err"
RC=$?
want_rc 0
want_out_is "$((10 * ZS))"
run_zvd read "$IMG" --offset $((10 * ZS)) --length 4096
[ "$(head -c 5 "$T/out")" = hello ] || fail_case "appended data reads back wrong"
end

begin append_over_limit
make_data "$T/over" $((64 * 1024 + 4096))
run_zvd append "$IMG" 11 --input "$T/over"
want_rc 1
want_err 'zone 11'
want_err 'append limit of 65536 bytes'
[ "$(zone_field "$IMG" 11 cond)" = empty ] || fail_case "zone 11 changed"
end

begin append_at_limit
make_data "$T/lim" 65536
run_zvd append "$IMG" 11 --input "$T/lim"
want_rc 0
want_out_is "$((11 * ZS))"
end

begin append_unaligned
run_zvd append "$IMG" 11 --input "$T/odd"
want_rc 1
want_err 'not a multiple of the block size'
end

begin append_to_conventional_refused
run_zvd append "$IMG" 0 --input "$T/b"
want_rc 1
want_err 'zone 0'
want_err 'invalid'
end

begin read_unwritten_is_zeros
run_zvd read "$IMG" --offset $((12 * ZS)) --length 65536
want_rc 0
head -c 65536 /dev/zero | cmp -s - "$T/out" || fail_case "unwritten blocks are not zeros"
end

begin read_past_write_pointer_is_zeros
run_zvd read "$IMG" --offset $ZS --length $((65536 + 8192 + 4096))
want_rc 0
{ cat "$T/ab"; head -c 4096 /dev/zero; } | cmp -s - "$T/out" ||
	fail_case "blocks past the write pointer are not zeros"
end

begin read_across_zones
run_zvd read "$IMG" --offset $((ZS - 4096)) --length 8192
want_rc 0
[ "$(stat -c %s "$T/out")" = 8192 ] || fail_case "short read across zones"
end

begin read_unaligned_refused
run_zvd read "$IMG" --offset 100 --length 4096
want_rc 1
want_err 'invalid'
[ ! -s "$T/out" ] || fail_case "output written"
run_zvd read "$IMG" --offset 0 --length $((2 * 1024 * 1024 + 100))
want_rc 1
[ ! -s "$T/out" ] || fail_case "output written before the refusal"
end

begin read_beyond_device
run_zvd read "$IMG" --offset 64M --length 4096
want_rc 1
want_err 'invalid'
end

begin block_size_512_roundtrip
"$ZVD" create "$T/512.img" --size 64M --zone-size 4M --block-size 512 >/dev/null ||
	fail_case "create"
make_data "$T/1536" 1536
run_zvd write "$T/512.img" 1 --input - <"$T/1536"
want_rc 0
want_out "write pointer $((ZS + 1536))"
run_zvd append "$T/512.img" 1 --input "$T/1536"
want_rc 0
want_out_is $((ZS + 1536))
run_zvd read "$T/512.img" --offset $ZS --length 3072
cat "$T/1536" "$T/1536" | cmp -s - "$T/out" || fail_case "512-byte blocks read back wrong"
run_zvd read "$T/512.img" --offset $((ZS + 512)) --length 512
want_rc 0
end

begin read_needs_offset_and_length
run_zvd read "$IMG" --offset 0
want_rc 2
want_err -- '--offset and --length are required'
end

finish

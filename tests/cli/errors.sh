#!/bin/bash
# SPDX-License-Identifier: MIT
# Errors: exit codes (1 refused, 2 usage), messages on stderr naming the
# zone, the status and the numbers; a refused request changes nothing.
. "$(dirname "$0")/lib.sh"

IMG=$T/e.img
small_image "$IMG" --zone-capacity 2M || echo "# setup: create failed"
ZS=$((4 << 20))
make_data "$T/8k" 8192

begin no_arguments
run_zvd
want_rc 2
want_err 'usage'
end

begin unknown_command
run_zvd frobnicate
want_rc 2
want_err "unknown command 'frobnicate'"
end

begin unknown_option
run_zvd info "$IMG" --colour
want_rc 2
want_err "unknown option '--colour'"
want_err "zvd help info"
end

begin option_missing_value
run_zvd create "$T/x.img" --size
want_rc 2
want_err -- '--size needs a value'
end

begin option_given_twice
run_zvd create "$T/x.img" --size 64M --size 128M
want_rc 2
want_err 'more than once'
end

begin flag_with_value
run_zvd info "$IMG" --json=yes
want_rc 2
want_err 'takes no value'
end

begin missing_image_argument
run_zvd info
want_rc 2
want_err 'missing argument'
want_err 'zvd info IMAGE'
end

begin extra_argument
run_zvd info "$IMG" extra
want_rc 2
want_err "unexpected argument 'extra'"
end

begin errors_go_to_stderr_only
run_zvd write "$IMG" 99 --input "$T/8k"
want_rc 1
[ ! -s "$T/out" ] || fail_case "stdout not empty: $(said)"
end

begin write_missing_zone
run_zvd write "$IMG" 99 --input "$T/8k"
want_rc 1
want_err 'zone 99'
want_err 'invalid-field|invalid field'
want_err '16 zones'
end

begin write_full_zone_names_zone_and_status
"$ZVD" finish "$IMG" 4 >/dev/null
run_zvd write "$IMG" 4 --input "$T/8k"
want_rc 1
want_err '^zvd write: zone 4: '
want_err 'full'
end

begin write_not_at_write_pointer_gives_numbers
"$ZVD" write "$IMG" 5 --input "$T/8k" >/dev/null
run_zvd write "$IMG" 5 --offset $((5 * ZS)) --input "$T/8k"
want_rc 1
want_err '^zvd write: zone 5: '
want_err "$((5 * ZS))"
want_err "$((5 * ZS + 8192))"
[ "$(zone_field "$IMG" 5 wp)" = $((5 * ZS + 8192)) ] || fail_case "write pointer moved"
end

begin write_across_capacity_names_boundary
# Capacity 2 MiB: leave 8 KiB of room, then write 12 KiB.
make_data "$T/almost" $(((2 << 20) - 8192))
make_data "$T/12k" 12288
"$ZVD" write "$IMG" 6 --input "$T/almost" >/dev/null || fail_case "setup write"
run_zvd write "$IMG" 6 --input "$T/12k"
want_rc 1
want_err '^zvd write: zone 6: '
want_err 'boundary'
want_err "$((6 * ZS + (2 << 20) - 8192))"
[ "$(zone_field "$IMG" 6 wp)" = $((6 * ZS + (2 << 20) - 8192)) ] || fail_case "write pointer moved"
end

begin read_offline_zone
"$ZVD" fail "$IMG" 7 offline >/dev/null
run_zvd read "$IMG" --offset $((7 * ZS)) --length 4096
want_rc 1
want_err 'zone 7'
want_err 'offline'
end

begin input_file_missing
run_zvd write "$IMG" 8 --input "$T/nope"
want_rc 1
want_err 'nope: No such file'
end

begin output_not_writable
run_zvd read "$IMG" --offset 0 --length 4096 --output "$T/no/dir/out"
want_rc 1
want_err 'out: No such file'
end

begin read_output_onto_image_refused
cp "$IMG" "$T/before.img"
run_zvd read "$IMG" --offset 0 --length 4096 --output "$IMG"
want_rc 2
want_err 'is the image itself'
cmp -s "$IMG" "$T/before.img" || fail_case "the image changed"
end

begin bad_zone_number
run_zvd open "$IMG" three
want_rc 2
want_err "invalid number 'three'"
end

begin negative_zone_number
run_zvd open "$IMG" -1
want_rc 2
want_err 'negative'
end

begin image_missing_is_refused
run_zvd open "$T/none.img" 1
want_rc 1
want_err 'none.img: no such file'
end

finish

#!/bin/bash
# SPDX-License-Identifier: MIT
# zvd create and zvd info: defaults, options, refusals.
. "$(dirname "$0")/lib.sh"

IMG=$T/default.img

begin create_default
run_zvd create "$IMG"
want_rc 0
want_out "created .*default.img"
[ -f "$IMG" ] || fail_case "no image file"
end

begin info_default_text
run_zvd info "$IMG"
want_rc 0
want_out '^size: +4294967296'
want_out '^zones: +32 '
want_out '^zone size: +134217728'
want_out '^zone capacity: +130023424'
want_out '^block size: +4096'
want_out '^max open: +12'
want_out '^max active: +12'
want_out 'empty +32'
want_out 'virtual size'
end

begin info_default_json
if have_python; then
	run_zvd info "$IMG" --json
	want_rc 0
	json_check 'd["size"] == 4<<30 and d["zones"] == 32 and d["zone_size"] == 128<<20 and d["zone_capacity"] == 124<<20'
	json_check 'd["block_size"] == 4096 and d["max_open"] == 12 and d["max_active"] == 12 and d["max_append"] == 1<<20'
	json_check 'd["conditions"]["empty"] == 32 and sum(d["conditions"].values()) == 32'
	json_check 'd["open_zones"] == 0 and d["active_zones"] == 0'
	json_check 'd["space"]["virtual_size"] == 4<<30 and d["space"]["data_bytes"] == 0'
	json_check 'd["space"]["meta_bytes"] > 0 and d["space"]["backend_bytes"] > 0'
else
	skip_case "no python3"
fi
end

begin create_refuses_existing_image
cp "$IMG" "$T/copy.img"
run_zvd create "$IMG"
want_rc 1
want_err 'exist'
cmp -s "$IMG" "$T/copy.img" || fail_case "the existing image changed"
end

begin create_refuses_existing_file
echo "precious" >"$T/notes.txt"
run_zvd create "$T/notes.txt" --size 64M --zone-size 4M
want_rc 1
want_err 'exist'
[ "$(cat "$T/notes.txt")" = precious ] || fail_case "the file was overwritten"
end

begin create_zone_size_sets_capacity
run_zvd create "$T/zs.img" --size 256M --zone-size 16M
want_rc 0
run_zvd info "$T/zs.img" --json
if have_python; then
	json_check 'd["zone_size"] == 16<<20 and d["zone_capacity"] == 16<<20 and d["zones"] == 16'
fi
end

begin create_all_options
run_zvd create "$T/opts.img" --size 96M --zone-size 8M --zone-capacity 6M \
	--conventional-zones 2 --block-size 512 --max-open 3 --max-active 5 \
	--max-append 64K
want_rc 0
run_zvd info "$T/opts.img" --json
want_rc 0
if have_python; then
	json_check 'd["size"] == 96<<20 and d["zones"] == 12 and d["zone_size"] == 8<<20'
	json_check 'd["zone_capacity"] == 6<<20 and d["block_size"] == 512'
	json_check 'd["conventional_zones"] == 2 and d["sequential_zones"] == 10'
	json_check 'd["max_open"] == 3 and d["max_active"] == 5 and d["max_append"] == 64<<10'
	json_check 'd["conditions"]["not-write-pointer"] == 2 and d["conditions"]["empty"] == 10'
fi
end

# Each bad geometry is refused with the library's reason, and no file is
# left behind.
bad_geometry() {
	begin "$1"
	shift
	run_zvd create "$T/bad.img" "$@"
	want_rc 2
	want_err 'invalid geometry: .+'
	[ ! -e "$T/bad.img" ] || fail_case "a file was left behind"
	rm -f "$T/bad.img"
	end
}
bad_geometry create_rejects_capacity_over_zone_size --size 64M --zone-size 4M --zone-capacity 8M
bad_geometry create_rejects_block_size_1000 --size 64M --zone-size 4M --block-size 1000
bad_geometry create_rejects_partial_zone --size 66M --zone-size 4M
bad_geometry create_rejects_zero_capacity --size 64M --zone-size 4M --zone-capacity 0
bad_geometry create_rejects_all_conventional --size 64M --zone-size 4M --conventional-zones 16
bad_geometry create_rejects_open_over_active --size 64M --zone-size 4M --max-open 6 --max-active 4
bad_geometry create_rejects_unaligned_zone_size --size 64M --zone-size 4097 --block-size 4096

begin create_non_power_of_two_zones
run_zvd create "$T/np2.img" --size 120M --zone-size 12M --zone-capacity 10M \
	--max-open 4 --max-active 6
want_rc 0
run_zvd info "$T/np2.img"
want_rc 0
want_out '^zones: +10 '
end

begin create_missing_directory
run_zvd create "$T/no/such/dir/x.img" --size 64M --zone-size 4M
want_rc 1
want_err 'x.img: .*(no such|directory)'
end

begin info_missing_image
run_zvd info "$T/absent.img"
want_rc 1
want_err 'absent.img: no such file'
end

begin info_on_a_file_that_is_not_an_image
head -c 65536 /dev/urandom >"$T/random.bin"
run_zvd info "$T/random.bin"
want_rc 1
want_err 'random.bin: not a valid zvd image'
end

begin info_on_an_empty_file
: >"$T/empty.bin"
run_zvd info "$T/empty.bin"
want_rc 1
want_err 'empty.bin: not a valid zvd image'
end

begin inspecting_commands_change_nothing
sum_before=$(cksum <"$IMG")
run_zvd info "$IMG"
want_rc 0
run_zvd report "$IMG" --json
want_rc 0
run_zvd read "$IMG" --offset 0 --length 8K --output "$T/r.bin"
want_rc 0
run_zvd check "$IMG"
want_rc 0
[ "$(cksum <"$IMG")" = "$sum_before" ] || fail_case "the image changed"
end

finish

#!/bin/bash
# SPDX-License-Identifier: MIT
# zvd create --profile, zvd set --profile, zvd info: the zone-model
# profile is stored, shown, changed, and changes what the device does.
. "$(dirname "$0")/lib.sh"

IMG=$T/p.img
ZS=$((4 << 20))

begin create_default_profile_is_zns
small_image "$T/d.img" || fail_case "create failed"
run_zvd info "$T/d.img"
want_rc 0
want_out '^profile: +zns$'
end

begin create_null_blk
run_zvd create "$IMG" --size 64M --zone-size 4M --profile null_blk
want_rc 0
want_out 'profile null_blk'
run_zvd info "$IMG" --json
want_rc 0
have_python && json_check 'd["profile"] == "null_blk"'
end

begin create_unknown_profile
run_zvd create "$T/x.img" --size 64M --zone-size 4M --profile qemu
want_rc 2
want_err "'qemu' is not a profile"
[ ! -e "$T/x.img" ] || fail_case "a refused create left a file"
end

# Under null_blk, closing an open zone with nothing written empties it;
# under zns it is closed.
begin null_blk_close_unwritten_empties
must_zvd open "$IMG" 3
must_zvd close "$IMG" 3
have_python && [ "$(zone_field "$IMG" 3 cond)" = empty ] ||
	fail_case "zone 3 is $(zone_field "$IMG" 3 cond), not empty"
end

begin set_profile_zns
run_zvd set "$IMG" --profile zns
want_rc 0
want_out_is "$IMG: profile zns (was null_blk)"
run_zvd info "$IMG"
want_out '^profile: +zns$'
end

begin zns_close_unwritten_closes
must_zvd open "$IMG" 4
must_zvd close "$IMG" 4
have_python && [ "$(zone_field "$IMG" 4 cond)" = closed ] ||
	fail_case "zone 4 is $(zone_field "$IMG" 4 cond), not closed"
end

begin set_errors
run_zvd set "$IMG"
want_rc 2
want_err 'nothing to set'
run_zvd set "$IMG" --profile nope
want_rc 2
run_zvd set "$T/missing.img" --profile zns
want_rc 1
end

begin image_checks_clean
run_zvd check "$IMG"
want_rc 0
end

finish

#!/bin/bash
# SPDX-License-Identifier: MIT
# Volumes from the command line: create, write and read anywhere, info's
# log figures, snapshot / clone / rollback / flatten, gc, check, and the
# errors for options a volume does not take.
. "$(dirname "$0")/lib.sh"

V=$T/v.img
M=$((1 << 20))
make_data "$T/d1" $M
make_data "$T/d2" $((64 * 1024))

info_field() {
	"$ZVD" info "$1" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$2"
}

begin create_volume
run_zvd create "$V" --conventional --size 64M
want_rc 0
want_out "^created .*v.img: volume of 64 MiB"
run_zvd info "$V" --json
have_python && json_check "d['kind'] == 'volume' and d['size'] == 64 << 20 and d['space']['data_bytes'] == 0" "a new volume is not empty and thin"
run_zvd check "$V"
want_rc 0
end

begin volume_rejects_zone_options
run_zvd create "$T/bad.img" --conventional --size 64M --zone-size 4M
want_rc 2
want_err "only --size applies"
run_zvd create "$T/bad.img" --conventional --size 1000
want_rc 2
want_err "multiple of 4096"
[ ! -e "$T/bad.img" ] || fail_case "a refused create left a file"
end

begin write_anywhere_read_back
must_zvd write "$V" 0 --input "$T/d1" --offset $((7 * M + 512))
must_zvd write "$V" 0 --input "$T/d2" --offset $((7 * M + 8192))
run_zvd read "$V" --offset $((7 * M + 512)) --length $M --output "$T/r1"
want_rc 0
python3 - "$T/d1" "$T/d2" "$T/r1" <<'PY' || fail_case "read back differs from what was written"
import sys
a = bytearray(open(sys.argv[1], "rb").read())
b = open(sys.argv[2], "rb").read()
a[8192 - 512:8192 - 512 + len(b)] = b
sys.exit(0 if open(sys.argv[3], "rb").read() == bytes(a) else 1)
PY
run_zvd read "$V" --offset 0 --length 4096 --output "$T/z"
cmp -s "$T/z" <(head -c 4096 /dev/zero) || fail_case "a never-written block does not read as zeros"
end

begin zone_commands_refused
run_zvd reset "$V" 0
want_rc 1
run_zvd append "$V" 0 --input "$T/d2"
want_rc 1
end

begin snapshot_clone_rollback
must_zvd snapshot create "$V" s1
must_zvd write "$V" 0 --input "$T/d2" --offset $((7 * M + 512))
must_zvd clone "$V@s1" "$T/c.img"
"$ZVD" read "$T/c.img" --offset $((7 * M + 512)) --length $M >"$T/rc"
"$ZVD" read "$V@s1" --offset $((7 * M + 512)) --length $M >"$T/rs"
cmp -s "$T/rc" "$T/rs" || fail_case "the clone does not read as the snapshot"
run_zvd info "$T/c.img" --json
have_python && json_check "d['space']['data_bytes'] == 0 and d['backing']['snapshot'] == 's1'" "a new clone holds data of its own"
run_zvd snapshot delete "$V" s1
want_rc 1
want_err "clone"
must_zvd flatten "$T/c.img"
"$ZVD" read "$T/c.img" --offset $((7 * M + 512)) --length $M >"$T/rc2"
cmp -s "$T/rc" "$T/rc2" || fail_case "flatten changed what the clone reads"
must_zvd rollback "$V" s1
"$ZVD" read "$V" --offset $((7 * M + 512)) --length $M >"$T/rv"
cmp -s "$T/rv" "$T/rs" || fail_case "rollback did not restore the snapshot"
must_zvd snapshot delete "$V" s1
end

begin overwrites_collect_garbage
for i in $(seq 1 40); do
	"$ZVD" write "$V" 0 --input "$T/d2" --offset $(( (RANDOM % 32) * 64 * 1024 )) >/dev/null || fail_case "write $i"
done
must_zvd gc "$V"
run_zvd info "$V" --json
have_python && json_check "d['log']['write_amplification'] >= 1.0 and d['log']['user_bytes'] > 40 * 65536" "the log figures are wrong"
run_zvd info "$V"
want_out "write amp: +[0-9]+\.[0-9]+"
run_zvd check "$V"
want_rc 0
end

begin convert_raw_to_volume_and_back
head -c $((3 * M + 1000)) /dev/urandom >"$T/raw"
truncate -s $((40 * M)) "$T/raw"
make_data "$T/tailpart" $M
dd if="$T/tailpart" of="$T/raw" bs=1M seek=30 conv=notrunc status=none
must_zvd convert import "$T/raw" "$T/imp.img" --conventional --quiet
want_out "a volume of 41943040 bytes"
run_zvd info "$T/imp.img" --json
have_python && json_check "d['kind'] == 'volume' and d['log']['live_bytes'] <= 5 << 20" "the import is not thin"
must_zvd convert export "$T/imp.img" "$T/back.raw" --quiet
cmp -s "$T/raw" "$T/back.raw" || fail_case "raw -> volume -> raw changed the data"
run_zvd convert import "$T/raw" "$T/bad.img" --conventional --zone-size 4M
want_rc 2
end

finish

#!/bin/bash
# SPDX-License-Identifier: MIT
# A full host disk is a clear error, not a corrupt image: a volume and a
# zoned image on a small tmpfs are written until the file system is full.
# The command fails saying so, the image checks clean, what was written
# before is intact, and once space is freed the image takes writes again.
. "$(dirname "$0")/lib.sh"

M=$((1 << 20))
FS=$T/fs
mkdir -p "$FS"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=24m zvdfull "$FS" 2>/dev/null; then
	begin full_disk
	skip_case "needs root to mount a small tmpfs"
	end
	finish
fi
trap 'umount -l "$FS" 2>/dev/null; cleanup' EXIT

make_data "$T/first" $((2 * M))
make_data "$T/big" $((40 * M))

# $1: image, $2: zone to write in ("0" for a volume). Fills the disk.
fill_until_full() {
	run_zvd write "$1" "$2" --input "$T/big" --offset "$3"
	want_rc 1
	want_err "no space left on device"
}

begin volume_on_a_full_disk
must_zvd create "$FS/v.img" --conventional --size 64M
must_zvd write "$FS/v.img" 0 --input "$T/first" --offset 0
head -c $((6 * M)) /dev/zero >"$FS/filler" # the space to give back later
fill_until_full "$FS/v.img" 0 $((4 * M))
run_zvd check "$FS/v.img"
want_rc 0
"$ZVD" read "$FS/v.img" --offset 0 --length $((2 * M)) >"$T/back" 2>/dev/null
cmp -s "$T/back" "$T/first" || fail_case "data written before the disk filled changed"
# space comes back: the image takes writes again
rm -f "$FS/filler"
must_zvd write "$FS/v.img" 0 --input "$T/first" --offset $((8 * M))
"$ZVD" read "$FS/v.img" --offset $((8 * M)) --length $((2 * M)) >"$T/back2" 2>/dev/null
cmp -s "$T/back2" "$T/first" || fail_case "a write after space came back reads differently"
run_zvd check "$FS/v.img"
want_rc 0
rm -f "$FS/v.img"
end

begin zoned_image_on_a_full_disk
must_zvd create "$FS/z.img" --size 64M --zone-size 16M --max-open 0 --max-active 0
must_zvd write "$FS/z.img" 0 --input "$T/first"
head -c $((16 * M)) "$T/big" >"$T/zone"
for z in 1 2 3; do
	run_zvd write "$FS/z.img" $z --input "$T/zone"
	[ "$RC" = 0 ] || break
done
want_rc 1
want_err "no space left on device"
run_zvd check "$FS/z.img"
want_rc 0
"$ZVD" read "$FS/z.img" --offset 0 --length $((2 * M)) >"$T/back" 2>/dev/null
cmp -s "$T/back" "$T/first" || fail_case "data written before the disk filled changed"
end

finish

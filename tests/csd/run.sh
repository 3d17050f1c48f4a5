#!/bin/bash
# SPDX-License-Identifier: MIT
# zvd csd: build the example programs with clang and run them on a zoned
# image through the CLI (text and JSON), with arguments, grants, budgets,
# appends and hostile input; the conformance plugin mode.
. "$(dirname "$0")/../cli/lib.sh"

OBJ=$T/obj
IMG=$T/img
HAVE_CLANG=0
command -v clang >/dev/null 2>&1 && HAVE_CLANG=1

need_objs() {
	if [ "$HAVE_CLANG" = 0 ]; then
		skip_case "clang is not installed (scripts/deps.sh installs it)"
		return 1
	fi
	[ -f "$OBJ/count.o" ] || { fail_case "the examples were not built"; return 1; }
}

begin build_examples
if [ "$HAVE_CLANG" = 0 ]; then
	skip_case "clang is not installed (scripts/deps.sh installs it)"
elif ! make -s -C "$SRC_ROOT/examples/csd" OUT="$OBJ" >"$T/make.log" 2>&1; then
	fail_case "make -C examples/csd failed: $(head -c 300 "$T/make.log")"
fi
end

# Zone 1: 8192 little-endian u64 values 0..8191; zone 2: text.
begin setup_image
small_image "$IMG" --max-open 0 --max-active 0 || fail_case "create failed"
python3 -c 'import struct,sys; sys.stdout.buffer.write(b"".join(struct.pack("<q", i) for i in range(8192)))' >"$T/vals"
must_zvd write "$IMG" 1 --input "$T/vals"
printf 'the cat sat on the mat with another cat' >"$T/text"
must_zvd write "$IMG" 2 --input "$T/text" --pad
end

begin count_text
if need_objs; then
	run_zvd csd run "$IMG" "$OBJ/count.o" --zone 1 --arg op=lt --arg value=1000
	want_rc 0
	want_out '^r0: 1000 '
	want_out '^matched: 1000$'
	want_out '^values: 8192$'
	want_out '^cost: [0-9]+ instructions, [0-9]+ helper calls, 65536 bytes read, [0-9]+ bytes returned'
fi
end

begin count_json
if need_objs; then
	run_zvd csd run "$IMG" "$OBJ/count.o" --zone 1 --arg=op=ge --arg value=8000 --json
	want_rc 0
	json_check 'd["r0"] == 192 and d["results"]["matched"] == [192] and d["cost"]["bytes_read"] == 65536 and d["cost"]["instructions"] > 0 and d["cost"]["bytes_returned"] < 100'
fi
end

begin stats_and_histogram
if need_objs; then
	run_zvd csd run "$IMG" "$OBJ/stats.o" --zone 1 --json
	want_rc 0
	json_check 'd["results"]["sum"] == [8191 * 8192 // 2] and d["results"]["min"] == [0] and d["results"]["max"] == [8191]'
	run_zvd csd run "$IMG" "$OBJ/histogram.o" --zone 2 --json
	want_rc 0
	json_check 'd["results"]["bytes"] == [4096] and d["results"]["histogram"][ord("a")] == 5 and sum(d["results"]["histogram"]) == 4096'
fi
end

begin search_over_zones
if need_objs; then
	run_zvd csd run "$IMG" "$OBJ/search.o" --zone 2 --zones 0-3 --arg pattern=cat --json
	want_rc 0
	json_check 'd["results"]["matches"] == [2] and d["results"]["offsets"] == [8388608 + 4, 8388608 + 36]'
fi
end

begin zone_not_granted
if need_objs; then
	run_zvd csd run "$IMG" "$OBJ/count.o" --zone 1 --zones 2-3
	want_rc 2
	want_err 'not inside'
fi
end

begin budget_stops_the_run
if need_objs; then
	run_zvd csd run "$IMG" "$OBJ/histogram.o" --zone 1 --max-insns 1000
	want_rc 1
	want_err 'budget of 1000'
fi
end

begin append_needs_grant
cat >"$T/app.c" <<'SRC'
#include <zvd_bpf_helpers.h>
static char blk[4096] = "appended by a program";
ZVD_CSD_PROG zvd_u64 app(const struct zvd_csd_ctx *ctx)
{
	zvd_u64 where = 0;
	long rc = zvd_append(ctx->zone, blk, sizeof(blk), &where);
	return rc ? (zvd_u64)rc : where;
}
SRC
if need_objs; then
	clang -target bpf -O2 -I"$SRC_ROOT/include" -c "$T/app.c" -o "$T/app.o" ||
		fail_case "clang failed"
	run_zvd csd run "$IMG" "$T/app.o" --zone 3
	want_rc 1
	want_err 'not granted'
	run_zvd csd run "$IMG" "$T/app.o" --zone 3 --allow-append
	want_rc 0
	want_out '^r0: 12582912 '
	want_out '4096 bytes appended'
	run_zvd read "$IMG" --offset 12582912 --length 4096
	want_out 'appended by a program'
fi
end

begin hostile_object_files
head -c 4096 /dev/urandom >"$T/junk.o"
run_zvd csd run "$IMG" "$T/junk.o" --zone 1
want_rc 1
want_err 'not an ELF'
run_zvd csd run "$IMG" "$T/missing.o" --zone 1
want_rc 1
if need_objs; then
	head -c 600 "$OBJ/count.o" >"$T/cut.o"
	run_zvd csd run "$IMG" "$T/cut.o" --zone 1
	want_rc 1
fi
end

begin validate
if need_objs; then
	run_zvd csd validate "$OBJ/search.o"
	want_rc 0
	want_out 'valid, [0-9]+ instruction slots'
fi
end

begin usage_errors
run_zvd csd
want_rc 2
run_zvd csd frob
want_rc 2
want_err "unknown subcommand"
run_zvd csd run "$IMG" x.o
want_rc 2
want_err -- '--zone is required'
run_zvd csd run "$IMG" x.o --zone 1 --arg novalue
want_rc 2
want_err 'KEY=VALUE'
run_zvd csd run "$IMG" x.o --zone 1 --zones 3-2
want_rc 2
run_zvd csd --help
want_rc 0
want_out 'usage: zvd csd run'
end

# bpf_conformance plugin protocol: program hex on stdin, memory in argv.
begin conformance_plugin
# r0 = *(u32 *)(r1 + 2); exit
run_zvd csd conformance "00 11 22 33 44 55" <<<"61 10 02 00 00 00 00 00 95 00 00 00 00 00 00 00"
want_rc 0
want_out_is "55443322"
# r0 = -1 (mov); exit: printed as 64-bit hex
run_zvd csd conformance <<<"b7 00 00 00 ff ff ff ff 95 00 00 00 00 00 00 00"
want_rc 0
want_out_is "ffffffffffffffff"
# a load past the memory fails cleanly
run_zvd csd conformance "00" <<<"79 10 00 00 00 00 00 00 95 00 00 00 00 00 00 00"
want_rc 1
want_err 'outside'
# invalid program
run_zvd csd conformance <<<"05 00 ff 7f 00 00 00 00"
want_rc 1
run_zvd csd conformance <<<"zz"
want_rc 1
end

begin image_still_clean
run_zvd check "$IMG"
want_rc 0
end

finish

#!/bin/bash
# SPDX-License-Identifier: MIT
#
# lib.sh - helpers the VM test-bed tests source (not a test itself).
#
# A test writes a guest script and boots it once:
#   . "$(dirname "$0")/lib.sh"
#   vm_require || exit 0            # prints "skip" lines and exits if no VM
#   vm_run [RUNNER-OPTIONS] <<'GUEST'
#   . /host/tests/vm/guest.inc      # begin/ok/fail helpers in the guest
#   begin boot-modules; lsmod | grep -q null_blk || fail "no null_blk"; end
#   finish
#   GUEST
#   vm_finish
#
# The guest prints "ok NAME" / "not ok NAME: why" / "skip NAME # why"
# itself; vm_run passes them through and records a "not ok" of its own if
# the VM did not boot or the script died without reporting a failure.
# $ZVD_VM_TIMEOUT caps one boot (default 600 s).

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	exit 0
fi

VM_TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_ROOT=$(cd "$VM_TESTS_DIR/../.." && pwd)
ZVD_VM_RUNNER=$SRC_ROOT/scripts/vm/zvd-vm
VM_ANY_FAILED=0
VM_T=$(mktemp -d "${TMPDIR:-/tmp}/zvd-vmtest.XXXXXX") || exit 1
trap 'rm -rf "$VM_T"' EXIT

# Can this host boot the VM? Prints a skip line for $1 (the case names to
# skip, space separated) and returns 1 if not.
vm_require() {
	local why=
	if [ ! -x "$ZVD_VM_RUNNER" ]; then
		why="no $ZVD_VM_RUNNER"
	elif [ "$(id -u)" != 0 ] && ! command -v qemu-system-x86_64 >/dev/null; then
		why="qemu-system-x86_64 missing and not root to install it"
	elif ! "$ZVD_VM_RUNNER" --prepare >"$VM_T/prepare.log" 2>&1; then
		why="the VM cannot be prepared: $(tail -n 3 "$VM_T/prepare.log" | tr '\n' ' ')"
	fi
	[ -z "$why" ] && return 0
	local c
	for c in ${1:-vm}; do
		echo "skip $c # $why"
	done
	return 1
}

# Build the static guest helper programs (tests/vm/*.c) into $ZVD_BUILD.
vm_build_helpers() {
	local b=${ZVD_BUILD:-$SRC_ROOT/build} c out
	mkdir -p "$b/tests/vm"
	for c in "$VM_TESTS_DIR"/*.c; do
		[ -e "$c" ] || continue
		out=$b/tests/vm/$(basename "$c" .c)
		if [ ! -x "$out" ] || [ "$c" -nt "$out" ]; then
			${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -Werror -static \
				-o "$out" "$c" || return 1
		fi
	done
	# the guest sees the repository at /host
	VM_HELPERS=/host/${b#"$SRC_ROOT"/}/tests/vm
	export VM_HELPERS
}

# Boot the VM once and run the guest script read from stdin. Runner
# options ($@) go to scripts/vm/zvd-vm; the guest gets VM_HELPERS and
# the assignments in $VM_GUEST_VARS.
vm_run() {
	local rc out=$VM_T/out
	{
		echo "#!/bin/bash"
		echo "VM_HELPERS=${VM_HELPERS:-}"
		echo "export VM_HELPERS"
		# host-side settings for the guest: VM_GUEST_VARS="NAME=value ..."
		local v
		for v in ${VM_GUEST_VARS:-}; do
			printf '%s=%q\n' "${v%%=*}" "${v#*=}"
		done
		cat
	} >"$VM_T/guest.sh"
	chmod +x "$VM_T/guest.sh"
	mkdir -p "$VM_T/run"
	"$ZVD_VM_RUNNER" --run "$VM_T/guest.sh" --out "$VM_T/run" \
		--timeout "${ZVD_VM_TIMEOUT:-600}" "$@" >"$out" 2>&1
	rc=$?
	cat "$out"
	if [ "$rc" != 0 ] && ! grep -q '^not ok ' "$out"; then
		echo "not ok vm-run: the guest script exited $rc without a failed case"
	fi
	[ "$rc" = 0 ] || VM_ANY_FAILED=1
	grep -q '^not ok ' "$out" && VM_ANY_FAILED=1
	return 0
}

vm_finish() {
	exit $VM_ANY_FAILED
}

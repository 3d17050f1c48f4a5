#!/bin/bash
# SPDX-License-Identifier: MIT
#
# deps.sh - install the Debian packages zvd's build and tests need, if any
# is missing. Safe to run again: it installs nothing when all are present.
set -eu

need=()
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v make >/dev/null 2>&1 || need+=(make)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v cmp >/dev/null 2>&1 || need+=(diffutils)
# clang builds the eBPF example programs (-target bpf) and the libFuzzer
# targets (-fsanitize=fuzzer); llvm gives llvm-objdump for reading them
command -v clang >/dev/null 2>&1 || need+=(clang)
command -v llvm-objdump >/dev/null 2>&1 || need+=(llvm)
# liburing: the ublk server (src/ublk/) talks to the kernel through io_uring
[ -f /usr/include/liburing.h ] || need+=(liburing-dev)
# GnuTLS: TLS for the NBD server (src/nbd/nbd_tls.c); gnutls-bin gives
# certtool and psktool, which tests/nbd/tls.sh makes its keys with
[ -f /usr/include/gnutls/gnutls.h ] || need+=(libgnutls28-dev)
command -v certtool >/dev/null 2>&1 || need+=(gnutls-bin)
# qemu-img and qemu-io: the peer of bench/run-snap (qcow2 snapshots)
command -v qemu-img >/dev/null 2>&1 || need+=(qemu-utils)
# NBD clients that tests/nbd/ drives zvd serve --nbd with (nbdinfo and
# nbdcopy, fio's nbd engine), and nbdkit, the peer of the NBD benchmark
command -v nbdinfo >/dev/null 2>&1 || need+=(libnbd-bin)
command -v nbdkit >/dev/null 2>&1 || need+=(nbdkit)
command -v fio >/dev/null 2>&1 || need+=(fio)
# librados: the rados backend (lib/backend/rados.c); the Ceph daemons for
# the test cluster (scripts/ceph-test-cluster) and rbd for the benchmark
[ -f /usr/include/rados/librados.h ] || need+=(librados-dev)
command -v ceph-mon >/dev/null 2>&1 || need+=(ceph-mon)
command -v ceph-osd >/dev/null 2>&1 || need+=(ceph-osd)
command -v ceph >/dev/null 2>&1 || need+=(ceph-common ceph-base)
# the sanitizer runtimes come with gcc, but a trimmed install may lack them
if command -v gcc >/dev/null 2>&1; then
	ver=$(gcc -dumpversion | cut -d. -f1)
	for lib in libasan libubsan; do
		if ! gcc -print-file-name="$lib.so" | grep -q /; then
			need+=("libgcc-$ver-dev")
			break
		fi
	done
fi

[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "zvd: missing packages: ${need[*]} (run as root to install them)" >&2
	exit 1
fi
echo "zvd: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${need[@]}" >&2

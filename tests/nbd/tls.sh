#!/bin/bash
# SPDX-License-Identifier: MIT
# TLS (zvd serve --nbd --tls on|require with --tls-psk FILE or --tls-creds
# DIR): data round-trips over TLS with nbdinfo, nbdcopy and qemu-io, on a
# Unix socket and on TCP; with --tls require a plain client is refused
# while TLS clients keep being served; --tls on serves both; a wrong PSK,
# an unknown user, a certificate from another CA and a missing client
# certificate (--tls-verify-peer) fail cleanly; a raw client that
# misbehaves around STARTTLS (nbd_tls_raw.py) cannot hurt the server; bad
# TLS options are refused at start.
. "$(dirname "$0")/lib.sh"

RAW=$NBD_TESTS_DIR/nbd_tls_raw.py
IMG=$T/v.img
PSKDIR=$T/psk # qemu wants DIR/keys.psk
PKI=$T/pki    # the server's X.509 directory
CLI=$T/cli    # a client's: ca-cert.pem, client-cert.pem, client-key.pem
ROGUE=$T/rogue

# A hex key of $1 bytes.
hexkey() {
	od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

# certtool NAME.tmpl -> the key and certificate of NAME in $1, signed by
# the CA in $1 (or self-signed for the CA).
make_pki() {
	local d=$1 n
	mkdir -p "$d"
	printf 'cn = zvd test CA\nca\ncert_signing_key\nexpiration_days = 2\n' >"$d/ca.tmpl"
	printf 'cn = localhost\ndns_name = localhost\nip_address = 127.0.0.1\n%s\n' \
		'tls_www_server
signing_key
encryption_key
expiration_days = 2' >"$d/server.tmpl"
	printf 'cn = zvd test client\ntls_www_client\nsigning_key\nencryption_key\nexpiration_days = 2\n' \
		>"$d/client.tmpl"
	for n in ca server client; do
		certtool --generate-privkey --outfile "$d/$n-key.pem" >/dev/null 2>&1 || return 1
	done
	certtool --generate-self-signed --load-privkey "$d/ca-key.pem" \
		--template "$d/ca.tmpl" --outfile "$d/ca-cert.pem" >/dev/null 2>&1 || return 1
	for n in server client; do
		certtool --generate-certificate --load-privkey "$d/$n-key.pem" \
			--load-ca-certificate "$d/ca-cert.pem" --load-ca-privkey "$d/ca-key.pem" \
			--template "$d/$n.tmpl" --outfile "$d/$n-cert.pem" >/dev/null 2>&1 || return 1
	done
}

# The libnbd URI of the export over the Unix socket $1 with PSK user $2
# and key file $3.
psk_uri() {
	echo "nbds+unix://$2@/v.img?socket=$1&tls-psk-file=$3"
}

# qemu-io through TLS (60 s at most): $1 is the --object spec, $2 the
# server address (socket path or HOST:PORT), the rest qemu-io's commands.
qemu_tls() {
	local obj=$1 addr=$2 srv
	shift 2
	case $addr in
	/*) srv="server.type=unix,server.path=$addr" ;;
	*) srv="server.type=inet,server.host=${addr%:*},server.port=${addr##*:}" ;;
	esac
	timeout 60 qemu-io --object "$obj" --image-opts \
		"driver=nbd,$srv,export=v.img,tls-creds=tls0" "$@"
}

# must_start, but with SRV_PID unset when the server did not come up,
# so the cases using it skip their work.
tls_start() {
	must_start "$@" && return 0
	kill "$SRV_PID" 2>/dev/null
	unset SRV_PID
	return 1
}

# Fail the case unless the server is still running.
want_alive() {
	kill -0 "$SRV_PID" 2>/dev/null ||
		fail_case "the server died: $(tail -c 300 "$T/srv.err" | tr '\n' '|')"
}

# Run a client (a command, or qemu_tls) that must fail; fail the case if
# it succeeds.
must_fail() {
	local t=(timeout 30)
	[ "$(type -t "$1")" = function ] && t=()
	if "${t[@]}" "$@" >"$T/cout" 2>&1; then
		fail_case "'$*' succeeded"
		return 1
	fi
	return 0
}

make_volume "$IMG"
mkdir -p "$PSKDIR"
printf 'alice:%s\nbob:%s\n' "$(hexkey 32)" "$(hexkey 32)" >"$PSKDIR/keys.psk"
chmod 600 "$PSKDIR/keys.psk"
head -c $((3 << 20)) /dev/urandom >"$T/data"

# ---- PSK on the default Unix socket, TLS required ---------------------------

begin psk_nbdinfo
if requires nbdinfo && tls_start "$IMG" --tls require --tls-psk "$PSKDIR/keys.psk"; then
	case $SRV_URI in
	nbds+unix://*) ;;
	*) fail_case "printed URI is not nbds+unix: $SRV_URI" ;;
	esac
	U=$(psk_uri "$SRV_ADDR" alice "$PSKDIR/keys.psk")
	must timeout 30 nbdinfo "$U" && {
		grep -q 'with TLS' "$T/cout" || fail_case "nbdinfo did not use TLS: $(head -c 200 "$T/cout")"
	}
fi
end

begin psk_nbdcopy_round_trip
if requires nbdcopy && [ -n "${SRV_PID:-}" ]; then
	U=$(psk_uri "$SRV_ADDR" bob "$PSKDIR/keys.psk")
	must timeout 60 nbdcopy "$T/data" "$U" &&
		must timeout 60 nbdcopy "$U" "$T/back" &&
		{ cmp -s -n $((3 << 20)) "$T/data" "$T/back" ||
			fail_case "data read back over TLS differs"; }
fi
end

begin psk_qemu_io
if requires qemu-io && [ -n "${SRV_PID:-}" ]; then
	OBJ="tls-creds-psk,id=tls0,endpoint=client,dir=$PSKDIR,username=alice"
	must qemu_tls "$OBJ" "$SRV_ADDR" -c 'write -P 0x6b 8M 2M' -c flush &&
		must qemu_tls "$OBJ" "$SRV_ADDR" -c 'read -P 0x6b 8M 2M' &&
		{ ! grep -qi 'fail\|error' "$T/cout" || fail_case "$(head -c 300 "$T/cout")"; }
fi
end

begin require_refuses_plain_clients
if requires nbdinfo qemu-io && [ -n "${SRV_PID:-}" ]; then
	must_fail nbdinfo "nbd+unix:///v.img?socket=$SRV_ADDR"
	must_fail qemu-io -f raw -c 'read 0 4k' "nbd+unix:///v.img?socket=$SRV_ADDR"
	want_alive
	# and TLS clients are still served
	must timeout 30 nbdinfo --size "$(psk_uri "$SRV_ADDR" alice "$PSKDIR/keys.psk")"
fi
end

begin wrong_psk_fails
if requires nbdinfo && [ -n "${SRV_PID:-}" ]; then
	mkdir -p "$T/wrong"
	grep '^alice:' "$PSKDIR/keys.psk" | sed "s/:.*/:$(hexkey 32)/" >"$T/wrong/keys.psk"
	printf 'mallory:%s\n' "$(hexkey 32)" >"$T/wrong/mallory.psk"
	must_fail nbdinfo "$(psk_uri "$SRV_ADDR" alice "$T/wrong/keys.psk")"
	must_fail nbdinfo "$(psk_uri "$SRV_ADDR" mallory "$T/wrong/mallory.psk")"
	if command -v qemu-io >/dev/null; then
		must_fail qemu_tls "tls-creds-psk,id=tls0,endpoint=client,dir=$T/wrong,username=alice" \
			"$SRV_ADDR" -c 'read 0 4k'
	fi
	want_alive
	must timeout 30 nbdinfo --size "$(psk_uri "$SRV_ADDR" alice "$PSKDIR/keys.psk")"
fi
end

begin raw_client_around_starttls
if [ -n "${SRV_PID:-}" ]; then
	for sc in tls_reqd export_name_plain no_fixed_newstyle starttls_data \
		starttls_pipelined starttls_garbage starttls_nbd_instead \
		starttls_half_hello starttls_vanish; do
		python3 "$RAW" "$SRV_ADDR" v.img - "$sc" >"$T/raw.out" 2>&1
		grep -q "^ok $sc" "$T/raw.out" || fail_case "$(head -c 300 "$T/raw.out" | tr '\n' '|')"
	done
	want_alive
	requires nbdinfo &&
		must timeout 30 nbdinfo --size "$(psk_uri "$SRV_ADDR" alice "$PSKDIR/keys.psk")"
fi
end

begin psk_stop_clean
if [ -n "${SRV_PID:-}" ]; then
	stop_server
	[ "$SRV_RC" = 0 ] || fail_case "the server exited $SRV_RC: $(tail -c 300 "$T/srv.err")"
	run_zvd check "$IMG"
	want_rc 0
fi
unset SRV_PID
end

# ---- X.509 on TCP ----------------------------------------------------------

begin x509_setup
if requires certtool; then
	make_pki "$PKI" || fail_case "certtool failed"
	make_pki "$ROGUE" || fail_case "certtool failed"
	mkdir -p "$CLI" "$T/cli-nocert" "$T/cli-rogue"
	cp "$PKI/ca-cert.pem" "$PKI/client-cert.pem" "$PKI/client-key.pem" "$CLI/"
	cp "$PKI/ca-cert.pem" "$T/cli-nocert/"
	cp "$ROGUE/ca-cert.pem" "$ROGUE/client-cert.pem" "$ROGUE/client-key.pem" "$T/cli-rogue/"
fi
end
X509_OK=$([ -f "$CLI/client-key.pem" ] && echo 1 || echo 0)

begin x509_tls_on_serves_both
if [ "$X509_OK" = 1 ] && requires nbdinfo nbdcopy qemu-io &&
	tls_start "$IMG" --tcp 127.0.0.1:0 --tls on --tls-creds "$PKI"; then
	must timeout 60 nbdcopy "$T/data" "nbds://$SRV_ADDR/v.img?tls-certificates=$T/cli-nocert"
	must timeout 60 nbdcopy "nbd://$SRV_ADDR/v.img" "$T/back2" &&
		{ cmp -s -n $((3 << 20)) "$T/data" "$T/back2" ||
			fail_case "plain read of data written over TLS differs"; }
	must qemu_tls "tls-creds-x509,id=tls0,endpoint=client,dir=$T/cli-nocert" \
		"$SRV_ADDR" -c 'read -P 0x6b 8M 2M'
	must timeout 30 nbdinfo "nbds://$SRV_ADDR/v.img?tls-certificates=$T/cli-nocert"
	grep -q 'with TLS' "$T/cout" || fail_case "nbdinfo did not use TLS"
fi
end

begin x509_raw_state_and_starttls_twice
if [ "$X509_OK" = 1 ] && [ -n "${SRV_PID:-}" ]; then
	python3 "$RAW" "$SRV_ADDR" v.img "$PKI/ca-cert.pem" x509_starttls_twice \
		x509_plain_state_dropped >"$T/raw.out" 2>&1 ||
		fail_case "$(head -c 300 "$T/raw.out" | tr '\n' '|')"
	want_alive
fi
end

begin x509_other_ca_fails
if [ "$X509_OK" = 1 ] && [ -n "${SRV_PID:-}" ]; then
	must_fail nbdinfo "nbds://$SRV_ADDR/v.img?tls-certificates=$T/cli-rogue"
	must_fail qemu_tls "tls-creds-x509,id=tls0,endpoint=client,dir=$T/cli-rogue" \
		"$SRV_ADDR" -c 'read 0 4k'
	want_alive
	stop_server
	[ "$SRV_RC" = 0 ] || fail_case "the server exited $SRV_RC"
fi
unset SRV_PID
end

begin x509_verify_peer
if [ "$X509_OK" = 1 ] && requires nbdinfo qemu-io &&
	tls_start "$IMG" --tcp 127.0.0.1:0 --tls require --tls-creds "$PKI" --tls-verify-peer; then
	must timeout 30 nbdinfo --size "nbds://$SRV_ADDR/v.img?tls-certificates=$CLI"
	must qemu_tls "tls-creds-x509,id=tls0,endpoint=client,dir=$CLI" \
		"$SRV_ADDR" -c 'read -P 0x6b 8M 2M'
	# no client certificate, or one from another CA
	must_fail nbdinfo --size "nbds://$SRV_ADDR/v.img?tls-certificates=$T/cli-nocert"
	cp "$PKI/ca-cert.pem" "$T/cli-rogue/ca-cert.pem" # trusts the server ...
	must_fail nbdinfo --size "nbds://$SRV_ADDR/v.img?tls-certificates=$T/cli-rogue"
	must_fail nbdinfo --size "nbd://$SRV_ADDR/v.img"
	want_alive
	stop_server
	[ "$SRV_RC" = 0 ] || fail_case "the server exited $SRV_RC"
fi
unset SRV_PID
end

begin x509_on_unix_socket
if [ "$X509_OK" = 1 ] && requires nbdinfo &&
	tls_start "$IMG" --socket "$T/x.sock" --tls require --tls-creds "$PKI"; then
	# no host name on a Unix socket: the client checks the chain only
	must timeout 30 nbdinfo --size \
		"nbds+unix:///v.img?socket=$T/x.sock&tls-certificates=$T/cli-nocert&tls-hostname=localhost"
	stop_server
fi
unset SRV_PID
end

# ---- options ------------------------------------------------------------------

begin bad_tls_options
run_zvd serve --nbd "$IMG" --tls maybe --tls-psk "$PSKDIR/keys.psk"
want_rc 2
run_zvd serve --nbd "$IMG" --tls require
want_rc 2
want_err 'needs --tls-psk'
run_zvd serve --nbd "$IMG" --tls off --tls-psk "$PSKDIR/keys.psk"
want_rc 2
run_zvd serve --nbd "$IMG" --tls-psk "$PSKDIR/keys.psk" --tls-creds "$PKI"
want_rc 2
run_zvd serve --nbd "$IMG" --tls-psk "$PSKDIR/keys.psk" --tls-verify-peer
want_rc 2
printf 'alice:xyz\n' >"$T/bad.psk"
run_zvd serve --nbd "$IMG" --tls-psk "$T/bad.psk"
want_rc 1
want_err 'username:hexkey'
run_zvd serve --nbd "$IMG" --tls-psk "$T/no-such.psk"
want_rc 1
run_zvd serve --nbd "$IMG" --tls-creds "$T/no-such-dir"
want_rc 1
want_err 'server-cert.pem'
[ ! -e "$IMG.nbd.sock" ] || fail_case "a refused start left a socket"
end

begin psk_implies_require
if requires nbdinfo && tls_start "$IMG" --tls-psk "$PSKDIR/keys.psk"; then
	grep -q 'TLS (PSK) required' "$T/srv.err" || fail_case "$(cat "$T/srv.err")"
	must_fail nbdinfo "nbd+unix:///v.img?socket=$SRV_ADDR"
	stop_server
fi
unset SRV_PID
end

finish

#!/bin/bash
# SPDX-License-Identifier: MIT
#
# ublk_kill.sh (guest) - the ublk kill campaign: for each image kind in
# $KINDS (volume: a 64 MiB volume; zoned: 64 MiB in 16 zones of 4 MiB,
# no open or active limit), ublk_kill (tests/vm/ublk_kill.c) serves it with
# zvd serve --ublk, runs its verifying load on /dev/ublkbN, kill -9s the
# server at a random moment, restarts it with the same --id, runs zvd
# check and reads the device back against its model, $KILLS times; then
# stops the server with SIGTERM and checks the image once more. Set by the
# host: KILLS, KINDS, SEED (empty: random), ZVD_BIN (the zvd to serve
# with), MAXDELAY (ms of load before a kill, at most).
# the runner copies this script to /vmrun/run.sh; the repository is /host
. /host/tests/vm/guest/lib.sh

KILLS=${KILLS:-10}
[ -n "${SEED:-}" ] || SEED=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
ZVD_BIN=${ZVD_BIN:-/host/build/zvd}
echo "# seed $SEED, $KILLS kills per kind (ZVD_VM_SEED=$SEED repeats the load's choices)"

for kind in $(echo "${KINDS:-volume,zoned}" | tr , " "); do
	begin "${kind}_ublk_kill_campaign"
	IMG=$W/$kind.img
	if [ "$kind" = volume ]; then
		geo=(--conventional --size 64M)
	else
		geo=(--size 64M --zone-size 4M --max-open 0 --max-active 0)
	fi
	if ! out=$("$ZVD_BIN" create "$IMG" "${geo[@]}" 2>&1); then
		fail_case "zvd create ($kind): $out"
		end
		continue
	fi
	if [ ! -x "$VM_HELPERS/ublk_kill" ]; then
		fail_case "no $VM_HELPERS/ublk_kill"
		end
		continue
	fi
	"$VM_HELPERS/ublk_kill" --zvd "$ZVD_BIN" --image "$IMG" \
		--kills "$KILLS" --seed "$SEED" --threads 4 \
		--max-delay-ms "${MAXDELAY:-1500}" --queues 2 --depth 32 \
		--log "$W/$kind.serve.log" >"$W/k.out" 2>"$W/k.err"
	rc=$?
	grep '^# ' "$W/k.out"
	if [ $rc != 0 ] || ! grep -q '^RESULT ok$' "$W/k.out"; then
		fail_case "exit $rc: $(grep -v "^# $kind seed" "$W/k.out" | head -n 3 | tr '\n' '|') $(tail -n 2 "$W/k.err" | tr '\n' '|')"
		tail -n 5 "$W/$kind.serve.log" | sed 's/^/# serve: /'
	fi
	note "server starts: $(grep -c 'is live' "$W/$kind.serve.log"), dead devices removed: $(grep -c 'removing the dead ublk device' "$W/$kind.serve.log")"
	end
done
finish

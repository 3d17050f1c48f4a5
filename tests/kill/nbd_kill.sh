#!/bin/bash
# SPDX-License-Identifier: MIT
# The kill campaign (issue 6) for the NBD server on the host: kill -9
# 'zvd serve --nbd' at random moments under a verifying load of several
# connections with requests in flight (writes whose every sector says
# what it is, FUA writes, TRIM and WRITE_ZEROES on a volume, FLUSH every
# so often, one connection serial), restart it on the same image, run
# 'zvd check' and read everything back: no write acknowledged before an
# acknowledged FLUSH may be lost, no byte may be one nobody wrote, and
# on a volume what survives of the serial connection is a prefix of it.
# The model and the checks are in nbd_kill.py.
#
# A kill, unlike a power cut, keeps the page cache: on a zoned image's
# conventional zones, written in place, an acknowledged write is in the
# file whether flushed or not, so there the campaign checks that
# recovery after a kill loses no metadata and damages nothing; losing
# un-synced data is the power-cut tests' business (tests/crash). On a
# volume un-committed map records do die with the process, so a server
# that acknowledged FLUSH without committing fails here.
#
# Environment: ZVD_KILLS (kills per image kind, default 10: the quick
# form, about 15 s each; 100 or more is the long form), ZVD_KILL_SEED
# (default: random, printed), ZVD_KILL_KINDS (default "volume zoned"),
# ZVD_KILL_MAXDELAY (seconds of load before a kill, default 1.0).
. "$(dirname "$0")/../nbd/lib.sh"

KILL_PY=$(dirname "${BASH_SOURCE[0]}")/nbd_kill.py
KILLS=${ZVD_KILLS:-10}
SEED=${ZVD_KILL_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "# seed $SEED, $KILLS kills per kind (ZVD_KILL_SEED=$SEED to repeat)"

for kind in ${ZVD_KILL_KINDS:-volume zoned}; do
	begin "${kind}_kill_campaign"
	requires python3 || { end; continue; }
	IMG=$T/$kind.img
	if [ "$kind" = volume ]; then
		# 32 MiB: small enough that the load overwrites it many
		# times and the collector runs
		"$ZVD" create "$IMG" --conventional --size 32M >/dev/null
	else
		# 32 MiB of conventional zones (nbd_kill.py writes only
		# those) and one sequential zone
		"$ZVD" create "$IMG" --size 40M --zone-size 8M \
			--conventional-zones 4 --max-open 1 --max-active 1 >/dev/null
	fi
	if [ ! -f "$IMG" ]; then
		fail_case "could not create the image"
		end
		continue
	fi
	# stderr: the cycle under way, shown if the driver dies
	python3 "$KILL_PY" "$ZVD" "$IMG" "$kind" "$KILLS" "$SEED" \
		>"$T/k.out" 2>"$T/k.err"
	grep '^# ' "$T/k.out"
	if ! grep -q '^RESULT ok$' "$T/k.out"; then
		fail_case "$(grep -v '^# .* seed .*kills,' "$T/k.out" | head -3 | tr '\n' '|')"
		tail -n 5 "$T/k.err" | sed 's/^/# stderr: /'
	fi
	end
done

finish

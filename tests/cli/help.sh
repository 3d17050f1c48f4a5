#!/bin/bash
# SPDX-License-Identifier: MIT
# Help and version output, and that docs/zvd.1.md matches --help.
. "$(dirname "$0")/lib.sh"

MAN=$SRC_ROOT/docs/zvd.1.md
CMDS="create info report open close finish reset write append read check fail help"

begin version
run_zvd --version
want_rc 0
want_out '^zvd [0-9]+\.[0-9]+\.[0-9]+$'
end

begin help_overview
run_zvd help
want_rc 0
for c in $CMDS; do
	grep -q "zvd $c" "$T/out" || fail_case "overview does not list $c"
done
run_zvd --help
want_rc 0
end

begin help_each_command
for c in $CMDS; do
	run_zvd help "$c"
	want_rc 0
	want_out "^usage: zvd $c"
	cp "$T/out" "$T/help1"
	run_zvd "$c" --help
	want_rc 0
	cmp -s "$T/help1" "$T/out" || fail_case "'zvd help $c' and 'zvd $c --help' differ"
done
end

begin help_unknown_command
run_zvd help frob
want_rc 2
want_err "unknown command 'frob'"
end

begin man_page_synopses_match_help
if [ ! -f "$MAN" ]; then
	fail_case "no $MAN"
else
	for c in $CMDS; do
		syn=$("$ZVD" help "$c" | sed -n 's/^usage: //p')
		grep -qF -- "$syn" "$MAN" || fail_case "man page lacks: $syn"
	done
fi
end

begin man_page_documents_every_option
for c in $CMDS; do
	for o in $("$ZVD" help "$c" | grep -oE -- '--[a-z-]+' | sort -u); do
		grep -qF -- "**$o**" "$MAN" || fail_case "man page does not document $o ($c)"
	done
done
end

begin man_page_exit_codes
grep -q 'EXIT STATUS' "$MAN" || fail_case "no EXIT STATUS section"
end

finish

#!/bin/bash
# SPDX-License-Identifier: MIT
# Help of the image-management commands, and that docs/zvd.1.md has each
# synopsis and documents each option.
. "$(dirname "$0")/lib.sh"

MAN=$SRC_ROOT/docs/zvd.1.md
CMDS="snapshot rollback clone rebase flatten delete gc convert create info report read"

begin help_lists_commands
run_zvd help
want_rc 0
for c in $CMDS; do
	grep -q "zvd $c" "$T/out" || fail_case "overview does not list $c"
done
grep -q "__hold" "$T/out" && fail_case "the hidden test command is listed"
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

begin man_page_synopses
for c in $CMDS; do
	syn=$("$ZVD" help "$c" | sed -n 's/^usage: //p')
	grep -qF -- "$syn" "$MAN" || fail_case "man page lacks: $syn"
done
end

begin man_page_options
for c in $CMDS; do
	for o in $("$ZVD" help "$c" | grep -oE -- '--[a-z-]+' | sort -u); do
		grep -qF -- "**$o**" "$MAN" || fail_case "man page does not document $o ($c)"
	done
done
end

begin man_page_states_the_import_rule
grep -q "last non-zero" "$MAN" || fail_case "the import rule is not in the man page"
grep -q "zvd-ctl" "$MAN" || fail_case "the control socket is not in the man page"
end

finish

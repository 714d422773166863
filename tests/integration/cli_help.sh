#!/usr/bin/env bash
# cli_help.sh: issue 11, section 6: every command of the command table, and every
# sub-command, has its own help (`torwart CMD --help`, `torwart CMD SUB --help`), not the
# general one. The walk starts from the table itself (`torwart --commands`), and every
# sub-command name the command sources dispatch on must be in it.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-it-help-XXXXXX)
trap 'finish; exit $?' EXIT

"$TORWART" --help >"$T/general.txt"
check "general help" test -s "$T/general.txt"
"$TORWART" --commands >"$T/commands.txt"
check "the command table lists commands" test "$(grep -vc ' ' "$T/commands.txt")" -ge 10
while read -r cmd sub; do
	if [ -z "$sub" ]; then
		out=$("$TORWART" "$cmd" --help 2>&1); rc=$?
		want="usage: torwart $cmd"
		what="torwart $cmd --help"
	else
		out=$("$TORWART" "$cmd" "$sub" --help 2>&1); rc=$?
		want="usage: torwart $cmd $sub"
		what="torwart $cmd $sub --help"
		# The help of a sub-command is not the command's overview either.
		if [ "$out" = "$("$TORWART" "$cmd" --help)" ]; then bad "$what is the overview"; continue; fi
	fi
	echo "$out" >>"$T/log"
	if [ "$rc" = 0 ] && [ "$(printf '%s\n' "$out" | head -n 1 | cut -c1-${#want})" = "$want" ] &&
	   [ "$out" != "$(cat "$T/general.txt")" ]; then
		ok "$what"
	else
		bad "$what (exit $rc): $(printf '%s\n' "$out" | head -n 1)"
	fi
done <"$T/commands.txt"
# -h works like --help; an unknown sub-command gets the command's overview.
check "torwart ca issue -h" bash -c "'$TORWART' ca issue -h | head -n 1 | grep -q '^usage: torwart ca issue'"
check "torwart ca nosuch --help prints the ca overview" bash -c \
	"'$TORWART' ca nosuch --help | head -n 1 | grep -q '^usage: torwart ca register|'"
# Every sub-command the sources dispatch on is in the walked table.
if [ -d "$TORWART_SOURCE/src/cmd" ]; then
	for s in $(grep -ho 'strcmp(sub, "[a-z-]*")' "$TORWART_SOURCE"/src/cmd/cli_*.c | sed 's/.*"\(.*\)".*/\1/' | sort -u); do
		if grep -q " $s\$" "$T/commands.txt"; then ok "sub-command '$s' has help"; else bad "sub-command '$s' has no help entry"; fi
	done
else
	echo "skip - sources absent: no cross-check of the dispatched sub-commands"
fi

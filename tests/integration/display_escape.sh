#!/usr/bin/env bash
# display_escape.sh: issue 9, free text on display. Text that a gateway or an operator
# chose (a job's error and result, a gateway's address, an alarm message, a log entry)
# is shown escaped like reasons are (auth_text_escape): an ANSI sequence cannot hide a
# line and a newline cannot forge one ("params: ..."), in job show/list, gateway list
# and gateway logs --kind messages.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-esc-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT
WAN_PORT=$(free_port); API_PORT=$(free_port)
GW=SMGW-ESC-0001
db() { sqlite3 "$H/store.db" "$1"; }
C=$(sql_chr 27); N=$(sql_chr 10)

check "init" "$TORWART" init --home "$H" --test-pki --wan-listen "127.0.0.1:$WAN_PORT" \
	--api-listen "127.0.0.1:$API_PORT"
check "gateway add $GW" "$TORWART" gateway add --home "$H" --id "$GW"
check "job create" "$TORWART" job create --home "$H" --type ping --gateway "$GW"
ID=$(db "SELECT max(id) FROM jobs")
# What a gateway could have sent (or a store row holds): ESC sequences and newlines.
check "a job error with ESC and a newline" \
	db "UPDATE jobs SET error = 'boom' || $C || '[2K' || $N || 'params: forged' WHERE id = $ID"
check "a job result with ESC and a newline" \
	db "UPDATE jobs SET result = '{}' || $C || '[8m' || $N || 'state:     done' WHERE id = $ID"
check "a gateway address with ESC and a newline" \
	db "UPDATE gateways SET last_address = '10.0.0.1' || $C || '[1A' || $N || 'SMGW-FAKE active' WHERE gateway_id = '$GW'"
check "an alarm whose message holds ESC and a newline" \
	db "INSERT INTO gateway_messages (gateway_id, kind, type, severity, gateway_time, received_ms, message, actions) VALUES ('$GW', 'alarm', 'tamper', 'critical', '2026-12-01T00:00:00Z', 1, 'lid open' || $C || '[2K' || $N || '1 alarm ok', '')"

shows_escaped() { # what, file, forged line
	local what=$1 f=$2 forged=$3
	if grep -q $'\x1b' "$f"; then bad "$what: an ESC byte reached the terminal"
	elif grep -q "^$forged" "$f"; then bad "$what: a forged line '$forged'"
	elif ! grep -qF '\x1b[' "$f"; then bad "$what: the escape is not shown as \\x1b"
	else ok "$what: shown escaped, one line"; fi
}
"$TORWART" job show --home "$H" --id "$ID" >"$T/show" 2>&1
shows_escaped "job show (error)" "$T/show" "params: forged"
shows_escaped "job show (result)" "$T/show" "state:     done"
check "job show: the error's newline is \\x0a" grep -qF 'boom\x1b[2K\x0aparams: forged' "$T/show"
"$TORWART" job list --home "$H" >"$T/list" 2>&1
shows_escaped "job list" "$T/list" "params: forged"
"$TORWART" gateway list --home "$H" >"$T/gws" 2>&1
shows_escaped "gateway list" "$T/gws" "SMGW-FAKE"
"$TORWART" gateway logs --home "$H" --id "$GW" --kind messages >"$T/msgs" 2>&1
shows_escaped "gateway logs --kind messages (alarms)" "$T/msgs" "1 alarm ok"


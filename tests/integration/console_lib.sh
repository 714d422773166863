# console_lib.sh: the stack for the web console tests (sourced after lib.sh by
# console.sh and console_browser.sh). Makes a home with the operator listener and the
# console, a P-256 console certificate (torwart console tls), operators with P-256 keys
# for the browser, gateways in two
# tenants and an alarm whose message holds control characters.
#
# In: T (temporary directory), CONSOLE_TTL (seconds, [console] session_ttl), optionally a
# function console_conf_hook whose output is appended to torwart.conf after [console].
# Out: H (home), O (operator files), CON (https://127.0.0.1:PORT), CON_PORT, CON_CA
# (the console CA the client trusts), ALARM_ESC (id of the alarm with ESC in it).
H="$T/home"
O="$T/ops"
mkdir -p "$O"
SRC=${TORWART_SOURCE:?}
WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port); CON_PORT=$(free_port)
CON="https://127.0.0.1:$CON_PORT"
db() { sqlite3 "$H/store.db" "$1"; }

check "init" "$TORWART" init --home "$H" --test-pki --wan-listen "127.0.0.1:$WAN_PORT" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"

# The console's server certificate: ECDSA P-256 from `torwart console tls` (a one-time
# P-256 CA whose certificate the browser trusts; its key is discarded).
CON_CA="$H/pki/console-ca.crt"
check "torwart console tls --host 127.0.0.1" "$TORWART" console tls --home "$H" --host 127.0.0.1
printf '\n[auth]\nfleet_order_threshold = 1\n' >>"$H/torwart.conf"
# [console] last: a test may append keys to it.
printf '\n[console]\nlisten = 127.0.0.1:%s\nweb_dir = %s/web\nsession_ttl = %s\n' \
	"$CON_PORT" "$SRC" "${CONSOLE_TTL:-900}" >>"$H/torwart.conf"
# A test's own configuration (more [console] keys first, then sections), with CON known.
if declare -F console_conf_hook >/dev/null; then console_conf_hook >>"$H/torwart.conf"; fi

# Operators with P-256 keys (browser-capable), in two tenants, and an approver.
for spec in gwa:alpha:gateway-operator gwb:beta:gateway-operator \
	appr:alpha:approver ra:alpha:ra-officer aud:alpha:auditor; do
	IFS=: read -r name tenant roles <<<"$spec"
	printf 'password-of-%s-console\n' "$name" >"$O/$name.pw"
	check "operator $name ($roles, $tenant, P-256)" "$TORWART" operator add --home "$H" \
		--name "$name" --tenant "$tenant" --password-file "$O/$name.pw" --roles "$roles" \
		--out "$O/$name" --curve P-256
done
for g in GW-A1 GW-A2 GW-B1; do
	check "gateway $g" "$TORWART" gateway add --home "$H" --id "$g" --out "$T/$g"
done
check "alpha: GW-A1, GW-A2 tagged shared" "$TORWART" gateway set --home "$H" \
	--gateways GW-A1,GW-A2 --move-tenant alpha --add-tag shared
check "beta: GW-B1" "$TORWART" gateway set --home "$H" --gateway GW-B1 --move-tenant beta
C=$(sql_chr 27); N=$(sql_chr 10)
check "an alarm of GW-A1 whose message holds ESC and a newline" \
	db "INSERT INTO gateway_messages (gateway_id, kind, type, severity, gateway_time, received_ms, message, actions) VALUES ('GW-A1', 'alarm', 'tamper', 'critical', '2026-12-01T00:00:00Z', 1, 'lid open' || $C || '[2K' || $N || 'forged line', '')"
ALARM_ESC=$(db "SELECT id FROM gateway_messages WHERE gateway_id='GW-A1' AND kind='alarm'")
check "an alarm of GW-B1 (tenant beta)" \
	db "INSERT INTO gateway_messages (gateway_id, kind, type, severity, gateway_time, received_ms, message, actions) VALUES ('GW-B1', 'alarm', 'power-failure', 'major', '2026-12-01T00:00:00Z', 2, 'beta only', '')"

"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "console listens" wait_port 127.0.0.1 "$CON_PORT" 30
check "wan listens" wait_port 127.0.0.1 "$WAN_PORT" 30

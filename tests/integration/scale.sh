#!/usr/bin/env bash
# scale.sh: issue 10 (scale-out) end to end with real daemons.
# - One store URL: with `url = sqlite:store.db` every process (CLI, signer, wan, api,
#   worker) works on HOME/store.db: the gateway the CLI registers is served by wan, and
#   the audit entries of every process land in one hash chain.
# - Two wan instances (separate homes and ports, one store): an order is handed out
#   exactly once even when the gateway holds a session on each at the same time.
# - The worker verifies the admin log incrementally and remembers where it got to.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-scale-XXXXXX)
H="$T/home"
H2="$T/home2"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port); WAN2_PORT=$(free_port)
WU_PORT=$((20000 + RANDOM % 30000))
count_log() { sqlite3 "$H/store.db" "SELECT count(*) FROM admin_log WHERE $1"; }
state_of() { "$TORWART" job show --home "$H" --id "$1" | sed -n 's/^state: *//p'; }

check "torwart init --test-pki" "$TORWART" init --home "$H" --test-pki \
	--wan-listen "127.0.0.1:$WAN_PORT" --api-listen "127.0.0.1:$API_PORT" \
	--api-tls-listen "127.0.0.1:$(free_port)"
# The spelling that used to split the processes over two files.
sed -i 's|^url = store.db$|url = sqlite:store.db|' "$H/torwart.conf"
sed -i "s/^audit_verify_interval = .*/audit_verify_interval = 1/" "$H/torwart.conf"
printf '\n[worker]\njob_tick_ms = 50\n' >>"$H/torwart.conf"
check "torwart.conf says url = sqlite:store.db" grep -qx 'url = sqlite:store.db' "$H/torwart.conf"
"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "torwartd all starts" wait_port 127.0.0.1 "$WAN_PORT" 20
check "gateway add GW-1 (CLI)" "$TORWART" gateway add --home "$H" --id GW-1
check "gateway add GW-2 (CLI)" "$TORWART" gateway add --home "$H" --id GW-2
check "GW-2 gets a wake-up address (the worker will wake it)" "$TORWART" gateway set \
	--home "$H" --gateway GW-2 --wakeup "127.0.0.1:$WU_PORT"
check "the api answers /health from the same store" \
	bash -c "curl -fsS http://127.0.0.1:$API_PORT/health | grep -q ok"

# ---- a second wan: its own home, configuration and port; the same database file
mkdir -p "$H2/run"
# wan 2 signs its handshakes through the home's signer (docs/security.md, "TLS keys in the
# signer").
sed -e "s|^listen = 127.0.0.1:$WAN_PORT\$|listen = 127.0.0.1:$WAN2_PORT|" \
	-e "s|^socket = run/signer.sock\$|socket = $H/run/signer.sock|" \
	-e "s|^url = sqlite:store.db\$|url = sqlite:$H/store.db|" "$H/torwart.conf" >"$H2/torwart.conf"
ln -s "$H/pki" "$H2/pki"
"$TORWARTD" --home "$H2" wan >>"$T/wan2.log" 2>&1 &
pids_to_kill+=("$!")
check "a second wan instance starts on the same store" wait_port 127.0.0.1 "$WAN2_PORT" 20

G1="$H/gateways/GW-1"
C1="--cacert $G1/root-ca.crt --cert $G1/tls.crt --key $G1/tls.key --curves brainpoolP256r1 --tlsv1.2 --tls-max 1.2 -sS -H Content-Type:application/json"
session() { printf '{"gateway_id":"GW-1","firmware_version":"1.0","time":"%s"}' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"; }
# One TLS connection: open a session, ask for the next order (prints the answer).
fetch() { # port
	curl $C1 -o /dev/null -d "$(session)" "https://localhost:$1/v1/session" --next $C1 \
		"https://localhost:$1/v1/orders" 2>>"$T/log"
}
check "the gateway registered by the CLI opens a session on wan 1" \
	bash -c "curl $C1 -fo /dev/null -d '$(session)' https://localhost:$WAN_PORT/v1/session"
check "... and on wan 2" \
	bash -c "curl $C1 -fo /dev/null -d '$(session)' https://localhost:$WAN2_PORT/v1/session"

# ---- exactly once: both sessions ask at the same moment, then one after the other
for round in 1 2 3; do
	id=$("$TORWART" job create --home "$H" --type ping --gateway GW-1 --timeout 600 |
		sed -n 's/^job \([0-9]*\).*/\1/p')
	fetch "$WAN_PORT" >"$T/a$round" &
	pa=$!
	fetch "$WAN2_PORT" >"$T/b$round" &
	pb=$!
	wait "$pa" "$pb"
	got=$(cat "$T/a$round" "$T/b$round" | grep -o "\"id\":\"$id\"" | wc -l)
	check "round $round: order $id handed to exactly one of the two sessions ($got)" test "$got" = 1
	check "round $round: one job.sent entry for order $id" \
		test "$(count_log "action='job.sent' AND object='job:$id'")" = 1
	from=$(grep -l "\"id\":\"$id\"" "$T/a$round" >/dev/null && echo "$WAN_PORT" || echo "$WAN2_PORT")
	other=$([ "$from" = "$WAN_PORT" ] && echo "$WAN2_PORT" || echo "$WAN_PORT")
	fetch "$other" >"$T/c$round"
	check "round $round: a later session on the other wan gets no order (still pending)" \
		grep -q '^{"orders":\[\],"pending_orders":1}$' "$T/c$round"
	out=$(curl $C1 -o /dev/null -d "$(session)" "https://localhost:$from/v1/session" --next $C1 \
		-o /dev/null -w '%{http_code}' -d '{"status":"ok","result":{}}' \
		"https://localhost:$from/v1/orders/$id/result" 2>>"$T/log")
	check "round $round: the result is accepted ($out)" test "$out" = 200
	check "round $round: order $id is done" test "$(state_of "$id")" = done
done
check "no result was refused as done" test "$(count_log "action='wan.refuse' AND detail LIKE '%is done%'")" = 0

# ---- batched results: a refused result (the order type's check fails) rolls its batch
# back and every request of it runs alone; the good result sent at the same moment is kept
G2="$H/gateways/GW-2"
C2="--cacert $G2/root-ca.crt --cert $G2/tls.crt --key $G2/tls.key --curves brainpoolP256r1 --tlsv1.2 --tls-max 1.2 -sS -H Content-Type:application/json"
session2() { printf '{"gateway_id":"GW-2","firmware_version":"1.0","time":"%s"}' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"; }
ida=$("$TORWART" job create --home "$H" --type ping --payload '{"echo":"a"}' --gateway GW-1 --timeout 600 | sed -n 's/^job \([0-9]*\).*/\1/p')
idb=$("$TORWART" job create --home "$H" --type ping --payload '{"echo":"b"}' --gateway GW-2 --timeout 600 | sed -n 's/^job \([0-9]*\).*/\1/p')
fetch "$WAN_PORT" >"$T/ga"
curl $C2 -o /dev/null -d "$(session2)" "https://localhost:$WAN_PORT/v1/session" --next $C2 \
	"https://localhost:$WAN_PORT/v1/orders" >"$T/gb" 2>>"$T/log"
check "both orders handed out" bash -c "grep -q '\"id\":\"$ida\"' '$T/ga' && grep -q '\"id\":\"$idb\"' '$T/gb'"
curl $C1 -o /dev/null -d "$(session)" "https://localhost:$WAN_PORT/v1/session" --next $C1 \
	-o /dev/null -w '%{http_code}' -d '{"status":"ok","result":{"echo":"a"}}' \
	"https://localhost:$WAN_PORT/v1/orders/$ida/result" >"$T/ra" 2>>"$T/log" &
pa=$!
curl $C2 -o /dev/null -d "$(session2)" "https://localhost:$WAN_PORT/v1/session" --next $C2 \
	-o /dev/null -w '%{http_code}' -d '{"status":"ok","result":{"echo":"wrong"}}' \
	"https://localhost:$WAN_PORT/v1/orders/$idb/result" >"$T/rb" 2>>"$T/log" &
pb=$!
wait "$pa" "$pb"
check "the good result is accepted ($(cat "$T/ra"))" test "$(cat "$T/ra")" = 200
check "the refused result gets 422 ($(cat "$T/rb"))" test "$(cat "$T/rb")" = 422
check "order $ida is done" test "$(state_of "$ida")" = done
check "order $idb failed with the reason" bash -c "'$TORWART' job show --home '$H' --id $idb | grep -q 'result refused: ping result does not echo'"
check "one job.done and one job.failed entry" bash -c \
	"[ \$(sqlite3 '$H/store.db' \"SELECT count(*) FROM admin_log WHERE (action='job.done' AND object='job:$ida') OR (action='job.failed' AND object='job:$idb')\") = 2 ]"

# ---- the worker (wake-up for GW-2) writes into the same chain
id2=$("$TORWART" job create --home "$H" --type ping --gateway GW-2 | sed -n 's/^job \([0-9]*\).*/\1/p')
for _ in $(seq 1 100); do
	[ "$(count_log "action='job.wakeup' AND object='job:$id2'")" -ge 1 ] && break; sleep 0.2
done
sleep 0.5   # wan writes its contacts in batches
check "no second store file was created" bash -c "! ls '$H' | grep -q '^sqlite:'"
check "CLI entries are in the chain (gateway.add)" test "$(count_log "action='gateway.add'")" -ge 2
check "signer entries are in the chain (signer.sign)" test "$(count_log "action LIKE 'signer.%'")" -ge 2
check "wan 1 and wan 2 entries are in the chain (wan.session.open)" \
	test "$(count_log "action='wan.session.open'")" -ge 8
check "worker entries are in the chain (job.waking / job.wakeup)" \
	test "$(count_log "action IN ('job.waking','job.wakeup') AND object='job:$id2'")" -ge 2
check "the one chain verifies" "$TORWART" audit verify --home "$H"

# ---- the simulator daemon resumes TLS sessions on later contacts (it used to free the
# context, and with it its cached sessions, after each visit, so no contact resumed)
timeout 8 "$SIM" --home "$H" --count 1 --contact-interval 1 --resume --stats "$T/sim.stats" \
	>>"$T/log" 2>&1
check "simulator daemon: later contacts resumed ($(cat "$T/sim.stats" 2>/dev/null))" \
	/usr/bin/python3 -c "import json;s=json.load(open('$T/sim.stats'));assert s['sessions_ok']>=2 and s['resumed']>=1"

# ---- the wan answered through its batches (figures logged when its threads stop)
for p in "${pids_to_kill[1]}" "${pids_to_kill[0]}"; do
	kill -TERM "$p"
	for _ in $(seq 1 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
done
check "wan 2 reports its order batches at stop" grep -q 'order requests in [0-9]* batch transactions' "$T/wan2.log"
check "the refused result made wan 1 run a batch request by request" bash -c \
	"grep -o 'batch transactions, [0-9]* batches run request by request' '$T/torwartd.log' | grep -vq ', 0 batches'"

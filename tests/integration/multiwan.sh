#!/usr/bin/env bash
# multiwan.sh: issue 10 section 3, several wan hosts on ONE PostgreSQL database.
# - Two wan instances (separate homes, configuration files and ports; one database) serve
#   one fleet: an order is handed out exactly once even when one gateway holds a session on
#   each instance at the same moment (no result refused as "order N is done").
# - wan 2 logs in as a restricted role (torwart_wan, the grants of docs/operations.md).
# - Contacts, job transitions and admin-log entries appended concurrently by both wan
#   instances, the worker and the CLI form one hash chain and one Merkle tree with no gap
#   and no fork (`torwart audit verify` passes afterwards; the chain links are checked
#   independently in SQL).
# Backend: this deployment only exists on PostgreSQL (several hosts cannot share an
# SQLite file), so the script always runs against PostgreSQL: it sets
# TORWART_TEST_STORE=pg itself and lib.sh starts a throw-away server even in the plain
# suite. It is therefore listed in pg_skip (the pg suite would only run it twice).
# The SQLite variant of the exactly-once check (two wan processes on one file) is scale.sh.
# Exit 77 (skipped) when the PostgreSQL server binaries are not installed.
export TORWART_TEST_STORE=pg
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-multiwan-XXXXXX)
H="$T/home"
H2="$T/home2"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port); WAN2_PORT=$(free_port)
WU_PORT=$((20000 + RANDOM % 30000))
q() { sqlite3 "$H/store.db" "$1"; }   # lib.sh: psql on the home's database
count_log() { q "SELECT count(*) FROM admin_log WHERE $1"; }
state_of() { "$TORWART" job show --home "$H" --id "$1" | sed -n 's/^state: *//p'; }

check "torwart init --test-pki (PostgreSQL store)" "$TORWART" init --home "$H" --test-pki \
	--wan-listen "127.0.0.1:$WAN_PORT" --api-listen "127.0.0.1:$API_PORT" \
	--api-tls-listen "127.0.0.1:$(free_port)"
check "torwart.conf names a postgresql:// store" grep -q '^url = postgresql://' "$H/torwart.conf"
sed -i "s/^audit_verify_interval = .*/audit_verify_interval = 1/" "$H/torwart.conf"
printf '\n[worker]\njob_tick_ms = 50\n' >>"$H/torwart.conf"
"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "torwartd all starts (signer, wan 1, api, worker)" wait_port 127.0.0.1 "$WAN_PORT" 30

# ---- the fleet: GW-1..GW-8 visit both wan instances; GW-W has a wake-up address nobody
# answers, so the worker keeps appending wake-up entries while the wan instances work
NGW=8
for i in $(seq 1 $NGW); do "$TORWART" gateway add --home "$H" --id "GW-$i" >>"$T/log" 2>&1; done
check "$NGW gateways registered" test "$(q "SELECT count(*) FROM gateways")" -ge $NGW
check "gateway add GW-W" "$TORWART" gateway add --home "$H" --id GW-W
check "GW-W gets a wake-up address" "$TORWART" gateway set --home "$H" --gateway GW-W \
	--wakeup "127.0.0.1:$WU_PORT"

# ---- a second wan: its own home, configuration and port; the same database URL
mkdir -p "$H2/run"
# wan 2 signs its handshakes through the signer of the database host (docs/operations.md,
# "Several wan hosts on one database"; over a Unix socket here, one machine).
sed -e "s|^listen = 127.0.0.1:$WAN_PORT\$|listen = 127.0.0.1:$WAN2_PORT|" \
	-e "s|^socket = run/signer.sock\$|socket = $H/run/signer.sock|" \
	"$H/torwart.conf" >"$H2/torwart.conf"
ln -s "$H/pki" "$H2/pki"
# wan 2 logs in as a restricted role (docs/operations.md, "Several wan hosts on one
# database"): no UPDATE/DELETE on the admin log and its tree, signed heads read-only, no
# access to operator secrets, sessions, approvals or the CA's key state.
URL=$(sed -n 's/^url = //p' "$H/torwart.conf")
check "a restricted database role for wan 2 (torwart_wan)" psql -X -q -v ON_ERROR_STOP=1 "$URL" -c "
CREATE ROLE torwart_wan LOGIN;
GRANT USAGE ON SCHEMA public TO torwart_wan;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO torwart_wan;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO torwart_wan;
REVOKE UPDATE, DELETE, TRUNCATE ON admin_log, admin_log_node FROM torwart_wan;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON admin_log_head, admin_log_cut, admin_log_cursor,
	admin_log_verified FROM torwart_wan;
REVOKE ALL ON operators, auth_sessions, auth_failures, approvals, ca_key_state, ca_requests,
	ca_participants FROM torwart_wan;"
WURL=${URL/postgresql:\/\/torwart@/postgresql:\/\/torwart_wan@}
check_fails "torwart_wan cannot rewrite the admin log (privilege, not only the trigger)" \
	psql -X -q -v ON_ERROR_STOP=1 "$WURL" -c "ALTER TABLE admin_log DISABLE TRIGGER USER"
check_fails "torwart_wan cannot delete admin-log tree nodes" \
	psql -X -q -v ON_ERROR_STOP=1 "$WURL" -c "DELETE FROM admin_log_node"
check_fails "torwart_wan cannot read operator secrets" \
	psql -X -q -v ON_ERROR_STOP=1 "$WURL" -c "SELECT secret FROM operators"
sed -i "s|^url = postgresql://torwart@|url = postgresql://torwart_wan@|" "$H2/torwart.conf"
check "wan 2 has its own port and the same database as torwart_wan" bash -c \
	"grep -q '^listen = 127.0.0.1:$WAN2_PORT\$' '$H2/torwart.conf' &&
	 grep -qxF 'url = $WURL' '$H2/torwart.conf'"
"$TORWARTD" --home "$H2" wan >>"$T/wan2.log" 2>&1 &
pids_to_kill+=("$!")
check "a second wan instance starts on the same database" wait_port 127.0.0.1 "$WAN2_PORT" 30

G1="$H/gateways/GW-1"
C1="--cacert $G1/root-ca.crt --cert $G1/tls.crt --key $G1/tls.key --curves brainpoolP256r1 --tlsv1.2 --tls-max 1.2 -sS -H Content-Type:application/json"
session() { printf '{"gateway_id":"GW-1","firmware_version":"1.0","time":"%s"}' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"; }
fetch() { # port: one TLS connection, open a session, ask for the next order
	curl $C1 -o /dev/null -d "$(session)" "https://localhost:$1/v1/session" --next $C1 \
		"https://localhost:$1/v1/orders" 2>>"$T/log"
}

# ---- exactly once: one gateway's two sessions (one per wan) ask at the same moment
for round in 1 2 3 4; do
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
	from=$(grep -q "\"id\":\"$id\"" "$T/a$round" && echo "$WAN_PORT" || echo "$WAN2_PORT")
	other=$([ "$from" = "$WAN_PORT" ] && echo "$WAN2_PORT" || echo "$WAN_PORT")
	fetch "$other" >"$T/c$round"
	check "round $round: a later session on the other wan gets no order (still pending)" \
		grep -q '^{"orders":\[\],"pending_orders":1}$' "$T/c$round"
	# The last round: another order is open when the result arrives; the result's answer
	# counts it (read after the batch's commit, so the gateway asks for it in this visit;
	# the simulated fleet below completes it).
	[ "$round" != 4 ] || "$TORWART" job create --home "$H" --type ping --gateway GW-1 \
		--timeout 600 >>"$T/log" 2>&1
	out=$(curl $C1 -o /dev/null -d "$(session)" "https://localhost:$from/v1/session" --next $C1 \
		-o "$T/r$round" -w '%{http_code}' -d '{"status":"ok","result":{}}' \
		"https://localhost:$from/v1/orders/$id/result" 2>>"$T/log")
	check "round $round: the result is accepted ($out)" test "$out" = 200
	check "round $round: order $id is done" test "$(state_of "$id")" = done
	check "round $round: the result's answer counts the open orders ($(cat "$T/r$round"))" \
		grep -q "^{\"pending_orders\":$([ "$round" = 4 ] && echo 1 || echo 0)}\$" "$T/r$round"
done

# ---- concurrent appends: both wan instances (simulated fleet, 2 orders per gateway, each
# gateway visiting both instances at once), the worker (wake-ups for GW-W) and the CLI
first=$(q "SELECT coalesce(max(seq),0) FROM admin_log")
"$TORWART" job create --home "$H" --type ping --gateways all --timeout 600 >>"$T/log" 2>&1
"$TORWART" job create --home "$H" --type ping --gateways all --timeout 600 >>"$T/log" 2>&1
"$SIM" --home "$H" --count $NGW --gwa "127.0.0.1:$WAN_PORT" --rounds 6 --concurrency 8 \
	--quiet >"$T/sim1.out" 2>&1 &
s1=$!
"$SIM" --home "$H" --count $NGW --gwa "127.0.0.1:$WAN2_PORT" --rounds 6 --concurrency 8 \
	--quiet >"$T/sim2.out" 2>&1 &
s2=$!
for i in $(seq 1 10); do "$TORWART" gateway set --home "$H" --gateway GW-W --add-tag "t$i" >>"$T/log" 2>&1; done
wait "$s1"; r1=$?
wait "$s2"; r2=$?
cat "$T/sim1.out" "$T/sim2.out" >>"$T/log"
check "simulated fleet on wan 1: every session succeeded ($(tail -n1 "$T/sim1.out"))" test "$r1" = 0
check "simulated fleet on wan 2: every session succeeded ($(tail -n1 "$T/sim2.out"))" test "$r2" = 0
sleep 1   # the wan instances write their contacts in batches
check "every order of GW-1..GW-$NGW is done" test \
	"$(q "SELECT count(*) FROM jobs WHERE gateway_id <> 'GW-W' AND state <> 'done'")" = 0
check "no order was handed out twice (one job.sent per job)" test \
	"$(q "SELECT count(*) FROM (SELECT object FROM admin_log WHERE action='job.sent' GROUP BY object HAVING count(*) > 1) d")" = 0
check "no result was refused as done" test "$(count_log "action='wan.refuse' AND detail LIKE '%is done%'")" = 0
check "both wan instances served orders (wan 2's batches)" bash -c \
	"kill -TERM ${pids_to_kill[1]}; for _ in \$(seq 1 150); do kill -0 ${pids_to_kill[1]} 2>/dev/null || break; sleep 0.1; done
	 grep -q 'order requests in [1-9][0-9]* batch transactions' '$T/wan2.log'"
check "wan 2 (torwart_wan) hit no permission error" bash -c "! grep -qi 'permission denied' '$T/wan2.log'"
check "wan entries were appended during the run (wan.session.open)" \
	test "$(count_log "action='wan.session.open' AND seq > $first")" -ge $((2 * NGW * 6))
check "worker entries were appended during the run (job.waking/job.wakeup)" \
	test "$(count_log "action IN ('job.waking','job.wakeup','job.wakeup.failed') AND seq > $first")" -ge 1
check "CLI entries were appended during the run (gateway tags)" \
	test "$(count_log "actor <> '' AND action LIKE 'gateway.%' AND seq > $first")" -ge 1
check "the chain has no gap: seq runs 1..count" \
	test "$(q "SELECT count(*) = max(seq) AND min(seq) = 1 FROM admin_log")" = t
check "the chain has no fork: every entry links to its predecessor's hash" test \
	"$(q "SELECT count(*) FROM admin_log a JOIN admin_log b ON b.seq = a.seq + 1 WHERE b.prev_hash <> a.hash")" = 0
check "no two entries share a predecessor" test \
	"$(q "SELECT count(*) - count(DISTINCT prev_hash) FROM admin_log")" = 0
check "torwart audit verify: one chain, one Merkle tree, signed heads" "$TORWART" audit verify --home "$H"

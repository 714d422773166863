#!/usr/bin/env bash
# outage.sh: every service survives the database being unavailable (issue 10, faults).
# PostgreSQL suite (TORWART_TEST_STORE=pg): the real server the tests started is stopped
#   with `pg_ctl stop -m immediate` (a crash: no goodbye to the clients) while a simulated
#   fleet is working through its orders, and started again a few seconds later:
#   - meanwhile wan answers a gateway 503 "unavailable" with Retry-After (nothing served,
#     no refusal logged), the api's /health says 503, the CLI names the outage;
#   - wan, api and worker (with the audit service) keep running, log the loss and the
#     reconnect, and resume by themselves: every job completes after the restart;
#   - the admin log verifies (one chain, one tree, nothing half-written) and every
#     acknowledged result is in it.
# Plain suite (SQLite): another process holds the write lock beyond the busy timeout; a
#   gateway asking for its order gets 503 "unavailable" (not a 500, no half-applied
#   hand-out), and the same request succeeds once the lock is released.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-outage-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT
PG=${TORWART_TEST_STORE:-sqlite}

WAN_PORT=$(free_port); API_PORT=$(free_port)
q() { sqlite3 "$H/store.db" "$1"; }   # lib.sh: psql on the home's database in the pg suite
alive() { for p in "${pids_to_kill[@]}"; do kill -0 "$p" 2>/dev/null || return 1; done; }

check "torwart init --test-pki ($PG store)" "$TORWART" init --home "$H" --test-pki \
	--wan-listen "127.0.0.1:$WAN_PORT" --api-listen "127.0.0.1:$API_PORT" \
	--api-tls-listen "127.0.0.1:$(free_port)"
sed -i "s/^audit_verify_interval = .*/audit_verify_interval = 1/" "$H/torwart.conf"
printf '\n[worker]\njob_tick_ms = 50\n' >>"$H/torwart.conf"
"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "torwartd all starts (signer, wan, api, worker)" wait_port 127.0.0.1 "$WAN_PORT" 30
check "api is up" wait_port 127.0.0.1 "$API_PORT" 30

NGW=6
for i in $(seq 1 $NGW); do "$TORWART" gateway add --home "$H" --id "GW-$i" >>"$T/log" 2>&1; done
check "$NGW gateways registered" test "$(q "SELECT count(*) FROM gateways")" -ge $NGW

G1="$H/gateways/GW-1"
C1="--cacert $G1/root-ca.crt --cert $G1/tls.crt --key $G1/tls.key --curves brainpoolP256r1 --tlsv1.2 --tls-max 1.2 -sS -m 90"
session() { printf '{"gateway_id":"GW-1","firmware_version":"1.0","time":"%s"}' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"; }
# One TLS connection: a session, then the next order. code N: the status of request N;
# $T/body1, $T/body2 the bodies, $T/hdr, $T/hdr2 the headers.
fetch() {
	rm -f "$T/hdr" "$T/hdr2" "$T/body1" "$T/body2"
	curl $C1 -H Content-Type:application/json -D "$T/hdr" -o "$T/body1" -w '%{http_code}\n' \
		-d "$(session)" "https://localhost:$WAN_PORT/v1/session" --next $C1 -D "$T/hdr2" \
		-o "$T/body2" -w '%{http_code}\n' "https://localhost:$WAN_PORT/v1/orders" \
		>"$T/codes" 2>>"$T/log"
}
code() { sed -n "${1}p" "$T/codes" 2>/dev/null; }
health() { curl -s -m 30 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$API_PORT/health"; }

if [ "$PG" = pg ]; then
	# ---- PostgreSQL stopped hard mid-run, then started again
	for b in 1 2 3; do
		"$TORWART" job create --home "$H" --type ping --gateways all --timeout 4 \
			--attempts 10 --retry-delay 1 >>"$T/log" 2>&1
	done
	total=$(q "SELECT count(*) FROM jobs")
	check "$total orders created (3 per gateway)" test "$total" = $((3 * NGW))
	"$SIM" --home "$H" --count $NGW --contact-interval 1 --concurrency 2 --max-orders 1 \
		>"$T/sim.out" 2>&1 &
	sim=$!
	pids_to_kill+=("$sim")
	for _ in $(seq 1 200); do
		[ "$(q "SELECT count(*) FROM jobs WHERE state = 'done'")" -ge 2 ] && break; sleep 0.05
	done
	done_before=$(q "SELECT count(*) FROM jobs WHERE state = 'done'")
	check "the fleet is mid-run ($done_before of $total done) when the database goes" \
		test "$done_before" -lt "$total"
	check "pg_ctl stop -m immediate" pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop
	sleep 1
	fetch
	check "wan answers a new connection 503 while the database is down ($(code 1))" \
		test "$(code 1)" = 503
	check "... with Retry-After and the error code 'unavailable'" bash -c \
		"grep -qi '^Retry-After: [0-9]' '$T/hdr' && grep -q '\"unavailable\"' '$T/body1'"
	check "api /health answers 503 while the database is down" test "$(health)" = 503
	"$TORWART" job list --home "$H" >"$T/cli.out" 2>&1
	check "the CLI names the outage (unavailable, cannot connect)" \
		grep -qi 'unavailable\|cannot connect' "$T/cli.out"
	sleep 3
	check "every service is still running during the outage" alive
	check "pg_ctl start (same data, same port)" pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" \
		-l "$PG_DIR/server.log" -w -t 60 \
		-o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off ${TORWART_TEST_PG_OPTS:-}" start
	for _ in $(seq 1 300); do
		[ "$(q "SELECT count(*) FROM jobs WHERE state = 'done'")" = "$total" ] && break; sleep 0.1
	done
	check "every job completes after the restart ($(q "SELECT count(*) FROM jobs WHERE state = 'done'")/$total)" \
		test "$(q "SELECT count(*) FROM jobs WHERE state = 'done'")" = "$total"
	check "api /health is 200 again" test "$(health)" = 200
	fetch
	check "wan serves a new connection again (200)" test "$(code 1)$(code 2)" = 200200
	check "every service is still running after the outage" alive
	kill -TERM "$sim" 2>/dev/null; wait "$sim" 2>/dev/null
	check "the services logged the loss" grep -q 'connection to the database lost' "$T/torwartd.log"
	check "... and the reconnect" grep -q 'connection to the database restored after' "$T/torwartd.log"
	check "every job done is in the admin log (job.done entries)" test \
		"$(q "SELECT count(DISTINCT object) FROM admin_log WHERE action = 'job.done'")" = "$total"
	sleep 2   # the worker's incremental verification runs every second
	check "the worker verifies the admin log again (no integrity alarm)" bash -c \
		"! grep -q 'ALERT admin log integrity' '$T/torwartd.log'"
	check "torwart audit verify after the outage" "$TORWART" audit verify --home "$H"
else
	# ---- SQLite: the write lock held beyond the busy timeout (10 s) by another process
	# (until the request was answered: a slow handshake under load must not outlast it).
	# Each attempt of the wan thread to write waits the busy timeout, blocking its loop
	# (contact flushes too), so the answer may take several times 10 s: curl waits 90 s.
	"$TORWART" job create --home "$H" --type ping --gateway GW-1 --timeout 600 >>"$T/log" 2>&1
	id=$(q "SELECT max(id) FROM jobs")
	/usr/bin/python3 - "$H/store.db" "$T/locked" <<'EOF' &
import sqlite3, sys, time, pathlib
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
c.execute("BEGIN IMMEDIATE")
pathlib.Path(sys.argv[2]).touch()
time.sleep(150)   # released when the test kills it
c.execute("ROLLBACK")
EOF
	locker=$!
	for _ in $(seq 1 100); do [ -e "$T/locked" ] && break; sleep 0.1; done
	fetch
	check "with the write lock held beyond the busy timeout, GET /v1/orders is 503 ($(code 2))" \
		test "$(code 2)" = 503
	check "... with Retry-After" grep -qi '^Retry-After: [0-9]' "$T/hdr2"
	kill "$locker"; wait "$locker" 2>/dev/null
	st=$(q "SELECT state FROM jobs WHERE id = $id")
	check "nothing was handed out (order $id is $st, not sent)" test "$st" != sent
	check "no job.sent entry was written for it" \
		test "$(q "SELECT count(*) FROM admin_log WHERE action = 'job.sent' AND object = 'job:$id'")" = 0
	fetch
	check "the lock released, the same request hands the order out" \
		grep -q "\"id\":\"$id\"" "$T/body2"
	check "every service is still running" alive
	check "torwart audit verify" "$TORWART" audit verify --home "$H"
fi

#!/usr/bin/env bash
# bench_metering_fleet.sh: N simulated gateways each send one day of quarter-hour values
# (one CMS message, 96 values) through the whole receipt stack: TLS, session, CMS
# verification, store, ack. Two passes over the same fleet in the same run, each with
# fresh messages: [wan] metering_batch = 1 (a transaction per value: before group commit)
# and metering_batch = 64 (group commit), P concurrent senders (torwart-sim values
# processes, one gateway after the other each). Reports values acknowledged per second
# per pass and the wan's batch statistics.
# With DELIVER=1 (the default) the last pass runs with the worker delivering to a test EMT
# (tests/integration/emt_receiver.py: HTTPS, mutual TLS with the EMT's SM-PKI TLS
# certificate issued by this home's Sub-CA) while the gateways send: the bench then waits
# until every acknowledged message is delivered and reports the delivery latency (EMT's
# 2xx answer minus the message's durable receipt, from the store: p50, p99, max).
# Next to it, in the same run, the plain durable peer: the same number of rows of the
# same size inserted into a table of the same store kind, one commit (fsync) per 64 rows.
#
#   bench/bench_metering_fleet.sh [BUILD_DIR]
#   env: N (gateways, 10000), P (concurrent senders, 16), STORE=pg (a throw-away
#        PostgreSQL 15 server, production durability; PG_BIN), KEEP=1 (keep the home),
#        PASSES ("before after": both; "after": group commit only), DELIVER (1; 0: no
#        deliveries), DELIVER_WAIT (seconds without delivery progress before giving up, 120)
# The last line is machine-readable: "bench_metering_fleet: key=value ...".
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
n=${N:-10000}; par=${P:-16}; store=${STORE:-sqlite}
passes=${PASSES:-before after}; deliver=${DELIVER:-1}; deliver_wait=${DELIVER_WAIT:-120}
here=$(cd "$(dirname "$0")" && pwd)
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
T="$build/src/cmd/torwart"; D="$build/src/cmd/torwartd"; S="$build/src/cmd/torwart-sim"
port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
as() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/torwart-metering-fleet.XXXXXX"); chmod 0711 "$tmp"
home=$tmp/home
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	[ "$store" != pg ] || as "$PG_BIN/pg_ctl" -D "$tmp/pg/data" -m fast -w stop >/dev/null 2>&1 || true
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
store_args=()
if [ "$store" = pg ]; then
	mkdir "$tmp/pg"; chmod 0700 "$tmp/pg"; [ "$(id -u)" = 0 ] && chown nobody "$tmp/pg"
	pg_port=$(port)
	as "$PG_BIN/initdb" -D "$tmp/pg/data" -U torwart --auth=trust -E UTF8 >"$tmp/initdb.log" 2>&1
	as "$PG_BIN/pg_ctl" -D "$tmp/pg/data" -l "$tmp/pg/server.log" -w -t 120 \
		-o "-p $pg_port -k $tmp/pg -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
	"$PG_BIN/createdb" -h 127.0.0.1 -p "$pg_port" -U torwart fleet
	store_args=(--store "postgresql://torwart@127.0.0.1:$pg_port/fleet")
fi
sq() { if [ "$store" = pg ]; then psql -X -q -At "${store_args[1]}" -c "$1"; else sqlite3 -cmd ".timeout 20000" "$home/store.db" "$1"; fi; }

wan_port=$(port)
"$T" init --home "$home" --test-pki "${store_args[@]}" --wan-listen "127.0.0.1:$wan_port" \
	--api-listen "127.0.0.1:$(port)" --api-tls-listen "127.0.0.1:$(port)" >"$tmp/init.log" 2>&1
grep -q '^max_connections_per_source' "$home/torwart.conf" ||
	sed -i 's/^max_connections = 20000$/&\nmax_connections_per_source = 20000/' "$home/torwart.conf"

EMT=9900000000001; MP=1EMH0000000001
emt_enc=$tmp/emt-enc.crt
if [ "$deliver" = 1 ]; then
	# A real EMT of this Sub-CA: the deliverer checks the EMT's TLS certificate like in
	# production (trust_check), and the values are encrypted for its ENC certificate.
	"$T" ca register --home "$home" --name emt-a --org "emt-a org" --role emt --mp-id "$EMT" \
		--cn A.EMT.IT >>"$tmp/emt.log" 2>&1
	"$T" req initial --cn A.EMT.IT --ou "$EMT" --role EMT --key-dir "$tmp/emt-a" --format der \
		--out "$tmp/emt-a.req" >>"$tmp/emt.log" 2>&1
	"$T" ca issue --home "$home" --request "$tmp/emt-a.req" --participant emt-a >>"$tmp/emt.log" 2>&1
	for u in TLS ENC; do
		s=$(sq "SELECT serial_hex FROM certificates WHERE owner_kind='emt' AND owner_id='emt-a' AND usage='$u'")
		"$T" ca export "$s" --home "$home" --out "$tmp/emt-a.${u,,}.crt" >>"$tmp/emt.log" 2>&1
	done
	emt_enc=$tmp/emt-a.enc.crt
	emt_port=$(port)
	"$T" metering endpoint --home "$home" --emt "$EMT" --url "https://localhost:$emt_port/metering" \
		>>"$tmp/emt.log" 2>&1
	/usr/bin/python3 "$here/../tests/integration/emt_receiver.py" "$emt_port" "$tmp/emt-a.tls.crt" \
		"$tmp/emt-a/tls.key" "$home/pki/chain.pem" "$tmp/rx" >"$tmp/emt-rx.log" 2>&1 &
	pids+=("$!")
	for _ in $(seq 1 50); do [ -f "$tmp/rx/ready" ] && break; sleep 0.1; done
fi

echo "bench_metering_fleet: N=$n gateways, $par concurrent senders, store $store, $(nproc) cores, $(uptime | sed 's/.*load/load/')"
# ---- the fleet: keys and certificates through the signer, in bulk
"$D" --home "$home" signer >"$tmp/signer.log" 2>&1 &
signer=$!
pids+=("$signer")
sleep 1
t0=$(date +%s.%N)
half=$((n / 2))
"$build/bench/bench_fleet_provision" --home "$home" --from 0 --to "$half" --batch 200 >"$tmp/prov1.log" 2>&1 &
p1=$!
"$build/bench/bench_fleet_provision" --home "$home" --from "$half" --to "$n" --batch 200 >"$tmp/prov2.log" 2>&1
wait "$p1"
t1=$(date +%s.%N)
echo "provisioned $n gateways (keys, TLS/SIG/ENC certificates via the signer) in $(echo "$t1 - $t0" | bc) s"
# ---- EMT authorisation and one evaluation profile per gateway (bulk SQL: the bench
# measures receipt, not profile administration)
doc="{\"profile_id\":\"taf1\",\"type\":\"evaluation\",\"taf\":\"TAF1\",\"meters\":[\"$MP\"],\"obis\":[\"1-0:1.8.0*255\"],\"interval_s\":900,\"recipients\":[{\"emt\":\"$EMT\",\"wan_profile\":\"w\"}]}"
now=$(($(date +%s) * 1000))
sq "INSERT INTO emt_authorisations (gateway_id, emt_id, created_ms) SELECT gateway_id, '$EMT', $now FROM gateways;
INSERT INTO profiles (gateway_id, profile_id, type, doc, hash, updated_ms) SELECT gateway_id, 'taf1', 'evaluation', '$doc', '$(printf 'b%.0s' $(seq 64))', $now FROM gateways;"
[ "$deliver" = 1 ] ||
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:brainpoolP256r1 -nodes -subj /CN=emt-enc \
		-keyout "$tmp/emt-enc.key" -out "$tmp/emt-enc.crt" -days 2 >/dev/null 2>&1
ls -d "$home"/gateways/* >"$tmp/all-gw"
split -n "r/$par" "$tmp/all-gw" "$tmp/part-"

# ---- one pass: restart wan with metering_batch = $1, all gateways send one message
pass() { # batch label [deliver]
	local batch=$1 label=$2 w t0 t1 acked fails=0 p wk=""
	sed -i '/^metering_batch = /d' "$home/torwart.conf"
	printf '\n[wan]\nmetering_batch = %s\n' "$batch" >>"$home/torwart.conf"
	"$D" --home "$home" wan >"$tmp/wan-$label.log" 2>&1 &
	w=$!
	for _ in $(seq 1 100); do ss -ltn "sport = :$wan_port" | grep -q LISTEN && break; sleep 0.1; done
	: >"$tmp/ids-$label"
	local sims=()
	first_id=$(sq "SELECT coalesce(max(id), 0) FROM metering_messages")
	if [ "${3:-0}" = 1 ]; then
		"$D" --home "$home" worker >"$tmp/worker-$label.log" 2>&1 &
		wk=$!
		pids+=("$wk")
	fi
	t0=$(date +%s.%N)
	for part in "$tmp"/part-*; do
		"$S" values --gwa "127.0.0.1:$wan_port" --metering-point "$MP" --emt "$EMT" \
			--emt-enc "$emt_enc" --quiet --ids "$tmp/ids-$label" \
			--gateways $(cat "$part") >>"$tmp/sim-$label.log" 2>&1 &
		sims+=("$!")
	done
	for p in "${sims[@]}"; do wait "$p" || fails=$((fails + 1)); done
	t1=$(date +%s.%N)
	if [ -n "$wk" ]; then
		# Until every message of this pass is delivered, or no progress for deliver_wait s.
		local left last=-1 still=0
		while :; do
			left=$(sq "SELECT count(*) FROM metering_messages WHERE id > $first_id AND state <> 'delivered'")
			[ "$left" = 0 ] && break
			if [ "$left" = "$last" ]; then still=$((still + 1)); else still=0; last=$left; fi
			[ "$still" -ge "$deliver_wait" ] && { echo "deliveries stalled: $left not delivered"; break; }
			sleep 1
		done
		t2=$(date +%s.%N)
		kill -TERM "$wk"; wait "$wk" || true
		sq "SELECT delivered_ms - received_ms FROM metering_messages WHERE id > $first_id AND state = 'delivered' ORDER BY 1" >"$tmp/latency"
		delivered=$(wc -l <"$tmp/latency")
		lat_p50=$(awk '{ a[NR] = $1 } END { if (NR) print a[int((NR - 1) * 0.50) + 1]; else print "?" }' "$tmp/latency")
		lat_p99=$(awk '{ a[NR] = $1 } END { if (NR) print a[int((NR - 1) * 0.99) + 1]; else print "?" }' "$tmp/latency")
		lat_max=$(tail -n 1 "$tmp/latency"); lat_max=${lat_max:-?}
		received_emt=$(wc -l <"$tmp/rx/received.log" 2>/dev/null || echo 0)
		echo "deliveries: $delivered delivered ($received_emt POSTs received by the EMT, earlier passes' messages included) in $(echo "$t2 - $t0" | bc) s from the first send; latency (EMT 2xx - durable receipt) p50 $lat_p50 ms, p99 $lat_p99 ms, max $lat_max ms"
	fi
	kill -TERM "$w"; wait "$w" || true
	acked=$(wc -l <"$tmp/ids-$label")
	eval "${label}_rate=$(echo "scale=1; $acked / ($t1 - $t0)" | bc)"
	eval "${label}_acked=$acked"
	echo "$label (metering_batch = $batch): $acked of $n values acknowledged in $(echo "$t1 - $t0" | bc) s: $(echo "scale=1; $acked / ($t1 - $t0)" | bc) values/s; $fails senders failed"
	grep -h 'metering values in' "$tmp/wan-$label.log" | sed 's/^/    /' || true
}
before_rate=-; before_acked=-; after_rate=-; after_acked=-; delivered=-; lat_p50=-; lat_p99=-; lat_max=-
case " $passes " in *" before "*) pass 1 before ;; esac
case " $passes " in *" after "*) pass 64 after "$deliver" ;; esac
msgs=$(sq "SELECT count(*) FROM metering_messages"); bytes=$(sq "SELECT sum(length(body)) FROM metering_messages")
echo "stored: $msgs messages, $bytes bytes of CMS"

# ---- the plain durable peer: as many rows of the same size, one commit per 64 rows
avg=$(( ${bytes:-0} / (${msgs:-1} > 0 ? ${msgs:-1} : 1) ))
if [ "$store" = pg ]; then
	sq "CREATE TABLE bench_peer (id bigserial PRIMARY KEY, body bytea NOT NULL, received_ms bigint NOT NULL)"
	/usr/bin/python3 - "$n" "$avg" >"$tmp/peer.sql" <<'PY'
import sys
n, size = int(sys.argv[1]), int(sys.argv[2])
for i in range(0, n, 64):
    print("BEGIN;")
    for j in range(i, min(n, i + 64)):
        print("INSERT INTO bench_peer (body, received_ms) VALUES (decode(lpad(to_hex(%d), %d, '0'), 'hex'), %d);" % (j, size * 2, j))
    print("COMMIT;")
PY
	pt0=$(date +%s.%N); psql -X -q "${store_args[1]}" -f "$tmp/peer.sql" >/dev/null; pt1=$(date +%s.%N)
else
	# The peer times itself (the interpreter's start is not part of the inserts).
	peer_s=$(/usr/bin/python3 - "$tmp/peer.db" "$n" "$avg" <<'PY'
import sqlite3, sys, os, time
path, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE bench_peer (id INTEGER PRIMARY KEY, body BLOB NOT NULL, received_ms INTEGER NOT NULL)")
bodies = [os.urandom(size) for _ in range(n)]
t0 = time.monotonic()
for i in range(0, n, 64):
    db.execute("BEGIN")
    for j in range(i, min(n, i + 64)):
        db.execute("INSERT INTO bench_peer (body, received_ms) VALUES (?, ?)", (bodies[j], j))
    db.execute("COMMIT")
print("%.6f" % (time.monotonic() - t0))
PY
)
fi
[ -n "${peer_s:-}" ] || peer_s=$(echo "$pt1 - $pt0" | bc)
peer_rate=$(echo "scale=1; $n / $peer_s" | bc)
echo "peer (plain durable inserts, $n rows of $avg bytes, one commit per 64 rows, $store): $peer_rate rows/s"
[ "$after_rate" = - ] || echo "ratio ours (group commit, whole stack) / peer: $(awk -v a="$after_rate" -v b="$peer_rate" 'BEGIN { printf "%.4f", a / b }')"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench_metering_fleet: n=$n senders=$par store=$store before_per_s=$before_rate after_per_s=$after_rate before_acked=$before_acked after_acked=$after_acked delivered=$delivered latency_p50_ms=$lat_p50 latency_p99_ms=$lat_p99 latency_max_ms=$lat_max bytes_stored=$bytes peer_rows_per_s=$peer_rate"

#!/usr/bin/env bash
# bench_metering_fleet.sh: N simulated gateways each send one day of quarter-hour values
# (one CMS message, 96 values) through the whole receipt stack: TLS, session, CMS
# verification, store, ack. Two passes over the same fleet in the same run, each with
# fresh messages: [wan] metering_batch = 1 (a transaction per value: before group commit)
# and metering_batch = 64 (group commit), P concurrent senders (torwart-sim values
# processes, one gateway after the other each). Reports values acknowledged per second
# per pass and the wan's batch statistics. Deliveries are not part of it (no EMT
# endpoint is registered, the worker does not run).
#
#   bench/bench_metering_fleet.sh [BUILD_DIR]
#   env: N (gateways, 10000), P (concurrent senders, 16), STORE=pg (a throw-away
#        PostgreSQL 15 server, production durability; PG_BIN), KEEP=1 (keep the home)
# The last line is machine-readable: "bench_metering_fleet: key=value ...".
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
n=${N:-10000}; par=${P:-16}; store=${STORE:-sqlite}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
T="$build/src/cmd/torwart"; D="$build/src/cmd/torwartd"; S="$build/src/cmd/torwart-sim"
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
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
EMT=9900000000001; MP=1EMH0000000001
doc="{\"profile_id\":\"taf1\",\"type\":\"evaluation\",\"taf\":\"TAF1\",\"meters\":[\"$MP\"],\"obis\":[\"1-0:1.8.0*255\"],\"interval_s\":900,\"recipients\":[{\"emt\":\"$EMT\",\"wan_profile\":\"w\"}]}"
now=$(($(date +%s) * 1000))
sq "INSERT INTO emt_authorisations (gateway_id, emt_id, created_ms) SELECT gateway_id, '$EMT', $now FROM gateways;
INSERT INTO profiles (gateway_id, profile_id, type, doc, hash, updated_ms) SELECT gateway_id, 'taf1', 'evaluation', '$doc', '$(printf 'b%.0s' $(seq 64))', $now FROM gateways;"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:brainpoolP256r1 -nodes -subj /CN=emt-enc \
	-keyout "$tmp/emt-enc.key" -out "$tmp/emt-enc.crt" -days 2 >/dev/null 2>&1
ls -d "$home"/gateways/* >"$tmp/all-gw"
split -n "r/$par" "$tmp/all-gw" "$tmp/part-"

# ---- one pass: restart wan with metering_batch = $1, all gateways send one message
pass() { # batch label
	local batch=$1 label=$2 w t0 t1 acked fails=0 p
	sed -i '/^metering_batch = /d' "$home/torwart.conf"
	printf '\n[wan]\nmetering_batch = %s\n' "$batch" >>"$home/torwart.conf"
	"$D" --home "$home" wan >"$tmp/wan-$label.log" 2>&1 &
	w=$!
	for _ in $(seq 1 100); do ss -ltn "sport = :$wan_port" | grep -q LISTEN && break; sleep 0.1; done
	: >"$tmp/ids-$label"
	local sims=()
	t0=$(date +%s.%N)
	for part in "$tmp"/part-*; do
		"$S" values --gwa "127.0.0.1:$wan_port" --metering-point "$MP" --emt "$EMT" \
			--emt-enc "$tmp/emt-enc.crt" --quiet --ids "$tmp/ids-$label" \
			--gateways $(cat "$part") >>"$tmp/sim-$label.log" 2>&1 &
		sims+=("$!")
	done
	for p in "${sims[@]}"; do wait "$p" || fails=$((fails + 1)); done
	t1=$(date +%s.%N)
	kill -TERM "$w"; wait "$w" || true
	acked=$(wc -l <"$tmp/ids-$label")
	eval "${label}_rate=$(echo "scale=1; $acked / ($t1 - $t0)" | bc)"
	eval "${label}_acked=$acked"
	echo "$label (metering_batch = $batch): $acked of $n values acknowledged in $(echo "$t1 - $t0" | bc) s: $(echo "scale=1; $acked / ($t1 - $t0)" | bc) values/s; $fails senders failed"
	grep -h 'metering values in' "$tmp/wan-$label.log" | sed 's/^/    /' || true
}
pass 1 before
pass 64 after
echo "stored: $(sq "SELECT count(*) FROM metering_messages") messages, $(sq "SELECT sum(length(body)) FROM metering_messages") bytes of CMS"
echo "bench_metering_fleet: n=$n senders=$par store=$store before_per_s=$before_rate after_per_s=$after_rate before_acked=$before_acked after_acked=$after_acked"

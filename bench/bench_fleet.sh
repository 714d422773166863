#!/usr/bin/env bash
# bench_fleet.sh: a fleet order end to end on this machine: N simulated gateways each
# receive one order (create jobs -> paced signed wake-up -> TLS connect -> fetch ->
# apply -> ack). Reports wall time, jobs/s, peak connections, RSS of wan and of the
# simulator, and achieved handshakes/s next to raw OpenSSL's in-memory rate (measured by
# bench_handshake in the same run, same certificates).
#
#   bench/bench_fleet.sh [BUILD_DIR]
#   env: N (10000), TYPE (set-retention), PAYLOAD ({"days":90}), RATE (wake-ups/s, 400),
#        CONCURRENCY (sim visits in flight, 256), KEEP=1 (keep the home), HOME_DIR
#        (reuse an already provisioned home from an earlier KEEP=1 run), PROVISION=single
#        (provision through gateway add's path per gateway instead of in bulk), PERF=1 (record
#        wan, worker, signer and the simulator with perf (DWARF call graphs) during the
#        order and print where the time goes, by process and by function, self and
#        inclusive; PERF_FREQ samples/s (199), PERF_KEEP=FILE keeps perf.data), RESUMED=1 (then a second order to
#        the same fleet over resumed TLS sessions), STORE=pg (the store on a throw-away
#        PostgreSQL 15 server started here: initdb in the temporary directory, production
#        durability (fsync on), run as nobody when started as root; PG_BIN as in
#        bench_store.sh; not with HOME_DIR)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
n=${N:-10000}; type=${TYPE:-set-retention}; payload=${PAYLOAD:-'{"days":90}'}
# 300 wake-ups/s would cap 10,000 jobs at 33 s; the quiet-machine handshake ceiling is
# about 410/s (two cores), so pace a little below it.
rate=${RATE:-400}; conc=${CONCURRENCY:-256}
T="$build/src/cmd/torwart"; D="$build/src/cmd/torwartd"; S="$build/src/cmd/torwart-sim"
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
rss() { awk '/VmHWM/ {print $2/1024 " MiB"}' "/proc/$1/status" 2>/dev/null || echo "?"; }
# CPU seconds (user + system, all threads) a process has used so far.
cpu() { awk -v t="$(getconf CLK_TCK)" '{ print ($14 + $15) / t }' "/proc/$1/stat" 2>/dev/null || echo 0; }

if [ -n "${HOME_DIR:-}" ]; then
	home=$HOME_DIR; tmp=$(dirname "$home"); provisioned=1
else
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/torwart-fleet.XXXXXX"); home=$tmp/home; provisioned=0
fi
pids=()
store=${STORE:-sqlite}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
as() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	[ "$store" != pg ] || as "$PG_BIN/pg_ctl" -D "$tmp/pg/data" -m fast -w stop >/dev/null 2>&1 || true
	[ "${KEEP:-0}" = 1 ] || [ -n "${HOME_DIR:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
store_args=()
if [ "$store" = pg ]; then
	[ -z "${HOME_DIR:-}" ] || { echo "bench_fleet: STORE=pg does not reuse HOME_DIR" >&2; exit 2; }
	chmod 0711 "$tmp"; mkdir "$tmp/pg"; chmod 0700 "$tmp/pg"
	[ "$(id -u)" = 0 ] && chown nobody "$tmp/pg"
	pg_port=$(port)
	as "$PG_BIN/initdb" -D "$tmp/pg/data" -U torwart --auth=trust -E UTF8 >"$tmp/initdb.log" 2>&1
	as "$PG_BIN/pg_ctl" -D "$tmp/pg/data" -l "$tmp/pg/server.log" -w -t 120 \
		-o "-p $pg_port -k $tmp/pg -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
	"$PG_BIN/createdb" -h 127.0.0.1 -p "$pg_port" -U torwart fleet
	store_args=(--store "postgresql://torwart@127.0.0.1:$pg_port/fleet")
fi
# One query on the bench's store, either backend.
sq() { if [ "$store" = pg ]; then psql -X -q -At "${store_args[1]}" -c "$1"; else sqlite3 "$home/store.db" "$1"; fi; }
db_size() { if [ "$store" = pg ]; then sq "SELECT pg_size_pretty(pg_database_size('fleet'))"; else du -h "$home/store.db" | cut -f1; fi; }

if [ "$provisioned" = 0 ]; then
	wan_port=$(port); api_port=$(port); wu_port=$(port)
	"$T" init --home "$home" --test-pki "${store_args[@]}" --wan-listen "127.0.0.1:$wan_port" \
		--api-listen "127.0.0.1:$api_port" --api-tls-listen "127.0.0.1:$(port)" >/dev/null
	printf '\n[bench]\nwakeup_port = %s\n' "$wu_port" >"$tmp/bench.conf"
else
	wan_port=$(sed -n 's/^listen = 127.0.0.1:\([0-9]*\)$/\1/p' "$home/torwart.conf" | head -1)
	wu_port=$(sed -n 's/^wakeup_port = //p' "$tmp/bench.conf")
fi
# Every simulated gateway connects from 127.0.0.1: lift the per-source connection limit
# (256 by default, conn_guard) above the simulator's concurrency, or a session that opens
# while another is still closing is refused and its job waits for its time-out.
grep -q '^max_connections_per_source' "$home/torwart.conf" ||
	sed -i 's/^max_connections = 20000$/&\nmax_connections_per_source = 20000/' "$home/torwart.conf"
# Pace wake-ups near what wan can handshake on this machine (T-WU.4).
grep -q '^wakeup_rate' "$home/torwart.conf" || printf '\n[worker]\nwakeup_rate = %s\njob_batch = 1000\n' "$rate" >>"$home/torwart.conf"

"$D" --home "$home" all >"$tmp/torwartd.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do ss -ltn "sport = :$wan_port" | grep -q LISTEN && break; sleep 0.1; done

if [ "$provisioned" = 0 ]; then
	t0=$(date +%s.%N)
	half=$((n / 2))
	# Bulk by default: certificates signed in batches of 200 gateways (one signer round
	# trip, one store transaction each); PROVISION=single: gateway add's path per gateway.
	if [ "${PROVISION:-bulk}" = single ]; then pmode=(--single 1); else pmode=(--batch 200); fi
	"$build/bench/bench_fleet_provision" --home "$home" --from 0 --to "$half" "${pmode[@]}" &
	p1=$!
	"$build/bench/bench_fleet_provision" --home "$home" --from "$half" --to "$n" "${pmode[@]}"
	wait "$p1"
	"$T" gateway set --home "$home" --gateways all --wakeup "127.0.0.1:$wu_port" >/dev/null
	t1=$(date +%s.%N)
	echo "provisioned $n gateways (keys, 3 certificates each via the signer, ${PROVISION:-bulk}) in $(echo "$t1 - $t0" | bc) s ($(echo "scale=0; $n / ($t1 - $t0)" | bc)/s)"
fi

rm -f "$tmp/sim.stats"   # a kept home still has the last run's
# --resume: like real gateways (TR-03116-3 allows 48 h), a simulated gateway resumes its
# last TLS session on its next contact; a first contact is always a full handshake.
"$S" --home "$home" --count "$n" --listen-wakeup "127.0.0.1:$wu_port" --resume \
	--concurrency "$conc" --stats "$tmp/sim.stats" >"$tmp/sim.log" 2>&1 &
sim_pid=$!
pids+=("$sim_pid")
for _ in $(seq 1 600); do [ -s "$tmp/sim.stats" ] && break; sleep 0.1; done
wan_pid=$(grep -o 'wan\[[0-9]*\]' "$tmp/torwartd.log" | head -1 | tr -dc 0-9)
sim_before=$(cat "$tmp/sim.stats")

# Peak established connections on the wan port, sampled every 100 ms.
( peak=0; while :; do c=$(ss -Htn state established "sport = :$wan_port" | wc -l)
	[ "$c" -gt "$peak" ] && peak=$c && echo "$peak" >"$tmp/peak"; sleep 0.1; done ) &
pids+=($!)

if [ "${PERF:-0}" = 1 ]; then
	svc_pids=$(grep -o '\(wan\|worker\|signer\)\[[0-9]*\]' "$tmp/torwartd.log" | tr -dc '0-9\n' |
		sort -u | paste -sd, -)
	# PostgreSQL: its backends (one per service connection) too.
	[ "$store" != pg ] || svc_pids="$svc_pids,$(pgrep -P "$(head -1 "$tmp/pg/data/postmaster.pid")" | paste -sd, -)"
	# DWARF unwinding: libcrypto is built without frame pointers, so -g (fp) stops at its
	# first frame and charges everything below to the OpenSSL function on top.
	perf record --call-graph dwarf,16384 -F "${PERF_FREQ:-199}" -o "$tmp/perf.data" \
		-p "$svc_pids,$sim_pid" >"$tmp/perf.log" 2>&1 &
	perf_pid=$!
fi
worker_pid=$(grep -o 'worker\[[0-9]*\]' "$tmp/torwartd.log" | head -1 | tr -dc 0-9)
signer_pid=$(grep -o 'signer\[[0-9]*\]' "$tmp/torwartd.log" | head -1 | tr -dc 0-9)
declare -A cpu0
for p in "$wan_pid" "$worker_pid" "$signer_pid" "$sim_pid"; do cpu0[$p]=$(cpu "$p"); done
echo "fleet order: $type $payload to $n gateways, wake-ups paced at $rate/s, store $store, $(uptime | sed 's/.*load/load/')"
t0=$(date +%s.%N)
"$T" job create --home "$home" --type "$type" --payload "$payload" --gateways all \
	--timeout 600 --wait >"$tmp/progress.log" 2>&1 || echo "(some jobs did not succeed)"
t1=$(date +%s.%N)
wall=$(echo "$t1 - $t0" | bc)
declare -A cpud
cpu_total=0
for p in "$wan_pid" "$worker_pid" "$signer_pid" "$sim_pid"; do
	cpud[$p]=$(echo "$(cpu "$p") - ${cpu0[$p]}" | bc)
	cpu_total=$(echo "$cpu_total + ${cpud[$p]}" | bc)
done
if [ "${PERF:-0}" = 1 ]; then
	kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true
	# (head closes the pipe early: not a failure of the benchmark)
	echo "---- perf: samples by process and library (wan/worker/signer are torwartd:PID, postgres the database)"
	{ perf report -i "$tmp/perf.data" --no-children --sort pid,dso --stdio -g none \
		2>/dev/null | grep -v '^#' | grep -v '^$' | head -24; } || true
	echo "---- perf: top functions"
	{ perf report -i "$tmp/perf.data" --no-children --sort pid,sym --stdio -g none \
		2>/dev/null | grep -v '^#' | grep -v '^$' | head -30; } || true
	echo "---- perf: inclusive (callees counted) per process and function, top 60"
	{ perf report -i "$tmp/perf.data" --children --sort pid,sym --stdio -g none \
		2>/dev/null | grep -v '^#' | grep -v '^$' | head -60; } || true
	[ -z "${PERF_KEEP:-}" ] || cp "$tmp/perf.data" "$PERF_KEEP"
fi
tail -n 1 "$tmp/progress.log"
sim_after=$(cat "$tmp/sim.stats")
sessions=$(echo "$sim_after" | python3 -c 'import json,sys;print(json.load(sys.stdin)["sessions_ok"])')
sessions0=$(echo "$sim_before" | python3 -c 'import json,sys;print(json.load(sys.stdin)["sessions_ok"])')
done_jobs=$(sq "select count(*) from jobs where state='done' and batch_id=(select max(id) from job_batches)")
hs=$(echo "scale=1; ($sessions - $sessions0) / $wall" | bc)

echo "wall time:            $wall s"
echo "jobs done:            $done_jobs of $n ($(echo "scale=1; $done_jobs / $wall" | bc) jobs/s)"
echo "peak connections:     wan side $(cat "$tmp/peak" 2>/dev/null || echo 0) established, sim side $(echo "$sim_after" | python3 -c 'import json,sys;print(json.load(sys.stdin)["peak_in_flight"])') in flight"
echo "RSS (peak, VmHWM):    wan $(rss "$wan_pid"), simulator $(rss "$sim_pid"), worker $(rss "$worker_pid"), signer $(rss "$signer_pid")"
echo "simulator:            $sim_after"
echo "database size:        $(db_size) ($store)"
raw=$("$build/bench/bench_handshake" --home "$home" --count 20 --rounds 1 --seconds 3 \
	--gwa "127.0.0.1:$wan_port" 2>/dev/null | sed -n 's/^raw OpenSSL in memory.*full *\([0-9.]*\)\/s.*/\1/p')
echo "handshakes:           $hs/s achieved (full, one per job) vs raw OpenSSL in memory $raw/s (1 core, both ends)"
echo "ratio achieved/raw:   $(echo "scale=2; $hs / $raw" | bc)"
# Wall time depends on what else runs on the machine; CPU per job much less so.
echo "CPU during the order: wan ${cpud[$wan_pid]} s, simulator ${cpud[$sim_pid]} s, worker ${cpud[$worker_pid]} s, signer ${cpud[$signer_pid]} s (load average $(cut -d' ' -f1 /proc/loadavg))"
echo "CPU per job:          $(echo "scale=2; 1000 * $cpu_total / $n" | bc) ms all processes (raw in-memory handshake, both ends, one core: $(echo "scale=2; 1000 / $raw" | bc) ms wall each at this load)"
echo "projected on $(nproc) idle cores: $(echo "scale=0; $(nproc) * $n / $cpu_total" | bc) jobs/s (CPU-bound), raw handshake ceiling $(echo "scale=0; $(nproc) * $raw / 1" | bc)/s"
# RESUMED=1: a second order to the same fleet while wan and simulator keep running: every
# gateway now holds a TLS session from the first (TR-03116-3 allows 48 h), so the
# handshakes are abbreviated (no certificate checks, no ECDH, no signatures).
if [ "${RESUMED:-0}" = 1 ]; then
	for p in "$wan_pid" "$worker_pid" "$signer_pid" "$sim_pid"; do cpu0[$p]=$(cpu "$p"); done
	t0=$(date +%s.%N)
	"$T" job create --home "$home" --type "$type" --payload "$payload" --gateways all \
		--timeout 600 --wait >"$tmp/progress2.log" 2>&1 || echo "(some jobs did not succeed)"
	t1=$(date +%s.%N)
	wall=$(echo "$t1 - $t0" | bc)
	cpu_total=0
	for p in "$wan_pid" "$worker_pid" "$signer_pid" "$sim_pid"; do
		cpud[$p]=$(echo "$(cpu "$p") - ${cpu0[$p]}" | bc)
		cpu_total=$(echo "$cpu_total + ${cpud[$p]}" | bc)
	done
	done_jobs=$(sq "select count(*) from jobs where state='done' and batch_id=(select max(id) from job_batches)")
	echo "---- second order, resumed TLS sessions"
	echo "wall time:            $wall s"
	echo "jobs done:            $done_jobs of $n ($(echo "scale=1; $done_jobs / $wall" | bc) jobs/s)"
	echo "CPU during the order: wan ${cpud[$wan_pid]} s, simulator ${cpud[$sim_pid]} s, worker ${cpud[$worker_pid]} s, signer ${cpud[$signer_pid]} s (load average $(cut -d' ' -f1 /proc/loadavg))"
	echo "CPU per job:          $(echo "scale=2; 1000 * $cpu_total / $n" | bc) ms all processes"
	echo "projected on $(nproc) idle cores: $(echo "scale=0; $(nproc) * $n / $cpu_total" | bc) jobs/s (CPU-bound)"
	echo "simulator:            $(cat "$tmp/sim.stats")"
fi
# Stop the stack to read the wan's batching figures (written when its threads stop).
kill -TERM "${pids[0]}" 2>/dev/null || true
wait "${pids[0]}" 2>/dev/null || true
grep -o 'thread [0-9]*: [0-9]* order requests in [0-9]* batch transactions.*' "$tmp/torwartd.log" |
	sed 's/^/wan batching:         /' || true

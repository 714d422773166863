#!/usr/bin/env bash
# bench_fleet.sh: fleet orders end to end on this machine: N simulated gateways each
# receive one order (create jobs -> paced signed wake-up -> TLS connect -> fetch ->
# apply -> ack), twice:
#   1. first contact: no gateway has a TLS session yet, every job is a full mutual-auth
#      handshake (what a freshly rolled-out fleet costs);
#   2. in-service order: the same fleet again while it holds its sessions (TR-03116-3
#      allows 48 h), every job an abbreviated handshake: how a fleet in service is
#      ordered. RESUMED=0 skips it.
# Reports per order wall time, jobs/s, CPU seconds of wan, simulator, worker and signer
# and CPU per job done (less dependent on the machine's other load than wall time), then RSS,
# peak connections and raw OpenSSL's in-memory handshake rate (bench_handshake, same
# certificates). An order ends when every job is final or when no job became final for
# STALL seconds (30; sessions that missed their deadline under load would otherwise keep
# it waiting for the 600 s job time-out): the report says so and counts the open jobs.
#
#   bench/bench_fleet.sh [BUILD_DIR]
#   env: N (10000), TYPE (set-retention), PAYLOAD ({"days":90}), RATE (wake-ups/s; by
#        default derived from this machine's handshake rate at its current load, see
#        below), CONCURRENCY (sim visits in flight, 256), KEEP=1 (keep the home), HOME_DIR
#        (reuse an already provisioned home from an earlier KEEP=1 run), PROVISION=single
#        (provision through gateway add's path per gateway instead of in bulk), RESUMED=0
#        (first-contact order only), WAN_THREADS (the wan's event loops; default one per
#        core), STALL (s, 30), SIM=PATH (another torwart-sim binary,
#        e.g. an older build to compare), PERF=1 (record wan, worker, signer and the
#        simulator with perf (DWARF call graphs) during the in-service order, PERF_ORDER=
#        first during the first-contact one, and print where the time goes, by process and
#        by function, self and inclusive; PERF_FREQ samples/s (199), PERF_KEEP=FILE keeps
#        perf.data as FILE.first or FILE.resumed), STORE=pg (the store on a throw-away
#        PostgreSQL 15 server started here: initdb in the temporary directory, production
#        durability (fsync on), run as nobody when started as root; PG_BIN as in
#        bench_store.sh; not with HOME_DIR)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
n=${N:-10000}; type=${TYPE:-set-retention}; payload=${PAYLOAD:-'{"days":90}'}
# The wake-up rate ([worker] wakeup_rate) must be what the wan can handshake now: paced
# faster, the simulator's sessions queue behind the handshakes, miss the wan's handshake
# deadline and leave their jobs open until the job time-out (a fixed 400/s, near the quiet
# machine's ceiling of about 410/s on two cores, did that on a loaded machine: 112-255 of
# 1,000 sessions failed). Without RATE it is measured after provisioning: raw OpenSSL's
# full handshakes/s in memory (bench_handshake, both ends on one core, at the current
# load) times the cores idle at that moment (/proc/stat over 1.5 s, at least 1), three
# quarters of that (wan, simulator, worker and signer do more than the handshake), at
# least 10 and at most 400/s. RATE=N sets it.
rate=${RATE:-auto}; conc=${CONCURRENCY:-256}
case "$rate" in auto | [1-9] | [1-9][0-9]*) ;; *) echo "bench_fleet: RATE must be a number of wake-ups/s" >&2; exit 2 ;; esac
T="$build/src/cmd/torwart"; D="$build/src/cmd/torwartd"; S="$build/src/cmd/torwart-sim"
port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
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
# WAN_THREADS=N: the wan's event loops ([wan] threads; default one per core).
if [ -n "${WAN_THREADS:-}" ]; then
	sed -i '/^threads = /d' "$home/torwart.conf"
	sed -i "s/^max_connections = 20000\$/&\nthreads = $WAN_THREADS/" "$home/torwart.conf"
fi
# Pace wake-ups at what wan can handshake on this machine (T-WU.4); a kept home gets this
# run's rate. Until the automatic rate is measured (that needs the stack), the lowest.
set_rate() {
	if grep -q '^wakeup_rate' "$home/torwart.conf"; then
		sed -i "s/^wakeup_rate = .*/wakeup_rate = $1/" "$home/torwart.conf"
	else
		printf '\n[worker]\nwakeup_rate = %s\njob_batch = 1000\n' "$1" >>"$home/torwart.conf"
	fi
}
set_rate "$([ "$rate" = auto ] && echo 10 || echo "$rate")"
start_stack() {
	"$D" --home "$home" all >>"$tmp/torwartd.log" 2>&1 &
	pids[0]=$!
	for _ in $(seq 1 100); do ss -ltn "sport = :$wan_port" | grep -q LISTEN && break; sleep 0.1; done
}
: >"$tmp/torwartd.log"
start_stack
# raw OpenSSL's full handshakes/s in memory (one core, both ends), at the current load.
raw_rate() {
	"$build/bench/bench_handshake" --home "$home" --count 20 --rounds 1 --seconds "$1" \
		--resume-rounds 1 --gwa "127.0.0.1:$wan_port" 2>/dev/null |
		sed -n 's/^raw OpenSSL in memory.*full *\([0-9.]*\)\/s.*/\1/p'
}

if [ "$provisioned" = 0 ]; then
	# Wall time depends on the machine's other load; the CPU seconds of the two
	# provisioning processes and of the signer much less.
	prov_signer=$(grep -o 'signer\[[0-9]*\]' "$tmp/torwartd.log" | head -1 | tr -dc 0-9)
	signer_cpu0=$(cpu "$prov_signer")
	t0=$(date +%s.%N)
	half=$((n / 2))
	# Bulk by default: certificates signed in batches of 200 gateways (one signer round
	# trip, one store transaction each); PROVISION=single: gateway add's path per gateway.
	if [ "${PROVISION:-bulk}" = single ]; then pmode=(--single 1); else pmode=(--batch 200); fi
	/usr/bin/time -f '%U %S' -o "$tmp/prov1.time" \
		"$build/bench/bench_fleet_provision" --home "$home" --from 0 --to "$half" "${pmode[@]}" &
	p1=$!
	/usr/bin/time -f '%U %S' -o "$tmp/prov2.time" \
		"$build/bench/bench_fleet_provision" --home "$home" --from "$half" --to "$n" "${pmode[@]}"
	wait "$p1"
	t1=$(date +%s.%N)
	"$T" gateway set --home "$home" --gateways all --wakeup "127.0.0.1:$wu_port" >/dev/null
	t2=$(date +%s.%N)
	prov_cpu=$(cat "$tmp/prov1.time" "$tmp/prov2.time" | awk '{ s += $1 + $2 } END { print s }')
	signer_cpu=$(echo "$(cpu "$prov_signer") - $signer_cpu0" | bc)
	echo "provisioned $n gateways (keys, 3 certificates each via the signer, ${PROVISION:-bulk}) in $(echo "$t1 - $t0" | bc) s ($(echo "scale=0; $n / ($t1 - $t0)" | bc)/s), then gateway set --wakeup $(echo "$t2 - $t1" | bc) s (load average $(cut -d' ' -f1 /proc/loadavg))"
	echo "provisioning CPU:     $(echo "scale=2; 1000 * $prov_cpu / $n" | bc) ms per gateway in bench_fleet_provision, $(echo "scale=2; 1000 * $signer_cpu / $n" | bc) ms in the signer; projected on $(nproc) idle cores: $(echo "scale=0; $(nproc) * $n / ($prov_cpu + $signer_cpu)" | bc) gateways/s"
fi

# Idle cores over $1 seconds: the idle and iowait share of all CPU time in /proc/stat,
# times the cores. Unlike the load average (a decaying mean over minutes), it says what
# the machine has free now.
idle_cores() {
	local a b
	a=$(sed -n 's/^cpu  *//p' /proc/stat)
	sleep "$1"
	b=$(sed -n 's/^cpu  *//p' /proc/stat)
	awk -v n="$(nproc)" -v a="$a" -v b="$b" 'BEGIN { split(a, x); split(b, y)
		for (i = 1; i <= 8; i++) t += y[i] - x[i]
		printf "%.2f", (t > 0 ? n * (y[4] - x[4] + y[5] - x[5]) / t : 0) }'
}

if [ "$rate" = auto ]; then
	# Right after provisioning the load average still counts the provisioning (it said
	# 1.76 on an idle machine and halved the rate), and the freshly started stack may
	# still be busy with what provisioning left. So wait, at most 60 s, until 1.5 s of
	# /proc/stat show all but a third of a core idle, then measure raw OpenSSL and take
	# the idle cores of that moment.
	for _ in $(seq 1 40); do
		idle=$(idle_cores 1.5)
		[ "$(echo "$idle >= $(nproc) - 0.33" | bc -l)" = 1 ] && break
	done
	load=$(cut -d' ' -f1 /proc/loadavg)
	raw0=$(raw_rate 2)
	[ -n "$raw0" ] || { echo "bench_fleet: bench_handshake measured no raw handshake rate" >&2; exit 1; }
	cores_free=$(echo "c = $idle; if (c < 1) c = 1; c" | bc -l)
	rate=$(echo "r = 0.75 * $raw0 * $cores_free; if (r < 10) r = 10; if (r > 400) r = 400; scale=0; r / 1" | bc -l)
	echo "wake-up rate:         $rate/s = 0.75 x raw $raw0 full handshakes/s x $cores_free idle cores ($(nproc) cores, /proc/stat over 1.5 s; load average $load; RATE=N sets it)"
	set_rate "$rate"
	# The worker reads wakeup_rate at its start.
	kill -TERM "${pids[0]}" 2>/dev/null || true
	wait "${pids[0]}" 2>/dev/null || true
	start_stack
fi

rm -f "$tmp/sim.stats"   # a kept home still has the last run's
# --resume: like real gateways (TR-03116-3 allows 48 h), a simulated gateway resumes its
# last TLS session on its next contact; a first contact is always a full handshake.
"${SIM:-$S}" --home "$home" --count "$n" --listen-wakeup "127.0.0.1:$wu_port" --resume \
	--concurrency "$conc" --stats "$tmp/sim.stats" >"$tmp/sim.log" 2>&1 &
sim_pid=$!
pids+=("$sim_pid")
for _ in $(seq 1 600); do [ -s "$tmp/sim.stats" ] && break; sleep 0.1; done
# The current stack's processes: the last of each in the log (the stack may have been
# restarted with the measured rate).
wan_pid=$(grep -o 'wan\[[0-9]*\]' "$tmp/torwartd.log" | tail -1 | tr -dc 0-9)

# Peak established connections on the wan port, sampled every 100 ms.
( peak=0; while :; do c=$(ss -Htn state established "sport = :$wan_port" | wc -l)
	[ "$c" -gt "$peak" ] && peak=$c && echo "$peak" >"$tmp/peak"; sleep 0.1; done ) &
pids+=($!)

worker_pid=$(grep -o 'worker\[[0-9]*\]' "$tmp/torwartd.log" | tail -1 | tr -dc 0-9)
signer_pid=$(grep -o 'signer\[[0-9]*\]' "$tmp/torwartd.log" | tail -1 | tr -dc 0-9)
declare -A cpu0 cpud

# Follow fleet order $1 until every job is final, or until no job became final for
# $stall seconds (sessions that missed their deadline under load would otherwise keep
# the benchmark waiting for the 600 s job time-out). Sets order_end (the time the last
# job became final) and order_stalled (1 when it stopped for lack of progress).
stall=${STALL:-30}
follow_order() {
	local batch=$1 log=$2 last=-1 line fin total t_last
	t_last=$(date +%s.%N)
	order_stalled=0
	while :; do
		# Exit status 0/1: final, 5: still open after 2 s; a failed look (a busy store)
		# prints no count and is simply repeated.
		"$T" job wait --home "$home" --batch "$batch" --wait-timeout 2 >"$log.now" 2>/dev/null || true
		line=$(tail -n 1 "$log.now")
		[ -n "$line" ] && echo "$line" >>"$log" || sleep 1
		fin=$(echo "$line" | sed -n 's/^\([0-9]*\)\/\([0-9]*\) finished.*/\1/p')
		total=$(echo "$line" | sed -n 's/^\([0-9]*\)\/\([0-9]*\) finished.*/\2/p')
		if [ -n "$fin" ] && [ "$fin" != "$last" ]; then last=$fin; t_last=$(date +%s.%N); fi
		[ -z "$fin" ] || [ "$fin" != "$total" ] || break     # every job final
		if [ "$(echo "$(date +%s.%N) - $t_last >= $stall" | bc)" = 1 ]; then
			order_stalled=1
			break
		fi
	done
	order_end=$t_last
}

# One fleet order to every gateway, measured: wall time, jobs/s, CPU of each process.
run_order() {
	local label=$1 log=$2 batch t0 wall cpu_total=0 done_jobs open
	for p in "$wan_pid" "$worker_pid" "$signer_pid" "$sim_pid"; do cpu0[$p]=$(cpu "$p"); done
	stat0=$(sed -n 's/^cpu  *//p' /proc/stat)
	sessions0=$(/usr/bin/python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["sessions_ok"])' "$tmp/sim.stats")
	t0=$(date +%s.%N)
	batch=$("$T" job create --home "$home" --type "$type" --payload "$payload" --gateways all \
		--timeout 600 | sed -n 's/^fleet order \([0-9]*\) created.*/\1/p')
	[ -n "$batch" ] || { echo "bench_fleet: the fleet order was not created" >&2; exit 1; }
	follow_order "$batch" "$log"
	for p in "$wan_pid" "$worker_pid" "$signer_pid" "$sim_pid"; do
		cpud[$p]=$(echo "$(cpu "$p") - ${cpu0[$p]}" | bc)
		cpu_total=$(echo "$cpu_total + ${cpud[$p]}" | bc)
	done
	wall=$(echo "$order_end - $t0" | bc)
	stat1=$(sed -n 's/^cpu  *//p' /proc/stat)
	done_jobs=$(sq "select count(*) from jobs where state='done' and batch_id=$batch")
	sessions=$(/usr/bin/python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["sessions_ok"])' "$tmp/sim.stats")
	echo "---- $label"
	echo "progress:             $(tail -n 1 "$log")"
	if [ "$order_stalled" = 1 ]; then
		open=$(sq "select count(*) from jobs where batch_id=$batch and state in ('created','waking','awaiting-connection','sent')")
		echo "stopped waiting:      no job became final for $stall s; $open jobs still open (they end at their 600 s deadline); wall time up to the last final job"
	fi
	echo "wall time:            $wall s"
	echo "jobs done:            $done_jobs of $n ($(echo "scale=1; $done_jobs / $wall" | bc) jobs/s)"
	echo "handshakes:           $(echo "scale=1; ($sessions - $sessions0) / $wall" | bc)/s achieved"
	echo "CPU during the order: wan ${cpud[$wan_pid]} s, simulator ${cpud[$sim_pid]} s, worker ${cpud[$worker_pid]} s, signer ${cpud[$signer_pid]} s (load average $(cut -d' ' -f1 /proc/loadavg))"
	# The whole machine over the order (/proc/stat): what our processes' own CPU times miss
	# (loopback networking in softirq, PostgreSQL, this script's samplers).
	awk -v n="$(nproc)" -v a="$stat0" -v b="$stat1" 'BEGIN { split(a, x); split(b, y)
		for (i = 1; i <= 8; i++) t += y[i] - x[i]
		if (t > 0) printf "machine during it:    busy %.2f of %d cores (user %.2f, system %.2f, softirq %.2f, idle+iowait %.2f)\n",
			n * (t - (y[4] - x[4] + y[5] - x[5])) / t, n, n * (y[1] - x[1] + y[2] - x[2]) / t,
			n * (y[3] - x[3]) / t, n * (y[7] - x[7]) / t, n * (y[4] - x[4] + y[5] - x[5]) / t }'
	# Per job done: the CPU of jobs still open or failed (sessions that missed their
	# deadline, retries) is in the totals too, so dividing by all N would flatter a run
	# that did not finish. A run where some did not finish says so.
	if [ "$done_jobs" -gt 0 ]; then
		[ "$done_jobs" = "$n" ] && per="the $n jobs" ||
			per="the $done_jobs jobs done, not the $n ordered: the CPU of the unfinished ones is included"
		echo "CPU per job:          $(echo "scale=2; 1000 * $cpu_total / $done_jobs" | bc) ms all processes (simulator $(echo "scale=2; 1000 * ${cpud[$sim_pid]} / $done_jobs" | bc) ms, wan $(echo "scale=2; 1000 * ${cpud[$wan_pid]} / $done_jobs" | bc) ms), divided by $per"
		echo "projected on $(nproc) idle cores: $(echo "scale=0; $(nproc) * $done_jobs / $cpu_total" | bc) jobs/s (CPU-bound)"
	else
		echo "CPU per job:          no job done: nothing to divide by"
	fi
	echo "simulator:            $(cat "$tmp/sim.stats")"
}

perf_start() {
	svc_pids=$(grep -o '\(wan\|worker\|signer\)\[[0-9]*\]' "$tmp/torwartd.log" | tr -dc '0-9\n' |
		sort -u | paste -sd, -)
	# PostgreSQL: its backends (one per service connection) too.
	[ "$store" != pg ] || svc_pids="$svc_pids,$(pgrep -P "$(head -1 "$tmp/pg/data/postmaster.pid")" | paste -sd, -)"
	# DWARF unwinding: libcrypto is built without frame pointers, so -g (fp) stops at its
	# first frame and charges everything below to the OpenSSL function on top.
	perf record --call-graph dwarf,16384 -F "${PERF_FREQ:-199}" -o "$tmp/perf.data" \
		-p "$svc_pids,$sim_pid" >"$tmp/perf.log" 2>&1 &
	perf_pid=$!
}
perf_stop() {
	kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true
	# (head closes the pipe early: not a failure of the benchmark)
	echo "---- perf ($1): samples by process and library (wan/worker/signer are torwartd:PID, postgres the database)"
	{ perf report -i "$tmp/perf.data" --no-children --sort pid,dso --stdio -g none \
		2>/dev/null | grep -v '^#' | grep -v '^$' | head -24; } || true
	echo "---- perf ($1): top functions"
	{ perf report -i "$tmp/perf.data" --no-children --sort pid,sym --stdio -g none \
		2>/dev/null | grep -v '^#' | grep -v '^$' | head -30; } || true
	echo "---- perf ($1): inclusive (callees counted) per process and function, top 60"
	{ perf report -i "$tmp/perf.data" --children --sort pid,sym --stdio -g none \
		2>/dev/null | grep -v '^#' | grep -v '^$' | head -60; } || true
	[ -z "${PERF_KEEP:-}" ] || cp "$tmp/perf.data" "$PERF_KEEP.$2"
}

echo "fleet order: $type $payload to $n gateways, wake-ups paced at $rate/s, store $store, $(uptime | sed 's/.*load/load/')"
# 1. First contact: no gateway holds a session yet, every job is a full mutual-auth
#    handshake (certificate chains checked, ECDHE, two ECDSA signatures per side).
[ "${PERF:-0}" != 1 ] || [ "${PERF_ORDER:-resumed}" != first ] || perf_start
run_order "first contact: full handshakes" "$tmp/progress.log"
[ "${PERF:-0}" != 1 ] || [ "${PERF_ORDER:-resumed}" != first ] || perf_stop "first contact" first
echo "RSS (peak, VmHWM):    wan $(rss "$wan_pid"), simulator $(rss "$sim_pid"), worker $(rss "$worker_pid"), signer $(rss "$signer_pid")"
echo "peak connections:     wan side $(cat "$tmp/peak" 2>/dev/null || echo 0) established, sim side $(/usr/bin/python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["peak_in_flight"])' "$tmp/sim.stats") in flight"
echo "database size:        $(db_size) ($store)"
raw=$("$build/bench/bench_handshake" --home "$home" --count 20 --rounds 1 --seconds 3 \
	--gwa "127.0.0.1:$wan_port" 2>/dev/null | sed -n 's/^raw OpenSSL in memory.*full *\([0-9.]*\)\/s.*/\1/p')
echo "raw OpenSSL:          $raw full handshakes/s in memory (1 core, both ends; $(echo "scale=2; 1000 / $raw" | bc) ms each at this load), ceiling on $(nproc) cores $(echo "scale=0; $(nproc) * $raw / 1" | bc)/s"
# 2. In service (the default; RESUMED=0 skips it): a second order to the same fleet while
#    wan and simulator keep running. Every gateway now holds a TLS session from the first
#    (TR-03116-3 allows 48 h), so the handshakes are abbreviated (no certificate checks,
#    no ECDH, no signatures): this is how a fleet in service is ordered. PERF=1 profiles
#    this order (PERF_ORDER=first: the first-contact order instead).
if [ "${RESUMED:-1}" = 1 ]; then
	[ "${PERF:-0}" != 1 ] || [ "${PERF_ORDER:-resumed}" != resumed ] || perf_start
	run_order "in-service order: resumed TLS sessions" "$tmp/progress2.log"
	[ "${PERF:-0}" != 1 ] || [ "${PERF_ORDER:-resumed}" != resumed ] || perf_stop "in-service order" resumed
	echo "RSS (peak, VmHWM):    wan $(rss "$wan_pid"), simulator $(rss "$sim_pid"), worker $(rss "$worker_pid"), signer $(rss "$signer_pid")"
fi
# Stop the stack to read the wan's batching figures (written when its threads stop).
kill -TERM "${pids[0]}" 2>/dev/null || true
wait "${pids[0]}" 2>/dev/null || true
grep -o 'thread [0-9]*: [0-9]* order requests in [0-9]* batch transactions.*' "$tmp/torwartd.log" |
	sed 's/^/wan batching:         /' || true

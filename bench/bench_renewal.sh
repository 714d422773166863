#!/usr/bin/env bash
# bench_renewal.sh: certificate renewal of a fleet end to end (issue 12, UC-3.3.3): N
# simulated gateways each get a cert-request (new brainpool keys + CRMF renewal request),
# the worker checks, authorises (signer) and issues (local Sub-CA, signer), a cert-install,
# the proof by the next connection and, after the grace period, the revocation of the old
# certificates. Reports wall time, renewals/s and certificates/s, where the time goes (the
# phases from the admin log, CPU seconds of wan, worker, signer and the simulator), and
# the outcome per state.
#
#   bench/bench_renewal.sh [BUILD_DIR]
#   env: N (10000), RATE (wake-ups/s, 400), CONCURRENCY (256), FAULTS (e.g.
#        "--fault drop:10 --fault error:2"), RESTART=1 (stop and start the whole stack
#        mid-campaign), KEEP=1 (keep the home)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
n=${N:-10000}; rate=${RATE:-400}; conc=${CONCURRENCY:-256}
T="$build/src/cmd/torwart"; D="$build/src/cmd/torwartd"; S="$build/src/cmd/torwart-sim"
port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
cpu() { awk -v t="$(getconf CLK_TCK)" '{ print ($14 + $15) / t }' "/proc/$1/stat" 2>/dev/null || echo 0; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/torwart-renewal-bench.XXXXXX"); home=$tmp/home
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	[ "${KEEP:-0}" = 1 ] || rm -rf "$tmp"
}
trap cleanup EXIT
q() { sqlite3 -cmd ".timeout 10000" "$home/store.db" "$1"; }

wan_port=$(port); api_port=$(port); wu_port=$(port)
"$T" init --home "$home" --test-pki --wan-listen "127.0.0.1:$wan_port" \
	--api-listen "127.0.0.1:$api_port" >/dev/null 2>&1
sed -i 's/^max_connections = 20000$/&\nmax_connections_per_source = 20000/' "$home/torwart.conf"
# Each order waits order_timeout per attempt. The simulator's queue holds up to N gateways
# behind CONCURRENCY sessions, so at 10,000 a gateway may wait minutes for its turn: the
# timeout grows with N (20 s up to N = 800; 250 s at 10,000), else the tail of the campaign
# times out in the bench's queue rather than in the product.
order_timeout=$(( n / 40 > 20 ? n / 40 : 20 ))
printf '\n[worker]\nwakeup_rate = %s\njob_batch = 1000\n\n[renewal]\ntick_ms = 100\ngrace_period = 1\norder_timeout = %s\norder_retry_delay = 2\norder_attempts = 6\n' \
	"$rate" "$order_timeout" >>"$home/torwart.conf"
start_stack() {
	"$D" --home "$home" all >>"$tmp/torwartd.log" 2>&1 &
	sup=$!; pids+=("$sup")
	for _ in $(seq 1 200); do ss -ltn "sport = :$wan_port" | grep -q LISTEN && break; sleep 0.1; done
}
start_stack
t0=$(date +%s.%N)
half=$((n / 2))
"$build/bench/bench_fleet_provision" --home "$home" --from 0 --to "$half" --batch 200 &
p1=$!
"$build/bench/bench_fleet_provision" --home "$home" --from "$half" --to "$n" --batch 200
wait "$p1"
"$T" gateway set --home "$home" --gateways all --wakeup "127.0.0.1:$wu_port" >/dev/null 2>&1
echo "provisioned $n gateways in $(echo "$(date +%s.%N) - $t0" | bc) s"

# shellcheck disable=SC2086
"$S" --home "$home" --count "$n" --listen-wakeup "127.0.0.1:$wu_port" --concurrency "$conc" \
	--stats "$tmp/sim.stats" ${FAULTS:-} >"$tmp/sim.log" 2>&1 &
sim_pid=$!; pids+=("$sim_pid")
for _ in $(seq 1 600); do [ -s "$tmp/sim.stats" ] && break; sleep 0.1; done
svc() { grep -o " $1\[[0-9]*\]" "$tmp/torwartd.log" | tail -1 | tr -dc 0-9; }
declare -A cpu0
for s in wan worker signer; do cpu0[$s]=$(cpu "$(svc "$s")"); done
sim0=$(cpu "$sim_pid")

echo "fleet renewal of $n gateways, wake-ups paced at $rate/s, order timeout ${order_timeout} s x 6 attempts${FAULTS:+, faults: $FAULTS}"
t0=$(date +%s.%N)
"$T" gateway renew --home "$home" --gateways all >"$tmp/start.log" 2>&1
first=$(sed -n 's/.*first id \([0-9]*\).*/\1/p' "$tmp/start.log")
if [ "${RESTART:-0}" = 1 ]; then
	sleep 5
	declare -A cpu1
	for s in wan worker signer; do cpu1[$s]=$(echo "$(cpu "$(svc "$s")") - ${cpu0[$s]}" | bc); done
	kill -TERM "$sup"; wait "$sup" 2>/dev/null || true
	echo "stack stopped and restarted after 5 s"
	start_stack
	for s in wan worker signer; do cpu0[$s]=$(echo "$(cpu "$(svc "$s")") - ${cpu1[$s]}" | bc); done
fi
while [ "$(q "SELECT count(*) FROM renewals WHERE id >= $first AND state NOT IN ('completed','failed')")" != 0 ]; do
	sleep 1
done
t1=$(date +%s.%N)
wall=$(echo "$t1 - $t0" | bc)
completed=$(q "SELECT count(*) FROM renewals WHERE state = 'completed'")
failed=$(q "SELECT count(*) FROM renewals WHERE state = 'failed'")
echo "wall time:            $wall s"
echo "renewals:             $completed completed, $failed failed of $n ($(echo "scale=1; $completed / $wall" | bc) renewals/s, $(echo "scale=1; 3 * $completed / $wall" | bc) certificates/s)"
q "SELECT error_code, count(*) FROM renewals WHERE state = 'failed' GROUP BY error_code" |
	sed 's/^/  failed: /'
# Phases from the admin log (median seconds per renewal between its entries).
phase() { # from-action to-action
	q "SELECT (julianday(b.time) - julianday(a.time)) * 86400 FROM admin_log a JOIN admin_log b
	   ON b.object = a.object AND b.action = '$2' WHERE a.action = '$1' ORDER BY 1" |
	awk '{ v[NR] = $1 } END { p = int(NR * 0.9); if (p < 1) p = 1
		if (NR) printf "%.2f s median, %.2f s p90\n", v[int((NR + 1) / 2)], v[p]; else print "-" }'
}
echo "start -> request:     $(phase renewal.start renewal.received)"
echo "request -> issued:    $(phase renewal.received renewal.issued)   (checks, authorisation, issuance: worker + signer)"
echo "issued -> installed:  $(phase renewal.issued renewal.installed)"
echo "installed -> proof:   $(phase renewal.installed renewal.confirmed)"
echo "proof -> completed:   $(phase renewal.confirmed renewal.completed)   (grace period 1 s + revocation)"
printf 'CPU seconds:          wan %s, worker %s, signer %s, simulator %s\n' \
	"$(echo "$(cpu "$(svc wan)") - ${cpu0[wan]}" | bc)" \
	"$(echo "$(cpu "$(svc worker)") - ${cpu0[worker]}" | bc)" \
	"$(echo "$(cpu "$(svc signer)") - ${cpu0[signer]}" | bc)" \
	"$(echo "$(cpu "$sim_pid") - $sim0" | bc)"
echo "simulator:            $(cat "$tmp/sim.stats")"
"$T" audit verify --home "$home" >/dev/null 2>&1 && echo "admin log verifies" || echo "ADMIN LOG DOES NOT VERIFY"

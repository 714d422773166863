#!/usr/bin/env bash
# bench_gateway_crls.sh: the worker's automatic CRL push to a fleet (issue 12, UC-3.3.3;
# docs/renewal.md "Automatic push"). N simulated gateways (provisioned in bulk, woken by
# signed wake-ups) receive the home's CRLs without an operator command:
#   round 1: the first push after the start (every gateway is due);
#   round 2: a new CRL (as after a revocation), which the worker pushes again to every
#            gateway.
# Reports per round the time until every gateway has its crl-update job (the worker's
# pacing: crl_push_batch per tenant and step, crl_push_pace between steps), until every
# job is done (wake-ups through the token buckets, TLS, the gateway verifying the CRL),
# the worker's and wan's CPU seconds, the load average and raw OpenSSL's handshake rate
# measured in the same run (the machine may be shared).
#
#   bench/bench_gateway_crls.sh [BUILD_DIR]
#   env: N (1000), RATE (wake-ups/s, 400), CONCURRENCY (256), BATCH (200), PACE (s, 5),
#        KEEP=1 (keep the home)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
n=${N:-1000}; rate=${RATE:-400}; conc=${CONCURRENCY:-256}; batch=${BATCH:-200}
pace=${PACE:-5}
T="$build/src/cmd/torwart"; D="$build/src/cmd/torwartd"; S="$build/src/cmd/torwart-sim"
port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
cpu() { awk -v t="$(getconf CLK_TCK)" '{ print ($14 + $15) / t }' "/proc/$1/stat" 2>/dev/null || echo 0; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/torwart-crls-bench.XXXXXX"); home=$tmp/home
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	[ "${KEEP:-0}" = 1 ] || rm -rf "$tmp"
}
trap cleanup EXIT
q() { sqlite3 -cmd ".timeout 10000" "$home/store.db" "$1"; }
now() { date +%s.%N; }

wan_port=$(port); api_port=$(port); wu_port=$(port)
"$T" init --home "$home" --test-pki --wan-listen "127.0.0.1:$wan_port" \
	--api-listen "127.0.0.1:$api_port" >/dev/null 2>&1
sed -i 's/^max_connections = 20000$/&\nmax_connections_per_source = 20000/' "$home/torwart.conf"
# The first scan 2 s after the worker starts, then every 2 s while idle.
printf '\n[worker]\nwakeup_rate = %s\njob_batch = 1000\n\n[renewal]\ncrl_push_scan = 2\ncrl_push_batch = %s\ncrl_push_pace = %s\n' \
	"$rate" "$batch" "$pace" >>"$home/torwart.conf"
half=$((n / 2))
"$build/bench/bench_fleet_provision" --home "$home" --from 0 --to "$half" --batch 200 &
p1=$!
"$build/bench/bench_fleet_provision" --home "$home" --from "$half" --to "$n" --batch 200
wait "$p1"
"$T" gateway set --home "$home" --gateways all --wakeup "127.0.0.1:$wu_port" >/dev/null 2>&1
"$S" --home "$home" --count "$n" --listen-wakeup "127.0.0.1:$wu_port" --concurrency "$conc" \
	--stats "$tmp/sim.stats" >"$tmp/sim.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 600); do [ -s "$tmp/sim.stats" ] && break; sleep 0.1; done

echo "bench_gateway_crls: N=$n gateways, batch $batch per step, pace $pace s, wake-ups $rate/s, $(nproc) cores, $(uptime | sed 's/.*load/load/')"
t_start=$(now)
"$D" --home "$home" all >>"$tmp/torwartd.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 200); do ss -ltn "sport = :$wan_port" | grep -q LISTEN && break; sleep 0.1; done
svc() { grep -o " $1\[[0-9]*\]" "$tmp/torwartd.log" | tail -1 | tr -dc 0-9; }

round() { # name since-ms t0
	local since=$2 t0=$3 ordered done w0 n0 t1 t2
	w0=$(cpu "$(svc worker)"); n0=$(cpu "$(svc wan)")
	while [ "$(q "SELECT count(*) FROM jobs WHERE type='crl-update' AND created_ms >= $since")" -lt "$n" ]; do
		sleep 0.2
	done
	t1=$(now)
	while [ "$(q "SELECT count(*) FROM jobs WHERE type='crl-update' AND created_ms >= $since AND state IN ('done','failed','timed-out')")" -lt "$n" ]; do
		sleep 0.5
	done
	t2=$(now)
	ordered=$(echo "$t1 - $t0" | bc); done=$(echo "$t2 - $t0" | bc)
	echo "$1:"
	echo "  every gateway ordered:  $ordered s ($(echo "scale=1; $n / $ordered" | bc) jobs/s created)"
	echo "  every job final:        $done s ($(q "SELECT count(*) FROM jobs WHERE type='crl-update' AND created_ms >= $since AND state = 'done'") done, $(q "SELECT count(*) FROM jobs WHERE type='crl-update' AND created_ms >= $since AND state <> 'done'") not)"
	echo "  CPU seconds:            worker $(echo "$(cpu "$(svc worker)") - $w0" | bc), wan $(echo "$(cpu "$(svc wan)") - $n0" | bc)"
	echo "  crl.push entries:       $(q "SELECT count(*) FROM admin_log WHERE action='crl.push' AND (julianday(time) - 2440587.5) * 86400000 >= $since")"
}
round "round 1 (first push after the start; worker start included)" 0 "$t_start"
since=$(date +%s%3N); t0=$(now)
# A new CRL as after a revocation (revoking a gateway's own certificate would lock that
# gateway out and leave its job to time out).
"$T" ca crl --home "$home" >/dev/null 2>&1
round "round 2 (a new CRL, pushed again to every gateway)" "$since" "$t0"
raw=$("$build/bench/bench_handshake" --home "$home" --count 20 --rounds 1 --seconds 3 \
	--gwa "127.0.0.1:$wan_port" 2>/dev/null | sed -n 's/^raw OpenSSL in memory.*full *\([0-9.]*\)\/s.*/\1/p')
echo "raw OpenSSL:              ${raw:-?} full handshakes/s in memory (1 core, same run), $(uptime | sed 's/.*load/load/')"
"$T" audit verify --home "$home" >/dev/null 2>&1 && echo "admin log verifies" || echo "ADMIN LOG DOES NOT VERIFY"

#!/usr/bin/env bash
# bench_exhaustion.sh: latency of a legitimate gateway session (torwart-sim, full mTLS
# handshake + POST /v1/session) and of a legitimate operator session (torwart login +
# gateway list through the api) without and with a connection-exhaustion attack, in the
# same run on the same home: 2,000 trickling connections against the wan and 2,000
# against the operator api (tests/integration/trickle.py: one ClientHello byte every
# 3 s per connection, 1,000 from one address and one each from 1,000 addresses, closed
# connections reopened after 1 s). The figure of merit is the attacked latency next to
# the unattacked baseline.
#
# The daemons run with a soft descriptor limit of 1024 (the systemd default) and caps
# below the attack size ([wan] max_connections = 1000, [api] max_connections = 500),
# so shedding and the per-source limits are exercised, not just spare capacity.
#
#   bench/bench_exhaustion.sh [BUILD_DIR]    env: N (sessions per phase, 20), KEEP=1
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
n=${N:-20}
T=$build/src/cmd/torwart
D=$build/src/cmd/torwartd
S=$build/src/cmd/torwart-sim
tmp=$(mktemp -d "${TMPDIR:-/tmp}/torwart-bench-exh.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ "${KEEP:-0}" = 1 ] || rm -rf "$tmp"
}
trap cleanup EXIT
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WAN_PORT=$(port); API_PORT=$(port); TLS_PORT=$(port)
H=$tmp/home
"$T" init --home "$H" --test-pki --wan-listen "127.0.0.1:$WAN_PORT" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT" >/dev/null 2>&1
sed -i -e '/^max_connections *=/d' \
	-e '/^\[wan\]$/a max_connections = 1000' -e '/^\[api\]$/a max_connections = 500' "$H/torwart.conf"
printf 'password-of-bench\n' >"$tmp/op.pw"
"$T" operator add --home "$H" --name bench --tenant alpha --password-file "$tmp/op.pw" \
	--roles gateway-operator --out "$tmp/op" >/dev/null 2>&1
"$T" gateway add --home "$H" --id SMGW-BENCH-01 >/dev/null 2>&1
"$T" gateway set --home "$H" --gateway SMGW-BENCH-01 --move-tenant alpha >/dev/null 2>&1
( ulimit -Sn 1024; exec "$D" --home "$H" all ) >"$tmp/torwartd.log" 2>&1 &
pids+=("$!")
for _ in $(seq 100); do
	ss -ltn "sport = :$TLS_PORT" | grep -q LISTEN && ss -ltn "sport = :$WAN_PORT" | grep -q LISTEN && break
	sleep 0.1
done

# One phase: n gateway sessions and n operator sessions, each timed (failures = 60 s).
phase() {
	local label=$1 i t0 ok
	: >"$tmp/gw.$label"; : >"$tmp/op.$label"
	for i in $(seq "$n"); do
		t0=$EPOCHREALTIME
		ok=1
		timeout 60 "$S" --gwa "127.0.0.1:$WAN_PORT" --gateways "$H/gateways/SMGW-BENCH-01" \
			>/dev/null 2>&1 || ok=0
		awk -v a="$t0" -v b="$EPOCHREALTIME" -v ok=$ok 'BEGIN{print ok ? (b-a)*1000 : 60000}' >>"$tmp/gw.$label"
		t0=$EPOCHREALTIME
		ok=1
		{ timeout 60 "$T" login --api "https://127.0.0.1:$TLS_PORT" --cert "$tmp/op/bench.crt" \
			--key "$tmp/op/bench.key" --password-file "$tmp/op.pw" --token-file "$tmp/op.session" &&
		  timeout 60 "$T" gateway list --token-file "$tmp/op.session" | grep -q SMGW-BENCH-01; } \
			>/dev/null 2>&1 || ok=0
		awk -v a="$t0" -v b="$EPOCHREALTIME" -v ok=$ok 'BEGIN{print ok ? (b-a)*1000 : 60000}' >>"$tmp/op.$label"
	done
}
stats() { # FILE -> "median p95 max failures"
	sort -n "$1" | awk '{v[NR]=$1; if ($1 >= 60000) f++} END {
		printf "median %7.1f ms  p95 %7.1f ms  max %7.1f ms  failed %d/%d",
			v[int((NR+1)/2)], v[int(NR*0.95+0.999)], v[NR], f, NR }'
}

phase base
/usr/bin/python3 "$src/tests/integration/trickle.py" --target "127.0.0.1:$WAN_PORT" \
	--sources "127.0.0.2*1000,127.1.0.0/1000" --duration 3600 >"$tmp/trickle-wan" 2>&1 &
pids+=("$!")
/usr/bin/python3 "$src/tests/integration/trickle.py" --target "127.0.0.1:$TLS_PORT" \
	--sources "127.0.0.3*1000,127.2.0.0/1000" --duration 3600 >"$tmp/trickle-api" 2>&1 &
pids+=("$!")
sleep 12   # past the first handshake deadline (10 s): attackers reconnecting at full rate
held_wan=$(ss -Htn state established "( sport = :$WAN_PORT )" | wc -l)
held_api=$(ss -Htn state established "( sport = :$TLS_PORT )" | wc -l)
phase attack

echo "bench_exhaustion: $n sessions per phase; attack = 2,000 trickling connections per listener"
echo "  established under attack: wan $held_wan (cap 1000), api $held_api (cap 500)"
printf '  gateway session   no attack: %s\n' "$(stats "$tmp/gw.base")"
printf '  gateway session   attack   : %s\n' "$(stats "$tmp/gw.attack")"
printf '  operator session  no attack: %s\n' "$(stats "$tmp/op.base")"
printf '  operator session  attack   : %s\n' "$(stats "$tmp/op.attack")"
grep -h "connection guard" "$tmp/torwartd.log" | tail -2 | sed 's/^/  /' | cut -c1-260

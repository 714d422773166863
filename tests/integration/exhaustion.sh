#!/usr/bin/env bash
# exhaustion.sh: issue 9, connection exhaustion. 2,000 trickling connections against
# the wan and 2,000 against the operator api (one ClientHello byte every 3 s each, from
# one address and from 1,000 addresses), while a real gateway (torwart-sim) and a real
# operator (torwart CLI through the api) must still complete their sessions within
# BOUND seconds. The daemons run with the common soft descriptor limit of 1024 (systemd's
# default), as in the reported attack. Before the fix the wan stopped accepting at
# max_connections and the api ran out of descriptors: both legitimate sessions failed.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-exhaust-XXXXXX)
H="$T/home"
trap 'for p in "${attackers[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; finish; exit $?' EXIT
attackers=()
BOUND=${EXHAUSTION_BOUND:-20}
TRICKLE="$(dirname "$0")/trickle.py"

if [ ! -x /usr/bin/python3 ]; then
	echo "SKIP: /usr/bin/python3 (Debian's interpreter) is required for the attacking client"; exit 77
fi
# The attacker needs ~4,000 descriptors; the daemons get their own limit below.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4200 ]; then
	echo "open-file limit $(ulimit -n) is too low for 4,000 connections; skipping"; exit 77
fi

WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)
WAN="127.0.0.1:$WAN_PORT"
API="https://127.0.0.1:$TLS_PORT"
check "init" "$TORWART" init --home "$H" --test-pki --wan-listen "$WAN" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"
# Caps below the attack size, so the attack reaches them; short deadlines for a short test.
sed -i -e '/^max_connections *=/d' \
	-e '/^\[wan\]$/a max_connections = 1000\nhandshake_timeout = 5\nrequest_timeout = 10' \
	-e '/^\[api\]$/a max_connections = 500\nhandshake_timeout = 5\nrequest_timeout = 10' \
	"$H/torwart.conf"
bootstrap_operators "$H" "$T" op:alpha:gateway-operator
bootstrap_gateways "$H" "$T" SMGW-EX-0001:alpha
G="$T/SMGW-EX-0001"

# The daemons with a soft limit of 1024 descriptors (hard limit unchanged).
( ulimit -Sn 1024; exec "$TORWARTD" --home "$H" all ) >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "wan listens" wait_port 127.0.0.1 "$WAN_PORT" 20
check "operator API listens" wait_port 127.0.0.1 "$TLS_PORT" 20

# One gateway session and one operator session; prints the seconds they took.
gateway_session() {
	local t0=$EPOCHREALTIME
	timeout "$BOUND" "$SIM" --gwa "$WAN" --gateways "$G" >>"$T/log" 2>&1 || return 1
	echo "gateway $(awk "BEGIN{printf \"%.2f\", $EPOCHREALTIME - $t0}")" >>"$T/times"
}
operator_session() {
	local t0=$EPOCHREALTIME
	timeout "$BOUND" "$TORWART" login --api "$API" --cert "$T/op/op.crt" --key "$T/op/op.key" \
		--password-file "$T/op.pw" --token-file "$T/op.session" >>"$T/log" 2>&1 || return 1
	timeout "$BOUND" "$TORWART" gateway list --token-file "$T/op.session" >"$T/out" 2>&1 || return 1
	grep -q SMGW-EX-0001 "$T/out" || return 1
	echo "operator $(awk "BEGIN{printf \"%.2f\", $EPOCHREALTIME - $t0}")" >>"$T/times"
}
check "baseline: gateway session" gateway_session
check "baseline: operator session (login + gateway list)" operator_session

# ---- the attack: 2,000 trickling connections against each listener
/usr/bin/python3 "$TRICKLE" --target "$WAN" --sources "127.0.0.2*1000,127.1.0.0/1000" --duration 300 \
	>"$T/trickle-wan.out" 2>&1 &
attackers+=("$!")
/usr/bin/python3 "$TRICKLE" --target "127.0.0.1:$TLS_PORT" --sources "127.0.0.3*1000,127.2.0.0/1000" \
	--duration 300 >"$T/trickle-api.out" 2>&1 &
attackers+=("$!")
# Past the first handshake deadline: the attackers are reconnecting at full pressure.
sleep 8
wan_conns=$(ss -Htn state established "( sport = :$WAN_PORT )" | wc -l)
echo "# under attack: $wan_conns connections established on the wan port (cap 1000)"
check "attack is running (hundreds of connections on the wan port)" test "$wan_conns" -ge 300
for i in 1 2 3; do
	check "under attack: gateway session $i completes within ${BOUND} s" gateway_session
	check "under attack: operator session $i completes within ${BOUND} s" operator_session
done
# held SPORT DST: established connections from DST that a torwartd process holds (has
# accepted). Connections still in the kernel's accept queue belong to no process: the
# queue (backlog 128 of an evhttp listener, 1024 per wan loop) is not the guard's to limit,
# and counting it once gave 208 for a per-source limit of 32. Empty when ss cannot name
# the sockets' process (a non-dumpable daemon of another user).
held() {
	local all n
	all=$(ss -Htnp state established "( sport = :$1 and dst $2 )")
	grep -q 'users:' <<<"$all" || return 0
	n=$(grep -c '"torwartd"' <<<"$all")
	echo "$n"
}
from_one=$(held "$WAN_PORT" 127.0.0.2)
[ -n "$from_one" ] || from_one=$(ss -Htn state established "( sport = :$WAN_PORT and dst 127.0.0.2 )" | wc -l)
echo "# connections from 127.0.0.2 held by the wan: $from_one (per-source limit 256)"
check "per-source limit: one address holds at most 256 (+ in flight) wan connections" \
	test "$from_one" -le 300
api_one=$(held "$TLS_PORT" 127.0.0.3)
api_queued=$(ss -Htn state established "( sport = :$TLS_PORT and dst 127.0.0.3 )" | wc -l)
echo "# connections from 127.0.0.3 held by the api: ${api_one:-?} (per-source limit 32), established in all (with the accept queue): $api_queued"
# Held: the admitted ones (at most 32) plus the last accept burst, which the guard admits
# (or refuses) on the loop's next turn: about the listener's backlog of 129 (161 in all).
# Without process names only the total is known: the accept queue adds up to 129 more.
# Before the per-source limit it was all 1000.
if [ -n "$api_one" ]; then
	check "per-source limit: one address holds at most 32 + one accept burst of api connections" \
		test "$api_one" -le 200
else
	check "per-source limit: one address has at most 32 + one accept burst + the accept queue" \
		test "$api_queued" -le 330
fi
sleep 2
check "the wan reports shed and refused connections" \
	grep -q "wan: connection guard: .* unauthenticated shed" "$T/torwartd.log"
check "the api reports shed and refused connections" \
	grep -q "api: connection guard: .* unauthenticated shed" "$T/torwartd.log"
check "the per-source limits refused connections on both listeners" \
	bash -c "grep 'connection guard:' '$T/torwartd.log' | grep -v ' 0 refused (per-source' | grep -q '^.*wan: ' &&
		grep 'connection guard:' '$T/torwartd.log' | grep -v ' 0 refused (per-source' | grep -q 'api: '"
for p in "${attackers[@]}"; do kill "$p" 2>/dev/null; done
for p in "${attackers[@]}"; do wait "$p" 2>/dev/null; done
cat "$T"/trickle-*.out
attackers=()
check "no service crashed" bash -c "! grep -q 'killed by signal' '$T/torwartd.log'"
check "after the attack: gateway session" gateway_session
echo "# session seconds (baseline first, then under attack, then after):"
sed 's/^/#   /' "$T/times"
finish

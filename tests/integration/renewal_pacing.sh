#!/usr/bin/env bash
# renewal_pacing.sh: issue 12, a fleet renewal is paced by the wake-up token buckets
# ([worker] wakeup_rate/wakeup_burst, per tenant wakeup_tenant_rate/_burst; T-WU.4,
# docs/jobs.md): `gateway renew --gateways all` for 40 gateways at 4 wake-ups/s (burst
# 4) releases its cert-request orders no faster than the buckets allow. Measured from
# the admin log: every "job.waking" entry of the campaign (one per order and attempt),
# counted in every window of one second that starts at an entry; at most burst + rate
# (8) plus one for the clock's millisecond rounding, and the whole campaign spread over
# at least (40 - burst) / rate = 9 s (less 1 s of slack). The same fleet order at the
# default rate (200/s) is released in one tick: the check can fail. The worker's own
# CRL push is off ([renewal] crl_push_interval = 0): its orders would queue ahead of the
# campaign's on the same gateways. Then one tenant's
# bucket alone (wakeup_tenant_rate 2, burst 2, the global rate at its default): 10
# gateways of that tenant, at most 5 per second, spread over at least 3 s.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-renewal-pacing-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

N=40 RATE=4 BURST=4
WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)
q() { sqlite3 "$H/store.db" "$1"; }
start_stack() {
	"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
	SUP=$!; pids_to_kill+=("$SUP")
	wait_port 127.0.0.1 "$WAN_PORT" 20
}
stop_stack() { kill -TERM "$SUP"; for _ in $(seq 1 100); do kill -0 "$SUP" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
# The job.waking times (seconds, with milliseconds) after the admin-log entry $1 (seq).
# Only the renewals' orders (cert-request): the worker's own CRL push orders are paced
# by the same buckets but are not this campaign.
RENEWAL_JOBS="object IN (SELECT 'job:' || id FROM jobs WHERE type = 'cert-request')"
waking_times() {
	q "SELECT (julianday(time) - 2440587.5) * 86400.0 FROM admin_log WHERE action = 'job.waking' AND seq > $1 AND $RENEWAL_JOBS ORDER BY seq"
}
waking_count() { q "SELECT count(*) FROM admin_log WHERE action = 'job.waking' AND seq > $1 AND $RENEWAL_JOBS"; }
wait_waking() { # after count seconds
	local end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do [ "$(waking_count "$1")" -ge "$2" ] && return 0; sleep 0.3; done
	echo "only $(waking_count "$1") of $2 orders released" >>"$T/log"; return 1
}
# max entries in a one-second window, and first-to-last spread, of the times on stdin
window_stats() {
	/usr/bin/python3 -c '
import sys
t = [float(x) for x in sys.stdin.read().split()]
peak = max(sum(1 for u in t if s <= u < s + 1.0) for s in t) if t else 0
print(peak, round(t[-1] - t[0], 3) if t else 0)'
}

check "torwart init --test-pki" "$TORWART" init --home "$H" --test-pki \
	--wan-listen "127.0.0.1:$WAN_PORT" --api-listen "127.0.0.1:$API_PORT" \
	--api-tls-listen "127.0.0.1:$TLS_PORT"
for i in $(seq 1 $N); do
	"$TORWART" gateway add --home "$H" --id "GW-$i" >>"$T/log" 2>&1 || bad "gateway add GW-$i"
done
check "$N gateways" test "$(q "SELECT count(*) FROM gateways")" = "$N"
# No wake-up address: an order takes its tokens all the same and waits for the gateway.
printf '\n[worker]\njob_tick_ms = 50\nwakeup_rate = %s\nwakeup_burst = %s\n\n[renewal]\ntick_ms = 100\nrenew_before_days = 0\ncrl_push_interval = 0\n' \
	"$RATE" "$BURST" >>"$H/torwart.conf"
check "torwartd all starts" start_stack

seq0=$(q "SELECT max(seq) FROM admin_log")
t0=$SECONDS
check "gateway renew --gateways all: $N renewals" bash -c \
	"'$TORWART' gateway renew --home '$H' --gateways all | grep -q 'renewals started for $N gateways'"
check "... $N cert-request orders" test "$(q "SELECT count(*) FROM jobs WHERE type = 'cert-request'")" = "$N"
check "every order released (job.waking) within 30 s" wait_waking "$seq0" "$N" 30
took=$((SECONDS - t0))
read -r peak spread < <(waking_times "$seq0" | window_stats)
limit=$((BURST + RATE + 1))
check "at most $limit orders released in any one-second window (peak $peak, rate $RATE/s, burst $BURST)" \
	test "$peak" -le "$limit"
check "the campaign spread over >= $(( (N - BURST) / RATE - 1 )) s (first to last: ${spread} s)" \
	/usr/bin/python3 -c "assert $spread >= $(( (N - BURST) / RATE - 1 ))"
echo "# $N orders at $RATE/s burst $BURST: peak $peak per second, spread $spread s, $took s wall" >>"$T/log"
check "stack stops" stop_stack

# ---- the same campaign at the default rate: released together (the check above can fail)
sed -i "/^wakeup_rate = $RATE$/d; /^wakeup_burst = $BURST$/d" "$H/torwart.conf"
q "UPDATE jobs SET state = 'cancelled' WHERE state NOT IN ('done', 'failed', 'timed-out', 'cancelled')" >>"$T/log" 2>&1
q "UPDATE renewals SET state = 'failed', error_code = 'test' WHERE state NOT IN ('completed', 'failed')" >>"$T/log" 2>&1
check "torwartd all starts (default rate)" start_stack
seq1=$(q "SELECT max(seq) FROM admin_log")
check "gateway renew --gateways all again" bash -c \
	"'$TORWART' gateway renew --home '$H' --gateways all | grep -q 'renewals started for $N gateways'"
check "every order released within 30 s" wait_waking "$seq1" "$N" 30
read -r peak1 spread1 < <(waking_times "$seq1" | window_stats)
check "unpaced, more than $limit are released in one second (peak $peak1, spread ${spread1} s)" \
	test "$peak1" -gt "$limit"
check "stack stops" stop_stack

# ---- one tenant's bucket: 10 gateways of acme at 2/s (burst 2), the global rate default
q "UPDATE jobs SET state = 'cancelled' WHERE state NOT IN ('done', 'failed', 'timed-out', 'cancelled')" >>"$T/log" 2>&1
q "UPDATE renewals SET state = 'failed', error_code = 'test' WHERE state NOT IN ('completed', 'failed')" >>"$T/log" 2>&1
check "GW-1..GW-10 move to tenant acme" "$TORWART" gateway set --home "$H" \
	--gateways "$(seq -s, -f 'GW-%g' 1 10)" --move-tenant acme
printf '\n[worker]\nwakeup_tenant_rate = 2\nwakeup_tenant_burst = 2\n' >>"$H/torwart.conf"
check "torwartd all starts (acme: 2/s)" start_stack
seq2=$(q "SELECT max(seq) FROM admin_log")
check "gateway renew --tenant acme: 10 renewals" bash -c \
	"'$TORWART' gateway renew --home '$H' --tenant acme | grep -q 'renewals started for 10 gateways'"
check "every order released within 30 s" wait_waking "$seq2" 10 30
read -r peak2 spread2 < <(waking_times "$seq2" | window_stats)
check "at most 5 in any one-second window (peak $peak2: tenant rate 2, burst 2, +1)" test "$peak2" -le 5
check "spread over >= 3 s (first to last: ${spread2} s)" /usr/bin/python3 -c "assert $spread2 >= 3"
check "stack stops" stop_stack
check "the admin log verifies" "$TORWART" audit verify --home "$H"

#!/usr/bin/env bash
# renewal_window.sh: issue 12, renewal scheduled from expiry with a window per tenant
# ([renewal] renew_before_days.<tenant> next to the global renew_before_days): a gateway
# whose TLS certificate ends in 30 days gets an automatic renewal in the tenant with a
# 45-day window and not in the one with 20 days; a tenant without its own value uses
# the global one; a window for a tenant that does not exist stops the worker at start
# with a config error naming the key.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-renewal-window-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port)
q() { sqlite3 "$H/store.db" "$1"; }
expiry_renewals() { q "SELECT gateway_id FROM renewals WHERE reason = 'expiry' ORDER BY gateway_id" | paste -sd, -; }
ends_in_days() { # gateway days: its valid TLS certificate ends then (as if issued long ago)
	q "UPDATE certificates SET not_after = $(( $(date +%s) + $2 * 86400 )) WHERE owner_id = '$1' AND usage = 'TLS' AND status = 'valid'"
}

check "torwart init --test-pki" "$TORWART" init --home "$H" --test-pki \
	--wan-listen "127.0.0.1:$WAN_PORT" --api-listen "127.0.0.1:$API_PORT"
for g in GW-A GW-B GW-C GW-D; do check "gateway add $g" "$TORWART" gateway add --home "$H" --id "$g"; done
check "GW-A moves to tenant acme" "$TORWART" gateway set --home "$H" --gateway GW-A --move-tenant acme
check "GW-B moves to tenant beta" "$TORWART" gateway set --home "$H" --gateway GW-B --move-tenant beta
for g in GW-A GW-B GW-C; do ends_in_days "$g" 30; done
ends_in_days GW-D 5
check "four TLS certificates end within 30 days" \
	test "$(q "SELECT count(*) FROM certificates WHERE usage = 'TLS' AND status = 'valid' AND not_after < $(( $(date +%s) + 31 * 86400 ))")" = 4

# ---- a window for a tenant that does not exist: config error at the worker's start
start_stack() {
	"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
	SUP=$!; pids_to_kill+=("$SUP")
	wait_port 127.0.0.1 "$WAN_PORT" 20
}
stop_stack() { kill -TERM "$SUP"; for _ in $(seq 1 100); do kill -0 "$SUP" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
logged() { # text: in torwartd.log within 20 s
	local end=$((SECONDS + 20))
	while [ $SECONDS -lt $end ]; do grep -qF "$1" "$T/torwartd.log" && return 0; sleep 0.2; done
	return 1
}
cp "$H/torwart.conf" "$T/torwart.conf.orig"
printf '\n[renewal]\ntick_ms = 100\nrenew_before_days.acme = 45\nrenew_before_days.nosuch = 5\n' >>"$H/torwart.conf"
check "torwartd all starts (wan)" start_stack
check "the worker refuses to start: a config error naming the key and the tenant" \
	logged 'renew_before_days.nosuch: there is no tenant "nosuch"'
check "... and nothing was scheduled" test -z "$(expiry_renewals)"
check "stack stops" stop_stack
cp "$T/torwart.conf.orig" "$H/torwart.conf"
printf '\n[renewal]\ntick_ms = 100\nrenew_before_days.acme = 3651\n' >>"$H/torwart.conf"
: >"$T/torwartd.log"
check "torwartd all starts (wan)" start_stack
check "an out-of-range window refuses the worker's start too" logged 'renew_before_days.acme'
check "... and nothing was scheduled" test -z "$(expiry_renewals)"
check "stack stops" stop_stack

# ---- acme 45 days, beta 20 days, everyone else the global 10 days
cp "$T/torwart.conf.orig" "$H/torwart.conf"
printf '\n[worker]\njob_tick_ms = 50\n\n[renewal]\ntick_ms = 100\nrenew_before_days = 10\nrenew_before_days.acme = 45\nrenew_before_days.beta = 20\n' >>"$H/torwart.conf"
: >"$T/torwartd.log"
check "torwartd all starts" start_stack
scheduled() { local end=$((SECONDS + 30)); while [ $SECONDS -lt $end ]; do [ "$(expiry_renewals)" = "GW-A,GW-D" ] && return 0; sleep 0.2; done; echo "expiry renewals: $(expiry_renewals)"; return 1; }
check "the expiry scan schedules GW-A (acme, 45 days) and GW-D (global 10 days, ends in 5)" scheduled
sleep 1
check "GW-B (beta, 20 days) and GW-C (global 10 days) ending in 30 days are not scheduled" \
	test "$(expiry_renewals)" = "GW-A,GW-D"
check "GW-A's renewal is an order to the gateway (requesting)" \
	test "$(q "SELECT state FROM renewals WHERE gateway_id = 'GW-A'")" = requesting
check "stack stops" stop_stack
check "the admin log verifies" "$TORWART" audit verify --home "$H"

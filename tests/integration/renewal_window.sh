#!/usr/bin/env bash
# renewal_window.sh: issue 12, renewal scheduled from expiry with a window per tenant
# ([renewal] renew_before_days.<tenant> next to the global renew_before_days): a gateway
# whose TLS certificate ends in 30 days gets an automatic renewal in the tenant with a
# 45-day window and not in the one with 20 days; a tenant without its own value uses
# the global one; a window for a tenant that does not exist stops the worker at start
# with a config error naming the key.
# Reload (SIGHUP to `torwartd all`, passed on to the worker): a changed tenant window
# applies without a restart; a bad new value (a tenant that does not exist, a remote
# Sub-CA the worker does not know) keeps every old value, is logged and alerted.
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
	--wan-listen "127.0.0.1:$WAN_PORT" --api-listen "127.0.0.1:$API_PORT" \
	--api-tls-listen "127.0.0.1:$(free_port)"
for g in GW-A GW-B GW-C GW-D; do check "gateway add $g" "$TORWART" gateway add --home "$H" --id "$g"; done
check "GW-A moves to tenant acme" "$TORWART" gateway set --home "$H" --gateway GW-A --move-tenant acme
check "GW-B moves to tenant beta" "$TORWART" gateway set --home "$H" --gateway GW-B --move-tenant beta
for g in GW-A GW-B GW-C; do ends_in_days "$g" 30; done
ends_in_days GW-D 5
check "four TLS certificates end within 30 days" \
	test "$(q "SELECT count(*) FROM certificates WHERE usage = 'TLS' AND status = 'valid' AND not_after < $(( $(date +%s) + 31 * 86400 ))")" = 4

# ---- a window for a tenant that does not exist: config error at the worker's start
start_stack() {
	api_tls_port "$H" || return 1
	"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
	SUP=$!; pids_to_kill+=("$SUP")
	wait_port 127.0.0.1 "$WAN_PORT" 20 && wait_port 127.0.0.1 "$TLS_PORT" 20
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

# ---- reload on SIGHUP: beta's window grows to 45 days
sed -i 's/^renew_before_days.beta = 20$/renew_before_days.beta = 45/' "$H/torwart.conf"
kill -HUP "$SUP"
check "SIGHUP: the supervisor passes it to the worker" logged "SIGHUP: passed to worker"
check "... which reloads its [renewal] values" logged "renewal: configuration reloaded from $H/torwart.conf: renew_before_days 10, 2 tenant windows"
scheduled_b() { local end=$((SECONDS + 20)); while [ $SECONDS -lt $end ]; do [ "$(expiry_renewals)" = "GW-A,GW-B,GW-D" ] && return 0; sleep 0.2; done; echo "expiry renewals: $(expiry_renewals)"; return 1; }
check "GW-B (beta, now 45 days) is scheduled without a restart" scheduled_b
check "the stack was not restarted" test "$(grep -c 'started worker' "$T/torwartd.log")" = 1

# ---- a bad new value: the old values stay, logged and alerted
cp "$H/torwart.conf" "$T/torwart.conf.good"
printf 'renew_before_days.nosuch = 5
' >>"$H/torwart.conf"
sed -i 's/^renew_before_days = 10$/renew_before_days = 45/' "$H/torwart.conf"
kill -HUP "$SUP"
check "SIGHUP with a window for a tenant that does not exist: refused, naming the key" \
	logged 'were not reloaded, the previous ones stay in force: [renewal] renew_before_days.nosuch: there is no tenant "nosuch"'
alerts() { # count seconds: alert.config entries (raised right after the log line)
	local end=$((SECONDS + $2))
	while [ $SECONDS -lt $end ]; do
		[ "$(q "SELECT count(*) FROM admin_log WHERE action = 'alert.config'")" = "$1" ] && return 0
		sleep 0.2
	done
	return 1
}
check "... alerted to the system administrator (alert.config)" alerts 1 10
sleep 2
check "... the global window stays 10 days: GW-C (ends in 30 days) is not scheduled" \
	test "$(expiry_renewals)" = "GW-A,GW-B,GW-D"
cp "$T/torwart.conf.good" "$H/torwart.conf"
printf 'sub_ca.acme = remote:nosuch
' >>"$H/torwart.conf"
kill -HUP "$SUP"
check "SIGHUP with sub_ca.acme naming a remote the worker does not know: refused" \
	logged '[renewal] sub_ca.acme = remote:nosuch: the running worker has no [ws.remote.nosuch]'
cp "$T/torwart.conf.good" "$H/torwart.conf"
printf 'sub_ca.beta = elsewhere
' >>"$H/torwart.conf"
kill -HUP "$SUP"
check "SIGHUP with sub_ca.beta neither local nor remote: refused" \
	logged '[renewal] sub_ca.beta = "elsewhere": use local or remote:<name>'
check "... each refusal alerted" alerts 3 10
check "the worker still runs" test "$(grep -c 'started worker' "$T/torwartd.log")" = 1
check "stack stops" stop_stack
check "the admin log verifies" "$TORWART" audit verify --home "$H"

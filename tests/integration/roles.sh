#!/usr/bin/env bash
# roles.sh: restricted PostgreSQL roles per service (src/store/roles.pg.sql; issue 10,
# TR-03109-6 M-4.5.6.4). wan, api and worker log in as torwart_wan, torwart_api and
# torwart_worker ([store] url_wan, url_api, url_worker) and do their work (a fleet order
# end to end, the worker's signed heads and verification) without a permission error;
# each role is refused, by privilege, what its service must not do. The remote_cli and
# jobs scripts also run under these roles (integration-pg-roles-*).
# Always on PostgreSQL (a throw-away server, like multiwan.sh); exit 77 without it.
export TORWART_TEST_STORE=pg TORWART_TEST_ROLES=1
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-roles-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port)
q() { sqlite3 "$H/store.db" "$1"; }   # lib.sh: psql on the home's database, as the owner
check "torwart init --test-pki (PostgreSQL, service roles)" "$TORWART" init --home "$H" \
	--test-pki --wan-listen "127.0.0.1:$WAN_PORT" --api-listen "127.0.0.1:$API_PORT" \
	--api-tls-listen "127.0.0.1:$(free_port)"
URL=$(sed -n 's/^url = //p' "$H/torwart.conf")
as_role() { local r=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 "${URL/torwart@/$r@}" -c "$1"; }
for r in wan api worker; do
	check "[store] url_$r names torwart_$r" grep -q "^url_$r = postgresql://torwart_$r@" "$H/torwart.conf"
done
sed -i "s/^audit_verify_interval = .*/audit_verify_interval = 1/" "$H/torwart.conf"
printf '\n[worker]\njob_tick_ms = 50\n[audit]\nhead_interval = 1\n' >>"$H/torwart.conf"
"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "torwartd all starts" wait_port 127.0.0.1 "$WAN_PORT" 30
check "api listens" wait_port 127.0.0.1 "$API_PORT" 30
for r in wan api worker; do
	check "the $r service is logged in as torwart_$r" bash -c "for _ in \$(seq 1 50); do
		[ \"\$(psql -X -At '$URL' -c \"SELECT count(*) FROM pg_stat_activity WHERE
			application_name = 'torwart-$r' AND usename = 'torwart_$r'\")\" -ge 1 ] && exit 0
		sleep 0.2; done; exit 1"
done

# ---- the services' work under their roles
NGW=4
for i in $(seq 1 $NGW); do "$TORWART" gateway add --home "$H" --id "GW-$i" >>"$T/log" 2>&1; done
"$TORWART" job create --home "$H" --type ping --gateways all --timeout 600 >>"$T/log" 2>&1
"$TORWART" job create --home "$H" --type set-retention --payload '{"days":90}' --gateways all \
	--timeout 600 >>"$T/log" 2>&1
check "a simulated fleet visits the wan (torwart_wan)" "$SIM" --home "$H" --count $NGW \
	--rounds 2 --quiet
check "every order is done" test "$(q "SELECT count(*) FROM jobs WHERE state <> 'done'")" = 0
check "api /health (torwart_api)" bash -c \
	"curl -s -m 20 'http://127.0.0.1:$API_PORT/health' | grep -q '\"status\":\"ok\"'"
check "the worker (torwart_worker) records its verification position" bash -c \
	"for _ in \$(seq 1 100); do [ \"\$(psql -X -At '$URL' -c 'SELECT count(*) FROM admin_log_verified')\" -ge 1 ] && exit 0; sleep 0.2; done; exit 1"
check "no service hit a permission error" bash -c "! grep -i 'permission denied' '$T/torwartd.log'"

# ---- refused by privilege (the message says so: not the triggers, not a missing row)
denied() { # what role sql
	local what=$1 role=$2 sql=$3
	if as_role "$role" "$sql" >"$T/denied.out" 2>&1; then bad "$what (it succeeded)"; return; fi
	if grep -q 'permission denied\|must be owner' "$T/denied.out"; then ok "$what"; else
		bad "$what ($(head -c 200 "$T/denied.out"))"; fi
}
denied "torwart_wan cannot read operator secrets" torwart_wan "SELECT secret FROM operators"
denied "torwart_wan cannot read operator sessions" torwart_wan "SELECT count(*) FROM auth_sessions"
denied "torwart_wan cannot read approvals" torwart_wan "SELECT count(*) FROM approvals"
denied "torwart_wan cannot read the CA's key state" torwart_wan "SELECT count(*) FROM ca_key_state"
denied "torwart_wan cannot rewrite an admin-log entry" torwart_wan "UPDATE admin_log SET detail = 'x' WHERE seq = 1"
denied "torwart_wan cannot write a signed head" torwart_wan "INSERT INTO admin_log_head (tree_size) VALUES (1)"
denied "torwart_wan cannot delete jobs" torwart_wan "DELETE FROM jobs"
denied "torwart_wan cannot add gateways" torwart_wan "INSERT INTO gateways (gateway_id) VALUES ('X')"
denied "torwart_wan cannot disable the admin log's triggers" torwart_wan "ALTER TABLE admin_log DISABLE TRIGGER USER"
denied "torwart_api cannot rewrite an admin-log entry" torwart_api "UPDATE admin_log SET detail = 'x' WHERE seq = 1"
denied "torwart_api cannot delete admin-log entries" torwart_api "DELETE FROM admin_log WHERE seq = 1"
denied "torwart_api cannot delete Merkle tree nodes" torwart_api "DELETE FROM admin_log_node"
denied "torwart_api cannot write a signed head" torwart_api "INSERT INTO admin_log_head (tree_size) VALUES (1)"
denied "torwart_api cannot record an archive cut" torwart_api "INSERT INTO admin_log_cut (cut_seq) VALUES (1)"
denied "torwart_api cannot move the verification position" torwart_api "UPDATE admin_log_verified SET tree_size = 1"
denied "torwart_api cannot mark alerts delivered" torwart_api "UPDATE alert_queue SET delivered_ms = 1"
denied "torwart_api cannot truncate a table" torwart_api "TRUNCATE jobs"
denied "torwart_api cannot disable the admin log's triggers" torwart_api "ALTER TABLE admin_log DISABLE TRIGGER USER"
denied "torwart_worker cannot read operator secrets" torwart_worker "SELECT secret FROM operators"
denied "torwart_worker cannot read CA requests" torwart_worker "SELECT count(*) FROM ca_requests"
denied "torwart_worker cannot rewrite an admin-log entry" torwart_worker "UPDATE admin_log SET detail = 'x' WHERE seq = 1"
denied "torwart_worker cannot add gateways" torwart_worker "INSERT INTO gateways (gateway_id) VALUES ('X')"
check_fails "torwart_worker may delete only below a recorded cut (the trigger refuses)" \
	as_role torwart_worker "DELETE FROM admin_log WHERE seq = 1"
check "the admin log is intact after all of it" "$TORWART" audit verify --home "$H"

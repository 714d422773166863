#!/usr/bin/env bash
# renewal.sh: issue 12, SMGW certificate renewal through the WAN (UC-3.3.3) end to end
# with real daemons (torwartd all) and the simulator (real brainpool keys, CRMF renewal
# requests signed with the gateway's current SIG key):
#   order -> new keys + request -> GWA checks + authorisation (signer) -> local Sub-CA
#   issues -> install order -> the gateway's next connection with the new certificate is
#   the proof (inventory switch) -> old certificates revoked after the grace period;
# refusals of faulty requests (foreign subject, wrong outer key, wrong curve, bad POP)
# with their WSDL code, logged and alerted, the gateway still working with its old
# certificates; kill -9 of worker and wan during the workflow (resumed); a fleet renewal
# with faults; the remote Sub-CA seam's typed error.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-renewal-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port)
WAN="127.0.0.1:$WAN_PORT"
q() { sqlite3 "$H/store.db" "$1"; }
rstate() { "$TORWART" renewal show --home "$H" --id "$1" | sed -n 's/^state: *//p'; }
wait_rstate() { # id state seconds
	local end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do [ "$(rstate "$1")" = "$2" ] && return 0; sleep 0.2; done
	echo "renewal $1 is $(rstate "$1"), expected $2" >>"$T/log"; return 1
}
start_stack() {
	api_tls_port "$H" || return 1
	"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
	SUP=$!; pids_to_kill+=("$SUP")
	wait_port 127.0.0.1 "$WAN_PORT" 20 && wait_port 127.0.0.1 "$TLS_PORT" 20
}
stop_stack() { kill -TERM "$SUP"; for _ in $(seq 1 100); do kill -0 "$SUP" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
# The pid of the supervisor's current child running SERVICE (its latest log line names it).
child_pid() { # service
	local p
	p=$(grep -o " $1\[[0-9]*\] " "$T/torwartd.log" | tail -1 | tr -dc 0-9)
	[ -n "$p" ] && kill -0 "$p" 2>/dev/null && [ "$(ps -o ppid= -p "$p" | tr -d ' ')" = "$SUP" ] && echo "$p"
}
sim_visit() { "$SIM" --gwa "$WAN" --gateways "$@" --quiet >>"$T/sim.log" 2>&1; }
renew_id() { sed -n 's/.*first id \([0-9]*\).*/\1/p'; }

check "torwart init --test-pki" "$TORWART" init --home "$H" --test-pki --wan-listen "$WAN" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$(free_port)"
printf '\n[worker]\njob_tick_ms = 50\n\n[renewal]\ntick_ms = 100\ngrace_period = 2\nsub_ca.acme = remote:other-ca\norder_timeout = 4\norder_retry_delay = 1\norder_attempts = 6\n' >>"$H/torwart.conf"
check "torwartd all starts" start_stack
for i in 1 2 3 4; do check "gateway add GW-$i" "$TORWART" gateway add --home "$H" --id "GW-$i"; done
G1="$H/gateways/GW-1"
old_tls=$(openssl x509 -in "$G1/tls.crt" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)

# ---- one gateway, end to end
out=$("$TORWART" gateway renew --home "$H" --gateway GW-1 2>&1)
r1=$(echo "$out" | renew_id)
check "gateway renew starts a renewal ($out)" test -n "$r1"
check "it is visible as requesting" test "$(rstate "$r1")" = requesting
check_fails "a second renewal of the same gateway is refused while one is open" \
	"$TORWART" gateway renew --home "$H" --gateway GW-1
check "the simulator answers the cert-request order" sim_visit "$G1"
check "the worker checks, authorises and issues: installing" wait_rstate "$r1" installing 20
check "the GWA's authorisation was signed by the signer (purpose authorisation)" \
	test "$(q "SELECT count(*) FROM admin_log WHERE action='signer.sign' AND detail LIKE 'purpose=authorisation%'")" -ge 1
check "three new certificates are pending in the inventory" \
	test "$(q "SELECT count(*) FROM certificates WHERE owner_id='GW-1' AND status='pending'")" = 3
check "the old ones are still valid" \
	test "$(q "SELECT status FROM certificates WHERE fingerprint='$old_tls'")" = valid
check "the simulator installs the certificates (same visit reconnects with them)" sim_visit "$G1"
check "the simulator's new TLS key matches its new certificate" \
	bash -c "[ \"\$(openssl pkey -in '$G1/tls.key' -pubout | sha256sum)\" = \"\$(openssl x509 -in '$G1/tls.crt' -pubkey -noout | sha256sum)\" ]"
check "the simulator kept its old certificates aside" test -s "$G1/old-$r1/tls.crt"
sim_visit "$G1"
check "the connection with the new certificate confirmed the renewal" wait_rstate "$r1" completed 20
new_tls=$(openssl x509 -in "$G1/tls.crt" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)
check "the inventory switched: the new TLS certificate is valid" \
	test "$(q "SELECT status FROM certificates WHERE fingerprint='$new_tls'")" = valid
check "after the grace period the old certificates are revoked" \
	test "$(q "SELECT count(*) FROM certificates WHERE owner_id='GW-1' AND status='revoked'")" = 3
check "every step is in the admin log" test "$(q "SELECT count(DISTINCT action) FROM admin_log WHERE object LIKE 'renewal:$r1 %' AND action IN ('renewal.start','renewal.received','renewal.issued','renewal.installed','renewal.confirmed','renewal.completed')")" = 6
check "the old TLS certificate no longer logs in" bash -c "! '$SIM' --gwa '$WAN' --gateways '$G1/old-$r1' --quiet" 2>/dev/null
check "the gateway works with its new certificates" sim_visit "$G1"
check "renewal list shows it completed" bash -c "'$TORWART' renewal list --home '$H' --gateway GW-1 | grep -q ' completed '"

# ---- CRL distribution: the gateway applies the CRL that revokes GW-1's old certificates
crlnum() { openssl crl -inform DER -in "$H/crl/sub-ca.crl" -noout -crlnumber | sed 's/.*=//'; }
check "the Sub-CA's CRL is published with the revocations" "$TORWART" ca crl --home "$H"
check "gateway crl-push orders the published CRLs to GW-1" bash -c "'$TORWART' gateway crl-push --home '$H' --gateway GW-1 | grep -q 'crl-update for GW-1'"
sim_visit "$G1"
crl_applied() { /usr/bin/python3 -c "
import json; s = json.load(open('$G1/state.json'))
assert any(v['number'] == int('$(crlnum)', 16) for v in s['crls'].values()), s.get('crls')"; }
check "the gateway verified and applied it (its number is held)" crl_applied
check "the crl-update job is done" test "$(q "SELECT state FROM jobs WHERE type='crl-update' ORDER BY id DESC LIMIT 1")" = done
b64=$(base64 -w0 "$H/crl/sub-ca.crl")
bad=$(/usr/bin/python3 -c "import base64,sys;d=bytearray(base64.b64decode('$b64'));d[-10]^=1;print(base64.b64encode(bytes(d)).decode())")
jid=$("$TORWART" job create --home "$H" --type crl-update --payload "{\"crls\":[\"$bad\"]}" --gateway GW-1 | sed -n 's/^job \([0-9]*\).*/\1/p')
sim_visit "$G1"
check "a CRL with a broken signature is refused by the gateway (crl_bad_signature)" \
	bash -c "'$TORWART' job show --home '$H' --id $jid | grep -q crl_bad_signature"

# ---- refusals: typed WSDL code, security event + alert, the gateway keeps working
refuse_case() { # fault code
	local out id
	echo "$1" >"$H/gateways/GW-2/renewal-fault"
	out=$("$TORWART" gateway renew --home "$H" --gateway GW-2 2>&1); id=$(echo "$out" | renew_id)
	sim_visit "$H/gateways/GW-2"
	wait_rstate "$id" failed 20 &&
		"$TORWART" renewal show --home "$H" --id "$id" | grep -q "^error: *$2" &&
		[ "$(q "SELECT count(*) FROM admin_log WHERE action='renewal.refuse' AND object LIKE 'renewal:$id %' AND error_code='$2'")" = 1 ]
}
check "another gateway's subject refused (failure_outer_signature: not the signer's subject)" refuse_case foreign-subject failure_outer_signature
check "a wrong curve refused (failure_domain_parameters)" refuse_case wrong-curve failure_domain_parameters
check "a bad proof of possession refused" refuse_case bad-pop failure_inner_signature
refuse_gw1() { # an outer signature with GW-1's replaced SIG key: not its current one
	local out id
	echo old-sig-key >"$G1/renewal-fault"
	out=$("$TORWART" gateway renew --home "$H" --gateway GW-1 2>&1); id=$(echo "$out" | renew_id)
	sim_visit "$G1"
	wait_rstate "$id" failed 20 &&
		"$TORWART" renewal show --home "$H" --id "$id" | grep -q "^error: *failure_outer_signature: .*current SIG"
}
check "an outer signature by the replaced (not current) SIG key refused" refuse_gw1
check "GW-1 still works after that refusal" sim_visit "$G1"
check "each refusal raised a renewal-refused alert for the security officer" \
	test "$(q "SELECT count(*) FROM admin_log WHERE action='alert.renewal-refused'")" -ge 4
check "GW-2 still has only its old, valid certificates" \
	test "$(q "SELECT count(*) FROM certificates WHERE owner_id='GW-2' AND status='valid'")" = 3
check "GW-2 still works" sim_visit "$H/gateways/GW-2"

# ---- remote Sub-CA not configured ([ws.remote.other-ca] absent): a typed, final failure
# (the remote path itself: renewal_remote.sh)
"$TORWART" gateway set --home "$H" --gateway GW-3 --move-tenant acme >>"$T/log" 2>&1
out=$("$TORWART" gateway renew --home "$H" --gateway GW-3 2>&1); r3=$(echo "$out" | renew_id)
sim_visit "$H/gateways/GW-3"
remote_fails() { wait_rstate "$r3" failed 20 && "$TORWART" renewal show --home "$H" --id "$r3" | grep -q "^error: *config: no remote Sub-CA 'other-ca'"; }
check "a tenant with an unconfigured remote Sub-CA fails visibly: config" remote_fails
check "... and GW-3 keeps its valid certificates" \
	test "$(q "SELECT count(*) FROM certificates WHERE owner_id='GW-3' AND status='valid'")" = 3

# ---- crash resume: kill -9 of worker and wan at each step; the supervisor restarts them
out=$("$TORWART" gateway renew --home "$H" --gateway GW-4 2>&1); r4=$(echo "$out" | renew_id)
G4="$H/gateways/GW-4"
check "kill -9 of the worker while the renewal is requesting" kill -KILL "$(child_pid worker)"
check "kill -9 of wan while the renewal is requesting" kill -KILL "$(child_pid wan)"
sleep 1; wait_port 127.0.0.1 "$WAN_PORT" 20
sim_visit "$G4"
check "after the restarts the request is taken and the workflow goes on" wait_rstate "$r4" installing 30
check "kill -9 of the worker while installing" kill -KILL "$(child_pid worker)"
check "kill -9 of wan while installing" kill -KILL "$(child_pid wan)"
sleep 1; wait_port 127.0.0.1 "$WAN_PORT" 20
for _ in 1 2 3; do sim_visit "$G4"; done
check "the install and the proof happened after the restarts" wait_rstate "$r4" completed 30
check "GW-4 has three valid (new) and three revoked (old) certificates" \
	test "$(q "SELECT count(*) FROM certificates WHERE owner_id='GW-4' AND status='valid'")-$(q "SELECT count(*) FROM certificates WHERE owner_id='GW-4' AND status='revoked'")" = "3-3"

# ---- a fleet renewal with faults (drop, error) and a restart of the stack mid-campaign
N=24
for i in $(seq -w 1 $N); do "$TORWART" gateway add --home "$H" --id "GWF-$i" >>"$T/log" 2>&1; done
check "$N fleet gateways registered and tagged" "$TORWART" gateway set --home "$H" --gateways \
	"$(seq -w 1 $N | sed 's/^/GWF-/' | paste -sd,)" --add-tag fleet
# Woken only (no own contact schedule): after installing, a gateway must come back with
# its new certificate by itself, or the renewal never sees its proof.
WU_PORT=$(free_port)
"$TORWART" gateway set --home "$H" --tag fleet --wakeup "127.0.0.1:$WU_PORT" >>"$T/log" 2>&1
"$SIM" --gateways "$H"/gateways/GWF-* --gwa "$WAN" --listen-wakeup "127.0.0.1:$WU_PORT" \
	--fault drop:15 --fault error:3 --stats "$T/fleet.stats" >>"$T/sim-fleet.log" 2>&1 &
FSIM=$!; pids_to_kill+=("$FSIM")
out=$("$TORWART" gateway renew --home "$H" --tag fleet 2>&1); rf=$(echo "$out" | renew_id)
check "fleet renewal started for $N gateways ($out)" bash -c "echo '$out' | grep -q 'started for $N gateways'"
sleep 3
check "stack stops mid-campaign" stop_stack
check "stack restarts" start_stack
open_left() { q "SELECT count(*) FROM renewals WHERE id >= $rf AND state NOT IN ('completed','failed')"; }
fleet_final() { local end=$((SECONDS + 300)); while [ $SECONDS -lt $end ]; do [ "$(open_left)" = 0 ] && return 0; sleep 1; done; return 1; }
check "every fleet renewal ends completed or visibly failed" fleet_final
kill -TERM "$FSIM"; wait "$FSIM" 2>/dev/null
done_n=$(q "SELECT count(*) FROM renewals WHERE id >= $rf AND state = 'completed'")
failed_n=$(q "SELECT count(*) FROM renewals WHERE id >= $rf AND state = 'failed'")
echo "fleet: $done_n completed, $failed_n failed" >>"$T/log"
check "most of the fleet is renewed ($done_n of $N completed, $failed_n failed)" test "$done_n" -ge $((N * 2 / 3))
check "the simulator saw dropped connections and retried orders" \
	/usr/bin/python3 -c "import json;d=json.load(open('$T/fleet.stats'));assert d['orders_repeated']>=1, d"
check "each completed gateway: 3 valid (new) certificates, its TLS file is the valid one" bash -c '
	for g in $(sqlite3 "'"$H"'/store.db" "SELECT gateway_id FROM renewals WHERE id >= '"$rf"' AND state = '"'"'completed'"'"'"); do
		fp=$(openssl x509 -in "'"$H"'/gateways/$g/tls.crt" -noout -fingerprint -sha256 | sed "s/.*=//; s/://g" | tr A-F a-f)
		[ "$(sqlite3 "'"$H"'/store.db" "SELECT status FROM certificates WHERE fingerprint = '"'"'$fp'"'"'")" = valid ] || exit 1
		[ "$(sqlite3 "'"$H"'/store.db" "SELECT count(*) FROM certificates WHERE owner_id = '"'"'$g'"'"' AND status = '"'"'valid'"'"'")" = 3 ] || exit 1
	done'
check "each failed gateway keeps 3 valid certificates and an error code" test \
	"$(q "SELECT count(*) FROM renewals r WHERE r.id >= $rf AND r.state = 'failed' AND (r.error_code = '' OR (SELECT count(*) FROM certificates c WHERE c.owner_id = r.gateway_id AND c.status = 'valid') <> 3)")" = 0

check "the admin log verifies" "$TORWART" audit verify --home "$H"
check "stack stops" stop_stack

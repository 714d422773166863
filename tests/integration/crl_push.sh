#!/usr/bin/env bash
# crl_push.sh: issue 12, UC-3.3.3 "fetch and apply CRLs" (T-SZ.7-9) end to end with real
# daemons (torwartd all) and the simulator:
#   - the worker pushes the published CRLs to every gateway by itself (crl-update jobs,
#     actor system:worker, one "crl.push" admin-log entry per tenant), never a second one
#     while one is open, again after every new CRL;
#   - a WAN profile carrying an EMT's TLS certificate is accepted by a gateway while the
#     certificate is good; after the EMT's certificate is revoked and the new CRL reached
#     the gateway without an operator command, the gateway refuses it
#     (certificate_revoked), visible in the job;
#   - a gateway that holds a profile with the revoked certificate reports it with the new
#     CRL (revoked_partners, admin log crl.partner-revoked, alert partner-revoked to the
#     gateway operators naming the gateway, the profile and `profile reput`);
#   - a gateway without a CRL of the issuer refuses it too (crl_missing), and the GWA
#     refuses a certificate that is not the one of the profile's fingerprint.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-crlpush-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port)
WAN="127.0.0.1:$WAN_PORT"
q() { sqlite3 "$H/store.db" "$1"; }
sim_visit() { "$SIM" --gwa "$WAN" --gateways "$@" --quiet >>"$T/sim.log" 2>&1; }
jstate() { q "SELECT state FROM jobs WHERE id = $1"; }
# visit gateway dir until job id is final (the job may come after others)
visit_until_final() { # dir job seconds
	local end=$((SECONDS + $3)) s
	while [ $SECONDS -lt $end ]; do
		sim_visit "$1"
		s=$(jstate "$2")
		case "$s" in done|failed|timed-out|cancelled) return 0 ;; esac
		sleep 0.3
	done
	echo "job $2 is $(jstate "$2")" >>"$T/log"; return 1
}
crl_jobs() { q "SELECT count(*) FROM jobs WHERE type = 'crl-update' AND gateway_id = '$1'"; }
wait_crl_jobs() { # gateway count seconds
	local end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do [ "$(crl_jobs "$1")" -ge "$2" ] && return 0; sleep 0.2; done
	echo "$1 has $(crl_jobs "$1") crl-update jobs, expected $2" >>"$T/log"; return 1
}
last_crl_job() { q "SELECT id FROM jobs WHERE type = 'crl-update' AND gateway_id = '$1' ORDER BY id DESC LIMIT 1"; }
job_of() { sed -n 's/.*job \([0-9][0-9]*\).*/\1/p' | head -1; }

check "torwart init --test-pki" "$TORWART" init --home "$H" --test-pki --wan-listen "$WAN" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$(free_port)"
printf '\n[worker]\njob_tick_ms = 50\n\n[renewal]\ncrl_push_scan = 1\ncrl_push_batch = 1\ncrl_push_pace = 1\n' >>"$H/torwart.conf"
for g in GW-1 GW-2 GW-3; do check "gateway add $g" "$TORWART" gateway add --home "$H" --id "$g"; done
check "GW-3 belongs to tenant beta" "$TORWART" gateway set --home "$H" --gateway GW-3 --move-tenant beta
G1="$H/gateways/GW-1"; G2="$H/gateways/GW-2"; G3="$H/gateways/GW-3"

# ---- an EMT with certificates of this home's Sub-CA
MPID=9900000000007
"$TORWART" ca register --home "$H" --name emt-x --org "emt-x org" --role emt --mp-id $MPID \
	--cn X.EMT.IT >>"$T/log" 2>&1
"$TORWART" req initial --cn X.EMT.IT --ou $MPID --role EMT --key-dir "$T/emt-x" --format der \
	--out "$T/emt-x.req" >>"$T/log" 2>&1
check "the Sub-CA issues the EMT's certificates" "$TORWART" ca issue --home "$H" \
	--request "$T/emt-x.req" --participant emt-x
SERIAL=$(q "SELECT serial_hex FROM certificates WHERE owner_kind='emt' AND owner_id='emt-x' AND usage='TLS'")
check "the EMT's TLS certificate exported" "$TORWART" ca export "$SERIAL" --home "$H" --out "$T/emt-x.tls.crt"
B64=$(openssl x509 -in "$T/emt-x.tls.crt" -outform DER | base64 -w0)
FP=$(openssl x509 -in "$T/emt-x.tls.crt" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)
wanp() { # retries [cert] [fingerprint]
	printf '%s' "{\"profile_id\":\"wan-x\",\"type\":\"wan\",\"recipient\":\"$MPID\",\"address\":\"emt.example:443\",\"tls_cert_fingerprint\":\"${3:-$FP}\",\"tls_cert\":\"${2:-$B64}\",\"retries\":$1,\"retry_interval_s\":60}"
}

# ---- the GWA refuses a certificate that is not the fingerprint's (profile.c)
wanp 3 "$B64" "$(printf 'b%.0s' $(seq 64))" >"$T/wan-badfp.json"
out=$("$TORWART" profile put --home "$H" --gateway GW-1 --file "$T/wan-badfp.json" 2>&1); rc=$?
check_fails "a profile whose tls_cert is not its fingerprint's certificate is refused by the GWA" \
	test "$rc" = 0
check "... naming the member ($out)" bash -c "echo '$out' | grep -q 'tls_cert.*is not the certificate'"
wanp 3 "QUJD" >"$T/wan-garbage.json"
check_fails "a tls_cert that is not a certificate is refused" \
	"$TORWART" profile put --home "$H" --gateway GW-1 --file "$T/wan-garbage.json"
check "nothing was stored or ordered" test "$(q "SELECT count(*) FROM jobs WHERE type='profile-insert'")" = 0

# ---- automatic push after the start: every gateway, every tenant, no operator command
start_stack() {
	api_tls_port "$H" || return 1
	"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
	SUP=$!; pids_to_kill+=("$SUP")
	wait_port 127.0.0.1 "$WAN_PORT" 20 && wait_port 127.0.0.1 "$TLS_PORT" 20
}
check "torwartd all starts" start_stack
crl_published() { for _ in $(seq 1 100); do [ -s "$H/crl/sub-ca.crl" ] && return 0; sleep 0.2; done; return 1; }
check "the worker publishes the Sub-CA's CRL" crl_published
check "the worker orders the CRLs to GW-1 by itself" wait_crl_jobs GW-1 1 20
check "... and to GW-2 (batch of one per scan: the next scan)" wait_crl_jobs GW-2 1 20
check "... and to GW-3 of tenant beta" wait_crl_jobs GW-3 1 20
check "the jobs are the worker's" test "$(q "SELECT count(*) FROM jobs WHERE type='crl-update' AND actor <> 'system:worker'")" = 0
check "one crl.push admin-log entry names tenant beta" \
	test "$(q "SELECT count(*) FROM admin_log WHERE action='crl.push' AND object='tenant:beta' AND actor='system:worker'")" -ge 1
sleep 3
check "no second job while the first is open (after more scans)" \
	test "$(crl_jobs GW-1)$(crl_jobs GW-2)$(crl_jobs GW-3)" = 111
J1=$(last_crl_job GW-1)
check "GW-1 applies the pushed CRL" visit_until_final "$G1" "$J1" 20
check "... the job is done" test "$(jstate "$J1")" = done
N1=$(openssl crl -inform DER -in "$H/crl/sub-ca.crl" -noout -crlnumber | sed 's/.*=//')
held() { /usr/bin/python3 -c "
import json, sys; s = json.load(open('$1/state.json'))
sys.exit(0 if any(v['number'] == int('$2', 16) for v in s.get('crls', {}).values()) else 1)"; }
check "GW-1 holds CRL number 0x$N1" held "$G1" "$N1"
sleep 2
check "a gateway that has the current CRL is not pushed again" test "$(crl_jobs GW-1)" = 1

# ---- GW-2 never applies its CRL (the job is cancelled): it cannot judge the EMT
J2=$(last_crl_job GW-2)
check "cancel GW-2's crl-update" "$TORWART" job cancel --home "$H" --id "$J2"
wanp 3 >"$T/wan-3.json"
out=$("$TORWART" profile put --home "$H" --gateway GW-2 --file "$T/wan-3.json" 2>&1); P2=$(echo "$out" | job_of)
check "the GWA accepts the profile with the EMT's certificate for GW-2 ($out)" test -n "$P2"
check "GW-2 answers the profile order" visit_until_final "$G2" "$P2" 20
check "GW-2 holds no CRL of the Sub-CA: refused crl_missing" \
	bash -c "'$TORWART' job show --home '$H' --id $P2 | grep -q 'crl_missing'"
check "... the job failed" test "$(jstate "$P2")" = failed

# ---- GW-1 holds the CRL: the EMT's good certificate is accepted
out=$("$TORWART" profile put --home "$H" --gateway GW-1 --file "$T/wan-3.json" 2>&1); P1=$(echo "$out" | job_of)
check "profile put for GW-1 creates a job ($out)" test -n "$P1"
check "GW-1 answers it" visit_until_final "$G1" "$P1" 20
check "GW-1 accepted the profile with the good EMT certificate" test "$(jstate "$P1")" = done
check "... and holds it" /usr/bin/python3 -c "
import json; s = json.load(open('$G1/state.json')); assert s['profiles']['wan-x']['tls_cert_fingerprint'] == '$FP'"

# ---- the EMT's certificate is revoked: a new CRL, pushed by the worker alone
check "ca revoke of the EMT's TLS certificate (the CRL is regenerated)" \
	"$TORWART" ca revoke "$SERIAL" --home "$H" --reason keyCompromise
N2=$(openssl crl -inform DER -in "$H/crl/sub-ca.crl" -noout -crlnumber | sed 's/.*=//')
check "the new CRL has a new number (0x$N1 -> 0x$N2)" test "$N1" != "$N2"
check "the worker pushes the new CRL to GW-1 without an operator command" wait_crl_jobs GW-1 2 20
check "... and to GW-2 (its cancelled job carried the old CRL)" wait_crl_jobs GW-2 2 20
check "... and to GW-3 (whose first job is still open: only after it ends)" test "$(crl_jobs GW-3)" = 1
J1b=$(last_crl_job GW-1)
check "GW-1 applies the new CRL" visit_until_final "$G1" "$J1b" 20
check "GW-1 holds CRL number 0x$N2" held "$G1" "$N2"
check "GW-1 reports the held profile whose EMT the new CRL revokes (job result)" \
	bash -c "'$TORWART' job show --home '$H' --id $J1b | grep -q 'revoked_partners.*wan-x'"
check "... recorded in the admin log for the operators" \
	test "$(q "SELECT count(*) FROM admin_log WHERE action='crl.partner-revoked' AND object='GW-1' AND detail LIKE '%wan-x (serial %' AND error_code='certificate_revoked'")" = 1
check "... and alerted to the gateway operators: the gateway, the profile and its serial, the remedy" \
	test "$(q "SELECT count(*) FROM alert_queue WHERE kind='partner-revoked' AND role='gateway-operator' AND severity='error' AND subject='GW-1' AND message LIKE 'gateway GW-1 holds 1 profile whose partner certificate the new CRLs revoke: wan-x (serial %)%' AND message LIKE '%torwart profile reput --emt MPID --gateway GW-1 --apply%'")" = 1
check "... the alert in the admin log (alert.partner-revoked, to the gateway operators)" \
	test "$(q "SELECT count(*) FROM admin_log WHERE action='alert.partner-revoked' AND object='GW-1' AND result='alert' AND error_code='gateway-operator'")" = 1
check "... and in the service log" grep -q "ALERT partner-revoked to role gateway-operator: GW-1: gateway GW-1 holds 1 profile" "$T/torwartd.log"
wanp 4 >"$T/wan-4.json"
out=$("$TORWART" profile put --home "$H" --gateway GW-1 --file "$T/wan-4.json" 2>&1); P1b=$(echo "$out" | job_of)
check "the GWA creates the order for the changed profile ($out)" test -n "$P1b"
check "GW-1 answers it" visit_until_final "$G1" "$P1b" 20
check "GW-1 refuses the revoked EMT certificate: the job failed" test "$(jstate "$P1b")" = failed
check "... with certificate_revoked, visible in job show" \
	bash -c "'$TORWART' job show --home '$H' --id $P1b | grep -q 'certificate_revoked'"
check "... naming the EMT and the serial" \
	bash -c "'$TORWART' job show --home '$H' --id $P1b | grep -qi 'recipient $MPID.*serial'"
check "GW-1 kept its previous version of the profile" /usr/bin/python3 -c "
import json; s = json.load(open('$G1/state.json')); assert s['profiles']['wan-x']['retries'] == 3"
check "the refusal is in the admin log with its code" \
	test "$(q "SELECT count(*) FROM admin_log WHERE object LIKE '%$P1b%' AND detail LIKE '%certificate_revoked%'")" -ge 1

# ---- GW-3 ends its first job, then gets the new CRL
J3=$(last_crl_job GW-3)
check "GW-3 applies its first CRL" visit_until_final "$G3" "$J3" 20
check "the worker then pushes the new one to GW-3" wait_crl_jobs GW-3 2 20
check "GW-3 applies it" visit_until_final "$G3" "$(last_crl_job GW-3)" 20
check "GW-3 holds CRL number 0x$N2" held "$G3" "$N2"

# ---- [renewal] crl_push_interval = 0 turns the automatic push off
kill -TERM "$SUP"
for _ in $(seq 1 100); do kill -0 "$SUP" 2>/dev/null || break; sleep 0.1; done
printf 'crl_push_interval = 0\n' >>"$H/torwart.conf"
check "torwartd all starts again with crl_push_interval = 0" start_stack
before=$(q "SELECT count(*) FROM jobs WHERE type='crl-update'")
check "ca revoke of the EMT's ENC certificate" "$TORWART" ca revoke \
	"$(q "SELECT serial_hex FROM certificates WHERE owner_kind='emt' AND owner_id='emt-x' AND usage='ENC'")" \
	--home "$H" --reason keyCompromise
sleep 3
check "no automatic push when it is off" test "$(q "SELECT count(*) FROM jobs WHERE type='crl-update'")" = "$before"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

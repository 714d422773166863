#!/usr/bin/env bash
# profile_reput.sh: issue 12, UC-3.3.3 "update profiles when EMT/meter keys change":
# `torwart profile reput` finds the gateways whose desired profiles carry an EMT's old TLS
# certificate (WAN and proxy profiles) or a meter's old key (meter profiles), lists them
# (dry run, nothing changes), and with --apply puts them again with the new one
# (profile-insert jobs); the simulated gateways accept the new certificate (checked
# against the CRL the GWA pushed) and the new key. Through the api, --apply above the
# fleet threshold is a four-eyes fleet order of the operator's tenant only.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-reput-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)
WAN="127.0.0.1:$WAN_PORT"; API="https://127.0.0.1:$TLS_PORT"
O="$T/ops"
q() { sqlite3 "$H/store.db" "$1"; }
sim_visit() { "$SIM" --gwa "$WAN" --gateways "$@" --quiet >>"$T/sim.log" 2>&1; }
jstate() { q "SELECT state FROM jobs WHERE id = $1"; }
open_jobs() { q "SELECT count(*) FROM jobs WHERE gateway_id = '$1' AND state IN ('created','waking','awaiting-connection','sent')"; }
# visit until the gateway has no open job
drain() { # dir id seconds
	local end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do
		sim_visit "$1"; [ "$(open_jobs "$2")" = 0 ] && return 0; sleep 0.3
	done
	return 1
}
run() { local who=$1; shift; "$TORWART" "$@" --token-file "$T/$who.session" >"$T/out" 2>&1; }
fp_of() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }
held() { # dir profile member
	/usr/bin/python3 -c "
import json; s = json.load(open('$1/state.json')); d = s['profiles']['$2']
v = d
for k in '$3'.split('.'): v = v[k]
print(v)"; }

check "torwart init --test-pki" "$TORWART" init --home "$H" --test-pki --wan-listen "$WAN" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"
# CRLs are pushed by hand here (crl_push.sh tests the automatic push): job counts stay exact.
printf '\n[worker]\njob_tick_ms = 50\n\n[renewal]\ncrl_push_interval = 0\n\n[auth]\nfleet_order_threshold = 1\n' >>"$H/torwart.conf"
bootstrap_operators "$H" "$O" gwa:alpha:gateway-operator appr:alpha:approver \
	gwb:beta:gateway-operator
bootstrap_gateways "$H" "$T" GW-A1:alpha GW-A2:alpha GW-B1:beta
G1="$T/GW-A1"; G2="$T/GW-A2"; G3="$T/GW-B1"

# ---- an EMT of this home's Sub-CA, its first TLS certificate
MPID=9900000000042
check "ca register EMT" "$TORWART" ca register --home "$H" --name emt-r --org "emt-r org" \
	--role emt --mp-id $MPID --cn R.EMT.IT
issue() { # keydir -> the TLS certificate in $T/tls-N.crt
	"$TORWART" req initial --cn R.EMT.IT --ou $MPID --role EMT --key-dir "$T/$1" --format der \
		--out "$T/$1.req" >>"$T/log" 2>&1 &&
	"$TORWART" ca issue --home "$H" --request "$T/$1.req" --participant emt-r >>"$T/log" 2>&1 &&
	"$TORWART" ca export "$(q "SELECT serial_hex FROM certificates WHERE owner_kind='emt' AND usage='TLS' ORDER BY id DESC LIMIT 1")" \
		--home "$H" --out "$T/$1.crt" >>"$T/log" 2>&1
}
check "the Sub-CA issues the EMT's first certificates" issue k1
FP1=$(fp_of "$T/k1.crt"); B1=$(openssl x509 -in "$T/k1.crt" -outform DER | base64 -w0)

"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "wan listens" wait_port 127.0.0.1 "$WAN_PORT" 20
check "api listens" wait_port 127.0.0.1 "$TLS_PORT" 20
crl_published() { for _ in $(seq 1 100); do [ -s "$H/crl/sub-ca.crl" ] && return 0; sleep 0.2; done; return 1; }
check "the Sub-CA's CRL is published" crl_published
check "crl-push to every gateway" "$TORWART" gateway crl-push --home "$H" --gateways all
for g in GW-A1 GW-A2 GW-B1; do check "$g applies the CRL" drain "$T/$g" "$g" 20; done

# ---- profiles carrying the EMT's first certificate, and a meter's first key
wanp() { printf '%s' "{\"profile_id\":\"wan-r\",\"type\":\"wan\",\"recipient\":\"$MPID\",\"address\":\"emt.example:443\",\"tls_cert_fingerprint\":\"$FP1\",\"tls_cert\":\"$B1\",\"retries\":3,\"retry_interval_s\":60}"; }
proxyp() { printf '%s' "{\"profile_id\":\"proxy-r\",\"type\":\"proxy\",\"cls_id\":\"CLS-1\",\"cls_address\":\"10.0.0.2:502\",\"emt\":\"$MPID\",\"emt_address\":\"emt.example:443\",\"emt_tls_cert_fingerprint\":\"$FP1\",\"max_session_s\":600}"; }
meterp() { printf '%s' "{\"profile_id\":\"meter-1\",\"type\":\"meter\",\"meter_id\":\"1EMH0000000099\",\"protocol\":\"sml\",\"scenario\":\"wired\",\"obis\":[\"1-0:1.8.0*255\"],\"key\":{\"ref\":\"K-1\",\"algorithm\":\"aes-128\",\"value\":\"00112233445566778899aabbccddeeff\"}}"; }
otherp() { printf '%s' "{\"profile_id\":\"wan-o\",\"type\":\"wan\",\"recipient\":\"9900000000001\",\"address\":\"o.example:443\",\"tls_cert_fingerprint\":\"$(printf 'c%.0s' $(seq 64))\",\"retries\":3,\"retry_interval_s\":60}"; }
wanp >"$T/wan.json"; proxyp >"$T/proxy.json"; meterp >"$T/meter.json"; otherp >"$T/other.json"
put() { "$TORWART" profile put --home "$H" --gateway "$1" --file "$T/$2.json" >>"$T/log" 2>&1; }
check "profiles put on GW-A1 (wan, meter, another EMT's wan)" eval 'put GW-A1 wan && put GW-A1 meter && put GW-A1 other'
check "profiles put on GW-A2 (wan, proxy)" eval 'put GW-A2 wan && put GW-A2 proxy'
check "profiles put on GW-B1 (wan, meter)" eval 'put GW-B1 wan && put GW-B1 meter'
for g in GW-A1 GW-A2 GW-B1; do check "$g installs its profiles" drain "$T/$g" "$g" 20; done
check "every profile order was accepted" test "$(q "SELECT count(*) FROM jobs WHERE type='profile-insert' AND state <> 'done'")" = 0

# ---- the EMT's key changes: a new TLS certificate, the old one revoked
check "the Sub-CA issues the EMT's new certificates" issue k2
FP2=$(fp_of "$T/k2.crt")
check "the old TLS certificate is revoked" "$TORWART" ca revoke \
	"$(q "SELECT serial_hex FROM certificates WHERE fingerprint = '$FP1'")" \
	--home "$H" --reason keyCompromise
check "crl-push of the new CRL" "$TORWART" gateway crl-push --home "$H" --gateways all
for g in GW-A1 GW-A2 GW-B1; do check "$g applies it" drain "$T/$g" "$g" 20; done

# ---- dry run: lists, changes nothing
jobs_before=$(q "SELECT count(*) FROM jobs")
hash_before=$(q "SELECT group_concat(hash) FROM profiles")
out=$("$TORWART" profile reput --home "$H" --emt $MPID --gateways all 2>&1)
check "dry run finds 4 profiles on 3 gateways ($out)" bash -c "echo '$out' | grep -q '^4 profiles on 3 gateways carry the old certificate of EMT $MPID'"
check "... GW-A2's proxy profile among them" bash -c "echo '$out' | grep -q '^GW-A2 proxy-r (proxy): carries $FP1'"
check "... not the other EMT's profile" bash -c "! echo '$out' | grep -q wan-o"
check "the dry run created no job" test "$(q "SELECT count(*) FROM jobs")" = "$jobs_before"
check "... and changed no profile" test "$(q "SELECT group_concat(hash) FROM profiles")" = "$hash_before"
out=$("$TORWART" profile reput --home "$H" --emt $MPID --tenant beta 2>&1)
check "a tenant's selection finds only its gateway ($out)" bash -c "echo '$out' | grep -q '^1 profiles on 1 gateways' && echo '$out' | grep -q '^GW-B1 wan-r'"

# ---- refusals
check_fails "another EMT's certificate for --emt is refused (OU)" "$TORWART" profile reput \
	--home "$H" --emt 9900000000001 --cert "$T/k2.crt" --gateways all
check_fails "an EMT this home issued nothing to, without --cert, is refused" "$TORWART" \
	profile reput --home "$H" --emt 9900000000077 --gateways all
check_fails "no selection is a usage error" "$TORWART" profile reput --home "$H" --emt $MPID
check_fails "an abbreviated option (--em) is refused" "$TORWART" profile reput --home "$H" --em $MPID --tag alpha
check_fails "a repeated option (--emt twice) is refused" "$TORWART" profile reput --home "$H" --emt $MPID --emt $MPID --tag alpha
printf 'xyz\n' >"$T/bad.key"
check_fails "a meter key that is not hex is refused" "$TORWART" profile reput --home "$H" \
	--meter 1EMH0000000099 --key-file "$T/bad.key" --gateways all
check "nothing was ordered by the refusals" test "$(q "SELECT count(*) FROM jobs")" = "$jobs_before"

# ---- through the api: above the threshold a four-eyes fleet order of alpha only
check "login gwa" operator_login "$API" "$O" gwa "$T/gwa.session"
check "login appr" operator_login "$API" "$O" appr "$T/appr.session"
run gwa profile reput --emt $MPID --gateways all
check "dry run through the api as gwa: alpha's gateways only" \
	bash -c "grep -q '^3 profiles on 2 gateways' '$T/out' && ! grep -q GW-B1 '$T/out'"
run gwa profile reput --emt $MPID --gateways all --apply --why "EMT R changed its TLS key"
check "--apply above the threshold: pending four-eyes request (exit 10)" test $? = 10
check "... no job yet" test "$(q "SELECT count(*) FROM jobs")" = "$jobs_before"
REQ=$(q "SELECT max(id) FROM approvals WHERE action='fleet.order'")
check "approver releases it" run appr approval approve --id "$REQ"
check "... 3 profile-insert jobs for alpha's gateways" \
	test "$(q "SELECT count(*) FROM jobs WHERE type='profile-insert' AND id > 0 AND gateway_id LIKE 'GW-A%' AND state <> 'done'")" = 3
check "... none for beta's" test "$(q "SELECT count(*) FROM jobs WHERE type='profile-insert' AND gateway_id = 'GW-B1' AND state <> 'done'")" = 0
check "... the run is in the admin log (profile.reput, released)" \
	test "$(q "SELECT count(*) FROM admin_log WHERE action='profile.reput' AND object='emt:$MPID' AND actor='gwa'")" = 1

# ---- locally for beta's gateway; then every gateway runs the new profiles
out=$("$TORWART" profile reput --home "$H" --emt $MPID --gateways all --apply 2>&1)
check "--apply locally re-puts what is left: GW-B1 ($out)" bash -c "echo '$out' | grep -q '^1 profiles on 1 gateways put again'"
out=$("$TORWART" profile reput --home "$H" --emt $MPID --gateways all 2>&1)
check "a second dry run finds nothing ($out)" bash -c "echo '$out' | grep -q '^0 profiles on 0 gateways'"
for g in GW-A1 GW-A2 GW-B1; do check "$g installs the new profiles" drain "$T/$g" "$g" 20; done
check "no profile order failed (the new certificate is not on the CRL)" \
	test "$(q "SELECT count(*) FROM jobs WHERE type='profile-insert' AND state <> 'done'")" = 0
check "GW-A1's WAN profile carries the new fingerprint" test "$(held "$G1" wan-r tls_cert_fingerprint)" = "$FP2"
check "GW-A2's proxy profile carries it" test "$(held "$G2" proxy-r emt_tls_cert_fingerprint)" = "$FP2"
check "GW-B1's WAN profile carries it" test "$(held "$G3" wan-r tls_cert_fingerprint)" = "$FP2"
check "the other EMT's profile is untouched" test "$(held "$G1" wan-o recipient)" = 9900000000001

# ---- a meter's key changes
printf '%s\n' ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100 >"$T/new.key"
out=$("$TORWART" profile reput --home "$H" --meter 1EMH0000000099 --key-file "$T/new.key" --key-ref K-2 --gateways all 2>&1)
check "meter dry run: 2 profiles on 2 gateways ($out)" bash -c "echo '$out' | grep -q '^2 profiles on 2 gateways carry the old key of meter 1EMH0000000099'"
check "... the listing names the old key reference, never the key" \
	bash -c "echo '$out' | grep -q 'key ref K-1' && ! echo '$out' | grep -qi 00112233"
check "meter --apply" "$TORWART" profile reput --home "$H" --meter 1EMH0000000099 \
	--key-file "$T/new.key" --key-ref K-2 --gateways all --apply
check "the new key is not in the admin log" test "$(q "SELECT count(*) FROM admin_log WHERE detail LIKE '%ffeeddcc%'")" = 0
for g in GW-A1 GW-B1; do check "$g installs the new meter profile" drain "$T/$g" "$g" 20; done
check "GW-A1 holds the new key (aes-256, ref K-2)" bash -c "[ \"\$(/usr/bin/python3 -c \"import json; k = json.load(open('$G1/state.json'))['profiles']['meter-1']['key']; print(k['ref'], k['algorithm'], k['value'][:8])\")\" = 'K-2 aes-256 ffeeddcc' ]"
out=$("$TORWART" profile reput --home "$H" --meter 1EMH0000000099 --key-file "$T/new.key" --key-ref K-2 --gateways all 2>&1)
check "a second meter dry run finds nothing" bash -c "echo '$out' | grep -q '^0 profiles'"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

#!/usr/bin/env bash
# profiles.sh: issue 4 profile management and monitoring end to end. Real daemons
# (torwartd all), the simulator executing real orders, curl speaking the WAN protocol,
# sqlite3 and openssl checking what was stored, independently of the code under test.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-it-prof-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port)
WAN="127.0.0.1:$WAN_PORT"
GW=SMGW-PR-0001
G="$H/gateways/$GW"
KEY=00112233445566778899aabbccddeeff
PW='correct horse battery'

check "init" "$TORWART" init --home "$H" --test-pki --wan-listen "$WAN" --api-listen "127.0.0.1:$API_PORT" \
	--api-tls-listen "127.0.0.1:$(free_port)"
cat >>"$H/torwart.conf" <<'EOF'

[monitor]
alarm_actions = alert
action.tamper = alert,selftest
EOF
for id in "$GW" SMGW-PR-0002; do check "gateway add $id" "$TORWART" gateway add --home "$H" --id "$id"; done

cat >"$T/meter.json" <<EOF
{"profile_id":"meter-1","type":"meter","meter_id":"1EMH0012345678","protocol":"sml",
 "scenario":"wired","obis":["1-0:1.8.0*255","1-0:2.8.0*255"],
 "key":{"ref":"K-1","algorithm":"aes-128","value":"$KEY"}}
EOF
cat >"$T/wan.json" <<'EOF'
{"profile_id":"wan-emt","type":"wan","recipient":"EMT-A","address":"emt.example:443",
 "tls_cert_fingerprint":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
 "retries":3,"retry_interval_s":60}
EOF
cat >"$T/eval.json" <<'EOF'
{"profile_id":"taf1","type":"evaluation","taf":"TAF1","meters":["1EMH0012345678"],
 "obis":["1-0:1.8.0*255"],"interval_s":900,"recipients":[{"emt":"EMT-A","wan_profile":"wan-emt"}]}
EOF
cat >"$T/han.json" <<EOF
{"profile_id":"han-1","type":"han","interface":"ethernet","session_timeout_s":600,
 "users":[{"name":"consumer","role":"consumer","password":"$PW"}]}
EOF
sed 's/"1-0:1.8.0\*255"/"1-0:1.8"/' "$T/meter.json" >"$T/bad-obis.json"

jobs_of() { sqlite3 "$H/store.db" "SELECT count(*) FROM jobs WHERE gateway_id='$GW' AND $1"; }
count() { sqlite3 "$H/store.db" "SELECT count(*) FROM admin_log WHERE $1"; }

# ---- validation before any job (T-PV.2, T-PV.4)
check_fails "a faulty profile (bad OBIS code) is refused" \
	"$TORWART" profile put --home "$H" --gateway "$GW" --file "$T/bad-obis.json"
check "the refusal is in the admin log" test "$(count "action='profile.put' AND result='refused'")" -ge 1
check "no job was created for the refused profile" test "$(jobs_of "1 = 1")" -eq 0
check "profile check accepts the meter profile" \
	"$TORWART" profile check --home "$H" --gateway "$GW" --file "$T/meter.json"
check "put meter profile" "$TORWART" profile put --home "$H" --gateway "$GW" --file "$T/meter.json"
check "put WAN profile" "$TORWART" profile put --home "$H" --gateway "$GW" --file "$T/wan.json"
out=$("$TORWART" profile put --home "$H" --gateway "$GW" --file "$T/eval.json" 2>&1); rc=$?
echo "$out" >>"$T/log"
if [ $rc -ne 0 ] && echo "$out" | grep -q "not an authorised EMT"; then
	ok "evaluation profile naming an unauthorised EMT is refused (T-PV.4)"
else bad "evaluation profile naming an unauthorised EMT is refused (T-PV.4): rc=$rc $out"; fi
check "EMT authorised for another gateway" \
	"$TORWART" profile authorise-emt --home "$H" --gateway SMGW-PR-0002 --emt EMT-A
check_fails "... does not count for this gateway" \
	"$TORWART" profile put --home "$H" --gateway "$GW" --file "$T/eval.json"
check "authorise EMT-A for the gateway" \
	"$TORWART" profile authorise-emt --home "$H" --gateway "$GW" --emt EMT-A
check "put evaluation profile" "$TORWART" profile put --home "$H" --gateway "$GW" --file "$T/eval.json"
check "put HAN profile" "$TORWART" profile put --home "$H" --gateway "$GW" --file "$T/han.json"
check "four profile-insert jobs" test "$(jobs_of "type='profile-insert'")" -eq 4

# ---- encryption at rest, masking
check "data key exists with mode 0600" test "$(stat -c %a "$H/secrets/data.key")" = 600
check "data key is 32 bytes" test "$(stat -c %s "$H/secrets/data.key")" = 32
check "the meter key is not in the store in clear" \
	bash -c "! sqlite3 '$H/store.db' .dump | grep -qi '$KEY'"
check "the HAN password is not in the store in clear" \
	bash -c "! sqlite3 '$H/store.db' .dump | grep -q '$PW'"
check "stored secrets are sealed (twbox1:)" \
	bash -c "sqlite3 '$H/store.db' \"SELECT doc FROM profiles WHERE profile_id='meter-1'\" | grep -q twbox1:"
check "profile show masks the meter key" \
	bash -c "'$TORWART' profile show --home '$H' --gateway $GW --profile meter-1 | grep -q '\"\\*\\*\\*\"'"
check "profile show never prints the key" \
	bash -c "! '$TORWART' profile show --home '$H' --gateway $GW --profile meter-1 | grep -qi '$KEY'"
check "profile reads are logged" test "$(count "action='profile.read'")" -ge 1
check "the admin log never holds the key or the password" \
	bash -c "! sqlite3 '$H/store.db' 'SELECT * FROM admin_log' | grep -qi -e '$KEY' -e '$PW'"

# ---- deletion of a referenced meter profile: the GWA refuses
out=$("$TORWART" profile delete --home "$H" --gateway "$GW" --profile meter-1 2>&1); rc=$?
echo "$out" >>"$T/log"
if [ $rc -ne 0 ] && echo "$out" | grep -q "referenced by evaluation profile"; then
	ok "GWA refuses to delete a referenced meter profile"
else bad "GWA refuses to delete a referenced meter profile: rc=$rc $out"; fi

# ---- the stack: orders reach the simulator
"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "wan listens" wait_port 127.0.0.1 "$WAN_PORT" 20
check "drift before the first contact: not reported" \
	bash -c "'$TORWART' profile list --home '$H' --gateway $GW | grep -q not-reported"
check "simulator visit executes the orders (alarm tamper on demand)" \
	"$SIM" --gwa "$WAN" --gateways "$G" --alarm tamper
check "all profile-insert jobs are done" test "$(jobs_of "type='profile-insert' AND state='done'")" -eq 4
check "the simulator stored the profiles on disk" \
	bash -c "/usr/bin/python3 -c 'import json,sys; d=json.load(open(\"$G/state.json\")); sys.exit(0 if len(d[\"profiles\"])==4 else 1)'"
check "desired and reported sets agree (in-sync)" \
	bash -c "'$TORWART' profile list --home '$H' --gateway $GW | head -n 1 | grep -q in-sync"
check "profile drift exits 0 when in sync" "$TORWART" profile drift --home "$H" --gateway "$GW"

check "profile read creates a profile-read job" "$TORWART" profile read --home "$H" --gateway "$GW"
check "simulator answers the read" "$SIM" --gwa "$WAN" --gateways "$G"
check "profile-read job done, documents masked" \
	test "$(jobs_of "type='profile-read' AND state='done' AND result LIKE '%***%'")" -eq 1

# ---- alarms: session status, T-AB.1, actions
check "alarm stored for the gateway" \
	test "$(sqlite3 "$H/store.db" "SELECT count(*) FROM gateway_messages WHERE gateway_id='$GW' AND kind='alarm' AND type='tamper'")" -ge 1
check "alarm in the admin log" test "$(count "action='gateway.alarm' AND result='ok'")" -ge 1
check "action alert: ALERT line in the service log" grep -q "ALERT: gateway $GW major alarm (tamper)" "$T/torwartd.log"
check "action selftest: a self-test job was scheduled" test "$(jobs_of "type='self-test'")" -ge 1
curl_gw() { # gateway-dir, then curl args; one connection: session first
	local d=$1; shift
	local o=(--cacert "$d/root-ca.crt" --cert "$d/tls.crt" --key "$d/tls.key" --curves brainpoolP256r1
		--tlsv1.2 --tls-max 1.2 -H 'Content-Type: application/json')
	curl -sS "${o[@]}" -o /dev/null -d "{\"gateway_id\":\"$(cat "$d/id")\",\"firmware_version\":\"1\",\"time\":\"2026-11-24T00:00:00Z\"}" \
		"https://localhost:$WAN_PORT/v1/session" --next "${o[@]}" "$@"
}
alarm() { printf '{"gateway_id":"%s","kind":"alarm","type":"%s","severity":"critical","time":"2026-11-24T06:00:00Z","message":"%s"}' "$1" "$2" "$3"; }
out=$(curl_gw "$G" -w ' %{http_code}' -d "$(alarm "$GW" power-failure "mains lost")" "https://localhost:$WAN_PORT/v1/alarms")
echo "$out" >>"$T/log"
if echo "$out" | grep -q '"ack":[0-9]*} 200'; then ok "POST /v1/alarms is acknowledged"; else bad "POST /v1/alarms is acknowledged: $out"; fi
out=$(curl_gw "$G" -w ' %{http_code}' -d "$(alarm SMGW-PR-0002 tamper "forged")" "https://localhost:$WAN_PORT/v1/alarms")
echo "$out" >>"$T/log"
if echo "$out" | grep -q 'identity_mismatch.* 403'; then ok "an alarm naming another gateway is refused (T-AB.1)"; else bad "T-AB.1 refusal: $out"; fi
check "nothing was attributed to the other gateway" \
	test "$(sqlite3 "$H/store.db" "SELECT count(*) FROM gateway_messages WHERE gateway_id='SMGW-PR-0002'")" -eq 0
out=$(curl_gw "$G" -w ' %{http_code}' -d '{"gateway_id":"x"' "https://localhost:$WAN_PORT/v1/alarms")
if echo "$out" | grep -q 'bad_json.* 400'; then ok "a malformed alarm gets 400 bad_json"; else bad "malformed alarm: $out"; fi

# ---- logs and self-test (UC-3.4.2, UC-3.4.3)
check "gateway selftest creates a job" "$TORWART" gateway selftest --home "$H" --id "$GW"
check "log-read job for the system log" "$TORWART" gateway logs --home "$H" --id "$GW" --kind system --fetch 1-100
check "log-read job for the calibration log" "$TORWART" gateway logs --home "$H" --id "$GW" --kind calibration --fetch 1-100
check "simulator executes them" "$SIM" --gwa "$WAN" --gateways "$G"
check "self-test result stored" \
	test "$(sqlite3 "$H/store.db" "SELECT count(*) FROM gateway_messages WHERE gateway_id='$GW' AND kind='selftest'")" -ge 1
check "signed system log entries stored with their signatures" \
	test "$(sqlite3 "$H/store.db" "SELECT count(*) FROM gateway_logs WHERE gateway_id='$GW' AND kind='system' AND verified=1 AND length(signature)>0")" -ge 4
check "calibration log entry stored" \
	test "$(sqlite3 "$H/store.db" "SELECT count(*) FROM gateway_logs WHERE gateway_id='$GW' AND kind='calibration'")" -ge 1
out=$("$TORWART" gateway logs --home "$H" --id "$GW" 2>&1)
echo "$out" >>"$T/log"
if echo "$out" | grep -q "valid .*profile meter-1 (meter) inserted" && ! echo "$out" | grep -q INVALID; then
	ok "gateway logs shows the entries as valid"; else bad "gateway logs shows the entries as valid"; fi
# Independent check with openssl: the stored signature verifies with the gateway's sig.crt.
row=$(sqlite3 -separator '|' "$H/store.db" "SELECT seq, time, message, hex(signature) FROM gateway_logs WHERE gateway_id='$GW' AND kind='system' ORDER BY seq LIMIT 1")
IFS='|' read -r seq time msg sighex <<<"$row"
printf 'torwart-log-v1\n%s\nsystem\n%s\n%s\n%s' "$GW" "$seq" "$time" "$msg" >"$T/tbs"
echo "$sighex" | xxd -r -p >"$T/sig.der"
openssl x509 -in "$G/sig.crt" -pubkey -noout >"$T/sig.pub"
check "openssl verifies a stored log signature with the gateway's SIG certificate" \
	openssl dgst -sha256 -verify "$T/sig.pub" -signature "$T/sig.der" "$T/tbs"
# An entry altered on the gateway's disk arrives with a signature that no longer fits:
# a new self-test writes a fresh (not yet fetched) entry, which is then altered.
check "second self-test" "$TORWART" gateway selftest --home "$H" --id "$GW"
"$SIM" --gwa "$WAN" --gateways "$G" >>"$T/log" 2>&1
/usr/bin/python3 - "$G/state.json" <<'EOF'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
e = d["logs"]["system"]["entries"][-1]
e["message"] = "nothing happened here"
json.dump(d, open(p, "w"))
EOF
last=$(/usr/bin/python3 -c "import json; print(json.load(open('$G/state.json'))['logs']['system']['entries'][-1]['seq'])")
check "log-read of the altered entry" "$TORWART" gateway logs --home "$H" --id "$GW" --kind system --fetch "$last-$last"
"$SIM" --gwa "$WAN" --gateways "$G" >>"$T/log" 2>&1
check "the altered entry is stored as INVALID" \
	bash -c "'$TORWART' gateway logs --home '$H' --id $GW --kind system | grep 'nothing happened here' | grep -q INVALID"
check "invalid signature is in the admin log" test "$(count "action='gateway.log.receive' AND result='invalid-signature'")" -ge 1

# ---- the simulator refuses to delete a referenced meter profile as well
check "a raw profile-delete job for meter-1 (bypassing the GWA's check)" \
	"$TORWART" job create --home "$H" --type profile-delete --gateway "$GW" --payload '{"profile_id":"meter-1"}'
"$SIM" --gwa "$WAN" --gateways "$G" >>"$T/log" 2>&1
check "the simulator refused it (job failed: referenced)" \
	test "$(sqlite3 "$H/store.db" "SELECT count(*) FROM jobs WHERE gateway_id='$GW' AND type='profile-delete' AND state='failed' AND error LIKE '%referenced%'")" -eq 1

# ---- drift detected on a session (T-PV.3)
check "delete the evaluation profile (desired only, no job)" \
	"$TORWART" profile delete --home "$H" --gateway "$GW" --profile taf1 --no-job
check "plain session" "$SIM" --gwa "$WAN" --gateways "$G"
out=$("$TORWART" profile drift --home "$H" 2>&1); rc=$?
echo "$out" >>"$T/log"
if [ $rc -eq 4 ] && echo "$out" | grep -q "taf1 .*unexpected-at-gateway"; then
	ok "profile drift names the drifting profile and exits 4"; else bad "profile drift: rc=$rc $out"; fi
check "drift is in the admin log" test "$(count "action='profile.report' AND result='drift'")" -ge 1
check "delete the evaluation profile on the gateway too" \
	"$TORWART" profile delete --home "$H" --gateway "$GW" --profile meter-1 --no-job
"$TORWART" job create --home "$H" --type profile-delete --gateway "$GW" --payload '{"profile_id":"taf1"}' >>"$T/log" 2>&1
"$TORWART" job create --home "$H" --type profile-delete --gateway "$GW" --payload '{"profile_id":"meter-1"}' >>"$T/log" 2>&1
check "simulator executes the deletions" "$SIM" --gwa "$WAN" --gateways "$G"
check "back in sync" "$TORWART" profile drift --home "$H" --gateway "$GW"
check "no drift alert for changes the operators made" \
	test "$(count "action='alert.profile-drift'")" -eq 0

# ---- a gateway that changes its profiles by itself raises one drift alert (T-PV.3)
"$TORWART" job create --home "$H" --type profile-delete --gateway "$GW" --payload '{"profile_id":"han-1"}' >>"$T/log" 2>&1
check "the gateway drops han-1 (a raw order, outside the desired set)" "$SIM" --gwa "$WAN" --gateways "$G"
check "one profile-drift alert naming han-1" \
	test "$(count "action='alert.profile-drift' AND detail LIKE '%han-1%'")" -eq 1
check "another session with the same drifting set: no second alert" "$SIM" --gwa "$WAN" --gateways "$G"
check "still one profile-drift alert" test "$(count "action='alert.profile-drift'")" -eq 1
check "audit verify: intact" "$TORWART" audit verify --home "$H"
check "after all orders the store still holds no meter key or password in clear" \
	bash -c "! sqlite3 '$H/store.db' .dump | grep -qi -e '$KEY' -e '$PW'"

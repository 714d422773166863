#!/usr/bin/env bash
# emt.sh: UC-3.2.4 end to end. An external market participant (EMT) is a WAN principal
# of its own kind: identified by an EMT TLS certificate of this Sub-CA, it asks for a
# CLS connection (POST /v1/emt/cls-requests), the GWA checks the EMT's authorisation for
# the gateway, a "cls-connect" job wakes the simulated gateway, which activates its proxy
# communication and reports back; the EMT reads the result. Refusals (unauthorised EMT,
# another EMT's job, wrong principal kind on a route, revoked certificate, bad and
# oversized bodies) are checked with curl and in the admin log.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-emt-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port)
WU_PORT=$((20000 + RANDOM % 30000))
WAN="127.0.0.1:$WAN_PORT"
URL="https://localhost:$WAN_PORT"
count_log() { sqlite3 "$H/store.db" "SELECT count(*) FROM admin_log WHERE $1"; }
state_of() { "$TORWART" job show --home "$H" --id "$1" | sed -n 's/^state: *//p'; }

check "torwart init --test-pki" "$TORWART" init --home "$H" --test-pki --wan-listen "$WAN" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$(free_port)"
printf '\n[worker]\njob_tick_ms = 50\n' >>"$H/torwart.conf"

# ---- EMTs: register, request (torwart req), issue, export the TLS certificate
# issue_emt NAME MPID CN: leaves $T/NAME/tls.key and $T/NAME.crt, prints nothing.
issue_emt() {
	local name=$1 mpid=$2 cn=$3 serial
	"$TORWART" ca register --home "$H" --name "$name" --org "$name org" --role emt \
		--mp-id "$mpid" --cn "$cn" >>"$T/log" 2>&1 || return 1
	"$TORWART" req initial --cn "$cn" --ou "$mpid" --role EMT --key-dir "$T/$name" \
		--format der --out "$T/$name.req" >>"$T/log" 2>&1 || return 1
	"$TORWART" ca issue --home "$H" --request "$T/$name.req" --participant "$name" \
		>>"$T/log" 2>&1 || return 1
	serial=$(sqlite3 "$H/store.db" "SELECT serial_hex FROM certificates WHERE owner_kind='emt' AND owner_id='$name' AND usage='TLS'")
	[ -n "$serial" ] || return 1
	echo "$serial" >"$T/$name.serial"
	"$TORWART" ca export "$serial" --home "$H" --out "$T/$name.crt" >>"$T/log" 2>&1
}
check "issue EMT A (market partner 9900000000001)" issue_emt emt-a 9900000000001 A.EMT.IT
check "issue EMT B (market partner 9900000000002)" issue_emt emt-b 9900000000002 B.EMT.IT
check "issue EMT C (to be revoked)" issue_emt emt-c 9900000000003 C.EMT.IT
check "EMT TLS certificate chains to the test SM-PKI" openssl verify -CAfile "$H/pki/chain.pem" "$T/emt-a.crt"

# ---- the stack, two gateways, the simulator as a daemon that answers wake-ups
"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "torwartd all starts" wait_port 127.0.0.1 "$WAN_PORT" 20
for g in GW-E1 GW-E2; do check "gateway add $g" "$TORWART" gateway add --home "$H" --id "$g"; done
check "wake-up address for both" "$TORWART" gateway set --home "$H" --gateways all \
	--wakeup "127.0.0.1:$WU_PORT"
"$SIM" --home "$H" --count 2 --listen-wakeup "127.0.0.1:$WU_PORT" --stats "$T/sim.stats" \
	>>"$T/sim.log" 2>&1 &
pids_to_kill+=("$!")
sim_up() { for _ in $(seq 1 50); do [ -s "$T/sim.stats" ] && return 0; sleep 0.1; done; return 1; }
check "simulator daemon starts" sim_up

TLSOPT="--curves brainpoolP256r1 --tlsv1.2 --tls-max 1.2 --cacert $H/pki/chain.pem -sS"
as_emt() { local who=$1; shift; curl $TLSOPT --cert "$T/$who.crt" --key "$T/$who/tls.key" "$@" 2>>"$T/log"; }
GWD="$H/gateways/GW-E1"
as_gw() { curl $TLSOPT --cert "$GWD/tls.crt" --key "$GWD/tls.key" "$@" 2>>"$T/log"; }
JSON=(-H Content-Type:application/json)
REQ='{"gateway":"GW-E1","cls":"cls-heatpump-1","duration_s":600}'

# ---- not authorised: 403, logged with the EMT's own principal kind, no job
out=$(as_emt emt-a -o "$T/r1" -w '%{http_code}' "${JSON[@]}" -d "$REQ" "$URL/v1/emt/cls-requests")
check "unauthorised EMT is refused (403)" test "$out" = 403
check "... with not_authorised" grep -q not_authorised "$T/r1"
check "... and no job was created" test "$(sqlite3 "$H/store.db" "SELECT count(*) FROM jobs WHERE type='cls-connect'")" = 0
sleep 0.4   # wan writes its admin-log entries in batches (100 ms)
check "... logged as emt.cls-request refused, actor emt:9900000000001, role emt" test \
	"$(count_log "action='emt.cls-request' AND result='refused' AND actor='emt:9900000000001' AND role='emt' AND client LIKE '127.0.0.1:%'")" -ge 1
check "the EMT's connection was logged with its kind" test \
	"$(count_log "action='wan.connect' AND actor='emt:9900000000001' AND role='emt'")" -ge 1

# ---- authorised: 202 {"job": N}, the job completes with the proxy result
check "profile authorise-emt GW-E1 <- 9900000000001" "$TORWART" profile authorise-emt \
	--home "$H" --gateway GW-E1 --emt 9900000000001
out=$(as_emt emt-a -o "$T/r2" -w '%{http_code}' "${JSON[@]}" -d "$REQ" "$URL/v1/emt/cls-requests")
check "authorised EMT gets 202" test "$out" = 202
JOB=$(/usr/bin/python3 -c "import json;print(json.load(open('$T/r2'))['job'])" 2>>"$T/log")
check "... with a job id" test -n "$JOB"
check "the job is a cls-connect job created by emt:9900000000001" test \
	"$(sqlite3 "$H/store.db" "SELECT type || ' ' || actor FROM jobs WHERE id = ${JOB:-0}")" = "cls-connect emt:9900000000001"
check "job.create logged with actor emt and role emt" test \
	"$(count_log "action='job.create' AND actor='emt:9900000000001' AND role='emt' AND object='job:${JOB:-0}'")" = 1
check "the job reaches done (wake-up, connection, proxy activated)" \
	"$TORWART" job wait --home "$H" --id "${JOB:-0}" --wait-timeout 60
out=$(as_emt emt-a -o "$T/r3" -w '%{http_code}' "$URL/v1/emt/cls-requests/${JOB:-0}")
check "the EMT reads its request (200)" test "$out" = 200
check "... state done, result proxy active for the CLS" /usr/bin/python3 -c "
import json; r = json.load(open('$T/r3'))
assert r['state'] == 'done' and r['gateway'] == 'GW-E1' and r['cls'] == 'cls-heatpump-1', r
assert r['result']['proxy'] == 'active' and r['result']['cls'] == 'cls-heatpump-1', r"
check "the simulated gateway holds the active proxy (state on disk)" /usr/bin/python3 -c "
import json; s = json.load(open('$H/gateways/GW-E1/state.json'))
p = s['cls_proxy']
assert p['cls'] == 'cls-heatpump-1' and p['emt'] == '9900000000001', p"
out=$(as_emt emt-b -o "$T/r4" -w '%{http_code}' "$URL/v1/emt/cls-requests/${JOB:-0}")
check "another EMT cannot read it (404)" test "$out" = 404
out=$(as_emt emt-a -o /dev/null -w '%{http_code}' "$URL/v1/emt/cls-requests/999999")
check "an unknown request is 404" test "$out" = 404
out=$(as_emt emt-a -o /dev/null -w '%{http_code}' "${JSON[@]}" \
	-d '{"gateway":"GW-E2","cls":"c1","duration_s":60}' "$URL/v1/emt/cls-requests")
check "authorised for GW-E1 only: GW-E2 refused (403)" test "$out" = 403
out=$(as_emt emt-a -o /dev/null -w '%{http_code}' "${JSON[@]}" \
	-d '{"gateway":"NO-SUCH-GW","cls":"c1","duration_s":60}' "$URL/v1/emt/cls-requests")
check "an unknown gateway looks the same (403)" test "$out" = 403
out=$(as_emt emt-b -o /dev/null -w '%{http_code}' "${JSON[@]}" -d "$REQ" "$URL/v1/emt/cls-requests")
check "EMT B is not authorised for GW-E1 (403)" test "$out" = 403
check "job show names the EMT as actor" bash -c "'$TORWART' job show --home '$H' --id ${JOB:-0} | grep -q 'emt:9900000000001'"

# ---- bad input: strict parsing, typed errors, nothing created
before=$(sqlite3 "$H/store.db" "SELECT count(*) FROM jobs")
bad_body() { # what body code ecode
	local out
	out=$(as_emt emt-a -o "$T/rb" -w '%{http_code}' "${JSON[@]}" --data-binary "$2" "$URL/v1/emt/cls-requests")
	if [ "$out" = "$3" ] && grep -q "\"$4\"" "$T/rb"; then ok "$1 -> $3 $4"; else bad "$1 -> $3 $4 (got $out: $(cat "$T/rb"))"; fi
}
bad_body "not JSON" '{"gateway":' 400 bad_json
bad_body "not an object" '[1,2]' 400 bad_json
bad_body "duplicate member" '{"gateway":"GW-E1","gateway":"GW-E2","cls":"c","duration_s":1}' 400 bad_json
bad_body "unknown member" '{"gateway":"GW-E1","cls":"c","duration_s":1,"x":1}' 400 invalid_request
bad_body "missing cls" '{"gateway":"GW-E1","duration_s":1}' 400 invalid_request
bad_body "duration 0" '{"gateway":"GW-E1","cls":"c","duration_s":0}' 400 invalid_request
bad_body "duration as string" '{"gateway":"GW-E1","cls":"c","duration_s":"60"}' 400 invalid_request
bad_body "cls with a slash" '{"gateway":"GW-E1","cls":"a/b","duration_s":1}' 400 invalid_request
bad_body "oversized body (2 KiB)" "{\"gateway\":\"GW-E1\",\"cls\":\"$(head -c 2048 /dev/zero | tr '\0' a)\",\"duration_s\":1}" 413 too_large
bad_body "overlong cls (65 bytes)" "{\"gateway\":\"GW-E1\",\"cls\":\"$(head -c 65 /dev/zero | tr '\0' a)\",\"duration_s\":1}" 413 too_large
out=$(as_emt emt-a -o /dev/null -w '%{http_code}' -H Content-Type:text/plain -d "$REQ" "$URL/v1/emt/cls-requests")
check "wrong Content-Type gets 415" test "$out" = 415
out=$(as_emt emt-a -o /dev/null -w '%{http_code}' "$URL/v1/emt/cls-requests")
check "GET on the collection gets 405" test "$out" = 405
check "bad input created no job" test "$(sqlite3 "$H/store.db" "SELECT count(*) FROM jobs")" = "$before"
sleep 0.4
check "bad input is logged as refused EMT requests" test \
	"$(count_log "action='emt.cls-request' AND result='refused' AND actor='emt:9900000000001'")" -ge 10

# ---- principal kinds never cross: EMT on gateway routes, gateway on EMT routes
SESSION='{"gateway_id":"GW-E1","firmware_version":"1.0","time":"2026-11-24T00:00:00Z"}'
for p in /v1/session /v1/orders /v1/orders/1/result /v1/alarms; do
	out=$(as_emt emt-a -o "$T/rp" -w '%{http_code}' "${JSON[@]}" -d "$SESSION" "$URL$p")
	if [ "$out" = 403 ] && grep -q wrong_principal "$T/rp"; then ok "EMT on $p refused (403 wrong_principal)"; else bad "EMT on $p: $out $(cat "$T/rp")"; fi
done
out=$(as_emt emt-a -o /dev/null -w '%{http_code}' "$URL/v1/orders")
check "EMT GET /v1/orders refused (403)" test "$out" = 403
out=$(as_gw -o "$T/rg" -w '%{http_code}' "${JSON[@]}" -d "$REQ" "$URL/v1/emt/cls-requests")
check "gateway on POST /v1/emt/cls-requests refused (403 wrong_principal)" bash -c "test '$out' = 403 && grep -q wrong_principal '$T/rg'"
out=$(as_gw -o /dev/null -w '%{http_code}' "$URL/v1/emt/cls-requests/${JOB:-0}")
check "gateway cannot read an EMT request (403)" test "$out" = 403
out=$(as_gw -o /dev/null -w '%{http_code}' "${JSON[@]}" -d "$SESSION" "$URL/v1/session")
check "the gateway still opens its session (200)" test "$out" = 200
sleep 0.4
check "EMT on gateway routes logged (wan.refuse, actor emt, role emt)" test \
	"$(count_log "action='wan.refuse' AND actor='emt:9900000000001' AND role='emt' AND detail='EMT on a gateway route'")" -ge 5
check "gateway on EMT routes logged (wan.refuse, actor gateway, role smgw)" test \
	"$(count_log "action='wan.refuse' AND actor='gateway:GW-E1' AND role='smgw' AND detail='gateway on an EMT route'")" -ge 2

# ---- a revoked EMT certificate is refused at the handshake
check "EMT C works before revocation" bash -c "as_emt() { curl $TLSOPT --cert '$T/emt-c.crt' --key '$T/emt-c/tls.key' \"\$@\"; }; \
	test \"\$(as_emt -o /dev/null -w '%{http_code}' $URL/v1/emt/cls-requests/1)\" = 404"
check "ca revoke EMT C's TLS certificate" "$TORWART" ca revoke "$(cat "$T/emt-c.serial")" --home "$H" \
	--reason keyCompromise
out=$(as_emt emt-c -o /dev/null -w '%{http_code}' "$URL/v1/emt/cls-requests/1")
check "revoked EMT refused at the handshake (no HTTP answer)" test "$out" = 000
sleep 0.4
check "... logged as wan.refuse 'certificate revoked' with actor emt:9900000000003" test \
	"$(count_log "action='wan.refuse' AND actor='emt:9900000000003' AND role='emt' AND detail='certificate revoked'")" -ge 1
# openssl s_client as an independent client: A's handshake completes, revoked C's does not.
sclient() { timeout 10 openssl s_client -connect "$WAN" -brief -CAfile "$H/pki/chain.pem" \
	-tls1_2 -groups brainpoolP256r1 -cert "$T/$1.crt" -key "$T/$1/tls.key" </dev/null 2>&1; }
sclient emt-a >"$T/sc-a"; sclient emt-c >"$T/sc-c"; cat "$T/sc-a" "$T/sc-c" >>"$T/log"
check "openssl s_client: EMT A completes the handshake" grep -q "CONNECTION ESTABLISHED" "$T/sc-a"
check_fails "openssl s_client: revoked EMT C does not" grep -q "CONNECTION ESTABLISHED" "$T/sc-c"
check "admin log chain still verifies" "$TORWART" audit verify --home "$H"

#!/usr/bin/env bash
# api_resources.sh: issue 15 section 1. The resource API of the operator listener with
# curl as an independent client: lists with filters and cursor pagination, tenant
# isolation exactly as the CLI (another tenant's object reads like a missing one), RFC
# 9457 problem details with the CLI's typed codes, a fleet order written through the
# same command, four-eyes and approval path as `torwart job create`, the order's
# progress, alarms, certificates, CRLs, participants, requests, the admin log and its
# signed heads; every route of docs/openapi.yaml answered by the running api.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-res-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT
SRC=${TORWART_SOURCE:?}

WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)
API="https://127.0.0.1:$TLS_PORT"
WAN="127.0.0.1:$WAN_PORT"
O="$T/ops"
mkdir -p "$O"
db() { sqlite3 "$H/store.db" "$1"; }

check "init" "$TORWART" init --home "$H" --test-pki --wan-listen "$WAN" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"
printf '\n[auth]\nfleet_order_threshold = 1\n' >>"$H/torwart.conf"
bootstrap_operators "$H" "$O" gwa:alpha:gateway-operator gwb:beta:gateway-operator \
	aud:alpha:auditor appr:alpha:approver
bootstrap_gateways "$H" "$T" GW-A1 GW-A2 GW-B1
check "alpha: GW-A1, GW-A2 tagged shared" "$TORWART" gateway set --home "$H" \
	--gateways GW-A1,GW-A2 --move-tenant alpha --add-tag shared
check "beta: GW-B1" "$TORWART" gateway set --home "$H" --gateway GW-B1 --move-tenant beta

"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "operator API listens" wait_port 127.0.0.1 "$TLS_PORT" 20
check "wan listens" wait_port 127.0.0.1 "$WAN_PORT" 20
check "GW-A1 reports a tamper alarm" "$SIM" --gwa "$WAN" --gateways "$T/GW-A1" --alarm tamper
check "GW-B1 reports a tamper alarm" "$SIM" --gwa "$WAN" --gateways "$T/GW-B1" --alarm tamper

TLS="--curves brainpoolP256r1 --tlsv1.2 --tls-max 1.2"
# login NAME: a session token by POST /v1/login (curl, not the CLI)
login() {
	# shellcheck disable=SC2086
	curl -s $TLS --cacert "$H/pki/operator-ca.crt" --cert "$O/$1/$1.crt" --key "$O/$1/$1.key" \
		-H 'Content-Type: application/json' \
		--data-binary "{\"password\":\"$(cat "$O/$1.pw")\"}" "$API/v1/login" |
		sed -n 's/.*"token":"\([^"]*\)".*/\1/p'
}
check "CLI login gwb" "$TORWART" login --api "$API" --cert "$O/gwb/gwb.crt" --key "$O/gwb/gwb.key" \
	--password-file "$O/gwb.pw" --token-file "$T/gwb.cli"
declare -A TOK
for n in gwa gwb aud appr; do
	TOK[$n]=$(login "$n")
	check "login $n over curl" test -n "${TOK[$n]}"
done
# req WHO METHOD PATH [BODY]: status on stdout; body in $T/out, headers in $T/hdr
req() {
	local who=$1 method=$2 path=$3 body=${4-}
	# shellcheck disable=SC2086
	curl -s -o "$T/out" -D "$T/hdr" -w '%{http_code}' $TLS --cacert "$H/pki/operator-ca.crt" \
		--cert "$O/$who/$who.crt" --key "$O/$who/$who.key" \
		-H "Authorization: Bearer ${TOK[$who]}" -X "$method" \
		${body:+-H 'Content-Type: application/json' --data-binary "$body"} "$API$path"
}
jq_() { /usr/bin/python3 -c "import json,sys; d=json.load(open('$T/out')); print($1)"; }

# ---- gateways: filters, pagination, tenant isolation
check "GET /v1/gateways as alpha: 200" test "$(req gwa GET /v1/gateways)" = 200
check "... alpha's two gateways, not beta's" test "$(jq_ "','.join(g['id'] for g in d['gateways'])")" = "GW-A1,GW-A2"
check "... with tags and tenant" test "$(jq_ "d['gateways'][0]['tags']")" = shared
req gwa GET '/v1/gateways?limit=1' >/dev/null
check "limit=1: one gateway" test "$(jq_ "len(d['gateways'])")" = 1
NEXT=$(jq_ "d['next']")
check "... next is a cursor" test "$NEXT" = GW-A1
req gwa GET "/v1/gateways?limit=1&cursor=$NEXT" >/dev/null
check "cursor: the second page holds GW-A2" test "$(jq_ "d['gateways'][0]['id']")" = GW-A2
req gwa GET "/v1/gateways?limit=1&cursor=GW-A2" >/dev/null
check "the page after the last is empty with next null" test "$(jq_ "(len(d['gateways']), d['next'])")" = "(0, None)"
req gwa GET '/v1/gateways?tag=shared' >/dev/null
check "... two gateways" test "$(jq_ "len(d['gateways'])")" = 2
check "GET /v1/gateways/GW-A1: 200" test "$(req gwa GET /v1/gateways/GW-A1)" = 200
check "... with its open jobs" test "$(jq_ "d['open_jobs']")" = 0
check "another tenant's gateway: 404" test "$(req gwa GET /v1/gateways/GW-B1)" = 404
sed 's/GW-B1/X/g' "$T/out" >"$T/other.json"
check "... as problem details (application/problem+json)" grep -qi '^content-type: application/problem+json' "$T/hdr"
check "... typed code not-found, status 404, type urn" test "$(jq_ "(d['code'], d['status'], d['type'])")" = "('not-found', 404, 'urn:torwart:problem:not-found')"
check "a missing gateway: 404 too" test "$(req gwa GET /v1/gateways/GW-NOPE)" = 404
sed 's/GW-NOPE/X/g' "$T/out" >"$T/missing.json"
check "... indistinguishable from the other tenant's" cmp -s "$T/other.json" "$T/missing.json"
check "unknown query parameter: 400 invalid" test "$(req gwa GET '/v1/gateways?colour=red')" = 400
check "... code invalid" test "$(jq_ "d['code']")" = invalid
check "a broken cursor: 400" test "$(req gwa GET '/v1/jobs?cursor=%2e%2e%2fetc')" = 400
check "limit over 500: 400" test "$(req gwa GET '/v1/jobs?limit=501')" = 400
check "a filter the resource lacks: 400" test "$(req gwa GET '/v1/gateways?ca=sub-ca')" = 400
check "the auditor lists gateways (read role of gateway list)" test "$(req aud GET /v1/gateways)" = 200
check "the approver may not (no role of gateway list): 403" test "$(req appr GET /v1/gateways)" = 403
check "... code denied" test "$(jq_ "d['code']")" = denied
check "DELETE is not a method here" bash -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' $TLS --cacert '$H/pki/operator-ca.crt' --cert '$O/gwa/gwa.crt' --key '$O/gwa/gwa.key' -H 'Authorization: Bearer ${TOK[gwa]}' -X DELETE '$API/v1/gateways')\" != 200"
check "POST on a read-only resource: 405" test "$(req gwa POST /v1/gateways '{}')" = 405
check "no session: 403 problem" bash -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' $TLS --cacert '$H/pki/operator-ca.crt' --cert '$O/gwa/gwa.crt' --key '$O/gwa/gwa.key' '$API/v1/jobs')\" = 403"

check "GET /v1/gateways/GW-A1/profiles: 200" test "$(req gwa GET /v1/gateways/GW-A1/profiles)" = 200
check "... desired list and the reported set" test "$(jq_ "(d['gateway'], d['desired'], d['reported']['count'])")" = "('GW-A1', [], 0)"
check "another tenant's gateway profiles: 404" test "$(req gwa GET /v1/gateways/GW-B1/profiles)" = 404
check "GET /v1/firmware as the gateway operator: 200" test "$(req gwa GET /v1/firmware)" = 200
check "... an empty catalogue" test "$(jq_ "(d['firmware'], d['next'])")" = "([], None)"

# ---- a fleet order through the same command, four-eyes, progress
before=$(db "SELECT count(*) FROM jobs")
check "POST /v1/fleet-orders without why: 400 (the command's four-eyes rule)" \
	test "$(req gwa POST /v1/fleet-orders '{"type":"ping","tag":"shared"}')" = 400
check "unknown member: 400" test "$(req gwa POST /v1/fleet-orders '{"type":"ping","tag":"shared","colour":1}')" = 400
check "two selections: 400" test "$(req gwa POST /v1/fleet-orders '{"type":"ping","tag":"shared","gateway":"GW-A1","why":"x"}')" = 400
check "POST /v1/fleet-orders (tag shared, 2 > threshold 1): 202" \
	test "$(req gwa POST /v1/fleet-orders '{"type":"ping","tag":"shared","why":"weekly check"}')" = 202
APPROVAL=$(jq_ "d['approval']")
check "... a four-eyes approval fleet.order" test "$(jq_ "d['action']")" = fleet.order
check "... nothing ran yet" test "$(db "SELECT count(*) FROM jobs")" = "$before"
check "beta's operator cannot fleet-order alpha's gateway (hidden as missing)" \
	test "$(req gwb POST /v1/fleet-orders '{"type":"ping","gateway":"GW-A1"}')" = 404
req appr GET "/v1/approvals/$APPROVAL" >/dev/null
check "... job create --type ping --tag shared" test "$(jq_ "json.loads(d['params'])['argv'][:6] if isinstance(d['params'], str) else d['params']['argv'][:6]")" = "['job', 'create', '--type', 'ping', '--tag', 'shared']"
check "approve as the second operator: 200" test "$(req appr POST "/v1/approvals/$APPROVAL/approve" '{"reason":"ok"}')" = 200
check "... two jobs exist" test "$(db "SELECT count(*) FROM jobs")" = "$((before + 2))"
BATCH=$(db "SELECT max(batch_id) FROM jobs")
check "GET /v1/fleet-orders/$BATCH: 200" test "$(req gwa GET "/v1/fleet-orders/$BATCH")" = 200
check "... total 2, two jobs in the progress" test "$(jq_ "(d['total'], d['jobs'], sum(d['states'].values()))")" = "(2, 2, 2)"
check "beta cannot see alpha's fleet order: 404" test "$(req gwb GET "/v1/fleet-orders/$BATCH")" = 404
req gwa GET "/v1/jobs?batch=$BATCH" >/dev/null
check "... of type ping" test "$(jq_ "[j['type'] for j in d['jobs']]")" = "['ping', 'ping']"
JOB=$(jq_ "d['jobs'][0]['id']")
req gwa GET "/v1/jobs?batch=$BATCH&limit=1" >/dev/null
check "jobs page of one has a cursor" test "$(jq_ "d['next']")" = "$JOB"
check "GET /v1/jobs/$JOB: 200" test "$(req gwa GET "/v1/jobs/$JOB")" = 200
check "beta: alpha's job is 404" test "$(req gwb GET "/v1/jobs/$JOB")" = 404
req gwb GET /v1/jobs >/dev/null
check "beta's job list has none of alpha's jobs" test "$(jq_ "len(d['jobs'])")" = 0

# ---- alarms
check "alarms arrived" bash -c "for i in \$(seq 50); do [ \"\$(sqlite3 '$H/store.db' \"SELECT count(*) FROM gateway_messages WHERE kind='alarm'\")\" -ge 2 ] && exit 0; sleep 0.2; done; exit 1"
check "GET /v1/alarms as alpha: 200" test "$(req gwa GET /v1/alarms)" = 200
check "... only GW-A1's tamper alarm" test "$(jq_ "[(a['gateway'], a['type']) for a in d['alarms']]")" = "[('GW-A1', 'tamper')]"
req gwb GET /v1/alarms >/dev/null
check "... beta sees only GW-B1's" test "$(jq_ "[a['gateway'] for a in d['alarms']]")" = "['GW-B1']"

ALARM_A=$(db "SELECT id FROM gateway_messages WHERE gateway_id='GW-A1' AND kind='alarm'")
ALARM_B=$(db "SELECT id FROM gateway_messages WHERE gateway_id='GW-B1' AND kind='alarm'")
req gwa GET /v1/alarms >/dev/null
check "... not acknowledged yet" test "$(jq_ "d['alarms'][0]['acknowledged']")" = None
check "the approver may not acknowledge (role of alarm ack): 403" \
	test "$(req appr POST "/v1/alarms/$ALARM_A/ack" '{"reason":"x"}')" = 403
req gwb POST "/v1/alarms/$ALARM_A/ack" '{"reason":"mine?"}' >/dev/null
# stderr of a command comes back base64-encoded
err_() { /usr/bin/python3 -c "import base64,json; d=json.load(open('$T/out')); print(d['exit'], base64.b64decode(d['stderr']).decode())"; }
check "... exit 1, 'does not exist'" bash -c "/usr/bin/python3 -c \"import base64,json; d=json.load(open('$T/out')); exit(not (d['exit'] == 1 and b'does not exist' in base64.b64decode(d['stderr'])))\""
err_ | sed "s/alarm $ALARM_A /alarm N /" >"$T/ack-other"
req gwb POST "/v1/alarms/999999/ack" '{"reason":"mine?"}' >/dev/null
err_ | sed "s/alarm 999999 /alarm N /" >"$T/ack-missing"
check "... the same answer as for a missing alarm" cmp -s "$T/ack-other" "$T/ack-missing"
check "POST /v1/alarms/$ALARM_A/ack as alpha: 200" test "$(req gwa POST "/v1/alarms/$ALARM_A/ack" '{"reason":"technician on site"}')" = 200
check "... the command ran (exit 0)" test "$(jq_ "d['exit']")" = 0
req gwa GET /v1/alarms >/dev/null
check "... the alarm shows who acknowledged it and why" test "$(jq_ "(d['alarms'][0]['acknowledged']['by'], d['alarms'][0]['acknowledged']['note'])")" = "('gwa', 'technician on site')"
req gwa GET '/v1/alarms?status=open' >/dev/null
check "... and is no longer open" test "$(jq_ "len(d['alarms'])")" = 0
req gwa POST "/v1/alarms/$ALARM_A/ack" '{}' >/dev/null
check "a second acknowledgement is refused" bash -c "/usr/bin/python3 -c \"import base64,json; d=json.load(open('$T/out')); exit(not (d['exit'] == 1 and b'already' in base64.b64decode(d['stderr'])))\""
check "acknowledgement in the admin log" test "$(db "SELECT count(*) FROM admin_log WHERE action='gateway.alarm.ack' AND actor='gwa' AND result='ok'")" = 1
check "torwart alarm list --home shows it acknowledged by gwa" bash -c "'$TORWART' alarm list --home '$H' | grep '^$ALARM_A ' | grep -q gwa"
check "torwart alarm list --open --home shows only GW-B1's" bash -c "'$TORWART' alarm list --home '$H' --open | grep -q GW-B1 && ! '$TORWART' alarm list --home '$H' --open | grep -q GW-A1"
check "beta acknowledges its own through the CLI and the api" "$TORWART" alarm ack --token-file "$T/gwb.cli" --id "$ALARM_B" --reason "checked"

# ---- certificates, CRLs, participants, requests (the CA-read role of `ca list`)
check "GET /v1/certificates as the auditor: 200" test "$(req aud GET /v1/certificates)" = 200
SERIAL=$(jq_ "d['certificates'][0]['serial']")
check "... with serials" test -n "$SERIAL"
check "GET /v1/certificates/$SERIAL: 200" test "$(req aud GET "/v1/certificates/$SERIAL")" = 200
check "status filter" test "$(req aud GET '/v1/certificates?status=revoked')" = 200
check "a gateway operator may not read the CA: 403" test "$(req gwa GET /v1/certificates)" = 403
check "revocation through the api needs the RA role of ca revoke: 403" \
	test "$(req gwa POST "/v1/certificates/$SERIAL/revoke" '{"reason":"keyCompromise","why":"test"}')" = 403
check "... nothing revoked" test "$(db "SELECT count(*) FROM certificates WHERE status='revoked'")" = 0
check "GET /v1/crls: 200" test "$(req aud GET /v1/crls)" = 200
check "GET /v1/participants: 200" test "$(req aud GET /v1/participants)" = 200
check "GET /v1/requests?state=pending: 200" test "$(req aud GET '/v1/requests?state=pending')" = 200

# ---- the admin log
check "GET /v1/admin-log?limit=5: 200" test "$(req aud GET '/v1/admin-log?limit=5')" = 200
check "... entries 1..5 and next 5" test "$(jq_ "([e['seq'] for e in d['entries']], d['next'])")" = "([1, 2, 3, 4, 5], '5')"
req aud GET '/v1/admin-log?limit=2&cursor=5' >/dev/null
check "... the cursor continues at 6" test "$(jq_ "[e['seq'] for e in d['entries']]")" = "[6, 7]"
check "... entries carry their chain hash" test "$(jq_ "len(d['entries'][0]['hash'])")" = 64
check "GET /v1/admin-log/heads: 200" test "$(req aud GET /v1/admin-log/heads)" = 200
check "GET /v1/admin-log/3/proof: 200" test "$(req aud GET /v1/admin-log/3/proof)" = 200
/usr/bin/python3 -c "import json; print(json.load(open('$T/out'))['document'], end='')" >"$T/proof.txt"
check "... the proof document verifies offline (torwart audit proof --verify)" \
	"$TORWART" audit proof --verify "$T/proof.txt" --cert "$H/pki/gwa-sig.crt"
check "... against a signed head" test "$(jq_ "d['signed_head'] is not None")" = True
check "a proof of an entry past the log: 404" test "$(req aud GET /v1/admin-log/99999999/proof)" = 404
check "the gateway operator may not read the admin log: 403" test "$(req gwa GET /v1/admin-log)" = 403
check "reads through the api are in the admin log" test "$(db "SELECT count(*) FROM admin_log WHERE action='api.read' AND actor='aud'")" -ge 5

# ---- every documented route answers (docs/openapi.yaml), none is "no such resource"
/usr/bin/python3 - "$SRC/docs/openapi.yaml" >"$T/routes" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
for path, item in doc["paths"].items():
    for method in item:
        if method in ("get", "post"):
            print(method.upper(), path)
PY
check "openapi.yaml lists routes" test "$(wc -l <"$T/routes")" -ge 20
check "POST /v1/logout ends aud's session (200)" test "$(req appr POST /v1/logout '{}')" = 200
check "... the token no longer works" test "$(req appr GET /v1/approvals)" = 403
while read -r m p; do
	# login and logout are exercised above (a logout here would end the session)
	case "$m $p" in "POST /v1/login"|"POST /v1/logout") continue ;; esac
	path=$(printf '%s' "$p" | sed -e "s/{id}/1/; s/{name}/gwa/; s/{serial}/$SERIAL/")
	code=$(req aud "$m" "$path" '{}')
	if [ "$code" = 404 ] && grep -q 'no such resource' "$T/out"; then
		bad "documented route $m $p exists"
	else
		ok "documented route $m $p exists ($code)"
	fi
done <"$T/routes"

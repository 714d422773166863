#!/usr/bin/env bash
# boundaries_new_areas.sh: the attacks of api_boundaries.sh against the commands of the
# newer areas (renewal, alarm, gateway crl-push, firmware and rollout reads; metering and
# time, which the api does not offer) through the api's /v1/commands and resource routes:
# another tenant's ids read exactly like missing ones (byte-compared), abbreviated and
# repeated options are refused by the one parser (locally too), and free text that a
# gateway, an upstream or an operator chose (renewal errors, clock failures, alarm
# acknowledgements) is stored as given and shown escaped.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-bna-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT
O="$T/ops"
WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)
API="https://127.0.0.1:$TLS_PORT"
WAN="127.0.0.1:$WAN_PORT"
db() { sqlite3 "$H/store.db" "$1"; }
C=$(sql_chr 27); N=$(sql_chr 10)
PY=/usr/bin/python3

check "init" "$TORWART" init --home "$H" --test-pki --wan-listen "$WAN" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"
bootstrap_operators "$H" "$O" gwa:alpha:gateway-operator gwb:beta:gateway-operator \
	fwb:beta:firmware-manager
bootstrap_gateways "$H" "$T" GW-A1:alpha GW-B1:beta

# A released image and a rollout of beta's gateway (break-glass, as rollout.sh does).
check "CRLs" bash -c "'$TORWART' ca crl --home '$H' && '$TORWART' ca crl --home '$H' --ca root-ca"
VC="$H/test-vendor/gwh-sig.crt"; VK="$H/test-vendor/gwh-sig.key"
head -c 4096 /dev/urandom >"$T/img.bin"
printf '{"format":"torwart-firmware-manifest/1","model":"PPC/SMGW-2","version":"2.0.0","size":4096,"sha256":"%s"}' \
	"$(sha256sum "$T/img.bin" | cut -d' ' -f1)" >"$T/m.json"
openssl cms -sign -binary -nodetach -md sha256 -in "$T/m.json" -signer "$VC" -inkey "$VK" \
	-certfile "$H/pki/sub-ca.crt" -outform DER -out "$T/m.cms" 2>>"$T/log"
check "firmware add" "$TORWART" firmware add --home "$H" --file "$T/img.bin" --signature "$T/m.cms"
printf '{"format":"torwart-certified-firmware/1","sequence":1,"issued":"2026-12-01T00:00:00Z","firmware":[{"model":"PPC/SMGW-2","version":"2.0.0"}]}' >"$T/l.json"
openssl cms -sign -binary -nodetach -md sha256 -in "$T/l.json" -signer "$H/pki/firmware-list.crt" \
	-inkey "$H/test-vendor/firmware-list.key" -outform DER -out "$T/l.cms" 2>>"$T/log"
check "certified list imported" "$TORWART" firmware import-list --home "$H" --file "$T/l.cms"
check "image released" "$TORWART" firmware release --home "$H" --id 1
check "a rollout of beta's gateway" "$TORWART" rollout create --home "$H" --name rb --image 1 \
	--gateways GW-B1 --groups 1
RO=$(db "SELECT max(id) FROM rollouts")
# Renewals of both tenants' gateways (requesting; nobody answers here).
check "renewal of GW-A1" "$TORWART" gateway renew --home "$H" --gateway GW-A1
check "renewal of GW-B1" "$TORWART" gateway renew --home "$H" --gateway GW-B1
RA=$(db "SELECT id FROM renewals WHERE gateway_id='GW-A1'")
RB=$(db "SELECT id FROM renewals WHERE gateway_id='GW-B1'")

"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "operator API listens" wait_port 127.0.0.1 "$TLS_PORT" 20
check "wan listens" wait_port 127.0.0.1 "$WAN_PORT" 20
check "GW-A1 reports an alarm" "$SIM" --gwa "$WAN" --gateways "$T/GW-A1" --alarm tamper
check "GW-B1 reports an alarm" "$SIM" --gwa "$WAN" --gateways "$T/GW-B1" --alarm tamper
ALA=$(db "SELECT max(id) FROM gateway_messages WHERE gateway_id='GW-A1' AND kind='alarm'")
ALB=$(db "SELECT max(id) FROM gateway_messages WHERE gateway_id='GW-B1' AND kind='alarm'")
check "both alarms stored" test -n "$ALA" -a -n "$ALB"
for n in gwa gwb fwb; do check "login $n" operator_login "$API" "$O" "$n"; done

TLS="--curves brainpoolP256r1 --tlsv1.2 --tls-max 1.2"
TOKEN=$(sed -n 's/.*"token": "\([^"]*\)".*/\1/p' "$O/gwa.session")
# cmd ARGV-JSON: POST /v1/commands as gwa (alpha); status on stdout, the answer decoded to
# "exit N", stdout and stderr in $T/ans
cmd() {
	local code
	# shellcheck disable=SC2086
	code=$(curl -s -o "$T/raw" -w '%{http_code}' $TLS --cacert "$H/pki/operator-ca.crt" \
		--cert "$O/gwa/gwa.crt" --key "$O/gwa/gwa.key" -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/json' --data-binary "$1" "$API/v1/commands")
	"$PY" -c "
import base64, json, sys
try:
    d = json.load(open('$T/raw'))
except ValueError:
    sys.stdout.write(open('$T/raw').read()); sys.exit(0)
if 'exit' in d:
    print('exit', d['exit'])
    for k in ('stdout', 'stderr'):
        sys.stdout.write(base64.b64decode(d.get(k, '')).decode('utf-8', 'replace'))
else:
    print(json.dumps(d, sort_keys=True))" >"$T/ans"
	echo "$code"
}
# same WHAT OTHER-ARGV MISSING-ARGV OTHER-ID MISSING-ID: both answers, with the ids
# replaced by N, are byte-identical (status and body).
same() {
	local what=$1 c1 c2
	c1=$(cmd "$2"); sed "/^exit /!s/$4/N/g" "$T/ans" >"$T/other"
	c2=$(cmd "$3"); sed "/^exit /!s/$5/N/g" "$T/ans" >"$T/missing"
	cat "$T/other" "$T/missing" >>"$T/log"
	if [ "$c1" = "$c2" ] && cmp -s "$T/other" "$T/missing"; then
		ok "$what: another tenant's reads like a missing one ($c1, $(head -c 80 "$T/other" | tr '\n' ' '))"
	else
		bad "$what: another tenant's ($c1) differs from a missing one ($c2): $(diff "$T/other" "$T/missing" | tr '\n' ' ')"
	fi
}

# ---- another tenant's ids (alpha asks for beta's)
same "renewal show" "{\"argv\":[\"renewal\",\"show\",\"--id\",\"$RB\"]}" \
	'{"argv":["renewal","show","--id","999999"]}' "$RB" 999999
same "renewal wait" "{\"argv\":[\"renewal\",\"wait\",\"--id\",\"$RB\",\"--wait-timeout\",\"1\"]}" \
	'{"argv":["renewal","wait","--id","999999","--wait-timeout","1"]}' "$RB" 999999
same "renewal list --gateway" '{"argv":["renewal","list","--gateway","GW-B1"]}' \
	'{"argv":["renewal","list","--gateway","GW-NOPE"]}' GW-B1 GW-NOPE
code=$(cmd '{"argv":["renewal","list"]}')
check "renewal list (200) lists GW-A1's renewal, not GW-B1's" bash -c "[ $code = 200 ] && grep -q GW-A1 '$T/ans' && ! grep -q GW-B1 '$T/ans'"
same "alarm ack" "{\"argv\":[\"alarm\",\"ack\",\"--id\",\"$ALB\",\"--reason\",\"mine?\"]}" \
	'{"argv":["alarm","ack","--id","999999","--reason","mine?"]}' "$ALB" 999999
same "alarm list --gateway" '{"argv":["alarm","list","--gateway","GW-B1"]}' \
	'{"argv":["alarm","list","--gateway","GW-NOPE"]}' GW-B1 GW-NOPE
same "gateway crl-push --gateway" '{"argv":["gateway","crl-push","--gateway","GW-B1"]}' \
	'{"argv":["gateway","crl-push","--gateway","GW-NOPE"]}' GW-B1 GW-NOPE
check "no crl-update job for beta's gateway" test "$(db "SELECT count(*) FROM jobs WHERE gateway_id='GW-B1' AND type='crl-update'")" = 0
same "rollout show" "{\"argv\":[\"rollout\",\"show\",\"--id\",\"$RO\"]}" \
	'{"argv":["rollout","show","--id","999999"]}' "$RO" 999999
code=$(cmd '{"argv":["rollout","list"]}')
check "rollout list (200) does not list beta's rollout" bash -c "[ $code = 200 ] && ! grep -qw rb '$T/ans'"
check "the alarm of beta is still open" test "$(db "SELECT count(*) FROM gateway_message_acks WHERE message_id=$ALB")" = 0

# The resource API the same way.
# shellcheck disable=SC2086
rget() { curl -s -o "$T/raw" -w '%{http_code}' $TLS --cacert "$H/pki/operator-ca.crt" \
	--cert "$O/gwa/gwa.crt" --key "$O/gwa/gwa.key" -H "Authorization: Bearer $TOKEN" \
	${2:+-H 'Content-Type: application/json' -X POST --data-binary "$2"} "$API$1"; }
c1=$(rget '/v1/alarms?gateway=GW-B1'); sed 's/GW-B1/N/g' "$T/raw" >"$T/other"
c2=$(rget '/v1/alarms?gateway=GW-NOPE'); sed 's/GW-NOPE/N/g' "$T/raw" >"$T/missing"
check "GET /v1/alarms?gateway=: beta's gateway like a missing one ($c1)" bash -c "[ '$c1' = '$c2' ] && cmp -s '$T/other' '$T/missing'"
c1=$(rget '/v1/firmware?limit=1'); 
check "GET /v1/firmware answers (200)" test "$c1" = 200

# ---- abbreviated and repeated options: refused by the one parser, through the api ...
refused() { # WHAT ARGV-JSON PATTERN
	local code
	code=$(cmd "$2")
	if [ "$code" = 400 ] && grep -q "$3" "$T/ans"; then ok "$1 (400)"
	else bad "$1: $code $(head -c 200 "$T/ans")"; fi
}
refused "renewal show --i (abbreviation)" "{\"argv\":[\"renewal\",\"show\",\"--i\",\"$RA\"]}" abbreviation
refused "renewal list --gate (abbreviation)" '{"argv":["renewal","list","--gate","GW-A1"]}' abbreviation
refused "renewal show --id twice" "{\"argv\":[\"renewal\",\"show\",\"--id\",\"$RA\",\"--id\",\"$RB\"]}" "more than once"
refused "renewal list --gateway twice (own, then beta's)" '{"argv":["renewal","list","--gateway","GW-A1","--gateway","GW-B1"]}' "more than once"
refused "alarm ack --reas (abbreviation)" "{\"argv\":[\"alarm\",\"ack\",\"--id\",\"$ALA\",\"--reas\",\"x\"]}" abbreviation
refused "alarm ack --id twice (own, then beta's)" "{\"argv\":[\"alarm\",\"ack\",\"--id\",\"$ALA\",\"--id\",\"$ALB\"]}" "more than once"
refused "alarm list --op (abbreviation of a flag)" '{"argv":["alarm","list","--op"]}' abbreviation
refused "gateway crl-push --gateway twice" '{"argv":["gateway","crl-push","--gateway","GW-A1","--gateway","GW-B1"]}' "more than once"
refused "gateway crl-push --gate (abbreviation)" '{"argv":["gateway","crl-push","--gate","GW-A1"]}' abbreviation
refused "firmware show --i (abbreviation)" '{"argv":["firmware","show","--i","1"]}' abbreviation
refused "firmware show --id twice" '{"argv":["firmware","show","--id","1","--id","1"]}' "more than once"
refused "rollout show --id twice" "{\"argv\":[\"rollout\",\"show\",\"--id\",\"$RO\",\"--id\",\"$RO\"]}" "more than once"
refused "rollout list --sta (abbreviation)" '{"argv":["rollout","list","--sta","running"]}' abbreviation
check "nothing acknowledged by the refused commands" test "$(db "SELECT count(*) FROM gateway_message_acks")" = 0
check "no crl-update job from the refused commands" test "$(db "SELECT count(*) FROM jobs WHERE type='crl-update'")" = 0
# metering and time are not offered through the api
for a in '["metering","status"]' '["metering","endpoint","--emt","E","--url","https://x/"]' \
	'["time","status"]' '["time","check"]'; do
	code=$(cmd "{\"argv\":$a}")
	check "$a through the api: 404 (not offered)" test "$code" = 404
done

# ---- ... and locally (break-glass --home): the same parser decides
lrefused() { # WHAT ARGS...
	local what=$1; shift
	"$TORWART" "$@" >"$T/lout" 2>&1; local rc=$?
	cat "$T/lout" >>"$T/log"
	if [ $rc = 2 ] && grep -q "abbreviation\|more than once" "$T/lout"; then ok "$what (exit 2)"
	else bad "$what: exit $rc: $(head -c 200 "$T/lout")"; fi
}
lrefused "local renewal show --i" renewal show --home "$H" --i "$RA"
lrefused "local alarm ack --id twice" alarm ack --home "$H" --id "$ALA" --id "$ALB"
lrefused "local metering endpoint --em (abbreviation)" metering endpoint --home "$H" --em E1 --url https://127.0.0.1:1/x
lrefused "local metering endpoint --url twice" metering endpoint --home "$H" --emt E1 --url https://127.0.0.1:1/a --url https://127.0.0.1:1/b
lrefused "local metering status --emt twice" metering status --home "$H" --emt E1 --emt E2
lrefused "local time status --limit (abbreviation)" time status --home "$H" --limit 5
lrefused "local time status --limit-ms twice" time status --home "$H" --limit-ms 5 --limit-ms 6
check "no EMT endpoint stored by the refused commands" test "$(db "SELECT count(*) FROM emt_endpoints")" = 0

# ---- control characters in free text: stored as given, shown escaped
code=$(cmd "{\"argv\":[\"alarm\",\"ack\",\"--id\",\"$ALA\",\"--reason\",\"on site\\u001b[2K\\nalarm 1 ok\"]}")
check "alarm ack with ESC and a newline in --reason: refused (400), like --why" test "$code" = 400
check "... nothing acknowledged" test "$(db "SELECT count(*) FROM gateway_message_acks WHERE message_id=$ALA")" = 0
code=$(cmd '{"argv":["rollout","cancel","--id","1","--reason","x\u001b[2K\nstate: fake"]}')
check "rollout cancel with ESC and a newline in --reason through the api: 400" test "$code" = 400
"$TORWART" rollout cancel --home "$H" --id "$RO" --reason $'x\e[2K\nstate: fake' >>"$T/log" 2>&1
check "... locally: exit 2" test $? = 2
check "... the rollout is not cancelled" test "$(db "SELECT state FROM rollouts WHERE id=$RO")" = created
code=$(cmd "{\"argv\":[\"alarm\",\"ack\",\"--id\",\"$ALA\",\"--reason\",\"Techniker vor Ort (T\u00fcr 3)\"]}")
check "alarm ack with an ordinary UTF-8 reason: 200" test "$code" = 200
check "the admin log carries no raw ESC or newline from it" test "$(db "SELECT count(*) FROM admin_log WHERE action LIKE 'alarm%' AND (detail LIKE '%'||$C||'%' OR detail LIKE '%'||$N||'%')")" = 0
check "a renewal error with ESC and a newline (as a gateway or remote CA might send)" \
	db "UPDATE renewals SET state='failed', error_code='failure' || $C || '[8m', error = 'no' || $C || '[2K' || $N || 'state:        completed' WHERE id = $RA"
"$TORWART" renewal show --home "$H" --id "$RA" >"$T/rshow" 2>>"$T/log"
check "renewal show: the error on one line, escaped" bash -c "grep -q '^error: .*\\\\x1b\\[2K\\\\x0astate:' '$T/rshow' && [ \"\$(grep -c '^state:' '$T/rshow')\" = 1 ]"
check "renewal show: no raw ESC" bash -c "! grep -q \$'\\x1b' '$T/rshow'"
"$TORWART" renewal list --home "$H" --gateway GW-A1 >"$T/rlist" 2>>"$T/log"
check "renewal list: no raw ESC, the code escaped" bash -c "! grep -q \$'\\x1b' '$T/rlist' && grep -q 'failure\\\\x1b' '$T/rlist'"
check "a gateway clock failure and an upstream detail with ESC and a newline" bash -c "
	sqlite3 '$H/store.db' \"INSERT INTO gateway_time (gateway_id, last_sync_ms, last_offset_ms, syncs, failures, last_failure) VALUES ('GW-A1', 1, 5000, 1, 1, 'bad' || $C || '[1A' || $N || 'GW-FAKE ok')\" &&
	sqlite3 '$H/store.db' \"INSERT INTO time_checks (checked_ms, upstream, offset_ms, ok, valid_until_ms, detail) VALUES (1, 'u', 0, 0, 0, 'ntp' || $C || '[8m' || $N || 'synchronised')\""
"$TORWART" time status --home "$H" >"$T/tstatus" 2>>"$T/log"
check "time status: no raw ESC" bash -c "! grep -q \$'\\x1b' '$T/tstatus'"
check "time status: the failure on GW-A1's line, escaped" grep -q 'GW-A1 .*bad\\x1b\[1A\\x0aGW-FAKE ok' "$T/tstatus"
check "time status: no forged line" bash -c "! grep -q '^GW-FAKE\\|^synchronised' '$T/tstatus'"
check "an alarm row whose type and severity hold ESC and a newline (a store the wan did not fill)" \
	db "INSERT INTO gateway_messages (gateway_id, kind, type, severity, gateway_time, received_ms, message, actions) VALUES ('GW-A1', 'alarm', 'tamper' || $C || '[2K', 'major' || $N || '9 GW-FAKE', '2026-12-01T00:00:00Z', 1, 'lid', '')"
"$TORWART" alarm list --home "$H" --gateway GW-A1 >"$T/alist" 2>>"$T/log"
check "alarm list: no raw ESC, type and severity escaped" bash -c "! grep -q \$'\\x1b' '$T/alist' && grep -q 'major\\\\x0a9 GW-FAKE.*tamper\\\\x1b\\[2K' '$T/alist'"
check "alarm list: no forged line" bash -c "! grep -q '^9 GW-FAKE' '$T/alist'"
check "a rollout row stored before the parser refused control characters" \
	db "UPDATE rollouts SET reason = 'r' || $C || '[2K' || $N || 'state:      done' WHERE id = $RO"
"$TORWART" rollout show --home "$H" --id "$RO" >"$T/roshow" 2>>"$T/log"
"$TORWART" rollout list --home "$H" >"$T/rolist" 2>>"$T/log"
check "rollout show/list: no raw ESC, the reason escaped on one line" bash -c "! grep -q \$'\\x1b' '$T/roshow' '$T/rolist' && grep -q 'r\\\\x1b\\[2K\\\\x0astate:' '$T/roshow' && [ \"\$(grep -c '^state:' '$T/roshow')\" = 1 ]"

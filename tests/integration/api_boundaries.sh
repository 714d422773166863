#!/usr/bin/env bash
# api_boundaries.sh: issue 9, the attacks on the api's trust boundaries reproduced with
# the real CLI and curl against a real api (defects 3, 4, 5, 6, 11, 12). Each check
# failed on the code before the fix; the store is inspected from outside with sqlite3.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-bound-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)
API="https://127.0.0.1:$TLS_PORT"
O="$T/ops"
mkdir -p "$O"
db() { sqlite3 "$H/store.db" "$1"; }
run() { local who=$1; shift; "$TORWART" "$@" --token-file "$T/$who.session" >"$T/out" 2>&1; }
jobs_now() { db "SELECT count(*) FROM jobs"; }

check "init" "$TORWART" init --home "$H" --test-pki --wan-listen "127.0.0.1:$WAN_PORT" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"
printf '\n[auth]\nfleet_order_threshold = 1\n' >>"$H/torwart.conf"
bootstrap_operators "$H" "$O" gwa:alpha:gateway-operator gwb:beta:gateway-operator \
	aud:alpha:auditor appr:alpha:approver apprb:beta:approver
bootstrap_gateways "$H" "$T" GW-A1 GW-A2 GW-B1
check "alpha: GW-A1, GW-A2 tagged shared" "$TORWART" gateway set --home "$H" \
	--gateways GW-A1,GW-A2 --move-tenant alpha --add-tag shared
check "beta: GW-B1" "$TORWART" gateway set --home "$H" --gateway GW-B1 --move-tenant beta

# ---- defect 11 (part): what a killed api left in its spool is gone at start
mkdir -p "$H/spool/commands/cmd.LEFTOV" "$H/spool/nonces"
printf -- '-----BEGIN PRIVATE KEY-----\nleft over\n' >"$H/spool/commands/cmd.LEFTOV/tls.key"
touch "$H/spool/nonces/00112233445566778899aabbccddeeff"

"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "operator API listens" wait_port 127.0.0.1 "$TLS_PORT" 20
login_all "$API" "$O" "$T" gwa gwb aud appr apprb
check "11: the left-over working directory (with a key) was removed at start" \
	test ! -e "$H/spool/commands/cmd.LEFTOV"
check "11: the left-over nonce was removed at start" \
	test ! -e "$H/spool/nonces/00112233445566778899aabbccddeeff"

TOKEN=$(sed -n 's/.*"token": "\([^"]*\)".*/\1/p' "$T/gwa.session")
TOKEN_B=$(sed -n 's/.*"token": "\([^"]*\)".*/\1/p' "$T/gwb.session")
TOKEN_AUD=$(sed -n 's/.*"token": "\([^"]*\)".*/\1/p' "$T/aud.session")
TLS="--curves brainpoolP256r1 --tlsv1.2 --tls-max 1.2"
# post WHO BODY: POST /v1/commands as WHO (gwa, gwb, aud); status on stdout, body in curl.out
# shellcheck disable=SC2086
post() {
	local who=$1 tok
	case $who in gwa) tok=$TOKEN ;; gwb) tok=$TOKEN_B ;; *) tok=$TOKEN_AUD ;; esac
	curl -s -o "$T/curl.out" -w '%{http_code}' $TLS --cacert "$H/pki/operator-ca.crt" \
		--cert "$O/$who/$who.crt" --key "$O/$who/$who.key" -H "Authorization: Bearer $tok" \
		-H 'Content-Type: application/json' --data-binary "$2" "$API/v1/commands"
}

# ---- defect 3: fleet orders past fleet_order_threshold (2 gateways tagged shared > 1)
before=$(jobs_now)
for attack in "--ta shared" "--tenan alpha" "--tag nomatch --tag shared" \
	"--tag=nomatch --tag shared" "--gateway GW-A1 --gateway-id GW-A2"; do
	# shellcheck disable=SC2086
	run gwa job create --type ping $attack
	check "3: job create $attack through the CLI is refused" test $? != 0
	args=$(printf '"%s",' $attack)
	code=$(post gwa "{\"argv\":[\"job\",\"create\",\"--type\",\"ping\",${args%,}]}")
	check "3: ... and straight to the api (400, got $code)" test "$code" = 400
done
check "3: ... no job was created by any of them" test "$(jobs_now)" = "$before"
check "3: no fleet order was stored for approval either" \
	test "$(db "SELECT count(*) FROM approvals WHERE action='fleet.order'")" = 0
"$TORWART" job create --home "$H" --type ping --ta shared >"$T/out" 2>&1
check "3: the same abbreviation is refused locally (one parser, exit 2)" test $? = 2
check "3: ... saying to write it in full" grep -q "in full" "$T/out"
run gwa job create --type ping --tag shared --why "ping the shared meters"
check "3: the full spelling of the fleet becomes a four-eyes request (exit 10)" test $? = 10
check "3: ... for the 2 gateways really selected" \
	test "$(db "SELECT params FROM approvals WHERE action='fleet.order' ORDER BY id DESC LIMIT 1" | grep -c '"fleet_size": *2')" = 1
run gwa job create --type ping --gateways GW-A1,GW-A1 --why "one gateway twice"
check "3: a list naming one gateway twice counts what it orders (2 jobs: four-eyes)" test $? = 10
check "3: ... still no job" test "$(jobs_now)" = "$before"

# ---- defect 4: the approver's view
run gwa job create --type ping --tag shared --why $'ok\n  params: {"argv":["job","list"]}'
check "4: a reason with a newline is refused (CLI)" test $? = 1
code=$(post gwa '{"argv":["job","create","--type","ping","--tag","shared"],"why":"x\u001b[2K\rparams: forged"}')
check "4: a reason with an ANSI escape is refused by the api (400, got $code)" test "$code" = 400
AID=$(db "SELECT max(id) FROM approvals WHERE action='fleet.order'")
# A reason stored before this rule (or by a path without it): shown escaped.
db "UPDATE approvals SET reason = 'fine' || $(sql_chr 27) || '[2K' || $(sql_chr 13) || $(sql_chr 10) || '  params: forged' WHERE id = $AID"
"$TORWART" approval show --id "$AID" --token-file "$T/appr.session" >"$T/out" 2>&1
check "4: the approver's view shows no raw escape byte" bash -c "! grep -q \$'\\x1b' '$T/out'"
check "4: ... and no forged params line" bash -c "! grep -q '^  params: forged' '$T/out'"
check "4: ... the text is there, escaped" grep -q 'fine\\x1b\[2K\\x0d\\x0a  params: forged' "$T/out"
check "4: the admin log keeps arguments escaped (no raw newline in the detail)" \
	test "$(db "SELECT count(*) FROM admin_log WHERE action='api.command' AND detail LIKE '%' || $(sql_chr 10) || '%'")" = 0

# ---- defect 5: another tenant's object is a missing one
check "5: break-glass fleet order in alpha" "$TORWART" job create --home "$H" --type ping \
	--tag shared
BATCH=$(db "SELECT max(id) FROM job_batches")
JOBA=$(db "SELECT max(id) FROM jobs WHERE gateway_id='GW-A1'")
same() { # what: the answer for a foreign object equals the one for a missing object
	local what=$1 foreign=$2 missing=$3; shift 3
	"$TORWART" "$@" --token-file "$T/gwb.session" >"$T/foreign" 2>&1; local rf=$?
	local -a m=()
	for a in "$@"; do m+=("${a//$foreign/$missing}"); done
	"$TORWART" "${m[@]}" --token-file "$T/gwb.session" 2>&1 | sed "s/$missing/$foreign/g" >"$T/missing"
	local rm=${PIPESTATUS[0]}
	check "5: $what: foreign = missing (exit $rf/$rm)" bash -c \
		"[ $rf = $rm ] && cmp -s '$T/foreign' '$T/missing'"
}
same "job wait --batch" "$BATCH" 98765 job wait --batch "$BATCH" --wait-timeout 1
check "5: ... beta does not see alpha's counts" bash -c "! grep -q 'finished' '$T/foreign'"
same "job cancel --batch" "$BATCH" 98765 job cancel --batch "$BATCH"
same "job show --id" "$JOBA" 98766 job show --id "$JOBA"
same "job wait --id" "$JOBA" 98766 job wait --id "$JOBA" --wait-timeout 1
same "job cancel --id" "$JOBA" 98766 job cancel --id "$JOBA"
same "gateway logs" GW-A1 GW-ZZ9 gateway logs --id GW-A1
same "gateway selftest" GW-A1 GW-ZZ9 gateway selftest --id GW-A1
same "gateway set" GW-A1 GW-ZZ9 gateway set --gateway GW-A1 --add-tag x
same "job create --gateway" GW-A1 GW-ZZ9 job create --type ping --gateway GW-A1
same "job list --gateway" GW-A1 GW-ZZ9 job list --gateway GW-A1
for sub in show list drift emts read delete; do
	same "profile $sub" GW-A1 GW-ZZ9 profile "$sub" --gateway GW-A1 --profile p1
done
check "5: alpha's job is untouched" \
	test "$(db "SELECT state FROM jobs WHERE id=$JOBA")" != cancelled
# Approvals (and operators) of another tenant: the approver of beta sees "no request".
"$TORWART" approval show --id "$AID" --token-file "$T/apprb.session" >"$T/foreign" 2>&1; rf=$?
"$TORWART" approval show --id 98767 --token-file "$T/apprb.session" 2>&1 | \
	sed "s/98767/$AID/g" >"$T/missing"; rm_=${PIPESTATUS[0]}
check "5: approval show of another tenant's request: foreign = missing (exit $rf/$rm_)" \
	bash -c "[ $rf = $rm_ ] && cmp -s '$T/foreign' '$T/missing'"
"$TORWART" approval approve --id "$AID" --token-file "$T/apprb.session" >"$T/foreign" 2>&1; rf=$?
"$TORWART" approval approve --id 98767 --token-file "$T/apprb.session" 2>&1 | \
	sed "s/98767/$AID/g" >"$T/missing"; rm_=${PIPESTATUS[0]}
check "5: approval approve of another tenant's request: foreign = missing (exit $rf/$rm_)" \
	bash -c "[ $rf = $rm_ ] && cmp -s '$T/foreign' '$T/missing'"
certs=$(db "SELECT count(*) FROM certificates")
run gwb gateway add --id GW-A1 --out "$T/steal"
cp "$T/out" "$T/foreign"
run gwa gateway add --id GW-A2 --out "$T/steal2"
check "5: gateway add of another tenant's id says what it says for one's own" \
	bash -c "sed 's/GW-A1/X/; s/gwb/U/' '$T/foreign' > '$T/f2'; sed 's/GW-A2/X/; s/gwa/U/' '$T/out' > '$T/o2'; cmp -s '$T/f2' '$T/o2'"
check "5: ... no 'already registered' (which told beta the id is alpha's)" \
	bash -c "! grep -q 'already registered' '$T/foreign'"
check "5: ... and nothing was signed for it" test "$(db "SELECT count(*) FROM certificates")" = "$certs"
code=$(post gwb "{\"argv\":[\"job\",\"show\",\"--id\",\"$JOBA\"]}"); cp "$T/curl.out" "$T/f.json"
code2=$(post gwb '{"argv":["job","show","--id","98766"]}'); sed "s/98766/$JOBA/g" "$T/curl.out" >"$T/m.json"
check "5: the api's status and message are the same (404/404, got $code/$code2)" \
	bash -c "[ $code = 404 ] && [ $code2 = 404 ] && cmp -s '$T/f.json' '$T/m.json'"

# ---- defect 6: no file of the api's host is read or written on an operator's behalf
for body in '{"argv":["audit","verify","--cert","/etc/hostname"]}' \
	'{"argv":["ca","crl","--out","'"$T"'/written-by-api"]}' \
	'{"argv":["audit","head","--out","'"$T"'/written-by-api"]}'; do
	code=$(post aud "$body")
	check "6: $body: refused or needs the upload (400, got $code)" test "$code" = 400
done
check "6: ... nothing was written" test ! -e "$T/written-by-api"
code=$(post gwa '{"argv":["req","authorise","--in","x","--gwa-cert","/etc/passwd"],"files":{"3":""}}')
check "6: req authorise --gwa-cert PATH needs the upload (400, got $code)" test "$code" = 400
code=$(post aud '{"argv":["audit","verify","--cert","/nonexistent/x"]}'); cp "$T/curl.out" "$T/a"
code2=$(post aud '{"argv":["audit","verify","--cert","/etc/hostname"]}')
sed 's#/etc/hostname#/nonexistent/x#g' "$T/curl.out" >"$T/b"
check "6: no existence oracle: an existing and a missing path get the same answer" \
	bash -c "[ $code = $code2 ] && cmp -s '$T/a' '$T/b'"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/k.pem" \
	-subj /CN=x -days 1 -out "$T/not-the-head-cert.pem" 2>/dev/null
run aud audit verify --cert "$T/not-the-head-cert.pem"
check "6: audit verify --cert uploads the operator's file (a wrong one fails verification)" \
	test $? != 0
check "6: ... no false log-integrity alert was raised by it" \
	test "$(db "SELECT count(*) FROM admin_log WHERE action LIKE 'alert.%integrity%'")" = 0

# ---- defect 11: idempotent retries, no clear keys in the spool
before=$(jobs_now)
run gwa job create --type ping --gateway GW-A1 --request-id retry-test-0001
cp "$T/out" "$T/first"
run gwa job create --type ping --gateway GW-A1 --request-id retry-test-0001
check "11: a retry with the same request id returns the first result" cmp -s "$T/first" "$T/out"
check "11: ... and ran the command once" test "$(jobs_now)" = $((before + 1))
check "11: ... the replay is in the admin log" \
	test "$(db "SELECT count(*) FROM admin_log WHERE action='api.command' AND result='replayed'")" -ge 1
run gwa job list --request-id retry-test-0001
check "11: the same request id for another command is refused" grep -q "another command" "$T/out"
run gwa job create --type ping --gateway GW-A1
run gwa job create --type ping --gateway GW-A1
check "11: without --request-id each invocation is its own request (fresh id per run)" \
	test "$(jobs_now)" = $((before + 3))
check "11: request records are sealed (no job output in clear)" \
	bash -c "! grep -rqs 'created' '$H/spool/requests'"
( for _ in $(seq 1 400); do grep -rls 'PRIVATE KEY' "$H/spool" >>"$T/clear-keys" 2>/dev/null; sleep 0.01; done ) &
scanner=$!
run gwa gateway add --id GW-A9 --out "$T/gw-a9"
check "11: gateway add through the api brings the keys back" \
	grep -q 'PRIVATE KEY' "$T/gw-a9/tls.key"
kill "$scanner" 2>/dev/null; wait "$scanner" 2>/dev/null
check "11: ... and no private key was ever in the spool in clear" test ! -s "$T/clear-keys"

# ---- defect 12: a sealed principal runs one command once
run gwa job create --type ping --gateway GW-A2
JOBW=$(db "SELECT max(id) FROM jobs WHERE gateway_id='GW-A2'")
"$TORWART" job wait --id "$JOBW" --wait-timeout 8 --token-file "$T/gwa.session" >/dev/null 2>&1 &
waiter=$!
child=""
for _ in $(seq 1 100); do
	child=$(pgrep -f -- "job wait --home $H --id $JOBW" | head -n 1)
	[ -n "$child" ] && grep -qa TORWART_ACT_AS "/proc/$child/environ" 2>/dev/null && break
	sleep 0.1
done
if [ -n "$child" ] && tr '\0' '\n' <"/proc/$child/environ" | grep '^TORWART_ACT_AS=' >"$T/actas"; then
	mapfile -d '' cmd <"/proc/$child/cmdline"
	TORWART_ACT_AS=$(sed 's/^TORWART_ACT_AS=//' "$T/actas") timeout 20 "${cmd[@]}" \
		--wait-timeout 1 >"$T/out" 2>&1
	rc=$?
	# The replay added --wait-timeout: also try the exact command line.
	TORWART_ACT_AS=$(sed 's/^TORWART_ACT_AS=//' "$T/actas") timeout 20 "${cmd[@]}" \
		>"$T/out2" 2>&1
	rc2=$?
	check "12: a captured TORWART_ACT_AS replayed within its 60 s is refused (exit $rc2)" \
		bash -c "[ $rc2 = 1 ] && grep -q 'used already' '$T/out2'"
	check "12: ... also for another command line (exit $rc)" test "$rc" != 0
else
	bad "12: could not observe the api's child (no replay test)"
fi
wait "$waiter" 2>/dev/null

#!/usr/bin/env bash
# initial_config_api.sh: issue 12 section 4, `torwart gateway initial-config` through the
# operator api as the logged-in operator (docs/initial-config.md "Through the api"):
#   - one gateway: role and tenant checked, the encrypted file comes back in the answer
#     and the CLI writes it to --out; it decrypts with `openssl cms` for the recipient;
#     the admin log names the operator; the api's spool keeps no copy (not even for a
#     retry of the request id); another tenant's gateway is answered like a missing one;
#   - a batch: a four-eyes request (initial-config.batch) that produces nothing until a
#     second operator approves it; then its requester (and nobody else) fetches the files
#     once; a second fetch and a rejected request produce nothing.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-icapi-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)
API="https://127.0.0.1:$TLS_PORT"
O="$T/ops"
q() { sqlite3 "$H/store.db" "$1"; }
# run NAME ARGS...: a command as operator NAME (its session file), output in $T/out
run() { local who=$1; shift; "$TORWART" "$@" --token-file "$T/$who.session" >"$T/out" 2>&1; }
spool_files() { find "$H/spool/commands" -type f 2>/dev/null | wc -l; }

check "init" "$TORWART" init --home "$H" --test-pki --wan-listen "127.0.0.1:$WAN_PORT" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"
bootstrap_operators "$H" "$O" gwa:alpha:gateway-operator gwc:alpha:gateway-operator \
	appr:alpha:approver gwb:beta:gateway-operator
mkdir -p "$T/gw"
bootstrap_gateways "$H" "$T/gw" GW-A1:alpha GW-A2:alpha GW-B1:beta

# The integrator: a GWH participant with SM-PKI certificates from the Sub-CA.
integrator() {
	"$TORWART" ca register --home "$H" --name integ --org "Integrator" --role gwh \
		--mp-id 9900000000077 --cn INTEG.GWH.IT &&
	"$TORWART" req initial --cn INTEG.GWH.IT --ou 9900000000077 --role GWH \
		--key-dir "$T/integ" --format der --out "$T/integ.req" &&
	"$TORWART" ca issue --home "$H" --request "$T/integ.req" --participant integ &&
	for u in ENC SIG; do
		s=$(q "SELECT serial_hex FROM certificates WHERE owner_id='integ' AND usage='$u'")
		"$TORWART" ca export "$s" --home "$H" --out "$T/integ-$u.crt" || return 1
	done
}
check "an integrator (GWH participant) gets its ENC and SIG certificates" integrator

"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "operator API listens" wait_port 127.0.0.1 "$TLS_PORT" 20
login_all "$API" "$O" "$T" gwa gwc appr gwb

# ---- one gateway through the api
check "gwa exports GW-A1's file through the api, also for the integrator" run gwa gateway \
	initial-config --gateway GW-A1 --recipient "$T/integ-ENC.crt" --out "$T/a1.cms" \
	--request-id icapi-single-0001
check "... the CLI wrote it 0600" test "$(stat -c %a "$T/a1.cms" 2>/dev/null)" = 600
check "... nothing in clear (no PEM, no gateway id)" \
	bash -c "! grep -aq -e 'BEGIN CERTIFICATE' -e 'GW-A1' -e 'torwart-initial-config' '$T/a1.cms'"
check "openssl cms -decrypt with the integrator's ENC key" openssl cms -decrypt -binary \
	-inform DER -in "$T/a1.cms" -recip "$T/integ-ENC.crt" -inkey "$T/integ/enc.key" \
	-out "$T/a1.sd"
check "openssl cms -verify: signed by the GWA, chain to the SM-PKI root" openssl cms -verify \
	-binary -inform DER -in "$T/a1.sd" -CAfile "$H/pki/root-ca.crt" \
	-certfile "$H/pki/chain.pem" -purpose any -out "$T/a1.json"
check "... the content is GW-A1's" /usr/bin/python3 -c "
import json; d = json.load(open('$T/a1.json'))
assert d['format'] == 'torwart-initial-config/1' and d['gateway_id'] == 'GW-A1', d"
check "openssl cms -decrypt with GW-A1's own ENC key" openssl cms -decrypt -binary \
	-inform DER -in "$T/a1.cms" -recip "$T/gw/GW-A1/enc.crt" -inkey "$T/gw/GW-A1/enc.key" \
	-out /dev/null
sha=$(sha256sum "$T/a1.cms" | cut -d' ' -f1)
check "export logged as gwa with the file's digest (gateway.initial-config)" \
	test "$(q "SELECT count(*) FROM admin_log WHERE action='gateway.initial-config' AND object='GW-A1' AND actor='gwa' AND result='ok' AND detail LIKE '%sha256=$sha%' AND detail LIKE '%in the api''s answer%'")" = 1
check "... the operator is shown the digest, not the api's spool path" \
	bash -c "grep -q 'GW-A1: SHA-256 $sha' '$T/out' && ! grep -q spool '$T/out'"
check "... and recorded (initial_configs) as gwa's export" \
	test "$(q "SELECT count(*) FROM initial_configs WHERE gateway_id='GW-A1' AND sha256='$sha' AND actor='gwa'")" = 1
check "the api's spool keeps no file after the answer" test "$(spool_files)" = 0
# The integrator's signed receipt, recorded through the api, in the gateway's tenant only.
printf 'torwart-initial-config-receipt/1 GW-A1 %s\n' "$sha" >"$T/receipt.txt"
openssl cms -sign -binary -nodetach -in "$T/receipt.txt" -signer "$T/integ-SIG.crt" \
	-inkey "$T/integ/sig.key" -outform DER -out "$T/receipt.der" 2>>"$T/log"
printf 'torwart-initial-config-receipt/1 GW-A1 %s\n' "$(printf %064d 0)" >"$T/none.txt"
openssl cms -sign -binary -nodetach -in "$T/none.txt" -signer "$T/integ-SIG.crt" \
	-inkey "$T/integ/sig.key" -outform DER -out "$T/none.der" 2>>"$T/log"
run gwb gateway initial-config-receipt --receipt "$T/receipt.der"
check "another tenant's operator cannot record the receipt (exit 1)" test $? = 1
sed "s/$sha/$(printf %064d 0)/" "$T/out" >"$T/foreign.txt"
run gwb gateway initial-config-receipt --receipt "$T/none.der"
check "... answered exactly like a receipt of a file never exported" cmp "$T/foreign.txt" "$T/out"
check "... nothing recorded" test "$(q "SELECT count(*) FROM initial_configs WHERE sha256='$sha' AND receipt_ms > 0")" = 0
check "gwa records the integrator's receipt through the api" run gwa gateway \
	initial-config-receipt --receipt "$T/receipt.der"
check "... with its signer, logged as gwa" bash -c "test \"\$(sqlite3 '$H/store.db' \"SELECT count(*) FROM initial_configs WHERE sha256='$sha' AND receipt_ms > 0 AND receipt_by LIKE '%INTEG.GWH.IT%'\")\" = 1 && test \"\$(sqlite3 '$H/store.db' \"SELECT count(*) FROM admin_log WHERE action='gateway.initial-config.receipt' AND actor='gwa' AND object='GW-A1'\")\" = 1"
rm -f "$T/a1.cms"
run gwa gateway initial-config --gateway GW-A1 --recipient "$T/integ-ENC.crt" \
	--out "$T/a1.cms" --request-id icapi-single-0001
check "a retry of the request id is answered without running it again" \
	test "$(q "SELECT count(*) FROM initial_configs WHERE gateway_id='GW-A1'")" = 1
check "... and without the file: the answer kept no copy of it" test ! -e "$T/a1.cms"
: >"$T/taken.cms"
run gwa gateway initial-config --gateway GW-A1 --out "$T/taken.cms"
check "an existing --out is refused before anything runs (exit 1)" test $? = 1
check "... nothing exported" test "$(q "SELECT count(*) FROM initial_configs WHERE gateway_id='GW-A1'")" = 1
run gwb gateway initial-config --gateway GW-A1 --out "$T/foreign.cms"
check "another tenant's gateway: refused (exit 1)" test $? = 1
sed "s/GW-A1/GW-XX/" "$T/out" >"$T/foreign.txt"
run gwb gateway initial-config --gateway GW-XX --out "$T/missing.cms"
check "... answered exactly like a missing gateway" cmp "$T/foreign.txt" "$T/out"
check "... no file" test ! -e "$T/foreign.cms"
run appr gateway initial-config --gateway GW-A1 --out "$T/appr.cms"
check "the approver role alone may not export (exit 1)" test $? = 1
check "... denied in the admin log" \
	test "$(q "SELECT count(*) FROM admin_log WHERE action='auth.denied' AND actor='appr'")" -ge 1

# ---- a batch: four eyes, then one fetch by the requester
run gwa gateway initial-config --gateways GW-A1,GW-A2 --recipient "$T/integ-ENC.crt" \
	--out "$T/batch"
check "a batch without a reason is refused (it needs --why)" grep -q -- "--why" "$T/out"
run gwa gateway initial-config --gateways GW-A1,GW-A2 --recipient "$T/integ-ENC.crt" \
	--out "$T/batch" --why "integrator order 4711"
check "a batch becomes a four-eyes request (exit 10)" test $? = 10
check "... the CLI says how to fetch it" grep -q -- "--fetch" "$T/out"
REQ=$(q "SELECT max(id) FROM approvals WHERE action='initial-config.batch'")
check "... pending, with the gateway list and the recipient stored" \
	test "$(q "SELECT count(*) FROM approvals WHERE id=$REQ AND state='pending' AND params LIKE '%GW-A1,GW-A2%' AND params LIKE '%--recipient%'")" = 1
check "... nothing produced" test ! -e "$T/batch"
check "... nothing exported" test "$(q "SELECT count(*) FROM initial_configs WHERE gateway_id='GW-A2'")" = 0
run gwa gateway initial-config --fetch "$REQ" --out "$T/batch"
check "fetch before the approval: refused (exit 1)" test $? = 1
check "... not released (403 denied)" grep -q "denied.*not released" "$T/out"
check "... nothing produced" test ! -e "$T/batch"
check_fails "the requester cannot approve its own batch" run gwa approval approve --id "$REQ"
check "the approver releases the batch" run appr approval approve --id "$REQ" --reason "order checked"
check "... released for one fetch, nothing run yet" \
	test "$(q "SELECT count(*) FROM approvals WHERE id=$REQ AND state='executed' AND result LIKE 'released for one fetch%'")" = 1
check "... still nothing exported" test "$(q "SELECT count(*) FROM initial_configs WHERE gateway_id='GW-A2'")" = 0
run gwc gateway initial-config --fetch "$REQ" --out "$T/batch-gwc"
check "another operator of the tenant may not fetch it (exit 1)" test $? = 1
check "... nothing produced" test ! -e "$T/batch-gwc"
run gwb gateway initial-config --fetch "$REQ" --out "$T/batch-gwb"
check "another tenant's operator: answered like a missing request" \
	grep -q "there is no initial-config batch request $REQ" "$T/out"
check "the requester fetches the files" run gwa gateway initial-config --fetch "$REQ" \
	--out "$T/batch"
check "... GW-A1.cms and GW-A2.cms, 0600" bash -c "test \$(stat -c %a '$T/batch/GW-A1.cms') = 600 \
	-a \$(stat -c %a '$T/batch/GW-A2.cms') = 600 -a \$(ls '$T/batch' | wc -l) = 2"
check "GW-A2's file decrypts with the integrator's ENC key and verifies" bash -c "
	openssl cms -decrypt -binary -inform DER -in '$T/batch/GW-A2.cms' -recip '$T/integ-ENC.crt' \
		-inkey '$T/integ/enc.key' -out '$T/a2.sd' &&
	openssl cms -verify -binary -inform DER -in '$T/a2.sd' -CAfile '$H/pki/root-ca.crt' \
		-certfile '$H/pki/chain.pem' -purpose any -out '$T/a2.json' && grep -q '\"GW-A2\"' '$T/a2.json'"
check "... and with GW-A2's own ENC key" openssl cms -decrypt -binary -inform DER \
	-in "$T/batch/GW-A2.cms" -recip "$T/gw/GW-A2/enc.crt" -inkey "$T/gw/GW-A2/enc.key" -out /dev/null
check "each export logged as gwa, released by appr" \
	test "$(q "SELECT count(*) FROM admin_log WHERE action='gateway.initial-config' AND actor='gwa' AND result='ok' AND role LIKE '%released by appr%'")" = 2
check "the request records the fetch" \
	test "$(q "SELECT count(*) FROM approvals WHERE id=$REQ AND state='executed' AND result LIKE 'executed: files fetched by gwa%'")" = 1
check "the api's spool keeps no file after the answer" test "$(spool_files)" = 0
run gwa gateway initial-config --fetch "$REQ" --out "$T/batch2"
check "a second fetch is refused (exit 1)" test $? = 1
check "... fetched already (409)" grep -q "fetched already" "$T/out"
check "... nothing produced" test ! -e "$T/batch2"
check "... nothing exported again" \
	test "$(q "SELECT count(*) FROM initial_configs WHERE gateway_id='GW-A2'")" = 1

# ---- a rejected batch produces nothing
run gwa gateway initial-config --gateways GW-A1,GW-A2 --out "$T/rej" --why "second order"
REQ2=$(q "SELECT max(id) FROM approvals WHERE action='initial-config.batch'")
check "a second batch request" test "$REQ2" -gt "$REQ"
check "the approver rejects it" run appr approval reject --id "$REQ2" --reason "no order"
run gwa gateway initial-config --fetch "$REQ2" --out "$T/rej"
check "its fetch is refused (exit 1)" test $? = 1
check "... nothing produced" test ! -e "$T/rej"
check "the admin log verifies" "$TORWART" audit verify --home "$H"

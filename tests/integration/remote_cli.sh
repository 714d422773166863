#!/usr/bin/env bash
# remote_cli.sh: issue 5, operator commands through the api. The real CLI sends its
# commands to a real api (HTTPS, client certificate, session) as the logged-in operator;
# the api checks role and tenant, turns four-eyes commands into approvals, runs the rest
# as that operator, and logs it all. Checked with sqlite3 and openssl from outside.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-remote-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)
API="https://127.0.0.1:$TLS_PORT"
O="$T/ops"
mkdir -p "$O"
db() { sqlite3 "$H/store.db" "$1"; }
# run NAME ARGS...: a command as operator NAME (its session file), output in $T/out
run() { local who=$1; shift; "$TORWART" "$@" --token-file "$T/$who.session" >"$T/out" 2>&1; }

check "init" "$TORWART" init --home "$H" --test-pki --wan-listen "127.0.0.1:$WAN_PORT" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"
# Fleet orders above one gateway need a second person's release in this home.
printf '\n[auth]\nfleet_order_threshold = 1\n' >>"$H/torwart.conf"

# ---- bootstrap by break-glass: operators in two tenants, gateways in both
bootstrap_operators "$H" "$O" gwa:alpha:gateway-operator gwb:beta:gateway-operator \
	ra:alpha:ra-officer cao:alpha:ca-operator aud:alpha:auditor appr:alpha:approver \
	fwm:alpha:firmware-manager sec:alpha:security-officer
check "break-glass gateway add GW-A1" "$TORWART" gateway add --home "$H" --id GW-A1 --out "$T/gw-a1"
check "break-glass gateway add GW-A2" "$TORWART" gateway add --home "$H" --id GW-A2 --out "$T/gw-a2"
check "break-glass gateway add GW-B1" "$TORWART" gateway add --home "$H" --id GW-B1 --out "$T/gw-b1"
check "break-glass moves GW-A1, GW-A2 to tenant alpha" "$TORWART" gateway set --home "$H" \
	--gateways GW-A1,GW-A2 --move-tenant alpha
check "break-glass moves GW-B1 to tenant beta" "$TORWART" gateway set --home "$H" \
	--gateway GW-B1 --move-tenant beta
check "direct --home use of gateway commands is queued for review" \
	test "$(db "SELECT count(*) FROM approvals WHERE action='break-glass' AND params LIKE '%gateway%'")" -ge 5

"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "operator API listens" wait_port 127.0.0.1 "$TLS_PORT" 20
login_all "$API" "$O" "$T" gwa gwb ra cao aud appr fwm sec

# ---- without a session
HOME="$T/nobody" "$TORWART" gateway list >"$T/out" 2>&1
check "no session: refused with exit 1" test $? = 1
check "... saying how to log in or use break-glass" grep -q "not logged in" "$T/out"

# ---- tenant scoping
check "gateway list as gwa (alpha)" run gwa gateway list
check "... shows alpha's gateways" grep -q GW-A1 "$T/out"
check "... and not beta's" bash -c "! grep -q GW-B1 '$T/out'"
check "gateway list as gwb (beta) shows only GW-B1" \
	bash -c "'$TORWART' gateway list --token-file '$T/gwb.session' | grep -q GW-B1 && ! '$TORWART' gateway list --token-file '$T/gwb.session' | grep -q GW-A"
before=$(db "SELECT count(*) FROM jobs")
run gwa job create --type ping --gateway GW-B1
check "job for a foreign tenant's gateway: exit 1" test $? = 1
cp "$T/out" "$T/foreign.out"
run gwa job create --type ping --gateway GW-B9
sed 's/GW-B9/GW-B1/g' "$T/out" > "$T/missing.out"
check "... answered exactly like a gateway that does not exist (issue 9)" \
	cmp -s "$T/foreign.out" "$T/missing.out"
check "... as not found" grep -q "refused by the api (404" "$T/foreign.out"
check "... and no job was created" test "$(db "SELECT count(*) FROM jobs")" = "$before"
check "... the attempt is logged with the operator" \
	test "$(db "SELECT count(*) FROM admin_log WHERE action='auth.hidden' AND actor='gwa' AND object='gateway:GW-B1'")" -ge 1
check_fails "gateway logs of a foreign tenant's gateway refused" run gwa gateway logs --id GW-B1
check "job create as gateway operator of the tenant" run gwa job create --type ping --gateway GW-A1
JOB=$(db "SELECT max(id) FROM jobs WHERE gateway_id='GW-A1'")
check "... the job exists and names the operator" \
	test "$(db "SELECT count(*) FROM admin_log WHERE actor='gwa' AND action LIKE 'job.%' AND object LIKE '%$JOB%'")" -ge 1
check "job show of one's own tenant" run gwa job show --id "$JOB"
check_fails "job show of another tenant's job refused" run gwb job show --id "$JOB"
check "job list as gwb (beta) succeeds" run gwb job list
check "... and does not show alpha's job" bash -c "! grep -q GW-A1 '$T/out'"
check_fails "moving a gateway to another tenant needs break-glass" run gwa gateway set \
	--gateway GW-A1 --move-tenant beta
check "... GW-A1 stayed in alpha" \
	test "$(db "SELECT t.name FROM gateways g JOIN tenants t ON t.id=g.tenant_id WHERE g.gateway_id='GW-A1'")" = alpha

# ---- roles
check_fails "auditor may not create a job" run aud job create --type ping --gateway GW-A1
check "auditor may list jobs (read)" run aud job list
check_fails "gateway operator may not register CA participants" run gwa ca register \
	--name p1 --org "P GmbH" --role emt --mp-id 9900000000001 --cn P1.EMT.TEST
check "RA officer registers a participant" run ra ca register --name p1 --org "P GmbH" \
	--role emt --mp-id 9900000000001 --cn P1.EMT.TEST
check "... logged as the RA officer" \
	test "$(db "SELECT count(*) FROM admin_log WHERE actor='ra' AND action LIKE 'ca.%register%'")" -ge 1
check_fails "CA operator may not register (RA role)" run cao ca register --name p2 --org X \
	--role emt --mp-id 9900000000002 --cn P2.EMT.TEST
check "auditor may list certificates" run aud ca list
check_fails "auditor may not generate a CRL" run aud ca crl
check "CA operator generates a CRL" run cao ca crl
check "... the CRL's log entry names the operator and role" \
	test "$(db "SELECT count(*) FROM admin_log WHERE action='ca.crl.generate' AND actor='cao' AND role='ca-operator'")" -ge 1

# ---- files both ways: gateway add --out DIR comes back, ca check --cert goes along
check "gateway add through the api, keys written here" run gwa gateway add --id GW-A3 --out "$T/gw-a3"
check "... the gateway's files arrived" test -s "$T/gw-a3/chain.pem"
check "... and are a valid chain (openssl verify)" bash -c \
	"ls '$T/gw-a3' | grep -q crt && for c in '$T'/gw-a3/*tls*.crt; do openssl verify -CAfile '$T/gw-a3/chain.pem' \"\$c\" || exit 1; done"
check "... private keys are 0600" bash -c "for k in '$T'/gw-a3/*.key; do [ \$(stat -c %a \"\$k\") = 600 ] || exit 1; done"
check "... its registration is logged with the operator's role" \
	test "$(db "SELECT actor || ' ' || role FROM admin_log WHERE action='gateway.add' AND object='GW-A3'")" = "gwa gateway-operator"
check "... registered in the operator's tenant" \
	test "$(db "SELECT t.name FROM gateways g JOIN tenants t ON t.id=g.tenant_id WHERE g.gateway_id='GW-A3'")" = alpha
SERIAL=$(db "SELECT serial_hex FROM certificates WHERE owner_id='GW-A3' AND usage='TLS'")
check "ca export --out FILE through the api (auditor)" run aud ca export "$SERIAL" --out "$T/exported.pem"
check "... openssl reads the exported certificate" openssl x509 -in "$T/exported.pem" -noout
check "ca check --cert FILE sends the file along" run aud ca check --cert "$T/exported.pem"

# ---- req authorise: the GWA authorisation of an SMGW request, as the operator
check "an SMGW request made locally (no home, no api)" "$TORWART" req initial \
	--cn EREM0012345678.SMGW --serial EREM0012345678 --role SMGW --key-dir "$T/smgw" \
	--out "$T/smgw.b64"
check_fails "... it carries no authorisation yet" "$TORWART" req show "$T/smgw.b64" --require-authorisation
check_fails "req authorise by the auditor is refused" run aud req authorise --in "$T/smgw.b64" \
	--out "$T/denied.b64"
check "... and wrote nothing" test ! -e "$T/denied.b64"
check "req authorise through the api (gateway operator)" run gwa req authorise \
	--in "$T/smgw.b64" --out "$T/smgw-auth.b64"
check "... the Sub-CA's parser accepts the authorisation" "$TORWART" req show "$T/smgw-auth.b64" \
	--require-authorisation
check "... the signer logged the authorisation as the operator" \
	test "$(db "SELECT count(*) FROM admin_log WHERE actor='gwa' AND action LIKE 'signer.%'")" -ge 1

# ---- four-eyes: CA-level revocation and fleet orders
run ra ca revoke "$SERIAL" --reason keyCompromise
check "ca revoke without a reason for the approver is refused" grep -q -- "--why" "$T/out"
run ra ca revoke "$SERIAL" --reason keyCompromise --why "key of GW-A3 leaked"
check "ca revoke becomes a four-eyes request (exit 10)" test $? = 10
check "... the certificate is still valid" \
	test "$(db "SELECT status FROM certificates WHERE serial_hex='$SERIAL'")" = valid
REQ=$(db "SELECT max(id) FROM approvals WHERE action='ca.revoke'")
check "... pending request stored with the command" \
	test "$(db "SELECT state FROM approvals WHERE id=$REQ")" = pending
check_fails "the requester's own role cannot approve (no approver)" run ra approval approve --id "$REQ"
check "approver releases it" run appr approval approve --id "$REQ" --reason "confirmed by phone"
check "... the command ran: certificate revoked" \
	test "$(db "SELECT status FROM certificates WHERE serial_hex='$SERIAL'")" = revoked
check "... its log names the requester and the release" \
	test "$(db "SELECT count(*) FROM admin_log WHERE action='api.command' AND actor='ra' AND role LIKE '%released by appr%'")" = 1
run gwa job create --type ping --gateways all
check "fleet order above the threshold becomes four-eyes only with --why" grep -q -- "--why" "$T/out"
before=$(db "SELECT count(*) FROM jobs")
run gwa job create --type ping --gateways all --why "weekly check"
check "fleet order above the threshold: pending (exit 10)" test $? = 10
check "... no job yet" test "$(db "SELECT count(*) FROM jobs")" = "$before"
FREQ=$(db "SELECT max(id) FROM approvals WHERE action='fleet.order'")
check "approver releases the fleet order" run appr approval approve --id "$FREQ"
check "... jobs for alpha's gateways only" \
	test "$(db "SELECT count(*) FROM jobs WHERE id > 0 AND batch_id > 0 AND gateway_id LIKE 'GW-A%'")" -ge 3
check "... none for beta's" test "$(db "SELECT count(*) FROM jobs WHERE batch_id > 0 AND gateway_id='GW-B1'")" = 0
check "job batches as gwa lists alpha's fleet order with its progress" run gwa job batches
check "... one fleet order, selection all" grep -Eq "^[0-9]+ .* ping .*  all$" "$T/out"
check "job batches as gwb (beta): the fleet order reached none of beta's gateways" run gwb job batches
check "... so beta sees no fleet order" grep -qx "0 fleet orders" "$T/out"

# A released fleet command reaches at most the fleet the approver saw: a CRL push (like
# gateway renew) to a tag that gained a gateway after the request is refused at release.
"$TORWART" gateway set --home "$H" --gateways GW-A1,GW-A2 --add-tag crlpush >>"$T/log" 2>&1
run gwa gateway crl-push --tag crlpush --why "new CRL"
check "crl-push to a tag above the threshold: pending (exit 10)" test $? = 10
CREQ=$(db "SELECT max(id) FROM approvals WHERE action='fleet.order'")
"$TORWART" gateway set --home "$H" --gateways GW-A3 --add-tag crlpush >>"$T/log" 2>&1
before=$(db "SELECT count(*) FROM jobs WHERE type='crl-update'")
run appr approval approve --id "$CREQ"
check "... released after the tag grew: refused, the selection now reaches 3 of 2" \
	test "$(db "SELECT count(*) FROM approvals WHERE id=$CREQ AND state='failed' AND result LIKE '%now reaches 3 gateways, more than the 2%'")" = 1
check "... and no crl-update job was created" \
	test "$(db "SELECT count(*) FROM jobs WHERE type='crl-update'")" = "$before"

# ---- gateway show: one gateway, tenant-scoped like every object (issue 15, issue 9)
check "gateway show GW-A1 as gwa" run gwa gateway show --id GW-A1
check "... names its tenant, wake-up state and three certificates" bash -c \
	"grep -q '^tenant: *alpha' '$T/out' && grep -q '^wake-up:' '$T/out' && test \$(grep -cE ' (TLS|SIG|ENC) +valid ' '$T/out') = 3"
run gwa gateway show --id GW-B1
check "gateway show of beta's gateway as gwa: exit 1" test $? = 1
cp "$T/out" "$T/foreign.out"
run gwa gateway show --id GW-B9
sed 's/GW-B9/GW-B1/g' "$T/out" >"$T/missing.out"
check "... answered exactly like a gateway that does not exist" cmp -s "$T/foreign.out" "$T/missing.out"

# ---- four-eyes: firmware release and CA key activation
head -c 4096 /dev/urandom >"$T/fw.img"
# the manufacturer's signed manifest and the certified list (issue 13; docs/firmware.md)
printf '{"format":"torwart-firmware-manifest/1","model":"SMGW-X","version":"1.2.3","size":4096,"sha256":"%s"}' \
	"$(sha256sum "$T/fw.img" | cut -d' ' -f1)" >"$T/fw.json"
openssl cms -sign -binary -nodetach -md sha256 -in "$T/fw.json" -signer "$H/test-vendor/gwh-sig.crt" \
	-inkey "$H/test-vendor/gwh-sig.key" -certfile "$H/pki/sub-ca.crt" -outform DER -out "$T/fw.cms" 2>>"$T/log"
printf '{"format":"torwart-certified-firmware/1","sequence":1,"issued":"2026-12-01T00:00:00Z","firmware":[{"model":"SMGW-X","version":"1.2.3"}]}' >"$T/list.json"
openssl cms -sign -binary -nodetach -md sha256 -in "$T/list.json" -signer "$H/pki/firmware-list.crt" \
	-inkey "$H/test-vendor/firmware-list.key" -outform DER -out "$T/list.cms" 2>>"$T/log"
check "CRLs and certified list for the firmware check" bash -c "'$TORWART' ca crl --home '$H' && \
	'$TORWART' ca crl --home '$H' --ca root-ca && '$TORWART' firmware import-list --home '$H' --file '$T/list.cms'"
check "firmware add through the api (image and signed manifest go along)" run fwm firmware add \
	--file "$T/fw.img" --signature "$T/fw.cms" --model SMGW-X --version 1.2.3
FW=$(db "SELECT max(id) FROM firmware_images")
check "... stored with the image's SHA-256" \
	test "$(db "SELECT sha256 FROM firmware_images WHERE id=$FW")" = "$(sha256sum "$T/fw.img" | cut -d' ' -f1)"
check_fails "gateway operator may not release firmware" run gwa firmware release --id "$FW" --why x
run fwm firmware release --id "$FW" --why "passed lab tests"
check "firmware release becomes a four-eyes request (exit 10)" test $? = 10
check "... still uploaded" test "$(db "SELECT state FROM firmware_images WHERE id=$FW")" = uploaded
WREQ=$(db "SELECT max(id) FROM approvals WHERE action='firmware.release'")
check "approver releases the firmware" run appr approval approve --id "$WREQ"
check "... now released" test "$(db "SELECT state FROM firmware_images WHERE id=$FW")" = released
run cao ca deactivate --ca sub-ca --why "end of the key ceremony"
check "ca deactivate is four-eyes too (exit 10): it stops issuance for every tenant" test $? = 10
check "... the CA still signs until released" run cao ca crl
DREQ=$(db "SELECT max(id) FROM approvals WHERE action='ca.key.deactivate'")
check "approver releases the deactivation" run appr approval approve --id "$DREQ"
check_fails "... issuance-side commands now refuse: ca crl" run cao ca crl
run cao ca activate --ca sub-ca --why "after the key ceremony"
check "ca activate becomes a four-eyes request (exit 10)" test $? = 10
check_fails "... the CA stays inactive until released" run cao ca crl
AREQ=$(db "SELECT max(id) FROM approvals WHERE action='ca.key.activate'")
check "approver releases the activation" run appr approval approve --id "$AREQ"
check "... the CA signs again" run cao ca crl

# ---- policy changes: four-eyes, and the api follows the new policy at once
check "auditor reads the policy" run aud policy show
check "... fleet threshold 1 in force" grep -qx "fleet_order_threshold = 1" "$T/out"
check_fails "gateway operator may not change the policy" run gwa policy set \
	--key fleet_order_threshold --value 10 --why x
run sec policy set --key fleet_order_threshold --value 10 --why "bigger weekly batches"
check "policy set becomes a four-eyes request (exit 10)" test $? = 10
check "... torwart.conf unchanged until released" bash -c "! grep -q 'fleet_order_threshold = 10' '$H/torwart.conf'"
PREQ=$(db "SELECT max(id) FROM approvals WHERE action='policy.change'")
check "approver releases the policy change" run appr approval approve --id "$PREQ"
check "... torwart.conf has the new value" grep -q "fleet_order_threshold = 10" "$H/torwart.conf"
check "... logged with old and new value" \
	test "$(db "SELECT count(*) FROM admin_log WHERE action='policy.change' AND object='auth.fleet_order_threshold' AND detail LIKE '1 -> 10; digest=%'")" = 1
jobs_before=$(db "SELECT count(*) FROM jobs")
check "the api applies it: a 3-gateway fleet order now runs directly" run gwa job create \
	--type ping --gateways all
check "... and created its jobs" test "$(db "SELECT count(*) FROM jobs")" -gt "$jobs_before"
check "a policy change through policy set is no drift" \
	test "$(db "SELECT count(*) FROM admin_log WHERE action='policy.loaded' AND result='changed-outside-api'")" = 0
check "the policy in force at api start was recorded" \
	test "$(db "SELECT count(*) FROM admin_log WHERE action='policy.loaded' AND result='ok'")" = 1
sed -i 's/^fleet_order_threshold = 10$/fleet_order_threshold = 50/' "$H/torwart.conf"
touch "$H/torwart.conf"
check "(the api reloads on the next request)" run aud policy show
check "a hand edit of [auth] is logged as changed outside the api" \
	test "$(db "SELECT count(*) FROM admin_log WHERE action='policy.loaded' AND result='changed-outside-api'")" = 1
check "... and raises a policy-drift alert for the security officers" \
	test "$(db "SELECT count(*) FROM admin_log WHERE action='alert.policy-drift' AND error_code='security-officer'")" = 1
run sec policy set --key four_eyes --value "" --why "try to drop the mandatory list"
PREQ2=$(db "SELECT max(id) FROM approvals WHERE action='policy.change'")
run appr approval approve --id "$PREQ2"
check "mandatory four-eyes actions stay (an empty list adds nothing, removes nothing)" \
	bash -c "'$TORWART' policy show --token-file '$T/aud.session' | grep -q 'ca.revoke'"

# ---- bad requests straight to the endpoint (curl as an independent client)
TOKEN=$(sed -n 's/.*"token": "\([^"]*\)".*/\1/p' "$T/gwa.session")
TLS="--curves brainpoolP256r1 --tlsv1.2 --tls-max 1.2"
# shellcheck disable=SC2086
post() { curl -s -o "$T/curl.out" -w '%{http_code}' $TLS --cacert "$H/pki/operator-ca.crt" \
	--cert "$O/gwa/gwa.crt" --key "$O/gwa/gwa.key" -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: application/json' --data-binary "$1" "$API/v1/commands"; }
logs_before=$(db "SELECT count(*) FROM admin_log")
check "init is not available through the api (404)" test "$(post '{"argv":["init","--test-pki"]}')" = 404
check "--home is refused (400)" test "$(post '{"argv":["gateway","list","--home","/tmp"]}')" = 400
check "argv that is not a string array (400)" test "$(post '{"argv":["gateway",1]}')" = 400
check "malformed JSON (400)" test "$(post '{"argv":')" = 400
check "input file for a non-file argument (400)" \
	test "$(post '{"argv":["gateway","list"],"files":{"1":"AAAA"}}')" = 400
check "a forged token is refused (401/403)" bash -c \
	"c=\$(curl -s -o /dev/null -w '%{http_code}' $TLS --cacert '$H/pki/operator-ca.crt' --cert '$O/gwa/gwa.crt' --key '$O/gwa/gwa.key' -H 'Authorization: Bearer tw1_0_00' --data-binary '{\"argv\":[\"gateway\",\"list\"]}' '$API/v1/commands'); [ \"\$c\" = 401 ] || [ \"\$c\" = 403 ]"
check "refusals are logged, nothing else changed" \
	test "$(db "SELECT count(*) FROM admin_log")" -gt "$logs_before"
check "no stray working directories left" bash -c "[ -z \"\$(ls -A '$H/spool/commands')\" ]"

TORWART_ACT_AS="twbox1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "$TORWART" gateway list \
	--home "$H" >"$T/out" 2>&1
check "a forged operator principal in the environment is refused (exit 1)" test $? = 1
check "... saying so" grep -q "refusing to act as an operator" "$T/out"
check "the api never crashed or restarted" bash -c "! grep -q 'api killed\|api exited' '$T/torwartd.log'"
check "the admin log verifies" "$TORWART" audit verify --home "$H"
exit 0

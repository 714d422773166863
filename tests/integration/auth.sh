#!/usr/bin/env bash
# auth.sh: issue 5 (operators, sessions, roles, four-eyes) end to end: a real api with
# client certificates, the real CLI, curl and openssl as independent clients, sqlite3 to
# look at what was stored. Also: init creates the operator CA, the operator CRL at
# /crl/operator.crl (openssl crl -verify, the disabled operator's serial), TOTP keys
# sealed at rest (and a plain row of an older home resealed on first use).
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-auth-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)
API="https://127.0.0.1:$TLS_PORT"
O="$T/ops"
mkdir -p "$O"
db() { sqlite3 "$H/store.db" "$1"; }

check "init (creates the operator CA)" "$TORWART" init --home "$H" --test-pki \
	--wan-listen "127.0.0.1:$WAN_PORT" --api-listen "127.0.0.1:$API_PORT" \
	--api-tls-listen "127.0.0.1:$TLS_PORT"
check "init wrote [api] tls_listen" grep -qx "tls_listen = 127.0.0.1:$TLS_PORT" "$H/torwart.conf"
check "init created the operator CA and the api certificate" \
	test -s "$H/pki/operator-ca.crt" -a -s "$H/pki/api-tls.crt"
check "operator CA key generated in the token (signer audit)" \
	test "$(db "SELECT count(*) FROM admin_log WHERE object='operator-ca' AND action='signer.keygen'")" = 1
check "init published the first operator CRL" test -s "$H/crl/operator.crl"
"$TORWART" operator ca-init --home "$H" --tls-listen "127.0.0.1:$TLS_PORT" >"$T/cainit.out" 2>&1
ca_init_rc=$?
check "a second CA: operator ca-init on a home of init exits 1" test "$ca_init_rc" = 1
check "... and says the CA exists already" grep -q "exists already" "$T/cainit.out"
check "... and generated no second key" \
	test "$(db "SELECT count(*) FROM admin_log WHERE object='operator-ca' AND action='signer.keygen'")" = 1
# The worker checks the CRLs every second here (default 60 s).
printf '\n[ca]\ncrl_check_interval = 1\n' >>"$H/torwart.conf"
check_fails "init refuses the same port for both api listeners" "$TORWART" init --home "$T/h2" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$API_PORT"
check "the api's TLS key is the signer's: no key file" test ! -e "$H/pki/api-tls.key"
check "api TLS key generated in the token (signer audit)" \
	test "$(db "SELECT count(*) FROM admin_log WHERE object='api-tls' AND action='signer.keygen'")" = 1
check "openssl verify: api certificate chains to the operator CA" \
	openssl verify -CAfile "$H/pki/operator-ca.crt" "$H/pki/api-tls.crt"
check "no operator CA private key file in the home" \
	bash -c "! grep -l 'PRIVATE KEY' '$H/pki/operator-ca.crt'"

# ---- bootstrap (break-glass): a tenant admin and an approver
printf 'admin-password-123\n' >"$O/admin.pw"
printf 'approver-password-1\n' >"$O/appr.pw"
printf 'second-approver-pw\n' >"$O/appr2.pw"
check "break-glass operator add (tenant-admin)" "$TORWART" operator add --home "$H" \
	--name alice --password-file "$O/admin.pw" --roles tenant-admin --out "$O/alice"
check "break-glass operator add (approver)" "$TORWART" operator add --home "$H" \
	--name bob --password-file "$O/appr.pw" --roles approver --out "$O/bob"
check "break-glass operator add (second approver, TOTP)" "$TORWART" operator add --home "$H" \
	--name dora --totp --roles approver --out "$O/dora"
check "operator key is mode 0600" test "$(stat -c %a "$O/alice/alice.key")" = 600
check "TOTP key file is mode 0600" test "$(stat -c %a "$O/dora/dora.totp")" = 600
check "openssl verify: operator certificate" \
	openssl verify -CAfile "$H/pki/operator-ca.crt" "$O/alice/alice.crt"
check "TOTP key stored sealed (twbox1), never in clear" \
	bash -c "[ \"\$(sqlite3 '$H/store.db' \"SELECT substr(secret,1,7) FROM operators WHERE name='dora'\")\" = 'twbox1:' ] && ! grep -q \"\$(cat '$O/dora/dora.totp')\" '$H/store.db'"
check "break-glass operator add (TOTP, for the plain-row case)" "$TORWART" operator add \
	--home "$H" --name fred --totp --out "$O/fred"
check "operator certificates are recorded for the CRL" \
	test "$(db "SELECT count(*) FROM certificates WHERE owner_kind='operator'")" = 4
check "password stored as scrypt, never in clear" \
	bash -c "[ \"\$(sqlite3 '$H/store.db' \"SELECT substr(secret,1,7) FROM operators WHERE name='alice'\")\" = 'scrypt\$' ] && ! grep -q admin-password-123 '$H/store.db'"
check "break-glass use is logged as its own principal" \
	bash -c "[ \$(sqlite3 '$H/store.db' \"SELECT count(*) FROM admin_log WHERE role='break-glass' AND action='auth.break-glass'\") -ge 3 ]"
check "break-glass use raised an alert" \
	bash -c "[ \$(sqlite3 '$H/store.db' \"SELECT count(*) FROM admin_log WHERE action='alert.break-glass'\") -ge 3 ]"
check "break-glass uses wait for an approver's review" \
	bash -c "[ \$(sqlite3 '$H/store.db' \"SELECT count(*) FROM approvals WHERE action='break-glass' AND state='pending'\") -ge 3 ]"
check_fails "role exclusion refused at assignment (auditor + approver)" "$TORWART" operator add \
	--home "$H" --name eve --password-file "$O/admin.pw" --roles auditor,approver --out "$O/eve"
check "a refused add leaves no operator" test "$(db "SELECT count(*) FROM operators WHERE name='eve'")" = 0

# ---- the api
"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "operator API listens (HTTPS)" wait_port 127.0.0.1 "$TLS_PORT" 20
check "plain /health still answers" wait_port 127.0.0.1 "$API_PORT" 20
check "curl /health" bash -c "curl -fsS http://127.0.0.1:$API_PORT/health | grep -q ok"
check_fails "api refuses TLS without a client certificate" \
	curl -fsS --cacert "$H/pki/operator-ca.crt" "$API/v1/operators"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/rogue.key" \
	-out "$T/rogue.crt" -subj /CN=rogue -days 2 >>"$T/log" 2>&1
check_fails "api refuses a certificate of a foreign CA" curl -fsS --cacert "$H/pki/operator-ca.crt" \
	--cert "$T/rogue.crt" --key "$T/rogue.key" -X POST -d '{"password":"x"}' "$API/v1/login"

A="$T/alice.session"; B="$T/bob.session"; D="$T/dora.session"
check_fails "login with a wrong password is refused" "$TORWART" login --api "$API" \
	--cert "$O/alice/alice.crt" --key "$O/alice/alice.key" --password-file "$O/appr.pw" --token-file "$A"
check "refused login is logged" test "$(db "SELECT count(*) FROM admin_log WHERE action='auth.login' AND result='refused'")" -ge 1
check "login alice (cert + password)" "$TORWART" login --api "$API" --cert "$O/alice/alice.crt" \
	--key "$O/alice/alice.key" --password-file "$O/admin.pw" --token-file "$A"
check "session file is mode 0600" test "$(stat -c %a "$A")" = 600
SECRET=$(sed -n 's/.*"token": "tw1_[0-9a-f]*_\([0-9a-f]*\)".*/\1/p' "$A")
check "session secret is in the session file" test "${#SECRET}" = 64
check "token stored hashed only" bash -c "! grep -q '$SECRET' '$H/store.db' '$H/store.db-wal' 2>/dev/null"
check "login bob" "$TORWART" login --api "$API" --cert "$O/bob/bob.crt" --key "$O/bob/bob.key" \
	--password-file "$O/appr.pw" --token-file "$B"
check "login dora (cert + TOTP)" "$TORWART" login --api "$API" --cert "$O/dora/dora.crt" \
	--key "$O/dora/dora.key" --totp-secret-file "$O/dora/dora.totp" --token-file "$D"
check_fails "a TOTP code cannot be replayed" "$TORWART" login --api "$API" --cert "$O/dora/dora.crt" \
	--key "$O/dora/dora.key" --totp-secret-file "$O/dora/dora.totp" --token-file "$T/replay"
# A home from before sealing stored the base32 key itself: it still logs in, and that
# login seals it.
db "UPDATE operators SET secret='$(cat "$O/fred/fred.totp")' WHERE name='fred'"
check "a plain (pre-sealing) TOTP row still logs in" "$TORWART" login --api "$API" \
	--cert "$O/fred/fred.crt" --key "$O/fred/fred.key" --totp-secret-file "$O/fred/fred.totp" \
	--token-file "$T/fred.session"
check "that login sealed the TOTP key" test "$(db "SELECT substr(secret,1,7) FROM operators WHERE name='fred'")" = "twbox1:"
check "the TOTP key is not in the service log" bash -c "! grep -q \"\$(cat '$O/fred/fred.totp')\" '$T/torwartd.log'"

# ---- the operator CRL on the plain listener
CRL_URL="http://127.0.0.1:$API_PORT/crl/operator.crl"
check "curl fetches /crl/operator.crl" curl -fsS -o "$T/opcrl0.der" "$CRL_URL"
check "operator CRL is application/pkix-crl with an ETag" bash -c \
	"curl -fsSI '$CRL_URL' | tr -d '\r' | grep -qi '^content-type: application/pkix-crl' && curl -fsSI '$CRL_URL' | grep -qi '^etag:'"
check "openssl crl -verify accepts the operator CRL (operator CA)" \
	openssl crl -inform DER -in "$T/opcrl0.der" -CAfile "$H/pki/operator-ca.crt" -noout -verify
check "the first operator CRL lists nobody" \
	bash -c "! openssl crl -inform DER -in '$T/opcrl0.der' -noout -text | grep -q 'Serial Number'"
ETAG0=$(curl -fsSI "$CRL_URL" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
check "If-None-Match answers 304" test "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG0" "$CRL_URL")" = 304

# ---- operators through the api
check "operator list as tenant-admin" bash -c "'$TORWART' operator list --token-file '$A' | grep -q bob"
check_fails "operator list as approver is denied" "$TORWART" operator list --token-file "$B"
check "denial is logged as auth.denied" test "$(db "SELECT count(*) FROM admin_log WHERE action='auth.denied'")" -ge 1
printf 'carol-password-12\n' >"$O/carol.pw"
# Enrolment (issue 9): carol makes her key on her side, alice only ever sees the public
# half, the one-time code goes to the second channel, carol chooses her own password.
check "carol makes her own key pair (operator keygen)" "$TORWART" operator keygen \
	--name carol --out "$O/carol"
check "... her private key is 0600 on her side" test "$(stat -c %a "$O/carol/carol.key")" = 600
check_fails "operator add through the api with a password (creator-chosen secret) is refused" \
	"$TORWART" operator add --token-file "$A" --name carol --public-key "$O/carol/carol.pub" \
	--password-file "$O/carol.pw"
check "operator add through the api (public key only, roles requested)" "$TORWART" operator add \
	--token-file "$A" --name carol --public-key "$O/carol/carol.pub" --roles gateway-operator \
	--reason "new colleague" --out "$O/carol" >"$T/carol-add.out"
check "... the creator's output holds no enrolment code" \
	bash -c "! grep -q \"\$(head -1 '$H/enrolment/carol.code')\" '$T/carol-add.out'"
check "... the code went to the second channel (0600)" test "$(stat -c %a "$H/enrolment/carol.code")" = 600
check "... and is stored only as an scrypt record" \
	test "$(db "SELECT count(*) FROM operators WHERE name='carol' AND secret LIKE 'enrol\$%\$scrypt\$%'")" = 1
check "... never in clear" bash -c "! grep -q \"\$(head -1 '$H/enrolment/carol.code')\" '$H/store.db'"
check_fails "carol cannot log in before enrolling" "$TORWART" login --api "$API" \
	--cert "$O/carol/carol.crt" --key "$O/carol/carol.key" --password-file "$O/carol.pw" --token-file "$T/x"
printf 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n' >"$T/wrong.code"
check_fails "enrolment with a wrong code is refused" "$TORWART" operator enrol --api "$API" \
	--cert "$O/carol/carol.crt" --key "$O/carol/carol.key" --code-file "$T/wrong.code" \
	--password-file "$O/carol.pw" --token-file "$T/x"
check_fails "the creator cannot enrol with its own certificate and the code" "$TORWART" operator enrol \
	--api "$API" --cert "$O/alice/alice.crt" --key "$O/alice/alice.key" \
	--code-file "$H/enrolment/carol.code" --password-file "$O/carol.pw" --token-file "$T/x"
check "carol enrols: code + her key + her own password" "$TORWART" operator enrol --api "$API" \
	--cert "$O/carol/carol.crt" --key "$O/carol/carol.key" --code-file "$H/enrolment/carol.code" \
	--password-file "$O/carol.pw" --token-file "$T/carol.enrol"
check "... logged as operator.enrol" test "$(db "SELECT count(*) FROM admin_log WHERE action='operator.enrol' AND actor='carol'")" = 1
check_fails "... the code works once" "$TORWART" operator enrol --api "$API" \
	--cert "$O/carol/carol.crt" --key "$O/carol/carol.key" --code-file "$H/enrolment/carol.code" \
	--password-file "$O/admin.pw" --token-file "$T/x"
check "carol has no roles before approval" test "$(db "SELECT roles FROM operators WHERE name='carol'")" = 0
REQ=$(db "SELECT max(id) FROM approvals WHERE action='operator.role'")
check "role request is pending" test "$(db "SELECT state FROM approvals WHERE id=$REQ")" = pending
check_fails "tenant-admin cannot approve (no approver role)" "$TORWART" approval approve --token-file "$A" --id "$REQ"
check_fails "escalation: tenant-admin cannot request system-admin" "$TORWART" operator role --token-file "$A" \
	--name carol --roles system-admin --reason escalate
check_fails "escalation: nobody changes their own roles" "$TORWART" operator role --token-file "$A" \
	--name alice --roles tenant-admin,approver --reason self
check "approval list as approver" bash -c "'$TORWART' approval list --token-file '$B' | grep -q operator.role"
check "approval show" bash -c "'$TORWART' approval show --token-file '$B' --id $REQ | grep -q 'new colleague'"
check "approve by a second person executes the role change" "$TORWART" approval approve --token-file "$B" --id "$REQ" --reason ok
check "request executed" test "$(db "SELECT state FROM approvals WHERE id=$REQ")" = executed
check "carol now has gateway-operator (bit 3)" test "$(db "SELECT roles FROM operators WHERE name='carol'")" = 8
check_fails "an executed request cannot be approved twice" "$TORWART" approval approve --token-file "$D" --id "$REQ"
check "request, approval and execution are logged" bash -c "[ \$(sqlite3 '$H/store.db' \"SELECT count(*) FROM admin_log WHERE action IN ('approval.request','approval.approve','operator.role')\") -ge 3 ]"

# requester != approver: bob (approver) asks dora to gain auditor? bob cannot request (no
# role); alice requests for bob, bob cannot approve a change of his own roles.
check "alice requests a role change for bob" "$TORWART" operator role --token-file "$A" \
	--name bob --roles approver,gateway-operator --reason more
REQ2=$(db "SELECT max(id) FROM approvals WHERE action='operator.role'")
check_fails "bob cannot release a change of his own roles" "$TORWART" approval approve --token-file "$B" --id "$REQ2"
check "dora rejects it" "$TORWART" approval reject --token-file "$D" --id "$REQ2" --reason "not needed"
check "rejected request is stored as rejected" test "$(db "SELECT state FROM approvals WHERE id=$REQ2")" = rejected

# ---- tokens: forged, replayed after logout, bound to the certificate
TOK=$(sed -n 's/.*"token": "\(tw1_[^"]*\)".*/\1/p' "$A")
FORGED="${TOK:0:37}$(printf '0%.0s' $(seq 1 64))"
check_fails "a forged token is refused" curl -fsS --cacert "$H/pki/operator-ca.crt" \
	--cert "$O/alice/alice.crt" --key "$O/alice/alice.key" -H "Authorization: Bearer $FORGED" "$API/v1/operators"
check_fails "a token is refused with another operator's certificate" curl -fsS --cacert "$H/pki/operator-ca.crt" \
	--cert "$O/bob/bob.crt" --key "$O/bob/bob.key" -H "Authorization: Bearer $TOK" "$API/v1/operators"
check_fails "a malformed request body is refused" curl -fsS --cacert "$H/pki/operator-ca.crt" \
	--cert "$O/alice/alice.crt" --key "$O/alice/alice.key" -H "Authorization: Bearer $TOK" \
	-X POST -d '{"roles": 5}' "$API/v1/operators/carol/roles"
head -c 70000 /dev/zero | tr '\0' a >"$T/big"
check_fails "an oversized request is refused" curl -fsS --cacert "$H/pki/operator-ca.crt" \
	--cert "$O/alice/alice.crt" --key "$O/alice/alice.key" -H "Authorization: Bearer $TOK" \
	-X POST --data-binary @"$T/big" "$API/v1/operators/carol/roles"
check "login carol (before she is disabled)" "$TORWART" login --api "$API" --cert "$O/carol/carol.crt" \
	--key "$O/carol/carol.key" --password-file "$O/carol.pw" --token-file "$T/carol.session"
check "tenant-admin disables carol" "$TORWART" operator disable --token-file "$A" --name carol --reason left
check "carol's certificate is revoked in the store" test "$(db "SELECT cert_status FROM operators WHERE name='carol'")" = revoked
check "carol's certificate is revoked in the certificates table (privilegeWithdrawn)" \
	test "$(db "SELECT status || ',' || revocation_reason FROM certificates WHERE owner_kind='operator' AND owner_id='carol'")" = "revoked,9"
check_fails "a disabled operator cannot log in" "$TORWART" login --api "$API" --cert "$O/carol/carol.crt" \
	--key "$O/carol/carol.key" --password-file "$O/carol.pw" --token-file "$T/carol.session2"
check_fails "carol's open session is refused on the next request" \
	curl -fsS --cacert "$H/pki/operator-ca.crt" --cert "$O/carol/carol.crt" --key "$O/carol/carol.key" \
	-H "Authorization: Bearer $(sed -n 's/.*"token": "\(tw1_[^"]*\)".*/\1/p' "$T/carol.session")" "$API/v1/gateways"
CAROL_SERIAL=$(openssl x509 -in "$O/carol/carol.crt" -noout -serial | sed 's/^serial=//')
check "the disable republished the operator CRL at once (as alice, not the worker)" \
	test "$(db "SELECT count(*) FROM admin_log WHERE action='ca.crl.generate' AND object='operator' AND actor='alice'")" -ge 1
check "curl fetches the new operator CRL" curl -fsS -o "$T/opcrl1.der" "$CRL_URL"
check "openssl crl -verify accepts the new operator CRL" \
	openssl crl -inform DER -in "$T/opcrl1.der" -CAfile "$H/pki/operator-ca.crt" -noout -verify
check "the operator CRL lists carol's serial ($CAROL_SERIAL), privilege withdrawn" bash -c \
	"openssl crl -inform DER -in '$T/opcrl1.der' -noout -text | grep -A4 -i 'Serial Number: $CAROL_SERIAL' | grep -q 'Privilege Withdrawn'"
check "the operator CRL's ETag changed" test "$(curl -fsSI "$CRL_URL" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')" != "$ETAG0"
openssl crl -inform DER -in "$T/opcrl1.der" -out "$T/opcrl1.pem"
check_fails "openssl verify -crl_check rejects carol's certificate" \
	openssl verify -crl_check -CAfile "$H/pki/operator-ca.crt" -CRLfile "$T/opcrl1.pem" "$O/carol/carol.crt"
check "openssl verify -crl_check accepts alice's certificate" \
	openssl verify -crl_check -CAfile "$H/pki/operator-ca.crt" -CRLfile "$T/opcrl1.pem" "$O/alice/alice.crt"
check "break-glass disable of fred" "$TORWART" operator disable --home "$H" --name fred --reason test
FRED_SERIAL=$(openssl x509 -in "$O/fred/fred.crt" -noout -serial | sed 's/^serial=//')
check "the break-glass disable republished the CRL (carol and fred)" bash -c \
	"curl -fsS '$CRL_URL' | openssl crl -inform DER -noout -text | grep -c 'Serial Number' | grep -qx 2 && curl -fsS '$CRL_URL' | openssl crl -inform DER -noout -text | grep -qi 'Serial Number: $FRED_SERIAL'"
check "logout" "$TORWART" logout --token-file "$A"
check_fails "a token is refused after logout" "$TORWART" operator list --token-file "$A"

# ---- throttling: 5 failures lock the operator and raise an alert
for i in 1 2 3 4 5; do
	"$TORWART" login --api "$API" --cert "$O/bob/bob.crt" --key "$O/bob/bob.key" \
		--password-file "$O/admin.pw" --token-file "$T/x" >>"$T/log" 2>&1
done
check_fails "after the burst even the right password is refused" "$TORWART" login --api "$API" \
	--cert "$O/bob/bob.crt" --key "$O/bob/bob.key" --password-file "$O/appr.pw" --token-file "$T/x"
check "failed-login burst alerted" test "$(db "SELECT count(*) FROM admin_log WHERE action='alert.login-burst'")" -ge 1
check "ALERT line in the service log" grep -q "ALERT role=security-officer kind=failed-login-burst" "$T/torwartd.log"
# ---- the worker keeps the operator CRL fresh like the Sub-CA's (dirty -> regenerated)
N1=$(db "SELECT number FROM ca_crls WHERE ca = 'operator'")
db "UPDATE ca_crls SET dirty = 1 WHERE ca = 'operator'"
for _ in $(seq 1 50); do [ "$(db "SELECT number FROM ca_crls WHERE ca = 'operator'")" != "$N1" ] && break; sleep 0.2; done
check "worker regenerates a dirty operator CRL (number $N1 -> next)" \
	test "$(db "SELECT number FROM ca_crls WHERE ca = 'operator'")" -gt "$N1"
check "admin log still verifies" "$TORWART" audit verify --home "$H"

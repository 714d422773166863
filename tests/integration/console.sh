#!/usr/bin/env bash
# console.sh: issue 15 section 2, the web console's listener with curl as the browser:
# its TLS profile (ECDSA P-256, TLS 1.2/1.3 suites of TR-03116-4, no brainpool, client
# certificate required), the security headers (CSP without inline script, nosniff, no
# framing), the session cookie's flags, CSRF (missing, wrong, other origin: refused),
# session expiry and logout, tenant isolation through the console (another tenant's
# gateway is 404 like a missing one), writes through the same policy as the API, control
# characters of free text only ever escaped, and the static files free of inline script
# and other origins. tests/integration/console_browser.sh drives a real browser.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-con-XXXXXX)
trap 'finish; exit $?' EXIT
CONSOLE_TTL=30
. "$(dirname "$0")/console_lib.sh"

# c WHO ARGS...: curl to the console with WHO's client certificate and cookie jar.
c() {
	local who=$1; shift
	curl -s --cacert "$CON_CA" --cert "$O/$who/$who.crt" --key "$O/$who/$who.key" \
		-b "$T/$who.jar" -c "$T/$who.jar" "$@"
}
# login WHO: POST /console/login; headers in $T/hdr, body in $T/out, status on stdout.
login() {
	c "$1" -o "$T/out" -D "$T/hdr" -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary "{\"password\":\"$(cat "$O/$1.pw")\"}" "$CON/console/login"
}
jq_() { /usr/bin/python3 -c "import json,sys; d=json.load(open('$T/out')); print($1)"; }
# req WHO METHOD PATH [BODY [CSRF]]: status on stdout
req() {
	local who=$1 method=$2 path=$3 body=${4-} csrf=${5-}
	c "$who" -o "$T/out" -D "$T/hdr" -w '%{http_code}' -X "$method" \
		${csrf:+-H "X-CSRF-Token: $csrf"} \
		${body:+-H 'Content-Type: application/json' --data-binary "$body"} "$CON$path"
}

# ---- operator certificates for browsers
check "operator keygen --curve P-256: a P-256 key pair" bash -c "'$TORWART' operator keygen --name newop --out '$T/newop' --curve P-256 >/dev/null && openssl pkey -pubin -in '$T/newop/newop.pub' -noout -text | grep -q 'NIST CURVE: P-256'"
check_fails "operator keygen --curve with an unknown curve is refused" "$TORWART" operator keygen --name bad --out "$T/bad" --curve secp256k1
check "gwa's certificate from the operator CA carries a P-256 key" bash -c "openssl x509 -in '$O/gwa/gwa.crt' -noout -text | grep -q 'NIST CURVE: P-256'"
check "... and verifies against the operator CA" openssl verify -CAfile "$H/pki/operator-ca.crt" "$O/gwa/gwa.crt"
printf 'p12-secret-1\n' >"$T/p12.pw"
check "operator p12: certificate and key as PKCS#12" "$TORWART" operator p12 --cert "$O/gwa/gwa.crt" --key "$O/gwa/gwa.key" --out "$T/gwa.p12" --password-file "$T/p12.pw" --name gwa
check "... openssl reads it back with the password: CN=gwa and its key" bash -c "openssl pkcs12 -in '$T/gwa.p12' -passin file:'$T/p12.pw' -nodes 2>/dev/null | grep -q 'PRIVATE KEY' && openssl pkcs12 -in '$T/gwa.p12' -passin file:'$T/p12.pw' -nokeys 2>/dev/null | openssl x509 -noout -subject | grep -q 'CN *= *gwa'"
check_fails "... not with another password" bash -c "printf 'wrong\n' >'$T/wrong.pw'; openssl pkcs12 -in '$T/gwa.p12' -passin file:'$T/wrong.pw' -nodes >/dev/null 2>&1"
check_fails "operator p12 refuses a key of another certificate" "$TORWART" operator p12 --cert "$O/gwa/gwa.crt" --key "$O/gwb/gwb.key" --out "$T/mix.p12" --password-file "$T/p12.pw"

# ---- TLS profile
check "console tls: the server certificate verifies against the one-time CA" openssl verify -CAfile "$CON_CA" "$H/pki/console-tls.crt"
check "... for 127.0.0.1 (subjectAltName)" bash -c "openssl x509 -in '$H/pki/console-tls.crt' -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.1'"
check "... no console key file in the new home (the key is the signer's)" bash -c "! find '$H' -name 'console-tls.key' -not -path '$H/secrets/tls-keys/*' | grep -q ."
check "... the signer's TLS key directory holds console-tls, 0600" test "$(stat -c %a "$H/secrets/tls-keys/console-tls.key")" = 600
check "... and its public key is the certificate's" bash -c "cmp <(openssl pkey -in '$H/secrets/tls-keys/console-tls.key' -pubout) <(openssl x509 -in '$H/pki/console-tls.crt' -noout -pubkey)"
check "... no CA key was kept" bash -c "! ls '$H'/pki | grep -qi 'console-ca.key'"
check_fails "... a second run does not replace it without --force" "$TORWART" console tls --home "$H"
check "the console's certificate is ECDSA P-256" bash -c "openssl x509 -in '$H/pki/console-tls.crt' -noout -text | grep -q 'NIST CURVE: P-256'"
check "TLS 1.3 handshake with a P-256 client certificate" bash -c "echo | openssl s_client -connect 127.0.0.1:$CON_PORT -tls1_3 -CAfile '$CON_CA' -cert '$O/gwa/gwa.crt' -key '$O/gwa/gwa.key' -verify_return_error 2>&1 | grep -q 'Verify return code: 0'"
check "TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256" bash -c "echo | openssl s_client -connect 127.0.0.1:$CON_PORT -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 -CAfile '$CON_CA' -cert '$O/gwa/gwa.crt' -key '$O/gwa/gwa.key' 2>&1 | grep -q 'Cipher is ECDHE-ECDSA-AES128-GCM-SHA256'"
check_fails "TLS 1.2 with an SHA-1 CBC suite is refused" bash -c "echo | openssl s_client -connect 127.0.0.1:$CON_PORT -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA -cert '$O/gwa/gwa.crt' -key '$O/gwa/gwa.key' 2>&1 | grep -q 'Cipher is ECDHE'"
check_fails "TLS 1.1 is refused" bash -c "echo | openssl s_client -connect 127.0.0.1:$CON_PORT -tls1_1 -cert '$O/gwa/gwa.crt' -key '$O/gwa/gwa.key' 2>&1 | grep -q 'Cipher is ECDHE'"
check_fails "the brainpool group only is refused (browsers have none; not offered here)" bash -c "echo | openssl s_client -connect 127.0.0.1:$CON_PORT -tls1_2 -groups brainpoolP256r1 -cert '$O/gwa/gwa.crt' -key '$O/gwa/gwa.key' 2>&1 | grep -q 'Cipher is ECDHE'"
check_fails "no client certificate: no page" bash -c "curl -sf --cacert '$CON_CA' '$CON/' >/dev/null"
check "the operator CA's certificates are asked for" bash -c "echo | openssl s_client -connect 127.0.0.1:$CON_PORT -tls1_2 -CAfile '$CON_CA' -cert '$O/gwa/gwa.crt' -key '$O/gwa/gwa.key' 2>&1 | grep -A2 'Acceptable client certificate CA names' | grep -qi operator"

# ---- static files and headers
check "GET / with a client certificate: 200" test "$(c gwa -o "$T/index.html" -D "$T/hdr" -w '%{http_code}' "$CON/")" = 200
check "... Content-Security-Policy: script-src 'self', nothing inline" bash -c "grep -i '^content-security-policy:' '$T/hdr' | grep -q \"script-src 'self'\" && ! grep -i '^content-security-policy:' '$T/hdr' | grep -q unsafe"
check "... default-src 'none' and frame-ancestors 'none'" bash -c "grep -i '^content-security-policy:' '$T/hdr' | grep -q \"default-src 'none'\" && grep -i '^content-security-policy:' '$T/hdr' | grep -q \"frame-ancestors 'none'\""
check "... nosniff, DENY framing, no referrer, HSTS" bash -c "grep -qi '^x-content-type-options: nosniff' '$T/hdr' && grep -qi '^x-frame-options: DENY' '$T/hdr' && grep -qi '^referrer-policy: no-referrer' '$T/hdr' && grep -qi '^strict-transport-security:' '$T/hdr'"
check "... the page loads /console.js and /console.css of this origin" bash -c "grep -q 'src=\"/console.js\"' '$T/index.html' && grep -q 'href=\"/console.css\"' '$T/index.html'"
check "no inline script, event handler or style attribute in web/" bash -c "! grep -Eqi '<script>|<script [^>]*>[^<]|on(click|load|submit|error)=| style=' '$SRC'/web/*.html"
check "no other origin in web/ (no CDN)" bash -c "! grep -Eq '(https?:)?//[a-z0-9.-]+\\.[a-z]{2,}/' '$SRC'/web/*.html '$SRC'/web/*.css '$SRC'/web/*.js"
check "console.js served as JavaScript with the CSP" bash -c "curl -s -D - -o /dev/null --cacert '$CON_CA' --cert '$O/gwa/gwa.crt' --key '$O/gwa/gwa.key' '$CON/console.js' | grep -qi '^content-type: text/javascript'"
check "an unknown path: 404" test "$(c gwa -o /dev/null -w '%{http_code}' "$CON/../../etc/passwd")" = 404
check "the API without a session: 401 (the console shows its login)" test "$(req gwa GET /v1/gateways)" = 401

# ---- login and the cookie
check "wrong password: 403" test "$(c gwa -o "$T/out" -D "$T/hdr" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary '{"password":"wrong-password-1"}' "$CON/console/login")" = 403
check "... no session cookie set" bash -c "! grep -i '^set-cookie:' '$T/hdr' | grep -q 'torwart=tw1_'"
check "the failed login is in the admin log" test "$(db "SELECT count(*) FROM admin_log WHERE action LIKE 'auth.login%' AND result <> 'ok'")" -ge 1
check "a login from another origin is refused" test "$(c gwa -o /dev/null -w '%{http_code}' -H 'Origin: https://evil.example' -H 'Content-Type: application/json' --data-binary "{\"password\":\"$(cat "$O/gwa.pw")\"}" "$CON/console/login")" = 403
check "login gwa: 200" test "$(login gwa)" = 200
LOGIN_T=$SECONDS
SETC=$(grep -i '^set-cookie:' "$T/hdr" | tr -d '\r')
check "... cookie __Host-torwart" bash -c "grep -q '__Host-torwart=tw1_' <<<'$SETC'"
check "... Secure; HttpOnly; SameSite=Strict; Path=/" bash -c "grep -q 'Secure' <<<'$SETC' && grep -q 'HttpOnly' <<<'$SETC' && grep -q 'SameSite=Strict' <<<'$SETC' && grep -q 'Path=/;' <<<'$SETC'"
check "... expiring (Max-Age at most the console's session_ttl)" bash -c "a=\$(sed -n 's/.*Max-Age=\\([0-9]*\\).*/\\1/p' <<<'$SETC'); [ -n \"\$a\" ] && [ \"\$a\" -le $CONSOLE_TTL ] && [ \"\$a\" -gt 0 ]"
check "... the token is not in the body (HttpOnly would be moot)" bash -c "! grep -q 'tw1_' '$T/out'"
CSRF_A=$(jq_ "d['csrf']")
check "... a CSRF token of 64 hex digits" bash -c "[[ '$CSRF_A' =~ ^[0-9a-f]{64}\$ ]]"
check "... operator and tenant" test "$(jq_ "(d['operator'], d['tenant'])")" = "('gwa', 'alpha')"
check "GET /console/session: the same CSRF token" bash -c "test \"\$(curl -s --cacert '$CON_CA' --cert '$O/gwa/gwa.crt' --key '$O/gwa/gwa.key' -b '$T/gwa.jar' '$CON/console/session' | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[\"csrf\"])')\" = '$CSRF_A'"
check "the cookie with another operator's certificate: refused" test "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CON_CA" --cert "$O/gwb/gwb.crt" --key "$O/gwb/gwb.key" -b "$T/gwa.jar" "$CON/v1/gateways")" = 403
check "a forged cookie (MAC): 401" test "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CON_CA" --cert "$O/gwa/gwa.crt" --key "$O/gwa/gwa.key" -H "Cookie: __Host-torwart=$(sed -n 's/.*__Host-torwart=\([^;]*\).*/\1/p' <<<"$SETC" | sed 's/\.[0-9]*\./.1./')" "$CON/v1/gateways")" = 401

# ---- reads through the console: the API's routes and policy
check "GET /v1/gateways: 200" test "$(req gwa GET /v1/gateways)" = 200
check "... alpha's gateways only" test "$(jq_ "','.join(g['id'] for g in d['gateways'])")" = "GW-A1,GW-A2"
check "... with the CSP on API answers too" grep -qi '^content-security-policy:' "$T/hdr"
check "another tenant's gateway: 404" test "$(req gwa GET /v1/gateways/GW-B1)" = 404
sed 's/GW-B1/X/g' "$T/out" >"$T/other.json"
check "a missing gateway: 404" test "$(req gwa GET /v1/gateways/GW-NOPE)" = 404
sed 's/GW-NOPE/X/g' "$T/out" >"$T/missing.json"
check "... indistinguishable" cmp -s "$T/other.json" "$T/missing.json"
check "GET /v1/alarms: 200" test "$(req gwa GET /v1/alarms)" = 200
check "... only alpha's alarm" test "$(jq_ "[a['gateway'] for a in d['alarms']]")" = "['GW-A1']"
cat "$T/out" >>"$T/log"
check "... the control characters arrive JSON-escaped, never raw" /usr/bin/python3 -c "import json,sys; raw=open('$T/out','rb').read(); d=json.loads(raw); sys.exit(not (b'\\x1b' not in raw and b'\\\\u001b' in raw.lower() and d['alarms'][0]['message'] == 'lid open\\x1b[2K\\nforged line'))"
check "console.js shows control characters as visible escapes (textContent only)" bash -c "grep -q 'u0000-\\\\u001f' '$SRC/web/console.js' && ! grep -q 'innerHTML' '$SRC/web/console.js'"
check "/v1/login is not served by the console (its login sets the cookie): 404" test "$(c gwa -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary '{}' "$CON/v1/login")" = 404

# ---- writes: CSRF, then the same policy as the API
check "login gwa again (a fresh session for the writes): 200" test "$(login gwa)" = 200
CSRF_A=$(jq_ "d['csrf']")
check "ack without X-CSRF-Token: 403" test "$(req gwa POST "/v1/alarms/$ALARM_ESC/ack" '{"reason":"x"}')" = 403
check "... says the header is missing" bash -c "grep -q 'X-CSRF-Token header is missing' '$T/out'"
check "ack with a wrong CSRF token: 403" test "$(req gwa POST "/v1/alarms/$ALARM_ESC/ack" '{"reason":"x"}' "$(printf '%064d' 0)")" = 403
check "... says it is wrong" bash -c "grep -q 'X-CSRF-Token header is wrong' '$T/out'"
check "ack from another origin (right token): 403" test "$(c gwa -o /dev/null -w '%{http_code}' -H 'Origin: https://evil.example' -H "X-CSRF-Token: $CSRF_A" -H 'Content-Type: application/json' --data-binary '{"reason":"x"}' "$CON/v1/alarms/$ALARM_ESC/ack")" = 403
check "... nothing acknowledged" test "$(db "SELECT count(*) FROM admin_log WHERE action='gateway.alarm.ack'")" = 0
check "ack with the right CSRF token: 200" test "$(req gwa POST "/v1/alarms/$ALARM_ESC/ack" '{"reason":"seen in the console"}' "$CSRF_A")" = 200
check "... the command ran (exit 0)" test "$(jq_ "d['exit']")" = 0
check "... in the admin log as gwa" test "$(db "SELECT count(*) FROM admin_log WHERE action='gateway.alarm.ack' AND actor='gwa' AND result='ok'")" = 1
check "login gwb: 200" test "$(login gwb)" = 200
CSRF_B=$(jq_ "d['csrf']")
check "gwa's CSRF token in gwb's session: 403" test "$(req gwb POST /v1/fleet-orders '{"type":"ping","gateway":"GW-B1"}' "$CSRF_A")" = 403
check "beta cannot order alpha's gateway through the console (404)" test "$(req gwb POST /v1/fleet-orders '{"type":"ping","gateway":"GW-A1"}' "$CSRF_B")" = 404
check "a fleet order over the threshold: 202, four-eyes" test "$(req gwa POST /v1/fleet-orders '{"type":"ping","tag":"shared","why":"console test"}' "$CSRF_A")" = 202
cat "$T/out" >>"$T/log"
APPROVAL=$(jq_ "d['approval']")
check "login appr: 200" test "$(login appr)" = 200
CSRF_P=$(jq_ "d['csrf']")
check "gwa cannot approve its own request" bash -c "c() { curl -s --cacert '$CON_CA' --cert '$O/gwa/gwa.crt' --key '$O/gwa/gwa.key' -b '$T/gwa.jar' \"\$@\"; }; test \"\$(c -o /dev/null -w '%{http_code}' -H 'X-CSRF-Token: $CSRF_A' -H 'Content-Type: application/json' --data-binary '{}' '$CON/v1/approvals/$APPROVAL/approve')\" = 403"
check "the approver sees the command that will run" test "$(req appr GET "/v1/approvals/$APPROVAL")" = 200
check "... job create --type ping --tag shared" bash -c "grep -q 'job' '$T/out' && grep -q 'shared' '$T/out'"
check "approve through the console: 200" test "$(req appr POST "/v1/approvals/$APPROVAL/approve" '{"reason":"ok"}' "$CSRF_P")" = 200
check "... two jobs exist" test "$(db "SELECT count(*) FROM jobs")" = 2
BATCH=$(db "SELECT max(batch_id) FROM jobs")
check "GET /v1/fleet-orders as alpha: 200" test "$(req gwa GET /v1/fleet-orders)" = 200
check "... the approved order with its progress" test "$(jq_ "[(o['id'], o['type'], o['selection'], o['jobs'], o['finished']) for o in d['fleet_orders']]")" = "[($BATCH, 'ping', 'tag:shared', 2, 0)]"
check "... states of its two jobs" test "$(jq_ "sum(d['fleet_orders'][0]['states'].values())")" = 2
check "beta's list does not show alpha's order" test "$(req gwb GET /v1/fleet-orders)" = 200
check "... empty" test "$(jq_ "(d['fleet_orders'], d['next'])")" = "([], None)"
check "a second order of alpha's, for a list of one gateway (under the threshold: runs at once)" \
	test "$(req gwa POST /v1/fleet-orders '{"type":"ping","gateways":"GW-A1"}' "$CSRF_A")" = 200
req gwa GET '/v1/fleet-orders?limit=1' >/dev/null
check "limit=1: the newest first, next is its id" test "$(jq_ "(len(d['fleet_orders']), d['fleet_orders'][0]['id'] > $BATCH, d['next'] == str(d['fleet_orders'][0]['id']))")" = "(1, True, True)"
NEXT=$(jq_ "d['next']")
req gwa GET "/v1/fleet-orders?limit=1&cursor=$NEXT" >/dev/null
check "... the cursor gives the older one" test "$(jq_ "[o['id'] for o in d['fleet_orders']]")" = "[$BATCH]"
check "a filter the list lacks: 400" test "$(req gwa GET '/v1/fleet-orders?state=done')" = 400
check "the approver may not list fleet orders (role of job list): 403" test "$(req appr GET /v1/fleet-orders)" = 403

# ---- revocation through the console: ca revoke, always four-eyes
check "login ra (RA officer): 200" test "$(login ra)" = 200
CSRF_R=$(jq_ "d['csrf']")
check "certificates: 200" test "$(req ra GET '/v1/certificates?limit=500')" = 200
SERIAL=$(jq_ "[c['serial'] for c in d['certificates'] if c['owner'] == 'GW-A1'][0]")
check "... GW-A1's certificates listed" test -n "$SERIAL"
check "a gateway operator may not revoke (role of ca revoke): 403" \
	test "$(req gwa POST "/v1/certificates/$SERIAL/revoke" '{"reason":"keyCompromise","why":"x"}' "$CSRF_A")" = 403
check "revocation request by the RA officer: 202, four-eyes" \
	test "$(req ra POST "/v1/certificates/$SERIAL/revoke" '{"reason":"keyCompromise","why":"stolen gateway"}' "$CSRF_R")" = 202
RAPPROVAL=$(jq_ "d['approval']")
check "... nothing revoked yet" test "$(req ra GET "/v1/certificates/$SERIAL")" = 200
check "... status still valid" test "$(jq_ "d['status']")" != revoked
check "login appr again (a fresh console session): 200" test "$(login appr)" = 200
CSRF_P=$(jq_ "d['csrf']")
check "the approver releases it through the console: 200" \
	test "$(req appr POST "/v1/approvals/$RAPPROVAL/approve" '{"reason":"confirmed by phone"}' "$CSRF_P")" = 200
check "... the certificate is revoked" bash -c "test \"\$(curl -s --cacert '$CON_CA' --cert '$O/ra/ra.crt' --key '$O/ra/ra.key' -b '$T/ra.jar' '$CON/v1/certificates/$SERIAL' | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[\"status\"])')\" = revoked"

# ---- the dashboard's counts: GET /v1/summary, counted in the store over more than a page
# (a list page stops at 500), on the operator's tenant only. Bulk rows straight in SQL
# (portable: the pg suite runs this too); jobs only in final states, so the worker
# leaves them alone.
ALPHA=$(db "SELECT id FROM tenants WHERE name='alpha'"); BETA=$(db "SELECT id FROM tenants WHERE name='beta'")
NOW_MS=$(($(date +%s) * 1000))
SERIES="WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 600)"
check "600 more gateways of alpha (450 with a contact now, 150 never)" db "$SERIES INSERT INTO gateways (tenant_id, gateway_id, state, created_ms, last_contact_ms) SELECT $ALPHA, 'GW-S' || (10000 + n), 'registered', 1, CASE WHEN n <= 450 THEN $NOW_MS ELSE 0 END FROM s"
check "200 gateways of beta, all with a contact now" db "$SERIES INSERT INTO gateways (tenant_id, gateway_id, state, created_ms, last_contact_ms) SELECT $BETA, 'GW-T' || (10000 + n), 'registered', 1, $NOW_MS FROM s WHERE n <= 200"
check "550 finished jobs of alpha (520 done, 30 failed)" db "$SERIES INSERT INTO jobs (gateway_id, tenant_id, type, payload, state, max_attempts, timeout_ms, retry_delay_ms, next_ms, created_ms, updated_ms, actor) SELECT 'GW-S' || (10000 + n), $ALPHA, 'ping', '', CASE WHEN n <= 520 THEN 'done' ELSE 'failed' END, 3, 1000, 0, 0, 1, 1, 'test' FROM s WHERE n <= 550"
check "100 done jobs of beta" db "$SERIES INSERT INTO jobs (gateway_id, tenant_id, type, payload, state, max_attempts, timeout_ms, retry_delay_ms, next_ms, created_ms, updated_ms, actor) SELECT 'GW-T' || (10000 + n), $BETA, 'ping', '', 'done', 3, 1000, 0, 0, 1, 1, 'test' FROM s WHERE n <= 100"
check "510 open alarms and 40 notifications of alpha's gateways, 50 alarms of beta's" db "$SERIES INSERT INTO gateway_messages (gateway_id, kind, type, severity, gateway_time, received_ms, message, actions) SELECT CASE WHEN n <= 550 THEN 'GW-S' || (10000 + n) ELSE 'GW-T' || (10000 + n - 550) END, CASE WHEN n > 510 AND n <= 550 THEN 'notification' ELSE 'alarm' END, 'tamper', 'major', '2026-12-01T00:00:00Z', 3, 'bulk', '' FROM s"
check "login gwa for the summary: 200" test "$(login gwa)" = 200
check "GET /v1/summary as alpha: 200" test "$(req gwa GET /v1/summary)" = 200
cat "$T/out" >>"$T/log"
check "... gateways: 602 (GW-A1, GW-A2 and 600), 450 online, 152 offline; beta's not counted" \
	test "$(jq_ "(d['gateways']['total'], d['gateways']['online'], d['gateways']['offline'])")" = "(602, 450, 152)"
check "... the same as the store holds for alpha" test "$(db "SELECT count(*) FROM gateways WHERE tenant_id = $ALPHA")" = 602
A_JOBS=$(db "SELECT count(*) FROM jobs WHERE tenant_id = $ALPHA")
A_DONE=$(db "SELECT count(*) FROM jobs WHERE tenant_id = $ALPHA AND state = 'done'")
check "... jobs: all of alpha's ($A_JOBS, more than a page), none of beta's" test "$(jq_ "d['jobs']['total']")" = "$A_JOBS"
check "... 520 bulk jobs done (and alpha's own earlier ones), 30 failed" test "$(jq_ "(d['jobs']['by_state']['done'], d['jobs']['by_state']['failed'])")" = "($A_DONE, 30)"
check "... alpha's total is over 550 (the earlier fleet orders included)" test "$A_JOBS" -ge 553
check "... open alarms: 510 (the acknowledged one, notifications and beta's not counted)" test "$(jq_ "d['alarms']['open']")" = 510
check "... nothing denied" test "$(jq_ "d['denied']")" = "{}"
check "the list of alpha's gateways stops at its page (why the dashboard counts in the store)" test "$(req gwa GET '/v1/gateways?limit=500')" = 200
check "... 500 and a next cursor" test "$(jq_ "(len(d['gateways']), d['next'] is not None)")" = "(500, True)"
check "login gwb for the summary: 200" test "$(login gwb)" = 200
CSRF_B=$(jq_ "d['csrf']")
check "GET /v1/summary as beta: 200" test "$(req gwb GET /v1/summary)" = 200
check "... beta's own: 201 gateways, 200 online, 100 jobs done, 51 open alarms" \
	test "$(jq_ "(d['gateways']['total'], d['gateways']['online'], d['jobs']['total'], d['jobs']['by_state']['done'], d['alarms']['open'])")" = "(201, 200, 100, 100, 51)"
check "login appr for the summary: 200" test "$(login appr)" = 200
check "GET /v1/summary as the approver (no role of gateway list): 200" test "$(req appr GET /v1/summary)" = 200
check "... gateways null, the reason under denied" test "$(jq_ "(d['gateways'], 'gateways' in d['denied'])")" = "(None, True)"
check "GET /v1/summary with a filter: 400" test "$(req gwa GET '/v1/summary?state=done')" = 400
check "the dashboard reads /v1/summary, not a page of a list" bash -c "grep -q \"tryGet('/v1/summary')\" '$SRC/web/console.js' && ! grep -q \"tryGet('/v1/gateways?limit=500')\" '$SRC/web/console.js'"

# ---- logout and expiry
check "the approver may not list gateways (no role of gateway list): 403" test "$(req appr GET /v1/gateways)" = 403
GWB_COOKIE=$(awk '$6 == "__Host-torwart" { print $7 }' "$T/gwb.jar")
check "gwb's cookie is in its jar" test -n "$GWB_COOKIE"
check "logout without CSRF: 403" test "$(req gwb POST /console/logout '{}')" = 403
check "logout gwb: 200" test "$(req gwb POST /console/logout '{}' "$CSRF_B")" = 200
check "... the cookie is cleared (Max-Age=0)" bash -c "grep -i '^set-cookie:' '$T/hdr' | grep -q 'Max-Age=0'"
check "... a kept copy of the old cookie is refused by the ended session (403)" test "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CON_CA" --cert "$O/gwb/gwb.crt" --key "$O/gwb/gwb.key" -H "Cookie: __Host-torwart=$GWB_COOKIE" "$CON/v1/gateways")" = 403
OLD=$(sed -n 's/^[Ss]et-[Cc]ookie: //p' <<<"$SETC" | cut -d';' -f1)
wait_s=$((LOGIN_T + CONSOLE_TTL + 1 - SECONDS))
[ "$wait_s" -gt 0 ] && sleep "$wait_s"
check "after session_ttl ($CONSOLE_TTL s) the first console session is refused: 401" test "$(curl -s -o "$T/out" -w '%{http_code}' --cacert "$CON_CA" --cert "$O/gwa/gwa.crt" --key "$O/gwa/gwa.key" -H "Cookie: $OLD" "$CON/v1/gateways")" = 401
check "... and says it has expired" grep -q 'expired' "$T/out"

# ---- the console's key through the signer: --force makes a new certificate for the same
# key (keys in the signer are never replaced); an older home's key file still works,
# with the same warning as the api's.
for p in "${pids_to_kill[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
pids_to_kill=()
check "console tls --force: a new certificate" "$TORWART" console tls --home "$H" --host 127.0.0.1 --force
check "... for the signer's same key" bash -c "cmp <(openssl pkey -in '$H/secrets/tls-keys/console-tls.key' -pubout) <(openssl x509 -in '$H/pki/console-tls.crt' -noout -pubkey)"
check "... still no key file in pki/" test ! -e "$H/pki/console-tls.key"
check "an older home's console key file (P-256)" openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	-nodes -keyout "$T/old.key" -out "$T/old.crt" -days 1 -subj /CN=127.0.0.1
cp "$H/torwart.conf" "$T/torwart.conf.signer"
printf 'tls_cert = %s\ntls_key = %s\n' "$T/old.crt" "$T/old.key" >>"$H/torwart.conf"
"$TORWARTD" --home "$H" all >"$T/old.log" 2>&1 &
pids_to_kill+=("$!")
check "... the console listens with it" wait_port 127.0.0.1 "$CON_PORT" 30
check "... and serves the file key's certificate" bash -c "echo | openssl s_client -connect 127.0.0.1:$CON_PORT -tls1_3 -cert '$O/gwa/gwa.crt' -key '$O/gwa/gwa.key' 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | cmp - <(openssl x509 -in '$T/old.crt' -noout -fingerprint -sha256)"
check "... with the api's warning to move it into the signer" grep -q "tls-key-import --home DIR --key $T/old.key --label console-tls" "$T/old.log"
for p in "${pids_to_kill[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
pids_to_kill=()
cp "$T/torwart.conf.signer" "$H/torwart.conf"

# ---- the profile is enforced at start: no brainpool (or RSA) server key on the console
check "a brainpool key for the console" openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:brainpoolP256r1 \
	-nodes -keyout "$T/bp.key" -out "$T/bp.crt" -days 1 -subj /CN=bp
printf 'tls_cert = %s\ntls_key = %s\n' "$T/bp.crt" "$T/bp.key" >>"$H/torwart.conf"
check_fails "the api refuses to start the console with it" timeout 30 "$TORWARTD" --home "$H" api
check "... and names the reason" bash -c "timeout 30 '$TORWARTD' --home '$H' api 2>&1 | grep -q 'browsers need ECDSA on P-256 or P-384'"

#!/usr/bin/env bash
# console_saml.sh: issue 12 (DOMAIN.md S-8), SAML 2.0 login in the web console through
# the HTTP-POST binding (POST /console/saml/acs, api_console.c; docs/console.md "Signing
# in with an identity provider"), with curl as the browser and a test identity provider
# (saml_lib.sh: openssl key, xmlsec1 signs):
#   - a valid Response posted from the identity provider's origin gives the console's
#     cookie (__Host-, Secure, HttpOnly, SameSite=Strict) and 303 to the console; the
#     cookie opens the session and the API like a password login's;
#   - forged, expired, replayed, unsigned, for another Recipient, answering an
#     AuthnRequest (InResponseTo), over another operator's certificate, without or with a
#     wrong context, not a form: refused with their typed codes, no cookie;
#   - the other writes keep their CSRF token and same-origin rule (the consumer's
#     cross-site exception is that one path);
#   - "Sign in with identity provider": /console/saml/start redirects to the configured
#     identity-provider login of the context only, or (SP-initiated) sends an
#     AuthnRequest whose answer alone (InResponseTo, same certificate and context, once)
#     is accepted.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-csaml-XXXXXX)
trap 'finish; exit $?' EXIT
if ! command -v xmlsec1 >/dev/null; then
	echo "SKIP: xmlsec1 not installed (scripts/install-deps)"
	exit 77
fi
SAML_IDP="https://idp.test/alpha"
SAML_SP="https://gwa.test/torwart"
IDP_LOGIN="https://idp.test/alpha/sso/unsolicited?providerId=gwa&target=alpha"
IDP_SSO="https://idp.test/beta/sso?tenant=beta&x=1"
. "$(dirname "$0")/saml_lib.sh"
# The refusals below share one address and mostly one certificate: the throttle's ceiling
# (20 per certificate) keeps them apart from its lock-out.
console_conf_hook() {
	printf 'saml_acs_url = %s/console/saml/acs\n\n[saml]\nentity_id = %s\n' "$CON" "$SAML_SP"
	printf 'idp_login_url.alpha = %s\nidp_sso_url.beta = %s\n\n[auth]\nmax_failures = 20\n' \
		"$IDP_LOGIN" "$IDP_SSO"
}
. "$(dirname "$0")/console_lib.sh"
ACS="$CON/console/saml/acs"

check "test IdP key made" saml_idp_keys
check "idp-set alpha" "$TORWART" context idp-set --home "$H" --tenant alpha --cert "$T/idp.crt" \
	--entity-id "$SAML_IDP"

# post WHO FILE [RELAYSTATE] [CONTENT-TYPE]: the IdP's form post (Origin of the IdP, no
# cookie, no CSRF token) with WHO's client certificate; status on stdout, headers in
# $T/hdr, body in $T/out, WHO's cookie jar $T/WHO.jar.
post() {
	base64 -w 76 "$2" >"$T/post.b64"      # line-wrapped as some IdPs send it
	curl -s --cacert "$CON_CA" --cert "$O/$1/$1.crt" --key "$O/$1/$1.key" \
		-c "$T/$1.jar" -o "$T/out" -D "$T/hdr" -w '%{http_code}' \
		-H "Origin: https://idp.test" -H "Content-Type: ${4:-application/x-www-form-urlencoded}" \
		--data-urlencode "SAMLResponse@$T/post.b64" \
		${3+--data-urlencode "RelayState=$3"} "$ACS"
}
no_cookie() { ! grep -i '^set-cookie:' "$T/hdr" | grep -q 'torwart=tw1_'; }
# refused WHAT CODE WHO FILE [RELAYSTATE]
refused() {
	local code
	code=$(post "$3" "$4" "${5-alpha}")
	if [ "$code" = 403 ] && grep -q "$2" "$T/out" && no_cookie; then
		ok "$1: 403 $2, no cookie"
	else
		bad "$1: expected 403 with $2 and no cookie, got $code: $(head -c 300 "$T/out")"
	fi
}
c() {
	local who=$1; shift
	curl -s --cacert "$CON_CA" --cert "$O/$who/$who.crt" --key "$O/$who/$who.key" \
		-b "$T/$who.jar" -c "$T/$who.jar" "$@"
}
oks() { db "SELECT count(*) FROM admin_log WHERE action='auth.login' AND result='ok' AND actor='saml:$SAML_IDP:$1'"; }

check "a Response for gwa signed by the IdP (xmlsec1)" saml_response "$T/ok.xml" _ok1 gwa "$ACS"
check "... xmlsec1 itself verifies it" xmlsec1 --verify --pubkey-cert-pem "$T/idp.crt" \
	--id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion "$T/ok.xml"
code=$(post gwa "$T/ok.xml" alpha)
check "valid: 303 to the console ($code)" bash -c "[ '$code' = 303 ] && grep -qi '^location: /' '$T/hdr'"
check "... the console's cookie: __Host-, Secure, HttpOnly, SameSite=Strict, Path=/, Max-Age" bash -c \
	"grep -i '^set-cookie: __Host-torwart=tw1_' '$T/hdr' | grep -i 'secure' | grep -i 'httponly' | grep -i 'samesite=strict' | grep -i 'path=/' | grep -qi 'max-age='"
check "... the security headers on the consumer's answer too" bash -c "grep -qi '^content-security-policy:' '$T/hdr' && grep -qi '^x-frame-options: DENY' '$T/hdr'"
check "... one accepted SAML login of gwa in the admin log" test "$(oks gwa)" = 1
code=$(c gwa -o "$T/out" -w '%{http_code}' "$CON/console/session")
check "the cookie opens the console session as gwa, tenant alpha ($code)" bash -c \
	"[ '$code' = 200 ] && grep -q '\"operator\":\"gwa\"' '$T/out' && grep -q '\"tenant\":\"alpha\"' '$T/out'"
CSRF=$(/usr/bin/python3 -c "import json; print(json.load(open('$T/out'))['csrf'])")
check "... and reads the API (GET /v1/gateways: alpha's)" bash -c \
	"[ \"\$(curl -s --cacert '$CON_CA' --cert '$O/gwa/gwa.crt' --key '$O/gwa/gwa.key' -b '$T/gwa.jar' -o '$T/gw.out' -w '%{http_code}' '$CON/v1/gateways')\" = 200 ] && grep -q GW-A1 '$T/gw.out' && ! grep -q GW-B1 '$T/gw.out'"
# The consumer's exception is its own path: other writes keep CSRF and same origin.
code=$(c gwa -o "$T/out" -w '%{http_code}' -X POST "$CON/console/logout")
check "a write without the CSRF token is still refused after a SAML login ($code)" test "$code" = 403
code=$(c gwa -o "$T/out" -w '%{http_code}' -X POST -H "X-CSRF-Token: $CSRF" -H "Origin: https://idp.test" "$CON/console/logout")
check "... and one from the identity provider's origin with the right token ($code)" test "$code" = 403
code=$(c gwa -o "$T/out" -w '%{http_code}' -H 'Content-Type: application/json' -H "Origin: https://idp.test" \
	--data-binary "{\"password\":\"$(cat "$O/gwa.pw")\"}" "$CON/console/login")
check "... and a password login from another origin ($code)" test "$code" = 403

n0=$(db "SELECT count(*) FROM admin_log WHERE action='auth.login' AND result='refused' AND actor LIKE 'saml:%'")
refused "the same Response again" saml_replayed gwa "$T/ok.xml"
saml_response "$T/forged.xml" _forged gwa "$ACS"
sed -i 's|>gwa</saml:NameID>|>appr</saml:NameID>|' "$T/forged.xml"
refused "NameID changed after signing (forged)" saml_signature appr "$T/forged.xml"
saml_response "$T/expired.xml" _expired gwa "$ACS" "$(saml_ts '-10 min')"
refused "expired (NotOnOrAfter 10 min ago, skew 60 s)" saml_expired gwa "$T/expired.xml"
saml_response "$T/unsigned.xml" _unsigned gwa "$ACS" "" "" nosig
refused "unsigned" saml_unsigned gwa "$T/unsigned.xml"
saml_response "$T/api.xml" _api gwa "https://127.0.0.1:$TLS_PORT/v1/login/saml"
refused "meant for another endpoint (Recipient: the API's login)" saml_recipient gwa "$T/api.xml"
saml_response "$T/irt.xml" _irt gwa "$ACS" "" "_req-of-another-sp"
refused "an answer to an AuthnRequest (InResponseTo) Torwart never sent" saml_in_response_to gwa "$T/irt.xml"
saml_response "$T/cert.xml" _cert gwa "$ACS"
refused "gwa's assertion over appr's client certificate" saml_certificate appr "$T/cert.xml"
refused "RelayState names a context without identity provider (beta)" saml_idp gwa "$T/cert.xml" beta
check "every refusal is in the admin log" test \
	"$(db "SELECT count(*) FROM admin_log WHERE action='auth.login' AND result='refused' AND actor LIKE 'saml:%'")" = "$((n0 + 8))"
for code in saml_replayed saml_signature saml_expired saml_unsigned saml_recipient \
	saml_in_response_to saml_certificate saml_idp; do
	check "... the refusal's detail names $code" test \
		"$(db "SELECT count(*) FROM admin_log WHERE action='auth.login' AND result='refused' AND detail LIKE 'saml login refused: $code%'")" = 1
done
code=$(post gwa "$T/cert.xml")
check "no RelayState: 400, no cookie ($code)" bash -c "[ '$code' = 400 ] && ! grep -i '^set-cookie:' '$T/hdr' | grep -q tw1_"
code=$(curl -s --cacert "$CON_CA" --cert "$O/gwa/gwa.crt" --key "$O/gwa/gwa.key" -o "$T/out" \
	-w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' \
	--data-binary 'RelayState=alpha' "$ACS")
check "no SAMLResponse: 400 ($code)" test "$code" = 400
code=$(post gwa "$T/cert.xml" 'al pha')
check "a RelayState that is no context name: 400 ($code)" test "$code" = 400
code=$(post gwa "$T/cert.xml" alpha application/json)
check "not a form post: 400 ($code)" test "$code" = 400
code=$(curl -s --cacert "$CON_CA" --cert "$O/gwa/gwa.crt" --key "$O/gwa/gwa.key" -o "$T/out" -D "$T/hdr" \
	-w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' \
	--data-binary 'RelayState=alpha&SAMLResponse=PD94&RelayState=beta' "$ACS")
check "RelayState given twice: 400 ($code)" test "$code" = 400
code=$(curl -s --cacert "$CON_CA" --cert "$O/gwa/gwa.crt" --key "$O/gwa/gwa.key" -o "$T/out" \
	-w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' \
	--data-binary "RelayState=alpha&SAMLResponse=$(head -c 30000 /dev/zero | base64 -w0)" "$ACS")
# evhttp answers 413 and closes; curl, still sending, may see only the close (000).
check "an oversized post is refused ($code)" bash -c "[ '$code' = 000 ] || { [ '$code' -ge 400 ] && [ '$code' -lt 500 ]; }"
check "... and the console still answers" test "$(c gwa -o /dev/null -w '%{http_code}' "$CON/")" = 200
check "no SAML session was opened by any of them" test "$(db "SELECT count(*) FROM admin_log WHERE action='auth.login' AND result='ok' AND actor LIKE 'saml:%'")" = 1
check_fails "no client certificate: no consumer" bash -c "curl -sf --cacert '$CON_CA' -H 'Content-Type: application/x-www-form-urlencoded' --data-binary 'RelayState=alpha' '$ACS' >/dev/null"

# The untouched assertion of the certificate test still logs gwa in (it was never used).
code=$(post gwa "$T/cert.xml" alpha)
check "gwa's own unused assertion then logs gwa in ($code)" test "$code" = 303
check "... two accepted SAML logins of gwa" test "$(oks gwa)" = 2

# ---- "Sign in with identity provider"
code=$(c gwa -o "$T/out" -D "$T/hdr" -w '%{http_code}' "$CON/console/saml/start?context=alpha")
check "start: 303 to alpha's identity-provider login ($code)" bash -c \
	"[ '$code' = 303 ] && grep -qiF 'location: $IDP_LOGIN' '$T/hdr'"
check "start: a context without one: 404" test "$(c gwa -o /dev/null -w '%{http_code}' "$CON/console/saml/start?context=gamma")" = 404
check "start: no context: 400" test "$(c gwa -o /dev/null -w '%{http_code}' "$CON/console/saml/start")" = 400
check "start: a context name with a URL in it: 400" test \
	"$(c gwa -o /dev/null -w '%{http_code}' "$CON/console/saml/start?context=https%3A%2F%2Fevil.example")" = 400
check "the login page offers the identity provider" grep -q 'id="saml-form"' "$SRC/web/index.html"

# ---- SP-initiated: context beta's identity provider takes an AuthnRequest
SAML_IDP="https://idp.test/beta"
check "idp-set beta" "$TORWART" context idp-set --home "$H" --tenant beta --cert "$T/idp.crt" \
	--entity-id "$SAML_IDP"
# start WHO: GET /console/saml/start?context=beta; prints the AuthnRequest's ID (decoded
# from the redirect: URL-decoded, base64, raw DEFLATE) after checking its fields.
start() {
	local code
	code=$(c "$1" -o /dev/null -D "$T/hdr" -w '%{http_code}' "$CON/console/saml/start?context=beta")
	[ "$code" = 303 ] || return 1
	/usr/bin/python3 - "$T/hdr" "$IDP_SSO" "$ACS" "$SAML_SP" <<'PY'
import base64, re, sys, urllib.parse, zlib
import xml.etree.ElementTree as ET
hdr, sso, acs, sp = sys.argv[1:5]
loc = re.search(r'(?im)^location: (\S+)', open(hdr).read()).group(1)
assert loc.startswith(sso + "&SAMLRequest="), loc
q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
assert q["RelayState"] == ["beta"], q
xml = zlib.decompress(base64.b64decode(q["SAMLRequest"][0]), -15)
r = ET.fromstring(xml)
assert r.tag == "{urn:oasis:names:tc:SAML:2.0:protocol}AuthnRequest", r.tag
assert r.get("AssertionConsumerServiceURL") == acs and r.get("Destination") == sso, xml
assert r.get("ProtocolBinding") == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", xml
assert r.find("{urn:oasis:names:tc:SAML:2.0:assertion}Issuer").text == sp, xml
assert re.fullmatch(r"_[0-9a-f]{32}", r.get("ID")), r.get("ID")
print(r.get("ID"))
PY
}
REQ1=$(start gwb)
check "start beta: 303 to its SSO URL with an AuthnRequest (HTTP-Redirect: DEFLATE, base64; ACS, Destination, Issuer, HTTP-POST binding)" test -n "$REQ1"
saml_response "$T/sp1.xml" _sp1 gwb "$ACS" "" "$REQ1"
check "the answer to it (InResponseTo) logs gwb in (303)" test "$(post gwb "$T/sp1.xml" beta)" = 303
check "... as gwb, tenant beta" bash -c "[ \"\$(curl -s --cacert '$CON_CA' --cert '$O/gwb/gwb.crt' --key '$O/gwb/gwb.key' -b '$T/gwb.jar' '$CON/console/session' | grep -o '\"tenant\":\"beta\"')\" = '\"tenant\":\"beta\"' ]"
saml_response "$T/sp1b.xml" _sp1b gwb "$ACS" "" "$REQ1"
refused "a second answer to the same request (new assertion ID)" saml_in_response_to gwb "$T/sp1b.xml" beta
REQ2=$(start gwb)
check "a second request of gwb" test -n "$REQ2" -a "$REQ2" != "$REQ1"
SAML_IDP="https://idp.test/alpha"
saml_response "$T/sp2-gwa.xml" _sp2gwa gwa "$ACS" "" "$REQ2"
refused "gwb's request answered for gwa in alpha (another certificate and context)" saml_in_response_to gwa "$T/sp2-gwa.xml" alpha
SAML_IDP="https://idp.test/beta"
saml_response "$T/sp2.xml" _sp2 gwb "$ACS" "" "$REQ2"
refused "... which used the request up: gwb's own answer now refused" saml_in_response_to gwb "$T/sp2.xml" beta
check "the admin log verifies after the SP-initiated logins" "$TORWART" audit verify --home "$H"
check "the admin log verifies" "$TORWART" audit verify --home "$H"

# ---- [console] saml_unsolicited = false: only answers to the console's own requests
pid=${pids_to_kill[${#pids_to_kill[@]}-1]}    # torwartd of console_lib.sh
kill -TERM "$pid" 2>/dev/null
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
check "torwartd stopped for the new configuration" bash -c "! kill -0 $pid 2>/dev/null"
printf '\n[console]\nsaml_unsolicited = false\n' >>"$H/torwart.conf"
"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "console listens again" wait_port 127.0.0.1 "$CON_PORT" 30
SAML_IDP="https://idp.test/alpha"
saml_response "$T/unsol.xml" _unsol gwa "$ACS"
refused "an unsolicited assertion with saml_unsolicited = false" saml_in_response_to gwa "$T/unsol.xml" alpha
SAML_IDP="https://idp.test/beta"
REQ3=$(start gwb)
saml_response "$T/sp3.xml" _sp3 gwb "$ACS" "" "$REQ3"
check "... while the answer to the console's own request logs in (303)" test "$(post gwb "$T/sp3.xml" beta)" = 303
# One certificate holds at most 8 open requests: a ninth start replaces its own oldest.
REQ_FIRST=$(start gwb)
for i in 2 3 4 5 6 7 8; do start gwb >/dev/null; done
REQ_NINTH=$(start gwb)
check "nine starts of gwb made nine requests" test -n "$REQ_FIRST" -a -n "$REQ_NINTH"
saml_response "$T/sp-first.xml" _spfirst gwb "$ACS" "" "$REQ_FIRST"
refused "the first of nine open requests of one certificate was replaced" saml_in_response_to gwb "$T/sp-first.xml" beta
saml_response "$T/sp-ninth.xml" _spninth gwb "$ACS" "" "$REQ_NINTH"
check "... the ninth is answered (303)" test "$(post gwb "$T/sp-ninth.xml" beta)" = 303

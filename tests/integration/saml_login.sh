#!/usr/bin/env bash
# saml_login.sh: issue 12 (DOMAIN.md S-8), SAML 2.0 login to the certificate-management
# context (src/auth/saml.c, saml_login.c; docs/security.md "SAML login"). A test identity
# provider (a key and a self-signed certificate made here with openssl) signs assertions
# with the xmlsec1 command-line tool, so the signer is not Torwart's code:
#   - idp-set for context alpha; bad certificates and usage errors refused;
#   - a valid assertion (a Response holding one, a Response signed around a signed one)
#     logs alice in over her client certificate; the session lists alpha's certificates
#     and not beta's;
#   - refused with their typed codes: replayed, forged (NameID changed after signing),
#     expired, not yet valid, unsigned, wrong issuer, wrong audience, another key, two
#     signature-wrapping shapes, entity expansion and XXE, a comment in NameID, SHA-1, HMAC,
#     a NameID of another context, another operator's client certificate, a context
#     without an identity provider (also after idp-remove), an answer to an AuthnRequest
#     (InResponseTo: Torwart sends none);
#   - every accepted and refused login is in the admin log (actor saml:<idp>:<NameID>).
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-saml-XXXXXX)
H="$T/home"
O="$T/ops"
trap 'finish; exit $?' EXIT

if ! command -v xmlsec1 >/dev/null; then
	echo "SKIP: xmlsec1 not installed (scripts/install-deps)"
	exit 77
fi

WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)
API="https://127.0.0.1:$TLS_PORT"
IDP="https://idp.test/alpha"
SP="https://gwa.test/torwart"
q() { sqlite3 "$H/store.db" "$1"; }

check "init" "$TORWART" init --home "$H" --test-pki --wan-listen "127.0.0.1:$WAN_PORT" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"
mkdir -p "$T/gw"
bootstrap_gateways "$H" "$T/gw" GW-A:alpha GW-B:beta
bootstrap_operators "$H" "$O" alice:alpha:gateway-operator carol:alpha:auditor bob:beta:gateway-operator

# ---- the test identity provider: RSA key + self-signed certificate
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/idp.key" -out "$T/idp.crt" -days 2 \
	-subj "/CN=Test IdP" 2>>"$T/log"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/evil.key" -out "$T/evil.crt" -days 2 \
	-subj "/CN=Test IdP" 2>>"$T/log"
check "test IdP keys made" test -s "$T/idp.crt" -a -s "$T/evil.crt"

check_fails "idp-set with no certificate file content is refused" "$TORWART" context idp-set \
	--home "$H" --tenant alpha --cert /dev/null --entity-id "$IDP"
printf 'not a cert\n' >"$T/junk.pem"
check_fails "idp-set of bytes that are no certificate is refused" "$TORWART" context idp-set \
	--home "$H" --tenant alpha --cert "$T/junk.pem" --entity-id "$IDP"
check_fails "idp-set for an unknown context is refused" "$TORWART" context idp-set \
	--home "$H" --tenant nope --cert "$T/idp.crt" --entity-id "$IDP"
"$TORWART" context idp-set --home "$H" --tenant alpha --cert "$T/idp.crt" >"$T/out" 2>&1
check "idp-set without --entity-id: usage error (exit 2)" test $? = 2
"$TORWART" context idp-set --home "$H" --tenant alpha --tenant alpha --cert "$T/idp.crt" \
	--entity-id "$IDP" >"$T/out" 2>&1
check "idp-set with a repeated option: usage error (exit 2)" test $? = 2
check "nothing configured by them" test "$(q "SELECT count(*) FROM saml_idps")" = 0
check "idp-set alpha" "$TORWART" context idp-set --home "$H" --tenant alpha --cert "$T/idp.crt" \
	--entity-id "$IDP"
check "idp-show alpha names it" bash -c "'$TORWART' context idp-show --home '$H' --tenant alpha | grep -qF '$IDP'"
check "... in alpha's context log" bash -c "'$TORWART' context log --home '$H' --tenant alpha | grep -q context.idp-set"

# The refusals below come from one address and mostly one certificate: the failed-login
# throttle's ceiling (20 per certificate) keeps them apart from its own lock-out.
printf '\n[saml]\nentity_id = %s\nskew_s = 60\n\n[auth]\nmax_failures = 20\n' "$SP" >>"$H/torwart.conf"
"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "operator API listens" wait_port 127.0.0.1 "$TLS_PORT" 20

# ---- assertions
ts() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
# tmpl FILE ID NAMEID ISSUER AUDIENCE NOTBEFORE NOTONORAFTER [SIGALG] [DIGALG] [nosig]
tmpl() {
	local sig
	sig="<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>
<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>
<ds:SignatureMethod Algorithm=\"${8:-http://www.w3.org/2001/04/xmldsig-more#rsa-sha256}\"/>
<ds:Reference URI=\"#$2\"><ds:Transforms>
<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>
<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>
<ds:DigestMethod Algorithm=\"${9:-http://www.w3.org/2001/04/xmlenc#sha256}\"/>
<ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/>
<ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>"
	[ "${10:-}" = nosig ] && sig=""
	cat >"$1" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="$2" Version="2.0" IssueInstant="$(ts now)">
<saml:Issuer>$4</saml:Issuer>
$sig
<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">$3</saml:NameID>
<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
<saml:SubjectConfirmationData NotOnOrAfter="$7" Recipient="$API/v1/login/saml"/>
</saml:SubjectConfirmation></saml:Subject>
<saml:Conditions NotBefore="$6" NotOnOrAfter="$7">
<saml:AudienceRestriction><saml:Audience>$5</saml:Audience></saml:AudienceRestriction>
</saml:Conditions>
<saml:AuthnStatement AuthnInstant="$(ts now)"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:X509</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>
</saml:Assertion>
EOF
}
# sign IN OUT [KEY CERT]: xmlsec1 signs the Assertion (or Response) by its ID attribute
sign() {
	xmlsec1 --sign --privkey-pem "${3:-$T/idp.key},${4:-$T/idp.crt}" \
		--id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion \
		--id-attr:ID urn:oasis:names:tc:SAML:2.0:protocol:Response \
		--output "$2" "$1" 2>>"$T/log"
}
# assertion OUT ID [NAMEID] [ISSUER] [AUDIENCE] [NOTBEFORE] [NOTONORAFTER]: a signed one
assertion() {
	tmpl "$T/tmpl.xml" "$2" "${3:-alice}" "${4:-$IDP}" "${5:-$SP}" "${6:-$(ts '-1 min')}" \
		"${7:-$(ts '+5 min')}" && sign "$T/tmpl.xml" "$1"
}
# login AS FILE [TENANT] [TOKEN-FILE]: torwart login with the assertion over AS's certificate
login() {
	"$TORWART" login --api "$API" --cert "$O/$1/$1.crt" --key "$O/$1/$1.key" \
		--saml-file "$2" --tenant "${3:-alpha}" --token-file "${4:-$T/$1.session}" >"$T/out" 2>&1
}
# refused WHAT CODE AS FILE [TENANT]: the login fails and names the typed code
refused() {
	login "$3" "$4" "${5:-alpha}" "$T/never.session"
	local rc=$?
	if [ "$rc" != 0 ] && grep -q "$2" "$T/out" && [ ! -e "$T/never.session" ]; then
		ok "$1: refused ($2)"
	else
		bad "$1: expected a refusal with $2 (exit $rc): $(tail -1 "$T/out")"
	fi
}
refusals() { q "SELECT count(*) FROM admin_log WHERE action='auth.login' AND actor LIKE 'saml:%' AND result='refused'"; }

check "xmlsec1 signs a valid assertion" assertion "$T/ok.xml" _ok1
check "... and xmlsec1 itself verifies it" xmlsec1 --verify --pubkey-cert-pem "$T/idp.crt" \
	--id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion "$T/ok.xml"
check "login alice with the assertion" login alice "$T/ok.xml"
check "... as alice, tenant alpha, her roles" grep -q "logged in as alice (tenant alpha, roles gateway-operator)" "$T/out"
check "... an accepted login in the admin log as saml:$IDP:alice" test \
	"$(q "SELECT count(*) FROM admin_log WHERE action='auth.login' AND result='ok' AND actor='saml:$IDP:alice'")" = 1
"$TORWART" context list --token-file "$T/alice.session" >"$T/out" 2>&1
check "the SAML session lists alpha's certificates" grep -q "^3 certificates in context alpha" "$T/out"
check "... with GW-A's" grep -q " GW-A " "$T/out"
"$TORWART" context list --tenant beta --token-file "$T/alice.session" >"$T/out" 2>&1
check "... and cannot see beta's" bash -c "! grep -q 'certificates in context beta' '$T/out' && ! grep -q GW-B '$T/out'"
check "the assertion id is in the replay cache until it expires" test \
	"$(q "SELECT count(*) FROM saml_replay WHERE assertion_id='_ok1' AND entity_id='$IDP'")" = 1

n0=$(refusals)
refused "the same assertion again" saml_replayed alice "$T/ok.xml"

assertion "$T/forged.xml" _forged alice
sed -i 's|>alice</saml:NameID>|>carol</saml:NameID>|' "$T/forged.xml"
refused "NameID changed after signing" saml_signature carol "$T/forged.xml"

assertion "$T/expired.xml" _expired alice "$IDP" "$SP" "$(ts '-20 min')" "$(ts '-10 min')"
refused "expired (NotOnOrAfter 10 min ago, skew 60 s)" saml_expired alice "$T/expired.xml"

assertion "$T/early.xml" _early alice "$IDP" "$SP" "$(ts '+10 min')" "$(ts '+20 min')"
refused "not yet valid (NotBefore in 10 min)" saml_not_yet_valid alice "$T/early.xml"

tmpl "$T/unsigned.xml" _unsigned alice "$IDP" "$SP" "$(ts '-1 min')" "$(ts '+5 min')" "" "" nosig
refused "unsigned" saml_unsigned alice "$T/unsigned.xml"

assertion "$T/issuer.xml" _issuer alice "https://idp.evil/alpha"
refused "another issuer (signed by the right key)" saml_issuer alice "$T/issuer.xml"

assertion "$T/audience.xml" _aud alice "$IDP" "https://other-sp.test/"
refused "another audience" saml_audience alice "$T/audience.xml"

tmpl "$T/tmpl.xml" _evilkey alice "$IDP" "$SP" "$(ts '-1 min')" "$(ts '+5 min')"
sign "$T/tmpl.xml" "$T/evilkey.xml" "$T/evil.key" "$T/evil.crt"
refused "signed by another key with the same subject" saml_signature alice "$T/evilkey.xml"

tmpl "$T/tmpl.xml" _sha1 alice "$IDP" "$SP" "$(ts '-1 min')" "$(ts '+5 min')" \
	"http://www.w3.org/2000/09/xmldsig#rsa-sha1" "http://www.w3.org/2000/09/xmldsig#sha1"
sign "$T/tmpl.xml" "$T/sha1.xml"
check "xmlsec1 signs with SHA-1" grep -q 'rsa-sha1' "$T/sha1.xml"
refused "RSA-SHA1 signature" saml_signature alice "$T/sha1.xml"

# HMAC with the IdP's public certificate as the shared key (the key-confusion attack).
tmpl "$T/tmpl.xml" _hmac alice "$IDP" "$SP" "$(ts '-1 min')" "$(ts '+5 min')" \
	"http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
xmlsec1 --sign --hmackey "$T/idp.crt" --id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion \
	--output "$T/hmac.xml" "$T/tmpl.xml" 2>>"$T/log"
check "xmlsec1 signs with HMAC-SHA256" grep -q 'hmac-sha256' "$T/hmac.xml"
refused "HMAC keyed with the IdP certificate" saml_signature alice "$T/hmac.xml"

# Signature wrapping: carol's signed assertion (kept intact) in the Response's
# Extensions, an unsigned one for alice as the Response's assertion.
assertion "$T/carol.xml" _carol carol
/usr/bin/python3 - "$T/carol.xml" "$T/wrapped.xml" "$IDP" "$SP" "$(ts '-1 min')" "$(ts '+5 min')" <<'PY' 2>>"$T/log"
import sys
signed = open(sys.argv[1]).read().split("?>", 1)[1]
idp, sp, nb, na = sys.argv[3:7]
evil = f'''<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_evil" Version="2.0" IssueInstant="{nb}">
<saml:Issuer>{idp}</saml:Issuer><saml:Subject><saml:NameID>alice</saml:NameID>
<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{na}"/></saml:SubjectConfirmation></saml:Subject>
<saml:Conditions NotBefore="{nb}" NotOnOrAfter="{na}"><saml:AudienceRestriction><saml:Audience>{sp}</saml:Audience></saml:AudienceRestriction></saml:Conditions></saml:Assertion>'''
open(sys.argv[2], "w").write(f'''<?xml version="1.0"?>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_resp" Version="2.0" IssueInstant="{nb}">
<samlp:Extensions>{signed}</samlp:Extensions>
<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
{evil}</samlp:Response>''')
PY
refused "signature wrapping (signed assertion hidden, a forged one read)" saml_wrapping alice "$T/wrapped.xml"
# The second classic shape: the forged assertion carries the signature of the original
# (Reference to the original's ID), the original sits in the signature's ds:Object.
/usr/bin/python3 - "$T/carol.xml" "$T/wrapped2.xml" <<'PY' 2>>"$T/log"
import re, sys
doc = open(sys.argv[1]).read().split("?>", 1)[1]
sig = re.search(r'<ds:Signature.*</ds:Signature>', doc, re.S).group(0)
orig = doc.replace(sig, "")
forged = doc.replace(sig, "").replace('ID="_carol"', 'ID="_forged2"').replace(">carol<", ">alice<")
sig2 = sig.replace("</ds:Signature>", "<ds:Object>" + orig + "</ds:Object></ds:Signature>")
forged = forged.replace("<saml:Subject>", sig2 + "<saml:Subject>", 1)
open(sys.argv[2], "w").write('<?xml version="1.0"?>\n' + forged)
PY
refused "signature wrapping (the original inside the forged one's signature)" saml_wrapping alice "$T/wrapped2.xml"

# A Response with a signed assertion of its own is accepted (new ID).
assertion "$T/inner.xml" _inner alice
/usr/bin/python3 - "$T/inner.xml" "$T/response.xml" "$(ts now)" <<'PY' 2>>"$T/log"
import sys
signed = open(sys.argv[1]).read().split("?>", 1)[1]
open(sys.argv[2], "w").write(f'''<?xml version="1.0"?>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_resp2" Version="2.0" IssueInstant="{sys.argv[3]}">
<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
{signed}</samlp:Response>''')
PY
check "a Response holding a signed assertion logs alice in" login alice "$T/response.xml"
# Identity providers that sign both: the Response's signature around the signed assertion.
assertion "$T/inner2.xml" _inner2 alice
/usr/bin/python3 - "$T/inner2.xml" "$T/both.tmpl" "$(ts now)" <<'PY' 2>>"$T/log"
import sys
signed = open(sys.argv[1]).read().split("?>", 1)[1]
sig = """<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#_resp3"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature>"""
open(sys.argv[2], "w").write(f'''<?xml version="1.0"?>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_resp3" Version="2.0" IssueInstant="{sys.argv[3]}">{sig}
<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
{signed}</samlp:Response>''')
PY
sign "$T/both.tmpl" "$T/both.xml"
check "a Response signed around a signed assertion (two signatures) logs alice in" login alice "$T/both.xml"

# Entity expansion and XXE: a DTD is refused before the parser resolves anything.
assertion "$T/base.xml" _lol alice
{ printf '<?xml version="1.0"?>\n<!DOCTYPE saml:Assertion [\n<!ENTITY lol "lol">\n'
  printf '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
  printf '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n]>\n'
  sed '1d; s|>alice</saml:NameID>|>\&lol3;</saml:NameID>|' "$T/base.xml"; } >"$T/lol.xml"
refused "entity expansion" saml_entity alice "$T/lol.xml"
{ printf '<?xml version="1.0"?>\n<!DOCTYPE x [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n'
  sed '1d; s|>alice</saml:NameID>|>\&xxe;</saml:NameID>|' "$T/base.xml"; } >"$T/xxe.xml"
refused "external entity (XXE)" saml_entity alice "$T/xxe.xml"

# Comment truncation: the IdP signed "alice.evil"; a comment splits it into "alice" +
# ".evil" without breaking the exclusive-c14n signature.
assertion "$T/cmt.xml" _cmt "alice.evil"
sed -i 's|>alice.evil</saml:NameID>|>alice<!---->.evil</saml:NameID>|' "$T/cmt.xml"
refused "a comment inside NameID" saml_subject alice "$T/cmt.xml"

# An answer to an AuthnRequest: Torwart sends none, so it belongs to someone else's login.
tmpl "$T/tmpl.xml" _irt alice "$IDP" "$SP" "$(ts '-1 min')" "$(ts '+5 min')"
sed -i 's|<saml:SubjectConfirmationData |<saml:SubjectConfirmationData InResponseTo="_req-elsewhere" |' "$T/tmpl.xml"
sign "$T/tmpl.xml" "$T/irt.xml"
check "xmlsec1 signs an assertion with InResponseTo" grep -q 'InResponseTo="_req-elsewhere"' "$T/irt.xml"
refused "an answer to an AuthnRequest (InResponseTo)" saml_in_response_to alice "$T/irt.xml"

assertion "$T/bob.xml" _bob bob
refused "a NameID of another context's operator" saml_operator bob "$T/bob.xml"
assertion "$T/other-cert.xml" _othercert alice
refused "alice's assertion over carol's client certificate" saml_certificate carol "$T/other-cert.xml"
assertion "$T/beta.xml" _beta bob
refused "a context without an identity provider (beta)" saml_idp bob "$T/beta.xml" beta
check "... the refused assertions opened no session" test ! -e "$T/never.session"
check "every refusal is in the admin log as saml:... refused" test "$(refusals)" = "$((n0 + 19))"
check "... forged ones not under their unverified NameID" test \
	"$(q "SELECT count(*) FROM admin_log WHERE action='auth.login' AND actor='saml:$IDP:carol'")" = 0
check "... the typed codes are in the details" test \
	"$(q "SELECT count(*) FROM admin_log WHERE action='auth.login' AND detail LIKE '%saml_wrapping%'")" = 2

# The carol assertion that was only a wrapping victim is still fresh: it logs carol in
# (auditor, read only) - it was never used.
check "carol's own untouched assertion logs her in" login carol "$T/carol.xml"
"$TORWART" context delete --id 1 --token-file "$T/carol.session" >"$T/out" 2>&1
check "... as an auditor she cannot delete" test $? != 0

check "idp-remove alpha" "$TORWART" context idp-remove --home "$H" --tenant alpha
assertion "$T/after.xml" _after alice
refused "after idp-remove" saml_idp alice "$T/after.xml"
# ---- hostile bodies straight at the route (curl, not the CLI's own checks)
CURLS=(curl -s --curves brainpoolP256r1 --tlsv1.2 --tls-max 1.2 --cacert "$H/pki/operator-ca.crt"
	--cert "$O/alice/alice.crt" --key "$O/alice/alice.key" -o "$T/raw.out" -w '%{http_code}'
	-H 'Content-Type: application/json')
sessions() { q "SELECT count(*) FROM auth_sessions"; }
before_s=$(sessions)
check "the session count is readable ($before_s, alice's and carol's logins)" test "${before_s:-0}" -ge 1
head -c 200000 /dev/zero | base64 -w0 >"$T/big.b64"
printf '{"tenant":"alpha","assertion":"%s"}' "$(cat "$T/big.b64")" >"$T/big.json"
# Expect: 100-continue: the api answers 413 on the headers, before curl sends the body;
# without it curl may still be uploading when the connection closes and report 000.
code=$("${CURLS[@]}" -H 'Expect: 100-continue' --data-binary @"$T/big.json" "$API/v1/login/saml")
check "an oversized assertion is refused ($code), no session" bash -c "[ '$code' -ge 400 ] && [ '$code' -lt 500 ] && [ '$(sessions)' = '$before_s' ]"
code=$("${CURLS[@]}" --data-binary "{\"tenant\":\"al\u0007pha\",\"assertion\":\"$(base64 -w0 "$T/ok.xml")\"}" "$API/v1/login/saml")
check "a control character in the tenant is refused ($code), no session" bash -c "[ '$code' -ge 400 ] && [ '$code' -lt 500 ] && [ '$(sessions)' = '$before_s' ]"
code=$("${CURLS[@]}" --data-binary "{\"tenant\":\"beta\",\"tenant\":\"alpha\",\"assertion\":\"x\"}" "$API/v1/login/saml")
check "a repeated field is refused ($code), no session" bash -c "[ '$code' -ge 400 ] && [ '$code' -lt 500 ] && [ '$(sessions)' = '$before_s' ]"
code=$("${CURLS[@]}" --data-binary '{"tenant":"alpha","assertion":"!!!not base64!!!"}' "$API/v1/login/saml")
check "an assertion that is not base64 is refused ($code), no session" bash -c "[ '$code' -ge 400 ] && [ '$code' -lt 500 ] && [ '$(sessions)' = '$before_s' ]"

check "the admin log verifies" "$TORWART" audit verify --home "$H"

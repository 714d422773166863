#!/usr/bin/env bash
# console_browser.sh: issue 15 section 2, the web console in a real browser. Starts the
# stack (console_lib.sh), gives each of two operators (gwa: gateway operator, appr:
# approver; both with P-256 keys) a HOME with an NSS database holding its PKCS#12
# (`torwart operator p12`) and the console CA, and runs tests/browser/console_test.py:
# headless Chromium through Selenium logs in, orders a fleet, approves it as the second
# operator, watches the progress, finds an alarm; labels and keyboard navigation checked;
# screenshots in the meson log directory (console-browser/). Then
# tests/browser/console_saml_test.py: "Sign in with identity provider" through a test
# identity provider's HTTPS page on another site that posts a signed assertion to the
# console's assertion consumer (SAML HTTP-POST binding); the dashboard loads, the same
# assertion posted again is refused.
#
# Client certificates without a dialog: Chromium reads the AutoSelectCertificateForUrls
# policy only from /etc/chromium/policies/managed/ (no command-line switch does this in
# the Debian build), so this test writes a uniquely named policy file there for the
# console's URL and removes it at the end. Not root (cannot write there), or chromium,
# chromedriver, selenium or pk12util missing: skipped (exit 77) with the reason.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-conb-XXXXXX)
POLICY_DIR=/etc/chromium/policies/managed
POLICY=
POLICY_MADE=    # the policy directories this test created (removed again when empty)
cleanup() {
	[ -n "$POLICY" ] && rm -f "$POLICY"
	[ -n "$POLICY_MADE" ] && rmdir -p --ignore-fail-on-non-empty "$POLICY_DIR" 2>/dev/null
	finish
}
trap 'cleanup; exit $?' EXIT

skip() { echo "SKIP: $*"; rm -rf "$T"; trap - EXIT; exit 77; }
[ -x /usr/bin/chromium ] || skip "chromium is not installed (apt-get install chromium)"
[ -x /usr/bin/chromedriver ] || skip "chromedriver is not installed (apt-get install chromium-driver)"
/usr/bin/python3 -c 'import selenium' 2>/dev/null || skip "python3-selenium is not installed"
command -v pk12util >/dev/null && command -v certutil >/dev/null ||
	skip "pk12util/certutil are not installed (apt-get install libnss3-tools)"
[ "$(id -u)" = 0 ] || skip "the client-certificate policy must go to $POLICY_DIR (root only)"
[ -d "$POLICY_DIR" ] || POLICY_MADE=1
mkdir -p "$POLICY_DIR" 2>/dev/null && [ -w "$POLICY_DIR" ] || skip "$POLICY_DIR is not writable"

OUT_DIR="${MESON_BUILD_ROOT:-$BUILD}/meson-logs/console-browser"
mkdir -p "$OUT_DIR"
rm -f "$OUT_DIR"/*.png
# SAML (console_saml_test.py): a test identity provider on another site
# (https://localhost:IDP_PORT) whose page posts the signed assertion to the console.
SAML_IDP="https://idp.test/alpha"
SAML_SP="https://gwa.test/torwart"
IDP_PORT=$(free_port)
. "$(dirname "$0")/saml_lib.sh"
console_conf_hook() {
	printf 'saml_acs_url = %s/console/saml/acs\n\n[saml]\nentity_id = %s\n' "$CON" "$SAML_SP"
	printf 'idp_login_url.alpha = https://localhost:%s/idp-post.html\n' "$IDP_PORT"
}
. "$(dirname "$0")/console_lib.sh"

# One HOME (NSS database) per operator: its own PKCS#12 and the console CA, trusted.
for who in gwa appr aud; do
	mkdir -p "$T/home-$who/.pki/nssdb"
	printf 'p12-%s-%s\n' "$who" "$RANDOM" >"$T/$who.p12pw"
	check "$who: operator p12 (PKCS#12 for the browser)" "$TORWART" operator p12 \
		--cert "$O/$who/$who.crt" --key "$O/$who/$who.key" --out "$T/$who.p12" \
		--password-file "$T/$who.p12pw" --name "$who"
	check "$who: the PKCS#12 file is 0600" test "$(stat -c %a "$T/$who.p12")" = 600
	check "$who: NSS database" certutil -N -d "sql:$T/home-$who/.pki/nssdb" --empty-password
	check "$who: the console CA trusted for TLS servers" certutil -A -d "sql:$T/home-$who/.pki/nssdb" \
		-n "torwart console CA" -t "C,," -i "$CON_CA"
	check "$who: pk12util imports the PKCS#12" pk12util -i "$T/$who.p12" \
		-d "sql:$T/home-$who/.pki/nssdb" -w "$T/$who.p12pw"
done
# The identity provider's HTTPS site: a throw-away CA (trusted by gwa's browser only) and
# a certificate for localhost.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/idp-ca.key" \
	-out "$T/idp-ca.crt" -days 2 -subj "/CN=Test IdP web CA" 2>>"$T/log"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/idp-web.key" \
	-out "$T/idp-web.csr" -subj "/CN=localhost" 2>>"$T/log"
printf 'subjectAltName = DNS:localhost\n' >"$T/idp-web.ext"
openssl x509 -req -in "$T/idp-web.csr" -CA "$T/idp-ca.crt" -CAkey "$T/idp-ca.key" \
	-CAcreateserial -days 2 -extfile "$T/idp-web.ext" -out "$T/idp-web.crt" 2>>"$T/log"
check "gwa: the identity provider's web CA trusted for TLS servers" certutil -A \
	-d "sql:$T/home-gwa/.pki/nssdb" -n "test IdP web CA" -t "C,," -i "$T/idp-ca.crt"
POLICY="$POLICY_DIR/torwart-console-test-$$-$RANDOM.json"
printf '{"AutoSelectCertificateForUrls": ["{\\"pattern\\":\\"https://127.0.0.1:%s\\",\\"filter\\":{}}"]}\n' \
	"$CON_PORT" >"$POLICY"
check "the policy file is JSON" /usr/bin/python3 -c "import json; json.load(open('$POLICY'))"

# The gateways connect once (self-initiated) and execute their jobs: the order's progress.
SIM_CMD="'$SIM' --gwa 127.0.0.1:$WAN_PORT --gateways '$T/GW-A1' '$T/GW-A2' --quiet"
echo "---- browser (tests/browser/console_test.py) ----"
CON="$CON" OUT_DIR="$OUT_DIR" HOME_GWA="$T/home-gwa" HOME_APPR="$T/home-appr" \
	HOME_AUD="$T/home-aud" PW_GWA="$O/gwa.pw" PW_APPR="$O/appr.pw" PW_AUD="$O/aud.pw" SIM_CMD="$SIM_CMD" \
	timeout 300 /usr/bin/python3 "$TORWART_SOURCE/tests/browser/console_test.py" | tee -a "$T/log"
# The browser test's own exit status, not tee's.
if [ "${PIPESTATUS[0]}" -eq 0 ]; then
	ok "the browser test passed (screenshots in $OUT_DIR)"
else
	bad "the browser test failed (screenshots and chromedriver logs in $OUT_DIR)"
fi
check "screenshots were saved" bash -c "ls '$OUT_DIR'/console-*.png >/dev/null 2>&1"
check "the approved order ran: two ping jobs of the fleet order done" \
	test "$(db "SELECT count(*) FROM jobs WHERE batch_id > 0 AND state = 'done'")" = 2

# ---- SAML: the identity provider's page auto-posts a signed assertion (HTTP-POST binding)
check "test IdP signing key" saml_idp_keys
check "idp-set alpha" "$TORWART" context idp-set --home "$H" --tenant alpha --cert "$T/idp.crt" \
	--entity-id "$SAML_IDP"
mkdir -p "$T/idp-site"
check "a signed Response for gwa to the console's consumer" saml_response "$T/browser-resp.xml" \
	_browser1 gwa "$CON/console/saml/acs"
# What an identity provider answers: a form to the consumer, submitted by script.
{ printf '<!DOCTYPE html>\n<html><head><title>Test IdP</title></head><body>\n'
  printf '<form id="f" method="post" action="%s/console/saml/acs">\n' "$CON"
  printf '<input type="hidden" name="SAMLResponse" value="%s">\n' "$(base64 -w0 "$T/browser-resp.xml")"
  printf '<input type="hidden" name="RelayState" value="alpha">\n'
  printf '<noscript><button type="submit">Continue</button></noscript></form>\n'
  printf '<script>document.getElementById("f").submit();</script></body></html>\n'; } \
	>"$T/idp-site/idp-post.html"
echo "---- browser, SAML (tests/browser/console_saml_test.py) ----"
CON="$CON" OUT_DIR="$OUT_DIR" HOME_GWA="$T/home-gwa" IDP_PORT="$IDP_PORT" IDP_DIR="$T/idp-site" \
	IDP_TLS_CERT="$T/idp-web.crt" IDP_TLS_KEY="$T/idp-web.key" \
	timeout 180 /usr/bin/python3 "$TORWART_SOURCE/tests/browser/console_saml_test.py" | tee -a "$T/log"
if [ "${PIPESTATUS[0]}" -eq 0 ]; then
	ok "the SAML browser test passed (screenshots console-saml-*.png in $OUT_DIR)"
else
	bad "the SAML browser test failed (screenshots and chromedriver logs in $OUT_DIR)"
fi
check "one accepted SAML login of gwa in the admin log" test \
	"$(db "SELECT count(*) FROM admin_log WHERE action='auth.login' AND result='ok' AND actor='saml:$SAML_IDP:gwa'")" = 1
check "... and the replay refused as saml_replayed" test \
	"$(db "SELECT count(*) FROM admin_log WHERE action='auth.login' AND result='refused' AND detail LIKE '%saml_replayed%'")" -ge 1

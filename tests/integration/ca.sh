#!/usr/bin/env bash
# ca.sh: issue 3, the Sub-CA end to end: registration, RA queue and decisions, issuance,
# bad requests (each with its WSDL code, nothing changed), revocation, CRL generation,
# CRL distribution by the running api (curl, ETag/304), checked with openssl crl/verify,
# and regeneration by the worker.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-it-ca-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT
API_PORT=$(free_port); WAN_PORT=$(free_port)
db() { sqlite3 "$H/store.db" "$1"; }
counts() { db "SELECT (SELECT count(*) FROM ca_requests) || '/' || (SELECT count(*) FROM certificates) || '/' || (SELECT count(*) FROM ca_participants)"; }
# expect_code WHAT CODE CMD...: the command fails with exit 4 and names the WSDL code.
expect_code() {
	local what=$1 code=$2 out rc
	shift 2
	out=$("$@" 2>&1); rc=$?
	echo "$out" >>"$T/log"
	if [ "$rc" = 4 ] && echo "$out" | grep -q "$code"; then ok "$what -> $code"; else bad "$what -> $code (exit $rc: $out)"; fi
}

check "init --test-pki" "$TORWART" init --home "$H" --test-pki \
	--api-listen "127.0.0.1:$API_PORT" --wan-listen "127.0.0.1:$WAN_PORT" \
	--api-tls-listen "127.0.0.1:$(free_port)"
printf '\n[ca]\ncrl_check_interval = 1\n' >>"$H/torwart.conf"

# ---- registration (S-3)
check "register EMT participant" "$TORWART" ca register --home "$H" --name stw \
	--org "Stadtwerk IT" --role emt --mp-id 9912345000001 --cn STW.EMT.IT --email pki@stw.example
check_fails "duplicate registration refused" "$TORWART" ca register --home "$H" --name stw \
	--org X --role emt --mp-id 1 --cn X
check_fails "SMGW without gateway id refused" "$TORWART" ca register --home "$H" --name gw1 \
	--org X --role smgw --mp-id 1 --cn ETWA0000000001
check_fails "unknown role refused" "$TORWART" ca register --home "$H" --name x --org X \
	--role ca --mp-id 1 --cn X
check "participants lists it" bash -c "'$TORWART' ca participants --home '$H' | grep -q STW.EMT.IT"

# ---- requests made by torwart req (the other side's tool)
for i in 1 2 3; do
	check "torwart req initial #$i" "$TORWART" req initial --cn STW.EMT.IT --ou 9912345000001 \
		--email pki@stw.example --key-dir "$T/keys$i" --format der --out "$T/req$i.der"
done
check "torwart req for an unregistered CN" "$TORWART" req initial --cn NOBODY.EMT.IT \
	--ou 9912345000001 --key-dir "$T/keysx" --format der --out "$T/reqx.der"
check "torwart req with a wrong market partner id" "$TORWART" req initial --cn STW.EMT.IT \
	--ou 9999999999999 --key-dir "$T/keysy" --format der --out "$T/reqy.der"

# ---- RA queue: submit, approve, issue; submit, reject
out=$("$TORWART" ca submit --home "$H" --request "$T/req1.der" 2>&1)
echo "$out" >>"$T/log"
if echo "$out" | grep -q "request 1 queued"; then ok "submit queues request 1"; else bad "submit: $out"; fi
check "requests shows it pending" bash -c "'$TORWART' ca requests --home '$H' --state pending | grep -q STW.EMT.IT"
check_fails "issuing a pending request is refused" "$TORWART" ca issue --home "$H" --id 1
check "approve request 1" "$TORWART" ca approve 1 --home "$H" --reason "identity checked"
check_fails "approve twice refused" "$TORWART" ca approve 1 --home "$H"
check "issue approved request 1" "$TORWART" ca issue --home "$H" --id 1
check "request 1 is issued" test "$(db "SELECT state FROM ca_requests WHERE id = 1")" = issued
check "three certificates linked to request 1" test "$(db "SELECT count(*) FROM certificates WHERE request_id = 1")" = 3
check "submit request 2" "$TORWART" ca submit --home "$H" --request "$T/req2.der"
check_fails "reject needs a reason" "$TORWART" ca reject 2 --home "$H"
check "reject request 2" "$TORWART" ca reject 2 --home "$H" --reason "not ordered"
check_fails "a rejected request is not issued" "$TORWART" ca issue --home "$H" --id 2
check "admin log has submit/approve/reject/issue" test \
	"$(db "SELECT count(DISTINCT action) FROM admin_log WHERE action IN ('ca.request.submit','ca.request.approve','ca.request.reject','ca.issue')")" = 4

# ---- direct issuance for a registered participant (the whole path)
check "ca issue --request req3" "$TORWART" ca issue --home "$H" --request "$T/req3.der"
TLS=$(db "SELECT serial_hex FROM certificates WHERE request_id = 3 AND usage = 'TLS'")
SIG=$(db "SELECT serial_hex FROM certificates WHERE request_id = 3 AND usage = 'SIG'")
check "issued TLS and SIG serials are 16 bytes" test "${#TLS}" = 32 -a "${#SIG}" = 32
check "export TLS certificate" "$TORWART" ca export "$TLS" --home "$H" --out "$T/tls.pem"
check "export SIG certificate" "$TORWART" ca export "$SIG" --home "$H" --out "$T/sig.pem"
check "openssl verify: issued TLS certificate chains" openssl verify -CAfile "$H/pki/chain.pem" "$T/tls.pem"
check "TLS certificate has critical EKU serverAuth+clientAuth" bash -c \
	"openssl x509 -in '$T/tls.pem' -noout -text | grep -A1 'Extended Key Usage: critical' | grep 'TLS Web Server Authentication' | grep -q 'TLS Web Client Authentication'"
check "certificate is for the requested key" bash -c \
	"cmp <(openssl x509 -in '$T/tls.pem' -noout -pubkey) <(openssl pkey -in '$T/keys3/tls.key' -pubout)"
check "show prints owner and status" bash -c "'$TORWART' ca show '$TLS' --home '$H' | grep -q 'status:      valid'"

# ---- renewal (outer signature with the current SIG certificate) and SMGW (GWA authorisation)
check "torwart req renew with the issued SIG certificate" "$TORWART" req renew --cn STW.EMT.IT \
	--ou 9912345000001 --email pki@stw.example --key-dir "$T/keys4" --current-cert "$T/sig.pem" \
	--current-key "$T/keys3/sig.key" --format der --out "$T/renew.der"
check "ca issue accepts the renewal" "$TORWART" ca issue --home "$H" --request "$T/renew.der"
check "register SMGW participant" "$TORWART" ca register --home "$H" --name gw1 --org "Stadtwerk IT" \
	--role smgw --mp-id 9912345000001 --cn ETWA0000000001 --gateway-id ETWA0000000001
check "SMGW request authorised by the GWA (signer)" "$TORWART" req initial --cn ETWA0000000001 \
	--ou 9912345000001 --role SMGW --key-dir "$T/gwk" --authorise --home "$H" --out "$T/gw.req"
check "ca issue accepts the authorised SMGW request" "$TORWART" ca issue --home "$H" --request "$T/gw.req"
check "SMGW certificates are owned by the participant" test "$(db "SELECT count(*) FROM certificates WHERE owner_kind = 'smgw' AND owner_id = 'gw1'")" = 3
check "SMGW request without authorisation" "$TORWART" req initial --cn ETWA0000000001 \
	--ou 9912345000001 --role SMGW --key-dir "$T/gwk2" --out "$T/gw2.req"

# ---- bad input: each gets its code, nothing changes
before=$(counts)
/usr/bin/python3 - "$T/req3.der" "$T" <<'EOF'
import sys
src, d = sys.argv[1], sys.argv[2]
b = open(src, 'rb').read()
open(d + '/trunc.der', 'wb').write(b[:len(b) // 2])
open(d + '/big.der', 'wb').write(b + b'\0' * (70 * 1024))
oid = bytes.fromhex('06090400 7f000704 010101'.replace(' ', ''))
i = b.find(oid)
assert i >= 0, 'wrapper OID not found'
w = bytearray(b); w[i + len(oid) - 1] = 0x09
open(d + '/oid.der', 'wb').write(bytes(w))
s = bytearray(b); s[-3] ^= 0x55
open(d + '/sig.der', 'wb').write(bytes(s))
EOF
expect_code "SMGW request without GWA authorisation" failure_authorization_signature "$TORWART" ca issue --home "$H" --request "$T/gw2.req"
expect_code "truncated request" failure_syntax "$TORWART" ca issue --home "$H" --request "$T/trunc.der"
expect_code "oversized request (> 64 KiB)" failure_syntax "$TORWART" ca issue --home "$H" --request "$T/big.der"
expect_code "wrong wrapper OID" failure_syntax "$TORWART" ca issue --home "$H" --request "$T/oid.der"
expect_code "bad proof-of-possession signature" failure_inner_signature "$TORWART" ca issue --home "$H" --request "$T/sig.der"
expect_code "replayed request" failure_request_not_accepted "$TORWART" ca issue --home "$H" --request "$T/req3.der"
expect_code "replayed request via submit" failure_request_not_accepted "$TORWART" ca submit --home "$H" --request "$T/req1.der"
expect_code "unregistered participant" failure_unauthorized_request "$TORWART" ca issue --home "$H" --request "$T/reqx.der"
expect_code "subject does not match the registration" failure_incorrect_request "$TORWART" ca issue --home "$H" --request "$T/reqy.der"
check "bad requests changed no request, certificate or participant" test "$(counts)" = "$before"
check "refusals are in the admin log" test "$(db "SELECT count(*) FROM admin_log WHERE action = 'ca.request.refuse'")" -ge 9

# ---- temporary files of crashed CRL writers: the next CRL run removes the one whose
# writer is gone, says so, and keeps the one of a writer still running
mkdir -p "$H/crl"
sleep 0 & GONE=$!; wait "$GONE"
sleep 600 & RUNNING=$!; pids_to_kill+=("$RUNNING")
echo "half a CRL" >"$H/crl/sub-ca.crl.tmp.$GONE"
echo "half a CRL" >"$H/crl/sub-ca.crl.tmp.$RUNNING"
check "ca crl beside a crashed writer's temporary file" \
	bash -c "'$TORWART' ca crl --home '$H' 2>'$T/crl-stale.err'"
check "... removes it (its pid $GONE runs no process)" test ! -e "$H/crl/sub-ca.crl.tmp.$GONE"
check "... and says so" grep -q "removed .*/crl/sub-ca.crl.tmp.$GONE .*its pid $GONE is not running" \
	"$T/crl-stale.err"
check "... keeps the file of a writer still running (pid $RUNNING)" \
	test -e "$H/crl/sub-ca.crl.tmp.$RUNNING"
kill "$RUNNING" 2>/dev/null; wait "$RUNNING" 2>/dev/null
rm -f "$H/crl/sub-ca.crl.tmp.$RUNNING"

# ---- the stack: api serves the CRL, worker regenerates it
"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "api listens" wait_port 127.0.0.1 "$API_PORT" 20
URL="http://127.0.0.1:$API_PORT/crl/sub-ca.crl"
for _ in $(seq 1 50); do curl -fsS -o /dev/null "$URL" 2>/dev/null && break; sleep 0.2; done
check "worker published the first CRL" curl -fsS -o "$T/crl0.der" "$URL"
check "CRL is served as application/pkix-crl with ETag and Last-Modified" bash -c \
	"curl -fsSI '$URL' | tr -d '\r' | grep -qi '^content-type: application/pkix-crl' && curl -fsSI '$URL' | grep -qi '^etag:' && curl -fsSI '$URL' | grep -qi '^last-modified:'"
ETAG=$(curl -fsSI "$URL" | tr -d '\r' | awk -F': ' 'tolower($1) == "etag" { print $2 }')
check "304 on If-None-Match" test "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$URL")" = 304
check "openssl crl -verify accepts the CRL" openssl crl -inform DER -in "$T/crl0.der" -CAfile "$H/pki/chain.pem" -noout -verify

# ---- revocation: immediate CRL, openssl verify -crl_check
check "revoke TLS certificate (keyCompromise)" "$TORWART" ca revoke "$TLS" --home "$H" --reason keyCompromise
check "revoke is idempotent" bash -c "'$TORWART' ca revoke '$TLS' --home '$H' --reason superseded | grep -q 'already revoked'"
check_fails "unknown reason refused" "$TORWART" ca revoke "$SIG" --home "$H" --reason because
check_fails "unknown serial refused" "$TORWART" ca revoke 0123456789abcdef --home "$H" --reason superseded
check "revocation is audited" test "$(db "SELECT count(*) FROM admin_log WHERE action = 'ca.revoke'")" = 2
check "curl fetches the new CRL" curl -fsS -o "$T/crl1.der" "$URL"
check "openssl crl -verify accepts the new CRL" openssl crl -inform DER -in "$T/crl1.der" -CAfile "$H/pki/chain.pem" -noout -verify
check "CRL lists the serial with reason Key Compromise" bash -c \
	"openssl crl -inform DER -in '$T/crl1.der' -noout -text | grep -A4 -i 'Serial Number: $TLS' | grep -q 'Key Compromise'"
check "CRL has a CRL number and an AKI" bash -c \
	"openssl crl -inform DER -in '$T/crl1.der' -noout -text | grep -q 'X509v3 CRL Number' && openssl crl -inform DER -in '$T/crl1.der' -noout -text | grep -q 'Authority Key Identifier'"
check "ETag changed with the CRL" test "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$URL")" = 200
openssl crl -inform DER -in "$T/crl1.der" -out "$T/crl1.pem"
check_fails "openssl verify -crl_check rejects the revoked certificate" \
	openssl verify -crl_check -CAfile "$H/pki/chain.pem" -CRLfile "$T/crl1.pem" "$T/tls.pem"
check "openssl verify -crl_check accepts a valid certificate" \
	openssl verify -crl_check -CAfile "$H/pki/chain.pem" -CRLfile "$T/crl1.pem" "$T/sig.pem"
# The CRL's scan reads the index alone (the crl_scan migration): with (issuer, id) only, each of
# a million revoked entries cost a lookup of its certificates row (docs/performance.md).
if [ "${TORWART_TEST_STORE:-sqlite}" != pg ]; then
	check "the CRL scan of the revoked rows uses the covering index" bash -c \
		"sqlite3 '$H/store.db' \"EXPLAIN QUERY PLAN SELECT serial_hex, revoked_ms, revocation_reason FROM certificates WHERE issuer = 'x' AND status = 'revoked' ORDER BY id\" | grep -q 'USING COVERING INDEX certificates_revoked'"
fi
# The CRL file is synced before it replaces the published one (and before the store
# records its hash); it was renamed into place unsynced.
if command -v strace >/dev/null && strace -o /dev/null true 2>/dev/null; then
	strace -f -y -e trace=fsync,fdatasync,rename -o "$T/crl.strace" "$TORWART" ca crl --home "$H" >>"$T/log" 2>&1
	check "ca crl syncs the new CRL file before renaming it into place" awk '
		/sync\([0-9]+<[^>]*\/crl\/sub-ca\.crl\.tmp\./ { synced = 1 }
		/rename\(".*\/crl\/sub-ca\.crl\.tmp\./ { renamed = 1; ok = synced }
		END { exit !(renamed && ok) }' "$T/crl.strace"
else
	echo "SKIP: strace not usable here, the CRL sync order is not checked"
fi
check "revoke the SIG certificate that signed the renewal" "$TORWART" ca revoke "$SIG" --home "$H" --reason superseded
check "torwart req renew with the revoked SIG certificate" "$TORWART" req renew --cn STW.EMT.IT \
	--ou 9912345000001 --key-dir "$T/keys5" --current-cert "$T/sig.pem" \
	--current-key "$T/keys3/sig.key" --format der --out "$T/renew2.der"
expect_code "renewal signed with a revoked certificate" failure_outer_signature "$TORWART" ca issue --home "$H" --request "$T/renew2.der"
N1=$(db "SELECT number FROM ca_crls WHERE ca = 'sub-ca'")
db "UPDATE ca_crls SET dirty = 1 WHERE ca = 'sub-ca'"
for _ in $(seq 1 50); do [ "$(db "SELECT number FROM ca_crls WHERE ca = 'sub-ca'")" != "$N1" ] && break; sleep 0.2; done
check "worker regenerates a dirty CRL (number $N1 -> next)" test "$(db "SELECT number FROM ca_crls WHERE ca = 'sub-ca'")" -gt "$N1"
# ---- several requests at once: progress on stderr, plain when redirected, in place on a
# terminal (script gives it a pseudo-terminal)
for i in 5 6 7 8; do
	"$TORWART" req initial --cn STW.EMT.IT --ou 9912345000001 --key-dir "$T/bkeys$i" \
		--format der --out "$T/breq$i.der" >>"$T/log" 2>&1
done
check "ca issue of two requests" bash -c "'$TORWART' ca issue --home '$H' --request '$T/breq5.der' --request '$T/breq6.der' >'$T/issue.out' 2>'$T/issue.err'"
check "... its progress on stderr is a plain line" grep -q '^ca issue: 1/2 requests verified' "$T/issue.err"
check "... with no control character when not a terminal" bash -c "! LC_ALL=C grep -q \$'[\\x01-\\x09\\x0b-\\x1f\\x7f]' '$T/issue.err'"
check "... the result stays on stdout" grep -q '^torwart: 2 of 2 requests issued' "$T/issue.out"
if command -v script >/dev/null; then
	script -qec "'$TORWART' ca issue --home '$H' --request '$T/breq7.der' --request '$T/breq8.der'" \
		/dev/null >"$T/issue.tty" 2>&1
	check "... on a terminal rewritten in place (CR + erase)" \
		bash -c "LC_ALL=C grep -q \$'\\r\\033\\[Kca issue: 1/2' '$T/issue.tty'"
	check "... and issues both there too" grep -q 'torwart: 2 of 2 requests issued' "$T/issue.tty"
fi
check "admin log verifies" "$TORWART" audit verify --home "$H"
check "no sanitizer report from the daemons" bash -c "! grep -q 'AddressSanitizer\|runtime error' '$T/torwartd.log'"

#!/usr/bin/env bash
# ca_check.sh: S-7, validity checking for pre-personalisation phase 2 (`torwart ca check`):
# valid (PEM, DER, bundle), revoked (reason and date), expired / not yet valid (--at),
# unknown (a foreign CA), bad signature (tampered), garbage input, the exit codes, and one
# "ca.check" admin-log entry per check.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-it-cacheck-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT
db() { sqlite3 "$H/store.db" "$1"; }
# expect_check WHAT EXIT PATTERN ARGS...: `ca check` exits EXIT and prints PATTERN.
expect_check() {
	local what=$1 want=$2 pat=$3 out rc
	shift 3
	out=$("$TORWART" ca check --home "$H" "$@" 2>&1); rc=$?
	echo "$out" >>"$T/log"
	if [ "$rc" = "$want" ] && echo "$out" | grep -q -- "$pat"; then ok "$what"; else bad "$what (exit $rc: $out)"; fi
}

check "init --test-pki" "$TORWART" init --home "$H" --test-pki
check "register EMT participant" "$TORWART" ca register --home "$H" --name stw \
	--org "Stadtwerk IT" --role emt --mp-id 9912345000001 --cn STW.EMT.IT
check "torwart req initial" "$TORWART" req initial --cn STW.EMT.IT --ou 9912345000001 \
	--key-dir "$T/keys" --format der --out "$T/req.der"
check "ca issue" "$TORWART" ca issue --home "$H" --request "$T/req.der"
TLS=$(db "SELECT serial_hex FROM certificates WHERE request_id = 1 AND usage = 'TLS'")
SIG=$(db "SELECT serial_hex FROM certificates WHERE request_id = 1 AND usage = 'SIG'")
check "export TLS (PEM)" "$TORWART" ca export "$TLS" --home "$H" --out "$T/tls.pem"
check "export TLS (DER)" "$TORWART" ca export "$TLS" --home "$H" --der --out "$T/tls.der"
check "export SIG (PEM)" "$TORWART" ca export "$SIG" --home "$H" --out "$T/sig.pem"
cat "$T/tls.pem" "$T/sig.pem" >"$T/bundle.pem"

# ---- valid
expect_check "PEM certificate is valid (exit 0)" 0 "#1: $TLS: valid:" --cert "$T/tls.pem"
expect_check "DER certificate is valid" 0 ": valid:" --cert "$T/tls.der"
expect_check "PEM bundle: both valid" 0 "2 of 2 certificates valid" --cert "$T/bundle.pem"
expect_check "several files" 0 "3 of 3 certificates valid" --cert "$T/tls.pem" --cert "$T/bundle.pem"
expect_check "valid at an explicit time" 0 ": valid:" --cert "$T/tls.pem" --at "$(date -u -d '+1 day' +%Y-%m-%d)"

# ---- expired / not yet valid (--at)
expect_check "expired at 2100-01-01 (exit 5)" 5 "$TLS: expired: the certificate expired at" --cert "$T/tls.pem" --at 2100-01-01
expect_check "not yet valid at 2000-01-01T00:00:00Z" 5 ": not-yet-valid:" --cert "$T/tls.pem" --at 2000-01-01T00:00:00Z
expect_check "--at @SECONDS" 5 ": expired:" --cert "$T/tls.pem" --at @4102444800
check_fails "--at with a bad time is refused" "$TORWART" ca check --home "$H" --cert "$T/tls.pem" --at 2030-13-45
check_fails "--at with free text is refused" "$TORWART" ca check --home "$H" --cert "$T/tls.pem" --at tomorrow

# ---- revoked: status, reason and date from the store
check "revoke SIG (keyCompromise)" "$TORWART" ca revoke "$SIG" --home "$H" --reason keyCompromise
expect_check "revoked certificate: reason and date (exit 5)" 5 "$SIG: revoked: revoked at .* reason keyCompromise" --cert "$T/sig.pem"
expect_check "bundle with one revoked: 1 of 2 valid" 5 "1 of 2 certificates valid" --cert "$T/bundle.pem"

# ---- unknown: a certificate of another CA
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:brainpoolP256r1 -nodes -keyout "$T/foreign.key" \
	-subj "/C=DE/O=Elsewhere/CN=FOREIGN.EMT.IT" -days 30 -out "$T/foreign.pem" >>"$T/log" 2>&1
expect_check "foreign self-signed certificate is unknown" 5 ": unknown: not issued by this Sub-CA" --cert "$T/foreign.pem"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:brainpoolP256r1 -nodes -keyout "$T/leaf.key" \
	-subj "/C=DE/CN=LEAF.EMT.IT" -out "$T/leaf.csr" >>"$T/log" 2>&1
openssl x509 -req -in "$T/leaf.csr" -CA "$T/foreign.pem" -CAkey "$T/foreign.key" -days 30 \
	-out "$T/leaf.pem" >>"$T/log" 2>&1
expect_check "certificate issued by a foreign CA is unknown" 5 ": unknown: not issued by this Sub-CA" --cert "$T/leaf.pem"

# ---- bad signature: an issued certificate with one bit of its signature flipped
/usr/bin/python3 - "$T/tls.der" "$T/tampered.der" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read()); b[-1] ^= 0x01
open(sys.argv[2], 'wb').write(bytes(b))
PY
expect_check "tampered certificate has a bad signature" 5 ": bad-signature:" --cert "$T/tampered.der"

# ---- garbage input: one "unreadable" line each, exit 6, the other inputs still judged
head -c 3000 /dev/urandom >"$T/random.bin"
: >"$T/empty.pem"
head -c 200 "$T/tls.der" >"$T/trunc.der"
cat "$T/tls.der" "$T/tls.der" >"$T/twice.der"
printf -- '-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n-----END CERTIFICATE-----\n' >"$T/badpem.pem"
head -c $((2 * 1024 * 1024)) /dev/zero >"$T/huge.der"
for f in random.bin empty.pem trunc.der twice.der badpem.pem huge.der missing.pem; do
	expect_check "garbage input $f is unreadable (exit 6)" 6 "$f: unreadable:" --cert "$T/$f"
done
expect_check "garbage next to a valid certificate: both reported" 6 "$TLS: valid:" --cert "$T/random.bin" --cert "$T/tls.pem"
check_fails "ca check without --cert is a usage error" "$TORWART" ca check --home "$H"
out=$("$TORWART" ca check --home "$H" 2>&1); rc=$?
check "usage error exits 2" test "$rc" = 2

# ---- traceability: one admin-log entry per check, result = status, object = serial
check "every check is in the admin log" test "$(db "SELECT count(*) FROM admin_log WHERE action = 'ca.check'")" = 26
check "the revoked check is logged with its serial" test \
	"$(db "SELECT count(*) FROM admin_log WHERE action = 'ca.check' AND object = '$SIG' AND result = 'revoked'")" -ge 1
check "the unreadable input is logged" test \
	"$(db "SELECT count(*) FROM admin_log WHERE action = 'ca.check' AND result = 'unreadable'")" -ge 7
check "admin log verifies" "$TORWART" audit verify --home "$H"

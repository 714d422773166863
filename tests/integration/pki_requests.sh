#!/usr/bin/env bash
# pki_requests.sh: `torwart req initial|renew|show` end to end: keys on disk, the BSI
# wrappers checked independently with openssl asn1parse, a renewal signed with a current
# SIG certificate made by openssl, the GWA authorisation of an SMGW request through the
# home's signer (audited), and one WSDL code per kind of bad input. No daemons.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-req-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

SUBJ=(--cn Company-Test.EMT.MAK --ou 9900000000001 --serial 1 --email test@company.example
	--uri https://maco.company.example:11111/maco --dns maco.company.example)

# show FILE [opts] -> prints the WSDL result line's value
result_of() { "$TORWART" req show "$@" 2>>"$T/log" | sed -n 's/^result: //p'; }

# ---- initial request with new keys
check "req initial (EMT, new keys, DER)" "$TORWART" req initial "${SUBJ[@]}" --role EMT \
	--key-dir "$T/emt" --format der --out "$T/initial.der"
for k in tls sig enc; do
	check "new $k key is mode 0600" test "$(stat -c %a "$T/emt/$k.key")" = 600
	check "new $k key is brainpoolP256r1" \
		bash -c "openssl pkey -in '$T/emt/$k.key' -noout -text | grep -q brainpoolP256r1"
done
check_fails "req initial refuses to overwrite keys" "$TORWART" req initial "${SUBJ[@]}" \
	--key-dir "$T/emt" --out "$T/again.der"
check "openssl sees the bsiCertReqMsgs wrapper OID" \
	bash -c "openssl asn1parse -inform DER -in '$T/initial.der' | head -3 | grep -q '0.4.0.127.0.7.4.1.1.1'"
check "openssl sees three brainpool keys" \
	test "$(openssl asn1parse -inform DER -in "$T/initial.der" | grep -c brainpoolP256r1)" = 3
check "req show accepts it (ok_syntax)" test "$(result_of "$T/initial.der")" = ok_syntax
check "req show lists TLS, SIG, ENC" \
	test "$("$TORWART" req show "$T/initial.der" | grep -c '^entry')" = 3

# ---- the same keys again, base64 and PEM; P-384 keys
check "req initial with given key files (base64)" "$TORWART" req initial "${SUBJ[@]}" \
	--tls-key "$T/emt/tls.key" --sig-key "$T/emt/sig.key" --enc-key "$T/emt/enc.key" \
	--out "$T/initial.b64"
check "base64 request accepted" test "$(result_of "$T/initial.b64")" = ok_syntax
check "req initial PEM, brainpoolP384r1" "$TORWART" req initial "${SUBJ[@]}" \
	--key-dir "$T/emt384" --curve brainpoolP384r1 --format pem --out "$T/initial.pem"
check "PEM request accepted" test "$(result_of "$T/initial.pem")" = ok_syntax
check_fails "req initial refuses a NIST curve" "$TORWART" req initial "${SUBJ[@]}" \
	--key-dir "$T/p256" --curve prime256v1 --out "$T/p256.b64"

# ---- renewal signed with the current SIG certificate (made here by openssl)
cat >"$T/sig.ext" <<'X'
keyUsage = critical, digitalSignature
basicConstraints = critical, CA:FALSE
X
check "openssl makes a current SIG certificate" bash -c "
	openssl req -new -key '$T/emt/sig.key' -subj '/CN=Company-Test.EMT.MAK/O=SM-PKI-DE/OU=9900000000001/C=DE/serialNumber=1' -out '$T/sig.csr' &&
	openssl x509 -req -in '$T/sig.csr' -signkey '$T/emt/sig.key' -days 30 -extfile '$T/sig.ext' -out '$T/sig.crt'"
check "req renew (all types, new keys)" "$TORWART" req renew "${SUBJ[@]}" \
	--key-dir "$T/emt2" --current-cert "$T/sig.crt" --current-key "$T/emt/sig.key" \
	--format der --out "$T/renew.der"
check "openssl sees the bsiCertReqMsgsWithOuterSig wrapper OID" \
	bash -c "openssl asn1parse -inform DER -in '$T/renew.der' | head -3 | grep -q '0.4.0.127.0.7.4.1.1.2'"
check "renewal accepted with its outer signature" test "$(result_of "$T/renew.der")" = ok_syntax
check "req show names the outer signer" \
	bash -c "'$TORWART' req show '$T/renew.der' | grep -q '^outer signature: .*Company-Test.EMT.MAK'"
check "req renew --types SIG" "$TORWART" req renew "${SUBJ[@]}" --types SIG \
	--key-dir "$T/emt3" --current-cert "$T/sig.crt" --current-key "$T/emt/sig.key" \
	--out "$T/renew-sig.b64"
check "SIG-only renewal accepted" test "$(result_of "$T/renew-sig.b64")" = ok_syntax
check_fails "req renew refuses a key that is not the certificate's" "$TORWART" req renew \
	"${SUBJ[@]}" --key-dir "$T/emt4" --current-cert "$T/sig.crt" --current-key "$T/emt/tls.key" \
	--out "$T/renew-bad.b64"
# The outer signature, broken in its last byte (the ECDSA s value).
/usr/bin/python3 -c "import sys; d=bytearray(open(sys.argv[1],'rb').read()); d[-1]^=1; open(sys.argv[2],'wb').write(d)" \
	"$T/renew.der" "$T/renew-bad.der"
check "broken outer signature: failure_outer_signature" \
	test "$(result_of "$T/renew-bad.der")" = failure_outer_signature

# ---- SMGW request with the GWA authorisation, through the home's signer
check "torwart init --test-pki" "$TORWART" init --home "$H" --test-pki
check "req initial SMGW --authorise" "$TORWART" req initial --cn EABC0012345678.SMGW \
	--serial EABC0012345678 --role SMGW --key-dir "$T/smgw" --authorise --home "$H" \
	--format der --out "$T/smgw.der"
check "openssl sees CMS SignedData around the SMGW request" \
	bash -c "openssl cms -cmsout -inform DER -in '$T/smgw.der' -print | grep -q 'pkcs7-data'"
check "SMGW request accepted with authorisation required" \
	test "$(result_of "$T/smgw.der" --require-authorisation)" = ok_syntax
check "req show names the GWA as authoriser" \
	bash -c "'$TORWART' req show '$T/smgw.der' | grep -q '^authorisation: .*TEST'"
check "openssl cms -verify accepts the authorisation" \
	openssl cms -verify -inform DER -in "$T/smgw.der" -CAfile "$H/pki/chain.pem" \
	-purpose any -binary -out "$T/smgw-inner.der"
check "the authorised content is the SMGW's bsiCertReqMsgs" \
	bash -c "openssl asn1parse -inform DER -in '$T/smgw-inner.der' | head -3 | grep -q '0.4.0.127.0.7.4.1.1.1'"
check "the signer audited the authorisation" \
	test "$(sqlite3 "$H/store.db" "select count(*) from admin_log where action='signer.sign' and detail like 'purpose=authorisation%'")" -ge 1
check_fails "--authorise only for SMGW" "$TORWART" req initial "${SUBJ[@]}" --role EMT \
	--key-dir "$T/emt5" --authorise --home "$H" --out "$T/x.b64"
check "unauthorised SMGW request: failure_authorization_signature" \
	test "$(result_of "$T/initial.der" --require-authorisation)" = failure_authorization_signature
/usr/bin/python3 -c "import sys; d=bytearray(open(sys.argv[1],'rb').read()); d[-1]^=1; open(sys.argv[2],'wb').write(d)" \
	"$T/smgw.der" "$T/smgw-bad.der"
check "broken authorisation: failure_authorization_signature" \
	test "$(result_of "$T/smgw-bad.der")" = failure_authorization_signature

# ---- bad input, one code each
/usr/bin/python3 -c "import sys; d=bytearray(open(sys.argv[1],'rb').read()); d[-1]^=1; open(sys.argv[2],'wb').write(d)" \
	"$T/initial.der" "$T/pop-bad.der"
check "broken POP: failure_inner_signature" test "$(result_of "$T/pop-bad.der")" = failure_inner_signature
head -c 700 "$T/initial.der" >"$T/trunc.der"
check "truncated: failure_syntax" test "$(result_of "$T/trunc.der")" = failure_syntax
head -c 70000 /dev/zero | tr '\0' 'A' >"$T/big.b64"
check "over 64 KiB: failure_syntax" test "$(result_of "$T/big.b64")" = failure_syntax
check_fails "req show exits non-zero on a rejection" "$TORWART" req show "$T/trunc.der"
check_fails "req without a sub-command is a usage error" "$TORWART" req

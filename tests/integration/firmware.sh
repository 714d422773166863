#!/usr/bin/env bash
# firmware.sh: the firmware catalogue (UC-3.3.1, M-4.5.19, T-SU) and CA key activation
# (M-4.5.18), through the real `torwart` binary, with openssl cms as the independent
# signer of manufacturer manifests and certified lists: verified add with receipt,
# refusals (no CRL, foreign key, non-GWH signer, manipulated, incomplete, revoked) with
# nothing changed, certified list, downgrade only as its own action, the daily check
# with alerts; an inactive CA refuses issuance, gateway certificates and CRLs until
# `torwart ca activate`.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-it-fw-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT
API_PORT=$(free_port); WAN_PORT=$(free_port)
db() { sqlite3 "$H/store.db" "$1"; }
images() { db "SELECT count(*) FROM firmware_images"; }
files() { find "$H/firmware" -type f 2>/dev/null | wc -l; }
logged() { db "SELECT count(*) FROM admin_log WHERE $1"; }
# expect_fail WHAT TEXT CMD...: the command fails and says TEXT.
expect_fail() {
	local what=$1 text=$2 out rc
	shift 2
	out=$("$@" 2>&1); rc=$?
	echo "$out" >>"$T/log"
	if [ "$rc" != 0 ] && echo "$out" | grep -q -- "$text"; then ok "$what"; else bad "$what (exit $rc: $out)"; fi
}

check "init --test-pki" "$TORWART" init --home "$H" --test-pki \
	--api-listen "127.0.0.1:$API_PORT" --wan-listen "127.0.0.1:$WAN_PORT"
printf '\n[firmware]\nmax_size = 200000\n' >>"$H/torwart.conf"

# ---- CA keys of the test PKI come out active, with the activation on record
check "ca status: sub-ca active" bash -c "'$TORWART' ca status --home '$H' 2>/dev/null | grep -q '^sub-ca  *active'"
check "activation at init is logged" test "$(logged "action='ca.key.activate' AND object='ca:sub-ca' AND result='ok'")" = 1

# ---- the test manufacturer and list anchor from init --test-pki (issue 13)
VC="$H/test-vendor/gwh-sig.crt"; VK="$H/test-vendor/gwh-sig.key"
LC="$H/pki/firmware-list.crt"; LK="$H/test-vendor/firmware-list.key"
check "init made the test manufacturer (GWH SIG)" bash -c "openssl x509 -in '$VC' -noout -subject | grep -q 'TESTVENDOR.GWH.TORWART'"
check "test manufacturer chains to the test Root" openssl verify -CAfile "$H/pki/root-ca.crt" -untrusted "$H/pki/sub-ca.crt" "$VC"
check "init made the list anchor and its key" test -s "$LC" -a -s "$LK"
# sign_image IMG MODEL VERSION OUT [CERT KEY]: the documented openssl cms command line
# (docs/firmware.md), an independent signer; the Sub-CA certificate goes along with ours.
sign_image() {
	local sha size extra=()
	sha=$(sha256sum "$1" | cut -d' ' -f1); size=$(stat -c %s "$1")
	printf '{"format":"torwart-firmware-manifest/1","model":"%s","version":"%s","size":%s,"sha256":"%s"}' \
		"$2" "$3" "$size" "$sha" >"$4.json"
	[ $# -gt 4 ] || extra=(-certfile "$H/pki/sub-ca.crt")
	openssl cms -sign -binary -nodetach -md sha256 -in "$4.json" -signer "${5:-$VC}" \
		-inkey "${6:-$VK}" "${extra[@]}" -outform DER -out "$4"
}
# sign_list SEQ OUT [CERT KEY] -- MODEL VERSION ...: a certified list signed by the anchor.
sign_list() {
	local seq=$1 out=$2 cert=$LC key=$LK entries="" sep=""
	shift 2
	if [ "$1" != -- ]; then cert=$1; key=$2; shift 2; fi
	shift
	while [ $# -ge 2 ]; do entries="$entries$sep{\"model\":\"$1\",\"version\":\"$2\"}"; sep=,; shift 2; done
	printf '{"format":"torwart-certified-firmware/1","sequence":%s,"issued":"2026-12-01T00:00:00Z","firmware":[%s]}' \
		"$seq" "$entries" >"$out.json"
	openssl cms -sign -binary -nodetach -md sha256 -in "$out.json" -signer "$cert" -inkey "$key" \
		-outform DER -out "$out"
}
add() { "$TORWART" firmware add --home "$H" "$@"; }

head -c 100000 /dev/urandom >"$T/fw1.bin"
head -c 50000 /dev/urandom >"$T/fw2.bin"
head -c 70000 /dev/urandom >"$T/fw0.bin"
head -c 80000 /dev/urandom >"$T/fw3.bin"
: >"$T/empty.bin"
head -c 200001 /dev/zero >"$T/big.bin"
check "sign image 1.0.0 with openssl cms" sign_image "$T/fw1.bin" PPC/SMGW-2 1.0.0 "$T/fw1.cms"
check "sign image 1.1.0" sign_image "$T/fw2.bin" PPC/SMGW-2 1.1.0 "$T/fw2.cms"
check "sign image 0.9.0" sign_image "$T/fw0.bin" PPC/SMGW-2 0.9.0 "$T/fw0.cms"
check "sign image 1.2.0" sign_image "$T/fw3.bin" PPC/SMGW-2 1.2.0 "$T/fw3.cms"

# ---- no current CRL yet: revocation cannot be checked, so nothing is accepted
expect_fail "no CRL: refused (crl)" "no current CRL" add --file "$T/fw1.bin" --signature "$T/fw1.cms" --receipt "$T/r0.json"
check "receipt names the crl error" bash -c "grep -q '\"error\": \"crl\"' '$T/r0.json' && grep -q '\"result\": \"refused\"' '$T/r0.json'"
check "CRL of the Sub-CA" "$TORWART" ca crl --home "$H"
check "CRL of the Root" "$TORWART" ca crl --home "$H" --ca root-ca

# ---- firmware add / list / show
check "add image 1 (signed)" add --file "$T/fw1.bin" --signature "$T/fw1.cms" --receipt "$T/r1.json"
check "receipt: accepted, image 1" bash -c "grep -q '\"result\": \"accepted\"' '$T/r1.json' && grep -q '\"image\": 1' '$T/r1.json'"
check "add image 2 (model/version given and matching)" add --file "$T/fw2.bin" --signature "$T/fw2.cms" --model PPC/SMGW-2 --version 1.1.0
check "add image 3 (0.9.0)" add --file "$T/fw0.bin" --signature "$T/fw0.cms"
SHA1=$(sha256sum "$T/fw1.bin" | cut -d' ' -f1)
check "stored as firmware/<sha256>, same bytes" cmp "$T/fw1.bin" "$H/firmware/$SHA1"
check "container kept beside it" cmp "$T/fw1.cms" "$H/firmware/$SHA1.cms"
check "row records sha256, size, uploaded, verified" test \
	"$(db "SELECT sha256 || ' ' || size || ' ' || state || ' ' || signature FROM firmware_images WHERE id=1")" = "$SHA1 100000 uploaded verified"
check "signer recorded" bash -c "[ \"\$(sqlite3 '$H/store.db' \"SELECT count(*) FROM firmware_signatures WHERE image_id=1 AND signer LIKE '%TESTVENDOR.GWH.TORWART%'\")\" = 1 ]"
check "list shows three" bash -c "[ \$('$TORWART' firmware list --home '$H' 2>/dev/null | grep -c PPC/SMGW-2) = 3 ]"
check "show re-hashes the file and names the signer" bash -c "'$TORWART' firmware show --home '$H' --id 1 2>/dev/null | grep -q 'integrity:  ok' && '$TORWART' firmware show --home '$H' --id 1 2>/dev/null | grep -q 'signer: .*TESTVENDOR'"

# ---- refusals change nothing (rows, files) and are logged
before=$(images); before_files=$(files)
expect_fail "same bytes refused" "already firmware image 1" add --file "$T/fw1.bin" --signature "$T/fw1.cms"
cp "$T/fw2.bin" "$T/fw2b.bin"; printf 'y' >>"$T/fw2b.bin"
sign_image "$T/fw2b.bin" PPC/SMGW-2 1.0.0 "$T/fw2b.cms" 2>>"$T/log"
expect_fail "same model+version refused" "already firmware image" add --file "$T/fw2b.bin" --signature "$T/fw2b.cms"
printf '{"format":"torwart-firmware-manifest/1","model":"PPC/SMGW-2","version":"2","size":0,"sha256":"%s"}' "$(sha256sum "$T/empty.bin" | cut -d' ' -f1)" >"$T/e.json"
openssl cms -sign -binary -nodetach -md sha256 -in "$T/e.json" -signer "$VC" -inkey "$VK" -outform DER -out "$T/e.cms" 2>>"$T/log"
expect_fail "empty image refused (manifest size 0)" "size must be" add --file "$T/empty.bin" --signature "$T/e.cms"
sign_image "$T/big.bin" PPC/SMGW-2 3 "$T/big.cms" 2>>"$T/log"
expect_fail "oversized image refused" "max_size" add --file "$T/big.bin" --signature "$T/big.cms"
expect_fail "missing file refused" "cannot open" add --file "$T/nope.bin" --signature "$T/fw3.cms"
expect_fail "model other than signed refused" "manifest is for model" add --file "$T/fw3.bin" --signature "$T/fw3.cms" --model PPC/SMGW-3 --receipt "$T/r2.json"
check "receipt names the model error" grep -q '"error": "model"' "$T/r2.json"
expect_fail "version other than signed refused" "manifest is for version" add --file "$T/fw3.bin" --signature "$T/fw3.cms" --version 9.9
head -c 79999 "$T/fw3.bin" >"$T/fw3-cut.bin"
expect_fail "incomplete image refused" "incomplete" add --file "$T/fw3-cut.bin" --signature "$T/fw3.cms" --receipt "$T/r3.json"
check "receipt names incomplete" grep -q '"error": "incomplete"' "$T/r3.json"
cp "$T/fw3.cms" "$T/fw3-bad.cms"
# flip one byte of the signed manifest inside the container: the signature breaks
/usr/bin/python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); i=b.find(b'PPC/SMGW-2'); b[i]^=1; open(p,'wb').write(b)" "$T/fw3-bad.cms"
expect_fail "manipulated container refused (T-SU.1)" "signature does not verify" add --file "$T/fw3.bin" --signature "$T/fw3-bad.cms"
expect_fail "garbage container refused" "not a DER CMS" add --file "$T/fw3.bin" --signature "$T/fw3.bin"
# a foreign manufacturer: its own CA, GWH name, same openssl command line
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:brainpoolP256r1 -nodes -days 30 \
	-subj "/CN=EVIL.GWH.FOREIGN/O=SM-PKI-DE/C=DE" -addext "keyUsage=critical,digitalSignature" \
	-addext "basicConstraints=critical,CA:FALSE" -keyout "$T/evil.key" -out "$T/evil.crt" 2>>"$T/log"
sign_image "$T/fw3.bin" PPC/SMGW-2 1.2.0 "$T/evil.cms" "$T/evil.crt" "$T/evil.key" 2>>"$T/log"
expect_fail "foreign key refused (no chain to our Root)" "no valid chain" add --file "$T/fw3.bin" --signature "$T/evil.cms"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:brainpoolP256r1 -nodes -days 30 \
	-subj "/CN=STW.EMT.SIG/O=SM-PKI-DE/C=DE" -addext "keyUsage=critical,digitalSignature" \
	-keyout "$T/emt.key" -out "$T/emt.crt" 2>>"$T/log"
sign_image "$T/fw3.bin" PPC/SMGW-2 1.2.0 "$T/emt.cms" "$T/emt.crt" "$T/emt.key" 2>>"$T/log"
expect_fail "non-manufacturer certificate refused" "not an SM-PKI GWH SIG" add --file "$T/fw3.bin" --signature "$T/emt.cms"
expect_fail "add without --signature is a usage error" "needs" "$TORWART" firmware add --home "$H" --file "$T/fw2.bin"
check "no row added by refusals" test "$(images)" = "$before"
check "no file left by refusals" test "$(files)" = "$before_files"
check "refusals logged with their verdicts" test "$(logged "action='firmware.add' AND result='refused'")" = 13
check "verdicts are the error codes" test "$(logged "action='firmware.add' AND result='refused' AND error_code IN ('crl','incomplete','signature','format','chain','signer','model','version')")" = 9

# ---- certified list (M-4.5.19): nothing is released that is not on it
expect_fail "release without a certified list refused" "not on the current list" "$TORWART" firmware release --home "$H" --id 1
check "sign list 1" sign_list 1 "$T/list1.cms" -- PPC/SMGW-2 1.0.0 PPC/SMGW-2 1.1.0 PPC/SMGW-2 0.9.0
check "import list 1" "$TORWART" firmware import-list --home "$H" --file "$T/list1.cms"
check "certified shows 3 versions" bash -c "'$TORWART' firmware certified --home '$H' 2>/dev/null | grep -q '^3 certified versions'"
expect_fail "same sequence again refused" "not newer" "$TORWART" firmware import-list --home "$H" --file "$T/list1.cms"
sign_list 5 "$T/list-vendor.cms" "$VC" "$VK" -- PPC/SMGW-2 1.2.0 2>>"$T/log"
expect_fail "list by another signer refused" "not signed by the configured anchor" "$TORWART" firmware import-list --home "$H" --file "$T/list-vendor.cms"
printf '{"format":"torwart-certified-firmware/1","sequence":6,"issued":"yesterday","firmware":[]}' >"$T/lbad.json"
openssl cms -sign -binary -nodetach -md sha256 -in "$T/lbad.json" -signer "$LC" -inkey "$LK" -outform DER -out "$T/lbad.cms" 2>>"$T/log"
expect_fail "malformed list refused" "issued must be" "$TORWART" firmware import-list --home "$H" --file "$T/lbad.cms"
check "one list stored" test "$(db "SELECT count(*) FROM firmware_lists")" = 1

# ---- release / downgrade / withdraw
check "release image 2 (1.1.0)" "$TORWART" firmware release --home "$H" --id 2
check "image 2 released by the operator" test "$(db "SELECT state FROM firmware_images WHERE id=2")" = released
expect_fail "release of older 1.0.0 refused as a downgrade" "downgrade needs its own approval" "$TORWART" firmware release --home "$H" --id 1
check "downgrade refusal logged" test "$(logged "action='firmware.release' AND result='refused' AND error_code='downgrade'")" = 1
check "approved downgrade of 1.0.0" "$TORWART" firmware downgrade --home "$H" --id 1
check "downgrade logged as its own action" test "$(logged "action='firmware.downgrade' AND result='ok'")" = 1
check "add image 4 (1.2.0)" add --file "$T/fw3.bin" --signature "$T/fw3.cms"
expect_fail "1.2.0 not certified yet" "not on the current list" "$TORWART" firmware release --home "$H" --id 4
sign_list 2 "$T/list2.cms" -- PPC/SMGW-2 1.1.0 PPC/SMGW-2 1.2.0 2>>"$T/log"
check "import list 2" "$TORWART" firmware import-list --home "$H" --file "$T/list2.cms"
expect_fail "downgrade of a newer version refused" "not older" "$TORWART" firmware downgrade --home "$H" --id 4
check "release image 4 (1.2.0, now certified)" "$TORWART" firmware release --home "$H" --id 4
expect_fail "0.9.0 no longer certified (list 2 is current)" "not on the current list" "$TORWART" firmware downgrade --home "$H" --id 3
expect_fail "release twice refused" "only an uploaded image" "$TORWART" firmware release --home "$H" --id 2
expect_fail "release unknown refused" "no firmware image 42" "$TORWART" firmware release --home "$H" --id 42

# ---- daily check (M-4.5.19)
check "check: all images pass" "$TORWART" firmware check --home "$H"
check "check results recorded" test "$(db "SELECT count(*) FROM firmware_signatures WHERE check_result='ok'")" = 4
SHA0=$(sha256sum "$T/fw0.bin" | cut -d' ' -f1)
chmod u+w "$H/firmware/$SHA0"; printf 'x' >>"$H/firmware/$SHA0"
expect_fail "tampered image not released (T-SU.1)" "changed" "$TORWART" firmware downgrade --home "$H" --id 3
check_fails "show flags the tampered file" "$TORWART" firmware show --home "$H" --id 3
check_fails "check fails on the tampered image (exit 3)" "$TORWART" firmware check --home "$H"
check "tampered image marked invalid" test "$(db "SELECT signature FROM firmware_images WHERE id=3")" = invalid
check "alert raised for it" test "$(db "SELECT count(*) FROM alert_queue WHERE kind='firmware-check' AND subject='firmware:3'")" = 1
check "check failure logged" test "$(logged "action='firmware.check' AND result='failed' AND error_code='incomplete'")" = 1
check "withdraw released image" "$TORWART" firmware withdraw --home "$H" --id 1 --reason "CVE-2026-0001"
check "withdraw uploaded image" "$TORWART" firmware withdraw --home "$H" --id 3
expect_fail "withdraw twice refused" "already withdrawn" "$TORWART" firmware withdraw --home "$H" --id 1
check "withdrawn file kept as evidence" test -f "$H/firmware/$SHA1"
# the manufacturer's certificate is revoked: the next check finds every image it signed
VSERIAL=$(openssl x509 -in "$VC" -noout -serial | cut -d= -f2)
check "revoke the manufacturer certificate" "$TORWART" ca revoke "$VSERIAL" --home "$H" --reason keyCompromise
check "new CRL" "$TORWART" ca crl --home "$H"
check_fails "check fails after the revocation" "$TORWART" firmware check --home "$H"
check "revoked signer found on both remaining images" test "$(db "SELECT count(*) FROM firmware_signatures WHERE check_result='revoked'")" = 2
expect_fail "revoked signer refused at provisioning" "revoked" add --file "$T/fw2b.bin" --signature "$T/fw2b.cms"
check "every change logged" test "$(logged "action IN ('firmware.add','firmware.release','firmware.downgrade','firmware.withdraw','firmware.list.import') AND result='ok'")" = 11

# ---- CA key activation
check "register participant" "$TORWART" ca register --home "$H" --name stw --org "Stadtwerk" \
	--role emt --mp-id 9912345000001 --cn STW.EMT.FW
check "torwart req initial" "$TORWART" req initial --cn STW.EMT.FW --ou 9912345000001 \
	--key-dir "$T/keys" --format der --out "$T/req.der"
check "deactivate sub-ca" "$TORWART" ca deactivate --home "$H" --ca sub-ca --reason "end of shift"
check "status says inactive" bash -c "'$TORWART' ca status --home '$H' 2>/dev/null | grep -q '^sub-ca  *inactive'"
certs=$(db "SELECT count(*) FROM certificates"); reqs=$(db "SELECT count(*) FROM ca_requests")
crl_before=$(sha256sum <"$H/crl/sub-ca.crl")
expect_fail "issuance refused while inactive" "torwart ca activate" "$TORWART" ca issue --home "$H" --request "$T/req.der"
expect_fail "gateway certificates refused while inactive" "inactive" "$TORWART" gateway add --home "$H" --id GW-FW-1
expect_fail "CRL signing refused while inactive" "CRL signing refused" "$TORWART" ca crl --home "$H"
check "nothing issued or queued while inactive" test "$(db "SELECT count(*) FROM certificates")/$(db "SELECT count(*) FROM ca_requests")" = "$certs/$reqs"
check "no CRL written while inactive" test "$(sha256sum <"$H/crl/sub-ca.crl")" = "$crl_before"
expect_fail "activating an unconfigured CA refused" "not configured" "$TORWART" ca activate --home "$H" --ca nosuch
check "activate sub-ca" "$TORWART" ca activate --home "$H" --ca sub-ca --reason "ceremony"
check "second activate is unchanged" bash -c "'$TORWART' ca activate --home '$H' --ca sub-ca 2>/dev/null | grep -q unchanged"
check "issuance works again" "$TORWART" ca issue --home "$H" --request "$T/req.der"
check "CRL works again" "$TORWART" ca crl --home "$H"
check "activation changes logged" test "$(logged "action IN ('ca.key.activate','ca.key.deactivate') AND object='ca:sub-ca' AND result='ok'")" = 3
check "admin log verifies" "$TORWART" audit verify --home "$H"

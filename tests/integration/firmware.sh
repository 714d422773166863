#!/usr/bin/env bash
# firmware.sh: the firmware catalogue (UC-3.3.1 store side, T-SU) and CA key activation
# (M-4.5.18), through the real `torwart` binary: add/list/show/release/withdraw, bad input
# and duplicates refused with nothing changed, tampering at rest detected; an inactive
# CA refuses issuance, gateway certificates and CRLs until `torwart ca activate`.
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

# ---- firmware add / list / show
head -c 100000 /dev/urandom >"$T/fw1.bin"
head -c 50000 /dev/urandom >"$T/fw2.bin"
: >"$T/empty.bin"
head -c 200001 /dev/zero >"$T/big.bin"
check "add image 1" "$TORWART" firmware add --home "$H" --file "$T/fw1.bin" --model PPC/SMGW-2 --version 1.0.0
check "add image 2" "$TORWART" firmware add --home "$H" --file "$T/fw2.bin" --model PPC/SMGW-2 --version 1.1.0
SHA1=$(sha256sum "$T/fw1.bin" | cut -d' ' -f1)
check "stored as firmware/<sha256>, same bytes" cmp "$T/fw1.bin" "$H/firmware/$SHA1"
check "row records sha256, size, uploaded, unverified" test \
	"$(db "SELECT sha256 || ' ' || size || ' ' || state || ' ' || signature FROM firmware_images WHERE id=1")" = "$SHA1 100000 uploaded unverified"
check "list shows both" bash -c "[ \$('$TORWART' firmware list --home '$H' 2>/dev/null | grep -c PPC/SMGW-2) = 2 ]"
check "show re-hashes the file" bash -c "'$TORWART' firmware show --home '$H' --id 1 2>/dev/null | grep -q 'integrity:  ok'"

# ---- refusals change nothing (rows, files) and are logged
before=$(images); before_files=$(files)
expect_fail "same bytes refused" "already firmware image 1" "$TORWART" firmware add --home "$H" --file "$T/fw1.bin" --model PPC/SMGW-2 --version 9.9.9
expect_fail "same model+version refused" "already firmware image" "$TORWART" firmware add --home "$H" --file "$T/fw2.bin" --model PPC/SMGW-2 --version 1.0.0
expect_fail "empty image refused" "is empty" "$TORWART" firmware add --home "$H" --file "$T/empty.bin" --model PPC/SMGW-2 --version 2
expect_fail "oversized image refused" "max_size" "$TORWART" firmware add --home "$H" --file "$T/big.bin" --model PPC/SMGW-2 --version 3
expect_fail "missing file refused" "cannot open" "$TORWART" firmware add --home "$H" --file "$T/nope.bin" --model PPC/SMGW-2 --version 4
expect_fail "bad model refused" "model" "$TORWART" firmware add --home "$H" --file "$T/fw2.bin" --model "../x" --version 5
expect_fail "add without --version is a usage error" "needs" "$TORWART" firmware add --home "$H" --file "$T/fw2.bin" --model M
check "no row added by refusals" test "$(images)" = "$before"
check "no file left by refusals" test "$(files)" = "$before_files"
check "refusals logged" test "$(logged "action='firmware.add' AND result='refused'")" = 6

# ---- release / withdraw
check "release image 1" "$TORWART" firmware release --home "$H" --id 1
check "image 1 released by the operator" test "$(db "SELECT state FROM firmware_images WHERE id=1")" = released
expect_fail "release twice refused" "only an uploaded image" "$TORWART" firmware release --home "$H" --id 1
expect_fail "release unknown refused" "no firmware image 42" "$TORWART" firmware release --home "$H" --id 42
SHA2=$(sha256sum "$T/fw2.bin" | cut -d' ' -f1)
chmod u+w "$H/firmware/$SHA2"; printf 'x' >>"$H/firmware/$SHA2"
expect_fail "tampered image not released (T-SU.1)" "changed" "$TORWART" firmware release --home "$H" --id 2
check "tampered image still uploaded" test "$(db "SELECT state FROM firmware_images WHERE id=2")" = uploaded
check_fails "show flags the tampered file" "$TORWART" firmware show --home "$H" --id 2
check "withdraw released image" "$TORWART" firmware withdraw --home "$H" --id 1 --reason "CVE-2026-0001"
check "withdraw uploaded image" "$TORWART" firmware withdraw --home "$H" --id 2
expect_fail "withdraw twice refused" "already withdrawn" "$TORWART" firmware withdraw --home "$H" --id 1
check "withdrawn file kept as evidence" test -f "$H/firmware/$SHA1"
check "every change logged" test "$(logged "action IN ('firmware.add','firmware.release','firmware.withdraw') AND result='ok'")" = 5
check "refused release/withdraw logged" test "$(logged "action IN ('firmware.release','firmware.withdraw') AND result='refused'")" = 4

# ---- CA key activation
check "register participant" "$TORWART" ca register --home "$H" --name stw --org "Stadtwerk" \
	--role emt --mp-id 9912345000001 --cn STW.EMT.FW
check "torwart req initial" "$TORWART" req initial --cn STW.EMT.FW --ou 9912345000001 \
	--key-dir "$T/keys" --format der --out "$T/req.der"
check "deactivate sub-ca" "$TORWART" ca deactivate --home "$H" --ca sub-ca --reason "end of shift"
check "status says inactive" bash -c "'$TORWART' ca status --home '$H' 2>/dev/null | grep -q '^sub-ca  *inactive'"
certs=$(db "SELECT count(*) FROM certificates"); reqs=$(db "SELECT count(*) FROM ca_requests")
expect_fail "issuance refused while inactive" "torwart ca activate" "$TORWART" ca issue --home "$H" --request "$T/req.der"
expect_fail "gateway certificates refused while inactive" "inactive" "$TORWART" gateway add --home "$H" --id GW-FW-1
expect_fail "CRL signing refused while inactive" "CRL signing refused" "$TORWART" ca crl --home "$H"
check "nothing issued or queued while inactive" test "$(db "SELECT count(*) FROM certificates")/$(db "SELECT count(*) FROM ca_requests")" = "$certs/$reqs"
check "no CRL written while inactive" test ! -e "$H/crl/sub-ca.crl"
expect_fail "activating an unconfigured CA refused" "not configured" "$TORWART" ca activate --home "$H" --ca nosuch
check "activate sub-ca" "$TORWART" ca activate --home "$H" --ca sub-ca --reason "ceremony"
check "second activate is unchanged" bash -c "'$TORWART' ca activate --home '$H' --ca sub-ca 2>/dev/null | grep -q unchanged"
check "issuance works again" "$TORWART" ca issue --home "$H" --request "$T/req.der"
check "CRL works again" "$TORWART" ca crl --home "$H"
check "activation changes logged" test "$(logged "action IN ('ca.key.activate','ca.key.deactivate') AND object='ca:sub-ca' AND result='ok'")" = 3
check "admin log verifies" "$TORWART" audit verify --home "$H"

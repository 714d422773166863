#!/usr/bin/env bash
# custodians.sh: key activation by custodians and the key backup ceremony (TR-03109-6
# M-4.5.18, issue 9). A test-PKI home is put into production mode with a 2-of-3 split of
# the token PINs; the signer starts inactive (issuance refused with a typed error), one
# share is not enough, two shares from two custodian operators (through the api) activate
# it, a restart makes it inactive again, a tampered share set is refused without a
# half-active CA, and the token restored from a backup copy works with the same shares.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-custodians-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)
API="https://127.0.0.1:$TLS_PORT"
O="$T/ops"
S="$T/shares"
mkdir -p "$O"
db() { sqlite3 "$H/store.db" "$1"; }
run() { local who=$1; shift; "$TORWART" "$@" --token-file "$T/$who.session" >"$T/out" 2>&1; }
SIGNER_PID=
start_signer() {
	"$TORWARTD" --home "$H" signer >>"$T/signer.log" 2>&1 &
	SIGNER_PID=$!
	pids_to_kill+=("$SIGNER_PID")
	# The socket exists before the token is open; ready = it answers a status request.
	for _ in $(seq 1 100); do
		"$TORWART" ca custodians status --home "$H" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
stop_signer() {
	kill -TERM "$SIGNER_PID" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$SIGNER_PID" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}
status() { "$TORWART" ca custodians status --home "$H" 2>/dev/null; }
gw_add() { "$TORWART" gateway add --home "$H" --id "$1" --out "$T/$1" >"$T/out" 2>&1; }

check "init (demo home)" "$TORWART" init --home "$H" --test-pki --wan-listen "127.0.0.1:$WAN_PORT" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"
check "demo: the pin file says it is demo mode" grep -q "^# DEMO MODE" "$H/secrets/pins"
check "demo: signer starts" start_signer
check "demo: its log says DEMO MODE" grep -q "DEMO MODE" "$T/signer.log"
check "demo: a demo signer is active from the start" bash -c "'$TORWART' ca custodians status --home '$H' 2>/dev/null | grep -q 'mode=demo active=yes'"
check "demo: signer stops" stop_signer

bootstrap_operators "$H" "$O" c1:default:custodian c2:default:custodian c3:default:custodian \
	ra:default:ra-officer

# ---- the ceremony: 2 of 3
check_fails "split refuses k=1 (one person must never be enough)" "$TORWART" ca custodians split \
	--home "$H" --k 1 --n 3 --out "$T/bad"
check "ca custodians split --k 2 --n 3" "$TORWART" ca custodians split --home "$H" --k 2 --n 3 \
	--out "$S"
check "three share files, mode 0600" test "$(stat -c %a "$S"/share-{1,2,3}-of-3.txt | sort -u)" = 600
check "the pin file is gone" test ! -e "$H/secrets/pins"
check "the set record holds no PIN" bash -c "! grep -qi pin= '$H/secrets/custodians'"
for f in 1 2 3; do
	hex=$(sed -n 's/^share //p' "$S/share-$f-of-3.txt")
	check "share $f is in no file of the home" bash -c "! grep -rqs '$hex' '$H'"
done
check "admin log: the ceremony (k, n; no share)" \
	test "$(db "SELECT count(*) FROM admin_log WHERE action='ca.custodians.split' AND detail LIKE 'token PINs split 2 of 3%'")" = 1
check_fails "a second split is refused" "$TORWART" ca custodians split --home "$H" --k 2 --n 3 \
	--out "$T/again"

check "signer starts (production mode)" start_signer
check "... its log says production mode" grep -q "production mode" "$T/signer.log"
# (Test hook: `ca custodian-share` keeps a copy of what it found in the api's spool.)
TORWART_TEST_SHARE_SPOOL_COPY="$T/spooled" "$TORWARTD" --home "$H" api >>"$T/api.log" 2>&1 &
pids_to_kill+=("$!")
check "operator API listens" wait_port 127.0.0.1 "$TLS_PORT" 20
login_all "$API" "$O" "$T" c1 c2 c3 ra

check "signer starts inactive" bash -c "'$TORWART' ca custodians status --home '$H' 2>/dev/null | grep -q 'k=2 n=3 active=no entered=0'"
check "ca status shows both layers (state flag and signer)" bash -c "'$TORWART' ca status --home '$H' 2>/dev/null | grep -q '^signer: mode=custodians k=2 n=3 active=no'"
gw_add GW-1
check "issuance while inactive: exit 1" test $? = 1
check "... refused with the typed error (signer inactive, unavailable)" grep -q "signer inactive" "$T/out"
check "... and no gateway was registered" test "$(db "SELECT count(*) FROM gateways WHERE gateway_id='GW-1'")" = 0

# ---- one share is not enough
run ra ca custodian-share --share "$S/share-1-of-3.txt"
check "an operator without the custodian role is refused (exit 1)" test $? = 1
check "... by the api (403)" grep -q "403" "$T/out"
check "c1 enters share 1 through the api" run c1 ca custodian-share --share "$S/share-1-of-3.txt"
check "... answer: waiting" grep -q "waiting: share 1 accepted, 1 of 2" "$T/out"
check "the api spooled the share sealed with the data key, never in clear" \
	bash -c "head -c 7 '$T/spooled' | grep -qx 'twbox1:' && ! grep -q '$(sed -n 's/^share //p' "$S/share-1-of-3.txt" | cut -c1-16)' '$T/spooled'"
check "one share: still inactive" bash -c "'$TORWART' ca custodians status --home '$H' 2>/dev/null | grep -q 'active=no entered=1'"
gw_add GW-1
check "one share: issuance still refused" grep -q "signer inactive" "$T/out"
run c1 ca custodian-share --share "$S/share-2-of-3.txt"
check "c1 cannot enter a second share (k people, not k files)" test $? = 1
check "... saying so" grep -q "different custodians" "$T/out"
run c2 ca custodian-share --share "$S/share-1-of-3.txt"
check "the same share twice is refused" grep -q "already entered" "$T/out"

# ---- the second share activates
check "c2 enters share 2" run c2 ca custodian-share --share "$S/share-2-of-3.txt"
check "... answer: active" grep -q "^torwart: signer: active" "$T/out"
check "signer active" bash -c "'$TORWART' ca custodians status --home '$H' 2>/dev/null | grep -q 'active=yes'"
check "issuance works (gateway add)" gw_add GW-1
check "admin log: a share entry by c1 and by c2" \
	test "$(db "SELECT count(DISTINCT actor) FROM admin_log WHERE action='signer.custodian.share' AND result='ok' AND actor IN ('c1','c2')")" = 2
check "admin log: the two shares the signer refused (second share of c1, share 1 twice)" \
	test "$(db "SELECT count(*) FROM admin_log WHERE action='signer.custodian.share' AND result='refused'")" = 2
check "admin log: the api's denial of ra" \
	test "$(db "SELECT count(*) FROM admin_log WHERE action='auth.denied' AND actor='ra'")" -ge 1
check "admin log: the activation" \
	test "$(db "SELECT count(*) FROM admin_log WHERE action='signer.activate' AND result='ok' AND actor='c2'")" = 1
for f in 1 2; do
	hex=$(sed -n 's/^share //p' "$S/share-$f-of-3.txt")
	check "share $f is not in the admin log" test "$(db "SELECT count(*) FROM admin_log WHERE detail LIKE '%${hex:0:16}%'")" = 0
	check "share $f is not in any log" bash -c "! grep -qs '${hex:0:16}' '$T/signer.log' '$T/api.log' '$T/log'"
done
check "share upload left nothing in the api spool" \
	bash -c "! grep -rqs '$(sed -n 's/^share //p' "$S/share-2-of-3.txt" | cut -c1-16)' '$H/spool'"

# ---- restart: inactive again
check "signer stops" stop_signer
check "signer restarts" start_signer
check "after a restart the signer is inactive" bash -c "'$TORWART' ca custodians status --home '$H' 2>/dev/null | grep -q 'active=no entered=0'"
gw_add GW-2
check "... and issuance is refused again" grep -q "signer inactive" "$T/out"

# ---- a tampered share set: clear error, never half-active
/usr/bin/python3 - "$S/share-3-of-3.txt" "$T/tampered.txt" <<'EOF'
import hashlib, sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if l and not l.startswith('#')]
body = lines[:6]
h = body[5][6:]
body[5] = 'share ' + ('0' if h[0] != '0' else '1') + h[1:]
text = ''.join(l + '\n' for l in body)
open(sys.argv[2], 'w').write(text + 'check ' + hashlib.sha256(text.encode()).hexdigest()[:16] + '\n')
EOF
check "c1 enters share 1 again" run c1 ca custodian-share --share "$S/share-1-of-3.txt"
run c3 ca custodian-share --share "$T/tampered.txt"
check "a tampered share (valid check line) completing the set: exit 1" test $? = 1
check "... says the shares do not combine" grep -q "do not combine" "$T/out"
check "... the signer stays inactive with no share held" bash -c "'$TORWART' ca custodians status --home '$H' 2>/dev/null | grep -q 'active=no entered=0'"
gw_add GW-2
check "... issuance still refused" grep -q "signer inactive" "$T/out"
check "... logged as a failed activation" \
	test "$(db "SELECT count(*) FROM admin_log WHERE action='signer.activate' AND result='failed'")" = 1
check "... and alerted (key-access)" \
	test "$(db "SELECT count(*) FROM admin_log WHERE action LIKE 'alert.%' AND detail LIKE '%custodian activation failed%'")" -ge 1
check "shares 3 and 1 (another pair) activate" bash -c \
	"'$TORWART' ca custodian-share --share '$S/share-3-of-3.txt' --token-file '$T/c3.session' && '$TORWART' ca custodian-share --share '$S/share-1-of-3.txt' --token-file '$T/c1.session' | grep -q active"
check "issuance works" gw_add GW-2

# ---- deactivation logs the token out
check "ca deactivate" "$TORWART" ca deactivate --home "$H" --ca sub-ca --reason "end of shift"
check "... the signer is inactive" bash -c "'$TORWART' ca custodians status --home '$H' 2>/dev/null | grep -q 'active=no'"
check "ca activate (state flag)" "$TORWART" ca activate --home "$H" --ca sub-ca --reason "back"
gw_add GW-3
check "... but signing needs the custodians again" grep -q "signer inactive" "$T/out"
check "the same signer process activates again (c2, c3)" bash -c \
	"'$TORWART' ca custodian-share --share '$S/share-2-of-3.txt' --token-file '$T/c2.session' && '$TORWART' ca custodian-share --share '$S/share-3-of-3.txt' --token-file '$T/c3.session' | grep -q active"
check "... and signs again" gw_add GW-3b

# ---- backup ceremony: two copies, a damaged one is refused, a good one restores
check "ca backup to medium 1" "$TORWART" ca backup --home "$H" --out "$T/backup1"
check "ca backup to medium 2" "$TORWART" ca backup --home "$H" --out "$T/backup2"
check_fails "a backup never overwrites" "$TORWART" ca backup --home "$H" --out "$T/backup1"
check "the backup holds no PIN and no share" bash -c "! grep -rqs '$(sed -n 's/^share //p' "$S/share-1-of-3.txt" | cut -c1-16)' '$T/backup1'"
if command -v pkcs11-tool >/dev/null && [ -e /usr/lib/softhsm/libsofthsm2.so ]; then
	check "the backup is a loadable token holding the sub-ca key" bash -c \
		"SOFTHSM2_CONF='$T/backup1/softhsm2.conf' pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --list-objects --type pubkey 2>/dev/null | grep -q sub-ca"
fi
check "signer stops" stop_signer
mv "$H/tokens" "$T/lost-tokens"
mkdir -m 700 "$H/tokens"
check_fails "without its token the signer does not come up ready" bash -c \
	"'$TORWARTD' --home '$H' signer >>'$T/signer.log' 2>&1"
f=$(find "$T/backup2/tokens" -type f -name '*.object' | head -n 1)
printf 'x' >>"$f"
check_fails "restore from a damaged backup is refused" "$TORWART" ca restore --home "$H" --from "$T/backup2"
check "... and left the token directory empty" test -z "$(ls -A "$H/tokens")"
check "restore from backup 1" "$TORWART" ca restore --home "$H" --from "$T/backup1"
check "admin log: two backups and one restore" \
	test "$(db "SELECT count(*) FROM admin_log WHERE action IN ('ca.token.backup','ca.token.restore')")" = 3
check_fails "restore never overwrites a token" "$TORWART" ca restore --home "$H" --from "$T/backup1"
check "signer starts on the restored token" start_signer
check "... inactive" bash -c "'$TORWART' ca custodians status --home '$H' 2>/dev/null | grep -q 'active=no'"
check "custodians c2, c3 activate the restored token" bash -c \
	"'$TORWART' ca custodian-share --share '$S/share-2-of-3.txt' --token-file '$T/c2.session' && '$TORWART' ca custodian-share --share '$S/share-3-of-3.txt' --token-file '$T/c3.session' | grep -q active"
check "issuance works with the restored key" gw_add GW-3
check "... signed by the same sub-ca key" openssl verify -partial_chain -CAfile "$H/pki/sub-ca.crt" \
	"$T/GW-3/tls.crt"

# ---- production mode at init: `init --custodians 2/3`, each share sealed to its
# custodian's own key (issue 9); no pin file ever; the first activation on the host
check "stop the first home's signer" stop_signer
for c in k1 k2 k3; do
	check "custodian $c makes its key pair on its machine" \
		"$TORWART" ca custodian-keygen --name "$c" --out "$T/ck/$c"
done
check "the custodian's private key is 0600" test "$(stat -c %a "$T/ck/k1/k1.custodian.key")" = 600
H2="$T/home2"
S2="$T/shares2"
W2=$(free_port); A2=$(free_port); L2=$(free_port)
check_fails "init --custodians needs --custodians-out" "$TORWART" init --home "$T/nohome" \
	--custodians 2/3
check_fails "init --custodians 1/3 is refused" "$TORWART" init --home "$T/nohome" \
	--custodians 1/3 --custodians-out "$T/nos"
check_fails "a key list that does not match n is refused (and nothing is left)" \
	"$TORWART" init --home "$T/nohome" --test-pki --wan-listen "127.0.0.1:$W2" \
	--api-listen "127.0.0.1:$A2" --api-tls-listen "127.0.0.1:$L2" --custodians 2/3 \
	--custodians-out "$T/nos" --custodian-keys "$T/ck/k1/k1.custodian.pub"
check "... no home" test ! -e "$T/nohome"
check "init --custodians 2/3 --custodian-keys (one public key per custodian)" \
	"$TORWART" init --home "$H2" --test-pki --wan-listen "127.0.0.1:$W2" \
	--api-listen "127.0.0.1:$A2" --api-tls-listen "127.0.0.1:$L2" --custodians 2/3 \
	--custodians-out "$S2" \
	--custodian-keys "$T/ck/k1/k1.custodian.pub,$T/ck/k2/k2.custodian.pub,$T/ck/k3/k3.custodian.pub"
check "no pin file in the new home" test ! -e "$H2/secrets/pins"
check "a custodian set record" test -f "$H2/secrets/custodians"
check "three sealed share files, mode 0600" \
	test "$(stat -c %a "$S2"/share-{1,2,3}-of-3.sealed | sort -u)" = 600
check "no share in clear anywhere" bash -c "! ls '$S2'/*.txt 2>/dev/null && ! grep -qs '^share ' '$S2'/*"
check "admin log of the new home: the split at init" \
	test "$(sqlite3 "$H2/store.db" "SELECT count(*) FROM admin_log WHERE action='ca.custodians.split' AND detail LIKE 'at init: token PINs split 2 of 3%sealed%'")" = 1
"$TORWARTD" --home "$H2" signer >>"$T/signer2.log" 2>&1 &
SIGNER2=$!
pids_to_kill+=("$SIGNER2")
for _ in $(seq 1 100); do "$TORWART" ca custodians status --home "$H2" >/dev/null 2>&1 && break; sleep 0.1; done
check "the new home's signer starts inactive" bash -c "'$TORWART' ca custodians status --home '$H2' 2>/dev/null | grep -q 'k=2 n=3 active=no'"
"$TORWART" ca custodian-share --home "$H2" --share "$S2/share-1-of-3.sealed" >"$T/out" 2>&1
check "a sealed share without the custodian's key is refused" grep -q "give --share-key" "$T/out"
"$TORWART" ca custodian-share --home "$H2" --share "$S2/share-1-of-3.sealed" \
	--share-key "$T/ck/k2/k2.custodian.key" >"$T/out" 2>&1
check "another custodian's key does not open it" grep -q "sealed to another custodian's key" "$T/out"
/usr/bin/python3 - "$S2/share-3-of-3.sealed" "$T/altered.sealed" <<'EOF'
import sys
lines = open(sys.argv[1]).read().splitlines()
for i, l in enumerate(lines):
    if l.startswith('box '):
        b = l[4:]
        lines[i] = 'box ' + ('A' if b[10] != 'A' else 'B').join([b[:10], b[11:]])
open(sys.argv[2], 'w').write('\n'.join(lines) + '\n')
EOF
"$TORWART" ca custodian-share --home "$H2" --share "$T/altered.sealed" \
	--share-key "$T/ck/k3/k3.custodian.key" >"$T/out" 2>&1
check "an altered sealed share does not open" grep -q "does not open" "$T/out"
check "k1 enters its share on the host (first activation, break-glass)" \
	"$TORWART" ca custodian-share --home "$H2" --share "$S2/share-1-of-3.sealed" \
	--share-key "$T/ck/k1/k1.custodian.key"
check "k2 enters its share: active" bash -c "'$TORWART' ca custodian-share --home '$H2' \
	--share '$S2/share-2-of-3.sealed' --share-key '$T/ck/k2/k2.custodian.key' | grep -q active"
check "the two entries name the two custodian keys" test "$(sqlite3 "$H2/store.db" \
	"SELECT count(DISTINCT actor) FROM admin_log WHERE action='signer.custodian.share' AND result='ok' AND actor LIKE '%custodian-key:%'")" = 2
check "the activated home issues (gateway add)" "$TORWART" gateway add --home "$H2" --id GW-C2 --out "$T/GW-C2"

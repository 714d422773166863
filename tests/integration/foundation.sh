#!/usr/bin/env bash
# foundation.sh: issue 2 end to end. Real daemons (torwartd all), real clients
# (torwart-sim, openssl s_client, openssl verify, curl, sqlite3), checked independently.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-it-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port)
WAN="127.0.0.1:$WAN_PORT"

# ---- programs answer --help and refuse bad usage with one line
check "torwart --help" "$TORWART" --help
check "torwartd --help" "$TORWARTD" --help
check "torwart-sim --help" "$SIM" --help
check_fails "torwart rejects an unknown command" "$TORWART" frobnicate
check_fails "torwartd rejects a missing home" "$TORWARTD" --home "$T/nope" all

# ---- init
check "torwart init --test-pki" "$TORWART" init --home "$H" --test-pki \
	--wan-listen "$WAN" --api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$(free_port)"
check_fails "init refuses an existing home" "$TORWART" init --home "$H" --test-pki
check "pins file is mode 0600" test "$(stat -c %a "$H/secrets/pins")" = 600
check "token lives under the home" test -d "$H/tokens"
# Every key of the GWA, the CAs and the TLS servers (wan, api) is the signer's.
check "no TLS key file of the wan or the api" test ! -e "$H/pki/gwa-tls.key" -a ! -e "$H/pki/api-tls.key"
check "no private key file in pki/" bash -c "! grep -rl 'PRIVATE KEY' '$H/pki'"
check "openssl verify: Sub-CA chains to the Root-CA" \
	openssl verify -CAfile "$H/pki/root-ca.crt" "$H/pki/sub-ca.crt"
for u in tls sig enc; do
	check "openssl verify: GWA $u certificate" \
		openssl verify -CAfile "$H/pki/root-ca.crt" -untrusted "$H/pki/sub-ca.crt" "$H/pki/gwa-$u.crt"
done
check "Root-CA key is brainpoolP384r1" \
	bash -c "openssl x509 -in '$H/pki/root-ca.crt' -noout -text | grep -q 'brainpoolP384r1'"
check "Sub-CA key is brainpoolP256r1" \
	bash -c "openssl x509 -in '$H/pki/sub-ca.crt' -noout -text | grep -q 'brainpoolP256r1'"

# ---- the stack
"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
SUP=$!
pids_to_kill+=("$SUP")
check "wan listens" wait_port 127.0.0.1 "$WAN_PORT" 20
check "api listens" wait_port 127.0.0.1 "$API_PORT" 20
# The api answers before every child is up on a loaded machine (sanitizer build): give it
# the same 20 s as the listeners.
check "api /health answers ok" bash -c "for i in \$(seq 40); do curl -fsS http://127.0.0.1:$API_PORT/health | grep -q '\"ok\"' && exit 0; sleep 0.5; done; exit 1"

# ---- gateways
for i in 1 2 3; do
	check "gateway add SMGW-IT-000$i" "$TORWART" gateway add --home "$H" --id "SMGW-IT-000$i"
done
check_fails "gateway add refuses a duplicate id" "$TORWART" gateway add --home "$H" --id SMGW-IT-0001 --out "$T/dup"
check "a refused duplicate leaves no directory" test ! -e "$T/dup"
check_fails "gateway add refuses a bad id" "$TORWART" gateway add --home "$H" --id 'bad id/..' --out "$T/bad"
G1="$H/gateways/SMGW-IT-0001"
check "gateway key files are mode 0600" test "$(stat -c %a "$G1/tls.key")" = 600
check "openssl verify accepts the gateway chain" \
	openssl verify -CAfile "$G1/root-ca.crt" -untrusted "$G1/chain.pem" "$G1/tls.crt"
check "gateway list shows the gateways" bash -c "'$TORWART' gateway list --home '$H' | grep -c 'SMGW-IT-000' | grep -qx 3"

# ---- simulator: mutual TLS + session opening
check "torwart-sim opens sessions for 3 gateways" \
	"$SIM" --gwa "$WAN" --gateways "$H/gateways/SMGW-IT-0001" "$H/gateways/SMGW-IT-0002" "$H/gateways/SMGW-IT-0003"
check "torwart-sim --count 3 --home" "$SIM" --count 3 --home "$H"
# wan writes contacts in batches (every 100 ms); give a loaded machine a few seconds.
check "gateway list shows a last contact" bash -c "for i in \$(seq 50); do '$TORWART' gateway list --home '$H' 2>/dev/null | grep SMGW-IT-0001 | grep -q active && exit 0; sleep 0.1; done; exit 1"

# ---- independent TLS client: the TR-03116-3 profile from the outside
sclient() { timeout 10 openssl s_client -connect "$WAN" -brief -CAfile "$G1/root-ca.crt" "$@" </dev/null 2>&1; }
out=$(sclient -cert "$G1/tls.crt" -key "$G1/tls.key" -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 -groups brainpoolP256r1)
echo "$out" >>"$T/log"
if echo "$out" | grep -q "Ciphersuite: ECDHE-ECDSA-AES128-GCM-SHA256" &&
   echo "$out" | grep -q "Protocol version: TLSv1.2" &&
   echo "$out" | grep -qi "Server Temp Key: ECDH, brainpoolP256r1"; then
	ok "s_client: TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256 on brainpoolP256r1 with a gateway key"
else
	bad "s_client: TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256 on brainpoolP256r1 with a gateway key"
fi
# A TLS 1.2 client must offer the curve of the server's certificate (RFC 8422), so every
# client below offers brainpoolP256r1; the server's group preference is checked in
# unit/test_crypto.c with in-memory handshakes.
for suite in ECDHE-ECDSA-AES128-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384; do
	out=$(sclient -cert "$G1/tls.crt" -key "$G1/tls.key" -tls1_2 -cipher "$suite" -groups brainpoolP256r1)
	if echo "$out" | grep -q "Ciphersuite: $suite"; then ok "s_client: profile suite $suite accepted"; else bad "s_client: profile suite $suite accepted"; echo "$out" >>"$T/log"; fi
done
expect_refused() { # what, s_client args...
	local what=$1; shift
	local out
	out=$(sclient "$@")
	echo "$out" >>"$T/log"
	if echo "$out" | grep -q "CONNECTION ESTABLISHED"; then bad "$what"; else ok "$what"; fi
}
expect_refused "s_client: TLS 1.1 refused" -cert "$G1/tls.crt" -key "$G1/tls.key" -tls1_1 -cipher 'ALL:@SECLEVEL=0'
expect_refused "s_client: suite outside the profile (ECDHE-ECDSA-AES256-SHA384) refused" \
	-cert "$G1/tls.crt" -key "$G1/tls.key" -tls1_2 -cipher ECDHE-ECDSA-AES256-SHA384
expect_refused "s_client: client offering only X25519 refused" \
	-cert "$G1/tls.crt" -key "$G1/tls.key" -tls1_2 -groups X25519
expect_refused "s_client: no client certificate refused" -tls1_2 -groups brainpoolP256r1
expect_refused "s_client: TLS 1.3 refused (OpenSSL < 3.2 has no brainpool TLS 1.3 groups)" \
	-cert "$G1/tls.crt" -key "$G1/tls.key" -tls1_3

# A foreign CA: a complete brainpool PKI that is not ours.
F="$T/foreign"; mkdir -p "$F"
(
	cd "$F" &&
	openssl ecparam -name brainpoolP256r1 -genkey -noout -out ca.key &&
	openssl req -x509 -new -key ca.key -subj "/CN=Foreign CA/O=Elsewhere/C=DE" -days 30 -out ca.crt \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign &&
	openssl ecparam -name brainpoolP256r1 -genkey -noout -out gw.key &&
	openssl req -new -key gw.key -subj "/CN=SMGW-IT-0001/O=SM-PKI-DE/C=DE" -out gw.csr &&
	openssl x509 -req -in gw.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 10 -out gw.crt \
		-extfile <(printf 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n')
) >>"$T/log" 2>&1
expect_refused "s_client: client certificate from a foreign CA refused" -cert "$F/gw.crt" -key "$F/gw.key" -tls1_2 -groups brainpoolP256r1

# Unknown gateway: a valid chain whose certificate is not in the inventory.
check "remove SMGW-IT-0003's certificates from the inventory" \
	sqlite3 "$H/store.db" "DELETE FROM certificates WHERE owner_id='SMGW-IT-0003'"
G3="$H/gateways/SMGW-IT-0003"
expect_refused "s_client: gateway unknown to the inventory refused" -cert "$G3/tls.crt" -key "$G3/tls.key" -tls1_2 -groups brainpoolP256r1
check_fails "torwart-sim fails for the unknown gateway" "$SIM" --gwa "$WAN" --gateways "$G3"

# curl speaks the WAN protocol with a gateway's identity.
check "curl POST /v1/session as SMGW-IT-0002 gets 200" bash -c "
	curl -fsS --cacert '$H/gateways/SMGW-IT-0002/root-ca.crt' --cert '$H/gateways/SMGW-IT-0002/tls.crt' \
	  --key '$H/gateways/SMGW-IT-0002/tls.key' --curves brainpoolP256r1 --tlsv1.2 --tls-max 1.2 \
	  -H 'Content-Type: application/json' \
	  -d '{\"gateway_id\":\"SMGW-IT-0002\",\"firmware_version\":\"1.0\",\"time\":\"2026-11-24T00:00:00Z\"}' \
	  https://localhost:$WAN_PORT/v1/session | grep -q '\"protocol\"'"
check "curl: a body naming another gateway gets 403" bash -c "
	code=\$(curl -sS -o /dev/null -w '%{http_code}' --cacert '$H/gateways/SMGW-IT-0002/root-ca.crt' \
	  --cert '$H/gateways/SMGW-IT-0002/tls.crt' --key '$H/gateways/SMGW-IT-0002/tls.key' \
	  --curves brainpoolP256r1 --tlsv1.2 --tls-max 1.2 -H 'Content-Type: application/json' \
	  -d '{\"gateway_id\":\"SMGW-IT-0001\",\"firmware_version\":\"1.0\",\"time\":\"2026-11-24T00:00:00Z\"}' \
	  https://localhost:$WAN_PORT/v1/session); test \"\$code\" = 403"

# A revoked gateway (Sub-CA revocation, issue 3) is refused at the handshake.
G2="$H/gateways/SMGW-IT-0002"
SERIAL2=$(openssl x509 -in "$G2/tls.crt" -noout -serial | cut -d= -f2)
check "torwart ca revoke the TLS certificate of SMGW-IT-0002" \
	"$TORWART" ca revoke "$SERIAL2" --home "$H" --reason keyCompromise
expect_refused "s_client: revoked gateway certificate refused" -cert "$G2/tls.crt" -key "$G2/tls.key" -tls1_2 -groups brainpoolP256r1
check_fails "torwart-sim fails for the revoked gateway" "$SIM" --gwa "$WAN" --gateways "$G2"

# Session resumption (48 h lifetime).
sclient -cert "$G1/tls.crt" -key "$G1/tls.key" -tls1_2 -groups brainpoolP256r1 -sess_out "$T/sess.pem" >/dev/null
out=$(timeout 10 openssl s_client -connect "$WAN" -CAfile "$G1/root-ca.crt" -cert "$G1/tls.crt" -key "$G1/tls.key" \
	-tls1_2 -groups brainpoolP256r1 -sess_in "$T/sess.pem" </dev/null 2>&1)
echo "$out" >>"$T/log"
if echo "$out" | grep -q "^Reused"; then ok "s_client: TLS session resumed"; else bad "s_client: TLS session resumed"; fi
if echo "$out" | grep -q "lifetime hint: 172800"; then ok "session lifetime is 48 h"; else bad "session lifetime is 48 h"; echo "$out" | grep -i timeout >>"$T/log"; fi

# ---- admin log: connections, refusals, signatures, administrative commands
sleep 2
count() { sqlite3 "$H/store.db" "SELECT count(*) FROM admin_log WHERE $1"; }
check "admin log records wan connections" test "$(count "action='wan.connect'")" -gt 0
check "admin log records refusals with a reason" test "$(count "action='wan.refuse' AND detail<>''")" -ge 4
check "admin log names the revocation as the reason" test "$(count "action='wan.refuse' AND detail LIKE '%revoked%'")" -ge 1
check "admin log records signatures" test "$(count "action='signer.sign'")" -ge 9
check "admin log records administrative commands" test "$(count "action='gateway.add'")" -ge 3
check "audit verify: intact" "$TORWART" audit verify --home "$H"

# ---- supervision: a crashed service comes back
WAN_PID=$(ss -ltnpH "sport = :$WAN_PORT" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2)
check "found the wan process" test -n "$WAN_PID"
kill -KILL "$WAN_PID" 2>/dev/null
for _ in $(seq 1 20); do ss -ltn "sport = :$WAN_PORT" | grep -q LISTEN || break; sleep 0.1; done
check "supervisor restarts a killed wan" wait_port 127.0.0.1 "$WAN_PORT" 15
check "the outage raised an alert for the system administrators" \
	test "$(count "action='alert.outage' AND object='wan' AND error_code='system-administrator'")" -ge 1
check "sessions work after the restart" "$SIM" --gwa "$WAN" --gateways "$G1"

# ---- clean shutdown
kill -TERM "$SUP"
stopped=no
for _ in $(seq 1 120); do kill -0 "$SUP" 2>/dev/null || { stopped=yes; break; }; sleep 0.1; done
check "torwartd all stops cleanly on SIGTERM" test "$stopped" = yes
check "no service survives the supervisor" bash -c "! pgrep -f '[t]orwartd --home $H' >/dev/null"
check "signer removed its socket" test ! -e "$H/run/signer.sock"

# ---- tampering is detected and named
# An attacker with file access drops the append-only triggers first.
drop_log_triggers "$H/store.db"
check "tamper with entry 5" sqlite3 "$H/store.db" "UPDATE admin_log SET detail='nothing happened' WHERE seq=5"
out=$("$TORWART" audit verify --home "$H" 2>&1); rc=$?
echo "$out" >>"$T/log"
if [ $rc -eq 3 ] && echo "$out" | grep -q "entry 5"; then ok "audit verify fails and names entry 5"; else bad "audit verify fails and names entry 5 (rc=$rc: $out)"; fi

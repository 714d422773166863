#!/usr/bin/env bash
# api_trust.sh: issue 9, items 7 and 9 at the operator API's door.
#  - a revoked operator certificate fails the TLS handshake itself (openssl s_client),
#    within a second of the operator CRL changing;
#  - a request without a live session cannot make the api buffer more than the
#    pre-authentication body limit (413), one with a session can send the full body
#    (curl waits for "100 Continue", so a 413 arrives before any body byte is sent);
#  - failed logins are counted per client IP, not IP:port: 4 x max_failures failures of
#    other operators from one address lock the address for everybody there, and a
#    locked client is refused without a store write.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-apitrust-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT
db() { sqlite3 "$H/store.db" "$1"; }

WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)
API="https://127.0.0.1:$TLS_PORT"
check "init" "$TORWART" init --home "$H" --test-pki --wan-listen "127.0.0.1:$WAN_PORT" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"
printf '\n[auth]\nmax_failures = 3\n' >>"$H/torwart.conf"
bootstrap_operators "$H" "$T" op1:alpha:gateway-operator op2:alpha:gateway-operator \
	op3:alpha:gateway-operator op4:alpha:gateway-operator op5:alpha:gateway-operator \
	op6:alpha:gateway-operator op7:alpha:gateway-operator
"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "operator API listens" wait_port 127.0.0.1 "$TLS_PORT" 20

# openssl s_client as operator NAME: exit 0 when the handshake completes.
handshake() {
	timeout 10 openssl s_client -connect "127.0.0.1:$TLS_PORT" -tls1_2 \
		-cipher ECDHE-ECDSA-AES128-GCM-SHA256 -groups brainpoolP256r1:P-256 \
		-cert "$T/$1/$1.crt" -key "$T/$1/$1.key" -CAfile "$H/pki/operator-ca.crt" \
		</dev/null >"$T/sclient.$1" 2>&1 || return 1
	grep -q "Verify return code: 0" "$T/sclient.$1" && ! grep -qi "alert" "$T/sclient.$1"
}
# ---- item 9: revoked certificate
check "op2's certificate completes the handshake before revocation" handshake op2
check "break-glass disable of op2 (revokes, republishes the operator CRL)" \
	"$TORWART" operator disable --home "$H" --name op2 --reason test
check "the operator CRL lists op2's certificate" bash -c \
	"openssl crl -in '$H/crl/operator.crl' -inform DER -noout -text 2>/dev/null | grep -q 'Serial Number' || openssl crl -in '$H/crl/operator.crl' -noout -text | grep -q 'Serial Number'"
sleep 1.2   # the api looks at the CRL file at most once a second
check_fails "op2's revoked certificate fails the TLS handshake" handshake op2
check "... with a certificate-revoked alert" grep -qi "certificate revoked" "$T/sclient.op2"
check "... logged by the api" grep -q "operator certificate is revoked" "$T/torwartd.log"
check "op1's certificate still completes the handshake" handshake op1

# ---- item 9: body limit before authentication
head -c 1048576 /dev/zero | tr '\0' 'a' >"$T/big.body"
code=$(curl -sk --curves brainpoolP256r1:P-256 -o /dev/null -w '%{http_code}' --max-time 20 --cert "$T/op1/op1.crt" \
	--key "$T/op1/op1.key" -H 'Content-Type: application/json' -H 'Expect: 100-continue' --data-binary "@$T/big.body" \
	"$API/v1/commands")
echo "# 1 MiB without a session: HTTP $code"
check "1 MiB body without a session: 413 before authentication" test "$code" = 413
check "login op1" "$TORWART" login --api "$API" --cert "$T/op1/op1.crt" --key "$T/op1/op1.key" \
	--password-file "$T/op1.pw" --token-file "$T/op1.session"
TOKEN=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$T/op1.session")
code=$(curl -sk --curves brainpoolP256r1:P-256 -o "$T/big.out" -w '%{http_code}' --max-time 60 --cert "$T/op1/op1.crt" \
	--key "$T/op1/op1.key" -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: application/json' -H 'Expect: 100-continue' --data-binary "@$T/big.body" "$API/v1/commands")
echo "# 1 MiB with op1's session: HTTP $code"
check "1 MiB body with a live session: read and judged (400, not 413)" test "$code" = 400
code=$(curl -sk --curves brainpoolP256r1:P-256 -o /dev/null -w '%{http_code}' --max-time 20 --cert "$T/op3/op3.crt" \
	--key "$T/op3/op3.key" -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: application/json' -H 'Expect: 100-continue' --data-binary "@$T/big.body" "$API/v1/commands")
check "op1's token with op3's certificate does not lift the limit (413)" test "$code" = 413

# ---- item 7: login throttling per IP
login() { # NAME PASSWORD-FILE
	"$TORWART" login --api "$API" --cert "$T/$1/$1.crt" --key "$T/$1/$1.key" \
		--password-file "$2" --token-file "$T/$1.session" >"$T/out" 2>&1
}
printf 'wrong-password\n' >"$T/wrong.pw"
# max_failures = 3 per operator, 4 x 3 = 12 per address: three failures each of four
# operators (a locked certificate is refused before it counts against the address).
n=0
for name in op3 op4 op6 op7; do
	for i in 1 2 3; do
		n=$((n + 1))
		check_fails "$name: wrong password (failure $n from 127.0.0.1)" login "$name" "$T/wrong.pw"
	done
done
check "failures are counted per address without the port" \
	test "$(db "SELECT count(*) FROM auth_failures WHERE kind='address' AND subject='127.0.0.1'")" = 1
check "... and no per-port rows" \
	test "$(db "SELECT count(*) FROM auth_failures WHERE kind='address' AND subject LIKE '%:%'")" = 0
check_fails "op5 with the right password is refused: the address is locked" login op5 "$T/op5.pw"
check "... saying why" grep -q "too many failed logins" "$T/out"
before=$(db "SELECT count(*) FROM admin_log")
check_fails "a further attempt is refused" login op5 "$T/op5.pw"
check "... in memory, without a store write" test "$(db "SELECT count(*) FROM admin_log")" = "$before"
finish

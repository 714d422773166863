#!/usr/bin/env bash
# trust_sites.sh: every place that accepts a participant certificate of another Sub-CA
# checks it against that Sub-CA's current CRL (pki/trust.h trust_check): the web service
# (the caller's TLS client certificate), the wan's EMT interface (EMT TLS client
# certificates) and the metering deliverer (the EMT endpoint's TLS server certificate). Home B, another Sub-CA, issues two EMTs their TLS certificates and serves
# its CRL; home A trusts B ([trust]) and a third home C's chain only for TLS. At both of
# A's sites: B's EMT is refused before A has B's CRL (fail closed), accepted with it,
# refused once B has revoked it (and the other EMT still accepted), C's EMT (an issuer
# outside [trust]) is refused, and every B certificate is refused when B's CRL is stale;
# each refusal is in A's admin log and nothing is stored for it. A metering message for a
# refused EMT stays pending and is never received (emt_receiver.py serves the EMT's
# certificate). B's callback identity, pinned at A as remote Sub-CA "b", is identified while
# B's CRL is current and refused (403, logged) once B has revoked it.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-trustsites-XXXXXX)
A="$T/a"; B="$T/b"; C="$T/c"
trap 'finish; exit $?' EXIT

SHARED=${TORWART_SHARED:-$TORWART_SOURCE/../shared}
WSDL="$SHARED/reference/sm-pki/WSDL_TR-03129-4_v1.3.1_Smartmeter.wsdl"
if [ ! -f "$WSDL" ]; then
	echo "SKIP: $WSDL absent (../shared not available): the web service needs the BSI WSDL"
	rm -rf "$T"; trap - EXIT; exit 77
fi
A_API=$(free_port); B_API=$(free_port); A_WAN=$(free_port); WS_PORT=$(free_port)
dba() { sqlite3 "$A/store.db" "$1"; }
count_log_a() { dba "SELECT count(*) FROM admin_log WHERE $1"; }

check "home A (this Torwart)" "$TORWART" init --home "$A" --test-pki --api-listen "127.0.0.1:$A_API" \
	--wan-listen "127.0.0.1:$A_WAN" --api-tls-listen "127.0.0.1:$(free_port)"
check "home B (another Sub-CA)" "$TORWART" init --home "$B" --test-pki --api-listen "127.0.0.1:$B_API" \
	--wan-listen "127.0.0.1:$(free_port)" --api-tls-listen "127.0.0.1:$(free_port)"
check "home C (a Sub-CA A does not trust)" "$TORWART" init --home "$C" --test-pki \
	--api-listen "127.0.0.1:$(free_port)" --wan-listen "127.0.0.1:$(free_port)" \
	--api-tls-listen "127.0.0.1:$(free_port)"
printf '\n[ca]\ncrl_check_interval = 1\n' >>"$B/torwart.conf"

issue_emt() { # home name mpid cn
	local h=$1 name=$2 serial
	"$TORWART" ca register --home "$h" --name "$name" --org "$name org" --role emt \
		--mp-id "$3" --cn "$4" >>"$T/log" 2>&1 || return 1
	"$TORWART" req initial --cn "$4" --ou "$3" --role EMT --key-dir "$T/$name" --format der \
		--out "$T/$name.req" >>"$T/log" 2>&1 || return 1
	"$TORWART" ca issue --home "$h" --request "$T/$name.req" --participant "$name" \
		>>"$T/log" 2>&1 || return 1
	serial=$(sqlite3 "$h/store.db" "SELECT serial_hex FROM certificates WHERE owner_id='$name' AND usage='TLS'")
	[ -n "$serial" ] || return 1
	echo "$serial" >"$T/$name.serial"
	"$TORWART" ca export "$serial" --home "$h" --out "$T/$name.crt" >>"$T/log" 2>&1
}
check "B issues EMT X its TLS certificate" issue_emt "$B" emt-x 9900000000041 X.EMT.SITES
check "B issues EMT Y its TLS certificate" issue_emt "$B" emt-y 9900000000042 Y.EMT.SITES
check "C issues EMT Z its TLS certificate" issue_emt "$C" emt-z 9900000000043 Z.EMT.SITES
# B's web-service identity: A pins it as remote Sub-CA "b" ([ws.remote.b] peer_cert), the
# certificate B would call A's SendCertificates with; its issuer (B) is in A's [trust].
check "B issues its callback identity a TLS certificate" issue_emt "$B" b-ws 9900000000044 B.WS.SITES

# A: TLS verification of clients accepts the chains of A, B and C; [trust] names B only.
cat "$A/pki/chain.pem" "$B/pki/chain.pem" "$C/pki/chain.pem" >"$A/pki/sites-trust.pem"
sed -i 's|^trust = pki/chain.pem$|trust = pki/sites-trust.pem|' "$A/torwart.conf"   # [wan]
cat >>"$A/torwart.conf" <<EOF2

[ws]
listen = 127.0.0.1:$WS_PORT
wsdl = $WSDL
trust = pki/sites-trust.pem
remotes = b

[ws.remote.b]
url = https://localhost:1/
peer_cert = $T/b-ws.crt

[trust]
anchors = pki/root-ca.crt $B/pki/root-ca.crt
cas = $B/pki/sub-ca.crt
refresh_interval = 1
refetch_after = 1

[metering]
trust = pki/sites-trust.pem
retry_base_ms = 600000
EOF2
"$TORWARTD" --home "$A" all >>"$T/a.log" 2>&1 &
pids_to_kill+=("$!")
check "A's web service listens" wait_port 127.0.0.1 "$WS_PORT" 20
check "A's wan listens" wait_port 127.0.0.1 "$A_WAN" 20
check "... its TLS trust names B's and C's chains" grep -q '^trust = pki/sites-trust.pem' "$A/torwart.conf"

TLSOPT=(--curves brainpoolP256r1 --tlsv1.2 --tls-max 1.2 --cacert "$A/pki/chain.pem" -sS --max-time 20)
ENV='<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="uri://bsi.bund.de/Smart-Meter-PKI-Protocol/1.3"><s:Body>'
printf '%s' "${ENV}<t:GetServiceStatus_Req><t:messageID>1</t:messageID></t:GetServiceStatus_Req></s:Body></s:Envelope>" >"$T/st.xml"
printf '%s' "${ENV}<t:RequestCertificate_Req><t:callbackIndicator>callback_not_possible</t:callbackIndicator><t:certReq>$(base64 -w0 "$T/emt-x.req")</t:certReq></t:RequestCertificate_Req></s:Body></s:Envelope>" >"$T/rc.xml"
# ws_call WHO FILE: prints the HTTP status; the answer is in $T/ans.
ws_call() {
	curl "${TLSOPT[@]}" --cert "$T/$1.crt" --key "$T/$1/tls.key" -o "$T/ans" -w '%{http_code}' \
		-H 'Content-Type: text/xml' --data-binary @"$2" "https://localhost:$WS_PORT/" 2>>"$T/log"
}
# wan_call WHO: the HTTP status of an EMT route (000: the handshake was refused).
wan_call() {
	curl "${TLSOPT[@]}" --cert "$T/$1.crt" --key "$T/$1/tls.key" -o "$T/wans" -w '%{http_code}' \
		"https://localhost:$A_WAN/v1/emt/cls-requests/1" 2>>"$T/log"
}

# Metering deliveries: EMT endpoints serving the EMTs' own TLS certificates; a message is
# put into A's store as received from a gateway (the deliverer only forwards its body).
HERE=$(dirname "$0")
for who in emt-x emt-y emt-z; do
	eval "PORT_${who#emt-}=$(free_port)"
done
start_emt() { # who port
	mkdir -p "$T/rx-$1"
	/usr/bin/python3 "$HERE/emt_receiver.py" "$2" "$T/$1.crt" "$T/$1/tls.key" "$A/pki/chain.pem" \
		"$T/rx-$1" >>"$T/$1.rx.log" 2>&1 &
	pids_to_kill+=("$!")
	for _ in $(seq 1 50); do [ -f "$T/rx-$1/ready" ] && return 0; sleep 0.1; done
	return 1
}
check "EMT X's endpoint (B's certificate)" start_emt emt-x "$PORT_x"
check "EMT Y's endpoint (B's certificate)" start_emt emt-y "$PORT_y"
check "EMT Z's endpoint (C's certificate)" start_emt emt-z "$PORT_z"
check "A knows the three endpoints" bash -c "'$TORWART' metering endpoint --home '$A' --emt 9900000000041 --url https://localhost:$PORT_x/m && '$TORWART' metering endpoint --home '$A' --emt 9900000000042 --url https://localhost:$PORT_y/m && '$TORWART' metering endpoint --home '$A' --emt 9900000000043 --url https://localhost:$PORT_z/m"
NMSG=0
# put_msg MPID: a pending message for that EMT; its message id is in $MSG.
put_msg() {
	NMSG=$((NMSG + 1)); MSG="sites-$NMSG"
	dba "INSERT INTO metering_messages (gateway_id, message_id, kind, emt_id, metering_point, sha256, body, received_ms, state) VALUES ('GW-SITES', '$MSG', 'tariffed', '$1', 'DE0000000000000000000000000000001', '$(printf '%064d' "$NMSG")', 'metering body $NMSG', $(date +%s%3N), 'pending')"
}
# msg_refused MSG WORD: the delivery failed (last_error names WORD), still pending.
msg_refused() {
	for _ in $(seq 1 100); do
		[ "$(dba "SELECT count(*) FROM metering_messages WHERE message_id = '$1' AND state = 'pending' AND attempts >= 1 AND last_error LIKE '%$2%'")" = 1 ] && return 0
		sleep 0.2
	done
	dba "SELECT state, attempts, last_error FROM metering_messages WHERE message_id = '$1'" >&2
	return 1
}
msg_delivered() { # MSG
	for _ in $(seq 1 100); do
		[ "$(dba "SELECT count(*) FROM metering_messages WHERE message_id = '$1' AND state = 'delivered'")" = 1 ] && return 0
		sleep 0.2
	done
	return 1
}
received() { grep -q " GW-SITES/$2 " "$T/rx-$1/received.log" 2>/dev/null; }

# ---- no CRL of B yet (B is not running): refused at both sites (fail closed); the
# source is recorded
out=$(ws_call emt-x "$T/st.xml")
check "ws: B's EMT is refused while A has no CRL of B (403 fault)" bash -c \
	"test '$out' = 403 && grep -q 'no CRL' '$T/ans'"
out=$(wan_call emt-x)
check "wan: B's EMT is refused while A has no CRL of B (handshake refused)" test "$out" = 000
check "A records the certificate's distribution point as the CRL source" test \
	"$(dba "SELECT count(*) FROM trust_crls WHERE url = 'http://127.0.0.1:$B_API/crl/sub-ca.crl'")" = 1
# B starts only now: until then no fetch can succeed, so both refusals above are certain.
"$TORWARTD" --home "$B" all >>"$T/b.log" 2>&1 &
B_PID=$!; pids_to_kill+=("$B_PID")
check "B's api serves its CRL" bash -c \
	"for _ in \$(seq 1 100); do curl -fsS -o /dev/null http://127.0.0.1:$B_API/crl/sub-ca.crl 2>/dev/null && exit 0; sleep 0.2; done; exit 1"

check "A's worker fetches B's CRL" bash -c \
	"for _ in \$(seq 1 100); do [ \"\$(sqlite3 '$A/store.db' \"SELECT count(*) FROM trust_crls WHERE url = 'http://127.0.0.1:$B_API/crl/sub-ca.crl' AND der IS NOT NULL\")\" = 1 ] && exit 0; sleep 0.2; done; exit 1"

# ---- with B's current CRL: accepted where the role allows
for who in emt-x emt-y; do
	out=$(ws_call "$who" "$T/st.xml")
	check "ws: $who of B calls GetServiceStatus -> ok_received_correctly" bash -c \
		"test '$out' = 200 && grep -q '>ok_received_correctly<' '$T/ans'"
	out=$(wan_call "$who")
	check "wan: $who of B reaches the EMT routes (404 for a request it does not have)" test "$out" = 404
done
check "ws: logged as ws.GetServiceStatus by sm-pki:<CA>/<CN>" test \
	"$(count_log_a "action = 'ws.GetServiceStatus' AND actor LIKE 'sm-pki:%/X.EMT.SITES' AND result = 'ok'")" -ge 1
sleep 0.4   # the wan writes its admin log in batches
check "wan: the EMT's connection is logged with its market partner id" test \
	"$(count_log_a "action = 'wan.connect' AND actor = 'emt:9900000000041'")" -ge 1
out=$(ws_call b-ws "$T/st.xml")
check "ws: the pinned remote Sub-CA b (CRL current) is identified as remote (only SendCertificates)" \
	bash -c "test '$out' = 403 && grep -q 'may only call SendCertificates' '$T/ans' && ! grep -q 'certificate is refused' '$T/ans'"
put_msg 9900000000041
check "metering: a message for X (of B) is delivered to X's endpoint" msg_delivered "$MSG"
check "... and X's endpoint received it" received emt-x "$MSG"
put_msg 9900000000043
check "metering: a message for Z (issuer not in [trust]) stays pending, refused" \
	msg_refused "$MSG" "not a trusted CA"
check "... Z's endpoint received nothing" test ! -e "$T/rx-emt-z/received.log"
certs_before=$(dba "SELECT count(*) FROM certificates")
out=$(ws_call emt-x "$T/rc.xml")
check "ws: a participant of another Sub-CA may not RequestCertificate here (403 fault)" test "$out" = 403
check "... nothing was issued" test "$(dba "SELECT count(*) FROM certificates")" = "$certs_before"

# ---- an issuer outside [trust]: refused at both sites
out=$(ws_call emt-z "$T/st.xml")
check "ws: C's EMT (issuer not in [trust]) is refused (403 fault)" test "$out" = 403
out=$(wan_call emt-z)
check "wan: C's EMT (issuer not in [trust]) is refused" test "$out" = 000

# ---- B revokes X: refused at both sites once A's refreshed CRL says so; Y still accepted
# b's first: once A's CRL lists X it lists b's certificate too
check "B revokes its callback identity's certificate" "$TORWART" ca revoke "$(cat "$T/b-ws.serial")" --home "$B" --reason keyCompromise
check "B revokes X's certificate" "$TORWART" ca revoke "$(cat "$T/emt-x.serial")" --home "$B" --reason keyCompromise
check "ws: A refuses the revoked X after its next fetch" bash -c \
	"for _ in \$(seq 1 100); do c=\$(curl ${TLSOPT[*]} --cert '$T/emt-x.crt' --key '$T/emt-x/tls.key' -o '$T/ans' -w '%{http_code}' -H 'Content-Type: text/xml' --data-binary @'$T/st.xml' https://localhost:$WS_PORT/ 2>/dev/null); [ \"\$c\" = 403 ] && grep -q revoked '$T/ans' && exit 0; sleep 0.3; done; exit 1"
check "... logged as refused: revoked" test \
	"$(count_log_a "action LIKE 'ws.%' AND result = 'refused' AND detail LIKE '%revoked (CRL%'")" -ge 1
out=$(wan_call emt-x)
check "wan: the revoked X is refused (handshake refused)" test "$out" = 000
sleep 0.4
check "... logged as wan.refuse: certificate revoked" test \
	"$(count_log_a "action = 'wan.refuse' AND detail LIKE 'certificate revoked%'")" -ge 1
out=$(ws_call b-ws "$T/st.xml")
check "ws: the pinned remote Sub-CA b with a revoked certificate is refused (403 fault)" \
	bash -c "test '$out' = 403 && grep -q 'remote Sub-CA.s certificate is refused' '$T/ans' && grep -q revoked '$T/ans'"
check "... logged as refused by remote-ca:b" test \
	"$(count_log_a "actor = 'remote-ca:b' AND result = 'refused' AND detail LIKE '%remote Sub-CA%refused%revoked%'")" -ge 1
put_msg 9900000000041
check "metering: a message for the revoked X stays pending, refused as revoked" \
	msg_refused "$MSG" "revoked"
check "... X's endpoint did not receive it" bash -c "! grep -q ' GW-SITES/$MSG ' '$T/rx-emt-x/received.log'"
check "... the refusal is logged (metering.deliver error)" test \
	"$(count_log_a "action = 'metering.deliver' AND result = 'error' AND detail LIKE '%another Sub-CA is refused%revoked%'")" -ge 1
put_msg 9900000000042
check "metering: a message for Y (not revoked) is still delivered" msg_delivered "$MSG"
out=$(ws_call emt-y "$T/st.xml")
check "ws: Y (not revoked) is still accepted" test "$out" = 200
out=$(wan_call emt-y)
check "wan: Y (not revoked) is still accepted" test "$out" = 404

# ---- B's CRL stale and B unreachable: every B certificate refused (fail closed)
kill -TERM "$B_PID"; wait "$B_PID" 2>/dev/null
dba "UPDATE trust_crls SET next_update = 1000, this_update = 500 WHERE url LIKE '%/crl/sub-ca.crl'"
out=$(ws_call emt-y "$T/st.xml")
check "ws: with B's CRL stale, Y is refused (403 fault, the CRL is stale)" bash -c \
	"test '$out' = 403 && grep -q stale '$T/ans'"
out=$(wan_call emt-y)
check "wan: with B's CRL stale, Y is refused" test "$out" = 000
sleep 0.4
check "... both refusals logged as stale" test \
	"$(count_log_a "result = 'refused' AND detail LIKE '%stale%' AND (action LIKE 'ws.%' OR action = 'wan.refuse')")" -ge 2
put_msg 9900000000042
check "metering: with B's CRL stale, a message for Y stays pending, refused" \
	msg_refused "$MSG" "stale"
check "... Y's endpoint did not receive it" bash -c "! grep -q ' GW-SITES/$MSG ' '$T/rx-emt-y/received.log'"
check "... the refusal is logged (metering.deliver error, stale)" test \
	"$(count_log_a "action = 'metering.deliver' AND result = 'error' AND detail LIKE '%stale%'")" -ge 1
check "nothing was issued for any refused call" test "$(dba "SELECT count(*) FROM certificates")" = "$certs_before"

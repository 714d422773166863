#!/usr/bin/env bash
# delivery_note.sh: the electronic delivery note (certificate information service, S-6):
# a JSON document listing the certificates of one request (serial, subject, usage,
# validity, SHA-256 fingerprint, request reference), signed as CMS with the GWA/CA SIG key
# through the signer (purpose delivery-note). From `torwart ca delivery-note SERIAL` and
# from the web service's GeneralMessage (subject DeliveryNote, body the serial): both
# verify with `openssl cms -verify` against the test Root and list what was issued; a
# tampered note does not verify; another participant's serial is refused; the signer
# logs each signature with its purpose.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-note-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

SHARED=${TORWART_SHARED:-$TORWART_SOURCE/../shared}
WSDL="$SHARED/reference/sm-pki/WSDL_TR-03129-4_v1.3.1_Smartmeter.wsdl"
if [ ! -f "$WSDL" ]; then
	echo "SKIP: $WSDL absent (../shared not available): the web service needs the BSI WSDL"
	rm -rf "$T"; trap - EXIT; exit 77
fi
count_log() { sqlite3 "$H/store.db" "SELECT count(*) FROM admin_log WHERE $1"; }

check "torwart init --test-pki" "$TORWART" init --home "$H" --test-pki \
	--wan-listen "127.0.0.1:$(free_port)" --api-listen "127.0.0.1:$(free_port)" \
	--api-tls-listen "127.0.0.1:$(free_port)"
check "init allows the delivery-note purpose to the GWA SIG key" \
	grep -q '^policy.gwa-sig = .*delivery-note' "$H/torwart.conf"
issue() { # name mpid cn
	"$TORWART" ca register --home "$H" --name "$1" --org "$1 org" --role emt --mp-id "$2" \
		--cn "$3" >>"$T/log" 2>&1 || return 1
	"$TORWART" req initial --cn "$3" --ou "$2" --role EMT --key-dir "$T/$1" --format der \
		--out "$T/$1.req" >>"$T/log" 2>&1 || return 1
	"$TORWART" ca issue --home "$H" --request "$T/$1.req" --participant "$1" >>"$T/log" 2>&1 || return 1
	sqlite3 "$H/store.db" "SELECT serial_hex FROM certificates WHERE owner_id='$1' AND usage='TLS'" >"$T/$1.serial"
	"$TORWART" ca export "$(cat "$T/$1.serial")" --home "$H" --out "$T/$1.crt" >>"$T/log" 2>&1
}
check "participant A with its certificates" issue emt-a 9900000000061 A.EMT.NOTE
check "participant B with its certificates" issue emt-b 9900000000062 B.EMT.NOTE
SA=$(cat "$T/emt-a.serial")

# ---- the CLI
check "torwart ca delivery-note SERIAL --out" "$TORWART" ca delivery-note "$SA" --home "$H" --out "$T/note.der"
check "openssl cms -verify: the note verifies against the test Root" bash -c \
	"openssl cms -verify -inform DER -in '$T/note.der' -CAfile '$H/pki/chain.pem' -out '$T/note.json'"
check "... signed by the GWA SIG certificate" bash -c \
	"openssl cms -cmsout -print -inform DER -in '$T/note.der' | grep -A3 'sid:' | grep -q 'serialNumber'; openssl cms -verify -inform DER -in '$T/note.der' -CAfile '$H/pki/chain.pem' -signer '$T/signer.pem' -out /dev/null && cmp -s <(openssl x509 -in '$T/signer.pem' -outform DER) <(openssl x509 -in '$H/pki/gwa-sig.crt' -outform DER)"
check "... it lists the three certificates of A's request (TLS, SIG, ENC) with serials" bash -c \
	"for s in \$(sqlite3 '$H/store.db' \"SELECT serial_hex FROM certificates WHERE owner_id='emt-a'\"); do grep -q \"\\\"serial\\\": \\\"\$s\\\"\" '$T/note.json' || exit 1; done; test \$(grep -c '\"serial\"' '$T/note.json') = 3"
check "... with subject, validity, SHA-256 fingerprint and the request reference" bash -c \
	"/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); c=[x for x in d[\"certificates\"] if x[\"usage\"]==\"TLS\"][0]; assert d[\"format\"]==\"torwart-delivery-note-1\"; assert c[\"subject\"].endswith(\"CN=A.EMT.NOTE\"); assert c[\"not_after\"] > c[\"not_before\"]; assert len(c[\"sha256_fingerprint\"])==64; assert d[\"request\"][\"participant\"]==\"emt-a\" and len(d[\"request\"][\"sha256\"])==64' '$T/note.json'"
check "... the fingerprint is the certificate's" bash -c \
	"grep -qi \"\$(openssl x509 -in '$T/emt-a.crt' -outform DER | sha256sum | cut -c1-64)\" '$T/note.json'"
cp "$T/note.der" "$T/tampered.der"
# Change one byte of the embedded content (the first "valid" becomes "vblid").
/usr/bin/python3 -c 'import sys; b=open(sys.argv[1],"rb").read(); i=b.index(b"\"valid\""); open(sys.argv[1],"wb").write(b[:i+2]+b"b"+b[i+3:])' "$T/tampered.der"
check_fails "a tampered note does not verify" openssl cms -verify -inform DER -in "$T/tampered.der" \
	-CAfile "$H/pki/chain.pem" -out /dev/null
check_fails "an unknown serial has no note" "$TORWART" ca delivery-note 0badc0ffee --home "$H" --out "$T/none.der"
check "... and nothing was written" test ! -e "$T/none.der"
check "the signature is in the admin log with its purpose" test \
	"$(count_log "action = 'signer.sign' AND detail LIKE 'purpose=delivery-note%'")" -ge 1

# ---- the web service: GeneralMessage subject DeliveryNote
# The port is taken just before the start: a free port found long before can be taken by
# another test meanwhile (it once was under the sanitizer run, and every ws check then
# spoke to that other server).
WS_PORT=$(free_port)
printf '\n[ws]\nlisten = 127.0.0.1:%s\nwsdl = %s\n' "$WS_PORT" "$WSDL" >>"$H/torwart.conf"
"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "torwartd all starts the web service" wait_port 127.0.0.1 "$WS_PORT" 20
TLSOPT=(--curves brainpoolP256r1 --tlsv1.2 --tls-max 1.2 --cacert "$H/pki/chain.pem" -sS --max-time 30)
ENV='<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="uri://bsi.bund.de/Smart-Meter-PKI-Protocol/1.3"><s:Body>'
gm() { # who callerID serial -> HTTP status, answer in $T/ans
	printf '%s' "${ENV}<t:GeneralMessage_Req><t:callerID>$2</t:callerID><t:messageID>n1</t:messageID><t:subject>DeliveryNote</t:subject><t:body>$3</t:body></t:GeneralMessage_Req></s:Body></s:Envelope>" >"$T/gm.xml"
	curl "${TLSOPT[@]}" --cert "$T/$1.crt" --key "$T/$1/tls.key" -o "$T/ans" -w '%{http_code}' \
		-H 'Content-Type: text/xml' --data-binary @"$T/gm.xml" "https://localhost:$WS_PORT/" 2>>"$T/log"
}
out=$(gm emt-a emt-a "$SA")
check "ws: A asks for the note of its certificate -> ok_received_correctly" bash -c \
	"test '$out' = 200 && grep -q '>ok_received_correctly<' '$T/ans'"
sed -n 's/.*<[^>/]*returnCodeMessage>\([^<]*\)<.*/\1/p' "$T/ans" | base64 -d >"$T/ws-note.der" 2>>"$T/log"
check "... returnCodeMessage is the note: it verifies with openssl cms -verify" bash -c \
	"openssl cms -verify -inform DER -in '$T/ws-note.der' -CAfile '$H/pki/chain.pem' -out '$T/ws-note.json' && grep -q '\"serial\": \"$SA\"' '$T/ws-note.json'"
check "... logged as ws.GeneralMessage ok for serial:$SA" test \
	"$(count_log "action = 'ws.GeneralMessage' AND result = 'ok' AND object = 'serial:$SA' AND detail LIKE 'delivery note%'")" = 1
out=$(gm emt-b emt-b "$SA")
check "ws: B asks for A's note -> failure_other_error, no note" bash -c \
	"test '$out' = 200 && grep -q '>failure_other_error<' '$T/ans' && ! grep -q 'MII' '$T/ans'"
out=$(gm emt-a emt-a "not-a-serial")
check "ws: a body that is no serial -> failure_syntax" bash -c "test '$out' = 200 && grep -q '>failure_syntax<' '$T/ans'"
check "the running signer signed the web service's note for the api" test \
	"$(count_log "action = 'signer.sign' AND detail LIKE 'purpose=delivery-note%'")" -ge 2

#!/usr/bin/env bash
# ws.sh: the SM-PKI web service (TR-03129-4), server side, driven by an independent SOAP
# client: python3-zeep loads the BSI WSDL from ../shared/reference/sm-pki and talks SOAP
# 1.1 over mutual TLS (brainpool, TR-03116-3 profile) with a participant's TLS
# certificate. GetServiceStatus; RequestCertificate with a request made by `torwart req`,
# the certificates come back and verify with openssl; a request naming another
# participant is failure_unauthorized_request; a replay is failure_request_not_accepted;
# GetCertificateChain by serial; malformed and schema-invalid bodies get a fault or
# failure_syntax and change nothing but one admin-log entry; unidentified callers are
# refused; the api refuses to start without a usable WSDL.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-ws-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

. "$(dirname "$0")/ws_lib.sh"
ws_require

WAN_PORT=$(free_port); API_PORT=$(free_port); WS_PORT=$(free_port); TLS_PORT=$(free_port)
URL="https://localhost:$WS_PORT/"
count_log() { sqlite3 "$H/store.db" "SELECT count(*) FROM admin_log WHERE $1"; }
count_certs() { sqlite3 "$H/store.db" "SELECT count(*) FROM certificates"; }

# This test also acts as a client with the GWA's own TLS certificate: it takes the key
# from the signer's TLS key directory (test runs share the signer's user).
check "torwart init --test-pki" "$TORWART" init --home "$H" --test-pki \
	--wan-listen "127.0.0.1:$WAN_PORT" --api-listen "127.0.0.1:$API_PORT" \
	--api-tls-listen "127.0.0.1:$TLS_PORT"
GWA_TLS_KEY="$H/secrets/tls-keys/gwa-tls.key"

# ---- participants: A and B (EMTs), their first TLS certificates out of band (RA, CLI)
check "participant A (EMT 9900000000011) with its TLS certificate" issue_first emt-a 9900000000011 A.EMT.WS
check "participant B (EMT 9900000000012) with its TLS certificate" issue_first emt-b 9900000000012 B.EMT.WS

# ---- the api refuses to start with [ws] listen but no usable WSDL
cp "$H/torwart.conf" "$T/torwart.conf.orig"
printf '\n[ws]\nlisten = 127.0.0.1:%s\nwsdl = %s\n' "$WS_PORT" "$T/no-such.wsdl" >>"$H/torwart.conf"
timeout 20 "$TORWARTD" --home "$H" api >"$T/api-bad.log" 2>&1
check "api without a readable WSDL exits non-zero" test $? -ne 0 -a $? -ne 124
check "... saying which setting is wrong" grep -q "\[ws\] wsdl" "$T/api-bad.log"
cp "$T/torwart.conf.orig" "$H/torwart.conf"
printf '\n[ws]\nlisten = 127.0.0.1:%s\nwsdl = %s\n' "$WS_PORT" "$WSDL" >>"$H/torwart.conf"

"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "torwartd all starts the web service" wait_port 127.0.0.1 "$WS_PORT" 20

# ---- the independent client (zeep with the TR-03116-3 groups, ws_lib.sh)
ws_openssl_cnf "$T/openssl.cnf"
cat >"$T/client.py" <<'EOF'
# An SM-PKI participant with its TLS certificate and the BSI WSDL, nothing else.
import sys, requests, zeep
from zeep.transports import Transport

wsdl, url, chain, cert, key, op = sys.argv[1:7]
args = sys.argv[7:]
s = requests.Session()
s.trust_env = False   # REQUESTS_CA_BUNDLE in the environment would replace s.verify
s.cert = (cert, key)
s.verify = chain
client = zeep.Client(wsdl, transport=Transport(session=s))
svc = client.create_service(
    "{uri://bsi.bund.de/Smart-Meter-PKI-Protocol/1.3}SmartMeterBinding", url)

def certs_out(seq, prefix):
    n = 0
    for i, der in enumerate(seq.certificate if seq is not None else []):
        open("%s.%d.der" % (prefix, i), "wb").write(der)
        n += 1
    return n

if op == "status":
    r = svc.GetServiceStatus(messageID="ws-test-1")
    print(r.returnCode, r.returnCodeMessage or "")
elif op == "request":
    req = open(args[0], "rb").read()
    r = svc.RequestCertificate(callbackIndicator="callback_not_possible",
                               messageID="ws-test-2", certReq=req)
    n = certs_out(r.certificateSeq, args[1])
    print(r.returnCode, n, r.returnCodeMessage or "")
elif op == "chain":
    r = svc.GetCertificateChain(callbackIndicator="callback_not_possible",
                                certReference=args[0])
    n = certs_out(r.certificateSequence, args[1])
    print(r.returnCode, n, r.returnCodeMessage or "")
elif op == "revoke":
    r = svc.CertificateRevocationRequest(callbackIndicator="callback_not_possible",
                                         messageID="ws-rev", certRevReq=open(args[0], "rb").read())
    print(r.returnCode, r.returnCodeMessage or "")
elif op == "devadmin":
    r = svc.UpdateDeviceAdmin(callbackIndicator="callback_not_possible", messageID="ws-uda",
                              updDevAdminReq=open(args[0], "rb").read())
    print(r.returnCode, r.returnCodeMessage or "")
elif op == "message":
    r = svc.GeneralMessage(callerID=args[0], messageID="ws-test-3", subject="hello",
                           body="a message to the Sub-CA")
    print(r.returnCode, r.returnCodeMessage or "")
elif op == "send":
    r = svc.SendCertificates(messageID="ws-unknown", statusInfo="ok_cert_available")
    print(r.returnCode, r.returnCodeMessage or "")
EOF
zeep_as() { # who op args... : prints the client's line
	local who=$1; shift
	OPENSSL_CONF="$T/openssl.cnf" "$PY" "$T/client.py" "$WSDL" "$URL" "$H/pki/chain.pem" \
		"$T/$who.crt" "$T/$who/tls.key" "$@" 2>>"$T/log"
}

out=$(zeep_as emt-a status)
echo "status: $out" >>"$T/log"
check "zeep GetServiceStatus -> ok_received_correctly" test "${out%% *}" = ok_received_correctly
check "... logged as ws.GetServiceStatus by participant:emt-a" test \
	"$(count_log "action='ws.GetServiceStatus' AND actor='participant:emt-a' AND role='emt' AND result='ok'")" = 1

# ---- RequestCertificate: a new request of A (torwart req), certificates come back
check "torwart req: A's second request (new keys)" "$TORWART" req initial --cn A.EMT.WS \
	--ou 9900000000011 --role EMT --key-dir "$T/a2" --format der --out "$T/a2.req"
before=$(count_certs)
out=$(zeep_as emt-a request "$T/a2.req" "$T/a2cert")
echo "request: $out" >>"$T/log"
check "zeep RequestCertificate -> ok_cert_available with 3 certificates" test "$out" = "ok_cert_available 3 "
check "... 3 certificates stored" test "$(count_certs)" = $((before + 3))
verify_der() { # der: openssl verify against the home's SM-PKI chain
	openssl x509 -inform DER -in "$1" -out "$1.pem" && \
		openssl verify -x509_strict -CAfile "$H/pki/chain.pem" "$1.pem"
}
for i in 0 1 2; do
	check "certificate $i verifies against the test SM-PKI (openssl verify)" verify_der "$T/a2cert.$i.der"
done
tls_of_a2() {
	for i in 0 1 2; do
		openssl x509 -inform DER -in "$T/a2cert.$i.der" -pubkey -noout >"$T/pub.$i" || return 1
	done
	openssl pkey -in "$T/a2/tls.key" -pubout >"$T/a2.tls.pub" || return 1
	for i in 0 1 2; do cmp -s "$T/pub.$i" "$T/a2.tls.pub" && return 0; done
	return 1
}
check "one of them certifies the TLS key of the request" tls_of_a2
check "... subject is A's (CN A.EMT.WS, OU 9900000000011)" bash -c \
	"openssl x509 -inform DER -in '$T/a2cert.0.der' -noout -subject | grep -q 'CN *= *A.EMT.WS'"
check "issuance logged with the participant as actor" test \
	"$(count_log "action='ca.request.submit' AND actor='participant:emt-a' AND role='emt'")" = 1
check "... and ws.RequestCertificate ok" test \
	"$(count_log "action='ws.RequestCertificate' AND actor='participant:emt-a' AND result='ok' AND error_code='ok_cert_available'")" = 1

out=$(zeep_as emt-a request "$T/a2.req" "$T/replay")
check "the same request again -> failure_request_not_accepted" test "${out%% *}" = failure_request_not_accepted

# ---- a request naming another participant (B) sent with A's certificate
check "torwart req: a request naming B" "$TORWART" req initial --cn B.EMT.WS \
	--ou 9900000000012 --role EMT --key-dir "$T/b2" --format der --out "$T/b2.req"
before=$(count_certs)
out=$(zeep_as emt-a request "$T/b2.req" "$T/b2cert")
echo "foreign request: $out" >>"$T/log"
check "A asking for B -> failure_unauthorized_request" test "${out%% *}" = failure_unauthorized_request
check "... no certificate issued" test "$(count_certs)" = "$before"
check "... logged refused with the code" test \
	"$(count_log "action='ws.RequestCertificate' AND actor='participant:emt-a' AND result='refused' AND error_code='failure_unauthorized_request'")" = 1
out=$(zeep_as emt-b request "$T/b2.req" "$T/b2cert")
check "B itself gets the same request issued" test "$out" = "ok_cert_available 3 "

# ---- GetCertificateChain by serial
serial=$(openssl x509 -inform DER -in "$T/a2cert.0.der" -noout -serial | sed 's/serial=//')
out=$(zeep_as emt-b chain "$serial" "$T/chain")
echo "chain: $out" >>"$T/log"
check "zeep GetCertificateChain(serial) -> ok_cert_available, leaf + Sub-CA + Root, valid" bash -c "[[ '$out' == 'ok_cert_available 3 valid until '* ]]"
check "... the leaf is the certificate asked for" cmp -s "$T/chain.0.der" "$T/a2cert.0.der"
check "... and the chain verifies (openssl)" bash -c "for i in 1 2; do openssl x509 -inform DER -in '$T/chain.'\$i'.der'; done >'$T/chain.pem' && openssl x509 -inform DER -in '$T/chain.0.der' -out '$T/leaf.pem' && openssl verify -CAfile '$T/chain.pem' '$T/leaf.pem'"
out=$(zeep_as emt-a chain 0badc0ffee "$T/none")
check "unknown serial -> failure_cert_not_available" test "${out%% *}" = failure_cert_not_available

# ---- CertificateRevocationRequest: a CMS SignedData (openssl cms) over
# TorwartRevocationRequest ::= SEQUENCE { serialNumber INTEGER, reason ENUMERATED },
# signed with the caller's own SIG key and certificate (docs/pki-services.md)
cert_of_key() { # key der-prefix -> the DER certificate of that key
	openssl pkey -in "$1" -pubout >"$T/k.pub" || return 1
	for f in "$2".*.der; do
		openssl x509 -inform DER -in "$f" -pubkey -noout | cmp -s - "$T/k.pub" && { echo "$f"; return 0; }
	done
	return 1
}
mk_rev() { # serial-hex reason out
	printf 'asn1=SEQUENCE:r\n[r]\ns=INTEGER:0x%s\nreason=ENUMERATED:%s\n' "$1" "$2" >"$T/rev.cnf"
	openssl asn1parse -genconf "$T/rev.cnf" -out "$3" -noout
}
cms_sign() { # content signer-cert(DER or PEM) key out
	openssl x509 -in "$2" -inform "$( [[ $2 == *.der ]] && echo DER || echo PEM)" -out "$T/signer.pem" &&
		openssl cms -sign -binary -nodetach -outform DER -md sha256 -in "$1" \
			-signer "$T/signer.pem" -inkey "$3" -out "$4"
}
serial_of() { openssl x509 -inform DER -in "$1" -noout -serial | sed 's/serial=//'; }
status_of() { sqlite3 "$H/store.db" "SELECT status FROM certificates WHERE lower(serial_hex)=lower('$1')"; }
a2sig=$(cert_of_key "$T/a2/sig.key" "$T/a2cert")
a2enc=$(cert_of_key "$T/a2/enc.key" "$T/a2cert")
b2tls=$(cert_of_key "$T/b2/tls.key" "$T/b2cert")
b2sig=$(cert_of_key "$T/b2/sig.key" "$T/b2cert")
check "A's and B's SIG certificates found" test -n "$a2sig" -a -n "$a2enc" -a -n "$b2tls" -a -n "$b2sig"
mk_rev "$(serial_of "$a2enc")" 1 "$T/rev-a.der" && cms_sign "$T/rev-a.der" "$a2sig" "$T/a2/sig.key" "$T/rev-a.cms"
mk_rev "$(serial_of "$b2tls")" 1 "$T/rev-b.der" && cms_sign "$T/rev-b.der" "$a2sig" "$T/a2/sig.key" "$T/rev-b.cms"
cms_sign "$T/rev-a.der" "$b2sig" "$T/b2/sig.key" "$T/rev-a-by-b.cms"
mk_rev 0badc0ffee 1 "$T/rev-x.der" && cms_sign "$T/rev-x.der" "$a2sig" "$T/a2/sig.key" "$T/rev-x.cms"
# the same CMS with one byte of the signed content changed (reason 1 -> 4)
/usr/bin/python3 - "$T/rev-a.cms" "$T/rev-a-tampered.cms" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
i = d.find(b"\x0a\x01\x01")
d[i + 2] = 4
open(sys.argv[2], "wb").write(bytes(d))
PY
printf 'not a CMS message' >"$T/rev-junk.bin"
before_l=$(count_log "action='ca.revoke'")
out=$(zeep_as emt-a revoke "$T/rev-b.cms")
check "A revoking B's certificate -> failure_request_not_accepted" test "${out%% *}" = failure_request_not_accepted
check "... B's certificate still valid" test "$(status_of "$(serial_of "$b2tls")")" = valid
out=$(zeep_as emt-a revoke "$T/rev-a-by-b.cms")
check "A sending a request signed by B -> failure_request_not_accepted" test "${out%% *}" = failure_request_not_accepted
out=$(zeep_as emt-a revoke "$T/rev-a-tampered.cms")
check "tampered signed content -> failure_incorrect_request" test "${out%% *}" = failure_incorrect_request
out=$(zeep_as emt-a revoke "$T/rev-junk.bin")
check "bytes that are no CMS -> failure_syntax" test "${out%% *}" = failure_syntax
out=$(zeep_as emt-a revoke "$T/rev-x.cms")
check "unknown serial -> failure_incorrect_request" test "${out%% *}" = failure_incorrect_request
check "... nothing was revoked by any of these" test "$(count_log "action='ca.revoke'")" = "$before_l"
check "... A's ENC certificate still valid" test "$(status_of "$(serial_of "$a2enc")")" = valid
out=$(zeep_as emt-a revoke "$T/rev-a.cms")
echo "revoke own: $out" >>"$T/log"
check "A revoking its own ENC certificate -> ok_received_correctly" test "${out%% *}" = ok_received_correctly
check "... the certificate is revoked (keyCompromise)" test \
	"$(sqlite3 "$H/store.db" "SELECT status FROM certificates WHERE lower(serial_hex)=lower('$(serial_of "$a2enc")')")" = revoked
check "... through the CA's revocation path (ca.revoke by participant:emt-a)" test \
	"$(count_log "action='ca.revoke' AND actor='participant:emt-a' AND result='ok'")" = 1
out=$(zeep_as emt-a revoke "$T/rev-a.cms")
check "the same revocation again -> ok, unchanged" bash -c "[[ '$out' == 'ok_received_correctly the certificate was already revoked'* ]]"
out=$(zeep_as emt-b chain "$(serial_of "$a2enc")" "$T/chk")
check "GetCertificateChain as validity check: says revoked" bash -c "[[ '$out' == *'revoked since'*keyCompromise* ]]"
out=$(zeep_as emt-b chain "$(serial_of "$a2sig")" "$T/chk")
check "... and 'valid until' for a valid one" bash -c "[[ '$out' == *'valid until'* ]]"

# ---- operations answered with their WSDL code
out=$(zeep_as emt-a send)
check "SendCertificates to the CA -> failure_messageID_unknown" test "${out%% *}" = failure_messageID_unknown
out=$(zeep_as emt-a message emt-a)
check "GeneralMessage from A -> ok_received_correctly" test "${out%% *}" = ok_received_correctly
check "... the message is in the admin log (one entry)" test \
	"$(count_log "action='ws.GeneralMessage' AND actor='participant:emt-a' AND result='ok' AND detail LIKE '%subject=hello body=a message to the Sub-CA%'")" = 1
out=$(zeep_as emt-a message emt-b)
check "GeneralMessage claiming to be B -> failure_other_error" test "${out%% *}" = failure_other_error

# ---- bad input with curl (brainpool, A's certificate): fault or failure_syntax
TLSOPT="--curves brainpoolP256r1 --tlsv1.2 --tls-max 1.2 --cacert $H/pki/chain.pem -sS"
post() { # who body-file -> http code, answer in $T/ans
	curl $TLSOPT --cert "$T/$1.crt" --key "$T/$1/tls.key" -o "$T/ans" -w '%{http_code}' \
		-H 'Content-Type: text/xml; charset=utf-8' --data-binary "@$2" "$URL" 2>>"$T/log"
}
ENV='<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="uri://bsi.bund.de/Smart-Meter-PKI-Protocol/1.3"><s:Body>'
printf '%s' "${ENV}<t:RequestCertificate_Req><t:callbackIndicator>callback_not_possible</t:callbackIndicator><t:certReq>" >"$T/trunc.xml"
printf '%s' "${ENV}<t:RequestCertificate_Req><t:callbackIndicator>sometimes</t:callbackIndicator><t:certReq>AAAA</t:certReq></t:RequestCertificate_Req></s:Body></s:Envelope>" >"$T/invalid.xml"
printf '%s' "${ENV}<t:RequestCertificate_Req><t:callbackIndicator>callback_not_possible</t:callbackIndicator><t:certReq>$(base64 -w0 "$T/b2.req" | sed 's/^..../@@@@/')</t:certReq></t:RequestCertificate_Req></s:Body></s:Envelope>" >"$T/b64.xml"
printf '<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "file:///etc/passwd">]>%s<t:GetServiceStatus_Req><t:messageID>&x;</t:messageID></t:GetServiceStatus_Req></s:Body></s:Envelope>' "$ENV" >"$T/xxe.xml"
printf '%s' "${ENV}<t:GetServiceStatus_Req xmlns:t=\"urn:wrong\"><t:messageID>1</t:messageID></t:GetServiceStatus_Req></s:Body></s:Envelope>" >"$T/ns.xml"
{ printf '%s<t:GetServiceStatus_Req><t:messageID>' "$ENV"; head -c 300000 /dev/zero | tr '\0' a; printf '</t:messageID></t:GetServiceStatus_Req></s:Body></s:Envelope>'; } >"$T/big.xml"
{ printf '%s<t:GetServiceStatus_Req><t:messageID>' "$ENV"; for i in $(seq 40); do printf '<x%d>' "$i"; done
  for i in $(seq 40 -1 1); do printf '</x%d>' "$i"; done; printf '</t:messageID></t:GetServiceStatus_Req></s:Body></s:Envelope>'; } >"$T/deep.xml"
before_c=$(count_certs); before_r=$(sqlite3 "$H/store.db" "SELECT count(*) FROM ca_requests")
before_l=$(count_log "action LIKE 'ws.%' AND result='refused'")
fault() { # what file
	local code
	code=$(post emt-a "$2")
	if [ "$code" = 500 ] && grep -q "<faultcode>soapenv:Client</faultcode>" "$T/ans"; then ok "$1 -> SOAP fault (Client)"
	else bad "$1 -> SOAP fault (got $code: $(head -c 300 "$T/ans"))"; fi
}
fault "truncated XML" "$T/trunc.xml"
fault "DTD with an external entity" "$T/xxe.xml"
check "... the entity was not resolved" bash -c "! grep -q root: '$T/ans'"
fault "wrong namespace" "$T/ns.xml"
fault "oversized body (300 KB)" "$T/big.xml"
fault "elements nested 40 deep" "$T/deep.xml"
code=$(post emt-a "$T/invalid.xml")
check "schema-invalid body -> failure_syntax (HTTP 200)" bash -c "test '$code' = 200 && grep -q '>failure_syntax<' '$T/ans'"
code=$(post emt-a "$T/b64.xml")
check "invalid base64 in certReq -> failure_syntax" bash -c "test '$code' = 200 && grep -q '>failure_syntax<' '$T/ans'"
check "bad input stored nothing (certificates)" test "$(count_certs)" = "$before_c"
check "bad input stored nothing (requests)" test "$(sqlite3 "$H/store.db" "SELECT count(*) FROM ca_requests")" = "$before_r"
check "one admin-log entry per bad message (7)" test \
	"$(count_log "action LIKE 'ws.%' AND result='refused'")" = $((before_l + 7))
code=$(curl $TLSOPT --cert "$T/emt-a.crt" --key "$T/emt-a/tls.key" -o "$T/ans" -w '%{http_code}' -H 'Content-Type: application/json' -d '{}' "$URL" 2>>"$T/log")
check "wrong Content-Type -> fault" test "$code" = 500
code=$(curl $TLSOPT --cert "$T/emt-a.crt" --key "$T/emt-a/tls.key" -o /dev/null -w '%{http_code}' "$URL" 2>>"$T/log")
check "GET -> 405" test "$code" = 405
printf '%s' "${ENV}<t:GetServiceStatus_Req><t:messageID>1</t:messageID></t:GetServiceStatus_Req></s:Body></s:Envelope>" >"$T/st.xml"
code=$(curl $TLSOPT --cert "$T/emt-a.crt" --key "$T/emt-a/tls.key" -o "$T/ans" -w '%{http_code}' -H 'Content-Type: text/xml' -H 'SOAPAction: "RequestCertificate"' --data-binary @"$T/st.xml" "$URL" 2>>"$T/log")
check "SOAPAction naming another operation -> fault" bash -c "test '$code' = 500 && grep -q 'SOAPAction' '$T/ans'"
code=$(curl $TLSOPT --cert "$T/emt-a.crt" --key "$T/emt-a/tls.key" -o "$T/ans" -w '%{http_code}' -H 'Content-Type: text/xml' -H 'SOAPAction: "GetServiceStatus"' --data-binary @"$T/st.xml" "$URL" 2>>"$T/log")
check "curl with the right SOAPAction -> ok_received_correctly" bash -c "test '$code' = 200 && grep -q '>ok_received_correctly<' '$T/ans'"

# ---- callers that are not participants
code=$(curl $TLSOPT -o /dev/null -w '%{http_code}' --data-binary @"$T/invalid.xml" "$URL" 2>>"$T/log")
check "no client certificate: no answer (handshake refused)" test "$code" = 000
code=$(curl $TLSOPT --cert "$H/pki/gwa-tls.crt" --key "$GWA_TLS_KEY" -o "$T/ans" -w '%{http_code}' \
	-H 'Content-Type: text/xml' --data-binary @"$T/invalid.xml" "$URL" 2>>"$T/log")
check "a valid SM-PKI certificate of no participant -> 403 fault" bash -c "test '$code' = 403 && grep -q faultcode '$T/ans'"

# ---- a GWA requests its gateway's certificates (SMGW request with its authorisation)
check "register the home's GWA as participant (role gwa)" "$TORWART" ca register --home "$H" \
	--name TEST.GWA.TORWART --org "Test GWA" --role gwa --mp-id 9900000000003 --cn TEST.GWA.TORWART
mkdir -p "$T/gwa" && cp "$H/pki/gwa-tls.crt" "$T/gwa.crt" && cp "$GWA_TLS_KEY" "$T/gwa/tls.key"
check "register SMGW participant gw-ws1" "$TORWART" ca register --home "$H" --name gw-ws1 \
	--org "Test GWA" --role smgw --mp-id 9912345000001 --cn ETWA0000000001 --gateway-id ETWA0000000001
check "torwart req: SMGW request authorised by the GWA" "$TORWART" req initial --cn ETWA0000000001 \
	--ou 9912345000001 --role SMGW --key-dir "$T/gwk" --authorise --home "$H" --format der \
	--out "$T/gw.req"
check "torwart req: a second one" "$TORWART" req initial --cn ETWA0000000001 \
	--ou 9912345000001 --role SMGW --key-dir "$T/gwk2" --authorise --home "$H" --format der \
	--out "$T/gw2.req"
check "a second GWA participant (gwa-b) with its TLS certificate" bash -c "
	'$TORWART' ca register --home '$H' --name gwa-b --org B --role gwa --mp-id 9900000000021 --cn GWA-B.WS &&
	'$TORWART' req initial --cn GWA-B.WS --ou 9900000000021 --role GWA --key-dir '$T/gwa-b' --format der --out '$T/gwa-b.req' &&
	'$TORWART' ca issue --home '$H' --request '$T/gwa-b.req' --participant gwa-b &&
	'$TORWART' ca export \$(sqlite3 '$H/store.db' \"SELECT serial_hex FROM certificates WHERE owner_id='gwa-b' AND usage='TLS'\") --home '$H' --out '$T/gwa-b.crt'"
out=$(zeep_as gwa-b request "$T/gw2.req" "$T/gwb")
check "another GWA sending it -> failure_unauthorized_request" test "${out%% *}" = failure_unauthorized_request
out=$(zeep_as emt-a request "$T/gw2.req" "$T/gwe")
check "an EMT sending it -> failure_unauthorized_request" test "${out%% *}" = failure_unauthorized_request
check "... nothing issued for the gateway" test \
	"$(sqlite3 "$H/store.db" "SELECT count(*) FROM certificates WHERE owner_id='gw-ws1'")" = 0
out=$(zeep_as gwa request "$T/gw.req" "$T/gwcert")
echo "gwa for smgw: $out" >>"$T/log"
check "the authorising GWA gets the gateway's 3 certificates" test "$out" = "ok_cert_available 3 "
check "... owned by the SMGW participant" test \
	"$(sqlite3 "$H/store.db" "SELECT count(*) FROM certificates WHERE owner_kind='smgw' AND owner_id='gw-ws1'")" = 3
check "... and they verify (openssl)" verify_der "$T/gwcert.0.der"
out=$(zeep_as gwa request "$T/b2.req" "$T/gwx")
check "the GWA asking for an EMT -> failure_unauthorized_request" test "${out%% *}" = failure_unauthorized_request

# ---- UpdateDeviceAdmin: TorwartDeviceAdminUpdate ::= SEQUENCE { device UTF8String,
# newAdmin UTF8String }, signed like a revocation request
mk_uda() { # device admin out
	printf 'asn1=SEQUENCE:u\n[u]\nd=UTF8:%s\na=UTF8:%s\n' "$1" "$2" >"$T/uda.cnf"
	openssl asn1parse -genconf "$T/uda.cnf" -out "$3" -noout
}
admin_of() { sqlite3 "$H/store.db" "SELECT admin FROM ws_device_admin WHERE device='$1'"; }
check "the authorising GWA is recorded as gw-ws1's administrator" test "$(admin_of gw-ws1)" = TEST.GWA.TORWART
gwbsig=$(sqlite3 "$H/store.db" "SELECT serial_hex FROM certificates WHERE owner_id='gwa-b' AND usage='SIG'")
"$TORWART" ca export "$gwbsig" --home "$H" --out "$T/gwa-b-sig.crt" >>"$T/log" 2>&1
mk_uda gw-ws1 gwa-b "$T/uda1.der" && cms_sign "$T/uda1.der" "$T/gwa-b-sig.crt" "$T/gwa-b/sig.key" "$T/uda1.cms"
out=$(zeep_as gwa-b devadmin "$T/uda1.cms")
check "another GWA taking over gw-ws1 -> failure_request_not_accepted" test "${out%% *}" = failure_request_not_accepted
check "... administrator unchanged" test "$(admin_of gw-ws1)" = TEST.GWA.TORWART
gwtls=$(cert_of_key "$T/gwk/tls.key" "$T/gwcert")
mk_rev "$(serial_of "$gwtls")" 1 "$T/rev-gw.der" && cms_sign "$T/rev-gw.der" "$T/gwa-b-sig.crt" "$T/gwa-b/sig.key" "$T/rev-gw.cms"
out=$(zeep_as gwa-b revoke "$T/rev-gw.cms")
check "another GWA revoking gw-ws1's certificate -> failure_request_not_accepted" test "${out%% *}" = failure_request_not_accepted
check "... still valid" test "$(status_of "$(serial_of "$gwtls")")" = valid
mk_uda gw-ws1 9900000000011 "$T/uda-emt.der" && cms_sign "$T/uda-emt.der" "$a2sig" "$T/a2/sig.key" "$T/uda-emt.cms"
out=$(zeep_as emt-a devadmin "$T/uda-emt.cms")
check "an EMT sending UpdateDeviceAdmin -> failure_request_not_accepted" test "${out%% *}" = failure_request_not_accepted
# The test home's GWA signs with a key inside its signer, which openssl cannot use:
# the handover it would sign is written as the RA would, then gwa-b acts as administrator.
sqlite3 "$H/store.db" "UPDATE ws_device_admin SET admin='gwa-b' WHERE device='gw-ws1'"
check "torwart req: a third SMGW request (authorised by the home's GWA)" "$TORWART" req initial \
	--cn ETWA0000000001 --ou 9912345000001 --role SMGW --key-dir "$T/gwk3" --authorise --home "$H" \
	--format der --out "$T/gw3.req"
out=$(zeep_as gwa request "$T/gw3.req" "$T/gw3")
check "the former administrator's request for gw-ws1 -> failure_unauthorized_request" test "${out%% *}" = failure_unauthorized_request
out=$(zeep_as gwa-b revoke "$T/rev-gw.cms")
check "the administering GWA revokes gw-ws1's TLS certificate -> ok_received_correctly" test "${out%% *}" = ok_received_correctly
check "... revoked" test "$(status_of "$(serial_of "$gwtls")")" = revoked
mk_uda gw-ws1 9900000000011 "$T/uda2.der" && cms_sign "$T/uda2.der" "$T/gwa-b-sig.crt" "$T/gwa-b/sig.key" "$T/uda2.cms"
out=$(zeep_as gwa-b devadmin "$T/uda2.cms")
check "handing a gateway to an EMT -> failure_incorrect_request" test "${out%% *}" = failure_incorrect_request
mk_uda gw-ws1 9900000000003 "$T/uda3.der" && cms_sign "$T/uda3.der" "$T/gwa-b-sig.crt" "$T/gwa-b/sig.key" "$T/uda3.cms"
out=$(zeep_as gwa-b devadmin "$T/uda3.cms")
check "gwa-b hands gw-ws1 to the GWA with market partner id 9900000000003 -> ok" test "${out%% *}" = ok_received_correctly
check "... recorded" test "$(admin_of gw-ws1)" = TEST.GWA.TORWART
check "... logged with old and new administrator" test \
	"$(count_log "action='ws.UpdateDeviceAdmin' AND result='ok' AND detail='administrator gwa-b -> TEST.GWA.TORWART'")" = 1
check "torwart req: a fourth SMGW request" "$TORWART" req initial --cn ETWA0000000001 \
	--ou 9912345000001 --role SMGW --key-dir "$T/gwk4" --authorise --home "$H" --format der --out "$T/gw4.req"
out=$(zeep_as gwa request "$T/gw4.req" "$T/gw4")
check "the new administrator gets gw-ws1's certificates again" test "$out" = "ok_cert_available 3 "

serial_b=$(openssl x509 -in "$T/emt-b.crt" -noout -serial | sed 's/serial=//')
check "revoke B's first TLS certificate" "$TORWART" ca revoke "$serial_b" --home "$H" --reason keyCompromise
out=$(zeep_as emt-b status)
check "revoked TLS certificate: refused" test "${out%% *}" != ok_received_correctly
check "admin log chain still verifies" "$TORWART" audit verify --home "$H"

#!/usr/bin/env bash
# ws_async.sh: the SM-PKI web service's asynchronous path and client side, Torwart
# against Torwart (two homes). Home A is the Sub-CA ([ws] approval = manual: the RA
# approves every request first); home B is a GWA participant of A that asks A for its
# certificates over the web service (`torwart ws request`, ws_client.h) and receives
# A's SendCertificates callback on its own [ws] listen endpoint.
#   - synchronous answer first (A with approval = auto): certificates come back at once;
#   - then manual: callback_not_possible -> failure_synchronous_processing_not_possible;
#     callback_possible without a registered endpoint -> the same, nothing stored;
#   - with the endpoint registered: ok_syntax + messageID; B's endpoint is down, so A's
#     worker fails to deliver and backs off (each attempt in A's admin log); A is killed
#     with SIGKILL and restarted; B comes up; the outbox delivers; `torwart ws poll` on
#     B returns the three certificates, which verify against A's chain.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-wsasync-XXXXXX)
A="$T/a"; B="$T/b"
trap 'kill -KILL -- -$(cat "$T/a.pgid" 2>/dev/null) 2>/dev/null; finish; exit $?' EXIT

SHARED=${TORWART_SHARED:-$TORWART_SOURCE/../shared}
WSDL="$SHARED/reference/sm-pki/WSDL_TR-03129-4_v1.3.1_Smartmeter.wsdl"
if [ ! -f "$WSDL" ]; then
	echo "SKIP: $WSDL absent (../shared not available): the web service needs the BSI WSDL"
	rm -rf "$T"; trap - EXIT; exit 77
fi
command -v setsid >/dev/null || { echo "SKIP: setsid missing"; rm -rf "$T"; trap - EXIT; exit 77; }

pa=(); for _ in 1 2 3 4; do pa+=("$(free_port)"); done
pb=(); for _ in 1 2 3 4; do pb+=("$(free_port)"); done
A_WS=${pa[3]}; B_WS=${pb[3]}
check "home A (the Sub-CA)" "$TORWART" init --home "$A" --test-pki --wan-listen "127.0.0.1:${pa[0]}" \
	--api-listen "127.0.0.1:${pa[1]}" --api-tls-listen "127.0.0.1:${pa[2]}"
check "home B (a GWA)" "$TORWART" init --home "$B" --test-pki --wan-listen "127.0.0.1:${pb[0]}" \
	--api-listen "127.0.0.1:${pb[1]}" --api-tls-listen "127.0.0.1:${pb[2]}"

# ---- B becomes a participant of A out of band (RA): its TLS certificate from A
check "A registers gwa-b" "$TORWART" ca register --home "$A" --name gwa-b --org "GWA B" \
	--role gwa --mp-id 9900000000021 --cn GWA-B.ASYNC
check "B makes its first request (its own keys)" "$TORWART" req initial --cn GWA-B.ASYNC \
	--ou 9900000000021 --role GWA --key-dir "$T/bk" --format der --out "$T/b1.req"
check "A's RA issues it" "$TORWART" ca issue --home "$A" --request "$T/b1.req" --participant gwa-b
serial=$(sqlite3 "$A/store.db" "SELECT serial_hex FROM certificates WHERE owner_id='gwa-b' AND usage='TLS'")
check "... B's TLS certificate from A exported" "$TORWART" ca export "$serial" --home "$A" --out "$B/pki/from-a-tls.crt"
cp "$T/bk/tls.key" "$B/pki/from-a-tls.key"
cp "$A/pki/chain.pem" "$B/pki/a-chain.pem"
cp "$A/pki/gwa-tls.crt" "$B/pki/a-server.crt"
cp "$A/pki/sub-ca.crt" "$B/pki/a-sub-ca.crt"
cat "$B/pki/chain.pem" "$A/pki/chain.pem" >"$B/pki/trust-ab.pem"

# A: the web service; approval switched below. Short back-off for a short test.
cp "$A/torwart.conf" "$T/a.conf.orig"
a_conf() { # approval
	cp "$T/a.conf.orig" "$A/torwart.conf"
	printf '\n[ws]\nlisten = 127.0.0.1:%s\nwsdl = %s\napproval = %s\noutbox_interval = 1\noutbox_backoff = 1\noutbox_backoff_max = 2\noutbox_timeout = 5\n' \
		"$A_WS" "$WSDL" "$1" >>"$A/torwart.conf"
}
# B: its own endpoint presents the TLS certificate A issued to it and trusts A's chain;
# A is remote "a", pinned by A's server certificate.
printf '\n[ws]\nlisten = 127.0.0.1:%s\nwsdl = %s\ncert = pki/from-a-tls.crt\nkey = pki/from-a-tls.key\ntls_chain = pki/a-sub-ca.crt\ntrust = pki/trust-ab.pem\nremotes = a\n\n[ws.remote.a]\nurl = https://localhost:%s/\ncert = pki/from-a-tls.crt\nkey = pki/from-a-tls.key\ntrust = pki/a-chain.pem\npeer_cert = pki/a-server.crt\ntimeout = 20\n' \
	"$B_WS" "$WSDL" "$A_WS" >>"$B/torwart.conf"

starts() { [[ "$1" == "$2"* ]]; }   # text prefix
start_a() {
	setsid "$TORWARTD" --home "$A" all >>"$T/a.log" 2>&1 &
	echo $! >"$T/a.pgid"
	wait_port 127.0.0.1 "$A_WS" 20
}
stop_a() { # signal
	kill "-$1" -- "-$(cat "$T/a.pgid")" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$(cat "$T/a.pgid")" 2>/dev/null || break; sleep 0.1; done
}

# ---- synchronous: A issues at once
a_conf auto
check "A starts (approval = auto)" start_a
check "torwart ws status --remote a" "$TORWART" ws status --home "$B" --remote a
check "B: a second request" "$TORWART" req initial --cn GWA-B.ASYNC --ou 9900000000021 \
	--role GWA --key-dir "$T/bk2" --format der --out "$T/b2.req"
mkdir -p "$T/sync"
out=$("$TORWART" ws request --home "$B" --remote a --request "$T/b2.req" --out "$T/sync" 2>>"$T/log")
echo "sync: $out" >>"$T/log"
check "synchronous RequestCertificate -> ok_cert_available with 3 certificates" \
	starts "$(echo "$out" | head -1)" "ok_cert_available 3"
verify3() { # dir
	for i in 0 1 2; do
		openssl x509 -inform DER -in "$1/cert.$i.der" -out "$1/cert.$i.pem" &&
			openssl verify -CAfile "$A/pki/chain.pem" "$1/cert.$i.pem" || return 1
	done
}
check "... they verify against A's chain" verify3 "$T/sync"
check "B: a foreign request (another GWA's subject)" "$TORWART" req initial --cn OTHER.GWA \
	--ou 9900000000099 --role GWA --key-dir "$T/bx" --format der --out "$T/bx.req"
out=$("$TORWART" ws request --home "$B" --remote a --request "$T/bx.req" 2>>"$T/log")
check "a request naming no/another participant -> failure_unauthorized_request (exit 2)" \
	starts "$out" failure_unauthorized_request
stop_a TERM

# ---- asynchronous: the RA approves first
a_conf manual
check "A starts (approval = manual)" start_a
check "B: a third request" "$TORWART" req initial --cn GWA-B.ASYNC --ou 9900000000021 \
	--role GWA --key-dir "$T/bk3" --format der --out "$T/b3.req"
out=$("$TORWART" ws request --home "$B" --remote a --request "$T/b3.req" 2>>"$T/log")
check "callback_not_possible -> failure_synchronous_processing_not_possible" \
	starts "$out" failure_synchronous_processing_not_possible
out=$("$TORWART" ws request --home "$B" --remote a --request "$T/b3.req" --callback 2>>"$T/log")
check "callback_possible without a registered endpoint -> the same" \
	starts "$out" failure_synchronous_processing_not_possible
check "... nothing queued at A" test "$(sqlite3 "$A/store.db" "SELECT count(*) FROM ca_requests WHERE state='pending'")" = 0
check "A's RA registers B's endpoint" "$TORWART" ws endpoint set --home "$A" --participant gwa-b \
	--url "https://localhost:$B_WS/"
check_fails "an endpoint that is not https is refused" "$TORWART" ws endpoint set --home "$A" \
	--participant gwa-b --url "http://localhost:$B_WS/"
out=$("$TORWART" ws request --home "$B" --remote a --request "$T/b3.req" --callback 2>>"$T/log")
echo "async: $out" >>"$T/log"
check "callback_possible -> ok_syntax, pending" starts "$(echo "$out" | head -1)" "ok_syntax"
mid=$(echo "$out" | sed -n 's/^pending: messageID \([^ ]*\).*/\1/p')
check "... with a messageID" test -n "$mid"
"$TORWART" ws poll --home "$B" --message-id "$mid" >>"$T/log" 2>&1
check "ws poll while pending: exit 3" test $? = 3
id=$(sqlite3 "$A/store.db" "SELECT id FROM ca_requests WHERE state='pending'")
check "A: the request waits for the RA" test -n "$id"
check "A: outbox entry waiting" test "$(sqlite3 "$A/store.db" "SELECT state FROM ws_outbox WHERE request_id=$id")" = waiting
check "A's RA approves" "$TORWART" ca approve "$id" --home "$A" --reason "checked"
check "A's RA issues" "$TORWART" ca issue --home "$A" --id "$id"
# B's endpoint is down: deliveries fail and back off
fails() { sqlite3 "$A/store.db" "SELECT count(*) FROM admin_log WHERE action='ws.outbox.deliver' AND result='refused'"; }
wait_fails() { for _ in $(seq 100); do [ "$(fails)" -ge "$1" ] && return 0; sleep 0.2; done; return 1; }
check "participant down: failed delivery attempts in A's admin log" wait_fails 2
check "... entry still ready, attempts counted" test \
	"$(sqlite3 "$A/store.db" "SELECT state FROM ws_outbox WHERE request_id=$id")" = ready
stop_a KILL
check "A killed with SIGKILL" bash -c "! kill -0 $(cat "$T/a.pgid") 2>/dev/null"
"$TORWARTD" --home "$B" api >>"$T/b.log" 2>&1 &
pids_to_kill+=("$!")
check "B's endpoint comes up" wait_port 127.0.0.1 "$B_WS" 20
check "A restarts" start_a
delivered() { sqlite3 "$A/store.db" "SELECT state FROM ws_outbox WHERE request_id=$id"; }
wait_delivered() { for _ in $(seq 150); do [ "$(delivered)" = delivered ] && return 0; sleep 0.2; done; return 1; }
check "the outbox delivers after the restart" wait_delivered
check "... one ok delivery in A's admin log" test \
	"$(sqlite3 "$A/store.db" "SELECT count(*) FROM admin_log WHERE action='ws.outbox.deliver' AND result='ok'")" = 1
check "... B logged the callback from remote-ca:a" test \
	"$(sqlite3 "$B/store.db" "SELECT count(*) FROM admin_log WHERE action='ws.SendCertificates' AND actor='remote-ca:a' AND result='ok'")" = 1
mkdir -p "$T/async"
check "torwart ws poll: the certificates" "$TORWART" ws poll --home "$B" --message-id "$mid" --out "$T/async"
check "... three, verifying against A's chain" verify3 "$T/async"
check "... the TLS certificate certifies B's third TLS key" bash -c \
	"for i in 0 1 2; do openssl x509 -inform DER -in '$T/async/cert.'\$i'.der' -pubkey -noout; done | grep -q \"\$(openssl pkey -in '$T/bk3/tls.key' -pubout | sed -n 2p)\""
"$TORWART" ws outbox --home "$A" >>"$T/log" 2>&1
check "torwart ws outbox lists it" bash -c "'$TORWART' ws outbox --home '$A' | grep -q delivered"
check "A's admin log verifies" "$TORWART" audit verify --home "$A"
check "B's admin log verifies" "$TORWART" audit verify --home "$B"
stop_a TERM
finish

#!/usr/bin/env bash
# gwa_renew_remote.sh: issue 12, the GWA's own signer-held certificates renewed through a
# remote Sub-CA (`torwart gwa renew --key K` with [renewal] sub_ca = remote:a;
# src/gwa/gwa_renew_remote.c, pki/reqgen.c with the signer purpose certreq). Home B is the
# GWA, home A the Sub-CA that issued B's certificates (a copy of B, as in
# renewal_remote.sh), answering RequestCertificate on its web service (approval auto).
#   - A down: `gwa renew --key enc` fails with "not reachable", nothing changed (the old
#     ENC certificate installed, nothing staged), one gwa.key-remote-wait entry;
#   - A up: the rerun sends the request (proof of possession by the new gwa-enc key and
#     outer signature by gwa-sig, both in B's signer with purpose certreq, each in B's
#     admin log); A issues, B installs and switches; the certificate is in A's store;
#   - `gwa renew --key sig` through A, and afterwards `--key tls` signed by the new SIG key;
#   - a file-held TLS key (`gwa renew` without --key): a new key file and certificate by A;
#   - asynchronous (A's RA decides first, ok_syntax): the messageID is kept in
#     <cert>.next.remote, a rerun polls without signing or sending, A's SendCertificates
#     reaches B and the next rerun installs;
#   - A refuses (B's current SIG certificate revoked at A), for the file key and for
#     `--key enc`: the WSDL code failure_outer_signature, the old certificate (and key
#     file) kept, nothing staged.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-gwaremote-XXXXXX)
A="$T/a"; B="$T/b"
trap 'kill -KILL -- -$(cat "$T/a.pgid" 2>/dev/null) 2>/dev/null; finish; exit $?' EXIT

SHARED=${TORWART_SHARED:-$TORWART_SOURCE/../shared}
WSDL="$SHARED/reference/sm-pki/WSDL_TR-03129-4_v1.3.1_Smartmeter.wsdl"
if [ ! -f "$WSDL" ]; then
	echo "SKIP: $WSDL absent (../shared not available): the web service needs the BSI WSDL"
	rm -rf "$T"; trap - EXIT; exit 77
fi
command -v setsid >/dev/null || { echo "SKIP: setsid missing"; rm -rf "$T"; trap - EXIT; exit 77; }

WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)
A_WS=$(free_port); B_WS=$(free_port)
qb() { sqlite3 "$B/store.db" "$1"; }
qa() { sqlite3 "$A/store.db" "$1"; }
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }
start_a() {
	setsid "$TORWARTD" --home "$A" all >>"$T/a.log" 2>&1 &
	echo $! >"$T/a.pgid"
	wait_port 127.0.0.1 "$A_WS" 20
}
stop_a() {
	kill -TERM -- "-$(cat "$T/a.pgid")" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$(cat "$T/a.pgid")" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}
start_b() {
	"$TORWARTD" --home "$B" all >>"$T/b.log" 2>&1 &
	SUP=$!; pids_to_kill+=("$SUP")
	wait_port 127.0.0.1 "$WAN_PORT" 20
}
stop_b() { kill -TERM "$SUP"; for _ in $(seq 1 100); do kill -0 "$SUP" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
renew() { # key -> output in $T/out, exit status
	"$TORWART" gwa renew --home "$B" --key "$1" >"$T/out" 2>&1
}

check "home B (the GWA)" "$TORWART" init --home "$B" --test-pki --wan-listen "127.0.0.1:$WAN_PORT" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"
check "B's signer policy lets the GWA keys sign their certificate requests" \
	grep -q '^policy.gwa-sig = .*certreq' "$B/torwart.conf"
check "the GWA is a participant of the Sub-CA (the owner of its certificates)" \
	"$TORWART" ca register --home "$B" --name TEST.GWA.TORWART --org GWA --role gwa \
	--mp-id 9900000000003 --cn TEST.GWA.TORWART

# ---- home A: the Sub-CA (a copy of B as it is now), its web service on A_WS
cp -a "$B" "$A"
sed -i "s#$B#$A#g" "$A/softhsm2.conf" "$A/torwart.conf"
if [ "${TORWART_TEST_STORE:-sqlite}" = pg ]; then
	burl=$(sed -n 's/^url *= *//p' "$B/torwart.conf" | head -1)
	adb=tw_a_$(date +%s%N)
	check "A's database is a copy of B's" "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" \
		-U torwart -T "${burl##*/}" "$adb"
	sed -i "s#^url *= *$burl#url = ${burl%/*}/$adb#" "$A/torwart.conf"
	check "... and A uses it" grep -q "^url = ${burl%/*}/$adb\$" "$A/torwart.conf"
fi
a_ports=(); for _ in 1 2 3; do a_ports+=("$(free_port)"); done
sed -i -e "s#127.0.0.1:$WAN_PORT#127.0.0.1:${a_ports[0]}#" -e "s#127.0.0.1:$API_PORT#127.0.0.1:${a_ports[1]}#" \
	-e "s#127.0.0.1:$TLS_PORT#127.0.0.1:${a_ports[2]}#" "$A/torwart.conf"
printf '\n[ws]\nlisten = 127.0.0.1:%s\nwsdl = %s\napproval = auto\n' "$A_WS" "$WSDL" >>"$A/torwart.conf"

# ---- B: the home's own tenant (and every other) renews through remote "a"
printf '\n[renewal]\nsub_ca = remote:a\n\n[ws.remote.a]\nurl = https://localhost:%s/\ncert = pki/gwa-tls.crt\nkey = pki/gwa-tls.key\ntrust = pki/chain.pem\ntimeout = 10\n' \
	"$A_WS" >>"$B/torwart.conf"
old_enc=$(fp "$B/pki/gwa-enc.crt")
# B's stack: its signer also holds the TLS key the web-service client presents to A.
check "B's stack starts" start_b

# ---- A down: typed error, nothing changed, one admin-log entry
check_fails "A down: gwa renew --key enc fails" renew enc
check "... saying the remote Sub-CA is not reachable" grep -q "remote Sub-CA a not reachable" "$T/out"
check "... and that a rerun continues" grep -q "rerun .torwart gwa renew --key enc" "$T/out"
check "... the old ENC certificate stays installed" test "$(fp "$B/pki/gwa-enc.crt")" = "$old_enc"
check "... nothing staged" test ! -e "$B/pki/gwa-enc.crt.next"
check "... one gwa.key-remote-wait entry (remote_unreachable)" test "$(qb "SELECT count(*) FROM \
admin_log WHERE action='gwa.key-remote-wait' AND object='gwa-key:enc' AND error_code='remote_unreachable'")" = 1

# ---- A up: the rerun goes through A
check "A (the Sub-CA with its web service) starts" start_a
check "the rerun of gwa renew --key enc succeeds" renew enc
new_enc=$(fp "$B/pki/gwa-enc.crt")
check "a new ENC certificate is installed" test "$new_enc" != "$old_enc"
check "... issued by A (recorded in A's store)" test \
	"$(qa "SELECT count(*) FROM certificates WHERE fingerprint='$new_enc'")" = 1
check "... valid in B's inventory" test "$(qb "SELECT status FROM certificates WHERE fingerprint='$new_enc'")" = valid
check "... it chains to B's trust anchors" openssl verify -CAfile "$B/pki/chain.pem" "$B/pki/gwa-enc.crt"
check "... gwa.key-issue names the remote Sub-CA" test "$(qb "SELECT count(*) FROM admin_log WHERE \
action='gwa.key-issue' AND detail LIKE '%issued by the remote Sub-CA a%'")" = 1
check "... A logged the request of participant TEST.GWA.TORWART" test \
	"$(qa "SELECT count(*) FROM admin_log WHERE actor='participant:TEST.GWA.TORWART'")" -ge 1
# One request per attempt (the first, while A was down, was signed too).
check "... B's signer signed the proofs of possession (certreq, new gwa-enc key)" test \
	"$(qb "SELECT count(*) FROM admin_log WHERE action='signer.sign' AND object LIKE 'gwa-enc.k%' AND detail LIKE 'purpose=certreq kind=pop %'")" = 2
check "... and the outer signatures (certreq, gwa-sig)" test \
	"$(qb "SELECT count(*) FROM admin_log WHERE action='signer.sign' AND object='gwa-sig' AND detail LIKE 'purpose=certreq kind=outer %'")" = 2
check "... no authorisation signature was used for them" test \
	"$(qb "SELECT count(*) FROM admin_log WHERE action='signer.sign' AND detail LIKE 'purpose=authorisation %'")" = 0
check "... nothing pending is left" test ! -e "$B/pki/gwa-enc.crt.next.remote"

# ---- SIG through A, then TLS with the new SIG key's outer signature
old_sig=$(fp "$B/pki/gwa-sig.crt")
check "gwa renew --key sig through A" renew sig
new_sig=$(fp "$B/pki/gwa-sig.crt")
check "... a new SIG certificate, issued by A" test "$new_sig" != "$old_sig" -a \
	"$(qa "SELECT count(*) FROM certificates WHERE fingerprint='$new_sig'")" = 1
old_tls=$(fp "$B/pki/gwa-tls.crt")
check "gwa renew --key tls through A (outer signature by the new SIG key)" renew tls
new_tls=$(fp "$B/pki/gwa-tls.crt")
check "... a new TLS certificate, issued by A" test "$new_tls" != "$old_tls" -a \
	"$(qa "SELECT count(*) FROM certificates WHERE fingerprint='$new_tls'")" = 1

# ---- a file-held TLS key (an older home's, `gwa renew` without --key) through A
TK="$B/secrets/tls-keys"
cp "$TK/$(cat "$TK/gwa-tls.current").key" "$B/pki/gwa-tls.key"
chmod 600 "$B/pki/gwa-tls.key"
check "gwa renew (file key) through A" "$TORWART" gwa renew --home "$B"
file_tls=$(fp "$B/pki/gwa-tls.crt")
check "... a new TLS certificate, issued by A" test "$file_tls" != "$new_tls" -a \
	"$(qa "SELECT count(*) FROM certificates WHERE fingerprint='$file_tls'")" = 1
check "... for the new key file" bash -c "[ \"\$(openssl x509 -in '$B/pki/gwa-tls.crt' -noout -pubkey)\" = \"\$(openssl pkey -in '$B/pki/gwa-tls.key' -pubout)\" ]"
check "... no kept key or pending note left" test ! -e "$B/pki/gwa-tls.key.next" -a ! -e "$B/pki/gwa-tls.crt.next.remote"
check "... gwa.renew names the remote Sub-CA" test "$(qb "SELECT count(*) FROM admin_log WHERE \
action='gwa.renew' AND detail LIKE '%renewed by the remote Sub-CA a%'")" = 1

# ---- asynchronous: A's RA decides first (ok_syntax). The messageID is kept beside the
# staged certificate; a rerun polls and neither signs nor sends again; A's outbox delivers
# to B's SendCertificates and the next rerun installs. A gets a web-service identity of
# its own (B pins it as remote "a"), as in renewal_remote.sh.
check "A registers its web-service identity" "$TORWART" ca register --home "$A" --name a-ws \
	--org A --role gwa --mp-id 9900000000099 --cn A.WS.TORWART
check "... request" "$TORWART" req initial --cn A.WS.TORWART --ou 9900000000099 --role GWA \
	--dns localhost --key-dir "$T/aws" --format der --out "$T/aws.req"
check "... issued by A" "$TORWART" ca issue --home "$A" --request "$T/aws.req" --participant a-ws
aws=$(qa "SELECT serial_hex FROM certificates WHERE owner_id='a-ws' AND usage='TLS'")
check "... exported" "$TORWART" ca export "$aws" --home "$A" --out "$A/pki/a-ws.crt"
cp "$T/aws/tls.key" "$A/pki/a-ws.key"; cp "$A/pki/a-ws.crt" "$B/pki/a-ws.crt"
check "A's RA registers B's SendCertificates endpoint" "$TORWART" ws endpoint set --home "$A" \
	--participant TEST.GWA.TORWART --url "https://localhost:$B_WS/"
check "A stops for its new configuration" stop_a
sed -i -e 's/^approval = auto$/approval = manual/' \
	-e '/^\[ws\]$/a cert = pki/a-ws.crt\nkey = pki/a-ws.key\nclient_cert = pki/a-ws.crt\nclient_key = pki/a-ws.key\noutbox_interval = 1\noutbox_backoff = 1\noutbox_backoff_max = 2\noutbox_timeout = 5' \
	"$A/torwart.conf"
check "B stops for its web service" stop_b
printf '\n[ws]\nlisten = 127.0.0.1:%s\nwsdl = %s\ntrust = pki/chain.pem\nremotes = a\n' "$B_WS" "$WSDL" >>"$B/torwart.conf"
sed -i '/^\[ws.remote.a\]$/a peer_cert = pki/a-ws.crt' "$B/torwart.conf"
check "B starts with its SendCertificates endpoint" start_b
check "B's web service listens" wait_port 127.0.0.1 "$B_WS" 20
check "A starts (approval manual)" start_a
check "the previous ENC key is retired (a new rotation may start)" "$TORWART" gwa renew \
	--home "$B" --key enc --retire --now
before_async=$(fp "$B/pki/gwa-enc.crt")
check_fails "gwa renew --key enc: A accepts the request for its RA" renew enc
check "... the messageID is kept, a rerun collects" grep -q "messageID is kept in .*gwa-enc.crt.next.remote" "$T/out"
check "... in <cert>.next.remote" grep -q '^message_id=.' "$B/pki/gwa-enc.crt.next.remote"
check "... one gwa.key-remote-wait entry (remote_pending)" test "$(qb "SELECT count(*) FROM \
admin_log WHERE action='gwa.key-remote-wait' AND object='gwa-key:enc' AND error_code='remote_pending'")" = 1
n_req=$(qa "SELECT count(*) FROM ca_requests")
n_sig=$(qb "SELECT count(*) FROM admin_log WHERE action='signer.sign' AND detail LIKE 'purpose=certreq %'")
check_fails "a rerun before the RA decided: still waiting" renew enc
check "... nothing sent again (no new request at A)" test "$(qa "SELECT count(*) FROM ca_requests")" = "$n_req"
check "... nothing signed again" test "$(qb "SELECT count(*) FROM admin_log WHERE \
action='signer.sign' AND detail LIKE 'purpose=certreq %'")" = "$n_sig"
check "... the ENC certificate stays, nothing staged" test "$(fp "$B/pki/gwa-enc.crt")" = "$before_async" -a \
	! -e "$B/pki/gwa-enc.crt.next"
rid=$(qa "SELECT id FROM ca_requests WHERE state='pending' ORDER BY id DESC LIMIT 1")
check "A's RA approves ($rid)" "$TORWART" ca approve "$rid" --home "$A" --reason checked
check "A's RA issues" "$TORWART" ca issue --home "$A" --id "$rid"
collect() { local end=$((SECONDS + 30)); while [ $SECONDS -lt $end ]; do renew enc && return 0; sleep 1; done; cat "$T/out"; return 1; }
check "A's SendCertificates reaches B; the rerun installs the certificate" collect
async_enc=$(fp "$B/pki/gwa-enc.crt")
check "... a new ENC certificate, issued by A" test "$async_enc" != "$before_async" -a \
	"$(qa "SELECT count(*) FROM certificates WHERE fingerprint='$async_enc'")" = 1
check "... the pending note is gone" test ! -e "$B/pki/gwa-enc.crt.next.remote"
check "... B logged the callback from remote-ca:a" test "$(qb "SELECT count(*) FROM admin_log \
WHERE action='ws.SendCertificates' AND actor='remote-ca:a' AND result='ok'")" = 1
new_enc=$async_enc

# ---- refusals: A revokes B's current SIG certificate; the requests' outer signature fails
sig_serial=$(qa "SELECT serial_hex FROM certificates WHERE fingerprint='$new_sig'")
check "A revokes B's current SIG certificate" "$TORWART" ca revoke "$sig_serial" --home "$A" \
	--reason superseded
key_sum=$(sha256sum <"$B/pki/gwa-tls.key")
check_fails "gwa renew (file key) is refused by A" "$TORWART" gwa renew --home "$B"
check "... the TLS certificate and key stay" test "$(fp "$B/pki/gwa-tls.crt")" = "$file_tls" -a \
	"$(sha256sum <"$B/pki/gwa-tls.key")" = "$key_sum"
check "... no new key kept" test ! -e "$B/pki/gwa-tls.key.next"
check "the previous ENC key is retired (a new rotation may start)" "$TORWART" gwa renew \
	--home "$B" --key enc --retire --now
check_fails "gwa renew --key enc is refused by A" renew enc
check "... with the WSDL code failure_outer_signature" grep -q "failure_outer_signature" "$T/out"
check "... the ENC certificate stays" test "$(fp "$B/pki/gwa-enc.crt")" = "$new_enc"
check "... nothing staged" test ! -e "$B/pki/gwa-enc.crt.next"
check "... one gwa.key-remote-refused entry each" test "$(qb "SELECT count(*) FROM admin_log WHERE \
action='gwa.key-remote-refused' AND error_code='failure_outer_signature'")" = 2

check "B's admin log verifies" "$TORWART" audit verify --home "$B"
check "A stops" stop_a

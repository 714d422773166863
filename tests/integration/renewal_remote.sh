#!/usr/bin/env bash
# renewal_remote.sh: issue 12, SMGW renewal whose tenant uses a remote Sub-CA, Torwart
# against Torwart. Home B is the GWA; home A is the Sub-CA that issued B's GWA and
# gateway certificates (A starts as a copy of B's home: same Sub-CA key and the records
# of what it issued, as a real Sub-CA has them) and answers RequestCertificate on its web
# service ([ws] listen, approval = auto). B's tenant "acme" has [renewal] sub_ca.acme =
# remote:a, [ws.remote.a] pointing at A.
#   - A down: the renewal waits "received" with error remote_unreachable (visible, one
#     renewal.remote-wait entry in the admin log), retried every [renewal] remote_retry;
#   - A up: the authorised request reaches A (participant TEST.GWA.TORWART, the GWA), A
#     issues, B installs on the gateway, the new TLS certificate's connection confirms,
#     the renewal completes; the new certificates were issued by A (in A's store);
#   - a remote that refuses (the gateway's participant unknown at A): failed with A's
#     WSDL code, the gateway keeps its certificates;
#   - asynchronous: A's RA decides first (ok_syntax): the renewal waits remote_pending,
#     A's outbox calls B's SendCertificates, the renewal completes.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-renremote-XXXXXX)
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
WAN="127.0.0.1:$WAN_PORT"
A_WS=$(free_port); B_WS=$(free_port)
qb() { sqlite3 "$B/store.db" "$1"; }
qa() { sqlite3 "$A/store.db" "$1"; }
rstate() { "$TORWART" renewal show --home "$B" --id "$1" | sed -n 's/^state: *//p'; }
wait_rstate() { # id state seconds
	local end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do [ "$(rstate "$1")" = "$2" ] && return 0; sleep 0.2; done
	echo "renewal $1 is $(rstate "$1"), expected $2" >>"$T/log"; return 1
}
wait_error() { # id code seconds
	local end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do
		"$TORWART" renewal show --home "$B" --id "$1" | grep -q "^error: *$2" && return 0
		sleep 0.2
	done
	"$TORWART" renewal show --home "$B" --id "$1" >>"$T/log" 2>&1; return 1
}
start_b() {
	"$TORWARTD" --home "$B" all >>"$T/b.log" 2>&1 &
	SUP=$!; pids_to_kill+=("$SUP")
	wait_port 127.0.0.1 "$WAN_PORT" 20
}
stop_b() { kill -TERM "$SUP"; for _ in $(seq 1 100); do kill -0 "$SUP" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
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
sim_visit() { "$SIM" --gwa "$WAN" --gateways "$@" --quiet >>"$T/sim.log" 2>&1; }
renew_id() { sed -n 's/.*first id \([0-9]*\).*/\1/p'; }
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }

check "home B (the GWA)" "$TORWART" init --home "$B" --test-pki --wan-listen "$WAN" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"
printf '\n[worker]\njob_tick_ms = 50\n' >>"$B/torwart.conf"
check "B's stack starts" start_b

# ---- B's gateway GW-R, certified by the Sub-CA as a registered SMGW participant (its
# subject carries the market partner id, which the Sub-CA checks), and B's GWA as the
# participant TEST.GWA.TORWART (owner of B's GWA TLS and SIG certificates).
check "gateway add GW-R" "$TORWART" gateway add --home "$B" --id GW-R
G="$B/gateways/GW-R"
check "the GWA is a participant of the Sub-CA" "$TORWART" ca register --home "$B" \
	--name TEST.GWA.TORWART --org GWA --role gwa --mp-id 9900000000003 --cn TEST.GWA.TORWART
check "GW-R is an SMGW participant" "$TORWART" ca register --home "$B" --name GW-R --org GWA \
	--role smgw --mp-id 9900000000077 --cn GW-R --gateway-id GW-R
first=$(qb "SELECT serial_hex FROM certificates WHERE owner_id='GW-R' AND status='valid'")
check "GW-R's request with its own keys, authorised by the GWA" "$TORWART" req initial \
	--cn GW-R --serial GW-R --ou 9900000000077 --role SMGW --tls-key "$G/tls.key" \
	--sig-key "$G/sig.key" --enc-key "$G/enc.key" --authorise --home "$B" --format der \
	--out "$T/gwr.req"
check "the Sub-CA issues GW-R's certificates" "$TORWART" ca issue --home "$B" \
	--request "$T/gwr.req" --participant GW-R
for s in $first; do "$TORWART" ca revoke "$s" --home "$B" --reason superseded >>"$T/log" 2>&1; done
check "GW-R's first (manufacturer) certificates are revoked, three valid remain" \
	test "$(qb "SELECT count(*) FROM certificates WHERE owner_id='GW-R' AND status='valid'")" = 3
export_certs() {
	local u s
	for u in TLS SIG ENC; do
		s=$(qb "SELECT serial_hex FROM certificates WHERE owner_id='GW-R' AND usage='$u' AND status='valid'")
		"$TORWART" ca export "$s" --home "$B" --out "$G/$(echo "$u" | tr A-Z a-z).crt" >>"$T/log" 2>&1 || return 1
	done
}
check "... the new ones installed in the gateway's directory" export_certs
check "GW-R works with them" sim_visit "$G"

# ---- home A: the Sub-CA (a copy of B as it is now), its web service on A_WS
check "B's stack stops for the copy" stop_b
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

# ---- B: tenant acme renews through remote "a"
printf '\n[renewal]\ntick_ms = 100\ngrace_period = 1\nsub_ca.acme = remote:a\nremote_retry = 1\norder_timeout = 4\norder_retry_delay = 1\norder_attempts = 6\n\n[ws.remote.a]\nurl = https://localhost:%s/\ncert = pki/gwa-tls.crt\nkey = pki/gwa-tls.key\ntrust = pki/chain.pem\ntimeout = 10\n' \
	"$A_WS" >>"$B/torwart.conf"
check "B's stack starts again" start_b
check "GW-R moves to tenant acme" "$TORWART" gateway set --home "$B" --gateway GW-R --move-tenant acme
old_tls=$(fp "$G/tls.crt")

# ---- A down: the renewal waits visibly and retries
out=$("$TORWART" gateway renew --home "$B" --gateway GW-R 2>&1); r1=$(echo "$out" | renew_id)
check "gateway renew starts ($out)" test -n "$r1"
check "the gateway answers the cert-request order" sim_visit "$G"
check "A down: the renewal waits in 'received' with error remote_unreachable" \
	wait_error "$r1" "remote_unreachable: remote Sub-CA a not reachable" 20
check "... state received (retryable, not failed)" test "$(rstate "$r1")" = received
sleep 2.5
check "... still waiting after several retries" test "$(rstate "$r1")" = received
check "... one renewal.remote-wait entry in B's admin log" test \
	"$(qb "SELECT count(*) FROM admin_log WHERE action='renewal.remote-wait' AND object LIKE 'renewal:$r1 %' AND error_code='remote_unreachable'")" = 1
check "GW-R keeps working meanwhile" sim_visit "$G"

# ---- A comes up: the request goes through, the renewal completes
check "A (the Sub-CA with its web service) starts" start_a
check "A issued: the renewal is installing" wait_rstate "$r1" installing 30
check "... A's admin log has the request from participant TEST.GWA.TORWART" test \
	"$(qa "SELECT count(*) FROM admin_log WHERE actor='participant:TEST.GWA.TORWART'")" -ge 1
check "... the renewal.issued entry names the remote Sub-CA" test \
	"$(qb "SELECT count(*) FROM admin_log WHERE action='renewal.issued' AND object LIKE 'renewal:$r1 %' AND detail LIKE '%issued by the remote Sub-CA a%'")" = 1
check "the gateway installs (and reconnects with the new certificate)" sim_visit "$G"
sim_visit "$G"
check "the new TLS certificate's connection confirms; the renewal completes" wait_rstate "$r1" completed 30
new_tls=$(fp "$G/tls.crt")
check "the gateway holds a new TLS certificate" test "$new_tls" != "$old_tls"
check "... issued by A (recorded in A's store)" test \
	"$(qa "SELECT count(*) FROM certificates WHERE fingerprint='$new_tls'")" = 1
check "... valid in B's inventory" test "$(qb "SELECT status FROM certificates WHERE fingerprint='$new_tls'")" = valid
check "the waiting note is gone" bash -c "! '$TORWART' renewal show --home '$B' --id $r1 | grep -q '^error:'"
check "GW-R works with its new certificates" sim_visit "$G"

# ---- a remote refusal is final and typed: A does not know GW-2 as a participant
check "gateway add GW-2 (tenant acme)" "$TORWART" gateway add --home "$B" --id GW-2
"$TORWART" gateway set --home "$B" --gateway GW-2 --move-tenant acme >>"$T/log" 2>&1
out=$("$TORWART" gateway renew --home "$B" --gateway GW-2 2>&1); r2=$(echo "$out" | renew_id)
sim_visit "$B/gateways/GW-2"
check "A refuses: the renewal fails with A's WSDL code" wait_rstate "$r2" failed 30
check "... failure_ code from remote Sub-CA a" bash -c \
	"'$TORWART' renewal show --home '$B' --id $r2 | grep -q '^error: *failure_[a-z_]*: remote Sub-CA a answered'"
check "... GW-2 keeps its 3 valid certificates" \
	test "$(qb "SELECT count(*) FROM certificates WHERE owner_id='GW-2' AND status='valid'")" = 3
# ---- asynchronous: A's RA decides first (ok_syntax), the certificates come by A's
# SendCertificates to B's web service. A gets a web-service identity of its own (B pins
# it as remote "a": the TLS certificate A presents and calls back with).
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
out=$("$TORWART" gateway renew --home "$B" --gateway GW-R 2>&1); r3=$(echo "$out" | renew_id)
check "a second renewal of GW-R ($r3)" test -n "$r3"
sim_visit "$G"
check "A accepted it for its RA: the renewal waits as remote_pending" \
	wait_error "$r3" "remote_pending: remote Sub-CA a: request tw-" 30
check "... state received (retryable)" test "$(rstate "$r3")" = received
rid=$(qa "SELECT id FROM ca_requests WHERE state='pending' ORDER BY id DESC LIMIT 1")
check "A's RA approves ($rid)" "$TORWART" ca approve "$rid" --home "$A" --reason checked
check "A's RA issues" "$TORWART" ca issue --home "$A" --id "$rid"
check "A's SendCertificates reaches B; the renewal goes on to installing" wait_rstate "$r3" installing 40
check "... B logged the callback from remote-ca:a" test \
	"$(qb "SELECT count(*) FROM admin_log WHERE action='ws.SendCertificates' AND actor='remote-ca:a' AND result='ok'")" = 1
sim_visit "$G"; sim_visit "$G"
check "the renewal completes" wait_rstate "$r3" completed 30

check "B's admin log verifies" "$TORWART" audit verify --home "$B"
check "A stops" stop_a

#!/usr/bin/env bash
# auditlog.sh: issue 5, the Merkle admin log end to end: signed tree heads from the
# worker, live and offline verification, proofs checked offline, shipping to a local
# syslog-over-TLS receiver (also across a receiver outage), alerts to a local HTTPS
# webhook (including the worker's alert on tampering), and a retention cut.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-audit-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT
RECV="$(dirname "$0")/audit_receiver.py"
# The distribution's interpreter: a version-manager shim can take seconds to start.
PY=/usr/bin/python3

WAN_PORT=$(free_port); API_PORT=$(free_port); SYS_PORT=$(free_port); HOOK_PORT=$(free_port)

# ---- receivers' certificates (one test CA)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj "/CN=test receiver CA" -keyout "$T/ca.key" -out "$T/ca.crt" >>"$T/log" 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
	-keyout "$T/srv.key" -out "$T/srv.csr" >>"$T/log" 2>&1
printf 'subjectAltName=IP:127.0.0.1\n' >"$T/ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial \
	-days 1 -extfile "$T/ext" -out "$T/srv.crt" >>"$T/log" 2>&1
check "receiver certificate made" test -s "$T/srv.crt"

start_syslog() {
	"$PY" "$RECV" syslog "$SYS_PORT" "$T/srv.crt" "$T/srv.key" "$T/syslog.out" >>"$T/log" 2>&1 &
	SYSLOG_PID=$!
	pids_to_kill+=("$SYSLOG_PID")
	wait_port 127.0.0.1 "$SYS_PORT" 20
}
start_webhook() {
	"$PY" "$RECV" webhook "$HOOK_PORT" "$T/srv.crt" "$T/srv.key" "$T/hook.out" >>"$T/log" 2>&1 &
	HOOK_PID=$!
	pids_to_kill+=("$HOOK_PID")
	wait_port 127.0.0.1 "$HOOK_PORT" 20
}
wait_for() { # seconds command...
	local end=$((SECONDS + $1)); shift
	while [ $SECONDS -lt "$end" ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
	return 1
}
db() { sqlite3 -cmd ".timeout 10000" "$H/store.db" "$@"; }

# ---- home with [audit] and [alert] pointing at the local receivers
check "torwart init --test-pki" "$TORWART" init --home "$H" --test-pki \
	--wan-listen "127.0.0.1:$WAN_PORT" --api-listen "127.0.0.1:$API_PORT" \
	--api-tls-listen "127.0.0.1:$(free_port)"
cat >>"$H/torwart.conf" <<CONF

[audit]
head_every = 5
head_interval = 2
syslog_host = 127.0.0.1:$SYS_PORT
syslog_ca = $T/ca.crt
retention_days = 0
ship_outage_alert = 1

[alert]
webhook = https://127.0.0.1:$HOOK_PORT/alerts
webhook.security-officer = https://127.0.0.1:$HOOK_PORT/security
webhook_ca = $T/ca.crt
CONF
sed -i 's/^audit_verify_interval = .*/audit_verify_interval = 2/' "$H/torwart.conf"

check "syslog receiver listens" start_syslog
"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
TWD_PID=$!
pids_to_kill+=("$TWD_PID")
check "wan listens" wait_port 127.0.0.1 "$WAN_PORT" 20
for i in 1 2 3; do
	check "gateway add SMGW-AL-000$i" "$TORWART" gateway add --home "$H" --id "SMGW-AL-000$i"
done

# ---- signed tree heads by the worker
heads_exist() { [ "$(db 'SELECT count(*) FROM admin_log_head')" -ge 1 ]; }
check "the worker signs tree heads" wait_for 15 heads_exist
out=$("$TORWART" audit verify --home "$H" 2>&1); rc=$?
echo "$out" >>"$T/log"
if [ $rc -eq 0 ] && echo "$out" | grep -q "with signatures" && ! echo "$out" | grep -q " 0 signed heads"; then
	ok "audit verify: chain, tree and signed heads intact"
else bad "audit verify: chain, tree and signed heads intact (rc=$rc: $out)"; fi
SIZE=$(db 'SELECT max(tree_size) FROM admin_log_head')
check "head signature is a DER ECDSA signature" \
	bash -c "sqlite3 '$H/store.db' \"SELECT hex(signature) FROM admin_log_head LIMIT 1\" | grep -q '^30'"

# ---- proofs, checked offline against the GWA SIG certificate
check "inclusion proof for entry 3" bash -c "'$TORWART' audit proof --home '$H' --entry 3 > '$T/incl.txt'"
check "the proof is anchored to a signed head" grep -q '^head-signature ' "$T/incl.txt"
check "inclusion proof verifies offline with the certificate" \
	"$TORWART" audit proof --verify "$T/incl.txt" --cert "$H/pki/gwa-sig.crt"
awk '/^leaf-hash / { c = substr($2, 1, 1); $2 = (c == "0" ? "1" : "0") substr($2, 2) } { print }' \
	"$T/incl.txt" >"$T/incl-bad.txt"   # one hex digit of the leaf hash changed
"$TORWART" audit proof --verify "$T/incl-bad.txt" --cert "$H/pki/gwa-sig.crt" >>"$T/log" 2>&1; rc=$?
if [ $rc -eq 3 ]; then ok "a modified inclusion proof is refused (exit 3)"; else bad "a modified inclusion proof is refused (exit $rc)"; fi
check "consistency proof 2 -> head" bash -c "'$TORWART' audit proof --home '$H' --from 2 --to $SIZE > '$T/cons.txt'"
check "consistency proof verifies offline" "$TORWART" audit proof --verify "$T/cons.txt" --cert "$H/pki/gwa-sig.crt"
check_fails "proof for an entry beyond the log is refused" "$TORWART" audit proof --home "$H" --entry 999999

# ---- export, verified offline
check "audit export" "$TORWART" audit export --home "$H" --out "$T/export.jsonl"
check "the export carries the GWA SIG certificate" grep -q '"type":"cert"' "$T/export.jsonl"
check "offline verify of the export with --cert" "$TORWART" audit verify --export "$T/export.jsonl" --cert "$H/pki/gwa-sig.crt"
sed 's/"seq":4,\(.*\)"result":"ok"/"seq":4,\1"result":"no"/' "$T/export.jsonl" >"$T/export-bad.jsonl"
out=$("$TORWART" audit verify --export "$T/export-bad.jsonl" --cert "$H/pki/gwa-sig.crt" 2>&1); rc=$?
echo "$out" >>"$T/log"
if [ $rc -eq 3 ] && echo "$out" | grep -q "entry 4"; then ok "offline verify names the edited entry 4"; else bad "offline verify names the edited entry 4 (rc=$rc: $out)"; fi
# drop the entries from the last signed head's size on, as an attacker cutting the tail would
HS=$(grep '"type":"head"' "$T/export.jsonl" | tail -n 1 | sed 's/.*"tree_size":\([0-9]*\).*/\1/')
awk -v hs="$HS" '/"type":"entry"/ { match($0, /"seq":[0-9]+/); if (substr($0, RSTART + 6, RLENGTH - 6) + 0 >= hs) next } { print }' \
	"$T/export.jsonl" >"$T/export-cut.jsonl"
out=$("$TORWART" audit verify --export "$T/export-cut.jsonl" 2>&1); rc=$?
echo "$out" >>"$T/log"
if [ $rc -eq 3 ] && echo "$out" | grep -q "truncation"; then ok "offline verify detects a cut-off tail"; else bad "offline verify detects a cut-off tail (rc=$rc: $out)"; fi

# ---- shipping: everything reaches the receiver, also across an outage
last() { db 'SELECT max(seq) FROM admin_log'; }
shipped() { db "SELECT coalesce(max(seq), 0) FROM admin_log_cursor WHERE name='syslog'"; }
drained_to() { [ "$(shipped)" -ge "$1" ]; }   # the cursor reached $1
check "entries reach the syslog receiver" wait_for 20 drained_to "$(last)"
check "received messages are RFC 5424 with structured data" \
	grep -q '^<1[01][0-9]>1 [0-9-]*T[0-9:.]*Z [^ ]* torwart - [^ ]* \[torwart@32473 seq="1" ' "$T/syslog.out"
kill "$SYSLOG_PID"; wait "$SYSLOG_PID" 2>/dev/null
check "gateway add while the log server is down" "$TORWART" gateway add --home "$H" --id SMGW-AL-0009
check "service keeps working without the log server" "$TORWART" audit verify --home "$H"
sleep 2
check "the cursor waits for the server" test "$(shipped)" -lt "$(last)"
check "a log-link outage over [audit] ship_outage_alert raised one outage alert" wait_for 20 \
	test "$(db "SELECT count(*) FROM admin_log WHERE action='alert.outage' AND object='remote-log 127.0.0.1:$SYS_PORT'")" = 1
check "syslog receiver back" start_syslog
check "the spool drains after the outage" wait_for 30 drained_to "$(last)"
missing=0
for s in $(seq 1 "$(shipped)"); do grep -q "seq=\"$s\" " "$T/syslog.out" || missing=$((missing + 1)); done
check "no entry lost (every seq 1..cursor received)" test "$missing" -eq 0
check "framing was valid" bash -c "! grep -q BAD-FRAMING '$T/syslog.out'"

# ---- alerts to the role's webhook, queued across a webhook outage
check "raise a test alert while the webhook is down" "$TORWART" audit alert --home "$H" --kind outage --subject wan --message "wan unreachable"
sleep 1
check "webhook receiver up" start_webhook
check "queued alert delivered to the role's URL" wait_for 20 grep -q '^/alerts .*"kind":"outage".*"role":"system-administrator".*wan unreachable' "$T/hook.out"
check "the alert is in the admin log" bash -c "sqlite3 '$H/store.db' \"SELECT action FROM admin_log WHERE object='wan'\" | grep -qx alert.outage"
check "the alert was shipped as a critical syslog message" wait_for 10 grep -q '^<106>1 .* alert.outage ' "$T/syslog.out"

# ---- retention (with the daemons running): archive, remove, the rest stays verifiable
H2="$H"
check "300 alerts in a burst" "$TORWART" audit alert --home "$H2" --kind job-timeout --subject job --message test --repeat 300
check "300 entries written" test "$(sqlite3 "$H2/store.db" 'SELECT max(seq) FROM admin_log')" -ge 300
check "signed head before the cut" "$TORWART" audit head --home "$H2"
check "audit archive --upto 300" "$TORWART" audit archive --home "$H2" --upto 300 --dir "$T/archive"
check "entries 1..256 removed" test "$(sqlite3 "$H2/store.db" 'SELECT min(seq) FROM admin_log')" -eq 257
check "archive verifies offline" bash -c "'$TORWART' audit verify --export '$T'/archive/admin-log-1-256.jsonl --cert '$H2/pki/gwa-sig.crt'"
check "the cut is in the admin log" bash -c "sqlite3 '$H2/store.db' \"SELECT detail FROM admin_log WHERE action='audit.retention'\" | grep -q 'entries 1..256 archived'"
check "signed head after the cut" "$TORWART" audit head --home "$H2"
out=$("$TORWART" audit verify --home "$H2" 2>&1); rc=$?
echo "$out" >>"$T/log"
if [ $rc -eq 0 ] && echo "$out" | grep -q "from 257" && ! echo "$out" | grep -q " [01] signed heads"; then
	ok "the remaining log verifies from the signed head at the cut"
else bad "the remaining log verifies from the signed head at the cut (rc=$rc: $out)"; fi
check "inclusion proof for an entry after the cut" bash -c "'$TORWART' audit proof --home '$H2' --entry 280 > '$T/p280.txt' && '$TORWART' audit proof --verify '$T/p280.txt' --cert '$H2/pki/gwa-sig.crt'"
check_fails "archived entries are refused for proofs" "$TORWART" audit proof --home "$H2" --entry 10
check_fails "deleting above the cut is still refused" sqlite3 "$H2/store.db" "DELETE FROM admin_log WHERE seq = 280"
sed -i 's/^retention_days = 0$/retention_days = 183/' "$H2/torwart.conf"
check_fails "archive refuses entries younger than retention_days" "$TORWART" audit archive --home "$H2" --upto 600
sed -i 's/^retention_days = 183$/retention_days = 0/' "$H2/torwart.conf"

# ---- tampering: the worker raises an alert to the security officer, verify exits 3
drop_log_triggers "$H/store.db"
db "UPDATE admin_log SET detail='nothing happened' WHERE seq=300"
check "worker alerts the security officer on tampering" wait_for 20 grep -q '^/security .*"kind":"log-integrity"' "$T/hook.out"
out=$("$TORWART" audit verify --home "$H" 2>&1); rc=$?
echo "$out" >>"$T/log"
if [ $rc -eq 3 ] && echo "$out" | grep -q "entry 300"; then ok "audit verify fails and names entry 300"; else bad "audit verify fails and names entry 300 (rc=$rc: $out)"; fi
kill -TERM "$TWD_PID" 2>/dev/null; wait "$TWD_PID" 2>/dev/null


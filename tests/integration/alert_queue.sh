#!/usr/bin/env bash
# alert_queue.sh: alerts for a role without a webhook do not hold up the queue. 50
# break-glass alerts (role security-officer, no webhook here) are queued before the stack
# starts; an outage alert (system-administrator, which has a webhook) raised afterwards
# still reaches its webhook within seconds. The 50 stay in the queue, undelivered and
# marked "undeliverable: no webhook for role security-officer" (never deleted), with one
# warning each; once a webhook is configured and the worker restarts they go out, in a
# burst. The queue once took one alert per second and retried the ones without a webhook
# forever with back-off, so an alert that could be delivered waited behind them.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-it-alertq-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT
WAN_PORT=$(free_port); API_PORT=$(free_port); HOOK_PORT=$(free_port); MK=$(free_port)
PY=/usr/bin/python3
db() { sqlite3 "$H/store.db" "$@"; }
waitfor() { local end=$((SECONDS + $1)); shift; while [ $SECONDS -lt $end ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

# A plain HTTP webhook receiver: one line per POSTed alert (its JSON), answers 204.
cat >"$T/hook.py" <<'PYEOF'
import http.server, sys
out = open(sys.argv[2], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        out.write(self.path + " " + body.decode("utf-8", "replace") + "\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PYEOF
"$PY" "$T/hook.py" "$HOOK_PORT" "$T/hook.out" >>"$T/log" 2>&1 &
pids_to_kill+=("$!")
check "webhook receiver listens" wait_port 127.0.0.1 "$HOOK_PORT" 10

check "init --test-pki" "$TORWART" init --home "$H" --test-pki --wan-listen "127.0.0.1:$WAN_PORT" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$(free_port)"
# Only the system administrators have a webhook (no catch-all [alert] webhook).
printf '\n[alert]\nwebhook.system-administrator = http://127.0.0.1:%s/sysadmin\n' "$HOOK_PORT" \
	>>"$H/torwart.conf"
printf '\n[metrics]\nworker_listen = 127.0.0.1:%s\n' "$MK" >>"$H/torwart.conf"
# metric NAME: its value on the worker's /metrics.
metric() { curl -fsS "http://127.0.0.1:$MK/metrics" | sed -n "s/^$1 //p"; }

# Every `torwart --home` command is break-glass use and raises one more such alert
# itself: N is read from the queue, never assumed.
bg() { db "SELECT count(*) FROM alert_queue WHERE kind = 'break-glass'"; }
check "50 break-glass alerts queued (no webhook for security-officer)" "$TORWART" audit alert \
	--home "$H" --kind break-glass --subject test --message "break-glass used" --repeat 50

start_stack() {
	"$TORWARTD" --home "$H" all >>"$T/all.log" 2>&1 &
	ALL=$!
	pids_to_kill+=("$ALL")
	wait_port 127.0.0.1 "$API_PORT" 30 && sleep 1
}
stop_stack() {
	kill -TERM "$ALL"
	waitfor 20 bash -c "! kill -0 $ALL"
}
check "stack started" start_stack
check "outage alert raised" "$TORWART" audit alert --home "$H" --kind outage --subject wan \
	--message "wan unreachable (test)"
start=$SECONDS
N=$(bg)
check "at least 50 break-glass alerts queued ($N)" test "$N" -ge 50
delivered() { grep -q '"kind":"outage".*wan unreachable (test)' "$T/hook.out"; }
# The old queue needed about one tick per queued alert (50+ s) before this one.
if waitfor 20 delivered; then
	ok "the outage alert reaches its webhook behind 50 undeliverable ones ($((SECONDS - start)) s)"
else
	bad "the outage alert did not reach its webhook within 20 s"
fi
check "... on the system administrators' path" grep -q '^/sysadmin .*"role":"system-administrator"' "$T/hook.out"
check "the $N break-glass alerts are kept, undelivered" test "$(db \
	"SELECT count(*) FROM alert_queue WHERE kind = 'break-glass' AND delivered_ms = 0")" -eq "$N"
check "... marked undeliverable: no webhook for their role" test "$(db \
	"SELECT count(*) FROM alert_queue WHERE kind = 'break-glass' AND last_error = 'undeliverable: no webhook for role security-officer'")" -eq "$N"
check "... with one warning each" test "$(grep -c 'undeliverable: no webhook for role security-officer' "$T/all.log")" -eq "$N"
check "torwart_alerts_undeliverable counts them" test "$(metric torwart_alerts_undeliverable)" = "$N"
attempts_before=$(db "SELECT sum(attempts) FROM alert_queue WHERE kind = 'break-glass'")
sleep 3
check "... and no retries while set aside" test "$(db "SELECT sum(attempts) FROM alert_queue WHERE kind = 'break-glass'")" = "$attempts_before"

# A restart looks at them again, without warning again.
check "stack stopped" stop_stack
check "stack restarted" start_stack
sleep 2
check "after a restart: still kept, still undelivered" test "$(db \
	"SELECT count(*) FROM alert_queue WHERE kind = 'break-glass' AND delivered_ms = 0")" -eq "$N"
check "after a restart: no second warning" test "$(grep -c 'undeliverable: no webhook for role security-officer' "$T/all.log")" -eq "$N"
check "stack stopped again" stop_stack

# With a webhook for the role they go out after the next start, all of them, in a burst.
sed -i "s|^\[alert\]\$|[alert]\nwebhook.security-officer = http://127.0.0.1:$HOOK_PORT/security|" "$H/torwart.conf"
TOTAL=$(db "SELECT count(*) FROM alert_queue")
check "stack started with webhook.security-officer" start_stack
start=$SECONDS
fifty() { [ "$(grep -c '^/security .*"kind":"break-glass"' "$T/hook.out")" -ge "$N" ]; }
if waitfor 20 fifty; then
	ok "the $N set-aside alerts are delivered once their role has a webhook ($((SECONDS - start)) s)"
else
	bad "only $(grep -c '^/security ' "$T/hook.out") of $N set-aside alerts delivered in 20 s"
fi
check "nothing undelivered left" test "$(db "SELECT count(*) FROM alert_queue WHERE delivered_ms = 0")" -eq 0
check "torwart_alerts_undeliverable back to 0" test "$(metric torwart_alerts_undeliverable)" = 0
check "nothing deleted (all $TOTAL alerts still in the queue)" test "$(db "SELECT count(*) FROM alert_queue")" -ge "$TOTAL"

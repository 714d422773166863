#!/usr/bin/env bash
# jobs.sh: issue 4 jobs end to end with real daemons (torwartd all) and the simulator:
# fleet orders with progress, signed wake-ups (replayed, delayed, altered ones cause no
# connection), timeouts with retry in the admin log, fault injection, restarts of the
# stack and of the simulator, bad input over the WAN (curl) and the CLI.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-jobs-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port)
WU_PORT=$((20000 + RANDOM % 30000)); CAP_PORT=$((20000 + RANDOM % 30000))
WAN="127.0.0.1:$WAN_PORT"
j() { "$TORWART" job "$@" --home "$H"; }
state_of() { "$TORWART" job show --home "$H" --id "$1" | sed -n 's/^state: *//p'; }
stat_of() { /usr/bin/python3 -c "import json,sys;print(json.load(open('$T/sim.stats'))['$1'])"; }
count_log() { sqlite3 "$H/store.db" "SELECT count(*) FROM admin_log WHERE $1"; }
wait_state() { # id state seconds
	local end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do [ "$(state_of "$1")" = "$2" ] && return 0; sleep 0.2; done
	return 1
}
start_stack() {
	"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
	SUP=$!; pids_to_kill+=("$SUP")
	wait_port 127.0.0.1 "$WAN_PORT" 20
}
stop_stack() { kill -TERM "$SUP"; for _ in $(seq 1 100); do kill -0 "$SUP" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
start_sim() { # extra args
	"$SIM" --home "$H" --count 3 --listen-wakeup "127.0.0.1:$WU_PORT" \
		--stats "$T/sim.stats" "$@" >>"$T/sim.log" 2>&1 &
	SIMPID=$!; pids_to_kill+=("$SIMPID")
	for _ in $(seq 1 50); do [ -s "$T/sim.stats" ] && return 0; sleep 0.1; done
	return 1
}
stop_sim() { kill -TERM "$SIMPID"; wait "$SIMPID" 2>/dev/null; rm -f "$T/sim.stats"; }

check "torwart init --test-pki" "$TORWART" init --home "$H" --test-pki --wan-listen "$WAN" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$(free_port)"
printf '\n[alert]\njob_timeout_threshold = 2\n\n[worker]\njob_tick_ms = 50\n' >>"$H/torwart.conf"
check "torwartd all starts" start_stack
for i in 1 2 3; do check "gateway add GW-$i" "$TORWART" gateway add --home "$H" --id "GW-$i"; done
check "gateway add installs the GWA SIG certificate" cmp "$H/pki/gwa-sig.crt" "$H/gateways/GW-1/gwa-sig.crt"
check "gateway set: wake-up address and tag for all" "$TORWART" gateway set --home "$H" \
	--gateways all --wakeup "127.0.0.1:$WU_PORT" --add-tag meters
check "gateway set: GW-3 to tenant acme" "$TORWART" gateway set --home "$H" --gateway GW-3 --move-tenant acme
check_fails "gateway set refuses a bad address (nothing changed)" "$TORWART" gateway set --home "$H" \
	--gateways all --wakeup "not an address"
check "job types lists ping and set-retention" bash -c "'$TORWART' job types | grep -q '^ping' && '$TORWART' job types | grep -q '^set-retention'"

# ---- bad input at the CLI: typed error, nothing stored, logged
check_fails "job create refuses a bad payload" j create --type set-retention --payload '{"days":0}' --gateway GW-1
check_fails "job create refuses an unknown type" j create --type warp --gateway GW-1
check_fails "job create refuses non-JSON" j create --type ping --payload '{' --gateway GW-1
check_fails "fleet order with an unknown gateway orders nothing" j create --type ping --gateways GW-1,GW-404
check "refused orders stored no job" test "$(sqlite3 "$H/store.db" 'SELECT count(*) FROM jobs')" = 0
check "refused orders are in the admin log" test "$(count_log "action='job.create' AND result='refused'")" -ge 2

# ---- fleet order: wake-up -> connect -> execute -> result, with progress
check "simulator daemon starts" start_sim
check "fleet ping to tag meters completes (--wait)" j create --type ping --payload '{"echo":"hi"}' --tag meters --wait --wait-timeout 60
check "progress display names the final count" bash -c "'$TORWART' job create --home '$H' --type set-retention --payload '{\"days\":90}' --tenant acme --wait --wait-timeout 60 | grep -q '1/1 finished: 1 done'"
check "the gateway applied the retention period (state on disk)" \
	/usr/bin/python3 -c "import json;assert json.load(open('$H/gateways/GW-3/state.json'))['retention_days']==90"
check "wake-ups were signed by the signer (purpose wakeup)" test "$(count_log "action='signer.sign' AND detail LIKE 'purpose=wakeup%'")" -ge 4
check "workflow states are in the admin log" test "$(count_log "action IN ('job.waking','job.wakeup','job.sent','job.done')")" -ge 16
check "job list shows done jobs" bash -c "'$TORWART' job list --home '$H' --state done | grep -c ' done ' | grep -qx 4"

# ---- orders of one gateway run in order
id1=$(j create --type ping --gateway GW-1 | sed -n 's/^job \([0-9]*\).*/\1/p')
id2=$(j create --type set-retention --payload '{"days":30}' --gateway GW-1 | sed -n 's/^job \([0-9]*\).*/\1/p')
check "two orders for GW-1 both complete" bash -c "'$TORWART' job wait --home '$H' --id $id2 --wait-timeout 30"
check "they ran in order (done of the first before sent of the second)" test \
	"$(sqlite3 "$H/store.db" "SELECT CASE WHEN (SELECT seq FROM admin_log WHERE action='job.done' AND object='job:$id1') < (SELECT seq FROM admin_log WHERE action='job.sent' AND object='job:$id2') THEN 1 ELSE 0 END")" = 1

# ---- signed wake-ups: capture real ones, then replay, alter, delay (T-WU.2/3)
/usr/bin/python3 - "$CAP_PORT" "$T/wu" >>"$T/log" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", int(sys.argv[1])))
open(sys.argv[2] + ".ready", "w").close()
s.settimeout(60)
for i in range(2):
    d, _ = s.recvfrom(2048); open(f"{sys.argv[2]}{i}", "wb").write(d)
PY
CAPPID=$!
for _ in $(seq 1 100); do [ -e "$T/wu.ready" ] && break; sleep 0.1; done
check "GW-2's wake-ups go to a capture socket" "$TORWART" gateway set --home "$H" --gateway GW-2 --wakeup "127.0.0.1:$CAP_PORT"
idc=$(j create --type ping --gateway GW-2 --timeout 2 --attempts 2 --retry-delay 1 | sed -n 's/^job \([0-9]*\).*/\1/p')
wait "$CAPPID"
check "two wake-ups captured (first attempt and retry)" test -s "$T/wu0" -a -s "$T/wu1"
send() { # port file|"" [text]
	/usr/bin/python3 -c "import socket,sys;socket.socket(socket.AF_INET,socket.SOCK_DGRAM).sendto(open(sys.argv[2],'rb').read() if len(sys.argv)<4 else sys.argv[3].encode(),('127.0.0.1',int(sys.argv[1])))" "$@"
}
sessions() { sleep 2; stat_of sessions_ok; }
sessions_above() { # n: wait up to 60 s for more than n sessions (slow CI machines)
	local end=$((SECONDS + 60))
	while [ $SECONDS -lt $end ]; do [ "$(stat_of sessions_ok)" -gt "$1" ] && return 0; sleep 0.2; done
	return 1
}
# Delayed (T-WU.3): a second simulator with a 1 s window gets the genuine wu1 late.
WU2_PORT=$((20000 + RANDOM % 30000))
"$SIM" --home "$H" --count 3 --listen-wakeup "127.0.0.1:$WU2_PORT" --window 1 \
	--stats "$T/sim2.stats" >>"$T/sim2.log" 2>&1 &
SIM2=$!; pids_to_kill+=("$SIM2")
for _ in $(seq 1 50); do [ -s "$T/sim2.stats" ] && break; sleep 0.1; done
sleep 1.5
send "$WU2_PORT" "$T/wu1"
sleep 2
check "a delayed wake-up (outside the window) causes no connection" /usr/bin/python3 -c \
	"import json;d=json.load(open('$T/sim2.stats'));assert d['sessions_ok']==0 and d['wakeups_rejected']==1"
kill -TERM "$SIM2"; wait "$SIM2" 2>/dev/null
s0=$(stat_of sessions_ok); r0=$(stat_of wakeups_rejected)
/usr/bin/python3 -c "d=bytearray(open('$T/wu1','rb').read());d[-5]^=1;open('$T/wu1alt','wb').write(d)"
/usr/bin/python3 -c "d=bytearray(open('$T/wu1','rb').read());i=d.index(b'GW-2');d[i+3]=ord('1');open('$T/wu1rcp','wb').write(d)"
send "$WU_PORT" "$T/wu1alt"; send "$WU_PORT" "$T/wu1rcp"; send "$WU_PORT" "" "garbage that is not a wake-up"
check "altered, re-addressed and junk wake-ups cause no connection" test "$(sessions)" = "$s0"
check "... and were dropped silently, each counted" test "$(stat_of wakeups_rejected)" = "$((r0 + 3))"
send "$WU_PORT" "$T/wu1"
check "the genuine wake-up makes GW-2 connect" sessions_above "$s0"
sleep 1
s1=$(stat_of sessions_ok)
send "$WU_PORT" "$T/wu1"
check "the same wake-up replayed causes no connection" test "$(sessions)" = "$s1"
send "$WU_PORT" "$T/wu0"
check "an older wake-up (sent before the accepted one) causes no connection" test "$(sessions)" = "$s1"
check "the missed first deadline was a logged timeout with retry (UC-3.6)" test \
	"$(count_log "action='job.timeout' AND object='job:$idc' AND result='retry'")" = 1
check "after its last attempt the job is timed-out (final)" wait_state "$idc" timed-out 30
check "two timeouts within the window raised one job-timeout alert for gateway operators" \
	test "$(count_log "action='alert.job-timeout' AND error_code='gateway-operator'")" = 1
"$TORWART" gateway set --home "$H" --gateway GW-2 --wakeup none >>"$T/log" 2>&1
idt=$(j create --type ping --gateway GW-2 --timeout 1 --attempts 1 | sed -n 's/^job \([0-9]*\).*/\1/p')
check "an unanswered job without a wake-up address times out (final)" wait_state "$idt" timed-out 15
check "... logged as timed-out" test "$(count_log "action='job.timeout' AND object='job:$idt' AND result='timed-out'")" = 1

# ---- fault injection with self-initiated contact (batch mode, no wake-up)
G2="$H/gateways/GW-2"
ide=$(j create --type ping --gateway GW-2 | sed -n 's/^job \([0-9]*\).*/\1/p')
check "fault error: the sim answers with an error" "$SIM" --gwa "$WAN" --gateways "$G2" --fault error --quiet
check "fault error: the job failed with the gateway's code" bash -c "'$TORWART' job show --home '$H' --id $ide | grep -q 'injected_fault'"
idd=$(j create --type set-retention --payload '{"days":45}' --gateway GW-2 --timeout 2 --attempts 2 --retry-delay 1 | sed -n 's/^job \([0-9]*\).*/\1/p')
check "fault drop: the sim executes, then drops the connection" "$SIM" --gwa "$WAN" --gateways "$G2" --fault drop --quiet
check "fault drop: the job is still waiting for its result" test "$(state_of "$idd")" = sent
check "fault drop: the deadline passes and the job is retried" wait_state "$idd" created 15
check "retry: the re-delivered order is answered from the gateway's state" bash -c \
	"'$SIM' --gwa '$WAN' --gateways '$G2' | grep -q 'orders 0 ok\|orders 1 ok, 0 failed, 1 repeated'"
check "retry: the job is done" wait_state "$idd" done 10
idm=$(j create --type ping --gateway GW-2 --timeout 60 | sed -n 's/^job \([0-9]*\).*/\1/p')
"$SIM" --gwa "$WAN" --gateways "$G2" --fault malformed --quiet >>"$T/log" 2>&1
sleep 0.5   # wan writes its refusals in batches (every 100 ms)
check "fault malformed: refused and logged by wan" test "$(count_log "action='wan.refuse' AND detail LIKE 'malformed result%'")" -ge 1
check "fault malformed: nothing half-applied (job still sent)" test "$(state_of "$idm")" = sent
check "job cancel" j cancel --id "$idm"
check "cancelled" test "$(state_of "$idm")" = cancelled
check_fails "cancel of a final job is refused" j cancel --id "$idm"

# ---- WAN bad input with a real TLS client (curl keeps one connection over --next)
C2="--cacert $G2/root-ca.crt --cert $G2/tls.crt --key $G2/tls.key --curves brainpoolP256r1 --tlsv1.2 --tls-max 1.2 -sS -H Content-Type:application/json"
SESSION='{"gateway_id":"GW-2","firmware_version":"1.0","time":"2026-11-24T00:00:00Z"}'
"$TORWART" gateway set --home "$H" --gateway GW-1 --wakeup none >>"$T/log" 2>&1
idf=$(j create --type ping --gateway GW-1 | sed -n 's/^job \([0-9]*\).*/\1/p')
out=$(curl $C2 -o /dev/null -d "$SESSION" "https://localhost:$WAN_PORT/v1/session" --next $C2 \
	-o /dev/null -w '%{http_code}' -d '{"status":"ok","result":{}}' "https://localhost:$WAN_PORT/v1/orders/$idf/result" 2>>"$T/log")
sleep 0.5
check "a result for another gateway's order gets 404 (unknown_order)" test "$out" = 404
check "... is logged as a refusal" test "$(count_log "action='wan.refuse' AND detail LIKE '%not an order of this gateway%'")" -ge 1
check "... and changes nothing" test "$(state_of "$idf")" != done
out=$(curl $C2 -o /dev/null -w '%{http_code}' "https://localhost:$WAN_PORT/v1/orders" 2>>"$T/log")
check "orders without a session get 409" test "$out" = 409
out=$(curl $C2 -o /dev/null -d "$SESSION" "https://localhost:$WAN_PORT/v1/session" --next $C2 \
	-o /dev/null -w '%{http_code}' --data-binary @<(head -c 70000 /dev/zero | tr '\0' a) "https://localhost:$WAN_PORT/v1/orders/1/result" 2>>"$T/log")
check "an oversized result gets 413" test "$out" = 413

# ---- restarts: job states survive the stack; the simulator keeps its state
stop_sim
idr=$(j create --type set-retention --payload '{"days":77}' --gateway GW-1 | sed -n 's/^job \([0-9]*\).*/\1/p')
sleep 1
check "stack stops" stop_stack
check "job state survived the stop (waiting for GW-1's own contact)" bash -c "s=\$('$TORWART' job show --home '$H' --id $idr | sed -n 's/^state: *//p'); [ \"\$s\" = awaiting-connection ] || [ \"\$s\" = created ]"
# Progress of a wait (the stack is down, so it runs into --wait-timeout): plain lines on
# a file, rewritten in place on a terminal (script gives it a pseudo-terminal).
j wait --id "$idr" --wait-timeout 1 >"$T/wait.out" 2>"$T/wait.err"; rc=$?
check "job wait runs out of time (exit 5)" test "$rc" = 5
check "... its progress on stderr is a plain line" grep -q '^0/1 finished: .* | open: ' "$T/wait.err"
check "... with no control character when not a terminal" bash -c "! LC_ALL=C grep -q \$'[\\x01-\\x09\\x0b-\\x1f\\x7f]' '$T/wait.err'"
check "... the last count is the result on stdout" grep -q '^0/1 finished' "$T/wait.out"
if command -v script >/dev/null; then
	script -qec "'$TORWART' job wait --home '$H' --id $idr --wait-timeout 1" /dev/null >"$T/wait.tty" 2>&1
	check "... on a terminal the line is rewritten in place (CR + erase)" \
		bash -c "LC_ALL=C grep -q \$'\\r\\033\\[K0/1 finished' '$T/wait.tty'"
fi
printf 'wakeup_rate = 1\nwakeup_burst = 1\n' >>"$H/torwart.conf"
check "stack restarts" start_stack
check "simulator restarts with its state" start_sim --contact-interval 2
check "GW-1 picks its orders up on its own schedule" bash -c "'$TORWART' job wait --home '$H' --id $idr --wait-timeout 30"
check "the earlier orders of GW-1 completed too" wait_state "$idf" done 30
check "simulator state survived the restart (retention 45 kept, 77 applied)" /usr/bin/python3 -c \
	"import json;assert json.load(open('$G2/state.json'))['retention_days']==45;assert json.load(open('$H/gateways/GW-1/state.json'))['retention_days']==77"

# ---- token bucket: 3 wake-ups at 1/s (burst 1) take at least 1.5 s (T-WU.4)
stop_sim
check "simulator restarts (only woken, no own contact)" start_sim
"$TORWART" gateway set --home "$H" --gateways all --wakeup "127.0.0.1:$WU_PORT" >>"$T/log" 2>&1
b=$(j create --type ping --gateways all | sed -n 's/^fleet order \([0-9]*\).*/\1/p')
check "3 paced orders complete" j wait --batch "$b" --wait-timeout 60
spread=$(sqlite3 "$H/store.db" "SELECT (julianday(max(time)) - julianday(min(time))) * 86400 FROM admin_log WHERE action='job.wakeup' AND seq > (SELECT seq FROM admin_log WHERE action='job.fleet' AND object='batch:$b')")
check "wake-ups were paced by the token bucket (spread ${spread}s >= 1.5s)" /usr/bin/python3 -c "assert $spread >= 1.5"
check "admin log verifies" "$TORWART" audit verify --home "$H"

#!/usr/bin/env bash
# sighup.sh: SIGHUP to `torwartd all` (a terminal hang-up, `kill -HUP`, a reload) keeps
# every service running with the same pids and makes the wan reload its TLS certificate.
# The supervisor once had no SIGHUP handler: the signal's default action ended it, and
# the stack with it.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-it-sighup-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT
WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)

check "init --test-pki" "$TORWART" init --home "$H" --test-pki --wan-listen "127.0.0.1:$WAN_PORT" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"

"$TORWARTD" --home "$H" all >"$T/all.log" 2>&1 &
ALL=$!
pids_to_kill+=("$ALL")
check "wan listens" wait_port 127.0.0.1 "$WAN_PORT" 30
check "api listens" wait_port 127.0.0.1 "$API_PORT" 30
sleep 1
# The services by name, from the supervisor's "started NAME (pid N)" lines.
svc_pid() { sed -n "s/.*started $1 (pid \([0-9]*\)).*/\1/p" "$T/all.log" | tail -n 1; }
before=""
for s in signer wan api worker; do before="$before $s=$(svc_pid "$s")"; done
echo "before SIGHUP:$before" >>"$T/log"
check "four services started" test "$(pgrep -P "$ALL" | wc -l)" -eq 4
# Should the supervisor die (the defect), its orphaned services must not outlive the test.
for p in $(pgrep -P "$ALL"); do pids_to_kill+=("$p"); done

# reloaded N: the wan's log holds N reload lines.
reloaded() { [ "$(grep -c 'wan: TLS certificate reloaded' "$T/all.log")" -ge "$1" ]; }
waitfor() { local end=$((SECONDS + $1)); shift; while [ $SECONDS -lt $end ]; do "$@" && return 0; sleep 0.1; done; return 1; }

kill -HUP "$ALL"
check "SIGHUP: the wan reloads its TLS certificate" waitfor 15 reloaded 1
sleep 1
check "SIGHUP: the supervisor still runs" kill -0 "$ALL"
after=""
for s in signer wan api worker; do after="$after $s=$(svc_pid "$s")"; done
echo "after SIGHUP:$after" >>"$T/log"
check "SIGHUP: no service restarted (same pids)" test "$before" = "$after"
all_alive() { local p; for p in $(pgrep -P "$ALL"); do kill -0 "$p" || return 1; done
	[ "$(pgrep -P "$ALL" | wc -l)" -eq 4 ]; }
check "SIGHUP: all four services alive" all_alive
check_fails "SIGHUP: no outage logged" grep -q "restarting in" "$T/all.log"

# A second SIGHUP right after a first (systemctl reload twice) changes nothing either.
kill -HUP "$ALL"; kill -HUP "$ALL"
check "two more SIGHUPs: the wan reloads again" waitfor 15 reloaded 2
sleep 1
after2=""
for s in signer wan api worker; do after2="$after2 $s=$(svc_pid "$s")"; done
check "two more SIGHUPs: same pids" test "$before" = "$after2"
check "two more SIGHUPs: all four alive" all_alive
check "the wan still listens" wait_port 127.0.0.1 "$WAN_PORT" 5

kill -TERM "$ALL"
gone() { ! kill -0 "$1" 2>/dev/null; }
check "SIGTERM still stops the stack" waitfor 15 gone "$ALL"

# A standalone service other than the wan ignores SIGHUP too.
"$TORWARTD" --home "$H" signer >"$T/signer.log" 2>&1 &
S=$!
pids_to_kill+=("$S")
check "standalone signer socket" waitfor 20 test -S "$H/run/signer.sock"
kill -HUP "$S" 2>/dev/null
sleep 0.5
check "a standalone signer survives SIGHUP" kill -0 "$S"

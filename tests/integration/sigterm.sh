#!/usr/bin/env bash
# sigterm.sh: every service (`torwartd wan|api|worker|signer|all`) stops promptly on SIGTERM
# in every start-up state: at once, while it starts, while it runs; a service that cannot
# start (a refused [metrics] address, a listener port in use) exits by itself; one that
# waits for an unreachable database ([store] start_wait) stops when told. A wan once
# ignored SIGTERM for hours: its stop was lost to event loops that had not started yet.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-it-sigterm-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT
WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)

check "init --test-pki" "$TORWART" init --home "$H" --test-pki --wan-listen "127.0.0.1:$WAN_PORT" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"

# gone PID SECONDS: true once PID has exited (and is reaped by the shell).
gone() {
	local end=$((SECONDS + $2))
	while [ $SECONDS -lt "$end" ]; do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}
# term_case WHAT HOME SERVICE DELAY LIMIT: start, wait DELAY (seconds, or "port" for its
# listener), SIGTERM, and expect the process (and its children) gone within LIMIT seconds.
term_case() {
	local what=$1 home=$2 svc=$3 delay=$4 limit=$5 pid kids
	"$TORWARTD" --home "$home" "$svc" >>"$T/$svc.log" 2>&1 &
	pid=$!
	pids_to_kill+=("$pid")
	if [ "$delay" = port ]; then
		case $svc in
		wan) wait_port 127.0.0.1 "$WAN_PORT" 30 ;;
		api|all) wait_port 127.0.0.1 "$API_PORT" 30 ;;
		signer|worker) sleep 1 ;;
		esac
	else
		sleep "$delay"
	fi
	kids=$(pgrep -P "$pid" | tr '\n' ' ')
	kill -TERM "$pid" 2>/dev/null
	if gone "$pid" "$limit"; then
		ok "$what: exits within $limit s of SIGTERM"
	else
		bad "$what: still running $limit s after SIGTERM ($(ps -o stat=,nlwp= -p "$pid"))"
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	for k in $kids; do
		if ! gone "$k" 5; then bad "$what: child $k survived"; kill -KILL "$k" 2>/dev/null; fi
	done
}
# exits_alone WHAT HOME SERVICE LIMIT: a service that cannot start exits non-zero by itself.
exits_alone() {
	local what=$1 home=$2 svc=$3 limit=$4 pid rc
	"$TORWARTD" --home "$home" "$svc" >>"$T/alone.log" 2>&1 &
	pid=$!
	pids_to_kill+=("$pid")
	if gone "$pid" "$limit"; then
		wait "$pid" 2>/dev/null; rc=$?
		if [ "$rc" -ne 0 ]; then ok "$what: exits by itself within $limit s (status $rc)"
		else bad "$what: exited with status 0"; fi
	else
		bad "$what: still running after $limit s ($(ps -o stat=,nlwp= -p "$pid"))"
		kill -KILL "$pid" 2>/dev/null
	fi
}

# ---- the signer runs for the other services' cases (as under `all`)
"$TORWARTD" --home "$H" signer >>"$T/signer.log" 2>&1 &
SIGNER=$!
pids_to_kill+=("$SIGNER")
check "signer socket" bash -c "for i in \$(seq 200); do [ -S '$H/run/signer.sock' ] && exit 0; sleep 0.1; done; exit 1"

# ---- every service, SIGTERM at once, during start-up, and once running
for svc in wan api worker; do
	for d in 0 0.05 0.2 0.6 port; do
		term_case "$svc (SIGTERM after $d)" "$H" "$svc" "$d" 10
	done
done
# The wan's loops start last: several stops close to the moment they start.
for i in 1 2 3 4 5 6; do term_case "wan round $i (SIGTERM after 0.3)" "$H" wan 0.3 10; done
kill -TERM "$SIGNER"; gone "$SIGNER" 10 || kill -KILL "$SIGNER"
for d in 0 0.1 port; do term_case "signer (SIGTERM after $d)" "$H" signer "$d" 10; done
# The supervisor forwards SIGTERM and waits up to 10 s for its children.
for d in 0 0.3 1 port; do term_case "all (SIGTERM after $d)" "$H" all "$d" 15; done

# ---- a refused [metrics] address: each service exits with the error
cp -r "$H" "$T/hm"
cat >>"$T/hm/torwart.conf" <<CONF

[metrics]
wan_listen = 0.0.0.0:$(free_port)
api_listen = 0.0.0.0:$(free_port)
worker_listen = 0.0.0.0:$(free_port)
CONF
for svc in wan api worker; do exits_alone "$svc with a non-loopback [metrics] address" "$T/hm" "$svc" 20; done
check "... saying why" grep -q "loopback address only" "$T/alone.log"
# Under the supervisor the failing children are restarted with back-off: it still stops.
term_case "all with a non-loopback [metrics] address (children restarting)" "$T/hm" all 3 15

# ---- a listener port in use (a socket without SO_REUSEPORT holds it)
/usr/bin/python3 -c "
import socket, sys, time
socks = []
for p in sys.argv[1:]:
    s = socket.socket(); s.bind(('127.0.0.1', int(p))); s.listen(1); socks.append(s)
time.sleep(120)" "$WAN_PORT" "$API_PORT" >>"$T/log" 2>&1 &
HOLDER=$!
pids_to_kill+=("$HOLDER")
check "ports held" wait_port 127.0.0.1 "$API_PORT" 10
: >"$T/alone.log"
exits_alone "wan with its port in use" "$H" wan 20
check "... saying so" grep -q "cannot listen on port $WAN_PORT" "$T/alone.log"
: >"$T/alone.log"
exits_alone "api with its port in use" "$H" api 20
check "... saying so" grep -q "cannot listen on 127.0.0.1:$API_PORT" "$T/alone.log"
term_case "all with its ports in use (children restarting)" "$H" all 3 15
kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null

# ---- an unreachable database: the services wait for it ([store] start_wait), SIGTERM ends it
DEAD=$(free_port)
cp -r "$H" "$T/hd"
sed -i -e "s|^url = .*|url = postgresql://torwart@127.0.0.1:$DEAD/none|" \
	-e "s|^url_\(wan\|api\|worker\) = .*|url_\\1 = postgresql://torwart@127.0.0.1:$DEAD/none|" \
	-e "/^\[store\]/a start_wait = 300" "$T/hd/torwart.conf"
check "the copy names an unreachable store" grep -q "^url = postgresql://torwart@127.0.0.1:$DEAD/none" "$T/hd/torwart.conf"
for svc in wan api worker; do
	for d in 0.2 2; do term_case "$svc waiting for an unreachable store (SIGTERM after $d)" "$T/hd" "$svc" "$d" 10; done
done
term_case "all waiting for an unreachable store" "$T/hd" all 2 15

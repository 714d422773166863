#!/usr/bin/env bash
# metering.sh: metering data for EMTs end to end (UC-3.5.1, UC-3.5.2, M-4.5.5) and the
# legal-time service (UC-3.2.1, M-4.5.9, T-PTB.1-3, T-ZS.1); docs/metering.md.
# Simulated gateways send real CMS (EnvelopedData for the EMT's ENC certificate, signed
# with the gateway's SIG key); the GWA verifies, stores, acknowledges and delivers over
# mutual TLS to two test EMTs (python ssl receivers); the EMTs check everything with
# `openssl cms` as the independent tool. One EMT is down for a while, the worker is
# killed (-9) mid-delivery; nothing acknowledged is lost, duplicates carry the same id.
# Refusals: unauthorised EMT or metering point, forged signature, replay under a new id.
# Time: chronyd (unprivileged, own config) as the upstream, then a wrong upstream.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-metering-XXXXXX)
chmod 0755 "$T"
H="$T/home"
trap 'finish; exit $?' EXIT
NGW=${METERING_GATEWAYS:-20}
HERE=$(cd "$(dirname "$0")" && pwd)

WAN_PORT=$(free_port); API_PORT=$(free_port); NTP_PORT=$(free_port)
EMTA_PORT=$(free_port); EMTB_PORT=$(free_port)
WAN="127.0.0.1:$WAN_PORT"
count_log() { sqlite3 "$H/store.db" "SELECT count(*) FROM admin_log WHERE $1"; }
q() { sqlite3 "$H/store.db" "$1"; }

check "torwart init --test-pki" "$TORWART" init --home "$H" --test-pki --wan-listen "$WAN" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$(free_port)"
printf '%s\n' "" "[worker]" "job_tick_ms = 100" "" "[metering]" "tick_ms = 100" \
	"timeout_ms = 3000" "retry_base_ms = 200" "retry_max_ms = 1000" "housekeeping_s = 1" \
	"undelivered_alert_s = 2" "" "[time]" "upstream = 127.0.0.1:$NTP_PORT" \
	"check_interval_s = 1" "timeout_ms = 1000" "max_offset_ms = 1000" "min_interval_s = 2" \
	>>"$H/torwart.conf"

# ---- the upstream time server: chronyd as an unprivileged process, own config
CHRONYD=$(command -v chronyd || echo /usr/sbin/chronyd)
HAVE_CHRONY=0
if [ -x "$CHRONYD" ]; then
	mkdir -p "$T/chrony" && chmod 0777 "$T/chrony"
	printf '%s\n' "port $NTP_PORT" "bindaddress 127.0.0.1" "local stratum 8" \
		"allow 127.0.0.1" "cmdport 0" "pidfile $T/chrony/chronyd.pid" \
		"driftfile $T/chrony/drift" >"$T/chrony/chrony.conf"
	if [ "$(id -u)" = 0 ]; then
		runuser -u nobody -- "$CHRONYD" -x -U -d -f "$T/chrony/chrony.conf" >"$T/chrony/log" 2>&1 &
	else
		"$CHRONYD" -x -U -d -f "$T/chrony/chrony.conf" >"$T/chrony/log" 2>&1 &
	fi
	CHRONY_PID=$!
	pids_to_kill+=("$CHRONY_PID")
	HAVE_CHRONY=1
else
	echo "chronyd missing (scripts/install-deps installs chrony): time checks skipped"
fi

# ---- EMTs A, B and C: register, request, issue; TLS and ENC certificates exported
issue_emt() { # name mpid cn
	local name=$1 mpid=$2 cn=$3 s u
	"$TORWART" ca register --home "$H" --name "$name" --org "$name org" --role emt \
		--mp-id "$mpid" --cn "$cn" >>"$T/log" 2>&1 || return 1
	"$TORWART" req initial --cn "$cn" --ou "$mpid" --role EMT --key-dir "$T/$name" \
		--format der --out "$T/$name.req" >>"$T/log" 2>&1 || return 1
	"$TORWART" ca issue --home "$H" --request "$T/$name.req" --participant "$name" \
		>>"$T/log" 2>&1 || return 1
	for u in TLS ENC; do
		s=$(q "SELECT serial_hex FROM certificates WHERE owner_kind='emt' AND owner_id='$name' AND usage='$u'")
		[ -n "$s" ] || return 1
		"$TORWART" ca export "$s" --home "$H" --out "$T/$name.${u,,}.crt" >>"$T/log" 2>&1 || return 1
	done
}
EMTA=9900000000001; EMTB=9900000000002; EMTC=9900000000003
check "issue EMT A" issue_emt emt-a $EMTA A.EMT.IT
check "issue EMT B (grid operator)" issue_emt emt-b $EMTB B.EMT.IT
check "issue EMT C (authorised for no gateway)" issue_emt emt-c $EMTC C.EMT.IT

# ---- gateways with evaluation profiles: A gets meter MP of every gateway, B of the
# first half; C of none.
MP=1EMH0000000001
FP=$(printf 'a%.0s' $(seq 64))
printf '%s' "{\"profile_id\":\"meter-1\",\"type\":\"meter\",\"meter_id\":\"$MP\",\"protocol\":\"sml\",\"scenario\":\"wired\",\"obis\":[\"1-0:1.8.0*255\"],\"key\":{\"ref\":\"K-1\",\"algorithm\":\"aes-128\",\"value\":\"00112233445566778899aabbccddeeff\"}}" >"$T/meter.json"
wanp() { printf '%s' "{\"profile_id\":\"wan-$1\",\"type\":\"wan\",\"recipient\":\"$1\",\"address\":\"emt.example:443\",\"tls_cert_fingerprint\":\"$FP\",\"retries\":3,\"retry_interval_s\":60}"; }
evalp() { printf '%s' "{\"profile_id\":\"$2\",\"type\":\"evaluation\",\"taf\":\"$3\",\"meters\":[\"$MP\"],\"obis\":[\"1-0:1.8.0*255\"],\"interval_s\":900,\"recipients\":[{\"emt\":\"$1\",\"wan_profile\":\"wan-$1\"}]}"; }
wanp $EMTA >"$T/wan-a.json"; wanp $EMTB >"$T/wan-b.json"
evalp $EMTA taf1-a TAF1 >"$T/eval-a.json"; evalp $EMTB taf9-b TAF9 >"$T/eval-b.json"
setup_gw() { # id with_b
	"$TORWART" profile authorise-emt --home "$H" --gateway "$1" --emt $EMTA || return 1
	"$TORWART" profile put --home "$H" --gateway "$1" --file "$T/meter.json" || return 1
	"$TORWART" profile put --home "$H" --gateway "$1" --file "$T/wan-a.json" || return 1
	"$TORWART" profile put --home "$H" --gateway "$1" --file "$T/eval-a.json" || return 1
	[ "$2" = 1 ] || return 0
	"$TORWART" profile authorise-emt --home "$H" --gateway "$1" --emt $EMTB || return 1
	"$TORWART" profile put --home "$H" --gateway "$1" --file "$T/wan-b.json" || return 1
	"$TORWART" profile put --home "$H" --gateway "$1" --file "$T/eval-b.json"
}
WU_PORT=$(free_port)
setup_all() {
	local i
	for i in $(seq -w 1 "$NGW"); do
		"$TORWART" gateway add --home "$H" --id "GW-M$i" >>"$T/log" 2>&1 || return 1
	done
	# Wake-ups reach the simulator daemon (started with the services): the profile and
	# TAF orders are executed by the simulated gateways.
	"$TORWART" gateway set --home "$H" --gateways all --wakeup "127.0.0.1:$WU_PORT" \
		>>"$T/log" 2>&1 || return 1
	for i in $(seq -w 1 "$NGW"); do
		setup_gw "GW-M$i" "$([ $((10#$i)) -le $((NGW / 2)) ] && echo 1 || echo 0)" \
			>>"$T/log" 2>&1 || return 1
	done
}
check "$NGW gateways with meter, WAN and evaluation profiles (A: all, B: half)" setup_all
ls -d "$H"/gateways/GW-M* >"$T/all-gw"
head -n $((NGW / 2)) "$T/all-gw" >"$T/b-gw"

# The simulator listens before the services start: the worker wakes the gateways for the
# orders queued above at once, and a wake-up datagram sent before anyone listens is lost
# (the job then waits for its 300 s timeout).
"$SIM" --home "$H" --count "$NGW" --listen-wakeup "127.0.0.1:$WU_PORT" --stats "$T/sim.stats" \
	>>"$T/sim.log" 2>&1 &
pids_to_kill+=("$!")
sim_up() { local _i; for _i in $(seq 1 50); do [ -s "$T/sim.stats" ] && return 0; sleep 0.1; done; return 1; }
check "simulator daemon answers wake-ups" sim_up
"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
TWD=$!
pids_to_kill+=("$TWD")
check "torwartd all starts" wait_port 127.0.0.1 "$WAN_PORT" 20
check "EMT A's endpoint registered" "$TORWART" metering endpoint --home "$H" --emt $EMTA \
	--url "https://localhost:$EMTA_PORT/metering"
check "EMT B's endpoint registered" "$TORWART" metering endpoint --home "$H" --emt $EMTB \
	--url "https://localhost:$EMTB_PORT/grid"
check_fails "an http:// endpoint is refused" "$TORWART" metering endpoint --home "$H" \
	--emt $EMTC --url http://localhost:1/x

start_emt() { # name port dir [delay]
	mkdir -p "$3"
	rm -f "$3/ready"
	/usr/bin/python3 "$HERE/emt_receiver.py" "$2" "$T/$1.tls.crt" "$T/$1/tls.key" \
		"$H/pki/chain.pem" "$3" ${4:+--delay "$4"} >>"$T/$1.log" 2>&1 &
	EMT_PID=$!
	pids_to_kill+=("$EMT_PID")
	for _ in $(seq 1 50); do [ -f "$3/ready" ] && return 0; sleep 0.1; done
	return 1
}
check "EMT A's endpoint starts (B stays down for now)" start_emt emt-a "$EMTA_PORT" "$T/rx-a"
EMTA_PID=$EMT_PID

SIMV=("$SIM" values --gwa "$WAN" --metering-point $MP --quiet)
mkdir -p "$T/sent-a" "$T/sent-b"
# ---- tariffed values for A from every gateway, grid-status data for B from half
check "tariffed values: $NGW gateways x 2 messages for EMT A, all acknowledged" \
	"${SIMV[@]}" --emt $EMTA --emt-enc "$T/emt-a.enc.crt" --messages 2 --ids "$T/ids-a" \
	--out-dir "$T/sent-a" --gateways $(cat "$T/all-gw")
check "grid-status data: $((NGW / 2)) gateways for EMT B (down), acknowledged" \
	"${SIMV[@]}" --emt $EMTB --emt-enc "$T/emt-b.enc.crt" --kind grid-status \
	--ids "$T/ids-b" --out-dir "$T/sent-b" --gateways $(cat "$T/b-gw")
check "ids of acknowledged messages recorded" test "$(wc -l <"$T/ids-a")" = $((NGW * 2))

uniq_received() { awk '{print $2}' "$1/received.log" 2>/dev/null | sort -u | wc -l; }
wait_received() { # dir n seconds
	local _i
	for _i in $(seq 1 $(($3 * 10))); do
		[ "$(uniq_received "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
check "EMT A receives all $((NGW * 2)) messages" wait_received "$T/rx-a" $((NGW * 2)) 40
sleep 1
check "EMT B is down: its messages stay pending and are retried" test \
	"$(q "SELECT count(*) FROM metering_messages WHERE emt_id='$EMTB' AND state='pending' AND attempts >= 1")" = $((NGW / 2))
sleep 2.5
check "undelivered messages raise an alert (metering-undelivered)" test \
	"$(count_log "object='metering' AND detail LIKE '%not acknowledged%'")" -ge 1
check "EMT B's endpoint comes back" start_emt emt-b "$EMTB_PORT" "$T/rx-b"
check "EMT B then receives all $((NGW / 2)) messages" wait_received "$T/rx-b" $((NGW / 2)) 40

# ---- nothing lost, nothing doubled without the EMT seeing it
all_ids_received() { # ids-file rx-dir
	awk '{print $2}' "$2/received.log" | sort -u >"$T/got"
	sort -u "$1" >"$T/want"
	! comm -23 "$T/want" "$T/got" | grep -q .
}
# Waits until every id of the ids file was received: a count is not enough where messages
# stored but never acknowledged (a kill between commit and ack) are delivered too.
wait_ids_received() { # ids-file rx-dir seconds
	local _i
	for _i in $(seq 1 $(($3 * 10))); do
		all_ids_received "$1" "$2" && return 0
		sleep 0.1
	done
	return 1
}
check "every acknowledged message of A arrived (by message id)" all_ids_received "$T/ids-a" "$T/rx-a"
check "every acknowledged message of B arrived" all_ids_received "$T/ids-b" "$T/rx-b"
check "the GWA authenticated with its TLS certificate (client certificate at the EMT)" \
	grep -q 'commonName=' "$T/rx-a/received.log"
sleep 0.5
check "all delivered (store)" test "$(q "SELECT count(*) FROM metering_messages WHERE state='pending'")" = 0
# Kept connections (HTTP/1.1 keep-alive) for a backlog, and TLS resumption after idle:
# the receiver numbers its TLS connections (field 8) and says whether one resumed (9).
lines_a=$(wc -l <"$T/rx-a/received.log")
conns_a=$(awk '{print $8}' "$T/rx-a/received.log" | sort -u | wc -l)
echo "EMT A: $lines_a POSTs on $conns_a TLS connections" >>"$T/log"
check "deliveries to A share kept connections ($lines_a POSTs on $conns_a TLS connections)" \
	test "$conns_a" -lt "$lines_a"
: >"$T/ids-r"
check "one more value for A after the deliverer went idle" "${SIMV[@]}" --emt $EMTA \
	--emt-enc "$T/emt-a.enc.crt" --ids "$T/ids-r" --gateways $(head -n 1 "$T/all-gw")
check "... delivered" wait_ids_received "$T/ids-r" "$T/rx-a" 30
cat "$T/ids-r" >>"$T/ids-a"
check "... on a new connection that resumed the earlier TLS session" \
	bash -c "grep ' $(head -n 1 "$T/ids-r") ' '$T/rx-a/received.log' | tail -1 | grep -q 'resumed=1\$'"

# ---- the EMTs check with openssl cms: integrity (gateway signature) and confidentiality
verify_a() { # a sample of 8 (each costs three processes); all carry the same structure
	local f n=0
	for f in $(ls "$T"/rx-a/*.der | shuf -n 8 --random-source=/dev/zero); do
		openssl cms -verify -inform DER -in "$f" -CAfile "$H/pki/chain.pem" -purpose any \
			-binary -out "$f.inner" 2>>"$T/log" || return 1
		openssl cms -decrypt -inform DER -in "$f.inner" -recip "$T/emt-a.enc.crt" \
			-inkey "$T/emt-a/enc.key" -binary -out "$f.json" 2>>"$T/log" || return 1
		/usr/bin/python3 -c "
import json; d = json.load(open('$f.json'))
assert d['metering_point'] == '$MP' and len(d['values']) == 96 and d['kind'] == 'tariffed', d" \
			2>>"$T/log" || return 1
		n=$((n + 1))
	done
	[ "$n" -eq 8 ]
}
check "EMT A: openssl cms verifies gateway signatures and decrypts 96 quarter-hour values (8 samples)" verify_a
check_fails "EMT B's key cannot decrypt A's values" openssl cms -decrypt -inform DER \
	-in "$(ls "$T"/rx-a/*.der.inner | head -1)" -recip "$T/emt-b.enc.crt" -inkey "$T/emt-b/enc.key" -out /dev/null
grid_inner_unchanged() {
	local k id gw mid n=0
	while read -r k id _; do
		gw=${id%%/*}; mid=${id#*/}
		cmp -s "$T/rx-b/$k.der" "$T/sent-b/${gw}_${mid}.inner.der" || return 1
		openssl cms -decrypt -inform DER -in "$T/rx-b/$k.der" -recip "$T/emt-b.enc.crt" \
			-inkey "$T/emt-b/enc.key" -binary -out "$T/rx-b/$k.json" 2>>"$T/log" || return 1
		grep -q '"kind":"grid-status"' "$T/rx-b/$k.json" || return 1
		n=$((n + 1))
	done <"$T/rx-b/received.log"
	[ "$n" -ge $((NGW / 2)) ]
}
check "grid-status: outer signature removed, inner EnvelopedData byte-identical, B decrypts" \
	grid_inner_unchanged
check_fails "grid-status as delivered is no SignedData" openssl cms -verify -inform DER \
	-in "$T/rx-b/1.der" -noverify -out /dev/null

# ---- refusals: nothing stored, each logged
before=$(q "SELECT count(*) FROM metering_messages")
G1=$(head -1 "$T/all-gw"); GLAST=$(tail -1 "$T/all-gw")
check "EMT C (authorised for no gateway) is refused (not_authorised)" "${SIMV[@]}" \
	--emt $EMTC --emt-enc "$T/emt-c.enc.crt" --expect not_authorised --gateways "$G1"
check "EMT B for a gateway it is not authorised for is refused" "${SIMV[@]}" \
	--emt $EMTB --emt-enc "$T/emt-b.enc.crt" --expect not_authorised --gateways "$GLAST"
check "an unknown metering point is refused" "$SIM" values --gwa "$WAN" --quiet \
	--emt $EMTA --emt-enc "$T/emt-a.enc.crt" --metering-point 1EMH9999999999 \
	--expect not_authorised --gateways "$G1"
check "a forged signature is refused (bad_signature)" "${SIMV[@]}" --emt $EMTA \
	--emt-enc "$T/emt-a.enc.crt" --forge --gateways "$G1"
check "the same CMS under a new message id is refused (replayed)" "${SIMV[@]}" \
	--emt $EMTA --emt-enc "$T/emt-a.enc.crt" --replay --ids "$T/ids-a" --gateways "$G1"
check "a resend with the same id is acknowledged again, stored once (duplicate)" \
	"${SIMV[@]}" --emt $EMTA --emt-enc "$T/emt-a.enc.crt" --resend --ids "$T/ids-a" \
	--gateways "$G1"
check "refusals stored nothing (2 new: the replay's original and the resent one)" test \
	"$(q "SELECT count(*) FROM metering_messages")" = $((before + 2))
sleep 0.4
check "refusals are logged (metering.receive refused)" test \
	"$(count_log "action='metering.receive' AND result='refused'")" -ge 5
check "receipts are logged (metering.receive ok)" test \
	"$(count_log "action='metering.receive' AND result='ok'")" -ge $((NGW * 2 + NGW / 2))
check "deliveries are logged (metering.deliver ok)" test \
	"$(count_log "action='metering.deliver' AND result='ok'")" -ge $((NGW * 2 + NGW / 2))

# ---- kill -9 of the worker in the middle of deliveries to a slow EMT
kill "$EMTA_PID" 2>/dev/null; wait "$EMTA_PID" 2>/dev/null
check "EMT A restarts slow (0.3 s per message)" start_emt emt-a "$EMTA_PORT" "$T/rx-a" 0.3
: >"$T/ids-k"
check "20 more values for A acknowledged" "${SIMV[@]}" --emt $EMTA \
	--emt-enc "$T/emt-a.enc.crt" --messages 2 --ids "$T/ids-k" --gateways $(head -n 10 "$T/all-gw")
cat "$T/ids-k" >>"$T/ids-a"
sleep 1
WPID=$(sed -n 's/.*started worker (pid \([0-9]*\)).*/\1/p' "$T/torwartd.log" | tail -1)
check "the worker is running (pid ${WPID:-?}) and delivering" test -n "$WPID"
[ -n "$WPID" ] && kill -9 "$WPID"
check "after kill -9 and the supervisor's restart, EMT A has every acknowledged message" \
	wait_ids_received "$T/ids-a" "$T/rx-a" 60
check "... none missing by id" all_ids_received "$T/ids-a" "$T/rx-a"
dups=$(awk '{print $2}' "$T/rx-a/received.log" | sort | uniq -d | wc -l)
echo "duplicate deliveries after kill -9 (same X-Torwart-Message-Id, detectable): $dups"
check "every delivery carried a message id" bash -c "! awk '{print \$2}' '$T/rx-a/received.log' | grep -qx -- -"
# ---- kill -9 of the wan while gateways send concurrently (group commit: values of
# several connections share one transaction, each acknowledged only after its commit).
# Four senders in parallel; every id acknowledged before the kill must be in the store
# exactly once, and reach EMT A.
kill "$EMT_PID" 2>/dev/null; wait "$EMT_PID" 2>/dev/null
check "EMT A restarts at full speed" start_emt emt-a "$EMTA_PORT" "$T/rx-a"
: >"$T/ids-w"
split -n r/4 "$T/all-gw" "$T/part-"
SIMWS=()
for part in "$T"/part-*; do
	"${SIMV[@]}" --emt $EMTA --emt-enc "$T/emt-a.enc.crt" --messages 3 --ids "$T/ids-w" \
		--gateways $(cat "$part") >>"$T/log" 2>&1 &
	SIMWS+=("$!")
done
for _ in $(seq 1 100); do [ "$(wc -l <"$T/ids-w")" -ge 4 ] && break; sleep 0.1; done
WANPID=$(sed -n 's/.*started wan (pid \([0-9]*\)).*/\1/p' "$T/torwartd.log" | tail -1)
check "the wan is running (pid ${WANPID:-?}) while 4 senders send" test -n "$WANPID"
[ -n "$WANPID" ] && kill -9 "$WANPID"
wait "${SIMWS[@]}"
echo "acknowledged before/around the wan's kill -9: $(wc -l <"$T/ids-w") of $((NGW * 3))" >>"$T/log"
check "some messages were acknowledged before the kill" test -s "$T/ids-w"
check "not every message was acknowledged (the kill hit the burst)" \
	test "$(wc -l <"$T/ids-w")" -lt $((NGW * 3))
stored_once() { # ids-file: each id in metering_messages exactly once
	q "SELECT gateway_id || '/' || message_id FROM metering_messages" | sort >"$T/stored"
	sort "$1" >"$T/acked"
	! comm -23 "$T/acked" "$T/stored" | grep -q . || return 1
	! uniq -d "$T/stored" | grep -q .
}
check "every message acknowledged before the wan's kill -9 is in the store, none twice" \
	stored_once "$T/ids-w"
cat "$T/ids-w" >>"$T/ids-a"
check "the supervisor restarts the wan" wait_port 127.0.0.1 "$WAN_PORT" 20
check "every message acknowledged before the wan's kill -9 reaches EMT A" \
	wait_ids_received "$T/ids-a" "$T/rx-a" 90
check "... none missing by id" all_ids_received "$T/ids-a" "$T/rx-a"
# The same concurrent senders against the restarted wan, to completion: all acknowledged.
: >"$T/ids-g"
SIMWS=()
for part in "$T"/part-*; do
	"${SIMV[@]}" --emt $EMTA --emt-enc "$T/emt-a.enc.crt" --messages 2 --ids "$T/ids-g" \
		--gateways $(cat "$part") >>"$T/log" 2>&1 &
	SIMWS+=("$!")
done
gfail=0
for p in "${SIMWS[@]}"; do wait "$p" || gfail=1; done
check "4 concurrent senders: all $((NGW * 2)) values acknowledged" test "$gfail" = 0 -a \
	"$(wc -l <"$T/ids-g")" = $((NGW * 2))
check "... each stored once" stored_once "$T/ids-g"
cat "$T/ids-g" >>"$T/ids-a"
check "metering status counts delivered messages" bash -c \
	"'$TORWART' metering status --home '$H' | grep -q '^delivered: [1-9]'"

# ---- EMT requests TAF5/TAF6/TAF9 (UC-3.5.3-3.5.5) over the EMT route, as jobs that wake
# the gateway; readouts come back as metering messages through the same outbox.
G1ID=$(basename "$G1")
evalp $EMTA taf5-a TAF5 >"$T/eval-5.json"; evalp $EMTA taf6-a TAF6 >"$T/eval-6.json"
check "G1 gets TAF5 and TAF6 evaluation profiles for A (TAF5 is accepted now)" bash -c \
	"'$TORWART' profile put --home '$H' --gateway $G1ID --file '$T/eval-5.json' && '$TORWART' profile put --home '$H' --gateway $G1ID --file '$T/eval-6.json'"
cp "$T/emt-a.enc.crt" "$G1/emt-$EMTA.enc.crt"; cp "$T/emt-b.enc.crt" "$G1/emt-$EMTB.enc.crt"
TLSOPT=(--curves brainpoolP256r1 --tlsv1.2 --tls-max 1.2 --cacert "$H/pki/chain.pem" -sS)
as_emt() { local who=$1; shift; curl "${TLSOPT[@]}" --cert "$T/$who.tls.crt" --key "$T/$who/tls.key" "$@" 2>>"$T/log"; }
URL="https://localhost:$WAN_PORT/v1/emt/taf-requests"
taf_post() { # who body -> prints "code job"
	local code
	code=$(as_emt "$1" -o "$T/taf.out" -w '%{http_code}' -H Content-Type:application/json -d "$2" "$URL")
	echo "$code $(/usr/bin/python3 -c "import json;print(json.load(open('$T/taf.out')).get('job',''))" 2>/dev/null)"
}
read -r code J5 <<<"$(taf_post emt-a "{\"gateway\":\"$G1ID\",\"metering_point\":\"$MP\",\"taf\":\"TAF5\",\"tariff_stage\":2}")"
check "TAF5 tariff stage change accepted (202, job ${J5:-?})" test "$code" = 202
check "... the gateway confirms (job done)" "$TORWART" job wait --home "$H" --id "${J5:-0}" --wait-timeout 60
as_emt emt-a -o "$T/taf5.json" "$URL/${J5:-0}"
check "... the EMT reads stage 2 confirmed" /usr/bin/python3 -c "
import json; r = json.load(open('$T/taf5.json'))
assert r['state'] == 'done' and r['taf'] == 'TAF5' and r['result']['tariff_stage'] == 2, r"
check "... the simulated gateway holds stage 2" /usr/bin/python3 -c "
import json; s = json.load(open('$G1/state.json')); assert s['tariff_stages']['$MP'] == 2, s"
read -r code J6 <<<"$(taf_post emt-a "{\"gateway\":\"$G1ID\",\"metering_point\":\"$MP\",\"taf\":\"TAF6\"}")"
check "TAF6 on-demand readout accepted (202)" test "$code" = 202
check "... job done" "$TORWART" job wait --home "$H" --id "${J6:-0}" --wait-timeout 60
as_emt emt-a -o "$T/taf6.json" "$URL/${J6:-0}"
M6=$(/usr/bin/python3 -c "import json;print(json.load(open('$T/taf6.json'))['result']['message_id'])" 2>>"$T/log")
check "... the answer names the readout's message id (${M6:-?})" test -n "$M6"
check "... the readout reaches EMT A's endpoint" bash -c "for i in \$(seq 1 100); do grep -q '$G1ID/$M6 tariffed' '$T/rx-a/received.log' && exit 0; sleep 0.1; done; exit 1"
k6=$(awk -v id="$G1ID/$M6" '$2 == id {print $1; exit}' "$T/rx-a/received.log")
check "... and openssl cms verifies and decrypts it at EMT A" bash -c \
	"openssl cms -verify -inform DER -in '$T/rx-a/$k6.der' -CAfile '$H/pki/chain.pem' -purpose any -binary 2>/dev/null | openssl cms -decrypt -inform DER -recip '$T/emt-a.enc.crt' -inkey '$T/emt-a/enc.key' | grep -q '\"message_id\":\"$M6\"'"
read -r code J9 <<<"$(taf_post emt-b "{\"gateway\":\"$G1ID\",\"metering_point\":\"$MP\",\"taf\":\"TAF9\"}")"
check "TAF9 feed-in readout by grid operator B accepted (202)" test "$code" = 202
check "... job done, grid-status message delivered to B" bash -c "'$TORWART' job wait --home '$H' --id ${J9:-0} --wait-timeout 60 >/dev/null && for i in \$(seq 1 100); do grep -q '$G1ID/r.* grid-status' '$T/rx-b/received.log' && exit 0; sleep 0.1; done; exit 1"
read -r code _ <<<"$(taf_post emt-b "{\"gateway\":\"$G1ID\",\"metering_point\":\"$MP\",\"taf\":\"TAF6\"}")"
check "TAF6 by B (no TAF6 evaluation profile for B) is refused (403)" test "$code" = 403
read -r code _ <<<"$(taf_post emt-c "{\"gateway\":\"$G1ID\",\"metering_point\":\"$MP\",\"taf\":\"TAF5\",\"tariff_stage\":1}")"
check "TAF5 by unauthorised EMT C is refused (403)" test "$code" = 403
read -r code _ <<<"$(taf_post emt-a "{\"gateway\":\"$G1ID\",\"metering_point\":\"$MP\",\"taf\":\"TAF1\"}")"
check "an unsupported TAF is refused (400)" test "$code" = 400
read -r code _ <<<"$(taf_post emt-a "{\"gateway\":\"$G1ID\",\"metering_point\":\"$MP\",\"taf\":\"TAF5\"}")"
check "TAF5 without a tariff stage is refused (400)" test "$code" = 400
code=$(as_emt emt-b -o /dev/null -w '%{http_code}' "$URL/${J5:-0}")
check "another EMT cannot read A's TAF request (404)" test "$code" = 404
: >"$T/ids-p"
# The profile-insert orders reach the simulated gateway through the job queue: wait until
# G1 holds its evaluation profiles (a slow machine may still be delivering them).
holds_eval() { local _i; for _i in $(seq 1 300); do grep -q '"taf1-a"' "$G1/state.json" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
check "G1 holds its evaluation profiles (profile-insert orders executed)" holds_eval
check "the simulator sends for the meters of the evaluation profiles it holds" "$SIM" values \
	--gwa "$WAN" --quiet --emt $EMTA --emt-enc "$T/emt-a.enc.crt" --ids "$T/ids-p" --gateways "$G1"
check "... one message for its one metering point" test "$(wc -l <"$T/ids-p")" = 1
cat "$T/ids-p" >>"$T/ids-a"
sleep 0.4
check "TAF requests are logged with the EMT as actor" test \
	"$(count_log "action='emt.taf-request' AND actor='emt:$EMTA' AND result='ok'")" -ge 2

# ---- time service
if [ "$HAVE_CHRONY" = 1 ]; then
	check "torwart time check against chronyd: synchronised" "$TORWART" time check --home "$H"
	check "a gateway synchronises its clock (POST /v1/time)" "${SIMV[@]}" --emt $EMTA \
		--emt-enc "$T/emt-a.enc.crt" --time-sync --messages 0 --gateways "$G1"
	check_fails "... and again too soon: throttled (T-PTB.3)" "${SIMV[@]}" --emt $EMTA \
		--emt-enc "$T/emt-a.enc.crt" --time-sync --messages 0 --gateways "$G1"
	sleep 2.1
	"${SIMV[@]}" --emt $EMTA --emt-enc "$T/emt-a.enc.crt" --time-sync --clock-offset-ms -5000 \
		--messages 1 --gateways "$GLAST" >"$T/off.out" 2>&1
	cat "$T/off.out" >>"$T/log"
	check "a gateway 5 s behind marks its values (clock_ok false)" grep -q ' 1 clock-marked' "$T/off.out"
	sleep 0.4
	"$TORWART" time status --home "$H" >"$T/ts.out" 2>&1
	cat "$T/ts.out" >>"$T/log"
	check "time status lists the gateway whose clock was off" grep -q "$(basename "$GLAST")" "$T/ts.out"
	check "time status shows the throttled gateway's failure" grep -q 'too often' "$T/ts.out"
	check "the off gateway's synchronisation is logged (time.sync off)" test \
		"$(count_log "action='time.sync' AND result='off'")" -ge 1
	# The upstream goes wrong: an hour off, on the same address (the worker keeps
	# checking it every second).
	kill "$CHRONY_PID" 2>/dev/null; wait "$CHRONY_PID" 2>/dev/null
	/usr/bin/python3 "$HERE/ntp_wrong.py" "$NTP_PORT" 3600 >>"$T/log" 2>&1 &
	pids_to_kill+=("$!")
	sleep 0.5
	check_fails "time check against a wrong upstream (an hour off): not synchronised" \
		"$TORWART" time check --home "$H"
	check "... alerted (time-offset, object gwa-clock)" test "$(count_log "object='gwa-clock'")" -ge 1
	sleep 2.1
	check_fails "the GWA refuses to serve time while unsynchronised (503)" "${SIMV[@]}" \
		--emt $EMTA --emt-enc "$T/emt-a.enc.crt" --time-sync --messages 0 --gateways "$GLAST"
	check "... and records the failure for the gateway" bash -c \
		"'$TORWART' time status --home '$H' | grep -q 'not synchronised'"
fi
# Group commit happened: the wan reports its batches when it stops (values and the
# batch transactions that held values, summed over its threads since its last start).
kill -TERM "$TWD" 2>/dev/null; wait "$TWD" 2>/dev/null
gc_counts() {
	awk '/started wan/ {v = 0; c = 0}
		/metering values in [0-9]+ batch transactions/ { for (i = 1; i <= NF; i++) {
			if ($i == "metering") v += $(i - 1)
			if ($i == "batch") c += $(i - 1) } }
		END {print v + 0, c + 0}' "$T/torwartd.log"
}
read -r gc_values gc_commits <<<"$(gc_counts)"
echo "wan since its restart: $gc_values values in $gc_commits batch transactions holding values"
check "group commit: the restarted wan stored $gc_values values in fewer transactions ($gc_commits)" \
	test "$gc_values" -ge $((NGW * 2)) -a "$gc_commits" -lt "$gc_values"
# The deliverer records a round's outcomes (state change + admin-log entry of every
# message) in one transaction: it reports them when it stops (since the worker's restart
# after the kill -9 above: the slow EMT's backlog and the later values).
read -r dl_outcomes dl_tx <<<"$(awk '/started worker/ {o = 0; t = 0}
	/delivery outcomes recorded in [0-9]+ transactions/ { for (i = 1; i <= NF; i++) {
		if ($i == "delivery") o += $(i - 1)
		if ($i == "transactions,") t += $(i - 1) } }
	END {print o + 0, t + 0}' "$T/torwartd.log")"
echo "deliverer since its restart: $dl_outcomes outcomes in $dl_tx transactions"
check "the deliverer recorded $dl_outcomes outcomes in fewer transactions ($dl_tx)" \
	test "$dl_outcomes" -ge $((NGW * 2)) -a "$dl_tx" -ge 1 -a "$dl_tx" -lt "$dl_outcomes"
check "admin log chain still verifies" "$TORWART" audit verify --home "$H"

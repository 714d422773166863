#!/usr/bin/env bash
# gwa_sig_wakeup.sh: issue 12, wake-ups between a GWA SIG key rotation and the gateway's
# installation of the new GWA SIG certificate (src/gwa/wakeup_key.c, docs/renewal.md
# "Gateways and the new GWA SIG certificate"):
#   - after `gwa renew --key sig` a gateway that still holds the old certificate is woken
#     with a wake-up signed by the kept previous key version (it verifies it with its old
#     certificate and connects), and takes its gwa-cert-update order;
#   - the next wake-up to it is signed with the new key and accepted too;
#   - a gateway added after the switch (it got the new certificate at `gateway add`) is
#     woken with the new key;
#   - after the old key's retirement every wake-up is signed with the current key;
#   - no wake-up is rejected by a simulated gateway at any point;
# on the PKCS#11 token (the production backend) and on the file key backend.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-gwasigwu-XXXXXX)
trap 'finish; exit $?' EXIT
q() { sqlite3 "$H/store.db" "$1"; }
state_of() { "$TORWART" job show --home "$H" --id "$1" | sed -n 's/^state: *//p'; }
wait_state() { # id state seconds
	local end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do [ "$(state_of "$1")" = "$2" ] && return 0; sleep 0.2; done
	return 1
}
job() { # TYPE GATEWAY [PAYLOAD]: prints the new job's id
	"$TORWART" job create --home "$H" --type "$1" --gateway "$2" ${3:+--payload "$3"} |
		sed -n 's/^job \([0-9]*\).*/\1/p'
}
# wake-up signatures of the signer by key label (the signer's admin-log entries)
signed_by() { q "SELECT count(*) FROM admin_log WHERE action='signer.sign' AND object='$1' AND detail LIKE 'purpose=wakeup%'"; }
stat_of() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$T/sim.stats"; }
fpr() { openssl x509 -in "$1" -noout -fingerprint -sha256; }
start_stack() {
	"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
	STACK=$!
	pids_to_kill+=("$STACK")
	wait_port 127.0.0.1 "$WAN_PORT" 30
}
start_sim() { # COUNT: the first COUNT gateways of the home listen for wake-ups
	rm -f "$T/sim.stats"
	"$SIM" --home "$H" --count "$1" --gwa "$WAN" --listen-wakeup "127.0.0.1:$WU_PORT" \
		--stats "$T/sim.stats" >>"$T/sim.log" 2>&1 &
	SIMPID=$!
	pids_to_kill+=("$SIMPID")
	for _ in $(seq 1 50); do [ -s "$T/sim.stats" ] && return 0; sleep 0.1; done
	return 1
}
stop_sim() { kill -TERM "$SIMPID" 2>/dev/null; wait "$SIMPID" 2>/dev/null; }
stop_stack() {
	kill -TERM "$STACK" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$STACK" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$STACK" 2>/dev/null
}

for B in pkcs11 file; do
	H="$T/home-$B"
	WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)
	WAN="127.0.0.1:$WAN_PORT"
	if [ "$B" = file ]; then
		KD="$H/secrets/keys"
		check "$B: init (file key backend)" "$TORWART" init --home "$H" --test-pki --signer-backend file \
			--wan-listen "$WAN" --api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"
	else
		KD="$H/secrets/tls-keys"   # the token keys' pointers (signer_keys.h)
		check "$B: init (SIG key in the PKCS#11 token)" "$TORWART" init --home "$H" --test-pki \
			--wan-listen "$WAN" --api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"
	fi
	printf '\n[worker]\njob_tick_ms = 50\n' >>"$H/torwart.conf"
	check "$B: gateway add GW-1" "$TORWART" gateway add --home "$H" --id GW-1
	G1="$H/gateways/GW-1"
	WU_PORT=$(free_port)
	check "$B: GW-1 listens for wake-ups on 127.0.0.1:$WU_PORT" "$TORWART" gateway set --home "$H" \
		--gateway GW-1 --wakeup "127.0.0.1:$WU_PORT"
	check "$B: the stack starts" start_stack
	check "$B: the simulated GW-1 listens for wake-ups" start_sim 1

	# ---- before the rotation: wake-ups with the only key
	id=$(job ping GW-1)
	check "$B: a ping to GW-1 (job $id) is woken and done" wait_state "$id" done 20
	check "$B: ... signed with gwa-sig" test "$(signed_by gwa-sig)" -ge 1

	# ---- the rotation: the signer switches; GW-1 holds the old certificate
	old_crt="$T/old-gwa-sig.crt"
	cp "$H/pki/gwa-sig.crt" "$old_crt"
	"$TORWART" gwa renew --home "$H" --key sig >"$T/out" 2>&1
	rc=$?; cat "$T/out" >>"$T/log"
	check "$B: gwa renew --key sig (exit $rc)" test "$rc" = 0
	prev=$(cat "$KD/gwa-sig.prev" 2>/dev/null)
	check "$B: ... the signer keeps the previous version ($prev)" test -n "$prev" -a -n "$(cat "$KD/gwa-sig.current")"
	upd=$(q "SELECT id FROM jobs WHERE type='gwa-cert-update' AND gateway_id='GW-1'")
	check "$B: ... GW-1 got a gwa-cert-update order (job $upd)" test -n "$upd"
	check "$B: GW-1 is woken and takes its order" wait_state "$upd" done 30
	check "$B: ... its wake-up was signed with the previous key $prev" test "$(signed_by "$prev")" -ge 1
	check "$B: ... and says so in the job's log" test "$(q "SELECT count(*) FROM admin_log WHERE action='job.wakeup' AND object='job:$upd' AND detail LIKE '%signed with the previous GWA SIG key%'")" -ge 1
	check "$B: GW-1 installed the new GWA SIG certificate" test "$(fpr "$G1/gwa-sig.crt")" = "$(fpr "$H/pki/gwa-sig.crt")" -a \
		"$(fpr "$G1/gwa-sig.crt")" != "$(fpr "$old_crt")"

	# ---- the next wake-up: the new key, accepted
	before_prev=$(signed_by "$prev"); before_cur=$(signed_by gwa-sig)
	id=$(job ping GW-1)
	check "$B: the next ping to GW-1 (job $id) is woken and done" wait_state "$id" done 20
	check "$B: ... signed with the current key (gwa-sig), not the previous one" \
		test "$(signed_by gwa-sig)" -gt "$before_cur" -a "$(signed_by "$prev")" = "$before_prev"
	check "$B: ... no mention of the previous key in its wake-up" test "$(q "SELECT count(*) FROM admin_log WHERE action='job.wakeup' AND object='job:$id' AND detail LIKE '%previous GWA SIG key%'")" = 0

	# ---- a gateway added after the switch: the new key
	check "$B: gateway add GW-2 after the switch (the new certificate from the factory)" \
		"$TORWART" gateway add --home "$H" --id GW-2
	check "$B: ... GW-2 holds the new certificate" test "$(fpr "$H/gateways/GW-2/gwa-sig.crt")" = "$(fpr "$H/pki/gwa-sig.crt")"
	check "$B: GW-2 listens for wake-ups" "$TORWART" gateway set --home "$H" --gateway GW-2 \
		--wakeup "127.0.0.1:$WU_PORT"
	sleep 1.2   # the simulator's counters are rewritten every second
	check "$B: no wake-up to GW-1 was rejected (accepted: $(stat_of wakeups_accepted))" \
		test "$(stat_of wakeups_rejected)" = 0 -a "$(stat_of wakeups_accepted)" -ge 3
	stop_sim
	check "$B: the simulator runs GW-1 and GW-2" start_sim 2
	before_prev=$(signed_by "$prev")
	id=$(job ping GW-2)
	check "$B: a ping to GW-2 (job $id) is woken and done" wait_state "$id" done 20
	check "$B: ... signed with the current key only" test "$(signed_by "$prev")" = "$before_prev"

	# ---- retirement: the old key destroyed, wake-ups with the current key
	"$TORWART" gwa renew --home "$H" --key sig --retire --now >"$T/out" 2>&1
	rc=$?; cat "$T/out" >>"$T/log"
	check "$B: retiring the previous key: GW-1 confirmed, allowed (exit $rc)" test "$rc" = 0 -a ! -e "$KD/gwa-sig.prev"
	id=$(job ping GW-1)
	check "$B: after the retirement a ping to GW-1 (job $id) is woken and done" wait_state "$id" done 20
	sleep 1.2
	check "$B: no wake-up was rejected after the restart either (accepted: $(stat_of wakeups_accepted))" \
		test "$(stat_of wakeups_rejected)" = 0 -a "$(stat_of wakeups_accepted)" -ge 2
	check "$B: no wake-up failed at the GWA" test "$(q "SELECT count(*) FROM admin_log WHERE action='job.wakeup' AND detail LIKE '%failed%'")" = 0
	stop_sim
	check "$B: the stack stops" stop_stack
done

#!/usr/bin/env bash
# rollout.sh: issue 13 staged rollouts end to end (real daemons, simulator, openssl as
# the manufacturer): 40 gateways in 4 groups (a canary of 4, then 12 each); nothing
# starts before the approval; the second group's refusals pass the error threshold and
# the rollout pauses itself; resume retries the failed gateways first; a restart of the
# whole stack mid-rollout continues it to the end; an emergency stop cancels outstanding
# transfers; a closed maintenance window holds wake-ups back. Every step in the admin log.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-it-ro-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT
WAN_PORT=$(free_port); API_PORT=$(free_port)
WAN="127.0.0.1:$WAN_PORT"
db() { sqlite3 "$H/store.db" "$1"; }
logged() { db "SELECT count(*) FROM admin_log WHERE $1"; }
ro() { "$TORWART" rollout "$@" --home "$H"; }
ro_state() { ro show --id "$1" 2>/dev/null | sed -n 's/^state: *\([a-z]*\).*/\1/p'; }
# counts of group G of rollout R: "done failed running waiting"
n_in() { db "SELECT count(*) FROM rollout_targets WHERE rollout_id=$1 AND grp=$2 AND state='$3'"; }
grp() { echo "$(n_in "$1" "$2" done) $(n_in "$1" "$2" failed) $(n_in "$1" "$2" running) $(n_in "$1" "$2" waiting)"; }
wait_for() { # SECONDS CMD...
	local end=$((SECONDS + $1)); shift
	while [ $SECONDS -lt $end ]; do "$@" && return 0; sleep 0.2; done; return 1
}
is() { [ "$("${@:2}")" = "$1" ]; }   # is EXPECTED CMD...
dirs() { local d=(); for g in "$@"; do d+=("$H/gateways/$g"); done; echo "${d[@]}"; }
sim() { # FAULT-ARGS... -- GATEWAYS...
	local args=()
	while [ "$1" != -- ]; do args+=("$1"); shift; done; shift
	# shellcheck disable=SC2046
	"$SIM" --gwa "$WAN" --max-orders 4 "${args[@]}" --gateways $(dirs "$@") >>"$T/sim.log" 2>&1 || true
}
ids() { local a=$1 b=$2; for i in $(seq "$a" "$b"); do printf 'GW-%02d ' "$i"; done; }
start_stack() {
	"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
	SUP=$!; pids_to_kill+=("$SUP")
	wait_port 127.0.0.1 "$WAN_PORT" 20
}
stop_stack() { kill -TERM "$SUP"; for _ in $(seq 1 100); do kill -0 "$SUP" 2>/dev/null || return 0; sleep 0.1; done; return 1; }

check "init --test-pki" "$TORWART" init --home "$H" --test-pki --wan-listen "$WAN" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$(free_port)"
printf '\n[wan]\nfirmware_range_max = 65536\n\n[worker]\njob_tick_ms = 50\n\n[rollout]\ntick_ms = 100\n' >>"$H/torwart.conf"
check "CRLs" bash -c "'$TORWART' ca crl --home '$H' && '$TORWART' ca crl --home '$H' --ca root-ca"
VC="$H/test-vendor/gwh-sig.crt"; VK="$H/test-vendor/gwh-sig.key"
for v in 2.0.0 2.1.0; do
	head -c 100000 /dev/urandom >"$T/img-$v.bin"
	printf '{"format":"torwart-firmware-manifest/1","model":"PPC/SMGW-2","version":"%s","size":100000,"sha256":"%s"}' \
		"$v" "$(sha256sum "$T/img-$v.bin" | cut -d' ' -f1)" >"$T/m-$v.json"
	openssl cms -sign -binary -nodetach -md sha256 -in "$T/m-$v.json" -signer "$VC" -inkey "$VK" \
		-certfile "$H/pki/sub-ca.crt" -outform DER -out "$T/m-$v.cms" 2>>"$T/log"
	"$TORWART" firmware add --home "$H" --file "$T/img-$v.bin" --signature "$T/m-$v.cms" >>"$T/log" 2>&1
done
printf '{"format":"torwart-certified-firmware/1","sequence":1,"issued":"2026-12-01T00:00:00Z","firmware":[{"model":"PPC/SMGW-2","version":"2.0.0"},{"model":"PPC/SMGW-2","version":"2.1.0"}]}' >"$T/l.json"
openssl cms -sign -binary -nodetach -md sha256 -in "$T/l.json" -signer "$H/pki/firmware-list.crt" \
	-inkey "$H/test-vendor/firmware-list.key" -outform DER -out "$T/l.cms" 2>>"$T/log"
check "list imported" "$TORWART" firmware import-list --home "$H" --file "$T/l.cms"
check "images released" bash -c "'$TORWART' firmware release --home '$H' --id 1 && '$TORWART' firmware release --home '$H' --id 2"
for i in $(seq 1 40); do "$TORWART" gateway add --home "$H" --id "$(printf 'GW-%02d' "$i")" >>"$T/log" 2>&1; done
check "40 gateways" test "$(db "SELECT count(*) FROM gateways")" = 40
check "tag fleet" "$TORWART" gateway set --home "$H" --gateways all --add-tag fleet
check "torwartd all starts" start_stack

# ---- create: refused input changes nothing
check_fails "an unreleased image is refused" ro create --name bad --image 9 --tag fleet --groups 4
check_fails "more groups than gateways refused" ro create --name bad --image 1 --gateways GW-01,GW-02 --groups 3
check_fails "a bad maintenance window refused" ro create --name bad --image 1 --tag fleet --groups 4 --window "someday 1-2"
check "nothing stored by refusals" test "$(db "SELECT count(*) FROM rollouts")" = 0
check "create rollout 1 (4 groups, canary 4, error threshold 20%)" ro create --name r1 --image 1 --tag fleet --groups 4 --canary 4 --error 20
gsize() { db "SELECT count(*) FROM rollout_targets WHERE rollout_id=1 AND grp=$1"; }
check "groups 4/12/12/12" test "$(gsize 0)/$(gsize 1)/$(gsize 2)/$(gsize 3)" = 4/12/12/12
sleep 0.5
check "nothing starts before the approval" test "$(db "SELECT count(*) FROM jobs")" = 0
check "approve (rollout.start)" ro approve --id 1
check "canary jobs created" wait_for 10 is "0 0 4 0" grp 1 0
check "second group still waiting" test "$(grp 1 1)" = "0 0 0 12"
sim -- $(ids 1 4)
check "canary done, second group started (cascading)" wait_for 10 is "0 0 12 0" grp 1 1
check "canary gateways run 2.0.0" /usr/bin/python3 -c "import json;assert json.load(open('$H/gateways/GW-01/state.json'))['firmware']['version']=='2.0.0'"

# ---- the second group fails above the threshold: the rollout pauses itself
sim --fault fw-refuse -- $(ids 5 8)
sim -- $(ids 9 16)
check "paused by the error threshold" wait_for 10 is paused ro_state 1
check "reason names the group and the threshold" bash -c "'$TORWART' rollout show --home '$H' --id 1 | grep -Eq 'group 2: [34] of 12 failed, above the error threshold of 20%'"
check "group 2: 8 done, 4 failed (followed while paused)" wait_for 10 is "8 4 0 0" grp 1 1
check "third group not started" test "$(grp 1 2)" = "0 0 0 12"
check "pause logged" test "$(logged "action='rollout.pause' AND object='rollout:1'")" = 1
check "show prints per-group progress" bash -c "'$TORWART' rollout show --home '$H' --id 1 | grep -q '^group 2 *\* *8 done *4 failed *0 in progress *0 waiting'"

# ---- resume: the failed gateways of group 2 first
check "resume" ro resume --id 1
check "failed targets retried first" wait_for 10 is "8 0 4 0" grp 1 1
check "... with new jobs" test "$(db "SELECT sum(tries) FROM rollout_targets WHERE rollout_id=1 AND grp=1")" = 16
sim -- $(ids 5 8)
check "group 3 started" wait_for 10 is "0 0 12 0" grp 1 2

# ---- restart of the whole stack mid-rollout
check "stack stops" stop_stack
check "stack starts again" start_stack
sim -- $(ids 17 28)
check "group 4 started after the restart" wait_for 15 is "0 0 12 0" grp 1 3
sim -- $(ids 29 40)
check "rollout finished" wait_for 10 is finished ro_state 1
check "show --watch ends on a finished rollout (exit 0) with the per-group line" bash -c \
	"'$TORWART' rollout show --home '$H' --id 1 --watch 2>/dev/null | grep -q 'finished group 4/4: g1:4/0/0/0 g2:12/0/0/0 g3:12/0/0/0 g4:12/0/0/0'"
check "all 40 gateways run 2.0.0" test "$(grep -l '"version": *"2.0.0"' "$H"/gateways/GW-*/state.json 2>/dev/null | wc -l)" = 40
check "every step logged" test "$(logged "object='rollout:1' AND action IN ('rollout.create','rollout.start','rollout.group','rollout.pause','rollout.resume','rollout.finish')")" = 8

# ---- emergency stop: outstanding transfers cancelled
check "rollout 2 (2.1.0, 2 groups)" ro create --name r2 --image 2 --gateways "$(ids 1 10 | tr ' ' ',' | sed 's/,$//')" --groups 2 --canary 5
check "approve r2" ro approve --id 2
check "r2 canary jobs" wait_for 10 is "0 0 5 0" grp 2 0
check "emergency stop (cancel)" ro cancel --id 2 --reason "bad batch"
check "r2 cancelled" test "$(ro_state 2)" = cancelled
check "its outstanding jobs cancelled" test "$(db "SELECT count(*) FROM jobs j JOIN rollout_targets t ON t.job_id=j.id WHERE t.rollout_id=2 AND j.state='cancelled'")" = 5
check_fails "a cancelled rollout cannot resume" ro resume --id 2

# ---- a closed maintenance window holds the wake-ups back
H0=$(date -u -d '+12 hours' +%H)
check "rollout 3 with a closed window" ro create --name r3 --image 2 --gateways GW-11,GW-12 --groups 1 --window "daily $H0:00-$H0:01 UTC"
check "approve r3" ro approve --id 3
sleep 1
check "no job outside the window" test "$(grp 3 0)" = "0 0 0 2"
check "list shows the rollouts" bash -c "'$TORWART' rollout list --home '$H' | grep -q '^3 rollouts'"
check "admin log verifies" "$TORWART" audit verify --home "$H"

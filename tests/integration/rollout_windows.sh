#!/usr/bin/env bash
# rollout_windows.sh: maintenance windows of the configuration (issue 13): [rollout]
# window (global), [rollout.window.tenant] and [rollout.window.tag], in local time of
# IANA zones, with the precedence rollout > tag > tenant > global. Six gateways in one
# rollout without a window of its own: only those whose window is open now get their
# firmware-update job; a rollout's own window overrides the configured ones both ways;
# a malformed configured window stops the worker with the key named.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-it-row-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT
WAN_PORT=$(free_port); API_PORT=$(free_port)
WAN="127.0.0.1:$WAN_PORT"
db() { sqlite3 "$H/store.db" "$1"; }
ro() { "$TORWART" rollout "$@" --home "$H"; }
tstate() { db "SELECT state FROM rollout_targets WHERE rollout_id=$1 AND gateway_id='$2'"; }
wait_for() { # SECONDS CMD...
	local end=$((SECONDS + $1)); shift
	while [ $SECONDS -lt $end ]; do "$@" && return 0; sleep 0.2; done; return 1
}
is() { [ "$("${@:2}")" = "$1" ]; }   # is EXPECTED CMD...
# A window around the current local time of ZONE (open now, by an hour either side) and
# one six hours away (closed now); "daily" windows may cross midnight.
hour() { TZ=$1 date +%-H; }
open_in() { printf 'daily %02d:00-%02d:00 %s' $(( ($(hour "$1") + 23) % 24 )) $(( ($(hour "$1") + 2) % 24 )) "$1"; }
closed_in() { printf 'daily %02d:00-%02d:00 %s' $(( ($(hour "$1") + 6) % 24 )) $(( ($(hour "$1") + 7) % 24 )) "$1"; }

check "init --test-pki" "$TORWART" init --home "$H" --test-pki --wan-listen "$WAN" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$(free_port)"
cp "$H/torwart.conf" "$T/torwart.conf.orig"
cat >>"$H/torwart.conf" <<CONF

[worker]
job_tick_ms = 50

[rollout]
tick_ms = 100
window = $(closed_in Europe/Berlin)

[rollout.window.tenant]
north = $(open_in Asia/Tokyo)

[rollout.window.tag]
night = $(closed_in UTC)
day = $(open_in America/New_York)
CONF
check "CRLs" bash -c "'$TORWART' ca crl --home '$H' && '$TORWART' ca crl --home '$H' --ca root-ca"
head -c 50000 /dev/urandom >"$T/img.bin"
printf '{"format":"torwart-firmware-manifest/1","model":"PPC/SMGW-2","version":"2.0.0","size":50000,"sha256":"%s"}' \
	"$(sha256sum "$T/img.bin" | cut -d' ' -f1)" >"$T/m.json"
openssl cms -sign -binary -nodetach -md sha256 -in "$T/m.json" -signer "$H/test-vendor/gwh-sig.crt" \
	-inkey "$H/test-vendor/gwh-sig.key" -certfile "$H/pki/sub-ca.crt" -outform DER -out "$T/m.cms" 2>>"$T/log"
printf '{"format":"torwart-certified-firmware/1","sequence":1,"issued":"2026-12-01T00:00:00Z","firmware":[{"model":"PPC/SMGW-2","version":"2.0.0"}]}' >"$T/l.json"
openssl cms -sign -binary -nodetach -md sha256 -in "$T/l.json" -signer "$H/pki/firmware-list.crt" \
	-inkey "$H/test-vendor/firmware-list.key" -outform DER -out "$T/l.cms" 2>>"$T/log"
check "image added, list imported, released" bash -c "'$TORWART' firmware add --home '$H' --file '$T/img.bin' --signature '$T/m.cms' &&
	'$TORWART' firmware import-list --home '$H' --file '$T/l.cms' && '$TORWART' firmware release --home '$H' --id 1"
for g in 1 2 3 4 5 6; do "$TORWART" gateway add --home "$H" --id "GW-$g" >>"$T/log" 2>&1; done
gset() { "$TORWART" gateway set --home "$H" "$@" >>"$T/log" 2>&1; }
# GW-1: nothing (global, closed)       GW-2: tenant north (open)
# GW-3: tenant north + tag night (the tag's closed window wins)
# GW-4: tag day (open)                 GW-5: tags day and night (both must be open: closed)
# GW-6: tenant north + tag other (no window for "other": the tenant's, open)
check "tenants and tags" bash -c "$(declare -f gset); TORWART='$TORWART' H='$H' T='$T';
	gset --gateways GW-2,GW-3,GW-6 --move-tenant north && gset --gateway GW-3 --add-tag night &&
	gset --gateways GW-4,GW-5 --add-tag day && gset --gateway GW-5 --add-tag night &&
	gset --gateway GW-6 --add-tag other"
check "GW-3 carries tag night in tenant north" bash -c "'$TORWART' gateway show --home '$H' --id GW-3 | grep -q 'tenant: *north' && '$TORWART' gateway show --home '$H' --id GW-3 | grep -q 'tags: *night'"
"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
SUP=$!; pids_to_kill+=("$SUP")
check "torwartd all starts" wait_port 127.0.0.1 "$WAN_PORT" 20

check "rollout 1 over all six, no window of its own" ro create --name r1 --image 1 --all --groups 1
check "approve" ro approve --id 1
check "tenant window open: GW-2 gets its job" wait_for 10 is running tstate 1 GW-2
check "tag window open: GW-4" wait_for 5 is running tstate 1 GW-4
check "unconfigured tag, tenant window open: GW-6" wait_for 5 is running tstate 1 GW-6
sleep 1   # several more ticks
check "global window closed: GW-1 waits" test "$(tstate 1 GW-1)" = waiting
check "tag night (closed) beats tenant north (open): GW-3 waits" test "$(tstate 1 GW-3)" = waiting
check "tags day (open) and night (closed): GW-5 waits" test "$(tstate 1 GW-5)" = waiting
check "jobs only for the three" test "$(db "SELECT count(*) FROM jobs WHERE type='firmware-update'")" = 3

# The rollout's own window decides over the configured ones, both ways.
check "rollout 2 (own window closed) over GW-2,GW-4,GW-6" ro create --name r2 --image 1 \
	--gateways GW-2,GW-4,GW-6 --groups 1 --window "$(closed_in Asia/Tokyo)"
check "rollout 3 (own window open) over GW-1,GW-3,GW-5" ro create --name r3 --image 1 \
	--gateways GW-1,GW-3,GW-5 --groups 1 --window "$(open_in Europe/Berlin)"
check "approve both" bash -c "'$TORWART' rollout approve --home '$H' --id 2 && '$TORWART' rollout approve --home '$H' --id 3"
r3_running() { [ "$(db "SELECT count(*) FROM rollout_targets WHERE rollout_id=3 AND state='running'")" = 3 ]; }
check "rollout 3: its open window overrides global and tag windows" wait_for 10 r3_running
sleep 1
check "rollout 2: its closed window overrides the open tenant and tag windows" \
	test "$(db "SELECT count(*) FROM rollout_targets WHERE rollout_id=2 AND state='waiting'")" = 3

# A malformed configured window: the worker does not start, and says which key.
check "stack stops" bash -c "kill -TERM $SUP; for _ in \$(seq 1 100); do kill -0 $SUP 2>/dev/null || exit 0; sleep 0.1; done; exit 1"
cp "$T/torwart.conf.orig" "$H/torwart.conf"
printf '\n[rollout.window.tag]\nnight = nightly 01:00-02:00\n' >>"$H/torwart.conf"
timeout 20 "$TORWARTD" --home "$H" worker >"$T/bad.out" 2>&1
rc=$?
check "worker refuses a malformed tag window" test "$rc" -ne 0 -a "$rc" -ne 124
check "... naming the key" grep -q "rollout.window.tag\] night" "$T/bad.out"

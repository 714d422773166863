#!/usr/bin/env bash
# audit_head_race.sh: signed tree heads created at once by several creators, the worker's
# audit service (a head every entry, every second) and `torwart audit head` run in
# parallel, many times. One row per size stands; every creator that lost the race reports
# that head (exit 0, "signed already"), none fails with a duplicate; the log verifies.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-it-headrace-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

check "init --test-pki" "$TORWART" init --home "$H" --test-pki \
	--wan-listen "127.0.0.1:$(free_port)" --api-listen "127.0.0.1:$(free_port)" \
	--api-tls-listen "127.0.0.1:$(free_port)"
cat >>"$H/torwart.conf" <<CONF

[audit]
head_every = 1
head_interval = 1
CONF
"$TORWARTD" --home "$H" signer >>"$T/signer.log" 2>&1 &
pids_to_kill+=("$!")
check "signer up" bash -c "for i in \$(seq 200); do [ -S '$H/run/signer.sock' ] && exit 0; sleep 0.1; done; exit 1"
"$TORWARTD" --home "$H" worker >>"$T/worker.log" 2>&1 &
pids_to_kill+=("$!")

rounds=12 each=4 failures=0 already=0
for r in $(seq 1 $rounds); do
	"$TORWART" audit alert --home "$H" --kind job-timeout --subject job --message "round $r" \
		>>"$T/log" 2>&1
	heads=()
	for i in $(seq 1 $each); do
		"$TORWART" audit head --home "$H" >"$T/head.$r.$i" 2>&1 &
		heads+=("$!")
	done
	for p in "${heads[@]}"; do wait "$p" || failures=$((failures + 1)); done
	already=$((already + $(cat "$T"/head.$r.* | grep -c "signed already")))
	cat "$T"/head.$r.* >>"$T/log"
done
if [ "$failures" -eq 0 ]; then ok "$((rounds * each)) concurrent 'audit head' runs all succeeded ($already found the size signed already)"
else bad "$failures of $((rounds * each)) concurrent 'audit head' runs failed"; fi
check "some runs met a head signed by another creator" test "$already" -gt 0
check_fails "no duplicate-head error" grep -qi "unique\|duplicate" "$T"/head.*
check "one head per size" test "$(sqlite3 "$H/store.db" 'SELECT count(*) - count(DISTINCT tree_size) FROM admin_log_head')" -eq 0
check "the worker signed heads too" test "$(sqlite3 "$H/store.db" 'SELECT count(*) FROM admin_log_head')" -ge 2
check "the log with all heads verifies" "$TORWART" audit verify --home "$H"

#!/usr/bin/env bash
# cli_edges.sh: issue 15 section 4, the rough edges a new operator hits first. Wrong
# numbers are refused with their range (not silently replaced by defaults), unknown
# gateways and fleet orders are errors (not empty lists), a job nobody can wake says so,
# break-glass reads are logged without alarming anyone, and the overview commands exist.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-edges-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port)
count() { sqlite3 "$H/store.db" "SELECT count(*) FROM $1"; }
check "init" "$TORWART" init --home "$H" --test-pki --wan-listen "127.0.0.1:$WAN_PORT"
check "gateway add GW-1" "$TORWART" gateway add --home "$H" --id GW-1
check "gateway add GW-2" "$TORWART" gateway add --home "$H" --id GW-2

# ---- numbers: each option with its own range, 0 is no silent default
for spec in "attempts 0 1 100" "attempts 101 1 100" "timeout 0 1 604800" "retry-delay -1 0 604800"; do
	read -r opt val lo hi <<<"$spec"
	"$TORWART" job create --home "$H" --type ping --gateway GW-1 "--$opt" "$val" >"$T/out" 2>&1
	rc=$?
	check "--$opt $val: usage error (exit 2)" test "$rc" = 2
	check "... names the range [$lo, $hi] once" \
		test "$(grep -c -- "--$opt.* $val is out of range \[$lo, $hi\]" "$T/out")" = 1
	check "... and no general usage line after it" bash -c "! grep -q 'usage:' '$T/out'"
done
check "... and no job was created" test "$(count jobs)" = 0

# ---- a stray word is refused, not dropped (`ca issue --request a b` issued a and ignored b)
"$TORWART" ca issue --home "$H" --request "$T/a.der" "$T/b.der" >"$T/out" 2>&1
rc=$?
check "ca issue --request A B: usage error (exit 2), B named as not taken" bash -c \
	"[ $rc = 2 ] && grep -q 'takes no positional argument' '$T/out'"
check "... and nothing was issued" bash -c "! grep -qi 'issued' '$T/out'"

# ---- unknown objects are errors, not empty answers
for cmd in "job list --gateway NOPE" "gateway logs --id NOPE" "gateway show --id NOPE"; do
	# shellcheck disable=SC2086
	"$TORWART" $cmd --home "$H" >"$T/out" 2>&1
	rc=$?
	check "$cmd: exit 1" test "$rc" = 1
	check "... saying the gateway is not registered" grep -q 'NOPE.* is not registered' "$T/out"
done
for sub in wait cancel; do
	"$TORWART" job $sub --home "$H" --batch 999999 >"$T/out" 2>&1
	rc=$?
	check "job $sub --batch 999999: exit 1" test "$rc" = 1
	check "... there is no such fleet order" grep -q "there is no fleet order 999999" "$T/out"
done

# ---- a job for a gateway without a wake-up address says what will happen
"$TORWART" job create --home "$H" --type ping --gateway GW-1 >"$T/out" 2>&1
check "job for a gateway without wake-up address: created" grep -q "job 1 created" "$T/out"
check "... with a note that it waits for the gateway's own contact" \
	grep -q "GW-1 has no wake-up address" "$T/out"
check "gateway set --wakeup" "$TORWART" gateway set --home "$H" --gateway GW-2 --wakeup 127.0.0.1:9
"$TORWART" job create --home "$H" --type ping --gateway GW-2 >"$T/out" 2>&1
check "... no such note once it has one" bash -c "! grep -q 'wake-up address' '$T/out'"

# ---- the overview: gateway show, job batches
"$TORWART" gateway show --home "$H" --id GW-2 >"$T/out" 2>&1
check "gateway show: tenant, wake-up address, queue" bash -c "grep -q '^tenant: *default' '$T/out' && grep -q '^wake-up: *127.0.0.1:9' '$T/out' && grep -q '^jobs: *1 in all; open: 1 created' '$T/out'"
check "... and the gateway's three certificates, valid" \
	test "$(grep -cE ' (TLS|SIG|ENC) +valid ' "$T/out")" = 3
check "fleet order to both" "$TORWART" job create --home "$H" --type ping --gateways all
"$TORWART" job batches --home "$H" >"$T/out" 2>&1
check "job batches: the fleet order with total 2 and 2 open" \
	grep -Eq "^1 +[0-9T:.Z-]+ +ping +2 +0 +0 +0 +2  all$" "$T/out"
check "... and the count line" grep -qx "1 fleet order" "$T/out"

# ---- break-glass: loud for writes, proportionate for reads
reviews=$(count "approvals WHERE action='break-glass'")
"$TORWART" gateway list --home "$H" >"$T/out" 2>&1
check "break-glass read: no ALERT line" bash -c "! grep -q ALERT '$T/out'"
check "... one line saying it is recorded" grep -q "break-glass read by .* (gateway list): recorded" "$T/out"
check "... in the admin log as auth.break-glass-read" \
	test "$(count "admin_log WHERE action='auth.break-glass-read' AND object LIKE 'gateway list%'")" = 1
check "... and no review request for a read" test "$(count "approvals WHERE action='break-glass'")" = "$reviews"
"$TORWART" gateway logs --home "$H" --id GW-1 --kind system --fetch 1-2 >"$T/out" 2>&1
check "gateway logs --fetch creates a job: a write, so ALERT" grep -q ALERT "$T/out"
check "... and a review request" test "$(count "approvals WHERE action='break-glass'")" = $((reviews + 1))
check "audit verify: intact" "$TORWART" audit verify --home "$H"

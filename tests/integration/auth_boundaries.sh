#!/usr/bin/env bash
# auth_boundaries.sh: issue 9, defects 1, 2, 8 and 10, each attack reproduced through the
# real api with the real CLI (docs/security.md, "Trust boundaries"):
#   1  a tenant-admin grants installation-wide roles; a tenant's RA officer revokes
#      another tenant's gateway certificate; `ca deactivate` without four-eyes;
#   2  an admin mints its own second pair of eyes (creator-chosen secrets, approving
#      requests of the account it created);
#   8  a disabled requester's request still executes, approvals read "executed" for
#      refused commands, `approval approve` prints "(null)";
#   10 the policy weakened to nothing with one approval.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-bound-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)
API="https://127.0.0.1:$TLS_PORT"
O="$T/ops"
mkdir -p "$O"
db() { sqlite3 "$H/store.db" "$1"; }
run() { local who=$1; shift; "$TORWART" "$@" --token-file "$T/$who.session" >"$T/out" 2>&1; }

check "init" "$TORWART" init --home "$H" --test-pki --wan-listen "127.0.0.1:$WAN_PORT" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"

# ---- bootstrap by break-glass: installation staff in "default", tenants alpha and beta
bootstrap_operators "$H" "$O" sec:default:security-officer apd:default:approver \
	plain:default: tb:beta:tenant-admin apb:beta:approver rb:beta:ra-officer \
	cb:beta:ca-operator plainb:beta:
check "break-glass gateway add GW-A1" "$TORWART" gateway add --home "$H" --id GW-A1 --out "$T/gw-a1"
check "break-glass moves GW-A1 to tenant alpha" "$TORWART" gateway set --home "$H" \
	--gateway GW-A1 --move-tenant alpha

"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "operator API listens" wait_port 127.0.0.1 "$TLS_PORT" 20
login_all "$API" "$O" "$T" sec apd tb apb rb cb

# ==== 1. installation-wide roles, revocation across tenants, ca deactivate
check "mallory makes a key pair" "$TORWART" operator keygen --name mallory --out "$O/mallory"
for role in ra-officer ca-operator firmware-manager auditor security-officer system-admin; do
	check_fails "tenant-admin of beta cannot create an operator with $role" run tb operator add \
		--name mallory --public-key "$O/mallory/mallory.pub" --roles "$role" --reason "help"
	check_fails "tenant-admin of beta cannot request $role for an operator" run tb operator role \
		--name plainb --roles "$role" --reason "help"
done
check "... no operator mallory was created" test "$(db "SELECT count(*) FROM operators WHERE name='mallory'")" = 0
check "... no role request was stored for plainb" \
	test "$(db "SELECT count(*) FROM approvals WHERE action='operator.role' AND params LIKE '%plainb%'")" = 0
check "the security officer requests ra-officer (installation-wide)" run sec operator role \
	--name plain --roles ra-officer --reason "new RA officer"
RREQ=$(db "SELECT max(id) FROM approvals WHERE action='operator.role'")
check "... pending, no role yet" test "$(db "SELECT roles FROM operators WHERE name='plain'")" = 0
check "a second person releases it" run apd approval approve --id "$RREQ" --reason ok
check "... plain is now an RA officer (bit 1)" test "$(db "SELECT roles FROM operators WHERE name='plain'")" = 2

SERIAL=$(db "SELECT serial_hex FROM certificates WHERE owner_id='GW-A1' AND usage='TLS'")
check "GW-A1 (tenant alpha) has a TLS certificate" test -n "$SERIAL"
run rb ca revoke "$SERIAL" --reason keyCompromise --why "beta wants alpha offline"
check "beta's RA officer: ca revoke of alpha's certificate becomes a request (exit 10)" test $? = 10
XREQ=$(db "SELECT max(id) FROM approvals WHERE action='ca.revoke'")
run apb approval approve --id "$XREQ" --reason "looks fine"
check "... released by beta's approver, the command is refused" test $? != 0
check "... alpha's certificate is still valid" \
	test "$(db "SELECT status FROM certificates WHERE serial_hex='$SERIAL'")" = valid
check "... answered like a serial that does not exist" grep -q "issued no certificate with serial" "$T/out"
check "... the approval says refused, not executed" \
	test "$(db "SELECT state || '|' || substr(result,1,8) FROM approvals WHERE id=$XREQ")" = "failed|refused:"
check "... approval approve printed no (null) field" bash -c "! grep -q '(null)' '$T/out'"

check "ca-operator can generate a CRL (the CA is active)" run cb ca crl
run cb ca deactivate --ca sub-ca --why "stop everything"
check "ca deactivate becomes a four-eyes request (exit 10)" test $? = 10
check "... the CA still signs" run cb ca crl
DREQ=$(db "SELECT max(id) FROM approvals WHERE action='ca.key.deactivate'")
check "a second person releases the deactivation" run apb approval approve --id "$DREQ" --reason ok
check "... approval approve printed no (null) field" bash -c "! grep -q '(null)' '$T/out'"
check "... and shows the command's exit" grep -q "command exit: 0" "$T/out"
check "... the approval reads executed" \
	test "$(db "SELECT state || '|' || substr(result,1,9) FROM approvals WHERE id=$DREQ")" = "executed|executed:"
check_fails "... now the CA refuses to sign" run cb ca crl
run cb ca activate --ca sub-ca --why "back to work"
AREQ=$(db "SELECT max(id) FROM approvals WHERE action='ca.key.activate'")
check "reactivation released" run apb approval approve --id "$AREQ" --reason ok

# ==== 2. one person, one pair of eyes
check "mint makes its own key pair" "$TORWART" operator keygen --name mint --out "$O/mint"
printf 'mints-own-password\n' >"$O/mint.pw"
check_fails "tenant-admin cannot choose a new operator's password" run tb operator add \
	--name mint --public-key "$O/mint/mint.pub" --password-file "$O/mint.pw"
check "tenant-admin adds mint (public key only) asking for approver" run tb operator add \
	--name mint --public-key "$O/mint/mint.pub" --roles approver --reason "second approver" \
	--out "$O/mint"
check "... the answer holds no enrolment code" \
	bash -c "! grep -q \"\$(head -1 '$H/enrolment/mint.code')\" '$T/out'"
MREQ=$(db "SELECT max(id) FROM approvals WHERE action='operator.role' AND params LIKE '%mint%'")
check "beta's approver releases mint's role" run apb approval approve --id "$MREQ" --reason ok
check_fails "the creator cannot enrol as mint with its own key" "$TORWART" operator enrol \
	--api "$API" --cert "$O/tb/tb.crt" --key "$O/tb/tb.key" --code-file "$H/enrolment/mint.code" \
	--password-file "$O/mint.pw" --token-file "$T/x.session"
check_fails "... nor log in as mint without enrolment" "$TORWART" login --api "$API" \
	--cert "$O/mint/mint.crt" --key "$O/mint/mint.key" --password-file "$O/mint.pw" \
	--token-file "$T/x.session"
check "mint enrols with the out-of-band code, its key and its own password" "$TORWART" \
	operator enrol --api "$API" --cert "$O/mint/mint.crt" --key "$O/mint/mint.key" \
	--code-file "$H/enrolment/mint.code" --password-file "$O/mint.pw" --token-file "$T/mint.session"
check "a TOTP operator makes its key pair" "$TORWART" operator keygen --name tina --out "$O/tina"
check "tenant-admin adds tina (TOTP)" run tb operator add --name tina --totp \
	--public-key "$O/tina/tina.pub" --out "$O/tina"
check "... the creator got no TOTP key" bash -c "! grep -qi totp_key '$T/out' && test ! -e '$O/tina/tina.totp'"
check "tina enrols and receives her TOTP key (0600)" "$TORWART" operator enrol --api "$API" \
	--cert "$O/tina/tina.crt" --key "$O/tina/tina.key" --code-file "$H/enrolment/tina.code" \
	--totp --out "$O/tina" --token-file "$T/tina.session"
check "... key file 0600" test "$(stat -c %a "$O/tina/tina.totp")" = 600
check "... stored sealed" test "$(db "SELECT substr(secret,1,7) FROM operators WHERE name='tina'")" = "twbox1:"
check "tina logs in with her own TOTP key" "$TORWART" login --api "$API" --cert "$O/tina/tina.crt" \
	--key "$O/tina/tina.key" --totp-secret-file "$O/tina/tina.totp" --token-file "$T/tina2.session"
check "tb requests gateway-operator for plainb" run tb operator role --name plainb \
	--roles gateway-operator --reason "needs it"
CREQ=$(db "SELECT max(id) FROM approvals WHERE action='operator.role' AND params LIKE '%plainb%'")
check_fails "the account tb created cannot release tb's request (creator rule)" run mint \
	approval approve --id "$CREQ" --reason "rubber stamp"
check "... says why" grep -q "creator_window" "$T/out"
check "... the request is still pending" test "$(db "SELECT state FROM approvals WHERE id=$CREQ")" = pending
check "... plainb has no role yet" test "$(db "SELECT roles FROM operators WHERE name='plainb'")" = 0

# ==== 8. a disabled requester's request does not execute
check "break-glass disables tb while its request waits" "$TORWART" operator disable --home "$H" \
	--name tb --reason "left the company"
run apb approval approve --id "$CREQ" --reason ok
check "releasing the disabled requester's request is refused" test $? != 0
check "... plainb still has no role" test "$(db "SELECT roles FROM operators WHERE name='plainb'")" = 0
check "... the approval ends failed with the reason" \
	test "$(db "SELECT count(*) FROM approvals WHERE id=$CREQ AND state='failed' AND result LIKE 'refused: the requester tb is disabled%'")" = 1
check "approval show prints no (null) field" run apb approval show --id "$CREQ"
check "... (output)" bash -c "grep -q 'refused: the requester tb is disabled' '$T/out' && ! grep -q '(null)' '$T/out'"

# ==== 10. policy floors
cp "$H/torwart.conf" "$T/conf.before"
run sec policy set --key exclusions --value "" --why "simplify"
check "emptying the exclusions: a request (exit 10)" test $? = 10
PREQ=$(db "SELECT max(id) FROM approvals WHERE action='policy.change'")
run apd approval approve --id "$PREQ" --reason ok
check "... released, but the change is refused (policy floor)" test $? != 0
check "... torwart.conf unchanged" cmp -s "$H/torwart.conf" "$T/conf.before"
check "... the approval says refused" \
	test "$(db "SELECT state || '|' || substr(result,1,8) FROM approvals WHERE id=$PREQ")" = "failed|refused:"
run sec policy set --key fleet_order_threshold --value 100000000 --why "no more approvals"
PREQ=$(db "SELECT max(id) FROM approvals WHERE action='policy.change'")
run apd approval approve --id "$PREQ" --reason ok
check "a fleet threshold of 10^8 is refused too" cmp -s "$H/torwart.conf" "$T/conf.before"
printf '\n[auth]\nexclusions = approver+firmware-manager\n' >>"$H/torwart.conf"
check_fails "an edited file cannot drop the mandatory pairs: auditor+approver still refused" \
	"$TORWART" operator add --home "$H" --name eve --password-file "$O/sec.pw" \
	--roles auditor,approver --out "$O/eve" --reason x
check "policy show reports the effective list, mandatory pairs included" bash -c \
	"'$TORWART' policy show --home '$H' 2>/dev/null | grep '^exclusions = ' | grep -q 'ra-officer+ca-operator'"
check "... no operator eve" test "$(db "SELECT count(*) FROM operators WHERE name='eve'")" = 0

check "admin log still verifies" "$TORWART" audit verify --home "$H"

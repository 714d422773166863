#!/usr/bin/env bash
# privsep.sh: issue 9, privilege separation enforced. A home made by `init --system`,
# torwartd all started as root: each service under its own user with seccomp and
# no_new_privs, the token and the PINs out of reach of the other users, a forbidden
# system call kills the service and raises a sandbox-violation alert, and the product
# still works (a simulated gateway session, a certificate issued through the signer).
# Needs root (it creates the service users, like a package would); skips otherwise.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ] || ! command -v useradd >/dev/null || ! command -v setpriv >/dev/null; then
	echo "privsep.sh: needs root, useradd and setpriv (util-linux); skipped"
	exit 77
fi
T=$(mktemp -d /tmp/torwart-it-XXXXXX)
chmod 0755 "$T"   # the service users must reach the home below it
H="$T/home"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)
WAN="127.0.0.1:$WAN_PORT"
# Run a command with exactly the credentials of a service user (uid, gid, groups).
as() { local u=$1; shift; setpriv --reuid="$u" --regid=torwart --init-groups "$@"; }
db() { sqlite3 "$H/store/store.db" "$1"; }

# ---- init --system: users, groups, file modes
check_fails "init --system refuses a non-root user" \
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$TORWART" init --system --home "$T/x"
check_fails "init --system refuses a SQLite --store elsewhere (its modes are for store/store.db)" \
	"$TORWART" init --system --home "$T/y" --store "$T/elsewhere.db"
check "... and made nothing" test ! -e "$T/y" -a ! -e "$T/elsewhere.db"
check "torwart init --system --test-pki" "$TORWART" init --system --home "$H" --test-pki \
	--wan-listen "$WAN" --api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"
for u in torwart-signer torwart-wan torwart-api torwart-worker; do
	check "user $u exists without a login shell" \
		bash -c "getent passwd $u | grep -q ':/usr/sbin/nologin$'"
done
check "torwart.conf has [privsep]" grep -q '^\[privsep\]' "$H/torwart.conf"
if [ "${TORWART_TEST_STORE:-sqlite}" = pg ]; then
	# init --system used to replace a --store postgresql:// URL by store/store.db.
	check "the PostgreSQL --store is kept in torwart.conf" \
		grep -q '^url = postgresql://' "$H/torwart.conf"
	check "... and no SQLite store was made" test ! -e "$H/store/store.db"
else
	check "the store has a directory of its own" test -f "$H/store/store.db"
fi
check "secrets/pins: torwart-signer, 0600" test "$(stat -c %U:%a "$H/secrets/pins")" = torwart-signer:600
check "tokens/: torwart-signer, 0700" test "$(stat -c %U:%a "$H/tokens")" = torwart-signer:700
check "softhsm2.conf: torwart-signer, 0600" test "$(stat -c %U:%a "$H/softhsm2.conf")" = torwart-signer:600
# TLS keys are the signer's (docs/security.md "TLS keys in the signer"): no key file at all.
check "no TLS key file of the wan, api or worker in the home" \
	test -z "$(find "$H" -name '*.key' -not -path "$H/secrets/*" -not -path "$H/gateways/*" \
		-not -path "$H/test-vendor/*")"
check "no private key in pki/" bash -c "! grep -rl 'PRIVATE KEY' '$H/pki'"
if [ "${TORWART_TEST_STORE:-sqlite}" != pg ]; then
	check "store: group torwart, 0660" test "$(stat -c %G:%a "$H/store/store.db")" = torwart:660
fi
check "data key: torwart-signer, 0600 (sealing goes through the signer)" \
	test "$(stat -c %U:%a "$H/secrets/data.key")" = torwart-signer:600
check "secrets/: torwart-signer, 0700" test "$(stat -c %U:%a "$H/secrets")" = torwart-signer:700
# The web console's key (issue 15): made in the signer's TLS key directory, the signer's.
check "console tls as root in the privsep home" "$TORWART" console tls --home "$H" --host 127.0.0.1
check "... its key is the signer's: torwart-signer, 0600" \
	test "$(stat -c %U:%a "$H/secrets/tls-keys/console-tls.key")" = torwart-signer:600
check "... no console key file in pki/" test ! -e "$H/pki/console-tls.key"

# ---- only the signer's user reads the token, the PINs and the signer's files
TOKFILE=$(find "$H/tokens" -type f -name '*.object' | head -n 1)
check "the token has object files" test -n "$TOKFILE"
check "torwart-signer reads a token file" as torwart-signer cat "$TOKFILE"
for u in torwart-wan torwart-api torwart-worker; do
	check_fails "$u cannot read secrets/pins" as $u cat "$H/secrets/pins"
	check_fails "$u cannot list tokens/" as $u ls "$H/tokens"
	check_fails "$u cannot read a token file" as $u cat "$TOKFILE"
	check_fails "$u cannot read softhsm2.conf" as $u cat "$H/softhsm2.conf"
	check_fails "$u cannot list secrets/" as $u ls "$H/secrets"
done
check "torwart-signer reads secrets/pins" as torwart-signer cat "$H/secrets/pins"
# Every file a service user can read holds no private key (the keys under gateways/ and
# test-vendor/ are the simulated gateways' and the test manufacturer's: test material).
for u in torwart-wan torwart-api torwart-worker; do
	check "$u can read no file with a private key" bash -c "! setpriv --reuid=$u \
		--regid=torwart --init-groups find '$H' \( -path '$H/gateways' -o \
		-path '$H/test-vendor' \) -prune -o -type f \
		-readable -print 2>/dev/null | xargs -r grep -l 'PRIVATE KEY' 2>/dev/null | grep -q ."
done
for u in torwart-wan torwart-api torwart-worker; do
	check_fails "$u cannot read the data key" as $u cat "$H/secrets/data.key"
done
check "torwart-signer reads the data key" as torwart-signer cat "$H/secrets/data.key"

# ---- a privsep home refuses a start as the wrong user
check_fails "torwartd wan as torwart-worker is refused" \
	as torwart-worker "$TORWARTD" --home "$H" wan
if as torwart-worker "$TORWARTD" --home "$H" wan 2>&1 | grep -q "start torwartd as root"; then
	ok "the refusal says to start torwartd as root"
else
	bad "the refusal says to start torwartd as root"
fi

check_fails "torwartd all as a service user is refused" as torwart-wan "$TORWARTD" --home "$H" all
if as torwart-wan "$TORWARTD" --home "$H" all 2>&1 | grep -q "start \`torwartd all\` as root"; then
	ok "... at once, saying to start it as root"
else
	bad "... at once, saying to start it as root"
fi

# ---- the stack, started as root
start_stack() {
	"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
	SUP=$!
	pids_to_kill+=("$SUP")
	wait_port 127.0.0.1 "$WAN_PORT" 30 && wait_port 127.0.0.1 "$API_PORT" 30 &&
		wait_port 127.0.0.1 "$TLS_PORT" 30
}
stop_stack() {
	kill -TERM "$SUP" 2>/dev/null
	for _ in $(seq 1 150); do kill -0 "$SUP" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}
service_pid() { grep "started $1 (pid" "$T/torwartd.log" | tail -n 1 | sed 's/.*(pid \([0-9]*\)).*/\1/'; }

check "torwartd all starts (wan and api listen)" start_stack
check "the supervisor stays root" test "$(ps -o user= -p "$SUP")" = root
for s in signer wan api worker; do
	p=$(service_pid $s)
	echo "$s: pid $p, $(ps -o user=,comm= -p "$p")" >>"$T/log"
	check "ps: the $s runs as torwart-$s" test "$(ps -o user:20= -p "$p" | tr -d ' ')" = "torwart-$s"
	check "$s: Seccomp: 2 (filter)" grep -q '^Seccomp:[[:space:]]*2$' "/proc/$p/status"
	check "$s: NoNewPrivs: 1" grep -q '^NoNewPrivs:[[:space:]]*1$' "/proc/$p/status"
	check "$s: no effective capabilities" grep -q '^CapEff:[[:space:]]*0000000000000000$' "/proc/$p/status"
	check "$s: RLIMIT_CORE 0" bash -c "grep '^Max core file size' /proc/$p/limits | awk '{exit !(\$5 == 0 && \$6 == 0)}'"
	check "$s: not dumpable (its /proc files belong to root)" test "$(stat -c %U "/proc/$p/environ")" = root
done

# ---- the product still works under the sandboxes
check "gateway add SMGW-PS-0001 (as the api's user)" \
	as torwart-api "$TORWART" gateway add --home "$H" --id SMGW-PS-0001
check "torwart-sim opens a session with the wan" \
	"$SIM" --gwa "$WAN" --gateways "$H/gateways/SMGW-PS-0001"
check "register an EMT participant (as the api's user)" as torwart-api "$TORWART" ca register \
	--home "$H" --name stw --org "Stadtwerk IT" --role emt --mp-id 9912345000001 \
	--cn STW.EMT.IT --email pki@stw.example
check "torwart req initial" "$TORWART" req initial --cn STW.EMT.IT --ou 9912345000001 \
	--email pki@stw.example --key-dir "$T/keys" --format der --out "$T/req.der"
chmod 0644 "$T/req.der"
check "ca issue through the signer (as the api's user)" \
	as torwart-api "$TORWART" ca issue --home "$H" --request "$T/req.der"
check "three certificates issued" test "$(db "SELECT count(*) FROM certificates WHERE request_id = 1")" = 3

# ---- the data key stays in the signer: secrets are sealed and opened through it
# (ops SEAL/UNSEAL), by the services that need them, and only those (issue 9).
cat >"$T/meter.json" <<'EOF'
{"profile_id":"meter-ps","type":"meter","meter_id":"1EMH0099999999","protocol":"sml",
 "scenario":"wired","obis":["1-0:1.8.0*255"],
 "key":{"ref":"K-PS","algorithm":"aes-128","value":"00112233445566778899aabbccddeeff"}}
EOF
check "profile put with a meter key (sealed through the running signer)" \
	"$TORWART" profile put --home "$H" --gateway SMGW-PS-0001 --file "$T/meter.json"
check "the meter key is sealed in the store" \
	test "$(db "SELECT count(*) FROM profiles WHERE profile_id = 'meter-ps' AND doc LIKE '%twbox1:%'")" = 1
check "the wan sends it: it opened the key through the signer (it cannot read data.key)" \
	"$SIM" --gwa "$WAN" --gateways "$H/gateways/SMGW-PS-0001"
check "the profile-insert job is done" \
	test "$(db "SELECT count(*) FROM jobs WHERE type = 'profile-insert' AND state = 'done'")" = 1

# The signer decides by the caller's uid (SO_PEERCRED), not by the actor or role a
# client names in HELLO: each service gets only what it needs.
SOCK="$H/run/signer.sock"
PROBE=${TORWART_SIGNER_PROBE:?}
probe() { local u=$1; shift; as "$u" "$PROBE" "$SOCK" "$@" >>"$T/log" 2>&1; }
refused() {
	local what=$1 rc; shift
	probe "$@"; rc=$?
	if [ $rc = 3 ]; then ok "$what"; else bad "$what (exit $rc, not 3 = refused)"; fi
}
AAD="operator/probe/totp"
as torwart-api "$PROBE" "$SOCK" api service seal totp "$AAD" JBSWY3DPEHPK3PXP >"$T/sealed" 2>>"$T/log"
SEALED=$(cat "$T/sealed")
check "the api seals a TOTP key (context totp)" grep -q '^twbox1:' "$T/sealed"
check "... and opens it again" bash -c "setpriv --reuid=torwart-api --regid=torwart \
	--init-groups '$PROBE' '$SOCK' api service unseal totp '$AAD' '$SEALED' | grep -qx JBSWY3DPEHPK3PXP"
refused "the wan may not open a TOTP key" torwart-wan wan service unseal totp "$AAD" "$SEALED"
refused "... nor through the context it may use (profile) with the TOTP key's aad" \
	torwart-wan wan service unseal profile "$AAD" "$SEALED"
refused "the worker may not open a TOTP key, whatever actor and role it claims" \
	torwart-worker break-glass:os:root break-glass unseal totp "$AAD" "$SEALED"
refused "the worker may not seal a profile secret" \
	torwart-worker worker service seal profile profile/x/y/key.value secret
refused "the wan may not sign with the GWA key (tree head)" torwart-wan wan service sign gwa-sig tree-head
refused "the wan may not sign an authorisation, even claiming break-glass" \
	torwart-wan root break-glass sign gwa-sig authorisation
# TLS handshake signatures: each service only with the key its TLS uses.
check "the wan signs a handshake digest with the GWA TLS key" \
	as torwart-wan "$PROBE" "$SOCK" wan service sign gwa-tls tls-handshake
refused "the wan may not sign handshakes with the api's TLS key" \
	torwart-wan wan service sign api-tls tls-handshake
check "the api signs a handshake digest with its own TLS key" \
	as torwart-api "$PROBE" "$SOCK" api service sign api-tls tls-handshake
refused "the worker may not sign handshakes with the api's TLS key" \
	torwart-worker worker service sign api-tls tls-handshake
check "the api signs a handshake digest with the web console's TLS key" \
	as torwart-api "$PROBE" "$SOCK" api service sign console-tls tls-handshake
refused "the wan may not sign handshakes with the console's TLS key" \
	torwart-wan wan service sign console-tls tls-handshake
check "the worker signs a handshake digest with the GWA TLS key (outbound TLS)" \
	as torwart-worker "$PROBE" "$SOCK" worker service sign gwa-tls tls-handshake
refused "no service gets a tls-handshake signature from a CA key" \
	torwart-api api service sign sub-ca tls-handshake
refused "the wan may not use a TLS key for another purpose (tree head)" \
	torwart-wan wan service sign gwa-tls tree-head
check "the worker signs a tree head with the GWA key" \
	as torwart-worker "$PROBE" "$SOCK" worker service sign gwa-sig tree-head
echo "not a share" >"$T/fake.share"
chmod 0644 "$T/fake.share"
refused "a custodian share from the worker is refused, though it claims the custodian role" \
	torwart-worker mallory custodian share "$T/fake.share"
refused "... and from the wan" torwart-wan mallory custodian share "$T/fake.share"
refused "the wan may not deactivate the signer" torwart-wan wan service deactivate
check "the refusals are in the admin log, naming the caller's service" \
	test "$(db "SELECT count(*) FROM admin_log WHERE action = 'signer.refuse' AND detail LIKE '%service=wan%'")" -ge 4

# TOTP login through the api: the api opens the operator's TOTP key through the signer.
mkdir -p "$T/ops"
check "break-glass operator add with TOTP (sealed through the signer)" "$TORWART" operator add \
	--home "$H" --name tot --tenant alpha --totp --roles auditor --out "$T/ops/tot"
check "TOTP login through the api (the api cannot read data.key)" "$TORWART" login \
	--api "https://127.0.0.1:$TLS_PORT" --cert "$T/ops/tot/tot.crt" --key "$T/ops/tot/tot.key" \
	--totp-secret-file "$T/ops/tot/tot.totp" --token-file "$T/tot.session"

# ---- operator commands through the api: it execs `torwart` as torwart-api, inside its
# seccomp filter and Landlock (execution of that one program only); bootstrap as in
# remote_cli.sh (break-glass operator add on the machine).
API="https://127.0.0.1:$TLS_PORT"
run() { local who=$1; shift; "$TORWART" "$@" --token-file "$T/$who.session" >"$T/out" 2>&1; }
for spec in gwa:gateway-operator cao:ca-operator; do
	IFS=: read -r name roles <<<"$spec"
	printf 'password-of-%s-in-privsep\n' "$name" >"$T/ops/$name.pw"
	check "break-glass operator add $name ($roles)" "$TORWART" operator add --home "$H" \
		--name "$name" --tenant alpha --password-file "$T/ops/$name.pw" --roles "$roles" \
		--out "$T/ops/$name"
	check "login $name through the api" "$TORWART" login --api "$API" \
		--cert "$T/ops/$name/$name.crt" --key "$T/ops/$name/$name.key" \
		--password-file "$T/ops/$name.pw" --token-file "$T/$name.session"
done
check "gateway add through the api (run as torwart-api)" run gwa gateway add --id GW-P3 --out "$T/gw-p3"
check "... the gateway is registered" test "$(db "SELECT count(*) FROM gateways WHERE gateway_id = 'GW-P3'")" = 1
if [ "${TORWART_TEST_STORE:-sqlite}" != pg ]; then
	# A CRL over one signer frame (about 1.3 MB): made by the api's command under the api's
	# filter, with the CRL's threads and the early disk writes (sync_file_range).
	issuer=$(db "SELECT issuer FROM certificates WHERE owner_kind = 'gwa' LIMIT 1")
	db "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 26000)
		INSERT INTO certificates (tenant_id, serial_hex, issuer, subject, owner_kind, owner_id,
		usage, not_before, not_after, status, fingerprint, der, revoked_ms, revocation_reason)
		SELECT 1, printf('5b%030x', x), '$issuer', 'CN=P', 'emt', 'p', 'TLS', 0, 4000000000,
		'revoked', printf('%064x', 1000000 + x), x'00', 1700000000000 + x * 1000, x % 6 FROM c"
fi
check "ca crl through the api (signed by the signer)" run cao ca crl
if [ "${TORWART_TEST_STORE:-sqlite}" != pg ]; then
	check "... it lists the 26,000 revoked entries and verifies" bash -c "openssl crl -inform DER \
		-in '$H/crl/sub-ca.crl' -CAfile '$H/pki/chain.pem' -noout -verify 2>&1 | grep -q 'verify OK' &&
		test \$(openssl crl -inform DER -in '$H/crl/sub-ca.crl' -noout -text | grep -c 'Serial Number: 5B') = 26000"
fi
check "the api's command ran under its user" \
	bash -c "find '$H/spool' -user torwart-api | grep -q ."
check "the stack stops cleanly" stop_stack
check "no service was killed by its filter" bash -c "! grep -q 'killed by signal' '$T/torwartd.log'"

# ---- a forbidden system call kills the service; the supervisor raises an alert
export TORWART_TEST_SECCOMP_VIOLATION=wan
check "torwartd all starts with the wan's test hook" bash -c "'$TORWARTD' --home '$H' all >>'$T/torwartd.log' 2>&1 & echo \$! >'$T/sup2'; for i in \$(seq 100); do grep -q 'ALERT sandbox-violation' '$T/torwartd.log' && exit 0; sleep 0.1; done; exit 1"
unset TORWART_TEST_SECCOMP_VIOLATION
SUP=$(cat "$T/sup2")
pids_to_kill+=("$SUP")
check "the wan died by SIGSYS (signal 31)" grep -q "wan killed by signal 31" "$T/torwartd.log"
check "the supervisor logged the seccomp kill" grep -q "outside its seccomp allow-list" "$T/torwartd.log"
check "a sandbox-violation alert is queued for the security officer" \
	test "$(db "SELECT count(*) FROM alert_queue WHERE kind = 'sandbox-violation' AND role = 'security-officer' AND subject = 'wan'")" -ge 1
check "the alert is in the admin log" \
	test "$(db "SELECT count(*) FROM admin_log WHERE action = 'alert.sandbox-violation'")" -ge 1
check "the rest of the stack stops cleanly" stop_stack

#!/usr/bin/env bash
# trust.sh: trust across the SM-PKI (issue 11 s.5). Two Torwart homes, two Sub-CAs: home B
# issues an EMT its TLS certificate and serves its CRL on its api (the URL inside the
# certificate); home A trusts B's Root and Sub-CA ([trust] anchors/cas), and its worker
# fetches B's CRL from the certificate's distribution point, verifies it against B's
# Sub-CA and caches it. The EMT reads A's directory over LDAPS while B's CRL says it is
# valid; after B revokes it, A refuses it once the refreshed CRL arrives; a CRL past its
# nextUpdate that cannot be refreshed makes A refuse B's certificates (fail closed) and
# raise an alert; a CRL signed by the wrong CA is refused.
# The two homes have two test Roots (each `init --test-pki` makes its own): the mechanism
# is the same as with one Root, since A trusts exactly the configured anchors.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-trust-XXXXXX)
A="$T/a"; B="$T/b"
trap 'finish; exit $?' EXIT

PY=/usr/bin/python3
for tool in slapd ldapwhoami; do
	if ! command -v "$tool" >/dev/null && [ ! -x "/usr/sbin/$tool" ]; then
		echo "SKIP: $tool not installed (scripts/install-deps installs slapd and ldap-utils)"
		rm -rf "$T"; trap - EXIT; exit 77
	fi
done
SLAPD=$(command -v slapd || echo /usr/sbin/slapd)
if ! "$PY" -c 'import ldap3' 2>/dev/null; then
	echo "SKIP: python3-ldap3 not installed (scripts/install-deps installs it)"
	rm -rf "$T"; trap - EXIT; exit 77
fi
BASE="o=SM-PKI-DE,c=DE"
A_API=$(free_port); B_API=$(free_port); DIR_PORT=$(free_port)
dba() { sqlite3 "$A/store.db" "$1"; }
count_log_a() { dba "SELECT count(*) FROM admin_log WHERE $1"; }

check "home A (this Torwart)" "$TORWART" init --home "$A" --test-pki --api-listen "127.0.0.1:$A_API" \
	--wan-listen "127.0.0.1:$(free_port)" --api-tls-listen "127.0.0.1:$(free_port)"
check "home B (another Sub-CA)" "$TORWART" init --home "$B" --test-pki --api-listen "127.0.0.1:$B_API" \
	--wan-listen "127.0.0.1:$(free_port)" --api-tls-listen "127.0.0.1:$(free_port)"
cat >>"$B/torwart.conf" <<EOF2

[ca]
crl_check_interval = 1
EOF2

# ---- an EMT of B with its TLS certificate from B's Sub-CA
check "B registers the EMT" "$TORWART" ca register --home "$B" --name emt-x --org "X org" --role emt \
	--mp-id 9900000000031 --cn X.EMT.TRUST
check "the EMT's request" "$TORWART" req initial --cn X.EMT.TRUST --ou 9900000000031 --role EMT \
	--key-dir "$T/emt-x" --format der --out "$T/emt-x.req"
check "B issues it" "$TORWART" ca issue --home "$B" --request "$T/emt-x.req" --participant emt-x
SERIAL_X=$(sqlite3 "$B/store.db" "SELECT serial_hex FROM certificates WHERE owner_id='emt-x' AND usage='TLS'")
check "export the EMT's TLS certificate" "$TORWART" ca export "$SERIAL_X" --home "$B" --out "$T/emt-x.crt"
check "its distribution point is B's api" bash -c \
	"openssl x509 -in '$T/emt-x.crt' -noout -ext crlDistributionPoints | grep -q 'URI:http://127.0.0.1:$B_API/crl/sub-ca.crl'"
# B runs whole (the worker signs its CRLs through B's signer, the api serves them).
"$TORWARTD" --home "$B" all >>"$T/b.log" 2>&1 &
B_API_PID=$!; pids_to_kill+=("$B_API_PID")
check "B's api serves its CRL" bash -c \
	"for _ in \$(seq 1 100); do curl -fsS -o /dev/null http://127.0.0.1:$B_API/crl/sub-ca.crl 2>/dev/null && exit 0; sleep 0.2; done; exit 1"

# ---- A trusts B's Root and Sub-CA; A's directory is open to SM-PKI participants
cat "$A/pki/chain.pem" "$B/pki/chain.pem" >"$A/pki/dir-trust.pem"
cat >>"$A/torwart.conf" <<EOF2

[dir]
listen = 127.0.0.1:$DIR_PORT
publish_interval = 1
trust = pki/dir-trust.pem

[trust]
anchors = pki/root-ca.crt $B/pki/root-ca.crt
cas = $B/pki/sub-ca.crt
refresh_interval = 1
refetch_after = 1
EOF2
cp "$A/torwart.conf" "$T/a.conf"
# A misconfiguration is refused: a "Sub-CA" that does not chain to an anchor.
printf 'cas = %s\n' "$A/pki/operator-ca.crt" >>"$A/torwart.conf"
sed -i "0,/^cas = $(printf '%s' "$B/pki/sub-ca.crt" | sed 's|/|\\/|g')$/{//d}" "$A/torwart.conf"
timeout 20 "$TORWARTD" --home "$A" api >"$T/a-bad.log" 2>&1
check "A's api refuses a [trust] cas certificate that chains to no anchor" grep -q "\[trust\] cas" "$T/a-bad.log"
cp "$T/a.conf" "$A/torwart.conf"

check "dir slapd-conf for A" bash -c "'$TORWART' dir slapd-conf --home '$A' --out '$T/slapd' >'$T/slapd.cmd' 2>>'$T/log'"
URL=$(sed -n 's/.* -h //p' "$T/slapd.cmd")
"$SLAPD" -f "$T/slapd/slapd.conf" -h "$URL" -d 0 >>"$T/slapd.log" 2>&1 &
pids_to_kill+=("$!")
check "A's slapd" bash -c "for _ in \$(seq 1 100); do ldapwhoami -Y EXTERNAL -H '$URL' >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1"
"$TORWARTD" --home "$A" all >>"$T/a.log" 2>&1 &
pids_to_kill+=("$!")
check "A's directory front end listens" wait_port 127.0.0.1 "$DIR_PORT" 20
check "A's worker fetched B's Root CRL (ARL) from the distribution point in B's Sub-CA certificate" bash -c \
	"for _ in \$(seq 1 100); do [ \"\$(sqlite3 '$A/store.db' \"SELECT count(*) FROM trust_crls WHERE url = 'http://127.0.0.1:$B_API/crl/root-ca.crl' AND der IS NOT NULL\")\" = 1 ] && exit 0; sleep 0.2; done; exit 1"

cat >"$T/openssl.cnf" <<'EOF2'
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = tls_sect
[tls_sect]
Groups = brainpoolP256r1:P-256:brainpoolP384r1:P-384:brainpoolP512r1
MinProtocol = TLSv1.2
MaxProtocol = TLSv1.2
EOF2
CLIENT="$(dirname "$0")/ldap_client.py"
x_reads() {
	OPENSSL_CONF="$T/openssl.cnf" "$PY" "$CLIENT" localhost "$DIR_PORT" "$A/pki/dir-trust.pem" \
		"$T/emt-x.crt" "$T/emt-x/tls.key" external 2>>"$T/log"
}
out=$(x_reads); echo "first: $out" >>"$T/log"
check "B's EMT is refused while A has no CRL of B's Sub-CA (fail closed)" bash -c "echo '$out' | grep -Eq '^(connect-failed|error)'"
check "... A records the certificate's distribution point as the CRL source" test \
	"$(dba "SELECT count(*) FROM trust_crls WHERE url = 'http://127.0.0.1:$B_API/crl/sub-ca.crl'")" = 1
check "A's worker fetches B's Sub-CA CRL and verifies it" bash -c \
	"for _ in \$(seq 1 100); do [ \"\$(sqlite3 '$A/store.db' \"SELECT count(*) FROM trust_crls WHERE url = 'http://127.0.0.1:$B_API/crl/sub-ca.crl' AND der IS NOT NULL AND number > 0\")\" = 1 ] && exit 0; sleep 0.2; done; exit 1"
check "... the cached CRL is B's, byte for byte" bash -c \
	"sqlite3 '$A/store.db' \"SELECT hex(der) FROM trust_crls WHERE url LIKE '%/crl/sub-ca.crl'\" >'$T/cached.hex'; curl -fsS http://127.0.0.1:$B_API/crl/sub-ca.crl | od -An -v -tx1 | tr -d ' \n' | tr a-f A-F >'$T/served.hex'; echo >>'$T/served.hex'; test -s '$T/cached.hex' && test \$(wc -c <'$T/cached.hex') -gt 100 && cmp -s '$T/cached.hex' '$T/served.hex'"
out=$(x_reads); echo "second: $out" >>"$T/log"
check "with B's current CRL the EMT of the other Sub-CA binds to A's directory" bash -c "echo '$out' | grep -q '^bind 0 True'"
check "... slapd sees it as a participant identity below ou=participants" bash -c \
	"echo '$out' | grep -qi '^whoami dn:cn=X.EMT.TRUST,ou=TORWART-TEST.CA,ou=participants,o=sm-pki-de,c=de'"
check "... the session is in A's admin log" test "$(count_log_a "action = 'dir.session' AND actor LIKE 'sm-pki:%X.EMT.TRUST'")" -ge 1

# ---- B revokes the EMT; A refuses it once its refreshed CRL says so
check "B revokes the EMT's certificate" "$TORWART" ca revoke "$SERIAL_X" --home "$B" --reason keyCompromise
check "B's CRL lists it" bash -c \
	"for _ in \$(seq 1 100); do curl -fsS http://127.0.0.1:$B_API/crl/sub-ca.crl | openssl crl -inform DER -noout -text | grep -qi 'Serial Number: $SERIAL_X' && exit 0; sleep 0.2; done; exit 1"
check "A refuses the revoked certificate after its next fetch" bash -c \
	"for _ in \$(seq 1 100); do out=\$(OPENSSL_CONF='$T/openssl.cnf' '$PY' '$CLIENT' localhost $DIR_PORT '$A/pki/dir-trust.pem' '$T/emt-x.crt' '$T/emt-x/tls.key' external 2>/dev/null); echo \"\$out\" | grep -Eq '^(connect-failed|error)' && exit 0; sleep 0.3; done; exit 1"
check "... logged as refused: revoked by the other CA's CRL" test \
	"$(count_log_a "action = 'dir.connect' AND result = 'refused' AND detail LIKE '%revoked (CRL%'")" -ge 1

# ---- a second EMT of B: valid, but B's CRL goes stale and cannot be refreshed
check "B registers a second EMT" "$TORWART" ca register --home "$B" --name emt-y --org "Y org" --role emt \
	--mp-id 9900000000032 --cn Y.EMT.TRUST
"$TORWART" req initial --cn Y.EMT.TRUST --ou 9900000000032 --role EMT --key-dir "$T/emt-y" --format der --out "$T/emt-y.req" >>"$T/log" 2>&1
check "B issues it" "$TORWART" ca issue --home "$B" --request "$T/emt-y.req" --participant emt-y
SERIAL_Y=$(sqlite3 "$B/store.db" "SELECT serial_hex FROM certificates WHERE owner_id='emt-y' AND usage='TLS'")
"$TORWART" ca export "$SERIAL_Y" --home "$B" --out "$T/emt-y.crt" >>"$T/log" 2>&1
y_reads() {
	OPENSSL_CONF="$T/openssl.cnf" "$PY" "$CLIENT" localhost "$DIR_PORT" "$A/pki/dir-trust.pem" \
		"$T/emt-y.crt" "$T/emt-y/tls.key" external 2>>"$T/log"
}
check "the second EMT reads A's directory" bash -c \
	"for _ in \$(seq 1 50); do out=\$(OPENSSL_CONF='$T/openssl.cnf' '$PY' '$CLIENT' localhost $DIR_PORT '$A/pki/dir-trust.pem' '$T/emt-y.crt' '$T/emt-y/tls.key' external 2>/dev/null); echo \"\$out\" | grep -q '^bind 0 True' && exit 0; sleep 0.3; done; exit 1"
kill -TERM "$B_API_PID"; wait "$B_API_PID" 2>/dev/null   # all of B: its CRL cannot be had
dba "UPDATE trust_crls SET next_update = 1000, this_update = 500 WHERE url LIKE '%/crl/sub-ca.crl'"
out=$(y_reads); echo "stale: $out" >>"$T/log"
check "with B's CRL past nextUpdate and B unreachable, A refuses B's certificates (fail closed)" bash -c \
	"echo '$out' | grep -Eq '^(connect-failed|error)'"
check "... logged: the CRL is stale" test "$(count_log_a "action = 'dir.connect' AND detail LIKE '%stale%'")" -ge 1
check "... and an outage alert names the stale CRL" bash -c \
	"for _ in \$(seq 1 50); do [ \"\$(sqlite3 '$A/store.db' \"SELECT count(*) FROM admin_log WHERE action = 'alert.outage' AND object = 'crl'\")\" -ge 1 ] && exit 0; sleep 0.2; done; exit 1"
check "... the failed fetches are recorded" test -n "$(dba "SELECT last_error FROM trust_crls WHERE url LIKE '%/crl/sub-ca.crl' AND last_error <> ''")"

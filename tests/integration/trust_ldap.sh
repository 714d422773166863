#!/usr/bin/env bash
# trust_ldap.sh: CRLs from ldap:// distribution points, the form the real SM-PKI
# certificates carry (ldap://host/<dn>?certificateRevocationList). Home B, another Sub-CA,
# writes only an ldap:// distribution point into its certificates; its CRL sits in a real
# slapd started here (anonymous read, certificateRevocationList;binary of the CA's entry).
# Home A trusts B ([trust]); A's worker fetches the CRL from exactly the URL inside B's EMT
# certificate with libldap, verifies and caches it, and A's wan accepts B's EMT with it,
# refuses it once the CRL in the directory lists it, keeps the cached CRL when the
# directory holds a CRL signed by another CA, and records a failed fetch when slapd is down.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-trustldap-XXXXXX)
A="$T/a"; B="$T/b"
trap 'finish; exit $?' EXIT

for tool in slapd slapadd ldapmodify ldapsearch; do
	if ! command -v "$tool" >/dev/null && [ ! -x "/usr/sbin/$tool" ]; then
		echo "SKIP: $tool not installed (scripts/install-deps installs slapd and ldap-utils)"
		rm -rf "$T"; trap - EXIT; exit 77
	fi
done
SLAPD=$(command -v slapd || echo /usr/sbin/slapd)
SLAPADD=$(command -v slapadd || echo /usr/sbin/slapadd)
LPORT=$(free_port); A_WAN=$(free_port)
SUFFIX="o=SM-PKI-DE,c=DE"
CA_DN="cn=TORWART-TEST.CA,$SUFFIX"
LDAP_DP="ldap://127.0.0.1:$LPORT/$CA_DN?certificateRevocationList"
dba() { sqlite3 "$A/store.db" "$1"; }
count_log_a() { dba "SELECT count(*) FROM admin_log WHERE $1"; }

check "home A (this Torwart)" "$TORWART" init --home "$A" --test-pki --api-listen "127.0.0.1:$(free_port)" \
	--wan-listen "127.0.0.1:$A_WAN" --api-tls-listen "127.0.0.1:$(free_port)"
check "home B (another Sub-CA)" "$TORWART" init --home "$B" --test-pki --api-listen "127.0.0.1:$(free_port)" \
	--wan-listen "127.0.0.1:$(free_port)" --api-tls-listen "127.0.0.1:$(free_port)"
printf '\n[ca.sub-ca]\ncrl_url = %s\n' "$LDAP_DP" >>"$B/torwart.conf"
check "B registers an EMT" "$TORWART" ca register --home "$B" --name emt-l --org "L org" --role emt \
	--mp-id 9900000000051 --cn L.EMT.LDAP
"$TORWART" req initial --cn L.EMT.LDAP --ou 9900000000051 --role EMT --key-dir "$T/emt-l" \
	--format der --out "$T/emt-l.req" >>"$T/log" 2>&1
check "B issues it" "$TORWART" ca issue --home "$B" --request "$T/emt-l.req" --participant emt-l
SERIAL=$(sqlite3 "$B/store.db" "SELECT serial_hex FROM certificates WHERE owner_id='emt-l' AND usage='TLS'")
"$TORWART" ca export "$SERIAL" --home "$B" --out "$T/emt-l.crt" >>"$T/log" 2>&1
check "the certificate's only distribution point is the ldap:// URL" test \
	"$(openssl x509 -in "$T/emt-l.crt" -noout -ext crlDistributionPoints | sed -n 's/^ *URI://p')" = "$LDAP_DP"
# B's current CRL (DER), as B's CLI writes it.
b_crl() { "$TORWART" ca crl --home "$B" >>"$T/log" 2>&1; cp "$B/crl/sub-ca.crl" "$1"; }
check "B's CRL" b_crl "$T/crl1.der"

# ---- a slapd holding B's CRL in the CA's entry, anonymous read
mkdir -p "$T/slapd/data"
cat >"$T/slapd/slapd.conf" <<EOF2
include /etc/ldap/schema/core.schema
pidfile $T/slapd/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
access to * by * read
database mdb
suffix "$SUFFIX"
rootdn "cn=admin,$SUFFIX"
rootpw secret
directory $T/slapd/data
maxsize 16777216
EOF2
cat >"$T/base.ldif" <<EOF2
dn: $SUFFIX
objectClass: organization
o: SM-PKI-DE

dn: $CA_DN
objectClass: cRLDistributionPoint
cn: TORWART-TEST.CA
certificateRevocationList;binary:: $(base64 -w0 "$T/crl1.der")
EOF2
check "slapadd loads the CA's entry with its CRL" "$SLAPADD" -f "$T/slapd/slapd.conf" -l "$T/base.ldif"
"$SLAPD" -f "$T/slapd/slapd.conf" -h "ldap://127.0.0.1:$LPORT/" -d 0 >>"$T/slapd.log" 2>&1 &
SLAPD_PID=$!; pids_to_kill+=("$SLAPD_PID")
check "slapd serves the CRL anonymously" bash -c \
	"for _ in \$(seq 1 100); do ldapsearch -x -LLL -H ldap://127.0.0.1:$LPORT -b '$CA_DN' -s base 'certificateRevocationList;binary' 2>/dev/null | grep -q '^certificateRevocationList;binary::' && exit 0; sleep 0.1; done; exit 1"
put_crl() { # FILE: replace the CRL in the CA's entry
	printf 'dn: %s\nchangetype: modify\nreplace: certificateRevocationList;binary\ncertificateRevocationList;binary:: %s\n' \
		"$CA_DN" "$(base64 -w0 "$1")" | ldapmodify -x -H "ldap://127.0.0.1:$LPORT" -D "cn=admin,$SUFFIX" -w secret
}

# ---- A trusts B; its wan takes B's EMT (TLS trust for the handshake, [trust] for the CRL)
cat "$A/pki/chain.pem" "$B/pki/chain.pem" >"$A/pki/ldap-trust.pem"
sed -i 's|^trust = pki/chain.pem$|trust = pki/ldap-trust.pem|' "$A/torwart.conf"   # [wan]
cat >>"$A/torwart.conf" <<EOF2

[trust]
anchors = pki/root-ca.crt $B/pki/root-ca.crt
cas = $B/pki/sub-ca.crt
refresh_interval = 1
refetch_after = 1
ldap_timeout = 5
EOF2
"$TORWARTD" --home "$A" all >>"$T/a.log" 2>&1 &
pids_to_kill+=("$!")
check "A's wan listens" wait_port 127.0.0.1 "$A_WAN" 20
TLSOPT=(--curves brainpoolP256r1 --tlsv1.2 --tls-max 1.2 --cacert "$A/pki/chain.pem" -sS --max-time 20)
wan_call() {
	curl "${TLSOPT[@]}" --cert "$T/emt-l.crt" --key "$T/emt-l/tls.key" -o /dev/null -w '%{http_code}' \
		"https://localhost:$A_WAN/v1/emt/cls-requests/1" 2>>"$T/log"
}
out=$(wan_call)
check "wan: B's EMT is refused while A has no CRL of B (fail closed)" test "$out" = 000
check "A records the ldap:// URL inside the certificate as the CRL source" test \
	"$(dba "SELECT count(*) FROM trust_crls WHERE url = '$LDAP_DP'")" = 1
check "A's worker fetches the CRL over LDAP and caches it" bash -c \
	"for _ in \$(seq 1 100); do [ \"\$(sqlite3 '$A/store.db' \"SELECT count(*) FROM trust_crls WHERE url = '$LDAP_DP' AND der IS NOT NULL\")\" = 1 ] && exit 0; sleep 0.2; done; exit 1"
check "... the cached CRL is the directory's, byte for byte" bash -c \
	"test \"\$(sqlite3 '$A/store.db' \"SELECT hex(der) FROM trust_crls WHERE url = '$LDAP_DP'\")\" = \"\$(od -An -v -tx1 '$T/crl1.der' | tr -d ' \n' | tr a-f A-F)\""
out=$(wan_call)
check "wan: with the CRL from LDAP, B's EMT is accepted" test "$out" = 404

# ---- B revokes the EMT; the new CRL goes into the directory; A refuses the EMT
check "B revokes the EMT" "$TORWART" ca revoke "$SERIAL" --home "$B" --reason keyCompromise
cp "$B/crl/sub-ca.crl" "$T/crl2.der"
check "the new CRL lists it" bash -c "openssl crl -inform DER -in '$T/crl2.der' -noout -text | grep -qi 'Serial Number: $SERIAL'"
check "the directory gets the new CRL" put_crl "$T/crl2.der"
check "wan: A refuses the revoked EMT after its next LDAP fetch" bash -c \
	"for _ in \$(seq 1 100); do c=\$(curl ${TLSOPT[*]} --cert '$T/emt-l.crt' --key '$T/emt-l/tls.key' -o /dev/null -w '%{http_code}' https://localhost:$A_WAN/v1/emt/cls-requests/1 2>/dev/null); [ \"\$c\" = 000 ] && exit 0; sleep 0.3; done; exit 1"
sleep 0.4
check "... logged as wan.refuse: certificate revoked" test \
	"$(count_log_a "action = 'wan.refuse' AND detail LIKE 'certificate revoked%'")" -ge 1
NUM=$(dba "SELECT number FROM trust_crls WHERE url = '$LDAP_DP'")

# ---- a CRL of another CA in the directory (A's own): refused, the cached one stays
"$TORWART" ca crl --home "$A" >>"$T/log" 2>&1
check "the directory gets a CRL signed by another CA" put_crl "$A/crl/sub-ca.crl"
check "A refuses it and records why" bash -c \
	"for _ in \$(seq 1 100); do sqlite3 '$A/store.db' \"SELECT last_error FROM trust_crls WHERE url = '$LDAP_DP'\" | grep -Eq 'signature|not by this CA|not a trusted' && exit 0; sleep 0.2; done; exit 1"
check "... the cached CRL is unchanged" test "$(dba "SELECT number FROM trust_crls WHERE url = '$LDAP_DP'")" = "$NUM"

# ---- slapd down: the fetch fails and says so
kill -TERM "$SLAPD_PID"; wait "$SLAPD_PID" 2>/dev/null
dba "UPDATE trust_crls SET last_error = '' WHERE url = '$LDAP_DP'"
check "with slapd down, the failed LDAP fetch is recorded" bash -c \
	"for _ in \$(seq 1 100); do sqlite3 '$A/store.db' \"SELECT last_error FROM trust_crls WHERE url = '$LDAP_DP'\" | grep -q 'LDAP search' && exit 0; sleep 0.2; done; exit 1"

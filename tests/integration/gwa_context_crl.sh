#!/usr/bin/env bash
# gwa_context_crl.sh: issue 12 (S-8), revocation of a GWA context's foreign certificates
# against their issuers' CRLs (src/gwa/gwa_context.c, trust_crl_refresh in src/pki/trust.c):
#   - two test Sub-CAs of another SM-PKI Root ([trust] anchors/cas) and two trusted
#     non-SM-PKI CAs of the context, each naming its CRL at an http:// distribution point
#     served here;
#   - a certificate on its issuer's CRL is "revoked", one that is not is "valid" (the CRL
#     was fetched at validation time and cached);
#   - an issuer whose CRL cannot be fetched, or whose CRL is past its nextUpdate, or a
#     certificate naming no distribution point: "unknown" (never "valid") and alerted once;
#   - once the missing CRL is served, the next validation finds the certificate valid;
#   - a CRL signed by another key than the issuer's is not taken;
#   - a trusted CA whose CRL is at an ldap:// distribution point (slapd started here).
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-gwactxcrl-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

q() { sqlite3 "$H/store.db" "$1"; }
st() { q "SELECT status FROM gwa_context_certs WHERE label='$1'"; }
alerts() { q "SELECT count(*) FROM admin_log WHERE action='alert.context-certificate'"; }
ctx() { "$TORWART" context "$@" >"$T/out" 2>&1; }

CRL_PORT=$(free_port)
LPORT=$(free_port)
check "init" "$TORWART" init --home "$H" --test-pki --wan-listen "127.0.0.1:$(free_port)" \
	--api-listen "127.0.0.1:$(free_port)" --api-tls-listen "127.0.0.1:$(free_port)"
check "gateway GW-A in tenant alpha" bash -c "'$TORWART' gateway add --home '$H' --id GW-A && \
	'$TORWART' gateway set --home '$H' --gateway GW-A --move-tenant alpha"

# ---- the test PKI: Root R, Sub-CAs S1 and S2; trusted CAs HAN1 and HAN2 (self-signed);
# end-entity certificates with an http:// distribution point each; CRLs in $T/www
mkdir -p "$T/pki" "$T/www"
/usr/bin/python3 - "$T/pki" "$T/www" "http://127.0.0.1:$CRL_PORT" "$LPORT" <<'PY' >>"$T/log" 2>&1
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
out, www, base = sys.argv[1], sys.argv[2], sys.argv[3]
now = datetime.datetime.utcnow()
def name(cn): return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
	x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Other SM-PKI")])
def save(path, obj): open(path, "wb").write(obj.public_bytes(serialization.Encoding.PEM))
def ca(cn, issuer=None, ikey=None):
	key = ec.generate_private_key(ec.BrainpoolP256R1())
	b = (x509.CertificateBuilder().subject_name(name(cn))
		.issuer_name(issuer.subject if issuer else name(cn)).public_key(key.public_key())
		.serial_number(x509.random_serial_number())
		.not_valid_before(now - datetime.timedelta(days=1))
		.not_valid_after(now + datetime.timedelta(days=365))
		.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
		.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
			False), critical=True)
		.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False))
	if issuer:
		b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
			ikey.public_key()), False)
	cert = b.sign(ikey if ikey else key, hashes.SHA256())
	save(f"{out}/{cn}.crt", cert)
	return cert, key
def ee(cn, ca_cert, ca_key, dp=True, serial=None, url=None):
	key = ec.generate_private_key(ec.BrainpoolP256R1())
	b = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(ca_cert.subject)
		.public_key(key.public_key()).serial_number(serial or x509.random_serial_number())
		.not_valid_before(now - datetime.timedelta(days=1))
		.not_valid_after(now + datetime.timedelta(days=30))
		.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
			ca_key.public_key()), False))
	if dp:
		cacn = ca_cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
		b = b.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
			[x509.UniformResourceIdentifier(url or f"{base}/{cacn}.crl")], None, None, None)]),
			False)
	cert = b.sign(ca_key, hashes.SHA256())
	save(f"{out}/{cn}.crt", cert)
	return cert
def crl(path, ca_cert, ca_key, revoked, number=1, this=None, nxt=None):
	this = this or now - datetime.timedelta(minutes=5)
	nxt = nxt or now + datetime.timedelta(days=1)
	b = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
		.last_update(this).next_update(nxt)
		.add_extension(x509.CRLNumber(number), False))
	for c in revoked:
		b = b.add_revoked_certificate(x509.RevokedCertificateBuilder()
			.serial_number(c.serial_number).revocation_date(this).build())
	open(path, "wb").write(b.sign(ca_key, hashes.SHA256()).public_bytes(
		serialization.Encoding.DER))
root, rk = ca("R")
s1, s1k = ca("S1", root, rk)
s2, s2k = ca("S2", root, rk)
h1, h1k = ca("HAN1")
h2, h2k = ca("HAN2")
h3, h3k = ca("HAN3")
s1ok, s1rev = ee("s1-ok", s1, s1k), ee("s1-rev", s1, s1k)
s2ok, s2ok2 = ee("s2-ok", s2, s2k), ee("s2-ok2", s2, s2k)
h1ok, h1rev = ee("h1-ok", h1, h1k), ee("h1-rev", h1, h1k)
h3nodp = ee("h3-nodp", h3, h3k, dp=False)
# HAN4 publishes its CRL in a directory: ldap://.../cn=HAN4,o=HAN,c=DE (certificateRevocationList)
h4, h4k = ca("HAN4")
ldap_dp = f"ldap://127.0.0.1:{sys.argv[4]}/cn=HAN4,o=HAN,c=DE?certificateRevocationList;binary"
h4ok, h4rev = ee("h4-ok", h4, h4k, url=ldap_dp), ee("h4-rev", h4, h4k, url=ldap_dp)
crl(f"{out}/HAN4.crl", h4, h4k, [h4rev])
h2ok = ee("h2-ok", h2, h2k)
crl(f"{www}/S1.crl", s1, s1k, [s1rev])
crl(f"{out}/S2.crl", s2, s2k, [])               # not served at first
crl(f"{www}/HAN1.crl", h1, h1k, [h1rev])
# HAN2's CRL is past its nextUpdate: stale (TR-03109-4), not a current one
crl(f"{www}/HAN2.crl", h2, h2k, [], this=now - datetime.timedelta(days=3),
	nxt=now - datetime.timedelta(days=1))
# a "CRL of S2" signed by S1's key: must not be taken for S2
b = (x509.CertificateRevocationListBuilder().issuer_name(s2.subject)
	.last_update(now - datetime.timedelta(minutes=5)).next_update(now + datetime.timedelta(days=1))
	.add_extension(x509.CRLNumber(9), False))
open(f"{out}/S2-forged.crl", "wb").write(b.sign(s1k, hashes.SHA256()).public_bytes(
	serialization.Encoding.DER))
PY
check "test PKI made" test -s "$T/pki/h2-ok.crt" -a -s "$T/www/S1.crl" -a -s "$T/pki/S2-forged.crl"
printf '\n[trust]\nanchors = pki/root-ca.crt %s\ncas = %s %s\n\n[context]\ncrl_timeout = 5\n' \
	"$T/pki/R.crt" "$T/pki/S1.crt" "$T/pki/S2.crt" >>"$H/torwart.conf"

/usr/bin/python3 -m http.server "$CRL_PORT" --bind 127.0.0.1 --directory "$T/www" \
	>>"$T/http.log" 2>&1 &
pids_to_kill+=("$!")
check "the CRL server listens" wait_port 127.0.0.1 "$CRL_PORT" 20

for c in s1-ok s1-rev s2-ok s2-ok2 h1-ok h1-rev h3-nodp h2-ok; do
	check "import $c" ctx import --home "$H" --tenant alpha --cert "$T/pki/$c.crt" --label "$c"
done
check "trust-add HAN1" ctx trust-add --home "$H" --tenant alpha --cert "$T/pki/HAN1.crt"
check "trust-add HAN2" ctx trust-add --home "$H" --tenant alpha --cert "$T/pki/HAN2.crt"
check "trust-add HAN3" ctx trust-add --home "$H" --tenant alpha --cert "$T/pki/HAN3.crt"

ctx validate --home "$H" --tenant alpha; rc=$?
check "validate: exit 3 (not all valid)" test "$rc" = 3
check "... summary counts 2 valid, 2 revoked, 4 unknown" grep -q \
	"8 checked, 2 valid, 0 expired, 2 revoked, 0 untrusted, 4 unknown" "$T/out"
check "... s1-ok valid (S1's CRL, another Sub-CA)" test "$(st s1-ok)" = valid
check "... s1-rev revoked by S1's CRL" test "$(st s1-rev)" = revoked
check "... h1-ok valid (the trusted CA HAN1's CRL)" test "$(st h1-ok)" = valid
check "... h1-rev revoked by HAN1's CRL" test "$(st h1-rev)" = revoked
check "... s2-ok and s2-ok2 unknown: S2's CRL cannot be fetched" test "$(st s2-ok) $(st s2-ok2)" = "unknown unknown"
check "... S2's distribution point asked once for both (a failed issuer is not retried in the run)" \
	test "$(grep -c 'GET /S2.crl' "$T/http.log")" = 1
check "... h2-ok unknown: HAN2's CRL is past its nextUpdate" test "$(st h2-ok)" = unknown
check "... h3-nodp unknown: no distribution point (and no CRL of HAN3 known)" test "$(st h3-nodp)" = unknown
check "... the reasons are recorded" test "$(q "SELECT count(*) FROM gwa_context_certs WHERE \
	(label='h2-ok' AND check_detail LIKE '%stale%') OR (label='h3-nodp' AND check_detail LIKE \
	'%distribution point%') OR (label='s2-ok' AND check_detail LIKE '%revocation unknown%')")" = 3
check "... alerts: 2 revoked + 4 unknown" test "$(alerts)" = 6
check "... S1's and HAN1's CRLs cached (fetched once each)" test \
	"$(grep -c 'GET /S1.crl\|GET /HAN1.crl' "$T/http.log")" = 2

ctx validate --home "$H" --tenant alpha
check "validate again: the same verdicts from the cached CRLs" test \
	"$(q "SELECT status FROM gwa_context_certs ORDER BY id" | paste -sd,)" = \
	"valid,revoked,unknown,unknown,valid,revoked,unknown,unknown"
check "... no CRL fetched again while current" test \
	"$(grep -c 'GET /S1.crl\|GET /HAN1.crl' "$T/http.log")" = 2
check "... no new alerts for unchanged states" test "$(alerts)" = 6

cp "$T/pki/S2-forged.crl" "$T/www/S2.crl"
ctx validate --home "$H" --tenant alpha
check "a CRL of S2 signed by S1's key: s2-ok stays unknown" test "$(st s2-ok)" = unknown
check "... saying the signature does not verify" test "$(q "SELECT count(*) FROM gwa_context_certs \
	WHERE label='s2-ok' AND check_detail LIKE '%signature%'")" = 1
cp "$T/pki/S2.crl" "$T/www/S2.crl"
ctx validate --home "$H" --tenant alpha
check "S2's real CRL served: s2-ok and s2-ok2 valid" test "$(st s2-ok) $(st s2-ok2)" = "valid valid"
check "... alerts unchanged (valid is no push)" test "$(alerts)" = 6

# ---- a CRL at an ldap:// distribution point (slapd started here)
SLAPD=$(command -v slapd || echo /usr/sbin/slapd)
SLAPADD=$(command -v slapadd || echo /usr/sbin/slapadd)
if [ -x "$SLAPD" ] && [ -x "$SLAPADD" ]; then
	mkdir -p "$T/slapd/data"
	cat >"$T/slapd/slapd.conf" <<EOF2
include /etc/ldap/schema/core.schema
pidfile $T/slapd/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
access to * by * read
database mdb
suffix "o=HAN,c=DE"
rootdn "cn=admin,o=HAN,c=DE"
rootpw secret
directory $T/slapd/data
EOF2
	cat >"$T/base.ldif" <<EOF2
dn: o=HAN,c=DE
objectClass: organization
o: HAN

dn: cn=HAN4,o=HAN,c=DE
objectClass: organizationalRole
objectClass: pkiCA
cn: HAN4
certificateRevocationList;binary:: $(base64 -w0 "$T/pki/HAN4.crl")
EOF2
	check "slapadd loads HAN4's CRL" "$SLAPADD" -f "$T/slapd/slapd.conf" -l "$T/base.ldif"
	"$SLAPD" -f "$T/slapd/slapd.conf" -h "ldap://127.0.0.1:$LPORT/" -d 0 >>"$T/slapd.log" 2>&1 &
	pids_to_kill+=("$!")
	check "slapd listens" wait_port 127.0.0.1 "$LPORT" 20
	check "trust-add HAN4" ctx trust-add --home "$H" --tenant alpha --cert "$T/pki/HAN4.crt"
	check "import h4-ok" ctx import --home "$H" --tenant alpha --cert "$T/pki/h4-ok.crt" --label h4-ok
	check "import h4-rev" ctx import --home "$H" --tenant alpha --cert "$T/pki/h4-rev.crt" --label h4-rev
	ctx validate --home "$H" --tenant alpha
	check "h4-ok valid by HAN4's CRL from the directory" test "$(st h4-ok)" = valid
	check "h4-rev revoked by it" test "$(st h4-rev)" = revoked
else
	echo "note: slapd missing: the ldap:// distribution point part is skipped" >>"$T/log"
fi
check "the admin log verifies" "$TORWART" audit verify --home "$H"

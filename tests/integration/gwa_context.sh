#!/usr/bin/env bash
# gwa_context.sh: issue 12, the per-GWA certificate-management context (DOMAIN.md S-8,
# `torwart context`, src/gwa/gwa_context.c). Two contexts (tenants alpha and beta):
#   - list: the SM-PKI certificates of the context's gateways and the imported foreign
#     ones, each with its gateway; beta sees none of alpha's;
#   - import (PEM and DER), a duplicate refused, a gateway of another context refused;
#   - validation: a HAN certificate untrusted until its CA is trusted in the context, an
#     expired one and one revoked by this home's Sub-CA (its published CRL) marked and
#     alerted (context-certificate), replace sets a fresh one back to unchecked -> valid;
#   - delete; another context's ids are answered exactly like missing ones (CLI and api);
#   - repeated, abbreviated and misplaced options are usage errors, nothing changes;
#   - every action is in the admin log.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-gwactx-XXXXXX)
H="$T/home"
O="$T/ops"
trap 'finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port); CRL_PORT=$(free_port)
API="https://127.0.0.1:$TLS_PORT"
q() { sqlite3 "$H/store.db" "$1"; }
ctx() { "$TORWART" context "$@" >"$T/out" 2>&1; }
ctx_log() { q "SELECT count(*) FROM admin_log WHERE action LIKE 'context.%'"; }

check "init" "$TORWART" init --home "$H" --test-pki --wan-listen "127.0.0.1:$WAN_PORT" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$TLS_PORT"
for g in GW-A GW-X GW-B; do check "gateway add $g" "$TORWART" gateway add --home "$H" --id "$g"; done
check "GW-A and GW-X in alpha" "$TORWART" gateway set --home "$H" --gateways GW-A,GW-X --move-tenant alpha
check "GW-B in beta" "$TORWART" gateway set --home "$H" --gateway GW-B --move-tenant beta

# ---- foreign certificates: a HAN CA and its devices (not SM-PKI), made with openssl
openssl ecparam -name prime256v1 -genkey -noout -out "$T/hanca.key" 2>>"$T/log"
openssl req -x509 -new -key "$T/hanca.key" -subj "/CN=HAN Test CA/O=Meter Maker" -days 30 \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
	-out "$T/hanca.crt" 2>>"$T/log"
han() { # name days
	openssl ecparam -name prime256v1 -genkey -noout -out "$T/$1.key" 2>>"$T/log"
	openssl req -new -key "$T/$1.key" -subj "/CN=$1" -out "$T/$1.csr" 2>>"$T/log"
	openssl x509 -req -in "$T/$1.csr" -CA "$T/hanca.crt" -CAkey "$T/hanca.key" \
		-CAcreateserial -days "$2" -out "$T/$1.crt" 2>>"$T/log" \
		-extfile <(printf 'crlDistributionPoints=URI:http://127.0.0.1:%s/han.crl\n' "$CRL_PORT")
}
han han-1 10; han han-2 10
openssl x509 -in "$T/han-2.crt" -outform DER -out "$T/han-2.der"
/usr/bin/python3 - "$T/hanca.key" "$T/hanca.crt" "$T/han-old.crt" <<'PY' >>"$T/log" 2>&1
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
ca_key = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
ca = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
key = ec.generate_private_key(ec.SECP256R1())
cert = (x509.CertificateBuilder()
	.subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "han-old")]))
	.issuer_name(ca.subject).public_key(key.public_key()).serial_number(77)
	.not_valid_before(datetime.datetime(2019, 1, 1)).not_valid_after(datetime.datetime(2020, 1, 1))
	.sign(ca_key, hashes.SHA256()))
open(sys.argv[3], "wb").write(cert.public_bytes(serialization.Encoding.PEM))
PY
check "test certificates made" test -s "$T/han-1.crt" -a -s "$T/han-2.der" -a -s "$T/han-old.crt"
# The HAN CA's current CRL at the devices' distribution point (its revocation decides
# whether they are valid; gwa_context_crl.sh tests revoked, stale and missing CRLs)
mkdir -p "$T/www"
/usr/bin/python3 - "$T/hanca.key" "$T/hanca.crt" "$T/www/han.crl" <<'PY2' >>"$T/log" 2>&1
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
ca_key = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
ca = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
now = datetime.datetime.utcnow()
crl = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
	.last_update(now - datetime.timedelta(minutes=5)).next_update(now + datetime.timedelta(days=1))
	.add_extension(x509.CRLNumber(1), False).sign(ca_key, hashes.SHA256()))
open(sys.argv[3], "wb").write(crl.public_bytes(serialization.Encoding.DER))
PY2
/usr/bin/python3 -m http.server "$CRL_PORT" --bind 127.0.0.1 --directory "$T/www" >>"$T/http.log" 2>&1 &
pids_to_kill+=("$!")
check "the HAN CA's CRL is served" wait_port 127.0.0.1 "$CRL_PORT" 20

# ---- import
check "import han-1 (PEM) for GW-A into alpha" ctx import --home "$H" --tenant alpha \
	--cert "$T/han-1.crt" --label han-1 --gateway GW-A
check "... it is entry 1" grep -q "certificate 1 imported" "$T/out"
check "import han-2 (DER), no gateway" ctx import --home "$H" --tenant alpha --cert "$T/han-2.der" --label han-2
check_fails "the same certificate again is refused" ctx import --home "$H" --tenant alpha --cert "$T/han-1.crt"
check "... saying the context holds it already" grep -q "holds the certificate .* already" "$T/out"
check_fails "a gateway of another context is refused" ctx import --home "$H" --tenant alpha \
	--cert "$T/han-old.crt" --gateway GW-B
check "... as not registered in context alpha" grep -q "GW-B is not registered in context alpha" "$T/out"
printf 'not a certificate\n' >"$T/junk.crt"
check_fails "bytes that are no certificate are refused" ctx import --home "$H" --tenant alpha --cert "$T/junk.crt"
check "han-old (expired) imported" ctx import --home "$H" --tenant alpha --cert "$T/han-old.crt" --label han-old
# GW-X's TLS certificate, revoked by this home's Sub-CA (its CRL is published at once)
xs=$(q "SELECT serial_hex FROM certificates WHERE owner_id='GW-X' AND usage='TLS'")
check "GW-X's TLS certificate revoked by the Sub-CA" "$TORWART" ca revoke "$xs" --home "$H" --reason keyCompromise
check "... imported into alpha as a foreign copy" ctx import --home "$H" --tenant alpha \
	--cert "$H/gateways/GW-X/tls.crt" --label gw-x-tls --gateway GW-X

# ---- list: SM-PKI certificates with their gateway, and the foreign ones
check "list alpha" ctx list --home "$H" --tenant alpha
check "... GW-A's three SM-PKI certificates" test "$(grep -cE '^sm-pki .* GW-A ' "$T/out")" = 3
check "... han-1 assigned to GW-A" grep -qE '^foreign +1 +GW-A .*CN=han-1 \[han-1\]' "$T/out"
check "... nothing of beta" bash -c "! grep -q GW-B '$T/out'"
check "list alpha --gateway GW-A: 3 + 1" bash -c "'$TORWART' context list --home '$H' --tenant alpha --gateway GW-A | grep -q '^4 certificates in context alpha'"
check "list beta: only GW-B's three" bash -c "'$TORWART' context list --home '$H' --tenant beta | grep -q '^3 certificates in context beta'"

# ---- validation
ctx validate --home "$H" --tenant alpha; rc=$?
check "validate alpha: exit 3 (not all valid)" test "$rc" = 3
check "... han-1 untrusted (no chain to the SM-PKI or a trusted CA)" \
	test "$(q "SELECT status FROM gwa_context_certs WHERE label='han-1'")" = untrusted
check "... han-old expired" test "$(q "SELECT status FROM gwa_context_certs WHERE label='han-old'")" = expired
check "... GW-X's certificate revoked (the Sub-CA's CRL)" \
	test "$(q "SELECT status FROM gwa_context_certs WHERE label='gw-x-tls'")" = revoked
check "... alerts raised for the expired and the revoked one" \
	test "$(q "SELECT count(*) FROM admin_log WHERE action='alert.context-certificate'")" = 2
check_fails "trust-add of an end-entity certificate is refused" ctx trust-add --home "$H" --tenant alpha --cert "$T/han-1.crt"
check "trust-add the HAN CA" ctx trust-add --home "$H" --tenant alpha --cert "$T/hanca.crt"
check "trust-list shows it" bash -c "'$TORWART' context trust-list --home '$H' --tenant alpha | grep -q 'HAN Test CA'"
ctx validate --home "$H" --tenant alpha
check "validate again: han-1 and han-2 valid now" \
	test "$(q "SELECT count(*) FROM gwa_context_certs WHERE status='valid'")" = 2
check "... no new alert for the unchanged expired and revoked ones" \
	test "$(q "SELECT count(*) FROM admin_log WHERE action='alert.context-certificate'")" = 2
old_id=$(q "SELECT id FROM gwa_context_certs WHERE label='han-old'")
han han-new 10
check "replace the expired certificate" ctx replace --home "$H" --tenant alpha --id "$old_id" --cert "$T/han-new.crt"
check "... back to unchecked, label kept" test "$(q "SELECT status || ' ' || label FROM gwa_context_certs WHERE id=$old_id")" = "unchecked han-old"
ctx validate --home "$H" --tenant alpha
check "... valid after validation" test "$(q "SELECT status FROM gwa_context_certs WHERE id=$old_id")" = valid
check "beta's context is untouched (no trusted CA)" bash -c "'$TORWART' context trust-list --home '$H' --tenant beta | grep -q '^0 trusted CAs'"

# ---- another context's ids are missing ones; delete
before=$(ctx_log)
ctx delete --home "$H" --tenant beta --id 1; rf=$?; tail -1 "$T/out" | sed 's/ 1\b/ N/' >"$T/foreign"
ctx delete --home "$H" --tenant beta --id 999; rm_=$?; tail -1 "$T/out" | sed 's/ 999\b/ N/' >"$T/missing"
check "delete of alpha's entry in beta = delete of a missing one (exit $rf/$rm_)" \
	bash -c "[ $rf = 1 ] && [ $rm_ = 1 ] && cmp -s '$T/foreign' '$T/missing'"
check "... alpha's entry 1 is still there" test "$(q "SELECT count(*) FROM gwa_context_certs WHERE id=1")" = 1
check "delete entry 2 of alpha" ctx delete --home "$H" --tenant alpha --id 2
check "... gone" test "$(q "SELECT count(*) FROM gwa_context_certs WHERE id=2")" = 0
check "unknown context: not found" bash -c "! '$TORWART' context list --home '$H' --tenant nope 2>&1 | grep -q certificates"

# ---- usage errors change nothing
n=$(ctx_log)
for args in "list --home $H --tenant alpha --tenant alpha" "list --home $H --ten alpha" \
	"delete --home $H --tenant alpha --id x" "delete --home $H --tenant alpha" \
	"delete --home $H --tenant alpha --id 1 --label l" "import --home $H --tenant alpha" \
	"validate --home $H --tenant alpha --id 1" "frobnicate --home $H" \
	"import --home $H --cert $T/han-1.crt --cert $T/han-2.der"; do
	# shellcheck disable=SC2086
	"$TORWART" context $args >"$T/out" 2>&1
	rc=$?
	check "context $args: usage error (exit 2, got $rc)" test "$rc" = 2
done
check "... nothing logged or changed by them" test "$(ctx_log)" = "$n" -a \
	"$(q "SELECT count(*) FROM gwa_context_certs")" = 3
check "every action is in the admin log (imports, trust-add, replace, delete, validations)" \
	test "$(q "SELECT count(*) FROM admin_log WHERE action IN ('context.import','context.trust-add','context.replace','context.delete','context.validate') AND object LIKE 'context:alpha%'")" = 10

# ---- fetch a foreign certificate from an LDAP directory (slapd started here)
SLAPD=$(command -v slapd || echo /usr/sbin/slapd)
SLAPADD=$(command -v slapadd || echo /usr/sbin/slapadd)
if [ -x "$SLAPD" ] && [ -x "$SLAPADD" ] && command -v ldapsearch >/dev/null; then
	LPORT=$(free_port)
	SUFFIX="o=HAN,c=DE"
	DEV_DN="cn=han-ldap,$SUFFIX"
	han han-ldap 10
	openssl x509 -in "$T/han-ldap.crt" -outform DER -out "$T/han-ldap.der"
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
o: HAN

dn: $DEV_DN
objectClass: organizationalRole
objectClass: pkiUser
cn: han-ldap
userCertificate;binary:: $(base64 -w0 "$T/han-ldap.der")
EOF2
	check "slapadd loads a device entry with its certificate" "$SLAPADD" -f "$T/slapd/slapd.conf" -l "$T/base.ldif"
	"$SLAPD" -f "$T/slapd/slapd.conf" -h "ldap://127.0.0.1:$LPORT/" -d 0 >>"$T/slapd.log" 2>&1 &
	pids_to_kill+=("$!")
	check "slapd serves it" bash -c "for _ in \$(seq 1 100); do ldapsearch -x -LLL -H ldap://127.0.0.1:$LPORT -b '$DEV_DN' -s base 'userCertificate;binary' 2>/dev/null | grep -q '^userCertificate;binary::' && exit 0; sleep 0.1; done; exit 1"
	check "context fetch from ldap:// into alpha for GW-A" ctx fetch --home "$H" --tenant alpha \
		--url "ldap://127.0.0.1:$LPORT/$DEV_DN" --label han-ldap --gateway GW-A
	check "... the directory's certificate is in the context" test \
		"$(q "SELECT fingerprint FROM gwa_context_certs WHERE label='han-ldap'")" = \
		"$(openssl x509 -in "$T/han-ldap.crt" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)"
	check "... with a context.fetch entry naming the URL" test \
		"$(q "SELECT count(*) FROM admin_log WHERE action='context.fetch' AND detail LIKE '%$DEV_DN%'")" = 1
	check_fails "an entry without a certificate: refused" ctx fetch --home "$H" --tenant alpha --url "ldap://127.0.0.1:$LPORT/$SUFFIX"
	check_fails "another attribute than userCertificate: refused" ctx fetch --home "$H" --tenant alpha \
		--url "ldap://127.0.0.1:$LPORT/$DEV_DN?cn"
	check_fails "a directory that is down: refused" ctx fetch --home "$H" --tenant alpha \
		--url "ldap://127.0.0.1:$(free_port)/$DEV_DN"
	check "... nothing more imported" test "$(q "SELECT count(*) FROM gwa_context_certs WHERE label LIKE 'han-ldap%' OR label='ldap'")" = 1
	check "delete the fetched one again (the counts below stay as without a directory)" ctx delete \
		--home "$H" --tenant alpha --id "$(q "SELECT id FROM gwa_context_certs WHERE label='han-ldap'")"
else
	echo "note: slapd/ldap-utils missing: the LDAP fetch part is skipped" >>"$T/log"
fi

# ---- the context's log
"$TORWART" context log --home "$H" --tenant alpha >"$T/out" 2>&1
check "context log alpha: every context:alpha entry (imports ... validations)" test \
	"$(sed -n 's/^\([0-9]*\) entr.* of context alpha$/\1/p' "$T/out")" = \
	"$(q "SELECT count(*) FROM admin_log WHERE object = 'context:alpha' OR object LIKE 'context:alpha %'")"
check "... with the alerts of the context" grep -q "alert.context-certificate" "$T/out"
check "... nothing of beta's context" bash -c "! grep -q 'context:beta' '$T/out'"
check "context log --after the last seq: empty" bash -c "'$TORWART' context log --home '$H' --tenant alpha --after $(q "SELECT max(seq) FROM admin_log") | grep -q '^0 entries'"

# ---- backup, and restore into an empty home
check "backup alpha" ctx backup --home "$H" --tenant alpha --out "$T/alpha.json"
check "... 3 foreign certificates and 1 trusted CA in it, mode 0600" /usr/bin/python3 -c "
import json, os, stat, sys
d = json.load(open('$T/alpha.json'))
assert d['format'] == 'torwart-context-backup/1' and d['context'] == 'alpha', d
assert len(d['certificates']) == 3 and len(d['trusted_cas']) == 1, d
assert len(d['sm_pki']) == 6, d['sm_pki']
assert stat.S_IMODE(os.stat('$T/alpha.json').st_mode) == 0o600"
check "... a context.backup entry" test "$(q "SELECT count(*) FROM admin_log WHERE action='context.backup' AND object='context:alpha'")" = 1
H2="$T/home2"
check "an empty second home" "$TORWART" init --home "$H2" --wan-listen "127.0.0.1:$(free_port)" \
	--api-listen "127.0.0.1:$(free_port)" --api-tls-listen "127.0.0.1:$(free_port)"
/usr/bin/python3 -c "
import json; d = json.load(open('$T/alpha.json')); d['certificates'][1]['der'] = 'not*base64'
json.dump(d, open('$T/bad.json', 'w'))"
check_fails "a damaged backup is refused" "$TORWART" context restore --home "$H2" --tenant alpha --in "$T/bad.json"
check "... nothing restored from it" test "$(sqlite3 "$H2/store.db" "SELECT count(*) FROM gwa_context_certs")" = 0
"$TORWART" context restore --home "$H2" --tenant alpha --in "$T/alpha.json" >"$T/out" 2>&1
check "restore alpha into the empty home: 4 entries" grep -q "4 entries restored, 0 held already" "$T/out"
"$TORWART" context restore --home "$H2" --tenant alpha --in "$T/alpha.json" >"$T/out" 2>&1
check "... a second restore skips them" grep -q "0 entries restored, 4 held already" "$T/out"
check "... the same certificates (fingerprints) as the original context" test \
	"$(sqlite3 "$H2/store.db" "SELECT fingerprint FROM gwa_context_certs ORDER BY fingerprint" | paste -sd,)" = \
	"$(q "SELECT fingerprint FROM gwa_context_certs WHERE tenant_id=(SELECT id FROM tenants WHERE name='alpha') ORDER BY fingerprint" | paste -sd,)"
check "... GW-A does not exist there: han-1 unassigned" \
	test "$(sqlite3 "$H2/store.db" "SELECT gateway_id FROM gwa_context_certs WHERE label='han-1'")" = ""
"$TORWART" context validate --home "$H2" --tenant alpha >"$T/out" 2>&1
check "... validation there: han-1, han-old (replaced) valid with the restored CA" \
	test "$(sqlite3 "$H2/store.db" "SELECT count(*) FROM gwa_context_certs WHERE status='valid'")" = 2
check "... a context.restore entry in the new home's log" test \
	"$(sqlite3 "$H2/store.db" "SELECT count(*) FROM admin_log WHERE action='context.restore'")" = 2

# ---- through the api: a beta operator does not see alpha
mkdir -p "$O"
printf 'password-of-opb-1\n' >"$O/opb.pw"
check "operator opb (gateway-operator, beta)" "$TORWART" operator add --home "$H" --name opb \
	--tenant beta --password-file "$O/opb.pw" --roles gateway-operator --out "$O/opb"
printf 'password-of-auda-2\n' >"$O/auda.pw"
check "operator auda (auditor, alpha)" "$TORWART" operator add --home "$H" --name auda \
	--tenant alpha --password-file "$O/auda.pw" --roles auditor --out "$O/auda"
# alpha's own push address (the alert deliverer sends role context.alpha there; its
# delivery is the alert path's, tested in auditlog.sh)
printf '\n[context]\nvalidate_interval = 1\n\n[renewal]\ntick_ms = 200\n\n[alert]\nwebhook.context.alpha = https://127.0.0.1:%s/alpha\n' \
	"$(free_port)" >>"$H/torwart.conf"
"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "operator API listens" wait_port 127.0.0.1 "$TLS_PORT" 20
worker_validations() { q "SELECT count(*) FROM admin_log WHERE action='context.validate' AND actor='system:worker' AND object='context:alpha'"; }
wait_worker() { for _ in $(seq 100); do [ "$(worker_validations)" -ge 2 ] && return 0; sleep 0.2; done; return 1; }
check "scheduled validation: the worker validates alpha every [context] validate_interval" wait_worker
/usr/bin/python3 - "$T/hanca.key" "$T/hanca.crt" "$T/han-old2.crt" <<'PY' >>"$T/log" 2>&1
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
ca_key = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
ca = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
key = ec.generate_private_key(ec.SECP256R1())
cert = (x509.CertificateBuilder()
	.subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "han-old2")]))
	.issuer_name(ca.subject).public_key(key.public_key()).serial_number(78)
	.not_valid_before(datetime.datetime(2019, 1, 1)).not_valid_after(datetime.datetime(2020, 1, 1))
	.sign(ca_key, hashes.SHA256()))
open(sys.argv[3], "wb").write(cert.public_bytes(serialization.Encoding.PEM))
PY
check "an expired certificate imported while the stack runs" ctx import --home "$H" --tenant alpha --cert "$T/han-old2.crt" --label han-old2
queued() { q "SELECT count(*) FROM alert_queue WHERE kind='context-certificate' AND role='$1' AND message LIKE '%han-old2%'"; }
pushed() { for _ in $(seq 100); do [ "$(queued context.alpha)" = 1 ] && return 0; sleep 0.2; done; return 1; }
check "the worker's validation queues the push to alpha's own webhook (role context.alpha)" pushed
check "... and to the gateway operators' role" test "$(queued gateway-operator)" = 1
check "... marked expired" test "$(q "SELECT status FROM gwa_context_certs WHERE label='han-old2'")" = expired
check "... no push for a context without its own webhook" test \
	"$(q "SELECT count(*) FROM alert_queue WHERE role LIKE 'context.%' AND role <> 'context.alpha'")" = 0
check "... beta has no foreign certificates yet: not validated" test \
	"$(q "SELECT count(*) FROM admin_log WHERE action='context.validate' AND object='context:beta'")" = 0
check "login opb" "$TORWART" login --api "$API" --cert "$O/opb/opb.crt" --key "$O/opb/opb.key" \
	--password-file "$O/opb.pw" --token-file "$T/opb.session"
"$TORWART" context list --token-file "$T/opb.session" >"$T/out" 2>&1
check "api: opb lists its own context (beta) by default" grep -q "^3 certificates in context beta" "$T/out"
"$TORWART" context list --tenant alpha --token-file "$T/opb.session" >"$T/foreign" 2>&1; rf=$?
"$TORWART" context list --tenant zeta --token-file "$T/opb.session" 2>&1 | sed 's/zeta/alpha/g' >"$T/missing"
check "api: alpha's context for opb = a missing one (exit $rf)" bash -c \
	"[ $rf = 1 ] && cmp -s '$T/foreign' '$T/missing'"
"$TORWART" context delete --tenant alpha --id 1 --token-file "$T/opb.session" >"$T/out" 2>&1
check "api: opb cannot delete alpha's entry" test "$(q "SELECT count(*) FROM gwa_context_certs WHERE id=1")" = 1
"$TORWART" context import --cert "$T/han-2.der" --gateway GW-A --token-file "$T/opb.session" >"$T/out" 2>&1
check "api: opb cannot assign alpha's gateway" test "$(q "SELECT count(*) FROM gwa_context_certs WHERE gateway_id='GW-A' AND tenant_id=(SELECT id FROM tenants WHERE name='beta')")" = 0
"$TORWART" context import --cert "$T/han-2.der" --label han-2 --gateway GW-B --token-file "$T/opb.session" >"$T/out" 2>&1
check "api: opb imports into its own context for GW-B" grep -q "context beta: certificate [0-9]* imported" "$T/out"
"$TORWART" context import --cert "$T/han-2.der" --lab x --token-file "$T/opb.session" >"$T/out" 2>&1
check "api: an abbreviated option is refused" test $? != 0
check "login auda" "$TORWART" login --api "$API" --cert "$O/auda/auda.crt" --key "$O/auda/auda.key" \
	--password-file "$O/auda.pw" --token-file "$T/auda.session"
"$TORWART" context log --token-file "$T/auda.session" >"$T/out" 2>&1
check "api: alpha's auditor reads alpha's log" grep -q "entries of context alpha" "$T/out"
"$TORWART" context list --token-file "$T/auda.session" >"$T/out" 2>&1
check "api: ... and alpha's inventory" grep -q "certificates in context alpha" "$T/out"
"$TORWART" context log --tenant beta --token-file "$T/auda.session" >"$T/out" 2>&1
check "api: ... not beta's log" bash -c "! grep -q 'entries of context beta' '$T/out'"
n=$(ctx_log)
"$TORWART" context delete --id 1 --token-file "$T/auda.session" >"$T/out" 2>&1
check "api: the auditor cannot delete (read only)" test "$(q "SELECT count(*) FROM gwa_context_certs WHERE id=1")" = 1
"$TORWART" context log --tenant alpha --token-file "$T/opb.session" >"$T/out" 2>&1
check "api: beta's operator does not read alpha's log" bash -c "! grep -q 'entries of context alpha' '$T/out'"
check "the admin log verifies" "$TORWART" audit verify --home "$H"

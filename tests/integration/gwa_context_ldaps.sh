#!/usr/bin/env bash
# gwa_context_ldaps.sh: issue 12 (S-8), `context fetch` from an ldaps:// directory with the
# GWA's TLS certificate (src/pki/trust_ldap_tls.c: OpenSSL under libldap, the key in the
# signer). slapd answers only behind a mutual-TLS terminator (Python's ssl: client
# certificate required, the home's SM-PKI chain as client CAs, a brainpool server
# certificate; see below why not socat):
#   - the fetch as the GWA works and imports the directory's certificate;
#   - a client without a certificate, or with one outside the SM-PKI, gets nothing;
#   - a directory whose certificate is not trusted ([context] ldap_trust) is refused.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-gwactxldaps-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

SLAPD=$(command -v slapd || echo /usr/sbin/slapd)
SLAPADD=$(command -v slapadd || echo /usr/sbin/slapadd)
if ! [ -x "$SLAPD" ] || ! [ -x "$SLAPADD" ]; then
	echo "SKIP: slapd missing (scripts/install-deps)"
	rm -rf "$T"
	exit 77
fi
q() { sqlite3 "$H/store.db" "$1"; }
ctx() { "$TORWART" context "$@" >"$T/out" 2>&1; }
API_PORT=$(free_port); LPORT=$(free_port); DPORT=$(free_port)
check "init" "$TORWART" init --home "$H" --test-pki --wan-listen "127.0.0.1:$(free_port)" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$(free_port)"
check "gateway GW-A in tenant alpha" bash -c "'$TORWART' gateway add --home '$H' --id GW-A && \
	'$TORWART' gateway set --home '$H' --gateway GW-A --move-tenant alpha"

# ---- the directory's PKI (brainpool), a device certificate, a stranger's client pair
bp() { openssl ecparam -name brainpoolP256r1 -genkey -noout -out "$1" 2>>"$T/log"; }
bp "$T/dirca.key"; bp "$T/dir.key"; bp "$T/other.key"; bp "$T/stranger.key"
openssl req -x509 -new -key "$T/dirca.key" -subj "/CN=Directory Test CA" -days 2 \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
	-out "$T/dirca.crt" 2>>"$T/log"
openssl req -x509 -new -key "$T/other.key" -subj "/CN=Other CA" -days 2 \
	-addext basicConstraints=critical,CA:TRUE -out "$T/otherca.crt" 2>>"$T/log"
openssl req -new -key "$T/dir.key" -subj "/CN=127.0.0.1" -out "$T/dir.csr" 2>>"$T/log"
openssl x509 -req -in "$T/dir.csr" -CA "$T/dirca.crt" -CAkey "$T/dirca.key" -CAcreateserial \
	-days 2 -out "$T/dir.crt" 2>>"$T/log" \
	-extfile <(printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
openssl req -x509 -new -key "$T/stranger.key" -subj "/CN=stranger" -days 2 \
	-out "$T/stranger.crt" 2>>"$T/log"
openssl req -x509 -new -key "$T/other.key" -subj "/CN=han-ldaps" -days 2 -out "$T/dev.crt" 2>>"$T/log"
openssl x509 -in "$T/dev.crt" -outform DER -out "$T/dev.der"
cat "$H"/pki/root-ca.crt "$H"/pki/sub-ca.crt >"$T/gwa-cas.pem" 2>>"$T/log"
check "test certificates made" test -s "$T/dir.crt" -a -s "$T/dev.der" -a -s "$T/gwa-cas.pem"

# ---- slapd on loopback, reachable from outside only through the terminator
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

dn: cn=han-ldaps,o=HAN,c=DE
objectClass: organizationalRole
objectClass: pkiUser
cn: han-ldaps
userCertificate;binary:: $(base64 -w0 "$T/dev.der")
EOF2
check "slapadd" "$SLAPADD" -f "$T/slapd/slapd.conf" -l "$T/base.ldif"
"$SLAPD" -f "$T/slapd/slapd.conf" -h "ldap://127.0.0.1:$LPORT/" -d 0 >>"$T/slapd.log" 2>&1 &
pids_to_kill+=("$!")
check "slapd listens" wait_port 127.0.0.1 "$LPORT" 20
# The terminator: Debian's socat 1.7.4 fixes its ECDH groups to P-256 (no curve option in
# this build), and OpenSSL refuses a client certificate on a curve outside the server's
# groups, so a brainpool GWA certificate cannot pass it. The same terminator in Python's
# ssl (OpenSSL too): TLS 1.2, client certificate required and verified against the
# home's SM-PKI chain, groups brainpoolP256r1; every accepted connection is relayed to slapd.
cat >"$T/terminator.py" <<'PY2'
import socket, ssl, sys, threading
port, cert, key, cafile, backend = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.load_cert_chain(cert, key)
ctx.load_verify_locations(cafile)
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.set_ecdh_curve("brainpoolP256r1")
def pipe(a, b):
	try:
		while True:
			d = a.recv(65536)
			if not d:
				break
			b.sendall(d)
	except OSError:
		pass
	for s in (a, b):
		try:
			s.shutdown(socket.SHUT_RDWR)
		except OSError:
			pass
def serve(c):
	try:
		t = ctx.wrap_socket(c, server_side=True)
	except (ssl.SSLError, OSError) as e:
		print("refused:", e, flush=True)
		c.close()
		return
	print("accepted:", t.getpeercert()["subject"], flush=True)
	b = socket.create_connection(("127.0.0.1", backend))
	threading.Thread(target=pipe, args=(b, t), daemon=True).start()
	pipe(t, b)
ls = socket.create_server(("127.0.0.1", port), reuse_port=False)
while True:
	c, _ = ls.accept()
	threading.Thread(target=serve, args=(c,), daemon=True).start()
PY2
/usr/bin/python3 "$T/terminator.py" "$DPORT" "$T/dir.crt" "$T/dir.key" "$T/gwa-cas.pem" "$LPORT" \
	>>"$T/terminator.log" 2>&1 &
pids_to_kill+=("$!")
check "the mutual-TLS terminator listens" wait_port 127.0.0.1 "$DPORT" 20

printf '\n[context]\nldap_trust = %s\n' "$T/dirca.crt" >>"$H/torwart.conf"
"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "the stack runs (the signer holds the GWA's TLS key)" wait_port 127.0.0.1 "$API_PORT" 30

URL="ldaps://127.0.0.1:$DPORT/cn=han-ldaps,o=HAN,c=DE"
check "context fetch over ldaps:// as the GWA" ctx fetch --home "$H" --tenant alpha --url "$URL" \
	--label han-ldaps --gateway GW-A
check "... the directory's certificate is in the context" test \
	"$(q "SELECT fingerprint FROM gwa_context_certs WHERE label='han-ldaps'")" = \
	"$(openssl x509 -in "$T/dev.crt" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)"
check "... logged as a fetch with the GWA's certificate" test "$(q "SELECT count(*) FROM admin_log \
	WHERE action='context.fetch' AND detail LIKE '%as the GWA over TLS%'")" = 1

# The terminator answers nobody else: no certificate, or one outside the SM-PKI
probe() { # [cert key]: prints "answered" when an LDAP bind gets an answer through TLS
	/usr/bin/python3 - "$DPORT" "$T/dirca.crt" "$@" <<'PY'
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.set_ecdh_curve("brainpoolP256r1")
if len(sys.argv) > 3:
	ctx.load_cert_chain(sys.argv[3], sys.argv[4])
try:
	s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5),
		server_hostname="127.0.0.1")
	s.sendall(bytes.fromhex("300c020101600702010304008000"))   # anonymous bind request
	print("answered" if s.recv(100) else "closed")
except Exception as e:
	print("refused:", type(e).__name__)
PY
}
r=$(probe "$H/pki/gwa-tls.crt" "$H/secrets/tls-keys/gwa-tls.key")
check "the probe itself, with the GWA's certificate and key: answered ($r)" test "$r" = answered
r=$(probe)
check "a client without a certificate gets no answer ($r)" test "$r" != answered
r=$(probe "$T/stranger.crt" "$T/stranger.key")
check "a client with a certificate outside the SM-PKI gets no answer ($r)" test "$r" != answered

# A directory whose certificate does not chain to [context] ldap_trust: refused
sed -i "s|^ldap_trust = .*|ldap_trust = $T/otherca.crt|" "$H/torwart.conf"
n=$(q "SELECT count(*) FROM gwa_context_certs")
check_fails "a directory with an untrusted certificate is refused" ctx fetch --home "$H" \
	--tenant alpha --url "$URL" --label again
check "... as a TLS failure" grep -qi "tls" "$T/out"
check "... nothing imported" test "$(q "SELECT count(*) FROM gwa_context_certs")" = "$n"
check "the admin log verifies" "$TORWART" audit verify --home "$H"

#!/usr/bin/env bash
# directory.sh: the SM-PKI directory (issue 11 s.3, DOMAIN.md S-4). The real OpenLDAP
# slapd (Debian) runs from a configuration `torwart dir slapd-conf` generates, on an
# ldapi:// socket only; the worker publishes issued certificates (and CRLs) to it; SM-PKI
# participants read over LDAPS through the api's front end with their brainpool TLS
# certificates. Debian's ldapsearch links GnuTLS, which has no brainpool curves, so it
# cannot speak LDAPS to an SM-PKI endpoint at all: participant-side reads use
# python3-ldap3 (Debian; OpenSSL underneath), publisher-side checks use ldapsearch over
# ldapi:// with SASL EXTERNAL.
# Checked: a participant finds its certificates; anonymous and password binds, writes, a
# client without a certificate, a foreign certificate, an unregistered owner and a
# revoked certificate are refused; slapd killed while certificates are issued loses
# nothing (queue drained after the restart); `torwart dir resync` republishes; slapd's
# own ACLs refuse anonymous reads and participant writes.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-dir-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT

PY=/usr/bin/python3
for tool in slapd ldapsearch ldapwhoami ldapmodify; do
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

WAN_PORT=$(free_port); API_PORT=$(free_port); DIR_PORT=$(free_port)
BASE="o=SM-PKI-DE,c=DE"
db() { sqlite3 "$H/store.db" "$1"; }
count_log() { db "SELECT count(*) FROM admin_log WHERE $1"; }

check "torwart init --test-pki" "$TORWART" init --home "$H" --test-pki \
	--wan-listen "127.0.0.1:$WAN_PORT" --api-listen "127.0.0.1:$API_PORT" \
	--api-tls-listen "127.0.0.1:$(free_port)"
cat >>"$H/torwart.conf" <<EOF2

[dir]
listen = 127.0.0.1:$DIR_PORT
publish_interval = 1
alert_after = 2
EOF2

# ---- slapd, configured by torwart, on the home's ldapi socket
check "torwart dir slapd-conf" bash -c "'$TORWART' dir slapd-conf --home '$H' --out '$T/slapd' >'$T/slapd.cmd' 2>>'$T/log'"
URL=$(sed -n 's/.* -h //p' "$T/slapd.cmd")
check "the generated command line names an ldapi:// URL only" bash -c "echo '$URL' | grep -q '^ldapi://%2F'"
check "slapd.conf refuses anonymous binds and requires authentication" bash -c \
	"grep -q '^disallow bind_anon' '$T/slapd/slapd.conf' && grep -q '^require authc' '$T/slapd/slapd.conf'"
start_slapd() {
	"$SLAPD" -f "$T/slapd/slapd.conf" -h "$URL" -d 0 >>"$T/slapd.log" 2>&1 &
	SLAPD_PID=$!
	pids_to_kill+=("$SLAPD_PID")
	for _ in $(seq 1 100); do ldapwhoami -Y EXTERNAL -H "$URL" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}
check "slapd starts" start_slapd
check "the publisher's uid is slapd's rootdn over ldapi (SASL EXTERNAL)" bash -c \
	"ldapwhoami -Y EXTERNAL -H '$URL' 2>/dev/null | grep -qi 'dn:cn=torwart-publisher,$BASE'"

# ---- participants: A (EMT) reads; B (EMT) will be revoked; a gateway is no participant
issue_first() { # name mpid cn
	"$TORWART" ca register --home "$H" --name "$1" --org "$1 org" --role emt --mp-id "$2" \
		--cn "$3" >>"$T/log" 2>&1 || return 1
	"$TORWART" req initial --cn "$3" --ou "$2" --role EMT --key-dir "$T/$1" --format der \
		--out "$T/$1.req" >>"$T/log" 2>&1 || return 1
	"$TORWART" ca issue --home "$H" --request "$T/$1.req" --participant "$1" \
		>>"$T/log" 2>&1 || return 1
	local serial
	serial=$(db "SELECT serial_hex FROM certificates WHERE owner_id='$1' AND usage='TLS'")
	[ -n "$serial" ] && "$TORWART" ca export "$serial" --home "$H" --out "$T/$1.crt" >>"$T/log" 2>&1
}
check "participant A with its TLS certificate" issue_first emt-a 9900000000021 A.EMT.DIR
check "participant B with its TLS certificate" issue_first emt-b 9900000000022 B.EMT.DIR
check "gateway add (an SMGW TLS certificate: no participant)" "$TORWART" gateway add --home "$H" --id SMGW-DIR-0001

"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "the api's directory front end listens" wait_port 127.0.0.1 "$DIR_PORT" 20

ldap_pub() { ldapsearch -LLL -Y EXTERNAL -H "$URL" -b "$BASE" "$@" 2>/dev/null; }
wait_entry() { # filter [absent]
	for _ in $(seq 1 150); do
		if [ "${2:-}" = absent ]; then
			[ -z "$(ldap_pub "$1" dn)" ] && return 0
		else
			[ -n "$(ldap_pub "$1" dn)" ] && return 0
		fi
		sleep 0.2
	done
	return 1
}
check "the worker publishes A's entry below its CA" wait_entry "(cn=A.EMT.DIR)"
check "... DN derived from the subject: cn=A.EMT.DIR,cn=TORWART-TEST.CA,$BASE" bash -c \
	"ldapsearch -LLL -Y EXTERNAL -H '$URL' -b 'cn=A.EMT.DIR,cn=TORWART-TEST.CA,$BASE' -s base dn 2>/dev/null | grep -q '^dn: cn=A.EMT.DIR,cn=TORWART-TEST.CA'"
check "... an inetOrgPerson with the market partner id as ou" bash -c \
	"ldap_out=\$(ldapsearch -LLL -Y EXTERNAL -H '$URL' -b '$BASE' '(cn=A.EMT.DIR)' objectClass ou 2>/dev/null); echo \"\$ldap_out\" | grep -q 'objectClass: inetOrgPerson' && echo \"\$ldap_out\" | grep -q 'ou: 9900000000021'"
check "... with its three certificates (TLS, SIG, ENC) as userCertificate;binary" test \
	"$(ldap_pub '(cn=A.EMT.DIR)' 'userCertificate;binary' | grep -c '^userCertificate;binary::')" = 3
check "the gateway's certificates are published too" wait_entry "(cn=SMGW-DIR-0001)"
check "the Sub-CA's entry carries its certificate (cACertificate;binary)" bash -c \
	"ldapsearch -LLL -Y EXTERNAL -H '$URL' -b 'cn=TORWART-TEST.CA,$BASE' -s base 'cACertificate;binary' 2>/dev/null | grep -q '^cACertificate;binary::'"
for _ in $(seq 1 100); do
	ldap_pub "(cn=TORWART-TEST.CA)" "certificateRevocationList;binary" | grep -q '^certificateRevocationList' && break; sleep 0.2
done
check "the Sub-CA's CRL is published (certificateRevocationList;binary)" bash -c \
	"ldapsearch -LLL -Y EXTERNAL -H '$URL' -b 'cn=TORWART-TEST.CA,$BASE' -s base 'certificateRevocationList;binary' 2>/dev/null | grep -q '^certificateRevocationList;binary::'"
check "dir status: nothing pending" bash -c "'$TORWART' dir status --home '$H' 2>/dev/null | grep -qx 'pending 0'"

# ---- slapd's own rules, on the socket (publisher side, ldapsearch)
check_fails "slapd refuses an anonymous search on ldapi (require authc)" bash -c \
	"ldapsearch -LLL -x -H '$URL' -b '$BASE' '(cn=*)' dn 2>/dev/null | grep -q '^dn:'"
cat >"$T/mod.ldif" <<EOF2
dn: cn=A.EMT.DIR,cn=TORWART-TEST.CA,$BASE
changetype: modify
replace: ou
ou: forged
EOF2
check_fails "slapd refuses a write as a participant identity (ACL: read only)" \
	ldapmodify -Y EXTERNAL -X "dn:cn=emt-a,ou=participants,$BASE" -H "$URL" -f "$T/mod.ldif"
check "... but lets the participant identity read" bash -c \
	"ldapsearch -LLL -Y EXTERNAL -X 'dn:cn=emt-a,ou=participants,$BASE' -H '$URL' -b '$BASE' '(cn=A.EMT.DIR)' dn 2>/dev/null | grep -q '^dn: cn=A.EMT.DIR'"

# ---- participants over LDAPS (TR-03116-3, brainpool) through the front end
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
ldaps_as() { # cert key op args...
	OPENSSL_CONF="$T/openssl.cnf" "$PY" "$CLIENT" localhost "$DIR_PORT" "$H/pki/chain.pem" "$@" 2>>"$T/log"
}
out=$(ldaps_as "$T/emt-a.crt" "$T/emt-a/tls.key" external); echo "A external: $out" >>"$T/log"
check "A binds with SASL EXTERNAL (its certificate is its identity)" bash -c "echo '$out' | grep -q '^bind 0 True'"
check "... slapd sees A as dn:cn=emt-a,ou=participants,... (proxied authorisation)" bash -c \
	"echo '$out' | grep -qi '^whoami dn:cn=emt-a,ou=participants,o=sm-pki-de,c=de'"
out=$(ldaps_as "$T/emt-a.crt" "$T/emt-a/tls.key" search "$BASE" "(cn=A.EMT.DIR)" "$T/a-found"); echo "A search: $out" >>"$T/log"
check "A finds its entry over LDAPS" bash -c "echo '$out' | grep -q '^entry cn=A.EMT.DIR,cn=TORWART-TEST.CA,$BASE'"
openssl x509 -in "$T/emt-a.crt" -outform DER -out "$T/emt-a.der"
check "... and its TLS certificate among the userCertificate values, byte for byte" bash -c \
	"for f in '$T'/a-found.*.der; do cmp -s \"\$f\" '$T/emt-a.der' && exit 0; done; exit 1"
out=$(ldaps_as "$T/emt-a.crt" "$T/emt-a/tls.key" search "$BASE" "(cn=SMGW-DIR-0001)" "$T/gw-found")
check "A finds a gateway's certificates (every issued certificate is readable)" bash -c \
	"echo '$out' | grep -q '^entry cn=SMGW-DIR-0001,'"
# The information service (S-6) is the directory's search: by serial, subject, market
# partner id.
SERIAL_BSIG=$(db "SELECT serial_hex FROM certificates WHERE owner_id='emt-b' AND usage='SIG'")
out=$(ldaps_as "$T/emt-a.crt" "$T/emt-a/tls.key" search "$BASE" "(description=serial:$SERIAL_BSIG)" "$T/bsig")
check "information service: A finds B's SIG certificate by its serial number" bash -c \
	"echo '$out' | grep -q '^entry cn=B.EMT.DIR,' && test \$(echo '$out' | grep -c '^entry') = 1"
check "... the entry holds that certificate" bash -c \
	"for f in '$T'/bsig.*.der; do [ \"\$(openssl x509 -inform DER -in \"\$f\" -noout -serial | cut -d= -f2 | tr A-F a-f)\" = '$SERIAL_BSIG' ] && exit 0; done; exit 1"
out=$(ldaps_as "$T/emt-a.crt" "$T/emt-a/tls.key" search "$BASE" "(ou=9900000000022)" "$T/bmp")
check "... and B's entry by its market partner id" bash -c "echo '$out' | grep -q '^entry cn=B.EMT.DIR,'"
out=$(ldaps_as "$T/emt-a.crt" "$T/emt-a/tls.key" search "$BASE" "(description=serial:00ff00ff)" "$T/none")
check "... an unknown serial finds nothing" bash -c "echo '$out' | grep -q '^search 0 0'"
out=$(ldaps_as "$T/emt-a.crt" "$T/emt-a/tls.key" anonymous)
check "an anonymous bind is refused (inappropriateAuthentication)" bash -c "echo '$out' | grep -q '^bind 48 False'"
out=$(ldaps_as "$T/emt-a.crt" "$T/emt-a/tls.key" simple "cn=A.EMT.DIR,cn=TORWART-TEST.CA,$BASE")
check "a password bind is refused" bash -c "echo '$out' | grep -q '^bind 48 False'"
out=$(ldaps_as "$T/emt-a.crt" "$T/emt-a/tls.key" add "cn=forged,cn=TORWART-TEST.CA,$BASE")
check "a write is refused (insufficientAccessRights)" bash -c "echo '$out' | grep -q '^add 50'"
check "... logged as dir.write refused" test "$(count_log "action = 'dir.write' AND result = 'refused' AND actor = 'participant:emt-a'")" -ge 1
check_fails "... and nothing was added" bash -c "ldapsearch -LLL -Y EXTERNAL -H '$URL' -b '$BASE' '(cn=forged)' dn 2>/dev/null | grep -q '^dn:'"
out=$(ldaps_as "" "" search "$BASE" "(cn=*)" "$T/x")
check "a client without a certificate fails the TLS handshake" bash -c "echo '$out' | grep -q '^connect-failed'"
# A foreign brainpool certificate: right curve, wrong CA.
openssl ecparam -name brainpoolP256r1 -genkey -noout -out "$T/foreign.key" 2>>"$T/log"
openssl req -new -x509 -key "$T/foreign.key" -subj "/CN=FOREIGN.EMT" -days 2 -out "$T/foreign.crt" 2>>"$T/log"
out=$(ldaps_as "$T/foreign.crt" "$T/foreign.key" search "$BASE" "(cn=*)" "$T/x")
check "a certificate of a foreign CA fails the TLS handshake" bash -c "echo '$out' | grep -Eq '^(connect-failed|error)'"
out=$(ldaps_as "$H/gateways/SMGW-DIR-0001/tls.crt" "$H/gateways/SMGW-DIR-0001/tls.key" search "$BASE" "(cn=*)" "$T/x")
check "an SM-PKI certificate whose owner is no registered participant is refused" bash -c "echo '$out' | grep -Eq '^(connect-failed|error)'"
check "... logged as dir.connect refused" test \
	"$(count_log "action = 'dir.connect' AND result = 'refused' AND detail LIKE '%not a registered participant%'")" -ge 1
out=$(ldaps_as "$T/emt-b.crt" "$T/emt-b/tls.key" search "$BASE" "(cn=B.EMT.DIR)" "$T/x")
check "B reads before its revocation" bash -c "echo '$out' | grep -q '^entry cn=B.EMT.DIR'"
SERIAL_B=$(db "SELECT serial_hex FROM certificates WHERE owner_id='emt-b' AND usage='TLS'")
check "revoke B's TLS certificate" "$TORWART" ca revoke "$SERIAL_B" --home "$H" --reason keyCompromise
out=$(ldaps_as "$T/emt-b.crt" "$T/emt-b/tls.key" search "$BASE" "(cn=*)" "$T/x"); echo "B revoked: $out" >>"$T/log"
check "B with its revoked certificate is refused" bash -c "echo '$out' | grep -Eq '^(connect-failed|error)'"
check "... logged as dir.connect refused (revoked)" test \
	"$(count_log "action = 'dir.connect' AND result = 'refused' AND detail LIKE '%revoked%'")" -ge 1
check "the revoked certificate leaves B's entry (SIG and ENC stay)" bash -c \
	"for _ in \$(seq 1 100); do n=\$(ldapsearch -LLL -Y EXTERNAL -H '$URL' -b '$BASE' '(cn=B.EMT.DIR)' 'userCertificate;binary' 2>/dev/null | grep -c '^userCertificate;binary::'); [ \"\$n\" = 2 ] && exit 0; sleep 0.2; done; exit 1"
SERIAL_BTLS="$SERIAL_B"
check "the revoked serial is no longer found by the information service" bash -c \
	"out=\$(OPENSSL_CONF='$T/openssl.cnf' '$PY' '$CLIENT' localhost $DIR_PORT '$H/pki/chain.pem' '$T/emt-a.crt' '$T/emt-a/tls.key' search '$BASE' '(description=serial:$SERIAL_BTLS)' '$T/x' 2>/dev/null); echo \"\$out\" | grep -q '^search 0 0'"
check "sessions are in the admin log (dir.session)" test \
	"$(count_log "action = 'dir.session' AND actor = 'participant:emt-a'")" -ge 3

# ---- slapd down while certificates are issued: nothing is lost
kill -KILL "$SLAPD_PID"; wait "$SLAPD_PID" 2>/dev/null
check "participant C issued while slapd is down" issue_first emt-c 9900000000023 C.EMT.DIR
for _ in $(seq 1 40); do
	p=$("$TORWART" dir status --home "$H" 2>/dev/null | sed -n 's/^pending //p'); [ "${p:-0}" -ge 3 ] && break; sleep 0.2
done
check "dir status shows C's certificates pending" bash -c "'$TORWART' dir status --home '$H' 2>/dev/null | grep -Eq '^pending [3-9]'"
for _ in $(seq 1 100); do [ "$(count_log "action = 'alert.outage' AND object = 'directory'")" -ge 1 ] && break; sleep 0.2; done
check "the backlog older than [dir] alert_after raises an outage alert" test \
	"$(count_log "action = 'alert.outage' AND object = 'directory'")" -ge 1
check "slapd restarted" start_slapd
check "the worker drains the queue: C's entry appears" wait_entry "(cn=C.EMT.DIR)"
check "dir status: nothing pending afterwards" bash -c \
	"for _ in \$(seq 1 50); do '$TORWART' dir status --home '$H' 2>/dev/null | grep -qx 'pending 0' && exit 0; sleep 0.2; done; exit 1"

# ---- resync: the directory lost its data; everything is published again
kill -TERM "$SLAPD_PID"; wait "$SLAPD_PID" 2>/dev/null
rm -rf "$T/slapd/data"/*
check "slapd restarted with an empty database" start_slapd
check_fails "the empty directory has no entry of A" bash -c "ldapsearch -LLL -Y EXTERNAL -H '$URL' -b '$BASE' '(cn=A.EMT.DIR)' dn 2>/dev/null | grep -q '^dn:'"
check "torwart dir resync" bash -c "'$TORWART' dir resync --home '$H' 2>/dev/null | grep -q 'queued for publication'"
check "after resync A's entry is back" wait_entry "(cn=A.EMT.DIR)"
check "... and C's" wait_entry "(cn=C.EMT.DIR)"
check "resync is in the admin log" test "$(count_log "action = 'dir.resync'")" = 1

# ---- a front end under its own uid (privsep: torwart-api next to torwart-worker): that
# uid may bind only as participants, never as the publisher, and cannot write itself.
kill -TERM "$SLAPD_PID"; wait "$SLAPD_PID" 2>/dev/null
NOBODY=$(id -u nobody 2>/dev/null || echo 65534)
check "dir slapd-conf with a separate front-end uid" bash -c \
	"'$TORWART' dir slapd-conf --home '$H' --out '$T/slapd' --publisher-uid $(id -u) --frontend-uid $NOBODY >/dev/null 2>>'$T/log'"
check "... maps that uid to cn=torwart-frontend" grep -q "uidNumber=$NOBODY,cn=peercred,cn=external,cn=auth\\$\" \"cn=torwart-frontend,$BASE\"" "$T/slapd/slapd.conf"
chmod 0711 "$T" "$H" "$H/run"       # let the other uid reach the socket (test only)
check "slapd restarted with it" start_slapd
check "the publisher writes the front end's entry (authzTo: the participants)" bash -c \
	"'$TORWART' dir resync --home '$H' >/dev/null 2>&1 && '$TORWART' dir publish --home '$H' >/dev/null 2>&1 && \
	 ldapsearch -LLL -Y EXTERNAL -H '$URL' -b 'cn=torwart-frontend,$BASE' -s base authzTo 2>/dev/null | grep -qi 'authzTo: dn.children:ou=participants,$BASE'"
as_fe() { setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups "$@"; }
check "the front-end uid binds with a participant's authorisation identity" bash -c \
	"$(declare -f as_fe); NOBODY=$NOBODY; as_fe ldapwhoami -Y EXTERNAL -X 'dn:cn=emt-a,ou=participants,$BASE' -H '$URL' 2>/dev/null | grep -qi 'dn:cn=emt-a,ou=participants'"
check_fails "... but not as the publisher" bash -c \
	"$(declare -f as_fe); NOBODY=$NOBODY; as_fe ldapwhoami -Y EXTERNAL -X 'dn:cn=torwart-publisher,$BASE' -H '$URL'"
check_fails "... and cannot write as itself" bash -c \
	"$(declare -f as_fe); NOBODY=$NOBODY; as_fe ldapmodify -Y EXTERNAL -H '$URL' -f '$T/mod.ldif'"

#!/usr/bin/env bash
# signer_remote.sh: a wan on another host than the signer (the DMZ layout of
# docs/operations.md "A wan on another host"). The signer itself stays on its Unix socket
# (no network socket in its sandbox); the signer protocol crosses the network inside a
# mutually authenticated TLS link made by a relay on each side (socat here): on the
# signer's host the relay accepts only clients with a certificate of the link's own CA
# and connects to the signer's socket, on the wan's host it offers a Unix socket that the
# wan uses as its [signer] socket. The wan's home is another directory with no key at
# all (the link's client key belongs to the relay, not to the wan); its handshakes are
# signed by the signer through the link, asynchronously. Without a client certificate,
# or with one of another CA, the link is refused and the signer is not reached.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-it-XXXXXX)
H="$T/home"       # the signer's host
D="$T/dmz"        # the wan's host
trap 'finish; exit $?' EXIT

if ! command -v socat >/dev/null; then
	echo "signer_remote.sh: needs socat (scripts/install-deps); skipped"
	trap - EXIT
	rm -rf "$T"
	exit 77
fi

WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)
DMZ_PORT=$(free_port); LINK_PORT=$(free_port)
SOCK="$H/run/signer.sock"

check "torwart init --test-pki (signer's host)" "$TORWART" init --home "$H" --test-pki \
	--wan-listen "127.0.0.1:$WAN_PORT" --api-listen "127.0.0.1:$API_PORT" \
	--api-tls-listen "127.0.0.1:$TLS_PORT"
check "gateway add SMGW-REMOTE-01" "$TORWART" gateway add --home "$H" --id SMGW-REMOTE-01
G="$H/gateways/SMGW-REMOTE-01"

# ---- the link's own PKI (nothing of the SM-PKI): a CA, the relay's server and client
link_cert() { # name subject-alt-name eku ca-prefix
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$1.key" \
		-subj "/CN=$1" -out "$T/$1.csr" 2>/dev/null &&
	openssl x509 -req -in "$T/$1.csr" -CA "$T/$4.crt" -CAkey "$T/$4.key" -CAcreateserial \
		-days 2 -out "$T/$1.crt" \
		-extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=%s\n' "$2" "$3") 2>/dev/null
}
link_ca() {
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$T/$1.key" -subj "/CN=$1" -days 2 -out "$T/$1.crt" 2>/dev/null
}
check "link CA, relay server and client certificates" bash -c "$(declare -f link_ca link_cert); \
	T='$T'; link_ca link-ca && link_ca other-ca && \
	link_cert signer-link IP:127.0.0.1 serverAuth link-ca && \
	link_cert wan-dmz DNS:wan-dmz clientAuth link-ca && \
	link_cert stranger DNS:stranger clientAuth other-ca"

# ---- the wan's home: another directory with the configuration and certificates only
mkdir -p "$D/run"
cp "$H/torwart.conf" "$D/torwart.conf"
cp -r "$H/pki" "$D/pki"
url=$(awk '/^\[store\]/ { s = 1; next } /^\[/ { s = 0 }
	s && /^url *=/ { sub(/^url *= */, ""); print; exit }' "$H/torwart.conf")
case "$url" in
/* | *://* | *:*) ;;
*) sed -i "s|^url = $url\$|url = $H/$url|" "$D/torwart.conf" ;;
esac
sed -i "s|^listen = 127.0.0.1:$WAN_PORT\$|listen = 127.0.0.1:$DMZ_PORT|" "$D/torwart.conf"
check "the DMZ home has no private key at all" bash -c "! grep -rl 'PRIVATE KEY' '$D'"
check "the DMZ home's wan listens elsewhere and uses the signer socket of its own home" \
	bash -c "grep -q '^listen = 127.0.0.1:$DMZ_PORT\$' '$D/torwart.conf' && \
	grep -q '^socket = run/signer.sock\$' '$D/torwart.conf'"

"$TORWARTD" --home "$H" signer >>"$T/signer.log" 2>&1 &
pids_to_kill+=("$!")
check "the signer starts (its Unix socket only)" bash -c \
	"for i in \$(seq 100); do [ -S '$SOCK' ] && exit 0; sleep 0.1; done; exit 1"

# The signer's side of the link: mutual TLS, clients of the link CA only.
socat "OPENSSL-LISTEN:$LINK_PORT,bind=127.0.0.1,reuseaddr,fork,cert=$T/signer-link.crt,key=$T/signer-link.key,cafile=$T/link-ca.crt,verify=1" \
	"UNIX-CONNECT:$SOCK" 2>>"$T/link.log" &
pids_to_kill+=("$!")
check "the signer's relay listens on 127.0.0.1 TCP" wait_port 127.0.0.1 "$LINK_PORT" 20
# The wan's side: its [signer] socket, forwarded over the link with the relay's key.
relay() { # socket [client-cert-name]
	local id=""
	[ -n "${2:-}" ] && id="cert=$T/$2.crt,key=$T/$2.key,"
	socat "UNIX-LISTEN:$1,fork,unlink-early,mode=600" \
		"OPENSSL:127.0.0.1:$LINK_PORT,${id}cafile=$T/link-ca.crt,verify=1" \
		2>>"$T/link.log" &
	pids_to_kill+=("$!")
	for _ in $(seq 1 100); do [ -S "$1" ] && return 0; sleep 0.1; done
	return 1
}
check "the wan's relay offers the DMZ home's signer socket" relay "$D/run/signer.sock" wan-dmz

PROBE=${TORWART_SIGNER_PROBE:?}
check "the signer answers through the link (a tls-handshake signature with gwa-tls)" \
	"$PROBE" "$D/run/signer.sock" wan service sign gwa-tls tls-handshake
check "a relay with a certificate of another CA does not reach the signer" relay \
	"$T/stranger.sock" stranger
check_fails "... and its request fails" "$PROBE" "$T/stranger.sock" wan service sign gwa-tls tls-handshake
check "a relay without a client certificate does not reach the signer" relay \
	"$T/anonymous.sock"
check_fails "... and its request fails" "$PROBE" "$T/anonymous.sock" wan service sign gwa-tls tls-handshake

"$TORWARTD" --home "$D" wan >>"$T/wan.log" 2>&1 &
WAN_PID=$!
pids_to_kill+=("$WAN_PID")
check "the DMZ wan listens" wait_port 127.0.0.1 "$DMZ_PORT" 20
check "the DMZ wan loaded no key file" bash -c "! grep -q 'is a file that this process can read' '$T/wan.log'"
check "a gateway session through the DMZ wan (handshake signed over the link)" \
	"$SIM" --gwa "127.0.0.1:$DMZ_PORT" --gateways "$G"
check "the signer counted handshake signatures" bash -c "for i in \$(seq 30); do \
	grep -Eq 'torwart_signer_tls_handshake_signatures_total\{result=\"ok\"\} [1-9]' '$H/run/signer.metrics' && exit 0; sleep 0.1; done; exit 1"
check "openssl s_client: TLS 1.2 handshake with the DMZ wan, server verified" bash -c \
	"timeout 10 openssl s_client -connect 127.0.0.1:$DMZ_PORT -brief -CAfile '$G/root-ca.crt' \
	-cert '$G/tls.crt' -key '$G/tls.key' -tls1_2 -groups brainpoolP256r1 </dev/null 2>&1 | \
	grep -q 'Verification: OK'"
kill -TERM "$WAN_PID"; wait "$WAN_PID" 2>/dev/null

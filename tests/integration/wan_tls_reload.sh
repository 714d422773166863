#!/usr/bin/env bash
# wan_tls_reload.sh: issue 12, the wan takes a new TLS server certificate and key without
# a restart (src/wan/wan_tls_reload.c):
#   - a certificate whose key is not the installed one is refused with a logged error and
#     the previous certificate stays in use (openssl s_client sees the old serial);
#   - the matching pair is taken by the periodic look at the files: s_client sees the new
#     serial, a TLS connection opened before the reload still answers on the same
#     session, and gateways connecting throughout never fail;
#   - SIGHUP reloads at once; an expired certificate is refused.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-tlsreload-XXXXXX)
H="$T/home"
trap 'exec 7>&- 2>/dev/null; finish; exit $?' EXIT

WAN_PORT=$(free_port); API_PORT=$(free_port)
WAN="127.0.0.1:$WAN_PORT"
q() { sqlite3 "$H/store.db" "$1"; }
start_stack() {
	api_tls_port "$H" || return 1
	"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
	SUP=$!; pids_to_kill+=("$SUP")
	wait_port 127.0.0.1 "$WAN_PORT" 20 && wait_port 127.0.0.1 "$TLS_PORT" 20
}
child_pid() { # service
	local p
	p=$(grep -o " $1\[[0-9]*\] " "$T/torwartd.log" | tail -1 | tr -dc 0-9)
	[ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"
}
# The serial of the certificate the wan presents (openssl s_client as a gateway).
served_serial() {
	timeout 10 openssl s_client -connect "$WAN" -CAfile "$H/pki/chain.pem" -tls1_2 \
		-groups brainpoolP256r1 -cert "$G1/tls.crt" -key "$G1/tls.key" </dev/null 2>/dev/null |
		openssl x509 -noout -serial | sed 's/^serial=//'
}
file_serial() { openssl x509 -in "$1" -noout -serial | sed 's/^serial=//'; }
count_log() { grep -c "$1" "$T/torwartd.log"; }
wait_log() { # pattern count seconds
	local end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do [ "$(count_log "$1")" -ge "$2" ] && return 0; sleep 0.2; done
	return 1
}

check "torwart init --test-pki" "$TORWART" init --home "$H" --test-pki --wan-listen "$WAN" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$(free_port)"
sed -i '/^\[wan\]/a tls_reload_check = 1' "$H/torwart.conf"
check "torwartd all starts" start_stack
check "gateway add GW-1" "$TORWART" gateway add --home "$H" --id GW-1
G1="$H/gateways/GW-1"
WAN_PID=$(child_pid wan)

# A second GWA TLS certificate from the same Sub-CA (the GWA's participant, a new key).
issue_gwa() { # dir
	"$TORWART" ca register --home "$H" --name "gwa-$1" --org "GWA" --role gwa \
		--mp-id 9900000000003 --cn TEST.GWA.TORWART >>"$T/log" 2>&1 || return 1
	"$TORWART" req initial --cn TEST.GWA.TORWART --ou 9900000000003 --role GWA --dns localhost \
		--key-dir "$T/$1" --format der --out "$T/$1.req" >>"$T/log" 2>&1 || return 1
	"$TORWART" ca issue --home "$H" --request "$T/$1.req" --participant "gwa-$1" \
		>>"$T/log" 2>&1 || return 1
	local serial
	serial=$(q "SELECT serial_hex FROM certificates WHERE owner_id='gwa-$1' AND usage='TLS'")
	[ -n "$serial" ] && "$TORWART" ca export "$serial" --home "$H" --out "$T/$1.crt" >>"$T/log" 2>&1
}
check "a new GWA TLS certificate is issued by the Sub-CA" issue_gwa new
old=$(file_serial "$H/pki/gwa-tls.crt"); new=$(file_serial "$T/new.crt")
check "s_client sees the installed certificate ($old)" test "$(served_serial)" = "$old"

# A connection opened before any change, kept open (HTTP keep-alive) across the reload.
mkfifo "$T/in"
timeout 60 openssl s_client -connect "$WAN" -CAfile "$H/pki/chain.pem" -tls1_2 \
	-groups brainpoolP256r1 -cert "$G1/tls.crt" -key "$G1/tls.key" -quiet -ign_eof \
	<"$T/in" >"$T/long.out" 2>"$T/long.err" &
LONG=$!; pids_to_kill+=("$LONG")
exec 7>"$T/in"
req() { printf 'GET /v1/none HTTP/1.1\r\nHost: localhost\r\n\r\n' >&7; }
req
answers() { grep -o 'HTTP/1.1 [0-9]' "$T/long.out" | wc -l; }
wait_answers() { local end=$((SECONDS + 10)); while [ $SECONDS -lt $end ]; do [ "$(answers)" -ge "$1" ] && return 0; sleep 0.1; done; return 1; }
check "the long-lived connection is answered before the reload" wait_answers 1

# Gateways keep connecting during everything below; none may fail.
(
	n=0 f=0
	while [ ! -e "$T/stop-sim" ]; do
		n=$((n + 1))
		"$SIM" --gwa "$WAN" --gateways "$G1" --quiet >>"$T/sim.log" 2>&1 || f=$((f + 1))
	done
	echo "$n $f" >"$T/sim.result"
) &
LOOP=$!

# ---- a certificate whose key is not installed: refused, the old one stays
cat "$T/new.crt" >"$H/pki/gwa-tls.crt"
check "the mismatched pair is refused with a logged error" \
	wait_log "new TLS certificate/key refused, still serving serial $old" 1 10
check "s_client still sees the old serial" test "$(served_serial)" = "$old"

# ---- the matching key arrives: the periodic look takes the pair
cat "$T/new/tls.key" >"$H/pki/gwa-tls.key"
check "the wan reloads the new pair without a restart" \
	wait_log "TLS certificate reloaded: new connections use serial $new (was $old)" 1 10
check "s_client sees the new certificate's serial ($new)" test "$(served_serial)" = "$new"
req
check "the connection opened before the reload still answers (same TLS session)" wait_answers 2
check "... and was never closed" kill -0 "$LONG"
check "the wan process was not restarted" test "$(child_pid wan)" = "$WAN_PID"

# ---- SIGHUP reloads at once (the files unchanged)
before=$(count_log "TLS certificate reloaded")
check "SIGHUP to the wan" kill -HUP "$(child_pid wan)"
check "SIGHUP reloads" wait_log "TLS certificate reloaded" $((before + 1)) 10

# ---- an expired certificate is refused (the key matches; validity is what fails)
# Signed by its own (matching) key, expired in 2020: only the validity can refuse it.
/usr/bin/python3 - "$T/new/tls.key" "$T/exp.crt" <<'PY' >>"$T/log" 2>&1
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
key = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired")])
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
	.public_key(key.public_key()).serial_number(4242)
	.not_valid_before(datetime.datetime(2019, 1, 1)).not_valid_after(datetime.datetime(2020, 1, 1))
	.sign(key, hashes.SHA256()))
open(sys.argv[2], "wb").write(cert.public_bytes(serialization.Encoding.PEM))
PY
if [ -s "$T/exp.crt" ]; then
	cp "$H/pki/gwa-tls.crt" "$T/keep.crt"
	cat "$T/exp.crt" >"$H/pki/gwa-tls.crt"
	check "an expired certificate is refused" \
		wait_log "refused, still serving serial $new: .*has expired" 1 10
	check "... s_client still sees serial $new" test "$(served_serial)" = "$new"
	cat "$T/keep.crt" >"$H/pki/gwa-tls.crt"
fi

touch "$T/stop-sim"; wait "$LOOP"
read -r sim_n sim_f <"$T/sim.result"
echo "gateway visits during the reloads: $sim_n, failed: $sim_f" >>"$T/log"
check "gateways connected throughout ($sim_n visits), none failed" test "$sim_n" -ge 3 -a "$sim_f" = 0
exec 7>&-
check "the admin log verifies" "$TORWART" audit verify --home "$H"

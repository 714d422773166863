#!/usr/bin/env bash
# bench_firmware.sh: a firmware image to N simulated gateways through the real stack
# (issue 13): bench_fleet.sh provisions the fleet and runs a firmware-update fleet order
# (signed wake-up -> TLS session -> ranged download inside it -> digest and signature
# check -> install -> result); it reports wall time, wan RSS and CPU. Next to it, in the
# same run, the same bytes to the same number of clients from a plain static file server
# over TLS (python3 http.server with the GWA's brainpool TLS certificate, curl clients)
# as the peer.
#
#   bench/bench_firmware.sh [BUILD_DIR]
#   env: N (gateways, 50), MB (image size in MiB, 10), CONCURRENCY (256),
#        PEER_CONCURRENCY (curl downloads in parallel, 64), RANGE (bytes per range, 1 MiB)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
n=${N:-50}; mb=${MB:-10}; pconc=${PEER_CONCURRENCY:-64}; range=${RANGE:-1048576}
work=$(mktemp -d "${TMPDIR:-/tmp}/torwart-fwbench.XXXXXX")
trap 'kill "${peer_pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
T="$build/src/cmd/torwart"
here=$(cd "$(dirname "$0")" && pwd)

echo "== provisioning $n gateways (bench_fleet.sh, a ping order to warm up)"
TMPDIR=$work KEEP=1 N=$n TYPE=ping PAYLOAD='{}' "$here/bench_fleet.sh" "$build" | grep -E '^(provisioned|wall time|jobs done)'
home=$(ls -d "$work"/torwart-fleet.*/home | head -1)
q() { "$T" "$@" --home "$home" >/dev/null 2>&1; }

echo "== image: $mb MiB, signed with openssl cms by the test manufacturer"
head -c $((mb * 1024 * 1024)) /dev/urandom >"$work/img.bin"
sha=$(sha256sum "$work/img.bin" | cut -d' ' -f1)
printf '{"format":"torwart-firmware-manifest/1","model":"BENCH/SMGW","version":"9.0.0","size":%s,"sha256":"%s"}' \
	"$((mb * 1024 * 1024))" "$sha" >"$work/m.json"
openssl cms -sign -binary -nodetach -md sha256 -in "$work/m.json" -signer "$home/test-vendor/gwh-sig.crt" \
	-inkey "$home/test-vendor/gwh-sig.key" -certfile "$home/pki/sub-ca.crt" -outform DER -out "$work/m.cms"
printf '{"format":"torwart-certified-firmware/1","sequence":1,"issued":"2026-12-01T00:00:00Z","firmware":[{"model":"BENCH/SMGW","version":"9.0.0"}]}' >"$work/l.json"
openssl cms -sign -binary -nodetach -md sha256 -in "$work/l.json" -signer "$home/pki/firmware-list.crt" \
	-inkey "$home/test-vendor/firmware-list.key" -outform DER -out "$work/l.cms"
q ca crl; q ca crl --ca root-ca
"$T" firmware add --home "$home" --file "$work/img.bin" --signature "$work/m.cms" 2>/dev/null | tail -1
q firmware import-list --file "$work/l.cms"
q firmware release --id 1
printf '\n[wan]\nfirmware_range_max = %s\n' "$range" >>"$home/torwart.conf"

echo "== torwart: firmware-update to $n gateways ($mb MiB each, ranges of $range bytes)"
HOME_DIR=$home TYPE=firmware-update PAYLOAD='{"image":1}' "$here/bench_fleet.sh" "$build" | tee "$work/fleet.out" |
	grep -E '^(wall time|jobs done|peak connections|RSS|CPU during)'
wall=$(sed -n 's/^wall time: *\([0-9.]*\) s/\1/p' "$work/fleet.out")
done_jobs=$(sed -n 's/^jobs done: *\([0-9]*\) of.*/\1/p' "$work/fleet.out")
echo "served:               $(echo "scale=1; $done_jobs * $mb / $wall" | bc) MiB/s ($done_jobs images of $mb MiB in $wall s, TLS + ranges + orders + wake-ups)"

echo "== peer: python3 http.server over TLS, the same bytes to $n clients ($pconc in parallel)"
mkdir -p "$work/www" && cp "$work/img.bin" "$work/www/img.bin"
pport=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat >"$work/peer.py" <<PY
import http.server, ssl, functools
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.load_cert_chain("$home/pki/gwa-tls.crt", "$home/secrets/tls-keys/gwa-tls.key")
ctx.set_ecdh_curve("brainpoolP256r1")
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory="$work/www")
s = http.server.ThreadingHTTPServer(("127.0.0.1", $pport), h)
s.socket = ctx.wrap_socket(s.socket, server_side=True)
s.serve_forever()
PY
python3 "$work/peer.py" 2>/dev/null &
peer_pid=$!
for _ in $(seq 1 50); do ss -ltn "sport = :$pport" | grep -q LISTEN && break; sleep 0.1; done
t0=$(date +%s.%N)
seq 1 "$n" | xargs -P "$pconc" -I{} curl -s -o /dev/null --curves brainpoolP256r1 --tlsv1.2 \
	--tls-max 1.2 --cacert "$home/pki/chain.pem" "https://localhost:$pport/img.bin"
t1=$(date +%s.%N)
pwall=$(echo "$t1 - $t0" | bc)
echo "wall time:            $pwall s"
echo "served:               $(echo "scale=1; $n * $mb / $pwall" | bc) MiB/s"
echo "RSS (peak, VmHWM):    python server $(awk '/VmHWM/ {print $2/1024 " MiB"}' /proc/$peer_pid/status)"

#!/usr/bin/env bash
# bench_firmware.sh: a firmware image to N simulated gateways through the real stack
# (issue 13): bench_fleet.sh provisions the fleet in bulk (keys and certificates in
# batches through the signer) and runs a firmware-update fleet order (signed wake-up ->
# TLS session -> ranged download inside it -> digest and signature check -> install ->
# result); it reports wall time, bytes/s served, wan RSS and CPU. Next to it, in the same
# run, the same bytes to the same number of clients from a plain static file server over
# TLS (python3 http.server with the GWA's brainpool TLS certificate, curl clients) as the
# peer. The load average is printed at the start and at the end (a shared machine).
#
#   bench/bench_firmware.sh [BUILD_DIR]
#   env: N (gateways, 100; 20 to 10,000), MB (image size in MiB, 2), CONCURRENCY (sim
#        visits in flight, 64: the simulator is one thread; with 256 downloads in flight
#        on a loaded machine some connections went unread for the wan's 30 s I/O timeout,
#        were cut, and their jobs waited for the deadline), PEER_CONCURRENCY (curl downloads in parallel, 64),
#        RANGE (bytes per range, 1 MiB), WAKEUP_RATE (wake-ups/s of the firmware order,
#        default 100 / MB: each job's deadline counts from its wake-up, so wake no more
#        gateways per second than the machine can serve images), FW_RATE and
#        FW_RATE_TOTAL ([wan] firmware_rate / firmware_rate_total, bytes/s; unset = 0 =
#        unlimited), PEER=0 (skip the peer), WARMUP=1 (provision through bench_fleet.sh
#        with its ping order first, as before: every gateway has contacted the wan once)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
n=${N:-100}; mb=${MB:-2}; pconc=${PEER_CONCURRENCY:-64}; range=${RANGE:-1048576}
wrate=${WAKEUP_RATE:-$(( 100 / mb > 0 ? 100 / mb : 1 ))}
py=/usr/bin/python3
load() { cut -d' ' -f1-3 /proc/loadavg; }
cpu() { awk -v t="$(getconf CLK_TCK)" '{ print ($14 + $15) / t }' "/proc/$1/stat" 2>/dev/null || echo 0; }
echo "bench_firmware: $n gateways, $mb MiB image, $(nproc) cores, load average at the start $(load)"
work=$(mktemp -d "${TMPDIR:-/tmp}/torwart-fwbench.XXXXXX")
trap '[ -z "${peer_pid:-}" ] || kill "$peer_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
T="$build/src/cmd/torwart"
here=$(cd "$(dirname "$0")" && pwd)

if [ "${WARMUP:-0}" = 1 ]; then
	echo "== provisioning $n gateways (bench_fleet.sh, a ping order to warm up)"
	TMPDIR=$work KEEP=1 N=$n TYPE=ping PAYLOAD='{}' "$here/bench_fleet.sh" "$build" 2>"$work/provision.err" |
		grep -E '^(provisioned|wall time|jobs done)'
	home=$(ls -d "$work"/torwart-fleet.*/home | head -1)
else
	# The same bulk provisioning as bench_fleet.sh (keys and three certificates per
	# gateway, signed in batches of 200 through the signer), without its warm-up order:
	# the home is then handed to bench_fleet.sh (HOME_DIR) for the firmware order.
	echo "== provisioning $n gateways in bulk (bench_fleet_provision)"
	mkdir "$work/fleet"; home=$work/fleet/home
	port() { $py -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
	wan_port=$(port)
	"$T" init --home "$home" --test-pki --wan-listen "127.0.0.1:$wan_port" --api-listen "127.0.0.1:$(port)" \
		--api-tls-listen "127.0.0.1:$(port)" >/dev/null 2>"$work/provision.err"
	wu_port=$(port)
	printf '\n[bench]\nwakeup_port = %s\n' "$wu_port" >"$work/fleet/bench.conf"
	"$build/src/cmd/torwartd" --home "$home" all >"$work/provision.log" 2>&1 &
	sup=$!
	for _ in $(seq 1 100); do ss -ltn "sport = :$wan_port" | grep -q LISTEN && break; sleep 0.1; done
	t0=$(date +%s.%N)
	"$build/bench/bench_fleet_provision" --home "$home" --from 0 --to $((n / 2)) --batch 200 &
	p1=$!
	"$build/bench/bench_fleet_provision" --home "$home" --from $((n / 2)) --to "$n" --batch 200
	wait "$p1"
	"$T" gateway set --home "$home" --gateways all --wakeup "127.0.0.1:$wu_port" >/dev/null 2>>"$work/provision.err"
	t1=$(date +%s.%N)
	kill -TERM "$sup"; wait "$sup" 2>/dev/null || true
	echo "provisioned $n gateways (keys, 3 certificates each via the signer, bulk) in $(echo "$t1 - $t0" | bc) s"
fi
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
printf '\n[wan]\nfirmware_range_max = %s\nfirmware_rate = %s\nfirmware_rate_total = %s\n' "$range" \
	"${FW_RATE:-0}" "${FW_RATE_TOTAL:-0}" >>"$home/torwart.conf"
# The firmware order's wake-ups: paced to what can be served (deadlines run from them).
sed -i "s/^wakeup_rate = .*/wakeup_rate = $wrate/" "$home/torwart.conf"

echo "== torwart: firmware-update to $n gateways ($mb MiB each, ranges of $range bytes, wake-ups $wrate/s, limits ${FW_RATE:-0}/${FW_RATE_TOTAL:-0} B/s)"
HOME_DIR=$home TYPE=firmware-update PAYLOAD='{"image":1}' RATE=$wrate CONCURRENCY=${CONCURRENCY:-64} \
	"$here/bench_fleet.sh" "$build" 2>"$work/order.err" | tee "$work/fleet.out" |
	grep -E '^(fleet order|wall time|jobs done|peak connections|RSS|CPU during)'
wall=$(sed -n 's/^wall time: *\([0-9.]*\) s/\1/p' "$work/fleet.out")
done_jobs=$(sed -n 's/^jobs done: *\([0-9]*\) of.*/\1/p' "$work/fleet.out")
wan_rss=$(sed -n 's/^RSS (peak, VmHWM): *wan \([0-9.]*\) MiB.*/\1/p' "$work/fleet.out")
tw_mib=$(echo "scale=1; $done_jobs * $mb / $wall" | bc)
echo "served:               $tw_mib MiB/s = $(echo "$done_jobs * $mb * 1048576 / $wall" | bc) bytes/s ($done_jobs images of $mb MiB in $wall s, TLS + ranges + orders + wake-ups)"
echo "load average now:     $(load)"
peer_mib=-; pwall=-; peer_rss=-
if [ "${PEER:-1}" = 0 ]; then
	echo "bench_firmware: n=$n mb=$mb wall_s=$wall done=$done_jobs torwart_mib_s=$tw_mib wan_rss_mib=$wan_rss peer_mib_s=- load=\"$(load)\""
	exit 0
fi

echo "== peer: python3 http.server over TLS, the same bytes to $n clients ($pconc in parallel)"
mkdir -p "$work/www" && cp "$work/img.bin" "$work/www/img.bin"
pport=$($py -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
# The GWA's TLS key (where init puts it: secrets/tls-keys/, older homes pki/).
tls_key=$home/secrets/tls-keys/gwa-tls.key
[ -f "$tls_key" ] || tls_key=$home/pki/gwa-tls.key
cat >"$work/peer.py" <<PY
import http.server, ssl, functools
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.load_cert_chain("$home/pki/gwa-tls.crt", "$tls_key")
ctx.set_ecdh_curve("brainpoolP256r1")
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory="$work/www")
class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 256   # the default backlog of 5 drops connects of 64 clients
s = Server(("127.0.0.1", $pport), h)
s.socket = ctx.wrap_socket(s.socket, server_side=True)
s.serve_forever()
PY
$py "$work/peer.py" 2>"$work/peer.err" &
peer_pid=$!
for _ in $(seq 1 50); do ss -ltn "sport = :$pport" | grep -q LISTEN && break; sleep 0.1; done
pcpu0=$(cpu "$peer_pid")
t0=$(date +%s.%N)
# One line per download: HTTP status and bytes; a failed download is counted, not fatal.
seq 1 "$n" | xargs -P "$pconc" -I{} curl -s -o /dev/null -w '%{http_code} %{size_download}\n' \
	--curves brainpoolP256r1 --tlsv1.2 --tls-max 1.2 --cacert "$home/pki/chain.pem" \
	"https://localhost:$pport/img.bin" >"$work/peer.out" 2>/dev/null || true
t1=$(date +%s.%N)
pwall=$(echo "$t1 - $t0" | bc)
pdone=$(awk -v s=$((mb * 1048576)) '$1 == 200 && $2 == s' "$work/peer.out" | wc -l)
echo "downloads complete:   $pdone of $n"
[ "$pdone" -gt 0 ] || { echo "peer failed:"; tail -5 "$work/peer.err"; exit 1; }
peer_mib=$(echo "scale=1; $pdone * $mb / $pwall" | bc)
peer_rss=$(awk '/VmHWM/ {print $2/1024}' /proc/$peer_pid/status 2>/dev/null || echo "?")
echo "wall time:            $pwall s"
echo "served:               $peer_mib MiB/s = $(echo "$pdone * $mb * 1048576 / $pwall" | bc) bytes/s"
echo "RSS (peak, VmHWM):    python server $peer_rss MiB"
echo "CPU:                  python server $(echo "$(cpu "$peer_pid") - $pcpu0" | bc) s (curl clients not counted)"
echo "ratio torwart/peer:   $(echo "scale=2; $tw_mib / $peer_mib" | bc) (MiB/s; torwart's includes wake-ups, orders, the simulator's checks and installs)"
echo "load average at end:  $(load)"
echo "bench_firmware: n=$n mb=$mb wall_s=$wall done=$done_jobs torwart_mib_s=$tw_mib wan_rss_mib=$wan_rss peer_wall_s=$pwall peer_done=$pdone peer_mib_s=$peer_mib peer_rss_mib=$peer_rss load=\"$(load)\""

#!/usr/bin/env bash
# run-handshake.sh: full and resumed mutual-auth TLS 1.2 handshakes/s of the real wan
# (brainpoolP256r1, driven by the simulator engine) next to raw OpenSSL in memory with
# the same certificates, in one run. Creates a throw-away home with the test SM-PKI.
#
#   bench/run-handshake.sh [BUILD_DIR]     env: N (gateways, 50), ROUNDS (4),
#                                          CONCURRENCY (64), SECONDS (5), KEEP=1
set -euo pipefail
build=${1:-build}
n=${N:-50}; rounds=${ROUNDS:-4}; conc=${CONCURRENCY:-64}; secs=${SECONDS_RAW:-5}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/torwart-bench.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT
home=$tmp/home

"$build/src/cmd/torwart" init --home "$home" --test-pki >/dev/null
for i in $(seq 1 "$n"); do
	"$build/src/cmd/torwart" gateway add --home "$home" --id "$(printf 'ETWABENCH%05d' "$i")" \
		>/dev/null
done
"$build/bench/bench_handshake" --home "$home" --count "$n" --rounds "$rounds" \
	--concurrency "$conc" --seconds "$secs"
# The same path an operator uses: torwartd wan + torwart-sim (summary line only).
"$build/src/cmd/torwartd" --home "$home" wan 2>"$tmp/wan.log" &
wan_pid=$!
sleep 1
"$build/src/cmd/torwart-sim" --home "$home" --count "$n" --rounds "$rounds" \
	--concurrency "$conc" --resume --quiet || status=$?
kill -TERM "$wan_pid"
wait "$wan_pid" || true
exit "${status:-0}"

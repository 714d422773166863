#!/usr/bin/env bash
# run-handshake.sh: full and resumed mutual-auth TLS 1.2 handshakes/s of the real wan
# (brainpoolP256r1, driven by the simulator engine) next to raw OpenSSL in memory with
# the same certificates, in one run. Creates a throw-away home with the test SM-PKI.
#
#   bench/run-handshake.sh [BUILD_DIR]     env: N (gateways, 50), ROUNDS (4),
#                                          CONCURRENCY (64), SECONDS (5), KEEP=1,
#                                          KEYFILE=1 (the old layout: the wan reads its
#                                          TLS key from pki/gwa-tls.key, for comparison),
#                                          RESUME_ROUNDS (40: resumed rounds of the direct
#                                          resumed-only figure), PERF=1 (only the resumed
#                                          runs, RESUME_ROUNDS 100 unless set, under
#                                          `perf record --call-graph dwarf`; prints the
#                                          top functions, self and inclusive; PERF_FREQ
#                                          (499), PERF_KEEP=FILE keeps perf.data)
#                                          PERF=full (the same for the full
#                                          rounds alone, --full-only: ROUNDS 4 unless set;
#                                          adds the split by thread: simulator, wan)
#                                          ASYNC=0 (signatures through the signer waited
#                                          for synchronously, the loop held meanwhile)
# The wan's handshake signatures go to a signer started here (docs/security.md "TLS keys
# in the signer"); its CPU is reported per signature next to the bench's own figures.
set -euo pipefail
build=${1:-build}
n=${N:-50}; rounds=${ROUNDS:-4}; conc=${CONCURRENCY:-64}; secs=${SECONDS_RAW:-5}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/torwart-bench.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT
home=$tmp/home

# Ports of our own: the wan listens with SO_REUSEPORT, so a second bench on the default
# port (another checkout on a shared machine) would take half of our connections.
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
"$build/src/cmd/torwart" init --home "$home" --test-pki --wan-listen "127.0.0.1:$(port)" \
	--api-listen "127.0.0.1:$(port)" --api-tls-listen "127.0.0.1:$(port)" >/dev/null
for i in $(seq 1 "$n"); do
	"$build/src/cmd/torwart" gateway add --home "$home" --id "$(printf 'ETWABENCH%05d' "$i")" \
		>/dev/null
done
[ "${KEYFILE:-0}" = 1 ] && mv "$home/secrets/tls-keys/gwa-tls.key" "$home/pki/gwa-tls.key"
# ASYNC=0: the wan waits for each signature synchronously (the layout before the
# asynchronous handshakes, docs/architecture.md; [wan] async_handshakes).
[ "${ASYNC:-1}" = 0 ] && sed -i 's/^\[wan\]$/[wan]\nasync_handshakes = 0/' "$home/torwart.conf"
"$build/src/cmd/torwartd" --home "$home" signer 2>"$tmp/signer.log" &
signer_pid=$!
trap 'kill -TERM "$signer_pid" 2>/dev/null; [ "${KEEP:-0}" = 1 ] || rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do [ -S "$home/run/signer.sock" ] && break; sleep 0.1; done
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
s0=$(ticks "$signer_pid")
if [ "${PERF:-0}" = 1 ] || [ "${PERF:-0}" = full ]; then
	# The resumed path alone: the wan and the simulator are threads of bench_handshake.
	# DWARF unwinding: libcrypto has no frame pointers (see bench_fleet.sh).
	if [ "$PERF" = full ]; then
		echo "perf: full rounds only, $(uptime | sed 's/.*load/load/')"
		set -- --rounds "$rounds" --full-only 1 --seconds 1
	else
		echo "perf: resumed-only runs, $(uptime | sed 's/.*load/load/')"
		set -- --resume-rounds "${RESUME_ROUNDS:-100}" --resumed-only 1
	fi
	perf record --call-graph dwarf,16384 -F "${PERF_FREQ:-499}" -o "$tmp/perf.data" -- \
		"$build/bench/bench_handshake" --home "$home" --count "$n" --concurrency "$conc" \
		"$@" 2>"$tmp/perf.log"
	# The split by thread: the main thread (its id is the process id) is the simulator
	# (and the raw handshakes before it), the others are the wan's loops. By thread, not
	# by wan_thread_main: the wan's handshakes run on OpenSSL's async job stacks, which
	# perf does not unwind back to the loop.
	echo "---- perf: by thread (self; main thread: simulator + raw; two small ones: raw on two threads; the rest: the wan)"
	{ perf report -i "$tmp/perf.data" --no-children --sort pid --stdio -g none 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -8; } || true
	echo "---- perf: by library (self)"
	{ perf report -i "$tmp/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -16; } || true
	echo "---- perf: by function (self)"
	{ perf report -i "$tmp/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -40; } || true
	echo "---- perf: by function (inclusive, torwart code)"
	{ perf report -i "$tmp/perf.data" --children --sort sym --stdio -g none 2>/dev/null |
		grep -v '^#' | grep -v '^$' | grep -E 'wan_|sim_|store_|db_|audit_|evhttp|tw_log|json' |
		head -40; } || true
	[ -z "${PERF_KEEP:-}" ] || cp "$tmp/perf.data" "$PERF_KEEP"
	exit 0
fi
"$build/bench/bench_handshake" --home "$home" --count "$n" --rounds "$rounds" \
	--concurrency "$conc" --seconds "$secs" --resume-rounds "${RESUME_ROUNDS:-40}" |
	tee "$tmp/bench.out"
s1=$(ticks "$signer_pid")
sleep 1.2   # the signer writes its metrics at most once a second
sigs=$(sed -n 's/^torwart_signer_tls_handshake_signatures_total{result="ok"} \([0-9]*\)$/\1/p' \
	"$home/run/signer.metrics" 2>/dev/null)
ms=$(( (s1 - s0) * 1000 / $(getconf CLK_TCK) ))
echo "signer: ${sigs:-0} handshake signatures, ${ms} ms CPU: $(awk -v m="$ms" -v n="${sigs:-0}" \
	'BEGIN { if (n > 0) printf "%.0f", m * 1000 / n; else printf "-" }') us CPU per signature"
# The same path an operator uses: torwartd wan + torwart-sim (summary line only).
"$build/src/cmd/torwartd" --home "$home" wan 2>"$tmp/wan.log" &
wan_pid=$!
sleep 1
"$build/src/cmd/torwart-sim" --home "$home" --count "$n" --rounds "$rounds" \
	--concurrency "$conc" --resume --quiet || status=$?
kill -TERM "$wan_pid"
wait "$wan_pid" || true
exit "${status:-0}"

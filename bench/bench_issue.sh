#!/usr/bin/env bash
# bench_issue.sh: Sub-CA issuance throughput. Our figure: `torwart ca issue` over N
# initial requests (3 certificates each: parse, verify 3 proofs of possession, match the
# registration, replay check, sign through the signer, store, audit) issued by ONE
# command, `torwart ca issue --request-dir` (its process start, store open and signer
# start with the token login are in the figure, once), measured twice:
#   SoftHSM2   a home made by `torwart init --test-pki` (CA keys in the token, the default)
#   file keys  a second home made by `torwart init --test-pki --signer-backend file`: the
#              signer's ceremony generates the test PKI keys with OpenSSL as PEM files
#              (secrets/keys/<label>.key, 0600) and signs that home's test PKI with them,
#              through exactly the same code path. This is the simplest correct way: the
#              token keys are non-extractable, so they cannot be exported to files, and a
#              home whose every certificate was made by its own file keys needs no
#              re-signing by hand. File keys are for tests and benchmarks only.
# Both homes get the same request files (the replay check is per store).
# Peers in the same run, for the same public keys, with a brainpoolP256r1 CA key file:
#   openssl ca -batch        one invocation per certificate (how it is used per request)
#   openssl ca -batch -infiles  one invocation for all certificates (its best case)
#   openssl x509 -req        one invocation per certificate
# The ceiling, measured in the same run: `openssl speed ecdsabrp256r1` (signatures and
# verifications per second on one core); one verification and one signature per
# certificate over all cores is cores / (1/sign + 1/verify) certificates per second. Our
# CPU per certificate (user + system of the CLI, its verifying threads and its signer,
# from /usr/bin/time) is printed next to 1/sign + 1/verify: unlike the wall figures it
# hardly depends on the machine's load.
# Prints each figure, and our ratio to each peer and to the ceiling.
#
#   bench/bench_issue.sh [BUILD_DIR]     env: N (requests, 200), KEEP=1 (keep the temp dir),
#                                        SPEED_SECS (per openssl speed test, 2)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
n=${N:-200}
T=$build/src/cmd/torwart
tmp=$(mktemp -d "${TMPDIR:-/tmp}/torwart-bench-issue.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT
home=$tmp/home
now() { date +%s.%N; }
rate() { awk -v c="$1" -v s="$2" 'BEGIN { printf "%.1f", c / s }'; }
load() { cut -d' ' -f1 /proc/loadavg; }
load_start=$(load)
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"

# --- the ceiling, this run ---
# Wall clock (-elapsed, as run-all) for the rates; CPU time for the CPU per certificate
# (the same on a quiet machine; on a loaded one the wall rates fall, the CPU costs hardly).
openssl speed -elapsed -seconds "${SPEED_SECS:-2}" ecdsabrp256r1 >"$tmp/speed.log" 2>/dev/null || true
read -r sign_s verify_s < <(awk '/brainpoolP256r1\)/ { print $(NF-1), $NF }' "$tmp/speed.log" | tail -n 1)
openssl speed -seconds "${SPEED_SECS:-2}" ecdsabrp256r1 >"$tmp/speed-cpu.log" 2>/dev/null || true
read -r sign_c verify_c < <(awk '/brainpoolP256r1\)/ { print $(NF-1), $NF }' "$tmp/speed-cpu.log" | tail -n 1)
cores=$(nproc)
ceil=$(awk -v s="${sign_s:-0}" -v v="${verify_s:-0}" -v c="$cores" \
	'BEGIN { printf "%.1f", (s > 0 && v > 0) ? c / (1 / s + 1 / v) : 0 }')
ceil_ms=$(awk -v s="${sign_c:-0}" -v v="${verify_c:-0}" \
	'BEGIN { printf "%.3f", (s > 0 && v > 0) ? 1000 / s + 1000 / v : 0 }')
echo "ceiling: brainpoolP256r1 sign ${sign_s:-?}/s, verify ${verify_s:-?}/s per core" \
	"(openssl speed -elapsed): $ceil certificates/s over $cores cores"
echo "ceiling in CPU time: sign ${sign_c:-?}/s, verify ${verify_c:-?}/s per CPU second" \
	"(openssl speed): ${ceil_ms} ms CPU per certificate"

fhome=$tmp/home-filekeys
"$T" init --home "$home" --test-pki >/dev/null 2>&1
"$T" init --home "$fhome" --test-pki --signer-backend file >/dev/null 2>&1
for h in "$home" "$fhome"; do
	"$T" ca register --home "$h" --name bench --org "Bench GmbH" --role emt \
		--mp-id 9900000000077 --cn BENCH.EMT.TEST >/dev/null 2>&1
done

echo "preparing $n requests ($((3 * n)) keys) ..."
mkdir -p "$tmp/req" "$tmp/keys" "$tmp/csr"
for i in $(seq 1 "$n"); do
	"$T" req initial --cn BENCH.EMT.TEST --ou 9900000000077 --key-dir "$tmp/keys/$i" \
		--out "$tmp/req/$i.der" >/dev/null 2>&1
	for u in tls sig enc; do
		openssl req -new -key "$tmp/keys/$i/$u.key" -subj "/CN=BENCH.EMT.TEST/OU=9900000000077/O=SM-PKI-DE/C=DE" \
			-out "$tmp/csr/$i-$u.csr" 2>/dev/null
	done
done
"$T" req initial --cn BENCH.EMT.TEST --ou 9900000000077 --key-dir "$tmp/keys/solo" \
	--out "$tmp/solo.der" >/dev/null 2>&1
certs=$((3 * n))

# --- ours: ONE command for the whole run (--request-dir), one signer connection ---
# Before the timed run, one more request (solo.der, not part of the N) is issued by a
# command of its own (also the home's first issuance): its time is nearly all fixed
# cost (process start, store open, the signer's start with its key login, the first
# batch's idle signer). Our figure is the one `torwart ca issue --request-dir` over the
# N requests: it includes one process start, store open and signer start (the fixed
# cost, once) and reading the directory. The marginal rate is what the requests add
# beyond that: (3N - 3) certificates over the directory command's time minus the solo
# command's time; the fixed cost is the solo time minus its 3 certificates at that rate.
# run_ours NAME HOME: sets ours_s, ours (certificates/s), marg (marginal certificates/s),
# fixed_s (fixed seconds per command), cpu_ms
run_ours() {
	local t0 t1 ta tb issued solo_s
	: >"$tmp/ours-$1.out"
	: >"$tmp/cpu-$1"
	ta=$(now)
	"$T" ca issue --home "$2" --request "$tmp/solo.der" >>"$tmp/ours-$1.out" 2>&1 ||
		{ cat "$tmp/ours-$1.out"; exit 1; }
	tb=$(now)
	solo_s=$(awk -v a="$ta" -v b="$tb" 'BEGIN { print b - a }')
	t0=$(now)
	/usr/bin/time -a -o "$tmp/cpu-$1" -f "cpu %U %S" \
		"$T" ca issue --home "$2" --timing --request-dir "$tmp/req" >>"$tmp/ours-$1.out" 2>&1 ||
		{ cat "$tmp/ours-$1.out"; exit 1; }
	t1=$(now)
	ours_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
	issued=$(sqlite3 "$2/store.db" "SELECT count(*) FROM certificates WHERE request_id > 0")
	[ "$issued" = "$((certs + 3))" ] ||
		{ echo "expected $((certs + 3)) certificates (solo.der included), store has $issued"; exit 1; }
	ours=$(rate "$certs" "$ours_s")
	cpu_ms=$(awk -v c="$certs" '/^cpu/ { t += $2 + $3 } END { printf "%.3f", t * 1000 / c }' \
		"$tmp/cpu-$1")
	echo "torwart ca issue --request-dir ($1 signer): $n requests, $certs certificates in" \
		"${ours_s}s (one command): $(rate "$n" "$ours_s") requests/s, $ours certificates/s," \
		"$(awk -v a="$ours" -v b="$ceil" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }') of the ceiling"
	echo "  CPU (user+sys, all processes and threads): ${cpu_ms} ms per certificate; the" \
		"ceiling's one sign + one verify: ${ceil_ms} ms ($(awk -v a="$ceil_ms" -v b="$cpu_ms" \
		'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }') of our CPU)"
	if [ "$n" -gt 1 ]; then
		marg=$(awk -v s="$ours_s" -v o="$solo_s" -v c="$certs" \
			'BEGIN { d = s - o; printf "%.1f", (d > 0 ? (c - 3) / d : 0) }')
		fixed_s=$(awk -v o="$solo_s" -v m="$marg" 'BEGIN { printf "%.3f", (m > 0 ? o - 3 / m : o) }')
		echo "  one request alone: ${solo_s}s; marginal rate $marg certificates/s, fixed cost" \
			"${fixed_s}s per command (paid once in the figure above)"
	else
		marg=0 fixed_s=0
		echo "  (N < 2: no marginal rate)"
	fi
	grep '^timing' "$tmp/ours-$1.out" | sed 's/^/  where the time went (sign = waiting for the signer, not overlapped): /' || true
}
run_ours "file-key" "$fhome"
ours_file=$ours marg_file=$marg fixed_file=$fixed_s cpu_file=$cpu_ms
run_ours "SoftHSM2" "$home"
marg_hsm=$marg fixed_hsm=$fixed_s cpu_hsm=$cpu_ms

# --- peer CA: brainpoolP256r1 key file, minimal openssl ca configuration ---
ca=$tmp/osslca
mkdir -p "$ca/new"
openssl ecparam -name brainpoolP256r1 -genkey -noout -out "$ca/ca.key" 2>/dev/null
openssl req -new -x509 -key "$ca/ca.key" -subj "/CN=PEER.CA/O=SM-PKI-DE/C=DE" -days 3650 \
	-out "$ca/ca.crt" 2>/dev/null
cat >"$ca/ca.cnf" <<EOF
[ ca ]
default_ca = peer
[ peer ]
dir = $ca
database = $ca/index.txt
new_certs_dir = $ca/new
certificate = $ca/ca.crt
private_key = $ca/ca.key
serial = $ca/serial
default_md = sha256
default_days = 730
policy = anything
unique_subject = no
x509_extensions = ee
copy_extensions = none
[ anything ]
commonName = supplied
organizationalUnitName = optional
organizationName = optional
countryName = optional
[ ee ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
certificatePolicies = 1.3.6.1.4.1.99999.1
crlDistributionPoints = URI:http://127.0.0.1/crl/peer.crl
EOF
reset_ca() { : >"$ca/index.txt"; openssl rand -hex 16 >"$ca/serial"; rm -f "$ca"/new/*; }

reset_ca
t0=$(now)
for f in "$tmp"/csr/*.csr; do
	openssl ca -batch -config "$ca/ca.cnf" -in "$f" -out /dev/null -notext 2>/dev/null
done
t1=$(now)
peer1_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
peer1=$(rate "$certs" "$peer1_s")
echo "openssl ca -batch (one call per certificate): $certs certificates in ${peer1_s}s: $peer1 certificates/s"

reset_ca
t0=$(now)
openssl ca -batch -config "$ca/ca.cnf" -notext -out /dev/null -infiles "$tmp"/csr/*.csr 2>/dev/null
t1=$(now)
peer2_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
peer2=$(rate "$certs" "$peer2_s")
echo "openssl ca -batch -infiles (one call for all): $certs certificates in ${peer2_s}s: $peer2 certificates/s"

t0=$(now)
for f in "$tmp"/csr/*.csr; do
	openssl x509 -req -in "$f" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -CAcreateserial \
		-days 730 -sha256 -out /dev/null 2>/dev/null
done
t1=$(now)
peer3_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
peer3=$(rate "$certs" "$peer3_s")
echo "openssl x509 -req (one call per certificate): $certs certificates in ${peer3_s}s: $peer3 certificates/s"

echo "ratio torwart (SoftHSM2) / openssl ca (per call): $(awk -v a="$ours" -v b="$peer1" 'BEGIN { printf "%.1f", a / b }')x  (goal >= 20x)"
echo "ratio torwart (file keys) / openssl ca (per call): $(awk -v a="$ours_file" -v b="$peer1" 'BEGIN { printf "%.1f", a / b }')x"
echo "ratio torwart (SoftHSM2) / openssl ca -infiles:   $(awk -v a="$ours" -v b="$peer2" 'BEGIN { printf "%.2f", a / b }')x"
echo "ratio torwart (file keys) / openssl ca -infiles:  $(awk -v a="$ours_file" -v b="$peer2" 'BEGIN { printf "%.2f", a / b }')x"
echo "ratio torwart (SoftHSM2) / openssl x509 -req:     $(awk -v a="$ours" -v b="$peer3" 'BEGIN { printf "%.1f", a / b }')x"
echo "note: torwart's figure includes request parsing and 3 proof-of-possession checks per" \
	"request, store writes and admin-log entries; the peers only sign."
# The closing line is for bench/run-all: key=value, nothing else on it.
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench_issue: certs=$certs softhsm_per_s=$ours file_per_s=$ours_file openssl_ca_per_call_per_s=$peer1 openssl_ca_infiles_per_s=$peer2 openssl_x509_per_s=$peer3 softhsm_marginal_per_s=$marg_hsm softhsm_fixed_s=$fixed_hsm file_marginal_per_s=$marg_file file_fixed_s=$fixed_file sign_per_s=${sign_s:-0} verify_per_s=${verify_s:-0} ceiling_per_s=$ceil ceiling_cpu_ms=$ceil_ms softhsm_cpu_ms=$cpu_hsm file_cpu_ms=$cpu_file load_start=$load_start load_end=$(load)"

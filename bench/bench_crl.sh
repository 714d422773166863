#!/usr/bin/env bash
# bench_crl.sh: time and peak RSS to produce a full CRL with N revoked entries (default
# 1,000,000): `torwart ca crl` (entries streamed from the store into DER, TBSCertList
# streamed to the signer, SoftHSM2 key) next to `openssl ca -gencrl` on an index.txt with
# the same serials, dates and reasons (brainpoolP256r1 key file), in the same run.
# Both CRLs are checked with `openssl crl -verify` and must list N entries.
# Peak RSS of ours is the larger of the torwart process and its signer child (the CLI
# forks a private signer; /usr/bin/time -v reports the maximum over the process tree's
# waited-for children, which includes it).
# Besides the floor of writing the same bytes (dd conv=fsync), two more references from
# the same run bound the phases `ca crl` reports in its info line (read and encoded,
# signed, written and synced): SQLite alone reading the same revoked rows through the
# same index (the sqlite3 shell summing the three columns), and one SHA-256 over the
# CRL's size (at openssl speed's rate; the signer hashes the TBSCertList once, the CLI
# twice more: the signature check and the file's SHA-256).
#
#   bench/bench_crl.sh [BUILD_DIR]     env: N (1000000), KEEP=1
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
n=${N:-1000000}
T=$build/src/cmd/torwart
tmp=$(mktemp -d "${TMPDIR:-/tmp}/torwart-bench-crl.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT
home=$tmp/home
[ -x /usr/bin/time ] || { echo "bench_crl: /usr/bin/time missing (apt-get install time)"; exit 1; }

"$T" init --home "$home" --test-pki >/dev/null 2>&1
issuer=$(sqlite3 "$home/store.db" "SELECT issuer FROM certificates WHERE owner_kind = 'gwa' LIMIT 1")
now=$(date +%s)
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "filling the store with $n revoked certificates ..."
# Serials: 16 random-looking bytes (sequence number + fixed pattern), reasons cycling
# through 1..5 (0 = unspecified carries no extension), revocation dates spread over a year.
sqlite3 "$home/store.db" <<EOF
PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $n)
INSERT INTO certificates (tenant_id, serial_hex, issuer, subject, owner_kind, owner_id, usage,
	not_before, not_after, status, fingerprint, der, revoked_ms, revocation_reason)
SELECT 1, printf('%016x%016x', 0x5a00000000000000 + x, x * 2654435761), '$issuer',
	'CN=BENCH', 'emt', 'bench', 'TLS', $now - 86400, $now + 63072000, 'revoked',
	printf('%064x', x), x'00', ($now - (x % 31536000)) * 1000, (x % 5) + 1 FROM c;
COMMIT;
EOF
# The fill leaves some 600 MB of dirty pages (synchronous = OFF); without a sync the first
# sync of the store file inside `ca crl` (SQLite's checkpoint after its admin-log entry)
# can write them back, and the measured run would pay for the fill.
sync

echo "--- torwart ca crl ---"
/usr/bin/time -v "$T" ca crl --home "$home" >"$tmp/ours.out" 2>"$tmp/ours.time"
grep -v ' info: ' "$tmp/ours.out" || true
phases=$(grep -o 'read and encoded [0-9]* ms, signed [0-9]* ms, written and synced [0-9]* ms; CPU of the store reader [0-9]* ms, of the encoder [0-9]* ms' "$tmp/ours.time" || true)
echo "phases: ${phases:-not reported}"
scan_ms=$(echo "$phases" | awk '{ print $4 }'); sign_ms=$(echo "$phases" | awk '{ print $7 }')
write_ms=$(echo "$phases" | awk '{ print $12 }'); reader_ms=$(echo "$phases" | awk '{ print $19 }')
encoder_ms=$(echo "$phases" | awk '{ print $24 }')
ours_s=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s }' "$tmp/ours.time")
ours_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/ours.time")
openssl crl -inform DER -in "$home/crl/sub-ca.crl" -CAfile "$home/pki/chain.pem" -noout -verify 2>&1 | grep -q 'verify OK' \
	|| { echo "our CRL does not verify"; exit 1; }
got=$(openssl crl -inform DER -in "$home/crl/sub-ca.crl" -noout -text | grep -c 'Serial Number:')
[ "$got" = "$n" ] || { echo "our CRL lists $got entries, expected $n"; exit 1; }
echo "torwart ca crl: $n entries, $(stat -c %s "$home/crl/sub-ca.crl") bytes, ${ours_s}s, peak RSS ${ours_kb} KiB (verified with openssl crl -verify)"

echo "--- openssl ca -gencrl ---"
ca=$tmp/osslca
mkdir -p "$ca"
openssl ecparam -name brainpoolP256r1 -genkey -noout -out "$ca/ca.key" 2>/dev/null
openssl req -new -x509 -key "$ca/ca.key" -subj "/CN=PEER.CA/O=SM-PKI-DE/C=DE" -days 3650 \
	-out "$ca/ca.crt" 2>/dev/null
sqlite3 -separator $'\t' "$home/store.db" \
	"SELECT 'R', substr(strftime('%Y%m%d%H%M%S', not_after, 'unixepoch'), 3) || 'Z',
	        substr(strftime('%Y%m%d%H%M%S', revoked_ms / 1000, 'unixepoch'), 3) || 'Z,' ||
	        CASE revocation_reason WHEN 1 THEN 'keyCompromise' WHEN 2 THEN 'CACompromise'
	          WHEN 3 THEN 'affiliationChanged' WHEN 4 THEN 'superseded'
	          ELSE 'cessationOfOperation' END,
	        upper(serial_hex), 'unknown', '/CN=BENCH'
	 FROM certificates WHERE status = 'revoked' ORDER BY id" >"$ca/index.txt"
echo 01 >"$ca/crlnumber"
cat >"$ca/ca.cnf" <<EOF
[ ca ]
default_ca = peer
[ peer ]
database = $ca/index.txt
certificate = $ca/ca.crt
private_key = $ca/ca.key
crlnumber = $ca/crlnumber
default_md = sha256
default_crl_days = 7
crl_extensions = crl_ext
[ crl_ext ]
authorityKeyIdentifier = keyid
EOF
/usr/bin/time -v openssl ca -config "$ca/ca.cnf" -gencrl -out "$ca/peer.crl" 2>"$tmp/peer.time" >/dev/null
peer_s=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s }' "$tmp/peer.time")
peer_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/peer.time")
got=$(openssl crl -in "$ca/peer.crl" -noout -text | grep -c 'Serial Number:')
[ "$got" = "$n" ] || { echo "openssl's CRL lists $got entries, expected $n"; exit 1; }
echo "openssl ca -gencrl: $n entries, $(openssl crl -in "$ca/peer.crl" -outform DER | wc -c) bytes, ${peer_s}s, peak RSS ${peer_kb} KiB"

awk -v a="$ours_s" -v b="$peer_s" -v c="$ours_kb" -v d="$peer_kb" 'BEGIN {
	printf "time:   torwart / openssl = %.3f (goal < 0.333)\n", a / b
	printf "memory: torwart / openssl = %.3f (goal < 0.25)\n", c / d }'
# The floor under any CRL writer: the same number of DER bytes copied to a new file and
# flushed (dd conv=fsync), measured in this run.
t0=$(date +%s.%N)
dd if="$home/crl/sub-ca.crl" of="$tmp/copy.crl" bs=1M conv=fsync status=none
t1=$(date +%s.%N)
write_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
echo "writing the same $(stat -c %s "$home/crl/sub-ca.crl") bytes (dd conv=fsync): ${write_s}s"
t0=$(date +%s.%N)
sqlite3 "$home/store.db" "SELECT count(*), sum(length(serial_hex)), sum(revoked_ms), sum(revocation_reason)
	FROM (SELECT serial_hex, revoked_ms, revocation_reason FROM certificates
	      WHERE issuer = '$issuer' AND status = 'revoked' ORDER BY id)" >/dev/null
t1=$(date +%s.%N)
scan_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
echo "SQLite alone reading the $n revoked rows (sqlite3 shell, same index): ${scan_s}s"
# openssl speed's rate for 1 MiB blocks (1000s of bytes per second), for the CRL's size.
sha_kbs=$(openssl speed -evp sha256 -bytes 1048576 -seconds 1 2>/dev/null | awk '/^sha256/ { v = $NF } END { sub(/k$/, "", v); print v }')
sha_s=$(awk -v k="$sha_kbs" -v b="$(stat -c %s "$home/crl/sub-ca.crl")" 'BEGIN { printf "%.3f", (k > 0 ? b / (k * 1000) : 0) }')
echo "one SHA-256 over the same bytes (openssl speed -evp sha256: ${sha_kbs} kB/s): ${sha_s}s"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
# The closing line is for bench/run-all: key=value, nothing else on it.
echo "bench_crl: entries=$n bytes=$(stat -c %s "$home/crl/sub-ca.crl") seconds=$ours_s rss_kib=$ours_kb openssl_seconds=$peer_s openssl_rss_kib=$peer_kb write_seconds=$write_s scan_ms=${scan_ms:-} sign_ms=${sign_ms:-} write_ms=${write_ms:-} reader_cpu_ms=${reader_ms:-} encoder_cpu_ms=${encoder_ms:-} sqlite_scan_seconds=$scan_s sha256_seconds=$sha_s"

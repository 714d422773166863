#!/usr/bin/env bash
# bench_dir.sh: LDAP publishing rate to the real slapd (issue 11, Measure): N gateways
# (3 certificates each, default N=100) issued into a fresh test home, slapd started from
# `torwart dir slapd-conf`, then `torwart dir publish` times the drain of every pending
# certificate (one entry per subject, its certificates as userCertificate;binary, one
# store row per certificate). Peer in the same run: `ldapadd` over the same ldapi socket
# loading an LDIF with the same entries and values (slapd's own ingest rate, nothing of
# Torwart), into a second suffix of the same slapd after a wipe of the first.
#
#   bench/bench_dir.sh [BUILD_DIR]     env: N (100), KEEP=1
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
n=${N:-100}
T=$build/src/cmd/torwart
tmp=$(mktemp -d "${TMPDIR:-/tmp}/torwart-bench-dir.XXXXXX")
slapd_pid=
cleanup() { [ -n "$slapd_pid" ] && kill "$slapd_pid" 2>/dev/null; [ "${KEEP:-0}" = 1 ] || rm -rf "$tmp"; }
trap cleanup EXIT
home=$tmp/home
command -v ldapadd >/dev/null && [ -x /usr/sbin/slapd ] || { echo "bench_dir: slapd and ldap-utils needed (scripts/install-deps)"; exit 1; }

"$T" init --home "$home" --test-pki >/dev/null 2>&1
echo "issuing $n gateways (3 certificates each) ..."
for i in $(seq 1 "$n"); do
	"$T" gateway add --home "$home" --id "$(printf 'SMGW-BENCH-%06d' "$i")" >/dev/null 2>&1
done
url=$("$T" dir slapd-conf --home "$home" --out "$tmp/slapd" 2>/dev/null | sed -n 's/.* -h //p')
/usr/sbin/slapd -f "$tmp/slapd/slapd.conf" -h "$url" -d 0 >"$tmp/slapd.log" 2>&1 &
slapd_pid=$!
for _ in $(seq 1 100); do ldapwhoami -Y EXTERNAL -H "$url" >/dev/null 2>&1 && break; sleep 0.1; done
pending=$("$T" dir status --home "$home" 2>/dev/null | sed -n 's/^pending //p')

start=$(date +%s.%N)
"$T" dir publish --home "$home" >"$tmp/publish.out" 2>/dev/null
end=$(date +%s.%N)
ours=$(echo "$end - $start" | bc -l)
published=$(sed -n 's/^published \([0-9]*\) certificates.*/\1/p' "$tmp/publish.out")

# The same entries as LDIF, added by ldapadd as the rootdn (below a second CA entry).
ldapsearch -LLL -o ldif-wrap=no -Y EXTERNAL -H "$url" -b "o=SM-PKI-DE,c=DE" \
	"(objectClass=inetOrgPerson)" objectClass cn sn ou description 'userCertificate;binary' 2>/dev/null |
	sed 's/,cn=TORWART-TEST\.CA,o=SM-PKI-DE,c=DE$/,cn=PEER.CA,o=SM-PKI-DE,c=DE/' >"$tmp/peer.ldif"
entries=$(grep -c '^dn:' "$tmp/peer.ldif")
printf 'dn: cn=PEER.CA,o=SM-PKI-DE,c=DE\nobjectClass: applicationProcess\ncn: PEER.CA\n\n' >"$tmp/peer-ca.ldif"
ldapadd -Y EXTERNAL -H "$url" -f "$tmp/peer-ca.ldif" >/dev/null 2>&1
start=$(date +%s.%N)
ldapadd -Y EXTERNAL -H "$url" -f "$tmp/peer.ldif" >/dev/null 2>&1
end=$(date +%s.%N)
peer=$(echo "$end - $start" | bc -l)

printf 'pending before: %s certificates in %s entries\n' "$pending" "$entries"
printf 'torwart dir publish: %s certificates in %.3f s = %.0f certificates/s (incl. process start, store reads and marks)\n' \
	"$published" "$ours" "$(echo "$published / $ours" | bc -l)"
printf 'ldapadd (peer, same entries, no store): %s entries in %.3f s = %.0f certificates/s\n' \
	"$entries" "$peer" "$(echo "$entries * 3 / $peer" | bc -l)"
printf 'ratio ours/peer (certificates/s): %.2f\n' "$(echo "($published / $ours) / ($entries * 3 / $peer)" | bc -l)"

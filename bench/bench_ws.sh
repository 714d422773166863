#!/usr/bin/env bash
# bench_ws.sh: the SM-PKI web service (TR-03129-4) under 32 concurrent SOAP clients.
# Our figures, all in one run on one home (SQLite store, SoftHSM2 signer, brainpool TLS
# 1.2 with client certificates, a new TLS connection per call as participants make them):
#   ws GetServiceStatus     calls/s: TLS handshake + HTTP + libxml2 parse, schema
#                           validation, answer, one admin-log entry each
#   ws RequestCertificate   requests/s (3 certificates each): the above plus the CA engine
#                           (parse/verify, one signer round trip, one store transaction)
# Peers in the same run:
#   openssl s_server -www   (nginx is not installed; Debian's openssl serves a static
#                           answer) with the same certificate, key, groups, TLS 1.2 and
#                           client certificate verification: the TLS + HTTP floor
#   torwart ca issue        the same number of other requests, in batches, no web service:
#                           the issuance floor
# Printed: each figure and the ratios ws/s_server (status) and ws/ca issue (requests).
# The client (Python threads, http.client/ssl, brainpool groups through OPENSSL_CONF) is
# the same for Torwart and s_server; a figure is client-bound when near the client's own
# ceiling, which the s_server line shows.
#
#   bench/bench_ws.sh [BUILD_DIR]   env: CLIENTS (32), N (requests, 256), CALLS (status
#                                   calls, 640), KEEP=1
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
clients=${CLIENTS:-32}
n=${N:-256}
calls=${CALLS:-640}
T=$build/src/cmd/torwart
D=$build/src/cmd/torwartd
WSDL=${WSDL:-$src/../shared/reference/sm-pki/WSDL_TR-03129-4_v1.3.1_Smartmeter.wsdl}
[ -f "$WSDL" ] || { echo "bench_ws: the BSI WSDL ($WSDL) is needed"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/torwart-bench-ws.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ "${KEEP:-0}" = 1 ] || rm -rf "$tmp"
}
trap cleanup EXIT
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
rate() { awk -v c="$1" -v s="$2" 'BEGIN { printf "%.1f", c / s }'; }
H=$tmp/home
WS=$(port); SS=$(port)
"$T" init --home "$H" --test-pki --wan-listen "127.0.0.1:$(port)" --api-listen "127.0.0.1:$(port)" \
	--api-tls-listen "127.0.0.1:$(port)" >/dev/null 2>&1
"$T" ca register --home "$H" --name emt-b --org B --role emt --mp-id 9900000000031 --cn B.EMT.BENCH >/dev/null 2>&1
"$T" req initial --cn B.EMT.BENCH --ou 9900000000031 --role EMT --key-dir "$tmp/k0" --format der \
	--out "$tmp/first.req" >/dev/null 2>&1
"$T" ca issue --home "$H" --request "$tmp/first.req" --participant emt-b >/dev/null 2>&1
"$T" ca export "$(sqlite3 "$H/store.db" "SELECT serial_hex FROM certificates WHERE owner_id='emt-b' AND usage='TLS'")" \
	--home "$H" --out "$tmp/client.crt" >/dev/null 2>&1
echo "bench_ws: making $((2 * n)) requests with torwart req ..." >&2
mkdir -p "$tmp/ws" "$tmp/cli"
for i in $(seq "$n"); do
	"$T" req initial --cn B.EMT.BENCH --ou 9900000000031 --role EMT --key-dir "$tmp/kw$i" \
		--format der --out "$tmp/ws/$i.req" >/dev/null 2>&1
	"$T" req initial --cn B.EMT.BENCH --ou 9900000000031 --role EMT --key-dir "$tmp/kc$i" \
		--format der --out "$tmp/cli/$i.req" >/dev/null 2>&1
done
printf '\n[ws]\nlisten = 127.0.0.1:%s\nwsdl = %s\nmax_connections_per_source = 256\n' "$WS" "$WSDL" >>"$H/torwart.conf"
"$D" --home "$H" all >"$tmp/torwartd.log" 2>&1 &
pids+=("$!")
openssl s_server -quiet -accept "127.0.0.1:$SS" -www -cert "$H/pki/gwa-tls.crt" -key "$H/secrets/tls-keys/gwa-tls.key" \
	-cert_chain "$H/pki/sub-ca.crt" -CAfile "$H/pki/chain.pem" -Verify 3 -tls1_2 \
	-groups brainpoolP256r1:P-256 -naccept 1000000 >/dev/null 2>&1 &
pids+=("$!")
for _ in $(seq 100); do
	ss -ltn "sport = :$WS" | grep -q LISTEN && ss -ltn "sport = :$SS" | grep -q LISTEN && break
	sleep 0.1
done
cat >"$tmp/openssl.cnf" <<'CNF'
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = tls_sect
[tls_sect]
Groups = brainpoolP256r1:P-256:brainpoolP384r1:P-384:brainpoolP512r1
MinProtocol = TLSv1.2
MaxProtocol = TLSv1.2
CNF
cat >"$tmp/load.py" <<'PY'
# CLIENTS threads; each takes jobs from a shared list; one new TLS connection per call.
import base64, http.client, ssl, sys, threading, time
mode, port, chain, cert, key, clients = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
jobs = sys.argv[7:] if mode == "request" else [None] * int(sys.argv[7])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(chain)
ctx.load_cert_chain(cert, key)
ctx.check_hostname = False
ENV = ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
       'xmlns:t="uri://bsi.bund.de/Smart-Meter-PKI-Protocol/1.3"><s:Body>%s</s:Body></s:Envelope>')
lock = threading.Lock()
ok = [0]; bad = [0]; idx = [0]
def one(job):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=120)
    if mode == "sserver":
        c.request("GET", "/")
        r = c.getresponse(); r.read(); c.close()
        return r.status == 200
    if mode == "status":
        body = ENV % '<t:GetServiceStatus_Req><t:messageID>b</t:messageID></t:GetServiceStatus_Req>'
        want = b">ok_received_correctly<"
    else:
        der = open(job, "rb").read()
        body = ENV % ('<t:RequestCertificate_Req><t:callbackIndicator>callback_not_possible'
                      '</t:callbackIndicator><t:certReq>%s</t:certReq></t:RequestCertificate_Req>'
                      % base64.b64encode(der).decode())
        want = b">ok_cert_available<"
    c.request("POST", "/", body=body.encode(), headers={"Content-Type": "text/xml; charset=utf-8"})
    r = c.getresponse(); data = r.read(); c.close()
    return r.status == 200 and want in data
def worker():
    while True:
        with lock:
            if idx[0] >= len(jobs): return
            job = jobs[idx[0]]; idx[0] += 1
        try: good = one(job)
        except Exception: good = False
        with lock:
            if good: ok[0] += 1
            else: bad[0] += 1
t0 = time.monotonic()
ts = [threading.Thread(target=worker) for _ in range(clients)]
for t in ts: t.start()
for t in ts: t.join()
print("%d %d %.3f" % (ok[0], bad[0], time.monotonic() - t0))
PY
load() { OPENSSL_CONF="$tmp/openssl.cnf" /usr/bin/python3 "$tmp/load.py" "$@"; }
C=("$H/pki/chain.pem" "$tmp/client.crt" "$tmp/k0/tls.key" "$clients")
# ca issue first, on an idle signer; then the loads.
issued() { sqlite3 "$H/store.db" "SELECT count(*) FROM ca_requests WHERE state='issued'"; }
before=$(issued)
t0=$(now)
# A command takes at most 128 arguments: batches of 60 requests per invocation.
ls "$tmp"/cli/*.req | xargs -n 60 sh -c 'for f; do printf -- "--request\n%s\n" "$f"; done' _ |
	xargs -d '\n' -n 120 "$T" ca issue --home "$H" --participant emt-b >"$tmp/ca-issue.out" 2>&1 || true
t1=$(now)
ci_ok=$(( $(issued) - before ))
[ "$ci_ok" -gt 0 ] || { echo "bench_ws: torwart ca issue failed:" >&2; grep -v ALERT "$tmp/ca-issue.out" | tail -3 >&2; }
read -r s_ok s_bad s_t < <(load sserver "$SS" "${C[@]}" "$calls")
read -r st_ok st_bad st_t < <(load status "$WS" "${C[@]}" "$calls")
read -r rq_ok rq_bad rq_t < <(load request "$WS" "${C[@]}" "$tmp"/ws/*.req)

ci_t=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')
s_r=$(rate "$s_ok" "$s_t"); st_r=$(rate "$st_ok" "$st_t"); rq_r=$(rate "$rq_ok" "$rq_t"); ci_r=$(rate "$ci_ok" "$ci_t")
echo "bench_ws: $clients concurrent clients, new brainpool TLS 1.2 connection per call, $(nproc) cores"
printf '  openssl s_server -www  GET /               %6s calls/s    (%s ok, %s failed, %ss)\n' "$s_r" "$s_ok" "$s_bad" "$s_t"
printf '  torwart ws             GetServiceStatus    %6s calls/s    (%s ok, %s failed, %ss)\n' "$st_r" "$st_ok" "$st_bad" "$st_t"
printf '  torwart ws             RequestCertificate  %6s requests/s (%s ok, %s failed, %ss; 3 certificates each)\n' "$rq_r" "$rq_ok" "$rq_bad" "$rq_t"
printf '  torwart ca issue       same kind, no ws    %6s requests/s (%s ok, %.3fs)\n' "$ci_r" "$ci_ok" "$ci_t"
printf '  ratio ws status / s_server: %s   ratio ws RequestCertificate / ca issue: %s\n' \
	"$(awk -v a="$st_r" -v b="$s_r" 'BEGIN{printf "%.2f", a/b}')" "$(awk -v a="$rq_r" -v b="$ci_r" 'BEGIN{printf "%.2f", a/b}')"

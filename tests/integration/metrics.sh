#!/usr/bin/env bash
# metrics.sh: issue 15 section 3. Prometheus metrics at /metrics of wan, api and worker
# (loopback listeners, [metrics] <service>_listen), checked with promtool check metrics;
# the counters move with what happens: full and resumed handshakes, refusals by reason,
# session latency, jobs by state, CRL age, admin-log size and verified head, the alert
# queue, the signer's operations; a non-loopback metrics address is refused.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-it-metrics-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT
API_PORT=$(free_port); WAN_PORT=$(free_port)
MW=$(free_port); MA=$(free_port); MK=$(free_port)
WAN="127.0.0.1:$WAN_PORT"
if ! command -v promtool >/dev/null; then
	echo "SKIP: promtool (Debian prometheus) is not installed; scripts/install-deps installs it"
	exit 77
fi
# scrape NAME PORT: the service's /metrics into $T/NAME.prom
scrape() { curl -fsS "http://127.0.0.1:$2/metrics" -o "$T/$1.prom"; }
# value FILE SERIES: the value of one series (exact name with labels)
value() { awk -v s="$2" '$1 == s { print $2 }' "$1"; }

check "init --test-pki" "$TORWART" init --home "$H" --test-pki --wan-listen "$WAN" \
	--api-listen "127.0.0.1:$API_PORT" --api-tls-listen "127.0.0.1:$(free_port)"
cat >>"$H/torwart.conf" <<CONF

[metrics]
wan_listen = 127.0.0.1:$MW
api_listen = 127.0.0.1:$MA
worker_listen = 127.0.0.1:$MK

[audit]
head_interval = 1
CONF
sed -i 's/^audit_verify_interval = .*/audit_verify_interval = 1/' "$H/torwart.conf"

# A metrics address outside the host is refused before anything listens.
cp -r "$H" "$T/h2"
sed -i "s/^wan_listen = .*/wan_listen = 0.0.0.0:$(free_port)/" "$T/h2/torwart.conf"
check_fails "wan refuses a non-loopback [metrics] wan_listen" timeout 20 "$TORWARTD" --home "$T/h2" wan
check "... naming the key and why" bash -c "timeout 20 '$TORWARTD' --home '$T/h2' wan 2>&1 | grep -q 'loopback address only'"
rm -rf "$T/h2"

"$TORWARTD" --home "$H" all >>"$T/torwartd.log" 2>&1 &
pids_to_kill+=("$!")
check "wan listens" wait_port 127.0.0.1 "$WAN_PORT" 20
for p in $MW $MA $MK; do check "metrics listener on $p" wait_port 127.0.0.1 "$p" 20; done
check "metrics listen on loopback only" bash -c "ss -ltn | grep -E ':($MW|$MA|$MK) ' | grep -v '127.0.0.1' | wc -l | grep -qx 0"

check "gateway add" "$TORWART" gateway add --home "$H" --id SMGW-MET-0001
check "a simulated gateway opens sessions (full, then resumed)" \
	"$SIM" --gwa "$WAN" --rounds 2 --resume --gateways "$H/gateways/SMGW-MET-0001"
# A client without a certificate: a refusal by reason "handshake" (or "unknown_peer").
openssl s_client -connect "$WAN" -brief </dev/null >>"$T/log" 2>&1
check "job create" "$TORWART" job create --home "$H" --type ping --gateway SMGW-MET-0001
check "the worker wrote a CRL" bash -c "for i in \$(seq 100); do [ \"\$(sqlite3 '$H/store.db' 'select count(*) from ca_crls')\" -gt 0 ] && exit 0; sleep 0.2; done; exit 1"

sleep 2   # the signer writes its file at most once a second; the verifier runs every 1 s
for s in wan:$MW api:$MA worker:$MK; do
	n=${s%%:*}; p=${s##*:}
	check "GET /metrics of $n" scrape "$n" "$p"
	check "promtool check metrics accepts the $n metrics" bash -c "promtool check metrics < '$T/$n.prom'"
	check "$n says it is up" test "$(value "$T/$n.prom" "torwart_up{service=\"$n\"}")" = 1
done
W="$T/wan.prom"; K="$T/worker.prom"
check "wan counted connections" test "$(value "$W" torwart_wan_connections_total)" -ge 3
check "wan counted a full handshake" test "$(value "$W" 'torwart_wan_handshakes_total{kind="full"}')" -ge 1
check "wan counted a resumed handshake" test "$(value "$W" 'torwart_wan_handshakes_total{kind="resumed"}')" -ge 1
check "wan counted the refused client by reason" bash -c \
	"awk '/^torwart_wan_refusals_total/ { s += \$2 } END { exit !(s >= 1) }' '$W'"
check "wan has the session latency histogram" test "$(value "$W" torwart_wan_session_seconds_count)" -ge 2
check "worker counts jobs by state" bash -c "grep -q '^torwart_jobs{state=\"' '$K'"
check "... and the new ping is one of them" bash -c \
	"awk '/^torwart_jobs\\{/ { s += \$2 } END { exit !(s >= 1) }' '$K'"
check "worker reports the Sub-CA CRL age" bash -c "grep -q '^torwart_crl_age_seconds{ca=\"sub-ca\"}' '$K'"
check "worker reports the admin-log size" test "$(value "$K" torwart_admin_log_entries)" -gt 10
check "worker reports the alert queue" bash -c "grep -q '^torwart_alerts_queued ' '$K'"
check "worker reports the verified head's age" bash -c \
	"for i in \$(seq 30); do curl -fsS http://127.0.0.1:$MK/metrics | grep -q '^torwart_admin_log_verified_head_age_seconds ' && exit 0; sleep 0.5; done; exit 1"
check "worker includes the signer's operations" bash -c \
	"awk '/^torwart_signer_operations_total\\{op=\"sign-certificate\"\\}/ { exit !(\$2 >= 1) } END { }' '$K' && grep -q '^torwart_signer_metrics_available 1' '$K'"
check "signer latency histogram" bash -c "grep -q '^torwart_signer_operation_seconds_count' '$K'"
check "no secret-looking text in any metrics" bash -c "! grep -iE 'pin|password|token|PRIVATE' '$T'/*.prom"
check "POST /metrics is refused" bash -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:$MK/metrics)\" = 405"
check "other paths are 404" bash -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$MK/secret)\" = 404"

#!/usr/bin/env bash
# store_migrate.sh: `torwart store migrate --to postgresql://...` moves a SQLite home
# (all tables, the admin log with its chain, tree nodes and signed heads) into a real
# PostgreSQL server and verifies it there; a non-empty target is refused; the home then
# runs on PostgreSQL (new ids continue after the copied ones). psql and sqlite3 check the
# row counts independently of the code under test.
. "$(dirname "$0")/lib.sh"
if [ "${TORWART_TEST_STORE:-sqlite}" = pg ]; then echo "SKIP: copies from SQLite"; exit 77; fi
if ! pg_available; then
	echo "SKIP: PostgreSQL server binaries not found in $PG_BIN (apt-get install postgresql)"
	exit 77
fi
T=$(mktemp -d /tmp/torwart-migrate-XXXXXX)
H="$T/home"
trap 'finish; exit $?' EXIT
check "PostgreSQL starts (initdb + pg_ctl as nobody)" pg_start
URL=$(pg_newdb)
URL2=$(pg_newdb)
WAN_PORT=$(free_port); API_PORT=$(free_port); TLS_PORT=$(free_port)

check "init a SQLite home" "$TORWART" init --home "$H" --test-pki --signer-backend file \
	--wan-listen "127.0.0.1:$WAN_PORT" --api-listen "127.0.0.1:$API_PORT" \
	--api-tls-listen "127.0.0.1:$TLS_PORT"
for i in 1 2 3; do
	check "gateway add GW-$i" "$TORWART" gateway add --home "$H" --id "GW-$i"
done
check "a job for GW-1" "$TORWART" job create --home "$H" --gateway GW-1 --type ping --payload '{}'
# A signed tree head, copied and checked on the target.
check "audit head signs a tree head" "$TORWART" audit head --home "$H"

tables="tenants gateways certificates admin_log jobs job_batches admin_log_head admin_log_node operators ca_key_state"
out=$("$TORWART" store migrate --home "$H" --to "$URL" 2>&1); rc=$?
echo "$out" >>"$T/log"
if [ $rc -eq 0 ] && echo "$out" | grep -q "row counts equal; admin log verified on the target"; then
	ok "store migrate copies and verifies"; else bad "store migrate (rc=$rc): $out"; fi
for t in $tables; do
	a=$(sqlite3 "$H/store.db" "SELECT count(*) FROM $t"); b=$(psql -X -At "$URL" -c "SELECT count(*) FROM $t")
	if [ "$a" = "$b" ]; then ok "$t: $a rows on both"; else bad "$t: $a rows in SQLite, $b in PostgreSQL"; fi
done
check "the admin log's hashes are the same bytes" test \
	"$(sqlite3 "$H/store.db" "SELECT lower(hex(hash)) FROM admin_log ORDER BY seq DESC LIMIT 1")" = \
	"$(psql -X -At "$URL" -c "SELECT encode(hash, 'hex') FROM admin_log ORDER BY seq DESC LIMIT 1")"
check_fails "a second migrate into the same (now non-empty) database is refused" \
	"$TORWART" store migrate --home "$H" --to "$URL"
check "... saying why" bash -c "'$TORWART' store migrate --home '$H' --to '$URL' 2>&1 | grep -q 'is not empty'"
check "an unreachable database is a clear error" bash -c \
	"'$TORWART' store migrate --home '$H' --to 'postgresql://torwart@127.0.0.1:1/x?connect_timeout=5' 2>&1 | grep -q 'cannot connect to the database'"

# The home now runs on PostgreSQL.
sed -i "s|^url = .*|url = $URL|" "$H/torwart.conf"
check "gateway add on PostgreSQL (ids continue after the copied rows)" \
	"$TORWART" gateway add --home "$H" --id GW-4
check "GW-4 got the next id" test "$(psql -X -At "$URL" -c "SELECT id FROM gateways WHERE gateway_id = 'GW-4'")" = 4
check "audit verify on the PostgreSQL store" "$TORWART" audit verify --home "$H"
check "gateway list shows all four" bash -c "'$TORWART' gateway list --home '$H' | grep -q '^4 gateways'"
# And back: PostgreSQL -> a second, empty PostgreSQL database.
check "store migrate PostgreSQL -> PostgreSQL" bash -c \
	"'$TORWART' store migrate --home '$H' --to '$URL2' 2>'$T/migrate.err'"
# Its progress, redirected to a file: plain lines, no control character.
check "... progress on stderr as plain lines" grep -q '^store migrate: [0-9]* rows copied in [0-9]* tables' "$T/migrate.err"
check "... with no control character when not a terminal" bash -c "! LC_ALL=C grep -q \$'[\\x01-\\x09\\x0b-\\x1f\\x7f]' '$T/migrate.err'"
if command -v script >/dev/null; then
	URL3=$(pg_newdb)
	script -qec "'$TORWART' store migrate --home '$H' --to '$URL3'" /dev/null >"$T/migrate.tty" 2>&1
	check "... on a terminal rewritten in place (CR + erase)" \
		bash -c "LC_ALL=C grep -q \$'\\r\\033\\[Kstore migrate: table 1/' '$T/migrate.tty'"
fi

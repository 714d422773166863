#!/usr/bin/env bash
# bench_store.sh: the store's write paths on SQLite and on PostgreSQL in the same run
# (issue 10 section 4): admin-log appends per second and job hand-outs per second, each
# one transaction, driven through the product code (bench_store), next to peers measured
# in the same run on the same backend with the same durability settings:
#  - append peer:  a raw INSERT of a row of the admin log's shape, one per transaction
#                  (sqlite3 shell / pgbench -f), no hashing, no tree;
#  - hand-out peer: claim the oldest "created" row with an UPDATE and insert one log row,
#                  one transaction each (PostgreSQL: FOR UPDATE SKIP LOCKED);
#  - PostgreSQL also: pgbench's built-in TPC-B-like transaction, one client.
# Also: order creation with N rows in one transaction (no fsync per row: it shows the
# statements' round trips, e.g. reading a new row's id).
# And, with strace installed, the PostgreSQL round trips per operation (the client's
# sendto calls per append, hand-out and order creation, N=200): a figure the machine's
# load does not change.
# Durability as in production: SQLite WAL + synchronous=FULL, PostgreSQL defaults
# (fsync on, synchronous_commit on). The PostgreSQL server is a throw-away one (initdb in a
# temporary directory, run as nobody when started as root), torn down afterwards.
#
#   bench/bench_store.sh [BUILD_DIR]      env: N (operations per figure, 2000),
#                                          PG_BIN (/usr/lib/postgresql/15/bin)
# The last line is machine-readable: "bench_store: key=value ...".
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
n=${N:-2000}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
B="$build/bench/bench_store"
[ -x "$B" ] || { echo "bench_store: $B not built (ninja -C $build bench/bench_store)" >&2; exit 2; }
for p in initdb pg_ctl pgbench createdb; do
	[ -x "$PG_BIN/$p" ] || { echo "bench_store: $PG_BIN/$p missing (apt-get install postgresql)" >&2; exit 2; }
done
command -v sqlite3 >/dev/null || { echo "bench_store: sqlite3 shell missing" >&2; exit 2; }
tmp=$(mktemp -d /tmp/torwart-bench-store-XXXXXX); chmod 0711 "$tmp"   # the server user must reach pg/
as() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
pgdir="$tmp/pg"; mkdir "$pgdir"; chmod 0700 "$pgdir"
[ "$(id -u)" = 0 ] && chown nobody "$pgdir"
cleanup() {
	as "$PG_BIN/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
port=$(/usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
as "$PG_BIN/initdb" -D "$pgdir/data" -U torwart --auth=trust -E UTF8 >"$pgdir/initdb.log" 2>&1 ||
	{ echo "bench_store: initdb failed:" >&2; cat "$pgdir/initdb.log" >&2; exit 1; }
as "$PG_BIN/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 120 \
	-o "-p $port -k $pgdir -c listen_addresses=127.0.0.1" start >/dev/null
pgurl() { echo "postgresql://torwart@127.0.0.1:$port/$1"; }
for db in ours peer tpcb; do "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U torwart "$db"; done
now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", n / (b - a) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
fig() { sed -n 's/.*'"$1"'=\([0-9.]*\).*/\1/p' "$2"; }

echo "bench_store: N=$n operations per figure, $(nproc) cores, $(uptime | sed 's/.*load/load/')"
# ---- ours
"$B" --url "$tmp/store.db" --n "$n" >"$tmp/ours.sqlite"
"$B" --url "$(pgurl ours)" --n "$n" >"$tmp/ours.pg"
sq_app=$(fig append_per_s "$tmp/ours.sqlite"); sq_ho=$(fig handout_per_s "$tmp/ours.sqlite")
pg_app=$(fig append_per_s "$tmp/ours.pg"); pg_ho=$(fig handout_per_s "$tmp/ours.pg")
sq_cr=$(fig create_per_s "$tmp/ours.sqlite"); pg_cr=$(fig create_per_s "$tmp/ours.pg")

# ---- peers on SQLite (sqlite3 shell, one transaction per statement group)
cols="time, actor, role, client, action, object, result, detail, prev_hash, hash"
row="'2026-12-07T00:00:00.000Z', 'gateway:ETWA0012345678', 'smgw', '192.0.2.17:51234', 'wan.session.open', 'ETWA0012345678', 'ok', 'bench entry', zeroblob(32), zeroblob(32)"
pgrow="'2026-12-07T00:00:00.000Z', 'gateway:ETWA0012345678', 'smgw', '192.0.2.17:51234', 'wan.session.open', 'ETWA0012345678', 'ok', 'bench entry', '\\x$(printf '%064d' 0)'::bytea, '\\x$(printf '%064d' 0)'::bytea"
schema="CREATE TABLE plain (seq INTEGER PRIMARY KEY, time TEXT, actor TEXT, role TEXT, client TEXT, action TEXT, object TEXT, result TEXT, detail TEXT, prev_hash BLOB, hash BLOB);
CREATE TABLE pjobs (id INTEGER PRIMARY KEY, state TEXT NOT NULL);
CREATE INDEX pjobs_open ON pjobs(id) WHERE state = 'created';"
{
	echo "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"; echo "$schema"
	echo "BEGIN; WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $n) INSERT INTO pjobs SELECT i, 'created' FROM c; COMMIT;"
} | sqlite3 "$tmp/peer.db" >/dev/null
rep() { awk -v n="$n" -v s="$1" 'BEGIN { for (i = 0; i < n; i++) print s }'; }
rep "INSERT INTO plain ($cols) VALUES ($row);" >"$tmp/app.sql"
rep "BEGIN IMMEDIATE; UPDATE pjobs SET state = 'sent' WHERE id = (SELECT min(id) FROM pjobs WHERE state = 'created'); INSERT INTO plain ($cols) VALUES ($row); COMMIT;" >"$tmp/ho.sql"
t0=$(now); sqlite3 -cmd 'PRAGMA synchronous=FULL' "$tmp/peer.db" <"$tmp/app.sql" >/dev/null; t1=$(now)
sqp_app=$(rate "$n" "$t0" "$t1")
t0=$(now); sqlite3 -cmd 'PRAGMA synchronous=FULL' "$tmp/peer.db" <"$tmp/ho.sql" >/dev/null; t1=$(now)
sqp_ho=$(rate "$n" "$t0" "$t1")
[ "$(sqlite3 "$tmp/peer.db" "SELECT count(*) FROM pjobs WHERE state = 'sent'")" = "$n" ] ||
	{ echo "bench_store: sqlite hand-out peer did not claim every row" >&2; exit 1; }

# ---- peers on PostgreSQL (pgbench, one client, one transaction per script run)
psql -X -q -v ON_ERROR_STOP=1 "$(pgurl peer)" -c "
CREATE TABLE plain (seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, time TEXT, actor TEXT, role TEXT, client TEXT, action TEXT, object TEXT, result TEXT, detail TEXT, prev_hash BYTEA, hash BYTEA);
CREATE TABLE pjobs (id BIGINT PRIMARY KEY, state TEXT NOT NULL);
CREATE INDEX pjobs_open ON pjobs(id) WHERE state = 'created';
INSERT INTO pjobs SELECT i, 'created' FROM generate_series(1, $n) i;"
echo "INSERT INTO plain ($cols) VALUES ($pgrow);" >"$tmp/app.pgb"
printf '%s\n' "BEGIN;" \
	"UPDATE pjobs SET state = 'sent' WHERE id = (SELECT id FROM pjobs WHERE state = 'created' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED);" \
	"INSERT INTO plain ($cols) VALUES ($pgrow);" "END;" >"$tmp/ho.pgb"
pgb() { "$PG_BIN/pgbench" -h 127.0.0.1 -p "$port" -U torwart -n -c 1 "$@" 2>&1 |
	sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n 1 | awk '{ printf "%.1f", $1 }'; }
pgp_app=$(pgb -t "$n" -f "$tmp/app.pgb" peer)
pgp_ho=$(pgb -t "$n" -f "$tmp/ho.pgb" peer)
[ "$(psql -X -At "$(pgurl peer)" -c "SELECT count(*) FROM pjobs WHERE state = 'sent'")" = "$n" ] ||
	{ echo "bench_store: pg hand-out peer did not claim every row" >&2; exit 1; }
"$PG_BIN/pgbench" -h 127.0.0.1 -p "$port" -U torwart -i -q -s 1 tpcb >/dev/null 2>&1
pg_tpcb=$(pgb -t "$n" tpcb)

# ---- round trips per operation on PostgreSQL (load-independent): the client's sendto
# calls between bench_store's phase marks, N=200, when strace is installed.
rt_app=-; rt_cr=-; rt_ho=-
if command -v strace >/dev/null; then
	"$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U torwart rt
	BENCH_STORE_MARKS=1 strace -f -qq -e trace=sendto,write -o "$tmp/rt.trace" \
		"$B" --url "$(pgurl rt)" --n 200 >/dev/null 2>&1
	read -r rt_app rt_cr rt_ho < <(awk '
		/write\(2, "bench_store: phase / { split($0, a, "phase "); p = substr(a[2], 1, index(a[2], "\\") - 1); next }
		/sendto\(/ { if (p != "") c[p]++ }
		END { printf "%.2f %.2f %.2f\n", c["append"] / 200, c["create"] / 200, c["handout"] / 200 }' "$tmp/rt.trace")
fi

printf '\n%-26s %12s %12s %14s\n' "per second (1 tx each)" SQLite PostgreSQL "pg / sqlite"
printf '%-26s %12s %12s %14s\n' "admin-log append (ours)" "$sq_app" "$pg_app" "$(ratio "$pg_app" "$sq_app")"
printf '%-26s %12s %12s %14s\n' "raw INSERT (peer)" "$sqp_app" "$pgp_app" "$(ratio "$pgp_app" "$sqp_app")"
printf '%-26s %12s %12s %14s\n' "ours / peer" "$(ratio "$sq_app" "$sqp_app")" "$(ratio "$pg_app" "$pgp_app")" ""
printf '%-26s %12s %12s %14s\n' "job hand-out (ours)" "$sq_ho" "$pg_ho" "$(ratio "$pg_ho" "$sq_ho")"
printf '%-26s %12s %12s %14s\n' "claim+log row (peer)" "$sqp_ho" "$pgp_ho" "$(ratio "$pgp_ho" "$sqp_ho")"
printf '%-26s %12s %12s %14s\n' "ours / peer" "$(ratio "$sq_ho" "$sqp_ho")" "$(ratio "$pg_ho" "$pgp_ho")" ""
printf '%-26s %12s %12s %14s\n' "order create (1 tx for N)" "$sq_cr" "$pg_cr" "$(ratio "$pg_cr" "$sq_cr")"
printf '%-26s %12s %12s\n' "pgbench TPC-B-like" "-" "$pg_tpcb"
printf '%-26s %12s %12s\n' "round trips: append" "-" "$rt_app"
printf '%-26s %12s %12s\n' "round trips: hand-out" "-" "$rt_ho"
printf '%-26s %12s %12s\n' "round trips: order create" "-" "$rt_cr"
echo "note: ours = chain hash + Merkle tree nodes + insert (append); one-statement claim" \
	"(UPDATE ... RETURNING) + job.sent entry with its chain and tree work (hand-out), one" \
	"transaction each; order create = gateway row + job row with its new id + job.create" \
	"entry, all N in one transaction (statement round trips, no fsync per row)."
echo "bench_store: n=$n sqlite_append_per_s=$sq_app pg_append_per_s=$pg_app" \
	"sqlite_handout_per_s=$sq_ho pg_handout_per_s=$pg_ho peer_sqlite_insert_per_s=$sqp_app" \
	"peer_pg_insert_per_s=$pgp_app peer_sqlite_claim_per_s=$sqp_ho peer_pg_claim_per_s=$pgp_ho" \
	"pgbench_tpcb_per_s=$pg_tpcb sqlite_create_per_s=$sq_cr pg_create_per_s=$pg_cr" \
	"pg_round_trips_append=$rt_app pg_round_trips_handout=$rt_ho pg_round_trips_create=$rt_cr"

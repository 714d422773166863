#!/usr/bin/env bash
# bench_metering.sh: the metering receipt path before and after group commit, on SQLite
# and on PostgreSQL in the same run, next to raw CMS_verify and plain batched inserts
# (bench_metering.c says what each figure is). Production durability: SQLite WAL +
# synchronous=FULL, PostgreSQL defaults (fsync on, synchronous_commit on) on a throw-away
# server (initdb in a temporary directory, run as nobody when started as root).
#
#   bench/bench_metering.sh [BUILD_DIR]     env: N (messages, 2000), THREADS (receiver
#                                           threads, nproc), BATCH (64), GATEWAYS (8),
#                                           PG_BIN (/usr/lib/postgresql/15/bin)
# The last line is machine-readable: "bench_metering_all: key=value ...".
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
n=${N:-2000}; threads=${THREADS:-$(nproc)}; batch=${BATCH:-64}; gws=${GATEWAYS:-8}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
B="$build/bench/bench_metering"
[ -x "$B" ] || { echo "bench_metering: $B not built" >&2; exit 2; }
tmp=$(mktemp -d /tmp/torwart-bench-metering-XXXXXX); chmod 0711 "$tmp"
as() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
pgdir="$tmp/pg"; mkdir "$pgdir"; chmod 0700 "$pgdir"
[ "$(id -u)" = 0 ] && chown nobody "$pgdir"
pg_up=0
cleanup() {
	[ "$pg_up" = 0 ] || as "$PG_BIN/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fig() { sed -n 's/^bench_metering: .*\b'"$1"'=\([0-9.]*\).*/\1/p' "$2"; }

echo "bench_metering: N=$n messages, $threads receiver threads, batch <= $batch, $(nproc) cores, $(uptime | sed 's/.*load/load/')"
mkdir "$tmp/sqlite"
echo "---- SQLite"
"$B" -n "$n" -w "$threads" -b "$batch" -g "$gws" "$tmp/sqlite" | tee "$tmp/sqlite.out"
if [ -x "$PG_BIN/initdb" ]; then
	port=$(/usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
	as "$PG_BIN/initdb" -D "$pgdir/data" -U torwart --auth=trust -E UTF8 >"$pgdir/initdb.log" 2>&1 ||
		{ echo "bench_metering: initdb failed:" >&2; cat "$pgdir/initdb.log" >&2; exit 1; }
	as "$PG_BIN/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 120 \
		-o "-p $port -k $pgdir -c listen_addresses=127.0.0.1" start >/dev/null
	pg_up=1
	"$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U torwart metering
	echo "---- PostgreSQL"
	"$B" -n "$n" -w "$threads" -b "$batch" -g "$gws" \
		"postgresql://torwart@127.0.0.1:$port/metering" | tee "$tmp/pg.out"
else
	echo "bench_metering: $PG_BIN/initdb missing: PostgreSQL figures skipped"
	: >"$tmp/pg.out"
fi
echo "bench_metering_all: n=$n threads=$threads" \
	"sqlite_before_per_s=$(fig before_per_s "$tmp/sqlite.out") sqlite_after_per_s=$(fig after_per_s "$tmp/sqlite.out")" \
	"pg_before_per_s=$(fig before_per_s "$tmp/pg.out") pg_after_per_s=$(fig after_per_s "$tmp/pg.out")" \
	"verify1_per_s=$(fig verify1_per_s "$tmp/sqlite.out") verifyw_per_s=$(fig verifyw_per_s "$tmp/sqlite.out")"

#!/usr/bin/env bash
# with_pg.sh PROGRAM...: run a unit test with a throw-away PostgreSQL server (the
# helpers of tests/integration/lib.sh), its base URL in TORWART_TEST_PG. Skips (77) with
# a message when the PostgreSQL server binaries are not installed.
: "${TORWART_BUILD:=.}"
export TORWART_BUILD
. "$(dirname "$0")/../integration/lib.sh"
if ! pg_available; then
	echo "SKIP: PostgreSQL server binaries not found in $PG_BIN (apt-get install postgresql)"
	exit 77
fi
trap pg_stop EXIT
pg_start || { echo "cannot start PostgreSQL:"; cat "$PG_DIR"/*.log; exit 1; }
TORWART_TEST_PG="postgresql://torwart@127.0.0.1:$PG_PORT/" "$@"

# lib.sh: helpers for the integration tests (sourced). Every check prints one line;
# the script ends with "N passed, N failed" and exits non-zero on any failure.
set -u
BUILD=${TORWART_BUILD:?run through meson test}
TORWART="$BUILD/src/cmd/torwart"
TORWARTD="$BUILD/src/cmd/torwartd"
SIM="$BUILD/src/cmd/torwart-sim"
passed=0
failed=0
pids_to_kill=()
# The daemons write the store while tests look into it: wait for a lock instead of
# failing with "database is locked" (the sqlite3 shell has no busy timeout by default).
sqlite3() { command sqlite3 -cmd ".timeout 10000" "$@"; }
export -f sqlite3

ok()   { passed=$((passed + 1)); echo "ok   - $*"; }
bad()  { failed=$((failed + 1)); echo "FAIL - $*"; }
check() { local what=$1; shift; if "$@" >>"$T/log" 2>&1; then ok "$what"; else bad "$what"; fi; }
check_fails() { local what=$1; shift; if "$@" >>"$T/log" 2>&1; then bad "$what"; else ok "$what"; fi; }

# A port no socket uses, below the kernel's ephemeral range: outgoing connections (many
# to PostgreSQL in the pg suite) take ephemeral ports and once took a port chosen here
# before the api could listen on it.
# Never the same port twice in one test: ports are often picked in a row before anything
# listens on them (ws_async.sh picks eight), so "no socket uses it" alone once handed
# one port to two homes, and the second daemon found it taken when it started. The
# ports handed out are kept in a file ($T/.ports, or one per shell in /tmp before $T
# exists), since free_port runs in a subshell.
free_port() {
	local p low=32768 span used
	used=${T:-}/.ports
	[ -n "${T:-}" ] && [ -d "${T:-}" ] || used=${TMPDIR:-/tmp}/torwart-ports.$$
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
	[ "$low" -gt 21024 ] || low=32768
	span=$((low - 20000))
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % span))
		grep -qx "$p" "$used" 2>/dev/null && continue
		if [ -z "$(ss -Htan "( sport = :$p or dport = :$p )")" ]; then
			echo "$p" >>"$used"
			echo "$p"
			return 0
		fi
	done
	return 1
}

# api_tls_port HOME: HOME's [api] tls_listen moved to a port free now; sets TLS_PORT. For a
# start some time after `init`: a port found then can be another test's listener by now
# (and without --api-tls-listen init writes the fixed default 127.0.0.1:8445, on which two
# tests running at once collide). Only the HTTPS listener moves: issued certificates name
# [api] listen in their CRL distribution points, and gateways are given [wan] listen.
api_tls_port() {
	TLS_PORT=$(free_port) || return 1
	sed -i "s/^tls_listen = .*/tls_listen = 127.0.0.1:$TLS_PORT/" "$1/torwart.conf"
}

wait_port() { # host port seconds
	local end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do
		if ss -ltn "sport = :$2" | grep -q LISTEN; then return 0; fi
		sleep 0.1
	done
	return 1
}

finish() {
	for p in "${pids_to_kill[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids_to_kill[@]}"; do
		for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	pg_stop
	rm -f "${TMPDIR:-/tmp}/torwart-ports.$$"
	if [ "$failed" -gt 0 ]; then
		echo "---- log of the failed run ($T/log) ----"
		tail -n 80 "$T/log"
	else
		rm -rf "$T"
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

# Remove the append-only guard of admin_log (tamper tests), on either backend.
drop_log_triggers() {
	if [ "${TORWART_TEST_STORE:-sqlite}" = pg ]; then
		sqlite3 "$1" "ALTER TABLE admin_log DISABLE TRIGGER USER"
		return
	fi
	sqlite3 "$1" "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='admin_log'" |
		while read -r t; do sqlite3 "$1" "DROP TRIGGER $t"; done
}

# The SQL expression for the character with code $1, on either backend (SQLite's char(),
# PostgreSQL's chr(); neither knows the other's).
sql_chr() {
	if [ "${TORWART_TEST_STORE:-sqlite}" = pg ]; then echo "chr($1)"; else echo "char($1)"; fi
}

# ---- PostgreSQL for the tests ----
# A throw-away PostgreSQL 15 server: initdb + pg_ctl in a fresh directory, run by the
# unprivileged user nobody (when the tests run as root, which the server refuses), listening
# on 127.0.0.1 at a free port with trust authentication for the role "torwart";
# pg_stop (called by finish) shuts it down and removes it.
PG_BIN=${TORWART_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_DIR=
PG_PORT=
PG_WRAP_DIR=
pg_available() { [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] && command -v psql >/dev/null; }
# As root the server runs as nobody; a developer's own account runs it directly.
pg_as() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
pg_start() {
	PG_DIR=$(mktemp -d /tmp/torwart-pg-XXXXXX) || return 1
	if [ "$(id -u)" = 0 ]; then chown nobody "$PG_DIR" || return 1; fi
	chmod 0700 "$PG_DIR" || return 1
	PG_PORT=$(free_port) || return 1
	pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U torwart --auth=trust \
		-E UTF8 --no-sync >"$PG_DIR/initdb.log" 2>&1 || return 1
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
		-t 120 -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off ${TORWART_TEST_PG_OPTS:-}" \
		start >/dev/null
}
pg_stop() {
	[ -n "$PG_DIR" ] || return 0
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1
	# TORWART_TEST_PG_LOG_DIR: keep the server log (e.g. with TORWART_TEST_PG_OPTS=
	# "-c log_statement=all -c log_line_prefix=%a|" to see which service ran what).
	[ -z "${TORWART_TEST_PG_LOG_DIR:-}" ] ||
		cp "$PG_DIR/server.log" "$TORWART_TEST_PG_LOG_DIR/$(basename "$0" .sh)-$$.log"
	rm -rf "$PG_DIR"
	[ -z "$PG_WRAP_DIR" ] || rm -rf "$PG_WRAP_DIR"
	PG_DIR=
	PG_WRAP_DIR=
}
# A new database for a home; prints its URL. It holds hex() and julianday() like
# SQLite's, for the scripts' own checks only (the store never calls them).
pg_newdb() {
	local name=tw_$(date +%s%N)_$RANDOM
	"$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U torwart "$name" >&2 || return 1
	psql -X -q "postgresql://torwart@127.0.0.1:$PG_PORT/$name" -c "
		CREATE FUNCTION hex(bytea) RETURNS text LANGUAGE sql IMMUTABLE
			AS \$\$ SELECT upper(encode(\$1, 'hex')) \$\$;
		CREATE FUNCTION julianday(text) RETURNS float8 LANGUAGE sql IMMUTABLE
			AS \$\$ SELECT extract(epoch FROM \$1::timestamptz) / 86400.0 + 2440587.5 \$\$;" \
		>&2 || return 1
	echo "postgresql://torwart@127.0.0.1:$PG_PORT/$name"
}

# TORWART_TEST_STORE=pg: the same scripts against PostgreSQL. Every `torwart init` gets
# a fresh database (--store), and `sqlite3 HOME/store.db SQL` asks that database with
# psql instead (same "a|b" output), so the scripts' independent checks keep working
# where their SQL is portable.
if [ "${TORWART_TEST_STORE:-sqlite}" = pg ]; then
	if ! pg_available; then
		echo "SKIP: PostgreSQL server binaries not found in $PG_BIN (apt-get install postgresql)"
		exit 77
	fi
	if ! pg_start; then
		echo "FAIL - cannot start PostgreSQL in $PG_DIR:"; cat "$PG_DIR"/*.log 2>/dev/null
		pg_stop; exit 1
	fi
	# The wrapper lives in a directory of its own, readable by all: privsep.sh runs it as
	# the service users, who cannot enter the server's 0700 directory.
	PG_WRAP_DIR=$(mktemp -d /tmp/torwart-pgbin-XXXXXX) && chmod 0755 "$PG_WRAP_DIR" ||
		{ echo "FAIL - cannot create the torwart wrapper directory"; pg_stop; exit 1; }
	cat >"$PG_WRAP_DIR/torwart" <<EOF
#!/usr/bin/env bash
# torwart, with a fresh PostgreSQL database for every init (integration tests).
$(declare -p PG_BIN PG_PORT)
$(declare -f pg_newdb)
if [ "\$1" = init ]; then
	shift
	url=\$(pg_newdb) || exit 1
	[ "${TORWART_TEST_ROLES:-0}" = 1 ] || exec '$TORWART' init --store "\$url" "\$@"
	# TORWART_TEST_ROLES=1: wan, api and worker log in with the restricted roles of
	# src/store/roles.pg.sql ([store] url_wan, url_api, url_worker).
	'$TORWART' init --store "\$url" "\$@" || exit
	home=; prev=
	for a in "\$@"; do [ "\$prev" = --home ] && home=\$a; prev=\$a; done
	psql -X -q -v ON_ERROR_STOP=1 "\$url" -f '$TORWART_SOURCE/src/store/roles.pg.sql' >&2 || exit 1
	sed -i "/^url = /a url_wan = \${url/torwart@/torwart_wan@}\\nurl_api = \${url/torwart@/torwart_api@}\\nurl_worker = \${url/torwart@/torwart_worker@}" "\$home/torwart.conf"
	exit 0
fi
exec '$TORWART' "\$@"
EOF
	chmod 0755 "$PG_WRAP_DIR/torwart"
	TORWART="$PG_WRAP_DIR/torwart"
	sqlite3() {
		local db
		while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do
			if [ "$1" = -separator ] || [ "$1" = -cmd ]; then shift; fi
			shift
		done
		# The home is the nearest directory above the file with a torwart.conf
		# (HOME/store.db, or HOME/store/store.db in a privsep home).
		local file=$1
		db=$(dirname "$file")
		while [ ! -f "$db/torwart.conf" ] && [ "$db" != / ]; do db=$(dirname "$db"); done
		# The first url: [store] comes first; [ws.remote.NAME] url is a web service's.
		db=$(sed -n 's/^url = //p' "$db/torwart.conf" | head -n 1); shift
		[ -n "$db" ] || { echo "sqlite3 (pg): no store url in a torwart.conf above $file" >&2; return 1; }
		if [ "${1:-}" = .dump ]; then "$PG_BIN/pg_dump" "$db"; return; fi
		psql -X -q -At -v ON_ERROR_STOP=1 "$db" "${@/#/--command=}"
	}
	export -f sqlite3
	export TORWART PG_BIN
fi

# ---- bootstrap by break-glass (the set-up most scripts share)
# bootstrap_operators HOME DIR NAME:TENANT:ROLES...: `operator add` through --home for each,
# password "password-of-NAME-I" (I counts from 1 in the order given) in DIR/NAME.pw, its
# certificate and key in DIR/NAME/; ROLES may be empty (an operator without roles); one
# check line each.
bootstrap_operators() {
	local home=$1 dir=$2 i=0 spec name tenant roles
	shift 2
	mkdir -p "$dir"
	for spec in "$@"; do
		IFS=: read -r name tenant roles <<<"$spec"
		i=$((i + 1))
		printf 'password-of-%s-%d\n' "$name" "$i" >"$dir/$name.pw"
		check "break-glass operator add $name (${roles:-no roles}, tenant $tenant)" \
			"$TORWART" operator add --home "$home" --name "$name" --tenant "$tenant" \
			--password-file "$dir/$name.pw" ${roles:+--roles "$roles"} --out "$dir/$name"
	done
}
# bootstrap_gateways HOME DIR ID[:TENANT]...: `gateway add` through --home for each (its
# files in DIR/ID), then moved to TENANT when one is given; one check line each.
bootstrap_gateways() {
	local home=$1 dir=$2 spec id tenant
	shift 2
	for spec in "$@"; do
		IFS=: read -r id tenant <<<"$spec"
		check "break-glass gateway add $id" "$TORWART" gateway add --home "$home" --id "$id" \
			--out "$dir/$id"
		[ -z "$tenant" ] || check "break-glass moves $id to tenant $tenant" "$TORWART" \
			gateway set --home "$home" --gateway "$id" --move-tenant "$tenant"
	done
}
# operator_login API DIR NAME [TOKEN-FILE]: `torwart login` as NAME (bootstrap_operators'
# files); the session in TOKEN-FILE (default DIR/NAME.session).
operator_login() {
	"$TORWART" login --api "$1" --cert "$2/$3/$3.crt" --key "$2/$3/$3.key" \
		--password-file "$2/$3.pw" --token-file "${4:-$2/$3.session}"
}
# login_all API DIR SESSION-DIR NAME...: operator_login for each, sessions in
# SESSION-DIR/NAME.session; one check line each.
login_all() {
	local api=$1 dir=$2 sdir=$3 name
	shift 3
	for name in "$@"; do
		check "login $name" operator_login "$api" "$dir" "$name" "$sdir/$name.session"
	done
}

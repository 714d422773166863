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

# A port nobody listens on, from a range unlikely to collide with other test runs.
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 30000))
		if ! ss -ltn "sport = :$p" | grep -q LISTEN; then echo "$p"; return 0; fi
	done
	return 1
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
	if [ "$failed" -gt 0 ]; then
		echo "---- log of the failed run ($T/log) ----"
		tail -n 80 "$T/log"
	else
		rm -rf "$T"
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

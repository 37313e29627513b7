#!/usr/bin/env bash
# The official Python MCP SDK against the real binary (tests/python). Creates the venv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --bin baton
VENV=tests/python/.venv
if [ ! -x "$VENV/bin/pytest" ] || ! cmp -s tests/python/requirements.txt "$VENV/.requirements"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements.txt
  cp tests/python/requirements.txt "$VENV/.requirements"
fi
BATON_BIN="$PWD/target/debug/baton" "$VENV/bin/pytest" -q tests/python

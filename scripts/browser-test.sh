#!/usr/bin/env bash
# Runs the dashboard's end-to-end test in headless Chromium against the real binary.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --bin baton
if ! command -v "${CHROMIUM:-chromium}" >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  echo "chromium is not installed (apt-get install chromium); .ci/run installs it" >&2
  exit 1
fi
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
# the committed copy of the dashboard's layout library is the pinned npm package, unchanged
./scripts/vendor-dashboard.sh --check
BATON_BIN="$PWD/target/debug/baton" node --test tests/browser/

#!/usr/bin/env bash
# Vendors the dashboard's third-party code from npm into assets/dashboard/vendor/, at the versions
# pinned by assets/dashboard/vendor/package-lock.json (npm ci: exact versions, integrity-checked).
# The output is committed and embedded in the binary (include_str!), so building and `make run`
# need no npm and the page loads nothing from elsewhere at run time.
#
#   scripts/vendor-dashboard.sh           write the vendored files
#   scripts/vendor-dashboard.sh --check   fail if the committed files differ from what npm gives
#
# To move to a new version: edit the version in assets/dashboard/vendor/package.json, run
# `npm install --package-lock-only --ignore-scripts` in that directory, then this script, and commit.
set -euo pipefail
cd "$(dirname "$0")/.."
VENDOR=assets/dashboard/vendor
mode=${1:-write}
case "$mode" in write|--check) ;; *) echo "usage: $0 [--check]" >&2; exit 2 ;; esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$VENDOR/package.json" "$VENDOR/package-lock.json" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
dagre="$work/node_modules/@dagrejs/dagre"
graphlib="$work/node_modules/@dagrejs/graphlib"
out="$work/out"
mkdir "$out"

# dagre's minified browser build (a global `dagre`, graphlib bundled in). The source map is not
# shipped, so its reference goes; the licence comment points at the file written next to it.
sed -e '/^\/\/# sourceMappingURL=/d' -e 's/dagre\.min\.js\.LEGAL\.txt/dagre.LICENSE.txt/' \
  "$dagre/dist/dagre.min.js" > "$out/dagre.min.js"
{
  echo "vendor/dagre.min.js is @dagrejs/dagre $(node -p "require('$dagre/package.json').version")"
  echo "with @dagrejs/graphlib $(node -p "require('$graphlib/package.json').version") bundled in, both under the MIT License."
  echo
  echo "== @dagrejs/dagre =="
  cat "$dagre/LICENSE"
  echo
  echo "== @dagrejs/graphlib =="
  cat "$graphlib/LICENSE"
} > "$out/dagre.LICENSE.txt"

if [ "$mode" = --check ]; then
  status=0
  for f in dagre.min.js dagre.LICENSE.txt; do
    if ! cmp -s "$out/$f" "$VENDOR/$f"; then
      echo "$VENDOR/$f differs from the pinned npm package; run scripts/vendor-dashboard.sh" >&2
      status=1
    fi
  done
  [ $status = 0 ] && echo "vendored dashboard files match the pinned npm packages"
  exit $status
fi
cp "$out/dagre.min.js" "$out/dagre.LICENSE.txt" "$VENDOR/"
echo "wrote $VENDOR/dagre.min.js and $VENDOR/dagre.LICENSE.txt"

#!/usr/bin/env bash
# Builds the browser side into a folder of static resources (the server's META-INF/resources):
# noVNC's ES modules as published on npm (no bundler: browsers load them as they are), htmx and uPlot
# for the admin console and the portal, tus-js-client's browser build for the library's resumable
# uploads, and our own scripts and styles.
# npm runs only when package-lock.json is newer than what node_modules holds; nothing is fetched at
# run time and no CDN is used.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:?usage: frontend/build.sh OUTPUT_DIR}"
command -v npm >/dev/null 2>&1 || { echo "frontend/build.sh: npm is missing: apt-get install nodejs npm (bin/hypervise does)" >&2; exit 1; }
cd "$HERE"
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi
NOVNC=node_modules/@novnc/novnc
rm -rf "$OUT/novnc" "$OUT/console-app" "$OUT/ui"
mkdir -p "$OUT/novnc" "$OUT/console-app" "$OUT/ui/vendor"
cp -R "$NOVNC/core" "$NOVNC/vendor" "$NOVNC/LICENSE.txt" "$NOVNC/package.json" "$OUT/novnc/"
cp src/console/* "$OUT/console-app/"
cp node_modules/htmx.org/dist/htmx.min.js node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css \
  node_modules/tus-js-client/dist/tus.min.js \
  "$OUT/ui/vendor/"
cp src/ui/* "$OUT/ui/"

#!/usr/bin/env bash
# Builds the admin console into webui/dist (served by the node at /admin/).
#
#   webui/build.sh
#
# Runs `npm ci` first when webui/node_modules is missing or older than
# webui/package-lock.json (npm writes node_modules/.package-lock.json at the end
# of a successful install: it is the stamp), then bundles with esbuild.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
stamp=node_modules/.package-lock.json
if [[ ! -f "${stamp}" || package-lock.json -nt "${stamp}" ]]; then
  printf 'webui: running npm ci in %s\n' "$(pwd)"
  npm ci --no-audit --no-fund
fi
node build.mjs

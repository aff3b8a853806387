#!/usr/bin/env bash
# AiHub's benchmark: AiHub with full governance against nginx proxy_pass and the mock itself, one command.
#
#   loadtests/bench/run.sh                 # the table (about 2 minutes)
#   loadtests/bench/run.sh --smoke         # a few seconds: checks that everything works (CI)
#   loadtests/bench/run.sh --mode all      # the table plus scenarios, streams, h2, nodes and a perf profile
#   loadtests/bench/run.sh --help          # every option
#
# Builds build/ (Release) when aihub-node or aihub-mock is missing there; --build-dir picks another build
# (the runner warns when it is not Release). The rest is loadtests/bench/bench.mjs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${ROOT}/build"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [[ "${args[i]}" == --build-dir && $((i + 1)) -lt ${#args[@]} ]]; then
    BUILD="$(cd "${args[i + 1]}" 2>/dev/null && pwd || printf '%s' "${args[i + 1]}")"
  fi
done

if [[ ! -x "${BUILD}/node/aihub-node" || ! -x "${BUILD}/loadtests/mock/aihub-mock" ]]; then
  if [[ "${BUILD}" != "${ROOT}/build" ]]; then
    printf 'run.sh: error: %s has no aihub-node or aihub-mock; build it first\n' "${BUILD}" >&2
    exit 2
  fi
  printf 'run.sh: building aihub-node and aihub-mock (Release) in %s\n' "${BUILD}" >&2
  cmake -S "${ROOT}" -B "${BUILD}" -DCMAKE_BUILD_TYPE=Release -DAIHUB_SANITIZE=OFF >/dev/null
  cmake --build "${BUILD}" -j"$(nproc)" --target aihub-node aihub-mock >/dev/null
fi

command -v node >/dev/null 2>&1 || { printf 'run.sh: error: node (Node.js 20+) is not on PATH\n' >&2; exit 2; }
exec node "${ROOT}/loadtests/bench/bench.mjs" "$@"

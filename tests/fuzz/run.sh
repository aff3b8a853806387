#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, AIHUB_FUZZ=ON) in build-fuzz/ and runs
# each for a bounded time (AIHUB_FUZZ_SECONDS, default 30) from the fixtures as
# seeds. Exits non-zero when a fuzzer finds a crash, a leak or UB.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SECONDS_EACH="${AIHUB_FUZZ_SECONDS:-30}"
BUILD="${ROOT}/build-fuzz"
cmake -S "${ROOT}" -B "${BUILD}" -DCMAKE_C_COMPILER=clang -DAIHUB_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "${BUILD}" -j2 --target fuzz_sse fuzz_translate fuzz_json_scan >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
for target in fuzz_sse fuzz_translate fuzz_json_scan; do
  bin="$(find "${BUILD}" -type f -name "${target}" -perm -u+x | head -n 1)"
  mkdir -p "${work}/${target}"
  # seeds: the SSE and translation fixtures (JSON answers among them for the scan)
  find "${ROOT}/shared/tests/fixtures" -type f -size -64k -exec cp {} "${work}/${target}/" \; 2>/dev/null || true
  echo "fuzz: ${target} for ${SECONDS_EACH}s"
  (cd "${work}" && "${bin}" -max_total_time="${SECONDS_EACH}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "${work}/${target}" 2>&1 | tail -n 12)
  status=${PIPESTATUS[0]}
  if ((status != 0)); then
    echo "fuzz: ${target} FAILED (status ${status})"
    exit 1
  fi
done
echo "fuzz: no findings"

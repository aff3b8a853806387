#!/usr/bin/env bash
# Runs every test: the C unit tests and the node test-runner suites, all under
# AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/, a Debug build).
#
#   scripts/test.sh                 # everything (what CI runs)
#   scripts/test.sh -R lua_scripts  # any further arguments go to ctest
#
# Installs what is missing first (scripts/install-deps.sh). Exits with ctest's
# status: non-zero when any test fails, or when a -R pattern matches no test.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
BUILD_DIR="${ROOT}/build-asan"

log() { printf 'test: %s\n' "$*"; }

scripts/install-deps.sh

# The Release build (what scripts/start.sh runs) must compile warning-free too:
# optimisation levels raise warnings that a Debug build does not.
log "building the Release configuration in build/ (compile check)"
cmake -S "${ROOT}" -B "${ROOT}/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "${ROOT}/build" -j2

log "configuring ${BUILD_DIR} (Debug, AIHUB_SANITIZE=ON)"
cmake -S "${ROOT}" -B "${BUILD_DIR}" -DCMAKE_BUILD_TYPE=Debug -DAIHUB_SANITIZE=ON
log "building"
cmake --build "${BUILD_DIR}" -j2
log "building the console (webui/dist: the node serves it, the browser tests drive it)"
webui/build.sh

# The sanitizers stop a test at the first error. Options already set in the
# environment come after ours, so they win.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1${ASAN_OPTIONS:+:${ASAN_OPTIONS}}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:${UBSAN_OPTIONS}}"
# Where the suites find aihub-node, aihub-mock and the other built binaries.
export AIHUB_BUILD_DIR="${BUILD_DIR}"
export AIHUB_TEST_BUILD_DIR="${BUILD_DIR}"

log "running ctest $*"
status=0
# --timeout bounds a test that sets no TIMEOUT of its own, so a hang cannot eat
# CI's time; --no-tests=error makes a -R pattern that matches nothing a failure.
ctest --test-dir "${BUILD_DIR}" --output-on-failure --no-tests=error --timeout 900 "$@" || status=$?
if ((status == 0)); then
  log "all tests passed"
else
  log "FAILED (ctest exit status ${status})"
fi
exit "${status}"

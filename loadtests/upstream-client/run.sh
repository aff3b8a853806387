#!/usr/bin/env bash
# Runs upstream_client_bench against its own aihub-mock: REPS repetitions of every concurrency, alternating
# the two clients (curl, h2o, curl, h2o, ...), and prints every run's line and a median / min-max table.
# The mock is pinned to one CPU and the benchmark to another (when two are allowed); the mock is stopped by PID.
# usage: loadtests/upstream-client/run.sh [BUILD_DIR] (env: REPS=5 REQUESTS=50000 CONCURRENCY="1 50")
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
REPS=${REPS:-5}
REQUESTS=${REQUESTS:-50000}
CONCURRENCY=${CONCURRENCY:-"1 50"}
BENCH=$BUILD/loadtests/upstream-client/upstream_client_bench
MOCK=$BUILD/loadtests/mock/aihub-mock
for b in "$BENCH" "$MOCK"; do [ -x "$b" ] || { echo "missing $b (build $BUILD first)" >&2; exit 2; }; done

CPUS=$(taskset -pc $$ | sed 's/.*: //')
if [[ "$CPUS" =~ ^0-1$|^0,1$ ]]; then PIN_BENCH=(taskset -c 0); PIN_MOCK=(taskset -c 1); else PIN_BENCH=(); PIN_MOCK=(); fi

TMP=$(mktemp -d)
"${PIN_MOCK[@]}" "$MOCK" --listen 127.0.0.1:0 >"$TMP/mock.out" 2>"$TMP/mock.err" &
MOCK_PID=$!
trap 'kill "$MOCK_PID" 2>/dev/null || true; wait "$MOCK_PID" 2>/dev/null || true; rm -rf "$TMP"' EXIT
for _ in $(seq 50); do grep -q AIHUB_MOCK_PORT "$TMP/mock.out" && break; sleep 0.1; done
PORT=$(sed -n 's/^AIHUB_MOCK_PORT=//p' "$TMP/mock.out")
[ -n "$PORT" ] || { echo "aihub-mock did not start" >&2; cat "$TMP/mock.err" >&2; exit 1; }
echo "# aihub-mock pid $MOCK_PID on 127.0.0.1:$PORT ${PIN_MOCK[*]}; bench ${PIN_BENCH[*]}; $REPS reps x $REQUESTS requests"

for rep in $(seq "$REPS"); do
  for c in $CONCURRENCY; do
    # alternate which client goes first, so that a drift in the machine's load hits both alike
    if (( rep % 2 )); then order="curl h2o"; else order="h2o curl"; fi
    for k in $order; do
      "${PIN_BENCH[@]}" "$BENCH" --client "$k" --port "$PORT" --requests "$REQUESTS" --concurrency "$c" --time-limit 120 \
        | grep '^client=' | tee -a "$TMP/runs.txt"
    done
  done
done

echo
echo "| client | C | runs | CPU µs/req median (min–max) | user µs/req | sys µs/req | instructions/req median (min–max) | user ins/req | kernel ins/req | req/s median |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in $CONCURRENCY; do
  for k in curl h2o; do
    awk -v k="$k" -v c="$c" '
      function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
                                      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
      { for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
      f["client"] == k && f["concurrency"] == c {
        n++; cpu[n] = f["cpu_us_per_req"]; u[n] = f["user_us_per_req"]; s[n] = f["sys_us_per_req"]; rps[n] = f["req_per_s"]
        ins[n] = f["ins_per_req"]; iu[n] = f["ins_user_per_req"]; ik[n] = f["ins_kernel_per_req"]; err += f["errors"] }
      END {
        if (!n) exit
        m = med(cpu, n); lo = cpu[1]; hi = cpu[n]
        mi = med(ins, n); ilo = ins[1]; ihi = ins[n]
        printf "| %s | %s | %d | %.1f (%.1f–%.1f) | %.1f | %.1f | %.0f (%.0f–%.0f) | %.0f | %.0f | %.0f |%s\n", k, c, n, m, lo, hi,
          med(u, n), med(s, n), mi, ilo, ihi, med(iu, n), med(ik, n), med(rps, n), err ? " errors: " err : ""
      }' "$TMP/runs.txt"
  done
done

#!/usr/bin/env bash
# Stops what scripts/start.sh started: the node, the mock provider and the demo
# redis-server, by the PIDs in .run/<name>.pid (never by process name). Each
# gets SIGTERM, then SIGKILL if it has not exited after a bound. A PID file
# whose process is gone, or is now some other program, is just removed.
# Data stays in .run/redis; scripts/start.sh resumes from it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN="${ROOT}/.run"

log() { printf 'stop: %s\n' "$*"; }

program_of() {
  case "$1" in
    redis) printf 'redis-server' ;;
    mock) printf 'aihub-mock' ;;
    node) printf 'aihub-node' ;;
  esac
}

# forget NAME: removes .run/NAME.pid and .run/NAME.settings (its ports).
forget() { rm -f "${RUN}/$1.pid" "${RUN}/$1.settings"; }

# stop_one NAME GRACE_SECONDS
stop_one() {
  local name="$1" grace="$2" pidfile="${RUN}/$1.pid" pid comm i
  if [[ ! -f "${pidfile}" ]]; then
    log "${name}: not running (no .run/${name}.pid)"
    return 0
  fi
  pid="$(head -n 1 "${pidfile}" 2>/dev/null || true)"
  comm="$(cat "/proc/${pid}/comm" 2>/dev/null || true)"
  if [[ ! "${pid}" =~ ^[0-9]+$ || "${comm}" != "$(program_of "${name}")" ]]; then
    log "${name}: not running (stale .run/${name}.pid removed)"
    forget "${name}"
    return 0
  fi
  kill -TERM "${pid}" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    if ! kill -0 "${pid}" 2>/dev/null; then
      forget "${name}"
      log "${name}: stopped (pid ${pid})"
      return 0
    fi
    sleep 0.1
  done
  log "${name}: still running ${grace} s after SIGTERM; sending SIGKILL (pid ${pid})"
  kill -KILL "${pid}" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    if ! kill -0 "${pid}" 2>/dev/null; then
      forget "${name}"
      log "${name}: killed (pid ${pid})"
      return 0
    fi
    sleep 0.1
  done
  log "${name}: pid ${pid} did not exit even after SIGKILL"
  return 1
}

# The node first (it drains running requests, up to AIHUB_DRAIN_TIMEOUT_S,
# default 30 s), then what it depends on. Redis writes its AOF on SIGTERM.
status=0
stop_one node 40 || status=1
stop_one mock 10 || status=1
stop_one redis 30 || status=1
exit "${status}"

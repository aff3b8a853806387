#!/usr/bin/env bash
# Installs what AiHub needs to build, run and test, on Debian 12 (bookworm).
#
#   scripts/install-deps.sh
#
# Idempotent: Debian packages are installed only when missing (apt-get update
# runs only then), and `npm ci` runs only when node_modules is missing or older
# than package-lock.json. Node.js 20+ and npm are not installed here (Debian 12
# ships Node.js 18, which is too old): they must be present already.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Every Debian package the build, the quick start and the test suites use.
PACKAGES=(
  build-essential cmake pkg-config
  libh2o-evloop-dev libhiredis-dev libjansson-dev libjemalloc-dev libcurl4-openssl-dev libssl-dev
  redis-server redis-tools
  curl ca-certificates openssl
  prometheus     # promtool, for the /metrics checks
  nghttp2-client # h2load
  wrk
  nginx-light    # the reference reverse proxy of the benchmark (loadtests/bench)
  clang          # libFuzzer targets
  # the deployment checks (tests/deploy): the Helm render tool, yamllint, the TLS tunnel
  golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev
  yamllint
  stunnel4
  # the console's browser tests (tests/e2e/console.test.mjs): Chromium driven by playwright-core, a CJK font for the Chinese pages
  chromium chromium-driver fonts-wqy-microhei
)
NODE_MIN_MAJOR=20

log() { printf 'install-deps: %s\n' "$*"; }
die() {
  printf 'install-deps: error: %s\n' "$*" >&2
  exit 1
}

# --- Node.js and npm: checked first, so nothing is installed in vain ---------
node_help="Node.js ${NODE_MIN_MAJOR}+ and npm must be installed first (Debian 12's own nodejs package is 18, too old)."
if ! command -v node >/dev/null 2>&1; then
  die "node is not on PATH. ${node_help}"
fi
node_version="$(node -p 'process.versions.node' 2>/dev/null || true)"
node_major="${node_version%%.*}"
if [[ ! "${node_major}" =~ ^[0-9]+$ ]]; then
  die "could not read the version of $(command -v node). ${node_help}"
fi
if ((node_major < NODE_MIN_MAJOR)); then
  die "Node.js ${node_version} at $(command -v node) is too old. ${node_help}"
fi
if ! command -v npm >/dev/null 2>&1; then
  die "npm is not on PATH. ${node_help}"
fi
log "Node.js ${node_version}, npm $(npm --version): ok"

# --- Debian packages ----------------------------------------------------------
if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  die "this script installs with apt-get on Debian 12; on another system install these by hand: ${PACKAGES[*]}"
fi
if [[ -r /etc/os-release ]] && ! grep -q '^VERSION_CODENAME=bookworm$' /etc/os-release; then
  log "warning: this is not Debian 12 (bookworm); trying apt-get anyway"
fi

is_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! is_installed "${pkg}"; then
    missing+=("${pkg}")
  fi
done

if ((${#missing[@]} == 0)); then
  log "all ${#PACKAGES[@]} Debian packages are installed"
else
  as_root=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 || die "not root and no sudo: install these as root: ${missing[*]}"
    as_root=(sudo)
  fi
  apt_get=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300)

  log "missing Debian packages: ${missing[*]}"
  log "running apt-get update"
  "${apt_get[@]}" update -q

  unavailable=()
  for pkg in "${missing[@]}"; do
    candidate="$(apt-cache policy "${pkg}" 2>/dev/null | sed -n 's/^ *Candidate: *//p')"
    if [[ -z "${candidate}" || "${candidate}" == "(none)" ]]; then
      unavailable+=("${pkg}")
    fi
  done
  if ((${#unavailable[@]} > 0)); then
    die "apt has no installable version of: ${unavailable[*]} (check /etc/apt/sources.list; Debian 12 main has them all)"
  fi

  log "installing: ${missing[*]}"
  "${apt_get[@]}" install -y -q "${missing[@]}"

  for pkg in "${missing[@]}"; do
    is_installed "${pkg}" || die "apt-get finished but ${pkg} is not installed"
  done
  log "installed ${#missing[@]} Debian package(s): ${missing[*]}"
fi

# --- npm packages of the test suites (package-lock.json at the repo root) -----
# npm writes node_modules/.package-lock.json at the end of a successful install:
# it is the stamp, so an interrupted install is redone.
stamp="${ROOT}/node_modules/.package-lock.json"
if [[ ! -f "${ROOT}/package-lock.json" ]]; then
  log "no package-lock.json at ${ROOT}: skipping npm ci"
elif [[ ! -f "${stamp}" || "${ROOT}/package-lock.json" -nt "${stamp}" ]]; then
  log "running npm ci in ${ROOT}"
  (cd "${ROOT}" && npm ci --no-audit --no-fund)
else
  log "node_modules is up to date with package-lock.json"
fi

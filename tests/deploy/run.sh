#!/usr/bin/env bash
# The deployment checks, offline: Dockerfile, Helm chart (helm/aihub) and
# kustomize manifests (k8s/). Needs no cluster, no container engine and no
# network. ctest runs it as deploy_checks; it runs on its own as well:
#
#   tests/deploy/run.sh                                  # every check
#   tests/deploy/run.sh tests/deploy/parity.test.mjs     # some of them
#   AIHUB_BUILD_DIR=build tests/deploy/run.sh            # with a built node
#
# It builds the render tool (tests/deploy/render, Go text/template + sprig from
# Debian's packages, GOPATH mode, no downloads) into a temporary directory,
# then runs the node test files. With AIHUB_BUILD_DIR naming a build, the
# checks that need a built aihub-node run too (library list of the image, the
# node through the TLS tunnel); without it they are skipped and say so.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "${ROOT}"

die() {
  printf 'deploy checks: %s\n' "$*" >&2
  exit 1
}
need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is not on PATH: $2"
}

need kubectl "it is on this project's machine image (not a Debian package); the checks need its built-in kustomize"
need go "run scripts/install-deps.sh (Debian golang-go)"
need yamllint "run scripts/install-deps.sh (Debian yamllint)"
need stunnel "run scripts/install-deps.sh (Debian stunnel4)"
need redis-server "run scripts/install-deps.sh (Debian redis-server)"
need openssl "run scripts/install-deps.sh (Debian openssl)"
need node "Node.js 20+ must be installed"
for dir in github.com/Masterminds/sprig gopkg.in/yaml.v3; do
  [[ -d "/usr/share/gocode/src/${dir}" ]] || die "/usr/share/gocode/src/${dir} is missing: run scripts/install-deps.sh (golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev)"
done
for mod in kubernetes-models @kubernetes/client-node @kubernetes-models/prometheus-operator ajv; do
  [[ -d "node_modules/${mod}" ]] || die "node_modules/${mod} is missing: run scripts/install-deps.sh (npm ci)"
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/aihub-deploy.XXXXXX")"
trap 'rm -rf "${tmp}"' EXIT

# GOPATH mode resolves sprig's /v3 import paths only for a package with a go.mod
pkg="${tmp}/gopath/src/aihub-render"
mkdir -p "${pkg}"
cp tests/deploy/render/main.go "${pkg}/"
printf 'module aihub-render\n\ngo 1.19\n' >"${pkg}/go.mod"
(
  cd "${pkg}"
  GO111MODULE=off GOPATH="${tmp}/gopath:/usr/share/gocode" GOPROXY=off GOFLAGS= CGO_ENABLED=0 \
    go build -o "${tmp}/render" .
) || die "building the render tool failed"
export AIHUB_RENDER="${tmp}/render"

if (($# == 0)); then
  set -- tests/deploy/*.test.mjs
fi
# not exec: the EXIT trap removes the temporary directory afterwards
node --test --test-reporter=spec --test-force-exit "$@"

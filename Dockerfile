# syntax=docker/dockerfile:1
#
# AiHub container images, built from the repository root:
#
#   docker build -t aihub:0.1.0 .                                   # the gateway node (default target)
#   docker build --target redis-tunnel -t aihub-redis-tunnel:0.1.0 .  # stunnel, for a Redis that requires TLS
#
# The node is built on Debian 12 (bookworm) with the same packages as
# scripts/install-deps.sh and runs on bookworm-slim with only its runtime
# libraries, as an unprivileged user, on a read-only root filesystem (it
# writes nothing to disk; its Lua scripts are compiled in, the console's files
# are read into memory at start). Configuration is environment variables only
# (`docker run --rm aihub:0.1.0 --help` lists them).
# Checked without a container engine by tests/deploy/image.test.mjs.

ARG DEBIAN_RELEASE=bookworm

# --- build -------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      libh2o-evloop-dev libhiredis-dev libjansson-dev libjemalloc-dev libcurl4-openssl-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The test suites need Node.js, which this image has no use for: point CMake's
# lookup of it at `true` so that configuring succeeds without it.
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DNODE_EXECUTABLE=/bin/true \
 && cmake --build /build --target aihub-node -j"$(nproc)" \
 && strip /build/node/aihub-node \
 && /build/node/aihub-node --help >/dev/null

# --- webui: the admin console (webui/dist), served by the node at /admin/ -------
FROM node:20-${DEBIAN_RELEASE}-slim AS webui
WORKDIR /webui
COPY webui/package.json webui/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY webui/ ./
RUN node build.mjs

# --- redis-tunnel: Debian's stunnel4, for a managed Redis that requires TLS ----
FROM debian:${DEBIAN_RELEASE}-slim AS redis-tunnel
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends stunnel4 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10002 stunnel \
 && useradd --system --uid 10002 --gid stunnel --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin stunnel
USER 10002:10002
STOPSIGNAL SIGTERM
# the configuration comes from the Helm chart's ConfigMap (foreground, no pid file)
ENTRYPOINT ["stunnel"]
CMD ["/etc/aihub-tunnel/stunnel.conf"]

# --- runtime: the gateway node ---------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libh2o-evloop0.13 libhiredis0.14 libjansson4 libjemalloc2 libcurl4 libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 aihub \
 && useradd --system --uid 10001 --gid aihub --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin aihub
COPY --from=build /build/node/aihub-node /usr/local/bin/aihub-node
COPY --from=webui /webui/dist /usr/share/aihub/webui
ENV AIHUB_WEBUI_DIR=/usr/share/aihub/webui
USER 10001:10001
# client API (HTTP/1.1 and h2c) and, with AIHUB_ADMIN_LISTEN=0.0.0.0:9090, the admin API and /metrics
EXPOSE 8080 9090
# SIGTERM starts the drain: readiness false, listeners closed, running requests
# finish within AIHUB_DRAIN_TIMEOUT_S, exit 0. The node takes signals with
# sigwait, which works as PID 1: no init process is needed.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/aihub-node"]

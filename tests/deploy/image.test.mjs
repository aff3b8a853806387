// The Dockerfile, checked without a container engine (none runs here): its
// stages, user, signal and entrypoint; that it agrees with the chart (user id,
// ports, the tunnel's configuration path); and that the runtime stage installs
// the Debian package of every shared library the built node links.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ROOT, render } from './lib/tools.mjs';

/** Dockerfile instructions, continuation lines joined: [{stage, op, args}]. */
function parseDockerfile(text) {
  const out = [];
  let stage = null;
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Z]+)\s+(.*)$/.exec(line);
    assert.ok(m, `not an instruction: ${line}`);
    const [, op, args] = m;
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stage = { image: f[1], name: f[2] ?? null, ops: [] };
      out.push(stage);
    }
    (stage ? stage.ops : (out.preamble ??= [])).push({ op, args });
  }
  return out;
}

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfile);
const argDefaults = Object.fromEntries(
  [...dockerfile.matchAll(/^ARG (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]),
);
const expand = (s) => s.replace(/\$\{(\w+)\}/g, (_, k) => argDefaults[k] ?? '');
const stage = (name) => stages.find((s) => s.name === name);
const last = (st, op) => st.ops.filter((o) => o.op === op).at(-1)?.args;
const aptPackages = (st) =>
  st.ops
    .filter((o) => o.op === 'RUN')
    .flatMap((o) => [...o.args.matchAll(/apt-get install ([^&]+)/g)].flatMap((m) => m[1].split(/\s+/)))
    .filter((w) => w && !w.startsWith('-'));

const runtime = stages.at(-1);
const chartDefault = render({});
const nodePod = chartDefault.find((i) => i.object.kind === 'Deployment').object.spec.template.spec;

describe('Dockerfile', () => {
  test('builds on bookworm and runs on bookworm-slim, the runtime stage last (the default target)', () => {
    assert.equal(expand(stage('build').image), 'debian:bookworm');
    assert.equal(expand(runtime.image), 'debian:bookworm-slim');
    assert.equal(runtime.name, 'runtime');
    assert.ok(runtime.ops.some((o) => o.op === 'COPY' && o.args.startsWith('--from=build ')), 'the binary comes from the build stage');
  });

  test('the runtime stage installs no compiler and no -dev package', () => {
    const pkgs = aptPackages(runtime);
    assert.ok(pkgs.length > 0);
    for (const p of pkgs) assert.ok(!/-dev$|^build-essential$|^cmake$|^gcc|^clang/.test(p), `${p} in the runtime stage`);
  });

  test('runs as a non-root numeric user, the one the chart runs as', () => {
    const user = last(runtime, 'USER');
    assert.match(user, /^\d+:\d+$/, 'numeric uid:gid, so runAsNonRoot can verify it');
    const [uid, gid] = user.split(':').map(Number);
    assert.ok(uid > 0 && gid > 0);
    assert.equal(nodePod.securityContext.runAsUser, uid, 'the chart runs the image as its own user');
    assert.equal(nodePod.securityContext.runAsGroup, gid);
  });

  test('stops with SIGTERM and starts the node in exec form', () => {
    assert.equal(last(runtime, 'STOPSIGNAL'), 'SIGTERM');
    const entry = JSON.parse(last(runtime, 'ENTRYPOINT'));
    assert.deepEqual(entry, ['/usr/local/bin/aihub-node']);
    assert.ok(runtime.ops.some((o) => o.op === 'COPY' && o.args.endsWith(' /usr/local/bin/aihub-node')));
  });

  test('exposes the ports the chart uses by default', () => {
    const exposed = runtime.ops.filter((o) => o.op === 'EXPOSE').flatMap((o) => o.args.split(/\s+/)).map(Number);
    const ports = nodePod.containers[0].ports.map((p) => p.containerPort);
    assert.deepEqual([...ports].sort(), [...exposed].sort());
  });

  test('ships the console where AIHUB_WEBUI_DIR points', () => {
    const env = runtime.ops.filter((o) => o.op === 'ENV').map((o) => o.args).join(' ');
    const dir = /AIHUB_WEBUI_DIR=(\S+)/.exec(env)?.[1];
    assert.ok(dir, 'AIHUB_WEBUI_DIR is set');
    assert.ok(runtime.ops.some((o) => o.op === 'COPY' && o.args.startsWith('--from=webui ') && o.args.endsWith(` ${dir}`)));
    const opts = readFileSync(join(ROOT, 'node/src/config/options.c'), 'utf8');
    assert.match(opts, /"AIHUB_WEBUI_DIR"/, 'the node reads AIHUB_WEBUI_DIR');
  });

  test('the build stage installs what scripts/install-deps.sh installs to build', () => {
    const deps = readFileSync(join(ROOT, 'scripts/install-deps.sh'), 'utf8');
    for (const p of aptPackages(stage('build'))) assert.match(deps, new RegExp(`\\b${p.replace(/[.+]/g, '\\$&')}\\b`), `${p} is not in scripts/install-deps.sh`);
  });

  test('the tunnel image runs stunnel unprivileged on the configuration the chart mounts', () => {
    const t = stage('redis-tunnel');
    assert.equal(expand(t.image), 'debian:bookworm-slim');
    assert.ok(aptPackages(t).includes('stunnel4'));
    assert.match(last(t, 'USER'), /^[1-9]\d*:[1-9]\d*$/);
    assert.deepEqual(JSON.parse(last(t, 'ENTRYPOINT')), ['stunnel']);
    const tls = render({ values: [join(ROOT, 'helm/aihub/ci/managed-redis-tls-values.yaml')] });
    const pod = tls.find((i) => i.object.kind === 'Deployment').object.spec.template.spec;
    const tunnel = [...(pod.initContainers ?? []), ...pod.containers].find((c) => c.name === 'redis-tunnel');
    assert.deepEqual(JSON.parse(last(t, 'CMD')), tunnel.args, 'the image default and the chart name the same file');
  });

  test('.dockerignore keeps build trees and dependencies out, and the sources in', () => {
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const p of ['.git', 'build', 'build-*', '**/node_modules']) assert.ok(ignore.includes(p), `${p} is not ignored`);
    for (const p of ['CMakeLists.txt', 'cmake', 'node', 'shared', 'lua-scripts', 'loadtests', 'tests', 'webui']) {
      assert.ok(!ignore.includes(p) && existsSync(join(ROOT, p)), `${p} is needed by the build`);
    }
  });
});

// the Debian package owning a shared library, as the dynamic loader finds it
function packageOfLibrary(soname) {
  const cache = execFileSync('ldconfig', ['-p'], { encoding: 'utf8' });
  const line = cache.split('\n').find((l) => l.trim().startsWith(`${soname} `) && /x86-64|AArch64|64bit|libc6,/.test(l));
  const path = line?.split('=>')[1]?.trim();
  assert.ok(path, `${soname} is not in the loader's cache`);
  for (const p of [path, path.replace(/^\/usr\//, '/'), path.replace(/^\/(lib)/, '/usr/$1')]) {
    const r = spawnSync('dpkg', ['-S', p], { encoding: 'utf8' });
    if (r.status === 0) return r.stdout.split(':')[0].trim();
  }
  throw new Error(`no Debian package owns ${path}`);
}

test('the runtime stage installs the package of every library the node links', (t) => {
  const bin = process.env.AIHUB_BUILD_DIR && join(process.env.AIHUB_BUILD_DIR, 'node', 'aihub-node');
  if (!bin || !existsSync(bin)) return t.skip('no built node: set AIHUB_BUILD_DIR (ctest does)');
  const needed = [...execFileSync('readelf', ['-d', bin], { encoding: 'utf8' }).matchAll(/\(NEEDED\)\s+Shared library: \[(.+)\]/g)].map((m) => m[1]);
  assert.ok(needed.length > 3);
  const installed = new Set(aptPackages(runtime));
  const inSlim = new Set(['libc6', 'libgcc-s1', 'libstdc++6']); // in every bookworm-slim
  const missing = [];
  for (const lib of needed) {
    if (/^lib(asan|ubsan|tsan|lsan)\.so/.test(lib) || lib.startsWith('ld-linux')) continue; // sanitizer builds
    const pkg = packageOfLibrary(lib).replace(/:(amd64|arm64)$/, '');
    if (!installed.has(pkg) && !inSlim.has(pkg)) missing.push(`${lib} (${pkg})`);
  }
  assert.deepEqual(missing, [], 'add these packages to the runtime stage of the Dockerfile');
});

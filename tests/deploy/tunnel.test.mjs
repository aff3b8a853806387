// The TLS tunnel the chart configures, run for real on this machine: the
// stunnel.conf from the chart's ConfigMap (only its CA path pointed at a
// temporary file) in front of a redis-server that accepts TLS only, with a
// certificate from a throwaway CA. Plain Redis through the tunnel works, a
// tunnel expecting another host name is refused, and, when a built node is at
// hand, aihub-node itself becomes ready through the tunnel with the URL and
// key from the chart's Secret.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CHART, render } from './lib/tools.mjs';

const dir = mkdtempSync(join(tmpdir(), 'aihub-tunnel-'));
const children = [];
const PASSWORD = 'tunnel-test-password';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function start(cmd, args, opts = {}) {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  p.output = '';
  p.stdout.on('data', (d) => (p.output += d));
  p.stderr.on('data', (d) => (p.output += d));
  children.push(p);
  return p;
}

async function waitFor(check, what, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const redisCli = (port, ...cmd) =>
  spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '-a', PASSWORD, '--no-auth-warning', ...cmd], { encoding: 'utf8', timeout: 5000 });

let tlsPort;

before(async () => {
  for (const tool of ['stunnel', 'redis-server', 'redis-cli', 'openssl']) {
    assert.equal(spawnSync('sh', ['-c', `command -v ${tool}`]).status, 0, `${tool} is not on PATH: run scripts/install-deps.sh (stunnel4, redis-server, redis-tools, openssl)`);
  }
  // a throwaway CA and a server certificate for "localhost"
  const ssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=aihub test CA', '-keyout', 'ca.key', '-out', 'ca.crt');
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.crt');

  tlsPort = await freePort();
  const redis = start('redis-server', [
    '--port', '0', '--bind', '127.0.0.1', '--tls-port', String(tlsPort),
    '--tls-cert-file', join(dir, 'server.crt'), '--tls-key-file', join(dir, 'server.key'), '--tls-ca-cert-file', join(dir, 'ca.crt'),
    '--tls-auth-clients', 'no', '--requirepass', PASSWORD, '--save', '', '--appendonly', 'no', '--dir', dir,
  ]);
  await waitFor(() => /Ready to accept connections/.test(redis.output), 'redis-server with TLS');
});

after(() => {
  for (const p of children) if (p.exitCode === null) p.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

/** The chart's tunnel for this machine: its stunnel.conf and the node's Secret. */
async function chartTunnel(extraSets = []) {
  const localPort = await freePort();
  const items = render({
    values: [join(CHART, 'ci', 'managed-redis-tls-values.yaml')],
    set: [
      `redis.tunnel.connect=localhost:${tlsPort}`,
      `redis.tunnel.localPort=${localPort}`,
      `secret.redisUrl=redis://:${PASSWORD}@127.0.0.1:${localPort}/0`,
      ...extraSets,
    ],
  }).map((i) => i.object);
  const conf = items.find((o) => o.kind === 'ConfigMap' && o.data?.['stunnel.conf']).data['stunnel.conf'];
  assert.match(conf, /^CAfile = \/etc\/aihub-tunnel-ca\/ca\.crt$/m);
  const local = conf.replace(/^CAfile = .*$/m, `CAfile = ${join(dir, 'ca.crt')}`);
  const file = join(dir, `stunnel-${localPort}.conf`);
  writeFileSync(file, local);
  const secret = items.find((o) => o.kind === 'Secret');
  const env = Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
  return { localPort, file, env };
}

async function startTunnel(file) {
  const p = start('stunnel', [file]);
  await waitFor(() => /Configuration successful/.test(p.output) || p.exitCode !== null, 'stunnel to start');
  assert.equal(p.exitCode, null, `stunnel exited:\n${p.output}`);
  return p;
}

test('plain Redis through the chart-configured tunnel reaches the TLS-only server', async () => {
  const t = await chartTunnel();
  await startTunnel(t.file);
  const ping = redisCli(t.localPort, 'PING');
  assert.equal(ping.stdout.trim(), 'PONG', ping.stderr);
  assert.equal(redisCli(t.localPort, 'SET', 'aihub:tunnel', 'ok').stdout.trim(), 'OK');
  assert.equal(redisCli(t.localPort, 'GET', 'aihub:tunnel').stdout.trim(), 'ok');
  // and the server indeed refuses plain text on its TLS port
  assert.notEqual(redisCli(tlsPort, 'PING').stdout.trim(), 'PONG');
});

test('the tunnel refuses a server whose certificate names another host', async () => {
  const t = await chartTunnel(['redis.tunnel.checkHost=redis.example.com']);
  const p = await startTunnel(t.file);
  const ping = redisCli(t.localPort, 'PING');
  assert.notEqual(ping.stdout.trim(), 'PONG');
  await waitFor(() => /CERT: Subject checks failed/.test(p.output) && /certificate verify failed/.test(p.output), 'stunnel to report the rejection', 5000);
});

test('aihub-node becomes ready through the tunnel with the chart Secret', async (t) => {
  const bin = process.env.AIHUB_BUILD_DIR && join(process.env.AIHUB_BUILD_DIR, 'node', 'aihub-node');
  if (!bin || !existsSync(bin)) return t.skip('no built node: set AIHUB_BUILD_DIR (ctest does)');
  const tun = await chartTunnel();
  await startTunnel(tun.file);
  const port = await freePort();
  const node = start(bin, [], {
    env: { ...process.env, ...tun.env, AIHUB_LISTEN: `127.0.0.1:${port}`, AIHUB_THREADS: '1', AIHUB_ACCESS_LOG: '0' },
  });
  let last = '';
  await waitFor(async () => {
    if (node.exitCode !== null) throw new Error(`aihub-node exited ${node.exitCode}:\n${node.output}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      last = `${r.status} ${await r.text()}`;
      return r.status === 200;
    } catch (e) {
      last = String(e);
      return false;
    }
  }, `/readyz through the tunnel (last: ${last})`, 15_000);
  node.kill('SIGTERM');
  await waitFor(() => node.exitCode !== null, 'the node to drain and exit');
  assert.equal(node.exitCode, 0, node.output);
});

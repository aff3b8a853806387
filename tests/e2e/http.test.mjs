// HTTP serving: HTTP/1.1, h2c with prior knowledge, h2 over TLS with ALPN
// (curl as the client), CORS, the metrics exposition checked by promtool,
// and the per-connection HTTP/2 stream cap.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack, addChannel, addUserKey, waitConfig, waitFor } from '../lib/stack.mjs';
import { freePort } from '../lib/redis.mjs';

let s;
let secret;
let tlsPort;
let dir;
const body = JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user', content: 'hi' }] });

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'aihub-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
  tlsPort = await freePort();
  s = await startStack({
    env: {
      AIHUB_TLS_LISTEN: `127.0.0.1:${tlsPort}`,
      AIHUB_TLS_CERT: path.join(dir, 'cert.pem'),
      AIHUB_TLS_KEY: path.join(dir, 'key.pem'),
      AIHUB_CORS_ORIGINS: 'https://chat.example.com',
      AIHUB_H2_MAX_STREAMS: '4',
    },
  });
  await addChannel(s, { name: 'main', models: ['mock-gpt'] });
  ({ secret } = await addUserKey(s));
  await waitConfig(s);
});
after(async () => {
  await s?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function curl(args) {
  const r = spawnSync('curl', ['-sS', '--max-time', '10', ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

const chatArgs = (url) => [`${url}/v1/chat/completions`, '-H', `Authorization: Bearer ${secret}`, '-H', 'Content-Type: application/json', '-d', body,
  '-w', '\n%{http_version} %{http_code}'];

test('HTTP/1.1', () => {
  const out = curl(['--http1.1', ...chatArgs(s.node.url)]);
  assert.match(out, /\n1\.1 200$/);
  assert.match(out, /"chat\.completion"/);
});

test('h2c with prior knowledge', () => {
  const out = curl(['--http2-prior-knowledge', ...chatArgs(s.node.url)]);
  assert.match(out, /\n2 200$/);
  assert.match(out, /"chat\.completion"/);
});

test('h2 over TLS, negotiated by ALPN, and HTTP/1.1 over TLS', () => {
  const url = `https://127.0.0.1:${tlsPort}`;
  assert.match(curl(['-k', '--http2', ...chatArgs(url)]), /\n2 200$/);
  assert.match(curl(['-k', '--http1.1', ...chatArgs(url)]), /\n1\.1 200$/);
  const stream = curl(['-k', '--http2', '-N', `${url}/v1/chat/completions`, '-H', `Authorization: Bearer ${secret}`,
    '-d', JSON.stringify({ model: 'mock-gpt', stream: true, messages: [{ role: 'user', content: 'hi' }] })]);
  assert.match(stream, /data: \[DONE\]/);
});

test('many concurrent h2 streams on one connection all complete (the per-connection cap queues, it does not drop)', () => {
  // h2load: one connection, 12 streams at once against a cap of 4 (curl 7.88 cannot reuse h2c connections)
  const file = path.join(dir, 'body.json');
  writeFileSync(file, body);
  const r = spawnSync('h2load', ['-n', '48', '-c', '1', '-m', '12', '-H', `Authorization: Bearer ${secret}`, '-d', file,
    `${s.node.url}/v1/chat/completions`], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /requests: 48 total, 48 started, 48 done, 48 succeeded/);
  assert.match(r.stdout, /status codes: 48 2xx/);
});

test('CORS: preflight and allowed origin; other origins get no CORS headers', async () => {
  const pre = await fetch(`${s.node.url}/v1/chat/completions`, {
    method: 'OPTIONS', headers: { origin: 'https://chat.example.com', 'access-control-request-method': 'POST' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), 'https://chat.example.com');
  assert.match(pre.headers.get('access-control-allow-headers'), /authorization/);
  const other = await fetch(`${s.node.url}/v1/models`, { headers: { origin: 'https://evil.example', authorization: `Bearer ${secret}` } });
  assert.equal(other.headers.get('access-control-allow-origin'), null);
  const okr = await fetch(`${s.node.url}/v1/models`, { headers: { origin: 'https://chat.example.com', authorization: `Bearer ${secret}` } });
  assert.equal(okr.headers.get('access-control-allow-origin'), 'https://chat.example.com');
});

test('every response carries x-request-id, errors included', async () => {
  for (const [p, init] of [['/healthz', {}], ['/readyz', {}], ['/nope', {}], ['/api/channels', {}], ['/v1/models', {}]]) {
    const r = await fetch(s.node.url + p, init);
    assert.ok(r.headers.get('x-request-id'), `${p} (${r.status})`);
  }
});

test('/metrics is valid Prometheus exposition (promtool) with the promised series', async () => {
  await waitFor(async () => (await fetch(`${s.node.url}/readyz`)).status === 200);
  const text = await (await fetch(`${s.node.url}/metrics`, { headers: { authorization: `Bearer ${s.adminKey}` } })).text();
  const file = path.join(dir, 'metrics.txt');
  writeFileSync(file, text);
  const r = spawnSync('sh', ['-c', `promtool check metrics < '${file}'`], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  for (const name of ['aihub_requests_total{', 'aihub_upstream_latency_seconds_bucket{le="+Inf"}', 'aihub_first_byte_seconds_bucket{le="+Inf"}',
    'aihub_in_flight_requests ', 'aihub_redis_call_duration_seconds_bucket{le="+Inf"}', 'aihub_accounts_cooling ']) {
    assert.ok(text.includes(name), `missing ${name}`);
  }
  assert.match(text, /aihub_requests_total\{status="200",model="mock-gpt",channel="main"\} \d+/);
});

test('AIHUB_ADMIN_LISTEN moves the admin API and /metrics off the client address', async () => {
  const adminPort = await freePort();
  const n = await s.addNode({ AIHUB_ADMIN_LISTEN: `127.0.0.1:${adminPort}` });
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const auth = { authorization: `Bearer ${s.adminKey}` };
  assert.equal((await fetch(`${n.url}/api/channels`, { headers: auth })).status, 404);
  assert.equal((await fetch(`${n.url}/metrics`)).status, 404);
  assert.equal((await fetch(`${adminUrl}/api/channels`, { headers: auth })).status, 200);
  assert.equal((await fetch(`${adminUrl}/metrics`)).status, 200);
  assert.equal((await fetch(`${adminUrl}/v1/models`, { headers: { authorization: `Bearer ${secret}` } })).status, 404);
  assert.equal((await fetch(`${n.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } })).status, 200);
  assert.equal((await fetch(`${adminUrl}/readyz`)).status, 200);
  await n.stop();
});

test('the console is served from AIHUB_WEBUI_DIR at /admin/: files, client-side routes, cache headers', async () => {
  const web = path.join(dir, 'webui');
  execFileSync('mkdir', ['-p', path.join(web, 'assets')]);
  writeFileSync(path.join(web, 'index.html'), '<!doctype html><title>AiHub</title>');
  writeFileSync(path.join(web, 'assets', 'app-abc123.js'), 'console.log(1)');
  const n = await s.addNode({ AIHUB_WEBUI_DIR: web });
  const redirect = await fetch(`${n.url}/admin`, { redirect: 'manual' });
  assert.equal(redirect.status, 302);
  assert.equal(redirect.headers.get('location'), '/admin/');
  const index = await fetch(`${n.url}/admin/`);
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type'), /^text\/html/);
  assert.equal(index.headers.get('cache-control'), 'no-cache');
  assert.ok(index.headers.get('x-request-id'));
  assert.match(await index.text(), /<title>AiHub/);
  const route = await fetch(`${n.url}/admin/channels/ch_1`);
  assert.equal(route.status, 200, 'a client-side route gets the app');
  const asset = await fetch(`${n.url}/admin/assets/app-abc123.js`);
  assert.equal(asset.status, 200);
  assert.match(asset.headers.get('content-type'), /^text\/javascript/);
  assert.match(asset.headers.get('cache-control'), /immutable/);
  assert.equal((await fetch(`${n.url}/admin/assets/missing.js`)).status, 404);
  assert.equal((await fetch(`${n.url}/admin/`, { method: 'POST' })).status, 405);
  await n.stopClean();
});

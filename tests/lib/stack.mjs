// The end-to-end test stack: a real redis-server, the bundled mock provider
// and one or more aihub-node processes, each on a free 127.0.0.1 port,
// started and stopped by the PIDs this module spawned.
//
//   const s = await startStack();               // redis + mock + one node
//   const ch = await s.admin('POST', '/api/channels', {...});
//   const key = await s.demoKey();              // a user and a key
//   await s.stop();
//
// Binaries come from $AIHUB_BUILD_DIR (default: build/ at the repo root).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedis, freePort } from './redis.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BUILD = path.resolve(process.env.AIHUB_BUILD_DIR || path.join(ROOT, 'build'));
export const NODE_BIN = path.join(BUILD, 'node', 'aihub-node');
export const MOCK_BIN = path.join(BUILD, 'loadtests', 'mock', 'aihub-mock');

const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try { child.kill('SIGKILL'); } catch { /* gone */ }
  }
});

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns a truthy value; throws with `what` after timeoutMs. */
export async function waitFor(fn, { timeoutMs = 10_000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await sleep(intervalMs);
  }
}

// Spawns a program, keeping the tail of its output; `ready(line)` may pick a
// value out of an output line (the port), resolved as `value`.
function launch(bin, args, env, ready) {
  const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const lines = [];
  let resolveValue;
  let rejectValue;
  const value = new Promise((res, rej) => { resolveValue = res; rejectValue = rej; });
  let partial = '';
  const onData = (d) => {
    partial += d.toString();
    let nl;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      lines.push(line);
      if (lines.length > 5000) lines.shift();
      const v = ready(line);
      if (v !== undefined) resolveValue(v);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise((res) => child.once('exit', (code, signal) => {
    running.delete(child);
    rejectValue(new Error(`${path.basename(bin)} exited (${code ?? signal}) before it was ready:\n${lines.slice(-30).join('\n')}`));
    res({ code, signal });
  }));
  return { child, lines, value, exited };
}

async function stopChild(proc, signal = 'SIGTERM', timeoutMs = 15_000) {
  const { child, exited } = proc;
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const result = await exited;
  clearTimeout(timer);
  return result;
}

/** The mock provider on a free port: {url, port, stats(), behave(rule), clear(), stop()}. */
export async function startMock(args = []) {
  const proc = launch(MOCK_BIN, ['--listen', '127.0.0.1:0', ...args], {}, (line) => {
    const m = /^AIHUB_MOCK_PORT=(\d+)/.exec(line);
    return m ? Number(m[1]) : undefined;
  });
  const port = await Promise.race([proc.value, sleep(10_000).then(() => { throw new Error('mock did not start'); })]);
  const base = `http://127.0.0.1:${port}`;
  const call = async (method, p, body) => {
    const r = await fetch(base + p, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    return r.status === 204 ? null : r.json();
  };
  return {
    port,
    url: `${base}/v1`,
    proc,
    stats: () => call('GET', '/_mock/stats'),
    resetStats: () => call('DELETE', '/_mock/stats'),
    behave: (rule) => call('POST', '/_mock/behavior', rule),
    clear: () => call('DELETE', '/_mock/behavior'),
    stop: () => stopChild(proc),
  };
}

/** One aihub-node: {url, port, lines, admin(), stop(signal), kill()}. */
export async function startNode({ redisUrl, secret, adminKey, env = {} }) {
  const proc = launch(NODE_BIN, [], {
    AIHUB_LISTEN: '127.0.0.1:0',
    AIHUB_REDIS_URL: redisUrl,
    AIHUB_SECRET_KEY: secret,
    AIHUB_ADMIN_KEY: adminKey,
    AIHUB_THREADS: '2',
    AIHUB_REDIS_TIMEOUT_MS: '1000',
    AIHUB_CONFIG_POLL_MS: '200',
    AIHUB_DRAIN_TIMEOUT_S: '10',
    ...env,
  }, (line) => {
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+) \(client/.exec(line);
    return m ? Number(m[1]) : undefined;
  });
  const port = await Promise.race([proc.value, sleep(10_000).then(() => { throw new Error('node did not start'); })]);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, { what: 'node /readyz', timeoutMs: 15_000 });
  const admin = async (method, p, body, headers = {}) => {
    const r = await fetch(url + p, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
    });
    const text = await r.text();
    let json;
    try { json = JSON.parse(text); } catch { json = text; }
    return { status: r.status, body: json, headers: r.headers };
  };
  return {
    port,
    url,
    proc,
    lines: proc.lines,
    admin,
    stopRequested: false,
    stop(signal = 'SIGTERM') { this.stopRequested = true; return stopChild(proc, signal); },
    kill() { this.stopRequested = true; return stopChild(proc, 'SIGKILL'); },
    /** stops with SIGTERM and throws (with the output's tail) unless the node exited 0: catches sanitizer reports at exit */
    async stopClean() {
      this.stopRequested = true;
      const { code, signal } = await stopChild(proc, 'SIGTERM');
      if (code !== 0) throw new Error(`aihub-node exited with ${code ?? signal}:\n${proc.lines.slice(-60).join('\n')}`);
    },
  };
}

/**
 * redis-server, the mock and `nodes` aihub-node processes sharing them.
 * Returns {redis, mock, node, nodes, secret, adminKey, admin, setup(), stop()}.
 */
export async function startStack({ nodes = 1, env = {}, mockArgs = [], persist = false } = {}) {
  const redis = await startRedis({ persist });
  const mock = await startMock(mockArgs);
  const secret = randomBytes(32).toString('hex');
  const adminKey = `ak-${randomBytes(16).toString('hex')}`;
  const list = [];
  for (let i = 0; i < nodes; i++) list.push(await startNode({ redisUrl: redis.url, secret, adminKey, env }));
  const node = list[0];
  const stack = {
    redis, mock, node, nodes: list, secret, adminKey,
    admin: node.admin,
    addNode: async (extraEnv = {}) => {
      const n = await startNode({ redisUrl: redis.url, secret, adminKey, env: { ...env, ...extraEnv } });
      list.push(n);
      return n;
    },
    /** stops everything; fails when a node did not exit cleanly (e.g. a sanitizer report at exit) */
    async stop() {
      const results = await Promise.allSettled(list.map(async (n) => {
        const c = n.proc.child;
        if (c.exitCode === null && c.signalCode === null) return n.stopClean();
        if (!n.stopRequested && c.exitCode !== 0) {
          throw new Error(`aihub-node died during the test (${c.exitCode ?? c.signalCode}):\n${n.lines.slice(-60).join('\n')}`);
        }
        return null;
      }));
      await mock.stop().catch(() => {});
      await redis.stop().catch(() => {});
      const failed = results.filter((r) => r.status === 'rejected');
      if (failed.length) throw failed[0].reason;
    },
  };
  return stack;
}

/** Asserts an admin call's status, returning its body. */
export async function ok(promise, status = [200, 201]) {
  const r = await promise;
  const want = Array.isArray(status) ? status : [status];
  if (!want.includes(r.status)) throw new Error(`expected ${want.join('/')}, got ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Creates a channel on the mock with `accounts` account keys; returns {channel, accounts}. */
export async function addChannel(stack, { name = `ch-${randomBytes(4).toString('hex')}`, models = ['mock-gpt'], accounts = ['sk-mock-acct-0001'], ...rest } = {}) {
  const channel = await ok(stack.admin('POST', '/api/channels', {
    name, type: 'openai-compatible', base_url: stack.mock.url, models, ...rest,
  }));
  const accts = [];
  for (const key of accounts) {
    const spec = typeof key === 'string' ? { key } : key;
    accts.push(await ok(stack.admin('POST', `/api/channels/${channel.id}/accounts`, spec)));
  }
  return { channel, accounts: accts };
}

/** Creates a user and an API key; returns {user, key (object), secret (sk-...)}. */
export async function addUserKey(stack, keySpec = {}, userSpec = {}) {
  const user = await ok(stack.admin('POST', '/api/users', { name: `u-${randomBytes(4).toString('hex')}`, ...userSpec }));
  const key = await ok(stack.admin('POST', `/api/users/${user.id}/keys`, { name: 'test', ...keySpec }));
  return { user, key, secret: key.key };
}

/** Waits until every node of the stack serves config version >= the one in Redis. */
export async function waitConfig(stack) {
  const want = Number(await stack.redis.client.get('ah:cfg:ver')) || 0;
  for (const n of stack.nodes) {
    await waitFor(async () => {
      const m = await (await fetch(`${n.url}/metrics`, { headers: { authorization: `Bearer ${stack.adminKey}` } })).text();
      const v = /^aihub_config_version (\d+)/m.exec(m);
      return v && Number(v[1]) >= want;
    }, { what: `config version ${want} on ${n.url}`, timeoutMs: 5000 });
  }
}

/** POST /v1/chat/completions with a user key; returns {status, body, headers, text}. */
export async function chat(url, secret, body, headers = {}) {
  const r = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, body: json, headers: r.headers, text };
}

// A real redis-server per test file, and AiHub's Lua scripts loaded into it
// exactly as the node loads them.
//
//   const redis = await startRedis();           // {port, url, client, newClient, stop}
//   const shas = await loadScripts(redis.client);
//   const reply = await evalScript(redis.client, shas, 'admit', keys, args);
//   await redis.stop();
//
// Script building rule (the node does the same): for each
// lua-scripts/<name>.lua, the body sent to SCRIPT LOAD is the byte-for-byte
// concatenation of lua-scripts/lib/*.lua, sorted by file name, followed by
// the script itself.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Redis from 'ioredis';

/** The repository's lua-scripts directory. */
export const LUA_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'lua-scripts');

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const REDIS_SERVER = process.env.REDIS_SERVER || 'redis-server';

// Servers still running, killed if the test process exits without stop().
const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// One PING over a raw socket: resolves true on +PONG, false otherwise.
function pingOnce(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let buf = '';
    const done = (ok) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(500, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Start one redis-server on `port`; resolves with the child once it answers
// PING, rejects (with its output) if it exits or stays silent too long.
async function spawnOn(port, dir, persist = false) {
  const child = spawn(REDIS_SERVER, [
    '--port', String(port), '--bind', '127.0.0.1',
    '--save', '', '--dir', dir,
    ...(persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d) => { output = (output + d.toString()).slice(-4000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  child.on('exit', (code, signal) => { exited = { code, signal }; });
  const spawnError = new Promise((resolve) => child.on('error', resolve));
  running.add(child);

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const err = await Promise.race([spawnError, sleep(0).then(() => null)]);
    if (err) {
      running.delete(child);
      throw new Error(`cannot run ${REDIS_SERVER}: ${err.message}`);
    }
    if (exited) {
      running.delete(child);
      const e = new Error(`redis-server on port ${port} exited (${JSON.stringify(exited)}):\n${output}`);
      e.exitedEarly = true;
      throw e;
    }
    if (await pingOnce(port)) return child;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      running.delete(child);
      throw new Error(`redis-server on port ${port} not ready within ${READY_TIMEOUT_MS} ms:\n${output}`);
    }
    await sleep(25);
  }
}

/**
 * Start a private redis-server on a free port.
 * Returns {port, url, client, newClient, stop}: `client` is an ioredis
 * client on it; `newClient()` opens another (for SUBSCRIBE), closed by
 * stop(); stop() closes the clients, kills the server by its PID and waits
 * for it to exit.
 */
export async function startRedis({ persist = false } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aihub-redis-'));
  let child;
  let port;
  // The free port can be taken between our probe and the server's bind:
  // try a few ports before giving up.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      child = await spawnOn(port, dir, persist);
      break;
    } catch (e) {
      if (!e.exitedEarly || attempt >= 5) {
        rmSync(dir, { recursive: true, force: true });
        throw e;
      }
    }
  }

  const clients = [];
  const newClient = () => {
    const c = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
    clients.push(c);
    return c;
  };
  const client = newClient();
  await client.ping();

  let stopped = null;
  const stop = () => {
    stopped ??= (async () => {
      for (const c of clients) c.disconnect();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      running.delete(child);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  // Outage simulation: crash() kills the server (SIGKILL, by its PID) and
  // keeps port and folder; restart() starts a new one on the same port.
  const crash = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    running.delete(child);
  };
  const restart = async () => {
    child = await spawnOn(port, dir, persist);
  };

  return { port, url: `redis://127.0.0.1:${port}/0`, client, newClient, stop, crash, restart };
}

/** File names of lua-scripts/lib/*.lua in the order they are prepended. */
export function libFiles(luaDir = LUA_DIR) {
  return readdirSync(path.join(luaDir, 'lib'))
    .filter((f) => f.endsWith('.lua'))
    .sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
}

/** Names of the scripts (lua-scripts/<name>.lua), sorted. */
export function scriptNames(luaDir = LUA_DIR) {
  return readdirSync(luaDir)
    .filter((f) => f.endsWith('.lua'))
    .map((f) => f.slice(0, -'.lua'.length))
    .sort();
}

/** The exact text the node sends to SCRIPT LOAD for script `name`. */
export function buildScript(name, luaDir = LUA_DIR) {
  const lib = libFiles(luaDir)
    .map((f) => readFileSync(path.join(luaDir, 'lib', f)));
  const body = readFileSync(path.join(luaDir, `${name}.lua`));
  return Buffer.concat([...lib, body]).toString('utf8');
}

/** SHA1 (hex) Redis gives to a script text. */
export function scriptSha(text) {
  return createHash('sha1').update(text).digest('hex');
}

/** SCRIPT LOAD every script; returns {name: sha}. */
export async function loadScripts(client, luaDir = LUA_DIR) {
  const shas = {};
  for (const name of scriptNames(luaDir)) {
    shas[name] = await client.script('LOAD', buildScript(name, luaDir));
  }
  return shas;
}

/** EVALSHA the script `name` with the given KEYS and ARGV (strings). */
export async function evalScript(client, shas, name, keys = [], args = []) {
  const sha = shas[name];
  if (!sha) throw new Error(`no script named ${name} was loaded`);
  return client.evalsha(sha, keys.length, ...keys, ...args.map(String));
}

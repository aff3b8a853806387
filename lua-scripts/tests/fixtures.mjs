// Shared set-up of the script tests: one redis-server per test file, the
// scripts loaded as the node loads them, and small builders for the data
// model and the scripts' calls. Not a test file itself (the runner only
// picks *.test.mjs).
//
// AH_LUA_DIR (optional) loads the scripts from another directory laid out
// like lua-scripts/ (a copy with one line mutated, to prove that a test can
// fail); loader.test.mjs always checks the repository's own files.

import { after, before, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LUA_DIR, evalScript, libFiles, loadScripts, startRedis } from '../../tests/lib/redis.mjs';

/** The directory the scripts are loaded from. */
export const SCRIPTS_DIR = process.env.AH_LUA_DIR || LUA_DIR;

/**
 * Register before/after hooks for a test file and return a handle whose
 * fields are filled once the server is up: {redis, client, shas, run}.
 * Every test starts from an empty database (scripts stay loaded).
 */
export function useRedis() {
  const h = {};
  before(async () => {
    h.redis = await startRedis();
    h.client = h.redis.client;
    h.shas = await loadScripts(h.client, SCRIPTS_DIR);
    h.run = (name, keys, args) => evalScript(h.client, h.shas, name, keys, args);
  });
  beforeEach(async () => {
    await h.client.flushall();
    assert.equal(await h.client.dbsize(), 0);
  });
  after(async () => { await h.redis?.stop(); });
  return h;
}

/**
 * EVAL of lib/*.lua (in load order) followed by `body`: runs the library's
 * helpers directly, e.g. body "return {cal_ids(tonumber(ARGV[1]))}".
 */
export function evalWithLib(client, body, keys = [], args = []) {
  const lib = libFiles(SCRIPTS_DIR).map((f) => readFileSync(path.join(SCRIPTS_DIR, 'lib', f), 'utf8')).join('');
  return client.eval(lib + body, keys.length, ...keys, ...args.map(String));
}

export const acctKey = (id) => `ah:acct:${id}`;

/**
 * KEYS and ARGV tail for candidates [[id, priority, weight, rpm?, tpm?], ...]:
 * the 5-tuples of admit and failover (rpm and tpm default to 0 = none).
 */
export function candidates(list) {
  return {
    keys: list.map(([id]) => acctKey(id)),
    args: [String(list.length), ...list.flatMap(([id, p, w, rpm = 0, tpm = 0]) =>
      [id, String(p), String(w), String(rpm), String(tpm)])],
  };
}

/** The server's clock in unix ms. */
export async function serverNowMs(client) {
  const [s, us] = await client.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

/** The server's clock in unix s. */
export async function serverNowS(client) {
  return Number((await client.time())[0]);
}

/** A valid key "k1" (hash "h1") of enabled user "u1"; `key`/`user` override fields. */
export async function seedKeyAndUser(client, { key = {}, user = {} } = {}) {
  await client.hset('ah:user:u1', { id: 'u1', name: 'alice', enabled: '1', balance: '0', ...user });
  await client.hset('ah:key:h1', { id: 'k1', user_id: 'u1', name: 'main', enabled: '1', ...key });
  await client.set('ah:keyid:k1', 'h1');
}

let leaseSeq = 0;
/** A fresh lease id. */
export const newLease = () => `lease-${process.pid}-${++leaseSeq}`;

/**
 * Call admit (ARGV as admit.lua documents it) for key hash "h1" by default.
 * Every option has a default; the lease is fresh unless given. Returns the
 * reply; the lease used is in `admit.lastLease`.
 */
export function admit(h, {
  model = 'gpt-4o', r = '0', cands = [['a', 0, 1]], keyKey = 'ah:key:h1', lease = newLease(),
  hold = 0, tokens = 0, ttl = 60_000, globalRpm = 0, globalTpm = 0, requestId = 'req-1',
  stream = '0', clientIp = '10.0.0.1', logMax = 1000,
} = {}) {
  const c = candidates(cands);
  admit.lastLease = lease;
  return h.run('admit', [keyKey, ...c.keys], [model, String(r), lease, String(hold), String(tokens), String(ttl),
    String(globalRpm), String(globalTpm), requestId, stream, clientIp, String(logMax), ...c.args]);
}

/** An admit reply with no key/user limits: rate-limit fields all 0. */
export const okReply = (acct, kid = 'k1', uid = 'u1') => ['ok', acct, kid, uid, 0, 0, 0, 0, 0, 0];

/** Call failover (ARGV as failover.lua documents it). */
export function failover(h, failed, {
  action = 'cool', secs = 300, reason = 'upstream 500', status = 500, r = '0', lease = 'none-lease',
  tokens = 0, cands = [['next', 0, 1]],
} = {}) {
  const c = candidates(cands);
  return h.run('failover', [acctKey(failed), ...c.keys],
    [action, String(secs), reason, String(status), r, lease, String(tokens), ...c.args]);
}

/**
 * Call settle (ARGV as settle.lua documents it) on account `acct`;
 * `fields` are the log entry's extra pairs (request_id first, as the node
 * sends them).
 */
export function settle(h, acct, {
  lease = 'none-lease', outcome = 'ok', status = 200, latency = 100, cost = 0, tokens = 0, logMax = 1000,
  model = 'gpt-4o', channel = 'ch1', clientStatus = 200, pt = 0, ct = 0,
  fields = { request_id: 'req-1', account_id: acct, stream: '0', attempts: '1' },
} = {}) {
  return h.run('settle', [acctKey(acct)], [lease, outcome, String(status), String(latency), String(cost),
    String(tokens), String(logMax), model, channel, String(clientStatus), String(pt), String(ct),
    ...Object.entries(fields).flat()]);
}

/** Call credits for user `uid` (idem "" = no Idempotency-Key). */
export function credits(h, uid, delta, reason = 'test', idem = '') {
  return h.run('credits', [`ah:user:${uid}`, `ah:ledger:${uid}`, idem === '' ? '' : `ah:idem:${uid}:${idem}`],
    [uid, String(delta), reason, idem]);
}

/**
 * The money fields of a user as numbers (absent = 0), after checking the
 * invariant credited = balance + held + spent.
 */
export async function money(client, uid = 'u1') {
  const [balance, held, spent, credited] = (await client.hmget(`ah:user:${uid}`, 'balance', 'held', 'spent', 'credited'))
    .map((v) => Number(v ?? 0));
  assert.equal(credited, balance + held + spent,
    `invariant credited = balance + held + spent broken: ${JSON.stringify({ balance, held, spent, credited })}`);
  assert.ok(balance >= 0, `balance ${balance} below 0`);
  assert.ok(held >= 0, `held ${held} below 0`);
  return { balance, held, spent, credited };
}

/** Entries of a stream as [{id, ...fields}] (oldest first). */
export async function readStream(client, key) {
  return (await client.xrange(key, '-', '+')).map(([id, flat]) => ({ id, ...flatToObject(flat) }));
}

/** The user's ledger, oldest first, without the entry ids. */
export async function ledger(client, uid = 'u1') {
  return (await readStream(client, `ah:ledger:${uid}`)).map(({ id, ...rest }) => rest);
}

/** The request log, oldest first, without the entry ids. */
export async function logs(client) {
  return (await readStream(client, 'ah:logs')).map(({ id, ...rest }) => rest);
}

/** UTC calendar ids of a unix second as cal_ids gives them: [day, hour, month]. */
export function calIds(sec) {
  const d = new Date(sec * 1000);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  const day = `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}`;
  return [day, day + p(d.getUTCHours()), day.slice(0, 6)];
}

/** Deterministic PRNG (mulberry32): returns a function giving [0, 1). */
export function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll `cond` (async) every 25 ms until true; fail after `ms`. */
export async function waitFor(cond, ms = 5000, what = 'condition') {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    assert.ok(Date.now() < deadline, `${what} not met within ${ms} ms`);
    await sleep(25);
  }
}

/**
 * Everything in the database, by key, read according to each key's type
 * (hash as an object, zset as [member, score, ...], string, set, list,
 * stream as [[id, fields], ...]), so a test can prove that a call changed
 * nothing.
 */
export async function dumpDb(client) {
  const out = {};
  for (const k of (await client.keys('*')).sort()) {
    const type = await client.type(k);
    if (type === 'hash') out[k] = { hash: await client.hgetall(k) };
    else if (type === 'zset') out[k] = { zset: await client.zrange(k, 0, -1, 'WITHSCORES') };
    else if (type === 'string') out[k] = { string: await client.get(k) };
    else if (type === 'set') out[k] = { set: (await client.smembers(k)).sort() };
    else if (type === 'list') out[k] = { list: await client.lrange(k, 0, -1) };
    else if (type === 'stream') out[k] = { stream: await client.xrange(k, '-', '+') };
    else out[k] = { type };
  }
  return out;
}

/** Run `call` (a function returning a promise) and check the database is unchanged. */
export async function unchanged(client, call) {
  const before = await dumpDb(client);
  const result = await call();
  assert.deepEqual(await dumpDb(client), before, 'the call must not write');
  return result;
}

/** Check that `call` fails with a Redis error matching `re` and writes nothing. */
export async function rejectsUnchanged(client, call, re) {
  const before = await dumpDb(client);
  await assert.rejects(call(), re);
  assert.deepEqual(await dumpDb(client), before, 'a malformed call must not write');
}

// The keys a refusal of admit may write: the request log and the stats.
const REFUSAL_WRITES = /^ah:(logs$|stats:)/;

/**
 * Run an admit `call` expected to be refused with `expected` (the reply, or
 * a function that checks it): nothing but the request log and the stats may
 * change. With
 * `logged` (a refusal of a known key), exactly one log entry must have been
 * appended, whose error is the refusal's code; without it, none.
 */
export async function refusedOnly(client, call, expected, { logged = true } = {}) {
  const strip = (db) => Object.fromEntries(Object.entries(db).filter(([k]) => !REFUSAL_WRITES.test(k)));
  const before = await dumpDb(client);
  const nlog = await client.xlen('ah:logs');
  const reply = await call();
  if (typeof expected === 'function') {
    assert.equal(reply[0], 'err', `expected a refusal, got ${JSON.stringify(reply)}`);
    expected(reply);
  } else {
    assert.deepEqual(reply, expected);
  }
  assert.deepEqual(strip(await dumpDb(client)), strip(before), 'a refusal must write nothing but its log entry and stats');
  const entries = await readStream(client, 'ah:logs');
  if (logged) {
    assert.equal(entries.length, nlog + 1, 'a refusal of a known key appends one log entry');
    assert.equal(entries.at(-1).error, reply[1]);
  } else {
    assert.equal(entries.length, nlog, 'no log entry expected');
  }
  return reply;
}

/** A flat [field, value, ...] reply as an object. */
export function flatToObject(flat) {
  const o = {};
  for (let i = 0; i < flat.length; i += 2) o[flat[i]] = flat[i + 1];
  return o;
}

/** KEYS and ARGV of record_put for user `id`, as the admin API sends them. */
export function userPut(id, name, mode = 'create', fields = {}) {
  return {
    keys: [`ah:user:${id}`, 'ah:user_names', 'ah:users'],
    args: [mode, id, name, ...Object.entries(fields).flat()],
  };
}

/** KEYS and ARGV of key_create for key `kid` (hash `hmac`) of user `uid`. */
export function keyCreate(kid, hmac, uid, fields = {}) {
  return {
    keys: [`ah:key:${hmac}`, `ah:keyid:${kid}`, `ah:user:${uid}:keys`, `ah:user:${uid}`],
    args: [kid, hmac, ...Object.entries({ user_id: uid, name: kid, enabled: '1', ...fields }).flat()],
  };
}

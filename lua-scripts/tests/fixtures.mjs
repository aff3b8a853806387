// Shared set-up of the script tests: one redis-server per test file, the
// scripts loaded as the node loads them, and small builders for the data
// model. Not a test file itself (the runner only picks *.test.mjs).

import { after, before, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { evalScript, loadScripts, startRedis } from '../../tests/lib/redis.mjs';

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
    h.shas = await loadScripts(h.client);
    h.run = (name, keys, args) => evalScript(h.client, h.shas, name, keys, args);
  });
  beforeEach(async () => {
    await h.client.flushall();
    assert.equal(await h.client.dbsize(), 0);
  });
  after(async () => { await h.redis?.stop(); });
  return h;
}

export const acctKey = (id) => `ah:acct:${id}`;

/** KEYS and ARGV tail for candidates [[id, priority, weight], ...]. */
export function candidates(list) {
  return {
    keys: list.map(([id]) => acctKey(id)),
    args: [String(list.length), ...list.flatMap(([id, p, w]) => [id, String(p), String(w)])],
  };
}

/** The server's clock in unix ms. */
export async function serverNowMs(client) {
  const [s, us] = await client.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

/** A valid key "k1" of enabled user "u1"; `key`/`user` override fields. */
export async function seedKeyAndUser(client, { key = {}, user = {} } = {}) {
  await client.hset('ah:user:u1', { id: 'u1', name: 'alice', enabled: '1', balance: '0', ...user });
  await client.hset('ah:key:h1', { id: 'k1', user_id: 'u1', name: 'main', enabled: '1', ...key });
}

/** Call admit for key hash "h1" with the given model, r and candidates. */
export function admit(h, { model = 'gpt-4o', r = '0', cands = [['a', 0, 1]], keyKey = 'ah:key:h1' } = {}) {
  const c = candidates(cands);
  return h.run('admit', [keyKey, ...c.keys], [model, String(r), ...c.args]);
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

/**
 * Everything in the database, by key, read according to each key's type
 * (hash as an object, zset as [member, score, ...], string, set, list), so
 * a test can prove that a call changed nothing.
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

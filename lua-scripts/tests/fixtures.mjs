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

/**
 * Run an admit `call` expected to be refused with `expected` (the reply, or
 * a function that checks it). A refusal counts nothing: it may append its
 * log entry and drop buckets that left a rate window (ah:lim:*, a second at
 * most server now - 61 s), keeping that window's rs, ts, tr and o true to the
 * buckets left (or deleting the window when none is left); every other key,
 * and every bucket it keeps, stays as it was. With `logged` (a refusal of a
 * known key), exactly one log entry must have been appended, whose error is
 * the refusal's code; without it, none.
 */
export async function refusedOnly(client, call, expected, { logged = true } = {}) {
  const before = await dumpDb(client);
  const nlog = await client.xlen('ah:logs');
  const reply = await call();
  const t1 = await serverNowMs(client);
  if (typeof expected === 'function') {
    assert.equal(reply[0], 'err', `expected a refusal, got ${JSON.stringify(reply)}`);
    expected(reply);
  } else {
    assert.deepEqual(reply, expected);
  }
  const after = await dumpDb(client);
  const isLim = (k) => k.startsWith('ah:lim:');
  const strip = (db) => Object.fromEntries(Object.entries(db).filter(([k]) => k !== 'ah:logs' && !isLim(k)));
  assert.deepEqual(strip(after), strip(before), 'a refusal must write nothing but its log entry');
  const lastGone = Math.floor(t1 / 1000) - 61;
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)].filter(isLim))) {
    assert.ok(before[k], `a refusal must not create the window ${k}`);
    const b = logicalWindow(before[k].hash);
    const a = after[k] ? logicalWindow(after[k].hash) : undefined;
    const bucketsOf = (hash) => Object.keys(hash ?? {}).filter((f) => BUCKET_FIELD.test(f));
    for (const f of bucketsOf(a)) assert.equal(a[f], b[f], `${k} ${f}: a refusal must not count`);
    const dropped = bucketsOf(b).filter((f) => a?.[f] === undefined);
    for (const f of dropped) {
      assert.ok(Number(f.slice(1)) <= lastGone, `${k} ${f}: a refusal dropped a bucket still in the window`);
    }
    if (a === undefined) continue; // the whole window left (or was reset)
    if (dropped.length === 0) {
      assert.deepEqual(a, b, `${k}: nothing dropped, so nothing may change`);
      continue;
    }
    const lost = (p) => dropped.filter((f) => f[0] === p).reduce((x, f) => x + Number(b[f]), 0);
    assert.equal(Number(a.rs), Number(b.rs) - lost('r'), `${k}: rs must lose exactly the dropped requests`);
    assert.equal(Number(a.ts), Number(b.ts) - lost('t'), `${k}: ts must lose exactly the dropped tokens`);
    assert.ok(Number(a.tr) <= lastGone, `${k}: tr ${a.tr} past the window`);
    await checkWindow(client, k);
  }
  const entries = await readStream(client, 'ah:logs');
  if (logged) {
    assert.equal(entries.length, nlog + 1, 'a refusal of a known key appends one log entry');
    assert.equal(entries.at(-1).error, reply[1]);
  } else {
    assert.equal(entries.length, nlog, 'no log entry expected');
  }
  return reply;
}

// --- rate windows (lib/limits.lua) ---------------------------------------

/** The window of a limiter: ah:lim:<scope>:<id>. */
export const limKey = (scope, id) => `ah:lim:${scope}:${id}`;

const BUCKET_FIELD = /^[rt]-?\d+$/;

/**
 * A window hash as the buckets it means: the newest bucket, kept in the
 * fields cs/cr/ct, shown as r<cs>/t<cs> like the older ones.
 */
export function logicalWindow(hash) {
  if (!hash || hash.cs === undefined) return hash;
  const { cs, cr, ct, ...rest } = hash;
  return { ...rest, [`r${cs}`]: cr, [`t${cs}`]: ct };
}

/**
 * Wait (at most 3 s) until the server's clock is early in a second
 * (ms % 1000 < maxMs) and return it in unix ms, so that a test planting
 * buckets relative to this second runs its next calls in the same second.
 */
export async function earlyInSecond(client, maxMs = 300) {
  const deadline = Date.now() + 3000;
  for (;;) {
    const now = await serverNowMs(client);
    if (now % 1000 < maxMs) return now;
    assert.ok(Date.now() < deadline, 'the server clock never came early in a second');
    await sleep(1000 - (now % 1000) + 5);
  }
}

/**
 * Plant window `key` as lib/limits.lua would leave it: `buckets` are
 * [second, requests, tokens] with seconds relative to `at` (default: the
 * server's current second); rs and ts are their sums, o the oldest; tr (an
 * absolute second) defaults to the lower of at - 61 and just below the
 * oldest bucket. The window gets a TTL of `ttl` s. Replaces any earlier
 * state; returns `at`.
 */
export async function plantWindow(client, key, buckets, { at, tr, ttl = 63 } = {}) {
  const s = at ?? await serverNowS(client);
  const secs = buckets.map(([rel]) => s + rel);
  const oldest = secs.length ? Math.min(...secs) : null;
  const newest = secs.length ? Math.max(...secs) : null;
  // in the order the scripts create them: the sums and the newest bucket first
  const fields = {
    rs: String(buckets.reduce((x, [, r]) => x + r, 0)),
    ts: String(buckets.reduce((x, [, , t]) => x + t, 0)),
  };
  for (const [rel, r, t] of buckets) {
    if (s + rel === newest) Object.assign(fields, { cs: String(newest), cr: String(r), ct: String(t) });
  }
  fields.tr = String(tr ?? Math.min(s - 61, oldest === null ? Infinity : oldest - 1));
  if (oldest !== null) fields.o = String(oldest);
  for (const [rel, r, t] of buckets) {
    if (s + rel === newest) continue;
    fields[`r${s + rel}`] = String(r);
    fields[`t${s + rel}`] = String(t);
  }
  await client.del(key);
  await client.hset(key, fields);
  await client.expire(key, ttl);
  return s;
}

/**
 * Read window `key`: null when absent, else {rs, ts, tr, o, buckets, pttl}
 * with buckets [[second, requests, tokens], ...] oldest first (o null when
 * absent). With `rel`, seconds (tr, o and the buckets') are given relative
 * to that second.
 */
export async function readWindow(client, key, rel = 0) {
  const hash = logicalWindow(await client.hgetall(key));
  if (Object.keys(hash).length === 0) return null;
  const secs = [...new Set(Object.keys(hash).filter((f) => BUCKET_FIELD.test(f)).map((f) => Number(f.slice(1))))]
    .sort((x, y) => x - y);
  const num = (v) => (v === undefined ? undefined : Number(v));
  return {
    rs: num(hash.rs), ts: num(hash.ts), tr: num(hash.tr) - rel, o: hash.o === undefined ? null : Number(hash.o) - rel,
    buckets: secs.map((sec) => [sec - rel, num(hash[`r${sec}`]), num(hash[`t${sec}`])]),
    pttl: await client.pttl(key),
  };
}

/**
 * Check the invariant of window `key` and return it (readWindow): only the
 * fields rs, ts, tr, o and buckets; every bucket has both fields, at least one
 * request, lies after tr and not in the future; rs and ts are the sums of the
 * buckets; o is the oldest bucket's second (absent iff there is none); the
 * window expires, and not before its newest bucket leaves ((newest + 61) s).
 */
export async function checkWindow(client, key) {
  const nowMs = await serverNowMs(client);
  const hash = await client.hgetall(key);
  const w = await readWindow(client, key);
  assert.ok(w, `window ${key} missing`);
  const where = `${key} ${JSON.stringify(hash)}`;
  for (const f of Object.keys(hash)) {
    assert.ok(['rs', 'ts', 'tr', 'o', 'cs', 'cr', 'ct'].includes(f) || BUCKET_FIELD.test(f), `${where}: unknown field ${f}`);
  }
  // the newest bucket is the one in cs/cr/ct, the older ones are fields
  const older = Object.keys(hash).filter((f) => BUCKET_FIELD.test(f)).map((f) => Number(f.slice(1)));
  assert.equal(hash.cs !== undefined, w.buckets.length > 0, `${where}: cs iff there are buckets`);
  assert.ok(hash.cs === undefined || (hash.cr !== undefined && hash.ct !== undefined), `${where}: cs without cr/ct`);
  for (const sec of older) assert.ok(sec < Number(hash.cs), `${where}: bucket ${sec} not older than cs ${hash.cs}`);
  for (const f of ['rs', 'ts', 'tr']) assert.match(hash[f] ?? '', /^-?\d+$/, `${where}: ${f}`);
  for (const [sec, r, t] of w.buckets) {
    assert.ok(Number.isInteger(r) && r >= 1, `${where}: r${sec} must count at least one request`);
    assert.ok(Number.isInteger(t) && t >= 0, `${where}: t${sec} must be an integer >= 0`);
    assert.ok(sec > w.tr, `${where}: bucket ${sec} at or before tr ${w.tr}`);
    assert.ok(sec <= Math.floor(nowMs / 1000), `${where}: bucket ${sec} in the future`);
  }
  assert.equal(w.rs, w.buckets.reduce((x, [, r]) => x + r, 0), `${where}: rs is not the sum of the buckets`);
  assert.equal(w.ts, w.buckets.reduce((x, [, , t]) => x + t, 0), `${where}: ts is not the sum of the buckets`);
  assert.equal(w.o, w.buckets.length ? w.buckets[0][0] : null, `${where}: o is not the oldest bucket`);
  assert.ok(w.pttl > 0, `${where}: the window must expire (PTTL ${w.pttl})`);
  if (w.buckets.length) {
    const newest = w.buckets.at(-1)[0];
    // nowMs was read before the PTTL: allow the time between the two reads
    assert.ok(nowMs + w.pttl >= (newest + 61) * 1000 - 50, `${where}: expires before its newest bucket leaves`);
  }
  return w;
}

/**
 * Check every window in the database (checkWindow) and that none of the
 * retired keys (ah:rpm:*, ah:tpm:*, ah:inflight:*) exists; returns the
 * windows' keys, sorted.
 */
export async function checkWindows(client) {
  for (const old of ['ah:rpm:*', 'ah:tpm:*', 'ah:inflight:*']) {
    assert.deepEqual(await client.keys(old), [], `no ${old} keys any more`);
  }
  const keys = (await client.keys('ah:lim:*')).sort();
  for (const k of keys) await checkWindow(client, k);
  return keys;
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

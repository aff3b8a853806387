// Rate limits of admit (lib/limits.lua): RPM as an exact sliding window per
// key, user and gateway; TPM as 1-second buckets over 61 s with the estimate
// corrected at settlement; requests in flight as leases scored by expiry;
// the tightest key/user windows in the success reply. Windows are moved in
// time by writing their ZSET scores and bucket seconds directly.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  admit, failover, okReply, refusedOnly, seedKeyAndUser, serverNowMs, serverNowS, settle, useRedis, waitFor,
} from './fixtures.mjs';

const h = useRedis();

// A second key k2 (hash h2) of user u1, and user u2 with key k3 (hash h3).
async function moreKeys({ k2 = {}, u2 = {} } = {}) {
  await h.client.hset('ah:key:h2', { id: 'k2', user_id: 'u1', enabled: '1', ...k2 });
  await h.client.set('ah:keyid:k2', 'h2');
  await h.client.hset('ah:user:u2', { id: 'u2', enabled: '1', ...u2 });
  await h.client.hset('ah:key:h3', { id: 'k3', user_id: 'u2', enabled: '1' });
  await h.client.set('ah:keyid:k3', 'h3');
}

// Admit expected to be refused for a rate limit; the retry must lie in
// [lo(t1), lo(t0)] where expectedAt(nowMs) gives the exact value at a
// server time nowMs, t0/t1 the server times around the call.
async function limitedAt(opts, expectedAt) {
  const t0 = await serverNowMs(h.client);
  let ms;
  await refusedOnly(h.client, () => admit(h, opts), (reply) => {
    assert.equal(reply.length, 3);
    assert.equal(reply[1], 'rate_limit_exceeded');
    ms = reply[2];
  });
  const t1 = await serverNowMs(h.client);
  const lo = expectedAt(t1);
  const hi = expectedAt(t0);
  assert.ok(ms >= lo && ms <= hi, `retry ${ms} not in [${lo}, ${hi}]`);
  return ms;
}

const sumOf = (hash) => Object.values(hash).reduce((x, v) => x + Number(v), 0);
// The second of the oldest bucket of a TPM window.
const oldestSec = async (key) => Math.min(...Object.keys(await h.client.hgetall(key)).map(Number));

// --- RPM ---------------------------------------------------------------

test('RPM per key: exactly N admissions in the window, the next refused until the oldest leaves', async () => {
  await seedKeyAndUser(h.client, { key: { rpm: '3' } });
  for (let i = 0; i < 3; i++) {
    const reply = await admit(h, { lease: `R${i}` });
    assert.deepEqual(reply.slice(0, 6), ['ok', 'a', 'k1', 'u1', 3, 2 - i], `admission ${i}`);
  }
  // R0 admitted 59 s ago: room again 1 s from now (+1 ms)
  const now = await serverNowMs(h.client);
  await h.client.zadd('ah:rpm:key:k1', 'XX', now - 59_000, 'R0');
  await limitedAt({ lease: 'R3' }, (t) => now - 59_000 + 60_000 + 1 - t);
  await limitedAt({ lease: 'R3' }, (t) => now + 1001 - t);
  // once it is more than 60 s old it no longer counts
  await h.client.zadd('ah:rpm:key:k1', 'XX', now - 60_001, 'R0');
  assert.equal((await admit(h, { lease: 'R3' }))[0], 'ok');
  assert.deepEqual((await h.client.zrange('ah:rpm:key:k1', 0, -1)).sort(), ['R1', 'R2', 'R3']);
  // rpm 0 or absent: no limit
  await h.client.hset('ah:key:h1', 'rpm', '0');
  for (let i = 0; i < 5; i++) assert.equal((await admit(h))[0], 'ok');
});

test('RPM over its limit (lowered meanwhile): the retry waits for as many as must leave', async () => {
  await seedKeyAndUser(h.client, { key: { rpm: '2' } });
  const now = await serverNowMs(h.client);
  await h.client.zadd('ah:rpm:key:k1', now - 50_000, 'm1', now - 40_000, 'm2', now - 30_000, 'm3');
  // 3 in the window, limit 2: m1 and m2 must leave
  await limitedAt({}, (t) => now - 40_000 + 60_001 - t);
});

test('RPM per user counts every key of the user', async () => {
  await seedKeyAndUser(h.client, { user: { rpm: '2' } });
  await moreKeys();
  assert.equal((await admit(h, { keyKey: 'ah:key:h1' }))[0], 'ok');
  assert.equal((await admit(h, { keyKey: 'ah:key:h2' }))[0], 'ok');
  const now = await serverNowMs(h.client);
  const [oldest] = await h.client.zrange('ah:rpm:user:u1', 0, 0, 'WITHSCORES').then((r) => [Number(r[1])]);
  assert.ok(oldest <= now);
  for (const keyKey of ['ah:key:h1', 'ah:key:h2']) await limitedAt({ keyKey }, (t) => oldest + 60_001 - t);
  // another user is not limited
  assert.equal((await admit(h, { keyKey: 'ah:key:h3' }))[0], 'ok');
  assert.equal(await h.client.zcard('ah:rpm:user:u1'), 2);
  assert.equal(await h.client.zcard('ah:rpm:key:k1'), 1);
});

test('RPM of the whole gateway counts every user; it is not in the reply', async () => {
  await seedKeyAndUser(h.client);
  await moreKeys();
  assert.deepEqual(await admit(h, { globalRpm: 2 }), okReply('a'));
  assert.deepEqual(await admit(h, { keyKey: 'ah:key:h3', globalRpm: 2 }), okReply('a', 'k3', 'u2'));
  const [, score] = await h.client.zrange('ah:rpm:global:all', 0, 0, 'WITHSCORES');
  await limitedAt({ globalRpm: 2 }, (t) => Number(score) + 60_001 - t);
  await limitedAt({ keyKey: 'ah:key:h3', globalRpm: 2 }, (t) => Number(score) + 60_001 - t);
  assert.equal((await admit(h, { globalRpm: 3 }))[0], 'ok');
  assert.equal((await admit(h, { globalRpm: 0 }))[0], 'ok');
  assert.equal(await h.client.zcard('ah:rpm:global:all'), 4);
});

test('several limits failing: the retry is the longest wait', async () => {
  await seedKeyAndUser(h.client, { key: { rpm: '1' }, user: { rpm: '1' } });
  const now = await serverNowMs(h.client);
  await h.client.zadd('ah:rpm:key:k1', now - 50_000, 'k');
  await h.client.zadd('ah:rpm:user:u1', now - 20_000, 'u');
  await limitedAt({}, (t) => now + 40_001 - t);
  await h.client.zadd('ah:rpm:global:all', now - 5_000, 'g');
  await limitedAt({ globalRpm: 1 }, (t) => now + 55_001 - t);
  // whatever the order in which they are checked (key, user, gateway)
  await h.client.zadd('ah:rpm:key:k1', 'XX', now - 1_000, 'k');
  await limitedAt({ globalRpm: 1 }, (t) => now + 59_001 - t);
  await h.client.hset('ah:key:h1', 'tpm', '10');
  await h.client.hset('ah:tpm:key:k1', String(Math.floor(now / 1000)), '10');
  await limitedAt({ tokens: 1 }, (t) => Math.max(now + 59_001, (Math.floor(now / 1000) + 61) * 1000) - t);
});

// --- TPM ---------------------------------------------------------------

test('TPM per key: the estimate is counted, up to exactly the limit; one token more is refused', async () => {
  await seedKeyAndUser(h.client, { key: { tpm: '1000' } });
  const r1 = await admit(h, { tokens: 600 });
  assert.deepEqual(r1.slice(7, 9), [1000, 400]);
  const r2 = await admit(h, { tokens: 400 });
  assert.deepEqual(r2.slice(7, 9), [1000, 0]);
  assert.equal(sumOf(await h.client.hgetall('ah:tpm:key:k1')), 1000);
  const first = await oldestSec('ah:tpm:key:k1');
  await limitedAt({ tokens: 1 }, (t) => (first + 61) * 1000 - t);
  // an admission without tokens still fits
  assert.equal((await admit(h, { tokens: 0 }))[0], 'ok');
  // larger than the whole budget: refused with a full window
  await h.client.del('ah:tpm:key:k1');
  await refusedOnly(h.client, () => admit(h, { tokens: 1001 }), ['err', 'rate_limit_exceeded', 60000]);
});

test('TPM retry: buckets leave the window oldest first, 61 s after their second', async () => {
  await seedKeyAndUser(h.client, { key: { tpm: '1000' } });
  const s = await serverNowS(h.client);
  await h.client.hset('ah:tpm:key:k1', String(s - 50), '500', String(s - 10), '400');
  // 900 + 200 > 1000: the bucket of s-50 must leave, at (s - 50 + 61) s
  await limitedAt({ tokens: 200 }, (t) => (s + 11) * 1000 - t);
  // 100 fits exactly; the reply's reset is when the oldest bucket leaves
  const t0 = await serverNowMs(h.client);
  const ok = await admit(h, { tokens: 100 });
  const t1 = await serverNowMs(h.client);
  assert.deepEqual(ok.slice(7, 9), [1000, 0]);
  assert.ok(ok[9] >= (s + 11) * 1000 - t1 && ok[9] <= (s + 11) * 1000 - t0, `reset ${ok[9]}`);
  // 600 more: after s-50 leaves, 500 remain and 500 + 600 > 1000; after s-10 leaves it fits
  await limitedAt({ tokens: 600 }, (t) => (s + 51) * 1000 - t);
});

test('TPM buckets older than 60 s do not count and are dropped', async () => {
  await seedKeyAndUser(h.client, { key: { tpm: '100' } });
  const s = await serverNowS(h.client);
  await h.client.hset('ah:tpm:key:k1', String(s - 61), '100', String(s - 70), '100', String(s - 60), '30');
  const reply = await admit(h, { tokens: 70 });
  assert.deepEqual(reply.slice(0, 2), ['ok', 'a']);
  assert.deepEqual(reply.slice(7, 9), [100, 0]);
  const buckets = await h.client.hgetall('ah:tpm:key:k1');
  assert.equal(buckets[String(s - 61)], undefined);
  assert.equal(buckets[String(s - 70)], undefined);
  assert.equal(sumOf(buckets), 100);
});

test('TPM per user and of the gateway', async () => {
  await seedKeyAndUser(h.client, { user: { tpm: '100' } });
  await moreKeys();
  assert.equal((await admit(h, { keyKey: 'ah:key:h1', tokens: 60 }))[0], 'ok');
  const first = await oldestSec('ah:tpm:user:u1');
  await limitedAt({ keyKey: 'ah:key:h2', tokens: 60 }, (t) => (first + 61) * 1000 - t);
  assert.equal((await admit(h, { keyKey: 'ah:key:h2', tokens: 40 }))[0], 'ok');
  assert.equal((await admit(h, { keyKey: 'ah:key:h3', tokens: 60 }))[0], 'ok', 'u2 has no limit');
  // the gateway has counted 160 tokens
  assert.equal(sumOf(await h.client.hgetall('ah:tpm:global:all')), 160);
  const g = await oldestSec('ah:tpm:global:all');
  const gsum = sumOf(await h.client.hgetall('ah:tpm:global:all'));
  assert.equal(gsum, 160);
  // 160 + 41 > 200; the buckets may span two seconds: wait for enough of them
  const buckets = Object.entries(await h.client.hgetall('ah:tpm:global:all')).map(([k, v]) => [Number(k), Number(v)])
    .sort((x, y) => x[0] - y[0]);
  let left = gsum;
  let leave = null;
  for (const [sec, v] of buckets) {
    left -= v;
    if (left + 41 <= 200) { leave = sec; break; }
  }
  assert.ok(leave >= g);
  await limitedAt({ keyKey: 'ah:key:h3', tokens: 41, globalTpm: 200 }, (t) => (leave + 61) * 1000 - t);
  assert.equal((await admit(h, { keyKey: 'ah:key:h3', tokens: 40, globalTpm: 200 }))[0], 'ok');
});

test('settle corrects the TPM windows of key, user, gateway and account by actual - estimate', async () => {
  await seedKeyAndUser(h.client);
  const scopes = ['key:k1', 'user:u1', 'global:all', 'acct:a'];
  for (const [est, actual] of [[500, 320], [100, 250], [40, 40]]) {
    await admit(h, { lease: 'T', tokens: est });
    const sec = await h.client.hget('ah:hold:T', 'tpm_sec');
    const before = await Promise.all(scopes.map((sc) => h.client.hget(`ah:tpm:${sc}`, sec)));
    await settle(h, 'a', { lease: 'T', tokens: actual });
    for (const [i, sc] of scopes.entries()) {
      assert.equal(Number(await h.client.hget(`ah:tpm:${sc}`, sec)), Number(before[i]) + actual - est, `${sc} ${est}->${actual}`);
    }
  }
  // a bucket already out of the window is not brought back
  await admit(h, { lease: 'U', tokens: 10 });
  const sec = await h.client.hget('ah:hold:U', 'tpm_sec');
  await h.client.hdel('ah:tpm:key:k1', sec);
  await settle(h, 'a', { lease: 'U', tokens: 99 });
  assert.equal(await h.client.hexists('ah:tpm:key:k1', sec), 0);
});

test('after a failover the correction goes to the account that served, not the one that failed', async () => {
  await seedKeyAndUser(h.client);
  await admit(h, { lease: 'F', tokens: 100, cands: [['a', 0, 1]] });
  assert.deepEqual(await failover(h, 'a', { lease: 'F', tokens: 100, cands: [['b', 0, 1]] }), ['ok', 'b']);
  const hold = await h.client.hgetall('ah:hold:F');
  const a = await h.client.hgetall('ah:tpm:acct:a');
  const bBefore = Number(await h.client.hget('ah:tpm:acct:b', hold.acct_sec));
  await settle(h, 'b', { lease: 'F', tokens: 30 });
  assert.deepEqual(await h.client.hgetall('ah:tpm:acct:a'), a, 'the failed account keeps its estimate');
  assert.equal(Number(await h.client.hget('ah:tpm:acct:b', hold.acct_sec)), bBefore - 70);
});

// --- in flight ---------------------------------------------------------

test('max_in_flight per key: N leases at once, the next refused; settle frees a slot', async () => {
  await seedKeyAndUser(h.client, { key: { max_in_flight: '2' } });
  assert.equal((await admit(h, { lease: 'I1' }))[0], 'ok');
  assert.equal((await admit(h, { lease: 'I2' }))[0], 'ok');
  await refusedOnly(h.client, () => admit(h, { lease: 'I3' }), ['err', 'rate_limit_exceeded', 1000]);
  await settle(h, 'a', { lease: 'I1' });
  assert.deepEqual(await h.client.zrange('ah:inflight:key:k1', 0, -1), ['I2']);
  assert.equal((await admit(h, { lease: 'I3' }))[0], 'ok');
  await refusedOnly(h.client, () => admit(h, { lease: 'I4' }), ['err', 'rate_limit_exceeded', 1000]);
  // a lease past its expiry (its node died) frees its slot, even before the sweep
  const now = await serverNowMs(h.client);
  await h.client.zadd('ah:inflight:key:k1', 'XX', now - 1, 'I2');
  assert.equal((await admit(h, { lease: 'I4' }))[0], 'ok');
  assert.deepEqual((await h.client.zrange('ah:inflight:key:k1', 0, -1)).sort(), ['I3', 'I4']);
});

test('max_in_flight per user counts every key; a real 1-second lease runs out', async () => {
  await seedKeyAndUser(h.client, { user: { max_in_flight: '1' } });
  await moreKeys();
  assert.equal((await admit(h, { keyKey: 'ah:key:h1', lease: 'J1', ttl: 1000 }))[0], 'ok');
  await refusedOnly(h.client, () => admit(h, { keyKey: 'ah:key:h2', lease: 'J2' }), ['err', 'rate_limit_exceeded', 1000]);
  assert.equal((await admit(h, { keyKey: 'ah:key:h3', lease: 'J3' }))[0], 'ok', 'u2 has no limit');
  const expiry = Number(await h.client.zscore('ah:inflight:user:u1', 'J1'));
  await waitFor(async () => (await serverNowMs(h.client)) > expiry, 5000, 'J1 expired');
  assert.equal((await admit(h, { keyKey: 'ah:key:h2', lease: 'J2' }))[0], 'ok');
});

// --- the success reply ---------------------------------------------------

test('the success reply carries the tightest key/user RPM and TPM windows', async () => {
  await seedKeyAndUser(h.client, { key: { rpm: '10', tpm: '1000' }, user: { rpm: '5', tpm: '5000' } });
  const now = await serverNowMs(h.client);
  await h.client.zadd('ah:rpm:user:u1', now - 30_000, 'earlier');
  const t0 = await serverNowMs(h.client);
  const r1 = await admit(h, { tokens: 100 });
  const t1 = await serverNowMs(h.client);
  // requests: the user's window (5, 2 used after this one); tokens: the key's (1000, 100 used)
  assert.deepEqual(r1.slice(0, 6), ['ok', 'a', 'k1', 'u1', 5, 3]);
  assert.ok(r1[6] >= now + 30_000 - t1 && r1[6] <= now + 30_000 - t0, `req reset ${r1[6]}`);
  assert.deepEqual(r1.slice(7), [1000, 900, 60000]);
  const sec = Number(await h.client.hget(`ah:hold:${admit.lastLease}`, 'tpm_sec'));
  const t2 = await serverNowMs(h.client);
  const r2 = await admit(h, { tokens: 100 });
  const t3 = await serverNowMs(h.client);
  assert.deepEqual([r2[4], r2[5], r2[7], r2[8]], [5, 2, 1000, 800]);
  assert.ok(r2[9] >= (sec + 61) * 1000 - t3 && r2[9] <= (sec + 61) * 1000 - t2, `tok reset ${r2[9]}`);
  // only a user limit: the user's window; none: zeros
  await h.client.hdel('ah:key:h1', 'rpm', 'tpm');
  const r3 = await admit(h, { tokens: 1 });
  assert.deepEqual([r3[4], r3[5], r3[7], r3[8]], [5, 1, 5000, 4799]);
  await h.client.hdel('ah:user:u1', 'rpm', 'tpm');
  assert.deepEqual(await admit(h, { tokens: 1, globalRpm: 100, globalTpm: 100_000 }), okReply('a'));
});

test('windows of scopes without a limit stay bounded', async () => {
  await seedKeyAndUser(h.client);
  const now = await serverNowMs(h.client);
  const s = Math.floor(now / 1000);
  const stale = [];
  for (let i = 0; i < 100; i++) stale.push(now - 61_000 - i * 1000, `old${i}`);
  const buckets = {};
  for (let i = 0; i < 100; i++) buckets[s - 61 - i] = '7';
  for (const scope of ['key:k1', 'user:u1', 'global:all', 'acct:a']) {
    await h.client.zadd(`ah:rpm:${scope}`, ...stale);
    await h.client.hset(`ah:tpm:${scope}`, buckets);
  }
  assert.equal((await admit(h, { tokens: 5 }))[0], 'ok');
  assert.equal((await failover(h, 'x', { lease: admit.lastLease, tokens: 5, cands: [['a', 0, 1]] }))[0], 'ok');
  for (const scope of ['key:k1', 'user:u1', 'global:all', 'acct:a']) {
    const members = await h.client.zrange(`ah:rpm:${scope}`, 0, -1);
    assert.deepEqual(members, [admit.lastLease], `rpm ${scope}`);
    const left = await h.client.hgetall(`ah:tpm:${scope}`);
    assert.ok(Object.keys(left).length <= 61, `tpm ${scope}: ${Object.keys(left).length} buckets`);
    assert.ok(Object.keys(left).every((k) => Number(k) >= s - 60), `tpm ${scope} keeps stale buckets`);
  }
});

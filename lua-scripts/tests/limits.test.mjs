// Rate limits of admit (lib/limits.lua): RPM and TPM per key, user and
// gateway in one window per limiter (ah:lim:<scope>:<id>, 1-second buckets
// over S-60..S with running sums); the retry of a refused request; several
// limits at once; buckets leaving the window (also on a refusal), windows
// staying bounded, an idle window reset, the TTL; only limited scopes
// counted; settle's TPM correction (also after a failover); requests in
// flight per key and user (settle and the sweep of an expired lease free a
// slot); the tightest key/user windows in the success reply.
//
// Windows are planted at seconds relative to the server's current second
// (plantWindow), after waiting until the server is early in a second so that
// the calls that follow run in that same second. After every test, every
// window must satisfy its invariant (checkWindows: rs/ts are the sums of the
// buckets, o the oldest, nothing at or before tr, a TTL that outlives the
// newest bucket).

import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  admit, checkWindow, checkWindows, earlyInSecond, failover, limKey, okReply, plantWindow, readWindow, refusedOnly,
  seedKeyAndUser, serverNowMs, settle, useRedis, waitFor,
} from './fixtures.mjs';

const h = useRedis();

afterEach(async () => { await checkWindows(h.client); });

const W = {
  key: limKey('key', 'k1'), user: limKey('user', 'u1'), global: limKey('global', 'all'),
  acct: (id) => limKey('acct', id),
};

// The server's current second, early in it (see earlyInSecond).
const early = async () => Math.floor((await earlyInSecond(h.client)) / 1000);

// Window `key` with seconds relative to `s`, without its PTTL.
async function win(key, s) {
  const w = await readWindow(h.client, key, s);
  if (w) delete w.pttl;
  return w;
}

const sweep = () => h.run('sweep', ['ah:holds'], ['100']);

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

// Admit expected to succeed; returns the reply and the server times around it.
async function admitted(opts) {
  const t0 = await serverNowMs(h.client);
  const reply = await admit(h, opts);
  const t1 = await serverNowMs(h.client);
  assert.equal(reply[0], 'ok', `expected an admission, got ${JSON.stringify(reply)}`);
  return { reply, t0, t1 };
}

// --- RPM ---------------------------------------------------------------

test('RPM per key: exactly N admissions in the window, the next refused until the oldest bucket leaves', async () => {
  await seedKeyAndUser(h.client, { key: { rpm: '3' } });
  let s = await early();
  for (let i = 0; i < 3; i++) {
    const reply = await admit(h, { lease: `R${i}` });
    assert.deepEqual(reply.slice(0, 6), ['ok', 'a', 'k1', 'u1', 3, 2 - i], `admission ${i}`);
  }
  assert.deepEqual(await win(W.key, s), { rs: 3, ts: 0, tr: -61, o: 0, buckets: [[0, 3, 0]] });
  // all three in the bucket of s: room again when it leaves, at (s + 61) s
  await limitedAt({ lease: 'R3' }, (t) => (s + 61) * 1000 - t);

  // one request 60 s ago still counts (the window is S-60..S); it leaves at (s + 1) s
  s = await early();
  await plantWindow(h.client, W.key, [[-60, 1, 0], [-30, 2, 0]], { at: s });
  await limitedAt({}, (t) => (s + 1) * 1000 - t);
  // and it does leave, in real time
  await waitFor(async () => (await serverNowMs(h.client)) >= (s + 1) * 1000, 3000, 'the next second');
  const { reply } = await admitted({});
  assert.deepEqual(reply.slice(4, 6), [3, 0]);
  const w = await checkWindow(h.client, W.key);
  assert.deepEqual(w.buckets.slice(0, 1), [[s - 30, 2, 0]]);
  assert.equal(w.rs, 3);

  // 61 s ago: out of the window, dropped by the next admission
  s = await early();
  await plantWindow(h.client, W.key, [[-61, 1, 0], [-30, 2, 0]], { at: s });
  await admitted({});
  assert.deepEqual(await win(W.key, s), { rs: 3, ts: 0, tr: -61, o: -30, buckets: [[-30, 2, 0], [0, 1, 0]] });

  // rpm 0 (and no tpm): no limit, and the key's window is no longer counted
  await h.client.hset('ah:key:h1', 'rpm', '0');
  const before = await win(W.key, s);
  for (let i = 0; i < 5; i++) assert.deepEqual(await admit(h), okReply('a'));
  assert.deepEqual(await win(W.key, s), before);
});

test('RPM over its limit (lowered meanwhile): the retry waits for as many as must leave', async () => {
  await seedKeyAndUser(h.client, { key: { rpm: '2' } });
  const s = await early();
  await plantWindow(h.client, W.key, [[-50, 1, 0], [-40, 1, 0], [-30, 1, 0]], { at: s });
  // 3 in the window, limit 2: the buckets of s-50 and s-40 must leave
  await limitedAt({}, (t) => (s - 40 + 61) * 1000 - t);
  // several requests in one bucket leave together
  await plantWindow(h.client, W.key, [[-50, 3, 0], [-30, 1, 0]], { at: s });
  await limitedAt({}, (t) => (s - 50 + 61) * 1000 - t);
});

test('RPM per user counts every key of the user; a key without limits has no window', async () => {
  await seedKeyAndUser(h.client, { user: { rpm: '2' } });
  await moreKeys();
  const s = await early();
  assert.deepEqual((await admit(h, { keyKey: 'ah:key:h1' })).slice(0, 6), ['ok', 'a', 'k1', 'u1', 2, 1]);
  assert.deepEqual((await admit(h, { keyKey: 'ah:key:h2' })).slice(0, 6), ['ok', 'a', 'k2', 'u1', 2, 0]);
  for (const keyKey of ['ah:key:h1', 'ah:key:h2']) await limitedAt({ keyKey }, (t) => (s + 61) * 1000 - t);
  // another user is not limited
  assert.deepEqual(await admit(h, { keyKey: 'ah:key:h3' }), okReply('a', 'k3', 'u2'));
  assert.deepEqual(await win(W.user, s), { rs: 2, ts: 0, tr: -61, o: 0, buckets: [[0, 2, 0]] });
  assert.deepEqual(await checkWindows(h.client), [W.user]);
});

test('RPM of the whole gateway counts every user; it is not in the reply', async () => {
  await seedKeyAndUser(h.client);
  await moreKeys();
  const s = await early();
  assert.deepEqual(await admit(h, { globalRpm: 2 }), okReply('a'));
  assert.deepEqual(await admit(h, { keyKey: 'ah:key:h3', globalRpm: 2 }), okReply('a', 'k3', 'u2'));
  await limitedAt({ globalRpm: 2 }, (t) => (s + 61) * 1000 - t);
  await limitedAt({ keyKey: 'ah:key:h3', globalRpm: 2 }, (t) => (s + 61) * 1000 - t);
  assert.deepEqual(await admit(h, { globalRpm: 3 }), okReply('a'));
  assert.deepEqual(await win(W.global, s), { rs: 3, ts: 0, tr: -61, o: 0, buckets: [[0, 3, 0]] });
  // without a gateway limit the gateway is not counted
  assert.deepEqual(await admit(h, { globalRpm: 0 }), okReply('a'));
  assert.equal((await win(W.global, s)).rs, 3);
  assert.deepEqual(await checkWindows(h.client), [W.global]);
});

test('several limits failing: the retry is the longest wait, whatever the order of the checks', async () => {
  await seedKeyAndUser(h.client, { key: { tpm: '10' }, user: { rpm: '1' } });
  const s = await early();
  // key: 10 tokens 10 s ago (tpm 10, 1 more token: room at s + 51); user: 1 request 20 s ago (room at s + 41)
  await plantWindow(h.client, W.key, [[-10, 1, 10]], { at: s });
  await plantWindow(h.client, W.user, [[-20, 1, 0]], { at: s });
  await limitedAt({ tokens: 1 }, (t) => (s + 51) * 1000 - t);
  // the gateway, checked last, waits longest: 1 request 5 s ago (room at s + 56)
  await plantWindow(h.client, W.global, [[-5, 1, 0]], { at: s });
  await limitedAt({ tokens: 1, globalRpm: 1 }, (t) => (s + 56) * 1000 - t);
  // the user, checked in the middle, waits longest
  await plantWindow(h.client, W.user, [[-1, 1, 0]], { at: s });
  await limitedAt({ tokens: 1, globalRpm: 1 }, (t) => (s + 60) * 1000 - t);
  // one failing limit alone decides; the others pass
  await limitedAt({ tokens: 0, globalRpm: 2 }, (t) => (s + 60) * 1000 - t);
  await h.client.hset('ah:user:u1', 'rpm', '2');
  await limitedAt({ tokens: 1, globalRpm: 2 }, (t) => (s + 51) * 1000 - t);
  assert.equal((await admit(h, { tokens: 0, globalRpm: 2 }))[0], 'ok');
});

// --- TPM ---------------------------------------------------------------

test('TPM per key: the estimate is counted, up to exactly the limit; one token more is refused', async () => {
  await seedKeyAndUser(h.client, { key: { tpm: '1000' } });
  const s = await early();
  const r1 = await admit(h, { tokens: 600 });
  assert.deepEqual(r1.slice(7, 9), [1000, 400]);
  const r2 = await admit(h, { tokens: 400 });
  assert.deepEqual(r2.slice(7, 9), [1000, 0]);
  assert.deepEqual(await win(W.key, s), { rs: 2, ts: 1000, tr: -61, o: 0, buckets: [[0, 2, 1000]] });
  await limitedAt({ tokens: 1 }, (t) => (s + 61) * 1000 - t);
  // an admission without tokens still fits (no RPM limit), and is counted
  assert.equal((await admit(h, { tokens: 0 }))[0], 'ok');
  assert.deepEqual(await win(W.key, s), { rs: 3, ts: 1000, tr: -61, o: 0, buckets: [[0, 3, 1000]] });
  // larger than the whole budget: refused with a full window, and no window is created
  await h.client.del(W.key);
  await refusedOnly(h.client, () => admit(h, { tokens: 1001 }), ['err', 'rate_limit_exceeded', 60000]);
  assert.equal(await h.client.exists(W.key), 0);
});

test('TPM retry: buckets leave the window oldest first, 61 s after their second', async () => {
  await seedKeyAndUser(h.client, { key: { tpm: '1000' } });
  const s = await early();
  await plantWindow(h.client, W.key, [[-50, 1, 500], [-10, 1, 400]], { at: s });
  // 900 + 200 > 1000: the bucket of s-50 must leave, at (s - 50 + 61) s
  await limitedAt({ tokens: 200 }, (t) => (s + 11) * 1000 - t);
  // 100 fits exactly; the reply's reset is when the oldest bucket leaves
  const { reply, t0, t1 } = await admitted({ tokens: 100 });
  assert.deepEqual(reply.slice(7, 9), [1000, 0]);
  assert.ok(reply[9] >= (s + 11) * 1000 - t1 && reply[9] <= (s + 11) * 1000 - t0, `reset ${reply[9]}`);
  // 600 more: after s-50 leaves, 500 remain and 500 + 600 > 1000; after s-10 leaves it fits
  await limitedAt({ tokens: 600 }, (t) => (s + 51) * 1000 - t);
  assert.deepEqual(await win(W.key, s),
    { rs: 3, ts: 1000, tr: -61, o: -50, buckets: [[-50, 1, 500], [-10, 1, 400], [0, 1, 100]] });
});

test('TPM buckets of S-61 and older do not count and are dropped; S-60 still counts', async () => {
  await seedKeyAndUser(h.client, { key: { tpm: '100' } });
  const s = await early();
  await plantWindow(h.client, W.key, [[-70, 1, 100], [-61, 1, 100], [-60, 1, 30]], { at: s });
  assert.equal((await readWindow(h.client, W.key, s)).tr, -71);
  const { reply } = await admitted({ tokens: 70 });
  assert.deepEqual(reply.slice(7, 9), [100, 0]);
  assert.deepEqual(await win(W.key, s), { rs: 2, ts: 100, tr: -61, o: -60, buckets: [[-60, 1, 30], [0, 1, 70]] });
  // full: 1 more token waits for the bucket of s-60, at (s + 1) s
  await limitedAt({ tokens: 1 }, (t) => (s + 1) * 1000 - t);
});

test('TPM per user counts every key; the gateway counts from the moment its limit is set', async () => {
  await seedKeyAndUser(h.client, { user: { tpm: '100' } });
  await moreKeys();
  const s = await early();
  assert.equal((await admit(h, { keyKey: 'ah:key:h1', tokens: 60 }))[0], 'ok');
  await limitedAt({ keyKey: 'ah:key:h2', tokens: 60 }, (t) => (s + 61) * 1000 - t);
  assert.deepEqual((await admit(h, { keyKey: 'ah:key:h2', tokens: 40 })).slice(7, 9), [100, 0]);
  assert.deepEqual(await admit(h, { keyKey: 'ah:key:h3', tokens: 60 }), okReply('a', 'k3', 'u2'), 'u2 has no limit');
  assert.deepEqual(await win(W.user, s), { rs: 2, ts: 100, tr: -61, o: 0, buckets: [[0, 2, 100]] });
  // no gateway limit so far: nothing counted for the gateway
  assert.equal(await h.client.exists(W.global), 0);
  // with one, the gateway's window starts empty
  assert.deepEqual(await admit(h, { keyKey: 'ah:key:h3', tokens: 150, globalTpm: 200 }), okReply('a', 'k3', 'u2'));
  await limitedAt({ keyKey: 'ah:key:h3', tokens: 51, globalTpm: 200 }, (t) => (s + 61) * 1000 - t);
  // u1 is refused by its own limit and the gateway's: the same bucket, the same wait
  await limitedAt({ keyKey: 'ah:key:h1', tokens: 51, globalTpm: 200 }, (t) => (s + 61) * 1000 - t);
  assert.equal((await admit(h, { keyKey: 'ah:key:h3', tokens: 50, globalTpm: 200 }))[0], 'ok');
  assert.deepEqual(await win(W.global, s), { rs: 2, ts: 200, tr: -61, o: 0, buckets: [[0, 2, 200]] });
});

// --- windows: only where limited, dropping, bounded, reset, TTL ----------

test('a scope without limits gets no window; a limit counts from the moment it is set', async () => {
  await seedKeyAndUser(h.client);
  const s = await early();
  const cands = [['a', 0, 1, 0, 0]];
  assert.deepEqual(await admit(h, { tokens: 5, cands }), okReply('a'));
  assert.deepEqual(await h.client.keys('ah:lim:*'), []);
  // one scope after the other gets a limit: only that scope is counted
  await h.client.hset('ah:key:h1', 'rpm', '10');
  await admit(h, { tokens: 5, cands });
  assert.deepEqual(await checkWindows(h.client), [W.key]);
  await h.client.hset('ah:user:u1', 'tpm', '1000');
  await admit(h, { tokens: 5, cands });
  assert.deepEqual(await checkWindows(h.client), [W.key, W.user]);
  await admit(h, { tokens: 5, cands, globalRpm: 100 });
  assert.deepEqual(await checkWindows(h.client), [W.global, W.key, W.user]);
  // an account only when its tuple has a limit (an rpm here)
  await admit(h, { tokens: 5, cands: [['a', 0, 1, 9, 0]] });
  assert.deepEqual(await checkWindows(h.client), [W.acct('a'), W.global, W.key, W.user]);
  assert.deepEqual(await win(W.key, s), { rs: 4, ts: 20, tr: -61, o: 0, buckets: [[0, 4, 20]] });
  assert.deepEqual(await win(W.user, s), { rs: 3, ts: 15, tr: -61, o: 0, buckets: [[0, 3, 15]] });
  assert.deepEqual(await win(W.global, s), { rs: 1, ts: 5, tr: -61, o: 0, buckets: [[0, 1, 5]] });
  assert.deepEqual(await win(W.acct('a'), s), { rs: 1, ts: 5, tr: -61, o: 0, buckets: [[0, 1, 5]] });
  // a refusal before the limits are checked opens no window either
  await h.client.flushall();
  await seedKeyAndUser(h.client, { key: { rpm: '1', models: '["other"]' } });
  await refusedOnly(h.client, () => admit(h), ['err', 'model_not_allowed']);
  assert.deepEqual(await h.client.keys('ah:lim:*'), []);
});

test('a refusal drops the buckets that left the window and keeps the sums true to the rest', async () => {
  await seedKeyAndUser(h.client, { key: { rpm: '2' } });
  let s = await early();
  // refused for the balance, after the limits were checked (and passed)
  await plantWindow(h.client, W.key, [[-61, 1, 0], [-30, 1, 0]], { at: s });
  await refusedOnly(h.client, () => admit(h, { hold: 5 }), ['err', 'insufficient_quota', 0, 'balance']);
  assert.deepEqual(await win(W.key, s), { rs: 1, ts: 0, tr: -61, o: -30, buckets: [[-30, 1, 0]] });
  // the dropped request no longer counts: one more fits, then the limit holds
  await admitted({});
  assert.deepEqual(await win(W.key, s), { rs: 2, ts: 0, tr: -61, o: -30, buckets: [[-30, 1, 0], [0, 1, 0]] });
  await limitedAt({}, (t) => (s + 31) * 1000 - t);
  // refused by the limit itself, still after dropping
  s = await early();
  await plantWindow(h.client, W.key, [[-65, 4, 0], [-30, 1, 0], [-1, 1, 0]], { at: s });
  await limitedAt({}, (t) => (s + 31) * 1000 - t);
  assert.deepEqual(await win(W.key, s), { rs: 2, ts: 0, tr: -61, o: -30, buckets: [[-30, 1, 0], [-1, 1, 0]] });
  // every bucket left: the window is gone
  await plantWindow(h.client, W.key, [[-70, 1, 0], [-61, 1, 0]], { at: s });
  await refusedOnly(h.client, () => admit(h, { hold: 5 }), ['err', 'insufficient_quota', 0, 'balance']);
  assert.equal(await h.client.exists(W.key), 0);
  // nothing left the window: a refusal changes nothing at all
  await plantWindow(h.client, W.key, [[-60, 1, 0], [-30, 1, 0]], { at: s });
  await limitedAt({}, (t) => (s + 1) * 1000 - t);
  assert.deepEqual(await win(W.key, s), { rs: 2, ts: 0, tr: -61, o: -60, buckets: [[-60, 1, 0], [-30, 1, 0]] });
});

test('a window idle for more than 61 s is reset; one idle for 60 s keeps its last bucket', async () => {
  await seedKeyAndUser(h.client, { key: { rpm: '2', tpm: '1000' } });
  // the last admission `idle` s ago set tr = s - idle - 61 and left buckets up to s - idle
  for (const idle of [61, 62, 100, 500]) {
    const s = await early();
    await plantWindow(h.client, W.key, [[-idle - 20, 1, 400], [-idle, 2, 600]], { at: s, tr: s - idle - 61 });
    const { reply, t0, t1 } = await admitted({ tokens: 7 });
    assert.deepEqual([...reply.slice(4, 6), ...reply.slice(7, 9)], [2, 1, 1000, 993], `idle ${idle}`);
    // reset: the bucket this request opened leaves 61 s after its second began
    for (const reset of [reply[6], reply[9]]) {
      assert.ok(reset >= (s + 61) * 1000 - t1 && reset <= (s + 61) * 1000 - t0, `idle ${idle}: reset ${reset}`);
    }
    assert.deepEqual(await win(W.key, s), { rs: 1, ts: 7, tr: -61, o: 0, buckets: [[0, 1, 7]] }, `idle ${idle}`);
  }
  const s = await early();
  await plantWindow(h.client, W.key, [[-80, 1, 400], [-60, 2, 600]], { at: s, tr: s - 121 });
  await limitedAt({ tokens: 7 }, (t) => (s + 1) * 1000 - t);
  assert.deepEqual(await win(W.key, s), { rs: 2, ts: 600, tr: -61, o: -60, buckets: [[-60, 2, 600]] });
});

test('windows stay bounded: after a quiet half minute at most the 61 seconds of the window are kept', async () => {
  await seedKeyAndUser(h.client, {
    key: { rpm: '1000', tpm: '100000' }, user: { rpm: '1000', tpm: '100000' },
  });
  const s = await early();
  // one request every second from s-90 to s-30, the last admission at s-30 (tr = s-91)
  const minute = Array.from({ length: 61 }, (_, i) => [-90 + i, 1, 7]);
  const scopes = [W.key, W.user, W.global, W.acct('a'), W.acct('b')];
  for (const k of scopes) await plantWindow(h.client, k, minute, { at: s });
  const limited = { globalRpm: 1000, globalTpm: 100_000 };
  await admitted({ ...limited, lease: 'B', tokens: 5, cands: [['a', 0, 1, 1000, 100_000]] });
  assert.deepEqual(await failover(h, 'a', { lease: 'B', tokens: 5, cands: [['b', 0, 1, 1000, 100_000]] }), ['ok', 'b']);
  // s-60 .. s-30 are left, 31 buckets, plus this request's
  const kept = [...minute.slice(30), [0, 1, 5]];
  for (const k of scopes) {
    const w = await win(k, s);
    assert.deepEqual(w, { rs: 32, ts: 31 * 7 + 5, tr: -61, o: -60, buckets: kept }, k);
  }
});

test('TTL: a window lives until its newest bucket has left, and a new bucket extends it', async () => {
  await seedKeyAndUser(h.client, { key: { rpm: '100' } });
  let s = await early();
  await admitted({});
  let pttl = await h.client.pttl(W.key);
  assert.ok(pttl > 62_000 && pttl <= 63_000, `PTTL ${pttl}`);
  // a bucket 30 s old whose window would expire in 33 s: a new bucket keeps it 63 s more
  s = await early();
  await plantWindow(h.client, W.key, [[-30, 1, 0]], { at: s, ttl: 33 });
  await admitted({});
  pttl = await h.client.pttl(W.key);
  assert.ok(pttl > 62_000 && pttl <= 63_000, `PTTL ${pttl}`);
  // a refusal that drops buckets keeps the TTL
  await h.client.hset('ah:key:h1', 'rpm', '1');
  await plantWindow(h.client, W.key, [[-61, 1, 0], [-30, 1, 0]], { at: s, ttl: 33 });
  await limitedAt({}, (t) => (s + 31) * 1000 - t);
  pttl = await h.client.pttl(W.key);
  assert.ok(pttl > 30_000 && pttl <= 33_000, `PTTL ${pttl}`);
  assert.deepEqual(await win(W.key, s), { rs: 1, ts: 0, tr: -61, o: -30, buckets: [[-30, 1, 0]] });
});

// --- settle's TPM correction ---------------------------------------------

test('settle corrects the TPM buckets of key, user, gateway and account by actual - estimate', async () => {
  await seedKeyAndUser(h.client, { key: { tpm: '100000' }, user: { tpm: '100000' } });
  const limited = { globalTpm: 100_000, cands: [['a', 0, 1, 0, 100_000]] };
  const scopes = [W.key, W.user, W.global, W.acct('a')];
  for (const [est, actual] of [[500, 320], [100, 250], [40, 40], [60, 0]]) {
    await admitted({ ...limited, lease: 'T', tokens: est });
    const hold = await h.client.hgetall('ah:hold:T');
    assert.equal(hold.tw, 'kug');
    assert.equal(hold.acct_sec, hold.tpm_sec);
    const sec = Number(hold.tpm_sec);
    const before = await Promise.all(scopes.map((k) => win(k, 0)));
    await settle(h, 'a', { lease: 'T', tokens: actual });
    for (const [i, k] of scopes.entries()) {
      const w = await checkWindow(h.client, k);
      const expected = before[i].buckets.map(([bs, r, t]) => [bs, r, bs === sec ? t + actual - est : t]);
      assert.deepEqual(w.buckets, expected, `${k} ${est} -> ${actual}`);
      assert.equal(w.ts, before[i].ts + actual - est, `${k} ts`);
      assert.equal(w.rs, before[i].rs, `${k} rs`);
    }
  }
  // only windows counted with a TPM limit are corrected: the key and the account have only an RPM limit here
  await h.client.hset('ah:key:h1', 'tpm', '0', 'rpm', '1000');
  await admitted({ globalTpm: 100_000, lease: 'V', tokens: 50, cands: [['a', 0, 1, 1000, 0]] });
  const hold = await h.client.hgetall('ah:hold:V');
  assert.equal(hold.tw, 'ug');
  assert.equal(hold.acct_sec, undefined);
  const before = await Promise.all(scopes.map((k) => win(k, 0)));
  await settle(h, 'a', { lease: 'V', tokens: 10 });
  const after = await Promise.all(scopes.map((k) => win(k, 0)));
  assert.deepEqual(after[0], before[0], 'the key keeps its estimate');
  assert.deepEqual(after[3], before[3], 'the account keeps its estimate');
  assert.equal(after[1].ts, before[1].ts - 40);
  assert.equal(after[2].ts, before[2].ts - 40);
});

test('settle does not bring back a bucket that left the window, nor a window that is gone', async () => {
  await seedKeyAndUser(h.client, { key: { tpm: '100000' }, user: { tpm: '100000' } });
  await admitted({ lease: 'U', tokens: 10 });
  const sec = Number(await h.client.hget('ah:hold:U', 'tpm_sec'));
  // the key's window moved on past sec (its bucket dropped); the user's window is gone
  await plantWindow(h.client, W.key, [], { at: sec, tr: sec });
  await h.client.del(W.user);
  const key = await win(W.key, 0);
  await settle(h, 'a', { lease: 'U', tokens: 99 });
  assert.deepEqual(await win(W.key, 0), key);
  assert.equal(await h.client.exists(W.user), 0);
  // a window started again without the admission's bucket (sec still after tr): no bucket is made up
  await admitted({ lease: 'V', tokens: 10 });
  const vsec = Number(await h.client.hget('ah:hold:V', 'tpm_sec'));
  await plantWindow(h.client, W.key, [[-1, 1, 5]], { at: vsec });
  const again = await win(W.key, 0);
  assert.ok(vsec > again.tr);
  await settle(h, 'a', { lease: 'V', tokens: 99 });
  assert.deepEqual(await win(W.key, 0), again);
});

test('after a failover the correction goes to the account that served, not the one that failed', async () => {
  await seedKeyAndUser(h.client, { key: { tpm: '100000' } });
  await admitted({ lease: 'F', tokens: 100, cands: [['a', 0, 1, 0, 1000]] });
  assert.deepEqual(await failover(h, 'a', { action: 'none', lease: 'F', tokens: 100, cands: [['b', 0, 1, 0, 1000]] }), ['ok', 'b']);
  const hold = await h.client.hgetall('ah:hold:F');
  assert.equal(hold.acct_id, 'b');
  const sec = Number(hold.acct_sec);
  const a = await win(W.acct('a'), 0);
  assert.deepEqual(a.buckets.map(([, r, t]) => [r, t]), [[1, 100]]);
  assert.deepEqual((await readWindow(h.client, W.acct('b'))).buckets, [[sec, 1, 100]]);
  await settle(h, 'b', { lease: 'F', tokens: 30 });
  assert.deepEqual(await win(W.acct('a'), 0), a, 'the failed account keeps its estimate');
  assert.deepEqual((await checkWindow(h.client, W.acct('b'))).buckets, [[sec, 1, 30]]);
  assert.equal((await checkWindow(h.client, W.key)).ts, 30);

  // the serving account has no TPM limit (an RPM limit only): nothing to correct there
  await admitted({ lease: 'G', tokens: 100, cands: [['a', 0, 1, 0, 1000]] });
  assert.deepEqual(await failover(h, 'a', { action: 'none', lease: 'G', tokens: 100, cands: [['c', 0, 1, 5, 0]] }), ['ok', 'c']);
  assert.equal(await h.client.hget('ah:hold:G', 'acct_sec'), null, 'no account bucket to correct');
  const before = await Promise.all([W.acct('a'), W.acct('c')].map((k) => win(k, 0)));
  await settle(h, 'c', { lease: 'G', tokens: 30 });
  assert.deepEqual(await Promise.all([W.acct('a'), W.acct('c')].map((k) => win(k, 0))), before);
  assert.equal((await checkWindow(h.client, W.key)).ts, 60);
});

// --- in flight ---------------------------------------------------------

test('max_in_flight per key: N at once, the next refused; settle frees a slot; an expired lease only at the sweep', async () => {
  await seedKeyAndUser(h.client, { key: { max_in_flight: '2' } });
  const inflight = async () => h.client.hget('ah:key:h1', 'inflight');
  assert.equal((await admit(h, { lease: 'I1' }))[0], 'ok');
  assert.equal((await admit(h, { lease: 'I2' }))[0], 'ok');
  assert.equal(await inflight(), '2');
  assert.deepEqual(await h.client.hmget('ah:hold:I1', 'ifk', 'ifu'), ['1', '0']);
  assert.equal(await h.client.hexists('ah:user:u1', 'inflight'), 0, 'the user has no in-flight limit');
  await refusedOnly(h.client, () => admit(h, { lease: 'I3' }), ['err', 'rate_limit_exceeded', 1000]);
  await settle(h, 'a', { lease: 'I1' });
  assert.equal(await inflight(), '1');
  assert.equal((await admit(h, { lease: 'I3' }))[0], 'ok');
  await refusedOnly(h.client, () => admit(h, { lease: 'I4' }), ['err', 'rate_limit_exceeded', 1000]);
  // I2's lease expires (its node died): its slot stays taken until the sweep
  await h.client.zadd('ah:holds', 'XX', (await serverNowMs(h.client)) - 1, 'I2');
  await refusedOnly(h.client, () => admit(h, { lease: 'I4' }), ['err', 'rate_limit_exceeded', 1000]);
  assert.equal(await sweep(), 1);
  assert.equal(await inflight(), '1');
  assert.equal(await h.client.hget('ah:hold:I2', 'swept'), '1');
  assert.equal((await admit(h, { lease: 'I4' }))[0], 'ok');
  assert.equal(await inflight(), '2');
  // I2 settles late: its slot was already freed, no second one is
  await settle(h, 'a', { lease: 'I2' });
  assert.equal(await inflight(), '2');
  await refusedOnly(h.client, () => admit(h, { lease: 'I5' }), ['err', 'rate_limit_exceeded', 1000]);
  // a second sweep finds nothing; settling the rest empties the count, never below 0
  assert.equal(await sweep(), 0);
  await settle(h, 'a', { lease: 'I3' });
  await settle(h, 'a', { lease: 'I4' });
  assert.equal(await inflight(), '0');
  await settle(h, 'a', { lease: 'I4' });
  assert.equal(await inflight(), '0');
});

test('max_in_flight per user counts every key; a real 1-second lease is freed by the sweep, not before', async () => {
  await seedKeyAndUser(h.client, { user: { max_in_flight: '1' } });
  await moreKeys();
  const inflight = async () => h.client.hget('ah:user:u1', 'inflight');
  assert.equal((await admit(h, { keyKey: 'ah:key:h1', lease: 'J1', ttl: 1000 }))[0], 'ok');
  assert.equal(await inflight(), '1');
  assert.deepEqual(await h.client.hmget('ah:hold:J1', 'ifk', 'ifu'), ['0', '1']);
  assert.equal(await h.client.hexists('ah:key:h1', 'inflight'), 0, 'the key has no in-flight limit');
  await refusedOnly(h.client, () => admit(h, { keyKey: 'ah:key:h2', lease: 'J2' }), ['err', 'rate_limit_exceeded', 1000]);
  assert.equal((await admit(h, { keyKey: 'ah:key:h3', lease: 'J3' }))[0], 'ok', 'u2 has no limit');
  assert.equal(await h.client.hexists('ah:user:u2', 'inflight'), 0);
  // a sweep before the lease expires frees nothing
  assert.equal(await sweep(), 0);
  assert.equal(await inflight(), '1');
  const expiry = Number(await h.client.zscore('ah:holds', 'J1'));
  await waitFor(async () => (await serverNowMs(h.client)) > expiry, 5000, 'J1 expired');
  // expired, but not yet swept: still taken
  await refusedOnly(h.client, () => admit(h, { keyKey: 'ah:key:h2', lease: 'J2' }), ['err', 'rate_limit_exceeded', 1000]);
  assert.equal(await sweep(), 1);
  assert.equal(await inflight(), '0');
  assert.equal((await admit(h, { keyKey: 'ah:key:h2', lease: 'J2' }))[0], 'ok');
  assert.equal(await inflight(), '1');
  // J1 settles late: J2's slot stays counted
  await settle(h, 'a', { lease: 'J1' });
  assert.equal(await inflight(), '1');
  await settle(h, 'a', { lease: 'J2' });
  assert.equal(await inflight(), '0');
});

test('in flight is counted only where limited; key and user limits together', async () => {
  await seedKeyAndUser(h.client);
  assert.equal((await admit(h, { lease: 'N1' }))[0], 'ok');
  assert.deepEqual(await h.client.hmget('ah:hold:N1', 'ifk', 'ifu'), ['0', '0']);
  await h.client.zadd('ah:holds', 'XX', 1, 'N1');
  assert.equal(await sweep(), 1);
  await settle(h, 'a', { lease: 'N1' });
  assert.equal(await h.client.hexists('ah:key:h1', 'inflight'), 0);
  assert.equal(await h.client.hexists('ah:user:u1', 'inflight'), 0);
  // both limited: both counted; whichever is full refuses
  await h.client.hset('ah:key:h1', 'max_in_flight', '2');
  await h.client.hset('ah:user:u1', 'max_in_flight', '1');
  assert.equal((await admit(h, { lease: 'N2' }))[0], 'ok');
  assert.deepEqual(await h.client.hmget('ah:hold:N2', 'ifk', 'ifu'), ['1', '1']);
  await refusedOnly(h.client, () => admit(h, { lease: 'N3' }), ['err', 'rate_limit_exceeded', 1000]);
  await h.client.hset('ah:user:u1', 'max_in_flight', '5');
  assert.equal((await admit(h, { lease: 'N3' }))[0], 'ok');
  await refusedOnly(h.client, () => admit(h, { lease: 'N4' }), ['err', 'rate_limit_exceeded', 1000]);
  assert.equal(await h.client.hget('ah:key:h1', 'inflight'), '2');
  assert.equal(await h.client.hget('ah:user:u1', 'inflight'), '2');
  // the sweep lowers both for an expired lease, settle both for the other
  await h.client.zadd('ah:holds', 'XX', 1, 'N2');
  assert.equal(await sweep(), 1);
  await settle(h, 'a', { lease: 'N3' });
  assert.equal(await h.client.hget('ah:key:h1', 'inflight'), '0');
  assert.equal(await h.client.hget('ah:user:u1', 'inflight'), '0');
});

// --- the success reply ---------------------------------------------------

test('the success reply carries the tightest key/user RPM and TPM windows', async () => {
  await seedKeyAndUser(h.client, { key: { rpm: '10', tpm: '1000' }, user: { rpm: '5', tpm: '5000' } });
  const s = await early();
  await plantWindow(h.client, W.user, [[-30, 1, 0]], { at: s });
  const { reply: r1, t0, t1 } = await admitted({ tokens: 100 });
  // requests: the user's window (5, 2 used after this one), reset when its bucket of s-30 leaves;
  // tokens: the key's (1000, 100 used), empty before: reset when this request's bucket leaves
  assert.deepEqual(r1.slice(0, 6), ['ok', 'a', 'k1', 'u1', 5, 3]);
  assert.ok(r1[6] >= (s + 31) * 1000 - t1 && r1[6] <= (s + 31) * 1000 - t0, `req reset ${r1[6]}`);
  assert.deepEqual(r1.slice(7, 9), [1000, 900]);
  assert.ok(r1[9] >= (s + 61) * 1000 - t1 && r1[9] <= (s + 61) * 1000 - t0, `tok reset ${r1[9]}`);
  const { reply: r2, t0: t2, t1: t3 } = await admitted({ tokens: 100 });
  assert.deepEqual([r2[4], r2[5], r2[7], r2[8]], [5, 2, 1000, 800]);
  // the key's window now starts with the bucket of s
  assert.ok(r2[9] >= (s + 61) * 1000 - t3 && r2[9] <= (s + 61) * 1000 - t2, `tok reset ${r2[9]}`);
  // only a user limit: the user's window; none: zeros (the gateway's never shows)
  await h.client.hdel('ah:key:h1', 'rpm', 'tpm');
  const { reply: r3 } = await admitted({ tokens: 1 });
  assert.deepEqual([r3[4], r3[5], r3[7], r3[8]], [5, 1, 5000, 4799]);
  await h.client.hdel('ah:user:u1', 'rpm', 'tpm');
  assert.deepEqual(await admit(h, { tokens: 1, globalRpm: 100, globalTpm: 100_000 }), okReply('a'));
  // equal limits: the one with less room left wins
  await h.client.hset('ah:key:h1', 'rpm', '5');
  await h.client.hset('ah:user:u1', 'rpm', '5');
  await plantWindow(h.client, W.key, [[-20, 1, 0]], { at: s });
  await plantWindow(h.client, W.user, [[-40, 3, 0]], { at: s });
  const { reply: r4, t0: t4, t1: t5 } = await admitted({});
  assert.deepEqual(r4.slice(4, 6), [5, 1]);
  assert.ok(r4[6] >= (s + 21) * 1000 - t5 && r4[6] <= (s + 21) * 1000 - t4, `req reset ${r4[6]}`);
});

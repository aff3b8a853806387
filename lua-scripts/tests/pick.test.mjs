// lib/pick.lua, the account choice, exercised through admit (and failover
// for the shared behaviour): priority, skipping, the weighted draw, the
// retry time, and accounts skipped at their own rpm/tpm limits (their
// windows ah:lim:acct:<id>, only for an account whose tuple has a limit;
// planted relative to the server's current second, see fixtures.mjs).

import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  acctKey, admit, candidates, checkWindows, earlyInSecond, failover, limKey, newLease, plantWindow, readWindow,
  refusedOnly, rejectsUnchanged, seedKeyAndUser, seeded, serverNowMs, useRedis,
} from './fixtures.mjs';

const h = useRedis();

afterEach(async () => { await checkWindows(h.client); });

const acctWin = (id) => limKey('acct', id);
// The server's current second, early in it (see earlyInSecond).
const early = async () => Math.floor((await earlyInSecond(h.client)) / 1000);
// Window of account `id` with seconds relative to `s`, without its PTTL.
async function win(id, s = 0) {
  const w = await readWindow(h.client, acctWin(id), s);
  if (w) delete w.pttl;
  return w;
}

async function chosen(opts) {
  const reply = await admit(h, opts);
  assert.equal(reply[0], 'ok', `expected an account, got ${JSON.stringify(reply)}`);
  return reply[1];
}

// Many admits in one pipeline; returns {id: count}.
async function draw(cands, rs) {
  const c = candidates(cands);
  const p = h.client.pipeline();
  for (const r of rs) {
    p.evalsha(h.shas.admit, 1 + cands.length, 'ah:key:h1', ...c.keys, 'gpt-4o', String(r), newLease(), '0', '0', '60000',
      '0', '0', 'req', '0', 'ip', '1000', ...c.args);
  }
  const counts = {};
  for (const [err, reply] of await p.exec()) {
    assert.equal(err, null);
    assert.equal(reply[0], 'ok');
    counts[reply[1]] = (counts[reply[1]] ?? 0) + 1;
  }
  return counts;
}

test('pinned r picks exactly the account whose cumulative weight first exceeds r * total', async () => {
  await seedKeyAndUser(h.client);
  const w13 = [['a', 0, 1], ['b', 0, 3]]; // a covers [0, 1), b [1, 4) of r * 4
  assert.equal(await chosen({ cands: w13, r: '0' }), 'a');
  assert.equal(await chosen({ cands: w13, r: '0.2499' }), 'a');
  assert.equal(await chosen({ cands: w13, r: '0.25' }), 'b');
  assert.equal(await chosen({ cands: w13, r: '0.9999' }), 'b');
  const w211 = [['a', 0, 2], ['b', 0, 1], ['c', 0, 1]]; // r * 4: a [0,2), b [2,3), c [3,4)
  assert.equal(await chosen({ cands: w211, r: '0.4999' }), 'a');
  assert.equal(await chosen({ cands: w211, r: '0.5' }), 'b');
  assert.equal(await chosen({ cands: w211, r: '0.74' }), 'b');
  assert.equal(await chosen({ cands: w211, r: '0.75' }), 'c');
  // the given order is the walk order
  assert.equal(await chosen({ cands: [['b', 0, 3], ['a', 0, 1]], r: '0' }), 'b');
  assert.equal(await chosen({ cands: [['b', 0, 3], ['a', 0, 1]], r: '0.8' }), 'a');
});

test('weights 1:3 over 4000 seeded draws give shares within 3 points of 25% / 75%', async () => {
  await seedKeyAndUser(h.client);
  const rnd = seeded(42);
  const rs = Array.from({ length: 4000 }, () => rnd());
  const counts = await draw([['a', 0, 1], ['b', 0, 3]], rs);
  assert.equal((counts.a ?? 0) + (counts.b ?? 0), 4000);
  const shareB = counts.b / 4000;
  assert.ok(Math.abs(shareB - 0.75) <= 0.03, `share of b = ${shareB}`);
  assert.ok(Math.abs(counts.a / 4000 - 0.25) <= 0.03, `share of a = ${counts.a / 4000}`);
});

test('weights 1:2:5 over 4000 seeded draws, skipping a disabled heavy one', async () => {
  await seedKeyAndUser(h.client);
  await h.client.hset(acctKey('x'), 'disabled', '1');
  const rnd = seeded(7);
  const rs = Array.from({ length: 4000 }, () => rnd());
  const counts = await draw([['x', 0, 100], ['a', 0, 1], ['b', 0, 2], ['c', 0, 5]], rs);
  assert.equal(counts.x, undefined);
  for (const [id, share] of [['a', 1 / 8], ['b', 2 / 8], ['c', 5 / 8]]) {
    assert.ok(Math.abs(counts[id] / 4000 - share) <= 0.03, `share of ${id} = ${counts[id] / 4000}`);
  }
});

test('the highest priority present wins, whatever the weights', async () => {
  await seedKeyAndUser(h.client);
  const cands = [['low', 0, 1000], ['high', 5, 1], ['neg', -3, 1000]];
  const rnd = seeded(1);
  const counts = await draw(cands, Array.from({ length: 300 }, () => rnd()));
  assert.deepEqual(counts, { high: 300 });
  // when the top priority is cooling, the next priority present serves
  const now = await serverNowMs(h.client);
  await h.client.hset(acctKey('high'), 'cooldown_until', String(now + 60_000));
  const counts2 = await draw(cands, Array.from({ length: 300 }, () => rnd()));
  assert.deepEqual(counts2, { low: 300 });
  // and a negative priority is the last resort
  await h.client.hset(acctKey('low'), 'disabled', '1');
  assert.equal(await chosen({ cands, r: '0.5' }), 'neg');
});

test('cooling and disabled accounts are skipped; an expired cooldown is not cooling', async () => {
  await seedKeyAndUser(h.client);
  const now = await serverNowMs(h.client);
  await h.client.hset(acctKey('cool'), 'cooldown_until', String(now + 60_000));
  await h.client.hset(acctKey('off'), 'disabled', '1', 'disabled_reason', 'upstream 401');
  await h.client.hset(acctKey('past'), 'cooldown_until', String(now - 1));
  await h.client.hset(acctKey('zero'), 'cooldown_until', '0');
  const cands = [['cool', 0, 1], ['off', 0, 1], ['past', 0, 1], ['zero', 0, 1]];
  // r * 4 in [0, 2) would land on cool/off if they were kept
  assert.equal(await chosen({ cands, r: '0' }), 'past');
  assert.equal(await chosen({ cands, r: '0.49' }), 'past');
  assert.equal(await chosen({ cands, r: '0.5' }), 'zero');
  assert.equal(await chosen({ cands, r: '0.99' }), 'zero');
  // disabled wins over "not cooling": a disabled account with no cooldown is never chosen
  assert.deepEqual(await admit(h, { cands: [['off', 9, 1]] }), ['err', 'no_available_account', -1]);
});

test('with every candidate cooling, retry_ms is the soonest remaining cooldown', async () => {
  await seedKeyAndUser(h.client);
  const before = await serverNowMs(h.client);
  await h.client.hset(acctKey('a'), 'cooldown_until', String(before + 5000));
  await h.client.hset(acctKey('b'), 'cooldown_until', String(before + 2000));
  // disabled: its (sooner) cooldown is no reason to come back
  await h.client.hset(acctKey('c'), 'cooldown_until', String(before + 500), 'disabled', '1');
  const reply = await admit(h, { cands: [['a', 1, 1], ['b', 0, 1], ['c', 0, 1]] });
  const after = await serverNowMs(h.client);
  assert.equal(reply.length, 3);
  assert.deepEqual(reply.slice(0, 2), ['err', 'no_available_account']);
  assert.equal(typeof reply[2], 'number');
  assert.ok(reply[2] <= 2000 && reply[2] >= 2000 - (after - before), `retry_ms = ${reply[2]}`);
});

test('every candidate disabled gives retry_ms -1', async () => {
  await seedKeyAndUser(h.client);
  await h.client.hset(acctKey('a'), 'disabled', '1');
  await h.client.hset(acctKey('b'), 'disabled', '1');
  assert.deepEqual(await admit(h, { cands: [['a', 0, 1], ['b', 0, 1]] }), ['err', 'no_available_account', -1]);
});

test('failover draws with the same rule', async () => {
  const now = await serverNowMs(h.client);
  await h.client.hset(acctKey('c2'), 'cooldown_until', String(now + 60_000));
  const cands = [['p0', 0, 50], ['c2', 2, 1], ['a', 1, 1], ['b', 1, 3]];
  const c = candidates(cands);
  const run = (r) => h.run('failover', [acctKey('dead'), ...c.keys], ['none', '0', 'upstream 500', '500', r, 'L', '0', ...c.args]);
  assert.deepEqual(await run('0.2499'), ['ok', 'a']);
  assert.deepEqual(await run('0.25'), ['ok', 'b']);
});

test('malformed candidates are errors and change nothing', async () => {
  await seedKeyAndUser(h.client);
  const keyKey = 'ah:key:h1';
  const head = ['L', '0', '0', '60000', '0', '0', 'req', '0', 'ip', '1000'];
  const call = (keys, [r, ...rest]) => h.run('admit', [keyKey, ...keys], ['gpt-4o', r, ...head, ...rest]);
  const bad = [
    [[acctKey('a')], ['0.5', '1', 'a', '0', '0', '0', '0'], /weight must be >= 1/],
    [[acctKey('a')], ['0.5', '1', 'a', '0', '-2', '0', '0'], /weight must be >= 1/],
    [[acctKey('a')], ['0.5', '1', 'a', '0', '1.5', '0', '0'], /weight must be a decimal integer/],
    [[acctKey('a')], ['0.5', '1', 'a', 'high', '1', '0', '0'], /priority must be a decimal integer/],
    [[acctKey('a')], ['0.5', '1', '', '0', '1', '0', '0'], /missing account id/],
    [[acctKey('a')], ['1', '1', 'a', '0', '1', '0', '0'], /r must be a decimal in \[0, 1\)/],
    [[acctKey('a')], ['-0.1', '1', 'a', '0', '1', '0', '0'], /r must be a decimal/],
    [[acctKey('a')], ['nan', '1', 'a', '0', '1', '0', '0'], /r must be a decimal/],
    [[acctKey('a')], ['', '1', 'a', '0', '1', '0', '0'], /r must be a decimal/],
    [[acctKey('b'), acctKey('a')], ['0.5', '2', 'a', '0', '1', '0', '0', 'b', '0', '1', '0', '0'], /KEYS\[2\] is ah:acct:b, expected ah:acct:a/],
    [[acctKey('a')], ['0.5', '2', 'a', '0', '1', '0', '0'], /expected 3 KEYS, got 2/],
    [[acctKey('a')], ['0.5', '1', 'a', '0', '1', '0', '0', 'extra'], /expected 18 ARGV, got 19/],
    // the old triples are no longer accepted
    [[acctKey('a')], ['0.5', '1', 'a', '0', '1'], /expected 18 ARGV, got 16/],
    [[], ['0.5', '-1'], /candidate count must be >= 0/],
    [[], ['0.5', 'x'], /candidate count must be a decimal integer/],
  ];
  for (const [keys, args, re] of bad) {
    await rejectsUnchanged(h.client, () => call(keys, args), re);
  }
  assert.equal(await h.client.hget(keyKey, 'last_used_at'), null);
  assert.equal(await h.client.exists(acctKey('a')), 0);
});

// --- accounts at their own limits ---------------------------------------

test('an account at its rpm limit is skipped, whatever its priority; one without limits has no window', async () => {
  await seedKeyAndUser(h.client);
  const cands = [['a', 5, 1, 2, 0], ['b', 0, 1, 0, 0]];
  let s = await early();
  assert.equal(await chosen({ cands }), 'a');
  assert.equal(await chosen({ cands }), 'a');
  // a has served 2 in the window: b serves
  assert.equal(await chosen({ cands }), 'b');
  assert.deepEqual(await win('a', s), { rs: 2, ts: 0, tr: -61, o: 0, buckets: [[0, 2, 0]] }, 'a skipped account counts nothing');
  assert.equal(await h.client.exists(acctWin('b')), 0, 'an account without limits is not counted');
  // once a's oldest bucket has left the window (61 s after its second), a serves again
  s = await early();
  await plantWindow(h.client, acctWin('a'), [[-61, 1, 0], [-1, 1, 0]], { at: s });
  assert.equal(await chosen({ cands }), 'a');
  assert.deepEqual(await win('a', s), { rs: 2, ts: 0, tr: -61, o: -1, buckets: [[-1, 1, 0], [0, 1, 0]] });
  // rpm 0 means no limit
  for (let i = 0; i < 5; i++) assert.equal(await chosen({ cands: [['b', 0, 1, 0, 0]] }), 'b');
  assert.equal(await h.client.exists(acctWin('b')), 0);
});

test('an account at its tpm limit (for the tokens of this request) is skipped', async () => {
  await seedKeyAndUser(h.client);
  const cands = [['a', 5, 1, 0, 100], ['b', 0, 1, 0, 0]];
  const s = await early();
  assert.equal(await chosen({ cands, tokens: 60 }), 'a');
  // 60 + 60 > 100: a is skipped for this request, but a smaller one fits
  assert.equal(await chosen({ cands, tokens: 60 }), 'b');
  assert.equal(await chosen({ cands, tokens: 40 }), 'a');
  assert.equal(await chosen({ cands, tokens: 1 }), 'b');
  // tokens 0 always fits (no rpm limit)
  assert.equal(await chosen({ cands, tokens: 0 }), 'a');
  assert.deepEqual(await win('a', s), { rs: 3, ts: 100, tr: -61, o: 0, buckets: [[0, 3, 100]] });
  assert.equal(await h.client.exists(acctWin('b')), 0);
});

test('every available candidate at its limit: rate_limit_exceeded with the soonest retry, nothing counted', async () => {
  await seedKeyAndUser(h.client);
  const s = await early();
  // a: rpm 1, a request 50 s ago (room at s + 11); b: tpm 100, 90 tokens 30 s ago (room at s + 31)
  await plantWindow(h.client, acctWin('a'), [[-50, 1, 0]], { at: s });
  await plantWindow(h.client, acctWin('b'), [[-30, 1, 90]], { at: s });
  // d is disabled: no retry from it
  await h.client.hset(acctKey('d'), 'disabled', '1');
  const cands = [['a', 0, 1, 1, 0], ['b', 0, 1, 0, 100], ['d', 0, 1, 0, 0]];
  const [a, b] = [await win('a', s), await win('b', s)];
  const within = async (opts, at) => {
    const t0 = await serverNowMs(h.client);
    const reply = await refusedOnly(h.client, () => admit(h, opts), (r) => assert.equal(r[1], 'rate_limit_exceeded'));
    const t1 = await serverNowMs(h.client);
    assert.ok(reply[2] >= at * 1000 - t1 && reply[2] <= at * 1000 - t0, `retry ${reply[2]} for ${at * 1000 - t0}`);
  };
  await within({ cands, tokens: 20 }, s + 11);
  // b alone: its bucket leaves the window at (s - 30 + 61) s
  await within({ cands: [['b', 0, 1, 0, 100]], tokens: 20 }, s + 31);
  // a cooling account that returns sooner gives the retry; the reason stays the limit
  const now = await serverNowMs(h.client);
  await h.client.hset(acctKey('c'), 'cooldown_until', String(now + 3000));
  const r3 = await admit(h, { cands: [...cands, ['c', 0, 1, 0, 0]], tokens: 20 });
  assert.deepEqual(r3.slice(0, 2), ['err', 'rate_limit_exceeded']);
  assert.ok(r3[2] > 0 && r3[2] <= 3000, `retry ${r3[2]}`);
  // cooling and disabled only: no_available_account as before
  const r4 = await admit(h, { cands: [['c', 0, 1, 0, 0], ['d', 0, 1, 0, 0]] });
  assert.deepEqual(r4.slice(0, 2), ['err', 'no_available_account']);
  // nothing was counted on any account
  assert.deepEqual([await win('a', s), await win('b', s)], [a, b]);
  assert.deepEqual((await h.client.keys('ah:lim:*')).sort(), [acctWin('a'), acctWin('b')]);
});

test('an account refused for its limit still drops the buckets that left its window', async () => {
  await seedKeyAndUser(h.client);
  const s = await early();
  await plantWindow(h.client, acctWin('a'), [[-70, 2, 50], [-5, 1, 10]], { at: s });
  await plantWindow(h.client, acctWin('b'), [[-61, 1, 10], [-20, 1, 10]], { at: s });
  const t0 = await serverNowMs(h.client);
  const reply = await refusedOnly(h.client, () => admit(h, { cands: [['a', 0, 1, 1, 0], ['b', 0, 1, 1, 0]] }),
    (r) => assert.equal(r[1], 'rate_limit_exceeded'));
  const t1 = await serverNowMs(h.client);
  // the soonest: b's bucket of s-20 leaves at s + 41
  assert.ok(reply[2] >= (s + 41) * 1000 - t1 && reply[2] <= (s + 41) * 1000 - t0, `retry ${reply[2]}`);
  assert.deepEqual(await win('a', s), { rs: 1, ts: 10, tr: -61, o: -5, buckets: [[-5, 1, 10]] });
  assert.deepEqual(await win('b', s), { rs: 1, ts: 10, tr: -61, o: -20, buckets: [[-20, 1, 10]] });
});

test('a request larger than an account\'s whole tpm budget never goes to it', async () => {
  await seedKeyAndUser(h.client);
  const reply = await admit(h, { cands: [['a', 0, 1, 0, 100]], tokens: 101 });
  assert.deepEqual(reply, ['err', 'rate_limit_exceeded', 60000]);
  assert.equal(await h.client.exists(acctWin('a')), 0);
});

test('failover skips accounts at their limit and counts the request on the next one', async () => {
  await seedKeyAndUser(h.client);
  const s = await early();
  const admitted = await admit(h, { lease: 'F1', tokens: 30, cands: [['a', 0, 1, 0, 0]] });
  assert.equal(admitted[1], 'a');
  // b is at its rpm limit; c (with limits of its own) takes the request
  await plantWindow(h.client, acctWin('b'), [[0, 1, 0]], { at: s });
  const b = await win('b', s);
  const cands = [['b', 9, 1, 1, 0], ['c', 0, 1, 10, 1000]];
  assert.deepEqual(await failover(h, 'a', { lease: 'F1', tokens: 30, cands }), ['ok', 'c']);
  assert.deepEqual(await win('c', s), { rs: 1, ts: 30, tr: -61, o: 0, buckets: [[0, 1, 30]] });
  const hold = await h.client.hgetall('ah:hold:F1');
  assert.equal(hold.acct_id, 'c');
  assert.equal(Number(hold.acct_sec), s, 'the bucket settle corrects');
  assert.deepEqual(await win('b', s), b, 'the skipped account counts nothing');
  assert.equal(await h.client.exists(acctWin('a')), 0, 'a has no limits');
  // only limited accounts left: rate_limit_exceeded with a retry when b's bucket leaves
  const t0 = await serverNowMs(h.client);
  const reply = await failover(h, 'c', { lease: 'F1', tokens: 30, cands: [['b', 0, 1, 1, 0]] });
  const t1 = await serverNowMs(h.client);
  assert.deepEqual(reply.slice(0, 2), ['err', 'rate_limit_exceeded']);
  assert.ok(reply[2] >= (s + 61) * 1000 - t1 && reply[2] <= (s + 61) * 1000 - t0, `retry ${reply[2]}`);
  assert.deepEqual(await win('b', s), b);
  assert.equal((await h.client.hgetall('ah:hold:F1')).acct_id, 'c', 'no account: the hold keeps the last one');
});

test('failover with a lease whose hold is gone still counts the next account and creates no hold', async () => {
  const s = await early();
  assert.deepEqual(await failover(h, 'a', { lease: 'ghost', tokens: 5, cands: [['b', 0, 1, 3, 0]] }), ['ok', 'b']);
  assert.deepEqual(await win('b', s), { rs: 1, ts: 5, tr: -61, o: 0, buckets: [[0, 1, 5]] });
  assert.equal(await h.client.exists('ah:hold:ghost'), 0);
});

// lib/pick.lua, the account choice, exercised through admit (and failover
// for the shared behaviour): priority, skipping, the weighted draw and the
// retry time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acctKey, admit, candidates, seedKeyAndUser, seeded, serverNowMs, useRedis } from './fixtures.mjs';

const h = useRedis();

async function chosen(opts) {
  const reply = await admit(h, opts);
  assert.equal(reply[0], 'ok', `expected an account, got ${JSON.stringify(reply)}`);
  return reply[1];
}

// Many admits in one pipeline; returns {id: count}.
async function draw(cands, rs) {
  const c = candidates(cands);
  const p = h.client.pipeline();
  for (const r of rs) p.evalsha(h.shas.admit, 1 + cands.length, 'ah:key:h1', ...c.keys, 'gpt-4o', String(r), ...c.args);
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
  const run = (r) => h.run('failover', [acctKey('dead'), ...c.keys], ['none', '0', 'upstream 500', '500', r, ...c.args]);
  assert.deepEqual(await run('0.2499'), ['ok', 'a']);
  assert.deepEqual(await run('0.25'), ['ok', 'b']);
});

test('malformed candidates are errors and change nothing', async () => {
  await seedKeyAndUser(h.client);
  const keyKey = 'ah:key:h1';
  const call = (keys, args) => h.run('admit', [keyKey, ...keys], ['gpt-4o', ...args]);
  const bad = [
    [[acctKey('a')], ['0.5', '1', 'a', '0', '0'], /weight must be >= 1/],
    [[acctKey('a')], ['0.5', '1', 'a', '0', '-2'], /weight must be >= 1/],
    [[acctKey('a')], ['0.5', '1', 'a', '0', '1.5'], /weight must be a decimal integer/],
    [[acctKey('a')], ['0.5', '1', 'a', 'high', '1'], /priority must be a decimal integer/],
    [[acctKey('a')], ['0.5', '1', '', '0', '1'], /missing account id/],
    [[acctKey('a')], ['1', '1', 'a', '0', '1'], /r must be a decimal in \[0, 1\)/],
    [[acctKey('a')], ['-0.1', '1', 'a', '0', '1'], /r must be a decimal/],
    [[acctKey('a')], ['nan', '1', 'a', '0', '1'], /r must be a decimal/],
    [[acctKey('a')], ['', '1', 'a', '0', '1'], /r must be a decimal/],
    [[acctKey('b'), acctKey('a')], ['0.5', '2', 'a', '0', '1', 'b', '0', '1'], /KEYS\[2\] is ah:acct:b, expected ah:acct:a/],
    [[acctKey('a')], ['0.5', '2', 'a', '0', '1'], /expected 3 KEYS, got 2/],
    [[acctKey('a')], ['0.5', '1', 'a', '0', '1', 'extra'], /expected 6 ARGV, got 7/],
    [[], ['0.5', '-1'], /candidate count must be >= 0/],
    [[], ['0.5', 'x'], /candidate count must be a decimal integer/],
  ];
  for (const [keys, args, re] of bad) {
    await assert.rejects(call(keys, args), re, JSON.stringify(args));
  }
  assert.equal(await h.client.hget(keyKey, 'last_used_at'), null);
  assert.equal(await h.client.exists(acctKey('a')), 0);
});

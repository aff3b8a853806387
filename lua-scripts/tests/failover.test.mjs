// failover.lua: recording a failure (disable, cool, none) and choosing the
// next account; a real 1-second cooldown running out; the next account's
// rate window (ah:lim:acct:<id>, only with a limit) and the hold's acct_sec.

import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  acctKey, admit, checkWindows, earlyInSecond, failover as failoverCall, limKey, okReply, readWindow, rejectsUnchanged,
  seedKeyAndUser, serverNowMs, sleep, useRedis,
} from './fixtures.mjs';

const h = useRedis();

afterEach(async () => { await checkWindows(h.client); });

const failover = (failed, opts) => failoverCall(h, failed, opts);

test('cool: sets cooldown_until = now + s*1000, counts the error, returns the next account', async () => {
  const t0 = await serverNowMs(h.client);
  assert.deepEqual(await failover('a', { secs: 300, cands: [['b', 0, 1], ['c', 0, 3]], r: '0.5' }), ['ok', 'c']);
  const t1 = await serverNowMs(h.client);
  const st = await h.client.hgetall(acctKey('a'));
  const until = Number(st.cooldown_until);
  assert.match(st.cooldown_until, /^\d{13}$/);
  assert.ok(until >= t0 + 300_000 && until <= t1 + 300_000, `cooldown_until ${until} not in [${t0 + 300_000}, ${t1 + 300_000}]`);
  assert.deepEqual({ ...st, cooldown_until: 'x' },
    { cooldown_until: 'x', errors: '1', requests: '1', last_error: 'upstream 500', last_status: '500' });
  // the cooled account is now skipped by admission
  await seedKeyAndUser(h.client);
  assert.deepEqual(await admit(h, { cands: [['a', 5, 1], ['b', 0, 1]] }), okReply('b'));
});

test('re-cooling keeps the later deadline', async () => {
  await failover('a', { secs: 300 });
  const first = Number(await h.client.hget(acctKey('a'), 'cooldown_until'));
  await failover('a', { secs: 60, reason: 'upstream 429', status: 429 });
  assert.equal(Number(await h.client.hget(acctKey('a'), 'cooldown_until')), first, 'a shorter cooldown must not shorten');
  assert.equal(await h.client.hget(acctKey('a'), 'last_error'), 'upstream 429');
  const t0 = await serverNowMs(h.client);
  await failover('a', { secs: 600 });
  const third = Number(await h.client.hget(acctKey('a'), 'cooldown_until'));
  assert.ok(third >= t0 + 600_000 && third > first, 'a longer cooldown extends');
  assert.equal(await h.client.hget(acctKey('a'), 'errors'), '3');
  assert.equal(await h.client.hget(acctKey('a'), 'requests'), '3');
});

test('disable: stays disabled through later failures and cooldown expiry, until reset', async () => {
  assert.deepEqual(await failover('a', { action: 'disable', reason: 'upstream 401', status: 401 }), ['ok', 'next']);
  let st = await h.client.hgetall(acctKey('a'));
  assert.equal(st.disabled, '1');
  assert.equal(st.disabled_reason, 'upstream 401');
  assert.equal(st.last_status, '401');
  assert.equal(st.cooldown_until, undefined, 'disable sets no cooldown');
  // a later cooling failure does not lift it, and an expired cooldown does not either
  await failover('a', { action: 'cool', secs: 0, reason: 'upstream 503', status: 503 });
  st = await h.client.hgetall(acctKey('a'));
  assert.equal(st.disabled, '1');
  assert.equal(st.disabled_reason, 'upstream 401');
  assert.ok(Number(st.cooldown_until) <= await serverNowMs(h.client));
  await seedKeyAndUser(h.client);
  assert.deepEqual(await admit(h, { cands: [['a', 0, 1]] }), ['err', 'no_available_account', -1]);
  assert.deepEqual(await h.run('failover', [acctKey('x'), acctKey('a')], ['none', '0', 'timeout', '0', '0', 'L', '0', '1', 'a', '0', '1', '0', '0']),
    ['err', 'no_available_account', -1]);
  assert.equal(await h.run('account_reset', [acctKey('a')], []), 1);
  assert.deepEqual(await admit(h, { cands: [['a', 0, 1]] }), okReply('a'));
});

test('none: only counts the error', async () => {
  assert.deepEqual(await failover('a', { action: 'none', secs: 300, reason: 'connect refused', status: 0 }), ['ok', 'next']);
  assert.deepEqual(await h.client.hgetall(acctKey('a')),
    { errors: '1', requests: '1', last_error: 'connect refused', last_status: '0' });
});

test('counters add up on existing state', async () => {
  await h.client.hset(acctKey('a'), 'requests', '10', 'errors', '2', 'latency_ewma_ms', '120.5');
  await failover('a', { action: 'none' });
  await failover('a', { action: 'cool', secs: 1 });
  const st = await h.client.hgetall(acctKey('a'));
  assert.equal(st.requests, '12');
  assert.equal(st.errors, '4');
  assert.equal(st.latency_ewma_ms, '120.5');
});

test('no remaining candidate: no_available_account with -1, the failure still recorded', async () => {
  assert.deepEqual(await failover('a', { cands: [] }), ['err', 'no_available_account', -1]);
  assert.equal(await h.client.hget(acctKey('a'), 'errors'), '1');
  assert.ok(Number(await h.client.hget(acctKey('a'), 'cooldown_until')) > 0);
});

test('remaining candidates all cooling: retry_ms is the soonest', async () => {
  const t0 = await serverNowMs(h.client);
  await h.client.hset(acctKey('b'), 'cooldown_until', String(t0 + 9000));
  await h.client.hset(acctKey('c'), 'cooldown_until', String(t0 + 4000));
  const reply = await failover('a', { secs: 1, cands: [['b', 0, 1], ['c', 0, 1]] });
  const t1 = await serverNowMs(h.client);
  assert.deepEqual(reply.slice(0, 2), ['err', 'no_available_account']);
  // not the failed account's own 1 s cooldown: it is not a candidate
  assert.ok(reply[2] <= 4000 && reply[2] >= 4000 - (t1 - t0), `retry_ms = ${reply[2]}`);
});

test('a 1-second cooldown runs out and the account is picked again', async () => {
  await seedKeyAndUser(h.client);
  const t0 = Date.now();
  assert.deepEqual(await failover('a', { secs: 1, cands: [] }), ['err', 'no_available_account', -1]);
  const until = Number(await h.client.hget(acctKey('a'), 'cooldown_until'));
  const first = await admit(h, { cands: [['a', 0, 1]] });
  assert.deepEqual(first.slice(0, 2), ['err', 'no_available_account']);
  assert.ok(first[2] > 0 && first[2] <= 1000, `retry_ms = ${first[2]}`);
  let reply = first;
  let polls = 0;
  while (reply[0] !== 'ok') {
    assert.ok(Date.now() - t0 < 5000, 'still cooling after 5 s');
    await sleep(50);
    reply = await admit(h, { cands: [['a', 0, 1]] });
    polls++;
  }
  assert.deepEqual(reply, okReply('a'));
  assert.ok(polls >= 5, `picked again too early (after ${polls} polls)`);
  assert.ok(await serverNowMs(h.client) >= until, 'picked before cooldown_until');
});

test('the next account counts the request in its windows; the failed one keeps its own', async () => {
  await seedKeyAndUser(h.client);
  const s = Math.floor((await earlyInSecond(h.client)) / 1000);
  const win = async (id) => {
    const w = await readWindow(h.client, limKey('acct', id), s);
    if (w) delete w.pttl;
    return w;
  };
  const counted = { rs: 1, ts: 25, tr: -61, o: 0, buckets: [[0, 1, 25]] };
  assert.deepEqual(await admit(h, { lease: 'L7', tokens: 25, cands: [['a', 0, 1, 10, 1000]] }), okReply('a'));
  assert.deepEqual(await failover('a', { lease: 'L7', tokens: 25, cands: [['b', 0, 1, 10, 1000]] }), ['ok', 'b']);
  for (const id of ['a', 'b']) assert.deepEqual(await win(id), counted, id);
  assert.deepEqual(await h.client.hmget('ah:hold:L7', 'acct_id', 'acct_sec'), ['b', String(s)]);
  // a next account without limits has no window, and the hold no bucket to correct
  assert.deepEqual(await failover('b', { lease: 'L7', tokens: 25, cands: [['n', 0, 1, 0, 0]] }), ['ok', 'n']);
  assert.equal(await h.client.exists(limKey('acct', 'n')), 0);
  assert.deepEqual(await h.client.hmget('ah:hold:L7', 'acct_id', 'acct_sec'), ['n', null]);
  // one with an RPM limit only: counted, but no TPM bucket for settle to correct
  assert.deepEqual(await failover('n', { lease: 'L7', tokens: 25, cands: [['r', 0, 1, 10, 0]] }), ['ok', 'r']);
  assert.deepEqual(await win('r'), counted);
  assert.deepEqual(await h.client.hmget('ah:hold:L7', 'acct_id', 'acct_sec'), ['r', null]);
  // a refusal counts nothing anywhere
  await h.client.hset(acctKey('c'), 'disabled', '1');
  const before = await checkWindows(h.client);
  assert.deepEqual(await failover('r', { lease: 'L7', tokens: 25, cands: [['c', 0, 1, 10, 1000]] }),
    ['err', 'no_available_account', -1]);
  assert.deepEqual(await checkWindows(h.client), before);
  for (const id of ['a', 'b', 'r']) assert.deepEqual(await win(id), counted, id);
  assert.equal(await h.client.hget('ah:hold:L7', 'acct_id'), 'r');
});

test('malformed calls are errors and record nothing', async () => {
  const head = (action, secs, status, r, lease = 'L', tokens = '0') => [action, secs, 'x', status, r, lease, tokens];
  const bad = [
    [[...head('explode', '0', '500', '0'), '0'], /action must be disable, cool or none/],
    [[...head('cool', '-5', '500', '0'), '0'], /cooldown seconds must be in \[0, 1e9\]/],
    [[...head('cool', '1.5', '500', '0'), '0'], /cooldown seconds must be a decimal integer/],
    [[...head('cool', '10', 'five hundred', '0'), '0'], /upstream status must be a decimal integer/],
    [[...head('cool', '10', '500', '2'), '0'], /r must be a decimal/],
    [[...head('cool', '10', '500', '0', ''), '0'], /empty lease/],
    [[...head('cool', '10', '500', '0', 'L', '-'), '0'], /tokens must be a decimal integer/],
    [[...head('cool', '10', '500', '0'), '1', 'b', '0', '0', '0', '0'], /weight must be >= 1/],
    [[...head('cool', '10', '500', '0'), '1', 'b', '0', '1', '-', '0'], /candidate 1 rpm must be a decimal integer/],
    [[...head('cool', '10', '500', '0'), '1', 'b', '0', '1'], /expected 13 ARGV, got 11/],
    [[...head('cool', '10', '500', '0'), '0', 'extra'], /expected 8 ARGV, got 9/],
  ];
  for (const [args, re] of bad) {
    const keys = [acctKey('a'), ...(args[7] === '1' ? [acctKey('b')] : [])];
    await rejectsUnchanged(h.client, () => h.run('failover', keys, args), re);
  }
  assert.equal(await h.client.exists(acctKey('a')), 0);
});

// Money: holds placed by admit, charges by settle, expired holds refunded by
// sweep, leases extended by renew. After every step the user's money obeys
// credited = balance + held + spent (money() checks it), and every balance
// change has its ledger entry.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  admit, calIds, credits, ledger, logs, money, okReply, refusedOnly, rejectsUnchanged, seedKeyAndUser, seeded,
  serverNowMs, serverNowS, settle, unchanged, useRedis, waitFor,
} from './fixtures.mjs';

const h = useRedis();

// Key k1 of user u1 with `balance` credited through the credits script.
async function funded(balance, seed = {}) {
  await seedKeyAndUser(h.client, seed);
  if (balance > 0) assert.deepEqual(await credits(h, 'u1', balance, 'seed'), ['ok', balance, 0]);
  assert.deepEqual(await money(h.client), { balance, held: 0, spent: 0, credited: balance });
}

const sweep = (limit = 100) => h.run('sweep', ['ah:holds'], [String(limit)]);
const renew = (lease, ttl) => h.run('renew', ['ah:holds'], [lease, String(ttl)]);
// Each ledger entry's balance is the previous one's plus its delta (from 0).
function chain(all) {
  for (const [i, e] of all.entries()) {
    const prev = i === 0 ? 0 : Number(all[i - 1].balance);
    assert.equal(Number(e.balance), prev + Number(e.delta), `ledger entry ${i} (${e.type})`);
  }
}

// the ledger after the seed top-up
const entries = async () => (await ledger(h.client)).slice(1);

// Wait until the server's clock has passed the lease's expiry.
async function expired(lease) {
  const expiry = Number(await h.client.zscore('ah:holds', lease));
  assert.ok(expiry > 0, `${lease} is not held`);
  await waitFor(async () => (await serverNowMs(h.client)) > expiry, 5000, `${lease} expired`);
}

test('admit moves the hold from balance to held and writes a "hold" ledger entry', async () => {
  await funded(1000);
  assert.deepEqual(await admit(h, { lease: 'L1', hold: 300, requestId: 'rq-1' }), okReply('a'));
  assert.deepEqual(await money(h.client), { balance: 700, held: 300, spent: 0, credited: 1000 });
  assert.deepEqual(await entries(), [{ type: 'hold', delta: '-300', balance: '700', request_id: 'rq-1' }]);
  assert.equal(await h.client.hget('ah:hold:L1', 'amount'), '300');
  // a second hold of the rest
  assert.deepEqual(await admit(h, { lease: 'L2', hold: 700, requestId: 'rq-2' }), okReply('a'));
  assert.deepEqual(await money(h.client), { balance: 0, held: 1000, spent: 0, credited: 1000 });
  assert.equal((await entries()).length, 2);
});

test('insufficient_quota "balance" when the balance is below the hold; nothing but the log changes', async () => {
  await funded(299);
  await refusedOnly(h.client, () => admit(h, { hold: 300 }), ['err', 'insufficient_quota', 0, 'balance']);
  assert.deepEqual(await money(h.client), { balance: 299, held: 0, spent: 0, credited: 299 });
  assert.deepEqual(await entries(), []);
  assert.equal(await h.client.exists('ah:holds'), 0);
  // exactly the balance is enough
  assert.deepEqual(await admit(h, { hold: 299 }), okReply('a'));
  assert.deepEqual(await money(h.client), { balance: 0, held: 299, spent: 0, credited: 299 });
  await refusedOnly(h.client, () => admit(h, { hold: 1 }), ['err', 'insufficient_quota', 0, 'balance']);
});

test('a hold of 0 always passes, even at balance 0, and writes no ledger entry', async () => {
  await funded(0);
  assert.deepEqual(await admit(h, { lease: 'Z', hold: 0 }), okReply('a'));
  assert.deepEqual(await money(h.client), { balance: 0, held: 0, spent: 0, credited: 0 });
  assert.equal(await h.client.exists('ah:ledger:u1'), 0);
  // the request still has its hold record and lease
  assert.equal(await h.client.hget('ah:hold:Z', 'amount'), '0');
  assert.ok(Number(await h.client.zscore('ah:holds', 'Z')) > 0);
  // no balance field at all counts as 0
  await h.client.hdel('ah:user:u1', 'balance');
  assert.equal((await admit(h, { hold: 0 }))[0], 'ok');
  await refusedOnly(h.client, () => admit(h, { hold: 1 }), ['err', 'insufficient_quota', 0, 'balance']);
});

test('a key\'s spend_limit_monthly refuses a hold that would pass it this month', async () => {
  const now = await serverNowS(h.client);
  const [, , month] = calIds(now);
  await funded(10_000, { key: { spend_limit_monthly: '1000', spent_month: '900', spent_month_id: month } });
  await refusedOnly(h.client, () => admit(h, { hold: 101 }), ['err', 'insufficient_quota', 0, 'spend_limit']);
  assert.deepEqual(await admit(h, { hold: 100 }), okReply('a'));
  // the spend limit is checked before the balance
  await h.client.hset('ah:user:u1', 'balance', '0', 'credited', '100', 'held', '100');
  await refusedOnly(h.client, () => admit(h, { hold: 101 }), ['err', 'insufficient_quota', 0, 'spend_limit']);
  await h.client.hset('ah:user:u1', 'balance', '10000', 'credited', '10100');
  // already past the limit: even a hold of 0 is refused
  await h.client.hset('ah:key:h1', 'spent_month', '1001');
  await refusedOnly(h.client, () => admit(h, { hold: 0 }), ['err', 'insufficient_quota', 0, 'spend_limit']);
  // last month's spend does not count
  await h.client.hset('ah:key:h1', 'spent_month', '5000', 'spent_month_id', '199912');
  assert.equal((await admit(h, { hold: 1000 }))[0], 'ok');
  // 0 or absent: no limit
  await h.client.hset('ah:key:h1', 'spend_limit_monthly', '0', 'spent_month_id', month);
  assert.equal((await admit(h, { hold: 1000 }))[0], 'ok');
});

test('settle adds the cost to the key\'s spend this month, starting a new month afresh', async () => {
  const [, , month] = calIds(await serverNowS(h.client));
  await funded(10_000);
  await admit(h, { lease: 'S1', hold: 500 });
  await settle(h, 'a', { lease: 'S1', cost: 250 });
  let key = await h.client.hgetall('ah:key:h1');
  assert.equal(key.spent_month, '250');
  assert.equal(key.spent_month_id, month);
  await admit(h, { lease: 'S2', hold: 500 });
  await settle(h, 'a', { lease: 'S2', cost: 100 });
  assert.equal(await h.client.hget('ah:key:h1', 'spent_month'), '350');
  // a stored month that is not this one restarts from 0
  await h.client.hset('ah:key:h1', 'spent_month_id', '202001', 'spent_month', '99999');
  await admit(h, { lease: 'S3', hold: 0 });
  await settle(h, 'a', { lease: 'S3', cost: 40 });
  key = await h.client.hgetall('ah:key:h1');
  assert.equal(key.spent_month, '40');
  assert.equal(key.spent_month_id, month);
  // the whole cost counts, paid or not
  const m = await money(h.client);
  await h.client.hset('ah:user:u1', { balance: '0', credited: String(m.credited - m.balance) });
  await admit(h, { lease: 'S4', hold: 0 });
  assert.deepEqual(await settle(h, 'a', { lease: 'S4', cost: 60 }), [0, 60, 0]);
  assert.equal(await h.client.hget('ah:key:h1', 'spent_month'), '100');
  await money(h.client);
});

// One admit + settle; returns the settle reply.
async function charge(hold, cost, lease = 'C') {
  assert.equal((await admit(h, { lease, hold, requestId: `rq-${lease}` }))[0], 'ok');
  await money(h.client);
  const reply = await settle(h, 'a', { lease, cost, fields: { request_id: `rq-${lease}` } });
  assert.equal(await h.client.exists(`ah:hold:${lease}`), 0, 'the hold record is gone');
  assert.equal(await h.client.zscore('ah:holds', lease), null, 'the lease is gone');
  return reply;
}

test('settle: a cost below the hold is charged and the rest released', async () => {
  await funded(1000);
  assert.deepEqual(await charge(300, 120), [120, 0, 880]);
  assert.deepEqual(await money(h.client), { balance: 880, held: 0, spent: 120, credited: 1000 });
  assert.deepEqual((await entries()).at(-1),
    { type: 'charge', delta: '180', balance: '880', request_id: 'rq-C', hold: '300', cost: '120', unpaid: '0' });
});

test('the charge\'s ledger entry names the request even when the node sends its id later', async () => {
  await funded(1000);
  await admit(h, { lease: 'Q', hold: 10, requestId: 'rq-Q' });
  await settle(h, 'a', { lease: 'Q', cost: 5, fields: { stream: '0', request_id: 'rq-Q' } });
  assert.equal((await entries()).at(-1).request_id, 'rq-Q');
});

test('settle: a cost above the hold takes the difference from the balance', async () => {
  await funded(1000);
  assert.deepEqual(await charge(300, 450), [450, 0, 550]);
  assert.deepEqual(await money(h.client), { balance: 550, held: 0, spent: 450, credited: 1000 });
  assert.deepEqual((await entries()).at(-1),
    { type: 'charge', delta: '-150', balance: '550', request_id: 'rq-C', hold: '300', cost: '450', unpaid: '0' });
});

test('settle: a cost above balance + hold charges what there is, records the unpaid rest, balance 0', async () => {
  await funded(400);
  assert.deepEqual(await charge(300, 1000), [400, 600, 0]);
  assert.deepEqual(await money(h.client), { balance: 0, held: 0, spent: 400, credited: 400 });
  assert.deepEqual((await entries()).at(-1),
    { type: 'charge', delta: '-100', balance: '0', request_id: 'rq-C', hold: '300', cost: '1000', unpaid: '600' });
  assert.equal((await logs(h.client)).at(-1).unpaid, '600');
  // a later request with hold 0: nothing to take, all of it unpaid, no ledger entry
  const before = (await entries()).length;
  assert.deepEqual(await charge(0, 50, 'D'), [0, 50, 0]);
  assert.deepEqual(await money(h.client), { balance: 0, held: 0, spent: 400, credited: 400 });
  assert.equal((await entries()).length, before, 'no balance change, no ledger entry');
  assert.equal((await logs(h.client)).at(-1).unpaid, '50');
});

test('settle: cost 0 releases the whole hold', async () => {
  await funded(1000);
  assert.deepEqual(await charge(300, 0), [0, 0, 1000]);
  assert.deepEqual(await money(h.client), { balance: 1000, held: 0, spent: 0, credited: 1000 });
  assert.deepEqual((await entries()).at(-1),
    { type: 'charge', delta: '300', balance: '1000', request_id: 'rq-C', hold: '300', cost: '0', unpaid: '0' });
});

test('settle never takes the balance below 0, whatever the balance held before', async () => {
  await funded(100);
  // a balance made negative from outside (an operator's HSET) is not made worse
  await admit(h, { lease: 'N', hold: 100 });
  await h.client.hset('ah:user:u1', 'balance', '-50', 'credited', '50');
  assert.deepEqual(await settle(h, 'a', { lease: 'N', cost: 80 }), [50, 30, 0]);
  const m = await h.client.hgetall('ah:user:u1');
  assert.equal(m.balance, '0');
  assert.equal(m.held, '0');
  await h.client.hset('ah:user:u1', 'balance', '-10');
  await admit(h, { lease: 'N2', hold: 0 });
  assert.deepEqual(await settle(h, 'a', { lease: 'N2', cost: 5 }), [0, 5, -10]);
  assert.equal(await h.client.hget('ah:user:u1', 'balance'), '-10');
});

test('settling twice releases and charges once', async () => {
  await funded(1000);
  assert.deepEqual(await charge(300, 100), [100, 0, 900]);
  const after = await money(h.client);
  const nledger = (await entries()).length;
  assert.deepEqual(await settle(h, 'a', { lease: 'C', cost: 100 }), [0, 0, -1]);
  assert.deepEqual(await money(h.client), after);
  assert.equal((await entries()).length, nledger);
  assert.equal(await h.client.exists('ah:hold:C'), 0);
});

test('sweep refunds expired holds only, frees their slots, and is idempotent run twice or concurrently', async () => {
  await funded(1000, { key: { max_in_flight: '5', rpm: '10' }, user: { max_in_flight: '5' } });
  for (const [lease, hold, ttl] of [['E1', 100, 1000], ['E2', 200, 1000], ['LIVE', 300, 600_000]]) {
    assert.equal((await admit(h, { lease, hold, ttl, requestId: `rq-${lease}` }))[0], 'ok');
  }
  assert.deepEqual(await money(h.client), { balance: 400, held: 600, spent: 0, credited: 1000 });
  assert.deepEqual(await h.client.hmget('ah:key:h1', 'inflight'), ['3']);
  // nothing expired yet
  assert.equal(await unchanged(h.client, () => sweep()), 0);
  await expired('E1');
  await expired('E2');
  // two sweeps at once, from two connections: together they settle each hold once
  const other = h.redis.newClient();
  const results = await Promise.all([sweep(), other.evalsha(h.shas.sweep, 1, 'ah:holds', '100')]);
  assert.deepEqual(results.sort(), [0, 2]);
  assert.equal(await unchanged(h.client, () => sweep()), 0, 'a second run finds nothing');
  assert.deepEqual(await money(h.client), { balance: 700, held: 300, spent: 0, credited: 1000 });
  const refunds = (await entries()).filter((e) => e.type === 'hold_expired');
  assert.deepEqual(refunds.map(({ balance, ...e }) => e).sort((x, y) => x.request_id.localeCompare(y.request_id)), [
    { type: 'hold_expired', delta: '100', request_id: 'rq-E1' },
    { type: 'hold_expired', delta: '200', request_id: 'rq-E2' },
  ]);
  assert.equal((await entries()).at(-1).balance, '700');
  chain(await ledger(h.client));
  // the live one is untouched: lease, slot, hold
  assert.deepEqual(await h.client.zrange('ah:holds', 0, -1), ['LIVE']);
  assert.equal(await h.client.hget('ah:key:h1', 'inflight'), '1');
  assert.equal(await h.client.hget('ah:user:u1', 'inflight'), '1');
  assert.equal(await h.client.hget('ah:hold:LIVE', 'amount'), '300');
  // the swept records stay (amount 0) for a late settle; the tokens stay counted
  assert.deepEqual([await h.client.hget('ah:hold:E1', 'amount'), await h.client.hget('ah:hold:E1', 'swept')], ['0', '1']);
  assert.equal(await h.client.hget('ah:lim:key:k1', 'rs'), '3');
  // a late settle of a swept hold does not free the slot a second time
  await settle(h, 'a', { lease: 'E1' });
  assert.equal(await h.client.hget('ah:key:h1', 'inflight'), '1');
  assert.equal(await h.client.hget('ah:user:u1', 'inflight'), '1');
  await settle(h, 'a', { lease: 'LIVE' });
  assert.equal(await h.client.hget('ah:key:h1', 'inflight'), '0');
  assert.equal(await h.client.hget('ah:user:u1', 'inflight'), '0');
});

test('a settle after the sweep charges the same user from the balance, as far as it goes', async () => {
  await funded(150);
  await admit(h, { lease: 'X', hold: 100, ttl: 1000, requestId: 'rq-X' });
  await expired('X');
  assert.equal(await sweep(), 1);
  assert.deepEqual(await money(h.client), { balance: 150, held: 0, spent: 0, credited: 150 });
  assert.deepEqual(await credits(h, 'u1', -100, 'correction'), ['ok', 50, 0]);
  // the late settle: 120 due, 50 there
  assert.deepEqual(await settle(h, 'a', { lease: 'X', cost: 120 }), [50, 70, 0]);
  assert.deepEqual(await money(h.client), { balance: 0, held: 0, spent: 50, credited: 50 });
  assert.deepEqual((await entries()).map((e) => e.type), ['hold', 'hold_expired', 'deduct', 'charge']);
  assert.deepEqual((await entries()).at(-1),
    { type: 'charge', delta: '-50', balance: '0', request_id: 'req-1', hold: '0', cost: '120', unpaid: '70' });
  assert.equal(await h.client.exists('ah:hold:X'), 0);
  // and with enough balance, the whole cost
  await credits(h, 'u1', 500, 'top-up');
  await admit(h, { lease: 'Y', hold: 100, ttl: 1000 });
  await expired('Y');
  assert.equal(await sweep(), 1);
  assert.deepEqual(await settle(h, 'a', { lease: 'Y', cost: 120 }), [120, 0, 380]);
  assert.deepEqual(await money(h.client), { balance: 380, held: 0, spent: 170, credited: 550 });
});

test('sweep honours its limit, drops leases whose record is gone, and rejects a bad limit', async () => {
  await funded(1000);
  for (const lease of ['A', 'B', 'C']) await admit(h, { lease, hold: 10 });
  // simulate expiry: the leases' scores in the past
  await h.client.zadd('ah:holds', 'XX', 1, 'A', 2, 'B', 3, 'C');
  await h.client.zadd('ah:holds', 4, 'orphan');
  assert.equal(await sweep(2), 2);
  assert.deepEqual(await h.client.zrange('ah:holds', 0, -1), ['C', 'orphan']);
  assert.equal(await sweep(2), 2);
  assert.equal(await h.client.exists('ah:holds'), 0);
  assert.equal(await h.client.exists('ah:hold:orphan'), 0, 'no record is created');
  assert.deepEqual(await money(h.client), { balance: 1000, held: 0, spent: 0, credited: 1000 });
  for (const [args, re] of [[['0'], /limit must be 1\.\.1000/], [['1001'], /limit must be 1\.\.1000/],
    [['x'], /limit must be a decimal integer/], [[], /expected 1 ARGV, got 0/]]) {
    await rejectsUnchanged(h.client, () => h.run('sweep', ['ah:holds'], args), re);
  }
});

test('sweep and settle do not recreate a user deleted while the request ran', async () => {
  await funded(1000, { key: { max_in_flight: '5' }, user: { max_in_flight: '5' } });
  await admit(h, { lease: 'D1', hold: 100 });
  await admit(h, { lease: 'D2', hold: 100 });
  assert.deepEqual(await h.run('user_delete', ['ah:user:u1', 'ah:user_names', 'ah:users', 'ah:user:u1:keys'], ['u1']), ['ok', 0]);
  await h.client.zadd('ah:holds', 'XX', 1, 'D1');
  assert.equal(await sweep(), 1);
  assert.deepEqual(await settle(h, 'a', { lease: 'D2', cost: 50 }), [0, 0, -1]);
  assert.equal(await h.client.exists('ah:user:u1'), 0);
  assert.deepEqual((await ledger(h.client)).map((e) => e.type), ['topup', 'hold', 'hold'], 'no entry for a deleted user');
  // the key's slots are freed all the same
  assert.equal(await h.client.hget('ah:key:h1', 'inflight'), '0');
});

test('renew extends a lease: it is then not swept; a gone lease gives 0 and changes nothing', async () => {
  await funded(1000, { key: { max_in_flight: '5' } });
  await admit(h, { lease: 'R', hold: 100, ttl: 1000 });
  await admit(h, { lease: 'S', hold: 100, ttl: 1000 });
  const t0 = await serverNowMs(h.client);
  assert.equal(await renew('R', 120_000), 1);
  const t1 = await serverNowMs(h.client);
  const expiry = Number(await h.client.zscore('ah:holds', 'R'));
  assert.ok(expiry >= t0 + 120_000 && expiry <= t1 + 120_000, `expiry ${expiry}`);
  const pttl = await h.client.pttl('ah:hold:R');
  assert.ok(pttl > 86_400_000 + 119_000, `hold PTTL ${pttl}`);
  await expired('S');
  await waitFor(async () => (await serverNowMs(h.client)) > t1 + 1000, 5000, 'R\'s first ttl over');
  assert.equal(await sweep(), 1);
  assert.deepEqual(await h.client.zrange('ah:holds', 0, -1), ['R']);
  assert.deepEqual(await money(h.client), { balance: 900, held: 100, spent: 0, credited: 1000 });
  // the renewed request keeps its slot; the swept one's is free
  assert.equal(await h.client.hget('ah:key:h1', 'inflight'), '1');
  // gone: swept, never held, settled
  assert.equal(await unchanged(h.client, () => renew('S', 60_000)), 0);
  assert.equal(await unchanged(h.client, () => renew('nobody', 60_000)), 0);
  await settle(h, 'a', { lease: 'R', cost: 10 });
  assert.equal(await unchanged(h.client, () => renew('R', 60_000)), 0);
  for (const [args, re] of [[['R', '999'], /ttl_ms must be >= 1000/], [['R', 'x'], /ttl_ms must be a decimal integer/],
    [['R'], /expected 2 ARGV, got 1/]]) {
    await rejectsUnchanged(h.client, () => h.run('renew', ['ah:holds'], args), re);
  }
});

test('a seeded mix of top-ups, holds, charges, sweeps and deductions keeps the invariant at every step', async () => {
  await funded(5000);
  const rnd = seeded(2024);
  const open = [];
  const swept = new Set();
  let seq = 0;
  for (let step = 0; step < 300; step++) {
    const x = rnd();
    if (x < 0.35) {
      const lease = `M${++seq}`;
      const hold = Math.floor(rnd() * 800);
      const reply = await admit(h, { lease, hold });
      if (reply[0] === 'ok') open.push(lease);
      else assert.deepEqual(reply, ['err', 'insufficient_quota', 0, 'balance']);
    } else if (x < 0.7 && open.length) {
      const lease = open.splice(Math.floor(rnd() * open.length), 1)[0];
      const cost = Math.floor(rnd() * 1200);
      const [charged, unpaid, balance] = await settle(h, 'a', { lease, cost });
      assert.equal(charged + unpaid, cost);
      assert.ok(balance >= 0);
    } else if (x < 0.8 && open.some((l) => !swept.has(l))) {
      const live = open.filter((l) => !swept.has(l));
      const lease = live[Math.floor(rnd() * live.length)];
      await h.client.zadd('ah:holds', 'XX', 1, lease);
      assert.equal(await sweep(), 1);
      swept.add(lease);
    } else if (x < 0.9) {
      await credits(h, 'u1', 1 + Math.floor(rnd() * 1000), 'top-up');
    } else {
      const { balance } = await money(h.client);
      const d = 1 + Math.floor(rnd() * 1500);
      const reply = await credits(h, 'u1', -d, 'deduct');
      assert.deepEqual(reply, d <= balance ? ['ok', balance - d, 0] : ['err', 'insufficient_balance', balance]);
    }
    await money(h.client);
  }
  // the ledger replays to the balance
  const all = await ledger(h.client);
  chain(all);
  assert.equal(Number(all.at(-1).balance), (await money(h.client)).balance);
  assert.ok(swept.size > 0 && all.some((e) => e.type === 'deduct') && all.some((e) => e.type === 'charge'), 'every kind of step ran');
});

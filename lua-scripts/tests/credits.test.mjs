// credits.lua: top-ups and deductions of a user's balance with their reason
// in the ledger; an Idempotency-Key makes a repeated call count once.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admit, credits, ledger, money, rejectsUnchanged, seedKeyAndUser, unchanged, useRedis } from './fixtures.mjs';

const h = useRedis();

const user = () => h.client.hset('ah:user:u1', { id: 'u1', name: 'alice', enabled: '1' });

test('a top-up raises balance and credited, with a "topup" ledger entry', async () => {
  await user();
  assert.deepEqual(await credits(h, 'u1', 500, 'welcome'), ['ok', 500, 0]);
  assert.deepEqual(await money(h.client), { balance: 500, held: 0, spent: 0, credited: 500 });
  assert.deepEqual(await h.run('credits', ['ah:user:u1', 'ah:ledger:u1', ''], ['u1', '250', 'more', '']), ['ok', 750, 0]);
  assert.deepEqual(await money(h.client), { balance: 750, held: 0, spent: 0, credited: 750 });
  assert.deepEqual(await ledger(h.client), [
    { type: 'topup', delta: '500', balance: '500', reason: 'welcome', idempotency_key: '' },
    { type: 'topup', delta: '250', balance: '750', reason: 'more', idempotency_key: '' },
  ]);
});

test('a deduction lowers balance and credited, with a "deduct" ledger entry; down to exactly 0', async () => {
  await user();
  await credits(h, 'u1', 500, 'welcome');
  assert.deepEqual(await credits(h, 'u1', -200, 'refund to card'), ['ok', 300, 0]);
  assert.deepEqual(await money(h.client), { balance: 300, held: 0, spent: 0, credited: 300 });
  assert.deepEqual((await ledger(h.client)).at(-1),
    { type: 'deduct', delta: '-200', balance: '300', reason: 'refund to card', idempotency_key: '' });
  assert.deepEqual(await credits(h, 'u1', -300, 'close'), ['ok', 0, 0]);
  assert.deepEqual(await money(h.client), { balance: 0, held: 0, spent: 0, credited: 0 });
});

test('a deduction below zero is refused with the balance, and changes nothing', async () => {
  await user();
  await credits(h, 'u1', 300, 'welcome');
  assert.deepEqual(await unchanged(h.client, () => credits(h, 'u1', -301, 'too much')), ['err', 'insufficient_balance', 300]);
  // money on hold cannot be deducted: only the balance counts
  await seedKeyAndUser(h.client, { user: { balance: '300', credited: '300' } });
  assert.equal((await admit(h, { hold: 200 }))[0], 'ok');
  assert.deepEqual(await money(h.client), { balance: 100, held: 200, spent: 0, credited: 300 });
  assert.deepEqual(await unchanged(h.client, () => credits(h, 'u1', -101, 'x', 'idem-1')), ['err', 'insufficient_balance', 100]);
  // the refused call did not use its Idempotency-Key: it works once there is money
  await credits(h, 'u1', 1, 'top-up');
  assert.deepEqual(await credits(h, 'u1', -101, 'x', 'idem-1'), ['ok', 0, 0]);
  assert.deepEqual(await money(h.client), { balance: 0, held: 200, spent: 0, credited: 200 });
});

test('an Idempotency-Key replay returns the same balance without crediting twice', async () => {
  await user();
  assert.deepEqual(await credits(h, 'u1', 100, 'promo', 'abc'), ['ok', 100, 0]);
  assert.deepEqual(await unchanged(h.client, () => credits(h, 'u1', 100, 'promo', 'abc')), ['ok', 100, 1]);
  assert.deepEqual(await money(h.client), { balance: 100, held: 0, spent: 0, credited: 100 });
  assert.deepEqual(await ledger(h.client), [{ type: 'topup', delta: '100', balance: '100', reason: 'promo', idempotency_key: 'abc' }]);
  // the key is kept a day
  const ttl = await h.client.ttl('ah:idem:u1:abc');
  assert.ok(ttl > 86_000 && ttl <= 86_400, `ttl ${ttl}`);
  // later changes do not alter what the replay answers
  await credits(h, 'u1', 50, 'other');
  assert.deepEqual(await credits(h, 'u1', 100, 'promo, again', 'abc'), ['ok', 100, 1]);
  assert.deepEqual(await money(h.client), { balance: 150, held: 0, spent: 0, credited: 150 });
  // a deduction replays too
  assert.deepEqual(await credits(h, 'u1', -40, 'fee', 'fee-1'), ['ok', 110, 0]);
  assert.deepEqual(await credits(h, 'u1', -40, 'fee', 'fee-1'), ['ok', 110, 1]);
  assert.deepEqual(await money(h.client), { balance: 110, held: 0, spent: 0, credited: 110 });
  // keys are per user
  await h.client.hset('ah:user:u2', { id: 'u2', enabled: '1' });
  assert.deepEqual(await credits(h, 'u2', 7, 'promo', 'abc'), ['ok', 7, 0]);
});

test('the same Idempotency-Key with another delta is idempotency_conflict, nothing changed', async () => {
  await user();
  await credits(h, 'u1', 100, 'promo', 'abc');
  assert.deepEqual(await unchanged(h.client, () => credits(h, 'u1', 101, 'promo', 'abc')), ['err', 'idempotency_conflict']);
  assert.deepEqual(await unchanged(h.client, () => credits(h, 'u1', -100, 'promo', 'abc')), ['err', 'idempotency_conflict']);
});

test('an unknown user is not_found and nothing is written', async () => {
  assert.deepEqual(await unchanged(h.client, () => credits(h, 'ghost', 100, 'x')), ['err', 'not_found']);
  assert.deepEqual(await unchanged(h.client, () => credits(h, 'ghost', 100, 'x', 'k')), ['err', 'not_found']);
  // a hash without the matching id is no user either
  await h.client.hset('ah:user:u9', { balance: '5' });
  assert.deepEqual(await unchanged(h.client, () => credits(h, 'u9', 100, 'x')), ['err', 'not_found']);
  assert.equal(await h.client.exists('ah:ledger:ghost', 'ah:user:ghost', 'ah:ledger:u9'), 0);
});

test('malformed calls are errors and write nothing', async () => {
  await user();
  const run = (keys, args) => h.run('credits', keys, args);
  const K = ['ah:user:u1', 'ah:ledger:u1', ''];
  const bad = [
    [K, ['u1', '0', 'x', ''], /delta must be non-zero and below 2\^52/],
    [K, ['u1', '-0', 'x', ''], /delta must be non-zero and below 2\^52/],
    // 16 digits: refused by the integer parser already (at most 15 digits)
    [K, ['u1', '4503599627370496', 'x', ''], /delta must be a decimal integer/],
    [K, ['u1', '1.5', 'x', ''], /delta must be a decimal integer/],
    [K, ['u1', '', 'x', ''], /delta must be a decimal integer/],
    [['ah:user:u2', 'ah:ledger:u1', ''], ['u1', '5', 'x', ''], /KEYS do not match the user/],
    [['ah:user:u1', 'ah:ledger:u2', ''], ['u1', '5', 'x', ''], /KEYS do not match the user/],
    [K, ['u1', '5', 'x', 'k1'], /KEYS\[3\] and ARGV\[4\] go together/],
    [['ah:user:u1', 'ah:ledger:u1', 'ah:idem:u1:k1'], ['u1', '5', 'x', ''], /KEYS\[3\] and ARGV\[4\] go together/],
    [['ah:user:u1', 'ah:ledger:u1', 'ah:idem:u1:other'], ['u1', '5', 'x', 'k1'], /KEYS\[3\] must be ah:idem:<uid>:<idem_key>/],
    [['ah:user:u1', 'ah:ledger:u1', 'ah:idem:u2:k1'], ['u1', '5', 'x', 'k1'], /KEYS\[3\] must be ah:idem:<uid>:<idem_key>/],
    [K, ['u1', '5', 'x'], /expected 4 ARGV, got 3/],
    [K.slice(0, 2), ['u1', '5', 'x', ''], /expected 3 KEYS, got 2/],
  ];
  for (const [keys, args, re] of bad) await rejectsUnchanged(h.client, () => run(keys, args), re);
  // the largest delta accepted, 15 digits, is stored exactly
  assert.deepEqual(await run(K, ['u1', '999999999999999', 'max', '']), ['ok', 999999999999999, 0]);
  assert.equal(await h.client.hget('ah:user:u1', 'balance'), '999999999999999');
  assert.deepEqual(await run(K, ['u1', '-999999999999999', 'max', '']), ['ok', 0, 0]);
});

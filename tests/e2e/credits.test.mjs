// Prices, credits and the ledger through the admin API, and the rate limits
// a single node must apply exactly (TPM, user and global RPM, account limits,
// the x-ratelimit headers).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, addChannel, addUserKey, waitConfig, waitFor, chat, ok } from '../lib/stack.mjs';

let s;
before(async () => {
  s = await startStack();
  await addChannel(s, { name: 'c', models: ['m-priced', 'm-free', 'm-upstream'] });
  await ok(s.admin('PUT', '/api/model-map', { 'alias-free': ['m-upstream'] }));
  await waitConfig(s);
});
after(async () => { await s?.stop(); });

const msg = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });

test('prices: PUT replaces the table, GET returns it, bad tables are 400', async () => {
  const table = { 'm-priced': { input: 2.01, output: 10 }, 'm-upstream': { input: 1, output: 1, cached_input: 0.5 } };
  assert.deepEqual(await ok(s.admin('PUT', '/api/prices', table)), table);
  assert.deepEqual(await ok(s.admin('GET', '/api/prices')), table);
  for (const bad of [{ x: { input: -1, output: 1 } }, { x: { input: 1 } }, { x: { input: '1', output: 1 } }, { x: { input: 1, output: 1, extra: 1 } }, { x: 5 }]) {
    assert.equal((await s.admin('PUT', '/api/prices', bad)).status, 400, JSON.stringify(bad));
  }
  assert.deepEqual(await ok(s.admin('GET', '/api/prices')), table, 'a refused PUT changes nothing');
  await waitConfig(s);
});

test('credits: top-up, deduction, below-zero refusal, idempotency, ledger', async () => {
  const u = await ok(s.admin('POST', '/api/users', { name: 'payer', balance: 1000 }));
  assert.equal(u.balance, 1000);
  const r1 = await ok(s.admin('POST', `/api/users/${u.id}/credits`, { delta: 500, reason: 'invoice 1' }, { 'idempotency-key': 'inv-1' }));
  assert.equal(r1.balance, 1500);
  const again = await s.admin('POST', `/api/users/${u.id}/credits`, { delta: 500, reason: 'invoice 1' }, { 'idempotency-key': 'inv-1' });
  assert.equal(again.status, 200);
  assert.equal(again.body.balance, 1500, 'the same Idempotency-Key credits once');
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  const conflict = await s.admin('POST', `/api/users/${u.id}/credits`, { delta: 700, reason: 'x' }, { 'idempotency-key': 'inv-1' });
  assert.equal(conflict.status, 409);
  assert.equal(conflict.body.error.code, 'idempotency_conflict');
  assert.equal((await ok(s.admin('POST', `/api/users/${u.id}/credits`, { delta: -200, reason: 'refund' }))).balance, 1300);
  const below = await s.admin('POST', `/api/users/${u.id}/credits`, { delta: -5000, reason: 'too much' });
  assert.equal(below.status, 409);
  assert.equal(below.body.error.code, 'insufficient_balance');
  assert.equal((await ok(s.admin('GET', `/api/users/${u.id}`))).balance, 1300);
  for (const bad of [{ delta: 0, reason: 'x' }, { delta: 1.5, reason: 'x' }, { delta: 10 }, { delta: 10, reason: '' }, { delta: 10, reason: 'x', extra: 1 }]) {
    assert.equal((await s.admin('POST', `/api/users/${u.id}/credits`, bad)).status, 400, JSON.stringify(bad));
  }
  assert.equal((await s.admin('POST', '/api/users/usr_nobody/credits', { delta: 1, reason: 'x' })).status, 404);
  const ledger = await ok(s.admin('GET', `/api/users/${u.id}/ledger`));
  assert.deepEqual(ledger.data.map((e) => [e.type, e.delta, e.balance]), [['deduct', -200, 1300], ['topup', 500, 1500], ['topup', 1000, 1000]]);
  assert.equal(ledger.data[1].reason, 'invoice 1');
  assert.equal(ledger.data[1].idempotency_key, 'inv-1');
  assert.equal(ledger.data[2].reason, 'initial balance');
  const page1 = await ok(s.admin('GET', `/api/users/${u.id}/ledger?limit=2`));
  assert.equal(page1.data.length, 2);
  const page2 = await ok(s.admin('GET', `/api/users/${u.id}/ledger?limit=2&before=${page1.next}`));
  assert.deepEqual(page2.data.map((e) => e.delta), [1000]);
  assert.equal(page2.next, null);
  assert.equal((await s.admin('GET', `/api/users/${u.id}/ledger?before=abc`)).status, 400);
  assert.equal((await s.admin('GET', '/api/users/usr_nobody/ledger')).status, 404);
});

test('charges follow the price of the asked name, else of the upstream model; free models need no balance', async () => {
  const { user, secret } = await addUserKey(s, {}, { balance: 1_000_000 });
  // m-priced: mock usage has prompt tokens P and 8 completion tokens: cost = ceil((P*2.01e6 + 8*10e6) / 1e6)
  const r = await chat(s.node.url, secret, msg('m-priced'));
  assert.equal(r.status, 200);
  const expected = Math.ceil((r.body.usage.prompt_tokens * 2_010_000 + 8 * 10_000_000) / 1_000_000);
  // settlement is not waited for by the client: poll until the hold is gone
  const settled = async () => waitFor(async () => ((await s.redis.client.hget(`ah:user:${user.id}`, 'held')) === '0'), { what: 'settlement' });
  await settled();
  const u1 = await ok(s.admin('GET', `/api/users/${user.id}`));
  assert.equal(1_000_000 - u1.balance, expected);
  // alias-free has no price, its upstream m-upstream does
  const r2 = await chat(s.node.url, secret, msg('alias-free'));
  assert.equal(r2.status, 200);
  await settled();
  const u2 = await ok(s.admin('GET', `/api/users/${user.id}`));
  assert.equal(u1.balance - u2.balance, r2.body.usage.prompt_tokens + 8);
  const { secret: broke } = await addUserKey(s);
  assert.equal((await chat(s.node.url, broke, msg('m-free'))).status, 200, 'a model with no price costs nothing');
  const r3 = await chat(s.node.url, broke, msg('m-priced'));
  assert.equal(r3.status, 429);
  assert.equal(r3.body.error.code, 'insufficient_quota');
});

test('a key\'s monthly spend limit refuses once reached', async () => {
  const { secret } = await addUserKey(s, { spend_limit_monthly: 100 }, { balance: 1_000_000 });
  // m-upstream costs prompt + 8 micro-units with max_tokens 8 held at 1 each (input 1, output 1)
  const first = await chat(s.node.url, secret, msg('m-upstream', { max_tokens: 8 }));
  assert.equal(first.status, 200);
  let refused;
  for (let i = 0; i < 20 && !refused; i++) {
    const r = await chat(s.node.url, secret, msg('m-upstream', { max_tokens: 8 }));
    if (r.status === 429) refused = r;
  }
  assert.ok(refused, 'refused before 20 requests of ~25 micro-units');
  assert.equal(refused.body.error.code, 'insufficient_quota');
  assert.match(refused.body.error.message, /spend limit/);
});

test('TPM on a key: admission counts the estimate, settlement corrects it to the usage, the window refuses once full', async () => {
  const { key, secret } = await addUserKey(s, { tpm: 60 });
  const statuses = [];
  let used = 0;
  for (let i = 0; i < 6; i++) {
    const r = await chat(s.node.url, secret, msg('m-free'));
    statuses.push(r.status);
    if (r.status === 200) used += r.body.usage.total_tokens;
  }
  const firstRefusal = statuses.indexOf(429);
  assert.ok(firstRefusal >= 2, `two requests of ~25 tokens fit in 60: ${statuses}`);
  assert.ok(statuses.slice(firstRefusal).every((x) => x === 429), `refused from then on: ${statuses}`);
  // the window now holds the actual tokens of what was admitted, not the estimates (once the last settle landed)
  await waitFor(async () => {
    const w = await s.redis.client.hgetall(`ah:lim:key:${key.id}`);
    // the older buckets' tokens (t<sec>) and the newest's (ct)
    const buckets = Object.entries(w).filter(([f]) => /^t\d+$/.test(f) || f === 'ct');
    return Number(w.ts) === used && buckets.reduce((a, [, v]) => a + Number(v), 0) === used;
  }, { what: `the TPM window to hold the ${used} tokens used` });
  const r = await chat(s.node.url, secret, msg('m-free'));
  assert.equal(r.body.error.code, 'rate_limit_exceeded');
  assert.ok(Number(r.headers.get('retry-after')) >= 1);
});

test('user RPM applies across the user\'s keys; global RPM from settings applies to everyone', async () => {
  const { user, secret: k1 } = await addUserKey(s, {}, { rpm: 3 });
  const k2 = (await ok(s.admin('POST', `/api/users/${user.id}/keys`, { name: 'second' }))).key;
  const st = [];
  for (const k of [k1, k2, k1, k2]) st.push((await chat(s.node.url, k, msg('m-free'))).status);
  assert.deepEqual(st, [200, 200, 200, 429]);

  await ok(s.admin('PUT', '/api/settings', { global_rpm: 5 }));
  await waitConfig(s);
  await s.redis.client.del('ah:lim:global:all');
  const { secret: a } = await addUserKey(s);
  const { secret: b } = await addUserKey(s);
  const g = [];
  for (let i = 0; i < 7; i++) g.push((await chat(s.node.url, i % 2 ? a : b, msg('m-free'))).status);
  await ok(s.admin('PUT', '/api/settings', { global_rpm: 0 }));
  await waitConfig(s);
  assert.deepEqual(g, [200, 200, 200, 200, 200, 429, 429]);
});

test('an account at its own RPM is skipped; when every account is at its limit the client gets 429', async () => {
  const ch = await ok(s.admin('POST', '/api/channels', { name: 'limited', type: 'openai', base_url: s.mock.url, models: ['m-acct'] }));
  await ok(s.admin('POST', `/api/channels/${ch.id}/accounts`, { key: 'sk-mock-acct-limit-a', rpm: 2 }));
  await ok(s.admin('POST', `/api/channels/${ch.id}/accounts`, { key: 'sk-mock-acct-limit-b', rpm: 2 }));
  await waitConfig(s);
  const { secret } = await addUserKey(s);
  const st = [];
  for (let i = 0; i < 5; i++) st.push((await chat(s.node.url, secret, msg('m-acct'))).status);
  assert.deepEqual(st, [200, 200, 200, 200, 429]);
  const stats = await s.mock.stats();
  assert.equal(stats.by_key['sk-mock-acct-limit-a'], 2);
  assert.equal(stats.by_key['sk-mock-acct-limit-b'], 2);
});

test('x-ratelimit headers describe the tightest key/user window', async () => {
  const { secret } = await addUserKey(s, { rpm: 10, tpm: 100000 }, { rpm: 5 });
  const r = await chat(s.node.url, secret, msg('m-free'));
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-ratelimit-limit-requests'), '5');
  assert.equal(r.headers.get('x-ratelimit-remaining-requests'), '4');
  assert.match(r.headers.get('x-ratelimit-reset-requests'), /^\d+(\.\d+)?(ms|s)$|m/);
  assert.equal(r.headers.get('x-ratelimit-limit-tokens'), '100000');
  assert.ok(Number(r.headers.get('x-ratelimit-remaining-tokens')) < 100000);
});

test('GET /v1/usage shows the key its balance, limits, spend and last requests', async () => {
  const { user, key, secret } = await addUserKey(s, { rpm: 20, max_in_flight: 3, spend_limit_monthly: 1_000_000 }, { balance: 5000, tpm: 100000 });
  for (let i = 0; i < 3; i++) assert.equal((await chat(s.node.url, secret, msg('m-upstream'))).status, 200);
  // settlement is not waited for by the client: poll until the third request is recorded
  const u = await waitFor(async () => {
    const r = await fetch(`${s.node.url}/v1/usage`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(r.status, 200);
    const body = await r.json();
    return body.user.requests_today === 3 && body.recent.length === 3 ? body : null;
  }, { what: 'the three requests settled' });
  assert.equal(u.object, 'usage');
  assert.equal(u.key.id, key.id);
  assert.equal(u.user.id, user.id);
  assert.deepEqual(u.key.limits.rpm, { limit: 20, remaining: 17 });
  assert.deepEqual(u.key.limits.max_in_flight, { limit: 3, in_flight: 0 });
  assert.equal(u.user.limits.tpm.limit, 100000);
  assert.equal(u.user.requests_today, 3);
  assert.equal(u.user.balance, 5000 - u.user.spent_today);
  assert.equal(u.key.spent_this_month, u.user.spent_today);
  assert.equal(u.recent.length, 3);
  assert.ok(u.recent.every((e) => e.model === 'm-upstream' && e.status === 200 && e.cost > 0));
  const bad = await fetch(`${s.node.url}/v1/usage`, { headers: { authorization: `Bearer sk-${'x'.repeat(40)}` } });
  assert.equal(bad.status, 401);
});

test('amounts beyond what Redis keeps exact are a 400, not a 500', async () => {
  assert.equal((await s.admin('POST', '/api/users', { name: 'rich', balance: 1e15 })).status, 400);
  const u = await ok(s.admin('POST', '/api/users', { name: 'rich-enough', balance: 999_999_999_999_999 }));
  assert.equal(u.balance, 999_999_999_999_999);
  assert.equal((await s.admin('POST', `/api/users/${u.id}/credits`, { delta: 1e15, reason: 'x' })).status, 400);
});

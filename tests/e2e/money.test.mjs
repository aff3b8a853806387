// Money and limits across replicas: three node processes against one
// redis-server and the mock provider. Every refusal and charge must be exact
// whatever the node that served the request.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, addChannel, addUserKey, waitConfig, waitFor, chat, ok, sleep } from '../lib/stack.mjs';

let s;
const PRICE_MODEL = 'priced-gpt';

before(async () => {
  // short leases so that a killed node's holds come back within the test
  s = await startStack({ nodes: 3, env: { AIHUB_SWEEP_MS: '200' } });
  await addChannel(s, { name: 'pool', models: [PRICE_MODEL, 'free-gpt'], accounts: ['sk-mock-money-1', 'sk-mock-money-2'] });
  // input free, output 1 unit per million tokens = 1 micro-unit per token: the mock's 8 completion tokens cost 8
  await ok(s.admin('PUT', '/api/prices', { [PRICE_MODEL]: { input: 0, output: 1 } }));
  await waitConfig(s);
});
after(async () => { await s?.stop(); });
beforeEach(async () => { await s.mock.clear(); });

const msg = (extra = {}) => ({ model: PRICE_MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 8, ...extra });
const nodeUrl = (i) => s.nodes[i % s.nodes.length].url;

async function userState(id) {
  const h = await s.redis.client.hgetall(`ah:user:${id}`);
  return { balance: Number(h.balance), held: Number(h.held ?? 0), spent: Number(h.spent ?? 0), credited: Number(h.credited ?? 0) };
}

function invariant(u) {
  assert.equal(u.credited, u.balance + u.held + u.spent, `credited ${u.credited} = balance ${u.balance} + held ${u.held} + spent ${u.spent}`);
}

async function logEntries(userId) {
  const all = await s.redis.client.xrange('ah:logs', '-', '+');
  return all.map(([, f]) => Object.fromEntries(f.reduce((a, v, i) => (i % 2 ? a[a.length - 1].push(v) : a.push([v]), a), [])))
    .filter((e) => e.user_id === userId);
}

test('a balance that covers exactly N requests: 5N concurrent requests over three nodes, exactly N succeed, balance ends at 0', async () => {
  const N = 12;
  const { user, secret } = await addUserKey(s, {}, { balance: 8 * N });
  const results = await Promise.all(Array.from({ length: 5 * N }, (_, i) => chat(nodeUrl(i), secret, msg())));
  const okCount = results.filter((r) => r.status === 200).length;
  const quota = results.filter((r) => r.status === 429 && r.body?.error?.code === 'insufficient_quota');
  assert.equal(okCount, N);
  assert.equal(quota.length, 4 * N);
  assert.equal(quota[0].body.error.type, 'insufficient_quota');
  assert.equal(quota[0].headers.get('retry-after'), null);
  await waitFor(async () => (await userState(user.id)).held === 0, { what: 'every hold settled' });
  const u = await userState(user.id);
  assert.equal(u.balance, 0);
  assert.equal(u.spent, 8 * N);
  invariant(u);
  await waitFor(async () => (await logEntries(user.id)).filter((e) => e.status === '200').length === N, { what: 'log entries' });
  const logged = (await logEntries(user.id)).filter((e) => e.status === '200');
  assert.equal(logged.reduce((a, e) => a + Number(e.cost), 0), 8 * N, 'the sum of logged costs equals the credited amount');
  const ledger = await ok(s.admin('GET', `/api/users/${user.id}/ledger?limit=1000`));
  assert.equal(ledger.data.reduce((a, e) => a + e.delta, 0), 0, 'the ledger deltas add up to the balance');
});

test('RPM 30 on a key: 100 concurrent requests across the nodes, exactly 30 succeed', async () => {
  const { secret } = await addUserKey(s, { rpm: 30 });
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => chat(nodeUrl(i), secret, { ...msg(), model: 'free-gpt' })));
  const okCount = results.filter((r) => r.status === 200).length;
  const limited = results.filter((r) => r.status === 429 && r.body?.error?.code === 'rate_limit_exceeded');
  assert.equal(okCount, 30);
  assert.equal(limited.length, 70);
  assert.equal(limited[0].body.error.type, 'rate_limit_error');
  const ra = Number(limited[0].headers.get('retry-after'));
  // a request counts until 61 s after its second began (1-second buckets)
  assert.ok(ra >= 1 && ra <= 61, `Retry-After ${ra}`);
  const good = results.find((r) => r.status === 200);
  assert.equal(good.headers.get('x-ratelimit-limit-requests'), '30');
  assert.ok(Number(good.headers.get('x-ratelimit-remaining-requests')) < 30);
});

test('max_in_flight 4: never more than 4 streams open at once across the nodes; slots come back', async () => {
  const { secret } = await addUserKey(s, { max_in_flight: 4 });
  await s.mock.behave({ key: '*', chunks: 10, chunk_delay_ms: 100 });
  const results = await Promise.all(Array.from({ length: 12 }, (_, i) => chat(nodeUrl(i), secret, { ...msg(), model: 'free-gpt', stream: true })));
  assert.equal(results.filter((r) => r.status === 200).length, 4);
  assert.equal(results.filter((r) => r.status === 429).length, 8);
  assert.ok(results.filter((r) => r.status === 200).every((r) => r.text.includes('data: [DONE]')));
  await s.mock.clear();
  const again = await Promise.all(Array.from({ length: 4 }, (_, i) => chat(nodeUrl(i), secret, { ...msg(), model: 'free-gpt' })));
  assert.deepEqual(again.map((r) => r.status), [200, 200, 200, 200]);
});

test('a client that disconnects half-way through a stream is charged for what was generated until then', async () => {
  const { user, secret } = await addUserKey(s, {}, { balance: 1_000_000 });
  await s.mock.behave({ key: '*', chunks: 40, chunk_delay_ms: 50 });
  const ac = new AbortController();
  const res = await fetch(`${nodeUrl(0)}/v1/chat/completions`, {
    method: 'POST', signal: ac.signal,
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify(msg({ stream: true, max_tokens: 100 })),
  });
  const reader = res.body.getReader();
  let text = '';
  while ((text.match(/"content"/g) ?? []).length < 10) text += new TextDecoder().decode((await reader.read()).value);
  ac.abort();
  await waitFor(async () => (await userState(user.id)).held === 0, { what: 'the hold settled' });
  const [entry] = await waitFor(async () => {
    const e = await logEntries(user.id);
    return e.length ? e : null;
  }, { what: 'the log entry' });
  assert.equal(entry.estimated, '1');
  const words = Number(entry.completion_tokens);
  // the node had received at least the 10 events the client saw, and the stream had 40
  assert.ok(words >= 10 && words < 40, `completion tokens charged ${words}`);
  assert.equal(Number(entry.cost), words, 'cost = completion tokens at 1 micro-unit each');
  const u = await userState(user.id);
  assert.equal(u.spent, words);
  invariant(u);
});

test('a node killed with SIGKILL during streams: after the lease, credited = balance + holds + spent and the slots are free', async () => {
  await ok(s.admin('PUT', '/api/settings', { hold_ttl_s: 10 }));
  await waitConfig(s);
  const victim = await s.addNode({ AIHUB_SWEEP_MS: '200' });
  const { user, key, secret } = await addUserKey(s, { max_in_flight: 10 }, { balance: 1_000_000 });
  await s.mock.behave({ key: '*', chunks: 100, chunk_delay_ms: 100 });
  const streams = Array.from({ length: 3 }, () => chat(victim.url, secret, msg({ stream: true, max_tokens: 100 })).catch(() => null));
  const inFlight = async () => Number(await s.redis.client.hget(`ah:key:${await s.redis.client.get(`ah:keyid:${key.id}`)}`, 'inflight'));
  await waitFor(async () => (await inFlight()) === 3, { what: 'three streams admitted' });
  const mid = await userState(user.id);
  assert.equal(mid.held, 300);
  invariant(mid);
  await victim.kill();
  await Promise.all(streams);
  await waitFor(async () => (await userState(user.id)).held === 0, { timeoutMs: 30_000, what: 'the sweep to settle the dead node\'s holds' });
  const u = await userState(user.id);
  invariant(u);
  assert.equal(u.balance, 1_000_000, 'an expired hold is refunded in full');
  assert.equal(await inFlight(), 0, 'the sweep freed the dead node\'s slots');
  await s.mock.clear();
  await ok(s.admin('PUT', '/api/settings', { hold_ttl_s: 600 }));
  s.nodes.splice(s.nodes.indexOf(victim), 1);
  await waitConfig(s);
});

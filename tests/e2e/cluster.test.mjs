// Two node processes against one redis-server behave as one system: a change
// made through one is in force on the other (the node's bound is 1 s; the
// test polls with a generous bound), and cooldowns set by one are seen by
// the other.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, addUserKey, waitFor, chat, ok } from '../lib/stack.mjs';

let s;
let a;
let b;
let secret;

before(async () => {
  s = await startStack({ nodes: 2 });
  [a, b] = s.nodes;
  ({ secret } = await addUserKey(s));
});
after(async () => { await s?.stop(); });

const msg = (model) => ({ model, messages: [{ role: 'user', content: 'hi' }] });

test('a channel created through node A serves on node B', async () => {
  assert.equal((await chat(b.url, secret, msg('fresh-model'))).status, 404);
  const ch = await ok(a.admin('POST', '/api/channels', { name: 'c1', type: 'openai', base_url: s.mock.url, models: ['fresh-model'] }));
  await ok(a.admin('POST', `/api/channels/${ch.id}/accounts`, { key: 'sk-mock-cluster-0001' }));
  const t0 = Date.now();
  await waitFor(async () => (await chat(b.url, secret, msg('fresh-model'))).status === 200, { timeoutMs: 5000, intervalMs: 20, what: 'node B to serve the new channel' });
  console.log(`# config change visible on node B after ${Date.now() - t0} ms`);
});

test('a model-map change through node B is in force on node A', async () => {
  await ok(b.admin('PUT', '/api/model-map', { 'alias-x': ['fresh-model'] }));
  await waitFor(async () => (await chat(a.url, secret, msg('alias-x'))).status === 200, { timeoutMs: 5000, intervalMs: 20, what: 'node A to map the alias' });
});

test('a key revoked through node A is refused by node B at once', async () => {
  const { secret: k, key } = await addUserKey(s);
  assert.equal((await chat(b.url, k, msg('fresh-model'))).status, 200);
  await ok(a.admin('DELETE', `/api/keys/${key.id}`));
  assert.equal((await chat(b.url, k, msg('fresh-model'))).status, 401);
});

test('a cooldown set through node A is respected by node B', async () => {
  const ch = await ok(a.admin('POST', '/api/channels', { name: 'c2', type: 'openai', base_url: s.mock.url, models: ['cool-model'], priority: 5 }));
  const acc = await ok(a.admin('POST', `/api/channels/${ch.id}/accounts`, { key: 'sk-mock-cluster-hot' }));
  const ch2 = await ok(a.admin('POST', '/api/channels', { name: 'c3', type: 'openai', base_url: s.mock.url, models: ['cool-model'] }));
  await ok(a.admin('POST', `/api/channels/${ch2.id}/accounts`, { key: 'sk-mock-cluster-spare' }));
  await waitFor(async () => (await chat(a.url, secret, msg('cool-model'))).status === 200 && (await chat(b.url, secret, msg('cool-model'))).status === 200,
    { timeoutMs: 5000, what: 'both nodes to serve cool-model' });
  await s.mock.behave({ key: 'sk-mock-cluster-hot', status: 500 });
  assert.equal((await chat(a.url, secret, msg('cool-model'))).status, 200);
  const before = (await s.mock.stats()).by_key['sk-mock-cluster-hot'];
  for (let i = 0; i < 5; i++) assert.equal((await chat(b.url, secret, msg('cool-model'))).status, 200);
  assert.equal((await s.mock.stats()).by_key['sk-mock-cluster-hot'], before, 'node B never calls the account node A cooled');
  const st = await s.redis.client.hgetall(`ah:acct:${acc.id}`);
  assert.ok(Number(st.cooldown_until) > Date.now());
  await s.mock.clear();
});

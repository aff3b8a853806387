// admit.lua: key, user and model checks in their documented order, the
// choice of an account, and that a refusal writes nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acctKey, admit, seedKeyAndUser, useRedis } from './fixtures.mjs';

const h = useRedis();

const serverNowS = async () => Number((await h.client.time())[0]);

// Snapshot of everything in the database, to prove a refusal changed nothing.
async function dump() {
  const out = {};
  for (const k of (await h.client.keys('*')).sort()) out[k] = await h.client.hgetall(k);
  return out;
}

async function refused(opts, expected) {
  const before = await dump();
  assert.deepEqual(await admit(h, opts), expected);
  assert.deepEqual(await dump(), before, 'a refusal must not write');
}

test('a valid request is admitted: account, key id and user id; last_used_at is set', async () => {
  await seedKeyAndUser(h.client);
  const t0 = await serverNowS();
  assert.deepEqual(await admit(h, { cands: [['a', 0, 1], ['b', 0, 1]], r: '0.7' }), ['ok', 'b', 'k1', 'u1']);
  const t1 = await serverNowS();
  const used = Number(await h.client.hget('ah:key:h1', 'last_used_at'));
  assert.ok(used >= t0 && used <= t1, `last_used_at ${used} not in [${t0}, ${t1}]`);
  assert.match(await h.client.hget('ah:key:h1', 'last_used_at'), /^\d{10}$/);
  // the key's other fields are untouched
  assert.equal(await h.client.hget('ah:key:h1', 'enabled'), '1');
});

test('invalid_api_key: missing, disabled, not enabled, expired key', async () => {
  await seedKeyAndUser(h.client);
  await refused({ keyKey: 'ah:key:nope' }, ['err', 'invalid_api_key']);
  await h.client.hset('ah:key:h1', 'enabled', '0');
  await refused({}, ['err', 'invalid_api_key']);
  await h.client.hdel('ah:key:h1', 'enabled');
  await refused({}, ['err', 'invalid_api_key']);
  await h.client.hset('ah:key:h1', 'enabled', 'true'); // only "1" means enabled
  await refused({}, ['err', 'invalid_api_key']);
  await h.client.hset('ah:key:h1', 'enabled', '1', 'expires_at', String((await serverNowS()) - 1));
  await refused({}, ['err', 'invalid_api_key']);
});

test('expires_at in the future, 0 or absent admits', async () => {
  await seedKeyAndUser(h.client, { key: { expires_at: String((await serverNowS()) + 3600) } });
  assert.equal((await admit(h))[0], 'ok');
  await h.client.hset('ah:key:h1', 'expires_at', '0');
  assert.equal((await admit(h))[0], 'ok');
  await h.client.hdel('ah:key:h1', 'expires_at');
  assert.equal((await admit(h))[0], 'ok');
});

test('user_disabled: user missing, disabled, not enabled, or key without user_id', async () => {
  await seedKeyAndUser(h.client, { user: { enabled: '0' } });
  await refused({}, ['err', 'user_disabled']);
  await h.client.hdel('ah:user:u1', 'enabled');
  await refused({}, ['err', 'user_disabled']);
  await h.client.del('ah:user:u1');
  await refused({}, ['err', 'user_disabled']);
  await seedKeyAndUser(h.client);
  await h.client.hdel('ah:key:h1', 'user_id');
  await refused({}, ['err', 'user_disabled']);
  await h.client.hset('ah:key:h1', 'user_id', '');
  await refused({}, ['err', 'user_disabled']);
  // the user is found by the key's user_id, not some fixed name
  await h.client.hset('ah:key:h1', 'user_id', 'u2');
  await refused({}, ['err', 'user_disabled']);
  await h.client.hset('ah:user:u2', { id: 'u2', enabled: '1' });
  assert.deepEqual(await admit(h), ['ok', 'a', 'k1', 'u2']);
});

test('model restrictions: listed models only; empty, null or absent means all', async () => {
  await seedKeyAndUser(h.client, { key: { models: '["gpt-4","gpt-4o-mini"]' } });
  await refused({ model: 'gpt-4o' }, ['err', 'model_not_allowed']);
  await refused({ model: 'GPT-4' }, ['err', 'model_not_allowed']);
  await refused({ model: 'gpt-4o-mini-2024' }, ['err', 'model_not_allowed']);
  assert.deepEqual(await admit(h, { model: 'gpt-4' }), ['ok', 'a', 'k1', 'u1']);
  assert.deepEqual(await admit(h, { model: 'gpt-4o-mini' }), ['ok', 'a', 'k1', 'u1']);
  for (const all of ['[]', '', 'null']) {
    await h.client.hset('ah:key:h1', 'models', all);
    assert.equal((await admit(h, { model: 'anything' }))[0], 'ok', `models=${all}`);
  }
  await h.client.hdel('ah:key:h1', 'models');
  assert.equal((await admit(h, { model: 'anything' }))[0], 'ok');
});

test('a malformed models field refuses rather than widening access', async () => {
  await seedKeyAndUser(h.client);
  for (const bad of ['not json', '"gpt-4o"', '{"gpt-4o":true}', '[1,2]', '["gpt-4o"']) {
    await h.client.hset('ah:key:h1', 'models', bad);
    await refused({ model: 'gpt-4o' }, ['err', 'model_not_allowed']);
  }
});

test('model_not_found when there is no candidate', async () => {
  await seedKeyAndUser(h.client);
  await refused({ cands: [] }, ['err', 'model_not_found']);
});

test('no_available_account refuses without touching the key', async () => {
  await seedKeyAndUser(h.client);
  await h.client.hset(acctKey('a'), 'disabled', '1');
  await refused({ cands: [['a', 0, 1]] }, ['err', 'no_available_account', -1]);
});

test('checks run in the documented order', async () => {
  // each row breaks every check from its own onwards; the first one must answer
  const now = await serverNowS();
  const rows = [
    ['invalid_api_key', { key: { enabled: '0' }, user: { enabled: '0' } }],
    ['invalid_api_key', { key: { expires_at: String(now - 10), models: '["x"]' }, user: { enabled: '0' } }],
    ['user_disabled', { key: { models: '["x"]' }, user: { enabled: '0' } }],
    ['model_not_allowed', { key: { models: '["x"]' }, user: {} }],
  ];
  for (const [code, seed] of rows) {
    await h.client.flushall();
    await seedKeyAndUser(h.client, seed);
    await refused({ cands: [] }, ['err', code]);
  }
  await h.client.flushall();
  await seedKeyAndUser(h.client, { key: { models: '["gpt-4o"]' } });
  await refused({ cands: [] }, ['err', 'model_not_found']);
});

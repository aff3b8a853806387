// User API keys and their users: key_create, key_update, key_delete,
// key_check and user_delete (which revokes every key of the user).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  dumpDb, flatToObject, keyCreate, rejectsUnchanged, seedKeyAndUser, unchanged, useRedis, userPut,
} from './fixtures.mjs';

const h = useRedis();

const serverNowS = async () => Number((await h.client.time())[0]);

async function addUser(id, name, fields = { enabled: '1', balance: '0' }) {
  const c = userPut(id, name, 'create', fields);
  assert.deepEqual(await h.run('record_put', c.keys, c.args), ['ok']);
}
function createKey(kid, hmac, uid, fields) {
  const c = keyCreate(kid, hmac, uid, fields);
  return h.run('key_create', c.keys, c.args);
}
const updateKey = (kid, fields = {}) => h.run('key_update', [`ah:keyid:${kid}`], [kid, ...Object.entries(fields).flat()]);
const deleteKey = (kid) => h.run('key_delete', [`ah:keyid:${kid}`], [kid]);
const check = (hmac) => h.run('key_check', [`ah:key:${hmac}`], []);
const deleteUser = (uid) => h.run('user_delete',
  [`ah:user:${uid}`, 'ah:user_names', 'ah:users', `ah:user:${uid}:keys`], [uid]);
const keyIds = (uid) => h.client.zrange(`ah:user:${uid}:keys`, 0, -1);

// ---- key_create ----

test('key_create: the record by hmac, the id pointer, the user listing', async () => {
  await addUser('usr_1', 'alice');
  assert.deepEqual(await createKey('key_1', 'hm1', 'usr_1', { models: '["gpt-4o"]', expires_at: '0' }), ['ok']);
  assert.deepEqual(await h.client.hgetall('ah:key:hm1'),
    { id: 'key_1', user_id: 'usr_1', name: 'key_1', enabled: '1', models: '["gpt-4o"]', expires_at: '0' });
  assert.equal(await h.client.get('ah:keyid:key_1'), 'hm1');
  assert.deepEqual(await h.client.zrange('ah:user:usr_1:keys', 0, -1, 'WITHSCORES'), ['key_1', '0']);
  assert.deepEqual(await createKey('key_2', 'hm2', 'usr_1'), ['ok']);
  assert.deepEqual(await keyIds('usr_1'), ['key_1', 'key_2']);
  // the user record itself is not touched
  assert.deepEqual(await h.client.hgetall('ah:user:usr_1'), { id: 'usr_1', name: 'alice', enabled: '1', balance: '0' });
  // the key works at once
  assert.deepEqual(await check('hm2'), ['ok', 'key_2', 'usr_1', '']);
});

test('key_create for a missing user: user_not_found, nothing written', async () => {
  await addUser('usr_1', 'alice');
  await unchanged(h.client, async () => {
    assert.deepEqual(await createKey('key_1', 'hm1', 'usr_9'), ['err', 'user_not_found']);
  });
  assert.equal(await h.client.exists('ah:key:hm1', 'ah:keyid:key_1', 'ah:user:usr_9:keys'), 0);
});

test('key_create twice: exists for the same hmac or the same id, nothing changed', async () => {
  await addUser('usr_1', 'alice');
  await addUser('usr_2', 'bob');
  assert.deepEqual(await createKey('key_1', 'hm1', 'usr_1'), ['ok']);
  await unchanged(h.client, async () => {
    assert.deepEqual(await createKey('key_1', 'hm1', 'usr_1', { name: 'again' }), ['err', 'exists']);
    assert.deepEqual(await createKey('key_2', 'hm1', 'usr_2'), ['err', 'exists']); // same hmac
    assert.deepEqual(await createKey('key_1', 'hm2', 'usr_2'), ['err', 'exists']); // same id
  });
  assert.deepEqual(await keyIds('usr_2'), []);
});

test('key_create malformed calls are errors and change nothing', async () => {
  await addUser('usr_1', 'alice');
  const c = keyCreate('key_1', 'hm1', 'usr_1');
  const K = c.keys;
  const bad = [
    [K.slice(0, 3), c.args, /key_create: expected 4 KEYS, got 3/],
    [K, ['key_1'], /key_create: fields must come in pairs/],
    [K, [...c.args, 'rpm'], /key_create: fields must come in pairs/],
    [K, ['', 'hm1', 'user_id', 'usr_1'], /key_create: empty key id or hmac/],
    [K, ['key_1', '', 'user_id', 'usr_1'], /key_create: empty key id or hmac/],
    [K, ['key_1', 'hm1', 'name', 'x'], /key_create: the user_id field is required/],
    [K, [...c.args, 'id', 'key_9'], /key_create: field id is ARGV\[1\]/],
    // KEYS that do not match the ids
    [K, ['key_1', 'hm2', 'user_id', 'usr_1'], /KEYS\[1\] is ah:key:hm1, expected ah:key:hm2/],
    [K, ['key_2', 'hm1', 'user_id', 'usr_1'], /KEYS\[2\] is ah:keyid:key_1, expected ah:keyid:key_2/],
    [[K[0], K[1], 'ah:user:usr_2:keys', K[3]], c.args, /KEYS\[3\] is ah:user:usr_2:keys, expected ah:user:usr_1:keys/],
    [[K[0], K[1], K[2], 'ah:user:usr_2'], c.args, /KEYS\[4\] is ah:user:usr_2, expected ah:user:usr_1/],
    [K, ['key_1', 'hm1', 'user_id', 'usr_2'], /KEYS\[3\] is ah:user:usr_1:keys, expected ah:user:usr_2:keys/],
  ];
  for (const [keys, args, re] of bad) {
    await rejectsUnchanged(h.client, () => h.run('key_create', keys, args), re);
  }
  assert.equal(await h.client.exists('ah:key:hm1'), 0);
});

// ---- key_update ----

test('key_update: sets the given fields, keeps the others', async () => {
  await addUser('usr_1', 'alice');
  await createKey('key_1', 'hm1', 'usr_1', { rpm: '0', models: '[]' });
  assert.deepEqual(await updateKey('key_1', { rpm: '60', enabled: '0', name: 'ci' }), ['ok']);
  assert.deepEqual(await h.client.hgetall('ah:key:hm1'),
    { id: 'key_1', user_id: 'usr_1', name: 'ci', enabled: '0', rpm: '60', models: '[]' });
  // no fields: nothing to do, still ok
  assert.deepEqual(await unchanged(h.client, () => updateKey('key_1')), ['ok']);
  assert.deepEqual(await check('hm1'), ['err', 'invalid_api_key']);
  assert.deepEqual(await updateKey('key_1', { enabled: '1' }), ['ok']);
  assert.deepEqual(await check('hm1'), ['ok', 'key_1', 'usr_1', '[]']);
});

test('key_update of a missing key: not_found, and no record is made', async () => {
  await addUser('usr_1', 'alice');
  await createKey('key_1', 'hm1', 'usr_1');
  await unchanged(h.client, async () => {
    assert.deepEqual(await updateKey('key_9', { enabled: '0' }), ['err', 'not_found']);
  });
  // a pointer whose record is gone, or names another key's record
  await h.client.set('ah:keyid:key_8', 'gone');
  await h.client.set('ah:keyid:key_7', 'hm1');
  await unchanged(h.client, async () => {
    assert.deepEqual(await updateKey('key_8', { enabled: '0' }), ['err', 'not_found']);
    assert.deepEqual(await updateKey('key_7', { enabled: '0' }), ['err', 'not_found']);
  });
  assert.equal(await h.client.exists('ah:key:gone'), 0);
  assert.equal(await h.client.hget('ah:key:hm1', 'enabled'), '1');
});

test('key_update malformed calls are errors and change nothing', async () => {
  await addUser('usr_1', 'alice');
  await createKey('key_1', 'hm1', 'usr_1');
  const K = ['ah:keyid:key_1'];
  const bad = [
    [[], ['key_1'], /key_update: expected 1 key/],
    [K, [], /key_update: expected 1 key, an id and field\/value pairs/],
    [K, ['key_1', 'rpm'], /key_update: expected 1 key, an id and field\/value pairs/],
    [K, ['', 'rpm', '1'], /key_update: empty key id/],
    [K, ['key_2', 'rpm', '1'], /key_update: KEYS\[1\] is ah:keyid:key_1, expected ah:keyid:key_2/],
    [K, ['key_1', 'id', 'key_2'], /key_update: field id cannot be changed/],
    [K, ['key_1', 'rpm', '1', 'user_id', 'usr_2'], /key_update: field user_id cannot be changed/],
  ];
  for (const [keys, args, re] of bad) {
    await rejectsUnchanged(h.client, () => h.run('key_update', keys, args), re);
  }
});

// ---- key_delete ----

test('key_delete revokes the key at once and leaves the user\'s other keys', async () => {
  await addUser('usr_1', 'alice');
  await createKey('key_1', 'hm1', 'usr_1');
  await createKey('key_2', 'hm2', 'usr_1');
  assert.deepEqual(await check('hm1'), ['ok', 'key_1', 'usr_1', '']);
  assert.deepEqual(await deleteKey('key_1'), ['ok']);
  assert.equal(await h.client.exists('ah:key:hm1', 'ah:keyid:key_1'), 0);
  assert.deepEqual(await keyIds('usr_1'), ['key_2']);
  assert.deepEqual(await check('hm1'), ['err', 'invalid_api_key']);
  assert.deepEqual(await check('hm2'), ['ok', 'key_2', 'usr_1', '']);
  assert.equal(await h.client.get('ah:keyid:key_2'), 'hm2');
  // again: it is gone
  await unchanged(h.client, async () => {
    assert.deepEqual(await deleteKey('key_1'), ['err', 'not_found']);
  });
});

test('key_delete of an unknown id: not_found, nothing changed', async () => {
  await addUser('usr_1', 'alice');
  await createKey('key_1', 'hm1', 'usr_1');
  await unchanged(h.client, async () => {
    assert.deepEqual(await deleteKey('key_9'), ['err', 'not_found']);
  });
});

test('key_delete of a bad pointer removes only the pointer', async () => {
  await addUser('usr_1', 'alice');
  await createKey('key_1', 'hm1', 'usr_1');
  const before = await dumpDb(h.client);
  // the record is gone: the pointer is cleaned up
  await h.client.set('ah:keyid:key_8', 'gone');
  assert.deepEqual(await deleteKey('key_8'), ['ok']);
  // the pointer names another key's record: that key is not revoked
  await h.client.set('ah:keyid:key_7', 'hm1');
  assert.deepEqual(await deleteKey('key_7'), ['ok']);
  assert.deepEqual(await dumpDb(h.client), before);
});

test('key_delete malformed calls are errors and change nothing', async () => {
  await addUser('usr_1', 'alice');
  await createKey('key_1', 'hm1', 'usr_1');
  await rejectsUnchanged(h.client, () => h.run('key_delete', ['ah:keyid:key_1'], []), /key_delete: expected 1 ARGV, got 0/);
  await rejectsUnchanged(h.client, () => h.run('key_delete', [], ['key_1']), /key_delete: expected 1 KEYS, got 0/);
  await rejectsUnchanged(h.client, () => h.run('key_delete', ['ah:keyid:key_1'], ['key_2']),
    /key_delete: KEYS\[1\] is ah:keyid:key_1, expected ah:keyid:key_2/);
  await rejectsUnchanged(h.client, () => h.run('key_delete', ['ah:keyid:'], ['']), /key_delete: empty key id/);
});

// ---- key_check ----

test('key_check: ok with key id, user id and the models text; read-only', async () => {
  await seedKeyAndUser(h.client, { key: { models: '["gpt-4o","gpt-4"]' } });
  assert.deepEqual(await unchanged(h.client, () => check('h1')), ['ok', 'k1', 'u1', '["gpt-4o","gpt-4"]']);
  // unlike admit, key_check does not mark the key as used
  assert.equal(await h.client.hexists('ah:key:h1', 'last_used_at'), 0);
  // models absent: ""; expires_at in the future or 0: usable
  await h.client.hdel('ah:key:h1', 'models');
  await h.client.hset('ah:key:h1', 'expires_at', String((await serverNowS()) + 3600));
  assert.deepEqual(await check('h1'), ['ok', 'k1', 'u1', '']);
  await h.client.hset('ah:key:h1', 'expires_at', '0');
  assert.deepEqual(await check('h1'), ['ok', 'k1', 'u1', '']);
});

test('key_check: invalid_api_key for a missing, disabled or expired key', async () => {
  await seedKeyAndUser(h.client);
  const refused = (hmac, code) => unchanged(h.client, async () => assert.deepEqual(await check(hmac), ['err', code]));
  await refused('nope', 'invalid_api_key');
  await h.client.hset('ah:key:h1', 'enabled', '0');
  await refused('h1', 'invalid_api_key');
  await h.client.hset('ah:key:h1', 'enabled', 'true'); // only "1" means enabled
  await refused('h1', 'invalid_api_key');
  await h.client.hdel('ah:key:h1', 'enabled');
  await refused('h1', 'invalid_api_key');
  await h.client.hset('ah:key:h1', 'enabled', '1', 'expires_at', String((await serverNowS()) - 1));
  await refused('h1', 'invalid_api_key');
  // an expired key is refused even when its user is disabled too
  await h.client.hset('ah:user:u1', 'enabled', '0');
  await refused('h1', 'invalid_api_key');
});

test('key_check: user_disabled for a missing or disabled user', async () => {
  await seedKeyAndUser(h.client, { user: { enabled: '0' } });
  const refused = async () => unchanged(h.client, async () => assert.deepEqual(await check('h1'), ['err', 'user_disabled']));
  await refused();
  await h.client.hdel('ah:user:u1', 'enabled');
  await refused();
  await h.client.del('ah:user:u1');
  await refused();
  await h.client.hset('ah:user:u1', { id: 'u1', enabled: '1' });
  assert.deepEqual(await check('h1'), ['ok', 'k1', 'u1', '']);
  // the key's user_id names the user; none, or an empty one, is no user
  await h.client.hset('ah:key:h1', 'user_id', '');
  await refused();
  await h.client.hset('ah:user:', { enabled: '1' }); // a stray hash under the empty id is no user
  await refused();
  await h.client.del('ah:user:');
  await h.client.hdel('ah:key:h1', 'user_id');
  await refused();
  await h.client.hset('ah:key:h1', 'user_id', 'u2');
  await refused();
  await h.client.hset('ah:user:u2', { id: 'u2', enabled: '1' });
  assert.deepEqual(await check('h1'), ['ok', 'k1', 'u2', '']);
});

test('key_check malformed calls are errors', async () => {
  await seedKeyAndUser(h.client);
  await rejectsUnchanged(h.client, () => h.run('key_check', [], []), /key_check: expected 1 KEYS, got 0/);
  await rejectsUnchanged(h.client, () => h.run('key_check', ['ah:key:h1'], ['x']), /key_check: expected 0 ARGV, got 1/);
});

// ---- user_delete ----

test('user_delete revokes every key of the user, releases the name, returns the count', async () => {
  await addUser('usr_1', 'alice');
  await addUser('usr_2', 'bob');
  await createKey('key_1', 'hm1', 'usr_1');
  await createKey('key_2', 'hm2', 'usr_1');
  await createKey('key_3', 'hm3', 'usr_2');
  await createKey('key_4', 'hm4', 'usr_1');
  const others = await dumpDb(h.client);
  assert.deepEqual(await deleteUser('usr_1'), ['ok', 3]);
  for (const k of ['ah:user:usr_1', 'ah:user:usr_1:keys', 'ah:key:hm1', 'ah:key:hm2', 'ah:key:hm4',
    'ah:keyid:key_1', 'ah:keyid:key_2', 'ah:keyid:key_4']) {
    assert.equal(await h.client.exists(k), 0, `${k} should be gone`);
  }
  assert.deepEqual(await h.client.hgetall('ah:user_names'), { bob: 'usr_2' });
  assert.deepEqual(await h.client.zrange('ah:users', 0, -1), ['usr_2']);
  // bob and his key are exactly as they were
  const now = await dumpDb(h.client);
  for (const k of ['ah:user:usr_2', 'ah:user:usr_2:keys', 'ah:key:hm3', 'ah:keyid:key_3']) {
    assert.deepEqual(now[k], others[k], k);
  }
  assert.deepEqual(Object.keys(now).sort(),
    ['ah:key:hm3', 'ah:keyid:key_3', 'ah:user:usr_2', 'ah:user:usr_2:keys', 'ah:user_names', 'ah:users']);
  for (const hm of ['hm1', 'hm2', 'hm4']) assert.deepEqual(await check(hm), ['err', 'invalid_api_key']);
  assert.deepEqual(await check('hm3'), ['ok', 'key_3', 'usr_2', '']);
  // the name is free again
  await addUser('usr_3', 'alice');
  assert.deepEqual(await h.client.hgetall('ah:user_names'), { bob: 'usr_2', alice: 'usr_3' });
});

test('user_delete of a user without keys: count 0; a missing user: not_found', async () => {
  await addUser('usr_1', 'alice');
  await addUser('usr_2', 'bob');
  await unchanged(h.client, async () => {
    assert.deepEqual(await deleteUser('usr_9'), ['err', 'not_found']);
    // a hash under the key whose id field is another id is not this user
    await h.client.hset('ah:user:usr_8', { id: 'usr_2', name: 'bob' });
    assert.deepEqual(await deleteUser('usr_8'), ['err', 'not_found']);
    await h.client.del('ah:user:usr_8');
  });
  assert.deepEqual(await deleteUser('usr_1'), ['ok', 0]);
  assert.deepEqual(await h.client.hgetall('ah:user_names'), { bob: 'usr_2' });
  assert.deepEqual(await h.client.zrange('ah:users', 0, -1), ['usr_2']);
  assert.deepEqual(await deleteUser('usr_1'), ['err', 'not_found']);
});

test('user_delete keeps a name the index gives to another user', async () => {
  await addUser('usr_1', 'alice');
  await addUser('usr_2', 'bob');
  await h.client.hset('ah:user:usr_1', 'name', 'bob'); // stale record
  assert.deepEqual(await deleteUser('usr_1'), ['ok', 0]);
  assert.deepEqual(await h.client.hgetall('ah:user_names'), { alice: 'usr_1', bob: 'usr_2' });
});

test('user_delete malformed calls are errors and change nothing', async () => {
  await addUser('usr_1', 'alice');
  await createKey('key_1', 'hm1', 'usr_1');
  const K = ['ah:user:usr_1', 'ah:user_names', 'ah:users', 'ah:user:usr_1:keys'];
  const bad = [
    [K.slice(0, 3), ['usr_1'], /user_delete: expected 4 KEYS, got 3/],
    [K, [], /user_delete: expected 1 ARGV, got 0/],
    [K, ['usr_2'], /user_delete: KEYS\[1\] and KEYS\[4\] must be ah:user:usr_2 and ah:user:usr_2:keys/],
    [[K[0], K[1], K[2], 'ah:user:usr_2:keys'], ['usr_1'], /user_delete: KEYS\[1\] and KEYS\[4\] must be/],
    [['ah:user:usr_2', K[1], K[2], K[3]], ['usr_1'], /user_delete: KEYS\[1\] and KEYS\[4\] must be/],
    [['ah:user:', K[1], K[2], 'ah:user::keys'], [''], /user_delete: empty user id/],
  ];
  for (const [keys, args, re] of bad) {
    await rejectsUnchanged(h.client, () => h.run('user_delete', keys, args), re);
  }
  assert.deepEqual(flatToObject(await h.run('record_get', ['ah:keyid:key_1'], ['keyid'])).id, 'key_1');
});

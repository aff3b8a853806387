// record_put, record_get and records_list: admin records (users) with their
// unique-name index and their listing, paging newest first.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  dumpDb, flatToObject, keyCreate, rejectsUnchanged, unchanged, useRedis, userPut,
} from './fixtures.mjs';

const h = useRedis();

const put = (id, name, mode = 'create', fields = {}) => {
  const c = userPut(id, name, mode, fields);
  return h.run('record_put', c.keys, c.args);
};
const get = (key, mode = 'hash') => h.run('record_get', [key], [mode]);
const list = (zset, prefix, before, limit) => h.run('records_list', [zset], [prefix, before, String(limit)]);
const user = (id) => h.client.hgetall(`ah:user:${id}`);
const names = () => h.client.hgetall('ah:user_names');
const users = () => h.client.zrange('ah:users', 0, -1, 'WITHSCORES');

test('record_put create: the record with id and name, the name index, the listing', async () => {
  assert.deepEqual(await put('usr_1', 'alice', 'create', { enabled: '1', balance: '0' }), ['ok']);
  assert.deepEqual(await user('usr_1'), { id: 'usr_1', name: 'alice', enabled: '1', balance: '0' });
  assert.deepEqual(await names(), { alice: 'usr_1' });
  assert.deepEqual(await users(), ['usr_1', '0']);
  assert.deepEqual(await put('usr_2', 'bob'), ['ok']);
  assert.deepEqual(await user('usr_2'), { id: 'usr_2', name: 'bob' });
  assert.deepEqual(await names(), { alice: 'usr_1', bob: 'usr_2' });
  assert.deepEqual(await users(), ['usr_1', '0', 'usr_2', '0']);
});

test('record_put create without a name or indexes: the record only', async () => {
  assert.deepEqual(await h.run('record_put', ['ah:thing:t1'], ['create', 't1', '', 'color', 'red']), ['ok']);
  assert.deepEqual(await dumpDb(h.client), { 'ah:thing:t1': { hash: { id: 't1', color: 'red' } } });
  // with the listing but no name: listed, no index written
  assert.deepEqual(await h.run('record_put', ['ah:thing:t2', 'ah:thing_names', 'ah:things'], ['create', 't2', '']), ['ok']);
  assert.deepEqual(await h.client.zrange('ah:things', 0, -1), ['t2']);
  assert.equal(await h.client.exists('ah:thing_names'), 0);
});

test('record_put create of an existing record: exists, nothing changed', async () => {
  await put('usr_1', 'alice', 'create', { enabled: '1' });
  await unchanged(h.client, async () => {
    assert.deepEqual(await put('usr_1', 'alice2', 'create', { enabled: '0' }), ['err', 'exists']);
    assert.deepEqual(await put('usr_1', 'alice', 'create'), ['err', 'exists']);
  });
});

test('record_put update of a missing record: not_found, nothing changed', async () => {
  await put('usr_1', 'alice');
  await unchanged(h.client, async () => {
    assert.deepEqual(await put('usr_9', 'zed', 'update', { enabled: '0' }), ['err', 'not_found']);
    // a hash under the key whose id field is another id is not this record
    await h.client.hset('ah:user:usr_8', 'id', 'usr_7');
    assert.deepEqual(await put('usr_8', 'zed', 'update'), ['err', 'not_found']);
    await h.client.del('ah:user:usr_8');
  });
  assert.equal(await h.client.exists('ah:user:usr_9'), 0);
});

test('record_put: a name held by another record is a conflict, nothing changed', async () => {
  await put('usr_1', 'alice');
  await put('usr_2', 'bob');
  await unchanged(h.client, async () => {
    assert.deepEqual(await put('usr_3', 'alice', 'create', { enabled: '1' }), ['err', 'conflict']);
    assert.deepEqual(await put('usr_2', 'alice', 'update', { enabled: '0' }), ['err', 'conflict']);
  });
  assert.equal(await h.client.exists('ah:user:usr_3'), 0);
});

test('record_put update: fields, same name, rename releasing the old name', async () => {
  await put('usr_1', 'alice', 'create', { enabled: '1', rpm: '0' });
  // same name, new fields: the index is as it was
  assert.deepEqual(await put('usr_1', 'alice', 'update', { rpm: '60' }), ['ok']);
  assert.deepEqual(await user('usr_1'), { id: 'usr_1', name: 'alice', enabled: '1', rpm: '60' });
  assert.deepEqual(await names(), { alice: 'usr_1' });
  // no name: index and name field untouched
  assert.deepEqual(await put('usr_1', '', 'update', { enabled: '0' }), ['ok']);
  assert.deepEqual(await user('usr_1'), { id: 'usr_1', name: 'alice', enabled: '0', rpm: '60' });
  assert.deepEqual(await names(), { alice: 'usr_1' });
  // rename: the old name is released, the new one held
  assert.deepEqual(await put('usr_1', 'alicia', 'update'), ['ok']);
  assert.equal((await user('usr_1')).name, 'alicia');
  assert.deepEqual(await names(), { alicia: 'usr_1' });
  // the released name is free for another record
  assert.deepEqual(await put('usr_2', 'alice'), ['ok']);
  assert.deepEqual(await names(), { alicia: 'usr_1', alice: 'usr_2' });
  // updates never touch the listing
  assert.deepEqual(await users(), ['usr_1', '0', 'usr_2', '0']);
});

test('record_put rename keeps an old name that the index gives to another record', async () => {
  await put('usr_1', 'alice');
  await put('usr_2', 'bob');
  // stale data: usr_1's record says "bob", which the index gives to usr_2
  await h.client.hset('ah:user:usr_1', 'name', 'bob');
  assert.deepEqual(await put('usr_1', 'carol', 'update'), ['ok']);
  assert.deepEqual(await names(), { alice: 'usr_1', bob: 'usr_2', carol: 'usr_1' });
});

test('record_put malformed calls are errors and change nothing', async () => {
  await put('usr_1', 'alice', 'create', { enabled: '1' });
  const K = userPut('usr_2', 'bob').keys;
  const bad = [
    [K, ['upsert', 'usr_2', 'bob'], /record_put: bad mode upsert/],
    [K, [], /record_put: bad mode nil/],
    [K, ['create', '', 'bob'], /record_put: empty id/],
    [K, ['create', 'usr_2'], /record_put: fields must come in pairs/],
    [K, ['create', 'usr_2', 'bob', 'enabled'], /record_put: fields must come in pairs/],
    [K, ['create', 'usr_2', 'bob', 'id', 'usr_3'], /record_put: field id is set through ARGV/],
    [K, ['create', 'usr_2', 'bob', 'name', 'eve'], /record_put: field name is set through ARGV/],
    [K.slice(0, 1), ['update', 'usr_1', 'bob'], /record_put: a name needs the name index key/],
    [K.slice(0, 2), ['create', 'usr_2', 'bob'], /record_put: create needs the listing key/],
    [[], ['create', 'usr_2', ''], /record_put: expected 1 to 3 KEYS, got 0/],
    [[...K, 'ah:extra'], ['create', 'usr_2', 'bob'], /record_put: expected 1 to 3 KEYS, got 4/],
  ];
  for (const [keys, args, re] of bad) {
    await rejectsUnchanged(h.client, () => h.run('record_put', keys, args), re);
  }
  assert.deepEqual(await names(), { alice: 'usr_1' });
});

test('record_get "hash": the flat record, empty when missing; read-only', async () => {
  await put('usr_1', 'alice', 'create', { enabled: '1', balance: '5' });
  const rec = await unchanged(h.client, () => get('ah:user:usr_1'));
  assert.deepEqual(flatToObject(rec), { id: 'usr_1', name: 'alice', enabled: '1', balance: '5' });
  assert.deepEqual(await unchanged(h.client, () => get('ah:user:usr_9')), []);
});

test('record_get "keyid": the key record through ah:keyid:<id>, empty when missing', async () => {
  await put('usr_1', 'alice');
  const c = keyCreate('key_1', 'hm1', 'usr_1', { models: '["gpt-4o"]' });
  assert.deepEqual(await h.run('key_create', c.keys, c.args), ['ok']);
  const rec = await unchanged(h.client, () => get('ah:keyid:key_1', 'keyid'));
  assert.deepEqual(flatToObject(rec), { id: 'key_1', user_id: 'usr_1', name: 'key_1', enabled: '1', models: '["gpt-4o"]' });
  assert.deepEqual(await get('ah:keyid:key_9', 'keyid'), []);
  // a pointer to a record that is gone
  await h.client.set('ah:keyid:key_8', 'gone');
  assert.deepEqual(await get('ah:keyid:key_8', 'keyid'), []);
  // "hash" mode reads the key itself: the pointer is a string, not a record
  await assert.rejects(get('ah:keyid:key_1', 'hash'), /WRONGTYPE/);
});

test('record_get malformed calls are errors', async () => {
  await put('usr_1', 'alice');
  await rejectsUnchanged(h.client, () => get('ah:user:usr_1', 'hmac'), /record_get: mode must be hash or keyid, got hmac/);
  await rejectsUnchanged(h.client, () => get('ah:user:usr_1', ''), /record_get: mode must be hash or keyid/);
  await rejectsUnchanged(h.client, () => h.run('record_get', ['ah:user:usr_1'], []), /record_get: expected 1 ARGV, got 0/);
  await rejectsUnchanged(h.client, () => h.run('record_get', [], ['hash']), /record_get: expected 1 KEYS, got 0/);
  await rejectsUnchanged(h.client, () => h.run('record_get', ['ah:user:usr_1', 'ah:x'], ['hash']), /record_get: expected 1 KEYS, got 2/);
});

// Users usr_01 .. usr_<n>, created in that (time) order.
async function seedUsers(n) {
  const ids = [];
  for (let i = 1; i <= n; i++) {
    const id = `usr_${String(i).padStart(2, '0')}`;
    assert.deepEqual(await put(id, `name${i}`, 'create', { n: String(i) }), ['ok']);
    ids.push(id);
  }
  return ids;
}
const idsOf = (page) => page.slice(1).map((rec) => flatToObject(rec).id);

test('records_list pages newest first with before and limit; next is "" on the last page', async () => {
  await seedUsers(5);
  let page = await unchanged(h.client, () => list('ah:users', 'ah:user:', '', 2));
  assert.equal(page.length, 3);
  assert.equal(page[0], 'usr_04');
  assert.deepEqual(idsOf(page), ['usr_05', 'usr_04']);
  assert.deepEqual(flatToObject(page[1]), { id: 'usr_05', name: 'name5', n: '5' });
  page = await list('ah:users', 'ah:user:', page[0], 2);
  assert.equal(page[0], 'usr_02');
  assert.deepEqual(idsOf(page), ['usr_03', 'usr_02']);
  page = await list('ah:users', 'ah:user:', page[0], 2);
  assert.equal(page[0], '');
  assert.deepEqual(idsOf(page), ['usr_01']);
  // the whole listing in one page, and past the end
  page = await list('ah:users', 'ah:user:', '', 1000);
  assert.equal(page[0], '');
  assert.deepEqual(idsOf(page), ['usr_05', 'usr_04', 'usr_03', 'usr_02', 'usr_01']);
  assert.deepEqual(await list('ah:users', 'ah:user:', 'usr_01', 10), ['']);
});

test('records_list: a last page that is exactly full has next ""', async () => {
  await seedUsers(4);
  let page = await list('ah:users', 'ah:user:', '', 2);
  assert.equal(page[0], 'usr_03');
  assert.deepEqual(idsOf(page), ['usr_04', 'usr_03']);
  page = await list('ah:users', 'ah:user:', page[0], 2);
  assert.equal(page[0], '');
  assert.deepEqual(idsOf(page), ['usr_02', 'usr_01']);
  // limit equal to the count: one page, no next
  page = await list('ah:users', 'ah:user:', '', 4);
  assert.equal(page[0], '');
  assert.equal(page.length, 5);
  // limit 1 walks every record once
  const seen = [];
  let before = '';
  for (let guard = 0; guard < 10; guard++) {
    page = await list('ah:users', 'ah:user:', before, 1);
    seen.push(...idsOf(page));
    if (page[0] === '') break;
    before = page[0];
  }
  assert.deepEqual(seen, ['usr_04', 'usr_03', 'usr_02', 'usr_01']);
});

test('records_list: an empty listing, and a cursor that is not a listed id', async () => {
  assert.deepEqual(await list('ah:users', 'ah:user:', '', 50), ['']);
  await seedUsers(3);
  // "usr_025" sorts between usr_02 and usr_03
  assert.deepEqual(idsOf(await list('ah:users', 'ah:user:', 'usr_025', 50)), ['usr_02', 'usr_01']);
  assert.deepEqual(idsOf(await list('ah:users', 'ah:user:', 'usr_99', 50)), ['usr_03', 'usr_02', 'usr_01']);
});

test('records_list "keyid": records reached through ah:keyid:<id>', async () => {
  await put('usr_1', 'alice');
  await put('usr_2', 'bob');
  for (const [kid, hmac, uid] of [['key_1', 'hm1', 'usr_1'], ['key_2', 'hm2', 'usr_2'], ['key_3', 'hm3', 'usr_1']]) {
    const c = keyCreate(kid, hmac, uid);
    assert.deepEqual(await h.run('key_create', c.keys, c.args), ['ok']);
  }
  const page = await unchanged(h.client, () => list('ah:user:usr_1:keys', 'keyid', '', 1));
  assert.equal(page[0], 'key_3');
  assert.deepEqual(flatToObject(page[1]), { id: 'key_3', user_id: 'usr_1', name: 'key_3', enabled: '1' });
  const last = await list('ah:user:usr_1:keys', 'keyid', page[0], 1);
  assert.deepEqual(last[0], '');
  assert.deepEqual(idsOf(last), ['key_1']);
  // a listed id whose pointer is gone gives an empty record in its place
  await h.client.zadd('ah:user:usr_1:keys', 0, 'key_0');
  const all = await list('ah:user:usr_1:keys', 'keyid', '', 10);
  assert.deepEqual(all.slice(1).map((r) => r.length === 0 ? null : flatToObject(r).id), ['key_3', 'key_1', null]);
});

test('records_list malformed calls are errors', async () => {
  await seedUsers(2);
  const bad = [
    [['ah:user:', '', '0'], /records_list: limit must be 1..1000/],
    [['ah:user:', '', '1001'], /records_list: limit must be 1..1000/],
    [['ah:user:', '', '-1'], /records_list: limit must be 1..1000/],
    [['ah:user:', '', '1.5'], /limit must be a decimal integer, got 1.5/],
    [['ah:user:', '', ''], /limit must be a decimal integer/],
    [['', '', '10'], /records_list: prefix must be "keyid" or start with "ah:"/],
    [['user:', '', '10'], /records_list: prefix must be "keyid" or start with "ah:"/],
    [['ah:user:', ''], /records_list: expected 3 ARGV, got 2/],
  ];
  for (const [args, re] of bad) {
    await rejectsUnchanged(h.client, () => h.run('records_list', ['ah:users'], args), re);
  }
  await rejectsUnchanged(h.client, () => h.run('records_list', [], ['ah:user:', '', '10']), /records_list: expected 1 KEYS, got 0/);
  // the bounds themselves are fine
  assert.equal((await list('ah:users', 'ah:user:', '', 1)).length, 2);
  assert.equal((await list('ah:users', 'ah:user:', '', 1000)).length, 3);
});

// config_put, config_delete, config_set and config_read: objects, the name
// index with its conflicts, the version and the change announcement.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, useRedis } from './fixtures.mjs';

const h = useRedis();

const OBJ = ['ah:cfg:channels', 'ah:cfg:names', 'ah:cfg:ver'];
const READ_KEYS = ['ah:cfg:ver', 'ah:cfg:channels', 'ah:cfg:accounts', 'ah:cfg:modelmap', 'ah:cfg:settings', 'ah:cfg:prices'];
const put = (id, obj, unique = '', old = '', mode = 'create', keys = OBJ) =>
  h.run('config_put', keys, [id, JSON.stringify(obj), unique, old, mode]);
const del = (id, unique = '', keys = OBJ) => h.run('config_delete', keys, [id, unique]);
const set = (key, obj) => h.run('config_set', [key, 'ah:cfg:ver'], [JSON.stringify(obj)]);
const read = () => h.run('config_read', READ_KEYS, []);
const ver = async () => Number(await h.client.get('ah:cfg:ver'));
const names = () => h.client.hgetall('ah:cfg:names');

test('config_read of an empty database', async () => {
  assert.deepEqual(await read(), [0, [], [], '', '', '']);
});

test('create: stores the object and its name, bumps the version', async () => {
  assert.deepEqual(await put('ch1', { name: 'openai-main' }, 'channel:openai-main'), ['ok', 1]);
  assert.equal(await h.client.hget('ah:cfg:channels', 'ch1'), '{"name":"openai-main"}');
  assert.deepEqual(await names(), { 'channel:openai-main': 'ch1' });
  assert.deepEqual(await put('ch2', { name: 'anthropic' }, 'channel:anthropic'), ['ok', 2]);
  // without a unique field
  assert.deepEqual(await put('ch3', { name: 'x' }), ['ok', 3]);
  assert.equal(await ver(), 3);
  assert.deepEqual(await names(), { 'channel:openai-main': 'ch1', 'channel:anthropic': 'ch2' });
});

test('create of an existing id: exists, nothing changed', async () => {
  await put('ch1', { v: 1 }, 'channel:a');
  assert.deepEqual(await put('ch1', { v: 2 }, 'channel:b'), ['err', 'exists']);
  assert.equal(await h.client.hget('ah:cfg:channels', 'ch1'), '{"v":1}');
  assert.deepEqual(await names(), { 'channel:a': 'ch1' });
  assert.equal(await ver(), 1);
});

test('update of a missing id: not_found, nothing changed', async () => {
  assert.deepEqual(await put('nope', { v: 1 }, 'channel:a', '', 'update'), ['err', 'not_found']);
  assert.equal(await h.client.exists('ah:cfg:channels', 'ah:cfg:names', 'ah:cfg:ver'), 0);
});

test('a name owned by another id: conflict, nothing changed', async () => {
  await put('ch1', { name: 'main' }, 'channel:main');
  assert.deepEqual(await put('ch2', { name: 'main' }, 'channel:main'), ['err', 'conflict']);
  assert.equal(await h.client.hexists('ah:cfg:channels', 'ch2'), 0);
  await put('ch2', { name: 'other' }, 'channel:other');
  // renaming ch2 onto ch1's name: conflict; ch2 keeps its object and its old name
  assert.deepEqual(await put('ch2', { name: 'main' }, 'channel:main', 'channel:other', 'update'), ['err', 'conflict']);
  assert.equal(await h.client.hget('ah:cfg:channels', 'ch2'), '{"name":"other"}');
  assert.deepEqual(await names(), { 'channel:main': 'ch1', 'channel:other': 'ch2' });
  assert.equal(await ver(), 2);
  // same name in another scope is no conflict
  const acct = ['ah:cfg:accounts', 'ah:cfg:names', 'ah:cfg:ver'];
  assert.deepEqual(await put('ac1', { name: 'main' }, 'account:ch1:main', '', 'create', acct), ['ok', 3]);
  assert.deepEqual(await put('ac2', { key: 'sk-..' }, 'acctkey:ch1:abc', '', 'create', acct), ['ok', 4]);
  assert.deepEqual(await put('ac3', { key: 'sk-..' }, 'acctkey:ch1:abc', '', 'create', acct), ['err', 'conflict']);
});

test('update keeps its own name, or renames and releases the old one', async () => {
  await put('ch1', { name: 'a' }, 'channel:a');
  assert.deepEqual(await put('ch1', { name: 'a', weight: 2 }, 'channel:a', 'channel:a', 'update'), ['ok', 2]);
  assert.deepEqual(await names(), { 'channel:a': 'ch1' });
  assert.deepEqual(await put('ch1', { name: 'b' }, 'channel:b', 'channel:a', 'update'), ['ok', 3]);
  assert.deepEqual(await names(), { 'channel:b': 'ch1' });
  assert.equal(await h.client.hget('ah:cfg:channels', 'ch1'), '{"name":"b"}');
  // the released name is free for someone else
  assert.deepEqual(await put('ch2', { name: 'a' }, 'channel:a'), ['ok', 4]);
  // an "old" field owned by another id is not released (ch1's own channel:b
  // stays, since it was not named)
  assert.deepEqual(await put('ch1', { name: 'c' }, 'channel:c', 'channel:a', 'update'), ['ok', 5]);
  assert.deepEqual(await names(), { 'channel:a': 'ch2', 'channel:b': 'ch1', 'channel:c': 'ch1' });
  // update with no name field leaves the index alone
  assert.deepEqual(await put('ch1', { name: 'c', w: 1 }, '', '', 'update'), ['ok', 6]);
  assert.deepEqual(await names(), { 'channel:a': 'ch2', 'channel:b': 'ch1', 'channel:c': 'ch1' });
  // releasing without claiming: old field only
  assert.deepEqual(await put('ch1', { name: 'c' }, '', 'channel:b', 'update'), ['ok', 7]);
  assert.deepEqual(await names(), { 'channel:a': 'ch2', 'channel:c': 'ch1' });
});

test('delete removes the object and releases its name; a missing id is not_found', async () => {
  await put('ch1', { name: 'a' }, 'channel:a');
  await put('ch2', { name: 'b' }, 'channel:b');
  assert.deepEqual(await del('ch1', 'channel:a'), ['ok', 3]);
  assert.equal(await h.client.hexists('ah:cfg:channels', 'ch1'), 0);
  assert.deepEqual(await names(), { 'channel:b': 'ch2' });
  assert.deepEqual(await del('ch1', 'channel:a'), ['err', 'not_found']);
  assert.equal(await ver(), 3);
  // a field owned by another id is not released
  assert.deepEqual(await del('ch3'), ['err', 'not_found']);
  await put('ch3', { name: 'c' });
  assert.deepEqual(await del('ch3', 'channel:b'), ['ok', 5]);
  assert.deepEqual(await names(), { 'channel:b': 'ch2' });
  assert.equal(await h.client.hget('ah:cfg:channels', 'ch2'), '{"name":"b"}');
});

test('config_set replaces a document and returns the new version', async () => {
  assert.equal(await set('ah:cfg:modelmap', { 'gpt-4': ['gpt-4', 'gpt-4-0613'] }), 1);
  assert.equal(await set('ah:cfg:settings', { max_retries: 3 }), 2);
  assert.equal(await set('ah:cfg:settings', { max_retries: 5 }), 3);
  assert.equal(await h.client.get('ah:cfg:settings'), '{"max_retries":5}');
  assert.equal(await h.client.get('ah:cfg:modelmap'), '{"gpt-4":["gpt-4","gpt-4-0613"]}');
});

test('config_read returns one consistent snapshot', async () => {
  await put('ch1', { name: 'a' }, 'channel:a');
  await put('ac1', { channel_id: 'ch1' }, '', '', 'create', ['ah:cfg:accounts', 'ah:cfg:names', 'ah:cfg:ver']);
  await set('ah:cfg:modelmap', { m: ['x'] });
  const snap = await read();
  assert.deepEqual(snap, [3, ['ch1', '{"name":"a"}'], ['ac1', '{"channel_id":"ch1"}'], '{"m":["x"]}', '', '']);
  await set('ah:cfg:settings', { global_rpm: 0 });
  assert.deepEqual((await read())[0], 4);
  assert.deepEqual((await read())[4], '{"global_rpm":0}');
  // the prices document is the sixth result, as stored
  const prices = '{"gpt-4o":{"input":2500000,"output":10000000}}';
  assert.equal(await h.run('config_set', ['ah:cfg:prices', 'ah:cfg:ver'], [prices]), 5);
  const snap2 = await read();
  assert.equal(snap2.length, 6);
  assert.equal(snap2[0], 5);
  assert.equal(snap2[5], prices);
  assert.equal(snap2[4], '{"global_rpm":0}', 'settings stay in their place');
  assert.equal(snap2[3], '{"m":["x"]}', 'the model map stays in its place');
});

test('malformed calls are errors and change nothing', async () => {
  await put('ch1', { name: 'a' }, 'channel:a');
  await assert.rejects(h.run('config_put', OBJ, ['ch2', '{bad', '', '', 'create']), /must be a JSON object or array/);
  await assert.rejects(h.run('config_put', OBJ, ['ch2', '"text"', '', '', 'create']), /must be a JSON object or array/);
  await assert.rejects(h.run('config_put', OBJ, ['ch2', '{}', '', '', 'upsert']), /mode must be create or update/);
  await assert.rejects(h.run('config_put', OBJ, ['', '{}', '', '', 'create']), /empty id/);
  await assert.rejects(h.run('config_put', OBJ, ['ch2', '{}', '', '']), /expected 5 ARGV, got 4/);
  await assert.rejects(h.run('config_set', ['ah:cfg:settings', 'ah:cfg:ver'], ['nope']), /must be a JSON object or array/);
  await assert.rejects(h.run('config_delete', OBJ.slice(0, 2), ['ch1', '']), /expected 3 KEYS, got 2/);
  await assert.rejects(h.run('config_read', READ_KEYS.slice(0, 5), []), /config_read: expected 6 KEYS, got 5/);
  await assert.rejects(h.run('config_read', READ_KEYS, ['x']), /config_read: expected 0 ARGV, got 1/);
  assert.equal(await ver(), 1);
  assert.deepEqual(await h.client.hkeys('ah:cfg:channels'), ['ch1']);
  assert.equal(await h.client.exists('ah:cfg:settings'), 0);
});

test('every change publishes its version on ah:cfg:changed; refusals publish nothing', async () => {
  const sub = h.redis.newClient();
  const got = [];
  sub.on('message', (channel, message) => got.push([channel, message]));
  assert.equal(await sub.subscribe('ah:cfg:changed'), 1);

  assert.deepEqual(await put('ch1', { name: 'a' }, 'channel:a'), ['ok', 1]);
  assert.deepEqual(await put('ch1', { name: 'a' }, 'channel:a'), ['err', 'exists']);
  assert.deepEqual(await put('ch2', { name: 'a' }, 'channel:a'), ['err', 'conflict']);
  assert.deepEqual(await put('ch9', {}, '', '', 'update'), ['err', 'not_found']);
  assert.deepEqual(await put('ch1', { name: 'b' }, 'channel:b', 'channel:a', 'update'), ['ok', 2]);
  assert.equal(await set('ah:cfg:settings', { max_retries: 2 }), 3);
  assert.deepEqual(await del('ch9'), ['err', 'not_found']);
  assert.deepEqual(await del('ch1', 'channel:b'), ['ok', 4]);

  const expected = ['1', '2', '3', '4'].map((v) => ['ah:cfg:changed', v]);
  const deadline = Date.now() + 2000;
  while (got.length < expected.length && Date.now() < deadline) await sleep(10);
  // a refusal that published would show up before the next version: wait a
  // little more to catch anything extra
  await sleep(50);
  assert.deepEqual(got, expected);
  await sub.unsubscribe();
});

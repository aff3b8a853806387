// channel_delete.lua: a channel goes with exactly its own accounts, their
// unique names and runtime state; the version is bumped and announced.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dumpDb, rejectsUnchanged, sleep, unchanged, useRedis } from './fixtures.mjs';

const h = useRedis();

const KEYS = ['ah:cfg:channels', 'ah:cfg:accounts', 'ah:cfg:names', 'ah:cfg:ver'];
const del = (id) => h.run('channel_delete', KEYS, [id]);
const json = (o) => JSON.stringify(o);

// Two channels: ch1 (accounts a1, a2, a4) and ch2 (account a3), plus an
// account whose JSON is corrupt, stale index entries and runtime state.
async function seed() {
  await h.client.hset('ah:cfg:channels', {
    ch1: json({ name: 'main', type: 'openai' }),
    ch2: json({ name: 'other', type: 'openai' }),
  });
  await h.client.hset('ah:cfg:accounts', {
    a1: json({ channel_id: 'ch1', key_hmac: 'k1' }),
    a2: json({ channel_id: 'ch1', key_hmac: 'k2' }),
    a3: json({ channel_id: 'ch2', key_hmac: 'k1' }),
    a4: json({ channel_id: 'ch1' }),
    a5: 'not json',
    a6: json({ channel_id: 'ch10', key_hmac: 'k3' }),
  });
  await h.client.hset('ah:cfg:names', {
    'channel:main': 'ch1',
    'channel:other': 'ch2',
    'acctkey:ch1:k1': 'a1',
    'acctkey:ch1:k2': 'a9', // held by another id: not a2's to release
    'acctkey:ch2:k1': 'a3',
    'acctkey:ch10:k3': 'a6',
  });
  for (const id of ['a1', 'a2', 'a3', 'a4', 'a6']) {
    await h.client.hset(`ah:acct:${id}`, { requests: '5', cooldown_until: '0' });
  }
  await h.client.set('ah:cfg:ver', '7');
}

test('deletes the channel and exactly its accounts, names and runtime state', async () => {
  await seed();
  const before = await dumpDb(h.client);
  assert.deepEqual(await del('ch1'), ['ok', 8, 3]);
  assert.deepEqual(await h.client.hgetall('ah:cfg:channels'), { ch2: json({ name: 'other', type: 'openai' }) });
  assert.deepEqual(Object.keys(await h.client.hgetall('ah:cfg:accounts')).sort(), ['a3', 'a5', 'a6']);
  assert.deepEqual(await h.client.hgetall('ah:cfg:names'), {
    'channel:other': 'ch2',
    'acctkey:ch1:k2': 'a9',
    'acctkey:ch2:k1': 'a3',
    'acctkey:ch10:k3': 'a6',
  });
  assert.equal(await h.client.get('ah:cfg:ver'), '8');
  // everything else is as it was: the other channel's accounts keep their state
  const after = await dumpDb(h.client);
  const gone = Object.keys(before).filter((k) => !(k in after)).sort();
  assert.deepEqual(gone, ['ah:acct:a1', 'ah:acct:a2', 'ah:acct:a4']);
  for (const k of ['ah:acct:a3', 'ah:acct:a6']) assert.deepEqual(after[k], before[k], k);
  assert.deepEqual((await h.client.hgetall('ah:cfg:accounts')).a3, before['ah:cfg:accounts'].hash.a3);
  // the other channel goes the same way
  assert.deepEqual(await del('ch2'), ['ok', 9, 1]);
  assert.deepEqual(Object.keys(await h.client.hgetall('ah:cfg:accounts')).sort(), ['a5', 'a6']);
  assert.equal(await h.client.exists('ah:cfg:channels', 'ah:acct:a3'), 0);
});

test('a channel without accounts: count 0, version bumped', async () => {
  await h.client.hset('ah:cfg:channels', 'ch1', json({ name: 'main' }));
  await h.client.hset('ah:cfg:names', 'channel:main', 'ch1');
  assert.deepEqual(await del('ch1'), ['ok', 1, 0]);
  assert.equal(await h.client.exists('ah:cfg:channels', 'ah:cfg:names'), 0);
  assert.equal(await h.client.get('ah:cfg:ver'), '1');
});

test('a channel name held by another id is kept; corrupt channel JSON still deletes', async () => {
  await h.client.hset('ah:cfg:channels', { ch1: json({ name: 'main' }), ch2: '{oops' });
  await h.client.hset('ah:cfg:names', 'channel:main', 'ch9');
  await h.client.hset('ah:cfg:accounts', 'a1', json({ channel_id: 'ch2', key_hmac: 'k' }));
  assert.deepEqual(await del('ch1'), ['ok', 1, 0]);
  assert.deepEqual(await h.client.hgetall('ah:cfg:names'), { 'channel:main': 'ch9' });
  assert.deepEqual(await del('ch2'), ['ok', 2, 1]);
  assert.equal(await h.client.exists('ah:cfg:channels', 'ah:cfg:accounts'), 0);
});

test('works on what config_put wrote; config_read sees the result', async () => {
  const put = (keys, id, obj, unique) => h.run('config_put', [keys, 'ah:cfg:names', 'ah:cfg:ver'],
    [id, json(obj), unique, '', 'create']);
  assert.deepEqual(await put('ah:cfg:channels', 'ch1', { name: 'main' }, 'channel:main'), ['ok', 1]);
  assert.deepEqual(await put('ah:cfg:channels', 'ch2', { name: 'b' }, 'channel:b'), ['ok', 2]);
  assert.deepEqual(await put('ah:cfg:accounts', 'a1', { channel_id: 'ch1', key_hmac: 'x' }, 'acctkey:ch1:x'), ['ok', 3]);
  assert.deepEqual(await put('ah:cfg:accounts', 'a2', { channel_id: 'ch2', key_hmac: 'x' }, 'acctkey:ch2:x'), ['ok', 4]);
  assert.deepEqual(await del('ch1'), ['ok', 5, 1]);
  const snap = await h.run('config_read', ['ah:cfg:ver', 'ah:cfg:channels', 'ah:cfg:accounts', 'ah:cfg:modelmap', 'ah:cfg:settings', 'ah:cfg:prices'], []);
  assert.deepEqual(snap, [5, ['ch2', json({ name: 'b' })], ['a2', json({ channel_id: 'ch2', key_hmac: 'x' })], '', '', '']);
  assert.deepEqual(await h.client.hgetall('ah:cfg:names'), { 'channel:b': 'ch2', 'acctkey:ch2:x': 'a2' });
  // the released names can be claimed again
  assert.deepEqual(await put('ah:cfg:channels', 'ch3', { name: 'main' }, 'channel:main'), ['ok', 6]);
});

test('an unknown channel: not_found, nothing changed, nothing published', async () => {
  await seed();
  await unchanged(h.client, async () => {
    assert.deepEqual(await del('ch9'), ['err', 'not_found']);
    // an account naming a missing channel does not make it exist
    assert.deepEqual(await del('ch10'), ['err', 'not_found']);
  });
});

test('publishes the new version on ah:cfg:changed; refusals publish nothing', async () => {
  await seed();
  const sub = h.redis.newClient();
  const got = [];
  sub.on('message', (channel, message) => got.push([channel, message]));
  assert.equal(await sub.subscribe('ah:cfg:changed'), 1);
  assert.deepEqual(await del('ch9'), ['err', 'not_found']);
  assert.deepEqual(await del('ch1'), ['ok', 8, 3]);
  assert.deepEqual(await del('ch1'), ['err', 'not_found']);
  assert.deepEqual(await del('ch2'), ['ok', 9, 1]);
  const expected = [['ah:cfg:changed', '8'], ['ah:cfg:changed', '9']];
  const deadline = Date.now() + 2000;
  while (got.length < expected.length && Date.now() < deadline) await sleep(10);
  await sleep(50);
  assert.deepEqual(got, expected);
  await sub.unsubscribe();
});

test('malformed calls are errors and change nothing', async () => {
  await seed();
  await rejectsUnchanged(h.client, () => h.run('channel_delete', KEYS.slice(0, 3), ['ch1']),
    /channel_delete: expected 4 KEYS, got 3/);
  await rejectsUnchanged(h.client, () => h.run('channel_delete', KEYS, []), /channel_delete: expected 1 ARGV, got 0/);
  await rejectsUnchanged(h.client, () => h.run('channel_delete', KEYS, ['ch1', 'ch2']), /channel_delete: expected 1 ARGV, got 2/);
  await rejectsUnchanged(h.client, () => h.run('channel_delete', KEYS, ['']), /channel_delete: empty channel id/);
});

// stats_read.lua: the stats hashes GET /api/stats reads, one flat HGETALL
// per key in the order asked, in one call that writes nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flatToObject, rejectsUnchanged, unchanged, useRedis } from './fixtures.mjs';

const h = useRedis();
const read = (keys, args = []) => h.run('stats_read', keys, args);

test('one flat HGETALL per key, in order; a missing hash is an empty list', async () => {
  await h.client.hset('ah:stats:d:20261122', { req: '3', err: '1', pt: '30', ct: '12', cost: '700', 'm:gpt-4o:req': '3' });
  await h.client.hset('ah:stats:h:2026112214', { req: '2', 'm:a:b:c:req': '2' });
  const keys = ['ah:stats:h:2026112214', 'ah:stats:d:20261121', 'ah:stats:d:20261122'];
  const reply = await unchanged(h.client, () => read(keys));
  assert.equal(reply.length, 3);
  assert.deepEqual(flatToObject(reply[0]), { req: '2', 'm:a:b:c:req': '2' });
  assert.deepEqual(reply[1], []);
  assert.deepEqual(flatToObject(reply[2]), { req: '3', err: '1', pt: '30', ct: '12', cost: '700', 'm:gpt-4o:req': '3' });
});

test('no keys: an empty list', async () => {
  assert.deepEqual(await read([]), []);
});

test('what the settle path writes reads back whole (90 days and 24 hours in one call)', async () => {
  const keys = [];
  for (let d = 1; d <= 90; d++) keys.push(`ah:stats:d:${20260000 + d}`);
  for (let i = 0; i < 24; i++) keys.push(`ah:stats:h:20260101${String(i).padStart(2, '0')}`);
  await h.client.hset(keys[5], { req: '7' });
  await h.client.hset(keys[100], { req: '9', cost: '5' });
  const reply = await read(keys);
  assert.equal(reply.length, keys.length);
  assert.deepEqual(flatToObject(reply[5]), { req: '7' });
  assert.deepEqual(flatToObject(reply[100]), { req: '9', cost: '5' });
  assert.equal(reply.filter((r) => r.length > 0).length, 2);
});

test('malformed calls are errors and write nothing', async () => {
  await h.client.set('ah:user:u1', 'x');
  await rejectsUnchanged(h.client, () => read(['ah:user:u1']), /stats_read: not a stats key: ah:user:u1/);
  await rejectsUnchanged(h.client, () => read(['ah:stats:d:2026112']), /not a stats key/);
  await rejectsUnchanged(h.client, () => read(['ah:stats:h:20261122']), /not a stats key/);
  await rejectsUnchanged(h.client, () => read(['ah:stats:d:20261122'], ['x']), /expected no ARGV, got 1/);
  const many = Array.from({ length: 301 }, (_, i) => `ah:stats:h:${String(2026010100 + i)}`);
  await rejectsUnchanged(h.client, () => read(many), /at most 300 keys, got 301/);
});

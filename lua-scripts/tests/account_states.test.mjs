// account_states.lua: the live state of many accounts in one read.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acctKey, serverNowMs, settle, useRedis } from './fixtures.mjs';

const h = useRedis();

test('returns the server time and six fields per account, "" when missing', async () => {
  await h.client.hset(acctKey('a'), {
    cooldown_until: '1700000000123', disabled: '1', disabled_reason: 'upstream 401',
    requests: '9', errors: '4', latency_ewma_ms: '88.5', last_status: '401',
  });
  assert.deepEqual(await settle(h, 'b', { latency: 40 }), [0, 0, -1]);
  const t0 = await serverNowMs(h.client);
  const reply = await h.run('account_states', [acctKey('a'), acctKey('b'), acctKey('ghost')], []);
  const t1 = await serverNowMs(h.client);
  assert.equal(reply.length, 2);
  assert.equal(typeof reply[0], 'number');
  assert.ok(reply[0] >= t0 && reply[0] <= t1, `now_ms ${reply[0]} not in [${t0}, ${t1}]`);
  assert.deepEqual(reply[1], [
    ['1700000000123', '1', 'upstream 401', '9', '4', '88.5'],
    ['', '', '', '1', '', '40'],
    ['', '', '', '', '', ''],
  ]);
  assert.equal(await h.client.exists(acctKey('ghost')), 0, 'read-only');
});

test('no keys: an empty list', async () => {
  const reply = await h.run('account_states', [], []);
  assert.equal(reply.length, 2);
  assert.deepEqual(reply[1], []);
});

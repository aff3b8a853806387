// account_reset.lua: clears cooldown, disabled state and last error; keeps
// the counters and the latency record.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acctKey, admit, failover, okReply, seedKeyAndUser, serverNowMs, useRedis } from './fixtures.mjs';

const h = useRedis();

test('reset clears cooldown and disabled state, keeps counters', async () => {
  const now = await serverNowMs(h.client);
  await h.client.hset(acctKey('a'), {
    cooldown_until: String(now + 600_000), disabled: '1', disabled_reason: 'upstream 403',
    last_error: 'upstream 403', last_status: '403', requests: '7', errors: '3',
    stream_errors: '1', latency_ewma_ms: '210.4', last_used_at: '1700000000',
  });
  await seedKeyAndUser(h.client);
  assert.deepEqual(await admit(h, { cands: [['a', 0, 1]] }), ['err', 'no_available_account', -1]);
  assert.equal(await h.run('account_reset', [acctKey('a')], []), 1);
  assert.deepEqual(await h.client.hgetall(acctKey('a')), {
    last_status: '403', requests: '7', errors: '3', stream_errors: '1',
    latency_ewma_ms: '210.4', last_used_at: '1700000000',
  });
  assert.deepEqual(await admit(h, { cands: [['a', 0, 1]] }), okReply('a'));
});

test('reset of a cooling-only account makes it available again at once', async () => {
  assert.deepEqual(await failover(h, 'a', { secs: 300, reason: 'upstream 502', status: 502, cands: [] }), ['err', 'no_available_account', -1]);
  await seedKeyAndUser(h.client);
  const refused = await admit(h, { cands: [['a', 0, 1]] });
  assert.equal(refused[1], 'no_available_account');
  assert.ok(refused[2] > 299_000);
  assert.equal(await h.run('account_reset', [acctKey('a')], []), 1);
  assert.deepEqual(await admit(h, { cands: [['a', 0, 1]] }), okReply('a'));
  assert.equal(await h.client.hget(acctKey('a'), 'errors'), '1');
});

test('reset of an unknown account returns 1 and creates nothing', async () => {
  assert.equal(await h.run('account_reset', [acctKey('ghost')], []), 1);
  assert.equal(await h.client.exists(acctKey('ghost')), 0);
  await assert.rejects(h.run('account_reset', [acctKey('a')], ['x']), /expected 0 ARGV, got 1/);
});

// The hot path's promise: a successful request costs exactly two Redis script
// calls (admit and settle), counted by Redis itself (INFO commandstats), with
// the node's background work (sweep, stats fold) pushed out of the measured window.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, addChannel, addUserKey, waitConfig, chat, ok, sleep } from '../lib/stack.mjs';

let s;
before(async () => {
  s = await startStack({ env: { AIHUB_SWEEP_MS: '600000', AIHUB_CONFIG_POLL_MS: '60000', AIHUB_STATS_FOLD_MS: '60000' } });
  await addChannel(s, { name: 'rt', models: ['rt-gpt'] });
  await ok(s.admin('PUT', '/api/prices', { 'rt-gpt': { input: 1, output: 2 } }));
  await waitConfig(s);
});
after(async () => { await s?.stop(); });

test('exactly two script calls and no other command per successful request, streaming or not', async () => {
  const { secret } = await addUserKey(s, { rpm: 1000, tpm: 10_000_000, max_in_flight: 10 }, { balance: 10_000_000, rpm: 1000 });
  await sleep(200); /* let the admin calls' replies settle */
  // MONITOR shows every command a client sends; commands run inside scripts are marked "lua" and are not round trips
  const monitor = await s.redis.newClient().monitor();
  const seen = [];
  monitor.on('monitor', (time, args, source) => { if (source !== 'lua') seen.push(args[0].toLowerCase()); });
  await sleep(100);
  const n = 25;
  for (let i = 0; i < n; i++) {
    const r = await chat(s.node.url, secret, { model: 'rt-gpt', stream: i % 2 === 1, messages: [{ role: 'user', content: `hello ${i}` }] });
    assert.equal(r.status, 200, r.text);
  }
  await sleep(300); /* the last settle is not waited for by the client */
  monitor.disconnect();
  const counts = seen.reduce((a, c) => ({ ...a, [c]: (a[c] ?? 0) + 1 }), {});
  assert.deepEqual(counts, { evalsha: 2 * n }, 'admit + settle per request, nothing else');
});

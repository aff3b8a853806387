// The node under failure: Redis killed mid-run and restarted (a request that
// ends meanwhile is settled once it is back), a paused or busy Redis (an
// admission the node gave up on is given back), a client that disconnects
// mid-stream, and SIGTERM draining running streams.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, addChannel, addUserKey, waitConfig, waitFor, chat, ok, sleep } from '../lib/stack.mjs';

let s;
let secret;
const good = { model: 'mock-gpt', messages: [{ role: 'user', content: 'hi' }] };

before(async () => {
  s = await startStack({ persist: true });
  await addChannel(s, { name: 'main', models: ['mock-gpt'] });
  ({ secret } = await addUserKey(s));
  await waitConfig(s);
});
after(async () => { await s?.stop(); });

async function metric(name) {
  const text = await (await fetch(`${s.node.url}/metrics`, { headers: { authorization: `Bearer ${s.adminKey}` } })).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

test('Redis killed: 503 service_unavailable and not ready; Redis back: serving again without a restart', async () => {
  assert.equal((await chat(s.node.url, secret, good)).status, 200);
  await s.redis.crash();
  await waitFor(async () => (await fetch(`${s.node.url}/readyz`)).status === 503, { timeoutMs: 5000, what: '/readyz to fail' });
  const r = await chat(s.node.url, secret, good);
  assert.equal(r.status, 503);
  assert.equal(r.body.error.code, 'service_unavailable');
  assert.equal(r.body.error.type, 'api_error');
  assert.equal((await fetch(`${s.node.url}/healthz`)).status, 200, 'the process stays alive');
  const models = await fetch(`${s.node.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
  assert.equal(models.status, 503);
  await s.redis.restart();
  await waitFor(async () => (await fetch(`${s.node.url}/readyz`)).status === 200, { timeoutMs: 15_000, what: '/readyz to recover' });
  await waitFor(async () => (await chat(s.node.url, secret, good)).status === 200, { timeoutMs: 10_000, what: 'chat to recover' });
});

test('Redis that stops answering (paused) fails calls by their deadline, not by hanging', async () => {
  const admin = s.redis.newClient();
  await admin.call('CLIENT', 'PAUSE', '3000', 'ALL');
  const t0 = Date.now();
  const r = await chat(s.node.url, secret, good);
  const took = Date.now() - t0;
  assert.equal(r.status, 503);
  assert.ok(took < 2900, `answered within the Redis deadline, took ${took} ms`);
  await waitFor(async () => (await chat(s.node.url, secret, good)).status === 200, { timeoutMs: 15_000, what: 'recovery after the pause' });
});

test('an admission that timed out but that Redis ran later is given back at once, not when its lease ends', async () => {
  // a node with a short Redis deadline; Redis busy in a script for 1.5 s (it answers nobody meanwhile)
  // (one worker, background calls pushed out, so that the admit is the only call pending)
  const quick = await s.addNode({
    AIHUB_REDIS_TIMEOUT_MS: '300', AIHUB_THREADS: '1', AIHUB_CONFIG_POLL_MS: '60000', AIHUB_SWEEP_MS: '600000',
    AIHUB_STATS_FOLD_MS: '60000',
  });
  const { key, secret: k } = await addUserKey(s, { max_in_flight: 5 }, { balance: 1_000_000 });
  const hmac = await s.redis.client.get(`ah:keyid:${key.id}`);
  await waitFor(async () => (await chat(quick.url, k, good)).status === 200, { timeoutMs: 10_000, what: 'the new node serving' });
  const busy = s.redis.newClient();
  const spin = busy.eval(`local t = redis.call('TIME') local t0 = t[1] * 1000000 + t[2]
    repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - t0 > 1500000 return 1`, 0);
  // busy once a PING goes unanswered for 100 ms
  const probe = s.redis.newClient();
  await waitFor(async () => (await Promise.race([probe.ping().then(() => 'pong'), sleep(100).then(() => 'busy')])) === 'busy',
    { timeoutMs: 5000, what: 'Redis busy in the script' });
  const r = await chat(quick.url, k, good);
  assert.equal(r.status, 503);
  const rid = r.headers.get('x-request-id');
  assert.equal(await spin, 1);
  // the admit ran after the script, then the settle the node queued behind it gave everything back
  await waitFor(async () => (await s.redis.client.xrange('ah:logs', '-', '+')).some(([, f]) =>
    f[f.indexOf('request_id') + 1] === rid && f[f.indexOf('status') + 1] === '503'), { timeoutMs: 10_000, what: 'the released admission logged' });
  assert.equal(await s.redis.client.hget(`ah:key:${hmac}`, 'inflight'), '0', 'its in-flight slot is free');
  const holds = await s.redis.client.keys('ah:hold:*');
  const ours = [];
  for (const h of holds) if ((await s.redis.client.hget(h, 'request_id')) === rid) ours.push(h);
  assert.deepEqual(ours, [], 'no hold of this request waits for the sweep');
  busy.disconnect();
  probe.disconnect();
});

test('a request that ends while Redis is down is settled once Redis is back, not refunded by the sweep', async () => {
  await addChannel(s, { name: 'priced', models: ['mock-priced'] });
  await ok(s.admin('PUT', '/api/prices', { 'mock-priced': { input: 1, output: 1 } }));
  await waitConfig(s);
  const { user, secret: k } = await addUserKey(s, {}, { balance: 1_000_000 });
  const money = async () => {
    const h = await s.redis.client.hgetall(`ah:user:${user.id}`);
    return { balance: Number(h.balance), held: Number(h.held ?? 0), spent: Number(h.spent ?? 0) };
  };
  // a stream of about 2 s; Redis dies while it runs (its hold is on disk: appendfsync always)
  await s.mock.behave({ key: '*', chunks: 8, chunk_delay_ms: 250 });
  const stream = chat(s.node.url, k, { model: 'mock-priced', stream: true, messages: [{ role: 'user', content: 'hi' }] });
  await waitFor(async () => (await money()).held > 0, { what: 'the stream admitted' });
  await s.redis.crash();
  const r = await stream;
  assert.equal(r.status, 200);
  assert.match(r.text ?? JSON.stringify(r.body), /\[DONE\]/, 'the stream ran to its end without Redis');
  await waitFor(async () => (await metric('aihub_settlements_waiting')) === 1, { what: 'the settlement waiting on the node' });
  await s.mock.clear();
  await s.redis.restart();
  // the settle waited on the node and went out on the new connection: charged, not refunded
  await waitFor(async () => { const m = await money(); return m.held === 0 && m.spent > 0; },
    { timeoutMs: 15_000, what: 'the waiting settlement charged the request' });
  const m = await money();
  assert.equal(m.balance + m.spent, 1_000_000);
  const types = (await s.redis.client.xrange(`ah:ledger:${user.id}`, '-', '+')).map(([, f]) => f[f.indexOf('type') + 1]);
  assert.deepEqual(types.slice(-2), ['hold', 'charge'], 'a charge, not a hold_expired refund');
  assert.equal(await metric('aihub_settlements_waiting'), 0);
});

test('a Redis that lost its script cache (SCRIPT FLUSH) is served by EVAL and recovers', async () => {
  await s.redis.client.call('SCRIPT', 'FLUSH');
  for (let i = 0; i < 4; i++) assert.equal((await chat(s.node.url, secret, good)).status, 200);
});

test('back-pressure: a client that does not read makes the node pause the upstream instead of buffering it', async () => {
  // a 24 MiB stream; the client reads the first event and then nothing for a while
  await s.mock.behave({ key: '*', chunks: 400, response_bytes: 24 << 20 });
  const ac = new AbortController();
  try {
    const res = await fetch(`${s.node.url}/v1/chat/completions`, {
      method: 'POST', signal: ac.signal,
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...good, stream: true }),
    });
    const reader = res.body.getReader();
    await reader.read();
    await sleep(1500); /* give an unbounded relay time to queue the whole answer */
    const queued = await metric('aihub_relay_buffered_bytes');
    // the pause threshold is 256 KiB; one more upstream chunk may be in the queue when it trips
    assert.ok(queued <= 1 << 20, `the node queued ${queued} bytes for a stalled client`);
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
    }
    assert.ok(total > 24 << 20, `the whole stream arrived once the client read it (${total} bytes)`);
    await waitFor(async () => (await metric('aihub_relay_buffered_bytes')) === 0, { what: 'the queue to drain' });
  } finally {
    ac.abort();
    await s.mock.clear();
  }
});

test('a client disconnecting mid-stream frees the upstream transfer', async () => {
  await s.mock.resetStats();
  await s.mock.behave({ key: '*', chunks: 50, chunk_delay_ms: 100 });
  const disconnectsBefore = await metric('aihub_client_disconnects_total');
  const ac = new AbortController();
  const res = await fetch(`${s.node.url}/v1/chat/completions`, {
    method: 'POST', signal: ac.signal,
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...good, stream: true }),
  });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  const first = await reader.read();
  assert.ok(first.value.length > 0);
  ac.abort();
  await waitFor(async () => {
    const st = await s.mock.stats();
    return st.aborted_streams >= 1 && st.active_streams === 0;
  }, { timeoutMs: 5000, what: 'the mock to see the upstream transfer aborted' });
  await waitFor(async () => (await metric('aihub_client_disconnects_total')) > disconnectsBefore, { what: 'disconnect counted' });
  await waitFor(async () => (await metric('aihub_in_flight_requests')) === 0, { what: 'in-flight back to 0' });
  await s.mock.clear();
});

test('SIGTERM drains: running streams finish, new connections are refused, exit code 0', async () => {
  const n = await s.addNode();
  await s.mock.behave({ key: '*', chunks: 10, chunk_delay_ms: 100 });
  const running = chat(n.url, secret, { ...good, stream: true });
  await sleep(150);
  const exited = n.stop('SIGTERM');
  // readiness turns false at the start of the drain (a probe gets 503 or finds the listener closed) and stays so
  const probe = () => fetch(`${n.url}/readyz`).then((r) => r.status, () => 'refused');
  await waitFor(async () => (await probe()) !== 200, { timeoutMs: 2000, what: 'readiness to turn false' });
  for (let i = 0; i < 5; i++) {
    const ready = await probe();
    assert.notEqual(ready, 200, 'ready while draining');
  }
  await waitFor(async () => {
    try {
      const r = await fetch(`${n.url}/healthz`);
      return r.status !== 200 || false;
    } catch {
      return true; /* refused: the listener is closed */
    }
  }, { timeoutMs: 5000, what: 'the draining node to stop accepting' });
  const r = await running;
  assert.equal(r.status, 200);
  assert.ok(r.text.trimEnd().endsWith('data: [DONE]'), 'the running stream finished whole');
  const { code } = await exited;
  assert.equal(code, 0);
  await s.mock.clear();
});

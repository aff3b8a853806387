// The node under failure: Redis killed mid-run and restarted, a client that
// disconnects mid-stream, and SIGTERM draining running streams.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, addChannel, addUserKey, waitConfig, waitFor, chat, sleep } from '../lib/stack.mjs';

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

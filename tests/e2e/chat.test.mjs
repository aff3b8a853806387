// Chat completions through a real node, redis-server and the mock provider:
// non-streaming and streaming, alias mapping, usage handling, /v1/models,
// and the official openai SDK as the client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startStack, addChannel, addUserKey, waitConfig, chat, ok } from '../lib/stack.mjs';

let s;
let secret;

before(async () => {
  s = await startStack();
  await addChannel(s, { name: 'main', models: ['mock-gpt'] });
  await ok(s.admin('PUT', '/api/model-map', { 'gpt-4o-mini': ['mock-gpt'] }));
  ({ secret } = await addUserKey(s));
  await waitConfig(s);
});
after(async () => { await s?.stop(); });

test('non-streaming chat completion is relayed with usage and a request id', async () => {
  const r = await chat(s.node.url, secret, { model: 'mock-gpt', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.object, 'chat.completion');
  assert.match(r.body.choices[0].message.content, /^w1 w2/);
  assert.ok(r.body.usage.total_tokens > 0);
  assert.match(r.headers.get('x-request-id'), /^[0-9a-f]{32}$/);
  assert.equal(r.headers.get('content-length'), String(Buffer.byteLength(r.text)));
});

test('a client x-request-id is echoed', async () => {
  const r = await chat(s.node.url, secret, { model: 'mock-gpt', messages: [{ role: 'user', content: 'hi' }] }, { 'x-request-id': 'my-trace-42' });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-request-id'), 'my-trace-42');
});

test('an alias is mapped to its upstream model', async () => {
  await s.mock.resetStats();
  const r = await chat(s.node.url, secret, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], custom_field: { a: 1 } });
  assert.equal(r.status, 200, r.text);
  const st = await s.mock.stats();
  assert.equal(st.last_body.model, 'mock-gpt');
  assert.deepEqual(st.last_body.custom_field, { a: 1 }, 'unknown fields reach the upstream untouched');
});

test('streaming: events arrive in order, end with [DONE], and the usage chunk the node asked for is removed', async () => {
  await s.mock.resetStats();
  const r = await chat(s.node.url, secret, { model: 'mock-gpt', stream: true, messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/event-stream/);
  const events = r.text.split('\n\n').filter((e) => e.length > 0);
  assert.equal(events.at(-1), 'data: [DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e.replace(/^data: /, '')));
  assert.ok(chunks.length >= 9);
  assert.ok(chunks.every((c) => !('usage' in c) || c.usage === null), 'no usage chunk for a client that did not ask');
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'w1 w2 w3 w4 w5 w6 w7 w8');
  const st = await s.mock.stats();
  assert.equal(st.last_body.stream_options.include_usage, true, 'the node asks the upstream for usage');
});

test('streaming: a client that asks for usage gets the usage chunk', async () => {
  const r = await chat(s.node.url, secret, {
    model: 'mock-gpt', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }],
  });
  assert.equal(r.status, 200);
  const chunks = r.text.split('\n\n').filter((e) => e && e !== 'data: [DONE]').map((e) => JSON.parse(e.slice(6)));
  const usage = chunks.filter((c) => c.usage);
  assert.equal(usage.length, 1);
  assert.equal(usage[0].usage.completion_tokens, 8);
});

test('GET /v1/models lists aliases and upstream models in OpenAI list shape', async () => {
  const r = await fetch(`${s.node.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
  assert.equal(r.status, 200);
  const body = await r.json();
  assert.equal(body.object, 'list');
  const ids = body.data.map((m) => m.id).sort();
  assert.deepEqual(ids, ['gpt-4o-mini', 'mock-gpt']);
});

test('GET /v1/models honours a key restricted to some models', async () => {
  const { secret: limited } = await addUserKey(s, { models: ['gpt-4o-mini'] });
  const body = await (await fetch(`${s.node.url}/v1/models`, { headers: { authorization: `Bearer ${limited}` } })).json();
  assert.deepEqual(body.data.map((m) => m.id), ['gpt-4o-mini']);
  const r = await chat(s.node.url, limited, { model: 'mock-gpt', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, 'model_not_allowed');
});

test('the official openai SDK works, streaming and not', async () => {
  const client = new OpenAI({ apiKey: secret, baseURL: `${s.node.url}/v1`, maxRetries: 0, timeout: 10_000 });
  const res = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });
  assert.match(res.choices[0].message.content, /^w1/);
  assert.ok(res.usage.prompt_tokens > 0);
  const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hello' }] });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  assert.equal(text, 'w1 w2 w3 w4 w5 w6 w7 w8');
  const models = await client.models.list();
  assert.ok(models.data.some((m) => m.id === 'gpt-4o-mini'));
});

test('the openai SDK surfaces the contract errors', async () => {
  const bad = new OpenAI({ apiKey: 'sk-' + 'x'.repeat(40), baseURL: `${s.node.url}/v1`, maxRetries: 0 });
  await assert.rejects(bad.chat.completions.create({ model: 'mock-gpt', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e.status === 401 && e.code === 'invalid_api_key');
  const client = new OpenAI({ apiKey: secret, baseURL: `${s.node.url}/v1`, maxRetries: 0 });
  await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e.status === 404 && e.code === 'model_not_found');
});

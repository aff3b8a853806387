// Every client API through every upstream type: the official openai,
// @anthropic-ai/sdk and @google/genai clients against OpenAI-, Anthropic- and
// Gemini-type channels on the mock, streaming and not, with tool calls, and
// the same accounting whatever the pair.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { startStack, addUserKey, waitConfig, waitFor, ok } from '../lib/stack.mjs';

let s;
let secret;
let user;
const MODELS = { openai: 'm-oa', anthropic: 'm-an', gemini: 'm-ge' };
const WORDS = 'w1 w2 w3 w4 w5 w6 w7 w8';

before(async () => {
  s = await startStack();
  const base = `http://127.0.0.1:${s.mock.port}`;
  for (const [type, model, url] of [['openai', MODELS.openai, `${base}/v1`], ['anthropic', MODELS.anthropic, base], ['gemini', MODELS.gemini, base]]) {
    const ch = await ok(s.admin('POST', '/api/channels', { name: `ch-${type}`, type, base_url: url, models: [model] }));
    await ok(s.admin('POST', `/api/channels/${ch.id}/accounts`, { key: `sk-mock-${type}-upstream` }));
  }
  // one micro-unit per token in and out: a request's cost is its total tokens
  await ok(s.admin('PUT', '/api/prices', Object.fromEntries(Object.values(MODELS).map((m) => [m, { input: 1, output: 1 }]))));
  ({ secret, user } = await addUserKey(s, {}, { balance: 10_000_000 }));
  await waitConfig(s);
});
after(async () => { await s?.stop(); });

const openai = () => new OpenAI({ apiKey: secret, baseURL: `${s.node.url}/v1`, maxRetries: 0, timeout: 10_000 });
const anthropic = () => new Anthropic({ apiKey: secret, baseURL: s.node.url, maxRetries: 0, timeout: 10_000 });
const gemini = () => new GoogleGenAI({ apiKey: secret, httpOptions: { baseUrl: s.node.url, timeout: 10_000 } });
const weather = { name: 'get_weather', description: 'the weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };

async function lastLog() {
  return waitFor(async () => {
    const [entry] = await s.redis.client.xrevrange('ah:logs', '+', '-', 'COUNT', 1);
    if (!entry) return null;
    const f = {};
    for (let i = 0; i < entry[1].length; i += 2) f[entry[1][i]] = entry[1][i + 1];
    return f;
  });
}

// cost = total tokens (prices 1/1): the same rule whatever the pair
async function assertCharged(prompt, completion) {
  await waitFor(async () => (await s.redis.client.hget(`ah:user:${user.id}`, 'held')) === '0', { what: 'settlement' });
  const e = await lastLog();
  assert.equal(Number(e.prompt_tokens), prompt, 'prompt tokens as the upstream reported them');
  assert.equal(Number(e.completion_tokens), completion);
  assert.equal(Number(e.cost), prompt + completion);
}

for (const [upstream, model] of Object.entries(MODELS)) {
  test(`openai SDK → ${upstream} upstream: chat, stream, tool call`, async () => {
    const c = openai();
    const r = await c.chat.completions.create({ model, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }] });
    assert.equal(r.choices[0].message.content, WORDS);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.usage.completion_tokens, 8);
    await assertCharged(r.usage.prompt_tokens, 8);
    const stream = await c.chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    let usage;
    for await (const ch of stream) {
      text += ch.choices[0]?.delta?.content ?? '';
      if (ch.usage) usage = ch.usage;
    }
    assert.equal(text.trim(), WORDS);
    assert.equal(usage.completion_tokens, 8);
    await assertCharged(usage.prompt_tokens, 8);
    const t = await c.chat.completions.create({ model, tools: [{ type: 'function', function: weather }], messages: [{ role: 'user', content: 'use a tool please' }] });
    assert.equal(t.choices[0].finish_reason, 'tool_calls');
    assert.equal(t.choices[0].message.tool_calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(t.choices[0].message.tool_calls[0].function.arguments), { city: 'Paris' });
    const ts = await c.chat.completions.create({ model, stream: true, tools: [{ type: 'function', function: weather }], messages: [{ role: 'user', content: 'use a tool please' }] });
    let args = '';
    let name = '';
    for await (const ch of ts) {
      for (const call of ch.choices[0]?.delta?.tool_calls ?? []) {
        name += call.function?.name ?? '';
        args += call.function?.arguments ?? '';
      }
    }
    assert.equal(name, 'get_weather');
    assert.deepEqual(JSON.parse(args), { city: 'Paris' });
  });

  test(`@anthropic-ai/sdk → ${upstream} upstream: message, stream, tool use`, async () => {
    const c = anthropic();
    const r = await c.messages.create({ model, max_tokens: 100, system: 'be brief', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(r.type, 'message');
    assert.equal(r.content[0].text, WORDS);
    assert.equal(r.stop_reason, 'end_turn');
    assert.equal(r.usage.output_tokens, 8);
    await assertCharged(r.usage.input_tokens + (r.usage.cache_read_input_tokens ?? 0), 8);
    const stream = c.messages.stream({ model, max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    stream.on('text', (t) => { text += t; });
    const final = await stream.finalMessage();
    assert.equal(text.trim(), WORDS);
    assert.equal(final.usage.output_tokens, 8);
    const t = await c.messages.create({ model, max_tokens: 100, tools: [{ name: weather.name, description: weather.description, input_schema: weather.parameters }],
      messages: [{ role: 'user', content: 'use a tool please' }] });
    assert.equal(t.stop_reason, 'tool_use');
    const use = t.content.find((b) => b.type === 'tool_use');
    assert.equal(use.name, 'get_weather');
    assert.deepEqual(use.input, { city: 'Paris' });
  });

  test(`@google/genai → ${upstream} upstream: generateContent, stream, function call`, async () => {
    const c = gemini();
    const r = await c.models.generateContent({ model, contents: 'hi', config: { systemInstruction: 'be brief' } });
    assert.equal(r.text, WORDS);
    assert.equal(r.usageMetadata.candidatesTokenCount, 8);
    await assertCharged(r.usageMetadata.promptTokenCount, 8);
    const stream = await c.models.generateContentStream({ model, contents: 'hi' });
    let text = '';
    for await (const ch of stream) text += ch.text ?? '';
    assert.equal(text.trim(), WORDS);
    const t = await c.models.generateContent({ model, contents: 'use a tool please', config: { tools: [{ functionDeclarations: [weather] }] } });
    assert.equal(t.functionCalls[0].name, 'get_weather');
    assert.deepEqual(t.functionCalls[0].args, { city: 'Paris' });
  });
}

test('errors come back in the client\'s own shape', async () => {
  await assert.rejects(anthropic().messages.create({ model: 'no-such', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e.status === 404 && e.error?.type === 'error' && typeof e.error?.error?.message === 'string');
  const bad = new Anthropic({ apiKey: `sk-${'q'.repeat(40)}`, baseURL: s.node.url, maxRetries: 0 });
  await assert.rejects(bad.messages.create({ model: MODELS.openai, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }), (e) => e.status === 401);
  const r = await fetch(`${s.node.url}/v1beta/models/no-such:generateContent?key=${secret}`, { method: 'POST', body: JSON.stringify({ contents: [{ parts: [{ text: 'x' }] }] }) });
  assert.equal(r.status, 404);
  const body = await r.json();
  assert.equal(body.error.code, 404);
  assert.equal(typeof body.error.status, 'string');
  const m = await fetch(`${s.node.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': secret, 'content-type': 'application/json' }, body: '{"model":"m-oa"}' });
  assert.equal(m.status, 400);
  assert.equal((await m.json()).type, 'error');
});

test('Anthropic headers reach Anthropic upstreams; a Gemini key in ?key= is accepted and never logged', async () => {
  const r = await fetch(`${s.node.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': secret, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'tools-2024-04-04', 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODELS.anthropic, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
  });
  assert.equal(r.status, 200);
  const st = await s.mock.stats();
  assert.equal(st.last_headers['anthropic-beta'], 'tools-2024-04-04');
  assert.equal(st.last_headers['x-api-key'], 'sk-mock-anthropic-upstream');
  const g = await fetch(`${s.node.url}/v1beta/models/${MODELS.openai}:generateContent?key=${secret}`, { method: 'POST', body: JSON.stringify({ contents: [{ parts: [{ text: 'x' }] }] }) });
  assert.equal(g.status, 200);
  assert.ok(!s.node.lines.some((l) => l.includes(secret)), 'no log line carries the key');
});

test('embeddings reach OpenAI-type upstreams', async () => {
  const r = await fetch(`${s.node.url}/v1/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODELS.openai, input: 'hello' }) });
  assert.ok([200, 404].includes(r.status), `status ${r.status}`);
});

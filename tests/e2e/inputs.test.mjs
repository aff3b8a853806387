// Bad input on the client API: every case gets the contract's status and
// error code, never a crash or a hang, and the node keeps serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, addChannel, addUserKey, waitConfig, chat, ok } from '../lib/stack.mjs';

let s;
let secret;
let keyObj;

before(async () => {
  s = await startStack();
  await addChannel(s, { name: 'main', models: ['mock-gpt'] });
  ({ secret, key: keyObj } = await addUserKey(s));
  await waitConfig(s);
});
after(async () => { await s?.stop(); });

const good = { model: 'mock-gpt', messages: [{ role: 'user', content: 'hi' }] };

function expectError(r, status, code, param) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.body.error.code, code, r.text);
  assert.equal(typeof r.body.error.message, 'string');
  assert.ok(r.body.error.message.length > 0);
  assert.ok('param' in r.body.error);
  if (param !== undefined) assert.equal(r.body.error.param, param);
  assert.ok(r.headers.get('x-request-id'));
}

test('malformed JSON is a 400 invalid_request', async () => {
  expectError(await chat(s.node.url, secret, '{"model": "mock-gpt", "messages": ['), 400, 'invalid_request');
  expectError(await chat(s.node.url, secret, ''), 400, 'invalid_request');
  expectError(await chat(s.node.url, secret, '[1,2]'), 400, 'invalid_request');
  expectError(await chat(s.node.url, secret, '{"model":"a","model":"b","messages":[]}'), 400, 'invalid_request');
});

test('missing or mistyped fields are 400 with the field named in param', async () => {
  expectError(await chat(s.node.url, secret, { messages: good.messages }), 400, 'invalid_request', 'model');
  expectError(await chat(s.node.url, secret, { model: 'mock-gpt' }), 400, 'invalid_request', 'messages');
  expectError(await chat(s.node.url, secret, { model: 42, messages: good.messages }), 400, 'invalid_request', 'model');
  expectError(await chat(s.node.url, secret, { model: 'mock-gpt', messages: 'hi' }), 400, 'invalid_request', 'messages');
  expectError(await chat(s.node.url, secret, { model: 'mock-gpt', messages: [] }), 400, 'invalid_request', 'messages');
  expectError(await chat(s.node.url, secret, { ...good, stream: 'yes' }), 400, 'invalid_request', 'stream');
  expectError(await chat(s.node.url, secret, { ...good, max_tokens: -1 }), 400, 'invalid_request', 'max_tokens');
  expectError(await chat(s.node.url, secret, { ...good, max_tokens: 1.5 }), 400, 'invalid_request', 'max_tokens');
  expectError(await chat(s.node.url, secret, { ...good, temperature: 7 }), 400, 'invalid_request', 'temperature');
  expectError(await chat(s.node.url, secret, { ...good, messages: [{ content: 'no role' }] }), 400, 'invalid_request', 'messages');
});

test('a body over the limit is the contract\'s JSON 413, not h2o\'s own', async () => {
  const big = JSON.stringify({ ...good, messages: [{ role: 'user', content: 'x'.repeat(9 * 1024 * 1024) }] });
  const r = await chat(s.node.url, secret, big);
  expectError(r, 413, 'request_too_large');
  assert.equal(r.body.error.type, 'invalid_request_error');
  assert.equal((await chat(s.node.url, secret, good)).status, 200, 'the node still serves');
});

test('an unknown model is 404 model_not_found', async () => {
  const r = await chat(s.node.url, secret, { ...good, model: 'gpt-99' });
  expectError(r, 404, 'model_not_found');
  assert.match(r.body.error.message, /gpt-99/);
});

test('missing, malformed, unknown and disabled keys are 401 invalid_api_key', async () => {
  const noKey = await fetch(`${s.node.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(good) });
  assert.equal(noKey.status, 401);
  assert.equal((await noKey.json()).error.type, 'authentication_error');
  expectError(await chat(s.node.url, 'not-a-key', good), 401, 'invalid_api_key');
  expectError(await chat(s.node.url, `sk-${'A'.repeat(48)}`, good), 401, 'invalid_api_key');
  const { secret: other, key } = await addUserKey(s);
  assert.equal((await chat(s.node.url, other, good)).status, 200);
  await ok(s.admin('PUT', `/api/keys/${key.id}`, { enabled: false }));
  expectError(await chat(s.node.url, other, good), 401, 'invalid_api_key');
  await ok(s.admin('DELETE', `/api/keys/${key.id}`));
  expectError(await chat(s.node.url, other, good), 401, 'invalid_api_key');
});

test('x-api-key authenticates like a Bearer token', async () => {
  const r = await fetch(`${s.node.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'x-api-key': secret, 'content-type': 'application/json' }, body: JSON.stringify(good),
  });
  assert.equal(r.status, 200);
});

test('a disabled user is 403 user_disabled', async () => {
  const { secret: k, user } = await addUserKey(s);
  await ok(s.admin('PUT', `/api/users/${user.id}`, { enabled: false }));
  expectError(await chat(s.node.url, k, good), 403, 'user_disabled');
});

test('unknown paths are 404 and wrong methods 405, in JSON', async () => {
  const r = await fetch(`${s.node.url}/v1/nothing-here`);
  assert.equal(r.status, 404);
  assert.equal((await r.json()).error.code, 'not_found');
  const m = await fetch(`${s.node.url}/v1/chat/completions`, { method: 'GET' });
  assert.equal(m.status, 405);
  assert.ok(m.headers.get('x-request-id'));
});

test('the admin API refuses requests without the admin key', async () => {
  const r = await fetch(`${s.node.url}/api/channels`);
  assert.equal(r.status, 401);
  const w = await fetch(`${s.node.url}/api/channels`, { headers: { 'x-admin-key': 'wrong' } });
  assert.equal(w.status, 401);
  const x = await fetch(`${s.node.url}/api/channels`, { headers: { 'x-admin-key': s.adminKey } });
  assert.equal(x.status, 200);
});

test('after all of that the node is healthy and still relays', async () => {
  assert.equal((await fetch(`${s.node.url}/healthz`)).status, 200);
  assert.equal((await fetch(`${s.node.url}/readyz`)).status, 200);
  assert.equal((await chat(s.node.url, secret, { ...good, stream: true })).status, 200);
  assert.equal(keyObj.user_id.length > 0, true);
});

test('admin input hygiene: padded provider keys and control characters in names are refused', async () => {
  const ch = await ok(s.admin('POST', '/api/channels', { name: 'hygiene', type: 'openai', base_url: s.mock.url, models: ['x'] }));
  for (const key of ['   ', ' sk-padded', 'sk-padded\t']) {
    const r = await s.admin('POST', `/api/channels/${ch.id}/accounts`, { key });
    assert.equal(r.status, 400, JSON.stringify(key));
  }
  assert.equal((await s.admin('POST', '/api/users', { name: 'two\nlines' })).status, 400);
  assert.equal((await s.admin('POST', '/api/channels', { name: 'bell\u0007', type: 'openai', base_url: s.mock.url, models: ['x'] })).status, 400);
  const acc = await ok(s.admin('POST', `/api/channels/${ch.id}/accounts`, { key: 'sk-fine-key-000000001' }));
  for (const f of ['requests', 'errors', 'latency_ms_avg', 'disabled_reason', 'status', 'cooldown_until']) assert.ok(f in acc, f);
});

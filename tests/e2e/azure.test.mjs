// Azure OpenAI channels: deployment-based URLs, the api-key header and
// api-version, against a small stand-in Azure endpoint that checks them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startStack, addUserKey, waitConfig, chat, ok } from '../lib/stack.mjs';

let s;
let azure;
let seen = [];
let secret;

before(async () => {
  azure = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      seen.push({ url: req.url, key: req.headers['api-key'], auth: req.headers.authorization, body: JSON.parse(body) });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'az-1', object: 'chat.completion', created: 1, model: 'gpt-4o',
        choices: [{ index: 0, message: { role: 'assistant', content: 'from azure' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } }));
    });
  });
  await new Promise((r) => azure.listen(0, '127.0.0.1', r));
  s = await startStack();
  const ch = await ok(s.admin('POST', '/api/channels', { name: 'az', type: 'azure', base_url: `http://127.0.0.1:${azure.address().port}`,
    models: ['gpt-4o'], api_version: '2024-10-21', deployments: { 'gpt-4o': 'my-gpt4o' } }));
  await ok(s.admin('POST', `/api/channels/${ch.id}/accounts`, { key: 'azure-secret-key-0001' }));
  ({ secret } = await addUserKey(s));
  await waitConfig(s);
});
after(async () => {
  await s?.stop();
  azure?.close();
});

test('a request to an Azure channel uses the deployment URL, api-version and api-key', async () => {
  const r = await chat(s.node.url, secret, { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.choices[0].message.content, 'from azure');
  assert.equal(seen.length, 1);
  assert.equal(seen[0].url, '/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21');
  assert.equal(seen[0].key, 'azure-secret-key-0001');
  assert.equal(seen[0].auth, undefined, 'no Bearer header to Azure');
  assert.equal(seen[0].body.model, undefined, 'Azure takes the model from the deployment');
});

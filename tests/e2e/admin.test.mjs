// The admin API against its contract (docs: API.md "Admin API", "Shapes"),
// through two real nodes sharing one redis-server and the mock provider:
// authentication, every route's happy path and response shape, partial PUT,
// pagination, 400/404/409, secrets (never returned, never logged, sealed or
// hashed at rest), key revocation/disable/expiry and user disable as seen by
// /v1/chat/completions, and the live state of provider accounts.
//
// Only the channel created in before() serves the model the chat checks use
// (`mock-gpt`); every other channel here serves a model nobody asks for, so
// odd channels (proxies, disabled accounts) never affect those checks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { startStack, addUserKey, waitConfig, waitFor, chat, ok } from '../lib/stack.mjs';

let s;
let main; // {channel, account, providerKey}

const CHAT = { model: 'mock-gpt', messages: [{ role: 'user', content: 'hi' }] };
const IDLE_MODEL = 'idle-model-nobody-asks-for';
const ERR = {
  400: ['invalid_request_error', 'invalid_request'],
  404: ['invalid_request_error', 'not_found'],
  409: ['invalid_request_error', 'conflict'],
};
const USER_FIELDS = ['id', 'name', 'balance', 'rpm', 'tpm', 'max_in_flight', 'enabled', 'created_at'];
const KEY_FIELDS = ['id', 'user_id', 'name', 'masked', 'rpm', 'tpm', 'max_in_flight', 'models', 'spend_limit_monthly', 'enabled',
  'expires_at', 'created_at', 'last_used_at'];
const ACCOUNT_FIELDS = ['id', 'channel_id', 'name', 'masked', 'weight', 'enabled', 'rpm', 'tpm', 'status', 'cooldown_until',
  'disabled_reason', 'requests', 'errors', 'latency_ms_avg'];
// fields an account listing may carry beyond the contract's (none of them secret)
const ACCOUNT_EXTRA_OK = ['created_at'];

// Every secret this file hands to the node, checked against the node logs at the end.
const secrets = new Set();

const uniq = (p) => `${p}-${randomBytes(5).toString('hex')}`;
const nowS = () => Math.floor(Date.now() / 1000);

/** A request with exactly the headers given (no admin key unless passed). */
async function raw(method, path, { headers = {}, body, url = s.node.url } = {}) {
  const r = await fetch(url + path, { method, headers, body });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: r.status, body: json, text, headers: r.headers };
}

/** Asserts the contract's error shape with this status and code. */
function assertError(r, status, code = ERR[status]?.[1], type = ERR[status]?.[0]) {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status}: ${JSON.stringify(r.body)}`);
  assert.equal(typeof r.body, 'object', `error body is JSON: ${r.body}`);
  const e = r.body.error;
  assert.ok(e && typeof e === 'object', `error object in ${JSON.stringify(r.body)}`);
  assert.deepEqual(Object.keys(e).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(typeof e.message, 'string');
  assert.ok(e.message.length > 0);
  if (type) assert.equal(e.type, type);
  if (code) assert.equal(e.code, code);
}

async function expectError(promise, status, code) {
  const r = await promise;
  assertError(r, status, code);
  return r;
}

function assertNear(t, what, slack = 300) {
  assert.ok(Number.isInteger(t), `${what} is an integer: ${t}`);
  assert.ok(Math.abs(t - nowS()) <= slack, `${what} ${t} is Unix seconds near now (${nowS()})`);
}

function assertUser(u) {
  assert.deepEqual(Object.keys(u).sort(), [...USER_FIELDS].sort(), `user shape: ${JSON.stringify(u)}`);
  assert.equal(typeof u.id, 'string');
  assert.ok(u.id.length > 0);
  assert.equal(typeof u.name, 'string');
  for (const f of ['balance', 'rpm', 'tpm', 'max_in_flight']) assert.ok(Number.isInteger(u[f]), `user.${f} integer`);
  assert.equal(typeof u.enabled, 'boolean');
  assertNear(u.created_at, 'user.created_at');
}

function assertKey(k, { created = false } = {}) {
  const want = created ? [...KEY_FIELDS, 'key'] : KEY_FIELDS;
  assert.deepEqual(Object.keys(k).sort(), [...want].sort(), `key shape: ${JSON.stringify(k)}`);
  for (const f of ['id', 'user_id', 'name', 'masked']) assert.equal(typeof k[f], 'string', `key.${f} string`);
  for (const f of ['rpm', 'tpm', 'max_in_flight', 'spend_limit_monthly']) assert.ok(Number.isInteger(k[f]), `key.${f} integer`);
  assert.ok(Array.isArray(k.models) && k.models.every((m) => typeof m === 'string'), 'key.models is an array of strings');
  assert.equal(typeof k.enabled, 'boolean');
  assert.ok(k.expires_at === null || Number.isInteger(k.expires_at), 'key.expires_at null or integer');
  assert.ok(k.last_used_at === null || Number.isInteger(k.last_used_at), 'key.last_used_at null or integer');
  assertNear(k.created_at, 'key.created_at');
  if (created) {
    assert.match(k.key, /^sk-[A-Za-z0-9_-]{48}$/);
    assert.equal(k.masked, `sk-...${k.key.slice(-4)}`);
  }
}

function assertAccount(a) {
  for (const f of ACCOUNT_FIELDS) assert.ok(f in a, `account.${f} present in ${JSON.stringify(a)}`);
  for (const f of Object.keys(a)) assert.ok(ACCOUNT_FIELDS.includes(f) || ACCOUNT_EXTRA_OK.includes(f), `unexpected account field ${f}`);
  for (const f of ['id', 'channel_id', 'name', 'masked']) assert.equal(typeof a[f], 'string', `account.${f} string`);
  for (const f of ['weight', 'rpm', 'tpm', 'requests', 'errors']) assert.ok(Number.isInteger(a[f]), `account.${f} integer`);
  assert.equal(typeof a.latency_ms_avg, 'number');
  assert.equal(typeof a.enabled, 'boolean');
  assert.ok(['active', 'cooling', 'disabled'].includes(a.status), `account.status ${a.status}`);
  assert.ok(a.cooldown_until === null || Number.isInteger(a.cooldown_until));
  assert.ok(a.disabled_reason === null || typeof a.disabled_reason === 'string');
}

function assertListShape(body) {
  assert.deepEqual(Object.keys(body).sort(), ['data', 'next']);
  assert.ok(Array.isArray(body.data));
  assert.ok(body.next === null || (typeof body.next === 'string' && body.next.length > 0));
}

/** Walks a list with ?limit=; asserts page sizes and cursors; returns {items, pages}. */
async function walk(path, limit) {
  const items = [];
  let pages = 0;
  let cursor = null;
  for (;;) {
    const sep = path.includes('?') ? '&' : '?';
    const body = await ok(s.admin('GET', `${path}${sep}limit=${limit}${cursor ? `&before=${encodeURIComponent(cursor)}` : ''}`), 200);
    assertListShape(body);
    pages++;
    assert.ok(body.data.length <= limit, `page of ${body.data.length} > limit ${limit}`);
    items.push(...body.data);
    if (body.next === null) break;
    assert.ok(body.data.length === limit, 'a page with a next cursor is full');
    assert.notEqual(body.next, cursor, 'the cursor moves');
    cursor = body.next;
    assert.ok(pages < 500, 'pagination terminates');
  }
  return { items, pages };
}

/** Pagination over a list: no item twice, none missing, newest first, next null at the end. */
async function checkPagination(path, createdIds) {
  const all = await ok(s.admin('GET', `${path}${path.includes('?') ? '&' : '?'}limit=1000`), 200);
  assertListShape(all);
  assert.equal(all.next, null);
  const { items, pages } = await walk(path, 2);
  const ids = items.map((x) => x.id);
  assert.equal(new Set(ids).size, ids.length, `no item twice: ${ids}`);
  assert.deepEqual(ids, all.data.map((x) => x.id), 'the pages together are the whole list, in order');
  assert.equal(pages, Math.max(1, Math.ceil(ids.length / 2)));
  for (const id of createdIds) assert.ok(ids.includes(id), `created ${id} is listed`);
  // newest first: the items created here appear in reverse creation order
  const pos = createdIds.map((id) => ids.indexOf(id));
  for (let i = 1; i < pos.length; i++) assert.ok(pos[i] < pos[i - 1], `newest first: ${createdIds} at ${pos}`);
  return ids;
}

/**
 * Lets the clock move on by 2 ms (a bounded poll), so that records created
 * one after the other have distinct creation times and "newest first" is
 * well defined.
 */
async function tick() {
  const t = Date.now();
  await waitFor(() => Date.now() >= t + 2, { intervalMs: 1, timeoutMs: 1000, what: 'the clock to move' });
}

const postChannel = async (body) => { await tick(); return s.admin('POST', '/api/channels', body); };
function channelBody(extra = {}) {
  return { name: uniq('ch'), type: 'openai-compatible', base_url: 'https://api.example.com/v1', models: [IDLE_MODEL], ...extra };
}
const mkChannel = async (extra = {}) => ok(postChannel(channelBody(extra)), 201);
const mkAccount = async (channelId, spec) => (await tick(), ok(s.admin('POST', `/api/channels/${channelId}/accounts`, spec), 201));
const listAccounts = async (channelId) => (await ok(s.admin('GET', `/api/channels/${channelId}/accounts?limit=1000`), 200)).data;
const findAccount = async (channelId, id) => (await listAccounts(channelId)).find((a) => a.id === id);
const mkUser = async (extra = {}) => (await tick(), ok(s.admin('POST', '/api/users', { name: uniq('u'), ...extra }), 201));
const mkKey = async (userId, extra = {}) => {
  await tick();
  const k = await ok(s.admin('POST', `/api/users/${userId}/keys`, { name: 'k', ...extra }), 201);
  secrets.add(k.key);
  return k;
};
const listKeys = async (userId) => (await ok(s.admin('GET', `/api/users/${userId}/keys?limit=1000`), 200)).data;

/** Every key name and every stored value in Redis, as one string. */
async function redisDump() {
  const c = s.redis.client;
  const out = [];
  let cursor = '0';
  do {
    const [next, keys] = await c.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) {
      out.push(k);
      const t = await c.type(k);
      if (t === 'string') out.push(await c.get(k));
      else if (t === 'hash') out.push(...Object.entries(await c.hgetall(k)).flat());
      else if (t === 'set') out.push(...await c.smembers(k));
      else if (t === 'zset') out.push(...await c.zrange(k, 0, -1));
      else if (t === 'list') out.push(...await c.lrange(k, 0, -1));
      else if (t === 'stream') out.push(JSON.stringify(await c.xrange(k, '-', '+')));
    }
  } while (cursor !== '0');
  return out.join('\n');
}

const allLogLines = () => s.nodes.flatMap((n) => n.lines).join('\n');

async function chatStatus(secret, node = s.node) {
  return chat(node.url, secret, CHAT);
}

before(async () => {
  s = await startStack({ nodes: 2 });
  const providerKey = `sk-prov-${randomBytes(16).toString('hex')}`;
  secrets.add(providerKey);
  const channel = await ok(postChannel({ name: 'main', type: 'openai-compatible', base_url: s.mock.url, models: ['mock-gpt'] }), 201);
  const account = await mkAccount(channel.id, { key: providerKey });
  main = { channel, account, providerKey };
  await waitConfig(s);
});
after(async () => { await s?.stop(); });

// ---------------------------------------------------------------- auth

const ADMIN_ROUTES = [
  ['GET', '/api/channels'], ['POST', '/api/channels'],
  ['GET', '/api/channels/x'], ['PUT', '/api/channels/x'], ['DELETE', '/api/channels/x'],
  ['GET', '/api/channels/x/accounts'], ['POST', '/api/channels/x/accounts'], ['POST', '/api/channels/x/accounts/import'],
  ['PUT', '/api/accounts/x'], ['DELETE', '/api/accounts/x'], ['POST', '/api/accounts/x/reset'],
  ['GET', '/api/model-map'], ['PUT', '/api/model-map'], ['GET', '/api/settings'], ['PUT', '/api/settings'],
  ['GET', '/api/users'], ['POST', '/api/users'], ['GET', '/api/users/x'], ['PUT', '/api/users/x'], ['DELETE', '/api/users/x'],
  ['GET', '/api/users/x/keys'], ['POST', '/api/users/x/keys'], ['PUT', '/api/keys/x'], ['DELETE', '/api/keys/x'],
];

test('every admin route answers 401 unauthorized without an admin key, or with a wrong one', async () => {
  const { secret: userKey } = await addUserKey(s);
  secrets.add(userKey);
  const wrong = [
    {},
    { authorization: 'Bearer ' },
    { authorization: `Bearer ${s.adminKey}x` },
    { authorization: `Bearer ${s.adminKey.slice(0, -1)}` },
    { authorization: `Basic ${Buffer.from(`admin:${s.adminKey}`).toString('base64')}` },
    { authorization: s.adminKey },
    { authorization: `Bearer ${userKey}` },
    { 'x-admin-key': 'nope' },
    { 'x-admin-key': `${s.adminKey}0` },
    { 'x-api-key': s.adminKey },
  ];
  for (const [method, path] of ADMIN_ROUTES) {
    for (const headers of wrong) {
      const body = method === 'GET' || method === 'DELETE' ? undefined : '{}';
      const r = await raw(method, path, { headers: { 'content-type': 'application/json', ...headers }, body });
      assert.equal(r.status, 401, `${method} ${path} with ${JSON.stringify(headers)}: ${r.text}`);
      assertError(r, 401, 'unauthorized', 'authentication_error');
    }
  }
});

test('an unauthorized write changes nothing', async () => {
  const name = uniq('sneaky');
  const r = await raw('POST', '/api/users', { headers: { 'content-type': 'application/json', authorization: 'Bearer wrong' }, body: JSON.stringify({ name }) });
  assertError(r, 401, 'unauthorized', 'authentication_error');
  const users = await ok(s.admin('GET', '/api/users?limit=1000'), 200);
  assert.ok(!users.data.some((u) => u.name === name));
  const c = await raw('POST', '/api/channels', { headers: { 'content-type': 'application/json' }, body: JSON.stringify(channelBody({ name })) });
  assertError(c, 401, 'unauthorized', 'authentication_error');
  const chs = await ok(s.admin('GET', '/api/channels?limit=1000'), 200);
  assert.ok(!chs.data.some((ch) => ch.name === name));
});

test('the admin key is accepted as Authorization: Bearer and as X-Admin-Key', async () => {
  const a = await raw('GET', '/api/settings', { headers: { authorization: `Bearer ${s.adminKey}` } });
  assert.equal(a.status, 200, a.text);
  assert.match(a.headers.get('content-type'), /^application\/json/);
  const b = await raw('GET', '/api/settings', { headers: { 'x-admin-key': s.adminKey } });
  assert.equal(b.status, 200, b.text);
  assert.deepEqual(a.body, b.body);
  // and a write works with X-Admin-Key alone
  const name = uniq('xak');
  const c = await raw('POST', '/api/users', { headers: { 'x-admin-key': s.adminKey, 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
  assert.equal(c.status, 201, c.text);
  assert.equal(c.body.name, name);
});

test('a node with an empty AIHUB_ADMIN_KEY refuses every admin call (admin-key access is off)', async () => {
  const n = await s.addNode({ AIHUB_ADMIN_KEY: '' });
  try {
    for (const headers of [{}, { authorization: 'Bearer ' }, { 'x-admin-key': '' }, { authorization: `Bearer ${s.adminKey}` }]) {
      const r = await raw('GET', '/api/channels', { headers, url: n.url });
      assertError(r, 401, 'unauthorized', 'authentication_error');
    }
  } finally {
    await n.stop();
    s.nodes.splice(s.nodes.indexOf(n), 1);
  }
});

// ---------------------------------------------------------------- channels

test('POST /api/channels creates a channel with the documented defaults; GET returns it', async () => {
  const t0 = nowS();
  const body = channelBody();
  const ch = await ok(postChannel(body), 201);
  assert.equal(typeof ch.id, 'string');
  assert.ok(ch.id.length > 0);
  assert.equal(ch.name, body.name);
  assert.equal(ch.type, 'openai-compatible');
  assert.equal(ch.base_url, body.base_url);
  assert.deepEqual(ch.models, [IDLE_MODEL]);
  assert.equal(ch.weight, 1);
  assert.equal(ch.priority, 0);
  assert.equal(ch.enabled, true);
  assert.ok(ch.created_at >= t0 - 5 && ch.created_at <= nowS() + 5);
  const got = await ok(s.admin('GET', `/api/channels/${ch.id}`), 200);
  assert.deepEqual(got, ch);
  const list = await ok(s.admin('GET', '/api/channels?limit=1000'), 200);
  assertListShape(list);
  assert.deepEqual(list.data.find((c) => c.id === ch.id), ch);
});

test('POST /api/channels stores every documented field', async () => {
  const body = channelBody({
    type: 'azure',
    base_url: 'https://myres.openai.azure.com',
    models: ['gpt-4o', 'gpt-4o-mini'],
    weight: 7,
    priority: -3,
    enabled: false,
    timeout_ms: 5000,
    stream_idle_timeout_ms: 9000,
    cooldowns: { 429: 10, '5xx': 20, timeout: 30 },
    params: { set: { temperature: 0.5 }, remove: ['user'] },
    status_map: { 400: 500 },
    api_version: '2024-06-01',
    deployments: { 'gpt-4o': 'my-gpt4o-deployment' },
  });
  const ch = await ok(postChannel(body), 201);
  for (const [k, v] of Object.entries(body)) assert.deepEqual(ch[k], v, `field ${k}`);
  assert.deepEqual(await ok(s.admin('GET', `/api/channels/${ch.id}`), 200), ch);
  for (const type of ['openai', 'anthropic', 'gemini']) {
    const c = await ok(postChannel(channelBody({ type })), 201);
    assert.equal(c.type, type);
  }
});

test('PUT /api/channels/{id} is partial: only the given fields change', async () => {
  const headerValue = `hv-${randomBytes(12).toString('hex')}`;
  const proxyPass = `pp${randomBytes(10).toString('hex')}`;
  secrets.add(headerValue); secrets.add(proxyPass);
  const ch = await mkChannel({ weight: 5, priority: 2, headers: { 'X-Custom': headerValue }, proxy: `http://bob:${proxyPass}@127.0.0.1:3128` });
  const put = await ok(s.admin('PUT', `/api/channels/${ch.id}`, { priority: 9 }), 200);
  assert.deepEqual(put, { ...ch, priority: 9 });
  assert.deepEqual(await ok(s.admin('GET', `/api/channels/${ch.id}`), 200), put);

  const newName = uniq('renamed');
  const put2 = await ok(s.admin('PUT', `/api/channels/${ch.id}`, { name: newName, models: ['m1', 'm2'], enabled: false }), 200);
  assert.deepEqual(put2, { ...put, name: newName, models: ['m1', 'm2'], enabled: false });

  // the old name is free again after a rename
  await ok(postChannel(channelBody({ name: ch.name })), 201);

  // headers: null and proxy: "" remove them; the rest stays
  const put3 = await ok(s.admin('PUT', `/api/channels/${ch.id}`, { headers: null, proxy: '' }), 200);
  assert.equal(put3.headers ?? null, null);
  assert.equal(put3.proxy ?? null, null);
  assert.equal(put3.weight, 5);
  assert.equal(put3.priority, 9);
  assert.equal(put3.name, newName);
  assert.deepEqual(await ok(s.admin('GET', `/api/channels/${ch.id}`), 200), put3);

  // an empty PUT changes nothing
  assert.deepEqual(await ok(s.admin('PUT', `/api/channels/${ch.id}`, {}), 200), put3);
});

test('channel headers and proxy credentials are returned masked, never in clear', async () => {
  const headerValue = `secret-${randomBytes(12).toString('hex')}1234`;
  const proxyPass = `pw${randomBytes(10).toString('hex')}`;
  secrets.add(headerValue); secrets.add(proxyPass);
  const ch = await mkChannel({ headers: { 'X-Api-Token': headerValue, 'X-Short': 'abc' }, proxy: `socks5://alice:${proxyPass}@10.0.0.1:1080` });
  const check = (c) => {
    assert.equal(c.headers['X-Api-Token'], 'secret-...1234');
    assert.ok(!c.headers['X-Short'].includes('abc'), 'a short header value is fully hidden');
    assert.ok(!c.proxy.includes(proxyPass));
    assert.match(c.proxy, /^socks5:\/\/alice:\*+@10\.0\.0\.1:1080$/);
    const text = JSON.stringify(c);
    assert.ok(!text.includes(headerValue) && !text.includes(proxyPass));
    assert.ok(!('headers_enc' in c) && !('proxy_enc' in c));
  };
  check(ch);
  check(await ok(s.admin('GET', `/api/channels/${ch.id}`), 200));
  check((await ok(s.admin('GET', '/api/channels?limit=1000'), 200)).data.find((c) => c.id === ch.id));
  check(await ok(s.admin('PUT', `/api/channels/${ch.id}`, { weight: 2 }), 200));
  // a proxy without credentials is shown as is
  const plain = await ok(s.admin('PUT', `/api/channels/${ch.id}`, { proxy: 'http://proxy.internal:3128' }), 200);
  assert.equal(plain.proxy, 'http://proxy.internal:3128');
});

test('DELETE /api/channels/{id} removes the channel and cascades to its accounts', async () => {
  const ch = await mkChannel();
  const other = await mkChannel();
  const keys = [uniq('sk-del-a'), uniq('sk-del-b'), uniq('sk-del-c')];
  keys.forEach((k) => secrets.add(k));
  const accts = [];
  for (const key of keys) accts.push(await mkAccount(ch.id, { key }));
  const kept = await mkAccount(other.id, { key: keys[0] });
  await s.redis.client.hset(`ah:acct:${accts[0].id}`, 'requests', '5', 'cooldown_until', String(Date.now() + 60_000));

  const del = await ok(s.admin('DELETE', `/api/channels/${ch.id}`), 200);
  assert.equal(del.id, ch.id);
  assert.equal(del.deleted, true);
  assert.equal(del.accounts_deleted, 3);

  await expectError(s.admin('GET', `/api/channels/${ch.id}`), 404);
  await expectError(s.admin('GET', `/api/channels/${ch.id}/accounts`), 404);
  await expectError(s.admin('DELETE', `/api/channels/${ch.id}`), 404);
  for (const a of accts) {
    await expectError(s.admin('PUT', `/api/accounts/${a.id}`, { weight: 2 }), 404);
    await expectError(s.admin('POST', `/api/accounts/${a.id}/reset`), 404);
    await expectError(s.admin('DELETE', `/api/accounts/${a.id}`), 404);
    assert.equal(await s.redis.client.hget('ah:cfg:accounts', a.id), null);
  }
  assert.equal(await s.redis.client.exists(`ah:acct:${accts[0].id}`), 0, 'runtime state of a deleted account is gone');
  const list = await ok(s.admin('GET', '/api/channels?limit=1000'), 200);
  assert.ok(!list.data.some((c) => c.id === ch.id));
  // the other channel's account with the same key is untouched
  assert.deepEqual((await listAccounts(other.id)).map((a) => a.id), [kept.id]);
  // the name is free again, and so are the account keys in a new channel of that name
  const again = await ok(postChannel(channelBody({ name: ch.name })), 201);
  await mkAccount(again.id, { key: keys[1] });
});

test('channel list pagination with limit=2: every channel once, newest first, next null at the end', async () => {
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await mkChannel()).id);
  await checkPagination('/api/channels', ids);
});

test('channels: 400 for malformed or invalid bodies, and nothing is created', async () => {
  const name = uniq('bad');
  const good = channelBody({ name });
  const bad = [
    '{"name": "x", ',
    '',
    '[]',
    '"a string"',
    '42',
    'null',
    JSON.stringify({ ...good, colour: 'blue' }),
    JSON.stringify({ ...good, name: undefined }),
    JSON.stringify({ ...good, type: undefined }),
    JSON.stringify({ ...good, base_url: undefined }),
    JSON.stringify({ ...good, models: undefined }),
    JSON.stringify({ ...good, name: '' }),
    JSON.stringify({ ...good, name: 5 }),
    JSON.stringify({ ...good, type: 'openai-ish' }),
    JSON.stringify({ ...good, weight: -1 }),
    JSON.stringify({ ...good, weight: '1' }),
    JSON.stringify({ ...good, weight: 1.5 }),
    JSON.stringify({ ...good, priority: 'high' }),
    JSON.stringify({ ...good, enabled: 'yes' }),
    JSON.stringify({ ...good, timeout_ms: -5 }),
    JSON.stringify({ ...good, base_url: 'ftp://api.example.com/v1' }),
    JSON.stringify({ ...good, base_url: 'api.example.com/v1' }),
    JSON.stringify({ ...good, base_url: 'javascript:alert(1)' }),
    JSON.stringify({ ...good, base_url: '' }),
    JSON.stringify({ ...good, models: 'mock-gpt' }),
    JSON.stringify({ ...good, models: [] }),
    JSON.stringify({ ...good, models: [1, 2] }),
    JSON.stringify({ ...good, models: ['ok', null] }),
    JSON.stringify({ ...good, models: [''] }),
    JSON.stringify({ ...good, headers: { 'X-A': 'one\r\nX-Injected: yes' } }),
    JSON.stringify({ ...good, headers: { 'X-A': 'line\n' } }),
    JSON.stringify({ ...good, headers: { 'X-A': 'cr\r' } }),
    JSON.stringify({ ...good, headers: { 'Bad Name': 'v' } }),
    JSON.stringify({ ...good, headers: { 'X-A:': 'v' } }),
    JSON.stringify({ ...good, headers: { 'X-A': 5 } }),
    JSON.stringify({ ...good, headers: ['X-A: v'] }),
    JSON.stringify({ ...good, proxy: 'ftp://proxy:21' }),
    JSON.stringify({ ...good, cooldowns: { '4xx': 5 } }),
    JSON.stringify({ ...good, cooldowns: { 429: -1 } }),
    JSON.stringify({ ...good, status_map: { 400: 'x' } }),
    JSON.stringify({ ...good, params: { set: [] } }),
    '{"name":"a","name":"b","type":"openai","base_url":"https://x","models":["m"]}',
  ];
  for (const body of bad) {
    const r = await s.admin('POST', '/api/channels', body);
    assert.equal(r.status, 400, `POST /api/channels ${body}: ${JSON.stringify(r.body)}`);
    assertError(r, 400);
  }
  const list = await ok(s.admin('GET', '/api/channels?limit=1000'), 200);
  assert.ok(!list.data.some((c) => c.name === name || c.name === 'a'), 'no invalid channel was stored');
  // the same body without the mistakes is fine
  await ok(postChannel(good), 201);
});

test('channels: PUT with an invalid body is 400 and changes nothing', async () => {
  const ch = await mkChannel({ weight: 3 });
  for (const body of [
    '{oops', '[]', { colour: 'red' }, { weight: -1 }, { weight: 4, models: 'x' }, { base_url: 'file:///etc/passwd' },
    { headers: { 'X-A': 'a\nb' } }, { name: null }, { models: null }, { enabled: 1 }, { id: 'ch_other' },
  ]) {
    const r = await s.admin('PUT', `/api/channels/${ch.id}`, body);
    assert.equal(r.status, 400, `PUT ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    assertError(r, 400);
  }
  assert.deepEqual(await ok(s.admin('GET', `/api/channels/${ch.id}`), 200), ch);
});

test('channels: 409 for a duplicate name, on create and on rename', async () => {
  const a = await mkChannel();
  const b = await mkChannel();
  await expectError(postChannel(channelBody({ name: a.name })), 409);
  await expectError(s.admin('PUT', `/api/channels/${b.id}`, { name: a.name }), 409);
  assert.deepEqual(await ok(s.admin('GET', `/api/channels/${b.id}`), 200), b);
  // keeping one's own name is no conflict
  await ok(s.admin('PUT', `/api/channels/${a.id}`, { name: a.name, weight: 2 }), 200);
});

test('channels: 404 for unknown ids', async () => {
  for (const id of ['ch_doesnotexist', 'nope']) {
    await expectError(s.admin('GET', `/api/channels/${id}`), 404);
    await expectError(s.admin('PUT', `/api/channels/${id}`, { weight: 2 }), 404);
    await expectError(s.admin('DELETE', `/api/channels/${id}`), 404);
    await expectError(s.admin('GET', `/api/channels/${id}/accounts`), 404);
    await expectError(s.admin('POST', `/api/channels/${id}/accounts`, { key: 'sk-orphan-0000000001' }), 404);
    await expectError(s.admin('POST', `/api/channels/${id}/accounts/import`, 'sk-orphan-0000000002\n', { 'content-type': 'text/plain' }), 404);
  }
  // a refused PUT on an unknown channel does not claim the name
  const ghost = uniq('ghost');
  await expectError(s.admin('PUT', '/api/channels/ch_doesnotexist', { name: ghost }), 404);
  await mkChannel({ name: ghost });
  const stored = (await s.redis.client.hvals('ah:cfg:accounts')).map((v) => JSON.parse(v).channel_id);
  assert.ok(!stored.includes('ch_doesnotexist') && !stored.includes('nope'), 'no orphan account was stored');
});

test('lists: limit outside 1..1000 or not a number is 400', async () => {
  const ch = await mkChannel();
  const u = await mkUser();
  for (const path of ['/api/channels', `/api/channels/${ch.id}/accounts`, '/api/users', `/api/users/${u.id}/keys`]) {
    for (const limit of ['0', '1001', '-1', 'abc', '']) {
      const r = await s.admin('GET', `${path}?limit=${limit}`);
      assert.equal(r.status, 400, `${path}?limit=${limit}: ${JSON.stringify(r.body)}`);
      assertError(r, 400);
    }
    assertListShape(await ok(s.admin('GET', `${path}?limit=1000`), 200));
    assertListShape(await ok(s.admin('GET', `${path}?limit=1`), 200));
  }
});

// ---------------------------------------------------------------- accounts

test('accounts: POST creates, the listing has the documented shape and never the key', async () => {
  const ch = await mkChannel();
  const key = `sk-live-${randomBytes(16).toString('hex')}wxyz`;
  secrets.add(key);
  const a = await mkAccount(ch.id, { key, name: 'primary', weight: 4, rpm: 60, tpm: 10000 });
  assert.equal(typeof a.id, 'string');
  assert.equal(a.channel_id, ch.id);
  assert.equal(a.name, 'primary');
  assert.equal(a.masked, 'sk-...wxyz');
  assert.equal(a.weight, 4);
  assert.equal(a.rpm, 60);
  assert.equal(a.tpm, 10000);
  assert.equal(a.enabled, true);
  assert.ok(!JSON.stringify(a).includes(key));
  assert.ok(!('key' in a) && !('key_enc' in a) && !('key_hmac' in a));

  const otherKey = `sk-other-${randomBytes(16).toString('hex')}`;
  secrets.add(otherKey);
  const b = await mkAccount(ch.id, { key: otherKey });
  assert.equal(b.weight, 1, 'weight defaults to 1');
  assert.equal(b.enabled, true, 'enabled defaults to true');

  const list = await ok(s.admin('GET', `/api/channels/${ch.id}/accounts`), 200);
  assertListShape(list);
  assert.equal(list.next, null);
  assert.deepEqual(list.data.map((x) => x.id), [b.id, a.id], 'newest first');
  for (const x of list.data) {
    assertAccount(x);
    assert.equal(x.channel_id, ch.id);
    assert.equal(x.status, 'active');
    assert.equal(x.cooldown_until, null);
    assert.equal(x.disabled_reason, null);
    assert.equal(x.requests, 0);
    assert.equal(x.errors, 0);
  }
  const la = list.data.find((x) => x.id === a.id);
  for (const f of ['name', 'masked', 'weight', 'rpm', 'tpm', 'enabled', 'channel_id']) assert.deepEqual(la[f], a[f], f);
  assert.ok(!JSON.stringify(list).includes(key));
  // another channel's listing does not include them
  const other = await mkChannel();
  assert.deepEqual(await listAccounts(other.id), []);
});

test('accounts: PUT is partial, a new key is masked and stored, DELETE removes', async () => {
  const ch = await mkChannel();
  const k1 = uniq('sk-first-key'), k2 = uniq('sk-second-key');
  secrets.add(k1); secrets.add(k2);
  const a = await mkAccount(ch.id, { key: k1, name: 'acc', weight: 2, rpm: 10 });
  const put = await ok(s.admin('PUT', `/api/accounts/${a.id}`, { weight: 9 }), 200);
  assert.equal(put.weight, 9);
  for (const f of ['name', 'masked', 'rpm', 'tpm', 'enabled', 'channel_id']) assert.deepEqual(put[f], a[f], f);
  let listed = await findAccount(ch.id, a.id);
  assert.equal(listed.weight, 9);
  assert.equal(listed.rpm, 10);
  assert.equal(listed.name, 'acc');

  const put2 = await ok(s.admin('PUT', `/api/accounts/${a.id}`, { enabled: false, tpm: 500 }), 200);
  assert.equal(put2.enabled, false);
  assert.equal(put2.tpm, 500);
  assert.equal(put2.weight, 9);

  const put3 = await ok(s.admin('PUT', `/api/accounts/${a.id}`, { key: k2 }), 200);
  assert.equal(put3.masked, `sk-...${k2.slice(-4)}`);
  assert.ok(!JSON.stringify(put3).includes(k2));
  listed = await findAccount(ch.id, a.id);
  assert.equal(listed.masked, `sk-...${k2.slice(-4)}`);
  assert.equal(listed.enabled, false);
  // the old key is free in this channel again, the new one is taken
  await mkAccount(ch.id, { key: k1 });
  await expectError(s.admin('POST', `/api/channels/${ch.id}/accounts`, { key: k2 }), 409);

  const del = await ok(s.admin('DELETE', `/api/accounts/${a.id}`), 200);
  assert.equal(del.id, a.id);
  assert.equal(del.deleted, true);
  assert.ok(!(await listAccounts(ch.id)).some((x) => x.id === a.id));
  await expectError(s.admin('DELETE', `/api/accounts/${a.id}`), 404);
  // its key can be added again
  await mkAccount(ch.id, { key: k2 });
});

test('accounts: 409 for the same key twice in one channel; another channel may hold it', async () => {
  const ch = await mkChannel();
  const key = uniq('sk-dup-key');
  secrets.add(key);
  const a = await mkAccount(ch.id, { key });
  await expectError(s.admin('POST', `/api/channels/${ch.id}/accounts`, { key, name: 'again' }), 409);
  const b = await mkAccount(ch.id, { key: uniq('sk-dup-other') });
  await expectError(s.admin('PUT', `/api/accounts/${b.id}`, { key }), 409);
  assert.equal((await findAccount(ch.id, b.id)).masked, b.masked, 'a refused PUT changes nothing');
  assert.equal((await listAccounts(ch.id)).length, 2);
  const other = await mkChannel();
  await mkAccount(other.id, { key });
  // re-putting an account's own key is no conflict
  await ok(s.admin('PUT', `/api/accounts/${a.id}`, { key }), 200);
});

test('accounts: 400 for invalid bodies and 404 for unknown ids', async () => {
  const ch = await mkChannel();
  for (const body of [
    '{', '[]', '', {}, { key: '' }, { key: 5 }, { key: 'sk-a\nsk-b' }, { key: 'sk-abc-000000000001', weight: -1 },
    { key: 'sk-abc-000000000002', rpm: 'x' }, { key: 'sk-abc-000000000003', enabled: 'true' }, { key: 'sk-abc-000000000004', colour: 1 },
    { key: 'sk-abc-000000000005', channel_id: ch.id },
  ]) {
    const r = await s.admin('POST', `/api/channels/${ch.id}/accounts`, body);
    assert.equal(r.status, 400, `POST accounts ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    assertError(r, 400);
  }
  assert.deepEqual(await listAccounts(ch.id), []);
  const a = await mkAccount(ch.id, { key: uniq('sk-acct'), weight: 2 });
  for (const body of ['{', '[]', { weight: -2 }, { key: '' }, { colour: 1 }, { channel_id: 'ch_x' }, { enabled: 0 }]) {
    const r = await s.admin('PUT', `/api/accounts/${a.id}`, body);
    assert.equal(r.status, 400, `PUT account ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    assertError(r, 400);
  }
  assert.equal((await findAccount(ch.id, a.id)).weight, 2);
  for (const id of ['acc_doesnotexist', 'x']) {
    await expectError(s.admin('PUT', `/api/accounts/${id}`, { weight: 1 }), 404);
    await expectError(s.admin('DELETE', `/api/accounts/${id}`), 404);
    await expectError(s.admin('POST', `/api/accounts/${id}/reset`), 404);
  }
});

test('accounts list pagination with limit=2', async () => {
  const ch = await mkChannel();
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await mkAccount(ch.id, { key: uniq(`sk-page-${i}`) })).id);
  const listed = await checkPagination(`/api/channels/${ch.id}/accounts`, ids);
  assert.deepEqual([...listed].sort(), [...ids].sort());
  const { items } = await walk(`/api/channels/${ch.id}/accounts`, 2);
  items.forEach(assertAccount);
});

test('import: text/plain, one key per line; blank lines ignored, duplicates skipped', async () => {
  const ch = await mkChannel();
  const [k1, k2, k3, k4] = [1, 2, 3, 4].map((i) => uniq(`sk-imp-${i}`));
  [k1, k2, k3, k4].forEach((k) => secrets.add(k));
  const text = `${k1}\n${k2}\n\n   \n${k3}\r\n${k1}\n\t\n`;
  const r = await ok(s.admin('POST', `/api/channels/${ch.id}/accounts/import`, text, { 'content-type': 'text/plain' }), 200);
  assert.deepEqual(r, { imported: 3, skipped: 1, failed: 0 });
  let list = await listAccounts(ch.id);
  assert.deepEqual(list.map((a) => a.masked).sort(), [k1, k2, k3].map((k) => `sk-...${k.slice(-4)}`).sort());
  list.forEach(assertAccount);
  assert.ok(!JSON.stringify(list).includes(k1));

  // keys already in the channel (imported or added one by one) are skipped
  await mkAccount(ch.id, { key: k4 });
  const k5 = uniq('sk-imp-5');
  secrets.add(k5);
  const r2 = await ok(s.admin('POST', `/api/channels/${ch.id}/accounts/import`, `${k2}\n${k4}\n${k5}`, { 'content-type': 'text/plain; charset=utf-8' }), 200);
  assert.deepEqual(r2, { imported: 1, skipped: 2, failed: 0 });
  list = await listAccounts(ch.id);
  assert.equal(list.length, 5);
  // an imported key is a duplicate for POST too
  await expectError(s.admin('POST', `/api/channels/${ch.id}/accounts`, { key: k3 }), 409);
  // a different channel takes the same keys
  const other = await mkChannel();
  const r3 = await ok(s.admin('POST', `/api/channels/${other.id}/accounts/import`, `${k1}\n${k2}\n`, { 'content-type': 'text/plain' }), 200);
  assert.deepEqual(r3, { imported: 2, skipped: 0, failed: 0 });
  // an empty import imports nothing
  const r4 = await ok(s.admin('POST', `/api/channels/${other.id}/accounts/import`, '\n\n', { 'content-type': 'text/plain' }), 200);
  assert.deepEqual(r4, { imported: 0, skipped: 0, failed: 0 });
  assert.equal((await listAccounts(other.id)).length, 2);
});

test('import: a JSON array of key strings or of account objects', async () => {
  const ch = await mkChannel();
  const [a, b, c] = [1, 2, 3].map((i) => uniq(`sk-json-${i}`));
  [a, b, c].forEach((k) => secrets.add(k));
  const r = await ok(s.admin('POST', `/api/channels/${ch.id}/accounts/import`, [a, b, a]), 200);
  assert.deepEqual(r, { imported: 2, skipped: 1, failed: 0 });
  const r2 = await ok(s.admin('POST', `/api/channels/${ch.id}/accounts/import`, [
    { key: c, name: 'named-import', weight: 6, rpm: 30, enabled: false },
    { key: b, name: 'dup' },
  ]), 200);
  assert.deepEqual(r2, { imported: 1, skipped: 1, failed: 0 });
  const list = await listAccounts(ch.id);
  assert.equal(list.length, 3);
  const named = list.find((x) => x.name === 'named-import');
  assert.ok(named, 'the object form keeps its fields');
  assert.equal(named.weight, 6);
  assert.equal(named.rpm, 30);
  assert.equal(named.enabled, false);
  assert.equal(named.masked, `sk-...${c.slice(-4)}`);
  assert.ok(!list.some((x) => x.name === 'dup'));
});

test('import: invalid bodies are 400 and import nothing', async () => {
  const ch = await mkChannel();
  for (const body of [
    { key: 'sk-not-an-array-000001' },
    '[1, 2]',
    '[{"key": "sk-ok-0000000000001"}, {"key": "sk-bad-000000000001", "weight": -1}]',
    '[{"key": "sk-ok-0000000000002", "colour": "red"}]',
    '[{"name": "no key"}]',
    '["sk-a\\nsk-b"]',
    '[oops',
  ]) {
    const r = await s.admin('POST', `/api/channels/${ch.id}/accounts/import`, body);
    assert.equal(r.status, 400, `import ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    assertError(r, 400);
  }
  assert.deepEqual(await listAccounts(ch.id), []);
});

test('account live state: disabled in Redis shows as "disabled"; reset makes it "active"', async () => {
  const ch = await mkChannel();
  const a = await mkAccount(ch.id, { key: uniq('sk-state') });
  const b = await mkAccount(ch.id, { key: uniq('sk-state-b') });
  await s.redis.client.hset(`ah:acct:${a.id}`, 'disabled', '1', 'disabled_reason', 'upstream 401', 'requests', '7', 'errors', '2');
  let la = await findAccount(ch.id, a.id);
  assertAccount(la);
  assert.equal(la.status, 'disabled');
  assert.equal(la.disabled_reason, 'upstream 401');
  assert.equal(la.requests, 7);
  assert.equal(la.errors, 2);
  assert.equal((await findAccount(ch.id, b.id)).status, 'active', 'the other account is unaffected');

  const reset = await ok(s.admin('POST', `/api/accounts/${a.id}/reset`), 200);
  assert.equal(reset.id, a.id);
  assert.equal(reset.status, 'active');
  la = await findAccount(ch.id, a.id);
  assert.equal(la.status, 'active');
  assert.equal(la.disabled_reason, null);
  assert.equal(la.cooldown_until, null);
  assert.equal(la.requests, 7, 'counters survive a reset');
  assert.equal(await s.redis.client.hget(`ah:acct:${a.id}`, 'disabled'), null);
  // resetting an account with nothing to clear is fine
  assert.equal((await ok(s.admin('POST', `/api/accounts/${b.id}/reset`), 200)).status, 'active');
});

test('account live state: a cooldown shows as "cooling" with cooldown_until in Unix seconds; reset clears it', async () => {
  const ch = await mkChannel();
  const a = await mkAccount(ch.id, { key: uniq('sk-cool') });
  const until = Date.now() + 60_000;
  await s.redis.client.hset(`ah:acct:${a.id}`, 'cooldown_until', String(until));
  let la = await findAccount(ch.id, a.id);
  assertAccount(la);
  assert.equal(la.status, 'cooling');
  assert.ok(la.cooldown_until === Math.floor(until / 1000) || la.cooldown_until === Math.ceil(until / 1000),
    `cooldown_until ${la.cooldown_until} is ${until} ms in seconds`);
  assert.equal(la.disabled_reason, null);

  // a cooldown in the past is over
  await s.redis.client.hset(`ah:acct:${a.id}`, 'cooldown_until', String(Date.now() - 1000));
  la = await findAccount(ch.id, a.id);
  assert.equal(la.status, 'active');
  assert.equal(la.cooldown_until, null);

  // disabled wins over cooling
  await s.redis.client.hset(`ah:acct:${a.id}`, 'cooldown_until', String(Date.now() + 60_000), 'disabled', '1', 'disabled_reason', 'upstream 403');
  assert.equal((await findAccount(ch.id, a.id)).status, 'disabled');

  await ok(s.admin('POST', `/api/accounts/${a.id}/reset`), 200);
  la = await findAccount(ch.id, a.id);
  assert.equal(la.status, 'active');
  assert.equal(la.cooldown_until, null);
  assert.equal(await s.redis.client.hget(`ah:acct:${a.id}`, 'cooldown_until'), null);
});

test('PUT /api/accounts/{id} reports the account\'s live state, not "active" regardless',
  async () => {
    const ch = await mkChannel();
    const a = await mkAccount(ch.id, { key: uniq('sk-put-state') });
    await s.redis.client.hset(`ah:acct:${a.id}`, 'disabled', '1', 'disabled_reason', 'upstream 401');
    const put = await ok(s.admin('PUT', `/api/accounts/${a.id}`, { weight: 3 }), 200);
    assert.equal(put.weight, 3);
    assert.equal((await findAccount(ch.id, a.id)).status, 'disabled', 'the listing says disabled');
    assert.equal(put.status, 'disabled', 'so does the PUT response');
  });

test('a disabled or cooling account is out of service until reset', async () => {
  const model = uniq('reset-model');
  const ch = await ok(postChannel({ name: uniq('ch-reset'), type: 'openai-compatible', base_url: s.mock.url, models: [model] }), 201);
  const a = await mkAccount(ch.id, { key: uniq('sk-reset-live') });
  const { secret } = await addUserKey(s);
  secrets.add(secret);
  const ask = (n = s.node) => chat(n.url, secret, { ...CHAT, model });
  for (const n of s.nodes) await waitFor(async () => (await ask(n)).status === 200, { what: `${model} served by ${n.url}`, timeoutMs: 2000 });

  await s.redis.client.hset(`ah:acct:${a.id}`, 'disabled', '1', 'disabled_reason', 'upstream 401');
  let r = await ask();
  assert.equal(r.status, 503, r.text);
  assert.equal(r.body.error.code, 'no_available_account');
  await ok(s.admin('POST', `/api/accounts/${a.id}/reset`), 200);
  r = await ask();
  assert.equal(r.status, 200, r.text);

  await s.redis.client.hset(`ah:acct:${a.id}`, 'cooldown_until', String(Date.now() + 60_000));
  r = await ask();
  assert.equal(r.status, 503, r.text);
  assert.equal(r.body.error.code, 'no_available_account');
  const retry = Number(r.headers.get('retry-after'));
  assert.ok(retry >= 1 && retry <= 61, `Retry-After ${r.headers.get('retry-after')}`);
  await ok(s.admin('POST', `/api/accounts/${a.id}/reset`), 200);
  r = await ask();
  assert.equal(r.status, 200, r.text);
});

test('admin changes are in force on every node within 1 second', async () => {
  const model = uniq('fresh-model');
  const alias = uniq('fresh-alias');
  const { secret } = await addUserKey(s);
  secrets.add(secret);
  const ask = (n, m = model) => chat(n.url, secret, { ...CHAT, model: m });
  const within1s = async (what, pred) => {
    for (const n of s.nodes) {
      await waitFor(async () => pred(await ask(n)), { what: `${what} on ${n.url}`, timeoutMs: 1000, intervalMs: 20 });
    }
  };
  const other = s.nodes[1];
  // created through the second node, used through both
  const created = await other.admin('POST', '/api/channels', { name: uniq('ch-fresh'), type: 'openai-compatible', base_url: s.mock.url, models: [model] });
  assert.equal(created.status, 201);
  const ch = created.body;
  assert.equal((await other.admin('POST', `/api/channels/${ch.id}/accounts`, { key: uniq('sk-fresh') })).status, 201);
  await within1s('a new channel', (r) => r.status === 200);
  try {
    await ok(s.admin('PUT', '/api/model-map', { [alias]: [model] }), 200);
    await within1s('a new alias', async () => (await ask(s.node, alias)).status === 200 && (await ask(other, alias)).status === 200);
    await ok(s.admin('PUT', `/api/channels/${ch.id}`, { enabled: false }), 200);
    await within1s('a disabled channel', (r) => r.status === 404 && r.body?.error?.code === 'model_not_found');
    await ok(other.admin('PUT', `/api/channels/${ch.id}`, { enabled: true }), 200);
    await within1s('a re-enabled channel', (r) => r.status === 200);
    await ok(s.admin('DELETE', `/api/channels/${ch.id}`), 200);
    await within1s('a deleted channel', (r) => r.status === 404 && r.body?.error?.code === 'model_not_found');
  } finally {
    await ok(s.admin('PUT', '/api/model-map', {}), 200);
  }
});

test('account PUT and DELETE change which provider key serves, on every node', async () => {
  const model = uniq('acct-model');
  const [k1, k2, k3] = [1, 2, 3].map((i) => `sk-serve-${i}-${randomBytes(12).toString('hex')}`);
  [k1, k2, k3].forEach((k) => secrets.add(k));
  const ch = await ok(postChannel({ name: uniq('ch-serve'), type: 'openai-compatible', base_url: s.mock.url, models: [model] }), 201);
  const a = await mkAccount(ch.id, { key: k1 });
  const b = await mkAccount(ch.id, { key: k2 });
  const { secret } = await addUserKey(s);
  secrets.add(secret);
  const burst = async (n) => {
    await s.mock.resetStats();
    for (let i = 0; i < n; i++) {
      const r = await chat(s.nodes[i % s.nodes.length].url, secret, { ...CHAT, model });
      assert.equal(r.status, 200, r.text);
    }
    return (await s.mock.stats()).by_key;
  };
  await waitConfig(s);
  let seen = await burst(4);
  assert.equal((seen[k1] ?? 0) + (seen[k2] ?? 0), 4);

  await ok(s.admin('PUT', `/api/accounts/${a.id}`, { enabled: false }), 200);
  await waitConfig(s);
  seen = await burst(6);
  assert.equal(seen[k1] ?? 0, 0, `a disabled account serves nothing: ${JSON.stringify(seen)}`);
  assert.equal(seen[k2], 6);

  await ok(s.admin('PUT', `/api/accounts/${a.id}`, { enabled: true, key: k3 }), 200);
  await ok(s.admin('DELETE', `/api/accounts/${b.id}`), 200);
  await waitConfig(s);
  seen = await burst(4);
  assert.deepEqual(seen, { [k3]: 4 }, 'only the changed key of the remaining account reaches the upstream');
});

test('account listing counts the requests an account served', async () => {
  const { secret } = await addUserKey(s);
  secrets.add(secret);
  const r = await chatStatus(secret);
  assert.equal(r.status, 200, r.text);
  await waitFor(async () => (await findAccount(main.channel.id, main.account.id)).requests >= 1,
    { what: 'the main account to count a request', timeoutMs: 5000 });
  const la = await findAccount(main.channel.id, main.account.id);
  assertAccount(la);
  assert.equal(la.status, 'active');
});

// ---------------------------------------------------------------- model map and settings

test('model map: GET, PUT replaces the whole map', async () => {
  const empty = await ok(s.admin('GET', '/api/model-map'), 200);
  assert.deepEqual(empty, {});
  const m1 = { 'gpt-4': ['gpt-4', 'gpt-4-0613', 'gpt-4-turbo'], fast: ['mini'] };
  assert.deepEqual(await ok(s.admin('PUT', '/api/model-map', m1), 200), m1);
  assert.deepEqual(await ok(s.admin('GET', '/api/model-map'), 200), m1);
  const m2 = { other: ['x'] };
  assert.deepEqual(await ok(s.admin('PUT', '/api/model-map', m2), 200), m2);
  assert.deepEqual(await ok(s.admin('GET', '/api/model-map'), 200), m2, 'the old aliases are gone');
  for (const body of ['{', '[]', { a: 'b' }, { a: [] }, { a: [1] }, { a: [''] }, { a: null }, { '': ['x'] }]) {
    const r = await s.admin('PUT', '/api/model-map', body);
    assert.equal(r.status, 400, `PUT model-map ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    assertError(r, 400);
  }
  assert.deepEqual(await ok(s.admin('GET', '/api/model-map'), 200), m2, 'a refused PUT changes nothing');
  assert.deepEqual(await ok(s.admin('PUT', '/api/model-map', {}), 200), {});
  assert.deepEqual(await ok(s.admin('GET', '/api/model-map'), 200), {});
});

test('settings: defaults, partial PUT over what is in force, 400 for bad values', async () => {
  const defaults = {
    global_rpm: 0, global_tpm: 0, max_retries: 3, cooldowns: { 429: 60, '5xx': 300, timeout: 120 },
    hold_ttl_s: 600, default_max_tokens: 4096, log_max_entries: 1000000,
  };
  assert.deepEqual(await ok(s.admin('GET', '/api/settings'), 200), defaults);
  try {
    const a = await ok(s.admin('PUT', '/api/settings', { max_retries: 5 }), 200);
    assert.deepEqual(a, { ...defaults, max_retries: 5 });
    const b = await ok(s.admin('PUT', '/api/settings', { cooldowns: { 429: 30 }, default_max_tokens: 1000 }), 200);
    assert.deepEqual(b, { ...defaults, max_retries: 5, default_max_tokens: 1000, cooldowns: { ...defaults.cooldowns, 429: 30 } });
    assert.deepEqual(await ok(s.admin('GET', '/api/settings'), 200), b);
    assert.deepEqual(await ok(s.admin('PUT', '/api/settings', {}), 200), b, 'an empty PUT changes nothing');
    for (const body of [
      '{', '[]', { colour: 1 }, { max_retries: -1 }, { max_retries: 'three' }, { global_rpm: -5 }, { global_tpm: 1.5 },
      { cooldowns: { '4xx': 5 } }, { cooldowns: { 429: -1 } }, { cooldowns: [] }, { hold_ttl_s: -1 }, { default_max_tokens: -1 },
    ]) {
      const r = await s.admin('PUT', '/api/settings', body);
      assert.equal(r.status, 400, `PUT settings ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assertError(r, 400);
    }
    assert.deepEqual(await ok(s.admin('GET', '/api/settings'), 200), b, 'a refused PUT changes nothing');
  } finally {
    await ok(s.admin('PUT', '/api/settings', defaults), 200);
  }
  assert.deepEqual(await ok(s.admin('GET', '/api/settings'), 200), defaults);
});

// ---------------------------------------------------------------- users

test('users: POST, GET, list with the documented shape and defaults', async () => {
  const t0 = nowS();
  const name = uniq('alice');
  const u = await ok(s.admin('POST', '/api/users', { name }), 201);
  assertUser(u);
  assert.deepEqual({ ...u, id: 'x', created_at: 0 }, { id: 'x', name, balance: 0, rpm: 0, tpm: 0, max_in_flight: 0, enabled: true, created_at: 0 });
  assert.ok(u.created_at >= t0 - 5);
  assert.deepEqual(await ok(s.admin('GET', `/api/users/${u.id}`), 200), u);
  const list = await ok(s.admin('GET', '/api/users?limit=1000'), 200);
  assertListShape(list);
  assert.deepEqual(list.data.find((x) => x.id === u.id), u);
  list.data.forEach(assertUser);

  const full = { name: uniq('bob'), balance: 5_000_000, rpm: 60, tpm: 100000, max_in_flight: 4, enabled: false };
  const v = await ok(s.admin('POST', '/api/users', full), 201);
  assertUser(v);
  assert.deepEqual({ ...v, id: undefined, created_at: undefined }, { ...full, id: undefined, created_at: undefined });
  assert.deepEqual(await ok(s.admin('GET', `/api/users/${v.id}`), 200), v);
});

test('users: PUT is partial; "balance" is refused with 400', async () => {
  const u = await mkUser({ balance: 1234, rpm: 5 });
  const a = await ok(s.admin('PUT', `/api/users/${u.id}`, { tpm: 777 }), 200);
  assert.deepEqual(a, { ...u, tpm: 777 });
  const newName = uniq('carol');
  const b = await ok(s.admin('PUT', `/api/users/${u.id}`, { name: newName, max_in_flight: 2, enabled: false }), 200);
  assert.deepEqual(b, { ...a, name: newName, max_in_flight: 2, enabled: false });
  assert.deepEqual(await ok(s.admin('GET', `/api/users/${u.id}`), 200), b);
  assert.deepEqual(await ok(s.admin('PUT', `/api/users/${u.id}`, {}), 200), b);
  // the old name is free
  await mkUser({ name: u.name });
  for (const body of [{ balance: 99 }, { balance: 99, rpm: 1 }, { rpm: 1, balance: 0 }]) {
    await expectError(s.admin('PUT', `/api/users/${u.id}`, body), 400);
  }
  assert.deepEqual(await ok(s.admin('GET', `/api/users/${u.id}`), 200), b, 'a refused PUT changes nothing');
});

test('users: 400 for invalid bodies, 404 for unknown ids, 409 for duplicate names', async () => {
  const name = uniq('invalid');
  for (const body of [
    '{', '[]', '', '"x"', {}, { name: '' }, { name: 5 }, { name, balance: -1 }, { name, balance: 'lots' }, { name, rpm: -1 },
    { name, tpm: 1.5 }, { name, enabled: 'yes' }, { name, colour: 'red' }, { name, id: 'usr_mine' }, { name, max_in_flight: -3 },
  ]) {
    const r = await s.admin('POST', '/api/users', body);
    assert.equal(r.status, 400, `POST users ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    assertError(r, 400);
  }
  const users = await ok(s.admin('GET', '/api/users?limit=1000'), 200);
  assert.ok(!users.data.some((u) => u.name === name));

  const u = await mkUser({ rpm: 3 });
  for (const body of ['{', '[]', { rpm: -1 }, { enabled: 'no' }, { colour: 1 }, { name: '' }, { rpm: 9, enabled: 'x' }]) {
    const r = await s.admin('PUT', `/api/users/${u.id}`, body);
    assert.equal(r.status, 400, `PUT user ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    assertError(r, 400);
  }
  assert.deepEqual(await ok(s.admin('GET', `/api/users/${u.id}`), 200), u);

  for (const id of ['usr_doesnotexist', 'x']) {
    await expectError(s.admin('GET', `/api/users/${id}`), 404);
    await expectError(s.admin('PUT', `/api/users/${id}`, { rpm: 1 }), 404);
    await expectError(s.admin('DELETE', `/api/users/${id}`), 404);
    await expectError(s.admin('POST', `/api/users/${id}/keys`, { name: 'k' }), 404);
  }
  // a refused PUT on an unknown user does not claim the name
  const ghost = uniq('ghost');
  await expectError(s.admin('PUT', '/api/users/usr_doesnotexist', { name: ghost }), 404);
  await mkUser({ name: ghost });
  // a deleted user takes no new keys
  const gone = await mkUser();
  await ok(s.admin('DELETE', `/api/users/${gone.id}`), 200);
  await expectError(s.admin('POST', `/api/users/${gone.id}/keys`, { name: 'late' }), 404);
  const v = await mkUser();
  await expectError(s.admin('POST', '/api/users', { name: u.name }), 409);
  await expectError(s.admin('PUT', `/api/users/${v.id}`, { name: u.name }), 409);
  assert.equal((await ok(s.admin('GET', `/api/users/${v.id}`), 200)).name, v.name);
  await ok(s.admin('PUT', `/api/users/${u.id}`, { name: u.name }), 200);
});

test('users list pagination with limit=2', async () => {
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await mkUser()).id);
  await checkPagination('/api/users', ids);
});

test('DELETE /api/users/{id} removes the user and revokes its keys at once', async () => {
  const u = await mkUser();
  const k1 = await mkKey(u.id);
  const k2 = await mkKey(u.id);
  assert.equal((await chatStatus(k1.key)).status, 200);
  const del = await ok(s.admin('DELETE', `/api/users/${u.id}`), 200);
  assert.equal(del.id, u.id);
  assert.equal(del.deleted, true);
  assert.equal(del.keys_revoked, 2);
  for (const n of s.nodes) {
    for (const k of [k1, k2]) {
      const r = await chatStatus(k.key, n);
      assert.equal(r.status, 401, r.text);
      assert.equal(r.body.error.code, 'invalid_api_key');
    }
  }
  await expectError(s.admin('GET', `/api/users/${u.id}`), 404);
  await expectError(s.admin('DELETE', `/api/users/${u.id}`), 404);
  await expectError(s.admin('PUT', `/api/keys/${k1.id}`, { rpm: 1 }), 404);
  const users = await ok(s.admin('GET', '/api/users?limit=1000'), 200);
  assert.ok(!users.data.some((x) => x.id === u.id));
  await mkUser({ name: u.name }); // the name is free again
});

test('GET /api/users/{id}/keys is 404 for an unknown or deleted user',
  async () => {
    await expectError(s.admin('GET', '/api/users/usr_doesnotexist/keys'), 404);
    const u = await mkUser();
    await ok(s.admin('DELETE', `/api/users/${u.id}`), 200);
    await expectError(s.admin('GET', `/api/users/${u.id}/keys`), 404);
  });

// ---------------------------------------------------------------- keys

test('keys: POST returns the key once (sk- + 48 characters); listings show it masked only', async () => {
  const u = await mkUser();
  const t0 = nowS();
  const k = await mkKey(u.id, { name: 'ci' });
  assertKey(k, { created: true });
  assert.equal(k.user_id, u.id);
  assert.equal(k.name, 'ci');
  assert.deepEqual(
    { rpm: k.rpm, tpm: k.tpm, max_in_flight: k.max_in_flight, models: k.models, spend_limit_monthly: k.spend_limit_monthly, enabled: k.enabled, expires_at: k.expires_at, last_used_at: k.last_used_at },
    { rpm: 0, tpm: 0, max_in_flight: 0, models: [], spend_limit_monthly: 0, enabled: true, expires_at: null, last_used_at: null },
  );
  assert.ok(k.created_at >= t0 - 5);
  const exp = nowS() + 86400;
  const full = { name: 'limited', rpm: 10, tpm: 2000, max_in_flight: 2, models: ['mock-gpt', 'gpt-4o'], spend_limit_monthly: 5_000_000, expires_at: exp };
  const k2 = await mkKey(u.id, full);
  assertKey(k2, { created: true });
  for (const [f, v] of Object.entries(full)) assert.deepEqual(k2[f], v, f);
  assert.notEqual(k.key, k2.key);
  await tick();
  const unnamed = await ok(s.admin('POST', `/api/users/${u.id}/keys`, {}), 201);
  secrets.add(unnamed.key);
  assertKey(unnamed, { created: true });

  const list = await ok(s.admin('GET', `/api/users/${u.id}/keys`), 200);
  assertListShape(list);
  assert.deepEqual(list.data.map((x) => x.id), [unnamed.id, k2.id, k.id], 'newest first');
  for (const x of list.data) {
    assertKey(x);
    assert.ok(!('key' in x));
  }
  const { key: _omit, ...listedK2 } = k2;
  assert.deepEqual(list.data.find((x) => x.id === k2.id), listedK2);
  const text = JSON.stringify(list) + JSON.stringify(await ok(s.admin('GET', `/api/users/${u.id}`), 200));
  for (const secret of [k.key, k2.key, unnamed.key]) {
    assert.ok(!text.includes(secret));
    assert.ok(!text.includes(secret.slice(3)));
  }
  // the key works, and last_used_at records its use
  const t1 = nowS();
  assert.equal((await chatStatus(k.key)).status, 200);
  const used = (await listKeys(u.id)).find((x) => x.id === k.id);
  assert.ok(used.last_used_at >= t1 - 1 && used.last_used_at <= nowS() + 1, `last_used_at ${used.last_used_at}`);
});

test('keys: PUT is partial; 400 for invalid bodies; 404 for unknown ids', async () => {
  const u = await mkUser();
  const k = await mkKey(u.id, { name: 'orig', rpm: 5, models: ['a'] });
  const { key: _omit, ...listed } = k;
  const a = await ok(s.admin('PUT', `/api/keys/${k.id}`, { tpm: 900 }), 200);
  assertKey(a);
  assert.deepEqual(a, { ...listed, tpm: 900 });
  const b = await ok(s.admin('PUT', `/api/keys/${k.id}`, { name: 'renamed', models: ['b', 'c'], spend_limit_monthly: 10, max_in_flight: 3 }), 200);
  assert.deepEqual(b, { ...a, name: 'renamed', models: ['b', 'c'], spend_limit_monthly: 10, max_in_flight: 3 });
  assert.deepEqual((await listKeys(u.id)).find((x) => x.id === k.id), b);
  const c = await ok(s.admin('PUT', `/api/keys/${k.id}`, { models: null }), 200);
  assert.deepEqual(c.models, [], 'models null means all');
  assert.deepEqual(await ok(s.admin('PUT', `/api/keys/${k.id}`, {}), 200), c);

  for (const body of [
    '{', '[]', { colour: 1 }, { rpm: -1 }, { rpm: 'x' }, { models: 'mock-gpt' }, { models: [1] }, { models: [''] },
    { enabled: 'false' }, { expires_at: 'tomorrow' }, { expires_at: -1 }, { user_id: 'usr_other' }, { key: 'sk-mine' }, { name: 5 },
    { tpm: 1, enabled: 0 },
  ]) {
    const r = await s.admin('PUT', `/api/keys/${k.id}`, body);
    assert.equal(r.status, 400, `PUT key ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    assertError(r, 400);
    const p = await s.admin('POST', `/api/users/${u.id}/keys`, body);
    assert.equal(p.status, 400, `POST key ${JSON.stringify(body)}: ${JSON.stringify(p.body)}`);
    assertError(p, 400);
  }
  assert.deepEqual(await listKeys(u.id), [c], 'refused calls create and change nothing');
  for (const id of ['key_doesnotexist', 'x']) {
    await expectError(s.admin('PUT', `/api/keys/${id}`, { rpm: 1 }), 404);
    await expectError(s.admin('DELETE', `/api/keys/${id}`), 404);
  }
});

test('keys list pagination with limit=2', async () => {
  const u = await mkUser();
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await mkKey(u.id, { name: `k${i}` })).id);
  const listed = await checkPagination(`/api/users/${u.id}/keys`, ids);
  assert.deepEqual([...listed].sort(), [...ids].sort());
});

test('a deleted key gets 401 at once, on every node', async () => {
  const u = await mkUser();
  const k = await mkKey(u.id);
  const other = await mkKey(u.id);
  for (const n of s.nodes) assert.equal((await chatStatus(k.key, n)).status, 200);
  const del = await ok(s.admin('DELETE', `/api/keys/${k.id}`), 200);
  assert.equal(del.id, k.id);
  assert.equal(del.deleted, true);
  for (const n of s.nodes) {
    const r = await chatStatus(k.key, n);
    assert.equal(r.status, 401, r.text);
    assert.equal(r.body.error.type, 'authentication_error');
    assert.equal(r.body.error.code, 'invalid_api_key');
  }
  assert.equal((await chatStatus(other.key)).status, 200, 'the user\'s other key still works');
  assert.deepEqual((await listKeys(u.id)).map((x) => x.id), [other.id]);
  await expectError(s.admin('DELETE', `/api/keys/${k.id}`), 404);
  await expectError(s.admin('PUT', `/api/keys/${k.id}`, { enabled: true }), 404);
  assert.equal(await s.redis.client.exists(`ah:keyid:${k.id}`), 0);
});

test('a disabled key (PUT enabled:false) gets 401; enabling it again restores it', async () => {
  const u = await mkUser();
  const k = await mkKey(u.id, { rpm: 100 });
  assert.equal((await chatStatus(k.key)).status, 200);
  const off = await ok(s.admin('PUT', `/api/keys/${k.id}`, { enabled: false }), 200);
  assert.equal(off.enabled, false);
  assert.equal(off.rpm, 100);
  for (const n of s.nodes) {
    const r = await chatStatus(k.key, n);
    assert.equal(r.status, 401, r.text);
    assert.equal(r.body.error.code, 'invalid_api_key');
  }
  assert.equal((await listKeys(u.id))[0].enabled, false);
  await ok(s.admin('PUT', `/api/keys/${k.id}`, { enabled: true }), 200);
  assert.equal((await chatStatus(k.key)).status, 200);
});

test('a disabled user gets 403 user_disabled; enabling it again restores it', async () => {
  const u = await mkUser({ rpm: 50 });
  const k = await mkKey(u.id);
  assert.equal((await chatStatus(k.key)).status, 200);
  const off = await ok(s.admin('PUT', `/api/users/${u.id}`, { enabled: false }), 200);
  assert.deepEqual(off, { ...u, enabled: false });
  for (const n of s.nodes) {
    const r = await chatStatus(k.key, n);
    assert.equal(r.status, 403, r.text);
    assert.equal(r.body.error.type, 'permission_error');
    assert.equal(r.body.error.code, 'user_disabled');
  }
  await ok(s.admin('PUT', `/api/users/${u.id}`, { enabled: true }), 200);
  assert.equal((await chatStatus(k.key)).status, 200);
});

test('an expired key gets 401; moving expires_at to the future or null restores it', async () => {
  const u = await mkUser();
  const past = nowS() - 60;
  const expired = await mkKey(u.id, { expires_at: past });
  assert.equal(expired.expires_at, past);
  let r = await chatStatus(expired.key);
  assert.equal(r.status, 401, r.text);
  assert.equal(r.body.error.code, 'invalid_api_key');

  const k = await mkKey(u.id, { expires_at: nowS() + 3600 });
  assert.equal((await chatStatus(k.key)).status, 200);
  const e = await ok(s.admin('PUT', `/api/keys/${k.id}`, { expires_at: nowS() - 1 }), 200);
  assert.ok(e.expires_at < nowS() + 1);
  r = await chatStatus(k.key);
  assert.equal(r.status, 401, r.text);
  assert.equal(r.body.error.code, 'invalid_api_key');
  const cleared = await ok(s.admin('PUT', `/api/keys/${k.id}`, { expires_at: null }), 200);
  assert.equal(cleared.expires_at, null);
  assert.equal((await chatStatus(k.key)).status, 200);
  await ok(s.admin('PUT', `/api/keys/${expired.id}`, { expires_at: nowS() + 3600 }), 200);
  assert.equal((await chatStatus(expired.key)).status, 200);
});

// ---------------------------------------------------------------- secrets at rest and in logs

test('at rest: provider keys, header values and proxy passwords are sealed; a user key is kept only as its keyed hash', async () => {
  const providerKey = `sk-rest-${randomBytes(18).toString('hex')}`;
  const headerValue = `hv-rest-${randomBytes(12).toString('hex')}`;
  const proxyPass = `pp-rest-${randomBytes(10).toString('hex')}`;
  [providerKey, headerValue, proxyPass].forEach((x) => secrets.add(x));
  const ch = await mkChannel({ headers: { Authorization: `Bearer ${headerValue}` }, proxy: `http://user:${proxyPass}@127.0.0.1:3128` });
  await mkAccount(ch.id, { key: providerKey });
  await ok(s.admin('POST', `/api/channels/${ch.id}/accounts/import`, `${providerKey}-imported\n`, { 'content-type': 'text/plain' }), 200);
  secrets.add(`${providerKey}-imported`);
  const u = await mkUser();
  const k = await mkKey(u.id);
  assert.equal((await chatStatus(k.key)).status, 200);
  // the main channel's sealed key reaches the upstream intact
  const st = await s.mock.stats();
  assert.ok(st.by_key[main.providerKey] >= 1, `the upstream saw the provider key: ${JSON.stringify(st.by_key)}`);

  const dump = await redisDump();
  // the scan sees what is stored: the key's id record and the account's masked copy
  assert.ok(dump.includes(`ah:keyid:${k.id}`) && dump.includes(`sk-...${providerKey.slice(-4)}`), 'the Redis scan sees the stored records');
  const b64 = (x) => Buffer.from(x).toString('base64');
  for (const secret of [providerKey, `${providerKey}-imported`, main.providerKey, headerValue, proxyPass, k.key, k.key.slice(3)]) {
    assert.ok(!dump.includes(secret), `${secret.slice(0, 12)}... is not stored in clear`);
    assert.ok(!dump.includes(b64(secret)), `${secret.slice(0, 12)}... is not stored base64-encoded`);
  }
  for (const secret of secrets) assert.ok(!dump.includes(secret), `${secret.slice(0, 12)}... is not stored in clear`);
  const sha = createHash('sha256').update(k.key).digest('hex');
  assert.ok(!dump.includes(sha), 'the user key is not stored as a plain SHA-256');
  // the record is found by HMAC-SHA256 of the key under the key derived from AIHUB_SECRET_KEY
  const hashKey = createHmac('sha256', Buffer.from(s.secret, 'hex')).update('aihub api key hash v1').digest();
  const hmac = createHmac('sha256', hashKey).update(k.key).digest('hex');
  assert.equal(await s.redis.client.hget(`ah:key:${hmac}`, 'id'), k.id, 'the key record is named by the keyed hash');
});

test('secrets never appear in admin GET responses', async () => {
  const u = await mkUser();
  const k = await mkKey(u.id);
  const bodies = [];
  const get = async (p) => { bodies.push(JSON.stringify(await ok(s.admin('GET', p), 200))); };
  await get('/api/channels?limit=1000');
  const chans = JSON.parse(bodies[0]).data;
  for (const c of chans) {
    await get(`/api/channels/${c.id}`);
    await get(`/api/channels/${c.id}/accounts?limit=1000`);
  }
  const users = (await ok(s.admin('GET', '/api/users?limit=1000'), 200)).data;
  for (const x of users) {
    await get(`/api/users/${x.id}`);
    await get(`/api/users/${x.id}/keys?limit=1000`);
  }
  await get('/api/settings');
  await get('/api/model-map');
  const all = bodies.join('\n');
  assert.ok(all.includes(k.id), 'the walk saw the new key');
  for (const secret of [...secrets, k.key, s.secret]) {
    assert.ok(!all.includes(secret), `${secret.slice(0, 12)}... appears in an admin GET`);
  }
  for (const field of ['key_enc', 'key_hmac', 'headers_enc', 'proxy_enc', '"key":']) assert.ok(!all.includes(field), `${field} is never returned`);
});

test('secrets never appear in any node log line', async () => {
  const u = await mkUser();
  const k = await mkKey(u.id);
  await chatStatus(k.key);
  await chatStatus(`${k.key}x`); // a bad key is not logged either
  await s.admin('POST', `/api/channels/${main.channel.id}/accounts`, { key: main.providerKey }); // a 409 with the secret
  await s.admin('POST', '/api/channels', channelBody({ headers: { 'X-A': `${k.key}\nboom` } })); // a 400 with a secret
  const logs = allLogLines();
  assert.ok(logs.length > 0);
  for (const secret of [...secrets, k.key, `${k.key}x`, s.adminKey, s.secret]) {
    assert.ok(!logs.includes(secret), `${secret.slice(0, 12)}... appears in the node log`);
  }
});

// Roles everywhere, CSRF everywhere, and the audit log.
//
// The route table comes from the node itself (aihub-node --routes prints
// every route with the roles it admits). The test checks that table against
// the policy written here independently (admin: everything; operator:
// everything but users, keys, credits and settings; viewer: reads; everyone
// signed in: their own identity and sessions), then calls every admin route
// as the admin key, as a signed-in admin, operator and viewer, and with no
// credentials, and checks each gets 403 exactly when the table says so.
// Then: every state-changing route refuses a session without X-CSRF-Token;
// the audit log records changes (and only changes) with no secret in it;
// trusted-header mode believes only the configured proxies.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Browser, signIn, startSignInStack } from '../lib/idp.mjs';
import { NODE_BIN } from '../lib/stack.mjs';

let env;
let A;
const who = {}; // role -> signed-in Browser

before(async () => {
  env = await startSignInStack({ nodes: 1 });
  [A] = env.urls;
  const accounts = { admin: ['aihub-admins'], operator: ['aihub-operators'], viewer: ['aihub-viewers'] };
  for (const [role, groups] of Object.entries(accounts)) {
    env.idp.setAccount(`r-${role}`, { groups });
    const b = new Browser();
    const r = await signIn(b, A, { idp: env.idp, account: `r-${role}` });
    assert.equal(r.status, 302, JSON.stringify(r.body));
    who[role] = b;
  }
});
after(async () => { await env?.stop(); });

const ROUTES = execFileSync(NODE_BIN, ['--routes'], { encoding: 'utf8' }).trim().split('\n').map((l) => JSON.parse(l));
const ADMIN_ROUTES = ROUTES.filter((r) => r.kind === 'admin');

/** the policy, stated independently of the node's table */
function policy(method, pattern) {
  if (pattern === '/api/me' || pattern.startsWith('/api/sessions')) return ['admin', 'operator', 'viewer'];
  if (method === 'GET') return ['admin', 'operator', 'viewer'];
  if (/^\/api\/(users|keys|settings)(\/|$)/.test(pattern)) return ['admin']; // users, their keys and credits, settings
  return ['admin', 'operator'];
}

async function request(base, method, pattern, { browser, headers = {}, csrf = true } = {}) {
  const path = pattern.replaceAll('{}', 'zz-no-such-id');
  const h = { ...headers };
  let body;
  if (method === 'POST' || method === 'PUT') {
    h['content-type'] = 'application/json';
    body = '{}';
  }
  if (browser && csrf) h['x-csrf-token'] = browser.get(A, 'aihub_csrf');
  const ac = new AbortController();
  const cookie = browser ? browser.cookieHeader(base + path) : '';
  const res = await fetch(base + path, { method, body, headers: { ...h, ...(cookie ? { cookie } : {}) }, signal: ac.signal, redirect: 'manual' });
  let json = null;
  if ((res.headers.get('content-type') || '').includes('event-stream')) {
    ac.abort(); // the live log: the status is all we need
  } else {
    const text = await res.text();
    try { json = JSON.parse(text); } catch { json = text; }
  }
  return { status: res.status, body: json };
}

test('the route table: every admin route has an entry, and each entry is the policy', () => {
  assert.ok(ADMIN_ROUTES.length >= 35, `${ADMIN_ROUTES.length} admin routes`);
  for (const r of ADMIN_ROUTES) {
    assert.notDeepEqual(r.roles, [], `${r.method} ${r.pattern} has no entry`);
    assert.deepEqual(r.roles, policy(r.method, r.pattern), `${r.method} ${r.pattern}`);
  }
  // routes outside the role table: the client API (API keys), operations, and sign-in itself
  const open = ROUTES.filter((r) => r.kind === 'admin-open').map((r) => `${r.method} ${r.pattern}`).sort();
  assert.deepEqual(open, ['GET /auth/callback', 'GET /auth/login', 'GET /metrics', 'POST /auth/logout', 'POST /auth/refresh']);
  for (const p of ['/api/me', '/api/sessions', '/api/audit', '/api/users/{}/credits', '/api/settings', '/api/channels/{}/test']) {
    assert.ok(ADMIN_ROUTES.some((r) => r.pattern === p), `${p} is in the table`);
  }
});

test('every admin route x every role: 403 exactly where the table says, 401 with no credentials', async () => {
  const cases = [];
  for (const r of ADMIN_ROUTES) {
    // the admin key acts as admin
    const k = await request(A, r.method, r.pattern, { headers: { authorization: `Bearer ${env.s.adminKey}` } });
    assert.ok(![401, 403].includes(k.status), `admin key: ${r.method} ${r.pattern} -> ${k.status} ${JSON.stringify(k.body)}`);
    for (const role of ['admin', 'operator', 'viewer']) {
      const res = await request(A, r.method, r.pattern, { browser: who[role] });
      const allowed = r.roles.includes(role);
      cases.push(`${role} ${r.method} ${r.pattern} ${res.status}`);
      assert.notEqual(res.status, 401, `${role}: ${r.method} ${r.pattern}: ${JSON.stringify(res.body)}`);
      if (allowed) {
        assert.notEqual(res.status, 403, `${role} may ${r.method} ${r.pattern}: ${JSON.stringify(res.body)}`);
      } else {
        assert.equal(res.status, 403, `${role} may not ${r.method} ${r.pattern}`);
        assert.equal(res.body.error.code, 'forbidden');
        assert.equal(res.body.error.type, 'permission_error');
      }
    }
    const none = await request(A, r.method, r.pattern);
    assert.equal(none.status, 401, `no credentials: ${r.method} ${r.pattern}`);
  }
  assert.equal(cases.length, ADMIN_ROUTES.length * 3);
  // the sessions are still alive (nothing above ended them)
  for (const role of ['admin', 'operator', 'viewer']) assert.equal((await request(A, 'GET', '/api/me', { browser: who[role] })).status, 200);
});

test('every state-changing admin route refuses a session without X-CSRF-Token, before doing anything', async () => {
  const writes = ADMIN_ROUTES.filter((r) => r.method !== 'GET');
  assert.ok(writes.length >= 20);
  for (const r of writes) {
    const res = await request(A, r.method, r.pattern, { browser: who.admin, csrf: false });
    assert.equal(res.status, 403, `${r.method} ${r.pattern}`);
    assert.equal(res.body.error.code, 'csrf_failed', `${r.method} ${r.pattern}`);
  }
});

// ---------------------------------------------------------------- audit

const SECRETS = {
  header: 'Bearer sk-upstream-header-secret-0001',
  proxy: 'http://proxyuser:proxy-pass-0002@127.0.0.1:3128',
  account: 'sk-provider-secret-0003-abcdefghijkl',
  imported: 'sk-imported-secret-0004-abcdefghijkl',
};

test('the audit log: every change, by key or session, with actor, role, action and target; never a secret', async () => {
  const adm = (m, p, b, h) => env.s.admin(m, p, b, h);
  await env.s.redis.client.del('ah:audit');
  const ch = await adm('POST', '/api/channels', {
    name: `audit-${Date.now()}`, type: 'openai-compatible', base_url: 'http://127.0.0.1:9/v1', models: ['m1'],
    headers: { Authorization: SECRETS.header }, proxy: SECRETS.proxy,
  });
  assert.equal(ch.status, 201, JSON.stringify(ch.body));
  const acct = await adm('POST', `/api/channels/${ch.body.id}/accounts`, { key: SECRETS.account, name: 'a1' });
  assert.equal(acct.status, 201, JSON.stringify(acct.body));
  const imp = await fetch(`${A}/api/channels/${ch.body.id}/accounts/import`, {
    method: 'POST', headers: { authorization: `Bearer ${env.s.adminKey}`, 'content-type': 'text/plain' }, body: `${SECRETS.imported}\n\n`,
  });
  assert.equal(imp.status, 200, await imp.text());
  const user = await adm('POST', '/api/users', { name: `aud-u-${Date.now()}` });
  const key = await adm('POST', `/api/users/${user.body.id}/keys`, { name: 'k1' });
  assert.equal(key.status, 201);
  const apiKey = key.body.key;
  await adm('POST', `/api/users/${user.body.id}/credits`, { delta: 5000000, reason: 'welcome' });
  await adm('DELETE', `/api/keys/${key.body.id}`);
  // by a session: the operator changes the model map
  const mm = await request(A, 'PUT', '/api/model-map', { browser: who.operator });
  assert.equal(mm.status, 200);
  // not audited: reads, refusals and failures
  await adm('GET', '/api/channels');
  await adm('POST', '/api/users', { name: '' });
  await request(A, 'POST', '/api/users', { browser: who.viewer });

  const raw = JSON.stringify(await env.s.redis.client.xrange('ah:audit', '-', '+'));
  for (const [what, secret] of Object.entries({ ...SECRETS, apiKey })) {
    assert.ok(!raw.includes(secret), `the ${what} secret is not in the audit log`);
  }
  assert.ok(!raw.includes('proxy-pass-0002') && !raw.includes('sk-upstream'), 'not even in part');

  const log = (await adm('GET', '/api/audit?limit=100')).body;
  const actions = log.data.map((e) => `${e.action} ${e.target}`).reverse();
  assert.deepEqual(actions, [
    `POST /api/channels ${ch.body.id}`,
    `POST /api/channels/{id}/accounts ${acct.body.id}`,
    `POST /api/channels/{id}/accounts/import ${ch.body.id}`,
    `POST /api/users ${user.body.id}`,
    `POST /api/users/{id}/keys ${key.body.id}`,
    `POST /api/users/{id}/credits ${user.body.id}`,
    `DELETE /api/keys/{id} ${key.body.id}`,
    'PUT /api/model-map ',
  ]);
  const byAction = Object.fromEntries(log.data.map((e) => [e.action, e]));
  const c = byAction['POST /api/channels'];
  assert.equal(c.actor, 'admin-key');
  assert.equal(c.role, 'admin');
  assert.equal(c.via, 'admin_key');
  assert.equal(c.status, 201);
  assert.equal(c.summary.headers, '[redacted]');
  assert.equal(c.summary.proxy, '[redacted]');
  assert.deepEqual(c.summary.models, ['m1']);
  assert.ok(c.time > 1_700_000_000 && c.time <= Date.now() / 1000 + 1);
  assert.match(c.request_id, /^[0-9a-f]{32}$/);
  assert.equal(byAction['POST /api/channels/{id}/accounts'].summary.key, '[redacted]');
  assert.equal(byAction['POST /api/channels/{id}/accounts'].summary.name, 'a1');
  assert.deepEqual(byAction['POST /api/channels/{id}/accounts/import'].summary, { bytes: SECRETS.imported.length + 2, lines: 2 });
  assert.deepEqual(byAction['POST /api/users/{id}/credits'].summary, { delta: 5000000, reason: 'welcome' });
  const m = byAction['PUT /api/model-map'];
  assert.equal(m.actor, 'r-operator@example.com');
  assert.equal(m.role, 'operator');
  assert.equal(m.via, 'session');

  // filters and pages
  const keys = (await adm('GET', '/api/audit?action=keys')).body.data;
  assert.deepEqual(keys.map((e) => e.action), ['DELETE /api/keys/{id}', 'POST /api/users/{id}/keys']);
  assert.deepEqual((await adm('GET', '/api/audit?actor=r-operator%40example.com')).body.data.map((e) => e.action), ['PUT /api/model-map']);
  assert.equal((await adm('GET', `/api/audit?target=${user.body.id}`)).body.data.length, 2);
  const p1 = (await adm('GET', '/api/audit?limit=3')).body;
  assert.equal(p1.data.length, 3);
  assert.ok(p1.next);
  const p2 = (await adm('GET', `/api/audit?limit=3&before=${p1.next}`)).body;
  assert.equal(p2.data.length, 3);
  const p3 = (await adm('GET', `/api/audit?limit=3&before=${p2.next}`)).body;
  assert.equal(p3.data.length, 2);
  assert.equal(p3.next, null);
  assert.equal((await adm('GET', '/api/audit?before=garbage')).status, 400);
  assert.equal((await adm('GET', '/api/audit?limit=0')).status, 400);
  // a viewer reads it too
  assert.equal((await request(A, 'GET', '/api/audit', { browser: who.viewer })).status, 200);
});

// ---------------------------------------------------------------- trusted headers

test('trusted-header mode: identity and groups from an auth proxy, believed only from AIHUB_TRUSTED_PROXIES', async () => {
  const common = {
    AIHUB_LISTEN: '127.0.0.1:0', AIHUB_TRUSTED_HEADER_USER: 'X-Auth-User', AIHUB_TRUSTED_HEADER_EMAIL: 'X-Auth-Email',
    AIHUB_TRUSTED_HEADER_GROUPS: 'X-Auth-Groups',
  };
  const trusted = await env.s.addNode({ ...common, AIHUB_TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1' });
  const untrusted = await env.s.addNode({ ...common, AIHUB_TRUSTED_PROXIES: '10.0.0.0/8' });
  try {
    const as = (groups, extra = {}) => ({ 'x-auth-user': 'pat', 'x-auth-email': 'pat@corp.example', 'x-auth-groups': groups, ...extra });
    const me = await fetch(`${trusted.url}/api/me`, { headers: as('staff, aihub-operators') });
    assert.equal(me.status, 200);
    assert.deepEqual(await me.json(), { sub: 'pat', email: 'pat@corp.example', name: 'pat', role: 'operator', session_id: null, via: 'header' });
    const csrf = me.headers.getSetCookie().find((c) => c.startsWith('aihub_csrf=')).split(';')[0].split('=')[1];
    const body = JSON.stringify({ name: `hdr-${Date.now()}`, type: 'openai', base_url: 'https://api.openai.com/v1', models: ['gpt-4o'] });
    const post = (headers) => fetch(`${trusted.url}/api/channels`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const noCsrf = await post(as('aihub-operators'));
    assert.equal(noCsrf.status, 403, 'the proxy\'s cookie is ambient too: writes need the CSRF token');
    const created = await post(as('aihub-operators', { 'x-csrf-token': csrf, 'x-forwarded-for': '203.0.113.9' }));
    const createdBody = await created.json();
    assert.equal(created.status, 201, JSON.stringify(createdBody));
    const viewer = await post(as('aihub-viewers', { 'x-csrf-token': csrf }));
    assert.equal(viewer.status, 403);
    assert.equal((await viewer.json()).error.code, 'forbidden');
    const users = await fetch(`${trusted.url}/api/users`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf, ...as('aihub-operators') }, body: '{"name":"x"}' });
    assert.equal(users.status, 403, 'operators do not manage users');
    const noGroups = await fetch(`${trusted.url}/api/me`, { headers: { 'x-auth-user': 'newcomer' } });
    assert.equal((await noGroups.json()).role, 'viewer');
    const audit = (await env.s.admin('GET', `/api/audit?target=${createdBody.id}`)).body.data[0];
    assert.equal(audit.via, 'header');
    assert.equal(audit.actor, 'pat@corp.example');
    assert.equal(audit.ip, '203.0.113.9', 'X-Forwarded-For from a trusted proxy gives the client address');
    // the same headers from a peer that is not a trusted proxy are ignored
    const ignored = await fetch(`${untrusted.url}/api/me`, { headers: as('aihub-admins') });
    assert.equal(ignored.status, 401);
    // and the admin key still works there
    assert.equal((await fetch(`${untrusted.url}/api/me`, { headers: { authorization: `Bearer ${env.s.adminKey}` } })).status, 200);
  } finally {
    for (const n of [trusted, untrusted]) {
      await n.stop();
      env.s.nodes.splice(env.s.nodes.indexOf(n), 1);
    }
  }
});

// Console sign-in end to end, against the real OpenID Provider from npm
// (oidc-provider) and two real nodes sharing one Redis: the authorization
// code flow with PKCE followed hop by hop without a browser, the cookies,
// "next", roles from groups, refresh rotation and reuse revoking the family,
// a role lowered at the provider taking effect at the next refresh, logout
// and remote logout refused by the other node at its next request, CSRF,
// JWKS rotation without restart, and the sign-in gate on /admin/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { Browser, signIn, startSignInStack } from '../lib/idp.mjs';
import { sleep, waitFor } from '../lib/stack.mjs';

let env;
let A; // node A's public URL
let B; // node B's public URL

before(async () => {
  env = await startSignInStack({ nodes: 2, spare: 1, env: { AIHUB_OIDC_JWKS_MIN_REFRESH_S: '1' } });
  [A, B] = env.urls;
  const { idp } = env;
  idp.setAccount('ada', { name: 'Ada Admin', groups: ['aihub-admins', 'staff'] });
  idp.setAccount('otto', { name: 'Otto Operator', groups: ['aihub-operators'] });
  idp.setAccount('vera', { name: 'Vera Viewer', groups: ['aihub-viewers'] });
  idp.setAccount('nobody', { groups: ['staff'] });
  idp.setAccount('lowered', { groups: ['aihub-admins'] });
  idp.setAccount('leaver', { groups: ['aihub-operators'] });
  idp.setAccount('twodev', { groups: ['aihub-operators'] });
});
after(async () => { await env?.stop(); });

/** an API call with the browser's cookies (and its CSRF token unless csrf: false) */
async function call(b, base, method, path, body, { csrf = true, headers = {} } = {}) {
  const h = { ...headers };
  if (body !== undefined) h['content-type'] = 'application/json';
  const token = b.get(A, 'aihub_csrf') ?? b.get(base, 'aihub_csrf');
  if (csrf && token) h['x-csrf-token'] = token;
  const res = await b.fetch(base + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, body: json, res };
}

/** a browser signed in as account on node A */
async function signedIn(account, base = A) {
  const b = new Browser();
  const r = await signIn(b, base, { idp: env.idp, account });
  assert.equal(r.status, 302, `sign-in of ${account}: ${JSON.stringify(r.body)}`);
  return b;
}

/** the cookies a browser holds for A, sent as-is to another node (a load balancer would route them anywhere) */
function replayTo(b, base) {
  const other = new Browser();
  for (const c of b.cookies.filter((x) => x.origin === A)) other.cookies.push({ ...c, origin: new URL(base).origin });
  return other;
}

test('the authorization code flow with PKCE, state and nonce, hop by hop', async () => {
  const b = new Browser();
  const start = await b.fetch(`${A}/auth/login?next=${encodeURIComponent('/admin/channels?tab=2')}`);
  assert.equal(start.status, 302);
  assert.equal(start.headers.get('cache-control'), 'no-store');
  const to = new URL(start.headers.get('location'));
  assert.equal(to.origin, env.idp.issuer);
  const q = to.searchParams;
  assert.equal(q.get('response_type'), 'code');
  assert.equal(q.get('client_id'), env.idp.clientId);
  assert.equal(q.get('redirect_uri'), `${A}/auth/callback`);
  assert.equal(q.get('scope'), 'openid email profile groups offline_access');
  assert.equal(q.get('code_challenge_method'), 'S256');
  assert.match(q.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  assert.match(q.get('state'), /^[A-Za-z0-9_-]{32}$/);
  assert.match(q.get('nonce'), /^[A-Za-z0-9_-]{32}$/);
  assert.equal(q.get('prompt'), 'consent', 'offline_access is asked with prompt=consent');
  // the sign-in state travels sealed in a cookie for /auth/callback only
  const [login] = start.setCookies;
  assert.equal(login.name, `aihub_login_${q.get('state').slice(0, 8)}`);
  assert.equal(login.path, '/auth/callback');
  assert.equal(login.attrs.httponly, true);
  assert.equal(login.attrs.samesite, 'Lax');
  assert.equal(login.attrs['max-age'], '600');
  assert.match(login.value, /^v1:/);
  assert.ok(!login.value.includes(q.get('nonce')), 'the state cookie is sealed, not readable');

  // two logins in flight (two tabs) do not disturb each other
  const other = await b.fetch(`${A}/auth/login`);
  assert.equal(other.status, 302);

  env.idp.nextAccount = 'ada';
  let url = to.toString();
  let res;
  for (let i = 0; i < 10; i++) {
    res = await b.fetch(url);
    if (url.startsWith(`${A}/auth/callback`)) break;
    url = new URL(res.headers.get('location'), url).toString();
  }
  assert.equal(res.status, 302, await res.text());
  assert.equal(res.headers.get('location'), '/admin/channels?tab=2');
  const set = Object.fromEntries(res.setCookies.map((c) => [c.name, c]));
  assert.equal(set.aihub_session.attrs.httponly, true);
  assert.equal(set.aihub_session.attrs.samesite, 'Lax');
  assert.equal(set.aihub_session.path, '/');
  assert.equal(set.aihub_session.attrs.secure, undefined, 'no Secure on an http public URL');
  assert.equal(set.aihub_refresh.path, '/auth/refresh');
  assert.equal(set.aihub_refresh.attrs.httponly, true);
  assert.equal(set.aihub_csrf.attrs.httponly, undefined, 'the CSRF cookie is readable by the console');
  assert.equal(set[login.name].attrs['max-age'], '0', 'the state cookie is cleared');
  // the session token is an HS256 JWT naming the session
  const [h, p] = set.aihub_session.value.split('.').slice(0, 2).map((x) => JSON.parse(Buffer.from(x, 'base64url')));
  assert.equal(h.alg, 'HS256');
  assert.equal(p.sub, 'ada');
  assert.match(p.jti, /^ses_/);
  assert.ok(p.exp - p.iat === 900);
  const me = await call(b, A, 'GET', '/api/me');
  assert.equal(me.status, 200);
  assert.deepEqual(me.body, { sub: 'ada', email: 'ada@example.com', name: 'Ada Admin', role: 'admin', session_id: p.jti, via: 'session' });
  // the session record in Redis
  const rec = await env.s.redis.client.hgetall(`ah:sess:${p.jti}`);
  assert.equal(rec.role, 'admin');
  assert.equal(rec.principal, `${env.idp.issuer}#ada`);
  assert.match(rec.idp_rt, /^v1:/, "the provider's refresh token is stored sealed");
  assert.equal(rec.rt_hash.length, 64);
  assert.ok(!Object.values(rec).includes(set.aihub_refresh.value), 'the refresh token itself is not stored');
});

test('next must be a local path', async () => {
  const b = new Browser();
  for (const bad of ['//evil.example.com/', 'https://evil.example.com/', '/\\evil.example.com', '%2F%2Fevil.example.com',
    'javascript:alert(1)', 'evil.example.com', '/admin/%0d%0aSet-Cookie:x=1', '/a b', '%ZZ']) {
    const r = await b.fetch(`${A}/auth/login?next=${bad}`);
    assert.equal(r.status, 400, `next=${bad}`);
    assert.equal((await r.json()).error.code, 'invalid_request');
  }
  const r = await signIn(new Browser(), A, { idp: env.idp, account: 'vera', next: '' });
  assert.equal(r.location, '/admin/', 'no next: the console');
});

test('roles come from the groups claim through AIHUB_OIDC_ROLE_MAP (else viewer)', async () => {
  for (const [account, role] of [['ada', 'admin'], ['otto', 'operator'], ['vera', 'viewer'], ['nobody', 'viewer']]) {
    const b = await signedIn(account);
    assert.equal((await call(b, A, 'GET', '/api/me')).body.role, role, account);
  }
});

test('AIHUB_OIDC_DEFAULT_ROLE=none refuses people in no mapped group', async () => {
  const { node, url } = await env.extraNode({ AIHUB_OIDC_DEFAULT_ROLE: 'none' });
  try {
    const r = await signIn(new Browser(), url, { idp: env.idp, account: 'nobody' });
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'no_role');
    assert.ok(!r.res.setCookies.some((c) => c.name === 'aihub_session'), 'no session cookie');
    const ok = await signIn(new Browser(), url, { idp: env.idp, account: 'vera' });
    assert.equal(ok.status, 302);
  } finally {
    await node.stop();
    env.s.nodes.splice(env.s.nodes.indexOf(node), 1);
  }
});

test('the callback refuses a missing, foreign or replayed sign-in state, and the provider\'s errors', async () => {
  const b = new Browser();
  const r1 = await b.fetch(`${A}/auth/callback?code=abc&state=${'x'.repeat(32)}`);
  assert.equal(r1.status, 400);
  assert.equal((await r1.json()).error.code, 'login_state_invalid');
  const r2 = await b.fetch(`${A}/auth/callback?code=abc`);
  assert.equal(r2.status, 400);
  const r3 = await b.fetch(`${A}/auth/callback?error=access_denied&error_description=User+said+no&state=abc`);
  assert.equal(r3.status, 401);
  const e3 = (await r3.json()).error;
  assert.equal(e3.code, 'idp_refused');
  assert.match(e3.message, /access_denied: User said no/);
  // a real sign-in, then its callback URL replayed: the state cookie is gone and the code spent
  const done = await signIn(b, A, { idp: env.idp, account: 'vera' });
  assert.equal(done.status, 302);
  const replay = await b.fetch(done.hops.at(-1));
  assert.equal(replay.status, 400);
  // the same callback from another browser (no state cookie): refused
  const stolen = await new Browser().fetch(done.hops.at(-1));
  assert.equal(stolen.status, 400);
});

test('refresh rotates the refresh token; reusing an old one revokes the whole session', async () => {
  const b = await signedIn('otto');
  const sid = (await call(b, A, 'GET', '/api/me')).body.session_id;
  const rt0 = b.get(A, 'aihub_refresh');
  const tok0 = b.get(A, 'aihub_session');
  const r1 = await call(b, A, 'POST', '/auth/refresh');
  assert.equal(r1.status, 200, JSON.stringify(r1.body));
  assert.deepEqual(r1.body, { session_id: sid, role: 'operator', expires_in: 900 });
  const rt1 = b.get(A, 'aihub_refresh');
  assert.notEqual(rt1, rt0);
  assert.ok(b.get(A, 'aihub_session'), 'a new session token');
  // a second tab still holding rt0 a moment later: "stale", not a theft (409, nothing ends)
  const tab = new Browser();
  tab.cookies = b.cookies.map((c) => (c.name === 'aihub_refresh' ? { ...c, value: rt0 } : c));
  const stale = await call(tab, A, 'POST', '/auth/refresh');
  assert.equal(stale.status, 409);
  assert.equal(stale.body.error.code, 'refresh_conflict');
  assert.equal((await call(b, A, 'GET', '/api/me')).status, 200);
  // rotate again; now rt0 is two generations old: whoever presents it is not the owner
  assert.equal((await call(b, A, 'POST', '/auth/refresh')).status, 200);
  const rt2 = b.get(A, 'aihub_refresh');
  const thief = new Browser();
  thief.cookies = b.cookies.map((c) => (c.name === 'aihub_refresh' ? { ...c, value: rt0 } : c));
  const reuse = await call(thief, A, 'POST', '/auth/refresh');
  assert.equal(reuse.status, 401);
  assert.equal(reuse.body.error.code, 'session_revoked');
  // the family is dead: the owner's current session token and refresh token too, on every node
  const me = await call(b, A, 'GET', '/api/me');
  assert.equal(me.status, 401);
  assert.equal(me.body.error.code, 'session_revoked');
  assert.equal((await call(replayTo(b, B), B, 'GET', '/api/me')).status, 401);
  assert.equal((await call(b, A, 'POST', '/auth/refresh')).status, 401, `current token ${rt2.slice(0, 8)}... refused too`);
  assert.equal(await env.s.redis.client.hget(`ah:sess:${sid}`, 'revoked_reason'), 'refresh_reuse');
  // an old session token with a valid signature is refused as well
  const old = new Browser();
  old.cookies = [{ origin: new URL(A).origin, name: 'aihub_session', value: tok0, path: '/' }];
  assert.equal((await call(old, A, 'GET', '/api/me')).status, 401);
});

test('two tabs refreshing at the same moment: one wins, the other is told to retry, nothing is revoked', async () => {
  const b = await signedIn('otto');
  const tab2 = new Browser();
  tab2.cookies = b.cookies.map((c) => ({ ...c }));
  const [r1, r2] = await Promise.all([call(b, A, 'POST', '/auth/refresh'), call(tab2, A, 'POST', '/auth/refresh')]);
  const statuses = [r1.status, r2.status].sort();
  assert.deepEqual(statuses, [200, 409], JSON.stringify([r1.body, r2.body]));
  const loser = r1.status === 409 ? r1 : r2;
  assert.match(loser.body.error.code, /^refresh_(in_progress|conflict)$/);
  const winner = r1.status === 200 ? b : tab2;
  assert.equal((await call(winner, A, 'GET', '/api/me')).status, 200);
  // the provider's grant survived (no double use of its refresh token): the next refresh works
  assert.equal((await call(winner, A, 'POST', '/auth/refresh')).status, 200);
});

test('refresh needs the CSRF token and a refresh cookie', async () => {
  const b = await signedIn('vera');
  const noCsrf = await call(b, A, 'POST', '/auth/refresh', undefined, { csrf: false });
  assert.equal(noCsrf.status, 403);
  assert.equal(noCsrf.body.error.code, 'csrf_failed');
  const bare = await call(new Browser(), A, 'POST', '/auth/refresh');
  assert.equal(bare.status, 401);
  assert.equal((await call(b, A, 'POST', '/auth/refresh')).status, 200);
});

test('a role lowered at the provider takes effect at the next refresh', async () => {
  const b = await signedIn('lowered');
  assert.equal((await call(b, A, 'GET', '/api/me')).body.role, 'admin');
  const tokenCalls = env.idp.stats.token;
  env.idp.setAccount('lowered', { groups: ['aihub-viewers'] });
  // until the refresh the session keeps its role
  const before = await call(b, A, 'POST', '/api/users', { name: `low-${Date.now()}` });
  assert.equal(before.status, 201, JSON.stringify(before.body));
  const r = await call(b, A, 'POST', '/auth/refresh');
  assert.equal(r.status, 200);
  assert.equal(r.body.role, 'viewer');
  assert.equal(env.idp.stats.token, tokenCalls + 1, "the node asked the provider with its refresh token");
  assert.equal((await call(b, A, 'GET', '/api/me')).body.role, 'viewer');
  const afterw = await call(b, A, 'POST', '/api/users', { name: `low2-${Date.now()}` });
  assert.equal(afterw.status, 403);
  // on the other node at once as well: the role lives in Redis
  assert.equal((await call(replayTo(b, B), B, 'GET', '/api/me')).body.role, 'viewer');
  // and raised again
  env.idp.setAccount('lowered', { groups: ['aihub-operators'] });
  assert.equal((await call(b, A, 'POST', '/auth/refresh')).body.role, 'operator');
});

test('a person removed at the provider loses the session at the next refresh', async () => {
  const b = await signedIn('leaver');
  env.idp.removeAccount('leaver');
  const r = await call(b, A, 'POST', '/auth/refresh');
  assert.equal(r.status, 401);
  assert.equal(r.body.error.code, 'session_revoked');
  assert.equal((await call(b, A, 'GET', '/api/me')).status, 401);
  env.idp.setAccount('leaver', { groups: ['aihub-operators'] });
});

test('logout ends the session on every node and gives the provider\'s end-session URL', async () => {
  const b = await signedIn('vera');
  const onB = replayTo(b, B);
  assert.equal((await call(onB, B, 'GET', '/api/me')).status, 200, 'the session works on node B');
  const noCsrf = await call(b, A, 'POST', '/auth/logout', undefined, { csrf: false });
  assert.equal(noCsrf.status, 403);
  const out = await call(b, A, 'POST', '/auth/logout');
  assert.equal(out.status, 200);
  const end = new URL(out.body.end_session_url);
  assert.equal(end.origin, env.idp.issuer);
  assert.equal(end.searchParams.get('client_id'), env.idp.clientId);
  assert.equal(end.searchParams.get('post_logout_redirect_uri'), `${A}/admin/`);
  const cleared = Object.fromEntries(out.res.setCookies.map((c) => [c.name, c.attrs['max-age']]));
  assert.deepEqual(cleared, { aihub_session: '0', aihub_refresh: '0', aihub_csrf: '0' });
  const again = await call(onB, B, 'GET', '/api/me');
  assert.equal(again.status, 401);
  assert.equal(again.body.error.code, 'session_revoked');
  // logging out with nothing is fine
  assert.equal((await call(new Browser(), A, 'POST', '/auth/logout')).status, 200);
});

test('devices: listed, one ended remotely (refused by the other node at its next request), all others ended', async () => {
  const laptop = await signedIn('twodev');
  const phone = await signedIn('twodev');
  const tablet = await signedIn('twodev');
  const laptopSid = (await call(laptop, A, 'GET', '/api/me')).body.session_id;
  const list = await call(phone, A, 'GET', '/api/sessions');
  assert.equal(list.status, 200);
  assert.equal(list.body.data.length, 3);
  const mine = list.body.data.find((x) => x.current);
  assert.equal(mine.id, (await call(phone, A, 'GET', '/api/me')).body.session_id);
  for (const row of list.body.data) {
    for (const k of ['id', 'created_at', 'last_seen_at', 'user_agent', 'ip', 'current']) assert.ok(k in row, k);
    assert.equal(row.ip, '127.0.0.1');
  }
  // another person's session cannot be ended
  const vera = await signedIn('vera');
  const foreign = await call(vera, A, 'DELETE', `/api/sessions/${laptopSid}`);
  assert.equal(foreign.status, 404);
  // the laptop is in use on node B; the phone ends it through node A
  const laptopOnB = replayTo(laptop, B);
  assert.equal((await call(laptopOnB, B, 'GET', '/api/channels')).status, 200);
  const del = await call(phone, A, 'DELETE', `/api/sessions/${laptopSid}`);
  assert.deepEqual(del.body, { id: laptopSid, deleted: true });
  const refused = await call(laptopOnB, B, 'GET', '/api/channels');
  assert.equal(refused.status, 401, 'node B refuses it at the very next request');
  assert.equal(refused.body.error.code, 'session_revoked');
  assert.equal((await call(phone, A, 'GET', '/api/sessions')).body.data.length, 2);
  // all but this one
  const rest = await call(phone, A, 'DELETE', '/api/sessions');
  assert.deepEqual(rest.body, { deleted: 1 });
  assert.equal((await call(tablet, A, 'GET', '/api/me')).status, 401);
  assert.equal((await call(phone, A, 'GET', '/api/me')).status, 200);
  assert.deepEqual((await call(phone, A, 'GET', '/api/sessions')).body.data.map((x) => x.current), [true]);
  // the admin key has no sessions of its own but may end anyone's
  const key = await env.s.admin('GET', '/api/sessions');
  assert.deepEqual(key.body, { data: [], next: null });
  const phoneSid = (await call(phone, A, 'GET', '/api/me')).body.session_id;
  assert.equal((await env.s.admin('DELETE', `/api/sessions/${phoneSid}`)).status, 200);
  assert.equal((await call(phone, A, 'GET', '/api/me')).status, 401);
});

test('CSRF: state-changing calls with the session cookie need X-CSRF-Token; the admin key does not', async () => {
  const b = await signedIn('ada');
  const name = `csrf-${Date.now()}`;
  const none = await call(b, A, 'POST', '/api/users', { name }, { csrf: false });
  assert.equal(none.status, 403);
  assert.equal(none.body.error.code, 'csrf_failed');
  const wrong = await call(b, A, 'POST', '/api/users', { name }, { csrf: false, headers: { 'x-csrf-token': 'A'.repeat(43) } });
  assert.equal(wrong.status, 403);
  // another session's token does not fit this session
  const other = await signedIn('ada');
  const foreign = await call(b, A, 'POST', '/api/users', { name }, { csrf: false, headers: { 'x-csrf-token': other.get(A, 'aihub_csrf') } });
  assert.equal(foreign.status, 403);
  const users = await env.s.admin('GET', '/api/users?limit=1000');
  assert.ok(!users.body.data.some((u) => u.name === name), 'nothing was created');
  assert.equal((await call(b, A, 'GET', '/api/users', undefined, { csrf: false })).status, 200, 'reads need no token');
  assert.equal((await call(b, A, 'POST', '/api/users', { name })).status, 201);
  assert.equal((await env.s.admin('POST', '/api/users', { name: `${name}-k` })).status, 201);
});

test('forged, tampered and expired session tokens are refused', async () => {
  const b = await signedIn('vera');
  const tok = b.get(A, 'aihub_session');
  const [h, p, sig] = tok.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  const with_ = (value) => { const x = new Browser(); x.cookies = [{ origin: new URL(A).origin, name: 'aihub_session', value, path: '/' }]; return x; };
  const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'ada' })).toString('base64url')}.${sig}`;
  assert.equal((await call(with_(tampered), A, 'GET', '/api/me')).status, 401);
  assert.equal((await call(with_(`${h}.${p}.`), A, 'GET', '/api/me')).status, 401);
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`;
  assert.equal((await call(with_(none), A, 'GET', '/api/me')).status, 401);
  // tokens signed with the key the nodes derive from AIHUB_SECRET_KEY: HMAC-SHA256(secret, label)
  const key = createHmac('sha256', Buffer.from(env.s.secret, 'hex')).update('aihub console session token v1').digest();
  const mint = (c) => {
    const hh = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url');
    const pp = Buffer.from(JSON.stringify(c)).toString('base64url');
    return `${hh}.${pp}.${createHmac('sha256', key).update(`${hh}.${pp}`).digest('base64url')}`;
  };
  const now = Math.floor(Date.now() / 1000);
  assert.equal((await call(with_(mint({ ...claims, iat: now - 5 })), A, 'GET', '/api/me')).status, 200, 'the derivation is as documented');
  const expired = await call(with_(mint({ ...claims, iat: now - 2000, exp: now - 1000 })), A, 'GET', '/api/me');
  assert.equal(expired.status, 401);
  assert.equal(expired.body.error.code, 'session_expired');
  // a valid signature over a session that does not exist: Redis says no
  const ghost = await call(with_(mint({ ...claims, jti: 'ses_doesnotexist000000000000' })), A, 'GET', '/api/me');
  assert.equal(ghost.status, 401);
  const wrongAud = await call(with_(mint({ ...claims, aud: 'something-else' })), A, 'GET', '/api/me');
  assert.equal(wrongAud.status, 401);
});

test('JWKS rotation at the provider is picked up without a restart', async () => {
  const b1 = await signedIn('vera');
  assert.ok(b1);
  const fetched = env.idp.stats.jwks;
  const oldKid = env.idp.kids()[0];
  const newKid = await env.idp.rotateKeys({ keep: false });
  assert.notEqual(newKid, oldKid);
  await sleep(1100); // AIHUB_OIDC_JWKS_MIN_REFRESH_S=1 in this suite
  const b2 = await signedIn('vera');
  assert.equal((await call(b2, A, 'GET', '/api/me')).status, 200);
  assert.ok(env.idp.stats.jwks > fetched, 'the unknown kid made the node fetch the key set again');
  // to ES256, too
  await env.idp.rotateKeys({ alg: 'ES256', keep: false });
  await sleep(1100);
  const b3 = await signedIn('otto');
  assert.equal((await call(b3, A, 'GET', '/api/me')).body.role, 'operator');
  // sessions from before the rotation are the node's own: unaffected
  assert.equal((await call(b1, A, 'GET', '/api/me')).status, 200);
});

test('/admin/ sends a browser that is not signed in to /auth/login, and back', async () => {
  const r = await new Browser().fetch(`${A}/admin/`);
  assert.equal(r.status, 302);
  assert.equal(r.headers.get('location'), '/auth/login?next=%2Fadmin%2F');
  const deep = await new Browser().fetch(`${A}/admin/users?page=2`);
  assert.equal(deep.headers.get('location'), `/auth/login?next=${encodeURIComponent('/admin/users?page=2')}`);
  const asset = await new Browser().fetch(`${A}/admin/assets/app.js`);
  assert.notEqual(asset.status, 302, 'assets are not gated');
  const b = await signedIn('vera');
  const page = await b.fetch(`${A}/admin/`);
  assert.notEqual(page.status, 302, 'signed in: the console itself (200, or 404 when it is not built)');
  // API calls are never redirected
  const api = await new Browser().fetch(`${A}/api/channels`);
  assert.equal(api.status, 401);
});

test('a session\'s write is in the audit log with its actor, role and how it got in', async () => {
  const b = await signedIn('otto');
  const ch = await call(b, A, 'POST', '/api/channels', { name: `aud-${Date.now()}`, type: 'openai', base_url: 'https://api.openai.com/v1', models: ['gpt-4o'] });
  assert.equal(ch.status, 201, JSON.stringify(ch.body));
  // the audit entry is written after the response (not waited for), possibly from another worker's connection
  let log;
  await waitFor(async () => {
    log = await call(b, A, 'GET', `/api/audit?target=${ch.body.id}`);
    return log.status === 200 && log.body.data.length !== 0;
  }, { what: 'the audit entry of the write' });
  assert.equal(log.body.data.length, 1);
  const e = log.body.data[0];
  assert.equal(e.actor, 'otto@example.com');
  assert.equal(e.sub, 'otto');
  assert.equal(e.role, 'operator');
  assert.equal(e.via, 'session');
  assert.equal(e.action, 'POST /api/channels');
  assert.equal(e.status, 201);
  assert.equal(e.summary.name, ch.body.name);
});

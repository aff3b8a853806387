// ID token validation end to end: a scriptable provider (tests/lib/idp.mjs,
// startFakeIdp) answers the node's token endpoint call with a crafted ID
// token, so every bad case goes through the real callback: alg none, HS256
// signed with the provider's public key, an unknown kid, a wrong issuer or
// audience, expired, not yet valid, issued in the future, a tampered
// payload, a wrong or missing nonce. Each must be refused with no session
// created. Also: the key set is refetched on an unknown kid at most once per
// AIHUB_OIDC_JWKS_MIN_REFRESH_S, groups come from userinfo when the ID token
// has none, and the provider's own refusals.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { Browser, signIn, startSignInStack } from '../lib/idp.mjs';
import { sleep } from '../lib/stack.mjs';

let env;
let A;
let fake;

before(async () => {
  env = await startSignInStack({ fake: true, env: { AIHUB_OIDC_JWKS_MIN_REFRESH_S: '2', AIHUB_OIDC_SCOPES: 'openid email' } });
  [A] = env.urls;
  fake = env.idp;
});
after(async () => { await env?.stop(); });

const sessions = async () => (await env.s.redis.client.keys('ah:sess:*')).filter((k) => !k.endsWith(':rt')).length;

/** a sign-in whose token endpoint answers with build(ctx) (ctx: the authorization request's nonce...) */
async function attempt(build) {
  fake.tokenResponse = async (ctx) => ({ id_token: build(ctx) });
  try {
    return await signIn(new Browser(), A);
  } finally {
    fake.tokenResponse = null;
  }
}

test('a valid RS256 or ES256 ID token signs in (the baseline for the bad cases)', async () => {
  const n = await sessions();
  const r = await attempt((ctx) => fake.sign(fake.claims(ctx)));
  assert.equal(r.status, 302, JSON.stringify(r.body));
  const e = await attempt((ctx) => fake.sign(fake.claims(ctx), { alg: 'ES256' }));
  assert.equal(e.status, 302, JSON.stringify(e.body));
  const aud = await attempt((ctx) => fake.sign(fake.claims(ctx, { aud: [fake.clientId, 'other-api'], azp: fake.clientId })));
  assert.equal(aud.status, 302, JSON.stringify(aud.body));
  assert.equal(await sessions(), n + 3);
});

const now = () => Math.floor(Date.now() / 1000);
const rsaPem = () => fake.keys.rsa.publicKey.export({ format: 'pem', type: 'spki' });
const BAD = [
  ['alg none', (ctx) => fake.sign(fake.claims(ctx), { alg: 'none', kid: 'fake-rsa' }), /RS256 or ES256/],
  ['HS256 signed with the RSA public key (PEM)', (ctx) => fake.sign(fake.claims(ctx), { alg: 'HS256', key: rsaPem(), kid: 'fake-rsa' }), /RS256 or ES256/],
  ['HS256 signed with the RSA public key, no kid', (ctx) => fake.sign(fake.claims(ctx), { alg: 'HS256', key: rsaPem(), kid: null }), /RS256 or ES256/],
  ['unknown kid', (ctx) => fake.sign(fake.claims(ctx), { kid: 'rotated-away', key: fake.keys.other.privateKey }), /kid/],
  ['a known kid, another key', (ctx) => fake.sign(fake.claims(ctx), { kid: 'fake-rsa', key: fake.keys.other.privateKey }), /signature/],
  ['RS256 naming the EC key', (ctx) => fake.sign(fake.claims(ctx), { alg: 'RS256', kid: 'fake-ec' }), /algorithm/],
  ['wrong iss', (ctx) => fake.sign(fake.claims(ctx, { iss: 'http://127.0.0.1:1' })), /issuer/],
  ['wrong aud', (ctx) => fake.sign(fake.claims(ctx, { aud: 'another-client' })), /audience/],
  ['several audiences, no azp', (ctx) => fake.sign(fake.claims(ctx, { aud: [fake.clientId, 'x'] })), /audience/],
  ['expired', (ctx) => fake.sign(fake.claims(ctx, { exp: now() - 120, iat: now() - 600 })), /expired/],
  ['not yet valid (nbf)', (ctx) => fake.sign(fake.claims(ctx, { nbf: now() + 600 })), /not yet valid/],
  ['issued in the future (iat)', (ctx) => fake.sign(fake.claims(ctx, { iat: now() + 600 })), /future/],
  ['tampered payload', (ctx) => {
    const [h, , s] = fake.sign(fake.claims(ctx)).split('.');
    return `${h}.${Buffer.from(JSON.stringify(fake.claims(ctx, { sub: 'root', groups: ['aihub-admins'] }))).toString('base64url')}.${s}`;
  }, /signature/],
  ['bad nonce', (ctx) => fake.sign(fake.claims(ctx, { nonce: 'not-the-one-sent' })), /nonce/],
  ['missing nonce', (ctx) => fake.sign({ ...fake.claims(ctx), nonce: undefined }), /nonce/],
  ['no sub', (ctx) => fake.sign({ ...fake.claims(ctx), sub: undefined }), /claim/],
  ['not a JWT', () => 'not.a.jwt', /malformed/],
];

for (const [name, build, why] of BAD) {
  test(`refused at the callback: ${name}`, async () => {
    const n = await sessions();
    const r = await attempt(build);
    assert.equal(r.status, 401, JSON.stringify(r.body));
    assert.equal(r.body.error.code, 'invalid_id_token');
    assert.match(r.body.error.message, why);
    assert.ok(!r.res.setCookies.some((c) => c.name === 'aihub_session' && c.value), 'no session cookie');
    assert.equal(await sessions(), n, 'no session created');
  });
}

test('an unknown kid refetches the key set at most once per AIHUB_OIDC_JWKS_MIN_REFRESH_S, and a rotated key is then accepted', async () => {
  await sleep(2100);
  const rotated = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const withNewKey = (ctx) => fake.sign(fake.claims(ctx), { kid: 'fake-rsa-2', key: rotated.privateKey });
  const f0 = fake.stats.jwks;
  assert.equal((await attempt(withNewKey)).status, 401);
  assert.equal(fake.stats.jwks, f0 + 1, 'the unknown kid made one fetch');
  for (let i = 0; i < 3; i++) assert.equal((await attempt(withNewKey)).status, 401);
  assert.equal(fake.stats.jwks, f0 + 1, 'and no more within the interval');
  // the provider publishes the new key; after the interval the next unknown kid fetches it
  fake.jwks.keys.push({ ...rotated.publicKey.export({ format: 'jwk' }), kid: 'fake-rsa-2', use: 'sig', alg: 'RS256' });
  await sleep(2100);
  const ok = await attempt(withNewKey);
  assert.equal(ok.status, 302, JSON.stringify(ok.body));
  assert.equal(fake.stats.jwks, f0 + 2);
  // known kids need no fetch at all
  assert.equal((await attempt(withNewKey)).status, 302);
  assert.equal((await attempt((ctx) => fake.sign(fake.claims(ctx)))).status, 302);
  assert.equal(fake.stats.jwks, f0 + 2);
});

test('groups missing from the ID token are taken from userinfo (same subject only)', async () => {
  const url = A;
  fake.userinfo = { sub: 'fake-user', groups: ['aihub-admins'], name: 'From Userinfo' };
  const before = fake.stats.userinfo;
  const b = new Browser();
  fake.tokenResponse = async (ctx) => ({ id_token: fake.sign({ ...fake.claims(ctx), groups: undefined }) });
  const r = await signIn(b, url);
  fake.tokenResponse = null;
  assert.equal(r.status, 302, JSON.stringify(r.body));
  assert.equal(fake.stats.userinfo, before + 1);
  const me = await b.fetch(`${A}/api/me`);
  const body = await me.json();
  assert.equal(body.role, 'admin');
  assert.equal(body.name, 'From Userinfo');
  // userinfo for another subject is ignored: the default role
  fake.userinfo = { sub: 'someone-else', groups: ['aihub-admins'] };
  const b2 = new Browser();
  fake.tokenResponse = async (ctx) => ({ id_token: fake.sign({ ...fake.claims(ctx), groups: undefined }) });
  assert.equal((await signIn(b2, url)).status, 302);
  fake.tokenResponse = null;
  assert.equal((await (await b2.fetch(`${A}/api/me`)).json()).role, 'viewer');
  fake.userinfo = { sub: 'fake-user', groups: [] };
});

test('the provider\'s refusals: an error at the token endpoint, no ID token', async () => {
  fake.tokenResponse = async () => ({ id_token: undefined });
  const r = await signIn(new Browser(), A);
  assert.equal(r.status, 502);
  assert.equal(r.body.error.code, 'idp_error');
  fake.tokenResponse = null;
  // a code the provider does not know (here: spent) is invalid_grant
  const b = new Browser();
  const login = await b.fetch(`${A}/auth/login`);
  const authz = await b.fetch(login.headers.get('location'));
  const cb = new URL(authz.headers.get('location'));
  cb.searchParams.set('code', 'forged-code');
  const res = await b.fetch(cb.toString());
  assert.equal(res.status, 401);
  assert.equal((await res.json()).error.code, 'invalid_grant');
});

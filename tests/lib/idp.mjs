// Identity providers for the console's sign-in tests, and a browser without
// a browser.
//
//   const idp = await startIdp({ redirectUris: [`${nodeUrl}/auth/callback`] });
//   idp.setAccount('alice', { email, name, groups: ['aihub-admins'] });
//   const b = new Browser();
//   const r = await signIn(b, nodeUrl, { idp, account: 'alice' });  // follows every redirect
//   await idp.rotateKeys();                                         // a new signing key, same issuer
//   await idp.stop();
//
// startIdp runs the real, certified OpenID Provider from npm (oidc-provider,
// panva) on a free 127.0.0.1 port: authorization code with PKCE, refresh
// tokens (offline_access), RS256 or ES256 ID tokens, discovery, JWKS,
// userinfo and end_session. Its interaction is a test stand-in for a login
// form: GET /interaction/<uid> signs in the account chosen with
// setAccount/nextAccount and grants what the client asked for.
//
// startFakeIdp is a scriptable provider of a few dozen lines for what a real
// one never does: it answers the token endpoint with whatever ID token the
// test builds (alg none, HS256 with the public key, an unknown kid, a wrong
// issuer...), so each bad case reaches the node's callback for real.

import { createHash, createHmac, createSign, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';
import { freePort } from './redis.mjs';

const b64u = (buf) => Buffer.from(buf).toString('base64url');

// ------------------------------------------------------------------ browser

/** A cookie jar and fetch without automatic redirects, as a browser would keep per profile. */
export class Browser {
  constructor() { this.cookies = []; } // {origin, name, value, path}

  /** Cookies for url as a Cookie header value. */
  cookieHeader(url) {
    const u = new URL(url);
    return this.cookies.filter((c) => c.origin === u.origin && u.pathname.startsWith(c.path))
      .map((c) => `${c.name}=${c.value}`).join('; ');
  }

  /** The value of cookie name set by origin (any path), or undefined. */
  get(origin, name) { return this.cookies.find((c) => c.origin === new URL(origin).origin && c.name === name)?.value; }

  /** Every Set-Cookie of a response, parsed (with attributes) and stored. */
  store(url, res) {
    const origin = new URL(url).origin;
    const set = [];
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const c = { origin, name: pair.slice(0, eq), value: pair.slice(eq + 1), path: '/', attrs: {} };
      for (const a of attrs) {
        const [k, v = true] = a.split('=');
        c.attrs[k.toLowerCase()] = v;
      }
      if (c.attrs.path) c.path = c.attrs.path;
      set.push(c);
      this.cookies = this.cookies.filter((o) => !(o.origin === origin && o.name === c.name && o.path === c.path));
      if (c.attrs['max-age'] !== '0' && c.value !== '') this.cookies.push(c);
    }
    return set;
  }

  /** fetch with the jar's cookies; returns the response (not followed) with its parsed set-cookies in res.setCookies. */
  async fetch(url, { method = 'GET', headers = {}, body } = {}) {
    const cookie = this.cookieHeader(url);
    const res = await fetch(url, {
      method, body, redirect: 'manual', headers: { ...(cookie ? { cookie } : {}), ...headers },
    });
    res.setCookies = this.store(url, res);
    return res;
  }
}

/**
 * The whole sign-in through the node: GET /auth/login, every redirect to and
 * within the provider (its interaction signs in `account`), back to
 * /auth/callback. Returns {res (the callback's response), hops (urls), body}.
 * Stops at the first response that is not a redirect, or at the node's
 * callback.
 */
export async function signIn(browser, nodeUrl, { idp, account, next = '/admin/', maxHops = 20 } = {}) {
  if (idp && account) idp.nextAccount = account;
  let url = `${nodeUrl}/auth/login?next=${encodeURIComponent(next)}`;
  const hops = [];
  for (let i = 0; i < maxHops; i++) {
    hops.push(url);
    const res = await browser.fetch(url);
    const atCallback = url.startsWith(`${nodeUrl}/auth/callback`);
    const loc = res.headers.get('location');
    if (atCallback || !loc || res.status < 300 || res.status >= 400) {
      const text = await res.text();
      let body;
      try { body = JSON.parse(text); } catch { body = text; }
      return { res, status: res.status, hops, body, location: loc };
    }
    await res.arrayBuffer();
    url = new URL(loc, url).toString();
  }
  throw new Error(`sign-in did not finish in ${maxHops} hops: ${hops.join(' -> ')}`);
}

// ------------------------------------------------------------ oidc-provider

function signingKey(alg, kid) {
  const kp = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...kp.privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}

/**
 * The real OpenID Provider on a free port. Options: clientId, clientSecret,
 * redirectUris, postLogoutRedirectUris, alg ('RS256' or 'ES256'),
 * idTokenTtl, refreshTokenTtl, accessTokenTtl (seconds). Returns
 * {issuer, port, clientId, clientSecret, accounts, setAccount(id, claims),
 *  nextAccount, rotateKeys({alg}), kids(), provider, stats, stop()}.
 */
export async function startIdp({
  clientId = 'aihub-console', clientSecret = `cs-${randomBytes(12).toString('hex')}`, redirectUris = [],
  postLogoutRedirectUris = [], alg = 'RS256', idTokenTtl = 3600, accessTokenTtl = 3600, refreshTokenTtl = 86400,
} = {}) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const accounts = new Map();
  const stats = { token: 0, jwks: 0, userinfo: 0, discovery: 0 };
  const cookieKeys = [randomBytes(16).toString('hex')];
  const state = { nextAccount: undefined, keys: [signingKey(alg, `k-${randomUUID().slice(0, 8)}`)] };

  const build = () => new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: redirectUris,
      post_logout_redirect_uris: postLogoutRedirectUris,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: state.keys[0].alg,
    }],
    jwks: { keys: state.keys },
    cookies: { keys: cookieKeys },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    conformIdTokenClaims: false, // the ID token carries the granted scopes' claims (groups), as most IdPs do
    features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    ttl: { IdToken: idTokenTtl, AccessToken: accessTokenTtl, RefreshToken: refreshTokenTtl, Grant: refreshTokenTtl, Session: 86400, Interaction: 600 },
    rotateRefreshToken: true,
    findAccount: async (ctx, id) => {
      if (!accounts.has(id)) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...accounts.get(id) }) };
    },
    renderError: async (ctx, out) => { ctx.type = 'json'; ctx.body = out; },
  });
  let provider = build();
  provider.proxy = false;

  // the stand-in for a login form: sign in nextAccount, grant everything asked
  async function interaction(req, res) {
    const p = provider;
    const details = await p.interactionDetails(req, res);
    const { prompt, params, session, grantId } = details;
    if (prompt.name === 'login') {
      const id = state.nextAccount;
      if (!id || !accounts.has(id)) {
        res.statusCode = 400;
        res.end(`no test account chosen (nextAccount=${id})`);
        return;
      }
      await p.interactionFinished(req, res, { login: { accountId: id } }, { mergeWithLastSubmission: false });
      return;
    }
    const grant = grantId ? await p.Grant.find(grantId) : new p.Grant({ accountId: session.accountId, clientId: params.client_id });
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    if (d.missingResourceScopes) {
      for (const [indicator, scope] of Object.entries(d.missingResourceScopes)) grant.addResourceScope(indicator, scope.join(' '));
    }
    await p.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
  }

  const server = http.createServer((req, res) => {
    const path = req.url.split('?')[0];
    if (path === '/token') stats.token++;
    else if (path === '/jwks') stats.jwks++;
    else if (path === '/me') stats.userinfo++;
    else if (path === '/.well-known/openid-configuration') stats.discovery++;
    if (path.startsWith('/interaction/')) {
      interaction(req, res).catch((e) => { res.statusCode = 500; res.end(String(e?.stack || e)); });
      return;
    }
    provider.callback()(req, res);
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));

  return {
    issuer,
    port,
    clientId,
    clientSecret,
    accounts,
    stats,
    get provider() { return provider; },
    get nextAccount() { return state.nextAccount; },
    set nextAccount(id) { state.nextAccount = id; },
    /** creates or replaces a test account's claims ({email, name, groups}) */
    setAccount(id, claims = {}) { accounts.set(id, { email: `${id}@example.com`, email_verified: true, name: id, groups: [], ...claims }); },
    /** the kids published now, newest first */
    kids() { return state.keys.map((k) => k.kid); },
    /**
     * Rotates the signing key without a restart of anything: a new key signs
     * from now on; the old one stays published (keep = true) or is dropped.
     */
    async rotateKeys({ alg: nextAlg = state.keys[0].alg, keep = true } = {}) {
      const key = signingKey(nextAlg, `k-${randomUUID().slice(0, 8)}`);
      state.keys = keep ? [key, ...state.keys] : [key];
      provider = build(); // same issuer, clients, cookie keys and (module-level) grant storage
      provider.proxy = false;
      return key.kid;
    },
    /** removes an account: its refresh tokens stop working (invalid_grant), as when a person leaves */
    removeAccount(id) { accounts.delete(id); },
    stop: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

// ------------------------------------------------------------------ fake IdP

/**
 * A scriptable provider: discovery, /authorize (redirects straight back
 * with a code), /token (checks the client's Basic credentials and the PKCE
 * verifier, then answers with idToken({nonce, claims, sign}) or whatever
 * tokenResponse returns), /jwks (counted), /userinfo. Keys: one RS256 key
 * (kid "fake-rsa") and one ES256 key (kid "fake-ec").
 */
export async function startFakeIdp({ clientId = 'aihub-console', clientSecret = 'fake-secret' } = {}) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const fake = {
    issuer, port, clientId, clientSecret,
    stats: { token: 0, jwks: 0, authorize: 0, userinfo: 0 },
    keys: { rsa, ec, other },
    jwks: { keys: [{ ...rsa.publicKey.export({ format: 'jwk' }), kid: 'fake-rsa', use: 'sig', alg: 'RS256' },
      { ...ec.publicKey.export({ format: 'jwk' }), kid: 'fake-ec', use: 'sig', alg: 'ES256' }] },
    codes: new Map(), // code -> {nonce, challenge, redirect_uri}
    /** (ctx) => the token endpoint's JSON; default: a valid ID token for sub "fake-user" */
    tokenResponse: null,
    userinfo: { sub: 'fake-user', groups: [] },
    /** claims a valid ID token would carry for this code's nonce */
    claims(ctx, over = {}) {
      const now = Math.floor(Date.now() / 1000);
      return { iss: issuer, sub: 'fake-user', aud: clientId, exp: now + 300, iat: now, nonce: ctx.nonce, email: 'fake@example.com', groups: [], ...over };
    },
    /** a compact JWS: alg RS256 (rsa), ES256 (ec), HS256 (key = Buffer/string), none; header extras; tamper(token) */
    sign(claims, { alg = 'RS256', kid = alg === 'ES256' ? 'fake-ec' : 'fake-rsa', key, header = {} } = {}) {
      const h = b64u(JSON.stringify({ alg, typ: 'JWT', ...(kid ? { kid } : {}), ...header }));
      const p = b64u(JSON.stringify(claims));
      const input = `${h}.${p}`;
      let sig = Buffer.alloc(0);
      if (alg === 'RS256') sig = createSign('SHA256').update(input).sign(key ?? rsa.privateKey);
      else if (alg === 'ES256') sig = createSign('SHA256').update(input).sign({ key: key ?? ec.privateKey, dsaEncoding: 'ieee-p1363' });
      else if (alg === 'HS256') sig = createHmac('sha256', key).update(input).digest();
      return `${input}.${b64u(sig)}`;
    },
  };

  const send = (res, status, obj, headers = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(obj));
  };
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, issuer);
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = new URLSearchParams(Buffer.concat(chunks).toString());
    if (url.pathname === '/.well-known/openid-configuration') {
      return send(res, 200, {
        issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks`,
        userinfo_endpoint: `${issuer}/userinfo`, end_session_endpoint: `${issuer}/logout`,
        id_token_signing_alg_values_supported: ['RS256', 'ES256'], token_endpoint_auth_methods_supported: ['client_secret_basic'],
      });
    }
    if (url.pathname === '/jwks') { fake.stats.jwks++; return send(res, 200, fake.jwks); }
    if (url.pathname === '/authorize') {
      fake.stats.authorize++;
      const q = url.searchParams;
      const code = randomBytes(12).toString('hex');
      fake.codes.set(code, { nonce: q.get('nonce'), challenge: q.get('code_challenge'), redirect_uri: q.get('redirect_uri'), params: Object.fromEntries(q) });
      const back = new URL(q.get('redirect_uri'));
      back.searchParams.set('code', code);
      back.searchParams.set('state', q.get('state'));
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (url.pathname === '/token') {
      fake.stats.token++;
      const auth = req.headers.authorization || '';
      const [id, secret] = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString().split(':').map(decodeURIComponent);
      if (id !== clientId || secret !== clientSecret) return send(res, 401, { error: 'invalid_client' });
      const ctx = fake.codes.get(body.get('code'));
      if (body.get('grant_type') !== 'authorization_code' || !ctx) return send(res, 400, { error: 'invalid_grant' });
      fake.codes.delete(body.get('code'));
      const challenge = b64u(createHash('sha256').update(body.get('code_verifier') || '').digest());
      if (challenge !== ctx.challenge || body.get('redirect_uri') !== ctx.redirect_uri) return send(res, 400, { error: 'invalid_grant', error_description: 'PKCE or redirect_uri mismatch' });
      const out = fake.tokenResponse ? await fake.tokenResponse(ctx) : { id_token: fake.sign(fake.claims(ctx)) };
      return send(res, 200, { access_token: 'fake-at', token_type: 'Bearer', expires_in: 300, ...out });
    }
    if (url.pathname === '/userinfo') { fake.stats.userinfo++; return send(res, 200, fake.userinfo); }
    return send(res, 404, { error: 'not_found' });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  fake.stop = () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); });
  return fake;
}

// ------------------------------------------------------------ stack + IdP

/**
 * redis + mock + `nodes` aihub-nodes configured for sign-in against a real
 * oidc-provider (or the fake one with fake: true). Each node listens on a
 * port chosen up front so its public URL (and the provider's redirect URI)
 * is known before it starts; `spare` more redirect URIs are registered for
 * nodes a test adds later (extraNode()). Returns {s, idp, urls, extraNode(env), stop()}.
 */
export async function startSignInStack({ nodes = 1, spare = 0, env = {}, idp: idpOptions = {}, fake = false } = {}) {
  const { startStack } = await import('./stack.mjs');
  const ports = [];
  for (let i = 0; i < nodes + spare; i++) ports.push(await freePort());
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const idp = fake ? await startFakeIdp(idpOptions)
    : await startIdp({ redirectUris: urls.map((u) => `${u}/auth/callback`), postLogoutRedirectUris: urls.map((u) => `${u}/admin/`), ...idpOptions });
  const common = {
    AIHUB_OIDC_ISSUER: idp.issuer,
    AIHUB_OIDC_CLIENT_ID: idp.clientId,
    AIHUB_OIDC_CLIENT_SECRET: idp.clientSecret,
    AIHUB_OIDC_SCOPES: 'openid email profile groups offline_access',
    AIHUB_OIDC_ROLE_MAP: 'aihub-admins=admin,aihub-operators=operator,aihub-viewers=viewer',
    ...env,
  };
  const at = (i) => ({ AIHUB_LISTEN: `127.0.0.1:${ports[i]}`, AIHUB_PUBLIC_URL: urls[i] });
  const s = await startStack({ nodes: 1, env: { ...common, ...at(0) } });
  for (let i = 1; i < nodes; i++) await s.addNode(at(i));
  let next = nodes;
  return {
    s, idp, urls,
    /** one more node on a spare port, with extra settings */
    async extraNode(extra = {}) {
      if (next >= ports.length) throw new Error('no spare port registered at the provider');
      const i = next++;
      return { node: await s.addNode({ ...at(i), ...extra }), url: urls[i] };
    },
    async stop() {
      try { await s.stop(); } finally { await idp.stop(); }
    },
  };
}

// The admin console signed in through the identity provider, in a real
// browser: Debian's Chromium driven by playwright-core against a real node
// (serving webui/dist at /admin/) and the real OpenID Provider from npm
// (tests/lib/idp.mjs, whose interaction signs the chosen account in without
// a form). A signed-out browser opening /admin/ goes through the provider and
// lands on the dashboard as that person with their role; a channel is created
// with the session cookie and the CSRF token; a second browser signs in as
// the same person, opens "My sessions", sees both and signs the first one
// out; the first browser's next action is refused and it shows sign-in again.
//
// Screenshots go to tests/artifacts/console/sso-*.png (gitignored).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from '../lib/stack.mjs';
import { DIST, artifactsDir, browserMissing, launchBrowser } from '../lib/browser.mjs';
import { startSignInStack } from '../lib/idp.mjs';

const SHOTS = artifactsDir('console');
// this run's screenshots only (console.test.mjs owns the other files in the folder)
for (const f of readdirSync(SHOTS)) if (f.startsWith('sso-')) rmSync(path.join(SHOTS, f), { force: true });

const UA_LAPTOP = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 aihub-e2e-laptop';
const UA_PHONE = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 aihub-e2e-phone';

describe('admin console signed in through the identity provider, in Chromium', () => {
  let env;
  let A; // the node's public URL: the console, /auth/* and /api/* on one origin
  let browser;
  let laptop; // the first browser context
  let phone; // the second one
  let page;
  let shotNo = 0;
  const pageErrors = [];
  const made = {};

  const shot = async (name, p = page) => {
    await p.locator('.loading').first().waitFor({ state: 'detached', timeout: 10_000 }).catch(() => {});
    await p.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    shotNo += 1;
    const file = path.join(SHOTS, `sso-${String(shotNo).padStart(2, '0')}-${name}.png`);
    await p.screenshot({ path: file, fullPage: true });
    return file;
  };
  const heading = (p = page) => p.locator('h1#page-title');
  const nav = async (label, p = page) => {
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label, exact: true }).click();
    await heading(p).first().waitFor();
  };
  const watch = (p) => {
    p.on('pageerror', (e) => pageErrors.push(`${p.url()}: ${e.message}`));
    p.on('console', (m) => {
      // 401s the console handles (the refused session, the refresh that cannot help) are logged by Chromium as resource errors
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(`${p.url()}: console: ${m.text()}`);
    });
  };
  /** every top-level navigation of a page, in order */
  const trackNavigations = (p) => {
    const urls = [];
    p.on('request', (r) => { if (r.isNavigationRequest() && r.frame() === p.mainFrame()) urls.push(r.url()); });
    return urls;
  };
  const newContext = async (userAgent) => {
    const c = await browser.newContext({ viewport: { width: 1366, height: 900 }, colorScheme: 'light', locale: 'en-US', reducedMotion: 'reduce', userAgent });
    c.setDefaultTimeout(10_000);
    return c;
  };

  before(async () => {
    const missing = browserMissing();
    assert.equal(missing, null, `cannot run the browser tests: ${missing}`);
    env = await startSignInStack({ env: { AIHUB_WEBUI_DIR: DIST } });
    [A] = env.urls;
    env.idp.setAccount('ada', { name: 'Ada Admin', groups: ['aihub-admins', 'staff'] });
    env.idp.nextAccount = 'ada';
    browser = await launchBrowser();
    laptop = await newContext(UA_LAPTOP);
    page = await laptop.newPage();
    watch(page);
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await env?.stop();
  });

  it('sends a signed-out browser through the provider to the dashboard, signed in with its role', async () => {
    const hops = trackNavigations(page);
    await page.goto(`${A}/admin/`);
    await heading().filter({ hasText: 'Dashboard' }).waitFor();
    assert.equal(page.url(), `${A}/admin/`, 'back where it started');
    // /admin/ -> /auth/login -> the provider's /auth and its interaction -> /auth/callback -> /admin/
    const paths = hops.map((u) => { const x = new URL(u); return `${x.origin === A ? 'node' : x.origin === env.idp.issuer ? 'idp' : x.origin}${x.pathname}`; });
    assert.equal(paths[0], 'node/admin/');
    assert.equal(paths[1], 'node/auth/login');
    assert.ok(paths.some((p) => p.startsWith('idp/interaction/')), `went through the provider's sign-in: ${paths.join(' -> ')}`);
    const cb = paths.indexOf('node/auth/callback');
    assert.ok(cb > 1 && paths.slice(1, cb).every((p) => p.startsWith('idp/') || p === 'node/auth/login'), `the provider answered the callback: ${paths.join(' -> ')}`);
    assert.equal(paths.at(-1), 'node/admin/');
    assert.ok(!paths.some((p) => p === 'node/admin/login'), 'the sign-in page was never shown');

    // signed in as the provider's user, with the role from the groups
    const whoami = page.locator('.whoami');
    await whoami.getByText('Ada Admin').waitFor();
    assert.equal(await whoami.locator('.badge-role').innerText(), 'admin');
    assert.equal(await whoami.getByText('key', { exact: true }).count(), 0, 'not the admin key');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('aihub.adminKey')), null);
    const cookies = Object.fromEntries((await laptop.cookies(A)).map((c) => [c.name, c]));
    assert.ok(cookies.aihub_session?.httpOnly, 'an HttpOnly session cookie');
    assert.ok(cookies.aihub_csrf && !cookies.aihub_csrf.httpOnly, 'a CSRF cookie the console can read');
    const me = await page.evaluate(async () => (await fetch('/api/me')).json());
    assert.equal(me.sub, 'ada');
    assert.equal(me.role, 'admin');
    assert.equal(me.via, 'session');
    made.laptopSid = me.session_id;
    await page.getByText('Success rate').waitFor();
    await shot('dashboard');
  });

  it('creates a channel with the session cookie and the CSRF token', async () => {
    await nav('Channels');
    await page.getByText('No channels yet').waitFor();
    await page.getByRole('button', { name: '+ New channel' }).click();
    const dlg = page.getByRole('dialog', { name: 'New channel' });
    await dlg.getByLabel('Name').fill('sso-main');
    await dlg.getByLabel('Type').selectOption('openai-compatible');
    await dlg.getByLabel('Base URL').fill(env.s.mock.url);
    await dlg.getByLabel('Models').fill('mock-gpt');
    const posted = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/channels');
    await dlg.getByRole('button', { name: 'Create channel' }).click();
    const res = await posted;
    assert.equal(res.status(), 201);
    const sent = await res.request().allHeaders();
    const csrf = (await laptop.cookies(A)).find((c) => c.name === 'aihub_csrf').value;
    assert.equal(sent['x-csrf-token'], decodeURIComponent(csrf), 'the CSRF cookie echoed in X-CSRF-Token');
    assert.equal(sent['x-admin-key'], undefined, 'no admin key');
    assert.match(sent.cookie || '', /aihub_session=/, 'the session cookie');
    await heading().filter({ hasText: 'sso-main' }).waitFor();
    made.channel = (await env.s.admin('GET', '/api/channels')).body.data.find((c) => c.name === 'sso-main');
    assert.ok(made.channel, 'the channel exists');
    // the audit log names the person and how they got in
    const audit = (await env.s.admin('GET', `/api/audit?target=${made.channel.id}`)).body.data;
    assert.equal(audit.length, 1);
    assert.equal(audit[0].sub, 'ada');
    assert.equal(audit[0].via, 'session');
    assert.equal(audit[0].role, 'admin');
    await shot('channel-created');
  });

  it('a second browser signs in as the same person, sees two sessions and signs the other device out', async () => {
    phone = await newContext(UA_PHONE);
    const p = await phone.newPage();
    watch(p);
    const hops = trackNavigations(p);
    await p.goto(`${A}/admin/sessions`);
    await heading(p).filter({ hasText: 'My sessions' }).waitFor();
    assert.equal(p.url(), `${A}/admin/sessions`, 'the deep link survives the sign-in');
    assert.ok(hops.some((u) => u.startsWith(`${env.idp.issuer}/`)), 'through the provider');
    await p.getByText('Signed in as ada@example.com').waitFor();
    const table = p.getByRole('table', { name: 'My sessions' });
    const rows = table.locator('tbody tr');
    await waitFor(async () => (await rows.count()) === 2, { what: 'two sessions listed' });
    const mine = rows.filter({ hasText: 'this device' });
    assert.equal(await mine.count(), 1);
    assert.match(await mine.locator('.sub').getAttribute('title'), /aihub-e2e-phone$/, 'the user agent in full on hover');
    assert.match(await mine.innerText(), /Chrome on Android/);
    const other = rows.filter({ hasNotText: 'this device' });
    assert.match(await other.locator('.sub').getAttribute('title'), /aihub-e2e-laptop$/);
    assert.match(await other.innerText(), /Chrome on Linux/);
    assert.match(await other.innerText(), /127\.0\.0\.1/);
    await shot('sessions-two', p);

    const ended = p.waitForResponse((r) => r.request().method() === 'DELETE' && new URL(r.url()).pathname === `/api/sessions/${made.laptopSid}`);
    await other.getByRole('button', { name: 'Sign out' }).click();
    const ask = p.getByRole('dialog', { name: 'Are you sure?' });
    await ask.getByText('Sign out this device?').waitFor();
    await ask.getByRole('button', { name: 'Sign out', exact: true }).click();
    const del = await ended;
    assert.equal(del.status(), 200, 'the other device, by its session id');
    await p.locator('.toast', { hasText: 'Session ended' }).first().waitFor();
    await waitFor(async () => (await rows.count()) === 1, { what: 'one session left' });
    assert.equal(await rows.filter({ hasText: 'this device' }).count(), 1);
    await shot('sessions-one', p);
  });

  it('the first browser\'s next action is refused and it shows sign-in again', async () => {
    const seen = [];
    page.on('response', (r) => {
      const u = new URL(r.url());
      if (u.origin === A && (u.pathname.startsWith('/api/') || u.pathname.startsWith('/auth/'))) seen.push(`${r.request().method()} ${u.pathname} ${r.status()}`);
    });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users & keys', exact: true }).click();
    const signIn = page.getByRole('link', { name: 'Sign in with single sign-on' });
    await signIn.waitFor();
    await page.getByRole('alert').filter({ hasText: 'Your session has ended. Please sign in again.' }).waitFor();
    assert.ok(seen.some((s) => /^GET \/api\/users 401$/.test(s)), `the call was refused: ${seen.join(', ')}`);
    assert.ok(seen.some((s) => /^POST \/auth\/refresh 4\d\d$/.test(s)), `and the refresh could not revive it: ${seen.join(', ')}`);
    assert.ok(!seen.some((s) => / 2\d\d$/.test(s) && s.startsWith('GET /api/users')), 'no data was served');
    assert.equal(await page.locator('.whoami').count(), 0, 'the signed-in shell is gone');
    assert.equal(await signIn.getAttribute('href'), `/auth/login?next=${encodeURIComponent('/admin/users')}`);
    await shot('signed-out');
    // the cookie the first browser still holds is refused for writes too
    const write = await page.evaluate(async () => {
      const m = /(?:^|;\s*)aihub_csrf=([^;]*)/.exec(document.cookie);
      const r = await fetch('/api/channels', { method: 'POST', headers: { 'content-type': 'application/json', ...(m ? { 'x-csrf-token': decodeURIComponent(m[1]) } : {}) }, body: JSON.stringify({ name: 'after-signout', type: 'openai-compatible', base_url: 'http://127.0.0.1:9', models: ['x'] }) });
      return r.status;
    });
    assert.equal(write, 401);
    assert.equal((await env.s.admin('GET', '/api/channels')).body.data.filter((c) => c.name === 'after-signout').length, 0);
  });

  it('raised no script errors', () => {
    assert.deepEqual(pageErrors, []);
    console.log(`# screenshots: ${SHOTS}/sso-*.png (${shotNo} files)`);
  });
});

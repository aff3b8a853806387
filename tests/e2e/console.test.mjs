// The admin console (webui/) in a real browser: Debian's Chromium driven by
// playwright-core against redis-server, the mock provider and a real node.
// Signs in with the admin key (console sign-in through an OpenID provider is
// tested once the node has it), then does what an operator does: a channel
// and its accounts, a user with credits and a key shown once, the model map,
// prices and settings, a streamed playground chat that shows up in the live
// log, both themes, Chinese, and a phone-sized screen.
//
// Screenshots of every page go to tests/artifacts/console/ (gitignored).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { startStack, waitFor } from '../lib/stack.mjs';
import { DIST, artifactsDir, browserMissing, consoleSite, launchBrowser } from '../lib/browser.mjs';

const CHUNKS = 24;
rmSync(artifactsDir('console'), { recursive: true, force: true }); // this run's screenshots only
const SHOTS = artifactsDir('console');

describe('admin console in Chromium', () => {
  let stack;
  let site;
  let browser;
  let ctx;
  let page;
  let shotNo = 0;
  const pageErrors = [];
  const made = {}; // what the steps created: channel, user, key ...

  const shot = async (name, p = page, { full = true } = {}) => {
    // wait for data to load and charts to be drawn, so the picture shows the page
    await p.locator('.loading').first().waitFor({ state: 'detached', timeout: 10_000 }).catch(() => {});
    await p.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    shotNo += 1;
    const file = path.join(SHOTS, `${String(shotNo).padStart(2, '0')}-${name}.png`);
    await p.screenshot({ path: file, fullPage: full });
    return file;
  };
  const nav = async (label, p = page) => {
    const menu = p.getByRole('button', { name: /^(Menu|菜单)$/ });
    if (await menu.isVisible()) await menu.click();
    await p.getByRole('navigation', { name: /^(Main|主导航)$/ }).getByRole('link', { name: label, exact: true }).click();
    await p.locator('h1#page-title').first().waitFor();
  };
  const heading = (p = page) => p.locator('h1#page-title');
  const toast = (text, p = page) => p.locator('.toast', { hasText: text }).first().waitFor();
  const watch = (p) => {
    p.on('pageerror', (e) => pageErrors.push(`${p.url()}: ${e.message}`));
    p.on('console', (m) => {
      // 404s the console handles (audit, sessions, /api/me before sign-in) are logged by Chromium as resource errors: not ours
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(`${p.url()}: console: ${m.text()}`);
    });
  };
  /** every visible form control has an accessible name */
  const unlabelled = (p = page) => p.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => el.type !== 'hidden' && el.offsetParent !== null)
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
    .map((el) => el.outerHTML.slice(0, 120)));

  before(async () => {
    const missing = browserMissing();
    assert.equal(missing, null, `cannot run the browser tests: ${missing}`);
    stack = await startStack({ mockArgs: ['--chunks', String(CHUNKS), '--chunk-delay-ms', '50'], env: { AIHUB_WEBUI_DIR: DIST } });
    site = await consoleSite(stack);
    browser = await launchBrowser();
    ctx = await browser.newContext({ viewport: { width: 1366, height: 900 }, colorScheme: 'light', locale: 'en-US', reducedMotion: 'reduce' });
    ctx.setDefaultTimeout(10_000); // a missing element fails the step in 10 s, not 30
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: site.url });
    page = await ctx.newPage();
    watch(page);
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await site?.stop().catch(() => {});
    await stack?.stop();
  });

  it('offers single sign-on and the admin key when not signed in', async () => {
    await page.goto(`${site.url}/admin/`);
    const sso = page.getByRole('link', { name: 'Sign in with single sign-on' });
    await sso.waitFor();
    assert.equal(await sso.getAttribute('href'), `/auth/login?next=${encodeURIComponent('/admin/')}`);
    await page.getByLabel('Admin key').fill('ak-wrong');
    await page.getByRole('button', { name: 'Use admin key' }).click();
    await page.getByRole('alert').filter({ hasText: 'The admin key was refused.' }).waitFor();
    await shot('sign-in');
    // a deep link keeps its path through sign-in
    await page.goto(`${site.url}/admin/users`);
    assert.equal(await page.getByRole('link', { name: 'Sign in with single sign-on' }).getAttribute('href'),
      `/auth/login?next=${encodeURIComponent('/admin/users')}`);
  });

  it('signs in with the admin key and lands on the dashboard', async () => {
    // /admin/login: the sign-in page's own address (kept reachable when the node sends signed-out browsers to the IdP)
    await page.goto(`${site.url}/admin/login`);
    assert.equal(await page.getByRole('link', { name: 'Sign in with single sign-on' }).getAttribute('href'),
      `/auth/login?next=${encodeURIComponent('/admin/')}`);
    await page.getByLabel('Admin key').fill(stack.adminKey);
    await page.getByRole('button', { name: 'Use admin key' }).click();
    await heading().filter({ hasText: 'Dashboard' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/admin/');
    await page.getByText('Success rate').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('aihub.adminKey')), stack.adminKey);
    assert.equal(await page.evaluate(() => localStorage.getItem('aihub.adminKey')), null, 'the key is never kept beyond the tab');
    // a reload stays signed in (same tab)
    await page.reload();
    await heading().filter({ hasText: 'Dashboard' }).waitFor();
    await shot('dashboard-empty');
  });

  it('creates a channel and tests it with one click', async () => {
    await nav('Channels');
    await page.getByText('No channels yet').waitFor();
    await page.getByRole('button', { name: '+ New channel' }).click();
    const dlg = page.getByRole('dialog', { name: 'New channel' });
    await dlg.getByLabel('Name').fill('mock-main');
    await dlg.getByLabel('Type').selectOption('openai-compatible');
    await dlg.getByLabel('Base URL').fill(stack.mock.url);
    await dlg.getByLabel('Models').fill('mock-gpt\nmock-mini');
    assert.deepEqual(await unlabelled(), []);
    await shot('channel-new');
    await dlg.getByRole('button', { name: 'Create channel' }).click();
    await heading().filter({ hasText: 'mock-main' }).waitFor();
    const list = (await stack.admin('GET', '/api/channels')).body.data;
    made.channel = list.find((c) => c.name === 'mock-main');
    assert.ok(made.channel, 'the channel exists');
    assert.deepEqual(made.channel.models, ['mock-gpt', 'mock-mini']);
    assert.equal(made.channel.base_url, stack.mock.url);
  });

  it('adds an account, bulk-imports more and resets one', async () => {
    await page.getByRole('button', { name: '+ Add account' }).click();
    const dlg = page.getByRole('dialog', { name: 'Add account' });
    await dlg.getByLabel('Name').fill('primary');
    await dlg.getByLabel('Provider key').fill('sk-mock-console-0001');
    await dlg.getByRole('button', { name: 'Add account' }).click();
    await toast('Account added');
    const row = page.getByRole('row').filter({ hasText: 'primary' });
    await row.getByText('active').waitFor();
    assert.ok(!(await page.content()).includes('sk-mock-console-0001'), 'the provider key is never shown again');

    await page.getByRole('button', { name: 'Bulk import' }).click();
    const imp = page.getByRole('dialog', { name: 'Bulk import accounts' });
    await imp.getByLabel('Provider keys').fill('sk-mock-console-0002\n\nsk-mock-console-0003\nsk-mock-console-0001\n');
    await imp.getByRole('button', { name: 'Import' }).click();
    await imp.getByText('Imported 2, skipped 1, failed 0.').waitFor();
    await imp.getByRole('button', { name: 'Close' }).last().click();
    await waitFor(async () => (await page.getByRole('row').count()) === 4, { what: 'three account rows' });

    await page.getByRole('button', { name: 'Reset primary' }).click();
    await toast('Account primary reset');

    // one-click test: per-model latency
    await page.getByRole('button', { name: 'Test', exact: true }).click();
    const test = page.getByRole('dialog', { name: 'Test of mock-main' });
    await test.getByText('2 of 2 models answered').waitFor();
    const cells = await test.getByRole('row').filter({ hasText: 'mock-gpt' }).getByRole('cell').allInnerTexts();
    assert.equal(cells[1], 'OK');
    assert.match(cells[3], /^\d[\d,]* ms$/);
    await shot('channel-test');
    await test.getByRole('button', { name: 'Close' }).last().click();
    await shot('channel-accounts');
    const accounts = (await stack.admin('GET', `/api/channels/${made.channel.id}/accounts`)).body.data;
    assert.equal(accounts.length, 3);
  });

  it('lists the channel with its models', async () => {
    await nav('Channels');
    const row = page.getByRole('row').filter({ hasText: 'mock-main' });
    await row.getByText('mock-mini').waitFor();
    await shot('channels');
  });

  it('creates a user and tops up credits with a reason', async () => {
    await nav('Users & keys');
    await page.getByRole('button', { name: '+ New user' }).click();
    const dlg = page.getByRole('dialog', { name: 'New user' });
    await dlg.getByLabel('Name').fill('ada');
    await dlg.getByLabel('RPM limit').fill('600');
    await dlg.getByRole('button', { name: 'Create user' }).click();
    await heading().filter({ hasText: 'ada' }).waitFor();
    made.user = (await stack.admin('GET', '/api/users')).body.data.find((u) => u.name === 'ada');
    assert.equal(made.user.rpm, 600);

    await page.getByRole('button', { name: 'Top up' }).click();
    const top = page.getByRole('dialog', { name: 'Top up ada' });
    await top.getByLabel('Amount').fill('abc');
    await top.getByLabel('Reason').fill('welcome credit');
    await top.getByRole('button', { name: 'Add credits' }).click();
    await top.getByText('Enter an amount such as 10 or 2.5').waitFor();
    await top.getByLabel('Amount').fill('5.5');
    await top.getByRole('button', { name: 'Add credits' }).click();
    await toast('New balance: 5.50');
    await page.getByTestId('balance').filter({ hasText: '5.50' }).waitFor();
    await page.getByRole('row').filter({ hasText: 'welcome credit' }).waitFor();
    const user = (await stack.admin('GET', `/api/users/${made.user.id}`)).body;
    assert.equal(user.balance, 5_500_000);
    const ledger = (await stack.admin('GET', `/api/users/${made.user.id}/ledger`)).body.data;
    assert.equal(ledger[0].reason, 'welcome credit');
    assert.equal(ledger[0].delta, 5_500_000);
  });

  it('creates a key and shows it once, with a copy button', async () => {
    await page.getByRole('button', { name: '+ New key' }).click();
    const dlg = page.getByRole('dialog', { name: 'New key' });
    await dlg.getByLabel('Name').fill('playground');
    await dlg.getByRole('button', { name: 'Create key' }).click();
    const shown = page.getByRole('dialog', { name: 'Your new API key' });
    const input = shown.getByLabel('API key for playground');
    await input.waitFor();
    made.key = await input.inputValue();
    assert.match(made.key, /^sk-[A-Za-z0-9_-]{32,}$/);
    await shown.getByText('It is shown only once').waitFor();
    await shot('key-once');
    await shown.getByRole('button', { name: 'Copy key' }).click();
    await toast('Copied to the clipboard');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), made.key);
    await shown.getByRole('button', { name: 'Done, I have saved it' }).click();
    await page.getByRole('row').filter({ hasText: 'playground' }).waitFor();
    assert.ok(!(await page.content()).includes(made.key), 'the key is gone from the page once closed');
    await page.reload();
    await page.getByRole('row').filter({ hasText: 'playground' }).waitFor();
    assert.ok(!(await page.content()).includes(made.key), 'and is never shown again');
    await shot('user-detail');
  });

  it('edits the model map, prices and settings', async () => {
    await nav('Model map');
    await page.getByText('No aliases yet').waitFor();
    await page.getByRole('button', { name: '+ Add alias' }).click();
    await page.getByLabel('Alias 1', { exact: true }).fill('gpt-4o-mini');
    await page.getByLabel('Upstream models for alias 1').fill('mock-gpt, mock-mini');
    await page.getByRole('button', { name: 'Save' }).click();
    await toast('Model map saved');
    assert.deepEqual((await stack.admin('GET', '/api/model-map')).body, { 'gpt-4o-mini': ['mock-gpt', 'mock-mini'] });
    await shot('model-map');

    await nav('Prices');
    await page.getByRole('button', { name: '+ Add model' }).click();
    await page.getByLabel('Model 1', { exact: true }).fill('mock-gpt');
    await page.getByLabel('Input price for model 1', { exact: true }).fill('2.5');
    await page.getByLabel('Output price for model 1', { exact: true }).fill('10');
    await page.getByRole('button', { name: 'Save' }).click();
    await toast('Prices saved');
    const prices = (await stack.admin('GET', '/api/prices')).body;
    assert.equal(prices['mock-gpt'].input, 2.5);
    assert.equal(prices['mock-gpt'].output, 10);
    await shot('prices');

    await nav('Settings');
    await page.getByLabel('Default max tokens').fill('512');
    await page.getByRole('button', { name: 'Save' }).click();
    await toast('Settings saved');
    assert.equal((await stack.admin('GET', '/api/settings')).body.default_max_tokens, 512);
    await shot('settings');
  });

  it('streams a playground chat, and the live log shows it as it finishes', async () => {
    // the live log, open in a second tab before the request is made
    // (the admin key lives in each tab's sessionStorage: this tab signs in too)
    const logs = await ctx.newPage();
    watch(logs);
    await logs.goto(`${site.url}/admin/logs`);
    await logs.getByLabel('Admin key').fill(stack.adminKey);
    await logs.getByRole('button', { name: 'Use admin key' }).click();
    await logs.getByTestId('live-status').filter({ hasText: 'Live' }).waitFor();

    await nav('Playground');
    await page.getByLabel('User API key').fill(made.key);
    await page.getByRole('button', { name: 'Load models' }).click();
    const model = page.getByLabel('Model', { exact: true });
    await waitFor(async () => (await model.locator('option').allInnerTexts()).includes('mock-gpt'), { what: 'models from /v1/models' });
    const names = await model.locator('option').allInnerTexts();
    assert.ok(names.includes('gpt-4o-mini'), `the alias is offered too: ${names}`);
    await model.selectOption('mock-gpt');
    await page.getByLabel('Message').fill('Say hello to the console');
    await page.getByRole('button', { name: 'Send' }).click();

    // watch it stream: the reply grows over several looks before it is done
    const reply = page.getByTestId('streaming-reply');
    const seen = new Set();
    await waitFor(async () => {
      if (await reply.count()) seen.add((await reply.innerText().catch(() => '')).trim());
      return /Done/.test(await page.getByTestId('play-status').innerText());
    }, { what: 'the streamed reply to finish', intervalMs: 40, timeoutMs: 20_000 });
    const partial = [...seen].filter((s) => s && !s.includes(`w${CHUNKS}`));
    assert.ok(partial.length >= 3, `saw the reply grow (${partial.length} partial states: ${partial.slice(0, 4).join(' | ')})`);
    const answer = await page.locator('.msg-assistant .msg-text').last().innerText();
    assert.match(answer, new RegExp(`w1 .*w${CHUNKS}$`));
    const status = await page.getByTestId('play-status').innerText();
    assert.match(status, /first token after/);
    assert.match(status, /completion tokens/);
    const requestId = /·\s*([0-9a-f]{32})\s*$/.exec(status)?.[1];
    assert.ok(requestId, `the status names the request id: ${status}`);
    await shot('playground');

    // the entry arrived in the other tab without a reload
    const row = logs.locator(`tr[data-request-id="${requestId}"]`);
    await row.waitFor({ timeout: 10_000 });
    assert.match(await row.innerText(), /200/);
    assert.match(await row.innerText(), /mock-gpt/);
    assert.match(await row.innerText(), /ada/, 'user ids are shown by name');
    await shot('live-log', logs);
    await row.getByRole('button').click();
    const detail = logs.getByRole('dialog', { name: `Request ${requestId}` });
    await detail.getByText('Completion tokens').waitFor();
    assert.match(await detail.innerText(), /mock-main/);
    await shot('live-log-detail', logs);
    await detail.getByRole('button', { name: 'Close' }).last().click();

    // filters: a status that matches nothing empties the list, clearing brings it back
    await logs.getByLabel('Status').fill('418');
    await logs.getByRole('button', { name: 'Apply' }).click();
    await logs.getByText('No requests match these filters').waitFor();
    await logs.getByRole('button', { name: 'Clear' }).click();
    await row.waitFor();
    await logs.close();
  });

  it('shows the traffic on the dashboard', async () => {
    await nav('Dashboard');
    const requests = page.locator('.stat').filter({ hasText: 'Requests' }).locator('.stat-value');
    await waitFor(async () => Number((await requests.innerText()).replace(/,/g, '')) >= 1, { what: 'requests counted' });
    await page.getByRole('row').filter({ hasText: 'ada' }).waitFor(); // top users, by name
    assert.ok(await page.locator('canvas').count() >= 5, 'charts are drawn');
    await page.getByLabel('Period').selectOption('1');
    await page.getByText('Accounts needing attention').waitFor();
    await shot('dashboard');
  });

  it('shows friendly states for the audit log and sessions before the sign-in backend', async () => {
    await nav('Audit log');
    await page.locator('.empty, table').first().waitFor();
    await shot('audit');
    await nav('My sessions');
    await page.getByText('No sessions: you are using the admin key').or(page.getByRole('table')).waitFor();
    await shot('sessions');
  });

  it('switches to the dark theme and to Chinese, and keeps both', async () => {
    await nav('Dashboard');
    await page.getByLabel('Theme').selectOption('dark');
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = bg.match(/\d+/g).map(Number);
    assert.ok(r + g + b < 120, `the page is dark: ${bg}`);
    await shot('dashboard-dark');

    await page.getByLabel('Language').selectOption('zh');
    await page.getByRole('navigation', { name: '主导航' }).getByRole('link', { name: '仪表盘' }).waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
    await heading().filter({ hasText: '仪表盘' }).waitFor();

    // both survive a reload
    await page.reload();
    await heading().filter({ hasText: '仪表盘' }).waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    await shot('zh-dark-dashboard');

    // every page in Chinese: no string without a translation, every field labelled
    const tour = [
      ['渠道', 'zh-dark-channels'], ['模型映射', 'zh-dark-model-map'], ['价格', 'zh-dark-prices'],
      ['用户与密钥', 'zh-dark-users'], ['实时日志', 'zh-dark-live-log'], ['审计日志', 'zh-dark-audit'],
      ['调试台', 'zh-dark-playground'], ['设置', 'zh-dark-settings'], ['我的会话', 'zh-dark-sessions'],
    ];
    for (const [label, name] of tour) {
      await nav(label);
      await page.locator('.loading').first().waitFor({ state: 'detached' }).catch(() => {});
      assert.deepEqual(await unlabelled(), [], `unlabelled fields on ${label}`);
      await shot(name);
    }
    await page.goto(`${site.url}/admin/users/${made.user.id}`);
    await heading().filter({ hasText: 'ada' }).waitFor();
    await page.getByRole('row').filter({ hasText: '充值' }).first().waitFor();
    await shot('zh-dark-user-detail');
    await page.goto(`${site.url}/admin/channels/${made.channel.id}`);
    await page.getByRole('row').filter({ hasText: 'primary' }).waitFor();
    await shot('zh-dark-channel-detail');
    const missing = await page.evaluate(() => [...(window.__aihubMissingZh || [])]);
    assert.deepEqual(missing, [], 'strings shown without a Chinese translation');

    // light theme in Chinese, then back to English and the system theme
    await page.getByLabel('主题').selectOption('light');
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light');
    await shot('zh-light-channel-detail');
    await page.getByLabel('语言').selectOption('en');
    await page.getByLabel('Theme').selectOption('system');
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme ?? null), null);
  });

  it('follows the system theme when none is chosen', async () => {
    const dark = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'dark', reducedMotion: 'reduce' });
    dark.setDefaultTimeout(10_000);
    const p = await dark.newPage();
    watch(p);
    await p.goto(`${site.url}/admin/`);
    await p.getByLabel('Admin key').fill(stack.adminKey);
    await p.getByRole('button', { name: 'Use admin key' }).click();
    await heading(p).filter({ hasText: 'Dashboard' }).waitFor();
    const bg = await p.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = bg.match(/\d+/g).map(Number);
    assert.ok(r + g + b < 120, `dark system, dark page: ${bg}`);
    await shot('dashboard-system-dark', p);
    await dark.close();
  });

  it('is usable with the keyboard', async () => {
    await nav('Users & keys');
    await page.reload();
    await heading().waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    // a dialog takes focus, Escape closes it and focus goes back
    await page.getByRole('button', { name: '+ New user' }).focus();
    await page.keyboard.press('Enter');
    const dlg = page.getByRole('dialog', { name: 'New user' });
    await dlg.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id && document.querySelector(`label[for="${document.activeElement.id}"]`)?.textContent), 'Name');
    await page.keyboard.press('Escape');
    await dlg.waitFor({ state: 'hidden' });
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), '+ New user');
  });

  it('renders at phone width', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme: 'light', reducedMotion: 'reduce' });
    phone.setDefaultTimeout(10_000);
    const p = await phone.newPage();
    watch(p);
    await p.goto(`${site.url}/admin/`);
    await p.getByLabel('Admin key').fill(stack.adminKey);
    await shot('phone-sign-in', p, { full: false });
    await p.getByRole('button', { name: 'Use admin key' }).click();
    await heading(p).filter({ hasText: 'Dashboard' }).waitFor();
    const overflow = () => p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(await overflow() <= 0, 'no sideways scrolling on the dashboard');
    assert.equal(await p.getByRole('navigation', { name: 'Main' }).isVisible(), false, 'the menu is folded away');
    await shot('phone-dashboard-top', p, { full: false });
    await shot('phone-dashboard', p);
    await p.getByRole('button', { name: 'Menu' }).click();
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Channels' }).waitFor();
    await shot('phone-menu', p, { full: false });
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Channels' }).click();
    await heading(p).filter({ hasText: 'Channels' }).waitFor();
    assert.ok(await overflow() <= 0, 'tables scroll inside their card, not the page');
    await shot('phone-channels', p);
    for (const [label, name] of [['Users & keys', 'phone-users'], ['Live log', 'phone-live-log'], ['Playground', 'phone-playground']]) {
      await nav(label, p);
      assert.ok(await overflow() <= 0, `no sideways scrolling on ${label}`);
      await shot(name, p);
    }
    await p.goto(`${site.url}/admin/users/${made.user.id}`);
    await p.getByRole('button', { name: 'Top up' }).click();
    await p.getByRole('dialog', { name: 'Top up ada' }).getByLabel('Amount').waitFor();
    await shot('phone-top-up', p, { full: false });
    await phone.close();
  });

  it('signs out and forgets the admin key', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('link', { name: 'Sign in with single sign-on' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('aihub.adminKey')), null);
    await page.goto(`${site.url}/admin/channels`);
    await page.getByRole('button', { name: 'Use admin key' }).waitFor();
  });

  it('raised no script errors', () => {
    assert.deepEqual(pageErrors, []);
    console.log(`# screenshots: ${SHOTS} (${shotNo} files, console served by ${site.via})`);
  });
});

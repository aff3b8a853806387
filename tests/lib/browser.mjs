// Browser tests of the admin console: Debian's Chromium driven by
// playwright-core (which downloads no browser), against a real node.
//
//   const browser = await launchBrowser();
//   const site = await consoleSite(stack);     // {url, stop()}: where /admin/ is served
//   const page = await (await browser.newContext()).newPage();
//   await page.goto(`${site.url}/admin/`);
//
// playwright-core is a devDependency of webui/ (webui/package.json), so it is
// loaded from webui/node_modules; webui/build.sh installs it and builds
// webui/dist, which the node serves at /admin/.

import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ROOT } from './stack.mjs';

export const WEBUI = path.join(ROOT, 'webui');
export const DIST = path.join(WEBUI, 'dist');
export const CHROMIUM = process.env.AIHUB_CHROMIUM || '/usr/bin/chromium';

/** Flags for a headless Chromium on a machine with no network but loopback. */
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox', // root in a container: the sandbox cannot start
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking', // else Chromium calls out to Google's hosts at start, refused here
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--disable-dev-shm-usage',
  '--password-store=basic',
  '--use-mock-keychain',
];

/** Why the browser tests cannot run here, or null. */
export function browserMissing() {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} not found (apt-get install chromium chromium-driver; scripts/install-deps.sh does it)`;
  if (!existsSync(path.join(WEBUI, 'node_modules', 'playwright-core'))) return 'webui/node_modules/playwright-core is missing (run webui/build.sh)';
  if (!existsSync(path.join(DIST, 'index.html'))) return 'webui/dist is not built (run webui/build.sh)';
  return null;
}

/**
 * Starts Chromium. Playwright gives every launch a new, empty profile
 * directory of its own (removed at close): the equivalent of a fresh
 * --user-data-dir, which Playwright does not accept as an argument.
 */
export async function launchBrowser() {
  const require = createRequire(path.join(WEBUI, 'package.json'));
  const { chromium } = require('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
}

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.map': 'application/json', '.txt': 'text/plain; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png',
};

/**
 * A stand-in for the node's own console serving, for nodes built without it:
 * serves webui/dist at /admin/ (index.html for client-side routes) and passes
 * everything else (/api, /v1, /auth, ...) through to the node unbuffered
 * (Server-Sent Events stream through).
 */
export function startConsoleProxy(target) {
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/admin') {
      res.writeHead(302, { location: '/admin/' }).end();
      return;
    }
    if (url.pathname.startsWith('/admin/')) {
      const rel = decodeURIComponent(url.pathname.slice('/admin/'.length));
      let file = path.join(DIST, rel);
      if (!file.startsWith(DIST) || !existsSync(file) || statSync(file).isDirectory()) {
        if (path.extname(rel)) {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
          return;
        }
        file = path.join(DIST, 'index.html');
      }
      res.writeHead(200, {
        'content-type': TYPES[path.extname(file)] || 'application/octet-stream',
        'cache-control': file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
      });
      res.end(readFileSync(file));
      return;
    }
    const preq = http.request({
      host: upstream.hostname, port: upstream.port, method: req.method, path: req.url,
      headers: { ...req.headers, host: upstream.host },
    }, (pres) => {
      res.writeHead(pres.statusCode, pres.headers);
      res.flushHeaders();
      pres.pipe(res);
    });
    preq.on('error', (e) => { if (!res.headersSent) res.writeHead(502).end(String(e)); else res.destroy(); });
    res.on('close', () => preq.destroy());
    req.pipe(preq);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}`,
        via: 'proxy',
        stop: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
      });
    });
  });
}

/**
 * Where the console is served for this stack: the node itself when it serves
 * /admin/ (AIHUB_WEBUI_DIR), else a stand-in proxy in front of it
 * (AIHUB_CONSOLE_VIA=proxy forces the proxy).
 */
export async function consoleSite(stack) {
  if (process.env.AIHUB_CONSOLE_VIA === 'proxy') return startConsoleProxy(stack.node.url);
  const r = await fetch(`${stack.node.url}/admin/`).catch(() => null);
  const body = r ? await r.text() : '';
  if (r && r.status === 200 && /text\/html/.test(r.headers.get('content-type') || '') && body.includes('/admin/assets/app-')) {
    return { url: stack.node.url, via: 'node', stop: async () => {} };
  }
  return startConsoleProxy(stack.node.url);
}

/** tests/artifacts/<name>/, a folder git ignores (it holds a .gitignore of "*"). */
export function artifactsDir(name) {
  const base = path.join(ROOT, 'tests', 'artifacts');
  const dir = path.join(base, name);
  mkdirSync(dir, { recursive: true });
  const ignore = path.join(base, '.gitignore');
  if (!existsSync(ignore)) writeFileSync(ignore, '# screenshots and other test output, written by the browser tests\n*\n');
  return dir;
}

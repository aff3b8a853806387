// Static checks of the k6 scripts in loadtests/k6 (k6 itself cannot be installed here):
//  - esbuild bundles each script with k6's modules external: syntax and local imports;
//  - tsc --allowJs --checkJs (strict) with @types/k6 over all of them: misuse of k6's API;
//  - each script's init code runs against stub k6 modules: it exports options with a bounded scenario and
//    pass/fail thresholds (p95 latency, failure rate), setup() and a default function; BASE_URL is required;
//  - both checkers reject a broken script (so a pass means something).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const K6_DIR = path.join(ROOT, 'loadtests', 'k6');
const TSCONFIG = path.join(ROOT, 'tests', 'loadtests', 'tsconfig.k6.json');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const SCRIPTS = readdirSync(K6_DIR).filter((f) => f.endsWith('.js')).sort();

test('there are k6 scripts for the four scenarios', () => {
  for (const s of ['chat.js', 'stream.js', 'many_keys.js', 'failure_mix.js']) assert.ok(SCRIPTS.includes(s), s);
});

for (const script of SCRIPTS) {
  test(`esbuild bundles ${script} (k6 external)`, async () => {
    const r = await esbuild.build({
      entryPoints: [path.join(K6_DIR, script)], bundle: true, write: false, format: 'esm',
      external: ['k6', 'k6/*'], logLevel: 'silent',
    });
    assert.equal(r.errors.length, 0);
    assert.equal(r.warnings.length, 0, JSON.stringify(r.warnings));
  });
}

test('tsc --checkJs with @types/k6 finds no errors', () => {
  const r = spawnSync(process.execPath, [TSC, '-p', TSCONFIG], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});

// --- running the init code against stub k6 modules -------------------------
const STUBS = {
  k6: `export function check(v, sets) { for (const f of Object.values(sets)) f(v); return true; }
       export function fail(m) { throw new Error(m); }
       export function sleep() {}
       export function group(n, f) { return f(); }
       export default { check, fail, sleep, group };`,
  'k6/http': `const calls = globalThis.__k6calls;
       const res = (method, url) => { calls.push([method, url]);
         return { status: 200, body: '{"choices":[]} data: [DONE]', headers: { 'Content-Type': 'text/event-stream' },
                  timings: { waiting: 1, duration: 1 } }; };
       export const get = (u) => res('GET', u);
       export const post = (u) => res('POST', u);
       export const expectedStatuses = (...a) => ({ expected: a });
       export const setResponseCallback = () => {};
       export default { get, post, expectedStatuses, setResponseCallback };`,
  'k6/data': `export class SharedArray { constructor(name, cb) { return cb(); } }`,
  'k6/execution': `export default { scenario: { iterationInTest: 0 }, vu: { idInTest: 1 } };`,
  'k6/metrics': `class M { constructor(n) { this.name = n; } add() {} }
       export class Counter extends M {} export class Trend extends M {} export class Rate extends M {} export class Gauge extends M {}`,
};
const stubPlugin = {
  name: 'k6-stubs',
  setup(build) {
    build.onResolve({ filter: /^k6(\/.*)?$/ }, (a) => ({ path: a.path, namespace: 'k6stub' }));
    build.onLoad({ filter: /.*/, namespace: 'k6stub' }, (a) => {
      if (!(a.path in STUBS)) return { errors: [{ text: `no stub for ${a.path}` }] };
      return { contents: STUBS[a.path], loader: 'js' };
    });
  },
};

let n = 0;
async function loadWithStubs(script, env) {
  const r = await esbuild.build({
    entryPoints: [path.join(K6_DIR, script)], bundle: true, write: false, format: 'esm',
    plugins: [stubPlugin], logLevel: 'silent',
  });
  globalThis.__ENV = env;
  globalThis.__k6calls = [];
  globalThis.open = (f) => (f.endsWith('keys.txt') ? 'sk-one\n\nsk-two\n' : '');
  const url = `data:text/javascript;base64,${Buffer.from(r.outputFiles[0].text).toString('base64')}#${n++}`;
  return import(url);
}

const ENV = { BASE_URL: 'http://127.0.0.1:9/', AIHUB_KEY: 'sk-test', KEYS_FILE: '/tmp/keys.txt' };

for (const script of SCRIPTS) {
  test(`${script}: options, thresholds, setup() and the default function`, async () => {
    const m = await loadWithStubs(script, ENV);
    assert.equal(typeof m.setup, 'function', 'setup() is exported');
    assert.equal(typeof m.default, 'function', 'a default function is exported');
    const { options } = m;
    const sc = Object.values(options.scenarios);
    assert.equal(sc.length, 1);
    assert.ok(sc[0].iterations > 0 && /^\d+s$/.test(sc[0].maxDuration), 'bounded in requests and time');
    const th = options.thresholds;
    const names = Object.keys(th);
    assert.ok(names.some((k) => k.startsWith('http_req_duration') && th[k].some((e) => /^p\(95\)<\d+/.test(e))), 'p95 threshold');
    assert.ok(names.some((k) => k.startsWith('http_req_failed') && th[k].some((e) => /^rate<0?\.\d+/.test(e))), 'failure-rate threshold');
    // setup() checks readiness and probes one chat request on BASE_URL (stubbed answers: 200)
    m.setup();
    const calls = globalThis.__k6calls;
    assert.deepEqual(calls[0], ['GET', 'http://127.0.0.1:9/readyz']);
    assert.deepEqual(calls[1], ['POST', 'http://127.0.0.1:9/v1/chat/completions']);
    m.default();
    assert.equal(calls.length, 3);
  });
}

test('a script refuses to start without BASE_URL', async () => {
  await assert.rejects(loadWithStubs('chat.js', {}), /BASE_URL is required/);
});

test('the checkers reject broken scripts', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'k6-static-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // API misuse: http.post's URL must be a string, check() takes an object of functions
  const misuse = path.join(dir, 'misuse.js');
  writeFileSync(misuse, `import http from 'k6/http';\nimport { check } from 'k6';\n` +
    `export default function () { const r = http.post(42); check(r, 'status is 200'); }\n`);
  writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    extends: TSCONFIG,
    compilerOptions: {
      typeRoots: [path.join(ROOT, 'node_modules', '@types')],
      paths: { k6: [path.join(ROOT, 'node_modules/@types/k6/index.d.ts')], 'k6/*': [path.join(ROOT, 'node_modules/@types/k6/*')] },
    },
    include: [], files: [misuse],
  }));
  const r = spawnSync(process.execPath, [TSC, '-p', path.join(dir, 'tsconfig.json')], { encoding: 'utf8' });
  assert.notEqual(r.status, 0, 'tsc accepted API misuse');
  assert.match(r.stdout, /misuse\.js\(3,\d+\): error TS2345/);
  // syntax error and a missing local import
  const broken = path.join(dir, 'broken.js');
  writeFileSync(broken, `import { nothing } from './lib/missing.js';\nexport default function ( { \n`);
  await assert.rejects(esbuild.build({ entryPoints: [broken], bundle: true, write: false, external: ['k6', 'k6/*'], logLevel: 'silent' }));
  // and the reference: the same tsconfig accepts a correct script (the failure above is the misuse, not the setup)
  writeFileSync(misuse, `import http from 'k6/http';\nimport { check } from 'k6';\n` +
    `export default function () { const r = http.post('http://x/'); check(r, { ok: (x) => x.status === 200 }); }\n`);
  const ok = spawnSync(process.execPath, [TSC, '-p', path.join(dir, 'tsconfig.json')], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
});


// The render tool itself (tests/deploy/render): Helm's rules for values
// (--set typing and paths, null deleting a default, files merged in order),
// strictness, and deterministic output.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ROOT, renderTool, renderYaml } from './lib/tools.mjs';

const STRICT = join(ROOT, 'tests/deploy/fixtures/strict-chart/strictchart');
const dir = mkdtempSync(join(tmpdir(), 'aihub-render-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function values(args) {
  const r = spawnSync(renderTool(), [STRICT, '--print-values', ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('--set types values as Helm does', () => {
  assert.deepEqual(values(['--set', 'a.b=1,c=true,d=false,e=0012,f=1.5,g=text']), {
    name: 'strict',
    a: { b: 1 },
    c: true,
    d: false,
    e: '0012',
    f: '1.5',
    g: 'text',
  });
  assert.deepEqual(values(['--set-string', 'n=5,t=true']), { name: 'strict', n: '5', t: 'true' });
});

test('--set lists, indexes and escapes', () => {
  assert.deepEqual(values(['--set', 'l={x,y,3}']), { name: 'strict', l: ['x', 'y', 3] });
  assert.deepEqual(values(['--set', 'arr[1].k=v']), { name: 'strict', arr: [null, { k: 'v' }] });
  assert.deepEqual(values(['--set', 'a\\.b=1', '--set', 'c=x\\,y']), { name: 'strict', 'a.b': 1, c: 'x,y' });
});

test('null deletes a default; later files and --set win', () => {
  assert.deepEqual(values(['--set', 'name=null']), {});
  writeFileSync(join(dir, 'one.yaml'), 'name: one\nmap: {a: 1, b: 2}\n');
  writeFileSync(join(dir, 'two.yaml'), 'map: {b: 3}\n');
  assert.deepEqual(values(['-f', join(dir, 'one.yaml'), '-f', join(dir, 'two.yaml'), '--set', 'map.c=4']), { name: 'one', map: { a: 1, b: 3, c: 4 } });
});

test('a bad --set or values file is an error', () => {
  for (const args of [['--set', 'novalue'], ['--set', 'a[x]=1'], ['-f', join(dir, 'missing.yaml')]]) {
    const r = spawnSync(renderTool(), [STRICT, '--print-values', ...args], { encoding: 'utf8' });
    assert.notEqual(r.status, 0, `${args.join(' ')} should fail`);
  }
});

test('the same inputs render the same bytes', () => {
  const opts = { values: [join(ROOT, 'helm/aihub/ci/managed-redis-tls-values.yaml')] };
  assert.equal(renderYaml(opts), renderYaml(opts));
});

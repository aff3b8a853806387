// A short run of the benchmark runner (loadtests/bench/run.sh --smoke): it starts everything, measures for a
// few seconds and prints the table. Checks that it works and that every cell of the table holds a number;
// never timing (the numbers of a smoke run mean nothing). AIHUB_BUILD_DIR picks the build (ctest sets it).
//   LOADTESTS_SMOKE_MODES=scenarios,streams,h2,nodes,soak  runs those modes instead, tiny (the loadtests_modes test)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILD = path.resolve(process.env.AIHUB_BUILD_DIR || path.join(ROOT, 'build'));
const MODES = process.env.LOADTESTS_SMOKE_MODES || 'table';

function runBench(args) {
  return new Promise((resolve) => {
    const child = spawn(path.join(ROOT, 'loadtests', 'bench', 'run.sh'), args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const NUMBER = /^-?\d{1,3}(,\d{3})*(\.\d+)?$|^-?\d+(\.\d+)?$/;

/** The first markdown table after `### title` in the output: its rows (header first), as arrays of cells. */
function tableAfter(text, title) {
  const at = text.indexOf(`### ${title}`);
  assert.ok(at >= 0, `the output has no section "${title}":\n${text}`);
  const rows = [];
  for (const l of text.slice(at).split('\n')) {
    if (!l.startsWith('|')) {
      if (rows.length) break;
      continue;
    }
    if (!/^\|[-|: ]+\|$/.test(l)) rows.push(l.slice(1, -1).split('|').map((c) => c.trim()));
  }
  return rows;
}

test(`run.sh --smoke --mode ${MODES} works and prints its tables with numbers`, { timeout: 240_000 }, async (t) => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'aihub-bench-smoke-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const r = await runBench(['--smoke', '--mode', MODES, '--build-dir', BUILD, '--out', out]);
  assert.equal(r.code, 0, `run.sh failed (${r.code}):\n${r.stderr.slice(-6000)}`);
  const json = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
  const md = readFileSync(path.join(out, 'table.md'), 'utf8');

  if (MODES.includes('table')) {
    const rows = tableAfter(r.stdout, 'The table');
    assert.equal(rows.length, 5, `header + 4 rows:\n${r.stdout}`);
    assert.deepEqual(rows.slice(1).map((x) => x[0]), ['mock direct', 'nginx proxy_pass', 'AiHub, full governance', 'AiHub / nginx']);
    for (const row of rows.slice(1)) {
      assert.equal(row.length, rows[0].length);
      for (const [i, cell] of row.slice(1).entries()) assert.match(cell, NUMBER, `${row[0]} / ${rows[0][i + 1]}: "${cell}"`);
    }
    const hubOnly = [];
    for (const l of r.stdout.slice(r.stdout.indexOf('| AiHub only')).split('\n')) {
      if (!l.startsWith('|')) break;
      hubOnly.push(l);
    }
    assert.ok(hubOnly.length >= 5, 'the AiHub-only table (Redis per request)');
    for (const l of hubOnly.slice(2)) assert.match(l.split('|')[2].trim(), NUMBER, l);
    // correctness, not timing: every request of the table's runs succeeded, and AiHub spent Redis script calls
    for (const id of ['direct', 'nginx', 'aihub']) {
      for (const k of ['c50', 'c1']) {
        assert.equal(json.table[id][k].non2xx, 0, `${id}: non-2xx responses (${k})`);
        assert.equal(json.table[id][k].failed, 0, `${id}: failed requests (${k})`);
      }
      assert.ok(json.table[id].c50.requests > 0);
    }
    assert.ok(json.table.redis.script_calls_per_req >= 2, 'admit + settle per request');
    assert.match(r.stdout, /### The issue's targets/);
    assert.ok(md.includes('### The table'));
  }
  for (const [mode, title] of [['scenarios', 'Scenarios'], ['streams', 'concurrent streams over HTTP/2'], ['h2', 'HTTP/2 (h2load)'], ['nodes', '1, 2 and 3 nodes'], ['soak', 'Soak']]) {
    if (!MODES.split(',').includes(mode)) continue;
    const at = r.stdout.split('\n').find((l) => l.startsWith('### ') && l.includes(title));
    assert.ok(at, `no "${title}" section`);
    const rows = tableAfter(r.stdout, at.slice(4));
    assert.ok(rows.length >= 3, `${mode}: a table with rows`);
    // every cell a number (or text), never a missing value; '—' only where wrk has no trustworthy latency
    for (const row of rows.slice(1)) for (const cell of row.slice(1)) assert.ok(cell !== 'n/a' && cell !== 'NaN' && cell !== '', `${mode}: ${row.join(' | ')}`);
  }
  if (MODES.includes('scenarios')) {
    const sc = json.scenarios;
    assert.equal(sc.length, 4);
    for (const s of sc.slice(0, 3)) assert.equal(s.non2xx, 0, `${s.name}: every request succeeds`);
    assert.ok(sc[3].non2xx > 0, 'the failure mix produces failures, counted by the wrk script');
  }
  if (MODES.includes('streams')) for (const s of json.streams) assert.equal(s.succeeded, s.asked, `${s.target}: every stream completed`);
});

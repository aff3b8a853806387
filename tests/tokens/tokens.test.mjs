// tokens.test.mjs: keeps the token estimator's reference counts honest.
// shared/tests/fixtures/tokens/counts.txt holds the exact o200k_base count of
// each sample; this recomputes them with gpt-tokenizer, so an edited sample or
// a hand-edited count fails here rather than silently moving the C test's
// target. Run: node --test tests/tokens/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { COUNTS, renderCounts } from './make-counts.mjs';

test('counts.txt matches gpt-tokenizer (rerun tests/tokens/make-counts.mjs if a sample changed)', () => {
  assert.equal(readFileSync(COUNTS, 'utf8'), renderCounts());
});

test('every sample is long enough for the ±15% check (200 tokens or more)', () => {
  const rows = readFileSync(COUNTS, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  assert.ok(rows.length >= 8, 'at least the eight kinds of sample');
  for (const row of rows) {
    const [name, n] = row.split(' ');
    assert.ok(Number(n) >= 200, `${name}: ${n} tokens`);
  }
});

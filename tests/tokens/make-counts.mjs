// make-counts.mjs: writes shared/tests/fixtures/tokens/counts.txt, the exact
// o200k_base token count of each sample there (*.txt), computed with the npm
// package gpt-tokenizer. shared_tokens (shared/tests/test_tokens.c) checks the
// estimator against these counts; tokens.test.mjs checks the file is current.
//
//   node tests/tokens/make-counts.mjs          rewrite counts.txt
//   node tests/tokens/make-counts.mjs --print  print it instead
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../shared/tests/fixtures/tokens');
export const COUNTS = join(FIXTURES, 'counts.txt');

/** The text of counts.txt for the samples as they are now. */
export function renderCounts() {
  const samples = readdirSync(FIXTURES).filter((f) => f.endsWith('.txt') && f !== 'counts.txt').sort();
  const lines = [
    '# Exact o200k_base token counts of the samples in this directory (gpt-tokenizer).',
    '# Written by tests/tokens/make-counts.mjs; do not edit by hand.',
    '# sample tokens',
  ];
  for (const f of samples) {
    // countTokens refuses text holding special tokens such as <|endoftext|>; the samples hold none.
    lines.push(`${f} ${countTokens(readFileSync(join(FIXTURES, f), 'utf8'))}`);
  }
  return lines.join('\n') + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = renderCounts();
  if (process.argv.includes('--print')) process.stdout.write(text);
  else writeFileSync(COUNTS, text);
}

// Lists the t('...') literals of src/ that have no Chinese entry in src/zh.js
// (build.mjs runs this and refuses to build when any is missing).
//   node i18n-check.mjs          # prints the missing ones, exit 1 if any
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

// Strings passed to t() through variables (labels in tables, API values).
export const DYNAMIC = [
  // nav groups and items, page titles
  'Overview', 'Routing', 'Access', 'Observe', 'Tools', 'System', 'Dashboard', 'Channels', 'Model map', 'Prices',
  'Users & keys', 'Live log', 'Audit log', 'Playground', 'Settings', 'My sessions',
  // roles, account and ledger states from the API
  'admin', 'operator', 'viewer', 'unknown', 'active', 'cooling', 'disabled',
  'topup', 'deduct', 'hold', 'charge', 'hold_expired', 'input', 'output', 'cached_input',
  // request detail labels
  'Time', 'Request id', 'Status', 'Error', 'Model', 'Upstream model', 'User', 'Key', 'Channel', 'Account', 'Streamed',
  'Attempts', 'Latency', 'First byte', 'Prompt tokens', 'Cached tokens', 'Completion tokens', 'Estimated tokens', 'Cost',
  'Unpaid', 'Client IP',
  // dashboard ranges, settings labels
  'Last 24 hours', 'Last 7 days', 'Last 30 days', 'Last 90 days',
  'Global RPM limit', 'Global TPM limit', 'Max retries', 'Default max tokens', 'Hold lease (s)', 'Request log size',
  '0: unlimited.', 'Further accounts tried before the client gets an error.', 'Used for the hold when a request sets no max_tokens.',
  'A hold not settled in this time is refunded.', 'Entries kept; the oldest go first.',
  'Cooldown after 429 (s)', 'Cooldown after 5xx (s)', 'Cooldown after a timeout (s)',
];

async function files(dir) {
  const out = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...await files(p));
    else if (/\.(jsx?|mjs)$/.test(e.name) && e.name !== 'zh.js') out.push(p);
  }
  return out;
}

export async function missingZh() {
  const { zh } = await import(`${path.join(here, 'src', 'zh.js')}?${Date.now()}`);
  const wanted = new Set(DYNAMIC);
  const re = /\bt\(\s*(['"])((?:\\.|(?!\1).)*)\1/g;
  for (const f of await files(path.join(here, 'src'))) {
    const src = await readFile(f, 'utf8');
    for (const m of src.matchAll(re)) wanted.add(m[2].replace(/\\'/g, "'").replace(/\\"/g, '"'));
  }
  return [...wanted].filter((s) => !Object.hasOwn(zh, s)).sort();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const miss = await missingZh();
  for (const s of miss) console.log(JSON.stringify(s));
  if (miss.length) {
    console.error(`${miss.length} string(s) without a Chinese translation in src/zh.js`);
    process.exit(1);
  }
  console.log('every string has a Chinese translation');
}

// How scripts are built and loaded: lib/*.lua (sorted by file name) + the
// script, byte for byte; the library has no effect of its own; every script
// is loaded, documented and exercised by some test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { LUA_DIR, buildScript, libFiles, scriptNames } from '../../tests/lib/redis.mjs';
import { useRedis } from './fixtures.mjs';

const h = useRedis();

// The scripts the node is coded against; more may be added, none may go.
const REQUIRED_SCRIPTS = [
  'account_reset', 'account_states', 'admit', 'channel_delete', 'config_delete', 'config_put',
  'config_read', 'config_set', 'credits', 'failover', 'key_check', 'key_create', 'key_delete',
  'key_update', 'record_get', 'record_put', 'records_list', 'renew', 'settle', 'stats_fold', 'stats_read',
  'sweep', 'usage_view', 'user_delete',
];
const ALL_SCRIPTS = scriptNames();

test('every script is loaded, under its file name', async () => {
  for (const name of REQUIRED_SCRIPTS) assert.ok(ALL_SCRIPTS.includes(name), `${name}.lua is missing`);
  assert.deepEqual(Object.keys(h.shas).sort(), ALL_SCRIPTS);
  const exists = await h.client.script('EXISTS', ...Object.values(h.shas));
  assert.deepEqual(exists, ALL_SCRIPTS.map(() => 1));
});

test('a script is lib/*.lua in file-name order, then the script, byte for byte', () => {
  const libs = readdirSync(path.join(LUA_DIR, 'lib')).filter((f) => f.endsWith('.lua')).sort();
  for (const f of ['common.lua', 'config.lua', 'limits.lua', 'money.lua', 'pick.lua']) assert.ok(libs.includes(f), `lib/${f}`);
  assert.deepEqual(libFiles(), libs);
  for (const name of ALL_SCRIPTS) {
    const manual = libs.map((f) => readFileSync(path.join(LUA_DIR, 'lib', f), 'utf8')).join('')
      + readFileSync(path.join(LUA_DIR, `${name}.lua`), 'utf8');
    assert.equal(buildScript(name), manual);
    assert.equal(h.shas[name], createHash('sha1').update(manual).digest('hex'), name);
  }
});

test('lib files end with a newline, so concatenation never joins two lines', () => {
  for (const f of libFiles()) {
    const text = readFileSync(path.join(LUA_DIR, 'lib', f), 'utf8');
    assert.ok(text.endsWith('\n'), `lib/${f} must end with a newline`);
  }
});

test('the library alone runs no command and writes nothing', async () => {
  const lib = libFiles().map((f) => readFileSync(path.join(LUA_DIR, 'lib', f), 'utf8')).join('');
  await h.client.config('RESETSTAT');
  const reply = await h.client.eval(lib, 0);
  assert.equal(reply, null);
  const stats = await h.client.info('commandstats');
  const cmds = [...stats.matchAll(/^cmdstat_([a-z|]+):/gm)].map((m) => m[1]);
  assert.ok(cmds.includes('eval'), `expected the EVAL to be counted, got ${cmds}`);
  const others = cmds.filter((c) => !['eval', 'config|resetstat', 'info'].includes(c));
  assert.deepEqual(others, [], 'the library ran commands at load');
  assert.equal(await h.client.dbsize(), 0);
});

test('each script opens with a header naming it and its KEYS', () => {
  for (const name of ALL_SCRIPTS) {
    const text = readFileSync(path.join(LUA_DIR, `${name}.lua`), 'utf8');
    assert.ok(text.startsWith(`-- ${name}.lua: `), `${name}.lua header`);
    assert.match(text, /^-- KEYS\[1/m, `${name}.lua lists KEYS[1]`);
  }
});

test('every script is exercised by at least one test file', () => {
  const dir = path.dirname(new URL(import.meta.url).pathname);
  const tests = readdirSync(dir).filter((f) => f.endsWith('.test.mjs') && f !== 'loader.test.mjs')
    .map((f) => readFileSync(path.join(dir, f), 'utf8')).join('\n');
  for (const name of ALL_SCRIPTS) {
    // admit is also called through the admit() fixture
    const used = new RegExp(`run\\('${name}'`).test(tests) || (name === 'admit' && /\badmit\(h/.test(tests));
    assert.ok(used, `no test calls ${name}`);
  }
});

test('a malformed call is an error reply naming the problem', async () => {
  await assert.rejects(h.run('account_reset', [], []), /ERR aihub: account_reset: expected 1 KEYS, got 0/);
  await assert.rejects(h.run('config_set', ['ah:cfg:settings', 'ah:cfg:ver'], ['{']),
    /ERR aihub: config_set: ARGV\[1\] must be a JSON object or array/);
});

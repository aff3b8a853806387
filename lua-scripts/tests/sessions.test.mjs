// Console sessions: session_create, session_check, session_refresh (check and
// rotate, reuse detection), session_revoke, session_revoke_others and
// session_list, against a real redis-server.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dumpDb, rejectsUnchanged, unchanged, useRedis } from './fixtures.mjs';

const h = useRedis();

const IDLE = 3600;
const MAX = 43200;
const GRACE = 10;
const PH = 'aaaabbbbccccddddeeeeffff00001111';
const PH2 = '99998888777766665555444433332222';

// a malformed call: a Redis error matching re, nothing written
const rejects = (name, keys, args, re) => rejectsUnchanged(h.client, () => h.run(name, keys, args), re);
const nowS = async () => Number((await h.client.time())[0]);

function create(sid, { phash = PH, rt = `rt-${sid}-0`, idle = IDLE, max = MAX, role = 'operator', extra = {} } = {}) {
  const fields = {
    principal: `https://idp#${phash}`, sub: `sub-${phash.slice(0, 4)}`, email: 'a@example.com', name: 'Ann',
    role, ip: '10.0.0.7', user_agent: 'test-agent', idp_rt: '', ...extra,
  };
  return h.run('session_create', [`ah:sess:${sid}`, `ah:sess_idx:${phash}`],
    [sid, phash, rt, String(idle), String(max), ...Object.entries(fields).flat()]);
}
const check = (sid, idle = IDLE) => h.run('session_check', [`ah:sess:${sid}`], [sid, String(idle)]);
const refresh = (mode, sid, hash, { idle = IDLE, grace = GRACE, next = '', role = '', idpRt = '' } = {}) =>
  h.run('session_refresh', [`ah:sess:${sid}`, `ah:sess:${sid}:rt`],
    mode === 'check' ? [mode, sid, hash, String(idle), String(grace)]
      : [mode, sid, hash, String(idle), String(grace), next, role, idpRt]);
const revoke = (sid, owner = '', reason = 'logout') => h.run('session_revoke', [`ah:sess:${sid}`], [sid, owner, reason]);
const revokeOthers = (phash, keep, reason = 'remote_logout') =>
  h.run('session_revoke_others', [`ah:sess_idx:${phash}`], [phash, keep, reason]);
const list = (phash, idle = IDLE) => h.run('session_list', [`ah:sess_idx:${phash}`], [phash, String(idle)]);

// ---- session_create ----

test('session_create: the record, its expiry, the person index', async () => {
  const t0 = await nowS();
  const [ok, created, expires] = await create('s1');
  assert.equal(ok, 'ok');
  assert.ok(created >= t0 && created <= t0 + 1);
  assert.equal(expires, created + MAX);
  const rec = await h.client.hgetall('ah:sess:s1');
  assert.deepEqual(rec, {
    id: 's1', phash: PH, created_at: String(created), last_seen_at: String(created), expires_at: String(expires),
    rt_hash: 'rt-s1-0', rotated_at: String(created), principal: `https://idp#${PH}`, sub: 'sub-aaaa',
    email: 'a@example.com', name: 'Ann', role: 'operator', ip: '10.0.0.7', user_agent: 'test-agent', idp_rt: '',
  });
  const ttl = await h.client.ttl('ah:sess:s1');
  assert.ok(ttl > IDLE - 3 && ttl <= IDLE, `ttl ${ttl}`);
  assert.deepEqual(await h.client.zrange(`ah:sess_idx:${PH}`, 0, -1, 'WITHSCORES'), ['s1', String(created)]);
  const ittl = await h.client.ttl(`ah:sess_idx:${PH}`);
  assert.ok(ittl > MAX - 3 && ittl <= MAX);
});

test('session_create: a short max_s caps the first expiry', async () => {
  await create('s1', { idle: 600, max: 60 });
  const ttl = await h.client.ttl('ah:sess:s1');
  assert.ok(ttl > 55 && ttl <= 60, `ttl ${ttl}`);
});

test('session_create twice with the same id: exists, nothing changed', async () => {
  await create('s1');
  await unchanged(h.client, async () => {
    assert.deepEqual(await create('s1', { role: 'admin' }), ['err', 'exists']);
  });
});

test('session_create prunes index entries whose session is gone', async () => {
  await create('s1');
  await create('s2');
  await h.client.del('ah:sess:s1');
  await create('s3');
  assert.deepEqual(await h.client.zrange(`ah:sess_idx:${PH}`, 0, -1), ['s2', 's3']);
});

test('session_create malformed calls are errors and change nothing', async () => {
  const K = ['ah:sess:s1', `ah:sess_idx:${PH}`];
  const base = ['s1', PH, 'h0', '3600', '43200'];
  const bad = [
    [K.slice(0, 1), [...base, 'role', 'admin'], /expected 2 KEYS/],
    [K, base.slice(0, 4), /expected 5 ARGV and field pairs/],
    [K, [...base, 'role'], /expected 5 ARGV and field pairs/],
    [K, [...base], /role must be admin, operator or viewer/],
    [K, [...base, 'role', 'root'], /role must be admin, operator or viewer/],
    [K, [...base, 'role', 'admin', 'revoked', '0'], /field revoked is reserved/],
    [K, [...base, 'role', 'admin', 'expires_at', '9999999999'], /field expires_at is reserved/],
    [K, [...base, 'role', 'admin', 'refreshing_until', '1'], /field refreshing_until is reserved/],
    [K, ['s1', PH, 'h0', '0', '43200', 'role', 'admin'], /idle_s and max_s must be at least 1/],
    [K, ['s1', PH, 'h0', 'x', '43200', 'role', 'admin'], /idle_s must be a decimal integer/],
    [K, ['', PH, 'h0', '3600', '43200', 'role', 'admin'], /empty sid, phash or rt_hash/],
    [K, ['s2', PH, 'h0', '3600', '43200', 'role', 'admin'], /KEYS\[1\] must be ah:sess:s2/],
    [K, ['s1', PH2, 'h0', '3600', '43200', 'role', 'admin'], /KEYS\[2\] must be ah:sess_idx:/],
  ];
  for (const [keys, args, re] of bad) await rejects('session_create', keys, args, re);
});

// ---- session_check ----

test('session_check: a live session is reported and touched', async () => {
  const [, created] = await create('s1');
  await h.client.hset('ah:sess:s1', 'last_seen_at', String(created - 100));
  await h.client.expire('ah:sess:s1', 50);
  const r = await check('s1');
  assert.deepEqual(r, ['ok', 'operator', 'sub-aaaa', 'a@example.com', 'Ann', `https://idp#${PH}`, PH, created]);
  const last = Number(await h.client.hget('ah:sess:s1', 'last_seen_at'));
  assert.ok(last >= created);
  const ttl = await h.client.ttl('ah:sess:s1');
  assert.ok(ttl > IDLE - 3, `touch pushed the expiry: ${ttl}`);
});

test('session_check never pushes the expiry past the absolute end', async () => {
  const now = await nowS();
  await create('s1');
  await h.client.hset('ah:sess:s1', 'expires_at', String(now + 30));
  assert.equal((await check('s1'))[0], 'ok');
  const ttl = await h.client.ttl('ah:sess:s1');
  assert.ok(ttl > 25 && ttl <= 30, `ttl ${ttl}`);
});

test('session_check: missing, revoked, idle and expired sessions are refused without writes', async () => {
  await unchanged(h.client, async () => assert.deepEqual(await check('nope'), ['err', 'no_session']));
  const [, created] = await create('s1');
  await revoke('s1');
  await unchanged(h.client, async () => assert.deepEqual(await check('s1'), ['err', 'revoked']));

  await create('s2');
  await h.client.hset('ah:sess:s2', 'last_seen_at', String(created - IDLE));
  await unchanged(h.client, async () => assert.deepEqual(await check('s2'), ['err', 'expired']));
  // one second less idle is fine
  await h.client.hset('ah:sess:s2', 'last_seen_at', String((await nowS()) - IDLE + 2));
  assert.equal((await check('s2'))[0], 'ok');

  await create('s3');
  await h.client.hset('ah:sess:s3', 'expires_at', String(await nowS()));
  await unchanged(h.client, async () => assert.deepEqual(await check('s3'), ['err', 'expired']));

  // a record that is not this session (id field differs) counts as missing
  await h.client.hset('ah:sess:s4', 'id', 'other', 'role', 'admin');
  assert.deepEqual(await check('s4'), ['err', 'no_session']);
});

test('session_check: the record expires on its own when idle (key TTL)', async () => {
  await create('s1', { idle: 1 });
  assert.equal((await check('s1', 1))[0], 'ok');
  await new Promise((r) => setTimeout(r, 2100));
  assert.deepEqual(await check('s1', 1), ['err', 'no_session']);
});

test('session_check malformed calls', async () => {
  await create('s1');
  await rejects('session_check', ['ah:sess:s1'], ['s1'], /expected 2 ARGV/);
  await rejects('session_check', ['ah:sess:s1'], ['s2', '60'], /KEYS\[1\] must be ah:sess:s2/);
  await rejects('session_check', ['ah:sess:s1'], ['s1', '0'], /idle_s < 1/);
  await rejects('session_check', ['ah:sess:s1'], ['s1', '1e3'], /idle_s must be a decimal integer/);
});

// ---- session_refresh ----

test('session_refresh check: the current token passes and marks the session as refreshing; a second check is busy', async () => {
  const [, created, expires] = await create('s1', { extra: { idp_rt: 'v1:sealed' } });
  const t = await h.client.time();
  const nowMs = Number(t[0]) * 1000 + Math.floor(Number(t[1]) / 1000);
  assert.deepEqual(await refresh('check', 's1', 'rt-s1-0'),
    ['ok', 'operator', 'sub-aaaa', 'a@example.com', 'Ann', `https://idp#${PH}`, PH, 'v1:sealed', created, expires]);
  const until = Number(await h.client.hget('ah:sess:s1', 'refreshing_until'));
  assert.ok(until >= nowMs + 14000 && until <= nowMs + 16000, `held about 15 s: ${until - nowMs}`);
  // a second tab checking meanwhile is told to wait, and nothing changes
  await unchanged(h.client, async () => assert.deepEqual(await refresh('check', 's1', 'rt-s1-0'), ['err', 'busy']));
  // the rotation releases the mark
  assert.equal((await refresh('rotate', 's1', 'rt-s1-0', { next: 'rt-s1-1' }))[0], 'ok');
  assert.equal(await h.client.hexists('ah:sess:s1', 'refreshing_until'), 0);
  assert.equal((await refresh('check', 's1', 'rt-s1-1'))[0], 'ok');
  // a mark left by a refresh that never rotated expires by itself
  await h.client.hset('ah:sess:s1', 'refreshing_until', String(nowMs - 1));
  assert.equal((await refresh('check', 's1', 'rt-s1-1'))[0], 'ok');
  // refusals write nothing, mark included
  await unchanged(h.client, async () => assert.deepEqual(await refresh('check', 's1', 'forged'), ['err', 'invalid']));
});

test('session_refresh rotate: new token, the old one recorded as used, role and provider token replaced', async () => {
  const [, created, expires] = await create('s1', { extra: { idp_rt: 'v1:old' } });
  const r = await refresh('rotate', 's1', 'rt-s1-0', { next: 'rt-s1-1', role: 'viewer', idpRt: 'v1:new' });
  assert.deepEqual(r, ['ok', 'viewer', 'sub-aaaa', 'a@example.com', 'Ann', `https://idp#${PH}`, PH, 'v1:new', created, expires]);
  const rec = await h.client.hgetall('ah:sess:s1');
  assert.equal(rec.rt_hash, 'rt-s1-1');
  assert.equal(rec.rt_prev, 'rt-s1-0');
  assert.equal(rec.role, 'viewer');
  assert.deepEqual(await h.client.smembers('ah:sess:s1:rt'), ['rt-s1-0']);
  const ttl = await h.client.ttl('ah:sess:s1:rt');
  assert.ok(ttl > MAX - 5 && ttl <= MAX, `used tokens kept for the session's life: ${ttl}`);
  // empty role and idp_rt keep what is there
  await refresh('rotate', 's1', 'rt-s1-1', { next: 'rt-s1-2' });
  assert.equal(await h.client.hget('ah:sess:s1', 'role'), 'viewer');
  assert.equal(await h.client.hget('ah:sess:s1', 'idp_rt'), 'v1:new');
  assert.deepEqual((await h.client.smembers('ah:sess:s1:rt')).sort(), ['rt-s1-0', 'rt-s1-1']);
});

test('session_refresh: the previous token within the grace is stale, nothing changes', async () => {
  await create('s1');
  await refresh('rotate', 's1', 'rt-s1-0', { next: 'rt-s1-1' });
  await unchanged(h.client, async () => {
    assert.deepEqual(await refresh('check', 's1', 'rt-s1-0'), ['err', 'stale']);
    assert.deepEqual(await refresh('rotate', 's1', 'rt-s1-0', { next: 'rt-x' }), ['err', 'stale']);
  });
  assert.equal((await check('s1'))[0], 'ok');
});

test('session_refresh: reusing a rotated token revokes the whole session', async () => {
  await create('s1');
  await create('s2'); // the same person's other device is not touched
  await refresh('rotate', 's1', 'rt-s1-0', { next: 'rt-s1-1' });
  await refresh('rotate', 's1', 'rt-s1-1', { next: 'rt-s1-2' });
  // rt-s1-0 is neither current nor the previous one: a thief's copy
  assert.deepEqual(await refresh('check', 's1', 'rt-s1-0'), ['err', 'reuse']);
  const rec = await h.client.hgetall('ah:sess:s1');
  assert.equal(rec.revoked, '1');
  assert.equal(rec.revoked_reason, 'refresh_reuse');
  assert.deepEqual(await check('s1'), ['err', 'revoked']);
  // the current token is dead too: the family is revoked
  assert.deepEqual(await refresh('check', 's1', 'rt-s1-2'), ['err', 'revoked']);
  assert.deepEqual(await h.client.zrange(`ah:sess_idx:${PH}`, 0, -1), ['s2']);
  assert.equal((await check('s2'))[0], 'ok');
});

test('session_refresh: the previous token after the grace is a reuse', async () => {
  await create('s1');
  await refresh('rotate', 's1', 'rt-s1-0', { next: 'rt-s1-1', grace: 0 });
  assert.deepEqual(await refresh('check', 's1', 'rt-s1-0', { grace: 0 }), ['err', 'reuse']);
  assert.deepEqual(await check('s1'), ['err', 'revoked']);
});

test('session_refresh: an unknown token is invalid and revokes nothing', async () => {
  await create('s1');
  await unchanged(h.client, async () => {
    assert.deepEqual(await refresh('check', 's1', 'forged'), ['err', 'invalid']);
    assert.deepEqual(await refresh('rotate', 's1', 'forged', { next: 'x' }), ['err', 'invalid']);
  });
  assert.equal((await check('s1'))[0], 'ok');
});

test('session_refresh: missing, revoked, idle and expired sessions', async () => {
  assert.deepEqual(await refresh('check', 'nope', 'h'), ['err', 'no_session']);
  await create('s1');
  await revoke('s1');
  assert.deepEqual(await refresh('check', 's1', 'rt-s1-0'), ['err', 'revoked']);
  await create('s2');
  await h.client.hset('ah:sess:s2', 'last_seen_at', String((await nowS()) - IDLE));
  await unchanged(h.client, async () => {
    assert.deepEqual(await refresh('rotate', 's2', 'rt-s2-0', { next: 'n' }), ['err', 'expired']);
  });
  await create('s3');
  await h.client.hset('ah:sess:s3', 'expires_at', String(await nowS()));
  assert.deepEqual(await refresh('check', 's3', 'rt-s3-0'), ['err', 'expired']);
});

test('session_refresh malformed calls', async () => {
  await create('s1');
  const K = ['ah:sess:s1', 'ah:sess:s1:rt'];
  const bad = [
    [K.slice(0, 1), ['check', 's1', 'h', '60', '10'], /expected 2 KEYS/],
    [K, ['peek', 's1', 'h', '60', '10'], /unknown mode peek/],
    [K, ['check', 's1', 'h', '60'], /check expects 5 ARGV/],
    [K, ['rotate', 's1', 'h', '60', '10', 'n', ''], /rotate expects 8 ARGV/],
    [K, ['rotate', 's1', 'rt-s1-0', '60', '10', '', '', ''], /empty new_hash/],
    [K, ['rotate', 's1', 'rt-s1-0', '60', '10', 'n', 'root', ''], /role must be admin, operator, viewer or ""/],
    [K, ['check', 's1', 'h', '60', '-1'], /bad sid, hash, idle_s or grace_s/],
    [K, ['check', 's2', 'h', '60', '10'], /KEYS must be ah:sess:s2/],
    [['ah:sess:s1', 'ah:sess:s1:used'], ['check', 's1', 'h', '60', '10'], /KEYS must be/],
  ];
  for (const [keys, args, re] of bad) await rejects('session_refresh', keys, args, re);
});

// ---- session_revoke, session_revoke_others, session_list ----

test('session_revoke: by id, by its owner only, idempotent', async () => {
  await create('s1');
  await create('t1', { phash: PH2 });
  await unchanged(h.client, async () => {
    assert.deepEqual(await revoke('s1', PH2), ['err', 'not_found'], 'another person may not end it');
    assert.deepEqual(await revoke('nope'), ['err', 'not_found']);
  });
  assert.deepEqual(await revoke('s1', PH, 'remote_logout'), ['ok', 1]);
  const rec = await h.client.hgetall('ah:sess:s1');
  assert.equal(rec.revoked, '1');
  assert.equal(rec.revoked_reason, 'remote_logout');
  assert.ok(Number(rec.revoked_at) > 0);
  assert.deepEqual(await h.client.zrange(`ah:sess_idx:${PH}`, 0, -1), []);
  await unchanged(h.client, async () => assert.deepEqual(await revoke('s1'), ['ok', 0]));
  assert.deepEqual(await check('s1'), ['err', 'revoked']);
  assert.equal((await check('t1'))[0], 'ok');
});

test('session_revoke malformed calls', async () => {
  await create('s1');
  await rejects('session_revoke', ['ah:sess:s1'], ['s1', ''], /expected 3 ARGV/);
  await rejects('session_revoke', ['ah:sess:s1'], ['', '', 'x'], /empty sid/);
  await rejects('session_revoke', ['ah:sess:s1'], ['s2', '', 'x'], /KEYS\[1\] must be ah:sess:s2/);
});

test('session_revoke_others: every session of the person but the kept one', async () => {
  await create('s1');
  await create('s2');
  await create('s3');
  await revoke('s3');
  await create('t1', { phash: PH2 });
  assert.deepEqual(await revokeOthers(PH, 's2'), ['ok', 1]);
  assert.deepEqual(await check('s1'), ['err', 'revoked']);
  assert.equal((await check('s2'))[0], 'ok');
  assert.equal((await check('t1'))[0], 'ok');
  assert.deepEqual(await h.client.zrange(`ah:sess_idx:${PH}`, 0, -1), ['s2']);
  assert.equal(await h.client.hget('ah:sess:s1', 'revoked_reason'), 'remote_logout');
  assert.deepEqual(await revokeOthers(PH, 's2'), ['ok', 0]);
  assert.deepEqual(await revokeOthers(PH, ''), ['ok', 1]);
  assert.deepEqual(await check('s2'), ['err', 'revoked']);
});

test('session_revoke_others: an indexed session of another person is not revoked', async () => {
  await create('s1');
  await create('t1', { phash: PH2 });
  await h.client.zadd(`ah:sess_idx:${PH}`, 0, 't1'); // a corrupt index entry
  assert.deepEqual(await revokeOthers(PH, ''), ['ok', 1]);
  assert.equal((await check('t1'))[0], 'ok');
});

test('session_revoke_others malformed calls', async () => {
  await rejects('session_revoke_others', [`ah:sess_idx:${PH}`], [PH2, '', 'x'], /KEYS\[1\] must be ah:sess_idx:/);
  await rejects('session_revoke_others', [`ah:sess_idx:${PH}`], ['', '', 'x'], /empty phash/);
  await rejects('session_revoke_others', [`ah:sess_idx:${PH}`], [PH, ''], /expected 3 ARGV/);
});

test('session_list: live sessions newest first, dead ones pruned from the index', async () => {
  const [, c1] = await create('s1', { extra: { user_agent: 'Firefox', ip: '10.0.0.1' } });
  await create('s2', { extra: { user_agent: 'Chrome', ip: '10.0.0.2' } });
  await create('s3');
  await create('s4');
  await create('t1', { phash: PH2 });
  await h.client.zadd(`ah:sess_idx:${PH}`, c1 + 5, 's2'); // s2 newest
  await revoke('s3');
  await h.client.zadd(`ah:sess_idx:${PH}`, c1, 's3'); // revoked but still indexed: pruned by the listing
  await h.client.hset('ah:sess:s4', 'last_seen_at', String((await nowS()) - IDLE)); // idle
  await h.client.zadd(`ah:sess_idx:${PH}`, c1, 'gone'); // no record
  const rows = await list(PH);
  assert.equal(rows.length, 2);
  assert.deepEqual(rows[0].slice(0, 1).concat(rows[0].slice(3, 6)), ['s2', 'Chrome', '10.0.0.2', 'operator']);
  assert.deepEqual(rows[1].slice(0, 1).concat(rows[1].slice(3, 6)), ['s1', 'Firefox', '10.0.0.1', 'operator']);
  assert.equal(rows[1][1], c1);
  assert.equal(rows[1][6], c1 + MAX);
  assert.deepEqual((await h.client.zrange(`ah:sess_idx:${PH}`, 0, -1)).sort(), ['s1', 's2']);
  assert.deepEqual((await list(PH2)).map((r) => r[0]), ['t1']);
  assert.deepEqual(await list('0123456789abcdef0123456789abcdef'), []);
});

test('session_list malformed calls', async () => {
  await rejects('session_list', [`ah:sess_idx:${PH}`], [PH2, '60'], /KEYS\[1\] must be ah:sess_idx:/);
  await rejects('session_list', [`ah:sess_idx:${PH}`], [PH, '0'], /empty phash or idle_s < 1/);
  await rejects('session_list', [`ah:sess_idx:${PH}`], [PH], /expected 2 ARGV/);
});

test('a whole life: sign-in, use, two rotations, a remote logout seen by the next check', async () => {
  await create('s1');
  await create('s2');
  assert.equal((await check('s1'))[0], 'ok');
  assert.equal((await refresh('rotate', 's1', 'rt-s1-0', { next: 'rt-s1-1' }))[0], 'ok');
  assert.equal((await refresh('rotate', 's1', 'rt-s1-1', { next: 'rt-s1-2', role: 'admin' }))[1], 'admin');
  assert.equal((await check('s1'))[1], 'admin');
  // from device s2: log out s1
  assert.deepEqual(await revoke('s1', PH, 'remote_logout'), ['ok', 1]);
  assert.deepEqual(await check('s1'), ['err', 'revoked']);
  assert.deepEqual(await refresh('check', 's1', 'rt-s1-2'), ['err', 'revoked']);
  const db = await dumpDb(h.client);
  assert.ok(db['ah:sess:s1'] && db['ah:sess:s2'] && db['ah:sess:s1:rt']);
});

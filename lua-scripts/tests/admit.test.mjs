// admit.lua: key, user and model checks in their documented order, the
// choice of an account, what a success writes (hold, slots, windows, last
// use) and that a refusal writes nothing but its log entry (the stats are
// folded from the log: stats_fold).
// Limits: limits.test.mjs; holds and quota: money.test.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  acctKey, admit, calIds, logs, okReply, refusedOnly, rejectsUnchanged, seedKeyAndUser, serverNowMs, serverNowS, useRedis,
} from './fixtures.mjs';

const h = useRedis();
const fold = () => h.run('stats_fold', ['ah:logs', 'ah:stats_cursor'], ['1000']);
// A full RPM window of 1 for key k1 at server second `now`.
const fullWindow = (now) => h.client.hset('ah:lim:key:k1',
  { rs: '1', ts: '0', cs: String(now), cr: '1', ct: '0', tr: String(now - 61), o: String(now) });

// A refusal: only the log may change; logged unless the key is unknown.
const refused = (opts, expected) =>
  refusedOnly(h.client, () => admit(h, opts), expected, { logged: expected[1] !== 'invalid_api_key' });

test('a valid request is admitted: account, key id and user id; last_used_at is set', async () => {
  await seedKeyAndUser(h.client);
  const t0 = await serverNowS(h.client);
  assert.deepEqual(await admit(h, { cands: [['a', 0, 1], ['b', 0, 1]], r: '0.7' }), okReply('b'));
  const t1 = await serverNowS(h.client);
  const used = Number(await h.client.hget('ah:key:h1', 'last_used_at'));
  assert.ok(used >= t0 && used <= t1, `last_used_at ${used} not in [${t0}, ${t1}]`);
  assert.match(await h.client.hget('ah:key:h1', 'last_used_at'), /^\d{10}$/);
  // the key's other fields are untouched
  assert.equal(await h.client.hget('ah:key:h1', 'enabled'), '1');
});

test('a success writes the hold record, the lease in ah:holds, the in-flight counts, and counts every limited window', async () => {
  await seedKeyAndUser(h.client, {
    key: { rpm: '100', tpm: '10000', max_in_flight: '5' }, user: { balance: '1000', rpm: '100', max_in_flight: '5' },
  });
  const t0 = await serverNowMs(h.client);
  const reply = await admit(h, {
    lease: 'L1', hold: 300, tokens: 40, ttl: 30_000, requestId: 'req-9', cands: [['a', 0, 1, 0, 500]], globalTpm: 100_000,
  });
  const t1 = await serverNowMs(h.client);
  assert.equal(reply[0], 'ok');
  assert.equal(reply[1], 'a');
  const hold = await h.client.hgetall('ah:hold:L1');
  const sec = Number(hold.tpm_sec);
  assert.ok(sec >= Math.floor(t0 / 1000) && sec <= Math.floor(t1 / 1000));
  // tw: the TPM windows counted with a TPM limit (key, gateway; the user has only an RPM limit)
  assert.deepEqual(hold, {
    user_id: 'u1', key_id: 'k1', amount: '300', tpm_est: '40', tpm_sec: String(sec), acct_id: 'a',
    acct_sec: String(sec), request_id: 'req-9', ifk: '1', ifu: '1', tw: 'kg',
  });
  // the hold record outlives its lease by a day, so a late settle finds it
  const pttl = await h.client.pttl('ah:hold:L1');
  assert.ok(pttl > 86_400_000 && pttl <= 86_430_000, `hold PTTL ${pttl}`);
  const expiry = Number(await h.client.zscore('ah:holds', 'L1'));
  assert.ok(expiry >= t0 + 30_000 && expiry <= t1 + 30_000, `expiry ${expiry}`);
  assert.equal(await h.client.hget('ah:key:h1', 'inflight'), '1');
  assert.equal(await h.client.hget('ah:user:u1', 'inflight'), '1');
  for (const scope of ['key:k1', 'user:u1', 'global:all', 'acct:a']) {
    const w = await h.client.hgetall(`ah:lim:${scope}`);
    // this second's bucket is the newest: its fields are cs, cr, ct
    assert.deepEqual([w.cs, w.cr, w.ct], [String(sec), '1', '40'], `${scope} bucket`);
    assert.equal(w.rs, '1', scope);
    assert.equal(w.ts, '40', scope);
    assert.equal(w.o, String(sec), scope);
    const ttl = await h.client.ttl(`ah:lim:${scope}`);
    assert.ok(ttl > 60 && ttl <= 63, `${scope} window TTL ${ttl}`);
  }
  // a success writes no log entry (settle does)
  assert.equal(await h.client.exists('ah:logs'), 0);
});

test('without limits a success counts nothing: no window, no in-flight count, no account bucket in the hold', async () => {
  await seedKeyAndUser(h.client);
  assert.deepEqual(await admit(h, { lease: 'L2', tokens: 40, cands: [['a', 0, 1]] }), okReply('a'));
  assert.deepEqual(await h.client.keys('ah:lim:*'), []);
  assert.equal(await h.client.hexists('ah:key:h1', 'inflight'), 0);
  assert.equal(await h.client.hexists('ah:user:u1', 'inflight'), 0);
  const hold = await h.client.hgetall('ah:hold:L2');
  assert.deepEqual([hold.ifk, hold.ifu, hold.tw, hold.acct_sec], ['0', '0', '', undefined]);
});

test('invalid_api_key: missing, disabled, not enabled, expired key; not logged', async () => {
  await seedKeyAndUser(h.client);
  await refused({ keyKey: 'ah:key:nope' }, ['err', 'invalid_api_key']);
  await h.client.hset('ah:key:h1', 'enabled', '0');
  await refused({}, ['err', 'invalid_api_key']);
  await h.client.hdel('ah:key:h1', 'enabled');
  await refused({}, ['err', 'invalid_api_key']);
  await h.client.hset('ah:key:h1', 'enabled', 'true'); // only "1" means enabled
  await refused({}, ['err', 'invalid_api_key']);
  await h.client.hset('ah:key:h1', 'enabled', '1', 'expires_at', String((await serverNowS(h.client)) - 1));
  await refused({}, ['err', 'invalid_api_key']);
  // expiring this very second counts as expired
  await h.client.hset('ah:key:h1', 'expires_at', String(await serverNowS(h.client)));
  await refused({}, ['err', 'invalid_api_key']);
  assert.equal(await h.client.exists('ah:logs'), 0);
  assert.deepEqual(await h.client.keys('ah:stats:*'), []);
});

test('expires_at in the future, 0 or absent admits', async () => {
  await seedKeyAndUser(h.client, { key: { expires_at: String((await serverNowS(h.client)) + 3600) } });
  assert.equal((await admit(h))[0], 'ok');
  await h.client.hset('ah:key:h1', 'expires_at', '0');
  assert.equal((await admit(h))[0], 'ok');
  await h.client.hdel('ah:key:h1', 'expires_at');
  assert.equal((await admit(h))[0], 'ok');
});

test('user_disabled: user missing, disabled, not enabled, or key without user_id', async () => {
  await seedKeyAndUser(h.client, { user: { enabled: '0' } });
  await refused({}, ['err', 'user_disabled']);
  await h.client.hdel('ah:user:u1', 'enabled');
  await refused({}, ['err', 'user_disabled']);
  await h.client.del('ah:user:u1');
  await refused({}, ['err', 'user_disabled']);
  await seedKeyAndUser(h.client);
  await h.client.hdel('ah:key:h1', 'user_id');
  await refused({}, ['err', 'user_disabled']);
  await h.client.hset('ah:key:h1', 'user_id', '');
  await refused({}, ['err', 'user_disabled']);
  // the user is found by the key's user_id, not some fixed name
  await h.client.hset('ah:key:h1', 'user_id', 'u2');
  await refused({}, ['err', 'user_disabled']);
  await h.client.hset('ah:user:u2', { id: 'u2', enabled: '1' });
  assert.deepEqual(await admit(h), okReply('a', 'k1', 'u2'));
});

test('model restrictions: listed models only; empty, null or absent means all', async () => {
  await seedKeyAndUser(h.client, { key: { models: '["gpt-4","gpt-4o-mini"]' } });
  await refused({ model: 'gpt-4o' }, ['err', 'model_not_allowed']);
  await refused({ model: 'GPT-4' }, ['err', 'model_not_allowed']);
  await refused({ model: 'gpt-4o-mini-2024' }, ['err', 'model_not_allowed']);
  assert.deepEqual(await admit(h, { model: 'gpt-4' }), okReply('a'));
  assert.deepEqual(await admit(h, { model: 'gpt-4o-mini' }), okReply('a'));
  for (const all of ['[]', '', 'null']) {
    await h.client.hset('ah:key:h1', 'models', all);
    assert.equal((await admit(h, { model: 'anything' }))[0], 'ok', `models=${all}`);
  }
  await h.client.hdel('ah:key:h1', 'models');
  assert.equal((await admit(h, { model: 'anything' }))[0], 'ok');
});

test('a malformed models field refuses rather than widening access', async () => {
  await seedKeyAndUser(h.client);
  for (const bad of ['not json', '"gpt-4o"', '{"gpt-4o":true}', '[1,2]', '["gpt-4o"']) {
    await h.client.hset('ah:key:h1', 'models', bad);
    await refused({ model: 'gpt-4o' }, ['err', 'model_not_allowed']);
  }
});

test('model_not_found when there is no candidate', async () => {
  await seedKeyAndUser(h.client);
  await refused({ cands: [] }, ['err', 'model_not_found']);
});

test('no_available_account refuses without touching the key, the user or the account', async () => {
  await seedKeyAndUser(h.client, { user: { balance: '500' } });
  await h.client.hset(acctKey('a'), 'disabled', '1');
  await refused({ cands: [['a', 0, 1]], hold: 100, tokens: 10 }, ['err', 'no_available_account', -1]);
  assert.equal(await h.client.hget('ah:user:u1', 'balance'), '500');
});

test('a refusal of a known key: one log entry with the documented fields, folded into the stats as one error', async () => {
  await seedKeyAndUser(h.client, { key: { models: '["x"]' } });
  const now = await serverNowS(h.client);
  await refused({ model: 'gpt-4o', requestId: 'rq-7', stream: '1', clientIp: '192.0.2.4' }, ['err', 'model_not_allowed']);
  const [entry] = await logs(h.client);
  const t = Number(entry.time);
  assert.ok(t >= now && t <= now + 2, `time ${entry.time}`);
  assert.deepEqual({ ...entry, time: 'x' }, {
    time: 'x', request_id: 'rq-7', user_id: 'u1', key_id: 'k1', model: 'gpt-4o', status: '403', stream: '1',
    attempts: '0', cost: '0', unpaid: '0', error: 'model_not_allowed', client_ip: '192.0.2.4', unlisted: '0',
  });
  // the refusal wrote no stats itself: they come from the log
  assert.deepEqual(await h.client.keys('ah:stats:*'), []);
  assert.equal(await fold(), 1);
  const [day, hour] = calIds(t);
  assert.deepEqual(await h.client.hgetall(`ah:stats:d:${day}`),
    { req: '1', err: '1', 'm:gpt-4o:req': '1', 'm:gpt-4o:err': '1', 'u:u1:req': '1', 'u:u1:err': '1' });
  assert.deepEqual(await h.client.hgetall(`ah:stats:h:${hour}`),
    { req: '1', err: '1', 'm:gpt-4o:req': '1', 'm:gpt-4o:err': '1' });
  const dttl = await h.client.ttl(`ah:stats:d:${day}`);
  const httl = await h.client.ttl(`ah:stats:h:${hour}`);
  assert.ok(dttl > 399 * 86400 && dttl <= 400 * 86400, `day stats TTL ${dttl}`);
  assert.ok(httl > 7 * 86400 && httl <= 8 * 86400, `hour stats TTL ${httl}`);
  // each refusal has its status: 403 user, 404 model, 503 accounts, 429 limits and quota
  await h.client.hdel('ah:key:h1', 'models');
  await refused({ cands: [] }, ['err', 'model_not_found']);
  await h.client.hset(acctKey('a'), 'disabled', '1');
  await refused({}, ['err', 'no_available_account', -1]);
  await refused({ hold: 1 }, ['err', 'insufficient_quota', 0, 'balance']);
  await h.client.hset('ah:user:u1', 'enabled', '0');
  await refused({}, ['err', 'user_disabled']);
  const statuses = (await logs(h.client)).map((e) => [e.error, e.status]);
  assert.deepEqual(statuses, [['model_not_allowed', '403'], ['model_not_found', '404'],
    ['no_available_account', '503'], ['insufficient_quota', '429'], ['user_disabled', '403']]);
  // a model no channel serves is "unlisted": no model dimension for it
  assert.deepEqual((await logs(h.client)).map((e) => e.unlisted), ['0', '1', '0', '0', '0']);
  assert.equal(await fold(), 4);
  assert.equal(await h.client.hget(`ah:stats:d:${day}`, 'err'), '5');
  assert.equal(await h.client.hget(`ah:stats:d:${day}`, 'm:gpt-4o:err'), '4');
});

test('the request log is capped near log_max', async () => {
  await seedKeyAndUser(h.client, { user: { enabled: '0' } });
  for (let i = 0; i < 400; i++) await admit(h, { logMax: 100 });
  const len = await h.client.xlen('ah:logs');
  // MAXLEN ~ trims whole macro nodes (100 entries by default)
  assert.ok(len >= 100 && len < 300, `log length ${len}`);
});

test('checks run in the documented order', async () => {
  // each row breaks every check from its own onwards; the first one must answer
  const now = await serverNowS(h.client);
  const limited = { rpm: '1', spend_limit_monthly: '1' };
  const rows = [
    ['invalid_api_key', { key: { enabled: '0', ...limited }, user: { enabled: '0' } }],
    ['invalid_api_key', { key: { expires_at: String(now - 10), models: '["x"]', ...limited }, user: { enabled: '0' } }],
    ['user_disabled', { key: { models: '["x"]', ...limited }, user: { enabled: '0' } }],
    ['model_not_allowed', { key: { models: '["x"]', ...limited }, user: {} }],
  ];
  for (const [code, seed] of rows) {
    await h.client.flushall();
    await seedKeyAndUser(h.client, seed);
    await fullWindow(now);
    await refused({ cands: [], hold: 5 }, ['err', code]);
  }
  // model_not_found before the limits
  await h.client.flushall();
  await seedKeyAndUser(h.client, { key: { models: '["gpt-4o"]', ...limited } });
  await fullWindow(now);
  await refused({ cands: [], hold: 5 }, ['err', 'model_not_found']);
  // the limits before the quota
  await h.client.hset(acctKey('a'), 'disabled', '1');
  const reply = await admit(h, { hold: 5 });
  assert.deepEqual(reply.slice(0, 2), ['err', 'rate_limit_exceeded']);
  // the quota (spend limit first, then balance) before the account choice
  await h.client.del('ah:lim:key:k1');
  await refused({ hold: 5 }, ['err', 'insufficient_quota', 0, 'spend_limit']);
  await h.client.hdel('ah:key:h1', 'spend_limit_monthly');
  await refused({ hold: 5 }, ['err', 'insufficient_quota', 0, 'balance']);
  await refused({ hold: 0 }, ['err', 'no_available_account', -1]);
});

test('malformed calls are errors and write nothing', async () => {
  await seedKeyAndUser(h.client, { user: { balance: '100' } });
  const base = ['gpt-4o', '0', 'L', '10', '5', '60000', '0', '0', 'req', '0', 'ip', '1000'];
  const cand = ['1', 'a', '0', '1', '0', '0'];
  const bad = [
    [[...base.slice(0, 2), '', ...base.slice(3), ...cand], /empty lease/],
    [[...base.slice(0, 3), '-1', ...base.slice(4), ...cand], /hold and tokens must be >= 0/],
    [[...base.slice(0, 3), '1.5', ...base.slice(4), ...cand], /hold must be a decimal integer/],
    [[...base.slice(0, 4), '-1', ...base.slice(5), ...cand], /hold and tokens must be >= 0/],
    [[...base.slice(0, 5), '999', ...base.slice(6), ...cand], /ttl_ms must be >= 1000/],
    [[...base.slice(0, 6), 'x', ...base.slice(7), ...cand], /global_rpm must be a decimal integer/],
    [[...base.slice(0, 7), '', ...base.slice(8), ...cand], /global_tpm must be a decimal integer/],
    [[...base.slice(0, 11), '-1', ...cand], /log_max must be >= 0/],
    [[...base, '1', 'a', '0', '1', 'x', '0'], /candidate 1 rpm must be a decimal integer/],
    [[...base, '1', 'a', '0', '1', '0', '1e3'], /candidate 1 tpm must be a decimal integer/],
    [[...base, '1', 'a', '0', '1', '0'], /expected 18 ARGV, got 17/],
    [[...base, ...cand, 'extra'], /expected 18 ARGV, got 19/],
  ];
  for (const [args, re] of bad) {
    await rejectsUnchanged(h.client, () => h.run('admit', ['ah:key:h1', acctKey('a')], args), re);
  }
  // the same call, well formed, is admitted
  assert.deepEqual(await h.run('admit', ['ah:key:h1', acctKey('a')], [...base, ...cand]), okReply('a'));
});

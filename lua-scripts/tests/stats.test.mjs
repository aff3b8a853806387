// The request log and the day/hour stats: what settle appends, how
// stats_fold adds the log up into the stats (exactly once per entry), the
// calendar ids they are filed under (cal_ids in lib/limits.lua), and the
// scripts that read them: stats_read and usage_view (both fold first).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  admit, calIds, credits, evalWithLib, failover, logs, rejectsUnchanged, seedKeyAndUser, seeded, serverNowS, settle,
  unchanged, useRedis,
} from './fixtures.mjs';

const h = useRedis();

const FIELDS = ['req', 'err', 'pt', 'ct', 'cost'];

// The stats hashes a list of settled requests must give: {key: {field: value}}.
// r: {time, model, channel, account, user, req, err, pt, ct, cost}
function expectedStats(requests) {
  const out = {};
  const add = (key, prefix, r) => {
    out[key] ??= {};
    for (const f of FIELDS) {
      if (r[f] !== 0) out[key][prefix + f] = String(Number(out[key][prefix + f] ?? 0) + r[f]);
    }
  };
  for (const r of requests) {
    const [day, hour] = calIds(r.time);
    const d = `ah:stats:d:${day}`;
    const hr = `ah:stats:h:${hour}`;
    add(d, '', r);
    add(hr, '', r);
    if (r.model) { add(d, `m:${r.model}:`, r); add(hr, `m:${r.model}:`, r); }
    if (r.channel) add(d, `c:${r.channel}:`, r);
    if (r.account) add(d, `a:${r.account}:`, r);
    if (r.user) add(d, `u:${r.user}:`, r);
  }
  return out;
}

const fold = (max = 1000, client = h.client) =>
  client.evalsha(h.shas.stats_fold, 2, 'ah:logs', 'ah:stats_cursor', String(max));

// Folds what the log holds, then returns every stats hash.
async function statsNow() {
  await fold();
  const out = {};
  for (const k of (await h.client.keys('ah:stats:*')).sort()) out[k] = await h.client.hgetall(k);
  return out;
}

test('settle appends the request log entry with the documented fields', async () => {
  await seedKeyAndUser(h.client);
  await credits(h, 'u1', 1000, 'seed');
  await admit(h, { lease: 'P', hold: 500, requestId: 'rq-P' });
  const t0 = await serverNowS(h.client);
  const fields = {
    request_id: 'rq-P', upstream_model: 'gpt-4o-2024-08-06', account_id: 'a', stream: '1', attempts: '2',
    latency_ms: '950', first_byte_ms: '200', cached_tokens: '10', estimated: '0', error: '', client_ip: '10.1.1.1',
  };
  assert.deepEqual(await settle(h, 'a', {
    lease: 'P', cost: 300, tokens: 200, pt: 120, ct: 80, clientStatus: 200, model: 'gpt-4o', channel: 'ch1', fields,
  }), [300, 0, 700]);
  const t1 = await serverNowS(h.client);
  const all = await logs(h.client);
  assert.equal(all.length, 1);
  const [entry] = all;
  assert.ok(Number(entry.time) >= t0 && Number(entry.time) <= t1, `time ${entry.time}`);
  assert.deepEqual(entry, {
    time: entry.time, user_id: 'u1', key_id: 'k1', status: '200', cost: '300', unpaid: '0', model: 'gpt-4o',
    channel_id: 'ch1', prompt_tokens: '120', completion_tokens: '80', ...fields,
  });
  // the fixed fields come first, the caller's after them, in their order
  const [[, flat]] = await h.client.xrange('ah:logs', '-', '+');
  const names = flat.filter((_, i) => i % 2 === 0);
  assert.deepEqual(names, ['time', 'user_id', 'key_id', 'status', 'cost', 'unpaid', 'model', 'channel_id',
    'prompt_tokens', 'completion_tokens', ...Object.keys(fields)]);
  // a settle without a hold logs empty user and key
  await settle(h, 'b', { lease: 'none', clientStatus: 499, fields: { request_id: 'rq-Q' } });
  const last = (await logs(h.client)).at(-1);
  assert.deepEqual([last.user_id, last.key_id, last.status, last.request_id], ['', '', '499', 'rq-Q']);
});

test('the fold adds req, err, pt, ct and cost of settled requests to the day and hour stats, totals and by dimension', async () => {
  await seedKeyAndUser(h.client);
  await credits(h, 'u1', 100_000, 'seed');
  const done = [];
  const run = async (opts, dims) => {
    await admit(h, { lease: opts.lease, hold: 1000, cands: [[dims.account, 0, 1]] });
    await settle(h, dims.account, { ...opts, model: dims.model, channel: dims.channel });
    const time = Number((await logs(h.client)).at(-1).time);
    done.push({ time, ...dims, user: 'u1', req: 1, err: opts.clientStatus >= 400 ? 1 : 0, pt: opts.pt, ct: opts.ct, cost: opts.cost });
  };
  await run({ lease: 'S1', cost: 300, pt: 120, ct: 80, clientStatus: 200 }, { model: 'gpt-4o', channel: 'ch1', account: 'a' });
  await run({ lease: 'S2', outcome: 'failed', status: 502, cost: 0, pt: 0, ct: 0, clientStatus: 502 },
    { model: 'gpt-4o', channel: 'ch2', account: 'b' });
  await run({ lease: 'S3', cost: 5, pt: 7, ct: 0, clientStatus: 400, outcome: 'client_error' },
    { model: 'o1', channel: 'ch1', account: 'a' });
  await run({ lease: 'S4', cost: 0, pt: 3, ct: 4, clientStatus: 200 }, { model: 'o1', channel: 'ch1', account: 'a' });
  assert.deepEqual(await statsNow(), expectedStats(done));
  // spot checks that do not depend on the model above
  const [day] = calIds(done[0].time);
  const d = await h.client.hgetall(`ah:stats:d:${day}`);
  if (done.every((r) => calIds(r.time)[0] === day)) {
    assert.equal(d.req, '4');
    assert.equal(d.err, '2');
    assert.equal(d.cost, '305');
    assert.equal(d['c:ch2:err'], '1');
    assert.equal(d['c:ch2:cost'], undefined, 'zero values are not written');
    assert.equal(d['a:a:pt'], '130');
    assert.equal(d['u:u1:ct'], '84');
  }
});

test('stats without a user; after a failover the account dimension is the one that served', async () => {
  await seedKeyAndUser(h.client);
  await settle(h, 'z', { lease: 'nohold', cost: 9, pt: 1, ct: 1, model: 'm', channel: '' });
  const t = Number((await logs(h.client)).at(-1).time);
  const expected = [{ time: t, model: 'm', channel: '', account: 'z', user: '', req: 1, err: 0, pt: 1, ct: 1, cost: 9 }];
  await admit(h, { lease: 'F', cands: [['a', 0, 1]] });
  await failover(h, 'a', { lease: 'F', cands: [['b', 0, 1]] });
  await settle(h, 'b', { lease: 'F', cost: 0, pt: 2, ct: 0, model: 'm', channel: 'ch' });
  const t2 = Number((await logs(h.client)).at(-1).time);
  expected.push({ time: t2, model: 'm', channel: 'ch', account: 'b', user: 'u1', req: 1, err: 0, pt: 2, ct: 0, cost: 0 });
  assert.deepEqual(await statsNow(), expectedStats(expected));
});

test('stats_fold counts each log entry once, in batches of at most max, and moves its cursor', async () => {
  await seedKeyAndUser(h.client);
  const expected = [];
  for (let i = 0; i < 7; i++) {
    await settle(h, 'a', { lease: `n${i}`, cost: i, pt: 1, ct: 2, model: 'm', channel: 'c' });
    expected.push({ time: Number((await logs(h.client)).at(-1).time), model: 'm', channel: 'c', account: 'a', user: '',
      req: 1, err: 0, pt: 1, ct: 2, cost: i });
  }
  assert.deepEqual(await h.client.keys('ah:stats:*'), [], 'settle writes no stats itself');
  assert.equal(await fold(3), 3);
  assert.equal(await fold(3), 3);
  assert.equal(await fold(3), 1);
  assert.equal(await unchanged(h.client, () => fold(3)), 0, 'nothing new: nothing written');
  const [[lastId]] = await h.client.xrevrange('ah:logs', '+', '-', 'COUNT', 1);
  assert.equal(await h.client.get('ah:stats_cursor'), lastId);
  assert.deepEqual(await statsNow(), expectedStats(expected));
  const ttls = await Promise.all(Object.keys(await statsNow()).map((k) => h.client.ttl(k)));
  assert.ok(ttls.every((t) => t > 7 * 86400), `stats expire after days: ${ttls}`);
});

test('folds from two connections at once count every entry exactly once', async () => {
  await seedKeyAndUser(h.client);
  const xs = [];
  for (let i = 0; i < 50; i++) xs.push(settle(h, 'a', { lease: `c${i}`, cost: 10, model: 'm', channel: 'c' }));
  await Promise.all(xs);
  const other = h.redis.newClient();
  const counted = await Promise.all([fold(7), fold(7, other), fold(7), fold(7, other), fold(100), fold(100, other)]);
  let rest = 0;
  while ((rest = await fold(7)) > 0) counted.push(rest);
  assert.equal(counted.reduce((x, y) => x + y, 0), 50);
  // over every day hash (the run may straddle midnight): 50 requests, 500 in cost
  const days = Object.entries(await statsNow()).filter(([k]) => k.startsWith('ah:stats:d:')).map(([, v]) => v);
  assert.equal(days.reduce((x, d) => x + Number(d.req), 0), 50);
  assert.equal(days.reduce((x, d) => x + Number(d.cost), 0), 500);
  other.disconnect();
});

test('entries trimmed from the log before a fold are skipped, not an error', async () => {
  await seedKeyAndUser(h.client);
  for (let i = 0; i < 5; i++) await settle(h, 'a', { lease: `t${i}`, cost: 1, model: 'm', channel: 'c' });
  assert.equal(await fold(2), 2);
  // the next three leave the log unfolded (MAXLEN = 0 trims all)
  await h.client.xtrim('ah:logs', 'MAXLEN', 0);
  await settle(h, 'a', { lease: 't5', cost: 1, model: 'm', channel: 'c' });
  assert.equal(await fold(), 1);
  const stats = await statsNow();
  const total = Object.entries(stats).filter(([k]) => k.startsWith('ah:stats:d:')).reduce((x, [, v]) => x + Number(v.req), 0);
  assert.equal(total, 3);
});

test('stats_fold rejects malformed calls and writes nothing', async () => {
  for (const [keys, args, re] of [
    [['ah:logs', 'ah:stats_cursor'], ['0'], /max must be 1\.\.100000/],
    [['ah:logs', 'ah:stats_cursor'], ['100001'], /max must be 1\.\.100000/],
    [['ah:logs', 'ah:stats_cursor'], ['x'], /max must be a decimal integer/],
    [['ah:logs', 'ah:other'], ['10'], /KEYS must be ah:logs and ah:stats_cursor/],
    [['ah:logs'], ['10'], /expected 2 KEYS, got 1/],
  ]) {
    await rejectsUnchanged(h.client, () => h.run('stats_fold', keys, args), re);
  }
});

test('stats_read and usage_view fold first: what they report includes every settled request', async () => {
  await seedKeyAndUser(h.client);
  await credits(h, 'u1', 1000, 'seed');
  await admit(h, { lease: 'U1', hold: 100 });
  await settle(h, 'a', { lease: 'U1', cost: 42, model: 'm', channel: 'c' });
  const [day] = calIds(Number((await logs(h.client)).at(-1).time));
  const [flat] = await h.run('stats_read', [`ah:stats:d:${day}`], []);
  const read = Object.fromEntries(flat.reduce((acc, v, i) => (i % 2 ? acc.at(-1).push(v) : acc.push([v]), acc), []));
  assert.equal(read.req, '1');
  assert.equal(read.cost, '42');
  await admit(h, { lease: 'U2', hold: 100 });
  await settle(h, 'a', { lease: 'U2', cost: 8, model: 'm', channel: 'c' });
  const [ok, json] = await h.run('usage_view', ['ah:key:h1'], ['0', '10']);
  assert.equal(ok, 'ok');
  const body = JSON.parse(json);
  if (calIds(Number((await logs(h.client)).at(-1).time))[0] === day) {
    assert.equal(body.user.spent_today, 50);
    assert.equal(body.user.requests_today, 2);
  }
});

// cal_ids through a wrapper script built like the others (lib + body).
const calIdsLua = (sec) => evalWithLib(h.client, 'return {cal_ids(tonumber(ARGV[1]))}', [], [String(sec)]);

test('cal_ids: UTC day, hour and month of known instants, leap days and year ends included', async () => {
  const known = [
    [0, ['19700101', '1970010100', '197001']],
    [3599, ['19700101', '1970010100', '197001']],
    [3600, ['19700101', '1970010101', '197001']],
    [951782400, ['20000229', '2000022900', '200002']], // 2000 is a leap year (divisible by 400)
    [1582934400, ['20200229', '2020022900', '202002']],
    [1709251199, ['20240229', '2024022923', '202402']],
    [1709251200, ['20240301', '2024030100', '202403']],
    [1704067199, ['20231231', '2023123123', '202312']],
    [1704067200, ['20240101', '2024010100', '202401']],
    [4107542399, ['21000228', '2100022823', '210002']], // 2100 is not
    [4107542400, ['21000301', '2100030100', '210003']],
    [253402300799, ['99991231', '9999123123', '999912']],
  ];
  for (const [sec, ids] of known) {
    assert.deepEqual(await calIdsLua(sec), ids, `cal_ids(${sec})`);
    assert.deepEqual(calIds(sec), ids, `the test's own calIds(${sec})`);
  }
});

test('cal_ids agrees with the JavaScript calendar on 2000 seeded instants', async () => {
  const rnd = seeded(5);
  const secs = Array.from({ length: 2000 }, () => Math.floor(rnd() * 8_000_000_000));
  const body = 'local out = {} for i = 1, #ARGV do out[i] = {cal_ids(tonumber(ARGV[i]))} end return out';
  const got = await evalWithLib(h.client, body, [], secs);
  assert.equal(got.length, secs.length);
  for (const [i, s] of secs.entries()) assert.deepEqual(got[i], calIds(s), `cal_ids(${s})`);
});

// --- stats_read ----------------------------------------------------------

test('stats_read returns each stats hash in the order asked, {} for a day without traffic', async () => {
  await h.client.hset('ah:stats:d:20240101', { req: '3', cost: '10' });
  await h.client.hset('ah:stats:h:2024010113', { req: '1' });
  const reply = await unchanged(h.client, () => h.run('stats_read',
    ['ah:stats:h:2024010113', 'ah:stats:d:20240102', 'ah:stats:d:20240101'], []));
  assert.deepEqual(reply.map((flat) => Object.fromEntries(
    flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : [])))), [{ req: '1' }, {}, { req: '3', cost: '10' }]);
  assert.deepEqual(await h.run('stats_read', [], []), []);
  const many = Array.from({ length: 301 }, (_, i) => `ah:stats:d:2024${String(1000 + i).slice(1)}1`);
  for (const [keys, args, re] of [
    [['ah:stats:d:2024011'], [], /not a stats key/],
    [['ah:user:u1'], [], /not a stats key/],
    [['ah:stats:d:20240101'], ['x'], /expected no ARGV/],
    [many, [], /at most 300 keys/],
  ]) {
    await rejectsUnchanged(h.client, () => h.run('stats_read', keys, args), re);
  }
});

// --- usage_view ----------------------------------------------------------

test('usage_view: balance, limits with what remains, spend today and this month, recent requests', async () => {
  await seedKeyAndUser(h.client, {
    key: { rpm: '10', tpm: '1000', max_in_flight: '3', spend_limit_monthly: '5000' },
    user: { rpm: '20' },
  });
  await credits(h, 'u1', 1000, 'seed');
  await admit(h, { lease: 'V1', hold: 100, tokens: 50, requestId: 'rq-V1' });
  await settle(h, 'a', { lease: 'V1', cost: 30, tokens: 30, pt: 20, ct: 10, fields: { request_id: 'rq-V1' } });
  await admit(h, { lease: 'V2', hold: 200, tokens: 70, requestId: 'rq-V2' });
  // another key's request is not listed
  await h.client.hset('ah:key:h2', { id: 'k2', user_id: 'u1', enabled: '1' });
  await admit(h, { keyKey: 'ah:key:h2', lease: 'V3' });
  await settle(h, 'a', { lease: 'V3', fields: { request_id: 'rq-V3' } });
  const reply = await h.run('usage_view', ['ah:key:h1'], ['5', '100']);
  assert.equal(reply[0], 'ok');
  const body = JSON.parse(reply[1]);
  const t = Number((await logs(h.client))[0].time);
  assert.deepEqual(body, {
    object: 'usage',
    key: {
      id: 'k1', name: 'main', spend_limit_monthly: 5000, spent_this_month: 30,
      limits: { rpm: { limit: 10, remaining: 8 }, tpm: { limit: 1000, remaining: 900 }, max_in_flight: { limit: 3, in_flight: 1 } },
    },
    user: {
      id: 'u1', name: 'alice', balance: 770, held: 200, spent_today: 30, requests_today: 2,
      limits: { rpm: { limit: 20, remaining: 17 } },
    },
    recent: [{ time: t, request_id: 'rq-V1', model: 'gpt-4o', status: 200, cost: 30, prompt_tokens: 20, completion_tokens: 10 }],
  });
  // recent 0: an empty list
  assert.deepEqual(JSON.parse((await h.run('usage_view', ['ah:key:h1'], ['0', '100']))[1]).recent, []);
  // refusals as in admit
  assert.deepEqual(await h.run('usage_view', ['ah:key:nope'], ['5', '100']), ['err', 'invalid_api_key']);
  await h.client.hset('ah:user:u1', 'enabled', '0');
  assert.deepEqual(await h.run('usage_view', ['ah:key:h1'], ['5', '100']), ['err', 'user_disabled']);
  for (const args of [['101', '100'], ['-1', '100'], ['5', '0'], ['5', '10001']]) {
    await rejectsUnchanged(h.client, () => h.run('usage_view', ['ah:key:h1'], args), /recent 0\.\.100, scan 1\.\.10000/);
  }
  await rejectsUnchanged(h.client, () => h.run('usage_view', ['ah:key:h1'], ['5']), /expected 2 ARGV, got 1/);
});

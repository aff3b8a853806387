// GET /api/stats, GET /api/logs and GET /api/logs/stream against a real
// node: the numbers must equal exactly what the requests made (successes,
// an upstream failure, refusals at admission), the log pages newest first
// with every filter and cursor, and the live stream must deliver new entries
// (filtered per subscriber) from one Redis reader per worker thread, drop a
// subscriber that does not read, and free everything when clients leave.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { startStack, addChannel, addUserKey, waitConfig, waitFor, chat, ok, sleep } from '../lib/stack.mjs';

let s;
let main;
let broken;
let A;
let B;
const sent = []; // what each request should have left behind, in the order made
let trafficStartedAt;

const ENTRY_KEYS = ['id', 'time', 'request_id', 'user_id', 'key_id', 'model', 'upstream_model', 'channel_id', 'account_id',
  'status', 'stream', 'attempts', 'latency_ms', 'first_byte_ms', 'prompt_tokens', 'cached_tokens', 'completion_tokens',
  'cost', 'unpaid', 'error', 'client_ip', 'estimated'];
const PRICES = { 'mock-gpt': { input: 1, output: 2 }, 'mock:tagged': { input: 3, output: 0 } };
const costOf = (model, pt, ct) => (PRICES[model] ? pt * PRICES[model].input + ct * PRICES[model].output : 0);

const q = (params) => {
  const u = new URLSearchParams(params).toString();
  return u ? `?${u}` : '';
};

async function send(who, model, { stream = false, rid, content = 'hello there' } = {}) {
  const body = { model, messages: [{ role: 'user', content }] };
  if (stream) Object.assign(body, { stream: true, stream_options: { include_usage: true } });
  const r = await chat(s.node.url, who.secret, body, { 'x-request-id': rid });
  let usage = r.body?.usage;
  if (stream && r.status === 200) {
    usage = r.text.split('\n\n').filter((e) => e.startsWith('data: {')).map((e) => JSON.parse(e.slice(6))).find((c) => c.usage)?.usage;
  }
  const pt = r.status === 200 ? usage.prompt_tokens : 0;
  const ct = r.status === 200 ? usage.completion_tokens : 0;
  const rec = { rid, who, model, status: r.status, stream, pt, ct, cost: r.status === 200 ? costOf(model, pt, ct) : 0 };
  sent.push(rec);
  // settlement is not awaited by the node: wait for the entry, so that the log's order is the order of the requests
  await waitFor(async () => (await s.redis.client.xrevrange('ah:logs', '+', '-', 'COUNT', 50))
    .some(([, f]) => f.some((v, i) => i % 2 === 0 && v === 'request_id' && f[i + 1] === rid)), { what: `the log entry of ${rid}` });
  return rec;
}

const logLen = () => s.redis.client.xlen('ah:logs');
// the log readers' connections: blocked in XREAD (the workers' own connections never send one)
const readers = async () => (await s.redis.client.client('LIST')).split('\n').filter((l) => / cmd=xread /.test(l)).length;

/** The node's /metrics as {name: value} for unlabelled series. */
async function metrics() {
  const text = await (await fetch(`${s.node.url}/metrics`, { headers: { authorization: `Bearer ${s.adminKey}` } })).text();
  return Object.fromEntries([...text.matchAll(/^([a-z_]+) (\S+)$/gm)].map((x) => [x[1], Number(x[2])]));
}

/** All log pages for `params` with `limit`, following next; returns the entries in order. */
async function allPages(params, limit) {
  const out = [];
  let before;
  for (let i = 0; i < 1000; i++) {
    const page = await ok(s.admin('GET', `/api/logs${q({ ...params, limit, ...(before ? { before } : {}) })}`));
    assert.ok(page.data.length <= limit);
    out.push(...page.data);
    if (page.next === null) return out;
    before = page.next;
  }
  throw new Error('paging did not end');
}

/** An SSE client of /api/logs/stream over fetch: {status, events, comments, ended, close()}. */
async function openStream(params = {}) {
  const ac = new AbortController();
  const res = await fetch(`${s.node.url}/api/logs/stream${q(params)}`, {
    headers: { authorization: `Bearer ${s.adminKey}` }, signal: ac.signal,
  });
  const st = { status: res.status, headers: res.headers, events: [], comments: [], raw: '', ended: false, close: () => ac.abort() };
  if (res.status !== 200) {
    st.body = await res.json();
    return st;
  }
  (async () => {
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        st.raw += dec.decode(value, { stream: true });
        let cut;
        while ((cut = st.raw.indexOf('\n\n')) >= 0) {
          const block = st.raw.slice(0, cut);
          st.raw = st.raw.slice(cut + 2);
          const ev = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) st.comments.push(line.slice(1).trim());
            else if (line.startsWith('id: ')) ev.id = line.slice(4);
            else if (line.startsWith('data: ')) ev.data = JSON.parse(line.slice(6));
          }
          if (ev.data) st.events.push(ev);
        }
      }
    } catch { /* aborted */ }
    st.ended = true;
  })();
  return st;
}

before(async () => {
  s = await startStack();
  main = await addChannel(s, { name: 'main', models: ['mock-gpt', 'mock:tagged'], accounts: ['sk-mock-sl-main-0001'] });
  broken = await addChannel(s, { name: 'broken', models: ['mock-bad'], accounts: ['sk-mock-sl-broken-01'] });
  await s.mock.behave({ key: 'sk-mock-sl-broken-01', status: 500 });
  await ok(s.admin('PUT', '/api/prices', PRICES));
  A = await addUserKey(s, {}, { balance: 10_000_000 });
  B = await addUserKey(s, {}, { balance: 10_000_000 });
  await waitConfig(s);

  trafficStartedAt = Date.now();
  await send(A, 'mock-gpt', { rid: 'sl-1' });
  await send(A, 'mock-gpt', { rid: 'sl-2', content: 'a somewhat longer prompt, so the token counts differ' });
  await send(B, 'mock:tagged', { rid: 'sl-3', stream: true });
  await send(A, 'mock-gpt', { rid: 'sl-4', stream: true });
  await send(B, 'mock:tagged', { rid: 'sl-5', content: 'x'.repeat(400) });
  await send(B, 'mock-bad', { rid: 'sl-6' }); // the only account answers 500: 502, and it cools down
  await send(A, 'nope-model', { rid: 'sl-7' }); // no channel serves it: 404 at admission
  await send(A, 'mock-bad', { rid: 'sl-8' }); // its account is cooling: 503 at admission
  assert.deepEqual(sent.map((r) => r.status), [200, 200, 200, 200, 200, 502, 404, 503]);
  await waitFor(async () => (await logLen()) === sent.length, { what: 'every request logged' });
});
after(async () => { await s?.stop(); });

// ---- stats ----

const FIELDS = ['requests', 'errors', 'prompt_tokens', 'completion_tokens', 'cost'];
function sum(recs) {
  return {
    requests: recs.length,
    errors: recs.filter((r) => r.status >= 400).length,
    prompt_tokens: recs.reduce((a, r) => a + r.pt, 0),
    completion_tokens: recs.reduce((a, r) => a + r.ct, 0),
    cost: recs.reduce((a, r) => a + r.cost, 0),
  };
}
const pick = (o) => Object.fromEntries(FIELDS.map((f) => [f, o[f]]));
const utcDay = (t) => new Date(t).toISOString().slice(0, 10);

test('stats: totals, breakdowns and top users equal exactly what the requests did', async () => {
  const st = await ok(s.admin('GET', '/api/stats'));
  assert.equal(st.days, 7);
  assert.deepEqual(Object.keys(st).sort(), ['by_account', 'by_channel', 'by_model', 'daily', 'days', 'hourly', 'top_users', 'totals']);
  assert.deepEqual(st.totals, sum(sent));
  assert.ok(st.totals.prompt_tokens > 0 && st.totals.completion_tokens > 0 && st.totals.cost > 0);

  // by model, most requests first (ties: higher cost first); a name with ':' stays whole; a name no channel
  // serves (the 404) counts in the totals but gets no model row, so made-up names cannot grow the stats
  const models = ['mock-gpt', 'mock:tagged', 'mock-bad'];
  assert.deepEqual(st.by_model, models.map((m) => ({ model: m, ...sum(sent.filter((r) => r.model === m)) })));
  // a refusal at admission has no channel or account: only the 502 counts for "broken"
  const viaMain = sent.filter((r) => r.status === 200);
  const viaBroken = sent.filter((r) => r.status === 502);
  assert.deepEqual(st.by_channel, [{ channel_id: main.channel.id, ...sum(viaMain) }, { channel_id: broken.channel.id, ...sum(viaBroken) }]);
  assert.deepEqual(st.by_account, [{ account_id: main.accounts[0].id, ...sum(viaMain) }, { account_id: broken.accounts[0].id, ...sum(viaBroken) }]);
  const users = [A, B].map((u) => ({ user_id: u.user.id, ...sum(sent.filter((r) => r.who === u)) }))
    .sort((x, y) => y.cost - x.cost || y.requests - x.requests);
  assert.deepEqual(st.top_users, users);
});

test('stats: every day and hour is present, oldest first, zeros filled, and they add up to the totals', async () => {
  const t0 = Date.now();
  const st = await ok(s.admin('GET', '/api/stats?days=3'));
  const t1 = Date.now();
  assert.equal(st.days, 3);
  const days = (t) => [2, 1, 0].map((i) => utcDay(t - i * 86400_000));
  assert.ok([days(t0), days(t1)].some((d) => JSON.stringify(d) === JSON.stringify(st.daily.map((x) => x.date))), JSON.stringify(st.daily));
  for (const f of FIELDS) assert.equal(st.daily.reduce((a, d) => a + d[f], 0), st.totals[f], `daily ${f}`);
  if (utcDay(trafficStartedAt) === utcDay(t1)) { // (unless the suite ran across midnight UTC)
    assert.deepEqual(st.daily.slice(0, 2).map(pick), [0, 0].map(() => Object.fromEntries(FIELDS.map((f) => [f, 0]))));
    assert.deepEqual(pick(st.daily[2]), st.totals);
  }
  assert.equal(st.hourly.length, 24);
  const hour = (t, i) => `${new Date(t - i * 3600_000).toISOString().slice(0, 13)}:00:00Z`;
  assert.ok([t0, t1].some((t) => st.hourly[23].hour === hour(t, 0) && st.hourly[0].hour === hour(t, 23)), JSON.stringify(st.hourly.map((h) => h.hour)));
  for (let i = 1; i < 24; i++) assert.equal(Date.parse(st.hourly[i].hour) - Date.parse(st.hourly[i - 1].hour), 3600_000);
  for (const f of FIELDS) assert.equal(st.hourly.reduce((a, h) => a + h[f], 0), st.totals[f], `hourly ${f}`);
  const wide = await ok(s.admin('GET', '/api/stats?days=90'));
  assert.equal(wide.daily.length, 90);
  assert.deepEqual(wide.totals, st.totals);
  assert.equal((await ok(s.admin('GET', '/api/stats?days=1'))).daily.length, 1);
});

test('stats: days outside 1..90 or not an integer is a 400', async () => {
  for (const d of ['0', '91', '-1', 'x', '7.5', '']) {
    const r = await s.admin('GET', `/api/stats?days=${d}`);
    assert.equal(r.status, 400, `days=${d}`);
    assert.equal(r.body.error.type, 'invalid_request_error');
  }
});

test('stats and logs are admin routes', async () => {
  for (const p of ['/api/stats', '/api/logs', '/api/logs/stream']) {
    const r = await fetch(`${s.node.url}${p}`);
    assert.equal(r.status, 401, p);
    const r2 = await fetch(`${s.node.url}${p}`, { headers: { authorization: `Bearer ${A.secret}` } });
    assert.equal(r2.status, 401, `${p} with a user key`);
  }
});

// ---- logs ----

test('logs: newest first, in the log-entry shape, typed, absent fields null', async () => {
  const page = await ok(s.admin('GET', '/api/logs'));
  assert.equal(page.next, null);
  assert.equal(page.partial, false);
  assert.deepEqual(page.data.map((e) => e.request_id), sent.map((r) => r.rid).reverse());
  const ids = page.data.map((e) => e.id);
  const key = (id) => id.split('-').map(BigInt);
  const newer = (a, b) => { const [x, y] = [key(a), key(b)]; return x[0] !== y[0] ? (x[0] > y[0] ? -1 : 1) : (x[1] > y[1] ? -1 : x[1] < y[1] ? 1 : 0); };
  assert.deepEqual([...ids].sort(newer), ids);
  assert.equal(new Set(ids).size, ids.length);
  for (const e of page.data) {
    assert.deepEqual(Object.keys(e), ENTRY_KEYS);
    assert.match(e.id, /^\d+-\d+$/);
    assert.equal(typeof e.time, 'number');
    assert.ok(Math.abs(e.time - Date.now() / 1000) < 300);
    assert.equal(typeof e.status, 'number');
    assert.equal(typeof e.stream, 'boolean');
    assert.equal(e.client_ip, '127.0.0.1');
  }
  const byRid = Object.fromEntries(page.data.map((e) => [e.request_id, e]));
  for (const r of sent) {
    const e = byRid[r.rid];
    assert.equal(e.user_id, r.who.user.id, r.rid);
    assert.equal(e.key_id, r.who.key.id, r.rid);
    assert.equal(e.model, r.model, r.rid);
    assert.equal(e.status, r.status, r.rid);
    assert.equal(e.stream, r.stream, r.rid);
    assert.equal(e.cost, r.cost, r.rid);
    assert.equal(e.unpaid, 0, r.rid);
    if (r.status === 200) {
      assert.equal(e.prompt_tokens, r.pt, r.rid);
      assert.equal(e.completion_tokens, r.ct, r.rid);
      assert.equal(e.cached_tokens, 0, r.rid);
      assert.equal(e.upstream_model, r.model, r.rid);
      assert.equal(e.channel_id, main.channel.id, r.rid);
      assert.equal(e.account_id, main.accounts[0].id, r.rid);
      assert.equal(e.attempts, 1, r.rid);
      assert.equal(e.error, null, r.rid);
      assert.equal(e.estimated, false, r.rid);
      assert.equal(typeof e.latency_ms, 'number');
      assert.equal(typeof e.first_byte_ms, 'number');
      assert.ok(e.first_byte_ms <= e.latency_ms);
    }
  }
  // the upstream failure: served by the broken channel, named error, no first byte
  const failed = byRid['sl-6'];
  assert.equal(failed.channel_id, broken.channel.id);
  assert.equal(failed.account_id, broken.accounts[0].id);
  assert.equal(failed.attempts, 1);
  assert.equal(failed.first_byte_ms, null);
  assert.match(failed.error, /500/);
  // refusals at admission carry fewer fields: the rest is null
  for (const [rid, code] of [['sl-7', 'model_not_found'], ['sl-8', 'no_available_account']]) {
    const e = byRid[rid];
    assert.equal(e.error, code);
    assert.equal(e.attempts, 0);
    for (const f of ['upstream_model', 'channel_id', 'account_id', 'latency_ms', 'first_byte_ms', 'cached_tokens', 'estimated']) {
      assert.equal(e[f], null, `${rid} ${f}`);
    }
  }
});

test('logs: each filter matches exactly', async () => {
  const rids = async (params) => (await ok(s.admin('GET', `/api/logs${q(params)}`))).data.map((e) => e.request_id);
  const want = (fn) => sent.filter(fn).map((r) => r.rid).reverse();
  assert.deepEqual(await rids({ model: 'mock:tagged' }), want((r) => r.model === 'mock:tagged'));
  assert.deepEqual(await rids({ model: 'mock' }), []);
  assert.deepEqual(await rids({ user: B.user.id }), want((r) => r.who === B));
  assert.deepEqual(await rids({ key: A.key.id }), want((r) => r.who === A));
  assert.deepEqual(await rids({ channel: main.channel.id }), want((r) => r.status === 200));
  assert.deepEqual(await rids({ channel: broken.channel.id }), ['sl-6']);
  assert.deepEqual(await rids({ status: 200 }), want((r) => r.status === 200));
  assert.deepEqual(await rids({ status: 404 }), ['sl-7']);
  assert.deepEqual(await rids({ status: 503, model: 'mock-bad' }), ['sl-8']);
  assert.deepEqual(await rids({ status: 502, user: A.user.id }), []);
  assert.deepEqual(await rids({ user: A.user.id, model: 'mock-gpt', limit: 2 }), ['sl-4', 'sl-2']);
});

test('logs: filter values are form-decoded; a malformed escape or an over-long value is a 400', async () => {
  const rids = async (query) => (await ok(s.admin('GET', `/api/logs?${query}`))).data.map((e) => e.request_id);
  assert.deepEqual(await rids('model=mock%3Atagged'), await rids('model=mock:tagged'));
  for (const [query, why] of [['model=%zz', /model is not a well-formed percent-encoded value/], ['user=%4', /user is not a well-formed/],
    ['key=a%00b', /key is not a well-formed/], [`channel=${'c'.repeat(129)}`, /channel is longer than 128 characters/]]) {
    const r = await s.admin('GET', `/api/logs?${query}`);
    assert.equal(r.status, 400, query);
    assert.match(r.body.error.message, why, query);
  }
});

test('logs: paging with limit=2 visits every entry once, newest first, with and without filters', async () => {
  const all = (await ok(s.admin('GET', '/api/logs'))).data.map((e) => e.id);
  const paged = (await allPages({}, 2)).map((e) => e.id);
  assert.deepEqual(paged, all);
  assert.equal(new Set(paged).size, paged.length);
  const first = await ok(s.admin('GET', '/api/logs?limit=2'));
  assert.equal(first.next, first.data[1].id, 'next is the last id of the page');
  const filtered = (await allPages({ user: A.user.id }, 2)).map((e) => e.request_id);
  assert.deepEqual(filtered, sent.filter((r) => r.who === A).map((r) => r.rid).reverse());
  const exact = (await allPages({ user: B.user.id }, 3)).map((e) => e.request_id);
  assert.deepEqual(exact, ['sl-6', 'sl-5', 'sl-3']);
  // a cursor in the middle, and one before everything
  const mid = await ok(s.admin('GET', `/api/logs?before=${all[3]}`));
  assert.deepEqual(mid.data.map((e) => e.id), all.slice(4));
  const oldest = all.at(-1);
  assert.deepEqual(await ok(s.admin('GET', `/api/logs?before=${oldest}`)), { data: [], next: null, partial: false });
  assert.deepEqual(await ok(s.admin('GET', '/api/logs?before=0-0')), { data: [], next: null, partial: false });
  // a bare millisecond time is a cursor too: everything strictly before it
  const ms = all[0].split('-')[0];
  const older = await ok(s.admin('GET', `/api/logs?before=${ms}`));
  assert.ok(older.data.every((e) => BigInt(e.id.split('-')[0]) < BigInt(ms)));
  assert.equal((await ok(s.admin('GET', `/api/logs?before=${Number(ms) + 1}`))).data.length, all.length);
});

test('logs: malformed parameters are a 400', async () => {
  const bad = ['limit=0', 'limit=1001', 'limit=x', 'before=abc', 'before=1-2-3', 'before=-1', 'before=1-', 'before=18446744073709551616',
    'status=x', 'status=99', 'status=600', 'model=%zz', 'model=%4', 'user=%00', `model=${'m'.repeat(300)}`];
  for (const b of bad) {
    const r = await s.admin('GET', `/api/logs?${b}`);
    assert.equal(r.status, 400, b);
    assert.equal(r.body.error.code, 'invalid_request');
  }
  for (const b of ['status=x', 'model=%zz']) assert.equal((await s.admin('GET', `/api/logs/stream?${b}`)).status, 400, `stream ${b}`);
  assert.equal((await s.admin('GET', '/api/logs?limit=1000&before=18446744073709551615-18446744073709551615')).status, 200);
});

// ---- the live stream ----

test('stream: a new entry arrives live, as an SSE event whose id is the stream id', async () => {
  const st = await openStream();
  assert.equal(st.status, 200);
  assert.match(st.headers.get('content-type'), /^text\/event-stream/);
  assert.equal(st.headers.get('cache-control'), 'no-cache');
  try {
    const r = await send(A, 'mock-gpt', { rid: 'sl-live-1' });
    const ev = await waitFor(() => st.events.find((e) => e.data.request_id === 'sl-live-1'), { what: 'the live entry', timeoutMs: 10_000 });
    assert.deepEqual(Object.keys(ev.data), ENTRY_KEYS);
    assert.equal(ev.id, ev.data.id);
    assert.equal(ev.data.status, 200);
    assert.equal(ev.data.prompt_tokens, r.pt);
    assert.equal(ev.data.cost, r.cost);
    const logged = (await ok(s.admin('GET', '/api/logs?limit=1'))).data[0];
    assert.deepEqual(ev.data, logged, 'the stream and the list give the same entry');
    assert.ok(st.comments.includes('connected'));
  } finally {
    st.close();
  }
});

test('stream: a subscriber sees only what its filter matches', async () => {
  const tagged = await openStream({ model: 'mock:tagged' });
  const notFound = await openStream({ status: 404, user: A.user.id });
  try {
    await send(A, 'mock-gpt', { rid: 'sl-live-2' }); // excluded by both
    await send(A, 'nope-model', { rid: 'sl-live-3' }); // 404 of A: only the second
    await send(B, 'mock:tagged', { rid: 'sl-live-4' }); // only the first
    await waitFor(() => tagged.events.some((e) => e.data.request_id === 'sl-live-4'), { what: 'the matching entry', timeoutMs: 10_000 });
    await waitFor(() => notFound.events.some((e) => e.data.request_id === 'sl-live-3'), { what: 'the matching 404', timeoutMs: 10_000 });
    // entries are delivered in order: the earlier, excluded ones would have arrived first
    assert.deepEqual(tagged.events.map((e) => e.data.request_id), ['sl-live-4']);
    assert.deepEqual(notFound.events.map((e) => e.data.request_id), ['sl-live-3']);
  } finally {
    tagged.close();
    notFound.close();
  }
});

test('stream: one Redis reader per worker whatever the subscribers, gone once they disconnect', async () => {
  await waitFor(async () => (await readers()) === 0, { what: 'no reader before', timeoutMs: 10_000 });
  const before = (await s.redis.client.client('LIST')).split('\n').filter(Boolean).length;
  const streams = [];
  for (let i = 0; i < 6; i++) streams.push(await openStream());
  try {
    await send(B, 'mock:tagged', { rid: 'sl-live-5' });
    for (const st of streams) {
      await waitFor(() => st.events.some((e) => e.data.request_id === 'sl-live-5'), { what: 'the entry on every subscriber', timeoutMs: 10_000 });
    }
    const n = await readers();
    assert.ok(n >= 1 && n <= 2, `expected one reader per worker with subscribers (2 workers), got ${n}`);
    const during = (await s.redis.client.client('LIST')).split('\n').filter(Boolean).length;
    assert.ok(during - before <= 2, `6 subscribers must not open 6 connections (${before} -> ${during})`);
    const m = await metrics();
    if (m.aihub_log_stream_subscribers !== undefined) {
      assert.equal(m.aihub_log_stream_subscribers, 6);
      assert.equal(m.aihub_log_stream_readers, n);
    }
  } finally {
    for (const st of streams) st.close();
  }
  // HTTP/1 clients that left are noticed within a second, the reader lingers a second, then closes
  await waitFor(async () => (await readers()) === 0, { what: 'the readers stopped', timeoutMs: 10_000 });
  const m = await metrics();
  if (m.aihub_log_stream_subscribers !== undefined) { // once /metrics carries the log-stream gauges
    assert.equal(m.aihub_log_stream_subscribers, 0);
    assert.equal(m.aihub_log_stream_readers, 0);
  }
  // and the node still serves a new subscriber afterwards
  const again = await openStream();
  try {
    await send(A, 'mock-gpt', { rid: 'sl-live-6' });
    await waitFor(() => again.events.some((e) => e.data.request_id === 'sl-live-6'), { what: 'a new subscriber served', timeoutMs: 10_000 });
  } finally {
    again.close();
  }
});

test('stream: an idle stream gets a keep-alive comment every 15 s', { timeout: 30_000 }, async () => {
  const st = await openStream({ model: 'never-asked-for' });
  try {
    await waitFor(() => st.comments.includes('keep-alive'), { what: 'a keep-alive', timeoutMs: 20_000, intervalMs: 250 });
    assert.equal(st.events.length, 0);
    assert.equal(st.ended, false);
  } finally {
    st.close();
  }
});

test('stream: over HTTP/2 too; a reset stream unsubscribes at once', async () => {
  await waitFor(async () => (await readers()) === 0, { what: 'no reader before', timeoutMs: 10_000 });
  const client = http2.connect(s.node.url);
  try {
    const req = client.request({ ':path': '/api/logs/stream?model=mock-gpt', authorization: `Bearer ${s.adminKey}` });
    let got = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { got += d; });
    const headers = await new Promise((resolve, reject) => { req.once('response', resolve); req.once('error', reject); });
    assert.equal(headers[':status'], 200);
    assert.match(headers['content-type'], /^text\/event-stream/);
    await waitFor(() => got.includes(': connected'), { what: 'the stream open' });
    await send(A, 'mock-gpt', { rid: 'sl-h2-1' });
    await waitFor(() => got.includes('"request_id":"sl-h2-1"'), { what: 'the entry over h2', timeoutMs: 10_000 });
    req.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor(async () => (await readers()) === 0, { what: 'the reader stopped after the reset', timeoutMs: 10_000 });
  } finally {
    client.close();
  }
});

// ---- bounds ----

test('logs: a filtered scan stops after 10,000 entries with partial and a cursor to continue', async () => {
  const total = await logLen();
  const pipe = s.redis.client.pipeline();
  for (let i = 0; i < 10_050; i++) {
    pipe.xadd('ah:logs', '*', 'time', '1', 'request_id', `filler-${i}`, 'user_id', 'usr_filler', 'status', '200', 'model', 'filler');
  }
  await pipe.exec();
  const first = await ok(s.admin('GET', `/api/logs${q({ user: A.user.id, limit: 5 })}`));
  assert.equal(first.partial, true);
  assert.deepEqual(first.data, []);
  assert.match(first.next, /^\d+-\d+$/);
  const second = await ok(s.admin('GET', `/api/logs${q({ user: A.user.id, limit: 5, before: first.next })}`));
  assert.equal(second.partial, false);
  assert.deepEqual(second.data.map((e) => e.request_id), sent.filter((r) => r.who === A).map((r) => r.rid).reverse().slice(0, 5));
  // unfiltered pages are one read of limit+1 entries whatever the stream's length
  const plain = await ok(s.admin('GET', '/api/logs?limit=1000'));
  assert.equal(plain.data.length, 1000);
  assert.equal(plain.data[0].request_id, 'filler-10049');
  assert.equal(await logLen(), total + 10_050);
});

test('stream: a subscriber that does not read is dropped once 1 MiB waits for it', { timeout: 90_000 }, async () => {
  await waitFor(async () => (await readers()) === 0, { what: 'no reader before', timeoutMs: 10_000 });
  const sock = net.connect({ port: s.node.port, host: '127.0.0.1' });
  let got = '';
  let ended = false;
  sock.on('data', (d) => { got += d.toString('latin1'); });
  sock.on('end', () => { ended = true; });
  sock.on('error', () => { ended = true; });
  await new Promise((r) => sock.once('connect', r));
  sock.write(`GET /api/logs/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.adminKey}\r\n\r\n`);
  await waitFor(() => got.includes(': connected'), { what: 'the stream open' });
  assert.match(got, /^HTTP\/1\.1 200/);
  sock.pause(); // from now on the client reads nothing
  const big = 'e'.repeat(4000);
  for (let round = 0; round < 8; round++) {
    const pipe = s.redis.client.pipeline();
    for (let i = 0; i < 1000; i++) pipe.xadd('ah:logs', '*', 'request_id', `big-${round}-${i}`, 'status', '200', 'error', big);
    await pipe.exec();
    if ((await readers()) === 0) break;
  }
  // dropped: unsubscribed at once, so its worker's reader stops after the linger
  await waitFor(async () => (await readers()) === 0, { what: 'the slow subscriber dropped', timeoutMs: 30_000 });
  sock.resume();
  await waitFor(() => ended || got.includes(': dropped'), { what: 'the end of the stream', timeoutMs: 30_000 });
  await waitFor(() => got.endsWith('0\r\n\r\n') || ended, { what: 'the chunked end', timeoutMs: 30_000 });
  assert.match(got, /: dropped: this client read too slowly/);
  sock.destroy();
  const m = await metrics();
  if (m.aihub_log_stream_dropped_total !== undefined) assert.equal(m.aihub_log_stream_dropped_total, 1);
});

test('stream: survives a Redis restart and resumes where it was', { timeout: 60_000 }, async () => {
  const st = await openStream({ model: 'mock-gpt' });
  try {
    await send(A, 'mock-gpt', { rid: 'sl-redis-1' });
    await waitFor(() => st.events.some((e) => e.data.request_id === 'sl-redis-1'), { what: 'the entry before the outage', timeoutMs: 10_000 });
    await s.redis.crash();
    await sleep(300);
    await s.redis.restart();
    // the restarted Redis is empty (no persistence in this suite): the entries below are written directly
    await waitFor(async () => (await fetch(`${s.node.url}/readyz`)).status === 200, { what: 'the node ready again', timeoutMs: 20_000 });
    assert.equal(st.ended, false, 'the stream stays open through the outage');
    await s.redis.client.xadd('ah:logs', '*', 'request_id', 'sl-redis-2', 'model', 'mock-gpt', 'status', '200');
    await s.redis.client.xadd('ah:logs', '*', 'request_id', 'sl-redis-3', 'model', 'other', 'status', '200');
    await waitFor(() => st.events.some((e) => e.data.request_id === 'sl-redis-2'), { what: 'an entry after the outage', timeoutMs: 20_000 });
    assert.deepEqual(st.events.map((e) => e.data.request_id), ['sl-redis-1', 'sl-redis-2']);
  } finally {
    st.close();
  }
});

test('stream: SIGTERM ends open streams and the node exits cleanly', async () => {
  const st = await openStream();
  assert.equal(st.status, 200);
  await waitFor(async () => (await readers()) >= 1, { what: 'a reader' });
  await s.node.stopClean();
  await waitFor(() => st.ended, { what: 'the stream ended', timeoutMs: 15_000 });
});

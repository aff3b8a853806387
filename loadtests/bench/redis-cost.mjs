// redis-cost.mjs: Redis's own cost of the two script calls of one governed
// request (admit + settle), without the node, the mock or HTTP: a real
// redis-server, the scripts loaded as the node loads them, the benchmark's
// governance (price, RPM/TPM on key, user and globally, in-flight limits on
// key and user), and admit/settle pairs sent pipelined in batches, as the node
// sends them under load, and the stats fold every 1,000 requests. Reports Redis's CPU per request (getrusage of the
// server, from INFO cpu) and its commands per request (INFO commandstats).
//
//   node loadtests/bench/redis-cost.mjs [--requests N] [--batch B] [--users U] [--json] [--lua-dir DIR] [--admit-only] [--full-windows]
//
// --admit-only leaves settle out (its cost is then the difference).
// --full-windows starts with every limited window holding a minute of traffic
// (60 one-second buckets), as under steady load, instead of empty windows.
// --lua-dir loads the scripts from a copy laid out like lua-scripts/ (to
// measure a change before making it).
//
// The figures are Redis CPU only, so they move little with other load on the
// machine; every run is bounded by N.

import { parseArgs } from 'node:util';
import { evalScript, loadScripts, startRedis } from '../../tests/lib/redis.mjs';

const { values: opt } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '50' },
    users: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    'lua-dir': { type: 'string' },
    'admit-only': { type: 'boolean', default: false },
    'full-windows': { type: 'boolean', default: false },
  },
});
const N = Number(opt.requests);
const B = Number(opt.batch);
const USERS = Number(opt.users);

function parseInfo(text) {
  const out = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

async function snapshot(client) {
  const cpu = parseInfo(await client.info('cpu'));
  const cmds = parseInfo(await client.info('commandstats'));
  const calls = {};
  for (const [k, v] of Object.entries(cmds)) {
    if (!k.startsWith('cmdstat_')) continue;
    calls[k.slice(8)] = Number(/calls=(\d+)/.exec(v)[1]);
    if (k === 'cmdstat_evalsha') calls.__evalsha_usec = Number(/usec=(\d+)/.exec(v)[1]);
  }
  return { cpu: Number(cpu.used_cpu_user) + Number(cpu.used_cpu_sys), calls };
}

const redis = await startRedis();
try {
  const client = redis.client;
  const shas = await loadScripts(client, opt['lua-dir']);
  const nowS = Math.floor(Date.now() / 1000);
  for (let u = 0; u < USERS; ++u) {
    await client.hset(`ah:user:u${u}`, { id: `u${u}`, name: `u${u}`, enabled: '1', balance: '1000000000000',
      credited: '1000000000000', rpm: '100000000', tpm: '1000000000', max_in_flight: '100000' });
    await client.hset(`ah:key:h${u}`, { id: `k${u}`, user_id: `u${u}`, name: 'bench', enabled: '1',
      rpm: '100000000', tpm: '1000000000', max_in_flight: '100000', created_at: String(nowS) });
    await client.set(`ah:keyid:k${u}`, `h${u}`);
  }
  if (opt['full-windows']) {
    // a minute of earlier traffic (100 requests of 60 tokens a second) in the key's, user's and
    // gateway's windows, laid out as lib/limits.lua writes them
    const t = Number((await client.time())[0]);
    for (let u = 0; u < USERS; ++u) {
      for (const key of [`ah:lim:key:k${u}`, `ah:lim:user:u${u}`, ...(u === 0 ? ['ah:lim:global:all'] : [])]) {
        // in the order the scripts create them: the sums and the newest bucket first
        const f = { rs: String(60 * 100), ts: String(60 * 100 * 60), cs: String(t - 1), cr: '100', ct: String(100 * 60),
          tr: String(t - 61), o: String(t - 60) };
        for (let s = t - 60; s < t - 1; ++s) { f[`r${s}`] = '100'; f[`t${s}`] = String(100 * 60); }
        await client.hset(key, f);
        await client.expire(key, 63);
      }
    }
  }
  let seq = 0;
  const admitArgs = (u, lease) => [
    [`ah:key:h${u}`, 'ah:acct:a1'],
    ['mock-1', '0.5', lease, '120', '60', '60000', '100000000', '1000000000', `req-${lease}`, '0', '127.0.0.1',
      '100000', '1', 'a1', '0', '1', '0', '0'],
  ];
  const settleArgs = (lease) => [
    ['ah:acct:a1'],
    [lease, 'ok', '200', '3', '25', '34', '100000', 'mock-1', 'ch1', '200', '21', '13',
      'request_id', `req-${lease}`, 'upstream_model', 'mock-1', 'account_id', 'a1', 'stream', '0', 'attempts', '1',
      'latency_ms', '4', 'first_byte_ms', '3', 'cached_tokens', '0', 'estimated', '0', 'error', '', 'client_ip',
      '127.0.0.1'],
  ];
  const before = await snapshot(client);
  const t0 = process.hrtime.bigint();
  for (let done = 0; done < N; done += B) {
    const leases = [];
    const admits = [];
    for (let i = 0; i < B && done + i < N; ++i) {
      const lease = `l${++seq}`;
      leases.push(lease);
      const [k, a] = admitArgs(seq % USERS, lease);
      admits.push(evalScript(client, shas, 'admit', k, a));
    }
    for (const r of await Promise.all(admits)) {
      if (r[0] !== 'ok') throw new Error(`admit refused: ${JSON.stringify(r)}`);
    }
    // the node folds the log into the stats about once a second: here every 1,000 requests
    // (scripts from before the fold existed wrote the stats in settle: nothing to call)
    if ((done + B) % 1000 === 0 && !opt['admit-only'] && shas.stats_fold) await evalScript(client, shas, 'stats_fold', ['ah:logs', 'ah:stats_cursor'], ['10000']);
    if (!opt['admit-only']) await Promise.all(leases.map((l) => { const [k, a] = settleArgs(l); return evalScript(client, shas, 'settle', k, a); }));
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const after = await snapshot(client);
  const cmds = {};
  let total = 0;
  for (const [name, n] of Object.entries(after.calls)) {
    const d = n - (before.calls[name] || 0);
    if (d > 0 && !['info', 'evalsha', 'eval', 'script|load', 'script', '__evalsha_usec'].includes(name)) {
      cmds[name] = +(d / N).toFixed(2);
      total += d;
    }
  }
  const result = {
    requests: N,
    batch: B,
    users: USERS,
    redis_cpu_us_per_request: +((after.cpu - before.cpu) * 1e6 / N).toFixed(1),
    script_us_per_request: +(((after.calls.__evalsha_usec || 0) - (before.calls.__evalsha_usec || 0)) / N).toFixed(1),
    commands_per_request: +(total / N).toFixed(1),
    wall_s: +wall.toFixed(2),
    commands: Object.fromEntries(Object.entries(cmds).sort((a, b) => b[1] - a[1])),
    memory_used: parseInfo(await client.info('memory')).used_memory_human,
  };
  if (opt.json) {
    console.log(JSON.stringify(result));
  } else {
    console.log(`${N} admit+settle pairs, batches of ${B}, ${USERS} user(s): Redis CPU ${result.redis_cpu_us_per_request} µs/request `
      + `(${result.script_us_per_request} µs inside the scripts), `
      + `${result.commands_per_request} commands/request, ${result.wall_s} s, Redis memory ${result.memory_used}`);
    console.log(JSON.stringify(result.commands));
  }
} finally {
  await redis.stop();
}

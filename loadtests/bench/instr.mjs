// Instructions per relayed request of aihub-node, counted rather than timed (usable on a busy machine).
//
// Starts redis-server, aihub-mock and one aihub-node (1 thread, access log to a file, full governance as
// bench.mjs configures it) on free 127.0.0.1 ports, warms up, then serves --n requests with h2load (HTTP/1.1,
// --c connections) and reports the node's user-space instructions per request, counted by `perf stat -e
// instructions:u -p PID` (--tool perf, the default) or by callgrind (--tool callgrind: the node runs under
// valgrind; counters are zeroed before and dumped after the measured run; the dump is kept for
// callgrind_annotate). Every child is stopped by its PID.
//
//   node loadtests/bench/instr.mjs [--build-dir build] [--n 2000] [--c 10] [--runs 3] [--stream]
//                                  [--tool perf|callgrind] [--out FILE]
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const opt = { buildDir: path.join(ROOT, 'build'), n: 2000, c: 10, runs: 3, stream: false, tool: 'perf', out: null, warmup: 300 };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = () => process.argv[++i];
  if (a === '--build-dir') opt.buildDir = path.resolve(v());
  else if (a === '--n') opt.n = Number(v());
  else if (a === '--c') opt.c = Number(v());
  else if (a === '--runs') opt.runs = Number(v());
  else if (a === '--warmup') opt.warmup = Number(v());
  else if (a === '--stream') opt.stream = true;
  else if (a === '--tool') opt.tool = v();
  else if (a === '--out') opt.out = path.resolve(v());
  else { process.stderr.write(`unknown argument ${a}\n`); process.exit(2); }
}
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'aihub-instr-'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const kids = [];
process.on('exit', () => { for (const k of kids) { try { process.kill(k.pid, 'SIGKILL'); } catch { /* gone */ } } });

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}
function start(name, cmd, env = {}) {
  const out = fs.openSync(path.join(TMP, `${name}.out`), 'a');
  const err = fs.openSync(path.join(TMP, `${name}.err`), 'a');
  const child = spawn(cmd[0], cmd.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', out, err] });
  fs.closeSync(out);
  fs.closeSync(err);
  const rec = { name, pid: child.pid, child, done: new Promise((r) => child.once('exit', r)) };
  kids.push(rec);
  return rec;
}
async function stop(rec, sig = 'SIGTERM') {
  try { process.kill(rec.pid, sig); } catch { return; }
  const t = setTimeout(() => { try { process.kill(rec.pid, 'SIGKILL'); } catch { /* gone */ } }, 20000);
  await rec.done;
  clearTimeout(t);
}
async function waitFor(fn, what, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    try { if (await fn()) return; } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
function run(cmd) {
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

const SECRET = randomBytes(32).toString('hex');
const ADMIN_KEY = `ak-${randomBytes(16).toString('hex')}`;
const BIG = { rpm: 1_000_000_000, tpm: 1_000_000_000_000, max_in_flight: 1_000_000 };

async function main() {
  const rport = await freePort();
  const redis = start('redis', ['redis-server', '--port', String(rport), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', TMP, '--maxmemory-policy', 'noeviction', '--logfile', '']);
  await waitFor(() => run(['redis-cli', '-p', String(rport), 'PING']).trim() === 'PONG', 'redis');
  const mock = start('mock', [path.join(opt.buildDir, 'loadtests', 'mock', 'aihub-mock'), '--listen', '127.0.0.1:0', '--threads', '1']);
  let mport = 0;
  await waitFor(() => { const m = /AIHUB_MOCK_PORT=(\d+)/.exec(fs.readFileSync(path.join(TMP, 'mock.out'), 'utf8')); mport = m ? Number(m[1]) : 0; return mport; }, 'mock');
  const nport = await freePort();
  const cgOut = opt.out || path.join(TMP, 'callgrind.out');
  const nodeBin = path.join(opt.buildDir, 'node', 'aihub-node');
  const cmd = opt.tool === 'callgrind' ? ['valgrind', '--tool=callgrind', `--callgrind-out-file=${cgOut}`, nodeBin] : [nodeBin];
  const node = start('node', cmd, {
    AIHUB_LISTEN: `127.0.0.1:${nport}`, AIHUB_REDIS_URL: `redis://127.0.0.1:${rport}/0`, AIHUB_SECRET_KEY: SECRET,
    AIHUB_ADMIN_KEY: ADMIN_KEY, AIHUB_THREADS: '1', AIHUB_ACCESS_LOG: '1', AIHUB_LOG_LEVEL: 'info',
    AIHUB_CONFIG_POLL_MS: '60000', // fewer background reads during the count
  });
  const url = `http://127.0.0.1:${nport}`;
  await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 'node');
  const admin = async (method, p, body) => {
    const r = await fetch(url + p, { method, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const t = await r.text();
    if (r.status >= 300) throw new Error(`${p}: ${r.status} ${t}`);
    return JSON.parse(t);
  };
  await admin('PUT', '/api/settings', { global_rpm: BIG.rpm, global_tpm: BIG.tpm });
  await admin('PUT', '/api/prices', { 'mock-gpt': { input: 2.5, output: 10 } });
  const ch = await admin('POST', '/api/channels', { name: 'bench', type: 'openai-compatible', base_url: `http://127.0.0.1:${mport}/v1`, models: ['mock-gpt'] });
  await admin('POST', `/api/channels/${ch.id}/accounts`, { name: 'bench-account', key: 'sk-bench-account-0001' });
  const user = await admin('POST', '/api/users', { name: 'bench', balance: 100_000_000_000_000, ...BIG });
  const key = (await admin('POST', `/api/users/${user.id}/keys`, { name: 'bench-key', ...BIG })).key;
  const body = `{"model":"mock-gpt","messages":[{"role":"system","content":"You are a terse assistant."},` +
    `{"role":"user","content":"Say hello in eight words."}],"max_tokens":64${opt.stream ? ',"stream":true' : ''}}`;
  const bodyFile = path.join(TMP, 'body.json');
  fs.writeFileSync(bodyFile, body);
  const chat = async () => (await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body })).status;
  await waitFor(async () => (await chat()) === 200, 'the key works (config reload)');
  const h2load = (n) => {
    const out = run(['h2load', '--h1', '-n', String(n), '-c', String(opt.c), '-t', '1', '-d', bodyFile, '-H', 'content-type: application/json',
      '-H', `authorization: Bearer ${key}`, `${url}/v1/chat/completions`]);
    const st = /status codes: (\d+) 2xx/.exec(out);
    if (!st || Number(st[1]) !== n) throw new Error(`not all 2xx:\n${out}`);
  };
  h2load(opt.warmup);
  const results = [];
  for (let i = 0; i < opt.runs; i++) {
    if (opt.tool === 'callgrind') {
      run(['callgrind_control', '-z', String(node.pid)]);
      h2load(opt.n);
      const f = `${cgOut}.${i}`;
      run(['callgrind_control', '-d', `run${i}`, String(node.pid)]);
      await sleep(500);
      // the dump lands in cgOut.<k>; take the newest
      const dir = path.dirname(cgOut);
      const dumps = fs.readdirSync(dir).filter((x) => x.startsWith(path.basename(cgOut) + '.')).map((x) => path.join(dir, x))
        .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
      const txt = fs.readFileSync(dumps[0], 'utf8');
      const m = /^summary: (\d+)/m.exec(txt) || /^totals: (\d+)/m.exec(txt);
      if (f !== dumps[0]) fs.copyFileSync(dumps[0], f);
      results.push(Number(m[1]) / opt.n);
      process.stderr.write(`run ${i}: ${(Number(m[1]) / opt.n).toFixed(0)} Ir/req (dump ${dumps[0]})\n`);
    } else {
      const pf = path.join(TMP, `perf${i}.txt`);
      const perf = start(`perf${i}`, ['perf', 'stat', '-x', ',', '-e', 'instructions:u', '-o', pf, '-p', String(node.pid)]);
      await sleep(300);
      h2load(opt.n);
      await stop(perf, 'SIGINT');
      const line = fs.readFileSync(pf, 'utf8').split('\n').find((l) => l.includes('instructions'));
      const v = Number(line.split(',')[0]);
      results.push(v / opt.n);
      process.stderr.write(`run ${i}: ${(v / opt.n).toFixed(0)} instructions:u/req\n`);
    }
  }
  results.sort((a, b) => a - b);
  const log = fs.readFileSync(path.join(TMP, 'node.out'), 'utf8').trim().split('\n');
  process.stdout.write(JSON.stringify({ tool: opt.tool, stream: opt.stream, n: opt.n, c: opt.c, per_request: results.map(Math.round),
    median: Math.round(results[Math.floor(results.length / 2)]), last_access_line: log[log.length - 1] }) + '\n');
  await stop(node);
  await stop(mock);
  await stop(redis);
  if (!opt.out) fs.rmSync(TMP, { recursive: true, force: true });
}
main().catch((e) => { process.stderr.write(`${e.stack}\n`); process.exit(1); });

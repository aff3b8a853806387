// AiHub's benchmark runner (started by run.sh, which builds first when needed).
//
// Starts redis-server, the mock provider, aihub-node (full governance) and nginx (plain proxy_pass with an
// upstream keep-alive pool) on free 127.0.0.1 ports, pins them to one CPU and the load generators to another,
// measures, prints the table and writes results.json and table.md into the output folder. Every child is
// started here and stopped by its PID. See loadtests/README.md and docs/benchmark.md.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const WRK_DIR = path.join(ROOT, 'loadtests', 'wrk');
const MODES = ['table', 'scenarios', 'streams', 'h2', 'nodes', 'soak', 'profile'];

// --- options -------------------------------------------------------------------------------------------------
const USAGE = `usage: loadtests/bench/run.sh [options]
  --mode M            table (default), scenarios, streams, h2, nodes, soak, profile, or all; several: --mode table,h2
  --smoke             a few seconds in all: tiny runs, same table (CI: checks the runner works; no timing value)
  --duration S        seconds per measured load run (default 10; smoke 1)
  --connections N     connections of the throughput runs (default 50)
  --streams N         concurrent streams of the streams mode (default 10000)
  --build-dir DIR     where aihub-node and aihub-mock are (default build/; run.sh builds it when missing)
  --out DIR           results folder (default: a new folder under $TMPDIR)
  --keep              keep the temp folder of the servers (configs, logs) after the run
  --quiet-max PCT     before each measured run, wait until other processes use at most PCT % of one CPU (default 10)
  --quiet-wait S      ... but no longer than S seconds over the whole run (default 900; smoke 0); a run they disturbed
                      anyway (above 1.5 × PCT) is repeated, up to 3 times, and the least disturbed one kept
  -h, --help          this text`;

function parseArgs(argv) {
  const o = { modes: ['table'], smoke: false, duration: null, connections: 50, streams: 10000, buildDir: null, out: null, keep: false, quietMax: 10, quietWait: null };
  const need = (i) => {
    if (i + 1 >= argv.length) die(`${argv[i]} needs a value\n${USAGE}`);
    return argv[i + 1];
  };
  const num = (i, min, max) => {
    const v = Number(need(i));
    if (!Number.isFinite(v) || v < min || v > max) die(`${argv[i]} must be a number in ${min}..${max}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--mode') {
      const v = need(i++);
      o.modes = v === 'all' ? [...MODES] : v.split(',');
      for (const m of o.modes) if (!MODES.includes(m)) die(`unknown mode '${m}' (${MODES.join(', ')}, all)`);
    } else if (a === '--smoke') o.smoke = true;
    else if (a === '--duration') { o.duration = num(i++, 0.2, 3600); }
    else if (a === '--connections') { o.connections = Math.round(num(i++, 1, 5000)); }
    else if (a === '--streams') { o.streams = Math.round(num(i++, 10, 100000)); }
    else if (a === '--build-dir') { o.buildDir = path.resolve(need(i++)); }
    else if (a === '--out') { o.out = path.resolve(need(i++)); }
    else if (a === '--keep') o.keep = true;
    else if (a === '--quiet-max') { o.quietMax = num(i++, 0, 200); }
    else if (a === '--quiet-wait') { o.quietWait = num(i++, 0, 3600); }
    else if (a === '-h' || a === '--help') { process.stdout.write(`${USAGE}\n`); process.exit(0); }
    else die(`unknown argument '${a}'\n${USAGE}`);
  }
  o.duration ??= o.smoke ? 1 : 10;
  o.quietWait ??= o.smoke ? 0 : 900;
  o.buildDir ??= path.join(ROOT, 'build');
  if (o.smoke && !argv.includes('--streams')) o.streams = 200;
  return o;
}

function die(msg) {
  process.stderr.write(`bench: error: ${msg}\n`);
  process.exit(2);
}
const log = (msg) => process.stderr.write(`bench: ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const opt = parseArgs(process.argv.slice(2));
const SMOKE = opt.smoke;
const D = opt.duration;
const WARMUP_S = SMOKE ? 1 : 2;

// --- CPUs and pinning ------------------------------------------------------------------------------------------
function allowedCpus() {
  const line = fs.readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('Cpus_allowed_list:'));
  const cpus = [];
  for (const part of (line?.split(':')[1] || '').trim().split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (Number.isInteger(a)) for (let c = a; c <= (Number.isInteger(b) ? b : a); c++) cpus.push(c);
  }
  return cpus;
}
const CPUS = allowedCpus();
const PIN = CPUS.length >= 2;
const SERVER_CPU = PIN ? CPUS[0] : null;
const CLIENT_CPU = PIN ? CPUS[1] : null;
const pinServer = (cmd) => (PIN ? ['taskset', '-c', String(SERVER_CPU), ...cmd] : cmd);
const pinClient = (cmd) => (PIN ? ['taskset', '-c', String(CLIENT_CPU), ...cmd] : cmd);

// --- binaries --------------------------------------------------------------------------------------------------
const NODE_BIN = path.join(opt.buildDir, 'node', 'aihub-node');
const MOCK_BIN = path.join(opt.buildDir, 'loadtests', 'mock', 'aihub-mock');
for (const b of [NODE_BIN, MOCK_BIN]) if (!fs.existsSync(b)) die(`${b} is missing (run.sh builds build/ when missing)`);
function which(name) {
  for (const d of (process.env.PATH || '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(d, name);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  return null;
}
const BIN = {};
for (const n of ['redis-server', 'redis-cli', 'nginx', 'wrk', 'h2load', 'taskset', 'curl']) {
  BIN[n] = which(n);
  if (!BIN[n]) die(`${n} is not installed (scripts/install-deps.sh installs it: ${n === 'nginx' ? 'nginx-light' : n})`);
}
const PERF = which('perf');
function buildType() {
  try {
    const cache = fs.readFileSync(path.join(opt.buildDir, 'CMakeCache.txt'), 'utf8');
    const type = /^CMAKE_BUILD_TYPE:STRING=(.*)$/m.exec(cache)?.[1] || '?';
    const san = /^AIHUB_SANITIZE:BOOL=(ON|TRUE|1)$/mi.test(cache);
    return san ? `${type}+sanitizers` : type;
  } catch {
    return 'unknown';
  }
}
const BUILD_TYPE = buildType();
if (BUILD_TYPE !== 'Release') log(`warning: ${opt.buildDir} is a ${BUILD_TYPE} build; the numbers mean something only for Release`);

// --- the output folder and the servers' temp folder -----------------------------------------------------------
const OUT = opt.out || fs.mkdtempSync(path.join(os.tmpdir(), 'aihub-bench-'));
fs.mkdirSync(OUT, { recursive: true });
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'aihub-bench-run-'));

// --- child processes, stopped by PID ----------------------------------------------------------------------------
const children = new Map(); // pid -> {name, child}
function startChild(name, cmd, { env = {}, stdout = null } = {}) {
  const outFile = path.join(TMP, `${name}.log`);
  const fd = fs.openSync(outFile, 'a');
  const ofd = stdout ? fs.openSync(stdout, 'a') : fd;
  const child = spawn(cmd[0], cmd.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', ofd, fd] });
  fs.closeSync(fd);
  if (ofd !== fd) fs.closeSync(ofd);
  const rec = { name, child, pid: child.pid, log: outFile, exited: null };
  rec.done = new Promise((res) => child.once('exit', (code, sig) => { rec.exited = code ?? sig; children.delete(child.pid); res(rec.exited); }));
  children.set(child.pid, rec);
  return rec;
}
async function stopChild(rec, signal = 'SIGTERM', timeoutMs = 10000) {
  if (!rec || rec.exited !== null) return;
  try { process.kill(rec.pid, signal); } catch { return; }
  const t = setTimeout(() => { try { process.kill(rec.pid, 'SIGKILL'); } catch { /* gone */ } }, timeoutMs);
  await rec.done;
  clearTimeout(t);
}
function killAllSync() {
  // nginx's worker is not our child: killed by its PID too, or it would outlive a killed master
  const extra = state.nginx?.worker ? [state.nginx.worker] : [];
  for (const rec of children.values()) { try { process.kill(rec.group ? -rec.pid : rec.pid, 'SIGKILL'); } catch { /* gone */ } }
  for (const pid of extra) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
}
process.on('exit', killAllSync);
// On a signal: nginx stops its worker itself (SIGTERM to the master), everything else is killed, and each child
// is waited for, so none is left behind (not even as a zombie).
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    log(`${sig}: stopping`);
    if (state.nginx) await stopChild(state.nginx, 'SIGTERM', 3000);
    const recs = [...children.values()];
    for (const rec of recs) { try { process.kill(rec.group ? -rec.pid : rec.pid, 'SIGKILL'); } catch { /* gone */ } }
    await Promise.race([Promise.all(recs.map((r) => r.done || new Promise((res) => r.child.once('close', res)))), sleep(3000)]);
    process.exit(130);
  });
}
function tail(file, n = 30) {
  try { return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n'); } catch { return ''; }
}
function assertAlive(rec) {
  if (rec.exited !== null) throw new Error(`${rec.name} (pid ${rec.pid}) exited (${rec.exited}):\n${tail(rec.log)}`);
}

/** Runs a command to completion; resolves {code, stdout, stderr, wall_s}. */
function run(cmd, { env = {}, timeoutMs = 600000, input = null } = {}) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    // its own process group (its PID), so that a kill reaches the load generator under `sh` and `taskset` too
    const child = spawn(cmd[0], cmd.slice(1), { env: { ...process.env, ...env }, stdio: [input === null ? 'ignore' : 'pipe', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    if (input !== null) child.stdin.end(input);
    const rec = { name: path.basename(cmd[0]), child, pid: child.pid, exited: null, group: true };
    children.set(child.pid, rec);
    const timer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } stderr += '\n[killed: time limit]'; }, timeoutMs);
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      children.delete(child.pid);
      resolve({ code: code ?? sig, stdout, stderr, wall_s: Number(process.hrtime.bigint() - t0) / 1e9 });
    });
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}
async function waitFor(fn, what, timeoutMs = 15000) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try { if (await fn()) return; } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await sleep(50);
  }
}

// --- /proc -------------------------------------------------------------------------------------------------------
function procStatus(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] || 0);
  return { rss_kb: kb('VmRSS'), hwm_kb: kb('VmHWM') };
}
/** CPU time of a process, all threads, in ns (schedstat: precise, unlike the 10 ms ticks of /proc/pid/stat). */
function cpuNs(pid) {
  let sum = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try { sum += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]); } catch { /* thread gone */ }
  }
  return sum;
}
function readSyscalls(pid) {
  const s = fs.readFileSync(`/proc/${pid}/io`, 'utf8');
  return Number(/^syscr:\s+(\d+)/m.exec(s)[1]);
}
const CLK_TCK = 100;
/**
 * Time (ns) every CPU spent running processes, from /proc/stat: user + nice + system. Interrupts and softirqs
 * (loopback networking is mostly softirq) belong to no process's CPU time, so they are left out on both sides.
 */
function cpuBusy() {
  const out = {};
  for (const l of fs.readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(l);
    if (!m) continue;
    const v = m[2].split(/\s+/).map(Number); // user nice system idle iowait irq softirq steal
    out[m[1]] = ((v[0] + v[1] + v[2]) * 1e9) / CLK_TCK;
  }
  return out;
}
function childrenOf(pid) {
  try { return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number); } catch { return []; }
}

// --- redis ---------------------------------------------------------------------------------------------------------
async function redisCmd(port, ...args) {
  const r = await run([BIN['redis-cli'], '-h', '127.0.0.1', '-p', String(port), ...args], { timeoutMs: 10000 });
  if (r.code !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
async function redisStats(port) {
  const text = await redisCmd(port, 'INFO', 'all');
  const calls = {};
  let user = 0;
  let sys = 0;
  for (const l of text.split(/\r?\n/)) {
    let m = /^cmdstat_([^:]+):calls=(\d+)/.exec(l);
    if (m) calls[m[1]] = Number(m[2]);
    m = /^used_cpu_user:([\d.]+)/.exec(l);
    if (m) user = Number(m[1]);
    m = /^used_cpu_sys:([\d.]+)/.exec(l);
    if (m) sys = Number(m[1]);
  }
  return { calls, cpu_s: user + sys };
}
function redisDelta(a, b) {
  const out = { script_calls: 0, all_calls: 0, by_command: {}, cpu_s: b.cpu_s - a.cpu_s };
  for (const [k, v] of Object.entries(b.calls)) {
    const d = v - (a.calls[k] || 0);
    if (d === 0 || k === 'info') continue; // INFO: the runner's own
    out.by_command[k] = d;
    out.all_calls += d;
    if (k === 'evalsha' || k === 'eval') out.script_calls += d;
  }
  return out;
}

// --- the stack -------------------------------------------------------------------------------------------------
const SECRET = randomBytes(32).toString('hex');
const ADMIN_KEY = `ak-${randomBytes(16).toString('hex')}`;
const state = { redis: null, mock: null, nodes: [], nginx: null };

async function startRedis() {
  const port = await freePort();
  // No persistence: a benchmark of the gateway, not of the disk (AOF would add Redis CPU per write).
  const rec = startChild('redis', pinServer([BIN['redis-server'], '--port', String(port), '--bind', '127.0.0.1',
    '--save', '', '--appendonly', 'no', '--dir', TMP, '--maxmemory-policy', 'noeviction', '--logfile', '']));
  await waitFor(async () => (await redisCmd(port, 'PING')).trim() === 'PONG', 'redis-server');
  return { ...rec, port, url: `redis://127.0.0.1:${port}/0` };
}

async function startMock() {
  const outFile = path.join(TMP, 'mock.out');
  const rec = startChild('mock', pinServer([MOCK_BIN, '--listen', '127.0.0.1:0', '--threads', '1']), { stdout: outFile });
  let port = 0;
  await waitFor(() => {
    assertAlive(rec);
    const m = /AIHUB_MOCK_PORT=(\d+)/.exec(fs.existsSync(outFile) ? fs.readFileSync(outFile, 'utf8') : '');
    if (m) port = Number(m[1]);
    return port > 0;
  }, 'the mock');
  const base = `http://127.0.0.1:${port}`;
  const call = async (method, p, body) => {
    const r = await fetch(base + p, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    const t = await r.text();
    if (r.status >= 300) throw new Error(`mock ${method} ${p}: ${r.status} ${t}`);
    return t ? JSON.parse(t) : null;
  };
  return { ...rec, port, base, behave: (rule) => call('POST', '/_mock/behavior', rule), clear: () => call('DELETE', '/_mock/behavior'), stats: () => call('GET', '/_mock/stats') };
}

async function startNode(i, extraEnv = {}) {
  const port = await freePort();
  const rec = startChild(`aihub-node-${i}`, pinServer([NODE_BIN]), {
    stdout: path.join(TMP, `aihub-node-${i}.access.log`), // the access log: one JSON line per request
    env: {
      AIHUB_LISTEN: `127.0.0.1:${port}`,
      AIHUB_REDIS_URL: state.redis.url,
      AIHUB_SECRET_KEY: SECRET,
      AIHUB_ADMIN_KEY: ADMIN_KEY,
      AIHUB_THREADS: '1',
      AIHUB_ACCESS_LOG: '1',
      AIHUB_LOG_LEVEL: 'info',
      ...extraEnv,
    },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => { assertAlive(rec); return (await fetch(`${url}/readyz`)).status === 200; }, `aihub-node ${i} /readyz`, 20000);
  return { ...rec, port, url };
}

async function startNginx() {
  const port = await freePort();
  const h2port = await freePort();
  const prefix = path.join(TMP, 'nginx');
  fs.mkdirSync(prefix, { recursive: true });
  const conf = fs.readFileSync(path.join(HERE, 'nginx.conf.template'), 'utf8')
    .replaceAll('{{PREFIX}}', prefix).replaceAll('{{PORT}}', String(port)).replaceAll('{{H2_PORT}}', String(h2port))
    .replaceAll('{{MOCK_PORT}}', String(state.mock.port)).replaceAll('{{NOFILE}}', '20000')
    .replaceAll('{{WORKER_CONNECTIONS}}', '16384').replaceAll('{{H2_STREAMS}}', '128');
  if (/\{\{/.test(conf)) throw new Error('nginx.conf.template has an unfilled placeholder');
  const confFile = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(confFile, conf);
  const rec = startChild('nginx', pinServer([BIN.nginx, '-p', prefix, '-c', confFile, '-e', path.join(prefix, 'nginx-error.log')]));
  let worker = 0;
  await waitFor(async () => {
    assertAlive(rec);
    const w = childrenOf(rec.pid);
    if (w.length !== 1) return false;
    worker = w[0];
    return (await fetch(`http://127.0.0.1:${port}/v1/models`, { headers: { authorization: 'Bearer sk-bench-direct' } })).status === 200;
  }, 'nginx');
  return { ...rec, port, h2port, worker, confFile };
}

async function admin(method, p, body) {
  const node = state.nodes[0];
  const r = await fetch(node.url + p, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`admin ${method} ${p}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// Limits high enough never to refuse, but set (non-zero), so every check runs.
const BIG = { rpm: 1_000_000_000, tpm: 1_000_000_000_000, max_in_flight: 1_000_000 };
const PRICE = { input: 2.5, output: 10 };

async function createUserKey(name) {
  const user = await admin('POST', '/api/users', { name, balance: 100_000_000_000_000, ...BIG });
  const key = await admin('POST', `/api/users/${user.id}/keys`, { name: `${name}-key`, ...BIG });
  return { user: user.id, key: key.key };
}

/** Full governance: prices (holds and charges), key/user/global limits, the request log and stats (always on). */
async function configureAihub() {
  await admin('PUT', '/api/settings', { global_rpm: BIG.rpm, global_tpm: BIG.tpm });
  await admin('PUT', '/api/prices', { 'mock-gpt': PRICE, 'mock-mix': PRICE, 'mock-flaky': PRICE });
  const ch = await admin('POST', '/api/channels', { name: 'bench', type: 'openai-compatible', base_url: `${state.mock.base}/v1`, models: ['mock-gpt'] });
  await admin('POST', `/api/channels/${ch.id}/accounts`, { name: 'bench-account', key: 'sk-bench-account-0001' });
  const main = await createUserKey('bench');
  // the configuration reaches the node within a poll; wait until the key works
  await waitFor(async () => (await chatOnce(state.nodes[0].url, main.key)).status === 200, 'the bench key on aihub-node', 10000);
  return main;
}

/** The sum of a metric's series on a node's /metrics. */
async function nodeMetric(node, name) {
  const t = await (await fetch(`${node.url}/metrics`)).text();
  let sum = 0;
  for (const l of t.split('\n')) if (l.startsWith(name) && (l[name.length] === ' ' || l[name.length] === '{')) sum += Number(l.split(' ').pop());
  return sum;
}

async function chatOnce(base, key, body = chatBody(false)) {
  const r = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
  return { status: r.status, text: await r.text() };
}
// the same body as loadtests/wrk/lib/report.lua's chat_body
function chatBody(stream, model = 'mock-gpt') {
  return `{"model":"${model}","messages":[{"role":"system","content":"You are a terse assistant."},` +
    `{"role":"user","content":"Say hello in eight words."}],"max_tokens":64${stream ? ',"stream":true' : ''}}`;
}

// --- load generators --------------------------------------------------------------------------------------------
/** Everything on the server CPU that the run did not start is noise: reported per run. */
function serverPids() {
  const p = [];
  if (state.redis) p.push(state.redis.pid);
  if (state.mock) p.push(state.mock.pid);
  for (const n of state.nodes) p.push(n.pid);
  if (state.nginx) p.push(state.nginx.pid, state.nginx.worker);
  return p;
}
function sampleServers() {
  const cpu = {};
  for (const pid of serverPids()) { try { cpu[pid] = cpuNs(pid); } catch { cpu[pid] = 0; } }
  return { cpu, busy: cpuBusy(), self: process.cpuUsage(), t: process.hrtime.bigint() };
}
/** {wall_s, cpu_ns: {pid: ns}, foreign_pct: CPU (% of one CPU) used by processes this run did not start} */
function sampleDelta(a, b, generatorCpuNs) {
  const wall = Number(b.t - a.t);
  const cpu = {};
  let ours = generatorCpuNs;
  for (const pid of Object.keys(b.cpu)) { cpu[pid] = b.cpu[pid] - (a.cpu[pid] || 0); ours += cpu[pid]; }
  ours += ((b.self.user - a.self.user) + (b.self.system - a.self.system)) * 1000;
  let busy = 0;
  for (const c of [SERVER_CPU ?? 0, CLIENT_CPU ?? 0].filter((v, i, arr) => arr.indexOf(v) === i)) busy += (b.busy[c] || 0) - (a.busy[c] || 0);
  if (!PIN) busy = Object.keys(b.busy).reduce((s, c) => s + (b.busy[c] - (a.busy[c] || 0)), 0);
  return { wall_s: wall / 1e9, cpu_ns: cpu, foreign_pct: Math.max(0, ((busy - ours) / wall) * 100) };
}
/** CPU (% of one CPU) used over `ms` by processes other than the servers and this runner. */
async function foreignCpuPct(ms) {
  const a = sampleServers();
  await sleep(ms);
  const b = sampleServers();
  return sampleDelta(a, b, 0).foreign_pct;
}
let quietWaited = 0;
/** Waits (up to --quiet-wait in all) until other processes leave the CPUs alone; returns the last reading. */
async function waitQuiet() {
  if (opt.quietWait <= 0) return NaN;
  let pct = await foreignCpuPct(500);
  if (pct <= opt.quietMax) return pct;
  log(`waiting for other processes to quieten down (${f0(pct)}% of one CPU; at most ${f0(opt.quietWait - quietWaited)} s more)`);
  while (pct > opt.quietMax && quietWaited < opt.quietWait) {
    pct = await foreignCpuPct(1000);
    quietWaited += 1;
  }
  if (pct > opt.quietMax) log(`warning: still ${f0(pct)}% busy with other work; measuring anyway`);
  return pct;
}
/** Runs `fn` after waitQuiet(); repeats it (up to 3 runs) while other work disturbed it, keeping the least disturbed. */
async function measured(fn, what) {
  let best = null;
  for (let attempt = 1; attempt <= 3; attempt++) {
    await waitQuiet();
    const r = await fn();
    if (!best || r.sample.foreign_pct < best.sample.foreign_pct) best = r;
    if (opt.quietWait <= 0 || r.sample.foreign_pct <= opt.quietMax * 1.5) break;
    log(`${what}: other processes used ${f0(r.sample.foreign_pct)}% of one CPU during the run${attempt < 3 ? '; again' : ''}`);
  }
  best.attempts = best.attempts || 1;
  return best;
}

// `sh -c '"$@"; times'`: the shell prints its children's CPU time, so the load generator's CPU is known too.
function withTimes(cmd) { return ['sh', '-c', '"$@"; rc=$?; times >&2; exit $rc', 'sh', ...cmd]; }
function parseTimes(stderr) {
  const lines = stderr.trim().split('\n');
  const m = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s\s*$/.exec(lines[lines.length - 1] || '');
  if (!m) return 0;
  return ((Number(m[1]) * 60 + Number(m[2])) + (Number(m[3]) * 60 + Number(m[4]))) * 1e9;
}

/**
 * One wrk run: `script` from loadtests/wrk, `conns` connections (one thread), `seconds` long and at most
 * maxRequests requests. Returns the script's WRK_RESULT plus CPU use of the servers.
 */
async function wrk(args) {
  if (args.warmup || args.concurrent) return wrkOnce(args);
  return measured(() => wrkOnce(args), `wrk ${args.script} ${args.url}`);
}
async function wrkOnce({ url, script, conns, seconds: asked, env = {}, maxRequests = 0 }) {
  const threads = 1;
  const seconds = Math.max(1, Math.round(asked)); // wrk takes whole seconds
  const cmd = pinClient(withTimes([BIN.wrk, '-t', String(threads), '-c', String(conns), '-d', `${seconds}s`, '--timeout', '10s',
    '-s', path.join(WRK_DIR, script), url]));
  const cap = maxRequests || Math.ceil(seconds * 400000); // a bound no run here reaches; a run that does is flagged
  const a = sampleServers();
  const r = await run(cmd, { env: { MAX_REQUESTS: String(cap), WRK_THREADS: String(threads), ...env }, timeoutMs: (seconds + 30) * 1000 });
  const b = sampleServers();
  const line = r.stdout.split('\n').find((l) => l.startsWith('WRK_RESULT '));
  if (r.code !== 0 || !line) throw new Error(`wrk ${script} ${url} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  const res = JSON.parse(line.slice('WRK_RESULT '.length));
  res.capped = res.requests >= cap;
  res.sample = sampleDelta(a, b, parseTimes(r.stderr));
  res.output = r.stdout;
  return res;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** One h2load run; `-n` bounds requests and a kill after `timeoutS` bounds time. Percentiles from its log file. */
async function h2load(args) {
  if (!args.noGate) await waitQuiet();
  return h2loadOnce(args);
}
async function h2loadOnce({ url, n, c, m = 1, h1 = false, body = null, key, timeoutS, connRate = 0 }) {
  const logFile = path.join(TMP, `h2load-${randomBytes(4).toString('hex')}.log`);
  const args = [BIN.h2load, '-n', String(n), '-c', String(c), '-m', String(m), '-t', '1', '--log-file', logFile];
  if (connRate > 0) args.push('-r', String(connRate)); // connections opened per second
  if (h1) args.push('--h1');
  if (body !== null) {
    const bf = path.join(TMP, `body-${createHash('sha1').update(body).digest('hex').slice(0, 8)}.json`);
    fs.writeFileSync(bf, body);
    args.push('-d', bf, '-H', 'content-type: application/json');
  }
  if (key) args.push('-H', `authorization: Bearer ${key}`);
  args.push(url);
  const a = sampleServers();
  const r = await run(pinClient(withTimes(args)), { timeoutMs: timeoutS * 1000 });
  const b = sampleServers();
  const out = r.stdout;
  const fin = /finished in ([\d.]+)(ms|s), ([\d.]+) req\/s/.exec(out);
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const st = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  if (!fin || !req) throw new Error(`h2load ${url} failed (${r.code}):\n${out}\n${r.stderr}`);
  const durations = [];
  try {
    for (const l of fs.readFileSync(logFile, 'utf8').split('\n')) {
      const f = l.split('\t');
      if (f.length >= 3) durations.push(Number(f[2]));
    }
  } catch { /* no log */ }
  durations.sort((x, y) => x - y);
  fs.rmSync(logFile, { force: true });
  return {
    requests: Number(req[3]), succeeded: Number(req[4]), failed: Number(req[5]) + Number(req[6]) + Number(req[7]),
    non2xx: st ? Number(st[2]) + Number(st[3]) + Number(st[4]) : NaN,
    duration_s: Number(fin[1]) / (fin[2] === 'ms' ? 1000 : 1), rps: Number(fin[3]),
    p50_us: percentile(durations, 50), p90_us: percentile(durations, 90), p99_us: percentile(durations, 99),
    p999_us: percentile(durations, 99.9), max_us: durations[durations.length - 1],
    mean_us: durations.reduce((a, b) => a + b, 0) / durations.length, samples: durations.length,
    sample: sampleDelta(a, b, parseTimes(r.stderr)), output: out,
  };
}

async function sseClient(targets, { n, warmup, body }) {
  await waitQuiet();
  const cfg = JSON.stringify({ targets, n, warmup, body, timeout_ms: 10000, gap_ms: 3 });
  const r = await run(pinClient([process.execPath, path.join(HERE, 'sse-client.mjs'), cfg]), { timeoutMs: 600000 });
  if (r.code !== 0) throw new Error(`sse-client failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

// --- formatting ---------------------------------------------------------------------------------------------------
const f0 = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');
const f1 = (v) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
const f2 = (v) => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');
function mdTable(header, rows) {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join(' | ')} |`;
  return [line(header), `|${w.map((x, i) => (i === 0 ? `${'-'.repeat(x + 1)}-` : `${'-'.repeat(x + 1)}:`)).join('|')}|`, ...rows.map(line)].join('\n');
}
const report = { sections: [], json: {} };
function section(title, text) {
  report.sections.push(`### ${title}\n\n${text}\n`);
  process.stdout.write(`\n### ${title}\n\n${text}\n`);
}
const MiB = (kb) => kb / 1024;

// --- mode: table ---------------------------------------------------------------------------------------------------
async function modeTable(ctx) {
  const { key } = ctx.main;
  const node = state.nodes[0];
  const targets = [
    { id: 'direct', name: 'mock direct', url: state.mock.base, port: state.mock.port, key: 'sk-bench-direct', pid: () => state.mock.pid },
    { id: 'nginx', name: 'nginx proxy_pass', url: `http://127.0.0.1:${state.nginx.port}`, port: state.nginx.port, key: 'sk-bench-direct', pid: () => state.nginx.worker },
    { id: 'aihub', name: 'AiHub (full governance)', url: node.url, port: node.port, key, pid: () => node.pid },
  ];
  const R = {};
  for (const t of targets) R[t.id] = { rss_idle_kb: procStatus(t.pid()).rss_kb };
  const C = opt.connections;
  const body = chatBody(false);
  const url = (t) => `${t.url}/v1/chat/completions`;
  // h2load over HTTP/1.1 (keep-alive, like wrk): its per-request log gives true latencies (wrk 4.1 adds estimated
  // samples of its own to its histogram), and -n bounds the requests: each run takes about --duration, at the
  // rate a short calibration run found, and is killed after four times that
  const rate = {};
  log('table: warm-up and calibration');
  for (const t of targets) {
    for (const c of [C, 1]) {
      const h = await h2load({ url: url(t), n: SMOKE ? (c === 1 ? 300 : 3000) : (c === 1 ? 5000 : 50000), c, h1: true, body, key: t.key, timeoutS: 120, noGate: true });
      rate[`${t.id}/${c}`] = h.rps;
    }
  }
  const run50 = async (t) => {
    const n = Math.max(200, Math.round(rate[`${t.id}/${C}`] * D));
    if (t.id !== 'aihub') return h2load({ url: url(t), n, c: C, h1: true, body, key: t.key, timeoutS: D * 4 + 30, noGate: true });
    const rs0 = await redisStats(state.redis.port);
    const sc0 = readSyscalls(state.redis.pid);
    const served0 = await nodeMetric(node, 'aihub_requests_total');
    const h = await h2load({ url: url(t), n, c: C, h1: true, body, key: t.key, timeoutS: D * 4 + 30, noGate: true });
    // nothing is left in flight (h2load waits for every answer); the node's own count of finished requests is
    // the denominator, so a background script call (config poll, sweep) is not counted to the load
    await waitFor(async () => (await nodeMetric(node, 'aihub_in_flight_requests')) === 0, 'requests in flight to finish');
    const served = (await nodeMetric(node, 'aihub_requests_total')) - served0;
    const rs1 = await redisStats(state.redis.port);
    const d = redisDelta(rs0, rs1);
    d.read_syscalls = readSyscalls(state.redis.pid) - sc0;
    h.redis = { ...d, requests: served, script_calls_per_req: d.script_calls / served, all_calls_per_req: d.all_calls / served,
      scripts_per_read: d.script_calls / d.read_syscalls, cpu_us_per_req: (d.cpu_s * 1e6) / served,
      redis_cpu_pct: (d.cpu_s / h.sample.wall_s) * 100 };
    return h;
  };
  for (const t of targets) {
    log(`table: ${t.name}, ${C} connections, about ${D} s`);
    const h = await measured(() => run50(t), `${t.name} at ${C} connections`);
    R[t.id].c50 = h;
    R[t.id].cpu_us_per_req = h.sample.cpu_ns[t.pid()] / 1000 / h.requests;
    if (h.redis) R.redis = h.redis;
  }
  for (const t of targets) {
    log(`table: ${t.name}, 1 connection, about ${D} s`);
    const n = Math.max(100, Math.round(rate[`${t.id}/1`] * D));
    R[t.id].c1 = await measured(() => h2load({ url: url(t), n, c: 1, h1: true, body, key: t.key, timeoutS: D * 4 + 30, noGate: true }), `${t.name} at 1 connection`);
  }

  // streaming: time to first event, one request at a time, the mock pausing between chunks
  const ttfeN = SMOKE ? 20 : 1000;
  log(`table: time to first event, ${ttfeN} streams per target`);
  await state.mock.behave({ key: '*', chunks: 4, chunk_delay_ms: 2 });
  const sse = await sseClient(targets.map((t) => ({ name: t.id, port: t.port, path: '/v1/chat/completions', key: t.key })),
    { n: ttfeN, warmup: SMOKE ? 3 : 50, body: chatBody(true) });
  for (const t of targets) {
    const s = sse[t.id];
    if (s.errors > 0) throw new Error(`streaming to ${t.name}: ${s.errors} errors (${s.error})`);
    const ff = [...s.first_event_us].sort((x, y) => x - y);
    R[t.id].first_event = { p50_us: percentile(ff, 50), p99_us: percentile(ff, 99), n: ff.length };
  }

  // per-chunk cost: the front process's CPU per stream with few and with many chunks (same chunk delay)
  const CH_A = 1;
  const CH_B = SMOKE ? 11 : 41;
  const DELAY = 5;
  const streamsN = SMOKE ? 100 : 2000;
  const conc = Math.min(50, C);
  for (const t of targets) {
    const perStream = {};
    for (const chunks of [CH_A, CH_B]) {
      await state.mock.behave({ key: '*', chunks, chunk_delay_ms: DELAY });
      log(`table: ${t.name}, ${streamsN} streams of ${chunks} chunks (${DELAY} ms apart), ${conc} at a time`);
      const h = await h2load({ url: `${t.url}/v1/chat/completions`, n: streamsN, c: conc, h1: true, body: chatBody(true), key: t.key,
        timeoutS: Math.ceil(((streamsN / conc) * (chunks * DELAY + 50)) / 1000) + 60 });
      if (h.succeeded !== streamsN || h.non2xx !== 0) throw new Error(`streams to ${t.name}: ${h.succeeded} of ${streamsN} succeeded\n${h.output}`);
      perStream[chunks] = h.sample.cpu_ns[t.pid()] / 1000 / streamsN;
    }
    R[t.id].cpu_us_per_stream = perStream;
    R[t.id].cpu_us_per_chunk = (perStream[CH_B] - perStream[CH_A]) / (CH_B - CH_A);
  }
  await state.mock.clear();
  for (const t of targets) R[t.id].rss_peak_kb = procStatus(t.pid()).hwm_kb;

  // the table
  const dir = R.direct;
  const add = (t, k) => R[t].c1[k] - dir.c1[k];
  const addFe = (t, k) => R[t].first_event[k] - dir.first_event[k];
  const row = (t, name) => [name, f0(R[t].c50.rps), f0(R[t].c50.p50_us), f0(R[t].c50.p99_us), f1(R[t].cpu_us_per_req),
    f0(add(t, 'p50_us')), f0(add(t, 'p99_us')), f0(addFe(t, 'p50_us')), f0(addFe(t, 'p99_us')), f2(R[t].cpu_us_per_chunk),
    f1(MiB(R[t].rss_idle_kb)), f1(MiB(R[t].rss_peak_kb))];
  const ratio = (a, b) => f2(a / b);
  const header = ['target', `req/s @${C}`, `p50 µs @${C}`, `p99 µs @${C}`, 'CPU µs/req', '+p50 µs @1', '+p99 µs @1',
    '+1st event p50 µs', '+1st event p99 µs', 'CPU µs/chunk', 'RSS idle MiB', 'RSS peak MiB'];
  const rows = [row('direct', 'mock direct'), row('nginx', 'nginx proxy_pass'), row('aihub', 'AiHub, full governance'),
    ['AiHub / nginx', ratio(R.aihub.c50.rps, R.nginx.c50.rps), ratio(R.aihub.c50.p50_us, R.nginx.c50.p50_us), ratio(R.aihub.c50.p99_us, R.nginx.c50.p99_us),
      ratio(R.aihub.cpu_us_per_req, R.nginx.cpu_us_per_req), ratio(add('aihub', 'p50_us'), add('nginx', 'p50_us')), ratio(add('aihub', 'p99_us'), add('nginx', 'p99_us')),
      ratio(addFe('aihub', 'p50_us'), addFe('nginx', 'p50_us')), ratio(addFe('aihub', 'p99_us'), addFe('nginx', 'p99_us')),
      ratio(R.aihub.cpu_us_per_chunk, R.nginx.cpu_us_per_chunk), ratio(R.aihub.rss_idle_kb, R.nginx.rss_idle_kb), ratio(R.aihub.rss_peak_kb, R.nginx.rss_peak_kb)]];
  const rd = R.redis;
  const redisRows = [
    ['Redis script calls (EVALSHA) per request', f2(rd.script_calls_per_req)],
    ['Redis commands per request, script-internal ones included', f1(rd.all_calls_per_req)],
    ['script calls per Redis read(2) (above 1 = pipelined)', f2(rd.scripts_per_read)],
    ['Redis CPU µs per request', f1(rd.cpu_us_per_req)],
    ['Redis CPU during the AiHub run, % of one CPU', f1(rd.redis_cpu_pct)],
  ];
  const non2xx = targets.map((t) => `${t.id} ${R[t.id].c50.non2xx + R[t.id].c50.failed + R[t.id].c1.non2xx + R[t.id].c1.failed}`).join(', ');
  const foreign = Math.max(...targets.flatMap((t) => [R[t.id].c50.sample.foreign_pct, R[t.id].c1.sample.foreign_pct]));
  const notes = [
    `Columns: h2load --h1 (HTTP/1.1 keep-alive, 1 thread) with ${C} and with 1 connection(s), about ${D} s each, non-streaming chat,`,
    `percentiles from its per-request log; "+" = minus mock direct of this run;`,
    `first event: sequential streams, 4 chunks 2 ms apart (${ttfeN} per target); CPU µs/chunk: the front process's CPU per stream with`,
    `${CH_B} vs ${CH_A} chunk(s) ${DELAY} ms apart, slope; CPU and RSS are of the front process (mock, nginx worker, aihub-node).`,
    `mock direct @1 connection: p50 ${f0(dir.c1.p50_us)} µs, p99 ${f0(dir.c1.p99_us)} µs; first event p50 ${f0(dir.first_event.p50_us)} µs.`,
    `non-2xx responses: ${non2xx}. Highest CPU use by other processes during a run: ${f0(foreign)}% of one CPU.`,
  ];
  section('The table', `${mdTable(header, rows)}\n\n${mdTable(['AiHub only', 'value'], redisRows)}\n\n${notes.join('\n')}`);

  // the issue's targets
  const tgt = [
    ['throughput ≥ 0.5× nginx', R.aihub.c50.rps / R.nginx.c50.rps, (v) => v >= 0.5, f2],
    ['added p50 @1 conn ≤ 60 µs', add('aihub', 'p50_us'), (v) => v <= 60, f0],
    ['added p99 @1 conn ≤ 150 µs', add('aihub', 'p99_us'), (v) => v <= 150, f0],
    ['added time to first event p50 ≤ 50 µs', addFe('aihub', 'p50_us'), (v) => v <= 50, f0],
    ['idle RSS ≤ 20 MB', (R.aihub.rss_idle_kb * 1024) / 1e6, (v) => v <= 20, f1],
    ['exactly 2 Redis script calls per request', rd.script_calls_per_req, (v) => Math.abs(v - 2) < 0.01, f2],
  ];
  section('The issue\'s targets', mdTable(['target', 'measured', 'verdict'], tgt.map(([n, v, ok, f]) => [n, f(v), ok(v) ? 'met' : 'MISSED'])));
  if (non2xx.match(/ [1-9]/)) log(`warning: non-2xx responses in the table runs: ${non2xx}`);
  for (const t of targets) for (const k of ['c50', 'c1']) delete R[t.id][k].output;
  report.json.table = R;
  report.json.table_cells = rows;
  report.json.redis_cells = redisRows;
}

// --- mode: scenarios (the other wrk scripts, against AiHub) ---------------------------------------------------------
async function modeScenarios(ctx) {
  const node = state.nodes[0];
  const C = opt.connections;
  const users = SMOKE ? 5 : 100;
  const perUser = SMOKE ? 2 : 10;
  log(`scenarios: ${users} users × ${perUser} keys`);
  const keys = [];
  for (let u = 0; u < users; u++) {
    const user = await admin('POST', '/api/users', { name: `bench-many-${u}`, balance: 1_000_000_000_000, ...BIG });
    for (let k = 0; k < perUser; k++) keys.push((await admin('POST', `/api/users/${user.id}/keys`, { name: `k${k}`, ...BIG })).key);
  }
  const keysFile = path.join(TMP, 'keys.txt');
  fs.writeFileSync(keysFile, `${keys.join('\n')}\n`, { mode: 0o600 });
  // failure mix: mock-mix is served by 4 accounts, one answering 429 and one 503; mock-flaky by 2 that always fail.
  // Cooldowns of 1 s keep the failing accounts coming back, so the failover path runs all along.
  const cool = { 429: 1, '5xx': 1, timeout: 1 };
  const mix = await admin('POST', '/api/channels', { name: 'bench-mix', type: 'openai-compatible', base_url: `${state.mock.base}/v1`, models: ['mock-mix'], cooldowns: cool });
  for (const k of ['sk-mix-429', 'sk-mix-503', 'sk-mix-ok-1', 'sk-mix-ok-2']) await admin('POST', `/api/channels/${mix.id}/accounts`, { name: k, key: k });
  const flaky = await admin('POST', '/api/channels', { name: 'bench-flaky', type: 'openai-compatible', base_url: `${state.mock.base}/v1`, models: ['mock-flaky'], cooldowns: cool });
  for (const k of ['sk-flaky-429', 'sk-flaky-500']) await admin('POST', `/api/channels/${flaky.id}/accounts`, { name: k, key: k });
  await state.mock.behave({ key: 'sk-mix-429', status: 429, retry_after: 1 });
  await state.mock.behave({ key: 'sk-mix-503', status: 503 });
  await state.mock.behave({ key: 'sk-flaky-429', status: 429, retry_after: 1 });
  await state.mock.behave({ key: 'sk-flaky-500', status: 500 });
  await waitFor(async () => (await chatOnce(node.url, keys[keys.length - 1])).status === 200, 'the last key', 10000);
  await waitFor(async () => (await chatOnce(node.url, ctx.main.key, chatBody(false, 'mock-mix'))).status === 200, 'mock-mix', 10000);

  const metric = (name) => nodeMetric(node, name);
  const runs = [
    ['chat (one key)', 'chat.lua', { AIHUB_KEY: ctx.main.key }],
    ['stream (one key)', 'stream.lua', { AIHUB_KEY: ctx.main.key }],
    [`many keys (${keys.length} keys, ${users} users)`, 'many_keys.lua', { KEYS_FILE: keysFile }],
    ['failure mix (10% to a failing model, failover in the rest)', 'failure_mix.lua', { AIHUB_KEY: ctx.main.key, MODEL: 'mock-mix', FAIL_MODEL: 'mock-flaky', FAIL_SHARE: '10' }],
  ];
  const rows = [];
  const out = [];
  for (const [name, script, env] of runs) {
    log(`scenarios: ${name}, ${C} connections, ${D} s`);
    const fo0 = await metric('aihub_failovers_total');
    const w = await wrk({ url: node.url, script, conns: C, seconds: D, env });
    const fo = (await metric('aihub_failovers_total')) - fo0;
    const st = Object.entries(w.statuses).map(([k, v]) => `${k}: ${v}`).join(', ') || 'none';
    const fails = Object.entries(w.failures).map(([k, v]) => `${k}: ${v}`).join(', ');
    rows.push([name, f0(w.rps), f0(w.non2xx), st + (fails ? `; ${fails}` : ''), f0(fo)]);
    delete w.output;
    out.push({ name, script, ...w, failovers: fo });
  }
  await state.mock.clear();
  section('Scenarios (wrk scripts against AiHub)', `${mdTable(['scenario', 'req/s', 'non-2xx', 'statuses', 'failovers'], rows)}\n\n` +
    `wrk, ${C} connections, ${D} s each (no latencies: wrk 4.1 mixes estimated samples into its histogram; the table has h2load's); failure mix: model mock-mix has 4 accounts (one answers 429, one 503), mock-flaky 2 failing accounts; cooldowns 1 s.`);
  report.json.scenarios = out;
}

// --- mode: streams (many concurrent streams over HTTP/2) ------------------------------------------------------------
async function modeStreams(ctx) {
  const node = state.nodes[0];
  const N = opt.streams;
  const perConn = Math.min(100, N);
  const conns = Math.ceil(N / perConn);
  const chunkDelay = SMOKE ? 200 : 1000;
  const chunks = SMOKE ? 10 : 30;
  const rate = SMOKE ? 0 : 10; // connections per second while ramping up: 1,000 new streams a second
  const out = [];
  const rows = [];
  const runs = [
    { name: 'AiHub (h2c), ramped', url: `${node.url}/v1/chat/completions`, key: ctx.main.key, pid: () => node.pid, rate },
    { name: 'nginx (h2c), ramped', url: `http://127.0.0.1:${state.nginx.h2port}/v1/chat/completions`, key: 'sk-bench-direct', pid: () => state.nginx.worker, rate },
  ];
  // and every stream at once, which is mostly a test of admission under a burst
  if (!SMOKE) runs.push({ name: 'AiHub (h2c), all at once', url: `${node.url}/v1/chat/completions`, key: ctx.main.key, pid: () => node.pid, rate: 0 });
  for (const t of runs) {
    await state.mock.behave({ key: '*', chunks, chunk_delay_ms: chunkDelay });
    const base = procStatus(t.pid()).rss_kb;
    log(`streams: ${t.name}: ${N} streams (${conns} connections × ${perConn}${t.rate ? `, ${t.rate} connections/s` : ''}), ${chunks} chunks ${chunkDelay} ms apart`);
    const h2 = h2load({ url: t.url, n: N, c: conns, m: perConn, body: chatBody(true), key: t.key, connRate: t.rate,
      timeoutS: Math.ceil((chunks * chunkDelay) / 1000) + (t.rate ? conns / t.rate : 0) + 120 });
    // wait for the plateau: as many open streams at the mock as we asked for, or no growth for 3 s
    let peak = 0;
    let since = Date.now();
    const t0 = Date.now();
    for (;;) {
      await sleep(200);
      const a = (await state.mock.stats()).active_streams;
      if (a > peak) { peak = a; since = Date.now(); }
      if (peak >= N || Date.now() - since > 3000 || Date.now() - t0 > (chunks * chunkDelay) * 0.6) break;
    }
    const rampS = (Date.now() - t0) / 1000;
    const rss = procStatus(t.pid()).rss_kb;
    const c0 = cpuNs(t.pid());
    const s0 = process.hrtime.bigint();
    const win = Math.min(SMOKE ? 0.5 : 5, ((chunks * chunkDelay) / 1000) / 4);
    await sleep(win * 1000);
    const cpuPct = ((cpuNs(t.pid()) - c0) / Number(process.hrtime.bigint() - s0)) * 100;
    const open = (await state.mock.stats()).active_streams;
    const res = await h2;
    const r = { target: t.name, asked: N, conn_rate: t.rate, open_at_peak: peak, open_after_window: open, ramp_s: rampS, rss_before_kb: base, rss_at_peak_kb: rss,
      rss_per_stream_kib: (rss - base) / peak, cpu_pct_while_open: cpuPct, window_s: win, chunks_per_s: (open * 1000) / chunkDelay,
      cpu_us_per_chunk: (cpuPct / 100) * 1e6 / ((open * 1000) / chunkDelay),
      succeeded: res.succeeded, failed: res.failed, non2xx: res.non2xx, rss_hwm_kb: procStatus(t.pid()).hwm_kb };
    out.push(r);
    rows.push([t.name, f0(N), f0(peak), f1(rampS), f1(MiB(base)), f1(MiB(rss)), f2(r.rss_per_stream_kib), f1(cpuPct), f0(r.chunks_per_s), f1(r.cpu_us_per_chunk), `${f0(res.succeeded)} / ${f0(N)}`]);
    await state.mock.clear();
    await waitFor(async () => (await state.mock.stats()).active_streams === 0, 'streams to end', 60000);
    await sleep(SMOKE ? 200 : 2000);
  }
  // memory given back once the streams are over (jemalloc returns dirty pages after about 10 s)
  if (!SMOKE) await sleep(15000);
  const after = procStatus(node.pid).rss_kb;
  report.json.streams_rss_after_kb = after;
  section(`${f0(N)} concurrent streams over HTTP/2`, `${mdTable(['run', 'asked', 'open at peak', 'ramp s', 'RSS before MiB', 'RSS at peak MiB', 'KiB per stream', 'CPU % while open', 'chunks/s', 'CPU µs/chunk', 'completed'], rows)}\n\n` +
    `h2load: ${conns} connections × ${perConn} streams${rate ? `, ramped: ${rate} connections (${rate * perConn} streams) a second` : ''}; mock: ${chunks} chunks ${chunkDelay} ms apart; ` +
    `RSS per stream = (RSS at peak − before) / open streams; CPU of the front process over ${SMOKE ? 0.5 : 5} s with all open. ` +
    `aihub-node RSS ${SMOKE ? 'right' : '15 s'} after the last run: ${f1(MiB(after))} MiB.`);
  report.json.streams = out;
}

// --- mode: h2 (HTTP/2 with h2load vs HTTP/1.1 with wrk) -------------------------------------------------------------
async function modeH2(ctx) {
  const node = state.nodes[0];
  const C = opt.connections;
  const rows = [];
  const out = [];
  const targets = [
    { name: 'nginx', h1: `http://127.0.0.1:${state.nginx.port}`, h2: `http://127.0.0.1:${state.nginx.h2port}`, key: 'sk-bench-direct', pid: () => state.nginx.worker },
    { name: 'AiHub', h1: node.url, h2: node.url, key: ctx.main.key, pid: () => node.pid },
  ];
  for (const t of targets) {
    log(`h2: ${t.name}: HTTP/1.1 wrk, ${C} connections`);
    const w = await wrk({ url: t.h1, script: 'chat.lua', conns: C, seconds: D, env: { AIHUB_KEY: t.key } });
    const cpuReq = (s, n) => s.cpu_ns[t.pid()] / 1000 / n;
    rows.push([t.name, `HTTP/1.1 wrk, ${C} conns`, f0(w.rps), '—', '—', f1(cpuReq(w.sample, w.requests)), f0(w.non2xx)]);
    out.push({ target: t.name, proto: 'h1-wrk', conns: C, streams: 1, rps: w.rps, non2xx: w.non2xx });
    const n = SMOKE ? 2000 : Math.max(1000, Math.round(w.rps * D * 1.5));
    for (const [proto, c, m] of [['HTTP/1.1 h2load', C, 1], ['h2c', C, 1], ['h2c', Math.max(1, Math.round(C / 10)), 10], ['h2c', 1, C]]) {
      log(`h2: ${t.name}: ${proto}, ${c} connections × ${m} streams, ${n} requests`);
      const h = await h2load({ url: `${proto.startsWith('HTTP/1.1') ? t.h1 : t.h2}/v1/chat/completions`, n, c, m, h1: proto.startsWith('HTTP/1.1'), body: chatBody(false), key: t.key, timeoutS: D * 6 + 60 });
      rows.push([t.name, `${proto}, ${c} conns × ${m} streams`, f0(h.rps), f0(h.p50_us), f0(h.p99_us), f1(cpuReq(h.sample, h.requests)), f0(h.requests - h.succeeded + h.non2xx)]);
      out.push({ target: t.name, proto, conns: c, streams: m, rps: h.rps, p50_us: h.p50_us, p99_us: h.p99_us, requests: h.requests, failed: h.failed, non2xx: h.non2xx });
    }
  }
  section('HTTP/2 (h2load) against HTTP/1.1 (wrk)', `${mdTable(['target', 'protocol', 'req/s', 'p50 µs', 'p99 µs', 'CPU µs/req', 'failed'], rows)}\n\n` +
    `non-streaming chat; wrk for ${D} s (its latencies are left out: wrk 4.1 mixes estimated samples into its histogram); h2load bounded by requests (1.5× what wrk did in ${D} s), latencies from its per-request log.`);
  report.json.h2 = out;
}

// --- mode: nodes (1, 2 and 3 node processes, one redis-server) ------------------------------------------------------
async function modeNodes(ctx) {
  const C = opt.connections;
  const rows = [];
  const out = [];
  for (let n = 1; n <= 3; n++) {
    while (state.nodes.length < n) state.nodes.push(await startNode(state.nodes.length));
    const nodes = state.nodes.slice(0, n);
    for (const nd of nodes) await waitFor(async () => (await chatOnce(nd.url, ctx.main.key)).status === 200, `node ${nd.name}`, 10000);
    log(`nodes: ${n} node(s), ${C} connections in all, ${D} s`);
    const served = async () => (await Promise.all(nodes.map((nd) => nodeMetric(nd, 'aihub_requests_total')))).reduce((a, b) => a + b, 0);
    const r0 = await redisStats(state.redis.port);
    const rc0 = cpuNs(state.redis.pid);
    const s0 = await served();
    const per = Math.max(1, Math.floor(C / n));
    await waitQuiet();
    const ws = await Promise.all(nodes.map((nd) => wrk({ url: nd.url, script: 'chat.lua', conns: per, seconds: D, env: { AIHUB_KEY: ctx.main.key }, concurrent: true })));
    for (const nd of nodes) await waitFor(async () => (await nodeMetric(nd, 'aihub_in_flight_requests')) === 0, 'requests in flight to finish');
    const reqs = (await served()) - s0;
    const r1 = await redisStats(state.redis.port);
    const redisCpuS = (cpuNs(state.redis.pid) - rc0) / 1e9;
    const d = redisDelta(r0, r1);
    const rps = ws.reduce((s, w) => s + w.rps, 0);
    const wall = Math.max(...ws.map((w) => w.sample.wall_s));
    const nodeCpu = nodes.reduce((s, nd) => s + Math.max(...ws.map((w) => w.sample.cpu_ns[nd.pid] || 0)), 0) / 1e9;
    const redisUsPerReq = (redisCpuS * 1e6) / reqs;
    const nodeUsPerReq = (nodeCpu * 1e6) / reqs;
    const r = { nodes: n, conns_per_node: per, rps, requests: reqs, non2xx: ws.reduce((s, w) => s + w.non2xx, 0),
      redis_cpu_pct: (redisCpuS / wall) * 100, redis_cpu_us_per_req: redisUsPerReq, node_cpu_us_per_req: nodeUsPerReq,
      script_calls_per_req: d.script_calls / reqs, redis_limit_rps: 1e6 / redisUsPerReq, nodes_to_saturate_redis: nodeUsPerReq / redisUsPerReq };
    out.push(r);
    rows.push([String(n), f0(rps), f1(r.redis_cpu_pct), f1(redisUsPerReq), f1(nodeUsPerReq), f2(r.script_calls_per_req), f0(r.redis_limit_rps), f1(r.nodes_to_saturate_redis), f0(r.non2xx)]);
  }
  // back to one node for the other modes
  while (state.nodes.length > 1) await stopChild(state.nodes.pop());
  section('1, 2 and 3 nodes against one redis-server', `${mdTable(['nodes', 'req/s', 'Redis CPU %', 'Redis CPU µs/req', 'node CPU µs/req', 'scripts/req', 'Redis limit req/s', 'nodes to saturate Redis', 'non-2xx'], rows)}\n\n` +
    `All servers share CPU ${PIN ? SERVER_CPU : '(unpinned)'}, so the nodes compete for one CPU; "Redis limit" = 1 s / Redis CPU per request (Redis on a CPU of its own), ` +
    `"nodes to saturate Redis" = node CPU per request / Redis CPU per request (each node on a CPU of its own).`);
  report.json.nodes = out;
}

// --- mode: profile (perf record during an AiHub run) -----------------------------------------------------------------
async function modeProfile(ctx) {
  if (!PERF) { section('Profile', 'perf is not installed (linux-perf): skipped'); return; }
  const node = state.nodes[0];
  const secs = Math.max(1, D);
  const what = PIN ? ['-C', String(SERVER_CPU)] : ['-a'];
  const where = PIN ? `CPU ${SERVER_CPU}` : 'all CPUs';
  // two recordings, each during its own AiHub run: a flat one at a high rate for the tables, and one with DWARF
  // call chains (the Release build has no frame pointers, so plain -g gives broken chains) for the callers
  const record = async (file, extra) => {
    const rec = startChild(`perf-${path.basename(file)}`, [PERF, 'record', ...extra, '-o', file, ...what]);
    await sleep(1000);
    const res = await wrk({ url: node.url, script: 'chat.lua', conns: opt.connections, seconds: secs, env: { AIHUB_KEY: ctx.main.key } });
    await stopChild(rec, 'SIGINT', 120000);
    if (!fs.existsSync(file)) throw new Error(`perf record failed:\n${tail(rec.log)}`);
    return res;
  };
  const flat = path.join(OUT, 'perf.data');
  const graph = path.join(OUT, 'perf-callgraph.data');
  log(`profile: perf record -F 4999 on ${where} during a ${secs} s AiHub run`);
  const res = await record(flat, ['-F', '4999']);
  log(`profile: perf record -F 499 --call-graph dwarf on ${where} during a ${secs} s AiHub run`);
  await record(graph, ['-F', '499', '--call-graph', 'dwarf,16384']);
  // perf merges entries that differ only in a key it does not sort by, so --comm with --sort dso loses a library
  // that two processes share (libc, the kernel): sort by comm too and take the process's lines, made relative here
  const rep = async (file, children, keys, limit) => (await run([PERF, 'report', '-i', file, '--stdio', children ? '--children' : '--no-children',
    '--sort', keys, '-g', 'none', '--percent-limit', String(limit)], { timeoutMs: 900000 })).stdout;
  const lines = (text) => text.split('\n').filter((l) => /^\s+\d+\.\d+%/.test(l)).map((l) => l.trim().replace(/\s+/g, ' ').replaceAll('redis-check-rdb', 'redis-server'));
  const shares = (text) => {
    const o = {};
    for (const l of lines(text)) { const [pct, comm] = l.split(' '); o[comm] = parseFloat(pct); }
    return o;
  };
  const byCommText = await rep(flat, false, 'comm', 0.1);
  const commShare = shares(byCommText);
  const graphShare = shares(await rep(graph, false, 'comm', 0.1));
  const ofComm = (text, comm, n, children = false) => lines(text).filter((l) => l.split(' ')[children ? 2 : 1] === comm).slice(0, n)
    .map((l) => {
      const f = l.split(' ');
      const rel = (v) => `${((parseFloat(v) / ((children ? graphShare : commShare)[comm] || 100)) * 100).toFixed(2)}%`;
      return children ? [rel(f[0]), rel(f[1]), ...f.slice(3)].join(' ') : [rel(f[0]), ...f.slice(2)].join(' ');
    }).join('\n');
  const byDso = await rep(flat, false, 'comm,dso', 0.02);
  const bySym = await rep(flat, false, 'comm,dso,sym', 0.02);
  const inclusive = await rep(graph, true, 'comm,sym', 0.3);
  const hubCallers = (await run([PERF, 'report', '-i', graph, '--stdio', '--no-children', '--comm', 'aihub-node', '--sort', 'comm,dso,sym',
    '-g', 'caller,0.5,callee,function,percent', '--percent-limit', '0.5'], { timeoutMs: 900000 })).stdout;
  const redisComm = Object.keys(commShare).find((c) => c.startsWith('redis-serv')) || 'redis-server';
  fs.writeFileSync(path.join(OUT, 'profile.txt'), [
    `# ${where}, ${secs} s AiHub runs at ${f0(res.rps)} req/s; flat: perf.data (-F 4999), call chains: perf-callgraph.data (-F 499, dwarf)`,
    '# percentages: of all samples of the CPU (relative ones in the summary are recomputed per process)',
    `# by process\n${byCommText}`, `# by process and library\n${byDso}`, `# by process, library and symbol\n${bySym}`,
    `# inclusive (self + callees), by process and symbol\n${inclusive}`, `# aihub-node: callers of its top symbols\n${hubCallers}`].join('\n'));
  const block = (title, text) => `${title}\n\`\`\`\n${text}\n\`\`\`\n`;
  section('Profile (perf record, CPU of the servers during an AiHub run)',
    `${f0(res.rps)} req/s during the profile; samples of ${where} (the servers' CPU). Shares per process are of that process's samples.\n\n` +
    block('By process (share of the CPU\'s samples):', lines(byCommText).slice(0, 10).join('\n')) +
    block('aihub-node by library:', ofComm(byDso, 'aihub-node', 15)) +
    block('aihub-node, top symbols (self):', ofComm(bySym, 'aihub-node', 35)) +
    block('aihub-node, inclusive (self + callees; children, self):', ofComm(inclusive, 'aihub-node', 40, true)) +
    block(`redis-server by library (Debian's redis-server is the redis-check-rdb binary):`, ofComm(byDso, redisComm, 10)) +
    block('redis-server, top symbols (self):', ofComm(bySym, redisComm, 25)) +
    block('redis-server, inclusive (children, self):', ofComm(inclusive, redisComm, 25, true)) +
    `Full reports: ${path.join(OUT, 'profile.txt')} (perf.data and perf-callgraph.data beside it).`);
  report.json.profile = { rps: res.rps, file: path.join(OUT, 'profile.txt') };
}

// --- mode: soak (one longer AiHub run, sampled: how the costs move as Redis's windows fill) ---------------------------
async function modeSoak(ctx) {
  const node = state.nodes[0];
  const total = SMOKE ? 3 : Math.max(90, D * 9);
  const step = SMOKE ? 1 : 10;
  log(`soak: AiHub, ${opt.connections} connections, ${total} s, a sample every ${step} s`);
  const samples = [];
  const sample = async () => ({ t: process.hrtime.bigint(), served: await nodeMetric(node, 'aihub_requests_total'), redis: cpuNs(state.redis.pid),
    node: cpuNs(node.pid), rss: procStatus(node.pid).rss_kb, redisRss: procStatus(state.redis.pid).rss_kb });
  await waitQuiet();
  const w = wrk({ url: node.url, script: 'chat.lua', conns: opt.connections, seconds: total, env: { AIHUB_KEY: ctx.main.key }, concurrent: true });
  let prev = await sample();
  const t0 = prev.t;
  for (let i = step; i <= total - 1; i += step) {
    await sleep(step * 1000 - Number(process.hrtime.bigint() - prev.t) / 1e6 + 0);
    const cur = await sample();
    const dt = Number(cur.t - prev.t) / 1e9;
    const n = cur.served - prev.served;
    samples.push({ at_s: Number(cur.t - t0) / 1e9, rps: n / dt, redis_us_per_req: (cur.redis - prev.redis) / 1000 / n,
      node_us_per_req: (cur.node - prev.node) / 1000 / n, rss_kb: cur.rss, redis_rss_kb: cur.redisRss });
    prev = cur;
  }
  const res = await w;
  const rows = samples.map((x) => [f0(x.at_s), f0(x.rps), f1(x.redis_us_per_req), f1(x.node_us_per_req), f1(MiB(x.rss_kb)), f1(MiB(x.redis_rss_kb))]);
  section(`Soak: AiHub for ${total} s`, `${mdTable(['at s', 'req/s', 'Redis CPU µs/req', 'node CPU µs/req', 'aihub-node RSS MiB', 'redis-server RSS MiB'], rows)}\n\n` +
    `${opt.connections} connections, one wrk run; ${f0(res.requests)} requests, non-2xx ${f0(res.non2xx)}; other processes: ${f0(res.sample.foreign_pct)}% of one CPU. ` +
    'The rate windows fill for a minute (61 one-second buckets each) and the request log grows up to log_max_entries: watch Redis\'s cost per request and memory over the run.');
  report.json.soak = { samples, requests: res.requests, non2xx: res.non2xx };
}

// --- main ------------------------------------------------------------------------------------------------------------
async function versions() {
  const first = async (cmd) => { const r = await run(cmd, { timeoutMs: 10000 }); return `${r.stdout}${r.stderr}`.split('\n').find((l) => l.trim()) || '?'; };
  const dpkg = async (p) => (await run(['dpkg-query', '-W', '-f=${Version}', p], { timeoutMs: 10000 })).stdout || '?';
  const cpuModel = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] || '?';
  const git = async (...a) => (await run(['git', '-C', ROOT, ...a], { timeoutMs: 10000 })).stdout.trim();
  return {
    machine: { nproc: os.cpus().length, allowed_cpus: CPUS, cpu_model: cpuModel, mem_gib: +(os.totalmem() / 2 ** 30).toFixed(1), kernel: os.release() },
    pinning: PIN ? { servers: SERVER_CPU, load_generators: CLIENT_CPU } : 'none (fewer than 2 CPUs)',
    versions: {
      h2o: await dpkg('libh2o-evloop0.13'), curl: (await first([BIN.curl, '--version'])).split(' ').slice(0, 2).join(' '), redis: (/v=(\S+)/.exec(await first([BIN['redis-server'], '--version'])) || [])[1] || '?',
      nginx: (await first([BIN.nginx, '-v'])).replace('nginx version: ', ''), wrk: await dpkg('wrk'), h2load: await dpkg('nghttp2-client'), node: process.version,
    },
    build: { dir: opt.buildDir, type: BUILD_TYPE, git_head: await git('rev-parse', '--short', 'HEAD'), git_dirty: (await git('status', '--porcelain', '--', 'node', 'shared', 'lua-scripts')) !== '' },
  };
}

/** Share of the machine's CPUs busy over one second before anything starts: other work disturbs the numbers. */
async function machineBusyPct() {
  const a = cpuBusy();
  const t = process.hrtime.bigint();
  await sleep(1000);
  const b = cpuBusy();
  const wall = Number(process.hrtime.bigint() - t);
  const cpus = Object.keys(b);
  return (cpus.reduce((s, c) => s + (b[c] - (a[c] || 0)), 0) / (wall * cpus.length)) * 100;
}

async function main() {
  const t0 = Date.now();
  const meta = await versions();
  meta.busy_before_pct = await machineBusyPct();
  if (meta.busy_before_pct > 10) log(`warning: the machine was ${f0(meta.busy_before_pct)}% busy before the run: other work distorts the numbers`);
  report.json.meta = { ...meta, options: opt, started: new Date().toISOString() };
  log(`output: ${OUT}; servers on CPU ${PIN ? SERVER_CPU : '-'}, load generators on CPU ${PIN ? CLIENT_CPU : '-'}${PIN ? '' : ' (unpinned: fewer than 2 CPUs)'}`);
  state.redis = await startRedis();
  state.mock = await startMock();
  state.nodes.push(await startNode(0));
  state.nginx = await startNginx();
  const main = await configureAihub();
  const ctx = { main };
  const head = [`machine: ${meta.machine.nproc} CPUs (${meta.machine.cpu_model}), ${meta.machine.mem_gib} GiB, Linux ${meta.machine.kernel}`,
    `pinning: ${PIN ? `servers (redis-server, mock, nginx, aihub-node) on CPU ${SERVER_CPU}, load generators on CPU ${CLIENT_CPU}` : 'none (one CPU)'}`,
    `build: ${BUILD_TYPE} (${opt.buildDir}), git ${meta.build.git_head}${meta.build.git_dirty ? ' + uncommitted changes' : ''}`,
    `versions: ${Object.entries(meta.versions).map(([k, v]) => `${k} ${v}`).join('; ')}`,
    `machine busy before the run: ${f0(meta.busy_before_pct)}% of all CPUs`,
    `redis-server without persistence (--save '' --appendonly no); aihub-node: 1 thread, access log on (to a file), prices set, limits set on key, user and globally`];
  process.stdout.write(`${head.join('\n')}\n`);
  for (const m of opt.modes) {
    const fn = { table: modeTable, scenarios: modeScenarios, streams: modeStreams, h2: modeH2, nodes: modeNodes, soak: modeSoak, profile: modeProfile }[m];
    await fn(ctx);
    for (const rec of [state.redis, state.mock, state.nginx, ...state.nodes]) assertAlive(rec);
  }
  report.json.elapsed_s = (Date.now() - t0) / 1000;
  fs.writeFileSync(path.join(OUT, 'results.json'), `${JSON.stringify(report.json, null, 2)}\n`);
  fs.writeFileSync(path.join(OUT, 'table.md'), `${head.map((l) => `${l}  `).join('\n')}\n\n${report.sections.join('\n')}`);
  log(`done in ${f1(report.json.elapsed_s)} s; results in ${OUT}`);
}

try {
  await main();
} catch (e) {
  process.stderr.write(`bench: error: ${e.stack || e}\n`);
  process.exitCode = 1;
} finally {
  for (const rec of [...state.nodes].reverse()) await stopChild(rec);
  await stopChild(state.nginx, 'SIGQUIT');
  await stopChild(state.mock);
  await stopChild(state.redis);
  for (const rec of children.values()) await stopChild(rec);
  if (opt.keep) log(`servers' files kept in ${TMP}`);
  else fs.rmSync(TMP, { recursive: true, force: true });
}

// Shared helpers of the deployment checks: the render tool (built once from
// tests/deploy/render with Debian's Go, sprig and yaml.v3 when AIHUB_RENDER
// does not name a built one), kubectl kustomize, and the list of settings the
// node reads.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CHART = join(ROOT, 'helm', 'aihub');
export const K8S = join(ROOT, 'k8s');
export const OVERLAYS = ['dev', 'prod'];
export const CI_VALUES = readdirSync(join(CHART, 'ci'))
  .filter((f) => f.endsWith('-values.yaml'))
  .sort()
  .map((f) => join(CHART, 'ci', f));
export const RELEASE = 'aihub';

const GOCODE = '/usr/share/gocode';

function which(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim();
}

/** Builds the render tool into a temporary directory (removed at exit); ~2 s, offline. */
export function buildRenderTool() {
  if (!which('go')) throw new Error('go is not on PATH: run scripts/install-deps.sh (Debian golang-go)');
  if (!existsSync(join(GOCODE, 'src/github.com/Masterminds/sprig')) || !existsSync(join(GOCODE, 'src/gopkg.in/yaml.v3'))) {
    throw new Error(`sprig or yaml.v3 is missing under ${GOCODE}: run scripts/install-deps.sh (golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'aihub-render-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  // GOPATH mode resolves sprig's /v3 import paths only for a package that has a go.mod
  const pkg = join(dir, 'gopath', 'src', 'aihub-render');
  mkdirSync(pkg, { recursive: true });
  copyFileSync(join(ROOT, 'tests/deploy/render/main.go'), join(pkg, 'main.go'));
  writeFileSync(join(pkg, 'go.mod'), 'module aihub-render\n\ngo 1.19\n');
  const env = { ...process.env, GO111MODULE: 'off', GOPATH: `${join(dir, 'gopath')}:${GOCODE}`, GOPROXY: 'off', GOFLAGS: '', CGO_ENABLED: '0' };
  if (!env.HOME || !existsSync(env.HOME)) env.GOCACHE = join(dir, 'gocache');
  const bin = join(dir, 'render');
  execFileSync('go', ['build', '-o', bin, '.'], { cwd: pkg, env, stdio: ['ignore', 'inherit', 'inherit'] });
  return bin;
}

let renderBin = process.env.AIHUB_RENDER || null;
export function renderTool() {
  if (!renderBin) renderBin = buildRenderTool();
  return renderBin;
}

function renderArgs({ values = [], set = [], setString = [], name = RELEASE, namespace = RELEASE, kubeVersion, apiVersions = [] } = {}) {
  const args = [CHART, '--name', name, '--namespace', namespace];
  for (const f of values) args.push('-f', f);
  for (const s of set) args.push('--set', s);
  for (const s of setString) args.push('--set-string', s);
  for (const a of apiVersions) args.push('--api-versions', a);
  if (kubeVersion) args.push('--kube-version', kubeVersion);
  return args;
}

/** Runs the render tool; returns {status, stdout, stderr} without throwing. */
export function runRender(extra, opts = {}) {
  const r = spawnSync(renderTool(), [...renderArgs(opts), ...extra], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function mustRender(extra, opts) {
  const r = runRender(extra, opts);
  if (r.status !== 0) throw new Error(`render ${JSON.stringify(opts)} failed:\n${r.stderr}`);
  return r.stdout;
}

/** The chart's objects as [{source, object}] (what `helm template` would print). */
export function render(opts = {}) {
  return JSON.parse(mustRender(['-o', 'json'], opts));
}

/** The chart's rendered YAML text. */
export function renderYaml(opts = {}) {
  return mustRender([], opts);
}

/** The rendered NOTES.txt. */
export function renderNotes(opts = {}) {
  return mustRender(['--notes'], opts);
}

/** The merged values (chart defaults, then files, then --set), as Helm validates them. */
export function mergedValues(opts = {}) {
  return JSON.parse(mustRender(['--print-values'], opts));
}

/** Multi-document YAML to objects, through go-yaml v3 (duplicate keys are errors). */
export function yamlToObjects(text, name = 'stdin') {
  const r = spawnSync(renderTool(), ['yaml2json', '-'], { input: text, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${name}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

export function kubectlPath() {
  const p = which('kubectl');
  if (!p) throw new Error('kubectl is not on PATH: the deployment checks need it for `kubectl kustomize` (it ships with the machine image; it is not a Debian package)');
  return p;
}

/** Runs `kubectl kustomize DIR`; returns {status, stdout, stderr}. */
export function runKustomize(dir) {
  const r = spawnSync(kubectlPath(), ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** An overlay's objects as [{source, object}]. */
export function kustomize(dir) {
  const r = runKustomize(dir);
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${r.stderr}`);
  const source = relative(ROOT, dir);
  return yamlToObjects(r.stdout, source).map((object) => ({ source, object }));
}

/**
 * The settings the node reads, name -> default: from `aihub-node --help` when a
 * built node is at $AIHUB_BUILD_DIR/node/aihub-node, else from the option
 * table in node/src/config/options.c.
 */
export function nodeOptions() {
  const bin = process.env.AIHUB_BUILD_DIR ? join(process.env.AIHUB_BUILD_DIR, 'node', 'aihub-node') : '';
  const out = new Map();
  if (bin && existsSync(bin)) {
    const help = execFileSync(bin, ['--help'], { encoding: 'utf8' });
    for (const m of help.matchAll(/^ {2}(AIHUB_[A-Z0-9_]+)\s+default '(.*)'$/gm)) out.set(m[1], m[2]);
    out.source = `${bin} --help`;
  } else {
    const src = readFileSync(join(ROOT, 'node/src/config/options.c'), 'utf8');
    for (const m of src.matchAll(/\b(?:STR|INT|SIZE)\(\s*\w+,\s*"(AIHUB_[A-Z0-9_]+)",\s*"([^"]*)"/g)) out.set(m[1], m[2]);
    out.source = 'node/src/config/options.c';
  }
  if (out.size < 10) throw new Error(`could not read the node's settings from ${out.source}`);
  return out;
}

/** Every scenario the chart is checked with: defaults, then each ci/*-values.yaml. */
export function chartScenarios() {
  return [
    { name: 'chart: default values', opts: {} },
    ...CI_VALUES.map((f) => ({ name: `chart: ${relative(CHART, f)}`, opts: { values: [f] } })),
  ];
}

export function objectsOf(items) {
  return items.map((i) => i.object);
}

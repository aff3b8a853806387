// The chart's values: values.schema.json accepts the merged values of every
// scenario (as Helm validates them: defaults, then the files, then --set) and
// refuses wrong ones; every key of values.yaml is documented and has a schema
// entry; yamllint passes on the chart's YAML, the kustomize files and the
// rendered manifests.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import Ajv from 'ajv';
import { VARIANTS } from './lib/scenarios.mjs';
import { CHART, CI_VALUES, K8S, ROOT, chartScenarios, mergedValues, renderYaml } from './lib/tools.mjs';

const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const validate = ajv.compile(schema);
const errorsOf = (v) => (validate(v) ? [] : validate.errors.map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`));

describe('values.schema.json', () => {
  for (const s of [...chartScenarios(), ...VARIANTS]) {
    test(`accepts ${s.name}`, () => {
      assert.deepEqual(errorsOf(mergedValues(s.opts)), []);
    });
  }

  const refused = [
    [{ setString: ['replicaCount=two'] }, /replicaCount must be integer/],
    [{ set: ['replicas=3'] }, /must NOT have additional properties.*"replicas"/],
    [{ set: ['image.pullPolicy=Sometimes'] }, /pullPolicy must be equal to one of the allowed values/],
    [{ setString: ['config.AIHUB_LISTEN=0.0.0.0:1'] }, /config must NOT be valid|property name must be valid/],
    [{ setString: ['config.log_level=debug'] }, /must match pattern/],
    [{ set: ['config.AIHUB_THREADS=4'] }, /AIHUB_THREADS must be string/],
    [{ set: ['secret.create=true'], setString: ['secret.secretKey=tooshort'] }, /secretKey must NOT have fewer than 32 characters/],
    [{ setString: ['secret.redisUrl=rediss://r:6380/0'] }, /redisUrl must match pattern/],
    [{ set: ['service.type=Ingress'] }, /type must be equal to one of the allowed values/],
    [{ setString: ['podDisruptionBudget.minAvailable=half'] }, /minAvailable must match exactly one schema/],
    [{ set: ['redis.tunnel.enabled=true'] }, /connect must NOT have fewer than 3 characters/],
    [{ set: ['securityContext.allowPrivilegeEscalation=true'] }, /allowPrivilegeEscalation must be equal to constant/],
    [{ set: ['podSecurityContext.runAsNonRoot=false'] }, /runAsNonRoot must be equal to constant/],
    [{ set: ['listen.port=70000'] }, /port must be <= 65535/],
    [{ setString: ['metrics.serviceMonitor.interval=30'] }, /interval must match pattern/],
  ];
  for (const [opts, message] of refused) {
    test(`refuses ${JSON.stringify(opts)}`, () => {
      const errors = errorsOf(mergedValues(opts));
      assert.ok(errors.some((e) => message.test(e)), `expected ${message} among ${JSON.stringify(errors)}`);
    });
  }
});

// values.yaml read line by line: the chart's own keys, with their dotted paths
function valuesKeys() {
  const lines = readFileSync(join(CHART, 'values.yaml'), 'utf8').split('\n');
  const stack = []; // [{indent, key}]
  const out = [];
  lines.forEach((line, i) => {
    const m = /^( *)([A-Za-z0-9_]+):(?:\s|$)/.exec(line);
    if (!m) return;
    const indent = m[1].length;
    while (stack.length && stack[stack.length - 1].indent >= indent) stack.pop();
    stack.push({ indent, key: m[2] });
    let prev = i - 1;
    while (prev >= 0 && lines[prev].trim() === '') prev--;
    out.push({ path: stack.map((s) => s.key), line: i + 1, documented: /^\s*#/.test(lines[prev] ?? '') });
  });
  return out;
}

const deref = (node) => {
  while (node?.$ref) node = node.$ref.split('/').slice(1).reduce((n, k) => n[k], schema);
  return node;
};
// a section of the chart's own structure (as opposed to a free-form Kubernetes-typed block)
const isSection = (node) => deref(node)?.additionalProperties === false;

// the schema node of a values path; undefined for a key the schema refuses,
// null inside free-form blocks (Kubernetes-typed, checked when rendered)
function schemaAt(path) {
  let node = schema;
  for (const key of path) {
    node = deref(node);
    if (node.properties?.[key]) node = node.properties[key];
    else if (node.additionalProperties && typeof node.additionalProperties === 'object') node = node.additionalProperties;
    else if (node.additionalProperties === false) return undefined;
    else return null;
  }
  return deref(node);
}

describe('values.yaml', () => {
  const keys = valuesKeys();

  test('every value of the chart is documented by a comment above it', () => {
    // sections are documented through their keys; keys inside a free-form block
    // (resources, behavior, ...) by the block's comment
    const needsDoc = (k) => isSection(schemaAt(k.path.slice(0, -1))) && !isSection(schemaAt(k.path));
    const missing = keys.filter((k) => needsDoc(k) && !k.documented);
    assert.deepEqual(missing.map((k) => `line ${k.line}: ${k.path.join('.')}`), []);
    assert.ok(keys.filter(needsDoc).length > 60, 'the check saw the values');
  });

  test('every key has a schema entry, and every schema property is in values.yaml', () => {
    const unknown = keys.filter((k) => schemaAt(k.path) === undefined);
    assert.deepEqual(unknown.map((k) => `line ${k.line}: ${k.path.join('.')}`), []);
    const present = new Set(keys.map((k) => k.path.join('.')));
    const walk = (node, path, out) => {
      node = deref(node);
      for (const [k, child] of Object.entries(node.properties ?? {})) {
        const p = [...path, k];
        if (!present.has(p.join('.')) && path.length < 4 && node.additionalProperties === false) out.push(p.join('.'));
        else walk(child, p, out);
      }
      return out;
    };
    assert.deepEqual(walk(schema, [], []), [], 'schema properties missing from values.yaml');
  });
});

describe('yamllint', () => {
  const config = join(ROOT, 'tests/deploy/yamllint.yaml');
  const lint = (args, input) => spawnSync('yamllint', ['-f', 'parsable', '-c', config, ...args], { input, encoding: 'utf8' });

  test('yamllint is installed', () => {
    const r = spawnSync('yamllint', ['--version'], { encoding: 'utf8' });
    assert.equal(r.status, 0, 'yamllint is not on PATH: run scripts/install-deps.sh (Debian yamllint)');
  });

  test('passes on Chart.yaml, values.yaml, ci/ and k8s/', () => {
    const files = [join(CHART, 'Chart.yaml'), join(CHART, 'values.yaml'), ...CI_VALUES, K8S];
    const r = lint(files.map((f) => relative(ROOT, f)));
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  for (const s of chartScenarios()) {
    test(`passes on the rendered manifests of ${s.name}`, () => {
      const r = lint(['-'], renderYaml(s.opts));
      assert.equal(r.status, 0, r.stdout + r.stderr);
    });
  }

  test('fails on YAML it should refuse', () => {
    const r = lint(['-'], '---\nkey: value\nkey: again\nbad:   indent\n   nested: x\n');
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /duplication of key "key"|syntax error/);
  });
});

test('the ci/ scenarios are the ones docs/deployment.md describes', () => {
  const names = readdirSync(join(CHART, 'ci')).sort();
  assert.deepEqual(names, ['bundled-redis-values.yaml', 'managed-redis-tls-values.yaml', 'minimal-values.yaml', 'production-values.yaml']);
  const doc = readFileSync(join(ROOT, 'docs/deployment.md'), 'utf8');
  for (const n of names) assert.ok(doc.includes(n), `docs/deployment.md does not mention ci/${n}`);
});

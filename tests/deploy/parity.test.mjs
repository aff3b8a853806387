// The kustomize overlays produce the same objects as the chart: k8s/overlays/dev
// as the chart with ci/bundled-redis-values.yaml, k8s/overlays/prod as the
// chart with ci/production-values.yaml (release name aihub). Compared after
// taking out only what each tool adds by design: Helm's bookkeeping labels and
// checksum annotations and its test hook, kustomize's content-hash suffixes
// on generated ConfigMaps and Secrets (each tool's way of rolling the pods on
// a configuration change) and kustomize's line-wrapping of base64 data.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { withUnwrappedSecretData } from './lib/k8s-validate.mjs';
import { CHART, K8S, kustomize, render } from './lib/tools.mjs';

const PAIRS = [
  { overlay: 'dev', values: 'bundled-redis-values.yaml' },
  { overlay: 'prod', values: 'production-values.yaml' },
];
const HELM_LABELS = ['helm.sh/chart', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/version'];

function stripMeta(meta) {
  if (!meta) return;
  for (const l of HELM_LABELS) delete meta.labels?.[l];
  for (const a of Object.keys(meta.annotations ?? {})) if (a.startsWith('checksum/')) delete meta.annotations[a];
  if (meta.annotations && Object.keys(meta.annotations).length === 0) delete meta.annotations;
}

function replaceStrings(v, map) {
  if (typeof v === 'string') return map.get(v) ?? v;
  if (Array.isArray(v)) return v.map((x) => replaceStrings(x, map));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, replaceStrings(x, map)]));
  return v;
}

function normalize(items, { generated }) {
  let objs = items.map((i) => structuredClone(i.object)).filter((o) => !o.metadata.annotations?.['helm.sh/hook']);
  if (generated) {
    // kustomize generators name objects <name>-<hash of the content> and update every reference
    const names = new Map();
    for (const o of objs) {
      const m = /^(.+)-[a-z0-9]{10}$/.exec(o.metadata.name);
      if (m && ['ConfigMap', 'Secret'].includes(o.kind)) names.set(o.metadata.name, m[1]);
    }
    objs = replaceStrings(objs, names);
  }
  const out = new Map();
  for (let o of objs) {
    if (o.kind === 'Secret' && o.data) o = withUnwrappedSecretData(o);
    stripMeta(o.metadata);
    stripMeta(o.spec?.template?.metadata);
    out.set(`${o.kind}/${o.metadata.name}`, o);
  }
  return out;
}

for (const { overlay, values } of PAIRS) {
  test(`k8s/overlays/${overlay} renders the objects of the chart with ci/${values}`, () => {
    const chart = normalize(render({ values: [join(CHART, 'ci', values)] }), { generated: false });
    const kust = normalize(kustomize(join(K8S, 'overlays', overlay)), { generated: true });
    assert.deepEqual([...kust.keys()].sort(), [...chart.keys()].sort(), 'the same objects');
    for (const [key, obj] of chart) assert.deepEqual(kust.get(key), obj, `${key} differs (actual: kustomize, expected: chart)`);
  });
}

test('the kustomize base uses the chart appVersion as image tag', () => {
  const dep = kustomize(join(K8S, 'overlays', 'dev')).find((i) => i.object.kind === 'Deployment').object;
  const chartDep = render({}).find((i) => i.object.kind === 'Deployment').object;
  assert.equal(dep.spec.template.spec.containers[0].image, chartDep.spec.template.spec.containers[0].image);
});

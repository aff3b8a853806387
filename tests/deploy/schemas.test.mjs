// The chart renders (Go text/template + sprig, strict missing keys) with its
// default values, each ci/*-values.yaml and the variants; `kubectl kustomize`
// renders every overlay; every object validates against the Kubernetes schemas
// with unknown fields rejected. And each of these checks can fail: broken
// manifests, a broken overlay, a chart that reads an undefined value, and
// values the chart refuses.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { validateAll, validateObject } from './lib/k8s-validate.mjs';
import { allScenarios } from './lib/scenarios.mjs';
import { CHART, ROOT, render, runKustomize, runRender, renderTool, yamlToObjects } from './lib/tools.mjs';
import { spawnSync } from 'node:child_process';

const FIXTURES = join(ROOT, 'tests/deploy/fixtures');

describe('every rendered object validates against the Kubernetes schemas', () => {
  for (const s of allScenarios()) {
    test(s.name, async () => {
      assert.ok(s.items.length >= 6, `only ${s.items.length} objects rendered`);
      const problems = await validateAll(s.items);
      assert.deepEqual(problems, [], problems.join('\n'));
    });
  }
});

describe('the schema check fails on broken manifests', () => {
  for (const f of readdirSync(join(FIXTURES, 'broken')).sort()) {
    test(f, async () => {
      const text = readFileSync(join(FIXTURES, 'broken', f), 'utf8');
      const expect = new RegExp(/^# expect: (.+)$/m.exec(text)[1]);
      const [obj] = yamlToObjects(text, f);
      const problems = await validateObject(obj);
      assert.ok(problems.some((p) => expect.test(p)), `expected ${expect} among: ${JSON.stringify(problems)}`);
    });
  }

  test('a chart value of the wrong type reaches the manifest and fails there', async () => {
    const items = render({ set: ['autoscaling.enabled=true'], setString: ['autoscaling.behavior.scaleDown.stabilizationWindowSeconds=five'] });
    const problems = await validateAll(items);
    assert.ok(problems.some((p) => /stabilizationWindowSeconds must be integer/.test(p)), problems.join('\n'));
  });

  test('a field the chart user misspells in a passthrough block is caught', async () => {
    const items = render({ set: ['resources.limits.memory=1Gi', 'tolerations[0].keyy=dedicated'] });
    const problems = await validateAll(items);
    assert.ok(problems.some((p) => /tolerations\[0\]: unknown field "keyy"/.test(p)), problems.join('\n'));
  });
});

describe('the renderers can fail', () => {
  test('kubectl kustomize fails on a broken overlay', () => {
    const r = runKustomize(join(FIXTURES, 'broken-overlay'));
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /missing-file\.yaml|no-such-deployment|no matches/);
  });

  test('the render tool refuses a template reading an undefined value (strict)', () => {
    const r = spawnSync(renderTool(), [join(FIXTURES, 'strict-chart', 'strictchart')], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /map has no entry for key "notDefined"/);
  });

  test('the render tool refuses YAML with a duplicate key', () => {
    assert.throws(() => yamlToObjects('a: 1\na: 2\n'), /already defined/);
  });

  const refusals = [
    [['secret.create=true', 'secret.redisUrl=redis://r:6379/0'], /secret.secretKey is required/],
    [['secret.create=true', 'secret.secretKey=short', 'secret.redisUrl=redis://r:6379/0'], /at least 32 bytes/],
    [['secret.create=true', 'secret.secretKey=0123456789abcdef0123456789abcdef'], /secret.redisUrl is required/],
    [['terminationGracePeriodSeconds=20'], /must exceed preStopSleepSeconds \+ drainTimeoutSeconds \(35\)/],
    [['config.AIHUB_LISTEN=0.0.0.0:1'], /config.AIHUB_LISTEN: the chart sets AIHUB_LISTEN itself/],
    [['redis.tunnel.enabled=true'], /redis.tunnel.connect .* is required/],
    [['redis.tunnel.enabled=true', 'redis.tunnel.connect=r.example.com:6380', 'secret.create=true', 'secret.secretKey=0123456789abcdef0123456789abcdef', 'secret.redisUrl=redis://:p@r.example.com:6380/0'], /must point at the tunnel, 127.0.0.1:6380/],
    [['redis.tunnel.enabled=true', 'redis.tunnel.connect=r.example.com:6380', '--kube-version=v1.28.5'], /nativeSidecar needs Kubernetes 1.29/],
    [['redis.tunnel.enabled=true', 'redis.tunnel.connect=r.example.com:6380', 'redis.bundled.enabled=true'], /exclude each other/],
    [['autoscaling.enabled=true', 'autoscaling.minReplicas=5', 'autoscaling.maxReplicas=3'], /minReplicas must not exceed/],
    [['ingress.enabled=true', 'ingress.hosts[0].host=a.example.com', 'ingress.hosts[0].paths[0].path=/', 'ingress.hosts[0].paths[0].pathType=Prefix', 'ingress.hosts[0].paths[0].service=console'], /service must be client or admin/],
    [['--kube-version=v1.26.9'], /chart requires kubeVersion: >=1.27.0-0/],
  ];
  for (const [sets, message] of refusals) {
    test(`refuses ${sets.join(' ')}`, () => {
      const kube = sets.find((x) => x.startsWith('--kube-version='));
      const r = runRender([], { set: sets.filter((x) => x !== kube), kubeVersion: kube?.split('=')[1] });
      assert.notEqual(r.status, 0, 'the render should have failed');
      assert.match(r.stderr, message);
    });
  }
});

test('the chart is the one this directory names', () => {
  assert.match(readFileSync(join(CHART, 'Chart.yaml'), 'utf8'), /^name: aihub$/m);
});

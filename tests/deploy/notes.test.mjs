// NOTES.txt: what `helm install` prints must name objects that exist and tell
// how to reach the console and make a first request.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { CHART, chartScenarios, render, renderNotes } from './lib/tools.mjs';

for (const s of chartScenarios()) {
  test(`NOTES.txt of ${s.name}`, () => {
    const notes = renderNotes(s.opts);
    const objects = render(s.opts).map((i) => i.object);
    const has = (kind, name) => objects.some((o) => o.kind === kind && o.metadata.name === name);

    // every Service it port-forwards to, on a port that Service has
    const forwards = [...notes.matchAll(/port-forward service\/([a-z0-9-]+) (\d+):(\d+)/g)];
    assert.ok(forwards.length >= 1, 'tells how to reach the admin port');
    for (const [, svc, , port] of forwards) {
      const o = objects.find((x) => x.kind === 'Service' && x.metadata.name === svc);
      assert.ok(o, `Service ${svc} is rendered`);
      assert.ok(o.spec.ports.some((p) => p.port === Number(port)), `Service ${svc} has port ${port}`);
    }
    assert.match(notes, /http:\/\/127\.0\.0\.1:9090\/admin\//, 'the console URL');
    assert.match(notes, /\/v1\/chat\/completions/, 'a first request');
    assert.match(notes, /\/api\/channels/, 'how to register a provider');
    for (const m of notes.matchAll(/rollout status deployment\/([a-z0-9-]+)/g)) assert.ok(has('Deployment', m[1]));

    const secretName = /Secret "([a-z0-9-]+)"/.exec(notes)[1];
    const dep = objects.find((o) => o.kind === 'Deployment');
    const refs = dep.spec.template.spec.containers[0].env.filter((e) => e.valueFrom?.secretKeyRef).map((e) => e.valueFrom.secretKeyRef);
    assert.ok(refs.every((r) => r.name === secretName), 'NOTES names the Secret the pods read');
    if (!has('Secret', secretName)) {
      // the operator creates it: the command must create every key the pods read
      const cmd = notes.slice(notes.indexOf('create secret generic'));
      for (const r of refs) assert.match(cmd, new RegExp(`--from-literal=${r.key}=`), `the create command sets ${r.key}`);
    }
  });
}

test('NOTES.txt gives the Ingress URL when there is one', () => {
  const notes = renderNotes({ values: [join(CHART, 'ci', 'managed-redis-tls-values.yaml')] });
  assert.match(notes, /https:\/\/aihub\.example\.com\/v1\/chat\/completions/);
  const own = renderNotes({ values: [join(CHART, 'ci', 'managed-redis-tls-values.yaml')], set: ['secret.create=false'] });
  assert.match(own, /redis:\/\/:PASSWORD@127\.0\.0\.1:6380\/0/, 'with your own Secret, a reminder that the Redis URL points at the tunnel');
});

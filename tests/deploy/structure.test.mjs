// Structural assertions on every rendered set (the chart with its default
// values, each ci/*-values.yaml and the variants; the kustomize overlays):
// what the manifests promise must match what the node really does.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { Rendered, listenPort, preStopSeconds } from './lib/inspect.mjs';
import { allScenarios } from './lib/scenarios.mjs';
import { nodeOptions, render, renderYaml } from './lib/tools.mjs';

const OPTIONS = nodeOptions();
const SECRET_SETTINGS = ['AIHUB_SECRET_KEY', 'AIHUB_ADMIN_KEY', 'AIHUB_REDIS_URL'];
const scenarios = allScenarios();

const isSubset = (small, big) => Object.entries(small ?? {}).every(([k, v]) => big?.[k] === v);
// a check that applies to this render only when it has the objects in question
const when = (applies, name, fn) => applies && test(name, fn);

for (const s of scenarios) {
  describe(s.name, () => {
    const r = new Rendered(s.name, s.items);
    const dep = r.gateway();
    const pod = dep.spec.template.spec;
    const podLabels = dep.spec.template.metadata.labels;
    const node = r.nodeContainer();
    const listen = r.settingValue(node, 'AIHUB_LISTEN', OPTIONS);
    const adminListen = r.settingValue(node, 'AIHUB_ADMIN_LISTEN', OPTIONS);
    const clientPort = listenPort(listen);
    const adminPort = adminListen ? listenPort(adminListen) : clientPort;
    const hasTunnel = [...(pod.initContainers ?? []), ...pod.containers].some((c) => c.name === 'redis-tunnel');

    test('the listeners the node is told to open are container ports', () => {
      assert.ok(clientPort, `AIHUB_LISTEN ${listen} has no port`);
      assert.ok(node.ports.some((p) => p.containerPort === clientPort), `client port ${clientPort} is not a container port`);
      assert.ok(node.ports.some((p) => p.containerPort === adminPort), `admin port ${adminPort} is not a container port`);
      for (const p of node.ports) assert.ok([clientPort, adminPort].includes(p.containerPort), `container port ${p.containerPort} is not a listener`);
    });

    test('probes hit /readyz and /healthz on the client listener', () => {
      const rp = node.readinessProbe?.httpGet;
      const lp = node.livenessProbe?.httpGet;
      assert.equal(rp?.path, '/readyz', 'readiness must be /readyz (false while draining or while Redis is down)');
      assert.equal(lp?.path, '/healthz', 'liveness must be /healthz (never fails on a Redis outage)');
      assert.equal(Rendered.resolvePort(pod, rp.port), clientPort, 'readiness probe port');
      assert.equal(Rendered.resolvePort(pod, lp.port), clientPort, 'liveness probe port');
      for (const p of [rp, lp]) assert.ok(!p.scheme || p.scheme === 'HTTP', 'the listener is plain HTTP');
    });

    test('the grace period exceeds the preStop pause plus the drain deadline', () => {
      const drain = Number(r.settingValue(node, 'AIHUB_DRAIN_TIMEOUT_S', OPTIONS));
      assert.ok(Number.isInteger(drain), `AIHUB_DRAIN_TIMEOUT_S is ${drain}`);
      const pause = preStopSeconds(node);
      assert.ok(pause > 0, 'a preStop pause lets the endpoints stop sending before SIGTERM');
      const grace = pod.terminationGracePeriodSeconds ?? 30;
      assert.ok(grace > pause + drain, `terminationGracePeriodSeconds ${grace} <= preStop ${pause} + drain ${drain}`);
      // a tunnel that runs as a plain container must outlive the node's drain, and still end within the grace period
      for (const c of pod.containers.filter((c) => c.name !== 'aihub')) {
        const wait = preStopSeconds(c);
        assert.ok(wait >= pause + drain && wait < grace, `${c.name}: preStop ${wait} s must cover ${pause + drain} s and end before ${grace} s`);
      }
    });

    test('rolling updates never go below the wanted capacity', () => {
      assert.equal(dep.spec.strategy?.type, 'RollingUpdate');
      assert.equal(dep.spec.strategy.rollingUpdate.maxUnavailable, 0);
    });

    test('every setting the node gets is one it reads; the three secrets come from a Secret', () => {
      const env = r.effectiveEnv(node);
      for (const [name, e] of env) {
        if (name.startsWith('AIHUB_')) assert.ok(OPTIONS.has(name), `${name} (${e.from}) is not a setting of aihub-node (${OPTIONS.source})`);
      }
      for (const name of ['AIHUB_SECRET_KEY', 'AIHUB_ADMIN_KEY']) {
        assert.equal(env.get(name)?.from, 'secretKeyRef', `${name} must come from a Secret`);
      }
      assert.notEqual(env.get('AIHUB_SECRET_KEY').ref.optional, true, 'AIHUB_SECRET_KEY is required: the node exits without it');
      const url = env.get('AIHUB_REDIS_URL');
      assert.ok(url, 'AIHUB_REDIS_URL is set');
      if (url.from === 'value') assert.doesNotMatch(url.value, /@/, 'a Redis URL with credentials must come from a Secret');
      else assert.equal(url.from, 'secretKeyRef');
      for (const cm of r.all('ConfigMap')) {
        for (const k of SECRET_SETTINGS) assert.ok(!(k in (cm.data ?? {})), `ConfigMap ${cm.metadata.name} holds ${k}`);
      }
    });

    test('Secret keys match the variables the node reads', () => {
      const env = r.effectiveEnv(node);
      const refs = [...env.values()].filter((e) => e.from === 'secretKeyRef').map((e) => e.ref);
      for (const secret of r.all('Secret')) {
        const used = refs.filter((ref) => ref.name === secret.metadata.name);
        if (used.length === 0) continue;
        for (const key of Object.keys(secret.data ?? {})) {
          assert.ok(OPTIONS.has(key), `Secret ${secret.metadata.name} key ${key} is not a setting of aihub-node`);
          const e = env.get(key);
          assert.ok(e?.from === 'secretKeyRef' && e.ref.name === secret.metadata.name && e.ref.key === key, `key ${key} of Secret ${secret.metadata.name} does not feed the variable ${key}`);
        }
        for (const ref of used) assert.ok(ref.optional === true || ref.key in (secret.data ?? {}), `Secret ${secret.metadata.name} has no key ${ref.key}`);
        const key = Buffer.from(secret.data.AIHUB_SECRET_KEY ?? '', 'base64').toString();
        assert.ok(key.length >= 32, 'AIHUB_SECRET_KEY must be at least 32 bytes');
      }
    });

    test('every container runs non-root, read-only, without privilege escalation, capabilities dropped', () => {
      for (const p of r.pods()) {
        const where = `${p.owner.kind}/${p.owner.metadata.name}`;
        const psc = p.spec.securityContext ?? {};
        assert.equal(psc.seccompProfile?.type, 'RuntimeDefault', `${where}: seccomp RuntimeDefault`);
        for (const c of [...(p.spec.initContainers ?? []), ...p.spec.containers]) {
          const sc = c.securityContext ?? {};
          const w = `${where} container ${c.name}`;
          assert.equal(sc.runAsNonRoot ?? psc.runAsNonRoot, true, `${w}: runAsNonRoot`);
          const uid = sc.runAsUser ?? psc.runAsUser;
          assert.ok(uid === undefined || uid > 0, `${w}: runAsUser ${uid}`);
          assert.equal(sc.allowPrivilegeEscalation, false, `${w}: allowPrivilegeEscalation`);
          assert.equal(sc.readOnlyRootFilesystem, true, `${w}: readOnlyRootFilesystem`);
          assert.notEqual(sc.privileged, true, `${w}: privileged`);
          assert.ok(sc.capabilities?.drop?.includes('ALL'), `${w}: capabilities.drop ALL`);
          assert.ok(!sc.capabilities?.add?.length, `${w}: capabilities.add`);
        }
        assert.equal(p.spec.automountServiceAccountToken, false, `${where}: no service-account token`);
        assert.equal(p.spec.enableServiceLinks, false, `${where}: no service-link variables (they would add AIHUB_* names)`);
      }
      const sa = pod.serviceAccountName;
      assert.ok(sa === 'default' || r.byName('ServiceAccount', sa), `ServiceAccount ${sa} is rendered`);
    });

    test('a configuration change rolls the pods', () => {
      const cmRef = node.envFrom?.find((e) => e.configMapRef)?.configMapRef.name;
      assert.ok(cmRef && r.byName('ConfigMap', cmRef), 'the node reads its settings from a rendered ConfigMap');
      if (s.kind === 'chart') {
        assert.match(dep.spec.template.metadata.annotations?.['checksum/config'] ?? '', /^[0-9a-f]{64}$/, 'checksum/config annotation');
      } else {
        assert.match(cmRef, /-[a-z0-9]{10}$/, 'a generated ConfigMap name carrying its content hash');
      }
    });

    test('pods spread across zones and machines', () => {
      const tsc = pod.topologySpreadConstraints ?? [];
      for (const key of ['topology.kubernetes.io/zone', 'kubernetes.io/hostname']) {
        const c = tsc.find((t) => t.topologyKey === key);
        assert.ok(c, `a spread constraint on ${key}`);
        assert.ok(isSubset(c.labelSelector.matchLabels, podLabels), `${key}: its selector picks the gateway pods`);
      }
    });

    test('Services select the gateway pods, reach real listeners, and announce appProtocol', () => {
      const services = r.all('Service').filter((svc) => isSubset(svc.spec.selector, podLabels));
      assert.ok(services.length >= 1);
      for (const svc of r.all('Service')) {
        const picked = r.selectedPods(svc.spec.selector);
        assert.ok(picked.length >= 1, `Service ${svc.metadata.name} selects no pods`);
        assert.equal(new Set(picked.map((p) => p.owner.metadata.name)).size, 1, `Service ${svc.metadata.name} selects pods of several workloads`);
        for (const port of svc.spec.ports) {
          assert.ok(port.appProtocol, `Service ${svc.metadata.name} port ${port.name} has no appProtocol`);
          const target = Rendered.resolvePort(picked[0].spec, port.targetPort ?? port.port);
          assert.ok(target, `Service ${svc.metadata.name} port ${port.name}: target ${port.targetPort} is no container port`);
          if (picked[0].owner === dep) {
            if (port.appProtocol === 'kubernetes.io/h2c') assert.equal(target, clientPort, 'h2c is served on the client listener');
            if (svc.spec.type === 'LoadBalancer' || svc.spec.type === 'NodePort') assert.notEqual(target, adminListen ? adminPort : -1, 'the admin listener is not exposed through the load balancer');
          }
        }
      }
      const h2c = services.flatMap((svc) => svc.spec.ports).filter((p) => p.appProtocol === 'kubernetes.io/h2c');
      const http = services.flatMap((svc) => svc.spec.ports).filter((p) => p.appProtocol === 'http' && Rendered.resolvePort(pod, p.targetPort) === clientPort);
      assert.ok(http.length >= 1, 'an HTTP/1.1 port on the client listener');
      assert.ok(h2c.length >= 1, 'an h2c port on the client listener');
    });

    when(r.all('HorizontalPodAutoscaler').length === 0, 'without an HPA the Deployment sets its replicas', () => {
      assert.ok(Number.isInteger(dep.spec.replicas) && dep.spec.replicas >= 1);
    });

    when(r.all('HorizontalPodAutoscaler').length > 0, 'the HPA targets the gateway Deployment and can measure CPU', () => {
      const hpas = r.all('HorizontalPodAutoscaler');
      assert.equal(hpas.length, 1);
      const hpa = hpas[0];
      assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: dep.metadata.name });
      assert.equal(dep.spec.replicas, undefined, 'with an HPA the Deployment must not set replicas (each apply would reset the scale)');
      assert.ok(hpa.spec.minReplicas <= hpa.spec.maxReplicas);
      if (hpa.spec.metrics.some((m) => m.type === 'Resource' && m.resource.name === 'cpu' && m.resource.target.type === 'Utilization')) {
        for (const c of Rendered.runningContainers(pod)) assert.ok(c.resources?.requests?.cpu, `container ${c.name} has no CPU request: CPU utilization cannot be computed`);
      }
    });

    when(r.all('PodDisruptionBudget').length > 0, 'the PDB selects the gateway pods and leaves room for node drains', () => {
      const pdbs = r.all('PodDisruptionBudget');
      for (const pdb of pdbs) {
        const picked = r.selectedPods(pdb.spec.selector);
        assert.deepEqual(picked.map((p) => p.owner.metadata.name), [dep.metadata.name], 'the PDB selects exactly the gateway pods');
        const min = pdb.spec.minAvailable;
        if (Number.isInteger(min)) {
          const hpa = r.all('HorizontalPodAutoscaler')[0];
          const replicas = hpa ? hpa.spec.minReplicas : dep.spec.replicas;
          assert.ok(min < replicas, `minAvailable ${min} must be below the replicas (${replicas}) or node drains block`);
        }
      }
    });

    when(r.all('NetworkPolicy').length > 0, 'NetworkPolicies admit the listeners and fence the bundled Redis', () => {
      const pols = r.all('NetworkPolicy');
      const gw = pols.filter((p) => isSubset(p.spec.podSelector.matchLabels, podLabels));
      assert.equal(gw.length, 1, 'one policy for the gateway pods');
      const ports = gw[0].spec.ingress.flatMap((rule) => rule.ports ?? []).map((p) => Rendered.resolvePort(pod, p.port));
      assert.ok(ports.includes(clientPort), 'the client port is admitted');
      assert.ok(ports.includes(adminPort), 'the admin port is admitted');
      for (const p of pols.filter((p) => p !== gw[0])) {
        const target = r.selectedPods(p.spec.podSelector);
        assert.ok(target.length === 1 && target[0].owner.kind === 'StatefulSet', `policy ${p.metadata.name} guards the Redis pods`);
        for (const rule of p.spec.ingress) {
          assert.ok(rule.from?.length, 'Redis admits named peers only');
          for (const peer of rule.from) assert.ok(peer.podSelector && isSubset(peer.podSelector.matchLabels, podLabels), 'Redis admits the gateway pods only');
        }
      }
    });

    when(r.all('StatefulSet').length > 0, 'the bundled Redis persists with AOF, never evicts, and is what the node points at', () => {
      const sts = r.all('StatefulSet');
      assert.equal(sts.length, 1);
      const redis = sts[0];
      assert.equal(redis.spec.replicas, 1);
      const rpod = redis.spec.template.spec;
      const cmName = rpod.volumes.find((v) => v.configMap)?.configMap.name;
      const conf = Object.values(r.byName('ConfigMap', cmName)?.data ?? {}).join('\n');
      assert.match(conf, /^appendonly yes$/m);
      assert.match(conf, /^maxmemory-policy noeviction$/m);
      assert.match(conf, /^dir \/data$/m);
      const dataMount = rpod.containers[0].volumeMounts.find((m) => m.mountPath === '/data');
      assert.ok(dataMount, '/data is mounted');
      const claim = (redis.spec.volumeClaimTemplates ?? []).find((c) => c.metadata.name === dataMount.name);
      const vol = rpod.volumes.find((v) => v.name === dataMount.name);
      assert.ok(claim || vol?.emptyDir, '/data is a claim or an emptyDir');
      const url = new URL(r.settingValue(node, 'AIHUB_REDIS_URL', OPTIONS));
      const svc = r.byName('Service', url.hostname);
      assert.ok(svc, `AIHUB_REDIS_URL host ${url.hostname} is a rendered Service`);
      const port = svc.spec.ports.find((p) => p.port === Number(url.port || 6379));
      assert.ok(port, `Service ${svc.metadata.name} has port ${url.port}`);
      assert.equal(Rendered.resolvePort(rpod, port.targetPort), 6379);
      assert.deepEqual(r.selectedPods(svc.spec.selector).map((p) => p.owner), [redis]);
    });

    when(hasTunnel, 'the TLS tunnel listens where the node connects and verifies the server', () => {
      const tunnel = [...(pod.initContainers ?? []), ...pod.containers].find((c) => c.name === 'redis-tunnel');
      const mount = tunnel.volumeMounts.find((m) => m.name === 'tunnel-config');
      const cm = r.byName('ConfigMap', pod.volumes.find((v) => v.name === 'tunnel-config').configMap.name);
      const conf = cm.data['stunnel.conf'];
      assert.equal(tunnel.args[0], `${mount.mountPath}/stunnel.conf`);
      const accept = /^accept = (.+)$/m.exec(conf)?.[1];
      assert.match(accept, /^127\.0\.0\.1:\d+$/, 'stunnel listens on loopback only');
      const url = r.settingValue(node, 'AIHUB_REDIS_URL', OPTIONS);
      if (url !== undefined) assert.equal(new URL(url).host, accept, 'AIHUB_REDIS_URL points at the tunnel');
      assert.match(conf, /^verifyChain = yes$/m);
      assert.match(conf, /^checkHost = \S+$/m);
      const ca = /^CAfile = (.+)$/m.exec(conf)[1];
      const caMounted = tunnel.volumeMounts.some((m) => ca.startsWith(`${m.mountPath}/`));
      assert.ok(caMounted || ca === '/etc/ssl/certs/ca-certificates.crt', `CAfile ${ca} is mounted or the image's system bundle`);
      if (pod.initContainers?.includes(tunnel)) assert.equal(tunnel.restartPolicy, 'Always', 'a native sidecar');
    });

    when(r.all('ServiceMonitor').length > 0, 'the ServiceMonitor scrapes /metrics where the node serves it', () => {
      const sms = r.all('ServiceMonitor');
      for (const sm of sms) {
        const svcs = r.all('Service').filter((svc) => isSubset(sm.spec.selector.matchLabels, svc.metadata.labels));
        assert.equal(svcs.length, 1, 'the ServiceMonitor selects one Service');
        for (const ep of sm.spec.endpoints) {
          assert.equal(ep.path, '/metrics');
          const port = svcs[0].spec.ports.find((p) => p.name === ep.port);
          assert.ok(port, `Service ${svcs[0].metadata.name} has a port named ${ep.port}`);
          assert.equal(Rendered.resolvePort(pod, port.targetPort), adminPort, '/metrics is served on the admin listener');
        }
      }
    });

    when(r.all('Ingress').length > 0, 'Ingress backends are rendered Services and ports', () => {
      const ings = r.all('Ingress');
      for (const ing of ings) {
        for (const rule of ing.spec.rules) {
          for (const p of rule.http.paths) {
            const svc = r.byName('Service', p.backend.service.name);
            assert.ok(svc, `backend Service ${p.backend.service.name}`);
            const port = svc.spec.ports.find((x) => x.name === p.backend.service.port.name || x.port === p.backend.service.port.number);
            assert.ok(port, `backend port ${JSON.stringify(p.backend.service.port)} on ${svc.metadata.name}`);
            const target = Rendered.resolvePort(pod, port.targetPort);
            const adminPath = ['/admin', '/api', '/auth'].some((a) => p.path.startsWith(a));
            assert.equal(target, adminPath ? adminPort : clientPort, `path ${p.path} reaches the listener that serves it`);
          }
        }
      }
    });

    when(s.kind === 'chart', 'the helm test pod checks the Services that exist', () => {
      const tests = r.all('Pod').filter((p) => p.metadata.annotations?.['helm.sh/hook'] === 'test');
      assert.equal(tests.length, 1);
      const script = tests[0].spec.containers.flatMap((c) => c.command ?? []).join(' ');
      const urls = [...script.matchAll(/http:\/\/([a-z0-9-]+):(\d+)(\/\S*)/g)];
      assert.ok(urls.some((u) => u[3] === '/readyz'));
      for (const [, host, port] of urls) {
        const svc = r.byName('Service', host);
        assert.ok(svc?.spec.ports.some((p) => p.port === Number(port)), `the test calls ${host}:${port}, which is no rendered Service port`);
      }
    });
  });
}

describe('config checksum', () => {
  const checksum = (opts) => {
    const dep = render(opts).find((i) => i.object.kind === 'Deployment').object;
    return dep.spec.template.metadata.annotations['checksum/config'];
  };
  test('changes with the configuration and only with it', () => {
    const base = checksum({});
    assert.notEqual(checksum({ setString: ['config.AIHUB_LOG_LEVEL=debug'] }), base, 'a config change must roll the pods');
    assert.notEqual(checksum({ set: ['drainTimeoutSeconds=45'] }), base);
    assert.equal(checksum({ set: ['replicaCount=5'] }), base, 'scaling must not roll the pods');
  });
  test('is the SHA-256 of the rendered ConfigMap', () => {
    const text = renderYaml({});
    const start = text.indexOf('# Source: aihub/templates/configmap.yaml\n');
    assert.ok(start >= 0);
    const body = text.slice(text.indexOf('\n', start) + 1, text.indexOf('---\n# Source:', start));
    assert.equal(checksum({}), createHash('sha256').update(body).digest('hex'));
  });
});

// The rendered sets every check runs over: the chart with its default values
// and each ci/*-values.yaml, a few variants that reach the chart's other
// branches, and the kustomize overlays.
import { join } from 'node:path';
import { CHART, K8S, OVERLAYS, chartScenarios, kustomize, render } from './tools.mjs';

const ci = (f) => join(CHART, 'ci', f);

/** Chart renders beyond the ci/ files: the branches the ci/ files do not take. */
export const VARIANTS = [
  {
    name: 'chart variant: TLS tunnel as a plain container (Kubernetes < 1.29)',
    opts: { values: [ci('managed-redis-tls-values.yaml')], set: ['redis.tunnel.nativeSidecar=false'], kubeVersion: 'v1.27.0' },
  },
  {
    name: 'chart variant: admin API on the client port, tunnel with system CAs',
    opts: {
      values: [ci('managed-redis-tls-values.yaml')],
      set: ['listen.adminPort=0', 'redis.tunnel.caSecret.name=', 'networkPolicy.egress[0].to[0].ipBlock.cidr=0.0.0.0/0'],
    },
  },
  {
    name: 'chart variant: long release name, existing Secret with other key names, PDB in percent',
    opts: {
      name: 'release-name-53-characters-long-for-dns-label-limitss', // Helm's longest
      set: ['secret.existingSecret=vault-synced', 'secret.keys.secretKey=master', 'podDisruptionBudget.minAvailable=50%', 'redis.bundled.enabled=true', 'redis.bundled.persistence.enabled=false'],
      setString: ['config.AIHUB_THREADS=4'],
    },
  },
];

/** [{name, kind: 'chart'|'kustomize', opts?, dir?, items}] — rendered on first use. */
export function allScenarios({ variants = true, overlays = true } = {}) {
  const out = [];
  for (const s of [...chartScenarios(), ...(variants ? VARIANTS : [])]) out.push({ ...s, kind: 'chart', items: render(s.opts) });
  if (overlays) {
    for (const o of OVERLAYS) {
      const dir = join(K8S, 'overlays', o);
      out.push({ name: `kustomize: k8s/overlays/${o}`, kind: 'kustomize', dir, items: kustomize(dir) });
    }
  }
  return out;
}

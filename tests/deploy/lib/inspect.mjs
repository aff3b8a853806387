// Reading a rendered set of objects the way the kubelet and the API server
// would: which pods a selector picks, what a named port resolves to, what
// environment a container really gets (env over envFrom, ConfigMap and Secret
// contents looked up in the same set).

export class Rendered {
  constructor(name, items) {
    this.name = name;
    this.objects = items.map((i) => i.object);
  }

  all(kind) {
    return this.objects.filter((o) => o.kind === kind);
  }

  byName(kind, name) {
    return this.objects.find((o) => o.kind === kind && o.metadata?.name === name);
  }

  /** Workloads with their pod templates (Deployment, StatefulSet) and bare Pods. */
  pods() {
    const out = [];
    for (const o of this.objects) {
      if (['Deployment', 'StatefulSet', 'DaemonSet'].includes(o.kind)) out.push({ owner: o, labels: o.spec.template.metadata?.labels ?? {}, spec: o.spec.template.spec, meta: o.spec.template.metadata ?? {} });
      if (o.kind === 'Pod') out.push({ owner: o, labels: o.metadata.labels ?? {}, spec: o.spec, meta: o.metadata });
    }
    return out;
  }

  /** The gateway Deployment: the one whose pods run the container named aihub. */
  gateway() {
    const deps = this.all('Deployment').filter((d) => d.spec.template.spec.containers.some((c) => c.name === 'aihub'));
    if (deps.length !== 1) throw new Error(`${this.name}: expected one gateway Deployment, found ${deps.length}`);
    return deps[0];
  }

  nodeContainer() {
    return this.gateway().spec.template.spec.containers.find((c) => c.name === 'aihub');
  }

  /** Containers that run beside the node for the pod's life: containers and native sidecars. */
  static runningContainers(podSpec) {
    return [...(podSpec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always'), ...podSpec.containers];
  }

  /** The pods a label selector (matchLabels, or a Service's plain map) picks. */
  selectedPods(selector) {
    const want = selector?.matchLabels ?? selector ?? {};
    return this.pods().filter((p) => Object.entries(want).every(([k, v]) => p.labels[k] === v));
  }

  /** A container port by name or number, in a pod spec: the containerPort number, or undefined. */
  static resolvePort(podSpec, port) {
    for (const c of Rendered.runningContainers(podSpec)) {
      for (const p of c.ports ?? []) if (p.name === port || p.containerPort === port) return p.containerPort;
    }
    return undefined;
  }

  /**
   * The environment a container gets, name -> {from, value?, ref?}: envFrom
   * first (ConfigMap and Secret contents from this set), env over it.
   */
  effectiveEnv(container) {
    const env = new Map();
    for (const src of container.envFrom ?? []) {
      if (src.configMapRef) {
        const cm = this.byName('ConfigMap', src.configMapRef.name);
        if (!cm) throw new Error(`${this.name}: envFrom ConfigMap ${src.configMapRef.name} is not in the render`);
        for (const [k, v] of Object.entries(cm.data ?? {})) env.set(k, { from: 'configMap', name: cm.metadata.name, value: v });
      }
      if (src.secretRef) {
        const s = this.byName('Secret', src.secretRef.name);
        if (!s) throw new Error(`${this.name}: envFrom Secret ${src.secretRef.name} is not in the render`);
        for (const [k, v] of Object.entries(s.data ?? {})) env.set(k, { from: 'secret', name: s.metadata.name, value: Buffer.from(v, 'base64').toString() });
      }
    }
    for (const e of container.env ?? []) {
      if ('value' in e) env.set(e.name, { from: 'value', value: e.value });
      else if (e.valueFrom?.secretKeyRef) env.set(e.name, { from: 'secretKeyRef', ref: e.valueFrom.secretKeyRef });
      else if (e.valueFrom?.configMapKeyRef) env.set(e.name, { from: 'configMapKeyRef', ref: e.valueFrom.configMapKeyRef });
      else env.set(e.name, { from: 'other', ref: e.valueFrom });
    }
    return env;
  }

  /** The value of a setting as the node sees it, or its default when unset; undefined when it comes from outside the render. */
  settingValue(container, name, defaults) {
    const e = this.effectiveEnv(container).get(name);
    if (!e) return defaults.get(name);
    if ('value' in e) return e.value;
    if (e.from === 'secretKeyRef') {
      const s = this.byName('Secret', e.ref.name);
      const v = s?.data?.[e.ref.key];
      return v === undefined ? undefined : Buffer.from(v, 'base64').toString();
    }
    return undefined;
  }
}

/** The port of a host:port listen address. */
export function listenPort(addr) {
  const m = /:(\d+)$/.exec(addr ?? '');
  return m ? Number(m[1]) : undefined;
}

/** Seconds a preStop hook waits: exec ["sleep", N] (or sh -c "sleep N") or the sleep action. */
export function preStopSeconds(container) {
  const pre = container.lifecycle?.preStop;
  if (!pre) return 0;
  if (pre.sleep) return Number(pre.sleep.seconds);
  const cmd = pre.exec?.command ?? [];
  const text = cmd.join(' ');
  const m = /(?:^|\s)sleep\s+(\d+)(?:\s|$)/.exec(text);
  if (!m) throw new Error(`preStop of ${container.name} is not a sleep: ${text}`);
  return Number(m[1]);
}

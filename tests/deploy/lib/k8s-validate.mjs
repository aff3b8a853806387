// Offline validation of Kubernetes objects, as close to the API server's as
// can be had without a cluster:
//
// 1. Types, enums and required fields: the ajv-compiled OpenAPI schemas of the
//    npm package kubernetes-models (Kubernetes 1.27) and, for the Prometheus
//    Operator's ServiceMonitor, @kubernetes-models/prometheus-operator.
// 2. Unknown fields: those schemas allow any extra field, so every field is
//    also looked up in the generated models of @kubernetes/client-node (their
//    attributeTypeMap lists every field the API knows, through Kubernetes
//    1.34), and, for the ServiceMonitor, in the type declarations of its
//    models package. A misspelled field is an error, as with
//    `kubectl apply --validate=strict`.
// 3. A few rules the API server enforces beyond its OpenAPI schema: object and
//    label name formats, port-name format, env-var names, and a workload's
//    selector matching its pod template's labels.
//
// validateObject(obj) returns a list of messages, empty when the object passes.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const models = await import('@kubernetes/client-node/dist/gen/models/all.js');

// apiVersion -> module of kubernetes-models classes (with their validate())
const CRD_MODULES = {
  'monitoring.coreos.com/v1': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1',
};
// CRD kinds, whose fields come from their models' .d.ts (client-node has only built-in kinds)
const CRD_DECLARATIONS = {
  'monitoring.coreos.com/v1/ServiceMonitor': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor',
};

const moduleCache = new Map();
async function modelClass(apiVersion, kind) {
  const spec = CRD_MODULES[apiVersion] ?? `kubernetes-models/${apiVersion}`;
  if (!moduleCache.has(spec)) {
    let mod = null;
    try {
      mod = await import(spec);
    } catch {
      mod = null;
    }
    moduleCache.set(spec, mod);
  }
  const mod = moduleCache.get(spec);
  return mod && typeof mod[kind] === 'function' ? mod[kind] : null;
}

// ---- field trees ------------------------------------------------------------
// A node is {kind: 'any' | 'prim' | 'array' | 'map' | 'object', of?, fields?, name}.
const ANY = { kind: 'any' };
const PRIM = { kind: 'prim' };
const PRIMS = new Set(['string', 'number', 'boolean', 'Date', 'IntOrString']);
const cnCache = new Map();

/** The field tree of a client-node type string ("V1PodSpec", "Array<V1Container>", ...). */
function cnNode(type) {
  if (cnCache.has(type)) return cnCache.get(type);
  let node;
  let m;
  if (type === 'any' || type === 'object' || type === '{ [key: string]: any; }' || type === 'Array<any>') node = ANY;
  else if (PRIMS.has(type)) node = PRIM;
  else if ((m = /^Array<(.+)>$/.exec(type))) node = { kind: 'array', get of() { return cnNode(m[1]); } };
  else if ((m = /^\{ \[key: string\]: (.+); \}$/.exec(type))) node = { kind: 'map', get of() { return cnNode(m[1]); } };
  else {
    const cls = models[type];
    if (!cls || !Array.isArray(cls.attributeTypeMap)) throw new Error(`no client-node model for type ${type}`);
    const fields = new Map();
    node = { kind: 'object', name: type, fields };
    cnCache.set(type, node);
    for (const a of cls.attributeTypeMap) fields.set(a.baseName, a.type);
    node.field = (k) => (fields.has(k) ? cnNode(fields.get(k)) : undefined);
    return node;
  }
  cnCache.set(type, node);
  return node;
}

/** The client-node model name of a built-in kind: V1Deployment, V2HorizontalPodAutoscaler, ... */
function cnTypeName(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const v = version[0].toUpperCase() + version.slice(1);
  const candidates = [`${v}${kind}`];
  if (group) {
    const g = group.split('.')[0];
    candidates.push(`${g[0].toUpperCase()}${g.slice(1)}${v}${kind}`);
  }
  return candidates.find((c) => models[c] && models[c].attributeTypeMap) ?? null;
}

// A small reader of the TypeScript declarations the CRD model packages ship:
// `"field"?: TYPE;` members, inline object types, Array<T>, index signatures
// and unions, which is all they use.
function dtsTree(module) {
  const file = require.resolve(module).replace(/\.js$/, '.d.ts');
  const src = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '');
  const start = src.search(/export interface I\w+ \{/);
  if (start < 0) throw new Error(`${file}: no exported interface`);
  const tokens = src.slice(src.indexOf('{', start)).match(/"(?:[^"\\]|\\.)*"|[A-Za-z_$][\w$]*|[{}<>[\]:;?|,()]/g);
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++];
  const expect = (t) => {
    if (tokens[i] !== t) throw new Error(`${file}: expected ${t} at token ${i}, got ${tokens[i]}`);
    i++;
  };
  function parseType() {
    const alts = [parseSingle()];
    while (peek() === '|') {
      next();
      alts.push(parseSingle());
    }
    const structured = alts.filter((a) => a.kind !== 'prim');
    return structured.length === 0 ? PRIM : structured.length === 1 && alts.length === 1 ? structured[0] : ANY;
  }
  function parseSingle() {
    const t = peek();
    if (t === '{') return parseObject();
    if (t === '(') {
      next();
      const inner = parseType();
      expect(')');
      return inner;
    }
    next();
    if (t === 'Array') {
      expect('<');
      const of = parseType();
      expect('>');
      return { kind: 'array', of };
    }
    if (t.startsWith('"') || ['string', 'number', 'boolean', 'null', 'true', 'false'].includes(t)) return PRIM;
    if (t === 'any' || t === 'unknown' || t === 'object') return ANY;
    if (t === 'IObjectMeta') return cnNode('V1ObjectMeta');
    throw new Error(`${file}: unknown type name ${t}`);
  }
  function parseObject() {
    expect('{');
    const fields = new Map();
    let index = null;
    while (peek() !== '}') {
      if (peek() === '[') {
        next(); // [key: string]: T;
        next();
        expect(':');
        next();
        expect(']');
        expect(':');
        index = parseType();
      } else {
        const name = JSON.parse(next());
        if (peek() === '?') next();
        expect(':');
        fields.set(name, parseType());
      }
      if (peek() === ';' || peek() === ',') next();
    }
    expect('}');
    if (index && fields.size === 0) return { kind: 'map', of: index };
    return { kind: 'object', name: 'inline', fields, field: (k) => fields.get(k) };
  }
  return parseObject();
}

const dtsCache = new Map();
function fieldTree(apiVersion, kind) {
  const key = `${apiVersion}/${kind}`;
  if (CRD_DECLARATIONS[key]) {
    if (!dtsCache.has(key)) dtsCache.set(key, dtsTree(CRD_DECLARATIONS[key]));
    return dtsCache.get(key);
  }
  const name = cnTypeName(apiVersion, kind);
  return name ? cnNode(name) : null;
}

function unknownFields(value, node, path, out) {
  if (value === null || value === undefined || node.kind === 'any' || node.kind === 'prim') return;
  if (node.kind === 'array') {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, node.of, `${path}[${i}]`, out));
    return;
  }
  if (typeof value !== 'object' || Array.isArray(value)) return; // a type error, reported by the schema check
  if (node.kind === 'map') {
    for (const [k, v] of Object.entries(value)) unknownFields(v, node.of, `${path}.${k}`, out);
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    const child = node.field(k);
    if (child === undefined) out.push(`${path}: unknown field "${k}"`);
    else unknownFields(v, child, `${path}.${k}`, out);
  }
}

// ---- API-server rules that are not in the OpenAPI schema -----------------------
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

function checkLabelKey(k, where, out) {
  const slash = k.lastIndexOf('/');
  const prefix = slash >= 0 ? k.slice(0, slash) : '';
  const name = slash >= 0 ? k.slice(slash + 1) : k;
  if (prefix && (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) out.push(`${where}: key "${k}": bad prefix`);
  if (name.length > 63 || !LABEL_NAME.test(name)) out.push(`${where}: key "${k}": bad name`);
}

function checkLabels(labels, where, out) {
  for (const [k, v] of Object.entries(labels ?? {})) {
    checkLabelKey(k, where, out);
    if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) out.push(`${where}: value of "${k}" is not a valid label value: ${JSON.stringify(v)}`);
  }
}

function isPortName(n) {
  return n.length <= 15 && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(n) && /[a-z]/.test(n) && !n.includes('--');
}

function checkPodSpec(spec, where, out) {
  if (!spec) return;
  const all = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  const names = new Set();
  for (const c of all) {
    if (!DNS1123_LABEL.test(c.name ?? '') || c.name.length > 63) out.push(`${where}: container name ${JSON.stringify(c.name)} is not a DNS label`);
    if (names.has(c.name)) out.push(`${where}: duplicate container name ${c.name}`);
    names.add(c.name);
    for (const p of c.ports ?? []) if (p.name !== undefined && !isPortName(p.name)) out.push(`${where}: container ${c.name}: port name "${p.name}" is not an IANA service name`);
    for (const e of c.env ?? []) if (!ENV_NAME.test(e.name ?? '')) out.push(`${where}: container ${c.name}: env name ${JSON.stringify(e.name)} is invalid`);
    const envNames = (c.env ?? []).map((e) => e.name);
    const dup = envNames.find((n, i) => envNames.indexOf(n) !== i);
    if (dup) out.push(`${where}: container ${c.name}: env ${dup} is set twice`);
  }
}

function checkSemantics(obj, out) {
  const meta = obj.metadata ?? {};
  const where = `${obj.kind}/${meta.name}`;
  const name = meta.name ?? '';
  if (obj.kind === 'Service') {
    if (name.length > 63 || !DNS1035_LABEL.test(name)) out.push(`${where}: a Service name must be a DNS-1035 label (a-z first, at most 63)`);
    for (const p of obj.spec?.ports ?? []) if (p.name !== undefined && !isPortName(p.name)) out.push(`${where}: port name "${p.name}" is not an IANA service name`);
  } else if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    out.push(`${where}: metadata.name is not a DNS-1123 subdomain`);
  }
  checkLabels(meta.labels, `${where} metadata.labels`, out);
  for (const k of Object.keys(meta.annotations ?? {})) checkLabelKey(k, `${where} metadata.annotations`, out);
  const tpl = obj.spec?.template;
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'].includes(obj.kind)) {
    checkLabels(tpl?.metadata?.labels, `${where} spec.template.metadata.labels`, out);
    const sel = obj.spec?.selector?.matchLabels ?? {};
    for (const [k, v] of Object.entries(sel)) {
      if (tpl?.metadata?.labels?.[k] !== v) out.push(`${where}: selector does not match template labels (${k}=${v})`);
    }
    checkPodSpec(tpl?.spec, where, out);
  }
  if (obj.kind === 'Pod') checkPodSpec(obj.spec, where, out);
  for (const key of ['selector', 'podSelector']) if (obj.spec?.[key]?.matchLabels) checkLabels(obj.spec[key].matchLabels, `${where} spec.${key}`, out);
}

/**
 * A Secret's data with line breaks taken out of the base64 values: kustomize
 * wraps long values at 70 columns, and the API server's base64 decoder (Go's)
 * skips line breaks, but the schema's "byte" format does not.
 */
export function withUnwrappedSecretData(obj) {
  const data = Object.fromEntries(Object.entries(obj.data).map(([k, v]) => [k, typeof v === 'string' ? v.replace(/[\r\n]/g, '') : v]));
  return { ...obj, data };
}

/** Every problem with one object; [] when it passes. */
export async function validateObject(obj) {
  const out = [];
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return ['not an object'];
  const { apiVersion, kind } = obj;
  const where = `${kind}/${obj.metadata?.name}`;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return [`${where}: apiVersion and kind are required`];
  if (kind === 'Secret' && obj.data) obj = withUnwrappedSecretData(obj);
  const Cls = await modelClass(apiVersion, kind);
  const tree = fieldTree(apiVersion, kind);
  if (!Cls || !tree) return [`${where}: unknown kind ${kind} in ${apiVersion} (not in Kubernetes 1.27's API or the known CRDs)`];
  try {
    new Cls(obj).validate();
  } catch (e) {
    out.push(`${where}: schema: ${e.message}`);
  }
  unknownFields(obj, tree, where, out);
  checkSemantics(obj, out);
  return out;
}

/** Problems of many objects, each message prefixed by its source when known. */
export async function validateAll(items) {
  const out = [];
  for (const { source, object } of items) {
    for (const m of await validateObject(object)) out.push(source ? `${source}: ${m}` : m);
  }
  return out;
}

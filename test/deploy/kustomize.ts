// `kustomize build` for the tests: kubectl's built-in kustomize when it is installed, otherwise a
// small resolver of the features deploy/k8s uses (resources, namespace, images, config map and
// secret generators with merge, strategic-merge and JSON 6902 patches). When both are available a
// test checks that they agree, so the resolver stays honest.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parse } from 'yaml';
import { generatedSecrets, parseYamlDocuments, repoPath } from './lib.ts';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

type Json = unknown;
type JsonObject = Record<string, Json>;
const isObject = (v: Json): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Generator {
  name: string;
  behavior?: 'create' | 'merge' | 'replace';
  literals?: string[];
  files?: string[];
  envs?: string[];
}
interface Patch {
  path?: string;
  patch?: string;
  target?: { kind?: string; name?: string };
}
interface Kustomization {
  namespace?: string;
  resources?: string[];
  configMapGenerator?: Generator[];
  secretGenerator?: Generator[];
  patches?: Patch[];
  images?: Array<{ name: string; newName?: string; newTag?: string }>;
}

export function kubectlAvailable(): boolean {
  return spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;
}

/**
 * deploy/k8s copied to a temporary directory with each overlay's secrets.env made from its example,
 * the placeholders replaced by valid generated values (the real files are never in the repository).
 */
export function stagedK8s(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'microseg-k8s-'));
  cpSync(repoPath('deploy/k8s'), dir, { recursive: true });
  const secrets = generatedSecrets();
  for (const overlay of ['dev', 'prod']) {
    const example = join(dir, 'overlays', overlay, 'secrets.env.example');
    const lines = readFileSync(example, 'utf8')
      .split('\n')
      .map((line) => {
        const m = /^([A-Z0-9_]+)=REPLACE_ME$/.exec(line);
        if (!m) return line;
        const value = m[1] === 'REDIS_URL' ? 'rediss://default:password@redis.example.com:6380' : secrets[m[1]!];
        if (!value) throw new Error(`${example}: no generated value for ${m[1]}`);
        return `${m[1]}=${value}`;
      });
    writeFileSync(join(dir, 'overlays', overlay, 'secrets.env'), lines.join('\n'));
    // The credentials, as deploy/README.md has the operator make them (gitignored in the repository).
    const made = spawnSync(process.execPath, [repoPath('packages/credentials/src/main.ts'), '--kubernetes', join(dir, 'overlays', overlay)], {
      encoding: 'utf8',
    });
    if (made.status !== 0) throw new Error(`credentials for ${overlay}: ${made.stderr}`);
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Every generator name in a kustomization tree (to undo kustomize's hash suffixes). */
function generatorNames(dir: string, names = new Set<string>()): Set<string> {
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
  for (const g of [...(k.configMapGenerator ?? []), ...(k.secretGenerator ?? [])]) names.add(g.name);
  for (const r of k.resources ?? []) if (statSync(join(dir, r)).isDirectory()) generatorNames(join(dir, r), names);
  return names;
}

/** `kubectl kustomize DIR`, with the generated names' hash suffixes removed. */
export function kubectlBuild(dir: string): K8sObject[] {
  const out = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 32 * 1024 * 1024 });
  if (out.status !== 0) throw new Error(`kubectl kustomize ${dir}: ${out.stderr}`);
  let text = out.stdout;
  for (const name of generatorNames(dir)) text = text.replace(new RegExp(`\\b${name}-[a-z0-9]{10}\\b`, 'g'), name);
  const objects = parseYamlDocuments(text, dir) as K8sObject[];
  // kustomize wraps long base64 values over lines (the API server ignores the line breaks).
  for (const o of objects) {
    if (o.kind === 'Secret' && isObject(o['data']))
      o['data'] = Object.fromEntries(Object.entries(o['data']).map(([k, v]) => [k, String(v).replace(/\s+/g, '')]));
  }
  return objects;
}

// ---------------------------------------------------------------------------------------------
// The resolver.

function envFile(text: string): Array<[string, string]> {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]);
}

function generatedData(dir: string, g: Generator): Record<string, string> {
  const data: Record<string, string> = {};
  for (const literal of g.literals ?? []) data[literal.slice(0, literal.indexOf('='))] = literal.slice(literal.indexOf('=') + 1);
  for (const file of g.files ?? []) data[basename(file)] = readFileSync(join(dir, file), 'utf8');
  for (const env of g.envs ?? []) for (const [k, v] of envFile(readFileSync(join(dir, env), 'utf8'))) data[k] = v;
  return data;
}

function applyGenerator(objects: K8sObject[], dir: string, kind: 'ConfigMap' | 'Secret', g: Generator): void {
  const plain = generatedData(dir, g);
  const data = kind === 'Secret' ? Object.fromEntries(Object.entries(plain).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) : plain;
  const existing = objects.find((o) => o.kind === kind && o.metadata.name === g.name);
  if (g.behavior === 'merge' || g.behavior === 'replace') {
    if (!existing) throw new Error(`${dir}: ${kind} ${g.name} to ${g.behavior} does not exist`);
    existing['data'] = g.behavior === 'merge' ? { ...(existing['data'] as object), ...data } : data;
    return;
  }
  if (existing) throw new Error(`${dir}: ${kind} ${g.name} generated twice`);
  const object: K8sObject = { apiVersion: 'v1', kind, metadata: { name: g.name }, data };
  if (kind === 'Secret') object['type'] = 'Opaque';
  objects.push(object);
}

/** Strategic merge as deploy/k8s uses it: maps merge, lists of named items merge by name. */
function strategicMerge(target: Json, patch: Json): Json {
  if (isObject(target) && isObject(patch)) {
    const out: JsonObject = { ...target };
    for (const [k, v] of Object.entries(patch)) out[k] = k in target ? strategicMerge(target[k], v) : v;
    return out;
  }
  if (Array.isArray(target) && Array.isArray(patch) && [...target, ...patch].every((i) => isObject(i) && typeof i['name'] === 'string')) {
    const out = (target as JsonObject[]).map((item) => {
      const p = (patch as JsonObject[]).find((q) => q['name'] === item['name']);
      return p ? (strategicMerge(item, p) as JsonObject) : item;
    });
    const added = (patch as JsonObject[]).filter((p) => !(target as JsonObject[]).some((t) => t['name'] === p['name']));
    return [...added, ...out];
  }
  return patch;
}

function jsonPatch(target: JsonObject, ops: Array<{ op: string; path: string; value?: Json }>): void {
  for (const { op, path, value } of ops) {
    const keys = path
      .split('/')
      .slice(1)
      .map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop()!;
    let node: Json = target;
    for (const k of keys) node = (node as JsonObject)[k];
    if (!isObject(node) && !Array.isArray(node)) throw new Error(`JSON patch ${op} ${path}: no such parent`);
    const container = node as JsonObject;
    if (op === 'replace' || op === 'add') {
      if (op === 'replace' && !(last in container)) throw new Error(`JSON patch replace ${path}: nothing to replace`);
      if (Array.isArray(node) && last === '-') (node as Json[]).push(value);
      else container[last] = value;
    } else if (op === 'remove') delete container[last];
    else throw new Error(`JSON patch op ${op} is not supported by the test resolver`);
  }
}

function applyPatch(objects: K8sObject[], dir: string, p: Patch): void {
  const text = p.patch ?? readFileSync(join(dir, p.path!), 'utf8');
  const doc = parse(text) as Json;
  const matches = (o: K8sObject, kind?: string, name?: string) => (!kind || o.kind === kind) && (!name || o.metadata.name === name);
  if (Array.isArray(doc)) {
    const targets = objects.filter((o) => matches(o, p.target?.kind, p.target?.name));
    if (targets.length === 0) throw new Error(`${dir}: patch ${p.path ?? ''} matches nothing`);
    for (const t of targets) jsonPatch(t, doc as Array<{ op: string; path: string; value?: Json }>);
    return;
  }
  const patchObject = doc as K8sObject;
  const kind = p.target?.kind ?? patchObject.kind;
  const name = p.target?.name ?? patchObject.metadata.name;
  const index = objects.findIndex((o) => matches(o, kind, name));
  if (index < 0) throw new Error(`${dir}: patch ${p.path ?? ''} matches nothing`);
  objects[index] = strategicMerge(objects[index], patchObject) as K8sObject;
}

const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'PersistentVolume', 'StorageClass', 'CustomResourceDefinition']);

function podSpecs(o: K8sObject): JsonObject[] {
  const spec = o['spec'] as JsonObject | undefined;
  const template = spec?.['template'] as JsonObject | undefined;
  const pod = template?.['spec'] as JsonObject | undefined;
  return pod ? [pod] : [];
}

export function resolveKustomization(dir: string): K8sObject[] {
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
  const objects: K8sObject[] = [];
  for (const resource of k.resources ?? []) {
    const path = join(dir, resource);
    if (statSync(path).isDirectory()) objects.push(...resolveKustomization(path));
    else objects.push(...(parseYamlDocuments(readFileSync(path, 'utf8'), path) as K8sObject[]));
  }
  for (const g of k.configMapGenerator ?? []) applyGenerator(objects, dir, 'ConfigMap', g);
  for (const g of k.secretGenerator ?? []) applyGenerator(objects, dir, 'Secret', g);
  for (const p of k.patches ?? []) applyPatch(objects, dir, p);
  if (k.namespace) for (const o of objects) if (!clusterScoped.has(o.kind)) o.metadata = { ...o.metadata, namespace: k.namespace };
  for (const image of k.images ?? []) {
    for (const o of objects) {
      for (const pod of podSpecs(o)) {
        for (const c of [...((pod['containers'] as JsonObject[]) ?? []), ...((pod['initContainers'] as JsonObject[]) ?? [])]) {
          const [name, tag] = String(c['image']).split(':');
          if (name === image.name) c['image'] = `${image.newName ?? name}${image.newTag ? `:${image.newTag}` : tag ? `:${tag}` : ''}`;
        }
      }
    }
  }
  return objects;
}

/** Build an overlay of deploy/k8s: kubectl when installed, else the resolver. */
export function buildOverlay(overlay: 'dev' | 'prod'): { objects: K8sObject[]; via: 'kubectl' | 'resolver' } {
  const staged = stagedK8s();
  try {
    const dir = join(staged.dir, 'overlays', overlay);
    if (!existsSync(join(dir, 'kustomization.yaml'))) throw new Error(`no overlay ${overlay}`);
    return kubectlAvailable() ? { objects: kubectlBuild(dir), via: 'kubectl' } : { objects: resolveKustomization(dir), via: 'resolver' };
  } finally {
    staged.cleanup();
  }
}

/** Order-independent form for comparing two builds: lists of named items sorted by name. */
export function normalized(value: Json): Json {
  if (Array.isArray(value)) {
    const items = value.map(normalized);
    return items.every((i) => isObject(i) && typeof i['name'] === 'string')
      ? [...items].sort((a, b) => String((a as JsonObject)['name']).localeCompare(String((b as JsonObject)['name'])))
      : items;
  }
  if (isObject(value))
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, normalized(v)]),
    );
  return value;
}

// The top self-time frames of a V8 .cpuprofile (what `node --cpu-prof` writes).
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface Frame {
  /** `functionName (file:line)` */
  frame: string;
  selfMs: number;
  /** Share of the busy time (idle excluded). */
  percent: number;
  /** The heaviest chain of callers (three frames up), `a ← b ← c`. */
  via?: string;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  busyMs: number;
  top: Frame[];
  /** Self time by where the code comes from: a package, Node's core, our own files, native code, GC. */
  areas: Frame[];
}

/** `@opentelemetry/…`, `undici`, `node (core)`, `services/gateway`, `(native)`, `(garbage collector)` … */
function areaOf(node: ProfileNode): string {
  const { functionName, url } = node.callFrame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native: writev, TLS, hashing …)';
  if (url.startsWith('node:')) return 'node (core)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!.startsWith('@opentelemetry/') ? '@opentelemetry/*' : pkg[1]!;
  const own = /\/((?:services|packages)\/[^/]+)\//.exec(url);
  return own ? own[1]! : url;
}

function label(node: ProfileNode, root: string): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName || '(anonymous)';
  if (!url) return name;
  let file = url.replace(/^file:\/\//, '');
  if (file.startsWith('/')) file = relative(root, file);
  return `${name} (${file}:${lineNumber + 1})`;
}

/** The monotonic clock V8 stamps profiles with (CLOCK_MONOTONIC on Linux), in µs: to pick a window. */
export const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/**
 * Self time per frame (same function, file and line merged), largest first. With `window` (monotonic µs, see
 * monotonicUs) only the samples taken inside it count: the measured run, not the start-up.
 */
export function topSelfFrames(file: string, root: string, count = 10, window?: { fromUs: number; toUs: number }): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const short = (n: ProfileNode) =>
    `${n.callFrame.functionName || '(anonymous)'}${n.callFrame.url ? ` (${n.callFrame.url.split('/').at(-1)}:${n.callFrame.lineNumber + 1})` : ''}`;
  const callers = (id: number) => {
    const chain: string[] = [];
    for (let p = parentOf.get(id); p !== undefined && chain.length < 3; p = parentOf.get(p)) {
      const node = byId.get(p)!;
      if (node.callFrame.functionName === '(root)') break;
      chain.push(short(node));
    }
    return chain.join(' ← ');
  };
  const selfUs = new Map<number, number>();
  if (profile.samples && profile.timeDeltas) {
    // Sample i is taken at startTime + Σ deltas[0..i]; its time is the delta to the next sample.
    let at = profile.startTime;
    for (let i = 0; i < profile.samples.length; i++) {
      at += profile.timeDeltas[i] ?? 0;
      if (window && (at < window.fromUs || at > window.toUs)) continue;
      const next = profile.timeDeltas[i + 1] ?? 0;
      selfUs.set(profile.samples[i]!, (selfUs.get(profile.samples[i]!) ?? 0) + Math.max(0, next));
    }
  } else {
    const total = profile.endTime - profile.startTime;
    const hits = profile.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0) || 1;
    for (const n of profile.nodes) selfUs.set(n.id, ((n.hitCount ?? 0) / hits) * total);
  }
  const merged = new Map<string, number>();
  const vias = new Map<string, Map<string, number>>();
  const areas = new Map<string, number>();
  let idleUs = 0;
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    totalUs += us;
    if (node.callFrame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const key = label(node, root);
    merged.set(key, (merged.get(key) ?? 0) + us);
    let byChain = vias.get(key);
    if (!byChain) vias.set(key, (byChain = new Map()));
    const chain = callers(id);
    byChain.set(chain, (byChain.get(chain) ?? 0) + us);
    const area = areaOf(node);
    areas.set(area, (areas.get(area) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const rank = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([frame, us]) => ({ frame, selfMs: us / 1000, percent: busyUs > 0 ? (us / busyUs) * 100 : 0 }));
  const top = rank(merged, count).map((f) => ({ ...f, via: [...(vias.get(f.frame)?.entries() ?? [])].sort((a, b) => b[1] - a[1])[0]?.[0] }));
  return { totalMs: totalUs / 1000, idleMs: idleUs / 1000, busyMs: busyUs / 1000, top, areas: rank(areas, 10) };
}

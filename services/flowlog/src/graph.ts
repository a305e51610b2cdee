// The Platform view's graph, built from the inventory (what exists) and the
// flow aggregates of a time window (what happened). Pure: the page draws it.
//
// Nodes: processing units, services, external networks, "somewhere" (an
// address that matches no external network) and users (claims). Edges:
// source → destination with the hits of the window, coloured by how they were
// decided — accepted or rejected, by a policy or by the namespace default, or
// both (the policy changed within the window) — and a grey edge from each
// service to the processing units it selects.
//
// A little over 300 lines, kept in one file: buildGraph and the helpers only it uses (node ids, edge
// building, styles, the summary), with the graph's types, which take a fifth of it.
//
// Why over 300 lines: nodes, edges and their grouping are one pure function of the inventory and the window;
// split, the rules that make an edge red or green would live far from the nodes they join. graph.test.ts covers each.
import type { StoredFlow } from './records.ts';

export type NodeType = 'ProcessingUnit' | 'Service' | 'ExternalNetwork' | 'Somewhere' | 'Claims';
export type EdgeStyle = 'accept-policy' | 'accept-default' | 'reject-policy' | 'reject-default' | 'mixed' | 'selects';

export interface Inventory {
  processingUnits: Array<{ id: string; name: string; namespace: string; tags: string[]; address: string; status: string; lastSeenMs: number }>;
  services: Array<{
    id: string;
    name: string;
    namespace: string;
    hosts: string[];
    exposedPort: number;
    port: number;
    authorizationType: string;
    disabled: boolean;
    processingUnits: string[];
    tags: string[];
  }>;
  externalNetworks: Array<{ id: string; name: string; namespace: string; entries: string[]; servicePorts: string[]; tags: string[] }>;
  networkPolicies: Array<{
    id: string;
    name: string;
    namespace: string;
    subject: string[][];
    object: string[][];
    action: string;
    applyPolicyMode: string;
    logsEnabled: boolean;
    disabled: boolean;
    propagate: boolean;
  }>;
  namespaces: Array<{ path: string; incomingDefault: string; outgoingDefault: string; incomingDecidedBy: string; outgoingDecidedBy: string }>;
}

export interface GraphNode {
  id: string;
  type: NodeType;
  name: string;
  namespace: string;
  /** The object's ID in the policy service (processing units, services, external networks it lists). */
  objectID?: string;
  /** Processing units: Running, Stopped, Silent (not heard of lately), or Unknown when only flows name it. */
  status?: string;
  lastSeen?: number;
  address?: string;
  tags: string[];
  /** What the General tab lists: hosts and ports of a service, entries of an external network, IPs seen. */
  details: Record<string, string | string[]>;
  accepted: number;
  rejected: number;
}

export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  style: EdgeStyle;
  accepted: number;
  rejected: number;
  hits: number;
  policies: Array<{ id: string; name: string; action: string; byDefault: boolean; hits: number }>;
  uris: Array<{ uri: string; action: string; hits: number }>;
  users: Array<{ name: string; hits: number }>;
  dropReasons: Array<{ reason: string; hits: number }>;
  sourceIPs: string[];
  destinationIPs: string[];
  ports: number[];
  namespaces: string[];
  firstSeen: number;
  lastSeen: number;
}

export interface Graph {
  window: { from: number; to: number };
  nodes: GraphNode[];
  edges: GraphEdge[];
  timeline: { bucketMs: number; buckets: Array<{ start: number; accepted: number; rejected: number }> };
  summary: string;
  namespaces: Inventory['namespaces'];
  policies: Inventory['networkPolicies'];
  /** Flow aggregates the graph was built from (a bound applies). */
  flowCount: number;
}

const MINUTE = 60_000;
const TIMELINE_BARS = 60;
/**
 * A running processing unit not heard of for this long is shown as Silent: its
 * gateway registers it again every 30 s and policy records that at most once a
 * minute, so a unit this quiet has lost its gateway.
 */
export const SILENT_AFTER_MS = 3 * MINUTE;

export function emptyInventory(): Inventory {
  return { processingUnits: [], services: [], externalNetworks: [], networkPolicies: [], namespaces: [] };
}

export function buildGraph(inventory: Inventory, flows: readonly StoredFlow[], window: { from: number; to: number }, now = Date.now()): Graph {
  const nodes = new Map<string, GraphNode>();
  const edges = new Map<string, EdgeBuilder>();
  const add = (node: Omit<GraphNode, 'accepted' | 'rejected' | 'tags' | 'details'> & Partial<Pick<GraphNode, 'tags' | 'details'>>): GraphNode => {
    let existing = nodes.get(node.id);
    if (!existing) {
      existing = { tags: [], details: {}, ...node, accepted: 0, rejected: 0 };
      nodes.set(node.id, existing);
    }
    return existing;
  };

  for (const pu of inventory.processingUnits) {
    const silent = pu.status === 'Running' && pu.lastSeenMs > 0 && now - pu.lastSeenMs > SILENT_AFTER_MS;
    add({
      id: puId(pu.namespace, pu.name),
      type: 'ProcessingUnit',
      objectID: pu.id,
      name: pu.name,
      namespace: pu.namespace,
      status: silent ? 'Silent' : pu.status,
      lastSeen: pu.lastSeenMs || undefined,
      address: pu.address,
      tags: pu.tags,
      details: { address: pu.address },
    });
  }
  for (const s of inventory.services) {
    add({
      id: serviceId(s.id),
      type: 'Service',
      objectID: s.id,
      name: s.name,
      namespace: s.namespace,
      tags: s.tags,
      details: {
        hosts: s.hosts,
        exposedPort: String(s.exposedPort),
        port: String(s.port),
        authorization: s.authorizationType,
        ...(s.disabled ? { disabled: 'true' } : {}),
      },
    });
    for (const name of s.processingUnits) {
      const pu = inventory.processingUnits.find((p) => p.name === name);
      if (pu) edgeFor(edges, serviceId(s.id), puId(pu.namespace, pu.name), 'selects');
    }
  }
  for (const n of inventory.externalNetworks) {
    add({
      id: extId(n.namespace, n.name),
      type: 'ExternalNetwork',
      objectID: n.id,
      name: n.name,
      namespace: n.namespace,
      tags: n.tags,
      details: { entries: n.entries, servicePorts: n.servicePorts },
    });
  }

  const puNamed = (name: string, namespace: string): string => {
    const exact = inventory.processingUnits.find((p) => p.name === name && p.namespace === namespace);
    const only = inventory.processingUnits.filter((p) => p.name === name);
    const pu = exact ?? (only.length === 1 ? only[0] : undefined);
    if (pu) return puId(pu.namespace, pu.name);
    return add({ id: puId(namespace, name), type: 'ProcessingUnit', name, namespace, status: 'Unknown' }).id;
  };
  const externalNamed = (name: string, namespace: string): string => {
    const candidates = inventory.externalNetworks.filter((n) => n.name === name);
    const best =
      candidates.find((n) => n.namespace === namespace) ??
      candidates.sort((a, b) => b.namespace.length - a.namespace.length).find((n) => namespace.startsWith(n.namespace));
    const chosen = best ?? candidates[0];
    if (chosen) return extId(chosen.namespace, chosen.name);
    return add({ id: extId(namespace, name), type: 'ExternalNetwork', name, namespace }).id;
  };
  const endpointNode = (flow: StoredFlow, side: 'source' | 'destination'): string => {
    const end = flow[side];
    const namespace = (side === 'source' ? flow.source.namespace : flow.destination.namespace) || flow.namespace;
    switch (end.type) {
      case 'Claims':
        return add({ id: `user:${end.name}`, type: 'Claims', name: end.name, namespace: '', tags: [] }).id;
      case 'ProcessingUnit':
        if (side === 'destination' && flow.serviceID) return serviceNode(flow);
        return puNamed(end.name, namespace);
      case 'Service':
        return serviceNode(flow);
      default:
        if (!end.name || end.name === 'somewhere') return add({ id: 'somewhere', type: 'Somewhere', name: 'somewhere', namespace: '' }).id;
        return externalNamed(end.name, namespace);
    }
  };
  const serviceNode = (flow: StoredFlow): string => {
    const id = serviceId(flow.serviceID || 'unknown');
    const service = inventory.services.find((s) => s.id === flow.serviceID);
    if (!service) add({ id, type: 'Service', name: flow.serviceID ? `service ${flow.serviceID.slice(0, 12)}` : 'unknown service', namespace: flow.namespace });
    if (flow.destination.type === 'ProcessingUnit' && flow.destination.name) {
      const pu = puNamed(flow.destination.name, flow.destination.namespace || flow.namespace);
      edgeFor(edges, id, pu, 'selects');
    }
    return id;
  };

  const bucketMs = Math.max(MINUTE, Math.ceil((window.to - window.from) / TIMELINE_BARS / MINUTE) * MINUTE);
  const firstBucket = Math.floor(window.from / bucketMs) * bucketMs;
  const buckets: Graph['timeline']['buckets'] = [];
  for (let start = firstBucket; start <= window.to; start += bucketMs) buckets.push({ start, accepted: 0, rejected: 0 });

  for (const flow of flows) {
    const source = endpointNode(flow, 'source');
    const target = endpointNode(flow, 'destination');
    edgeFor(edges, source, target, 'flow').add(flow);
    const accepted = flow.action === 'Accept';
    for (const id of new Set([source, target])) {
      const node = nodes.get(id)!;
      if (accepted) node.accepted += flow.count;
      else node.rejected += flow.count;
      if (node.type === 'Somewhere' || node.type === 'Claims') {
        const ip = node.type === 'Somewhere' || id === source ? flow.source.ip : '';
        if (ip) node.details.addresses = [...new Set([...((node.details.addresses as string[] | undefined) ?? []), ip])].sort();
      }
    }
    const bucket = buckets[Math.floor((flow.minute - firstBucket) / bucketMs)];
    if (bucket) {
      if (accepted) bucket.accepted += flow.count;
      else bucket.rejected += flow.count;
    }
  }

  const nodeList = [...nodes.values()].sort((a, b) => a.id.localeCompare(b.id));
  const edgeList = [...edges.values()].map((e) => e.build()).sort((a, b) => a.id.localeCompare(b.id));
  return {
    window,
    nodes: nodeList,
    edges: edgeList,
    timeline: { bucketMs, buckets },
    summary: summarize(nodeList, edgeList),
    namespaces: inventory.namespaces,
    policies: inventory.networkPolicies,
    flowCount: flows.length,
  };
}

const puId = (namespace: string, name: string) => `pu:${namespace}/${name}`;
const serviceId = (id: string) => `svc:${id}`;
const extId = (namespace: string, name: string) => `ext:${namespace}/${name}`;

function edgeFor(edges: Map<string, EdgeBuilder>, source: string, target: string, kind: 'flow' | 'selects'): EdgeBuilder {
  const id = `${kind === 'selects' ? 'selects' : 'flow'}:${source}->${target}`;
  let edge = edges.get(id);
  if (!edge) {
    edge = new EdgeBuilder(id, source, target, kind);
    edges.set(id, edge);
  }
  return edge;
}

class EdgeBuilder {
  readonly #id: string;
  readonly #source: string;
  readonly #target: string;
  readonly #kind: 'flow' | 'selects';
  #accepted = 0;
  #rejected = 0;
  #byPolicy = { accepted: 0, rejected: 0 };
  /** Outcomes per request (URI): the same request both accepted and rejected means a policy changed. */
  readonly #outcomes = new Map<string, Set<string>>();
  readonly #policies = new Map<string, GraphEdge['policies'][number]>();
  readonly #uris = new Map<string, GraphEdge['uris'][number]>();
  readonly #users = new Map<string, number>();
  readonly #drops = new Map<string, number>();
  readonly #sourceIPs = new Set<string>();
  readonly #destinationIPs = new Set<string>();
  readonly #ports = new Set<number>();
  readonly #namespaces = new Set<string>();
  #first = Number.POSITIVE_INFINITY;
  #last = 0;

  constructor(id: string, source: string, target: string, kind: 'flow' | 'selects') {
    this.#id = id;
    this.#source = source;
    this.#target = target;
    this.#kind = kind;
  }

  add(flow: StoredFlow): void {
    const hits = flow.count;
    const accepted = flow.action === 'Accept';
    if (accepted) this.#accepted += hits;
    else this.#rejected += hits;
    if (!flow.byDefault) this.#byPolicy[accepted ? 'accepted' : 'rejected'] += hits;
    const policyKey = `${flow.action}\u0000${flow.policyID}\u0000${flow.byDefault}`;
    const policy = this.#policies.get(policyKey) ?? { id: flow.policyID, name: flow.policyName, action: flow.action, byDefault: flow.byDefault, hits: 0 };
    policy.hits += hits;
    this.#policies.set(policyKey, policy);
    const outcomes = this.#outcomes.get(flow.URI) ?? new Set<string>();
    outcomes.add(flow.action);
    this.#outcomes.set(flow.URI, outcomes);
    const uriKey = `${flow.URI}\u0000${flow.action}`;
    const uri = this.#uris.get(uriKey) ?? { uri: flow.URI, action: flow.action, hits: 0 };
    uri.hits += hits;
    this.#uris.set(uriKey, uri);
    if (flow.user) this.#users.set(flow.user, (this.#users.get(flow.user) ?? 0) + hits);
    if (flow.dropReason) this.#drops.set(flow.dropReason, (this.#drops.get(flow.dropReason) ?? 0) + hits);
    if (flow.source.ip) this.#sourceIPs.add(flow.source.ip);
    if (flow.destination.ip) this.#destinationIPs.add(flow.destination.ip);
    if (flow.destination.port) this.#ports.add(flow.destination.port);
    this.#namespaces.add(flow.namespace);
    this.#first = Math.min(this.#first, flow.firstSeen);
    this.#last = Math.max(this.#last, flow.lastSeen);
  }

  build(): GraphEdge {
    const byHits = <T extends { hits: number }>(a: T, b: T) => b.hits - a.hits;
    return {
      id: this.#id,
      source: this.#source,
      target: this.#target,
      style:
        this.#kind === 'selects'
          ? 'selects'
          : styleOf(
              this.#accepted,
              this.#rejected,
              this.#byPolicy,
              [...this.#outcomes.values()].some((o) => o.size > 1),
            ),
      accepted: this.#accepted,
      rejected: this.#rejected,
      hits: this.#accepted + this.#rejected,
      policies: [...this.#policies.values()].sort(byHits),
      uris: [...this.#uris.values()].sort((a, b) => byHits(a, b) || a.uri.localeCompare(b.uri)),
      users: [...this.#users].map(([name, hits]) => ({ name, hits })).sort(byHits),
      dropReasons: [...this.#drops].map(([reason, hits]) => ({ reason, hits })).sort(byHits),
      sourceIPs: [...this.#sourceIPs].sort(),
      destinationIPs: [...this.#destinationIPs].sort(),
      ports: [...this.#ports].sort((a, b) => a - b),
      namespaces: [...this.#namespaces].sort(),
      firstSeen: Number.isFinite(this.#first) ? this.#first : 0,
      lastSeen: this.#last,
    };
  }
}

/**
 * The Platform view's edges (docs/operations.md, "The console"): green when accepted, red when rejected — solid when a policy
 * decided, dashed when only the namespace default did — and orange when the
 * same request (URI) was both accepted and rejected within the window, which
 * means a policy changed. An edge whose requests differ in outcome (bob's
 * login callback accepted, his GET / refused) is red: something was refused.
 */
export function styleOf(accepted: number, rejected: number, byPolicy: { accepted: number; rejected: number }, sameRequestBoth: boolean): EdgeStyle {
  if (sameRequestBoth) return 'mixed';
  if (rejected > 0) return byPolicy.rejected > 0 ? 'reject-policy' : 'reject-default';
  return byPolicy.accepted > 0 ? 'accept-policy' : 'accept-default';
}

const nouns: Array<[NodeType, string, string]> = [
  ['ProcessingUnit', 'processing unit', 'processing units'],
  ['Service', 'service', 'services'],
  ['ExternalNetwork', 'external network', 'external networks'],
  ['Somewhere', 'unknown address', 'unknown addresses'],
  ['Claims', 'user', 'users'],
];

/** "2 processing units, 1 external network and 5 flows". */
export function summarize(nodes: readonly GraphNode[], edges: readonly GraphEdge[]): string {
  const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  const parts = nouns
    .map(([type, one, many]) => [nodes.filter((n) => n.type === type).length, one, many] as const)
    .filter(([n, one]) => n > 0 || one === 'processing unit')
    .map(([n, one, many]) => count(n, one, many));
  parts.push(count(edges.filter((e) => e.style !== 'selects').length, 'flow', 'flows'));
  return `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`;
}

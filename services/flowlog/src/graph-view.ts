// What the Platform view asks of a graph beyond buildGraph: groups of nodes by tag keys (`$namespace`, then
// `app`, …) and, when the flows were filtered, only the nodes those flows touch. Pure.
import { summarize, type Graph, type GraphEdge, type GraphNode } from './graph.ts';

/** A box drawn around the nodes that share a tag value, inside the box of the previous key's value. */
export interface GraphGroup {
  id: string;
  key: string;
  value: string;
  /** The enclosing group (the previous key), if any. */
  parent?: string;
  /** Nodes inside, at any depth. */
  members: number;
}

export interface GroupedGraph extends Graph {
  nodes: Array<GraphNode & { group?: string }>;
  groups: GraphGroup[];
  /** Every tag key of the nodes (before any filter), for the group-by box to offer. */
  tagKeys: string[];
}

export const MAX_GROUP_KEYS = 3;
/** A tag key as the group-by box takes it: what comes before `=` in a tag (no space, no comma). */
export const TAG_KEY = /^[^=\s,]{1,100}$/;
const MAX_TAG_KEYS = 200;

/** The value of `key` among a node's tags (the first, when several); `$namespace` is also the node's namespace. */
export function tagValue(node: Pick<GraphNode, 'tags' | 'namespace'>, key: string): string | undefined {
  if (key === '$namespace' && node.namespace) return node.namespace;
  const prefix = `${key}=`;
  return node.tags.find((t) => t.startsWith(prefix))?.slice(prefix.length);
}

/**
 * Each node goes into the group of its value for the first key, inside it into the group of its value for
 * the second key, and so on; it stops at the first key it has no tag for (a node without the first key
 * stays outside every group).
 */
export function groupNodes(nodes: readonly GraphNode[], keys: readonly string[]): { nodes: GroupedGraph['nodes']; groups: GraphGroup[] } {
  const groups = new Map<string, GraphGroup>();
  const grouped = nodes.map((node) => {
    let parent: string | undefined;
    for (const key of keys) {
      const value = tagValue(node, key);
      if (value === undefined) break;
      const id = `${parent ?? 'group:'}/${encodeURIComponent(key)}=${encodeURIComponent(value)}`;
      const group = groups.get(id) ?? { id, key, value, ...(parent ? { parent } : {}), members: 0 };
      group.members++;
      groups.set(id, group);
      parent = id;
    }
    return parent ? { ...node, group: parent } : { ...node };
  });
  return { nodes: grouped, groups: [...groups.values()].sort((a, b) => a.id.localeCompare(b.id)) };
}

/** The tag keys of the nodes, sorted, `$namespace` included when a node has a namespace. */
export function tagKeysOf(nodes: readonly GraphNode[]): string[] {
  const keys = new Set<string>();
  for (const node of nodes) {
    if (node.namespace) keys.add('$namespace');
    for (const tag of node.tags) {
      const cut = tag.indexOf('=');
      const key = cut > 0 ? tag.slice(0, cut) : '';
      if (TAG_KEY.test(key)) keys.add(key);
    }
  }
  return [...keys].sort().slice(0, MAX_TAG_KEYS);
}

/**
 * Only the nodes a flow of the graph touches, and the processing units their services select (so a request's
 * path stays whole): what a filtered view shows, rather than everything that exists.
 */
export function keepTouched(nodes: readonly GraphNode[], edges: readonly GraphEdge[]): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const keep = new Set(edges.filter((e) => e.style !== 'selects').flatMap((e) => [e.source, e.target]));
  for (const e of edges) if (e.style === 'selects' && keep.has(e.source)) keep.add(e.target);
  return { nodes: nodes.filter((n) => keep.has(n.id)), edges: edges.filter((e) => keep.has(e.source) && keep.has(e.target)) };
}

/** The graph as the view asked for it: pruned to what filtered flows touch (when filtered), then grouped. */
export function viewOf(graph: Graph, options: { groupBy: readonly string[]; filtered: boolean }): GroupedGraph {
  const tagKeys = tagKeysOf(graph.nodes);
  const { nodes, edges } = options.filtered ? keepTouched(graph.nodes, graph.edges) : graph;
  const grouped = groupNodes(nodes, options.groupBy);
  return { ...graph, nodes: grouped.nodes, edges: [...edges], groups: grouped.groups, tagKeys, summary: summarize(nodes, edges) };
}

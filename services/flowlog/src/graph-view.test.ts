// Unit: the Platform view's groups by tag keys, the tag keys offered, and the graph pruned to what filtered
// flows touch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGraph, emptyInventory, type GraphEdge, type GraphNode, type Inventory } from './graph.ts';
import { groupNodes, keepTouched, tagKeysOf, tagValue, viewOf } from './graph-view.ts';
import type { StoredFlow } from './records.ts';

const B = '/acme/team-b';
const C = '/acme/team-c';

function node(id: string, namespace: string, tags: string[], type: GraphNode['type'] = 'ProcessingUnit'): GraphNode {
  return { id, type, name: id, namespace, tags, details: {}, accepted: 0, rejected: 0 };
}

const web = node('web', B, ['app=shop', 'tier=front', `$namespace=${B}`]);
const api = node('api', B, ['app=shop', 'tier=back']);
const db = node('db', C, ['app=store']);
const alice = node('user:alice', '', [], 'Claims');

test('tagValue: the first tag of the key; $namespace is the namespace; = inside values kept', () => {
  assert.equal(tagValue(web, 'app'), 'shop');
  assert.equal(tagValue(api, '$namespace'), B, 'from the namespace when there is no tag');
  assert.equal(tagValue(node('x', B, ['k=a=b', 'k=c']), 'k'), 'a=b');
  assert.equal(tagValue(web, 'ap'), undefined, 'a prefix of a key is not the key');
  assert.equal(tagValue(alice, '$namespace'), undefined);
});

test('groupNodes: one key, one group per value; nodes without the key stay outside', () => {
  const { nodes, groups } = groupNodes([web, api, db, alice], ['app']);
  assert.deepEqual(
    groups.map((g) => [g.key, g.value, g.parent, g.members]),
    [
      ['app', 'shop', undefined, 2],
      ['app', 'store', undefined, 1],
    ],
  );
  const groupOf = Object.fromEntries(nodes.map((n) => [n.id, n.group]));
  assert.equal(groupOf.web, groupOf.api);
  assert.notEqual(groupOf.web, groupOf.db);
  assert.equal(groupOf['user:alice'], undefined);
});

test('groupNodes: $namespace then app nests; a node stops at the first key it lacks', () => {
  const lone = node('lone', C, []);
  const { nodes, groups } = groupNodes([web, api, db, lone, alice], ['$namespace', 'app']);
  const byId = new Map(groups.map((g) => [g.id, g]));
  const path = (id: string) => {
    const out: string[] = [];
    for (let g = byId.get(nodes.find((n) => n.id === id)!.group ?? ''); g; g = g.parent ? byId.get(g.parent) : undefined) out.unshift(`${g.key}=${g.value}`);
    return out;
  };
  assert.deepEqual(path('web'), [`$namespace=${B}`, 'app=shop']);
  assert.deepEqual(path('db'), [`$namespace=${C}`, 'app=store']);
  assert.deepEqual(path('lone'), [`$namespace=${C}`], 'no app: in its namespace only');
  assert.deepEqual(path('user:alice'), []);
  const groupOf = (id: string) => nodes.find((n) => n.id === id)!.group!;
  assert.equal(byId.get(groupOf('db'))!.parent, groupOf('lone'), "db's app group sits in the namespace group lone is in");
  assert.deepEqual(
    groups.filter((g) => !g.parent).map((g) => [g.value, g.members]),
    [
      [B, 2],
      [C, 2],
    ],
  );
});

test('groupNodes: values that look like markup or ids stay data; group ids differ for different values', () => {
  const a = node('a', B, ['app=<script>alert(1)</script>']);
  const b = node('b', B, ['app="onmouseover="x']);
  const c = node('c', B, ['app=x/y']);
  const d = node('d', B, ['app=x%2Fy']);
  const { groups } = groupNodes([a, b, c, d], ['app']);
  assert.deepEqual(groups.map((g) => g.value).sort(), ['"onmouseover="x', '<script>alert(1)</script>', 'x%2Fy', 'x/y']);
  assert.equal(new Set(groups.map((g) => g.id)).size, 4);
});

test('tagKeysOf: every key, sorted, $namespace when a node has a namespace', () => {
  assert.deepEqual(tagKeysOf([web, api, db, alice]), ['$namespace', 'app', 'tier']);
  assert.deepEqual(tagKeysOf([alice]), []);
});

test('keepTouched: the ends of the flows and the processing units their services select', () => {
  const edge = (source: string, target: string, style: GraphEdge['style'] = 'accept-policy') =>
    ({ id: `${source}->${target}`, source, target, style }) as GraphEdge;
  const svc = node('svc', B, [], 'Service');
  const idle = node('idle', B, []);
  const { nodes, edges } = keepTouched(
    [alice, svc, web, api, idle],
    [edge('user:alice', 'svc'), edge('svc', 'web', 'selects'), edge('svc', 'idle', 'selects')],
  );
  assert.deepEqual(
    nodes.map((n) => n.id),
    ['user:alice', 'svc', 'web', 'idle'],
  );
  assert.equal(edges.length, 3);
  assert.deepEqual(keepTouched([web, api], []).nodes, [], 'no flow: nothing');
});

test('viewOf: filtered graphs keep what flows touch, with their summary; tag keys come from every node', () => {
  const inventory: Inventory = {
    ...emptyInventory(),
    processingUnits: [
      { id: 'pu-1', name: 'web', namespace: B, tags: ['app=shop'], address: '10.0.0.1', status: 'Running', lastSeenMs: 0 },
      { id: 'pu-2', name: 'idle', namespace: B, tags: ['team=x'], address: '10.0.0.2', status: 'Running', lastSeenMs: 0 },
    ],
  };
  const flow: StoredFlow = {
    namespace: B,
    source: { type: 'Claims', id: 'alice', name: 'alice', ip: '203.0.113.7', namespace: '' },
    destination: { type: 'ProcessingUnit', id: 'web', name: 'web', ip: '10.0.0.1', port: 80, namespace: B },
    serviceID: '',
    URI: 'GET /',
    action: 'Accept',
    dropReason: '',
    policyID: '',
    policyName: '',
    byDefault: false,
    user: 'alice',
    minute: 0,
    count: 1,
    firstSeen: 1,
    lastSeen: 2,
  };
  const graph = buildGraph(inventory, [flow], { from: 0, to: 60_000 }, 0);
  const all = viewOf(graph, { groupBy: ['app'], filtered: false });
  assert.deepEqual(
    all.nodes.map((n) => [n.id, n.group]),
    [
      [`pu:${B}/idle`, undefined],
      [`pu:${B}/web`, 'group:/app=shop'],
      ['user:alice', undefined],
    ],
  );
  assert.equal(all.nodes.find((n) => n.name === 'web')!.objectID, 'pu-1');
  const filtered = viewOf(graph, { groupBy: [], filtered: true });
  assert.deepEqual(
    filtered.nodes.map((n) => n.id),
    [`pu:${B}/web`, 'user:alice'],
  );
  assert.equal(filtered.summary, '1 processing unit, 1 user and 1 flow');
  assert.deepEqual(filtered.tagKeys, ['$namespace', 'app', 'team'], 'keys of every node, filtered or not');
  assert.deepEqual(filtered.groups, []);
});

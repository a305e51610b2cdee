// svc.policy.v1.inventory: what exists in a namespace subtree, for the
// Platform view — a processing unit appears as soon as it is registered, before
// it has any traffic, with the policies and namespace defaults that apply to it.
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Bus } from '@microseg/bus';
import { isNamespacePath, requests, withinSelection, withinSubtree, type TagExpression } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import type { InventoryResponseSchema } from '@microseg/proto/policy';
import { appliesIn, systemTags, type Snapshot } from '../snapshot.ts';
import { namespaceDefault, namespacePath } from '../network/evaluate.ts';
import type { ObjectStore } from '../store.ts';

type Inventory = MessageInitShape<typeof InventoryResponseSchema>;

const clauses = (expression: TagExpression) => expression.map((tags) => ({ tags: [...tags] }));

/**
 * The objects of `namespace` (and, when `recursive`, of its children), plus the
 * external networks and network policies in force there: their own and those
 * propagated from ancestors.
 */
export function inventoryOf(snapshot: Snapshot, namespace: string, recursive: boolean): Inventory {
  const inScope = (ns: string) => withinSelection(ns, namespace, recursive);
  const inForce = (object: { namespace: string; propagate: boolean }) => inScope(object.namespace) || appliesIn(object.namespace, object.propagate, namespace);
  const byName = <T extends { namespace: string; name: string }>(a: T, b: T) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name);

  const processingUnits = snapshot.processingUnits.filter((pu) => inScope(pu.namespace)).sort(byName);
  const services = [...snapshot.services.values()].filter((s) => inScope(s.namespace)).sort(byName);
  const paths = new Set<string>([namespace]);
  if (recursive) {
    for (const ns of snapshot.namespaces) if (withinSubtree(namespacePath(ns), namespace)) paths.add(namespacePath(ns));
    for (const o of [...processingUnits, ...services]) paths.add(o.namespace);
  }

  return {
    revision: BigInt(snapshot.revision),
    processingUnits: processingUnits.map((pu) => ({
      id: pu.ID,
      name: pu.name,
      namespace: pu.namespace,
      tags: systemTags(pu),
      address: pu.address,
      status: pu.status,
      lastSeenMs: BigInt(pu.lastSeen ? Date.parse(pu.lastSeen) || 0 : 0),
      gatewayId: pu.gatewayID ?? '',
    })),
    services: services.map((s) => ({
      id: s.ID,
      name: s.name,
      namespace: s.namespace,
      hosts: [...s.hosts],
      exposedPort: s.exposedPort,
      port: s.port,
      authorizationType: s.authorizationType,
      disabled: s.disabled,
      processingUnits: snapshot.processingUnitsOf(s).map((pu) => pu.name),
      tags: systemTags(s),
    })),
    externalNetworks: snapshot.externalNetworks
      .filter(inForce)
      .sort(byName)
      .map((n) => ({
        id: n.ID,
        name: n.name,
        namespace: n.namespace,
        entries: [...n.entries],
        servicePorts: [...n.servicePorts],
        tags: systemTags(n),
        propagate: n.propagate,
      })),
    networkPolicies: snapshot.networkPolicies
      .filter(inForce)
      .sort(byName)
      .map((p) => ({
        id: p.ID,
        name: p.name,
        namespace: p.namespace,
        subject: clauses(p.subject),
        object: clauses(p.object),
        action: p.action,
        applyPolicyMode: p.applyPolicyMode,
        logsEnabled: p.logsEnabled,
        disabled: p.disabled,
        propagate: p.propagate,
      })),
    namespaces: [...paths].sort().map((path) => {
      const incoming = namespaceDefault(snapshot.namespaces, path, 'incoming');
      const outgoing = namespaceDefault(snapshot.namespaces, path, 'outgoing');
      return {
        path,
        incomingDefault: incoming.action,
        outgoingDefault: outgoing.action,
        incomingDecidedBy: incoming.decidedBy,
        outgoingDecidedBy: outgoing.decidedBy,
      };
    }),
  };
}

export function serveInventory(bus: Pick<Bus, 'serve'>, store: Pick<ObjectStore, 'snapshot'>): void {
  bus.serve(requests.policyInventory, (req) => {
    if (!isNamespacePath(req.namespace)) throw new MicrosegError('BAD_REQUEST', 'the namespace must be a path such as /acme/team-b');
    return inventoryOf(store.snapshot, req.namespace, req.recursive);
  });
}

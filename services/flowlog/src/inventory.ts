// What exists in a namespace subtree, for the Platform graph: the policy service answers
// svc.policy.v1.inventory. Without it the graph still draws what the flows show, with a warning saying what
// is missing — a processing unit without traffic does not appear then.
import type { Bus } from '@microseg/bus';
import { BusRequestError } from '@microseg/bus';
import { requests } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import type { InventoryResponse } from '@microseg/proto/policy';
import { emptyInventory, type Inventory } from './graph.ts';

export type InventoryAsker = (namespace: string, recursive: boolean) => Promise<{ value: Inventory; warning?: string }>;

export function askInventory(bus: Pick<Bus, 'request'>, timeoutMs: number): InventoryAsker {
  return async (namespace, recursive) => {
    let reply: InventoryResponse;
    try {
      reply = await bus.request(requests.policyInventory, { namespace, recursive }, timeoutMs);
    } catch (err) {
      if (err instanceof MicrosegError) return { value: emptyInventory(), warning: `The policy service could not list the objects: ${err.message}` };
      if (!(err instanceof BusRequestError)) throw err;
      return { value: emptyInventory(), warning: 'The policy service did not answer: only parties seen in flows are shown, not those without traffic.' };
    }
    return { value: inventoryFrom(reply) };
  };
}

/** The policy service's answer as the graph takes it. Pure. */
export function inventoryFrom(reply: InventoryResponse): Inventory {
  return {
    processingUnits: reply.processingUnits.map((p) => ({
      id: p.id,
      name: p.name,
      namespace: p.namespace,
      tags: [...p.tags],
      address: p.address,
      status: p.status,
      lastSeenMs: Number(p.lastSeenMs),
    })),
    services: reply.services.map((s) => ({
      id: s.id,
      name: s.name,
      namespace: s.namespace,
      hosts: [...s.hosts],
      exposedPort: s.exposedPort,
      port: s.port,
      authorizationType: s.authorizationType,
      disabled: s.disabled,
      processingUnits: [...s.processingUnits],
      tags: [...s.tags],
    })),
    externalNetworks: reply.externalNetworks.map((n) => ({
      id: n.id,
      name: n.name,
      namespace: n.namespace,
      entries: [...n.entries],
      servicePorts: [...n.servicePorts],
      tags: [...n.tags],
    })),
    networkPolicies: reply.networkPolicies.map((p) => ({
      id: p.id,
      name: p.name,
      namespace: p.namespace,
      subject: p.subject.map((c) => [...c.tags]),
      object: p.object.map((c) => [...c.tags]),
      action: p.action,
      applyPolicyMode: p.applyPolicyMode,
      logsEnabled: p.logsEnabled,
      disabled: p.disabled,
      propagate: p.propagate,
    })),
    namespaces: reply.namespaces.map((n) => ({
      path: n.path,
      incomingDefault: n.incomingDefault,
      outgoingDefault: n.outgoingDefault,
      incomingDecidedBy: n.incomingDecidedBy,
      outgoingDecidedBy: n.outgoingDecidedBy,
    })),
  };
}

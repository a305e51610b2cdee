// Whether each service is served, and if not why: what its editors see on the object (`servingStatus`,
// `servingProblems`) beside the Error event that said so once. A service that cannot be served — its ports
// not allowed by its processing unit's gateway, its port and host taken by an older service, a secret this
// replica cannot open, a problem its gateway reported (a port it cannot bind, a certificate it cannot load)
// — is reported there and never keeps the gateway from serving everything else.
import type { ProcessingUnitObject, ServiceObject } from '@microseg/contracts';
import { routesFor } from './routes.ts';
import { selects, type Snapshot } from './snapshot.ts';

export type ServingStatus = 'Served' | 'NotServed' | 'NoProcessingUnit' | 'Disabled';

export interface ServiceStatus {
  servingStatus: ServingStatus;
  servingProblems: string[];
}

/** Problems this replica cannot open secrets of, by service ID (secret-health.ts). */
export type UnreadableFields = (service: ServiceObject) => string[];

const computed = new WeakMap<Snapshot, Map<string, ServiceStatus>>();

/** Every service's status in one snapshot (computed once per snapshot). */
export function serviceStatuses(snapshot: Snapshot, unreadable: UnreadableFields): Map<string, ServiceStatus> {
  let statuses = computed.get(snapshot);
  if (statuses) return statuses;
  statuses = new Map();
  const problems = new Map<string, string[]>();
  const add = (id: string, message: string) => {
    const list = problems.get(id) ?? [];
    if (!list.includes(message)) list.push(message);
    problems.set(id, list);
  };
  // What each gateway is sent: routesFor over the units it registered, as at its sync.
  const byGateway = new Map<string, ProcessingUnitObject[]>();
  for (const pu of snapshot.processingUnits) byGateway.set(pu.gatewayID ?? '', [...(byGateway.get(pu.gatewayID ?? '') ?? []), pu]);
  const routed = new Set<string>();
  for (const units of byGateway.values()) {
    const routes = routesFor(
      snapshot,
      units,
      (kept, dropped, port, host) =>
        add(
          dropped.ID,
          `exposedPort ${port} with host ${host} is already served by an older service${kept.namespace === dropped.namespace ? ` (${kept.name})` : ''}; choose another host or port`,
        ),
      (service, pu, problem) => add(service.ID, `${problem.attribute} ${problem.message}`),
    );
    for (const r of routes) routed.add(r.id!);
    // What the gateway itself could not do with its routes (it reports them at every sync) — only for services
    // it fronts: a gateway cannot put words on another tenant's service.
    for (const pu of units) {
      for (const p of pu.serviceProblems ?? []) {
        const service = snapshot.services.get(p.serviceID);
        if (service && selects(service, pu)) add(p.serviceID, `gateway ${pu.gatewayID ?? ''}: ${p.message}`);
      }
    }
  }
  for (const service of snapshot.services.values()) {
    for (const field of unreadable(service)) add(service.ID, `${field} cannot be opened by the policy service (msctl secrets status says why and what to do)`);
    const messages = problems.get(service.ID) ?? [];
    const status: ServingStatus = service.disabled ? 'Disabled' : messages.length > 0 ? 'NotServed' : routed.has(service.ID) ? 'Served' : 'NoProcessingUnit';
    statuses.set(service.ID, {
      servingStatus: status,
      servingProblems: status === 'NoProcessingUnit' ? ['it selects no running processing unit of a gateway: check its selectors'] : messages,
    });
  }
  computed.set(snapshot, statuses);
  return statuses;
}

// The two flows microseg enforces (SPEC §7), seen from the service's
// processing unit: browsers coming in, and authn's calls to the IdP going out.
import type { ProcessingUnitObject, ServiceObject } from '@microseg/contracts';
import { systemTags, type Snapshot } from '../snapshot.ts';
import { evaluateFlow, type FlowVerdict } from './evaluate.ts';

/** The unit that stands for the service; a placeholder in its namespace when none is registered yet. */
function unitOf(snapshot: Snapshot, service: ServiceObject): ProcessingUnitObject {
  return (
    snapshot.processingUnitsOf(service)[0] ?? {
      kind: 'processingunit',
      ID: '',
      name: `${service.name} (no processing unit)`,
      namespace: service.namespace,
      associatedTags: [],
      propagate: false,
      address: '',
      status: 'Running',
    }
  );
}

const objectsOf = (snapshot: Snapshot) => ({
  namespaces: snapshot.namespaces,
  externalNetworks: snapshot.externalNetworks,
  policies: snapshot.networkPolicies,
});

export function checkIncoming(snapshot: Snapshot, service: ServiceObject, clientIp: string): FlowVerdict {
  const pu = unitOf(snapshot, service);
  return evaluateFlow(objectsOf(snapshot), {
    source: { type: 'External', ip: clientIp },
    destination: { type: 'ProcessingUnit', tags: systemTags(pu), namespace: pu.namespace },
    protocol: 'tcp',
    port: service.exposedPort,
    enforcedAt: 'destination',
  });
}

export function checkOutgoing(
  snapshot: Snapshot,
  service: ServiceObject,
  target: { host: string; ip: string; port: number; protocol: 'tcp' | 'udp' },
): { verdict: FlowVerdict; processingUnit: ProcessingUnitObject } {
  const pu = unitOf(snapshot, service);
  const verdict = evaluateFlow(objectsOf(snapshot), {
    source: { type: 'ProcessingUnit', tags: systemTags(pu), namespace: pu.namespace },
    destination: { type: 'External', host: target.host || undefined, ip: target.ip || undefined },
    protocol: target.protocol,
    port: target.port,
    enforcedAt: 'source',
  });
  return { verdict, processingUnit: pu };
}

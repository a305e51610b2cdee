// Every change made through the API is an audit event in the object's namespace (objectCreated, …): what,
// where, and by which token (its name, never the token).
import type { Bus } from '@microseg/bus';
import type { Principal } from './tokens.ts';

const kinds = { created: 'objectCreated', updated: 'objectUpdated', deleted: 'objectDeleted' } as const;

export type ChangeVerb = keyof typeof kinds;

export type ChangeAudit = (by: Principal | undefined, verb: ChangeVerb, object: { kind: string; ID: string; name: string; namespace: string }) => void;

export function changeAudit(bus: Pick<Bus, 'emitEvent'>): ChangeAudit {
  return (by, verb, object) =>
    bus.emitEvent(kinds[verb], {
      title: `${object.kind} ${verb}`,
      content: `${object.kind} ${object.name} was ${verb} in ${object.namespace} by token ${by?.name ?? 'unknown'}.`,
      targetIdentity: object.kind,
      targetId: object.ID,
      namespace: object.namespace,
    });
}

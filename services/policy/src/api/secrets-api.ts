// Secrets at rest through the API:
//   GET  /secrets         which secrets of the namespace subtree cannot be decrypted (and the fix),
//                         and which are sealed with an older key or format (any role)
//   POST /secrets/reseal  seal every secret again with the current key (an admin token of /)
// Re-sealing writes each object with compare-and-set on its revision: an edit made meanwhile is
// kept, and that object is reported as changed concurrently (run the re-seal again).
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Bus } from '@microseg/bus';
import { subjects, type PolicyObject } from '@microseg/contracts';
import { LogEventSchema } from '@microseg/proto/events';
import { resealObject, type SecretBox } from '../secrets.ts';
import { secretHealth } from '../secret-health.ts';
import { StoreConflict, type ObjectStore } from '../store.ts';
import { allows, withinSubtree } from './tokens.ts';

export interface SecretsApiDeps {
  store: ObjectStore;
  secrets: SecretBox;
  bus: Bus;
}

interface ObjectRef {
  kind: string;
  ID: string;
  namespace: string;
  name: string;
}

const refOf = (o: ObjectRef): ObjectRef => ({ kind: o.kind, ID: o.ID, namespace: o.namespace, name: o.name });

function refuse(reply: FastifyReply, message: string) {
  return reply.code(403).send({ code: 'FORBIDDEN', message });
}

/** Objects that can hold secrets, in a namespace subtree. */
function objectsIn(store: ObjectStore, root: string): PolicyObject[] {
  return store.snapshot.objects
    .filter((o) => o.kind === 'service' && withinSubtree(o.namespace, root))
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

export function registerSecretRoutes(app: FastifyInstance, deps: SecretsApiDeps): void {
  const { store, secrets, bus } = deps;

  app.get('/secrets', async (req, reply) => {
    const principal = req.principal!;
    const namespace = req.namespace!;
    if (!withinSubtree(namespace, principal.namespace)) return refuse(reply, `the token ${principal.name} is limited to ${principal.namespace} and cannot act on ${namespace}`);
    const { unreadable, stale } = secretHealth(secrets, objectsIn(store, namespace));
    return { namespace, keyId: secrets.currentKeyId, keyIds: secrets.keyIds, unreadable, stale };
  });

  app.post('/secrets/reseal', async (req, reply) => {
    const principal = req.principal!;
    if (principal.namespace !== '/' || !allows(principal.role, 'admin')) {
      return refuse(reply, `re-sealing covers every namespace: it needs an admin token of /, and ${principal.name} is a ${principal.role} of ${principal.namespace}`);
    }
    const done: Array<ObjectRef & { fields: string[] }> = [];
    const conflicts: ObjectRef[] = [];
    const { unreadable, stale } = secretHealth(secrets, objectsIn(store, '/'));
    const staleIds = new Set(stale.map((s) => s.ID));
    for (const candidate of objectsIn(store, '/').filter((o) => staleIds.has(o.ID))) {
      const entry = store.entry(candidate.kind, candidate.ID);
      if (!entry) continue;
      const { object, fields } = resealObject(secrets, entry.object);
      if (fields.length === 0) continue;
      try {
        await store.replace(object, entry.revision);
        done.push({ ...refOf(object), fields });
        audit(bus, req, object, `${fields.join(' and ')} of the ${object.kind} ${object.name} in ${object.namespace} sealed again with key ${secrets.currentKeyId} by token ${principal.name}.`);
      } catch (err) {
        if (!(err instanceof StoreConflict)) throw err;
        conflicts.push(refOf(object));
      }
    }
    audit(bus, req, { kind: 'secrets', ID: '', namespace: '/' }, `Secrets re-sealed with key ${secrets.currentKeyId} by token ${principal.name}: ${done.length} object(s) re-sealed, ${conflicts.length} changed meanwhile (run the re-seal again), ${unreadable.length} secret(s) cannot be decrypted (msctl secrets status).`);
    return { keyId: secrets.currentKeyId, resealed: done, conflicts, unreadable };
  });
}

function audit(bus: Bus, req: FastifyRequest, object: { kind: string; ID: string; namespace: string }, content: string): void {
  bus.emitEvent('secretsResealed', { content, targetIdentity: object.kind, targetId: object.ID || (req.principal?.tokenID ?? ''), namespace: object.namespace });
}

// Secrets at rest through the API:
//   GET  /secrets         which secrets of the namespace subtree cannot be decrypted (and the fix),
//                         and which are sealed with an older key or format (any role)
//   POST /secrets/reseal  seal every secret again with the current key (an admin token of /)
// Re-sealing writes each object with compare-and-set on its revision: an edit made meanwhile is
// kept, and that object is reported as changed concurrently (run the re-seal again).
import type { FastifyPluginAsync } from 'fastify';
import type { Bus } from '@microseg/bus';
import { withinSubtree, type PolicyObject } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import { resealObject, type SecretBox } from '../../secrets.ts';
import { secretHealth } from '../../secret-health.ts';
import { StoreConflict, type ObjectStore } from '../../store.ts';
import type { ObjectReads } from '../object-rules.ts';
import { allows, type Principal } from '../tokens.ts';
import { callerOf, requireAccess } from './auth.ts';

export interface SecretsOptions {
  store: ObjectReads & Pick<ObjectStore, 'replace'>;
  secrets: SecretBox;
  bus: Pick<Bus, 'emitEvent'>;
}

interface ObjectRef {
  kind: string;
  ID: string;
  namespace: string;
  name: string;
}

const refOf = (o: ObjectRef): ObjectRef => ({ kind: o.kind, ID: o.ID, namespace: o.namespace, name: o.name });

/** Objects that can hold secrets, in a namespace subtree. */
function objectsIn(store: ObjectReads, root: string): PolicyObject[] {
  return store.snapshot.objects
    .filter((o) => o.kind === 'service' && withinSubtree(o.namespace, root))
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

export const secretRoutes: FastifyPluginAsync<SecretsOptions> = async (api, { store, secrets, bus }) => {
  const audit = (by: Principal, object: { kind: string; ID: string; namespace: string }, content: string) =>
    bus.emitEvent('secretsResealed', { content, targetIdentity: object.kind, targetId: object.ID || by.tokenID, namespace: object.namespace });

  api.get('/secrets', async (req) => {
    // Any role: which secrets are unreadable says nothing of their values.
    const { namespace } = requireAccess(req, 'read');
    const { unreadable, stale } = secretHealth(secrets, objectsIn(store, namespace));
    return { namespace, keyId: secrets.currentKeyId, keyIds: secrets.keyIds, unreadable, stale };
  });

  api.post('/secrets/reseal', async (req) => {
    const { principal } = callerOf(req);
    if (principal.namespace !== '/' || !allows(principal.role, 'admin')) {
      throw new MicrosegError(
        'FORBIDDEN',
        `re-sealing covers every namespace: it needs an admin token of /, and ${principal.name} is a ${principal.role} of ${principal.namespace}`,
      );
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
        audit(
          principal,
          object,
          `${fields.join(' and ')} of the ${object.kind} ${object.name} in ${object.namespace} sealed again with key ${secrets.currentKeyId} by token ${principal.name}.`,
        );
      } catch (err) {
        if (!(err instanceof StoreConflict)) throw err;
        conflicts.push(refOf(object));
      }
    }
    audit(
      principal,
      { kind: 'secrets', ID: '', namespace: '/' },
      `Secrets re-sealed with key ${secrets.currentKeyId} by token ${principal.name}: ${done.length} object(s) re-sealed, ${conflicts.length} changed meanwhile (run the re-seal again), ${unreadable.length} secret(s) cannot be decrypted (msctl secrets status).`,
    );
    return { keyId: secrets.currentKeyId, resealed: done, conflicts, unreadable };
  });
};

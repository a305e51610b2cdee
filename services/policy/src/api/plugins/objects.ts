// The objects of a namespace (SPEC §2, §9): list, create, read, replace (PUT), merge (PATCH) and delete under
// `/<plural>` and `/<plural>/<ID or name>`. Bodies are validated by objects/schema.ts, which names every bad
// attribute; reads answer an ETag (the object's revision) and writes honour If-Match; write-only fields are
// sealed at rest and never shown. Every change is audited and announced to the gateways before the answer.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { PolicyObject } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import { stableObjectId } from '../../objects/import-file.ts';
import { validateObject } from '../../objects/schema.ts';
import { publicView, sealObject, type SecretBox } from '../../secrets.ts';
import { StoreConflict, type ObjectStore } from '../../store.ts';
import type { ChangeAudit } from '../change-audit.ts';
import {
  findObject,
  keepWriteOnly,
  kindOf,
  listObjects,
  refuseDisallowedPorts,
  refuseProcessingUnitWrite,
  resolvedNamespaceObject,
  sameNamespaceName,
  sealedInputErrors,
  shown,
  stamp,
  validationFailed,
  type ObjectReads,
  type ServiceStatusOf,
} from '../object-rules.ts';
import { ifMatchHeaders, kindParams, listQuery, objectParams, parsePart } from '../request-schemas.ts';
import { requireAccess } from './auth.ts';

export interface ObjectsOptions {
  store: ObjectReads & Pick<ObjectStore, 'create' | 'replace' | 'remove'>;
  secrets: SecretBox;
  audit: ChangeAudit;
  /** Tell gateways and authn of the change; resolves once it is sent (changes.ts). */
  announce: (revision: number) => Promise<void>;
  serviceStatus?: ServiceStatusOf;
}

export const objectRoutes: FastifyPluginAsync<ObjectsOptions> = async (api, { store, secrets, audit, announce, serviceStatus }) => {
  const send = (reply: FastifyReply, status: number, object: PolicyObject, revision: number) =>
    reply.code(status).header('etag', `"${revision}"`).send(shown(object, serviceStatus));
  const announceNow = () => announce(store.snapshot.revision);

  api.get('/:plural', async (req) => {
    const kind = kindOf(parsePart(kindParams, req.params).plural);
    const { namespace } = requireAccess(req, 'read');
    const { recursive } = parsePart(listQuery, req.query);
    return listObjects(store.snapshot, kind, namespace, recursive).map((o) => shown(o, serviceStatus));
  });

  api.post('/:plural', async (req, reply) => {
    const kind = kindOf(parsePart(kindParams, req.params).plural);
    const { principal, namespace } = requireAccess(req, 'write');
    refuseProcessingUnitWrite(kind);
    const result = validateObject(kind, { ...(req.body as object), namespace });
    const sealed = sealedInputErrors(req.body);
    if (!result.ok || sealed.length > 0) throw validationFailed([...sealed, ...(result.ok ? [] : result.errors)]);
    refuseDisallowedPorts(store.snapshot, kind, result.value);
    const value = kind === 'namespace' ? resolvedNamespaceObject(result.value as { name: string }, namespace) : (result.value as { name: string });
    const now = new Date().toISOString();
    const object = { ...value, kind, namespace, ID: stableObjectId(kind, namespace, value.name), createTime: now, updateTime: now } as unknown as PolicyObject;
    let revision: number;
    try {
      revision = await store.create(sealObject(secrets, object));
    } catch (err) {
      if (err instanceof StoreConflict)
        throw new MicrosegError('CONFLICT', `a ${kind} named ${value.name} exists in ${namespace}; update it or choose another name`);
      throw err;
    }
    audit(principal, 'created', object);
    await announceNow();
    return send(reply, 201, object, revision);
  });

  api.get('/:plural/:id', async (req, reply) => {
    const { plural, id } = parsePart(objectParams, req.params);
    const kind = kindOf(plural);
    const { namespace } = requireAccess(req, 'read');
    const { object, revision } = findObject(store, kind, namespace, id);
    return send(reply, 200, object, revision);
  });

  /** PUT replaces the object; PATCH merges the body into it. */
  const replace = (merge: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
    const { plural, id } = parsePart(objectParams, req.params);
    const kind = kindOf(plural);
    const { principal, namespace } = requireAccess(req, 'write');
    refuseProcessingUnitWrite(kind);
    const expected = parsePart(ifMatchHeaders, req.headers)['if-match'];
    const existing = findObject(store, kind, namespace, id);
    if (expected !== undefined && expected !== existing.revision)
      throw new MicrosegError(
        'PRECONDITION_FAILED',
        `the ${kind} changed since you read it (ETag "${existing.revision}", not "${expected}"); read it again and retry`,
      );
    const body = (req.body ?? {}) as Record<string, unknown>;
    const input: Record<string, unknown> = merge ? { ...publicView(existing.object), ...body } : body;
    // The older protocols + ports form in a patch replaces the stored servicePorts.
    if (merge && (body.protocols !== undefined || body.ports !== undefined) && body.servicePorts === undefined) delete input.servicePorts;
    if (input.name !== undefined && input.name !== existing.object.name && !sameNamespaceName(kind, input.name, existing.object)) {
      throw validationFailed([{ attribute: 'name', message: 'cannot change; create an object with the new name and delete this one' }]);
    }
    // Write-only fields are never read back: one left out keeps its stored (sealed) value, also for validation.
    const complete = keepWriteOnly({ ...input, name: existing.object.name, namespace: existing.object.namespace } as unknown as PolicyObject, existing.object);
    const result = validateObject(kind, complete);
    const sealed = sealedInputErrors(body);
    if (!result.ok || sealed.length > 0) throw validationFailed([...sealed, ...(result.ok ? [] : result.errors)]);
    refuseDisallowedPorts(store.snapshot, kind, result.value);
    // An object stored before names were resolved is checked again: it cannot be kept pointing at another namespace.
    if (kind === 'namespace') resolvedNamespaceObject(result.value as { name: string }, existing.object.namespace);
    const object = stamp({ ...result.value, kind, ID: existing.object.ID } as unknown as PolicyObject, existing.object);
    let revision: number;
    try {
      revision = await store.replace(sealObject(secrets, object, existing.object), expected ?? existing.revision);
    } catch (err) {
      if (err instanceof StoreConflict)
        throw new MicrosegError('PRECONDITION_FAILED', `the ${kind} changed while it was being updated; read it again and retry`);
      throw err;
    }
    audit(principal, 'updated', object);
    await announceNow();
    return send(reply, 200, object, revision);
  };
  api.put('/:plural/:id', replace(false));
  api.patch('/:plural/:id', replace(true));

  api.delete('/:plural/:id', async (req) => {
    const { plural, id } = parsePart(objectParams, req.params);
    const kind = kindOf(plural);
    // A processing unit its gateway no longer fronts can be removed by an administrator; its gateway registers it again if it still does.
    const { principal, namespace } = requireAccess(req, kind === 'processingunit' ? 'admin' : 'write');
    const expected = parsePart(ifMatchHeaders, req.headers)['if-match'];
    const existing = findObject(store, kind, namespace, id);
    if (expected !== undefined && expected !== existing.revision)
      throw new MicrosegError('PRECONDITION_FAILED', `the ${kind} changed since you read it; read it again and retry`);
    try {
      await store.remove(kind, existing.object.ID, existing.revision);
    } catch (err) {
      if (err instanceof StoreConflict)
        throw new MicrosegError('PRECONDITION_FAILED', `the ${kind} changed while it was being deleted; read it again and retry`);
      throw err;
    }
    audit(principal, 'deleted', existing.object);
    await announceNow();
    return publicView(existing.object);
  });
};

// Many objects at once (SPEC §9): `POST /import` writes an import document (objects/import-file.ts) all or
// nothing — every object is checked before the first is written — and `GET /export` answers one that
// `msctl api import` takes back: write-only fields left out (an import keeps the stored ones), no IDs or times.
import type { FastifyPluginAsync } from 'fastify';
import { objectKinds, pluralOf, type PolicyObject } from '@microseg/contracts';
import { ImportError, importObjects } from '../../objects/import-file.ts';
import { publicView, sealObject, type SecretBox } from '../../secrets.ts';
import type { ObjectStore } from '../../store.ts';
import type { ChangeAudit } from '../change-audit.ts';
import {
  keepWriteOnly,
  listObjects,
  refuseDisallowedPorts,
  refuseProcessingUnitWrite,
  resolvedNamespaceObject,
  sealedInputErrors,
  stamp,
  validationFailed,
  withStoredWriteOnly,
  type ObjectReads,
} from '../object-rules.ts';
import { listQuery, parsePart } from '../request-schemas.ts';
import { requireAccess } from './auth.ts';

export interface ImportExportOptions {
  store: ObjectReads & Pick<ObjectStore, 'replace'>;
  secrets: SecretBox;
  audit: ChangeAudit;
  announce: (revision: number) => Promise<void>;
}

export const importExportRoutes: FastifyPluginAsync<ImportExportOptions> = async (api, { store, secrets, audit, announce }) => {
  api.post('/import', async (req) => {
    const { principal, namespace } = requireAccess(req, 'write');
    // Client input only: the stored (sealed) values filled in below are not input.
    const sealed = sealedInputErrors(req.body);
    let objects: PolicyObject[];
    try {
      objects = importObjects(withStoredWriteOnly(store, req.body, namespace), 'import', namespace);
    } catch (err) {
      if (err instanceof ImportError) throw validationFailed([...sealed, ...err.errors]);
      throw err;
    }
    if (sealed.length > 0) throw validationFailed(sealed);
    for (const o of objects) requireAccess(req, 'write', { namespace: o.namespace });
    for (const o of objects) refuseProcessingUnitWrite(o.kind);
    for (const o of objects) refuseDisallowedPorts(store.snapshot, o.kind, o as unknown as Record<string, unknown>);
    objects = objects.map((o) => (o.kind === 'namespace' ? { ...resolvedNamespaceObject(o, o.namespace), ID: o.ID } : o));
    let created = 0;
    let updated = 0;
    for (const object of objects) {
      const existing = store.entry(object.kind, object.ID);
      const merged = keepWriteOnly(object, existing?.object);
      await store.replace(sealObject(secrets, stamp(merged, existing?.object), existing?.object));
      if (existing) updated++;
      else created++;
      audit(principal, existing ? 'updated' : 'created', object);
    }
    await announce(store.snapshot.revision);
    return { created, updated };
  });

  api.get('/export', async (req) => {
    const { namespace } = requireAccess(req, 'read');
    const { recursive } = parsePart(listQuery, req.query);
    const data: Record<string, unknown[]> = {};
    for (const kind of objectKinds) {
      const list = listObjects(store.snapshot, kind, namespace, recursive).map((o) => {
        const { ID: _id, kind: _k, createTime: _c, updateTime: _u, ...rest } = publicView(o) as PolicyObject;
        return rest;
      });
      if (list.length) data[pluralOf(kind)] = list;
    }
    return { label: `export of ${namespace}`, namespace, data };
  });
};

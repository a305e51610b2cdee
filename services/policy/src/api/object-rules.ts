// The rules every write of objects through the API follows, shared by the object routes and import: which
// kind a path names, how an object is found (by ID, by name, a namespace object by its relative name), what
// is shown of it, and what a write may not do — touch processing units, point a namespace object elsewhere,
// use ports its gateway does not allow, send a sealed value back. Write-only fields left out keep their
// stored value. Pure, or reads of the store only.
import { objectKinds, pluralOf, withinSelection, type ObjectKind, type PolicyObject, type ServiceObject } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import { resolveNamespaceName } from '../objects/namespace-names.ts';
import { stableObjectId } from '../objects/import-file.ts';
import type { AttributeError } from '../objects/schema.ts';
import { portsProblem } from '../routes.ts';
import { publicView, sealedInputFields, sealedInputMessage, writeOnlyFields } from '../secrets.ts';
import type { ServiceStatus } from '../service-status.ts';
import { selects, type Snapshot } from '../snapshot.ts';
import type { ObjectStore } from '../store.ts';

/** What the API reads of the store. */
export type ObjectReads = { readonly snapshot: Snapshot } & Pick<ObjectStore, 'entry'>;

/** Whether a service is served, and if not why (service-status.ts); shown on the object. */
export type ServiceStatusOf = (service: ServiceObject) => ServiceStatus | undefined;

const kindOfPlural = new Map<string, ObjectKind>(objectKinds.map((k) => [pluralOf(k), k]));

/** The kind a path's plural names, in any case; 404 for anything else. */
export function kindOf(plural: string): ObjectKind {
  const kind = kindOfPlural.get(plural.toLowerCase());
  if (!kind) throw new MicrosegError('NOT_FOUND', `unknown kind ${plural.toLowerCase()}; expected one of ${[...kindOfPlural.keys(), 'apitokens'].join(', ')}`);
  return kind;
}

/** The kind of an import document's list (`services`, …), or undefined. */
export function kindOfList(plural: string): ObjectKind | undefined {
  return kindOfPlural.get(plural.toLowerCase());
}

/** 422 naming every bad attribute at once. */
export const validationFailed = (errors: AttributeError[]) =>
  new MicrosegError(
    'POLICY_VALIDATION_FAILED',
    `${errors.length} invalid attribute${errors.length === 1 ? '' : 's'}: ${errors.map((e) => `${e.attribute} ${e.message}`).join('; ')}`,
    { errors },
  );

/** An object of `namespace` by ID or name (a namespace object by its relative name too); 404 otherwise. */
export function findObject(store: ObjectReads, kind: ObjectKind, namespace: string, idOrName: string): { object: PolicyObject; revision: number } {
  const byId = store.entry(kind, idOrName);
  if (byId && byId.object.namespace === namespace) return byId;
  const byName = store.entry(kind, stableObjectId(kind, namespace, idOrName));
  if (byName) return byName;
  // A namespace object is stored under its resolved path; its relative name finds it too.
  const resolved = kind === 'namespace' ? resolveNamespaceName(idOrName, namespace) : undefined;
  const byPath = resolved?.ok ? store.entry(kind, stableObjectId(kind, namespace, resolved.path)) : undefined;
  if (byPath) return byPath;
  throw new MicrosegError('NOT_FOUND', `no ${kind} ${idOrName} in ${namespace}`);
}

/** The objects of a kind in `namespace` (and below it when recursive), by namespace then name. */
export function listObjects(snapshot: Snapshot, kind: ObjectKind, namespace: string, recursive: boolean): PolicyObject[] {
  return snapshot.objects
    .filter((o) => o.kind === kind && withinSelection(o.namespace, namespace, recursive))
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

/** What the API shows of an object: write-only fields left out; a service's serving status added. */
export function shown(object: PolicyObject, serviceStatus?: ServiceStatusOf): Partial<PolicyObject> & Partial<ServiceStatus> {
  const view = publicView(object);
  if (object.kind !== 'service') return view;
  const status = serviceStatus?.(object);
  return status ? { ...view, ...status } : view;
}

/** Processing units belong to the gateways that front them (they register them); nobody writes them here. */
export function refuseProcessingUnitWrite(kind: ObjectKind): void {
  if (kind === 'processingunit') {
    throw new MicrosegError(
      'FORBIDDEN',
      'processing units are registered by the gateways that front them (their processing-units file); they cannot be created or changed through the API',
    );
  }
}

/** A namespace object's name resolved against the namespace it is written in (objects/namespace-names.ts); the write is refused when it points anywhere else. */
export function resolvedNamespaceObject<T extends { name: string }>(value: T, container: string): T {
  const resolved = resolveNamespaceName(value.name, container);
  if (!resolved.ok) {
    if (resolved.status === 422) throw validationFailed([{ attribute: 'name', message: resolved.message }]);
    throw new MicrosegError('FORBIDDEN', resolved.message);
  }
  return { ...value, name: resolved.path };
}

/** A namespace object's name given relative (`dev`) names the stored, resolved one (`/acme/dev`). */
export function sameNamespaceName(kind: ObjectKind, name: unknown, existing: PolicyObject): boolean {
  if (kind !== 'namespace' || typeof name !== 'string') return false;
  const resolved = resolveNamespaceName(name, existing.namespace);
  return resolved.ok && resolved.path === existing.name;
}

/**
 * A service's ports must be among those the gateway of every processing unit it selects allows (routes.ts,
 * `portsProblem`); 422 names the allowed ones. A service that selects no unit yet is accepted: it is checked
 * again when a unit appears, and not served if its ports are not allowed there.
 */
export function refuseDisallowedPorts(snapshot: Snapshot, kind: ObjectKind, value: Record<string, unknown>): void {
  if (kind !== 'service') return;
  const service = value as unknown as ServiceObject;
  const errors: AttributeError[] = [];
  for (const pu of snapshot.processingUnits) {
    if (!selects(service, pu)) continue;
    const problem = portsProblem(service, pu);
    if (problem && !errors.some((e) => e.attribute === problem.attribute)) errors.push({ attribute: problem.attribute, message: problem.message });
  }
  if (errors.length > 0) throw validationFailed(errors);
}

/**
 * Write-only fields are never read back, so an update that leaves them out keeps the stored ones —
 * except the client secret when the provider or client changes: otherwise someone who may edit but
 * not read the service could point it at their own IdP and receive the secret in the token request.
 */
export function keepWriteOnly(object: PolicyObject, existing: PolicyObject | undefined): PolicyObject {
  if (!existing) return object;
  const copy = { ...object } as Record<string, unknown>;
  const old = existing as unknown as Record<string, unknown>;
  const sameClient = copy.OIDCProviderURL === old.OIDCProviderURL && copy.OIDCClientID === old.OIDCClientID;
  for (const field of writeOnlyFields) {
    if (field === 'OIDCClientSecret' && !sameClient) continue;
    if (copy[field] === undefined && old[field] !== undefined) copy[field] = old[field];
  }
  return copy as unknown as PolicyObject;
}

/**
 * An export carries no write-only fields, so an imported object that leaves one out keeps
 * its stored (sealed) value, as PUT does; without this, re-importing an export of an OIDC
 * service fails validation (OIDCClientSecret is required).
 */
export function withStoredWriteOnly(store: Pick<ObjectStore, 'entry'>, doc: unknown, namespace: string): unknown {
  const { namespace: documentNamespace, data } = (doc ?? {}) as { namespace?: unknown; data?: unknown };
  if (!data || typeof data !== 'object') return doc;
  const filled = Object.entries(data).map(([plural, list]) => {
    const kind = kindOfList(plural);
    if (!kind || !Array.isArray(list)) return [plural, list];
    return [
      plural,
      list.map((raw: unknown) => {
        const { name, namespace: own } = (raw ?? {}) as { name?: unknown; namespace?: unknown };
        const ns = own ?? documentNamespace ?? namespace;
        const existing = typeof name === 'string' && typeof ns === 'string' ? store.entry(kind, stableObjectId(kind, ns, name)) : undefined;
        return existing ? keepWriteOnly(raw as PolicyObject, existing.object) : raw;
      }),
    ];
  });
  return { ...(doc as object), data: Object.fromEntries(filled) };
}

/**
 * Write-only fields of client input that look sealed (`enc:…`), as validation errors. A sealed value
 * from a backup, sent back with another provider, would otherwise be opened and sent to that provider.
 * `input` is one object or an import document (`{data: {services: [...]}}`).
 */
export function sealedInputErrors(input: unknown): AttributeError[] {
  const errors: AttributeError[] = sealedInputFields(input).map((field) => ({ attribute: field, message: sealedInputMessage }));
  const data = (input as { data?: unknown } | null)?.data;
  if (!data || typeof data !== 'object') return errors;
  for (const [plural, list] of Object.entries(data)) {
    if (!Array.isArray(list)) continue;
    list.forEach((object: unknown, i) => {
      for (const field of sealedInputFields(object)) errors.push({ attribute: `data.${plural}[${i}].${field}`, message: sealedInputMessage });
    });
  }
  return errors;
}

/** The object with its times: created when it first was (or now), updated now. */
export function stamp(object: PolicyObject, existing: PolicyObject | undefined, now = new Date()): PolicyObject {
  const time = now.toISOString();
  return { ...object, createTime: existing?.createTime ?? object.createTime ?? time, updateTime: time };
}

// The object API (SPEC §9): JSON or YAML over HTTP, apoctl's field names,
// Bearer tokens scoped to a namespace subtree, ETag/If-Match, audit events.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { isNamespacePath, objectKinds, pluralOf, subjects, type ObjectKind, type PolicyObject, type ServiceObject } from '@microseg/contracts';
import type { Bus } from '@microseg/bus';
import { MicrosegError } from '@microseg/errors';
import { LogEventSchema } from '@microseg/proto/events';
import { PolicyChangedSchema } from '@microseg/proto/policy';
import { validateObject, type AttributeError } from '../objects/schema.ts';
import { resolveNamespaceName } from '../objects/namespace-names.ts';
import { portsProblem } from '../routes.ts';
import type { ServiceStatus } from '../service-status.ts';
import { selects } from '../snapshot.ts';
import { ImportError, importObjects, stableObjectId } from '../objects/import-file.ts';
import { publicView, sealObject, sealedInputFields, sealedInputMessage, writeOnlyFields, type SecretBox } from '../secrets.ts';
import { registerSecretRoutes } from './secrets-api.ts';
import { StoreConflict, type ObjectStore } from '../store.ts';
import { allows, roles, withinSubtree, type Principal, type Role, type TokenStore } from './tokens.ts';
import { registerSessionRoutes } from './sessions.ts';
import type { AuthFailureLimiter } from './auth-failures.ts';
import { auditFailures } from './failure-audit.ts';
import { duplicateKey } from './json-keys.ts';

const kindOfPlural = new Map<string, ObjectKind>(objectKinds.map((k) => [pluralOf(k), k]));

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    namespace?: string;
  }
}

export interface ApiDeps {
  store: ObjectStore;
  tokens: TokenStore;
  secrets: SecretBox;
  bus: Bus;
  /** Failed authentications per client address (429 past the limit). */
  authFailures: AuthFailureLimiter;
  /** Whether a service is served, and if not why (service-status.ts); shown on the object. */
  serviceStatus?: (service: ServiceObject) => ServiceStatus | undefined;
}


const validationFailed = (errors: AttributeError[]) =>
  new MicrosegError('POLICY_VALIDATION_FAILED', `${errors.length} invalid attribute${errors.length === 1 ? '' : 's'}: ${errors.map((e) => `${e.attribute} ${e.message}`).join('; ')}`, { errors });

function kindFrom(req: FastifyRequest): ObjectKind {
  const plural = (req.params as { plural: string }).plural.toLowerCase();
  const kind = kindOfPlural.get(plural);
  if (!kind) throw new MicrosegError('NOT_FOUND', `unknown kind ${plural}; expected one of ${[...kindOfPlural.keys(), 'apitokens'].join(', ')}`);
  return kind;
}

function requireAccess(req: FastifyRequest, action: 'read' | 'write' | 'admin', namespace = req.namespace!): void {
  const p = req.principal!;
  if (!withinSubtree(namespace, p.namespace)) throw new MicrosegError('FORBIDDEN', `the token ${p.name} is limited to ${p.namespace} and cannot act on ${namespace}`);
  if (!allows(p.role, action)) throw new MicrosegError('FORBIDDEN', `the token ${p.name} has the role ${p.role}, which cannot ${action === 'read' ? 'read' : action === 'write' ? 'change objects' : 'manage tokens'}`);
}

/** An object in the request's namespace by ID or name. */
function find(deps: ApiDeps, kind: ObjectKind, namespace: string, idOrName: string): { object: PolicyObject; revision: number } {
  const byId = deps.store.entry(kind, idOrName);
  if (byId && byId.object.namespace === namespace) return byId;
  const byName = deps.store.entry(kind, stableObjectId(kind, namespace, idOrName));
  if (byName) return byName;
  // A namespace object is stored under its resolved path; its relative name finds it too.
  const resolved = kind === 'namespace' ? resolveNamespaceName(idOrName, namespace) : undefined;
  const byPath = resolved?.ok ? deps.store.entry(kind, stableObjectId(kind, namespace, resolved.path)) : undefined;
  if (byPath) return byPath;
  throw new MicrosegError('NOT_FOUND', `no ${kind} ${idOrName} in ${namespace}`);
}

/** Processing units belong to the gateways that front them (they register them); nobody writes them here. */
function refuseProcessingUnitWrite(kind: ObjectKind): void {
  if (kind === 'processingunit') {
    throw new MicrosegError('FORBIDDEN', 'processing units are registered by the gateways that front them (their processing-units file); they cannot be created or changed through the API');
  }
}

/** A namespace object's name resolved against the namespace it is written in (objects/namespace-names.ts); the write is refused when it points anywhere else. */
function resolvedNamespaceObject<T extends { name: string }>(value: T, container: string): T {
  const resolved = resolveNamespaceName(value.name, container);
  if (!resolved.ok) {
    if (resolved.status === 422) throw validationFailed([{ attribute: 'name', message: resolved.message }]);
    throw new MicrosegError('FORBIDDEN', resolved.message);
  }
  return { ...value, name: resolved.path };
}

/**
 * A service's ports must be among those the gateway of every processing unit it selects allows (routes.ts,
 * `portsProblem`); 422 names the allowed ones. A service that selects no unit yet is accepted: it is checked
 * again when a unit appears, and not served if its ports are not allowed there.
 */
function refuseDisallowedPorts(deps: ApiDeps, kind: ObjectKind, value: Record<string, unknown>): void {
  if (kind !== 'service') return;
  const service = value as unknown as ServiceObject;
  const errors: AttributeError[] = [];
  for (const pu of deps.store.snapshot.processingUnits) {
    if (!selects(service, pu)) continue;
    const problem = portsProblem(service, pu);
    if (problem && !errors.some((e) => e.attribute === problem.attribute)) errors.push({ attribute: problem.attribute, message: problem.message });
  }
  if (errors.length > 0) throw validationFailed(errors);
}

/** A namespace object's name given relative (`dev`) names the stored, resolved one (`/acme/dev`). */
function sameNamespaceName(kind: ObjectKind, name: unknown, existing: PolicyObject): boolean {
  if (kind !== 'namespace' || typeof name !== 'string') return false;
  const resolved = resolveNamespaceName(name, existing.namespace);
  return resolved.ok && resolved.path === existing.name;
}

function ifMatch(req: FastifyRequest): number | undefined {
  const header = req.headers['if-match'];
  if (header === undefined) return undefined;
  if (String(header).trim() === '*') return undefined;
  const m = /^(?:W\/)?"?(\d+)"?$/.exec(String(header).trim());
  if (!m) throw new MicrosegError('BAD_REQUEST', 'If-Match must be an ETag returned by the API, such as "42"');
  return Number(m[1]);
}

function sendObject(deps: ApiDeps, reply: FastifyReply, status: number, object: PolicyObject, revision: number) {
  return reply.code(status).header('etag', `"${revision}"`).send(shown(deps, object));
}

/** What the API shows of an object: write-only fields left out; a service's serving status added. */
function shown(deps: ApiDeps, object: PolicyObject): Partial<PolicyObject> & Partial<ServiceStatus> {
  const view = publicView(object);
  if (object.kind !== 'service') return view;
  const status = deps.serviceStatus?.(object);
  return status ? { ...view, ...status } : view;
}

export function registerApi(app: FastifyInstance, deps: ApiDeps): void {
  /**
   * Tell every gateway and authn replica now, before the API answers: a client's next request
   * then meets the change (gateways keep decisions and drop them on this broadcast).
   */
  const announce = async () => {
    deps.bus.broadcast(subjects.policyChanged, PolicyChangedSchema, { revision: BigInt(deps.store.snapshot.revision) });
    await deps.bus.nc.flush();
  };

  const auditKinds = { created: 'objectCreated', updated: 'objectUpdated', deleted: 'objectDeleted' } as const;
  const audit = (req: FastifyRequest, verb: keyof typeof auditKinds, object: { kind: string; ID: string; name: string; namespace: string }) => {
    deps.bus.emitEvent(auditKinds[verb], {
      title: `${object.kind} ${verb}`,
      content: `${object.kind} ${object.name} was ${verb} in ${object.namespace} by token ${req.principal?.name ?? 'unknown'}.`,
      targetIdentity: object.kind,
      targetId: object.ID,
      namespace: object.namespace,
    });
  };

  const yamlParser = (_req: FastifyRequest, body: string, done: (err: Error | null, value?: unknown) => void) => {
    try {
      done(null, parseYaml(body));
    } catch (err) {
      done(new MicrosegError('BAD_REQUEST', `the body is not valid YAML: ${(err as Error).message}`));
    }
  };
  app.addContentTypeParser(['application/yaml', 'application/x-yaml', 'text/yaml'], { parseAs: 'string' }, yamlParser);

  // JSON as fastify parses it (`__proto__` and `constructor.prototype` refused), and a key given twice in
  // one object refused too: JSON.parse would keep the last silently. (YAML refuses duplicates itself.)
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = String(body);
    jsonParser(req, text, (err: Error | null, value?: unknown) => {
      if (err) return done(err);
      const twice = duplicateKey(text);
      if (twice !== undefined) return done(new MicrosegError('BAD_REQUEST', `the key ${JSON.stringify(twice.slice(0, 64))} appears twice in one object; send each key once`));
      done(null, value);
    });
  });

  // Before the YAML conversion below: the audit reads the JSON error body.
  auditFailures(app, deps.bus, deps.authFailures);

  // YAML out when asked for (Accept: application/yaml), JSON otherwise.
  app.addHook('onSend', async (req, reply, payload) => {
    const accept = String(req.headers.accept ?? '');
    if (!/\b(application|text)\/(x-)?yaml\b/.test(accept) || typeof payload !== 'string') return payload;
    if (!String(reply.getHeader('content-type') ?? '').startsWith('application/json')) return payload;
    reply.header('content-type', 'application/yaml; charset=utf-8');
    return stringifyYaml(JSON.parse(payload));
  });

  // Authentication and the namespace, before every API route.
  app.addHook('onRequest', async (req) => {
    if (req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics') return;
    // Too many failed attempts from this address: refused without looking at the token, so the answer
    // tells a right guess from a wrong one only after the wait.
    const waitMs = deps.authFailures.blockedForMs(req.ip);
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      throw new MicrosegError('RATE_LIMITED', `too many failed authentications from this address; retry in ${seconds} s`, { retryAfterSeconds: seconds });
    }
    // Node keeps only the first of two Authorization headers; a proxy in front may keep the last.
    const authorizations = req.raw.rawHeaders.filter((_, i) => i % 2 === 0 && req.raw.rawHeaders[i]!.toLowerCase() === 'authorization').length;
    const header = authorizations === 1 ? (req.headers.authorization ?? '') : '';
    const m = /^Bearer +(\S+)$/i.exec(header);
    const principal = m ? deps.tokens.authenticate(m[1]!) : undefined;
    if (!principal) {
      deps.authFailures.failed(req.ip);
      throw new MicrosegError('UNAUTHENTICATED', authorizations > 1 ? 'send one Authorization header, not several' : 'a valid API token is required: send Authorization: Bearer <token>');
    }
    req.principal = principal;
    const namespace = String(req.headers['x-namespace'] ?? principal.namespace);
    if (!isNamespacePath(namespace)) throw new MicrosegError('BAD_REQUEST', `X-Namespace must be a namespace path such as /acme/team-b, not ${JSON.stringify(namespace).slice(0, 80)}`);
    req.namespace = namespace;
  });

  registerSessionRoutes(app, deps.bus);
  registerSecretRoutes(app, deps);

  // --- API tokens (admin) ---
  app.get('/apitokens', async (req) => {
    requireAccess(req, 'admin');
    return deps.tokens.list().filter((t) => withinSubtree(t.namespace, req.namespace!)).map(({ secretHash: _h, ...t }) => t);
  });
  app.post('/apitokens', async (req, reply) => {
    const body = (req.body ?? {}) as { name?: unknown; role?: unknown; namespace?: unknown };
    const errors: AttributeError[] = [];
    if (typeof body.name !== 'string' || !body.name) errors.push({ attribute: 'name', message: 'is required' });
    if (!roles.includes(body.role as Role)) errors.push({ attribute: 'role', message: `must be one of ${roles.join(', ')}` });
    const namespace = typeof body.namespace === 'string' ? body.namespace : req.namespace!;
    if (!isNamespacePath(namespace)) errors.push({ attribute: 'namespace', message: 'must be a namespace path such as /acme/team-b' });
    if (errors.length) throw validationFailed(errors);
    requireAccess(req, 'admin', namespace);
    const { record, token } = await deps.tokens.create(body.name as string, body.role as Role, namespace);
    audit(req, 'created', { kind: 'apitoken', ID: record.ID, name: record.name, namespace });
    const { secretHash: _h, ...shown } = record;
    return reply.code(201).send({ ...shown, token });
  });
  app.get('/apitokens/:id', async (req) => {
    requireAccess(req, 'admin');
    const record = deps.tokens.get((req.params as { id: string }).id);
    if (!record || !withinSubtree(record.namespace, req.principal!.namespace)) throw new MicrosegError('NOT_FOUND', 'no such token');
    const { secretHash: _h, ...shown } = record;
    return shown;
  });
  app.delete('/apitokens/:id', async (req) => {
    requireAccess(req, 'admin');
    const record = deps.tokens.get((req.params as { id: string }).id);
    if (!record || !withinSubtree(record.namespace, req.principal!.namespace)) throw new MicrosegError('NOT_FOUND', 'no such token');
    await deps.tokens.revoke(record.ID);
    audit(req, 'deleted', { kind: 'apitoken', ID: record.ID, name: record.name, namespace: record.namespace });
    const { secretHash: _h, ...shown } = record;
    return shown;
  });

  // --- Import / export ---
  app.post('/import', async (req) => {
    requireAccess(req, 'write');
    // Client input only: the stored (sealed) values filled in below are not input.
    const sealed = sealedInputErrors(req.body);
    let objects: PolicyObject[];
    try {
      objects = importObjects(withStoredWriteOnly(deps, req.body, req.namespace!), 'import', req.namespace);
    } catch (err) {
      if (err instanceof ImportError) throw validationFailed([...sealed, ...err.errors]);
      throw err;
    }
    if (sealed.length > 0) throw validationFailed(sealed);
    for (const o of objects) requireAccess(req, 'write', o.namespace);
    for (const o of objects) refuseProcessingUnitWrite(o.kind);
    for (const o of objects) refuseDisallowedPorts(deps, o.kind, o as unknown as Record<string, unknown>);
    objects = objects.map((o) => (o.kind === 'namespace' ? { ...resolvedNamespaceObject(o, o.namespace), ID: o.ID } : o));
    let created = 0;
    let updated = 0;
    for (const object of objects) {
      const existing = deps.store.entry(object.kind, object.ID);
      const merged = keepWriteOnly(object, existing?.object);
      await deps.store.replace(sealObject(deps.secrets, stamp(merged, existing?.object), existing?.object));
      if (existing) updated++;
      else created++;
      audit(req, existing ? 'updated' : 'created', object);
    }
    await announce();
    return { created, updated };
  });
  app.get('/export', async (req) => {
    requireAccess(req, 'read');
    const recursive = (req.query as { recursive?: string }).recursive === 'true';
    const data: Record<string, unknown[]> = {};
    for (const kind of objectKinds) {
      const list = listObjects(deps, kind, req.namespace!, recursive).map((o) => {
        const { ID: _id, kind: _k, createTime: _c, updateTime: _u, ...rest } = publicView(o) as PolicyObject;
        return rest;
      });
      if (list.length) data[pluralOf(kind)] = list;
    }
    return { label: `export of ${req.namespace}`, namespace: req.namespace, data };
  });

  // --- Objects ---
  app.get('/:plural', async (req) => {
    const kind = kindFrom(req);
    requireAccess(req, 'read');
    const recursive = (req.query as { recursive?: string }).recursive === 'true';
    return listObjects(deps, kind, req.namespace!, recursive).map((o) => shown(deps, o));
  });

  app.post('/:plural', async (req, reply) => {
    const kind = kindFrom(req);
    requireAccess(req, 'write');
    refuseProcessingUnitWrite(kind);
    const result = validateObject(kind, { ...(req.body as object), namespace: req.namespace });
    const sealed = sealedInputErrors(req.body);
    if (!result.ok || sealed.length > 0) throw validationFailed([...sealed, ...(result.ok ? [] : result.errors)]);
    refuseDisallowedPorts(deps, kind, result.value);
    const value = kind === 'namespace' ? resolvedNamespaceObject(result.value as { name: string }, req.namespace!) : (result.value as { name: string });
    const now = new Date().toISOString();
    const object = { ...value, kind, namespace: req.namespace!, ID: stableObjectId(kind, req.namespace!, value.name), createTime: now, updateTime: now } as unknown as PolicyObject;
    let revision: number;
    try {
      revision = await deps.store.create(sealObject(deps.secrets, object));
    } catch (err) {
      if (err instanceof StoreConflict) throw new MicrosegError('CONFLICT', `a ${kind} named ${value.name} exists in ${req.namespace}; update it or choose another name`);
      throw err;
    }
    audit(req, 'created', object);
    await announce();
    return sendObject(deps, reply, 201, object, revision);
  });

  app.get('/:plural/:id', async (req, reply) => {
    const kind = kindFrom(req);
    requireAccess(req, 'read');
    const { object, revision } = find(deps, kind, req.namespace!, (req.params as { id: string }).id);
    return sendObject(deps, reply, 200, object, revision);
  });

  const replace = (merge: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
    const kind = kindFrom(req);
    requireAccess(req, 'write');
    refuseProcessingUnitWrite(kind);
    const expected = ifMatch(req);
    const existing = find(deps, kind, req.namespace!, (req.params as { id: string }).id);
    if (expected !== undefined && expected !== existing.revision) throw new MicrosegError('PRECONDITION_FAILED', `the ${kind} changed since you read it (ETag "${existing.revision}", not "${expected}"); read it again and retry`);
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
    refuseDisallowedPorts(deps, kind, result.value);
    // An object stored before names were resolved is checked again: it cannot be kept pointing at another namespace.
    if (kind === 'namespace') resolvedNamespaceObject(result.value as { name: string }, existing.object.namespace);
    const object = stamp({ ...result.value, kind, ID: existing.object.ID } as unknown as PolicyObject, existing.object);
    let revision: number;
    try {
      revision = await deps.store.replace(sealObject(deps.secrets, object, existing.object), expected ?? existing.revision);
    } catch (err) {
      if (err instanceof StoreConflict) throw new MicrosegError('PRECONDITION_FAILED', `the ${kind} changed while it was being updated; read it again and retry`);
      throw err;
    }
    audit(req, 'updated', object);
    await announce();
    return sendObject(deps, reply, 200, object, revision);
  };
  app.put('/:plural/:id', replace(false));
  app.patch('/:plural/:id', replace(true));

  app.delete('/:plural/:id', async (req) => {
    const kind = kindFrom(req);
    // A processing unit its gateway no longer fronts can be removed by an administrator; its gateway registers it again if it still does.
    requireAccess(req, kind === 'processingunit' ? 'admin' : 'write');
    const expected = ifMatch(req);
    const existing = find(deps, kind, req.namespace!, (req.params as { id: string }).id);
    if (expected !== undefined && expected !== existing.revision) throw new MicrosegError('PRECONDITION_FAILED', `the ${kind} changed since you read it; read it again and retry`);
    try {
      await deps.store.remove(kind, existing.object.ID, existing.revision);
    } catch (err) {
      if (err instanceof StoreConflict) throw new MicrosegError('PRECONDITION_FAILED', `the ${kind} changed while it was being deleted; read it again and retry`);
      throw err;
    }
    audit(req, 'deleted', existing.object);
    await announce();
    return publicView(existing.object);
  });
}

function listObjects(deps: ApiDeps, kind: ObjectKind, namespace: string, recursive: boolean): PolicyObject[] {
  return deps.store.snapshot.objects
    .filter((o) => o.kind === kind && (recursive ? withinSubtree(o.namespace, namespace) : o.namespace === namespace))
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

/**
 * An export carries no write-only fields, so an imported object that leaves one out keeps
 * its stored (sealed) value, as PUT does; without this, re-importing an export of an OIDC
 * service fails validation (OIDCClientSecret is required).
 */
function withStoredWriteOnly(deps: ApiDeps, doc: unknown, namespace: string): unknown {
  const { namespace: documentNamespace, data } = (doc ?? {}) as { namespace?: unknown; data?: unknown };
  if (!data || typeof data !== 'object') return doc;
  const filled = Object.entries(data).map(([plural, list]) => {
    const kind = kindOfPlural.get(plural.toLowerCase());
    if (!kind || !Array.isArray(list)) return [plural, list];
    return [plural, list.map((raw: unknown) => {
      const { name, namespace: own } = (raw ?? {}) as { name?: unknown; namespace?: unknown };
      const ns = own ?? documentNamespace ?? namespace;
      const existing = typeof name === 'string' && typeof ns === 'string' ? deps.store.entry(kind, stableObjectId(kind, ns, name)) : undefined;
      return existing ? keepWriteOnly(raw as PolicyObject, existing.object) : raw;
    })];
  });
  return { ...(doc as object), data: Object.fromEntries(filled) };
}

/**
 * Write-only fields are never read back, so an update that leaves them out keeps the stored ones —
 * except the client secret when the provider or client changes: otherwise someone who may edit but
 * not read the service could point it at their own IdP and receive the secret in the token request.
 */
function keepWriteOnly(object: PolicyObject, existing: PolicyObject | undefined): PolicyObject {
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
 * Write-only fields of client input that look sealed (`enc:…`), as validation errors. A sealed value
 * from a backup, sent back with another provider, would otherwise be opened and sent to that provider.
 * `input` is one object or an import document (`{data: {services: [...]}}`).
 */
function sealedInputErrors(input: unknown): AttributeError[] {
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

function stamp(object: PolicyObject, existing: PolicyObject | undefined): PolicyObject {
  const now = new Date().toISOString();
  return { ...object, createTime: existing?.createTime ?? object.createTime ?? now, updateTime: now };
}

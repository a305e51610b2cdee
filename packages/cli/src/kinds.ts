// The kinds of objects the policy API serves, how users may name them on the
// command line, and what a table of them shows.
import { UsageError } from './errors.ts';

export interface Column {
  readonly header: string;
  /** The cell's value; rendered by output.ts. */
  readonly get: (object: Record<string, unknown>) => unknown;
}

export interface Kind {
  /** Singular, lower case, as in the API's objects (`externalnetwork`). */
  readonly name: string;
  /** The route (`/externalnetworks`) and the key in import documents. */
  readonly plural: string;
  readonly aliases: readonly string[];
  /** Table columns after ID, NAME and NAMESPACE. */
  readonly columns: readonly Column[];
  /** The fields users write, for `--help`. */
  readonly fields: readonly string[];
}

const field =
  (name: string) =>
  (object: Record<string, unknown>): unknown =>
    object[name];

function endpointsSummary(object: Record<string, unknown>): string[] {
  const endpoints = Array.isArray(object.endpoints) ? (object.endpoints as Record<string, unknown>[]) : [];
  return endpoints.map((e) => {
    const methods = Array.isArray(e.methods) ? e.methods.join('|') : '';
    return `${methods} ${String(e.URI ?? '')}${e.public === true ? ' (public)' : ''}`.trim();
  });
}

export const kinds: readonly Kind[] = [
  {
    name: 'namespace',
    plural: 'namespaces',
    aliases: ['ns'],
    columns: [
      { header: 'INCOMING', get: field('defaultPUIncomingTrafficAction') },
      { header: 'OUTGOING', get: field('defaultPUOutgoingTrafficAction') },
    ],
    fields: ['name', 'description', 'defaultPUIncomingTrafficAction', 'defaultPUOutgoingTrafficAction'],
  },
  {
    name: 'processingunit',
    plural: 'processingunits',
    aliases: ['pu'],
    columns: [
      { header: 'STATUS', get: field('status') },
      { header: 'ADDRESS', get: field('address') },
    ],
    fields: ['name', 'associatedTags', 'address', 'status'],
  },
  {
    name: 'service',
    plural: 'services',
    aliases: ['svc'],
    columns: [
      { header: 'HOSTS', get: field('hosts') },
      { header: 'AUTHORIZATION', get: field('authorizationType') },
    ],
    fields: [
      'name',
      'description',
      'type',
      'authorizationType',
      'OIDCProviderURL',
      'OIDCClientID',
      'OIDCClientSecret',
      'OIDCCallbackURL',
      'OIDCScopes',
      'hosts',
      'port',
      'exposedPort',
      'exposedServiceIsTLS',
      'applicationProtocol',
      'applicationCA',
      'selectors',
      'exposedAPIs',
      'claimsToHTTPHeaderMappings',
      'redirectURLOnAuthorizationFailure',
      'TLSCertificate',
      'TLSCertificateKey',
      'associatedTags',
      'propagate',
      'disabled',
    ],
  },
  {
    name: 'httpresourcespec',
    plural: 'httpresourcespecs',
    aliases: ['hrs'],
    columns: [{ header: 'ENDPOINTS', get: endpointsSummary }],
    fields: [
      'name',
      'description',
      'associatedTags',
      'propagate',
      'endpoints[].URI',
      'endpoints[].methods',
      'endpoints[].public',
      'endpoints[].allowedScopes (or scopes)',
    ],
  },
  {
    name: 'externalnetwork',
    plural: 'externalnetworks',
    aliases: ['extnet'],
    columns: [
      { header: 'ENTRIES', get: field('entries') },
      { header: 'PORTS', get: field('servicePorts') },
    ],
    fields: ['name', 'description', 'entries', 'servicePorts (or protocols + ports)', 'associatedTags', 'propagate'],
  },
  {
    name: 'networkaccesspolicy',
    plural: 'networkaccesspolicies',
    aliases: ['netpol'],
    columns: [
      { header: 'ACTION', get: field('action') },
      { header: 'MODE', get: field('applyPolicyMode') },
    ],
    fields: ['name', 'description', 'subject', 'object', 'action', 'applyPolicyMode', 'logsEnabled', 'propagate', 'disabled'],
  },
  {
    name: 'apiauthorizationpolicy',
    plural: 'apiauthorizationpolicies',
    aliases: ['apiauth'],
    columns: [
      { header: 'NAMESPACE GRANTED', get: field('authorizedNamespace') },
      { header: 'ROLES', get: field('authorizedIdentities') },
      { header: 'PROPAGATE', get: field('propagate') },
    ],
    fields: [
      'name',
      'description',
      "subject (over the user's tags)",
      'authorizedNamespace',
      'authorizedIdentities (@auth:role=namespace.viewer, @auth:role=namespace.editor)',
      'propagate',
      'disabled',
    ],
  },
  {
    name: 'apitoken',
    plural: 'apitokens',
    aliases: ['token'],
    columns: [
      { header: 'ROLE', get: field('role') },
      { header: 'CREATED', get: field('createTime') },
    ],
    fields: ['name', 'role (viewer, editor or admin)', 'namespace (the subtree it may act on; default: -n)'],
  },
];

const byName = new Map<string, Kind>();
for (const kind of kinds) {
  for (const name of [kind.name, kind.plural, ...kind.aliases]) byName.set(name, kind);
}

export function findKind(name: string): Kind | undefined {
  return byName.get(name.toLowerCase());
}

/** A kind as typed by a user: singular or plural, any case, or an alias. */
export function resolveKind(name: string | undefined): Kind {
  if (name === undefined || name === '') throw new UsageError('a KIND is required', [`kinds: ${kindList()}`]);
  const kind = findKind(name);
  if (!kind) throw new UsageError(`unknown kind "${name}"`, [`kinds: ${kindList()}`]);
  return kind;
}

/** `namespace (ns), processingunit (pu), …` */
export function kindList(): string {
  return kinds.map((k) => `${k.name} (${k.aliases.join(', ')})`).join(', ');
}

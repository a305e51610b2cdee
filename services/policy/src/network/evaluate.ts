// SPEC §7: the network access decision for one flow, as the enforcer of one
// processing unit takes it. Pure: the same objects and query give the same verdict.
import type { ExternalNetworkObject, NamespaceObject, NetworkAccessPolicyObject } from '@microseg/contracts';
import { appliesIn, systemTags } from '../snapshot.ts';
import { matchesTagExpression } from '../matching/tag-expression.ts';
import { externalNetworksFor, type Protocol } from './external-networks.ts';

export type FlowParty = { type: 'ProcessingUnit'; tags: string[]; namespace: string } | { type: 'External'; ip?: string; host?: string };

export interface FlowQuery {
  source: FlowParty;
  destination: FlowParty;
  protocol: Protocol;
  port: number;
  /** the processing unit whose enforcer decides: 'source' = its outgoing traffic, 'destination' = its incoming traffic */
  enforcedAt: 'source' | 'destination';
}

export interface FlowVerdict {
  action: 'Accept' | 'Reject';
  /** the deciding policy, absent when the namespace default decided */
  policy?: { ID: string; name: string; namespace: string; logsEnabled: boolean };
  byDefault: boolean;
  /** whether an operator must see this flow: rejected always; accepted only when the deciding policy has logsEnabled (default accepts are not reported) */
  report: boolean;
  /** names of the external networks that matched the external party (sorted, without duplicates) */
  externalNetworks: string[];
  /** a human sentence naming the deciding policy, or what is missing and the default that decided */
  reason: string;
}

export interface NetworkObjects {
  namespaces: readonly NamespaceObject[];
  externalNetworks: readonly ExternalNetworkObject[];
  policies: readonly NetworkAccessPolicyObject[];
}

/** Built-in defaults at `/` (SPEC §2), unless a `/` namespace object sets them. */
const ROOT_DEFAULTS = { incoming: 'Allow', outgoing: 'Reject' } as const;

/** A namespace object's full path: `name` when absolute, else under its `namespace`. */
export function namespacePath(ns: Pick<NamespaceObject, 'name' | 'namespace'>): string {
  if (ns.name.startsWith('/')) return trimNamespace(ns.name);
  return ns.namespace === '/' || ns.namespace === '' ? `/${ns.name}` : `${trimNamespace(ns.namespace)}/${ns.name}`;
}

function trimNamespace(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

function parentOf(path: string): string {
  const cut = path.lastIndexOf('/');
  return cut <= 0 ? '/' : path.slice(0, cut);
}

/**
 * The default action for a processing unit in `namespace`: its namespace's
 * setting, walking up past `Inherit` and missing namespace objects, down to the
 * built-in root defaults. Also returns the namespace whose setting decided.
 */
export function namespaceDefault(
  namespaces: readonly NamespaceObject[],
  namespace: string,
  direction: 'incoming' | 'outgoing',
): { action: 'Allow' | 'Reject'; decidedBy: string } {
  const byPath = new Map<string, NamespaceObject>();
  for (const ns of namespaces) {
    const path = namespacePath(ns);
    if (!byPath.has(path)) byPath.set(path, ns);
  }
  let path = trimNamespace(namespace);
  for (;;) {
    const ns = byPath.get(path);
    const setting = ns ? (direction === 'incoming' ? ns.defaultPUIncomingTrafficAction : ns.defaultPUOutgoingTrafficAction) : 'Inherit';
    if (setting !== 'Inherit') return { action: setting, decidedBy: path };
    if (path === '/') return { action: ROOT_DEFAULTS[direction], decidedBy: '/' };
    path = parentOf(path);
  }
}

/** The tag sets a party may be seen as: one for a PU, one per matching external network, none for "somewhere". */
function tagSetsOf(party: FlowParty, networks: readonly ExternalNetworkObject[]): Set<string>[] {
  if (party.type === 'ProcessingUnit') return [new Set(party.tags)];
  return networks.map((network) => new Set(systemTags(network)));
}

function modeFits(policy: NetworkAccessPolicyObject, enforcedAt: FlowQuery['enforcedAt']): boolean {
  if (policy.applyPolicyMode === 'Bidirectional') return true;
  return enforcedAt === 'source' ? policy.applyPolicyMode === 'OutgoingTraffic' : policy.applyPolicyMode === 'IncomingTraffic';
}

function byNameThenIdentity(a: NetworkAccessPolicyObject, b: NetworkAccessPolicyObject): number {
  return compare(a.name, b.name) || compare(a.namespace, b.namespace) || compare(a.ID, b.ID);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * `processing units with type=a` (its user tags; else its namespace), or
 * `idp.example.com:443 (external network idp)`; the port only for a destination,
 * the protocol only when it is not tcp.
 */
function describeParty(party: FlowParty, networks: readonly ExternalNetworkObject[], port?: { protocol: Protocol; port: number }): string {
  const portText = port ? `${port.port}${port.protocol === 'tcp' ? '' : `/${port.protocol}`}` : '';
  if (party.type === 'ProcessingUnit') {
    const userTags = party.tags.filter((tag) => !tag.startsWith('$'));
    const who = userTags.length > 0 ? `processing units with ${userTags.join(' ')}` : `processing units in ${party.namespace}`;
    return port ? `${who} on port ${portText}` : who;
  }
  const where = port ? `:${portText}` : '';
  const address = party.host !== undefined && party.ip !== undefined ? `${party.host} [${party.ip}]` : (party.host ?? party.ip ?? 'an unknown address');
  const names = [...new Set(networks.map((n) => n.name))].sort(compare);
  const membership = names.length > 0 ? ` (external network${names.length > 1 ? 's' : ''} ${names.join(', ')})` : '';
  return `${address}${where}${membership}`;
}

/** Decides one flow (SPEC §7) as seen by the enforcer of the processing unit at `query.enforcedAt`. */
export function evaluateFlow(objects: NetworkObjects, query: FlowQuery): FlowVerdict {
  const enforcing = query.enforcedAt === 'source' ? query.source : query.destination;
  if (enforcing.type !== 'ProcessingUnit') {
    throw new TypeError(`evaluateFlow: the ${query.enforcedAt} must be a ProcessingUnit, since its enforcer decides`);
  }
  const namespace = trimNamespace(enforcing.namespace);
  const networksOf = (party: FlowParty): ExternalNetworkObject[] =>
    party.type === 'External'
      ? externalNetworksFor(objects.externalNetworks, namespace, { ip: party.ip, host: party.host, protocol: query.protocol, port: query.port })
      : [];
  const sourceNetworks = networksOf(query.source);
  const destinationNetworks = networksOf(query.destination);
  const sourceTags = tagSetsOf(query.source, sourceNetworks);
  const destinationTags = tagSetsOf(query.destination, destinationNetworks);
  const externalNetworks = [...new Set([...sourceNetworks, ...destinationNetworks].map((n) => n.name))].sort(compare);

  const applying = objects.policies
    .filter(
      (policy) =>
        !policy.disabled &&
        appliesIn(policy.namespace, policy.propagate, namespace) &&
        modeFits(policy, query.enforcedAt) &&
        sourceTags.some((tags) => matchesTagExpression(policy.subject, tags)) &&
        destinationTags.some((tags) => matchesTagExpression(policy.object, tags)),
    )
    .sort(byNameThenIdentity);
  const deciding = applying.find((p) => p.action === 'Reject') ?? applying.find((p) => p.action === 'Allow');

  if (deciding) {
    const accepted = deciding.action === 'Allow';
    return {
      action: accepted ? 'Accept' : 'Reject',
      policy: { ID: deciding.ID, name: deciding.name, namespace: deciding.namespace, logsEnabled: deciding.logsEnabled },
      byDefault: false,
      report: accepted ? deciding.logsEnabled : true,
      externalNetworks,
      reason: `${accepted ? 'accepted' : 'rejected'} by policy ${deciding.name}`,
    };
  }

  const direction = query.enforcedAt === 'source' ? 'outgoing' : 'incoming';
  const fallback = namespaceDefault(objects.namespaces, namespace, direction);
  const source = describeParty(query.source, sourceNetworks);
  const destination = describeParty(query.destination, destinationNetworks, { protocol: query.protocol, port: query.port });
  const accepted = fallback.action === 'Allow';
  const because = `(default of ${fallback.decidedBy}: ${fallback.action})`;
  return {
    action: accepted ? 'Accept' : 'Reject',
    byDefault: true,
    report: !accepted,
    externalNetworks,
    reason: accepted ? `no policy covers ${source} reaching ${destination} ${because}` : `no policy allows ${source} to reach ${destination} ${because}`,
  };
}

// What a gateway must expose: every enabled service that selects one of the
// processing units it fronts, with that unit's address as the upstream.
import type { ServiceRoute } from '@microseg/proto/policy';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ServiceRouteSchema } from '@microseg/proto/policy';
import type { ProcessingUnitObject, ServiceObject } from '@microseg/contracts';
import { paths } from '@microseg/contracts';
import { selects, type Snapshot } from './snapshot.ts';

/** Older first (bootstrap objects have no createTime: oldest), then by ID: every gateway and replica agrees. */
function olderFirst(a: ServiceObject, b: ServiceObject): number {
  const at = (s: ServiceObject) => (s as { createTime?: string }).createTime ?? '';
  return at(a) < at(b) ? -1 : at(a) > at(b) ? 1 : a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0;
}

/** A service left out because its ports are not among those its processing unit's gateway allows. */
export type PortsRefused = (service: ServiceObject, pu: ProcessingUnitObject, problem: PortsProblem) => void;

export interface PortsProblem {
  attribute: 'port' | 'exposedPort';
  message: string;
}

/**
 * The ports a service may use are its processing unit's gateway's choice (the gateway's file): the application
 * ports at that address and the ports the gateway may open. Anything else — another port of the host (the policy
 * API, health ports), the gateway's own admin port — is refused. A unit registered without ports allows nothing.
 */
export function portsProblem(service: Pick<ServiceObject, 'port' | 'exposedPort'>, pu: ProcessingUnitObject): PortsProblem | undefined {
  const application = pu.applicationPorts ?? [];
  const exposed = pu.exposedPorts ?? [];
  if (!application.includes(service.port)) {
    return {
      attribute: 'port',
      message: `${service.port} is not an application port of processing unit ${pu.name} (allowed: ${application.join(', ') || 'none'}); its gateway's file lists them`,
    };
  }
  if (!exposed.includes(service.exposedPort)) {
    return {
      attribute: 'exposedPort',
      message: `${service.exposedPort} is not a port the gateway of processing unit ${pu.name} may open (allowed: ${exposed.join(', ') || 'none'}); its gateway's file lists them`,
    };
  }
  return undefined;
}

/** A service left out because an older one already has its exposedPort and host on this gateway. */
export type RouteConflict = (kept: ServiceObject, dropped: ServiceObject, port: number, host: string) => void;

/**
 * `processingUnits` are the gateway's own, as it registered them in this very request. When two services
 * claim the same exposedPort and host on one gateway, the older keeps them and the newer is not served
 * (`onConflict` hears of it): a gateway finds its service by port and host, so otherwise the last one
 * written would win — and anyone who may write a service in some namespace could take over the traffic,
 * sign-ins included, of a service in another.
 */
export function routesFor(
  snapshot: Snapshot,
  processingUnits: readonly ProcessingUnitObject[],
  onConflict?: RouteConflict,
  onPortsRefused?: PortsRefused,
): MessageInitShape<typeof ServiceRouteSchema>[] {
  const routes: MessageInitShape<typeof ServiceRouteSchema>[] = [];
  const claimed = new Map<string, ServiceObject>();
  for (const service of [...snapshot.services.values()].sort(olderFirst)) {
    if (service.disabled) continue;
    const pu = processingUnits.find((p) => selects(service, p));
    if (!pu) continue;
    const refused = portsProblem(service, pu);
    if (refused) {
      onPortsRefused?.(service, pu, refused);
      continue;
    }
    const hosts = service.hosts.map((h) => h.toLowerCase());
    const taken = hosts.find((h) => claimed.has(`${service.exposedPort} ${h}`));
    if (taken !== undefined) {
      onConflict?.(claimed.get(`${service.exposedPort} ${taken}`)!, service, service.exposedPort, taken);
      continue;
    }
    for (const h of hosts) claimed.set(`${service.exposedPort} ${h}`, service);
    routes.push({
      id: service.ID,
      name: service.name,
      namespace: service.namespace,
      hosts,
      exposedPort: service.exposedPort,
      port: service.port,
      upstreamAddress: pu.address,
      processingUnit: pu.name,
      authorizationType: service.authorizationType,
      exposedServiceIsTls: service.exposedServiceIsTLS,
      applicationProtocol: service.applicationProtocol ?? 'HTTP/1.1',
      applicationCa: service.applicationCA ?? '',
      claimsToHttpHeaderMappings: service.claimsToHTTPHeaderMappings.map((m) => ({ claimName: m.claimName, targetHttpHeader: m.targetHTTPHeader })),
      redirectUrlOnAuthorizationFailure: service.redirectURLOnAuthorizationFailure ?? '',
      tlsCertificate: service.TLSCertificate ?? '',
      tlsCertificateKey: service.TLSCertificateKey ?? '',
      acceptBearerTokens: service.acceptBearerTokens,
      forwardAuth: service.forwardAuth ?? false,
      // Absent in objects stored before it existed.
      passAccessToken: service.passAccessToken ?? false,
    });
  }
  return routes;
}

export type { ServiceRoute };

/**
 * The redirect URI registered at the IdP: OIDCCallbackURL (the app's URL as
 * users reach it) + the callback path, unless it already ends so; by default
 * built from hosts[0] and exposedPort — with the port, unlike the original.
 */
export function redirectUriOf(service: ServiceObject): string {
  const base = service.OIDCCallbackURL ?? `https://${service.hosts[0]}${service.exposedPort === 443 ? '' : `:${service.exposedPort}`}`;
  const trimmed = base.replace(/\/+$/, '');
  return trimmed.endsWith(paths.callback) ? trimmed : `${trimmed}${paths.callback}`;
}

export function scopesOf(service: ServiceObject): string[] {
  return ['openid', ...service.OIDCScopes.filter((s) => s !== 'openid')];
}

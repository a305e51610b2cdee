// What a gateway must expose: every enabled service that selects one of the
// processing units it fronts, with that unit's address as the upstream.
import type { ServiceRoute } from '@microseg/proto/policy';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ServiceRouteSchema } from '@microseg/proto/policy';
import type { ProcessingUnitObject, ServiceObject } from '@microseg/contracts';
import { paths } from '@microseg/contracts';
import { selects, type Snapshot } from './snapshot.ts';

/** `processingUnits` are the gateway's own, as it registered them in this very request. */
export function routesFor(snapshot: Snapshot, processingUnits: readonly ProcessingUnitObject[]): MessageInitShape<typeof ServiceRouteSchema>[] {
  const routes: MessageInitShape<typeof ServiceRouteSchema>[] = [];
  for (const service of snapshot.services.values()) {
    if (service.disabled) continue;
    const pu = processingUnits.find((p) => selects(service, p));
    if (!pu) continue;
    routes.push({
      id: service.ID,
      name: service.name,
      namespace: service.namespace,
      hosts: service.hosts.map((h) => h.toLowerCase()),
      exposedPort: service.exposedPort,
      port: service.port,
      upstreamAddress: pu.address,
      processingUnit: pu.name,
      authorizationType: service.authorizationType,
      exposedServiceIsTls: service.exposedServiceIsTLS,
      claimsToHttpHeaderMappings: service.claimsToHTTPHeaderMappings.map((m) => ({ claimName: m.claimName, targetHttpHeader: m.targetHTTPHeader })),
      redirectUrlOnAuthorizationFailure: service.redirectURLOnAuthorizationFailure ?? '',
      tlsCertificate: service.TLSCertificate ?? '',
      tlsCertificateKey: service.TLSCertificateKey ?? '',
      acceptBearerTokens: service.acceptBearerTokens,
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

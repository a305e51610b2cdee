// svc.policy.v1.service.oidc: a service's OIDC settings for authn, its client secret opened. Only an enabled
// OIDC service has them; a secret this replica cannot open is refused with POLICY_SECRET_UNREADABLE (and
// reported by the health check) rather than sent empty.
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Bus } from '@microseg/bus';
import { requests } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import type { OidcClientRequest, OidcClientResponseSchema } from '@microseg/proto/policy';
import { redirectUriOf, scopesOf } from '../routes.ts';
import type { SecretHealthReporter } from '../secret-health.ts';
import type { SecretBox } from '../secrets.ts';
import type { Snapshot } from '../snapshot.ts';

export interface OidcClientDeps {
  store: { readonly snapshot: Snapshot };
  secrets: Pick<SecretBox, 'open'>;
  secretHealth: Pick<SecretHealthReporter, 'check'>;
}

export function answerOidcClient(deps: OidcClientDeps, req: OidcClientRequest): MessageInitShape<typeof OidcClientResponseSchema> {
  const service = deps.store.snapshot.services.get(req.serviceId);
  if (!service || service.authorizationType !== 'OIDC' || service.disabled) throw new MicrosegError('AUTHN_SERVICE_UNKNOWN');
  if (deps.secretHealth.check(service).some((u) => u.field === 'OIDCClientSecret')) throw new MicrosegError('POLICY_SECRET_UNREADABLE');
  const redirectUri = redirectUriOf(service);
  return {
    serviceId: service.ID,
    name: service.name,
    namespace: service.namespace,
    providerUrl: service.OIDCProviderURL ?? '',
    clientId: service.OIDCClientID ?? '',
    clientSecret: service.OIDCClientSecret ? deps.secrets.open(service.OIDCClientSecret, { kind: 'service', id: service.ID, field: 'OIDCClientSecret' }) : '',
    redirectUri,
    scopes: scopesOf(service),
    sessionIdleTimeoutSeconds: service.sessionIdleTimeoutSeconds,
    sessionMaxLifetimeSeconds: service.sessionMaxLifetimeSeconds,
    acceptBearerTokens: service.acceptBearerTokens,
    providerProfile: service.OIDCProviderProfile,
    allowedTenants: service.OIDCAllowedTenants ?? [],
    // The IdP sends the user back to the service's own origin after logout: fixed here, never taken from a request.
    postLogoutRedirectUri: `${new URL(redirectUri).origin}/`,
  };
}

export function serveOidcClient(bus: Pick<Bus, 'serve'>, deps: OidcClientDeps): void {
  bus.serve(requests.policyOidcClient, (req) => answerOidcClient(deps, req));
}

// Ways the demo IdP can imitate where real identity providers bend OpenID Connect, so that authn's
// provider profiles (services/authn/src/providers.ts) can be tested against a real IdP that does it.
// Each imitates one documented habit, not the whole provider.
import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { DemoUser } from './users.ts';

export type DemoIdpBehaviour = 'standard' | 'google' | 'keycloak' | 'azure' | 'okta';

export const DEMO_IDP_BEHAVIOURS: readonly DemoIdpBehaviour[] = ['standard', 'google', 'keycloak', 'azure', 'okta'];

/** The tenant of every user when the IdP behaves like Azure AD (the `tid` claim). */
export const DEMO_AZURE_TENANT_ID = '4f0d2b1e-7c3a-4e5b-9a61-0c8d2e7f3b10';

/**
 * When the IdP behaves like Azure AD, a user with more groups than this gets a groups overage
 * reference instead of the `groups` claim. Azure AD's limit is 200 groups in a JWT; the demo's is
 * one, so that alice (two groups) gets the overage and bob (one group) the list.
 */
export const DEMO_AZURE_GROUPS_LIMIT = 1;

export function isDemoIdpBehaviour(value: unknown): value is DemoIdpBehaviour {
  return typeof value === 'string' && (DEMO_IDP_BEHAVIOURS as readonly string[]).includes(value);
}

/**
 * The path of the default issuer (`http://localhost:<port><path>`):
 * Okta's authorization servers live at `/oauth2/<name>`, Keycloak's realms at `/realms/<name>`,
 * Azure AD's single-tenant issuer is `/<tenant id>/v2.0`.
 */
export function issuerPathFor(behaviour: DemoIdpBehaviour): string {
  switch (behaviour) {
    case 'okta':
      return '/oauth2/default';
    case 'keycloak':
      return '/realms/demo';
    case 'azure':
      return `/${DEMO_AZURE_TENANT_ID}/v2.0`;
    default:
      return '';
  }
}

/** Endpoint paths under the issuer, named as the provider names them (oidc-provider's otherwise). */
export function routesFor(behaviour: DemoIdpBehaviour): Configuration['routes'] {
  switch (behaviour) {
    case 'okta':
      return {
        authorization: '/v1/authorize',
        token: '/v1/token',
        jwks: '/v1/keys',
        userinfo: '/v1/userinfo',
        end_session: '/v1/logout',
        revocation: '/v1/revoke',
      };
    case 'keycloak':
      return {
        authorization: '/protocol/openid-connect/auth',
        token: '/protocol/openid-connect/token',
        jwks: '/protocol/openid-connect/certs',
        userinfo: '/protocol/openid-connect/userinfo',
        end_session: '/protocol/openid-connect/logout',
        revocation: '/protocol/openid-connect/revoke',
      };
    default:
      return undefined;
  }
}

/** Which claims each scope releases (with `conformIdTokenClaims: false`, in the ID token too). */
export function claimsConfigFor(behaviour: DemoIdpBehaviour): NonNullable<Configuration['claims']> {
  const openid = ['sub'];
  // Keycloak's default "roles" client scope is granted without being requested.
  if (behaviour === 'keycloak') openid.push('realm_access', 'resource_access');
  if (behaviour === 'azure') openid.push('tid');
  return {
    openid,
    email: ['email', 'email_verified'],
    profile: ['name', 'groups'],
  };
}

/** The claims the IdP can release for a user, for the client asking (oidc-provider filters them by scope). */
export function accountClaimsFor(behaviour: DemoIdpBehaviour, user: DemoUser, clientId: string | undefined): { sub: string; [claim: string]: unknown } {
  const claims: { sub: string; [claim: string]: unknown } = {
    sub: user.sub,
    email: user.email,
    email_verified: user.emailVerified,
    name: user.name,
    groups: [...user.groups],
  };
  if (behaviour === 'keycloak') {
    claims['realm_access'] = { roles: [...(user.realmRoles ?? [])] };
    const clientRoles = user.clientRoles ?? [];
    if (clientId && clientRoles.length > 0) claims['resource_access'] = { [clientId]: { roles: [...clientRoles] } };
  }
  if (behaviour === 'azure') {
    claims['tid'] = DEMO_AZURE_TENANT_ID;
    if (user.groups.length > DEMO_AZURE_GROUPS_LIMIT) {
      // Distributed claims (OIDC Core §5.6.2), as Azure AD sends a groups overage; oidc-provider
      // releases the reference wherever it would release `groups`.
      delete claims['groups'];
      claims['_claim_names'] = { groups: 'src1' };
      claims['_claim_sources'] = {
        src1: { endpoint: `https://graph.microsoft.com/v1.0/users/${encodeURIComponent(user.sub)}/getMemberObjects` },
      };
    }
  }
  return claims;
}

/** The `scope` parameter as the client sent it (oidc-provider has already dropped an offline_access it will not honour). */
function requestedScopes(ctx: KoaContextWithOIDC): string[] {
  const source = ctx.method === 'POST' ? ctx.oidc.body : (ctx.query as Record<string, unknown>);
  const scope = source?.['scope'];
  return typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [];
}

function setScopes(ctx: KoaContextWithOIDC, scopes: readonly string[]): void {
  const params = ctx.oidc.params;
  if (params) params['scope'] = [...new Set(scopes)].join(' ');
}

function currentScopes(ctx: KoaContextWithOIDC): string[] {
  const scope = ctx.oidc.params?.['scope'];
  return typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [];
}

/**
 * Authorization request parameters beyond the standard, each with a check that oidc-provider runs
 * on every authorization request after its own scope handling (so `ctx.oidc.params.scope` no longer
 * has an offline_access it will not honour: it keeps one only with `prompt=consent`).
 *
 * - google: the `offline_access` scope is refused (`invalid_scope`, as Google does). A refresh token
 *   comes with `access_type=offline` and `prompt=consent`; the IdP then adds offline_access to the
 *   request's scope itself, so it shows in the granted scope (Google's token response would not
 *   name it).
 * - keycloak, azure, okta: `offline_access` yields a refresh token without `prompt=consent`.
 */
export function extraParamsFor(behaviour: DemoIdpBehaviour): Configuration['extraParams'] {
  if (behaviour === 'google') {
    return {
      access_type(ctx, value) {
        if (requestedScopes(ctx).includes('offline_access')) {
          throw new errors.InvalidScope('offline_access is not a valid scope here; use access_type=offline', 'offline_access');
        }
        if (value !== undefined && value !== 'online' && value !== 'offline') {
          throw new errors.InvalidRequest("access_type must be 'online' or 'offline'");
        }
        const scopes = currentScopes(ctx).filter((scope) => scope !== 'offline_access');
        if (value === 'offline' && ctx.oidc.prompts.has('consent')) scopes.push('offline_access');
        setScopes(ctx, scopes);
      },
    };
  }
  if (behaviour === 'keycloak' || behaviour === 'azure' || behaviour === 'okta') {
    return {
      // A validator for a parameter nobody sends: it runs on every authorization request all the same.
      _demo_offline_access(ctx, _value, client) {
        const wanted = requestedScopes(ctx).includes('offline_access');
        if (wanted && client.grantTypeAllowed('refresh_token')) setScopes(ctx, [...currentScopes(ctx), 'offline_access']);
      },
    };
  }
  return [];
}

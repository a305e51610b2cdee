// Where real identity providers bend the standard, so that users do not have
// to find out alone. A profile is chosen from the issuer unless the service
// names one (OIDCProviderProfile).
import { isAzureMultiTenantProvider } from '@microseg/contracts';
import { claimsToTags } from './claims.ts';

export type ProviderProfile = 'generic' | 'google' | 'azure' | 'okta' | 'keycloak';

export function profileFor(providerUrl: string, configured: string): ProviderProfile {
  if (configured && configured !== 'auto') return configured as ProviderProfile;
  let url: URL;
  try {
    url = new URL(providerUrl);
  } catch {
    return 'generic';
  }
  const host = url.hostname.toLowerCase();
  if (host === 'accounts.google.com') return 'google';
  if (host === 'login.microsoftonline.com' || host.endsWith('.microsoftonline.com')) return 'azure';
  if (/\.(okta|oktapreview|okta-emea)\.com$/.test(host)) return 'okta';
  if (/\/realms\/[^/]+\/?$/.test(url.pathname)) return 'keycloak';
  return 'generic';
}

/**
 * The scope and extra parameters of the authorization request.
 * - offline_access asks for a refresh token. OIDC Core §11 wants `prompt=consent` with it
 *   (oidc-provider drops offline_access without it).
 * - Google takes no offline_access scope: a refresh token comes with `access_type=offline`
 *   and, to get one on every login, `prompt=consent`.
 * - Okta, Azure AD and Keycloak issue refresh tokens for offline_access without forcing consent.
 */
export function authorizationParameters(profile: ProviderProfile, scopes: readonly string[]): Record<string, string> {
  const wantsRefresh = scopes.includes('offline_access');
  if (profile === 'google') {
    const scope = scopes.filter((s) => s !== 'offline_access').join(' ');
    return wantsRefresh ? { scope, access_type: 'offline', prompt: 'consent' } : { scope };
  }
  const scope = scopes.join(' ');
  if (wantsRefresh && profile === 'generic') return { scope, prompt: 'consent' };
  return { scope };
}

/**
 * Claims → tags, with each provider's nesting flattened:
 * - Keycloak nests roles: `realm_access.roles` → `realm_access.roles=admin`, and
 *   `resource_access.<client>.roles` → `resource_access.<client>.roles=editor`.
 * - Azure AD replaces a long group list by an "overage" reference (`_claim_names.groups`): the
 *   groups are not in the token, so rules on `groups=` cannot match; the tag `groups.overage=true`
 *   says so (configure the app registration to emit fewer groups, or use app roles: `roles=…`).
 */
export function tagsFromClaims(profile: ProviderProfile, claims: Record<string, unknown>): string[] {
  const tags = claimsToTags(claims);
  const add = (tag: string) => {
    if (!tags.includes(tag)) tags.push(tag);
  };
  if (profile === 'keycloak' || profile === 'generic') {
    const realm = claims.realm_access as { roles?: unknown } | undefined;
    if (realm && Array.isArray(realm.roles)) for (const r of realm.roles) if (typeof r === 'string') add(`realm_access.roles=${r}`);
    const resources = claims.resource_access as Record<string, { roles?: unknown }> | undefined;
    if (resources && typeof resources === 'object') {
      for (const [clientId, access] of Object.entries(resources)) {
        if (/^[\w.:-]+$/.test(clientId) && access && Array.isArray(access.roles)) {
          for (const r of access.roles) if (typeof r === 'string') add(`resource_access.${clientId}.roles=${r}`);
        }
      }
    }
  }
  if (profile === 'azure' || profile === 'generic') {
    const names = claims._claim_names as Record<string, unknown> | undefined;
    if (names && typeof names === 'object' && 'groups' in names) add('groups.overage=true');
  }
  return tags;
}

/**
 * Azure AD's multi-tenant discovery documents (`/common`, `/organizations`) carry the issuer
 * template `https://login.microsoftonline.com/{tenantid}/v2.0`; each ID token's `iss` names the
 * user's tenant. The expected issuer of a token is the template with the token's `tid`.
 */
export function isTenantTemplate(issuer: string): boolean {
  return issuer.includes('{tenantid}');
}

export function issuerForTenant(template: string, tid: unknown): string | undefined {
  return typeof tid === 'string' && /^[0-9a-fA-F-]{36}$/.test(tid) ? template.replace('{tenantid}', tid) : undefined;
}

/** The issuer a token must name: the discovery document's, or, for a tenant template, the template with the token's `tid`. */
export function expectedIssuer(discovered: string, claims: Record<string, unknown>): string | undefined {
  return isTenantTemplate(discovered) ? issuerForTenant(discovered, claims.tid) : discovered;
}

/**
 * Why a token's tenant is not accepted, or undefined. With OIDCAllowedTenants, the token's `tid` must be
 * listed; a multi-tenant Azure AD provider without the list accepts nobody (fail closed: objects from
 * before the list was required).
 */
export function tenantProblem(allowedTenants: readonly string[], providerUrl: string, claims: Record<string, unknown>): string | undefined {
  if (allowedTenants.length === 0) {
    return isAzureMultiTenantProvider(providerUrl)
      ? 'the service uses a multi-tenant Azure AD endpoint and lists no OIDCAllowedTenants: no tenant is accepted'
      : undefined;
  }
  const tid = claims.tid;
  if (typeof tid !== 'string' || tid === '') return 'the token names no tenant (tid), and the service accepts only the tenants in OIDCAllowedTenants';
  if (!allowedTenants.some((t) => t.toLowerCase() === tid.toLowerCase()))
    return `the token's tenant ${JSON.stringify(tid.slice(0, 64))} is not in OIDCAllowedTenants`;
  return undefined;
}

// Bearer tokens for API clients (SPEC §3.6): an access token (a JWT) issued by
// the service's IdP for this client (`aud`), verified against the IdP's keys,
// in place of a cookie. Tokens mean what they are (issue 12, point 7):
// - an ID token is not an access token: one with `nonce`, `at_hash`, `c_hash`
//   or `s_hash` (members only an ID token has) is refused — except Keycloak's
//   access tokens (payload `typ: Bearer`), which copy the login's `nonce`;
//   Keycloak's ID tokens say `typ: ID` and are refused;
// - a logout token (or any Security Event Token: `events`) is refused;
// - a `typ` header other than `at+jwt`, `application/at+jwt` or `JWT` is refused.
//   A missing `typ` is accepted: Okta and others sign access tokens without one
//   (RFC 9068 asks for `at+jwt`, but refusing would lock those IdPs out), and the
//   claims above already tell ID and logout tokens apart;
// - only asymmetric algorithms the IdP announces (never `none` or HS*: a shared
//   secret, or a public key misused as one, would let the holder mint tokens);
// - `iat` is required, not in the future, and the token lives no longer than
//   AUTHN_BEARER_MAX_LIFETIME_SECONDS, so that a revocation can outlive it;
// - a user's tokens issued before their revocation are refused;
// - OIDCAllowedTenants, when set (required for Azure's multi-tenant endpoints):
//   the token's `tid` must be listed.
import { decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { BearerVerifyRequest, BearerVerifyResponseSchema } from '@microseg/proto/authn';
import type { OidcClient, OidcClients } from './oidc-clients.ts';
import { keySetOf } from './jwks.ts';
import { acceptedAlgorithms, CLOCK_TOLERANCE_SECONDS, duplicateMember } from './id-token.ts';
import { expectedIssuer, profileFor, tagsFromClaims, tenantProblem, type ProviderProfile } from './providers.ts';
import type { BearerRevocations } from './bearer-revocation.ts';

export interface BearerDeps {
  clients: Pick<OidcClients, 'get'>;
  revocations: Pick<BearerRevocations, 'revokedAtMs'>;
  /** AUTHN_BEARER_MAX_LIFETIME_SECONDS. */
  maxLifetimeSeconds: number;
}

export class BearerRejected extends Error {
  override name = 'BearerRejected';
}

const ACCEPTED_TYPES = new Set(['at+jwt', 'application/at+jwt', 'jwt']);
/** Members only an ID token carries (OIDC Core §2, §3.3.2.11, FAPI's s_hash). */
const ID_TOKEN_MEMBERS = ['nonce', 'at_hash', 'c_hash', 's_hash'] as const;

function segmentText(segment: string | undefined): string {
  return Buffer.from(segment ?? '', 'base64url').toString('utf8');
}

/** The checks that need no key: what kind of token this is and how it is signed. Throws BearerRejected. */
export function checkBearerForm(token: string, announcedAlgorithms: readonly string[] | undefined, profile: ProviderProfile = 'generic'): void {
  const [header, payload] = token.split('.');
  for (const [part, text] of [
    ['header', segmentText(header)],
    ['payload', segmentText(payload)],
  ] as const) {
    let twice: string | undefined;
    try {
      twice = duplicateMember(text);
    } catch {
      throw new BearerRejected(`the token's ${part} is not JSON`);
    }
    if (twice !== undefined) throw new BearerRejected(`the token's ${part} has a member twice`);
  }
  let protectedHeader;
  let claims: Record<string, unknown>;
  try {
    protectedHeader = decodeProtectedHeader(token);
    claims = JSON.parse(segmentText(payload)) as Record<string, unknown>;
  } catch {
    throw new BearerRejected('the token is not a JWT');
  }
  if (!claims || typeof claims !== 'object' || Array.isArray(claims)) throw new BearerRejected('the token is not a JWT');
  const alg = String(protectedHeader.alg ?? '');
  if (!acceptedAlgorithms(announcedAlgorithms).includes(alg))
    throw new BearerRejected(`the token is signed with ${alg.slice(0, 20) || 'no algorithm'}, not an asymmetric algorithm the provider announces`);
  const typ = protectedHeader.typ;
  if (typ !== undefined && !ACCEPTED_TYPES.has(String(typ).toLowerCase()))
    throw new BearerRejected(`the token's type (typ) is ${JSON.stringify(String(typ).slice(0, 40))}, not an access token's`);
  // Keycloak types its tokens in the payload: `ID` for an ID token, `Bearer` for an access token (which carries the login's nonce).
  if (claims.typ === 'ID') throw new BearerRejected('the token is an ID token (typ ID), not an access token');
  const keycloakAccessToken = profile === 'keycloak' && claims.typ === 'Bearer';
  if (!keycloakAccessToken) {
    for (const member of ID_TOKEN_MEMBERS)
      if (member in claims) throw new BearerRejected(`the token is an ID token (it carries ${member}), not an access token`);
  }
  if ('events' in claims) throw new BearerRejected('the token is a logout token or another security event token (events), not an access token');
}

/** The checks on verified claims that jose does not make. Throws BearerRejected. */
export function checkBearerClaims(
  oidc: Pick<OidcClient, 'settings'>,
  issuer: string,
  payload: JWTPayload,
  maxLifetimeSeconds: number,
  nowMs = Date.now(),
): void {
  const claims = payload as Record<string, unknown>;
  const expected = expectedIssuer(issuer, claims);
  if (!expected || payload.iss !== expected) throw new BearerRejected('the token was issued by another issuer');
  if (typeof payload.sub !== 'string' || payload.sub === '') throw new BearerRejected('the token names no subject');
  const iat = payload.iat!;
  if (iat > nowMs / 1000 + CLOCK_TOLERANCE_SECONDS) throw new BearerRejected('the token was issued in the future (iat)');
  if (payload.exp! - iat > maxLifetimeSeconds)
    throw new BearerRejected(`the token lives longer than ${maxLifetimeSeconds} s (AUTHN_BEARER_MAX_LIFETIME_SECONDS)`);
  const tenant = tenantProblem(oidc.settings.allowedTenants, oidc.settings.providerUrl, claims);
  if (tenant) throw new BearerRejected(tenant);
}

/** Verify `token` for the service; throws BearerRejected (or an IdP/Redis error) when it is not accepted. */
export async function acceptBearer(deps: BearerDeps, oidc: OidcClient, token: string): Promise<JWTPayload> {
  const metadata = oidc.config.serverMetadata();
  checkBearerForm(token, metadata.id_token_signing_alg_values_supported, profileFor(oidc.settings.providerUrl, oidc.settings.providerProfile));
  const { payload } = await jwtVerify(token, keySetOf(oidc), {
    audience: oidc.settings.clientId,
    clockTolerance: 5,
    algorithms: acceptedAlgorithms(metadata.id_token_signing_alg_values_supported),
    requiredClaims: ['iss', 'sub', 'exp', 'iat'],
  });
  checkBearerClaims(oidc, metadata.issuer, payload, deps.maxLifetimeSeconds);
  const names = [payload.sub!, ...(typeof payload.email === 'string' ? [payload.email] : [])];
  const revokedAtMs = await deps.revocations.revokedAtMs(names, oidc.settings.namespace);
  // `iat` has whole seconds: a token of the revocation's own second may be older than it, so it goes too.
  if (revokedAtMs && payload.iat! <= Math.floor(revokedAtMs / 1000)) throw new BearerRejected("the user's bearer tokens were revoked");
  return payload;
}

export async function verifyBearer(deps: BearerDeps, req: BearerVerifyRequest): Promise<MessageInitShape<typeof BearerVerifyResponseSchema>> {
  const oidc = await deps.clients.get(req.serviceId);
  if (!oidc.settings.acceptBearerTokens) return { valid: false };
  try {
    const payload = await acceptBearer(deps, oidc, req.token);
    const tags = tagsFromClaims(profileFor(oidc.settings.providerUrl, oidc.settings.providerProfile), payload);
    const subject = typeof payload.email === 'string' ? payload.email : payload.sub!;
    return { valid: true, tags, subject, expiresAtMs: BigInt(payload.exp! * 1000) };
  } catch {
    return { valid: false };
  }
}

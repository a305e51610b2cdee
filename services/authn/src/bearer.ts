// Bearer tokens for API clients (SPEC §3.6): a JWT issued by the service's IdP
// for this client (`aud`), verified against the IdP's keys, in place of a cookie.
import { jwtVerify } from 'jose';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { BearerVerifyRequest, BearerVerifyResponseSchema } from '@microseg/proto/authn';
import type { OidcClients } from './oidc-clients.ts';
import { keySetOf } from './jwks.ts';
import { profileFor, tagsFromClaims } from './providers.ts';

export async function verifyBearer(clients: OidcClients, req: BearerVerifyRequest): Promise<MessageInitShape<typeof BearerVerifyResponseSchema>> {
  const oidc = await clients.get(req.serviceId);
  if (!oidc.settings.acceptBearerTokens) return { valid: false };
  const metadata = oidc.config.serverMetadata();
  try {
    const { payload } = await jwtVerify(req.token, keySetOf(oidc), {
      issuer: metadata.issuer,
      audience: oidc.settings.clientId,
      clockTolerance: 5,
      algorithms: metadata.id_token_signing_alg_values_supported?.filter((a) => a !== 'none') ?? ['RS256'],
      requiredClaims: ['exp', 'sub'],
    });
    const tags = tagsFromClaims(profileFor(oidc.settings.providerUrl, oidc.settings.providerProfile), payload as Record<string, unknown>);
    const subject = typeof payload.email === 'string' ? payload.email : payload.sub!;
    return { valid: true, tags, subject, expiresAtMs: BigInt(payload.exp! * 1000) };
  } catch {
    return { valid: false };
  }
}

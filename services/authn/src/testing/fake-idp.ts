// A fake OpenID Provider for authn's unit tests: no socket. Its signing keys, its JWKS and token endpoint
// answered by a fetch function, and an OidcClient (a real openid-client Configuration) that calls it.
import { randomUUID } from 'node:crypto';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import * as client from 'openid-client';
import { OidcClientResponseSchema } from '@microseg/proto/policy';
import type { OidcClient } from '../oidc-clients.ts';

export const ISSUER = 'https://idp.example.com';
export const CLIENT_ID = 'web-client';

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function signingKey(kid: string = randomUUID()): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

export function sign(key: SigningKey, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: key.kid, ...header }).sign(key.privateKey);
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

export class FakeIdp {
  /** What the JWKS endpoint publishes (change it to rotate). */
  published: SigningKey[];
  /** The token endpoint: answers a code grant's form (set by the test). */
  token: (form: URLSearchParams) => Response | Promise<Response> = () => json({ error: 'invalid_grant' }, 400);
  /** Every URL fetched, in order. */
  readonly fetched: string[] = [];
  /** Set to fail the JWKS endpoint with this status. */
  jwksStatus = 200;
  readonly metadata: client.ServerMetadata;

  constructor(keys: SigningKey[], metadata: Partial<client.ServerMetadata> = {}) {
    this.published = keys;
    this.metadata = {
      issuer: ISSUER,
      authorization_endpoint: `${ISSUER}/auth`,
      token_endpoint: `${ISSUER}/token`,
      jwks_uri: `${ISSUER}/jwks`,
      id_token_signing_alg_values_supported: ['RS256'],
      ...metadata,
    };
  }

  jwksFetches(): number {
    return this.fetched.filter((url) => url === this.metadata.jwks_uri).length;
  }

  readonly fetch: client.CustomFetch = async (url, options) => {
    this.fetched.push(url);
    if (url === this.metadata.jwks_uri) return this.jwksStatus === 200 ? json({ keys: this.published.map((k) => k.publicJwk) }) : json({}, this.jwksStatus);
    if (url === this.metadata.token_endpoint) return this.token(new URLSearchParams(String(options.body)));
    return json({ error: 'not_found' }, 404);
  };

  /** An OidcClient for a service of this IdP (its own service id unless given: key sets are cached per service). */
  client(settings: MessageInitShape<typeof OidcClientResponseSchema> = {}): OidcClient {
    const config = new client.Configuration(this.metadata, CLIENT_ID, 'client-secret', client.ClientSecretBasic('client-secret'));
    config[client.customFetch] = this.fetch;
    return {
      settings: create(OidcClientResponseSchema, {
        serviceId: `svc-${randomUUID()}`,
        name: 'web',
        namespace: '/acme',
        providerUrl: ISSUER,
        clientId: CLIENT_ID,
        clientSecret: 'client-secret',
        redirectUri: 'https://app.example.com/aporeto/oidc/callback',
        scopes: ['openid', 'email'],
        sessionIdleTimeoutSeconds: 3600,
        sessionMaxLifetimeSeconds: 8 * 3600,
        ...settings,
      }),
      config,
      fetch: this.fetch,
    };
  }
}

export { json as jsonResponse };

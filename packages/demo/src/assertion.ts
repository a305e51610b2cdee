// How an application verifies microseg's identity assertion (the `X-Microseg-Jwt-Assertion` header) with
// `jose`: the keys from the gateway's key set over TLS (the gateway's certificate trusted explicitly), ES256
// only, the issuer and this application's audience checked, a lifetime required. The demo application shows
// the result; docs/protect-your-app.md shows the same in a few lines.
import { readFile } from 'node:fs/promises';
import { createRemoteJWKSet, customFetch, jwtVerify, type JWTPayload } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';

export interface AssertionCheck {
  /** The key set: `https://<a host of the service>/.well-known/microseg/jwks.json`. */
  jwksUrl: string;
  /** microseg's issuer (POLICY_ASSERTION_ISSUER). */
  issuer: string;
  /** This application's service(s) as `<namespace>/<name>`: an assertion for any other service is refused. */
  audiences: string[];
  /** PEM of the certificate (or CA) to trust for the key set; read at each fetch (the gateway may make it later). */
  caFile?: string;
  /** How long fetched keys are kept (ms); jose's default (10 minutes) when absent. */
  cacheMaxAgeMs?: number;
}

export interface VerifiedClaims extends JWTPayload {
  email?: string;
  tags?: string[];
}

export type AssertionResult =
  { present: false } | { present: true; verified: true; kid: string; claims: VerifiedClaims } | { present: true; verified: false; error: string };

/** A verifier of assertions; each token's answer is kept until the token expires (the gateway reuses a token). */
export function assertionVerifier(check: AssertionCheck): (token: string | undefined) => Promise<AssertionResult> {
  const jwks = createRemoteJWKSet(new URL(check.jwksUrl), {
    ...(check.cacheMaxAgeMs === undefined ? {} : { cacheMaxAge: check.cacheMaxAgeMs }),
    [customFetch]: fetchTrusting(check.caFile),
  });
  const known = new Map<string, { result: AssertionResult; expMs: number }>();
  return async (token) => {
    if (!token) return { present: false };
    const hit = known.get(token);
    if (hit && Date.now() < hit.expMs) return hit.result;
    let result: AssertionResult;
    try {
      const { payload, protectedHeader } = await jwtVerify<VerifiedClaims>(token, jwks, {
        algorithms: ['ES256'],
        issuer: check.issuer,
        audience: check.audiences,
        typ: 'JWT',
        requiredClaims: ['sub', 'iat', 'exp', 'jti'],
        maxTokenAge: '10 minutes',
      });
      result = { present: true, verified: true, kid: protectedHeader.kid ?? '', claims: payload };
      if (known.size >= 1_000) known.clear();
      known.set(token, { result, expMs: payload.exp! * 1000 });
    } catch (err) {
      result = { present: true, verified: false, error: `${(err as Error).name}: ${(err as Error).message}` };
    }
    return result;
  };
}

/** fetch for jose that trusts `caFile` (and nothing else) when given. */
function fetchTrusting(caFile: string | undefined) {
  let agent: { ca: string; agent: Agent } | undefined;
  return async (url: string, options: { headers: Headers; method: 'GET'; redirect: 'manual'; signal: AbortSignal }): Promise<Response> => {
    if (!caFile) return fetch(url, options);
    const ca = await readFile(caFile, 'utf8');
    if (agent?.ca !== ca) {
      void agent?.agent.close();
      agent = { ca, agent: new Agent({ connect: { ca } }) };
    }
    const headers = Object.fromEntries(options.headers.entries());
    return (await undiciFetch(url, { method: 'GET', headers, redirect: 'manual', signal: options.signal, dispatcher: agent.agent })) as unknown as Response;
  };
}

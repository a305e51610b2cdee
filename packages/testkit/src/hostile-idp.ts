// A scriptable OpenID Provider for attack tests (node:http, no oidc-provider).
// By default it behaves: discovery, an authorization endpoint that approves at
// once (no login page), a token endpoint that checks client authentication
// and PKCE, a JWKS, an end-session endpoint. A scenario then makes it lie:
// forged ID tokens (alg none, HS256, wrong kid, embedded jwk/jku, bad claims,
// duplicate members), odd discovery documents, mix-up `iss`, broken or
// rotated key sets, slow or huge answers. It logs every request it gets.
//
// Every path may be prefixed with `/t/<tenant>/`: each tenant is an issuer of
// its own (`issuerFor(name)`), so a test can give a relying party a provider
// it has never discovered, without restarting anything.
//
// Why over 300 lines: one provider whose every endpoint can be scripted to misbehave; the scenarios share
// its keys and request log, so they stay together.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { JWK } from 'jose';
import { compactJws, generateRsaSigningKey, withChanges, type JwsSignature, type RsaSigningKey } from './forge-jwt.ts';

export type HostileEndpoint = 'discovery' | 'auth' | 'token' | 'jwks' | 'end_session' | 'attacker_jwks' | 'unknown';

/** An answer sent as is, in place of what the endpoint would say. */
export interface RawAnswer {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Send the body in pieces of this many bytes (chunked, no Content-Length) … */
  chunkBytes?: number;
  /** … this long apart. */
  chunkIntervalMs?: number;
}

/** How the ID token of the next token responses is made. */
export interface IdTokenForgery {
  /** Over the correct claims; `null` removes a claim. */
  claims?: Record<string, unknown>;
  /** Over the header the signer implies (`alg`, `kid`, `typ`); `null` removes a member. */
  header?: Record<string, unknown>;
  /**
   * - current (default): RS256 with the key the JWKS publishes;
   * - retired: RS256 with the key used before the last `rotateKeys()`;
   * - decoy: RS256 with a second key the JWKS publishes only with `jwks: 'all'`;
   * - none: no signature (`alg: none`);
   * - client-secret: HS256 with the client's secret;
   * - public-key-as-secret: HS256 keyed with the PEM of the IdP's public key (alg confusion);
   * - attacker: RS256 with the attacker's key (see `attacker`);
   * - corrupt: the current key's signature with bits flipped.
   */
  signWith?: 'current' | 'retired' | 'decoy' | 'none' | 'client-secret' | 'public-key-as-secret' | 'attacker' | 'corrupt';
  /** The payload's exact JSON text, from the final claims (e.g. with a member twice). */
  payloadText?: (claims: Record<string, unknown>) => string;
  /** The header's exact JSON text, from the final header. */
  headerText?: (header: Record<string, unknown>) => string;
}

export interface HostileScenario {
  /** Over the correct discovery document; `null` removes a member. */
  discovery?: Record<string, unknown>;
  /** The redirect back to the client: an error instead of a code, another `iss`, no or another `state`, a given `code`. */
  authorization?: {
    error?: string;
    error_description?: string;
    /** `null`: leave `iss` out (it is sent by default, RFC 9207). */
    iss?: string | null;
    state?: string | null;
    /** Send this code instead of a fresh one; `null` sends none. */
    code?: string | null;
    extra?: Record<string, string>;
  };
  /** Checks the token endpoint skips. */
  lax?: { clientAuth?: boolean; pkce?: boolean; codeReuse?: boolean; redirectUri?: boolean };
  /** Over the token response; `null` removes a member. */
  tokenResponse?: Record<string, unknown>;
  idToken?: IdTokenForgery;
  /** What the JWKS publishes: the current key (default), every key (current, retired ones and a decoy), none, or the attacker's. */
  jwks?: 'current' | 'all' | 'empty' | 'attacker';
  /** Raw answers that replace an endpoint's. */
  answers?: Partial<Record<HostileEndpoint, RawAnswer>>;
  /** Wait this long before answering. */
  delayMs?: Partial<Record<HostileEndpoint, number>>;
}

export interface HostileClient {
  clientId: string;
  clientSecret: string;
  /** When given, /auth refuses any other redirect_uri. */
  redirectUris?: string[];
}

export interface HostileIdpOptions {
  port?: number;
  host?: string;
  clients?: HostileClient[];
  /** The signed-in user's claims (default alice@example.com). */
  user?: Record<string, unknown>;
}

export interface HostileRequest {
  at: number;
  method: string;
  /** The path without the query. */
  path: string;
  query: URLSearchParams;
  endpoint: HostileEndpoint;
  /** The tenant the path named ('' for the root issuer). */
  tenant: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface HostileIdp {
  /** The root tenant's issuer (`http://localhost:<port>`). */
  issuer: string;
  url: string;
  port: number;
  /** A tenant's issuer: `<url>/t/<name>`. */
  issuerFor(tenant: string): string;
  /** Replace the scenario (`{}` behaves correctly). */
  setScenario(scenario: HostileScenario): void;
  readonly scenario: HostileScenario;
  /** Every request received, oldest first. */
  requests: HostileRequest[];
  /** Requests since index `from` to an endpoint. */
  requestsTo(endpoint: HostileEndpoint, from?: number): HostileRequest[];
  /** Sign with a new key from now on; the JWKS publishes it (and, with `jwks: 'all'`, the old ones). Returns the new kid. */
  rotateKeys(): Promise<string>;
  readonly currentKid: string;
  /** The attacker's key and where it is published (`/attacker/jwks`): never something a relying party should fetch. */
  attacker: { kid: string; publicJwk: JWK; jwksUrl: string };
  clients: HostileClient[];
  close(): Promise<void>;
}

interface IssuedCode {
  clientId: string;
  redirectUri: string;
  issuer: string;
  scope: string;
  nonce?: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
  used: boolean;
}

const BODY_LIMIT_BYTES = 1024 * 1024;
const TENANT_PATH = /^\/t\/([A-Za-z0-9_.-]+)(\/.*)$/;

const ENDPOINTS: Record<string, HostileEndpoint> = {
  '/.well-known/openid-configuration': 'discovery',
  '/auth': 'auth',
  '/token': 'token',
  '/jwks': 'jwks',
  '/session/end': 'end_session',
};

export async function startHostileIdp(options: HostileIdpOptions = {}): Promise<HostileIdp> {
  const host = options.host ?? '127.0.0.1';
  const clients = options.clients ?? [{ clientId: 'hostile-client', clientSecret: 'hostile-secret' }];
  const user = options.user ?? { sub: 'alice', email: 'alice@example.com', email_verified: true, name: 'Alice' };
  let current = await generateRsaSigningKey();
  const retired: RsaSigningKey[] = [];
  const decoy = await generateRsaSigningKey();
  const attackerKey = await generateRsaSigningKey();
  const codes = new Map<string, IssuedCode>();
  const requests: HostileRequest[] = [];
  let scenario: HostileScenario = {};
  let url = '';

  const issuerFor = (tenant: string) => (tenant ? `${url}/t/${tenant}` : url);

  function discoveryDocument(issuer: string): Record<string, unknown> {
    return withChanges(
      {
        issuer,
        authorization_endpoint: `${issuer}/auth`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        end_session_endpoint: `${issuer}/session/end`,
        response_types_supported: ['code'],
        response_modes_supported: ['query'],
        grant_types_supported: ['authorization_code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        code_challenge_methods_supported: ['S256'],
        scopes_supported: ['openid', 'email', 'profile'],
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'email', 'email_verified', 'name'],
        authorization_response_iss_parameter_supported: true,
      },
      scenario.discovery,
    );
  }

  function jwks(): { keys: JWK[] } {
    switch (scenario.jwks ?? 'current') {
      case 'current':
        return { keys: [current.publicJwk] };
      case 'all':
        return { keys: [current.publicJwk, ...retired.map((k) => k.publicJwk), decoy.publicJwk] };
      case 'empty':
        return { keys: [] };
      case 'attacker':
        return { keys: [attackerKey.publicJwk] };
    }
  }

  function idToken(code: IssuedCode, client: HostileClient | undefined): string {
    const forgery = scenario.idToken ?? {};
    const now = Math.floor(Date.now() / 1000);
    const claims = withChanges(
      { ...user, iss: code.issuer, aud: code.clientId, exp: now + 300, iat: now, auth_time: now, ...(code.nonce === undefined ? {} : { nonce: code.nonce }) },
      forgery.claims,
    );
    const signWith = forgery.signWith ?? 'current';
    const rsa = (key: RsaSigningKey | undefined): { header: Record<string, unknown>; signature: JwsSignature } => {
      if (!key) throw new Error(`hostile IdP: no ${signWith} key to sign with (rotate the keys first)`);
      return { header: { alg: 'RS256', typ: 'JWT', kid: key.kid }, signature: { kind: 'rs256', key: key.privateKey } };
    };
    const signer = ((): { header: Record<string, unknown>; signature: JwsSignature } => {
      switch (signWith) {
        case 'current':
          return rsa(current);
        case 'retired':
          return rsa(retired.at(-1));
        case 'decoy':
          return rsa(decoy);
        case 'attacker':
          return rsa(attackerKey);
        case 'corrupt':
          return { header: { alg: 'RS256', typ: 'JWT', kid: current.kid }, signature: { kind: 'corrupt-rs256', key: current.privateKey } };
        case 'none':
          return { header: { alg: 'none', typ: 'JWT' }, signature: { kind: 'none' } };
        case 'client-secret':
          return { header: { alg: 'HS256', typ: 'JWT' }, signature: { kind: 'hs256', secret: client?.clientSecret ?? '' } };
        case 'public-key-as-secret':
          return { header: { alg: 'HS256', typ: 'JWT', kid: current.kid }, signature: { kind: 'hs256', secret: current.publicPem } };
      }
    })();
    const header = withChanges(signer.header, forgery.header);
    const headerText = forgery.headerText ? forgery.headerText(header) : JSON.stringify(header);
    const payloadText = forgery.payloadText ? forgery.payloadText(claims) : JSON.stringify(claims);
    return compactJws(headerText, payloadText, signer.signature);
  }

  function authorize(req: IncomingMessage, res: ServerResponse, issuer: string, query: URLSearchParams): void {
    const client = clients.find((c) => c.clientId === query.get('client_id'));
    const redirectUri = query.get('redirect_uri') ?? '';
    let target: URL;
    try {
      target = new URL(redirectUri);
    } catch {
      return sendJson(res, 400, { error: 'invalid_request', error_description: 'redirect_uri is not a URL' });
    }
    if (!client) return sendJson(res, 400, { error: 'invalid_client', error_description: 'unknown client_id' });
    if (client.redirectUris && !client.redirectUris.includes(redirectUri))
      return sendJson(res, 400, { error: 'invalid_request', error_description: 'redirect_uri is not registered' });
    const script = scenario.authorization ?? {};
    const params = target.searchParams;
    if (query.get('response_type') !== 'code') {
      params.set('error', 'unsupported_response_type');
    } else if (script.error) {
      params.set('error', script.error);
      if (script.error_description !== undefined) params.set('error_description', script.error_description);
    } else if (script.code !== null) {
      const code = script.code ?? randomBytes(24).toString('base64url');
      if (script.code === undefined) {
        codes.set(code, {
          clientId: client.clientId,
          redirectUri,
          issuer,
          scope: query.get('scope') ?? '',
          nonce: query.get('nonce') ?? undefined,
          codeChallenge: query.get('code_challenge') ?? undefined,
          codeChallengeMethod: query.get('code_challenge_method') ?? undefined,
          used: false,
        });
      }
      params.set('code', code);
    }
    const state = script.state === undefined ? query.get('state') : script.state;
    if (state !== null) params.set('state', state);
    const iss = script.iss === undefined ? issuer : script.iss;
    if (iss !== null) params.set('iss', iss);
    for (const [name, value] of Object.entries(script.extra ?? {})) params.set(name, value);
    res.writeHead(302, { location: target.href, 'cache-control': 'no-store' });
    res.end();
  }

  function token(req: IncomingMessage, res: ServerResponse, body: string): void {
    const form = new URLSearchParams(body);
    const lax = scenario.lax ?? {};
    const client = authenticate(req, form, clients);
    if (!client && !lax.clientAuth)
      return sendJson(
        res,
        401,
        { error: 'invalid_client', error_description: 'client authentication failed' },
        { 'www-authenticate': 'Basic realm="hostile"' },
      );
    if (form.get('grant_type') !== 'authorization_code') return sendJson(res, 400, { error: 'unsupported_grant_type' });
    const codeValue = form.get('code') ?? '';
    const code = codes.get(codeValue);
    if (!code) return sendJson(res, 400, { error: 'invalid_grant', error_description: 'unknown code' });
    if (code.used && !lax.codeReuse) return sendJson(res, 400, { error: 'invalid_grant', error_description: 'code already used' });
    if (!lax.clientAuth && code.clientId !== client?.clientId)
      return sendJson(res, 400, { error: 'invalid_grant', error_description: 'code issued to another client' });
    if (!lax.redirectUri && form.get('redirect_uri') !== code.redirectUri)
      return sendJson(res, 400, { error: 'invalid_grant', error_description: 'redirect_uri differs' });
    if (!lax.pkce) {
      const verifier = form.get('code_verifier');
      if (code.codeChallenge === undefined) {
        // RFC 9700 §2.1.1: a verifier without a challenge is a downgrade attempt.
        if (verifier !== null) return sendJson(res, 400, { error: 'invalid_grant', error_description: 'code_verifier without code_challenge' });
      } else if (code.codeChallengeMethod !== 'S256' || !verifier || createHash('sha256').update(verifier).digest('base64url') !== code.codeChallenge) {
        return sendJson(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
      }
    }
    code.used = true;
    const answer = withChanges(
      {
        access_token: randomBytes(24).toString('base64url'),
        token_type: 'Bearer',
        expires_in: 300,
        scope: code.scope,
        id_token: idToken(
          code,
          clients.find((c) => c.clientId === code.clientId),
        ),
      },
      scenario.tokenResponse,
    );
    sendJson(res, 200, answer, { 'cache-control': 'no-store' });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parsed = new URL(req.url ?? '/', 'http://hostile.invalid');
    const tenantMatch = TENANT_PATH.exec(parsed.pathname);
    const tenant = tenantMatch?.[1] ?? '';
    const rest = tenantMatch?.[2] ?? parsed.pathname;
    const endpoint: HostileEndpoint = !tenant && rest === '/attacker/jwks' ? 'attacker_jwks' : (ENDPOINTS[rest] ?? 'unknown');
    const body = req.method === 'POST' ? (await readBody(req)).toString('utf8') : '';
    requests.push({
      at: Date.now(),
      method: req.method ?? '',
      path: parsed.pathname,
      query: parsed.searchParams,
      endpoint,
      tenant,
      headers: { ...req.headers },
      body,
    });

    const delay = scenario.delayMs?.[endpoint];
    if (delay) await new Promise((r) => setTimeout(r, delay));
    if (res.destroyed) return;
    const raw = scenario.answers?.[endpoint];
    if (raw) return sendRaw(res, raw);

    const issuer = issuerFor(tenant);
    switch (endpoint) {
      case 'discovery':
        return sendJson(res, 200, discoveryDocument(issuer));
      case 'jwks':
        return sendJson(res, 200, jwks(), { 'content-type': 'application/jwk-set+json' });
      case 'attacker_jwks':
        return sendJson(res, 200, { keys: [attackerKey.publicJwk] });
      case 'auth':
        return authorize(req, res, issuer, parsed.searchParams);
      case 'token':
        if (req.method !== 'POST') return sendJson(res, 405, { error: 'invalid_request' });
        return token(req, res, body);
      case 'end_session': {
        const back = parsed.searchParams.get('post_logout_redirect_uri');
        if (back) {
          res.writeHead(302, { location: back });
          return void res.end();
        }
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return void res.end('<!doctype html><title>Signed out</title><p>Signed out.</p>');
      }
      default:
        return sendJson(res, 404, { error: 'not_found' });
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      sendJson(res, 500, { error: 'server_error', error_description: (err as Error).message });
    });
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve((server.address() as { port: number }).port));
  });
  url = `http://localhost:${port}`;

  return {
    issuer: url,
    url,
    port,
    issuerFor,
    setScenario(next) {
      scenario = next;
    },
    get scenario() {
      return scenario;
    },
    requests,
    requestsTo: (endpoint, from = 0) => requests.slice(from).filter((r) => r.endpoint === endpoint),
    async rotateKeys() {
      retired.push(current);
      current = await generateRsaSigningKey();
      return current.kid;
    },
    get currentKid() {
      return current.kid;
    },
    attacker: { kid: attackerKey.kid, publicJwk: attackerKey.publicJwk, jwksUrl: `${url}/attacker/jwks` },
    clients,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** client_secret_basic (RFC 6749 §2.3.1: both parts form-urlencoded) or client_secret_post. */
function authenticate(req: IncomingMessage, form: URLSearchParams, clients: HostileClient[]): HostileClient | undefined {
  const basic = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(req.headers.authorization ?? '');
  let id: string | null = null;
  let secret: string | null = null;
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    try {
      id = decode(decoded.slice(0, colon));
      secret = decode(decoded.slice(colon + 1));
    } catch {
      return undefined;
    }
  } else {
    id = form.get('client_id');
    secret = form.get('client_secret');
  }
  return clients.find((c) => c.clientId === id && c.clientSecret === secret);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > BODY_LIMIT_BYTES) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(value));
}

function sendRaw(res: ServerResponse, answer: RawAnswer): void {
  const body = Buffer.from(answer.body ?? '');
  const headers = { 'content-type': 'application/json', ...answer.headers };
  if (!answer.chunkBytes) {
    res.writeHead(answer.status ?? 200, headers);
    return void res.end(body);
  }
  res.writeHead(answer.status ?? 200, headers);
  const step = answer.chunkBytes;
  let offset = 0;
  const next = () => {
    if (res.destroyed) return;
    if (offset >= body.length) return void res.end();
    const piece = body.subarray(offset, offset + step);
    offset += step;
    res.write(piece);
    if (answer.chunkIntervalMs) setTimeout(next, answer.chunkIntervalMs);
    else setImmediate(next);
  };
  next();
}

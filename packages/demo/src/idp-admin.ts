// Demo-only endpoints under /_demo/ for tests that drive the IdP: counters and "log this user out
// everywhere" with back-channel logout. Not part of any standard; never expose such an IdP.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import type { Client, KoaContextWithOIDC } from 'oidc-provider';
import type { MemoryStore } from './memory-adapter.ts';
import { readRequestBody, RequestBodyTooLargeError } from './request-body.ts';
import type { DemoUser } from './users.ts';

export const DEMO_ADMIN_PREFIX = '/_demo/';
const ADMIN_BODY_LIMIT_BYTES = 4 * 1024;

export type DemoIdpStats = {
  /** Successful `refresh_token` grants at the token endpoint. */
  refreshGrants: number;
  /** Successful `authorization_code` grants at the token endpoint. */
  authorizationCodeGrants: number;
  /** Logout tokens a client's back-channel logout URI accepted (200 or 204). */
  backchannelLogoutsSent: number;
  /** Logout tokens that could not be delivered (network error, other status). */
  backchannelLogoutFailures: number;
};

export type BackchannelLogoutResult = {
  /** IdP sessions of the user that were ended. */
  sessionsEnded: number;
  /** Grants (with their access and refresh tokens) revoked. */
  grantsRevoked: number;
  backchannelLogoutsSent: number;
  backchannelLogoutFailures: number;
};

type ClientWithBackchannelLogout = Client & { backchannelLogout(sub: string, sid: string | undefined): Promise<void> };

type SessionAuthorization = { sid?: string; grantId?: string };

export function isDemoAdminPath(pathname: string): boolean {
  return pathname.startsWith(DEMO_ADMIN_PREFIX);
}

function log(fields: Record<string, unknown>): void {
  console.error(JSON.stringify({ time: new Date().toISOString(), ...fields }));
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.statusCode = status;
  response.setHeader('Content-Type', 'application/json; charset=utf-8');
  response.setHeader('Cache-Control', 'no-store');
  response.setHeader('X-Content-Type-Options', 'nosniff');
  response.end(JSON.stringify(body));
}

/** Counts grants and back-channel logouts from the provider's events. */
export function trackStats(provider: Provider): DemoIdpStats {
  const stats: DemoIdpStats = {
    refreshGrants: 0,
    authorizationCodeGrants: 0,
    backchannelLogoutsSent: 0,
    backchannelLogoutFailures: 0,
  };
  // Emitted once per token endpoint request whose grant handler completed (the response is a success).
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const grantType = ctx.oidc.params?.['grant_type'];
    if (grantType === 'refresh_token') stats.refreshGrants += 1;
    else if (grantType === 'authorization_code') stats.authorizationCodeGrants += 1;
  });
  // Emitted by the end_session confirmation ("Yes, sign me out").
  provider.on('backchannel.success', () => {
    stats.backchannelLogoutsSent += 1;
  });
  provider.on('backchannel.error', (_ctx: unknown, error: Error, client: Client) => {
    stats.backchannelLogoutFailures += 1;
    log({ level: 'warn', msg: 'demo idp back-channel logout failed', client: client.clientId, error: error.message });
  });
  return stats;
}

async function revokeGrant(provider: Provider, grantId: string): Promise<void> {
  await Promise.all([
    provider.AccessToken.revokeByGrantId(grantId),
    provider.RefreshToken.revokeByGrantId(grantId),
    provider.AuthorizationCode.revokeByGrantId(grantId),
    provider.Grant.adapter.destroy(grantId),
  ]);
}

/**
 * Ends every IdP session of `accountId`, revokes all of its grants (so its refresh tokens stop
 * working), then sends a logout token to each client with a back-channel logout URI that the user
 * signed in to in one of those sessions (one token per session and client, carrying that `sid`).
 */
export async function logOutEverywhere(provider: Provider, store: MemoryStore, stats: DemoIdpStats, accountId: string): Promise<BackchannelLogoutResult> {
  const notifications: Array<{ clientId: string; sid: string | undefined }> = [];
  const grantIds = new Set<string>();
  let sessionsEnded = 0;

  for (const [id, session] of store.payloadsOf('Session')) {
    if (session.accountId !== accountId) continue;
    const authorizations = (session['authorizations'] ?? {}) as Record<string, SessionAuthorization>;
    for (const [clientId, authorization] of Object.entries(authorizations)) {
      notifications.push({ clientId, sid: authorization.sid });
      if (authorization.grantId) grantIds.add(authorization.grantId);
    }
    await provider.Session.adapter.destroy(id);
    sessionsEnded += 1;
  }
  for (const [grantId, grant] of store.payloadsOf('Grant')) {
    if (grant.accountId === accountId) grantIds.add(grantId);
  }
  await Promise.all([...grantIds].map((grantId) => revokeGrant(provider, grantId)));

  const result: BackchannelLogoutResult = {
    sessionsEnded,
    grantsRevoked: grantIds.size,
    backchannelLogoutsSent: 0,
    backchannelLogoutFailures: 0,
  };
  await Promise.all(
    notifications.map(async ({ clientId, sid }) => {
      const client = (await provider.Client.find(clientId)) as ClientWithBackchannelLogout | undefined;
      if (!client?.backchannelLogoutUri) return;
      try {
        await client.backchannelLogout(accountId, sid);
        result.backchannelLogoutsSent += 1;
        stats.backchannelLogoutsSent += 1;
      } catch (error) {
        result.backchannelLogoutFailures += 1;
        stats.backchannelLogoutFailures += 1;
        log({ level: 'warn', msg: 'demo idp back-channel logout failed', client: clientId, error: (error as Error).message });
      }
    }),
  );
  return result;
}

async function handleBackchannelLogout(
  provider: Provider,
  store: MemoryStore,
  stats: DemoIdpStats,
  users: readonly DemoUser[],
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  // JSON only: a cross-site HTML form cannot send it without a CORS preflight, which is never answered.
  const contentType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (contentType !== 'application/json') {
    sendJson(response, 415, { error: 'invalid_request', error_description: 'expected application/json' });
    return;
  }
  let email: unknown;
  try {
    email = (JSON.parse((await readRequestBody(request, ADMIN_BODY_LIMIT_BYTES)).toString('utf8')) as { email?: unknown })?.email;
  } catch (error) {
    const status = error instanceof RequestBodyTooLargeError ? 413 : 400;
    sendJson(response, status, { error: 'invalid_request', error_description: (error as Error).message });
    return;
  }
  if (typeof email !== 'string' || email === '') {
    sendJson(response, 400, { error: 'invalid_request', error_description: 'expected { "email": "…" }' });
    return;
  }
  const wanted = email.trim().toLowerCase();
  const user = users.find((candidate) => candidate.email.toLowerCase() === wanted);
  if (!user) {
    sendJson(response, 404, { error: 'unknown_user', error_description: `no demo user ${email}` });
    return;
  }
  sendJson(response, 200, await logOutEverywhere(provider, store, stats, user.sub));
}

/**
 * `GET /_demo/stats` → DemoIdpStats; `POST /_demo/backchannel-logout` with `{ "email": … }` →
 * BackchannelLogoutResult, answered once every logout token was delivered or failed.
 */
export function createDemoAdminHandler(provider: Provider, store: MemoryStore, stats: DemoIdpStats, users: readonly DemoUser[]) {
  return async (request: IncomingMessage, response: ServerResponse, pathname: string): Promise<void> => {
    const method = request.method ?? 'GET';
    try {
      if (pathname === '/_demo/stats' && (method === 'GET' || method === 'HEAD')) {
        sendJson(response, 200, { ...stats });
      } else if (pathname === '/_demo/backchannel-logout' && method === 'POST') {
        await handleBackchannelLogout(provider, store, stats, users, request, response);
      } else {
        sendJson(response, 404, { error: 'not_found' });
      }
    } catch (error) {
      log({ level: 'error', msg: 'demo idp admin request failed', error: (error as Error).message });
      if (!response.headersSent) sendJson(response, 500, { error: 'server_error' });
      else response.end();
    }
  };
}

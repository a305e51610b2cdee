// The request pipeline of SPEC §3, written as a table of steps. Each step
// either finishes the response (returns true) or lets the next one run.
// Nothing is forwarded without an ALLOW decision from the policy service.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { BusRequestError, type Bus } from '@microseg/bus';
import { cookies, paths, requests, subjects } from '@microseg/contracts';
import { MicrosegError, type ErrorCode } from '@microseg/errors';
import {
  LoginCallbackRequestSchema,
  LoginCallbackResponseSchema,
  LoginStartRequestSchema,
  LoginStartResponseSchema,
  SessionLookupRequestSchema,
  SessionLookupResponseSchema,
  BearerVerifyRequestSchema,
  BearerVerifyResponseSchema,
  LogoutRequestSchema,
  LogoutResponseSchema,
  BackchannelLogoutRequestSchema,
  BackchannelLogoutResponseSchema,
} from '@microseg/proto/authn';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { Decision, DecideRequestSchema, DecideResponseSchema, type DecideResponse, type ServiceRoute } from '@microseg/proto/policy';
import { context, metrics, ROOT_CONTEXT, SpanKind, trace, type Logger } from '@microseg/telemetry';
import { parseRequestTarget } from '@microseg/paths';
import { isSameOriginRequest } from './origin.ts';
import { hostCookie, singleCookie } from './cookies.ts';
import { claimHeaderValues, upstreamRequestHeaders } from './headers.ts';
import { isBrowserNavigation, redirect, sendError, withFailureMessage, type ErrorReply } from './responses.ts';
import { hostnameOf, type RoutingState } from '../state.ts';
import type { FlowRecorder, DropReason, FlowInput } from '../flows.ts';
import type { Forwarder } from '../forward.ts';
import { DecisionCache } from '../decision-cache.ts';
import { BEARER_ANSWERS, type SessionCache } from '../session-cache.ts';

export interface PipelineDeps {
  state: () => RoutingState;
  bus: Bus;
  flows: FlowRecorder;
  forwarder: Forwarder;
  decisions: DecisionCache;
  sessions: SessionCache;
  logger: Logger;
  busTimeoutMs: number;
}

interface Session {
  subject: string;
  tags: string[];
}

interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly port: number;
  readonly requestId: string;
  readonly clientIp: string;
  route?: ServiceRoute;
  host?: string;
  path: string;
  query: string;
  session?: Session;
  /** authn did not answer: only a public endpoint may still be served. */
  sessionUnknown?: boolean;
  verdict?: DecideResponse;
  outcome?: { accepted: boolean; dropReason: string; policyId: string };
}

type Step = (deps: PipelineDeps, ctx: RequestContext) => Promise<boolean> | boolean;

/** The one decision event of this request; also what the request's span and log line say. */
function recordFlow(deps: PipelineDeps, ctx: RequestContext, flow: FlowInput): void {
  ctx.outcome = { accepted: flow.accepted, dropReason: flow.dropReason, policyId: flow.policyId ?? '' };
  deps.flows.record({ byDefault: ctx.verdict?.byDefault ?? false, ...flow });
}

/** Answer with an error and record the rejected flow. */
function refuse(deps: PipelineDeps, ctx: RequestContext, reply: ErrorReply, dropReason: DropReason): true {
  sendError(ctx.req, ctx.res, ctx.requestId, reply);
  recordFlow(deps, ctx, {
    route: ctx.route,
    clientIp: ctx.clientIp,
    method: ctx.req.method ?? '',
    path: ctx.path,
    accepted: false,
    dropReason,
    policyId: ctx.verdict?.policyId,
    policyName: ctx.verdict?.policyName,
    user: ctx.session?.subject,
    statusCode: ctx.res.statusCode,
    requestId: ctx.requestId,
    port: ctx.port,
  });
  return true;
}

const unavailable = (deps: PipelineDeps, ctx: RequestContext) => refuse(deps, ctx, { code: 'GATEWAY_DECISION_UNAVAILABLE', headers: { 'retry-after': '1' } }, 'unavailable');

/** 1. Reject ambiguous framing before anything else (SPEC §3.2). */
const rejectAmbiguousHeaders: Step = (deps, ctx) => {
  // Node's parser takes `GET /` (HTTP/0.9, which has no headers) with headers after it, and `HTTP/2.0`
  // on an HTTP/1 connection; parsers that disagree on where a request ends are how requests get smuggled.
  if (ctx.req.httpVersion !== '1.1' && ctx.req.httpVersion !== '1.0') {
    ctx.res.setHeader('connection', 'close');
    return badRequest(deps, ctx, `HTTP/${ctx.req.httpVersion} is not served here; send HTTP/1.1.`);
  }
  const raw = ctx.req.rawHeaders;
  let hostCount = 0;
  let hasContentLength = false;
  let hasTransferEncoding = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name === 'host') hostCount++;
    else if (name === 'content-length') hasContentLength = true;
    else if (name === 'transfer-encoding') hasTransferEncoding = true;
  }
  if (hostCount !== 1) return badRequest(deps, ctx, hostCount === 0 ? 'The Host header is missing.' : 'The Host header is sent more than once.');
  if (hasContentLength && hasTransferEncoding) return badRequest(deps, ctx, 'Content-Length and Transfer-Encoding are both present.');
  return false;
};

const badRequest = (deps: PipelineDeps, ctx: RequestContext, message: string) => refuse(deps, ctx, { code: 'GATEWAY_BAD_REQUEST', message }, 'invalid');

/** 3. Normalise the path; the path that is matched is the path that is forwarded. */
const normaliseTarget: Step = (deps, ctx) => {
  const target = parseRequestTarget(ctx.req.url ?? '');
  if (!target.ok) return badRequest(deps, ctx, `The request target is ambiguous: ${target.reason}.`);
  ctx.path = target.path;
  ctx.query = target.query;
  return false;
};

/** 2. Find the service by listener port and exact host. */
const resolveService: Step = (deps, ctx) => {
  const host = hostnameOf(ctx.req.headers.host);
  const route = host ? deps.state().find(ctx.port, host) : undefined;
  if (!route) return refuse(deps, ctx, { code: 'GATEWAY_UNKNOWN_HOST' }, 'unknownhost');
  ctx.route = route;
  ctx.host = ctx.req.headers.host!;
  return false;
};

/** 4. `GET /aporeto/oidc/callback` (exact path) completes a login. */
const handleCallback: Step = async (deps, ctx) => {
  if (ctx.path !== paths.callback) return false;
  if (ctx.req.method !== 'GET') return refuse(deps, ctx, { code: 'GATEWAY_BAD_REQUEST', details: ['The login callback accepts GET only.'] }, 'invalid');
  let reply;
  try {
    reply = await deps.bus.request(requests.authnLoginCallback, { serviceId: ctx.route!.id, query: ctx.query, binding: singleCookie(ctx.req.headers.cookie, cookies.loginBinding), clientIp: ctx.clientIp, requestId: ctx.requestId },
      // The code exchange talks to the IdP (token, JWKS: each bounded by AUTHN_IDP_TIMEOUT_MS): allow it more than a lookup.
      deps.busTimeoutMs * 20,
    );
  } catch (err) {
    if (err instanceof BusRequestError) return unavailable(deps, ctx);
    if (!(err instanceof MicrosegError)) throw err;
    return refuse(deps, ctx, { code: err.code, message: err.message, details: ['No session was created. Open the application again to start a new login.'] }, 'token');
  }
  redirect(ctx.res, reply.returnTo.startsWith('/') && !reply.returnTo.startsWith('//') ? reply.returnTo : '/', {
    'set-cookie': hostCookie(cookies.session, reply.ticket, reply.maxAgeSeconds),
  });
  recordFlow(deps, ctx, { route: ctx.route, clientIp: ctx.clientIp, method: 'GET', path: ctx.path, accepted: true, dropReason: '', user: reply.subject, statusCode: 302, requestId: ctx.requestId, port: ctx.port });
  return true;
};

/** 5. Resolve the session from the cookie. */
const resolveSession: Step = async (deps, ctx) => {
  const route = ctx.route!;
  if (route.authorizationType !== 'OIDC') return false;
  const ticket = singleCookie(ctx.req.headers.cookie, cookies.session);
  const bearer = !ticket && route.acceptBearerTokens ? bearerToken(ctx.req.headers.authorization) : '';
  if (!ticket && !bearer) return false;
  try {
    // Keyed by the whole credential and the service: a cookie of one service is nothing for another.
    const session = await deps.sessions.get(`${route.id}\0${ticket || `bearer ${bearer}`}`, async () => {
      if (ticket) {
        // authn could not tell (Redis away): not "no session" — fail closed without sending anyone to log in.
        const reply = await deps.bus.request(requests.authnSessionLookup, { serviceId: route.id, ticket }, deps.busTimeoutMs).catch(unableToTell);
        if (!reply.found) return { value: undefined, until: 0 };
        return { value: { sessionId: reply.sessionId, subject: subjectOf(reply.tags, reply.subject), tags: reply.tags }, until: Number(reply.cacheUntilMs) };
      }
      // A refusal says no; authn impaired (Redis away: it cannot check revocations) fails closed with a 503.
      const reply = await deps.bus.request(requests.authnBearerVerify, { serviceId: route.id, token: bearer }, deps.busTimeoutMs).catch(unableToTell);
      if (!reply.valid) return { value: undefined, until: 0 };
      return { value: { sessionId: BEARER_ANSWERS, subject: subjectOf(reply.tags, reply.subject), tags: reply.tags }, until: Math.min(Date.now() + 10_000, Number(reply.expiresAtMs)) };
    });
    if (session) ctx.session = { subject: session.subject, tags: session.tags };
    else if (bearer) return refuse(deps, ctx, { code: 'GATEWAY_UNAUTHENTICATED', message: 'The bearer token is invalid, expired, or not issued for this application.', headers: { 'www-authenticate': 'Bearer error="invalid_token"' } }, 'token');
  } catch (err) {
    if (!(err instanceof BusRequestError)) throw err;
    ctx.sessionUnknown = true;
  }
  return false;
};

/** authn answered with an error: for a question about a credential, the answer is unknown, not "no" (fail closed). */
function unableToTell(err: unknown): never {
  if (err instanceof MicrosegError) throw new BusRequestError('bad-reply', err.code, { cause: err });
  throw err;
}

function bearerToken(header: string | undefined): string {
  const m = /^Bearer +([A-Za-z0-9._~+/=-]+)$/i.exec(header ?? '');
  return m && m[1]!.split('.').length === 3 ? m[1]! : '';
}

/**
 * `/aporeto/oidc/logout`: only a POST from a page of this very origin logs out. GET (a link, an `<img>`, the
 * address bar, from anywhere) shows a page whose button makes that POST, and changes nothing.
 */
const handleLogout: Step = async (deps, ctx) => {
  if (ctx.path !== paths.logout) return false;
  const method = ctx.req.method;
  if (method === 'GET' || method === 'HEAD') {
    confirmLogoutPage(ctx);
    return true;
  }
  if (method !== 'POST') return refuse(deps, ctx, { code: 'GATEWAY_BAD_REQUEST', message: 'Log out with POST from a page of this application.' }, 'invalid');
  if (!isSameOriginRequest(ctx.req.headers, ctx.host!)) {
    return refuse(deps, ctx, { code: 'GATEWAY_CROSS_ORIGIN_REQUEST', details: ['You are still signed in.', `To sign out, open ${paths.logout} on this site and confirm.`] }, 'invalid');
  }
  const ticket = singleCookie(ctx.req.headers.cookie, cookies.session);
  let redirectUrl = '/';
  try {
    const reply = await deps.bus.request(requests.authnLogout, { serviceId: ctx.route!.id, ticket, clientIp: ctx.clientIp }, deps.busTimeoutMs * 5);
    if (reply.redirectUrl) redirectUrl = reply.redirectUrl;
  } catch (err) {
    if (err instanceof BusRequestError) return unavailable(deps, ctx);
    // authn refused (an unknown session, a service without OIDC): the cookie goes all the same, back to `/`.
    if (!(err instanceof MicrosegError)) throw err;
  }
  if (ticket) deps.sessions.invalidateCredential(`${ctx.route!.id}\0${ticket}`);
  // The cookie goes in any case; the session is gone from Redis and every gateway.
  redirect(ctx.res, redirectUrl, { 'set-cookie': [hostCookie(cookies.session, '', 0), hostCookie(cookies.loginBinding, '', 0)] });
  return true;
};

function confirmLogoutPage(ctx: RequestContext): void {
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign out</title>
<style>body{font-family:system-ui,sans-serif;max-width:30rem;margin:4rem auto;padding:0 1rem}button{padding:.5rem 1.2rem;font-size:1rem}</style></head>
<body><h1>Sign out?</h1><form method="post" action="${paths.logout}"><button type="submit">Sign out</button></form></body></html>`;
  ctx.res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    // No form-action: Chrome applies it to the redirect that follows (to the IdP's end_session_endpoint).
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  });
  ctx.res.end(ctx.req.method === 'HEAD' ? undefined : body);
}

/** OIDC Back-Channel Logout: the IdP POSTs `logout_token` (form-encoded). */
const handleBackchannelLogout: Step = async (deps, ctx) => {
  if (ctx.path !== paths.backchannelLogout) return false;
  if (ctx.req.method !== 'POST') return refuse(deps, ctx, { code: 'GATEWAY_BAD_REQUEST', message: 'POST a logout_token.' }, 'invalid');
  let body: string;
  try {
    body = await readSmallBody(ctx.req, 16 * 1024);
  } catch {
    return refuse(deps, ctx, { code: 'GATEWAY_BAD_REQUEST', message: 'The logout request is too large.' }, 'invalid');
  }
  const logoutToken = new URLSearchParams(body).get('logout_token') ?? '';
  try {
    await deps.bus.request(requests.authnBackchannelLogout, { serviceId: ctx.route!.id, logoutToken }, deps.busTimeoutMs * 5);
  } catch (err) {
    if (err instanceof BusRequestError) return unavailable(deps, ctx);
    if (!(err instanceof MicrosegError)) throw err;
    // OIDC Back-Channel Logout §2.8: 400 with an OAuth error body.
    ctx.res.writeHead(400, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    ctx.res.end(JSON.stringify({ error: 'invalid_request', error_description: err.message }));
    return true;
  }
  ctx.res.writeHead(200, { 'cache-control': 'no-store' });
  ctx.res.end();
  return true;
};

function readSmallBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const NO_TAGS: string[] = [];

/** 6. Ask the policy service; act on the verdict. */
const authorize: Step = async (deps, ctx) => {
  const question = { serviceId: ctx.route!.id, method: ctx.req.method ?? '', path: ctx.path, authenticated: Boolean(ctx.session), tags: ctx.session?.tags ?? NO_TAGS, clientIp: ctx.clientIp };
  const key = DecisionCache.key(question);
  const askedAt = Date.now();
  const known = deps.decisions.get(key, askedAt);
  metrics[known ? 'gatewayCacheHits' : 'gatewayCacheMisses']().inc({ cache: 'decision' });
  try {
    if (known) {
      ctx.verdict = known;
      // Renewed ahead of time in the background, so that a steady stream of requests never waits for policy.
      if (deps.decisions.shouldRefresh(key, askedAt)) refreshDecision(deps, key, question);
    } else {
      ctx.verdict = await deps.bus.request(requests.policyDecide, question, deps.busTimeoutMs);
      deps.decisions.remember(key, ctx.verdict, Date.now(), askedAt);
    }
  } catch (err) {
    // policy answered with an error (an unknown service: it was just removed): no decision, fail closed.
    if (err instanceof MicrosegError) return unavailable(deps, ctx);
    if (!(err instanceof BusRequestError)) throw err;
    // The policy service is away: the last good decision stands for a bounded time, then fail closed.
    const last = deps.decisions.fallback(key);
    if (!last) return unavailable(deps, ctx);
    ctx.verdict = last;
  }
  const verdict = ctx.verdict;
  switch (verdict.decision) {
    case Decision.ALLOW:
      return false;
    case Decision.LOGIN:
      if (ctx.sessionUnknown) return unavailable(deps, ctx);
      return isBrowserNavigation(ctx.req) ? startLogin(deps, ctx) : refuse(deps, ctx, { code: 'GATEWAY_UNAUTHENTICATED' }, 'missingtoken');
    default:
      return deny(deps, ctx, verdict);
  }
};

function refreshDecision(deps: PipelineDeps, key: string, question: MessageInitShape<typeof DecideRequestSchema>): void {
  const askedAt = Date.now();
  deps.bus
    .request(requests.policyDecide, question, deps.busTimeoutMs)
    .then(
      (verdict) => deps.decisions.remember(key, verdict, Date.now(), askedAt),
      // Not heard from: the cached decision ages out as it would have; the request in line then fails closed.
      () => undefined,
    )
    .finally(() => deps.decisions.refreshed(key));
}

async function startLogin(deps: PipelineDeps, ctx: RequestContext): Promise<true> {
  let reply;
  try {
    reply = await deps.bus.request(requests.authnLoginStart, { serviceId: ctx.route!.id, returnTo: ctx.query ? `${ctx.path}?${ctx.query}` : ctx.path, binding: singleCookie(ctx.req.headers.cookie, cookies.loginBinding), clientIp: ctx.clientIp },
      // Discovery may run on the first login.
      deps.busTimeoutMs * 20,
    );
  } catch (err) {
    if (err instanceof BusRequestError) return unavailable(deps, ctx);
    if (!(err instanceof MicrosegError)) throw err;
    // authn itself is impaired (Redis away): a fast 503, not an error page that invites retrying the login.
    if (err.code === 'INTERNAL') return unavailable(deps, ctx);
    // Too many login starts from this address: a 429 page that says when to come back, not another redirect.
    if (err.code === 'AUTHN_LOGIN_RATE_LIMITED') return refuse(deps, ctx, { code: err.code, message: err.message, headers: { 'retry-after': String(err.retryAfterSeconds || 60) } }, 'missingtoken');
    return refuse(deps, ctx, { code: err.code, message: err.message, details: ['Sign-in is not possible right now. An error event was recorded for the administrator.'] }, 'missingtoken');
  }
  redirect(ctx.res, reply.authorizationUrl, { 'set-cookie': hostCookie(cookies.loginBinding, reply.binding, reply.bindingMaxAgeSeconds) });
  recordFlow(deps, ctx, { route: ctx.route, clientIp: ctx.clientIp, method: ctx.req.method ?? '', path: ctx.path, accepted: false, dropReason: 'missingtoken', policyId: ctx.verdict?.policyId, policyName: ctx.verdict?.policyName, statusCode: 302, requestId: ctx.requestId, port: ctx.port });
  return true;
}

function deny(deps: PipelineDeps, ctx: RequestContext, verdict: DecideResponse): true {
  if (verdict.reason === 'network-policy') {
    return refuse(deps, ctx, { code: 'GATEWAY_NETWORK_DENIED', details: [`Your address ${ctx.clientIp} may not reach this application.`] }, 'policy');
  }
  const failureUrl = ctx.route!.redirectUrlOnAuthorizationFailure;
  if (failureUrl && isBrowserNavigation(ctx.req)) {
    redirect(ctx.res, withFailureMessage(failureUrl, 'authorization'));
    recordFlow(deps, ctx, { route: ctx.route, clientIp: ctx.clientIp, method: ctx.req.method ?? '', path: ctx.path, accepted: false, dropReason: 'api', policyId: verdict.policyId, policyName: verdict.policyName, user: ctx.session?.subject, statusCode: 302, requestId: ctx.requestId, port: ctx.port });
    return true;
  }
  const who = ctx.session ? `You are signed in as ${ctx.session.subject}.` : 'You are not signed in.';
  const why =
    verdict.reason === 'no-endpoint'
      ? `No rule of this application allows ${ctx.req.method} ${ctx.path}.`
      : `Your account does not satisfy the access rules for ${ctx.req.method} ${ctx.path}.`;
  return refuse(deps, ctx, { code: 'GATEWAY_FORBIDDEN', details: [who, why, 'If you need access, ask the administrator of this application.'] }, 'api');
}

const mappedNames = new WeakMap<object, string[]>();
/** The service's mapped header names, made once per version of its mappings. */
function mappedHeaderNamesOf(route: ServiceRoute): string[] {
  let names = mappedNames.get(route.claimsToHttpHeaderMappings);
  if (!names) {
    names = route.claimsToHttpHeaderMappings.map((m) => m.targetHttpHeader);
    mappedNames.set(route.claimsToHttpHeaderMappings, names);
  }
  return names;
}

/** 7. Forward to the processing unit. */
const forward: Step = async (deps, ctx) => {
  const route = ctx.route!;
  const headers = upstreamRequestHeaders({
    incoming: ctx.req.headers,
    host: ctx.host!,
    clientIp: ctx.clientIp,
    requestId: ctx.requestId,
    claimHeaders: ctx.session ? claimHeaderValues(ctx.session.tags, route.claimsToHttpHeaderMappings) : new Map(),
    mappedHeaderNames: mappedHeaderNamesOf(route),
  });
  // Decided: the response may finish before the flow is recorded below.
  ctx.outcome = { accepted: true, dropReason: '', policyId: ctx.verdict?.policyId ?? '' };
  const scheme = route.exposedServiceIsTls ? 'https' : 'http';
  const address = route.upstreamAddress.includes(':') ? `[${route.upstreamAddress}]` : route.upstreamAddress;
  const result = await deps.forwarder.forward(ctx.req, ctx.res, `${scheme}://${address}:${route.port}`, ctx.query ? `${ctx.path}?${ctx.query}` : ctx.path, headers);
  if (!result.ok) {
    return refuse(deps, ctx, { code: result.kind === 'timeout' ? 'GATEWAY_UPSTREAM_TIMEOUT' : 'GATEWAY_UPSTREAM_UNREACHABLE' }, result.kind === 'timeout' ? 'timeout' : 'dial');
  }
  recordFlow(deps, ctx, {
    route,
    clientIp: ctx.clientIp,
    method: ctx.req.method ?? '',
    path: ctx.path,
    accepted: true,
    dropReason: '',
    policyId: ctx.verdict?.policyId,
    policyName: ctx.verdict?.policyName,
    user: ctx.session?.subject,
    statusCode: result.status,
    requestId: ctx.requestId,
    port: ctx.port,
  });
  return true;
};

const steps: readonly Step[] = [rejectAmbiguousHeaders, resolveService, normaliseTarget, handleCallback, handleLogout, handleBackchannelLogout, resolveSession, authorize, forward];

/** The user's name for logs, flows and pages: the email claim when there is one. */
function subjectOf(tags: readonly string[], subject: string): string {
  return tags.find((t) => t.startsWith('email='))?.slice('email='.length) ?? subject;
}

const tracer = trace.getTracer('microseg-gateway');

export function createRequestHandler(deps: PipelineDeps, port: number): (req: IncomingMessage, res: ServerResponse) => void {
  const run = async (ctx: RequestContext) => {
    for (const step of steps) {
      const done = step(deps, ctx);
      if (done === true || (done !== false && (await done))) return;
    }
  };
  return (req, res) => {
    // Until the target is normalised, flows show the path only as far as it is safe to log.
    const ctx: RequestContext = { req, res, port, requestId: randomUUID(), clientIp: req.socket.remoteAddress ?? '', path: '(unparsed)', query: '' };
    res.setHeader('x-request-id', ctx.requestId);
    const started = performance.now();
    // The request's server span: always a new trace — a client's traceparent is not taken (it could choose
    // our trace ids and, with its sampled flag, our sampling). It carries the decision, never a token.
    const span = tracer.startSpan(req.method ?? 'HTTP', { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method ?? '', 'server.port': port } }, ROOT_CONTEXT);
    res.once('finish', () => {
      metrics.gatewayRequestDuration().observe((performance.now() - started) / 1000);
      if (span.isRecording()) {
        span.setAttributes({
          'url.path': ctx.path,
          'http.response.status_code': res.statusCode,
          'microseg.request_id': ctx.requestId,
          'microseg.service': ctx.route?.name ?? '',
          'microseg.namespace': ctx.route?.namespace ?? '',
          'microseg.decision': ctx.outcome ? (ctx.outcome.accepted ? 'accept' : 'reject') : '',
          'microseg.drop_reason': ctx.outcome?.dropReason ?? '',
          'microseg.policy_id': ctx.outcome?.policyId ?? '',
        });
      }
      span.end();
      // The access log: built only when it is written (at LOG_LEVEL=warn it is not).
      if (deps.logger.isLevelEnabled('info')) {
        const spanContext = span.spanContext();
        deps.logger.info(
          {
            trace_id: spanContext.traceId,
            span_id: spanContext.spanId,
            requestId: ctx.requestId,
            method: req.method,
            path: ctx.path,
            status: res.statusCode,
            durationMs: Math.round((performance.now() - started) * 100) / 100,
            service: ctx.route?.name,
            user: ctx.session?.subject,
            decision: ctx.outcome ? (ctx.outcome.accepted ? 'accept' : 'reject') : undefined,
            dropReason: ctx.outcome?.dropReason || undefined,
            reason: ctx.verdict?.reason,
            clientIp: ctx.clientIp,
          },
          'request',
        );
      }
    });
    res.once('close', () => {
      // The client went away before the response was complete.
      if (!res.writableFinished) span.end();
    });
    context.with(trace.setSpan(ROOT_CONTEXT, span), run, undefined, ctx).catch((err: unknown) => {
      deps.logger.error({ err, requestId: ctx.requestId }, 'request failed');
      refuse(deps, ctx, { code: 'INTERNAL' as ErrorCode }, 'unavailable');
    });
  };
}

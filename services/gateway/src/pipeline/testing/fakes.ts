// Fakes for the pipeline's unit tests: a request and a response without sockets, clients that answer what a
// test says (and fail loudly when asked what it did not expect), a flow recorder that keeps what it gets.
import { EventEmitter } from 'node:events';
import { IncomingMessage, type ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { BusRequestError } from '@microseg/bus';
import { Decision, DecideResponseSchema, ServiceRouteSchema, type DecideResponse, type ServiceRoute } from '@microseg/proto/policy';
import { createLogger } from '@microseg/telemetry';
import type { AuthnClient } from '../../clients/authn.ts';
import type { PolicyClient } from '../../clients/policy.ts';
import { Unavailable, type ServiceName } from '../../clients/unavailable.ts';
import { DecisionCache } from '../../decision-cache.ts';
import type { FlowInput } from '../../flows.ts';
import type { ForwardResult, UpstreamOptions } from '../../forward.ts';
import { SessionCache } from '../../session-cache.ts';
import { RoutingState } from '../../state.ts';
import { ClientAddresses } from '../../client-address.ts';
import { Assertions, AssertionKeySet } from '../../assertion/index.ts';
import type { PipelineDeps, RequestContext } from '../context.ts';

export const CLIENT_IP = '203.0.113.7';
export const PORT = 443;
export const HOST = 'app.example.com';

export interface FakeRequestInit {
  method?: string;
  url?: string;
  /** Sent as given, in order; `host: HOST` unless `rawHeaders` says otherwise. */
  headers?: Record<string, string>;
  /** For framing cases: the headers exactly as on the wire (names repeated, any case). */
  rawHeaders?: string[];
  httpVersion?: string;
  body?: string;
}

export function fakeRequest(init: FakeRequestInit = {}): IncomingMessage {
  // A socket that never connects: the body, if any, is pushed below.
  const socket = new Socket();
  Object.defineProperty(socket, 'remoteAddress', { value: CLIENT_IP });
  const req = new IncomingMessage(socket);
  req.method = init.method ?? 'GET';
  req.url = init.url ?? '/';
  req.httpVersion = init.httpVersion ?? '1.1';
  const raw = init.rawHeaders ?? Object.entries({ host: HOST, ...init.headers }).flat();
  req.rawHeaders = raw;
  const headers: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) headers[raw[i]!.toLowerCase()] ??= raw[i + 1]!;
  req.headers = headers;
  if (init.body !== undefined) req.push(Buffer.from(init.body));
  req.push(null);
  return req;
}

/**
 * An HTTP/2 request as the compatibility API gives it: version 2.0, pseudo-headers first in `rawHeaders` and
 * in `headers` (`:authority` unless `rawHeaders` says otherwise), and its stream.
 */
export function fakeHttp2Request(init: Omit<FakeRequestInit, 'httpVersion'> & { endAfterHeaders?: boolean } = {}): IncomingMessage {
  const raw =
    init.rawHeaders ??
    Object.entries({ ':method': init.method ?? 'GET', ':scheme': 'https', ':authority': HOST, ':path': init.url ?? '/', ...init.headers }).flat();
  const req = fakeRequest({ ...init, rawHeaders: raw, httpVersion: '2.0' });
  req.httpVersionMajor = 2;
  req.httpVersionMinor = 0;
  // Node joins an HTTP/2 request's cookie fields with '; ' (RFC 9113 §8.2.3).
  const cookies = raw.filter((_, i) => i % 2 === 1 && raw[i - 1] === 'cookie');
  if (cookies.length > 1) req.headers.cookie = cookies.join('; ');
  Object.defineProperty(req, 'stream', { value: { endAfterHeaders: init.endAfterHeaders ?? init.body === undefined, destroyed: false } });
  return req;
}

/** A response that keeps what is written to it; 'finish' is emitted on end, as Node's does once flushed. */
export class FakeResponse extends EventEmitter {
  statusCode = 200;
  readonly headers: Record<string, string | string[] | number> = {};
  body = '';
  headersSent = false;
  writableFinished = false;
  destroyed = false;

  setHeader(name: string, value: string | string[] | number): this {
    this.headers[name.toLowerCase()] = value;
    return this;
  }

  getHeader(name: string): string | string[] | number | undefined {
    return this.headers[name.toLowerCase()];
  }

  writeHead(status: number, headers: Record<string, string | string[] | number> = {}): this {
    this.statusCode = status;
    for (const [name, value] of Object.entries(headers)) this.setHeader(name, value);
    this.headersSent = true;
    return this;
  }

  end(body?: string): this {
    if (body !== undefined) this.body += body;
    this.headersSent = true;
    this.writableFinished = true;
    this.emit('finish');
    return this;
  }

  destroy(): this {
    this.destroyed = true;
    this.emit('close');
    return this;
  }

  json(): { code: string; message: string } {
    return JSON.parse(this.body) as { code: string; message: string };
  }
}

export const asResponse = (res: FakeResponse): ServerResponse => res as unknown as ServerResponse;

export function route(init: MessageInitShape<typeof ServiceRouteSchema> = {}): ServiceRoute {
  return create(ServiceRouteSchema, {
    id: 'svc-1',
    name: 'app',
    namespace: '/acme',
    hosts: [HOST],
    exposedPort: PORT,
    upstreamAddress: '10.0.0.5',
    port: 8080,
    processingUnit: 'app-pu',
    authorizationType: 'OIDC',
    ...init,
  });
}

export function verdict(decision: Decision, init: MessageInitShape<typeof DecideResponseSchema> = {}): DecideResponse {
  return create(DecideResponseSchema, { decision, policyId: 'pol-1', policyName: 'allow-app', revision: 1n, ...init });
}

/** A context as the runner makes it, the earlier stages' work already done (`route`, `host`, `path`) unless overridden. */
export function contextFor(req: IncomingMessage, res: FakeResponse, init: Partial<RequestContext> = {}): RequestContext {
  return {
    req,
    res: asResponse(res),
    port: PORT,
    requestId: 'req-1',
    clientIp: CLIENT_IP,
    forwardedFor: CLIENT_IP,
    route: route(),
    host: HOST,
    path: '/',
    query: '',
    session: undefined,
    sessionUnknown: false,
    verdict: undefined,
    outcome: undefined,
    ...init,
  };
}

/** A client whose every method fails the test unless the test gave it an answer. */
function unexpected(service: string, method: string): () => Promise<never> {
  return () => Promise.reject(new Error(`unexpected call: ${service}.${method}`));
}

export interface Calls {
  calls: Array<{ method: string; args: unknown[] }>;
}

function recording<T extends object>(service: string, methods: readonly (keyof T & string)[], given: Partial<T>): T & Calls {
  const calls: Calls['calls'] = [];
  const client = { calls } as Record<string, unknown>;
  for (const method of methods) {
    const answer = (given[method] as ((...args: unknown[]) => Promise<unknown>) | undefined) ?? unexpected(service, method);
    client[method] = (...args: unknown[]) => {
      calls.push({ method, args });
      return answer(...args);
    };
  }
  return client as T & Calls;
}

export const fakeAuthn = (given: Partial<AuthnClient> = {}) =>
  recording<AuthnClient>('authn', ['lookupSession', 'verifyBearer', 'startLogin', 'completeLogin', 'logout', 'backchannelLogout'], given);

export const fakePolicy = (given: Partial<PolicyClient> = {}) => recording<PolicyClient>('policy', ['decide', 'sync'], given);

/** What a client throws when the service does not answer (`answered`: it answered with an error). */
export const unavailableError = (service: ServiceName, answered = false) =>
  new Unavailable(service, answered, new BusRequestError('timeout', `svc.${service}.v1.test`));

export class FakeFlows {
  readonly recorded: FlowInput[] = [];
  record(flow: FlowInput): void {
    this.recorded.push(flow);
  }
}

export interface ForwardCall {
  origin: string;
  path: string;
  headers: Record<string, string | string[]>;
  upstream: UpstreamOptions | undefined;
}

export class FakeForwarder {
  readonly calls: ForwardCall[] = [];
  result: ForwardResult = { ok: true, status: 200 };
  /** Runs when forward is called, before it answers (what the stage did before forwarding). */
  onForward: ((res: ServerResponse) => void) | undefined;

  async forward(
    _req: unknown,
    res: ServerResponse,
    origin: string,
    path: string,
    headers: Record<string, string | string[]>,
    upstream?: UpstreamOptions,
  ): Promise<ForwardResult> {
    this.calls.push({ origin, path, headers, upstream });
    this.onForward?.(res);
    if (this.result.ok) {
      res.writeHead(this.result.status);
      res.end('from the application');
    }
    return this.result;
  }
}

export interface FakeDeps extends PipelineDeps {
  authn: ReturnType<typeof fakeAuthn>;
  policy: ReturnType<typeof fakePolicy>;
  flows: FakeFlows;
  forwarder: FakeForwarder;
}

/** Fake clients, flows and forwarder; the real caches (in memory, deterministic) and routing state. */
export function fakeDeps(
  init: {
    authn?: Partial<AuthnClient>;
    policy?: Partial<PolicyClient>;
    routes?: ServiceRoute[];
    decisions?: DecisionCache;
    trustedProxies?: string[];
    assertions?: Assertions;
  } = {},
): FakeDeps {
  const state = new RoutingState(init.routes ?? [route()], 1n);
  return {
    state: () => state,
    authn: fakeAuthn(init.authn),
    policy: fakePolicy(init.policy),
    flows: new FakeFlows(),
    forwarder: new FakeForwarder(),
    decisions: init.decisions ?? new DecisionCache({ capacity: 100, graceMs: 30_000, maxAgeMs: 60_000 }),
    sessions: new SessionCache(100),
    // No key: requests go without an assertion unless a test gives keys (assertion/testing.ts).
    assertions: init.assertions ?? new Assertions(new AssertionKeySet()),
    logger: createLogger('gateway-test', 'silent'),
    addresses: new ClientAddresses(init.trustedProxies ?? []),
  };
}

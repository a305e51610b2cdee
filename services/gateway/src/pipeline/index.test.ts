// The runner and the stage list: stages run in SPEC order and the first that answers ends the request; every
// request gets an id, one access log line and, when a stage fails unexpectedly, a 500 and a flow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { create } from '@bufbuild/protobuf';
import { SessionLookupResponseSchema } from '@microseg/proto/authn';
import { Decision, type DecideResponse } from '@microseg/proto/policy';
import { createLogger } from '@microseg/telemetry';
import type { Stage } from './context.ts';
import { SocketRegistry } from '../websocket/sockets.ts';
import { createRequestHandler, stages, upgradeStages } from './index.ts';
import {
  asResponse,
  FakeResponse,
  fakeDeps,
  fakeRequest,
  PORT,
  route,
  unavailableError,
  verdict,
  type FakeDeps,
  type FakeRequestInit,
} from './testing/fakes.ts';

/** Runs one request through `handler` and waits until it is over (response finished, promises settled). */
async function send(handler: ReturnType<typeof createRequestHandler>, init: FakeRequestInit): Promise<FakeResponse> {
  const res = new FakeResponse();
  const finished = once(res, 'finish');
  handler(fakeRequest(init), asResponse(res));
  await finished;
  await new Promise((resolve) => setImmediate(resolve));
  return res;
}

function capturingLogger(level = 'info') {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger('gateway-test', level, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

test('the stages, in the order of SPEC §3', () => {
  assert.deepEqual(
    stages.map((s) => s.name),
    ['rejectAmbiguousFraming', 'findService', 'normaliseTarget', 'ownEndpoints', 'resolveSession', 'decide', 'forward'],
  );
});

test("an upgrade's stages: a request's, with the handshake checked before the session, the Origin after it, and the socket proxy in place of forward", () => {
  const sockets = new SocketRegistry({ maxSockets: 1, maxPerCredential: 1, recheckMs: 1_000, checkDecision: async () => 'allow' });
  assert.deepEqual(
    upgradeStages({ sockets, upstreamTimeoutMs: 1_000 }).map((s) => s.name),
    ['rejectAmbiguousFraming', 'findService', 'normaliseTarget', 'checkUpgrade', 'noteStart', 'resolveSession', 'checkOrigin', 'decide', 'proxyWebSocket'],
  );
});

test('runner: stages run in order until one answers, sync or async; the rest do not run', async () => {
  const ran: string[] = [];
  const pass =
    (name: string): Stage =>
    () => (ran.push(name), false);
  const passLater =
    (name: string): Stage =>
    async () => (ran.push(name), false);
  const answer: Stage = async (_deps, ctx) => {
    ran.push('answer');
    ctx.res.writeHead(204);
    ctx.res.end();
    return true;
  };
  const res = await send(createRequestHandler(fakeDeps(), PORT, [pass('a'), passLater('b'), answer, pass('never')]), {});
  assert.deepEqual(ran, ['a', 'b', 'answer']);
  assert.equal(res.statusCode, 204);
});

for (const [kind, stage] of [
  [
    'throws',
    (() => {
      throw new TypeError('bug');
    }) as Stage,
  ],
  [
    'rejects',
    (async () => {
      throw new TypeError('bug');
    }) as Stage,
  ],
] as const) {
  test(`runner: a stage that ${kind} → 500 INTERNAL (registry message only), a flow "unavailable", the error logged`, async () => {
    const deps = fakeDeps();
    const { logger, lines } = capturingLogger('error');
    deps.logger = logger;
    const res = await send(createRequestHandler(deps, PORT, [stage]), { headers: { accept: 'application/json' } });
    assert.equal(res.statusCode, 500);
    assert.deepEqual(res.json(), { code: 'INTERNAL', message: 'Internal error.' });
    assert.deepEqual(
      deps.flows.recorded.map((f) => [f.accepted, f.dropReason, f.statusCode]),
      [[false, 'unavailable', 500]],
    );
    assert.deepEqual(
      lines.map((l) => [l.msg, l.requestId]),
      [['request failed', res.headers['x-request-id']]],
    );
  });
}

test('runner: every request has its own id, sent to the client, in the flow and in the access log; the log line says what happened', async () => {
  const deps = fakeDeps({
    routes: [route({ authorizationType: '' })],
    policy: { decide: async () => verdict(Decision.ALLOW, { policyId: 'p-1', reason: 'public' }) },
  });
  const { logger, lines } = capturingLogger();
  deps.logger = logger;
  const handler = createRequestHandler(deps, PORT);
  const first = await send(handler, { url: '/docs?x=1', headers: { cookie: '__Host-microseg=secret-ticket', authorization: 'Bearer a.b.c' } });
  const second = await send(handler, { url: '/docs' });
  const [id1, id2] = [first.headers['x-request-id'], second.headers['x-request-id']];
  assert.match(String(id1), /^[0-9a-f-]{36}$/);
  assert.notEqual(id1, id2);
  assert.deepEqual(
    deps.flows.recorded.map((f) => f.requestId),
    [id1, id2],
  );
  const access = lines.filter((l) => l.msg === 'request');
  assert.equal(access.length, 2);
  assert.deepEqual(
    { ...access[0], time: undefined, durationMs: undefined, trace_id: undefined, span_id: undefined },
    {
      level: 'info',
      time: undefined,
      service: 'app',
      requestId: id1,
      method: 'GET',
      path: '/docs',
      status: 200,
      durationMs: undefined,
      trace_id: undefined,
      span_id: undefined,
      decision: 'accept',
      reason: 'public',
      clientIp: '203.0.113.7',
      msg: 'request',
    },
  );
  assert.doesNotMatch(JSON.stringify(lines), /secret-ticket|a\.b\.c/, 'no credential in the log');
});

test('runner: no access log line is built below info', async () => {
  const deps = fakeDeps();
  const { logger, lines } = capturingLogger('warn');
  deps.logger = logger;
  await send(createRequestHandler(deps, PORT), { rawHeaders: [] });
  assert.deepEqual(lines, []);
});

const ALLOW = verdict(Decision.ALLOW);
const alice = create(SessionLookupResponseSchema, {
  found: true,
  sessionId: 's-1',
  subject: 'sub',
  tags: ['email=alice@example.com'],
  cacheUntilMs: BigInt(Date.now() + 60_000),
});

/** The whole list on fakes: which stage answers shows in what the client gets and what was asked. */
const whole: Array<{
  name: string;
  request: FakeRequestInit;
  decide?: (question: { path?: string; authenticated?: boolean }) => Promise<DecideResponse>;
  lookup?: () => Promise<typeof alice>;
  status: number;
  asked: string[];
  forwarded?: Record<string, string>;
}> = [
  {
    name: 'framing before the route: HTTP/2.0 to an unknown host',
    request: { httpVersion: '2.0', headers: { host: 'evil.example.com' } },
    status: 400,
    asked: [],
  },
  {
    name: 'the route before the target: an unknown host with an ambiguous path',
    request: { url: '/a%2Fb', headers: { host: 'evil.example.com' } },
    status: 404,
    asked: [],
  },
  { name: 'the normalised path is what the endpoints match', request: { url: '/aporeto/x/../oidc//logout' }, status: 200, asked: [] },
  {
    name: "the gateway's endpoints before the session and the decision",
    request: { url: '/aporeto/oidc/logout', headers: { cookie: '__Host-microseg=t1' } },
    status: 200,
    asked: [],
  },
  {
    name: 'a signed-in request: the session, a decision for it, forwarded with its claims',
    request: { url: '/docs', headers: { cookie: '__Host-microseg=t1', 'x-user-email': 'mallory@example.com' } },
    lookup: async () => alice,
    decide: async (q) => (q.authenticated ? ALLOW : verdict(Decision.LOGIN)),
    status: 200,
    asked: ['authn.lookupSession', 'policy.decide'],
    forwarded: { 'x-user-email': 'alice@example.com' },
  },
  {
    name: 'authn away, a public endpoint: forwarded',
    request: { url: '/public', headers: { cookie: '__Host-microseg=t1' } },
    lookup: () => Promise.reject(unavailableError('authn')),
    decide: async () => ALLOW,
    status: 200,
    asked: ['authn.lookupSession', 'policy.decide'],
  },
  {
    name: 'authn away, a protected endpoint: 503, not a login',
    request: { url: '/docs', headers: { cookie: '__Host-microseg=t1', accept: 'text/html' } },
    lookup: () => Promise.reject(unavailableError('authn')),
    decide: async () => verdict(Decision.LOGIN),
    status: 503,
    asked: ['authn.lookupSession', 'policy.decide'],
  },
  {
    name: 'denied: not forwarded',
    request: { url: '/admin' },
    decide: async () => verdict(Decision.DENY, { reason: 'no-endpoint' }),
    status: 403,
    asked: ['policy.decide'],
  },
];

for (const { name, request, decide, lookup, status, asked, forwarded } of whole) {
  test(`pipeline: ${name} → ${status}`, async () => {
    const deps: FakeDeps = fakeDeps({
      routes: [route({ claimsToHttpHeaderMappings: [{ claimName: 'email', targetHttpHeader: 'X-User-Email' }] })],
      authn: lookup ? { lookupSession: lookup } : {},
      policy: decide ? { decide: decide } : {},
    });
    const res = await send(createRequestHandler(deps, PORT), request);
    assert.equal(res.statusCode, status, res.body);
    assert.deepEqual([...deps.authn.calls.map((c) => `authn.${c.method}`), ...deps.policy.calls.map((c) => `policy.${c.method}`)], asked);
    assert.equal(deps.forwarder.calls.length, status === 200 && !request.url?.includes('logout') ? 1 : 0);
    for (const [header, value] of Object.entries(forwarded ?? {})) assert.equal(deps.forwarder.calls[0]?.headers[header], value);
  });
}

test('the client address: X-Forwarded-For is believed from a trusted proxy only, and is what policy, flows and the application see', async () => {
  const decideAllow = async () => ALLOW;
  // The fake socket's peer is 203.0.113.7 (CLIENT_IP).
  const spoofed = fakeDeps({ policy: { decide: decideAllow } });
  await send(createRequestHandler(spoofed, PORT), { url: '/docs', headers: { 'x-forwarded-for': '10.9.9.9' } });
  assert.equal((spoofed.policy.calls[0]?.args[0] as { clientIp: string }).clientIp, '203.0.113.7');
  assert.equal(spoofed.flows.recorded[0]?.clientIp, '203.0.113.7');
  assert.equal(spoofed.forwarder.calls[0]?.headers['x-forwarded-for'], '203.0.113.7');

  const behindBalancer = fakeDeps({ policy: { decide: decideAllow }, trustedProxies: ['203.0.113.0/24'] });
  await send(createRequestHandler(behindBalancer, PORT), { url: '/docs', headers: { 'x-forwarded-for': '6.6.6.6, 198.51.100.4' } });
  assert.equal((behindBalancer.policy.calls[0]?.args[0] as { clientIp: string }).clientIp, '198.51.100.4');
  assert.equal(behindBalancer.flows.recorded[0]?.clientIp, '198.51.100.4');
  assert.equal(behindBalancer.forwarder.calls[0]?.headers['x-forwarded-for'], '198.51.100.4, 203.0.113.7');
});

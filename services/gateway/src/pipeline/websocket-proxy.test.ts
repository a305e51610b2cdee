// The upgrade stages end to end inside one process: a plain-HTTP front server whose 'upgrade' listener is the
// gateway's upgrade handler (fake authn and policy, the real caches and socket registry), and the demo
// application's WebSocket echo behind it. Node's own WebSocket is the client.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { create } from '@bufbuild/protobuf';
import { startDemoApp, type DemoApp } from '@microseg/demo';
import { SessionLookupResponseSchema } from '@microseg/proto/authn';
import { Decision } from '@microseg/proto/policy';
import { freePort } from '@microseg/testkit';
import { SocketRegistry } from '../websocket/sockets.ts';
import { createUpgradeHandler, upgradeStages } from './index.ts';
import { fakeDeps, route, verdict, type FakeDeps } from './testing/fakes.ts';

let app: DemoApp;
const servers: Server[] = [];
before(async () => {
  app = await startDemoApp({ port: 0 });
});
after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  await app.close();
});

const TICKET = 'ticket-alice';
const found = (tags: string[], expiresAtMs = Date.now() + 3_600_000) =>
  create(SessionLookupResponseSchema, {
    found: true,
    sessionId: 's-alice',
    subject: 'alice',
    tags,
    expiresAtMs: BigInt(expiresAtMs),
    cacheUntilMs: BigInt(Date.now() + 10_000),
  });

interface Front {
  url: string;
  deps: FakeDeps;
  sockets: SocketRegistry;
  /** What the session lookup answers (alice's session, until `expiresAtMs`; no tags: none). */
  session: { tags: string[] | undefined; expiresAtMs?: number };
}

/** A front server on a free port serving one route, the demo app (or `upstreamPort`) behind it. */
async function front(init: { decision?: Decision; upstreamPort?: number; maxPerCredential?: number } = {}): Promise<Front> {
  const port = await freePort();
  const session: Front['session'] = { tags: ['email=alice@example.com'] };
  const deps = fakeDeps({
    routes: [
      route({
        hosts: ['127.0.0.1'],
        exposedPort: port,
        upstreamAddress: '127.0.0.1',
        port: init.upstreamPort ?? Number(new URL(app.url).port),
        claimsToHttpHeaderMappings: [{ claimName: 'email', targetHttpHeader: 'X-User-Email' }],
      }),
    ],
    authn: { lookupSession: async () => (session.tags ? found(session.tags, session.expiresAtMs) : create(SessionLookupResponseSchema, { found: false })) },
    policy: { decide: async (q) => verdict(init.decision ?? (q.authenticated ? Decision.ALLOW : Decision.LOGIN)) },
  });
  const sockets = new SocketRegistry({
    maxSockets: 100,
    maxPerCredential: init.maxPerCredential ?? 10,
    recheckMs: 60_000,
    checkDecision: async () => 'allow',
  });
  const server = createServer((_req, res) => res.end());
  server.on('upgrade', createUpgradeHandler(deps, port, upgradeStages({ sockets, upstreamTimeoutMs: 2_000 })));
  servers.push(server);
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, deps, sockets, session };
}

/** Node's WebSocket (undici), with request headers (its extension of the standard). */
function open(url: string, headers: Record<string, string>): WebSocket {
  return new WebSocket(url, { headers } as unknown as string[]);
}

function nextMessage(socket: WebSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.addEventListener('message', (e) => resolve(String(e.data)), { once: true });
    socket.addEventListener('error', () => reject(new Error('the socket failed')), { once: true });
  });
}

/** The gateway's raw answer to a handshake (for refusals, which Node's WebSocket does not expose). */
function rawHandshake(url: string, path: string, headers: string[]): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1', () =>
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`,
      ),
    );
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('close', () => resolve(text));
  });
}

test("alice's socket: the application hears her (its own header, the client's copy gone), messages pass both ways, one flow; her logout closes it with 1008", async () => {
  const f = await front();
  const socket = open(`${f.url}/ws`, { cookie: `__Host-microseg=${TICKET}`, 'x-user-email': 'mallory@example.com', x_user_email: 'mallory@example.com' });
  const hello = JSON.parse(await nextMessage(socket));
  assert.deepEqual(hello, { type: 'hello', user: 'alice@example.com' });
  socket.send('ping');
  assert.equal(await nextMessage(socket), 'ping');
  assert.deepEqual(
    f.deps.flows.recorded.map((r) => [r.method, r.path, r.accepted, r.statusCode, r.user]),
    [['GET', '/ws', true, 101, 'alice@example.com']],
  );
  assert.equal(f.sockets.size, 1);

  const closed = new Promise<CloseEvent>((resolve) => socket.addEventListener('close', resolve));
  f.session.tags = undefined; // authn ended the session
  f.deps.sessions.invalidateCredential(`svc-1\0${TICKET}`);
  f.sockets.sessionInvalidated('s-alice');
  const event = await closed;
  assert.equal(event.code, 1008);
  assert.equal(event.reason, 'The session ended.');
  assert.equal(f.sockets.size, 0);
});

test('the session reaches its end: the socket closes then, saying so', async () => {
  const f = await front();
  f.session.expiresAtMs = Date.now() + 400;
  const socket = open(`${f.url}/ws`, { cookie: `__Host-microseg=${TICKET}` });
  await nextMessage(socket);
  const event = await new Promise<CloseEvent>((resolve) => socket.addEventListener('close', resolve));
  const lateMs = Date.now() - f.session.expiresAtMs;
  assert.deepEqual([event.code, event.reason], [1008, 'The session expired.']);
  assert.ok(lateMs >= -5 && lateMs < 1_000, `closed ${lateMs} ms after the end`);
});

test('refusals before any upgrade: no session 401, denied 403, foreign Origin 403, h2c 400 — JSON, and the connection closed', async () => {
  const f = await front();
  const anonymous = await rawHandshake(f.url, '/ws', ['Accept: text/html']);
  assert.match(anonymous, /^HTTP\/1\.1 401 /, 'no sign-in redirect for a handshake, whatever it accepts');
  assert.match(anonymous, /"code":"GATEWAY_UNAUTHENTICATED"/);
  assert.match(anonymous, /\r\nConnection: close\r\n/);
  const foreign = await rawHandshake(f.url, '/ws', [`Cookie: __Host-microseg=${TICKET}`, 'Origin: https://evil.example']);
  assert.match(foreign, /^HTTP\/1\.1 403 [^]*GATEWAY_CROSS_ORIGIN_REQUEST/);
  const h2c = await rawHandshake(f.url, '/ws', ['Upgrade: h2c']);
  assert.match(h2c, /^HTTP\/1\.1 400 /);

  const denied = await front({ decision: Decision.DENY });
  assert.match(await rawHandshake(denied.url, '/ws', [`Cookie: __Host-microseg=${TICKET}`]), /^HTTP\/1\.1 403 [^]*GATEWAY_FORBIDDEN/);
  assert.equal(f.sockets.size + denied.sockets.size, 0);
});

test("the application's own refusal (404 on another path) is relayed and the connection closed; an application away is 502", async () => {
  const f = await front();
  const other = await rawHandshake(f.url, '/not-a-socket', [`Cookie: __Host-microseg=${TICKET}`]);
  assert.match(other, /^HTTP\/1\.1 404 /);
  assert.equal(f.sockets.size, 0);
  const away = await front({ upstreamPort: await freePort() });
  assert.match(await rawHandshake(away.url, '/ws', [`Cookie: __Host-microseg=${TICKET}`]), /^HTTP\/1\.1 502 [^]*GATEWAY_UPSTREAM_UNREACHABLE/);
  assert.deepEqual(
    away.deps.flows.recorded.map((r) => [r.accepted, r.dropReason, r.statusCode]),
    [[false, 'dial', 502]],
  );
});

test('past the per-session bound: 429, the open socket untouched', async () => {
  const f = await front({ maxPerCredential: 1 });
  const first = open(`${f.url}/ws`, { cookie: `__Host-microseg=${TICKET}` });
  await nextMessage(first);
  assert.match(await rawHandshake(f.url, '/ws', [`Cookie: __Host-microseg=${TICKET}`]), /^HTTP\/1\.1 429 [^]*GATEWAY_WEBSOCKETS_PER_SESSION/);
  first.send('still here');
  assert.equal(await nextMessage(first), 'still here');
  const closed = new Promise((resolve) => first.addEventListener('close', resolve));
  first.close();
  await closed;
});

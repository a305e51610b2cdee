// Integration: the whole gateway (buildGatewayApp) on a real nats-server, private to this file, with the
// policy and authn services played by this test on the same bus — so that what they answer, and when, is
// the test's to choose: a port the gateway cannot open, a certificate it cannot use, a decision made from an
// older revision than the one announced, a NATS restart.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { once } from 'node:events';
import { connect as tlsConnect } from 'node:tls';
import { create, fromBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { Bus } from '@microseg/bus';
import { requests, subjects } from '@microseg/contracts';
import { LogEventSchema, type LogEvent } from '@microseg/proto/events';

import { Decision, PolicyChangedSchema, ServiceRouteSchema, type GatewaySyncRequest } from '@microseg/proto/policy';
import { createLogger } from '@microseg/telemetry';
import { freePort, startNats, waitFor, type RunningServer } from '@microseg/testkit';
import { buildGatewayApp, type GatewayApp } from './app.ts';
import { gatewayConfigSchema, type GatewayConfig } from './config.ts';

const logger = createLogger('gateway-test', 'silent');
let dir: string;
let nats: RunningServer;
/** The policy and authn services, played by the test. */
let control: Bus;
/** A plain connection that sees the gateway's log events. */
let watcher: NatsConnection;
let app: GatewayApp;
let config: GatewayConfig;
let upstream: HttpServer;
let holder: NetServer;
const ports = { admin: 0, held: 0, good: 0, later: 0, upstream: 0 };

const events: LogEvent[] = [];
const syncs: GatewaySyncRequest[] = [];
let revision = 10n;
/** The revision policy's decisions are made from (a lagging replica answers an older one). */
let decisionRevision = 10n;
let decides = 0;
let lookups = 0;

const route = (id: string, exposedPort: number, extra: MessageInitShape<typeof ServiceRouteSchema> = {}) =>
  create(ServiceRouteSchema, {
    id,
    name: id,
    namespace: '/it',
    hosts: [`${id}.test`],
    exposedPort,
    port: ports.upstream,
    upstreamAddress: '127.0.0.1',
    processingUnit: 'pu-1',
    authorizationType: 'OIDC',
    ...extra,
  });
let routes: ReturnType<typeof route>[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'microseg-gateway-app-'));
  nats = await startNats({ isolated: true, dataDir: dir, defaultPort: 0 });
  for (const key of Object.keys(ports) as Array<keyof typeof ports>) ports[key] = await freePort();

  upstream = createHttpServer((_req, res) => res.end('from the application'));
  upstream.listen(ports.upstream, '127.0.0.1');
  await once(upstream, 'listening');
  // Another program on the gateway's host holds this port.
  holder = createNetServer();
  holder.listen(ports.held, '127.0.0.1');
  await once(holder, 'listening');

  routes = [
    route('good', ports.good),
    route('on-admin-port', ports.admin),
    route('on-held-port', ports.held),
    route('bad-certificate', ports.good, {
      tlsCertificate: '-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n',
      tlsCertificateKey: 'nor a key',
    }),
  ];

  control = await Bus.connect({ url: nats.url, name: 'test-control-plane', logger });
  control.serve(requests.policyGatewaySync, (req) => {
    syncs.push(req);
    return { services: routes, revision };
  });
  control.serve(requests.policyDecide, () => {
    decides++;
    return { decision: Decision.ALLOW, reason: 'scope', revision: decisionRevision };
  });
  control.serve(requests.authnSessionLookup, (req) => {
    lookups++;
    return {
      found: req.ticket === 'alice-ticket',
      sessionId: 's-alice',
      subject: 'alice',
      tags: ['email=alice@example.com'],
      cacheUntilMs: BigInt(Date.now() + 60_000),
    };
  });
  await control.nc.flush();

  watcher = await natsConnect({ servers: nats.url });
  const sub = watcher.subscribe(subjects.logEvent('gateway'));
  void (async () => {
    for await (const m of sub) events.push(fromBinary(LogEventSchema, m.data));
  })();
  await watcher.flush();

  const units = join(dir, 'units.yaml');
  // The file allows every port the test uses but the admin port (a file that lists it is refused at start):
  // a route on the admin port is refused by the file's check, one on a held port by the listener.
  await writeFile(
    units,
    `exposedPorts: [${ports.held}, ${ports.good}, ${ports.later}]\nprocessingunits:\n  - name: pu-1\n    namespace: /it\n    address: 127.0.0.1\n    applicationPorts: [${ports.upstream}]\n`,
  );
  config = gatewayConfigSchema.parse({
    NATS_URL: nats.url,
    MICROSEG_DATA_DIR: dir,
    LOG_LEVEL: 'silent',
    GATEWAY_ID: 'it-gateway',
    GATEWAY_PROCESSING_UNITS: units,
    GATEWAY_LISTEN_HOST: '127.0.0.1',
    GATEWAY_ADMIN_HOST: '127.0.0.1',
    GATEWAY_ADMIN_PORT: String(ports.admin),
    // No heartbeat during the test: every sync is one the test caused.
    GATEWAY_SYNC_INTERVAL_MS: '600000',
  });
  app = await buildGatewayApp(config, logger);
  await app.admin.listen({ host: config.GATEWAY_ADMIN_HOST, port: config.GATEWAY_ADMIN_PORT });
  // Before the fix, one port that could not be opened failed every sync: start() never returned.
  await Promise.race([
    app.start(),
    new Promise((_, reject) => setTimeout(() => reject(new Error('the gateway never finished its first sync')), 10_000).unref()),
  ]);
});

after(async () => {
  await app?.close(500);
  await watcher?.close();
  await control?.close(500);
  await nats?.stop();
  if (holder?.listening) holder.close();
  upstream?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** GET / on `port` with TLS server name and Host `host`, as alice (her ticket) unless told otherwise. */
function get(port: number, host: string, ticket = 'alice-ticket'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        servername: host,
        path: '/',
        headers: { host, accept: 'application/json', cookie: `__Host-microseg=${ticket}` },
        rejectUnauthorized: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Whether a TLS handshake naming `servername` completes on `port`. */
function handshake(port: number, servername: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
    socket.once('secureConnect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });
}

function announce(next: bigint): void {
  revision = next;
  control.broadcast(subjects.policyChanged, PolicyChangedSchema, { revision: next });
}

test('a service on the admin port, one on a port another program holds and one with a bad certificate: the good one serves; one Error event per problem; the problems go to policy', async () => {
  assert.deepEqual(await get(ports.good, 'good.test'), { status: 200, body: 'from the application' });
  assert.equal(await handshake(ports.good, 'good.test'), true);
  assert.equal(await handshake(ports.good, 'bad-certificate.test'), false, 'its handshake is refused');
  assert.equal(await handshake(ports.good, 'stranger.test'), true, 'a name no route has gets the default certificate');

  const expected = ['bad-certificate', 'on-admin-port', 'on-held-port'];
  await waitFor('an Error event per problem', async () => events.filter((e) => e.level === 'Error').length >= 3, 5_000);
  const errors = events.filter((e) => e.level === 'Error');
  assert.deepEqual(errors.map((e) => e.targetId).sort(), expected);
  for (const e of errors) {
    assert.equal(e.origin, 'gateway');
    assert.equal(e.namespace, '/it');
    assert.equal(e.targetIdentity, 'service');
  }
  assert.match(errors.find((e) => e.targetId === 'on-admin-port')!.content, new RegExp(`exposedPort ${ports.admin} is not among this gateway's exposedPorts`));
  assert.match(errors.find((e) => e.targetId === 'on-held-port')!.content, new RegExp(`exposedPort ${ports.held} is in use by another program`));
  assert.match(errors.find((e) => e.targetId === 'bad-certificate')!.content, /TLSCertificate and TLSCertificateKey cannot be used.*refused until it is fixed/);
  assert.ok(!errors.some((e) => e.content.includes('not one') || e.content.includes('nor a key')), 'no certificate or key text in an event');

  // The gateway synced again at once to tell policy.
  await waitFor('a sync that carries the problems', async () => syncs.some((s) => s.problems.length === 3), 5_000);
  const told = syncs.findLast((s) => s.problems.length === 3)!;
  assert.deepEqual(told.problems.map((p) => [p.serviceId, p.kind]).sort(), [
    ['bad-certificate', 'certificate'],
    ['on-admin-port', 'port'],
    ['on-held-port', 'port'],
  ]);
  assert.deepEqual(
    app
      .problems()
      .map((p) => p.serviceId)
      .sort(),
    expected,
  );

  // Later syncs try again and find the same problems: no event again.
  await app.sync();
  await app.sync();
  assert.equal(events.filter((e) => e.level === 'Error').length, 3, 'once per problem');
});

test('routing is not frozen: a service added after them is served, and one whose port is let go is served on the next sync', async () => {
  routes = [...routes, route('later', ports.later)];
  announce(revision + 1n);
  await waitFor('the later service to be served', async () => (await get(ports.later, 'later.test').catch(() => ({ status: 0 }))).status === 200, 5_000);
  await new Promise((r) => holder.close(r));
  await app.sync();
  assert.equal((await get(ports.held, 'on-held-port.test')).status, 200);
  await waitFor('the Info event that it is served again', async () => events.some((e) => e.level === 'Info' && e.targetId === 'on-held-port'), 5_000);
  await waitFor('policy told that the problem is gone', async () => syncs.at(-1)!.problems.length === 2, 5_000);
});

test('the race made real: after revision N+1 is announced, a decision made from revision N (a replica that has not applied it) is used but not kept', async () => {
  const known = revision;
  decisionRevision = known;
  const start = decides;
  assert.equal((await get(ports.good, 'good.test')).status, 200);
  assert.equal((await get(ports.good, 'good.test')).status, 200);
  assert.equal(decides, start + 1, 'the second request was answered from the cache');

  const synced = syncs.length;
  announce(known + 1n);
  await waitFor('the gateway to take the announcement (it resyncs)', async () => syncs.length > synced, 5_000);
  // The replica that answers is still at revision N.
  assert.equal((await get(ports.good, 'good.test')).status, 200);
  assert.equal(decides, start + 2, 'the announcement cleared the cache');
  assert.equal((await get(ports.good, 'good.test')).status, 200);
  assert.equal(decides, start + 3, 'the answer made from revision N was not kept');

  decisionRevision = known + 1n;
  assert.equal((await get(ports.good, 'good.test')).status, 200);
  assert.equal((await get(ports.good, 'good.test')).status, 200);
  assert.equal(decides, start + 4, 'an answer made from revision N+1 is kept');
});

test('back on NATS after a restart: session and decision caches are cleared and the routes asked again', async () => {
  assert.equal((await get(ports.good, 'good.test')).status, 200);
  const [decided, looked, synced] = [decides, lookups, syncs.length];
  assert.equal((await get(ports.good, 'good.test')).status, 200);
  assert.deepEqual([decides, lookups], [decided, looked], 'both answered from the caches');

  await nats.stop();
  await nats.start!();
  await waitFor('the gateway to ask for its routes again', async () => syncs.length > synced, 15_000, 50);
  assert.equal((await get(ports.good, 'good.test')).status, 200);
  assert.equal(lookups, looked + 1, 'the session was looked up again');
  assert.equal(decides, decided + 1, 'the decision was asked again');
});

test('a worker that does not register (GATEWAY_WORKERS, any but the first): it asks for the routes only, with no problems, and raises no event', async () => {
  const before = syncs.length;
  const second = await buildGatewayApp(config, logger, { slot: 2, registers: false });
  const emitted: string[] = [];
  second.bus.emitEvent = (kind) => (emitted.push(kind), '');
  try {
    await second.start();
    // Outside a cluster the first gateway's ports are not shared with it: it has problems of its own.
    assert.ok(second.problems().length > 0);
    const own = syncs.slice(before);
    assert.equal(own.length, 1, 'one sync: no second one to report its problems');
    assert.deepEqual(
      own.map((s) => [s.gatewayId, s.routesOnly, s.problems.length, s.processingUnits.map((u) => u.name)]),
      [['it-gateway', true, 0, ['pu-1']]],
    );
    assert.deepEqual(emitted, []);
  } finally {
    await second.close(500);
  }
});

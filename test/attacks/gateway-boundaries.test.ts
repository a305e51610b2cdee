// Attacks across the gateway's trust boundaries (issue 12): nothing from upstream or from strangers changes
// microseg's state, and one service that cannot be served never stops the others. The application behind
// the gateway is the recorder (gateway-kit.ts), answering with whatever Set-Cookie a case chooses; strangers
// are raw TLS clients; services are created through the API as a namespace's editor would.
// test/attacks/README.md lists each case and its source.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { fromBinary } from '@bufbuild/protobuf';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { generate } from 'selfsigned';
import { subjects } from '@microseg/contracts';
import { LogEventSchema, type LogEvent } from '@microseg/proto/events';
import { freePort, startCluster, waitFor, type Cluster } from '@microseg/testkit';
import { natsConnectOptions } from '@microseg/bus';
import { api, exposeRecorder, http1, marker, rawRequest, Recorder, type RawResponse } from './gateway-kit.ts';

let cluster: Cluster;
let dataDir: string;
let recorder: Recorder;
let nats: NatsConnection;
/** Every log event the gateway published. */
const events: LogEvent[] = [];
let port: number;
/** Another exposed port of the same host, with another tenant's service (cookies do not care about ports). */
let otherPort: number;

/** Exposed ports the gateway's file allows for the cases below (the operator's choice: startCluster's gatewayPorts). */
const spare = { held: 0, later: 0, more: 0 };

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'microseg-attacks-boundaries-'));
  const recorderPort = await freePort();
  otherPort = await freePort();
  for (const key of Object.keys(spare) as Array<keyof typeof spare>) spare[key] = await freePort();
  cluster = await startCluster({ dataDir, isolated: true, gatewayPorts: { application: [recorderPort], exposed: [otherPort, ...Object.values(spare)] } });
  recorder = new Recorder();
  await recorder.start(recorderPort);
  await exposeRecorder(cluster, recorder);
  port = cluster.ports.walkthrough;
  nats = await natsConnect(natsConnectOptions(cluster.natsConnection()));
  const sub = nats.subscribe(subjects.logEvent('gateway'));
  void (async () => {
    for await (const m of sub) events.push(fromBinary(LogEventSchema, m.data));
  })();
  await nats.flush();
  // A public API for the services the cases add.
  const spec = await api(cluster, 'POST', '/httpresourcespecs', {
    name: 'everything-public',
    associatedTags: ['api=public'],
    endpoints: [{ URI: '/*', methods: ['GET'], public: true }],
  });
  assert.equal(spec.status, 201, JSON.stringify(spec.body));
  await addService('other-port', otherPort, ['localhost', 'tenant.test']);
  await waitFor(
    'the recorded service and the other port to be served',
    async () => (await status(port, '/public/ready')) === 200 && (await status(otherPort, '/ready')) === 200,
    10_000,
    50,
  );
});

after(async () => {
  await nats?.close();
  await recorder?.stop();
  await cluster?.stop();
});

/** A service of the walkthrough's processing unit (the recorder), every GET public. */
async function addService(
  name: string,
  exposedPort: number,
  hosts = ['localhost'],
  extra: Record<string, unknown> = {},
): Promise<{ status: number; body: any }> {
  const res = await api(cluster, 'POST', '/services', {
    name,
    hosts,
    port: recorder.port,
    exposedPort,
    selectors: [['type=walkthrough-app']],
    exposedAPIs: [['api=public']],
    authorizationType: 'None',
    ...extra,
  });
  if (!extra.TLSCertificate) assert.equal(res.status, 201, JSON.stringify(res.body));
  return res;
}

const get = (on: number, target: string, host = `localhost:${on}`) =>
  rawRequest(on, http1(`GET ${target} HTTP/1.1`, [`Host: ${host}`, 'Accept: application/json']), { servername: host.split(':')[0] });
const status = (on: number, target: string) =>
  get(on, target).then(
    (r) => r.status,
    () => 0,
  );
const setCookieLines = (res: RawResponse) => res.headers.filter(([n]) => n === 'set-cookie').map(([, v]) => v);

/** The certificate the gateway presents on `on` for `servername`; undefined when the handshake is refused. */
function certificateFor(on: number, servername: string): Promise<PeerCertificate | undefined> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: on, servername, rejectUnauthorized: false });
    socket.once('secureConnect', () => {
      const certificate = socket.getPeerCertificate();
      socket.destroy();
      resolve(certificate);
    });
    socket.once('error', () => resolve(undefined));
  });
}

async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

// Lines a hostile (or compromised) application answers with; only its own cookies may reach the browser.
const HOSTILE_SET_COOKIES = [
  '__Host-microseg=chosen-by-the-app; Path=/; Secure; HttpOnly; SameSite=Lax',
  '__Host-microseg-login=chosen-by-the-app; Path=/; Secure; HttpOnly',
  '__host-microseg=lower; Path=/; Secure',
  '__HOST-MICROSEG-LOGIN=upper; Path=/; Secure',
  ' __Host-microseg =spaced; Path=/; Secure',
  '__Secure-microseg=other-prefix; Path=/; Secure',
  'microseg=no-prefix; Path=/',
  '=__Host-microseg=nameless; Path=/; Secure',
  '__Host-microseg=; Path=/; Secure; Max-Age=0',
];
const OWN_SET_COOKIES = ['app=1; Path=/; Secure', '__Host-microsegx=its-own; Path=/; Secure', 'theme=microseg; Path=/'];

describe("the application cannot set microseg's cookies", () => {
  test('Set-Cookie for __Host-microseg / __Host-microseg-login in any case, prefix or spacing, or nameless: removed; its own cookies pass', async () => {
    const m = marker('cookie');
    recorder.respondTo(m, { 'set-cookie': [...HOSTILE_SET_COOKIES, ...OWN_SET_COOKIES] });
    const res = await get(port, `/public/x?m=${m}`);
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.deepEqual(setCookieLines(res), OWN_SET_COOKIES);
  });

  test("another tenant's service on another exposed port of the same host: its Set-Cookie for microseg's cookies is removed too", async () => {
    const m = marker('tenant');
    recorder.respondTo(m, { 'set-cookie': HOSTILE_SET_COOKIES });
    const res = await get(otherPort, `/x?m=${m}`);
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.deepEqual(setCookieLines(res), [], 'not one of them reaches the browser');
  });
});

describe('strangers cost nothing lasting', () => {
  test('300 TLS handshakes naming random hosts (and none): the default certificate each time, no file written under the data directory', async () => {
    // A host name of a configured route has its own certificate (made when the route arrived, kept on disk).
    assert.equal((await certificateFor(otherPort, 'tenant.test'))?.subject.CN, 'tenant.test');
    const before = await filesUnder(join(dataDir, 'gateway'));
    assert.ok(before.includes(join('certs', 'tenant.test.crt')), before.join(', '));
    const names = Array.from({ length: 300 }, (_, i) =>
      i % 3 === 0 ? `${randomBytes(20).toString('hex')}.EXAMPLE` : `${randomBytes(6).toString('hex')}.example.test`,
    );
    for (const name of names) {
      const certificate = await certificateFor(port, name);
      assert.equal(certificate?.subject.CN, 'localhost', `${name}: the default certificate`);
    }
    assert.equal((await certificateFor(port, ''))?.subject.CN, 'localhost', 'no server name');
    assert.deepEqual(await filesUnder(join(dataDir, 'gateway')), before, 'nothing was written for a stranger');
    assert.equal(await status(port, '/public/still-here'), 200);
  });
});

describe('one service that cannot be served never stops the others', () => {
  let holder: NetServer;
  after(() => holder?.close());

  test("a service on the gateway's admin port is refused; one on a port another program holds is not served: the rest is, a later service too, one Error event", async () => {
    // The admin port can never be one the gateway's file allows: the API refuses the service (the gateway's own
    // guard behind it is tested in services/gateway/src/app.integration.test.ts).
    const onAdmin = await api(cluster, 'POST', '/services', {
      name: 'on-admin-port',
      hosts: ['localhost'],
      port: recorder.port,
      exposedPort: cluster.ports.gatewayAdmin,
      selectors: [['type=walkthrough-app']],
      exposedAPIs: [['api=public']],
    });
    assert.equal(onAdmin.status, 422, JSON.stringify(onAdmin.body));
    assert.match(JSON.stringify(onAdmin.body), /exposedPort/);
    // Another program on the gateway's host (it listens on 127.0.0.1) holds this port, which the file allows.
    const heldPort = spare.held;
    holder = createNetServer();
    holder.listen(heldPort, '127.0.0.1');
    await once(holder, 'listening');
    const onHeld = await addService('on-held-port', heldPort);
    const laterPort = spare.later;
    await addService('added-after-them', laterPort);
    // Before the fix the first port that could not be opened failed the whole sync: nothing after it applied.
    await waitFor('the service added after them to be served', async () => (await status(laterPort, '/later')) === 200, 10_000, 100);
    assert.equal(await status(port, '/public/still-served'), 200, 'the services already served still are');
    assert.equal((await fetch(`http://127.0.0.1:${cluster.ports.gatewayAdmin}/readyz`)).status, 200, "the gateway's admin port is still its own");

    await waitFor('an Error event', async () => events.some((e) => e.targetId === onHeld.body.ID && e.level === 'Error'), 10_000, 100);
    const heldEvent = events.find((e) => e.targetId === onHeld.body.ID)!;
    assert.equal(heldEvent.namespace, '/acme/team-c/walkthrough');
    assert.equal(heldEvent.origin, 'gateway');
    assert.match(heldEvent.content, new RegExp(`Service on-held-port is not served: exposedPort ${heldPort} is in use by another program`));
    // …and the service says so to its editors.
    await waitFor(
      'the status on the object',
      async () => (await api(cluster, 'GET', '/services/on-held-port')).body.servingStatus === 'NotServed',
      10_000,
      100,
    );
    assert.match((await api(cluster, 'GET', '/services/on-held-port')).body.servingProblems.join('\n'), new RegExp(`exposedPort ${heldPort} is in use`));

    // The heartbeat and later changes try the ports again: still one event per problem.
    const morePort = spare.more;
    await addService('one-more-change', morePort);
    await waitFor('the next change to be applied', async () => (await status(morePort, '/more')) === 200, 10_000, 100);
    assert.equal(events.filter((e) => e.targetId === onHeld.body.ID && e.level === 'Error').length, 1);
  });

  test("a service whose certificate cannot be used: its host's handshake is refused with an Error event; the port's other hosts are served", async () => {
    const pairs = await Promise.all(['a', 'b'].map((n) => generate([{ name: 'commonName', value: `${n}.test` }], { keyType: 'ec', curve: 'P-256' })));
    // A certificate and the key of another one: well-formed PEM, unusable together.
    const bad = await addService('mismatched-key', otherPort, ['mismatched.test'], { TLSCertificate: pairs[0]!.cert, TLSCertificateKey: pairs[1]!.private });
    if (bad.status === 422) {
      // The policy service refused the pair at the API: it never reaches a gateway, which is as good.
      assert.match(JSON.stringify(bad.body), /TLSCertificate/);
      return;
    }
    assert.equal(bad.status, 201, JSON.stringify(bad.body));
    await waitFor('its Error event', async () => events.some((e) => e.targetId === bad.body.ID && e.level === 'Error'), 10_000, 100);
    assert.match(
      events.find((e) => e.targetId === bad.body.ID)!.content,
      /TLSCertificateKey is not the private key of TLSCertificate.*mismatched\.test are refused/,
    );
    assert.equal(await certificateFor(otherPort, 'mismatched.test'), undefined, 'the handshake is refused');
    assert.equal((await certificateFor(otherPort, 'tenant.test'))?.subject.CN, 'tenant.test');
    assert.equal(await status(otherPort, '/still-served'), 200);
    assert.ok(!events.some((e) => e.content.includes('PRIVATE KEY') || e.content.includes('BEGIN')), 'no PEM in an event');
  });
});

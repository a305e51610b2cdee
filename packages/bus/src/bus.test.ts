// Integration: the bus against a real nats-server with JetStream, private to this file.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { streams, type RequestContract } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import { Decision, DecideRequestSchema, DecideResponseSchema } from '@microseg/proto/policy';
import { LogEventSchema } from '@microseg/proto/events';
import { startTelemetry, stopTelemetry, trace } from '@microseg/telemetry';
import { startNats, type RunningServer } from '@microseg/testkit';
import { Bus, type BusLogger, type Handler } from './bus.ts';
import { BusRequestError } from './errors.ts';

const quietLogger: BusLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

let nats: RunningServer;
const buses: Bus[] = [];

async function newBus(name: string): Promise<Bus> {
  const bus = await Bus.connect({ url: nats.url, name, logger: quietLogger });
  buses.push(bus);
  return bus;
}

/** A request contract on a test subject, with the decide messages. */
const decideOn = (subject: string): RequestContract<typeof DecideRequestSchema, typeof DecideResponseSchema> => ({
  subject,
  queue: 'test-queue',
  request: DecideRequestSchema,
  reply: DecideResponseSchema,
});

/** Serve and make sure the server knows the subscription before anyone asks. */
async function serveDecide(bus: Bus, subject: string, handler: Handler<typeof DecideRequestSchema, typeof DecideResponseSchema>): Promise<void> {
  bus.serve(decideOn(subject), handler);
  await bus.nc.flush();
}

before(async () => {
  startTelemetry();
  nats = await startNats({ isolated: true, dataDir: await mkdtemp(join(tmpdir(), 'microseg-bus-')), defaultPort: 0 });
});

after(async () => {
  for (const bus of buses) await bus.close(1_000);
  await nats?.stop();
  await stopTelemetry();
});

test('request/reply round trip with protobuf schemas', async () => {
  const server = await newBus('server');
  const client = await newBus('client');
  const seen: Array<{ serviceId: string; method: string; path: string; authenticated: boolean; tags: string[] }> = [];
  await serveDecide(server, 'svc.test.v1.roundtrip', (req) => {
    seen.push({ serviceId: req.serviceId, method: req.method, path: req.path, authenticated: req.authenticated, tags: [...req.tags] });
    return { decision: Decision.ALLOW, reason: 'scope', policyName: `for ${req.tags.join('+')}` };
  });

  const reply = await client.request(
    decideOn('svc.test.v1.roundtrip'),
    { serviceId: 'svc-1', method: 'GET', path: '/a', authenticated: true, tags: ['email=alice@example.com', 'groups=admins'] },
    2_000,
  );

  assert.deepEqual(seen, [{ serviceId: 'svc-1', method: 'GET', path: '/a', authenticated: true, tags: ['email=alice@example.com', 'groups=admins'] }]);
  assert.equal(reply.decision, Decision.ALLOW);
  assert.equal(reply.reason, 'scope');
  assert.equal(reply.policyName, 'for email=alice@example.com+groups=admins');
});

const handlerFailures: Array<{ name: string; thrown: unknown; code: string; message: string }> = [
  {
    name: 'a MicrosegError keeps its code and public message',
    thrown: new MicrosegError('POLICY_SERVICE_UNKNOWN'),
    code: 'POLICY_SERVICE_UNKNOWN',
    message: 'The service is unknown.',
  },
  {
    name: 'any other error becomes INTERNAL without its detail',
    thrown: new Error('database password is hunter2'),
    code: 'INTERNAL',
    message: 'Internal error.',
  },
];

for (const { name, thrown, code, message } of handlerFailures) {
  test(`a throwing handler answers with an error, which the caller's request throws: ${name}`, async () => {
    const bus = await newBus('throwing');
    const subject = `svc.test.v1.throws.${code.toLowerCase()}`;
    await serveDecide(bus, subject, () => {
      throw thrown;
    });

    await assert.rejects(bus.request(decideOn(subject), { serviceId: 'nope' }, 2_000), (err: unknown) => {
      assert.ok(err instanceof MicrosegError, 'the remote error, rebuilt');
      assert.deepEqual({ code: err.code, message: err.message }, { code, message });
      return true;
    });
  });
}

test('an error with Retry-After keeps it across the bus', async () => {
  const bus = await newBus('limited');
  await serveDecide(bus, 'svc.test.v1.limited', () => {
    throw new MicrosegError('AUTHN_LOGIN_RATE_LIMITED', 'Too many sign-ins; try again in 42 seconds.', { retryAfterSeconds: 42 });
  });
  await assert.rejects(bus.request(decideOn('svc.test.v1.limited'), {}, 2_000), (err: unknown) => {
    assert.ok(err instanceof MicrosegError);
    assert.deepEqual([err.code, err.status, err.retryAfterSeconds, err.headers?.['retry-after']], ['AUTHN_LOGIN_RATE_LIMITED', 429, 42, '42']);
    return true;
  });
});

test('a request nobody serves fails with kind no-responders', async () => {
  const bus = await newBus('lonely');
  await assert.rejects(
    bus.request(decideOn('svc.test.v1.nobody'), {}, 2_000),
    (err: unknown) => err instanceof BusRequestError && err.kind === 'no-responders' && err.subject === 'svc.test.v1.nobody',
  );
});

test('a handler slower than the bound fails with kind timeout', async () => {
  const bus = await newBus('slow');
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  let started = false;
  await serveDecide(bus, 'svc.test.v1.slow', async () => {
    started = true;
    await released;
    return { decision: Decision.ALLOW };
  });

  try {
    await assert.rejects(bus.request(decideOn('svc.test.v1.slow'), {}, 300), (err: unknown) => err instanceof BusRequestError && err.kind === 'timeout');
    assert.ok(started, 'the handler was reached, so the failure is the bound and not a missing responder');
  } finally {
    release();
  }
});

test('two buses in one queue group share the requests', async () => {
  const first = await newBus('replica-1');
  const second = await newBus('replica-2');
  const client = await newBus('caller');
  const served = { first: 0, second: 0 };
  await serveDecide(first, 'svc.test.v1.shared', () => {
    served.first++;
    return { reason: 'first' };
  });
  await serveDecide(second, 'svc.test.v1.shared', () => {
    served.second++;
    return { reason: 'second' };
  });

  const total = 60;
  const replies = await Promise.all(Array.from({ length: total }, () => client.request(decideOn('svc.test.v1.shared'), {}, 5_000)));

  assert.equal(served.first + served.second, total, 'each request is handled exactly once');
  assert.ok(served.first > 0 && served.second > 0, `both replicas served some: ${JSON.stringify(served)}`);
  assert.equal(replies.filter((r) => r.reason === 'first').length, served.first);
  assert.equal(replies.filter((r) => r.reason === 'second').length, served.second);
});

test("the handler runs in the caller's trace", async () => {
  const server = await newBus('traced-server');
  const client = await newBus('traced-client');
  let handlerTraceId: string | undefined;
  await serveDecide(server, 'svc.test.v1.traced', () => {
    handlerTraceId = trace.getActiveSpan()?.spanContext().traceId;
    return {};
  });

  const callerTraceId = await trace.getTracer('t').startActiveSpan('caller', async (span) => {
    try {
      await client.request(decideOn('svc.test.v1.traced'), {}, 2_000);
      return span.spanContext().traceId;
    } finally {
      span.end();
    }
  });

  assert.match(callerTraceId, /^[0-9a-f]{32}$/);
  assert.notEqual(callerTraceId, '0'.repeat(32), 'the SDK is running, so trace ids are real');
  assert.equal(handlerTraceId, callerTraceId);
});

test('publishEvent stores a message once even when the same msgId is published twice', async () => {
  const bus = await newBus('publisher');
  const subject = 'evt.bustest.v1.event';
  const event = { id: 'event-1', timeMs: 1n, level: 'Info', title: 'first', origin: 'bustest' };

  bus.publishEvent(subject, LogEventSchema, event, 'msg-1');
  bus.publishEvent(subject, LogEventSchema, { ...event, title: 'retried copy' }, 'msg-1');
  bus.publishEvent(subject, LogEventSchema, { ...event, id: 'event-2', title: 'second' }, 'msg-2');
  assert.equal(await bus.outbox.flush(5_000), true);

  const jsm = await bus.jetstreamManager();
  const info = await jsm.streams.info(streams.events.name, { subjects_filter: subject });
  assert.equal(info.state.subjects?.[subject], 2, 'msg-1 once and msg-2 once');
  const first = await jsm.streams.getMessage(streams.events.name, { seq: info.state.first_seq });
  const last = await jsm.streams.getMessage(streams.events.name, { last_by_subj: subject });
  assert.equal(fromBinary(LogEventSchema, first!.data).title, 'first');
  assert.equal(fromBinary(LogEventSchema, last!.data).title, 'second');
  assert.deepEqual(bus.outbox.stats, { queued: 3, published: 3, retried: 0, dropped: 0 });
});

test('a server that closes while requests are on their way answers them: its replica in the queue group takes the rest', async () => {
  const leaving = await newBus('leaving');
  const staying = await newBus('staying');
  const client = await newBus('client-of-leaving');
  const subject = 'svc.test.v1.closing';
  for (const bus of [leaving, staying]) await serveDecide(bus, subject, () => ({ decision: Decision.ALLOW, reason: 'scope' }));
  // A steady stream of requests, and the close in the middle of it: none may wait for its timeout.
  const ask = () =>
    client.request(decideOn(subject), { serviceId: 's', method: 'GET', path: '/', authenticated: false, tags: [], clientIp: '' }, 2_000).then(
      () => 'ok',
      (err: BusRequestError) => err.kind,
    );
  const outcomes: Array<Promise<string>> = [];
  for (let i = 0; i < 200; i++) outcomes.push(ask());
  const closing = leaving.close(2_000);
  for (let i = 0; i < 200; i++) outcomes.push(ask());
  await closing;
  const results = await Promise.all(outcomes);
  assert.deepEqual(
    results.filter((r) => r !== 'ok'),
    [],
    'every request was answered',
  );
});

// Last: it restarts the server that every test of this file shares.
test('onReconnect: listeners are called once the connection is back after the server restarted', async () => {
  const bus = await newBus('reconnecting');
  let reconnects = 0;
  const back = new Promise<void>((resolve) =>
    bus.onReconnect(() => {
      reconnects++;
      resolve();
    }),
  );
  bus.onReconnect(() => {
    throw new Error('a failing listener does not stop the others');
  });
  await nats.stop();
  assert.equal(reconnects, 0);
  await nats.start!();
  await back;
  assert.equal(reconnects, 1);
  assert.equal(bus.isConnected, true);
});

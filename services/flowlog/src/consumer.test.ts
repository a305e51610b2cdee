// Integration: two flowlog replicas' consumers share the durable consumer on a
// real nats-server and store into one real redis-server. Every flow is counted
// exactly once: not twice across replicas, not again on a redelivery.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { Redis } from 'ioredis';
import { Bus, type BusLogger } from '@microseg/bus';
import { streams, subjects } from '@microseg/contracts';
import { FlowEventSchema, type FlowEvent } from '@microseg/proto/events';
import { createLogger } from '@microseg/telemetry';
import { startNats, startRedis, waitFor, type RunningServer } from '@microseg/testkit';
import { EventConsumer } from './consumer.ts';
import { FlowlogStore } from './store.ts';

const quiet: BusLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const logger = createLogger('flowlog-test', 'silent');
let nats: RunningServer;
let redisServer: RunningServer;
let redis: Redis;
const buses: Bus[] = [];
const consumers: EventConsumer[] = [];

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'microseg-flowlog-consumer-'));
  nats = await startNats({ isolated: true, dataDir: dir, defaultPort: 0 });
  redisServer = await startRedis({ isolated: true, dataDir: dir, defaultPort: 0 });
  redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
});

after(async () => {
  for (const c of consumers) await c.stop();
  for (const b of buses) await b.close(1_000);
  redis?.disconnect();
  await nats?.stop();
  await redisServer?.stop();
});

async function replica(store: FlowlogStore): Promise<EventConsumer> {
  const bus = await Bus.connect({ url: nats.url, name: `replica-${buses.length}`, logger: quiet });
  buses.push(bus);
  const consumer = new EventConsumer(bus, store, logger);
  await consumer.start();
  consumers.push(consumer);
  return consumer;
}

function flow(uri: string): FlowEvent {
  return create(FlowEventSchema, {
    id: randomUUID(),
    timeMs: BigInt(Date.now()),
    namespace: '/acme',
    source: { type: 'Claims', id: 'alice', name: 'alice', ip: '127.0.0.1' },
    destination: { type: 'ProcessingUnit', id: 'nginx', name: 'nginx', port: 3000, namespace: '/acme' },
    serviceId: 'svc-1',
    uri,
    action: 'Accept',
  });
}

async function counted(store: FlowlogStore, uri: string): Promise<number> {
  const page = await store.flows({ namespace: '/acme', q: uri, limit: 1000 });
  return page.items.filter((f) => f.URI === uri).reduce((sum, f) => sum + f.count, 0);
}

async function drained(bus: Bus): Promise<boolean> {
  const jsm = await bus.jetstreamManager();
  const info = await jsm.consumers.info(streams.events.name, streams.events.flowlogConsumer);
  return info.num_pending === 0 && info.num_ack_pending === 0;
}

/** A store whose first attempt at some flows fails, as when Redis is briefly away. */
class FlakyStore extends FlowlogStore {
  readonly failOnce = new Set<string>();
  override async recordFlow(event: FlowEvent): Promise<boolean> {
    if (this.failOnce.delete(event.id)) throw new Error('redis away');
    return super.recordFlow(event);
  }
}

test('two replicas consuming together count every flow exactly once, redeliveries and republished copies included', async () => {
  const first = new FlakyStore(redis, 1);
  const second = new FlakyStore(redis, 1);
  const a = await replica(first);
  const b = await replica(second);
  const publisher = buses[0]!;
  const uri = `GET /replicas/${randomUUID()}`;
  const events = Array.from({ length: 300 }, () => flow(uri));
  // Some fail on their first delivery (nak → redelivered, to either replica) …
  for (const e of events.slice(0, 20)) {
    first.failOnce.add(e.id);
    second.failOnce.add(e.id);
  }
  // … some were stored already, as when a replica stored a flow and died before its acknowledgement …
  for (const e of events.slice(20, 30)) await first.recordFlow(e);
  for (const e of events) publisher.publishEvent(subjects.gatewayDecision, FlowEventSchema, e, e.id);
  // … and some are published again under another message id (a gateway retrying after a lost acknowledgement).
  for (const e of events.slice(30, 40)) publisher.publishEvent(subjects.gatewayDecision, FlowEventSchema, e, `${e.id}-again`);
  assert.equal(await publisher.outbox.flush(10_000), true);

  await waitFor('all 300 flows counted and the consumer drained', async () => (await counted(first, uri)) >= 300 && (await drained(publisher)), 20_000);
  assert.equal(await counted(first, uri), 300);
  assert.ok(a.processed + b.processed >= 310, `every delivery was acknowledged: ${a.processed} + ${b.processed}`);
});

test('a replica that was stopped catches up on what arrived meanwhile: nothing lost, nothing twice', async () => {
  for (const c of consumers.splice(0)) await c.stop();
  const store = new FlowlogStore(redis, 1);
  const publisher = buses[0]!;
  const uri = `GET /offline/${randomUUID()}`;
  const events = Array.from({ length: 50 }, () => flow(uri));
  for (const e of events) publisher.publishEvent(subjects.gatewayDecision, FlowEventSchema, e, e.id);
  assert.equal(await publisher.outbox.flush(10_000), true);
  assert.equal(await counted(store, uri), 0, 'nobody was consuming');

  await replica(store);
  await waitFor('the 50 flows after the restart', async () => (await counted(store, uri)) >= 50 && (await drained(publisher)), 20_000);
  assert.equal(await counted(store, uri), 50);
});

// Identical decisions within a window travel as one event with a count; any
// difference (user, path, outcome, service) is its own event. A fake bus
// records what would be published.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Bus } from '@microseg/bus';
import { create } from '@bufbuild/protobuf';
import { ServiceRouteSchema } from '@microseg/proto/policy';
import { FlowRecorder, type FlowInput } from './flows.ts';

function recorder(maxPending = 100) {
  const published: Array<Record<string, any>> = [];
  const bus = { publishEvent: (_subject: string, _schema: unknown, event: Record<string, any>) => void published.push(event) } as unknown as Bus;
  // A window far longer than the test: only flush() and maxPending send.
  return { flows: new FlowRecorder(bus, { windowMs: 60_000, maxPending }), published };
}

const route = create(ServiceRouteSchema, {
  id: 'svc1',
  name: 'private-app',
  namespace: '/acme',
  processingUnit: 'app',
  upstreamAddress: '127.0.0.1',
  port: 8080,
});
const base: FlowInput = {
  route,
  clientIp: '10.0.0.1',
  method: 'GET',
  path: '/',
  accepted: true,
  dropReason: '',
  policyId: 'p1',
  policyName: 'allow',
  user: 'alice@example.com',
  statusCode: 200,
  requestId: 'r1',
  port: 8443,
};

test('identical decisions are one event with their count; the first request stands for them', () => {
  const { flows, published } = recorder();
  for (let i = 0; i < 5; i++) flows.record({ ...base, requestId: `r${i}`, statusCode: 200 + i });
  assert.equal(published.length, 0, 'nothing is sent before the window ends');
  flows.flush();
  assert.equal(published.length, 1);
  assert.equal(published[0]!.count, 5);
  assert.equal(published[0]!.requestId, 'r0');
  assert.equal(published[0]!.statusCode, 200);
  assert.equal(published[0]!.uri, 'GET /');
  assert.equal(published[0]!.action, 'Accept');
  assert.equal(published[0]!.source.type, 'Claims');
  assert.equal(published[0]!.destination.id, 'app');
});

test('each difference that matters is its own event', () => {
  const { flows, published } = recorder();
  const variants: FlowInput[] = [
    base,
    { ...base, user: 'bob@example.com' },
    { ...base, user: undefined },
    { ...base, path: '/other' },
    { ...base, method: 'POST' },
    { ...base, accepted: false, dropReason: 'api' },
    { ...base, accepted: false, dropReason: 'policy' },
    { ...base, clientIp: '10.0.0.2' },
    { ...base, policyId: 'p2' },
    { ...base, policyName: 'other' },
    { ...base, byDefault: true },
    { ...base, route: create(ServiceRouteSchema, { ...route, id: 'svc2' }) },
    { ...base, route: create(ServiceRouteSchema, { ...route, port: 9090 }) },
    { ...base, route: undefined },
    { ...base, route: undefined, port: 9443 },
  ];
  for (const v of variants) {
    flows.record(v);
    flows.record(v);
  }
  flows.flush();
  assert.equal(published.length, variants.length);
  assert.ok(published.every((e) => e.count === 2));
  assert.equal(new Set(published.map((e) => e.id)).size, variants.length, 'every event has its own id');
});

test('too many distinct flows send the window early; nothing is lost', () => {
  const { flows, published } = recorder(3);
  for (let i = 0; i < 7; i++) flows.record({ ...base, path: `/p${i}` });
  assert.equal(published.length, 6, 'two windows were sent early');
  flows.flush();
  assert.deepEqual(
    published.map((e) => e.uri),
    Array.from({ length: 7 }, (_, i) => `GET /p${i}`),
  );
});

// Unit (a fake channel and a fake gateway): a worker answers its primary from the first moment — not ready
// until it has started, then its own /readyz — says when it serves, and only worker 1 registers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createHttpApp, registerHealthRoutes } from '@microseg/runtime';
import { createLogger } from '@microseg/telemetry';
import type { GatewayApp, GatewayWorker } from '../app.ts';
import { WorkerLink, type Channel } from './ipc.ts';
import { readinessOf, startWorker, workerSlot } from './worker.ts';

const logger = createLogger('gateway-test', 'silent');

/** The primary's link to a worker whose end is `worker`. */
function pair(): { link: WorkerLink; worker: Channel; started: Promise<void> } {
  const primary = new EventEmitter() as Channel & EventEmitter;
  const worker = new EventEmitter() as Channel & EventEmitter;
  primary.send = (m: unknown) => setImmediate(() => worker.emit('message', m));
  worker.send = (m: unknown) => setImmediate(() => primary.emit('message', m));
  const link = new WorkerLink(primary);
  const started = new Promise<void>((resolve) => link.onStarted(resolve));
  return { link, worker, started };
}

function fakeGateway(checks: () => Record<string, boolean>): GatewayApp {
  const admin = createHttpApp(logger);
  registerHealthRoutes(admin, checks);
  return { admin, start: async () => undefined } as unknown as GatewayApp;
}

test('the worker number comes from its arguments', () => {
  assert.equal(workerSlot(['--worker=3']), 3);
  assert.equal(workerSlot(['--check-config', '--worker=12']), 12);
  assert.equal(workerSlot([]), undefined);
  assert.equal(workerSlot(['--worker=', '--worker=x', '--worker=1234', '-worker=2']), undefined);
});

test("readiness is the worker's own /readyz", async () => {
  let nats = true;
  const app = fakeGateway(() => ({ nats, routes: true }));
  assert.deepEqual(await readinessOf(app.admin), { ready: true, checks: { nats: true, routes: true } });
  nats = false;
  assert.deepEqual(await readinessOf(app.admin), { ready: false, checks: { nats: false, routes: true } });
});

test('not ready while it builds and starts; then its own readiness; started said once it serves', async () => {
  const { link, worker, started } = pair();
  let startGateway: () => void = () => undefined;
  const gateway = fakeGateway(() => ({ nats: true, routes: true }));
  gateway.start = () => new Promise<void>((resolve) => (startGateway = resolve));
  const asked: GatewayWorker[] = [];
  let saidStarted = false;
  void started.then(() => (saidStarted = true));

  const running = startWorker({ slot: 2, channel: worker, build: async (w) => (asked.push(w), gateway) });
  assert.deepEqual(await link.ask('readiness', 1_000), { ready: false, checks: { started: false } });
  const metrics = (await link.ask('metrics', 1_000)) as Array<{ name: string }>;
  assert.ok(Array.isArray(metrics), 'metrics are answered while it starts');
  assert.equal(saidStarted, false);

  startGateway();
  assert.equal(await running, gateway);
  await started;
  assert.deepEqual(await link.ask('readiness', 1_000), { ready: true, checks: { nats: true, routes: true } });
  assert.deepEqual(asked, [{ slot: 2, registers: false }]);
});

test('worker 1 registers the gateway with policy', async () => {
  const { worker } = pair();
  const asked: GatewayWorker[] = [];
  await startWorker({ slot: 1, channel: worker, build: async (w) => (asked.push(w), fakeGateway(() => ({}))) });
  assert.deepEqual(asked, [{ slot: 1, registers: true }]);
});

test('a worker whose gateway fails to start says nothing of serving, and the failure is its own', async () => {
  const { link, worker, started } = pair();
  let saidStarted = false;
  void started.then(() => (saidStarted = true));
  const gateway = fakeGateway(() => ({}));
  gateway.start = () => Promise.reject(new Error('no NATS'));
  await assert.rejects(startWorker({ slot: 1, channel: worker, build: async () => gateway }), /no NATS/);
  assert.deepEqual(await link.ask('readiness', 1_000), { ready: false, checks: { started: false } });
  assert.equal(saidStarted, false);
});

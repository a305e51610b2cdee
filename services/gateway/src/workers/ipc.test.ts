// Unit (a fake channel pair): the primary asks a worker over the IPC channel and gets its answer, its error, or
// nothing in time; a worker that goes fails what was asked at once; other messages pass by.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { answerPrimary, WorkerLink, type Channel } from './ipc.ts';

/** Two ends: what one sends, the other receives (on a later tick, as over a pipe). */
function pair(): { primary: Channel & EventEmitter; worker: Channel & EventEmitter; sent: unknown[] } {
  const sent: unknown[] = [];
  const primary = new EventEmitter() as Channel & EventEmitter;
  const worker = new EventEmitter() as Channel & EventEmitter;
  primary.send = (m: unknown) => (sent.push(m), setImmediate(() => worker.emit('message', structuredClone(m))));
  worker.send = (m: unknown) => setImmediate(() => primary.emit('message', structuredClone(m)));
  return { primary, worker, sent };
}

test('a question gets its answer; several at once each get their own', async () => {
  const { primary, worker } = pair();
  let n = 0;
  answerPrimary(worker, { readiness: async () => ({ ready: true, n: ++n }), metrics: async () => [{ name: 'm' }] });
  const link = new WorkerLink(primary);
  const [a, b, c] = await Promise.all([link.ask('readiness', 1_000), link.ask('metrics', 1_000), link.ask('readiness', 1_000)]);
  assert.deepEqual(a, { ready: true, n: 1 });
  assert.deepEqual(b, [{ name: 'm' }]);
  assert.deepEqual(c, { ready: true, n: 2 });
});

test("the worker's failure is the question's", async () => {
  const { primary, worker } = pair();
  answerPrimary(worker, { readiness: () => Promise.reject(new Error('not built')), metrics: async () => [] });
  await assert.rejects(new WorkerLink(primary).ask('readiness', 1_000), /not built/);
});

test('no answer in time: rejected; a late answer is dropped', async () => {
  const { primary, worker } = pair();
  let release: () => void = () => undefined;
  answerPrimary(worker, { readiness: () => new Promise((r) => (release = () => r({ ready: true }))), metrics: async () => [] });
  const link = new WorkerLink(primary);
  await assert.rejects(link.ask('readiness', 20), /no answer to readiness within 20 ms/);
  release();
  await new Promise((r) => setTimeout(r, 10));
});

test('a worker that goes fails every question still waiting, and any asked later', async () => {
  const { primary } = pair(); // nobody answers
  const link = new WorkerLink(primary);
  const waiting = link.ask('metrics', 60_000);
  link.close();
  await assert.rejects(waiting, /gone/);
  await assert.rejects(link.ask('readiness', 60_000), /gone/);
});

test('a channel that throws on send (closed) fails the question at once', async () => {
  const channel = new EventEmitter() as Channel & EventEmitter;
  channel.send = () => {
    throw new Error('channel closed');
  };
  await assert.rejects(new WorkerLink(channel).ask('readiness', 60_000), /channel closed/);
});

test('started is heard; untagged messages and unknown questions are no answer', async () => {
  const { primary, worker } = pair();
  const questions = answerPrimary(worker, { readiness: async () => 'r', metrics: async () => 'm' });
  const link = new WorkerLink(primary);
  const started = new Promise<void>((resolve) => link.onStarted(resolve));
  questions.started();
  await started;
  // Node's own and other libraries' messages pass by.
  primary.emit('message', { cmd: 'NODE_CLUSTER', id: 0 });
  worker.emit('message', { type: 'prom-client:getMetricsReq', requestId: 0 });
  // A question the worker does not know (or an inherited name) is refused, not looked up on the prototype.
  const replies: unknown[] = [];
  const probe = new EventEmitter() as Channel & EventEmitter;
  probe.send = (m: unknown) => replies.push(m);
  answerPrimary(probe, { readiness: async () => 'r', metrics: async () => 'm' });
  probe.emit('message', { tag: 'microseg-gateway-worker', type: 'ask', id: 7, question: 'toString' });
  assert.deepEqual(replies, [{ tag: 'microseg-gateway-worker', type: 'answer', id: 7, error: 'no such question: toString' }]);
});

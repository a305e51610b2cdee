import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CheckQueue, type Checkable } from './check-queue.ts';

const group = (size = 1): Checkable => ({ checking: false, again: false, entries: { size } });

/** A check that waits until the test lets it end. */
function gate(): { check: () => Promise<void>; release: () => void; started: number } {
  const waiting: Array<() => void> = [];
  const g = {
    started: 0,
    check: () =>
      new Promise<void>((resolve) => {
        g.started++;
        waiting.push(resolve);
      }),
    release: () => waiting.shift()?.(),
  };
  return g;
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

test('one check at a time per group: asked again while one runs, it runs once more after it, not once per ask', async () => {
  const queue = new CheckQueue(4);
  const g = group();
  const c = gate();
  queue.run(g, c.check);
  queue.run(g, c.check);
  queue.run(g, c.check);
  await turn();
  assert.equal(c.started, 1);
  c.release();
  await turn();
  assert.equal(c.started, 2, 'once more for the two asks that came while it ran');
  c.release();
  await turn();
  assert.equal(c.started, 2);
  assert.equal(g.checking, false);
});

test('at most `concurrency` checks at once; the rest wait their turn; an empty group is not checked; a failing check frees its place', async () => {
  const queue = new CheckQueue(2);
  const c = gate();
  for (let i = 0; i < 5; i++) queue.run(group(), c.check);
  let emptyChecked = false;
  queue.run(group(0), async () => {
    emptyChecked = true;
  });
  await turn();
  assert.equal(c.started, 2);
  assert.equal(queue.running, 2);
  for (let i = 0; i < 5; i++) {
    c.release();
    await turn();
  }
  assert.equal(c.started, 5);
  assert.equal(emptyChecked, false);
  queue.run(group(), () => Promise.reject(new Error('a failing check')));
  await turn();
  assert.equal(queue.running, 0);
});

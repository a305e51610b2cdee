// Unit (fakes, mocked timers): the live stream of GET /api/v1/stream — its headers and `ready` event, the
// records of the selection written as Server-Sent Events, a heartbeat, and the caller checked again on a
// schedule: revoked or moved out of the namespace, `expired` and the end; the policy service away, streaming on;
// a user signed in through the gateway: `renew` and the end when her assertion expires.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { LiveClient, LiveMessage } from './live.ts';
import { streamTo } from './stream.ts';
import { ssoViewer, tokenViewer, type Viewer } from './viewer.ts';

const RECHECK_MS = 5_000;

/** A response that keeps what is written; ending it closes it, as a finished response does. */
class FakeResponse extends EventEmitter {
  status = 0;
  headers: Record<string, string> = {};
  readonly chunks: string[] = [];
  ended = false;
  writeHead(status: number, headers: Record<string, string>): this {
    this.status = status;
    this.headers = headers;
    return this;
  }
  write(chunk: string): boolean {
    assert.equal(this.ended, false, 'nothing is written after the end');
    this.chunks.push(chunk);
    return true;
  }
  end(): this {
    if (!this.ended) {
      this.ended = true;
      this.emit('close');
    }
    return this;
  }
}

function open(
  t: TestContext,
  selection = { namespace: '/acme', recursive: false },
  verify: () => Promise<Viewer | undefined> = async () => viewer('/acme'),
  options: { endsAtMs?: number; heartbeatMs?: number } = {},
) {
  t.mock.timers.enable({ apis: ['setInterval', 'setTimeout', 'Date'], now: 0 });
  const res = new FakeResponse();
  const reqRaw = new EventEmitter();
  let hijacked = false;
  const clients: LiveClient[] = [];
  let removed = 0;
  const verified: string[] = [];
  const deps = {
    live: {
      add: (client: LiveClient) => {
        clients.push(client);
        return () => void removed++;
      },
    },
    recheckMs: RECHECK_MS,
    ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}),
  };
  const reply = { hijack: () => void (hijacked = true), raw: res } as unknown as FastifyReply;
  const caller = { recheck: () => (verified.push('checked'), verify()), ...(options.endsAtMs === undefined ? {} : { endsAtMs: options.endsAtMs }) };
  streamTo(deps, { raw: reqRaw } as unknown as FastifyRequest, reply, caller, selection);
  assert.equal(clients.length, 1);
  return { res, reqRaw, client: clients[0]!, hijacked: () => hijacked, removed: () => removed, verified };
}

const viewer = (namespace: string): Viewer => tokenViewer('ops', 'viewer', namespace);
/** Lets the promise of a recheck settle (no time passes). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
const lastChunk = (res: FakeResponse) => res.chunks.at(-1);

const flowMessage = (namespace: string): LiveMessage => ({
  type: 'flow',
  data: {
    namespace,
    source: { type: 'External', id: '', name: '', ip: '203.0.113.7', namespace: '' },
    destination: { type: 'ProcessingUnit', id: 'pu', name: 'web', ip: '', port: 443, namespace },
    serviceID: 's',
    URI: 'GET /',
    action: 'Accept',
    dropReason: '',
    policyID: '',
    policyName: '',
    byDefault: false,
    user: 'alice',
    minute: 0,
    id: 'f-1',
    time: 1,
    statusCode: 200,
    count: 1,
  },
});

test('the stream takes over the response: 200, event-stream headers that no proxy buffers or caches, then `ready` with the selection', (t) => {
  const { res, hijacked } = open(t, { namespace: '/acme', recursive: true });
  assert.equal(hijacked(), true);
  assert.equal(res.status, 200);
  assert.deepEqual(res.headers, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
    'x-content-type-options': 'nosniff',
    connection: 'keep-alive',
  });
  assert.deepEqual(res.chunks, ['retry: 2000\nevent: ready\ndata: {"namespace":"/acme","recursive":true}\n\n']);
});

test('the client wants its selection only, and each record is one SSE event of its type', (t) => {
  const flat = open(t, { namespace: '/acme', recursive: false });
  assert.deepEqual(
    ['/acme', '/acme/dev', '/acmeco', '/'].map((ns) => flat.client.wants(ns)),
    [true, false, false, false],
  );
  const message = flowMessage('/acme');
  flat.client.send(message);
  assert.equal(lastChunk(flat.res), `event: flow\ndata: ${JSON.stringify(message.data)}\n\n`);
  flat.client.end();
  assert.equal(flat.res.ended, true, 'the hub ends the stream (shutdown)');
});

test('a recursive selection wants the subtree', (t) => {
  const tree = open(t, { namespace: '/acme', recursive: true });
  assert.deepEqual(
    ['/acme', '/acme/dev', '/acmeco'].map((ns) => tree.client.wants(ns)),
    [true, true, false],
  );
});

test('a heartbeat comment every 15 s keeps proxies from closing the stream', (t) => {
  const { res } = open(t);
  t.mock.timers.tick(14_999);
  assert.equal(res.chunks.filter((c) => c === ': keep-alive\n\n').length, 0);
  t.mock.timers.tick(1);
  t.mock.timers.tick(15_000);
  assert.equal(res.chunks.filter((c) => c === ': keep-alive\n\n').length, 2);
});

test('the heartbeat can be shorter (below a proxy idle timeout that is)', (t) => {
  const { res } = open(t, undefined, undefined, { heartbeatMs: 1_000 });
  t.mock.timers.tick(3_000);
  assert.equal(res.chunks.filter((c) => c === ': keep-alive\n\n').length, 3);
});

test('the token is checked again every recheckMs: still valid for the namespace, the stream goes on', async (t) => {
  const { res, verified } = open(t, { namespace: '/acme/dev', recursive: false }, async () => viewer('/acme'));
  t.mock.timers.tick(RECHECK_MS);
  await settle();
  t.mock.timers.tick(RECHECK_MS);
  await settle();
  assert.deepEqual(verified, ['checked', 'checked']);
  assert.equal(res.ended, false);
});

test('a token no longer valid: `expired`, and the stream ends and leaves the hub', async (t) => {
  let valid = true;
  const { res, verified, removed } = open(t, undefined, async () => (valid ? viewer('/acme') : undefined));
  t.mock.timers.tick(RECHECK_MS);
  await settle();
  assert.equal(res.ended, false);
  valid = false;
  t.mock.timers.tick(RECHECK_MS);
  await settle();
  assert.equal(lastChunk(res), 'event: expired\ndata: {"message":"Your access to this namespace ended."}\n\n');
  assert.equal(res.ended, true);
  assert.equal(removed(), 1);
  t.mock.timers.tick(RECHECK_MS * 3 + 15_000);
  await settle();
  assert.equal(verified.length, 2, 'no check after the end');
});

test('a token moved out of the namespace (now for a sibling or a subtree of it) ends the stream too', async (t) => {
  for (const moved of ['/other', '/acme/dev']) {
    const { res } = open(t, { namespace: '/acme', recursive: false }, async () => viewer(moved));
    t.mock.timers.tick(RECHECK_MS);
    await settle();
    assert.match(lastChunk(res) ?? '', /^event: expired\n/, moved);
    assert.equal(res.ended, true);
    t.mock.timers.reset();
  }
});

test("a user's grants: the stream goes on while one covers the selection, ends when none does (a namespace-only grant never covers a recursive one)", async (t) => {
  let grants = [{ namespace: '/acme', role: 'viewer', subtree: true }];
  const { res } = open(t, { namespace: '/acme/dev', recursive: true }, async () => ssoViewer('alice@example.com', grants));
  t.mock.timers.tick(RECHECK_MS);
  await settle();
  assert.equal(res.ended, false);
  grants = [{ namespace: '/acme/dev', role: 'viewer', subtree: false }];
  t.mock.timers.tick(RECHECK_MS);
  await settle();
  assert.match(lastChunk(res) ?? '', /^event: expired\n/);
});

test('signed in through the gateway: `renew` and the end when the assertion expires, for the page to reconnect through the gateway', (t) => {
  const { res, removed } = open(t, undefined, undefined, { endsAtMs: 40_000 });
  t.mock.timers.tick(39_999);
  assert.equal(res.ended, false);
  t.mock.timers.tick(1);
  assert.equal(lastChunk(res), 'event: renew\ndata: {"message":"Sign-in to be checked again: reconnect."}\n\n');
  assert.equal(res.ended, true);
  assert.equal(removed(), 1);
});

test('an assertion already expired ends the stream at once; a token stream has no end of its own', (t) => {
  const expired = open(t, undefined, undefined, { endsAtMs: -5 }).res;
  t.mock.timers.tick(0);
  assert.match(lastChunk(expired) ?? '', /^event: renew\n/);
  assert.equal(expired.ended, true);
  t.mock.timers.reset();
  const { res } = open(t);
  t.mock.timers.tick(3_600_000);
  assert.equal(res.ended, false);
});

test('the policy service away: the stream goes on, and the next check decides', async (t) => {
  let answer: 'fail' | 'revoked' = 'fail';
  const { res } = open(t, undefined, async () => {
    if (answer === 'fail') throw new Error('no responders');
    return undefined;
  });
  t.mock.timers.tick(RECHECK_MS);
  await settle();
  assert.equal(res.ended, false);
  answer = 'revoked';
  t.mock.timers.tick(RECHECK_MS);
  await settle();
  assert.equal(res.ended, true);
});

test('a client that goes away: the response ends, the hub forgets it, no timer runs on', async (t) => {
  const { res, reqRaw, removed, verified } = open(t);
  reqRaw.emit('close');
  assert.equal(res.ended, true);
  assert.equal(removed(), 1);
  const written = res.chunks.length;
  t.mock.timers.tick(60_000);
  await settle();
  assert.equal(res.chunks.length, written, 'no heartbeat after the close');
  assert.deepEqual(verified, [], 'no recheck after the close');
});

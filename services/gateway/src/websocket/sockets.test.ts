import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DecideQuestion } from '../clients/policy.ts';
import type { CachedSession } from '../session-cache.ts';
import { SocketRegistry, type CloseReason, type CredentialSpec, type DecisionCheck, type SocketRegistryOptions } from './sockets.ts';

/** A socket that says when, and why, it was closed. */
class FakeSocket {
  reasons: CloseReason[] = [];
  readonly #waiting: Array<(r: CloseReason) => void> = [];
  close(reason: CloseReason): void {
    this.reasons.push(reason);
    for (const w of this.#waiting.splice(0)) w(reason);
  }
  closed(): Promise<CloseReason> {
    return this.reasons.length > 0 ? Promise.resolve(this.reasons[0]!) : new Promise((resolve) => this.#waiting.push(resolve));
  }
}

const question = (path: string, tags: string[] = []): DecideQuestion => ({
  serviceId: 'svc-1',
  method: 'GET',
  path,
  authenticated: tags.length > 0,
  tags,
  clientIp: '203.0.113.7',
});

function credential(key: string, sessionId: string, answer: () => Promise<CachedSession | undefined>, init: Partial<CredentialSpec> = {}): CredentialSpec {
  return { key, sessionId, expiresAtMs: Date.now() + 3_600_000, tags: ['email=alice@example.com'], revalidate: answer, ...init };
}

const alive =
  (sessionId: string, tags = ['email=alice@example.com'], expiresAtMs = Date.now() + 3_600_000) =>
  async (): Promise<CachedSession> => ({
    sessionId,
    subject: 'alice@example.com',
    tags,
    expiresAtMs,
  });

function registry(init: Partial<SocketRegistryOptions> = {}): SocketRegistry {
  return new SocketRegistry({ maxSockets: 100, maxPerCredential: 10, recheckMs: 60_000, checkDecision: async () => 'allow', ...init });
}

/** Open a socket in `r`; the reservation must succeed. */
function open(r: SocketRegistry, spec: { credential?: CredentialSpec; path?: string; routeId?: string }, since = r.epoch) {
  const socket = new FakeSocket();
  const reservation = r.reserve(spec.credential?.key);
  assert.ok(typeof reservation === 'object', `reserved: ${String(reservation)}`);
  const q = question(spec.path ?? '/ws', spec.credential ? [...spec.credential.tags] : []);
  const tracked = reservation.open(
    { routeId: spec.routeId ?? 'svc-1', credential: spec.credential, question: q, decisionKey: JSON.stringify(q), socket },
    since,
  );
  return { socket, tracked };
}

/** Lets queued checks run to their end. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

test('limits: per credential (open and pending alike) and per gateway; a place is given back on release and on close', () => {
  const r = registry({ maxSockets: 4, maxPerCredential: 2 });
  const alice = credential('k-alice', 's-alice', alive('s-alice'));
  const first = open(r, { credential: alice });
  const pending = r.reserve('k-alice');
  assert.equal(typeof pending, 'object');
  assert.equal(r.reserve('k-alice'), 'credential-limit');
  // Anonymous sockets have no per-credential bound, only the gateway's.
  open(r, {});
  assert.equal(r.reserve(undefined) === 'gateway-limit', false);
  assert.equal(r.reserve('k-bob'), 'gateway-limit', 'three open or pending, one reserved just above: four');
  (pending as Exclude<typeof pending, string>).release();
  first.tracked.remove();
  assert.equal(r.size, 1);
  assert.equal(typeof r.reserve('k-alice'), 'object');
});

test("a session's end closes its sockets (looked up again: found but changed also closes); a refresh that changes nothing keeps them; other sessions are untouched", async () => {
  let aliceAnswer: () => Promise<CachedSession | undefined> = alive('s-alice');
  const r = registry();
  const alice = credential('k-alice', 's-alice', () => aliceAnswer());
  const bob = credential('k-bob', 's-bob', alive('s-bob', ['email=bob@example.com']), { tags: ['email=bob@example.com'] });
  const a1 = open(r, { credential: alice });
  const a2 = open(r, { credential: alice, path: '/ws/other' });
  const b = open(r, { credential: bob });

  r.sessionInvalidated('s-alice'); // a refresh: still there, same tags
  await settle();
  assert.deepEqual([a1.socket.reasons, a2.socket.reasons], [[], []]);

  aliceAnswer = async () => undefined; // logged out
  r.sessionInvalidated('s-alice');
  assert.deepEqual(await Promise.all([a1.socket.closed(), a2.socket.closed()]), ['session-ended', 'session-ended']);
  assert.deepEqual(b.socket.reasons, []);
  assert.equal(r.size, 1);

  const changed = credential('k-carol', 's-carol', alive('s-carol', ['email=carol@example.com', 'groups=admins']), { tags: ['email=carol@example.com'] });
  const c = open(r, { credential: changed });
  r.sessionInvalidated('s-carol');
  assert.equal(await c.socket.closed(), 'session-ended', 'new claims: the socket was allowed for the old ones');

  const unknown = credential('k-dave', 's-dave', () => Promise.reject(new Error('authn away')));
  const d = open(r, { credential: unknown });
  r.sessionInvalidated('s-dave');
  assert.equal(await d.socket.closed(), 'unconfirmed', 'authn cannot tell: fail closed');
});

test('bearer answers: a revocation checks every bearer-token socket, and closes those of the revoked token only', async () => {
  const r = registry();
  const revoked = open(r, { credential: credential('k-t1', 'bearer-answers', async () => undefined) });
  const kept = open(r, { credential: credential('k-t2', 'bearer-answers', alive('bearer-answers')) });
  r.sessionInvalidated('bearer-answers');
  assert.equal(await revoked.socket.closed(), 'session-ended');
  await settle();
  assert.deepEqual(kept.socket.reasons, []);
});

test('a change of objects asks again once per decision (with the revision), and closes what is no longer allowed', async () => {
  const asked: Array<{ path: string; minRevision: bigint | undefined }> = [];
  const answers: Record<string, 'allow' | 'deny' | 'unknown'> = { '/ws': 'allow', '/denied': 'deny', '/unknown': 'unknown' };
  const check: DecisionCheck = async (q, _key, minRevision) => {
    asked.push({ path: q.path!, minRevision });
    return answers[q.path!]!;
  };
  const r = registry({ checkDecision: check });
  const allowed = [open(r, {}), open(r, {})];
  const denied = open(r, { path: '/denied' });
  const unknown = open(r, { path: '/unknown' });
  r.policyChanged(7n);
  assert.equal(await denied.socket.closed(), 'access-denied');
  assert.equal(await unknown.socket.closed(), 'unconfirmed');
  await settle();
  assert.deepEqual(
    allowed.map((a) => a.socket.reasons),
    [[], []],
  );
  assert.deepEqual(asked.map((a) => a.path).sort(), ['/denied', '/unknown', '/ws'], 'one question per decision, not per socket');
  assert.ok(asked.every((a) => a.minRevision === 7n));
});

test('checks of one group do not overlap: events during a check run it once more, with the newest revision', async () => {
  const asked: Array<bigint | undefined> = [];
  let release: () => void = () => undefined;
  const check: DecisionCheck = async (_q, _key, minRevision) => {
    asked.push(minRevision);
    if (asked.length === 1) await new Promise<void>((resolve) => (release = resolve));
    return 'allow';
  };
  const r = registry({ checkDecision: check });
  open(r, {});
  r.policyChanged(1n);
  await settle();
  r.policyChanged(2n);
  r.policyChanged(3n);
  release();
  await settle();
  await settle();
  assert.deepEqual(asked, [1n, 3n]);
});

test('the end of a session closes its sockets at that time; a later end found by a check moves the timer', async () => {
  const r = registry();
  const soon = open(r, { credential: credential('k-soon', 's-soon', alive('s-soon'), { expiresAtMs: Date.now() + 30 }) });
  const started = performance.now();
  assert.equal(await soon.socket.closed(), 'session-expired');
  assert.ok(performance.now() - started >= 20, 'not before its end');

  const past = open(r, { credential: credential('k-past', 's-past', alive('s-past'), { expiresAtMs: Date.now() - 1 }) });
  assert.equal(await past.socket.closed(), 'session-expired', 'already over: closed at once');

  // A refresh moved the end: the socket lives on, then closes at the new end.
  const moved = open(r, {
    credential: credential('k-moved', 's-moved', alive('s-moved', undefined, Date.now() + 60), { expiresAtMs: Date.now() + 3_600_000 }),
  });
  r.sessionInvalidated('s-moved');
  assert.equal(await moved.socket.closed(), 'session-expired');
});

test('a sync that no longer lists a service closes its sockets, and only those; shutdown closes the rest', async () => {
  const r = registry();
  const gone = open(r, { routeId: 'svc-gone' });
  const kept = open(r, { routeId: 'svc-1' });
  r.retainRoutes(new Set(['svc-1']));
  assert.deepEqual(gone.socket.reasons, ['service-removed']);
  assert.deepEqual(kept.socket.reasons, []);
  r.closeAll('shutdown');
  assert.deepEqual(kept.socket.reasons, ['shutdown']);
  assert.equal(r.size, 0);
});

test('a socket whose upgrade began before an event is checked once open; one that began after is not', async () => {
  const asked: string[] = [];
  const r = registry({
    checkDecision: async (q) => {
      asked.push(q.path!);
      return 'allow';
    },
  });
  const since = r.epoch;
  r.sessionInvalidated('s-other'); // some event while this upgrade was being decided
  let looked = 0;
  const late = open(
    r,
    {
      credential: credential('k-late', 's-late', async () => {
        looked++;
        return undefined;
      }),
      path: '/late',
    },
    since,
  );
  assert.equal(await late.socket.closed(), 'session-ended');
  assert.equal(looked, 1);
  open(r, { path: '/fresh' });
  await settle();
  assert.deepEqual(asked, ['/late'], 'the fresh socket is not asked about');
});

test('recheckAll asks policy afresh (revision 0n) and looks every session up; the periodic tick goes through the caches (no revision)', async () => {
  const asked: Array<bigint | undefined> = [];
  let looked = 0;
  const r = registry({
    checkDecision: async (_q, _k, minRevision) => {
      asked.push(minRevision);
      return 'allow';
    },
  });
  open(r, {
    credential: credential('k', 's', async () => {
      looked++;
      return alive('s')();
    }),
  });
  r.recheckAll();
  await settle();
  r.tick();
  await settle();
  assert.deepEqual(asked, [0n, undefined]);
  assert.equal(looked, 2);
});

test('a socket that closed by itself is forgotten: later events do not touch it', async () => {
  const r = registry({ checkDecision: async () => 'deny' });
  const { socket, tracked } = open(r, { credential: credential('k', 's', async () => undefined) });
  tracked.remove();
  r.sessionInvalidated('s');
  r.policyChanged(2n);
  await settle();
  assert.deepEqual(socket.reasons, []);
  assert.equal(r.size, 0);
});

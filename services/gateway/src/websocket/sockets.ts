// The WebSockets a gateway carries, and what ends them (SPEC §8.6). A socket was allowed once, at its upgrade;
// it stays open only while that still holds. Each socket belongs to the group of its credential (the session
// cookie or bearer token it was opened with) and to the group of its decision (the question policy answered);
// an event about either is answered by checking the group again, at once, and closing its sockets when the
// answer changed:
//   - authn broadcasts a session's end (logout, revocation, back-channel logout, a failed refresh) — and a
//     refresh, which ends nothing: so the session is looked up again rather than the sockets closed blindly;
//   - policy broadcasts a change of objects: every decision is asked again;
//   - the gateway was away from NATS (it may have missed broadcasts): everything is checked again;
//   - a sync no longer lists the service: its sockets close.
// A timer per credential closes its sockets when the session reaches its end, and every `recheckMs` each group
// is checked through the gateway's caches, in case a broadcast was missed. A check that cannot be answered
// (authn or policy away past what the caches allow) closes the sockets: fail closed, as a request would get 503.
// The number of sockets is bounded per credential and per gateway.
import type { DecideQuestion } from '../clients/policy.ts';
import type { CachedSession } from '../session-cache.ts';
import { CheckQueue, type Checkable } from './check-queue.ts';

export type CloseReason = 'session-ended' | 'session-expired' | 'access-denied' | 'service-removed' | 'unconfirmed' | 'shutdown';

/** The check of a decision: `minRevision` when a change of objects up to that revision must be reflected. */
export type DecisionCheck = (question: DecideQuestion, key: string, minRevision: bigint | undefined) => Promise<'allow' | 'deny' | 'unknown'>;

export interface Closable {
  close(reason: CloseReason): void;
}

export interface CredentialSpec {
  /** A hash of the credential (the session cookie or bearer token), as the session cache keys it: the group's identity. */
  key: string;
  sessionId: string;
  expiresAtMs: number;
  tags: readonly string[];
  /** The credential's session now (through the session cache): undefined when it ended; throws when no one can tell. */
  revalidate: () => Promise<CachedSession | undefined>;
}

export interface SocketSpec {
  routeId: string;
  /** Undefined for a socket opened without a session (a public endpoint). */
  credential: CredentialSpec | undefined;
  question: DecideQuestion;
  decisionKey: string;
  socket: Closable;
}

export interface Reservation {
  /** The socket is open: track it. `since` is the epoch its upgrade started in (checked again if anything changed since). */
  open(spec: SocketSpec, since: number): { remove(): void };
  /** The upgrade did not happen: give the place back. */
  release(): void;
}

export interface SocketRegistryOptions {
  maxSockets: number;
  maxPerCredential: number;
  /** How often every group is checked through the caches (a missed broadcast). */
  recheckMs: number;
  checkDecision: DecisionCheck;
  /** Told of each socket closed by the registry (logs, metrics). */
  onClose?: (reason: CloseReason) => void;
}

interface Entry {
  spec: SocketSpec;
  credential: CredentialGroup | undefined;
  decision: DecisionGroup;
}

interface Group extends Checkable {
  entries: Set<Entry>;
}

interface CredentialGroup extends Group {
  spec: CredentialSpec;
  expiry: NodeJS.Timeout | undefined;
}

interface DecisionGroup extends Group {
  key: string;
  question: DecideQuestion;
  /** The newest change of objects a check must reflect (the highest asked while one ran). */
  minRevision: bigint | undefined;
}

/** The longest a timer can wait (about 24.8 days); a later end is re-armed by the periodic check. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Checks in flight at once (a broadcast may concern thousands of groups). */
const CONCURRENCY = 16;

export class SocketRegistry {
  readonly #options: SocketRegistryOptions;
  readonly #credentials = new Map<string, CredentialGroup>();
  readonly #bySession = new Map<string, Set<CredentialGroup>>();
  readonly #decisions = new Map<string, DecisionGroup>();
  readonly #entries = new Set<Entry>();
  /** Upgrades between their reservation and their socket, per credential key ('' for anonymous ones). */
  readonly #pending = new Map<string, number>();
  #pendingTotal = 0;
  #epoch = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #checks = new CheckQueue(CONCURRENCY);

  constructor(options: SocketRegistryOptions) {
    this.#options = options;
  }

  /** Open sockets. */
  get size(): number {
    return this.#entries.size;
  }

  /** Grows with every event that may end sockets: an upgrade that started before it is checked again once open. */
  get epoch(): number {
    return this.#epoch;
  }

  /** A place for one more socket of `credentialKey`, or why there is none. */
  reserve(credentialKey: string | undefined): Reservation | 'credential-limit' | 'gateway-limit' {
    if (this.#entries.size + this.#pendingTotal >= this.#options.maxSockets) return 'gateway-limit';
    const key = credentialKey ?? '';
    const pending = this.#pending.get(key) ?? 0;
    if (credentialKey !== undefined && (this.#credentials.get(credentialKey)?.entries.size ?? 0) + pending >= this.#options.maxPerCredential)
      return 'credential-limit';
    this.#pending.set(key, pending + 1);
    this.#pendingTotal++;
    let done = false;
    const release = () => {
      if (done) return;
      done = true;
      this.#pendingTotal--;
      const left = (this.#pending.get(key) ?? 1) - 1;
      if (left > 0) this.#pending.set(key, left);
      else this.#pending.delete(key);
    };
    return {
      release,
      open: (spec, since) => {
        release();
        const entry = this.#add(spec);
        // Something happened between the decision and now (a logout, a change): check this socket's groups.
        if (since !== this.#epoch) {
          if (entry.credential) this.#checks.run(entry.credential, () => this.#checkCredential(entry.credential!));
          this.#checkDecisionGroup(entry.decision, undefined);
        }
        return { remove: () => this.#remove(entry) };
      },
    };
  }

  /** authn says a session ended or changed (`bearer-answers`: some bearer token was revoked). */
  sessionInvalidated(sessionId: string): void {
    this.#epoch++;
    for (const group of this.#bySession.get(sessionId) ?? []) this.#checks.run(group, () => this.#checkCredential(group));
  }

  /** policy says objects changed, up to `revision`: every decision is asked again. */
  policyChanged(revision: bigint): void {
    this.#epoch++;
    for (const group of this.#decisions.values()) this.#checkDecisionGroup(group, revision);
  }

  /** The services served now (after a sync): the sockets of any other close. */
  retainRoutes(routeIds: ReadonlySet<string>): void {
    for (const entry of [...this.#entries]) if (!routeIds.has(entry.spec.routeId)) this.#close(entry, 'service-removed');
  }

  /** Check everything again (back on NATS: broadcasts may have been missed). */
  recheckAll(): void {
    this.#epoch++;
    this.#recheck(true);
  }

  /** Close every socket (shutdown). */
  closeAll(reason: CloseReason): void {
    for (const entry of [...this.#entries]) this.#close(entry, reason);
  }

  /** The periodic check (called by the registry's own timer; public for tests). */
  tick(): void {
    this.#recheck(false);
  }

  #recheck(fresh: boolean): void {
    for (const group of this.#credentials.values()) this.#checks.run(group, () => this.#checkCredential(group));
    for (const group of this.#decisions.values()) this.#checkDecisionGroup(group, fresh ? 0n : undefined);
  }

  #add(spec: SocketSpec): Entry {
    let credential: CredentialGroup | undefined;
    if (spec.credential) {
      credential = this.#credentials.get(spec.credential.key);
      if (!credential) {
        credential = { spec: spec.credential, entries: new Set(), checking: false, again: false, expiry: undefined };
        this.#credentials.set(spec.credential.key, credential);
        let groups = this.#bySession.get(spec.credential.sessionId);
        if (!groups) this.#bySession.set(spec.credential.sessionId, (groups = new Set()));
        groups.add(credential);
        this.#armExpiry(credential);
      }
    }
    let decision = this.#decisions.get(spec.decisionKey);
    if (!decision) {
      decision = { key: spec.decisionKey, question: spec.question, entries: new Set(), checking: false, again: false, minRevision: undefined };
      this.#decisions.set(spec.decisionKey, decision);
    }
    const entry: Entry = { spec, credential, decision };
    credential?.entries.add(entry);
    decision.entries.add(entry);
    this.#entries.add(entry);
    this.#timer ??= setInterval(() => this.tick(), this.#options.recheckMs).unref();
    return entry;
  }

  #remove(entry: Entry): void {
    if (!this.#entries.delete(entry)) return;
    const credential = entry.credential;
    if (credential) {
      credential.entries.delete(entry);
      if (credential.entries.size === 0) {
        clearTimeout(credential.expiry);
        this.#credentials.delete(credential.spec.key);
        const groups = this.#bySession.get(credential.spec.sessionId);
        groups?.delete(credential);
        if (groups?.size === 0) this.#bySession.delete(credential.spec.sessionId);
      }
    }
    entry.decision.entries.delete(entry);
    if (entry.decision.entries.size === 0) this.#decisions.delete(entry.decision.key);
    if (this.#entries.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #close(entry: Entry, reason: CloseReason): void {
    if (!this.#entries.has(entry)) return;
    this.#remove(entry);
    this.#options.onClose?.(reason);
    entry.spec.socket.close(reason);
  }

  #closeGroup(group: Group, reason: CloseReason): void {
    for (const entry of [...group.entries]) this.#close(entry, reason);
  }

  #armExpiry(group: CredentialGroup): void {
    clearTimeout(group.expiry);
    const wait = group.spec.expiresAtMs - Date.now();
    if (wait <= 0) {
      group.expiry = undefined;
      queueMicrotask(() => this.#closeGroup(group, 'session-expired'));
      return;
    }
    group.expiry = wait > MAX_TIMER_MS ? undefined : setTimeout(() => this.#closeGroup(group, 'session-expired'), wait).unref();
  }

  async #checkCredential(group: CredentialGroup): Promise<void> {
    let session: CachedSession | undefined;
    try {
      session = await group.spec.revalidate();
    } catch {
      this.#closeGroup(group, 'unconfirmed');
      return;
    }
    if (!session || !sameTags(session.tags, group.spec.tags)) {
      this.#closeGroup(group, 'session-ended');
      return;
    }
    if (session.expiresAtMs !== group.spec.expiresAtMs) {
      group.spec = { ...group.spec, expiresAtMs: session.expiresAtMs };
      if (group.entries.size > 0) this.#armExpiry(group);
    }
  }

  #checkDecisionGroup(group: DecisionGroup, minRevision: bigint | undefined): void {
    if (minRevision !== undefined && (group.minRevision === undefined || minRevision > group.minRevision)) group.minRevision = minRevision;
    this.#checks.run(group, async () => {
      const wanted = group.minRevision;
      group.minRevision = undefined;
      let answer: 'allow' | 'deny' | 'unknown';
      try {
        answer = await this.#options.checkDecision(group.question, group.key, wanted);
      } catch {
        answer = 'unknown';
      }
      if (answer !== 'allow') this.#closeGroup(group, answer === 'deny' ? 'access-denied' : 'unconfirmed');
    });
  }
}

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((t) => set.has(t));
}

// Who may read flows and events: the holder of a microseg API token (any
// role), within the token's namespace subtree. Tokens live in the policy
// service; flowlog asks it (svc.policy.v1.token.verify) and remembers the
// answer for a few seconds only, so a revoked token stops working quickly.
import { createHash } from 'node:crypto';
import type { Bus } from '@microseg/bus';
import { requests } from '@microseg/contracts';

export interface Viewer {
  name: string;
  role: string;
  /** The subtree the token may read. */
  namespace: string;
}

/** Asks who a token stands for: undefined when it is not valid; throws when nobody can tell. */
export type TokenAsker = (token: string) => Promise<Viewer | undefined>;

export function askPolicy(bus: Bus, timeoutMs: number): TokenAsker {
  return async (token) => {
    const reply = await bus.request(requests.policyTokenVerify, { token }, timeoutMs);
    return reply.valid ? { name: reply.name, role: reply.role, namespace: reply.namespace } : undefined;
  };
}

const TOKEN_SHAPE = /^[\x21-\x7e]{1,512}$/;
const MAX_ENTRIES = 10_000;

export class TokenVerifier {
  readonly #ask: TokenAsker;
  readonly #ttlMs: number;
  readonly #now: () => number;
  /** Keyed by the token's SHA-256: the cache never holds a usable token. */
  readonly #cache = new Map<string, { viewer: Viewer | undefined; until: number }>();
  readonly #inFlight = new Map<string, Promise<Viewer | undefined>>();

  constructor(ask: TokenAsker, ttlMs: number, now: () => number = Date.now) {
    this.#ask = ask;
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  /** The viewer a token stands for, or undefined. Throws when the policy service cannot answer. */
  async verify(token: string): Promise<Viewer | undefined> {
    if (!TOKEN_SHAPE.test(token)) return undefined;
    const key = createHash('sha256').update(token).digest('base64url');
    const cached = this.#cache.get(key);
    if (cached && cached.until > this.#now()) return cached.viewer;
    const pending = this.#inFlight.get(key);
    if (pending) return pending;
    const asked = this.#ask(token)
      .then((viewer) => {
        if (this.#cache.size >= MAX_ENTRIES) this.#cache.delete(this.#cache.keys().next().value!);
        this.#cache.delete(key);
        this.#cache.set(key, { viewer, until: this.#now() + this.#ttlMs });
        return viewer;
      })
      .finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, asked);
    return asked;
  }
}

/** The token of an `Authorization: Bearer …` header. */
export function bearerOf(header: string | undefined): string | undefined {
  const m = /^Bearer +(\S+)$/i.exec(header ?? '');
  return m?.[1];
}

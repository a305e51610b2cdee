// Who may read flows and events with an API token: the holder of a microseg API token (any role), within the
// token's namespace subtree. Tokens live in the policy service; flowlog asks it (svc.policy.v1.token.verify)
// and remembers the answer for a few seconds only, so a revoked token stops working quickly.
import type { Bus } from '@microseg/bus';
import { requests } from '@microseg/contracts';
import { hashKey, VerdictCache } from './verdict-cache.ts';
import { tokenViewer, type Viewer } from './viewer.ts';

/** Asks who a token stands for: undefined when it is not valid; throws when nobody can tell. */
export type TokenAsker = (token: string) => Promise<Viewer | undefined>;

export function askPolicy(bus: Pick<Bus, 'request'>, timeoutMs: number): TokenAsker {
  return async (token) => {
    const reply = await bus.request(requests.policyTokenVerify, { token }, timeoutMs);
    return reply.valid ? tokenViewer(reply.name, reply.role, reply.namespace) : undefined;
  };
}

const TOKEN_SHAPE = /^[\x21-\x7e]{1,512}$/;

export class TokenVerifier {
  readonly #ask: TokenAsker;
  readonly #cache: VerdictCache<Viewer | undefined>;

  constructor(ask: TokenAsker, ttlMs: number, now: () => number = Date.now) {
    this.#ask = ask;
    this.#cache = new VerdictCache(ttlMs, now);
  }

  /** The viewer a token stands for, or undefined. Throws when the policy service cannot answer. */
  async verify(token: string): Promise<Viewer | undefined> {
    if (!TOKEN_SHAPE.test(token)) return undefined;
    return this.#cache.get(hashKey(token), () => this.#ask(token));
  }
}

/** The token of an `Authorization: Bearer …` header. */
export function bearerOf(header: string | undefined): string | undefined {
  const m = /^Bearer +(\S+)$/i.exec(header ?? '');
  return m?.[1];
}

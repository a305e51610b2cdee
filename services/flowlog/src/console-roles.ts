// The console roles of a user signed in through the gateway (SPEC §9.6): the policy service answers from its
// apiauthorizationpolicy objects (svc.policy.v1.console.roles) for the tags the user's assertion carries, and
// flowlog keeps the answer a few seconds (as a token's), so that a policy removed takes the access away quickly.
import type { Bus } from '@microseg/bus';
import { requests } from '@microseg/contracts';
import { hashKey, VerdictCache } from './verdict-cache.ts';
import type { Grant } from './viewer.ts';

/** The grants a user's tags give (none: no access); throws when the policy service cannot say. */
export type RolesAsker = (tags: readonly string[]) => Promise<Grant[]>;

export function askRoles(bus: Pick<Bus, 'request'>, timeoutMs: number): RolesAsker {
  return async (tags) => {
    const reply = await bus.request(requests.policyConsoleRoles, { tags: [...tags] }, timeoutMs);
    return reply.grants.map((g) => ({ namespace: g.namespace, role: g.role, subtree: g.subtree }));
  };
}

export class ConsoleRoles {
  readonly #ask: RolesAsker;
  readonly #cache: VerdictCache<Grant[]>;

  constructor(ask: RolesAsker, ttlMs: number, now: () => number = Date.now) {
    this.#ask = ask;
    this.#cache = new VerdictCache(ttlMs, now);
  }

  /** The grants of a user with these tags (the same set in any order is the same question). */
  grants(tags: readonly string[]): Promise<Grant[]> {
    const sorted = [...new Set(tags)].sort();
    return this.#cache.get(hashKey(JSON.stringify(sorted)), () => this.#ask(sorted));
  }
}

// Asking again whether an open WebSocket is still allowed: the question its upgrade was decided with, with the
// decision stage's rules (pipeline/decision.ts). After a change of objects (`minRevision`), policy itself is
// asked, until it answers from objects at least that new (a replica may not have applied the change yet);
// otherwise a decision the cache holds will do, and while policy is away the last good one stands for the grace
// period, as for requests.
import { Decision, type DecideResponse } from '@microseg/proto/policy';
import type { DecideQuestion, PolicyClient } from '../clients/policy.ts';
import { Unavailable } from '../clients/unavailable.ts';
import type { DecisionCache } from '../decision-cache.ts';
import type { DecisionCheck } from './sockets.ts';

export interface DecisionCheckOptions {
  /** How many times policy is asked for an answer as new as a change (a lagging replica), and how far apart. */
  attempts: number;
  retryMs: number;
}

const verdictOf = (verdict: DecideResponse) => (verdict.decision === Decision.ALLOW ? 'allow' : 'deny');

export function decisionCheck(
  deps: { policy: Pick<PolicyClient, 'decide'>; decisions: Pick<DecisionCache, 'get' | 'remember' | 'fallback'> },
  options: DecisionCheckOptions = { attempts: 10, retryMs: 50 },
): DecisionCheck {
  return async (question: DecideQuestion, key: string, minRevision: bigint | undefined) => {
    if (minRevision === undefined) {
      const known = deps.decisions.get(key);
      if (known) return verdictOf(known);
    }
    for (let attempt = 1; ; attempt++) {
      const askedAt = Date.now();
      let verdict: DecideResponse;
      try {
        verdict = await deps.policy.decide(question);
      } catch (err) {
        if (!(err instanceof Unavailable)) throw err;
        // policy away: the last good decision, only when no change is known to be pending.
        const last = minRevision === undefined && !err.answered ? deps.decisions.fallback(key) : undefined;
        return last ? verdictOf(last) : 'unknown';
      }
      deps.decisions.remember(key, verdict, Date.now(), askedAt);
      if (minRevision === undefined || verdict.revision >= minRevision) return verdictOf(verdict);
      if (attempt >= options.attempts) return 'unknown';
      await new Promise((resolve) => setTimeout(resolve, options.retryMs));
    }
  };
}

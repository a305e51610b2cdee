// The authorization decision of SPEC §3 steps 5 and 7: endpoint match, public,
// login required, allowed scopes. Pure: a snapshot and a request in, a verdict out.
import { Decision } from '@microseg/proto/policy';
import type { ServiceObject } from '@microseg/contracts';
import type { Snapshot } from './snapshot.ts';

export interface DecideInput {
  method: string;
  path: string;
  authenticated: boolean;
  tags: readonly string[];
}

export interface Verdict {
  decision: Decision;
  reason: 'public' | 'scope' | 'no-endpoint' | 'scope-mismatch' | 'login-required' | 'unauthenticated-service' | 'disabled';
  policyId: string;
  policyName: string;
  endpoint: string;
  namespace: string;
}

export function decide(snapshot: Snapshot, service: ServiceObject, input: DecideInput): Verdict {
  const base = { policyId: '', policyName: '', endpoint: '', namespace: service.namespace };
  if (service.disabled) return { ...base, decision: Decision.DENY, reason: 'disabled' };
  const grants = snapshot.matcherFor(service).match(input.method, input.path);
  if (!grants || grants.length === 0) return { ...base, decision: Decision.DENY, reason: 'no-endpoint' };

  const describe = (g: (typeof grants)[number]) => ({ policyId: g.spec.ID, policyName: g.spec.name, endpoint: g.uri, namespace: g.spec.namespace });
  const publicGrant = grants.find((g) => g.public);
  if (publicGrant) return { ...describe(publicGrant), decision: Decision.ALLOW, reason: 'public' };
  // A service without user authorization can only serve public endpoints.
  if (service.authorizationType !== 'OIDC') return { ...describe(grants[0]!), decision: Decision.DENY, reason: 'unauthenticated-service' };
  if (!input.authenticated) return { ...describe(grants[0]!), decision: Decision.LOGIN, reason: 'login-required' };

  const tags = new Set(input.tags);
  const granted = grants.find((g) => g.scopes.matches(tags));
  if (granted) return { ...describe(granted), decision: Decision.ALLOW, reason: 'scope' };
  return { ...describe(grants[0]!), decision: Decision.DENY, reason: 'scope-mismatch' };
}

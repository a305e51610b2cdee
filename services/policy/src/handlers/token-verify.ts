// svc.policy.v1.token.verify: flowlog (and any other reader of microseg's
// data) asks who an API token stands for. Answered from the token store every
// policy replica keeps in memory, so a revoked token is refused as soon as the
// store's watch has seen the deletion. The token is never logged.
import type { Bus } from '@microseg/bus';
import { requests } from '@microseg/contracts';
import type { TokenStore } from '../api/tokens.ts';

export function serveTokenVerify(bus: Pick<Bus, 'serve'>, tokens: Pick<TokenStore, 'authenticate'>): void {
  bus.serve(requests.policyTokenVerify, (req) => {
    const principal = tokens.authenticate(req.token);
    if (!principal) return { valid: false };
    return { valid: true, name: principal.name, role: principal.role, namespace: principal.namespace };
  });
}

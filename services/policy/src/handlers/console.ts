// The console's single sign-on, as flowlog asks for it: svc.policy.v1.assertion.keys (the public halves of the
// keys that sign identity assertions, and the issuer — what every gateway publishes at
// /.well-known/microseg/jwks.json) and svc.policy.v1.console.roles (the roles a user's tags give, from the
// apiauthorizationpolicy objects of the current snapshot). Only flowlog may ask either (contracts/access.ts).
import type { Bus } from '@microseg/bus';
import { requests } from '@microseg/contracts';
import type { AssertionKeys } from '../assertion-keys/keys.ts';
import { consoleGrants } from '../console-roles.ts';
import type { Snapshot } from '../snapshot.ts';

export function serveConsole(
  bus: Pick<Bus, 'serve'>,
  deps: { store: { readonly snapshot: Snapshot }; assertionKeys: Pick<AssertionKeys, 'publicKeys'> },
): void {
  bus.serve(requests.policyAssertionKeys, () => deps.assertionKeys.publicKeys());
  bus.serve(requests.policyConsoleRoles, (req) => ({ grants: consoleGrants(deps.store.snapshot.apiAuthorizationPolicies, req.tags) }));
}

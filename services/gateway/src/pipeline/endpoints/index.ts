// SPEC §3.3: the gateway's own endpoints, on every protected host, by exact path (and the assertion key set,
// SPEC §8.4). Anything else passes on.
import { paths } from '@microseg/contracts';
import type { Stage } from '../context.ts';
import { assertionKeys } from './assertion-keys.ts';
import { backchannelLogout } from './backchannel-logout.ts';
import { completeLogin } from './callback.ts';
import { logout } from './logout.ts';

export const ownEndpoints: Stage = (deps, ctx) => {
  switch (ctx.path) {
    case paths.callback:
      return completeLogin(deps, ctx);
    case paths.logout:
      return logout(deps, ctx);
    case paths.backchannelLogout:
      return backchannelLogout(deps, ctx);
    case paths.assertionKeys:
      return assertionKeys(deps, ctx);
    default:
      return false;
  }
};

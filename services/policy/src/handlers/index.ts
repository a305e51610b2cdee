// Every request subject policy serves (the contracts' `requests` with its queue group), each answered by its
// own module here. app.ts calls servePolicy once the stores are open.
import type { Bus } from '@microseg/bus';
import type { TokenStore } from '../api/tokens.ts';
import type { AssertionKeys } from '../assertion-keys/keys.ts';
import type { SecretHealthReporter } from '../secret-health.ts';
import type { SecretBox } from '../secrets.ts';
import type { Snapshot } from '../snapshot.ts';
import type { ObjectStore } from '../store.ts';
import { serveConsole } from './console.ts';
import { serveDecide } from './decide.ts';
import { serveFlowCheck } from './flow-check.ts';
import { serveGatewaySync } from './gateway-sync.ts';
import { serveInventory } from './inventory.ts';
import { serveOidcClient } from './oidc-client.ts';
import { serveTokenVerify } from './token-verify.ts';

export interface PolicyHandlerDeps {
  store: { readonly snapshot: Snapshot; put: ObjectStore['put'] };
  tokens: Pick<TokenStore, 'authenticate'>;
  secrets: Pick<SecretBox, 'open'>;
  secretHealth: Pick<SecretHealthReporter, 'check'>;
  assertionKeys: Pick<AssertionKeys, 'forGateways' | 'publicKeys'>;
}

export function servePolicy(
  bus: Pick<Bus, 'serve' | 'emitEvent' | 'publishEvent'>,
  { store, tokens, secrets, secretHealth, assertionKeys }: PolicyHandlerDeps,
): void {
  serveDecide(bus, { store });
  serveGatewaySync(bus, { store, secrets, secretHealth, assertionKeys });
  serveOidcClient(bus, { store, secrets, secretHealth });
  serveFlowCheck(bus, { store });
  serveTokenVerify(bus, tokens);
  serveInventory(bus, store);
  serveConsole(bus, { store, assertionKeys });
}

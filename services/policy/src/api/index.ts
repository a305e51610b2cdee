// The object API (SPEC §9) that msctl speaks: JSON or YAML over HTTP with apoctl's field names, API tokens
// scoped to a namespace subtree, ETag/If-Match, an audit event for every change and every refusal. One
// encapsulated scope at the root of the HTTP app: its hooks (failure audit, formats, authentication) cover
// the API's routes and nothing else, so the health probes beside it stay open.
import type { FastifyPluginAsync } from 'fastify';
import type { Bus } from '@microseg/bus';
import { MicrosegError } from '@microseg/errors';
import type { AssertionKeys } from '../assertion-keys/keys.ts';
import type { SecretBox } from '../secrets.ts';
import type { ObjectStore } from '../store.ts';
import type { AuthFailureLimiter } from './auth-failures.ts';
import { changeAudit } from './change-audit.ts';
import type { ServiceStatusOf } from './object-rules.ts';
import { apiTokenRoutes } from './plugins/api-tokens.ts';
import { assertionKeyRoutes } from './plugins/assertion-keys.ts';
import { authentication } from './plugins/auth.ts';
import { failureAudit, type UnknownRouteConfig } from './plugins/failure-audit.ts';
import { bodyFormats } from './plugins/formats.ts';
import { importExportRoutes } from './plugins/import-export.ts';
import { objectRoutes } from './plugins/objects.ts';
import { secretRoutes } from './plugins/secrets.ts';
import { sessionRoutes } from './plugins/sessions.ts';
import type { TokenStore } from './tokens.ts';

export interface ApiDeps {
  store: Pick<ObjectStore, 'snapshot' | 'entry' | 'create' | 'replace' | 'remove'>;
  tokens: Pick<TokenStore, 'authenticate' | 'list' | 'get' | 'create' | 'revoke'>;
  secrets: SecretBox;
  bus: Pick<Bus, 'emitEvent' | 'request'>;
  /** Tell gateways and authn of a change before the API answers (changes.ts). */
  announce: (revision: number) => Promise<void>;
  /** The identity assertions' key ring (list, rotate). */
  assertionKeys: Pick<AssertionKeys, 'list' | 'rotate' | 'settings'>;
  /** Failed authentications per client address (429 past the limit). */
  authFailures: AuthFailureLimiter;
  /** Whether a service is served, and if not why (service-status.ts); shown on the object. */
  serviceStatus?: ServiceStatusOf;
}

export const policyApi: FastifyPluginAsync<ApiDeps> = async (api, { store, tokens, secrets, bus, announce, assertionKeys, authFailures, serviceStatus }) => {
  const audit = changeAudit(bus);
  // In this order: the failure audit reads the JSON error body before the formats turn it into YAML.
  await api.register(failureAudit, { bus, authFailures });
  await api.register(bodyFormats);
  await api.register(authentication, { tokens, authFailures });

  await api.register(sessionRoutes, { bus });
  await api.register(secretRoutes, { store, secrets, bus });
  await api.register(assertionKeyRoutes, { assertionKeys, bus, announce: () => announce(store.snapshot.revision) });
  await api.register(apiTokenRoutes, { tokens, audit });
  await api.register(importExportRoutes, { store, secrets, audit, announce });
  await api.register(objectRoutes, { store, secrets, audit, announce, serviceStatus });

  // Any other route, after authentication like the rest: a caller without a token learns nothing of which exist.
  const config: UnknownRouteConfig = { unknownRoute: true };
  api.all('/*', { config }, async (req) => {
    throw new MicrosegError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`);
  });
};

// The keys that sign identity assertions (SPEC §8.4), through the API:
//   GET  /assertionkeys         the key ring without private halves: kid, state, when each signs and until
//                               when it is published (any role: these are public keys)
//   POST /assertionkeys/rotate  start a rotation (an admin token of /): a new key, published now and signing
//                               after POLICY_ASSERTION_KEY_PREPUBLISH_SECONDS; `{"immediate": true}` makes it
//                               sign at once and withdraws every other key (a key that must go now)
import type { FastifyPluginAsync } from 'fastify';
import type { Bus } from '@microseg/bus';
import { z } from '@microseg/config';
import { MicrosegError } from '@microseg/errors';
import type { AssertionKeys } from '../../assertion-keys/keys.ts';
import { parsePart } from '../request-schemas.ts';
import { allows } from '../tokens.ts';
import { callerOf, requireAccess } from './auth.ts';

export interface AssertionKeyOptions {
  assertionKeys: Pick<AssertionKeys, 'list' | 'rotate' | 'settings'>;
  bus: Pick<Bus, 'emitEvent'>;
  /** Gateways sync again before the API answers (changes.ts). */
  announce: () => Promise<void>;
}

const rotateBody = z
  .object({ immediate: z.boolean({ error: 'immediate must be true or false' }).default(false) })
  .strict()
  .default({ immediate: false });

export const assertionKeyRoutes: FastifyPluginAsync<AssertionKeyOptions> = async (api, { assertionKeys, bus, announce }) => {
  const view = (keys: ReturnType<AssertionKeyOptions['assertionKeys']['list']>) => ({
    issuer: assertionKeys.settings.issuer,
    ttlSeconds: assertionKeys.settings.ttlSeconds,
    prepublishSeconds: assertionKeys.settings.prepublishSeconds,
    rotationDays: assertionKeys.settings.rotationDays,
    keys,
  });

  api.get('/assertionkeys', async (req) => {
    requireAccess(req, 'read');
    return view(assertionKeys.list());
  });

  api.post('/assertionkeys/rotate', async (req) => {
    const { principal } = callerOf(req);
    if (principal.namespace !== '/' || !allows(principal.role, 'admin')) {
      throw new MicrosegError(
        'FORBIDDEN',
        `the assertion keys sign for every service: rotating them needs an admin token of /, and ${principal.name} is a ${principal.role} of ${principal.namespace}`,
      );
    }
    const { immediate } = parsePart(rotateBody, req.body ?? undefined);
    const { changed, ring } = await assertionKeys.rotate(immediate);
    const keys = assertionKeys.list(ring);
    const next = keys.find((k) => k.state === (immediate ? 'signing' : 'next'));
    if (changed) {
      await announce();
      bus.emitEvent('assertionKeysRotated', {
        content: immediate
          ? `The assertion keys were rotated at once by token ${principal.name}: key ${next?.kid} signs, every other key is withdrawn.`
          : `The assertion keys were rotated by token ${principal.name}: key ${next?.kid} is published and signs from ${next?.activatesAt}.`,
        targetIdentity: 'assertionkeys',
        targetId: next?.kid ?? '',
        namespace: '/',
      });
    }
    return { rotated: changed, ...view(keys) };
  });
};

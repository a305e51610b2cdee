import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from './errors.ts';
import { resolveKind } from './kinds.ts';

test('kinds resolve from singular, plural, any case and alias', () => {
  const cases: [string, string][] = [
    ['externalnetwork', 'externalnetworks'],
    ['ExternalNetworks', 'externalnetworks'],
    ['extnet', 'externalnetworks'],
    ['ns', 'namespaces'],
    ['pu', 'processingunits'],
    ['svc', 'services'],
    ['hrs', 'httpresourcespecs'],
    ['HTTPResourceSpec', 'httpresourcespecs'],
    ['netpol', 'networkaccesspolicies'],
    ['networkaccesspolicy', 'networkaccesspolicies'],
    ['token', 'apitokens'],
    ['apitokens', 'apitokens'],
    ['apiauth', 'apiauthorizationpolicies'],
    ['APIAuthorizationPolicy', 'apiauthorizationpolicies'],
  ];
  for (const [input, plural] of cases) assert.equal(resolveKind(input).plural, plural, input);
});

test('an unknown kind is a usage error that lists the kinds', () => {
  assert.throws(
    () => resolveKind('servce'),
    (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.equal(err.exitCode, 2);
      assert.match(err.message, /unknown kind "servce"/);
      assert.match(err.hints.join('\n'), /service \(svc\).*externalnetwork \(extnet\)/);
      return true;
    },
  );
});

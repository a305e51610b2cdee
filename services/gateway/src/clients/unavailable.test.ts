// The rule for requests a service may refuse, over every registered code: below 500 a refusal; 500 and up
// Unavailable, except the codes that name a cause the page must tell.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorCodes, MicrosegError, type ErrorCode } from '@microseg/errors';
import { cannotTell, refusalOrUnavailable, Unavailable } from './unavailable.ts';

const named: ReadonlySet<ErrorCode> = new Set(['AUTHN_DISCOVERY_FAILED', 'POLICY_SECRET_UNREADABLE']);

for (const code of Object.keys(errorCodes) as ErrorCode[]) {
  const status = errorCodes[code].status;
  const refusal = status < 500 || named.has(code);
  test(`refusalOrUnavailable: ${code} (${status}) → ${refusal ? 'refusal' : 'Unavailable'}; cannotTell → Unavailable`, () => {
    const error = new MicrosegError(code);
    const seen = refusalOrUnavailable('authn', error);
    if (refusal) assert.equal(seen, error);
    else assert.ok(seen instanceof Unavailable && seen.answered && seen.cause === error);
    const told = cannotTell('policy', error);
    assert.ok(told instanceof Unavailable && told.answered && told.service === 'policy');
  });
}

test('Unavailable says which service and why, for the logs', () => {
  const err = new Unavailable('authn', false, new Error('request on svc.authn.v1.session.lookup failed: timeout'));
  assert.equal(err.message, 'authn is unavailable: request on svc.authn.v1.session.lookup failed: timeout');
  assert.equal(err.name, 'Unavailable');
});

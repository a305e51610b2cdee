import { test } from 'node:test';
import assert from 'node:assert/strict';
import { oauthErrorLabel } from './metrics.ts';

const cases: Array<[unknown, string]> = [
  ['invalid_grant', 'invalid_grant'],
  ['unauthorized_client', 'unauthorized_client'],
  ['server_error', 'server_error'],
  ['invalid_grant ', 'other_idp_error'],
  ['INVALID_GRANT', 'other_idp_error'],
  ['x'.repeat(10_000), 'other_idp_error'],
  ['a"b\n', 'other_idp_error'],
  ['', 'other_idp_error'],
  [undefined, 'other_idp_error'],
  [42, 'other_idp_error'],
];

for (const [error, expected] of cases) {
  test(`oauthErrorLabel(${JSON.stringify(error)?.slice(0, 30)}) is ${expected}`, () => {
    assert.equal(oauthErrorLabel(error), expected);
  });
}

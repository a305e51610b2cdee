// Unit: the secrets keys in the policy configuration (POLICY_SECRETS_KEYS, POLICY_SECRETS_KEY).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '@microseg/config';
import { policyConfigSchema, secretsKeysOf } from './config.ts';

const a = Buffer.alloc(32, 1).toString('base64');
const b = Buffer.alloc(32, 2).toString('base64');
const c = Buffer.alloc(32, 3).toString('base64');

const cases: Array<[what: string, env: Record<string, string>, keys: string[]]> = [
  ['neither: no key (the key file is used)', {}, []],
  ['the one-key form', { POLICY_SECRETS_KEY: a }, [a]],
  ['several keys, in order', { POLICY_SECRETS_KEYS: `${b},${a}` }, [b, a]],
  ['spaces and empty entries ignored', { POLICY_SECRETS_KEYS: ` ${b} ,, ${a} ` }, [b, a]],
  ['both: POLICY_SECRETS_KEYS first (it seals), POLICY_SECRETS_KEY opens too', { POLICY_SECRETS_KEYS: `${c},${b}`, POLICY_SECRETS_KEY: a }, [c, b, a]],
];
for (const [what, env, keys] of cases) {
  test(`secrets keys: ${what}`, () => {
    assert.deepEqual(secretsKeysOf(parseConfig(policyConfigSchema, env)), keys);
  });
}

test('a key that is not the base64 of 32 bytes is refused, naming the variable, its position and how to make one', () => {
  assert.throws(
    () => parseConfig(policyConfigSchema, { POLICY_SECRETS_KEYS: `${a},c2hvcnQ=` }),
    /POLICY_SECRETS_KEYS: key 2 must be the base64 of 32 random bytes \(openssl rand -base64 32\)/,
  );
  assert.throws(
    () => parseConfig(policyConfigSchema, { POLICY_SECRETS_KEY: 'short' }),
    /POLICY_SECRETS_KEY: must be the base64 of 32 random bytes \(openssl rand -base64 32\)/,
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptedAlgorithms, duplicateMember } from './id-token.ts';

const duplicates: Array<{ name: string; json: string; expected: string | undefined }> = [
  { name: 'no duplicates', json: '{"sub":"alice","email":"a@example.com","aud":["x","x"]}', expected: undefined },
  { name: 'a top-level member twice', json: '{"email":"alice@example.com","sub":"bob","email":"bob@example.com"}', expected: 'email' },
  { name: 'the same name after unescaping', json: '{"email":"a","\\u0065mail":"b"}', expected: 'email' },
  { name: 'a member twice in a nested object', json: '{"realm_access":{"roles":["a"],"roles":["admin"]}}', expected: 'roles' },
  { name: 'the same name in sibling objects is fine', json: '{"a":{"x":1},"b":{"x":2},"c":[{"x":1},{"x":2}]}', expected: undefined },
  { name: 'names inside string values do not count', json: '{"a":"\\"a\\":1,","b":"{\\"a\\""}', expected: undefined },
  { name: 'an escaped quote in a name', json: '{"a\\"b":1,"a\\"b":2}', expected: 'a"b' },
  { name: 'a header with alg twice', json: '{"alg":"RS256","kid":"k","alg":"none"}', expected: 'alg' },
  { name: 'whitespace around members', json: '{ "a" : 1 ,\n "a" : 2 }', expected: 'a' },
  { name: 'an array of objects after a member', json: '{"a":[{"b":1}],"b":2}', expected: undefined },
];

for (const { name, json, expected } of duplicates) {
  test(`duplicateMember: ${name}`, () => {
    JSON.parse(json);
    assert.equal(duplicateMember(json), expected);
  });
}

test('duplicateMember throws on a truncated text rather than looping', () => {
  assert.throws(() => duplicateMember('{"a":1,"a'), SyntaxError);
});

test('acceptedAlgorithms: asymmetric algorithms only, RS256 when none are announced', () => {
  assert.deepEqual(acceptedAlgorithms(['none', 'HS256', 'RS256', 'ES256', 'HS512']), ['RS256', 'ES256']);
  assert.deepEqual(acceptedAlgorithms(['none']), []);
  assert.deepEqual(acceptedAlgorithms(undefined), ['RS256']);
});

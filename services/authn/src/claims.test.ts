import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claimsToTags } from './claims.ts';

const cases: Array<{ name: string; claims: Record<string, unknown>; tags: string[] }> = [
  { name: 'no claims', claims: {}, tags: [] },
  {
    name: 'the SPEC example',
    claims: { email: 'alice@example.com', email_verified: true, hd: 'example.com', groups: ['admins'] },
    tags: ['email=alice@example.com', 'email_verified=true', 'hd=example.com', 'groups=admins'],
  },
  { name: 'string', claims: { sub: '1234' }, tags: ['sub=1234'] },
  { name: 'empty string value is kept', claims: { nickname: '' }, tags: ['nickname='] },
  { name: 'value containing =', claims: { note: 'a=b' }, tags: ['note=a=b'] },
  { name: 'value case is kept', claims: { name: 'Alice Liddell' }, tags: ['name=Alice Liddell'] },
  { name: 'boolean true', claims: { admin: true }, tags: ['admin=true'] },
  { name: 'boolean false', claims: { admin: false }, tags: ['admin=false'] },
  { name: 'number ignored', claims: { exp: 1700000000, iat: 0, ratio: 1.5 }, tags: [] },
  { name: 'null ignored', claims: { middle_name: null }, tags: [] },
  { name: 'undefined ignored', claims: { middle_name: undefined }, tags: [] },
  { name: 'object ignored', claims: { address: { country: 'FR' } }, tags: [] },
  { name: 'array of strings', claims: { groups: ['a', 'b'] }, tags: ['groups=a', 'groups=b'] },
  { name: 'array of booleans', claims: { flags: [true, false] }, tags: ['flags=true', 'flags=false'] },
  {
    name: 'array skips numbers, objects, nulls and nested arrays',
    claims: { mixed: ['a', 1, null, { b: 'c' }, ['d'], true, undefined] },
    tags: ['mixed=a', 'mixed=true'],
  },
  { name: 'empty array', claims: { groups: [] }, tags: [] },
  { name: 'duplicate array elements once', claims: { groups: ['a', 'b', 'a'] }, tags: ['groups=a', 'groups=b'] },
  { name: 'string and boolean spelled alike once', claims: { x: ['true', true] }, tags: ['x=true'] },
  { name: 'empty key skipped', claims: { '': 'x' }, tags: [] },
  { name: 'key with = skipped', claims: { 'a=b': 'c' }, tags: [] },
  { name: 'key starting with $ skipped', claims: { $identity: 'processingunit' }, tags: [] },
  { name: 'key starting with @ skipped', claims: { '@app': 'x' }, tags: [] },
  { name: 'key starting with + skipped', claims: { '+x': 'y' }, tags: [] },
  { name: 'reserved characters later in the key are fine', claims: { a$b: 'c', 'a@b': 'd', 'a+b': 'e' }, tags: ['a$b=c', 'a@b=d', 'a+b=e'] },
  { name: 'URL-like key kept', claims: { 'https://example.com/roles': ['r'] }, tags: ['https://example.com/roles=r'] },
  {
    name: 'claim order is kept',
    claims: { z: 'last-name', a: 'first-name', m: ['x', 'y'] },
    tags: ['z=last-name', 'a=first-name', 'm=x', 'm=y'],
  },
  {
    name: 'a full ID token',
    claims: {
      iss: 'https://idp.example.com',
      sub: 'u1',
      aud: ['client', 'other'],
      exp: 2,
      iat: 1,
      nonce: 'n',
      email: 'bob@example.com',
      email_verified: false,
      groups: ['dev', 'ops'],
      $forged: 'x',
    },
    tags: [
      'iss=https://idp.example.com',
      'sub=u1',
      'aud=client',
      'aud=other',
      'nonce=n',
      'email=bob@example.com',
      'email_verified=false',
      'groups=dev',
      'groups=ops',
    ],
  },
];

for (const { name, claims, tags } of cases) {
  test(`claimsToTags: ${name}`, () => {
    assert.deepEqual(claimsToTags(claims), tags);
  });
}

test('claimsToTags: a __proto__ claim from JSON is an ordinary claim', () => {
  const claims = JSON.parse('{"__proto__": "x", "sub": "u"}') as Record<string, unknown>;
  assert.deepEqual(claimsToTags(claims), ['__proto__=x', 'sub=u']);
});

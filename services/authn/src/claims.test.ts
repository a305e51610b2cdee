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
  { name: 'object: its members, key:member', claims: { address: { country: 'FR' } }, tags: ['address:country=FR'] },
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
  // Nested claims (SPEC §4.4).
  {
    name: 'the standard address claim',
    claims: { address: { country: 'FR', locality: 'Paris', postal_code: 75001, formatted: null } },
    tags: ['address:country=FR', 'address:locality=Paris'],
  },
  {
    name: 'three levels, arrays inside',
    claims: { resource_access: { 'my-app': { roles: ['editor', 'viewer'] }, account: { roles: ['manage'] } } },
    tags: ['resource_access:my-app:roles=editor', 'resource_access:my-app:roles=viewer', 'resource_access:account:roles=manage'],
  },
  { name: 'booleans inside', claims: { flags: { beta: true, admin: false } }, tags: ['flags:beta=true', 'flags:admin=false'] },
  { name: 'deeper than three levels: nothing', claims: { a: { b: { c: { d: 'x' } }, e: 'y' } }, tags: ['a:e=y'] },
  { name: 'objects inside arrays: nothing', claims: { a: { list: [{ b: 'c' }, 'd'] } }, tags: ['a:list=d'] },
  { name: 'an empty object', claims: { a: {} }, tags: [] },
  { name: 'a member name with : is skipped', claims: { a: { 'b:c': 'x', d: 'y' } }, tags: ['a:d=y'] },
  { name: 'a member name with = is skipped', claims: { a: { 'b=c': 'x' } }, tags: [] },
  { name: 'an empty member name is skipped', claims: { a: { '': 'x' } }, tags: [] },
  {
    name: 'member names a rule cannot name are skipped',
    claims: { a: { 'b c': '1', 'd*': '2', 'e!': '3', 'f!g': '4', 'h\tj': '5', ok: '6' } },
    tags: ['a:ok=6'],
  },
  { name: 'members may start with $, @ or + (the key starts with the claim)', claims: { a: { $b: 'x', '@c': 'y' } }, tags: ['a:$b=x', 'a:@c=y'] },
  { name: 'a reserved top-level object is skipped whole', claims: { $sys: { identity: 'processingunit' }, '@org': { id: '1' } }, tags: [] },
  { name: 'a top-level object whose name holds : gives nothing', claims: { 'urn:x:roles': { admin: 'y' } }, tags: [] },
  { name: 'a top-level object whose name a rule cannot name gives nothing', claims: { 'my roles': { admin: 'y' }, 'x!': { a: 'b' } }, tags: [] },
  { name: 'a top-level string whose name holds : is kept', claims: { 'custom:tenant': 'acme' }, tags: ['custom:tenant=acme'] },
  {
    name: 'a top-level claim named like a nested one wins',
    claims: { 'address:country': 'FR', address: { country: 'DE', locality: 'Berlin' } },
    tags: ['address:country=FR', 'address:locality=Berlin'],
  },
  {
    name: 'the top-level claim wins whatever the order, and whatever its value',
    claims: { a: { b: { c: 'nested' } }, 'a:b:c': 7, 'a:b': 'top' },
    tags: ['a:b=top'],
  },
  { name: 'values with * and ! are data', claims: { email: '*@example.com', a: { b: '!x' } }, tags: ['email=*@example.com', 'a:b=!x'] },
];

for (const { name, claims, tags } of cases) {
  test(`claimsToTags: ${name}`, () => {
    assert.deepEqual(claimsToTags(claims), tags);
  });
}

test('claimsToTags: a nested __proto__ member from JSON is an ordinary member', () => {
  const claims = JSON.parse('{"a": {"__proto__": "x", "constructor": {"name": "y"}}}') as Record<string, unknown>;
  assert.deepEqual(claimsToTags(claims), ['a:__proto__=x', 'a:constructor:name=y']);
});

test('claimsToTags: a __proto__ claim from JSON is an ordinary claim', () => {
  const claims = JSON.parse('{"__proto__": "x", "sub": "u"}') as Record<string, unknown>;
  assert.deepEqual(claimsToTags(claims), ['__proto__=x', 'sub=u']);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newTicket, openSession, parseTicket, sealSession, type Ticket } from './ticket.ts';

const ID = 'AAECAwQFBgcICQoLDA0ODw'; // bytes 0..15
const SECRET = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8'; // bytes 0..31

test('newTicket: id, secret and cookie value have the documented shape', () => {
  const ticket = newTicket();
  assert.match(ticket.id, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(ticket.secret.length, 32);
  assert.equal(ticket.cookieValue, `${ticket.id}.${ticket.secret.toString('base64url')}`);
});

test('newTicket: the cookie value parses back to the same ticket', () => {
  const ticket = newTicket();
  const parsed = parseTicket(ticket.cookieValue);
  assert.ok(parsed);
  assert.equal(parsed.id, ticket.id);
  assert.ok(parsed.secret.equals(ticket.secret));
});

test('newTicket: ids and secrets are unique', () => {
  const tickets = Array.from({ length: 1000 }, newTicket);
  assert.equal(new Set(tickets.map((t) => t.id)).size, tickets.length);
  assert.equal(new Set(tickets.map((t) => t.secret.toString('hex'))).size, tickets.length);
});

test('parseTicket: a known value', () => {
  const parsed = parseTicket(`${ID}.${SECRET}`);
  assert.ok(parsed);
  assert.equal(parsed.id, ID);
  assert.deepEqual(
    [...parsed.secret],
    Array.from({ length: 32 }, (_, i) => i),
  );
});

const malformed: Array<{ name: string; value: string }> = [
  { name: 'empty', value: '' },
  { name: 'only a dot', value: '.' },
  { name: 'id only', value: ID },
  { name: 'id and dot', value: `${ID}.` },
  { name: 'secret only', value: `.${SECRET}` },
  { name: 'parts swapped', value: `${SECRET}.${ID}` },
  { name: 'id too short', value: `${ID.slice(1)}.${SECRET}` },
  { name: 'id too long', value: `${ID}A.${SECRET}` },
  { name: 'secret too short', value: `${ID}.${SECRET.slice(1)}` },
  { name: 'secret too long', value: `${ID}.${SECRET}A` },
  { name: 'padding', value: `${ID}==.${SECRET}=` },
  { name: 'standard base64 +', value: `${ID.slice(0, -2)}+w.${SECRET}` },
  { name: 'standard base64 /', value: `${ID}.${SECRET.slice(0, -2)}/8` },
  { name: 'non-canonical id (trailing bits set)', value: `${ID.slice(0, -1)}x.${SECRET}` },
  { name: 'non-canonical secret (trailing bits set)', value: `${ID}.${SECRET.slice(0, -1)}9` },
  { name: 'extra part', value: `${ID}.${SECRET}.x` },
  { name: 'two dots', value: `${ID}..${SECRET}` },
  { name: 'other separator', value: `${ID}:${SECRET}` },
  { name: 'leading space', value: ` ${ID}.${SECRET}` },
  { name: 'trailing newline', value: `${ID}.${SECRET}\n` },
  { name: 'quoted', value: `"${ID}.${SECRET}"` },
  { name: 'percent-encoded dot', value: `${ID}%2E${SECRET}` },
  { name: 'non-ASCII', value: `${ID.slice(0, -1)}é.${SECRET}` },
  { name: 'a JWT', value: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl' },
];

for (const { name, value } of malformed) {
  test(`parseTicket rejects: ${name}`, () => {
    assert.equal(parseTicket(value), undefined);
  });
}

const plaintexts: Array<{ name: string; value: string | Uint8Array }> = [
  { name: 'JSON string', value: '{"sub":"alice","tokens":{"id":"eyJ..."}}' },
  { name: 'empty string', value: '' },
  { name: 'unicode string', value: 'café ☕' },
  { name: 'bytes', value: new Uint8Array([0, 1, 2, 255]) },
  { name: 'large', value: 'x'.repeat(100_000) },
];

for (const { name, value } of plaintexts) {
  test(`sealSession/openSession roundtrip: ${name}`, () => {
    const ticket = newTicket();
    const sealed = sealSession(ticket, value);
    const expected = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
    assert.deepEqual(openSession(ticket, sealed), expected);
    // Opens with the ticket as parsed back from the cookie, as the gateway will.
    const parsed = parseTicket(ticket.cookieValue);
    assert.ok(parsed);
    assert.deepEqual(openSession(parsed, sealed), expected);
  });
}

test('sealSession: versioned, compact, fresh IV each time, no plaintext visible', () => {
  const ticket = newTicket();
  const first = sealSession(ticket, 'secret-token-value');
  const second = sealSession(ticket, 'secret-token-value');
  assert.match(first, /^v1\.[A-Za-z0-9_-]+$/);
  assert.notEqual(first, second);
  assert.ok(!first.includes('secret-token-value'));
  assert.ok(!Buffer.from(first.slice(3), 'base64url').includes('secret-token-value'));
  // 12-byte IV + 16-byte tag + 18 bytes of ciphertext.
  assert.equal(Buffer.from(first.slice(3), 'base64url').length, 12 + 16 + 18);
});

test('openSession: wrong secret', () => {
  const ticket = newTicket();
  const sealed = sealSession(ticket, 'session');
  const wrongSecret: Ticket = { id: ticket.id, secret: newTicket().secret };
  assert.equal(openSession(wrongSecret, sealed), undefined);
});

test('openSession: secret differing in one bit', () => {
  const ticket = newTicket();
  const sealed = sealSession(ticket, 'session');
  const secret = Buffer.from(ticket.secret);
  secret[31] = (secret[31] as number) ^ 1;
  assert.equal(openSession({ id: ticket.id, secret }, sealed), undefined);
});

test('openSession: swapped id (the id is authenticated)', () => {
  const ticket = newTicket();
  const sealed = sealSession(ticket, 'session');
  const otherId: Ticket = { id: newTicket().id, secret: ticket.secret };
  assert.equal(openSession(otherId, sealed), undefined);
});

test('openSession: a session sealed for another ticket', () => {
  const sealed = sealSession(newTicket(), 'session');
  assert.equal(openSession(newTicket(), sealed), undefined);
});

test('openSession: every flipped byte of iv, tag or ciphertext is detected', () => {
  const ticket = newTicket();
  const sealed = sealSession(ticket, 'a session worth protecting');
  const packed = Buffer.from(sealed.slice(3), 'base64url');
  for (let index = 0; index < packed.length; index++) {
    const tampered = Buffer.from(packed);
    tampered[index] = (tampered[index] as number) ^ 0x01;
    assert.equal(openSession(ticket, `v1.${tampered.toString('base64url')}`), undefined, `byte ${index}`);
  }
});

test('openSession: truncated or extended ciphertext is detected', () => {
  const ticket = newTicket();
  const packed = Buffer.from(sealSession(ticket, 'session').slice(3), 'base64url');
  const truncated = packed.subarray(0, packed.length - 1);
  const extended = Buffer.concat([packed, Buffer.from([0])]);
  assert.equal(openSession(ticket, `v1.${truncated.toString('base64url')}`), undefined);
  assert.equal(openSession(ticket, `v1.${extended.toString('base64url')}`), undefined);
});

test('openSession: malformed sealed values', () => {
  const ticket = newTicket();
  const sealed = sealSession(ticket, 'session');
  const body = sealed.slice(3);
  const values: Array<[string, string]> = [
    ['empty', ''],
    ['prefix only', 'v1.'],
    ['no prefix', body],
    ['other version', `v2.${body}`],
    ['upper-case prefix', `V1.${body}`],
    ['padding', `${sealed}==`],
    ['standard base64 characters', `v1.${Buffer.from(body, 'base64url').toString('base64')}+/`],
    ['whitespace', `${sealed} `],
    ['shorter than iv and tag', `v1.${Buffer.alloc(27).toString('base64url')}`],
    ['iv and tag of zeros, no ciphertext', `v1.${Buffer.alloc(28).toString('base64url')}`],
    ['not base64', 'v1.!!!!'],
  ];
  for (const [name, value] of values) assert.equal(openSession(ticket, value), undefined, name);
});

test('openSession never throws, whatever it is given', () => {
  const ticket = newTicket();
  const sealed = sealSession(ticket, 'session');
  const odd: unknown[] = [undefined, null, 42, {}, [], Buffer.from(sealed)];
  for (const value of odd) assert.equal(openSession(ticket, value as string), undefined);
  const badTickets: unknown[] = [{ id: ticket.id, secret: undefined }, { id: undefined, secret: ticket.secret }, { id: ticket.id, secret: 'not a buffer' }, {}];
  for (const bad of badTickets) assert.doesNotThrow(() => openSession(bad as Ticket, sealed));
  for (const bad of badTickets) assert.equal(openSession(bad as Ticket, sealed), undefined);
});

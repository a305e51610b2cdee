// Unit: the zod schemas of path parameters, query strings and headers, and the 400 they give.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MicrosegError } from '@microseg/errors';
import { ifMatchHeaders, listQuery, namespaceHeaders, parsePart, sessionsQuery } from './request-schemas.ts';

const badRequest = (message: RegExp) => (err: unknown) => err instanceof MicrosegError && err.code === 'BAD_REQUEST' && message.test(err.message);

test('If-Match: an ETag of the API, weak or quoted or not; absent or * asks for no revision', () => {
  const cases: Array<[string | undefined, number | undefined]> = [
    [undefined, undefined],
    ['*', undefined],
    [' * ', undefined],
    ['"42"', 42],
    ['42', 42],
    ['W/"7"', 7],
    [' "9" ', 9],
  ];
  for (const [header, revision] of cases)
    assert.equal(parsePart(ifMatchHeaders, header === undefined ? {} : { 'if-match': header })['if-match'], revision, String(header));
  for (const header of ['', 'abc', '"4"2', '"-1"', '"1", "2"', 'W/"x"']) {
    assert.throws(() => parsePart(ifMatchHeaders, { 'if-match': header }), badRequest(/^If-Match must be an ETag returned by the API, such as "42"$/), header);
  }
});

test('X-Namespace: a namespace path, or absent; anything else is named in the refusal, cut short', () => {
  assert.equal(parsePart(namespaceHeaders, {})['x-namespace'], undefined);
  assert.equal(parsePart(namespaceHeaders, { 'x-namespace': '/acme/team-b' })['x-namespace'], '/acme/team-b');
  for (const header of ['', 'acme', '/acme/..', '/acme, /other', '/ acme']) {
    const expected = `X-Namespace must be a namespace path such as /acme/team-b, not ${JSON.stringify(header)}`;
    assert.throws(
      () => parsePart(namespaceHeaders, { 'x-namespace': header }),
      (err: unknown) => err instanceof MicrosegError && err.code === 'BAD_REQUEST' && err.message === expected,
      header,
    );
  }
  assert.throws(
    () => parsePart(namespaceHeaders, { 'x-namespace': `x${'a'.repeat(500)}` }),
    (err: MicrosegError) => err.message.length < 200,
  );
});

test('recursive is true only for ?recursive=true', () => {
  const cases: Array<[unknown, boolean]> = [
    [undefined, false],
    ['true', true],
    ['false', false],
    ['TRUE', false],
    ['1', false],
    [['true', 'true'], false],
  ];
  for (const [value, recursive] of cases) assert.equal(parsePart(listQuery, { recursive: value }).recursive, recursive, JSON.stringify(value));
});

test('sessions: one user or none; a user given twice is a 400', () => {
  assert.deepEqual(parsePart(sessionsQuery, { user: 'alice@example.com', recursive: 'true' }), { user: 'alice@example.com', recursive: true });
  assert.deepEqual(parsePart(sessionsQuery, {}), { recursive: false });
  assert.throws(() => parsePart(sessionsQuery, { user: ['a', 'b'] }), badRequest(/user must be one email or subject/));
});

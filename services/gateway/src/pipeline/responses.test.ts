import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withFailureMessage } from './responses.ts';

const cases: Array<{ name: string; url: string; expected: string }> = [
  { name: 'no query', url: 'https://app.example.com/denied', expected: 'https://app.example.com/denied?failure_message=authorization' },
  { name: 'no path', url: 'https://app.example.com', expected: 'https://app.example.com/?failure_message=authorization' },
  { name: 'a query', url: 'https://app.example.com/denied?lang=en', expected: 'https://app.example.com/denied?lang=en&failure_message=authorization' },
  { name: 'an empty query', url: 'https://app.example.com/denied?', expected: 'https://app.example.com/denied?failure_message=authorization' },
  { name: 'a fragment', url: 'https://app.example.com/denied#help', expected: 'https://app.example.com/denied?failure_message=authorization#help' },
  {
    name: 'a query and a fragment',
    url: 'https://app.example.com/denied?lang=en#help',
    expected: 'https://app.example.com/denied?lang=en&failure_message=authorization#help',
  },
  {
    name: 'a fragment that looks like a query',
    url: 'https://app.example.com/denied#x?y=1',
    expected: 'https://app.example.com/denied?failure_message=authorization#x?y=1',
  },
  { name: 'a port', url: 'https://app.example.com:8443/denied', expected: 'https://app.example.com:8443/denied?failure_message=authorization' },
  {
    name: 'the existing query is kept as written',
    url: 'https://app.example.com/denied?next=%2Fa%20b&flag&x=a+b',
    expected: 'https://app.example.com/denied?next=%2Fa%20b&flag&x=a+b&failure_message=authorization',
  },
];

for (const { name, url, expected } of cases) {
  test(`withFailureMessage: ${name}`, () => {
    assert.equal(withFailureMessage(url, 'authorization'), expected);
  });
}

test('withFailureMessage: the message is encoded', () => {
  const url = new URL(withFailureMessage('https://app.example.com/denied?a=1', 'not allowed & more'));
  assert.equal(url.searchParams.get('failure_message'), 'not allowed & more');
  assert.equal(url.searchParams.get('a'), '1');
});

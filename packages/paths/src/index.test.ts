import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRequestTarget } from './index.ts';

const accepted: Array<{ target: string; path: string; query?: string }> = [
  // Plain paths
  { target: '/', path: '/' },
  { target: '/a', path: '/a' },
  { target: '/a/b/c', path: '/a/b/c' },
  { target: '/a/', path: '/a/' },
  { target: '/A/b', path: '/A/b' },
  { target: '/a;jsessionid=1', path: '/a;jsessionid=1' },
  { target: '/a/b;x=1/c', path: '/a/b;x=1/c' },
  { target: "/a-b_c.d~e!$&'()*+,;=:@", path: "/a-b_c.d~e!$&'()*+,;=:@" },
  { target: '/a../b', path: '/a../b' },
  { target: '/...', path: '/...' },
  { target: '/.a/..b', path: '/.a/..b' },

  // Queries: split at the first `?`, returned unchanged
  { target: '/?', path: '/', query: '' },
  { target: '/a?b=c', path: '/a', query: 'b=c' },
  { target: '/a?b=%2F&c=%zz', path: '/a', query: 'b=%2F&c=%zz' },
  { target: '/a?x?y', path: '/a', query: 'x?y' },
  { target: '/a?next=/../../etc', path: '/a', query: 'next=/../../etc' },
  { target: '/a/../b?x=1', path: '/b', query: 'x=1' },

  // Dot segments (RFC 3986 §5.2.4)
  { target: '/a/./b/../c', path: '/a/c' },
  { target: '/a/b/..', path: '/a/' },
  { target: '/a/b/../', path: '/a/' },
  { target: '/a/.', path: '/a/' },
  { target: '/a/./', path: '/a/' },
  { target: '/.', path: '/' },
  { target: '/./', path: '/' },
  { target: '/a/..', path: '/' },
  { target: '/a/../', path: '/' },
  { target: '/a/b/../../c', path: '/c' },
  { target: '/a/./././b', path: '/a/b' },

  // Repeated slashes collapse (before dot removal, so `..` undoes one real segment)
  { target: '//x//y', path: '/x/y' },
  { target: '///', path: '/' },
  { target: '/a//', path: '/a/' },
  { target: '/a//../b', path: '/b' },
  { target: '//evil.example/x', path: '/evil.example/x' },

  // Percent-encoding: unreserved decoded, others upper-cased
  { target: '/%7Euser', path: '/~user' },
  { target: '/%7euser', path: '/~user' },
  { target: '/%41%5a%61%7A%30%39', path: '/AZaz09' },
  { target: '/%2D%2E%5F%7E', path: '/-._~' },
  { target: '/a%20b', path: '/a%20b' },
  { target: '/a%3fb', path: '/a%3Fb' },
  { target: '/a%23b', path: '/a%23b' },
  { target: '/a%25b', path: '/a%25b' },
  { target: '/a%252Fb', path: '/a%252Fb' },
  { target: '/caf%c3%a9', path: '/caf%C3%A9' },
  // Shortest-form UTF-8 with the lead bytes of overlong forms (अ, 𐀀), and escapes apart
  { target: '/%e0%a4%85', path: '/%E0%A4%85' },
  { target: '/%f0%90%80%80', path: '/%F0%90%80%80' },
  { target: '/%e0a%80', path: '/%E0a%80' },
  { target: '/a%3bb', path: '/a%3Bb' },
  { target: '/a%2e%2e/', path: '/a../' },
  { target: '/a/%2e/b', path: '/a/b' },
  { target: '/a/b/%2e%2e/c', path: '/a/c' },
  { target: '/a/b/%2E%2e', path: '/a/' },
  { target: '/a/.%2e/c', path: '/c' },
];

for (const { target, path, query = '' } of accepted) {
  test(`accepts ${JSON.stringify(target)}`, () => {
    assert.deepEqual(parseRequestTarget(target), { ok: true, path, query });
  });
}

const rejected: Array<{ target: string; reason: string }> = [
  // Form
  { target: '', reason: 'empty request target' },
  { target: '*', reason: 'asterisk-form request target' },
  { target: 'http://x/y', reason: 'request target is not an absolute path' },
  { target: 'https://x', reason: 'request target is not an absolute path' },
  { target: 'example.com:443', reason: 'request target is not an absolute path' },
  { target: 'a/b', reason: 'request target is not an absolute path' },
  { target: '?x', reason: 'request target is not an absolute path' },

  // Raw characters, anywhere in the target
  { target: '/a#b', reason: 'fragment in request target' },
  { target: '/a?b#c', reason: 'fragment in request target' },
  { target: '/a\\b', reason: 'backslash in request target' },
  { target: '/a?b\\c', reason: 'backslash in request target' },
  { target: '/a b', reason: 'space in request target' },
  { target: '/a\0b', reason: 'NUL in request target' },
  { target: '/a?\0', reason: 'NUL in request target' },
  { target: '/a\tb', reason: 'control character in request target' },
  { target: '/a\r\nb', reason: 'control character in request target' },
  { target: '/a\x7fb', reason: 'control character in request target' },
  { target: '/caf\u00e9', reason: 'non-ASCII character in request target' },
  { target: '/a\u2215b', reason: 'non-ASCII character in request target' },

  // Percent-encoding in the path
  { target: '/a%2Fb', reason: 'encoded slash in path' },
  { target: '/a%2fb', reason: 'encoded slash in path' },
  { target: '/a%5cb', reason: 'encoded backslash in path' },
  { target: '/a%5Cb', reason: 'encoded backslash in path' },
  { target: '/%00', reason: 'encoded NUL in path' },
  { target: '/a%0ab', reason: 'encoded control character in path' },
  { target: '/a%0D%0Ab', reason: 'encoded control character in path' },
  { target: '/a%1fb', reason: 'encoded control character in path' },
  { target: '/a%7Fb', reason: 'encoded control character in path' },
  { target: '/%zz', reason: 'invalid percent-encoding in path' },
  { target: '/%4', reason: 'invalid percent-encoding in path' },
  { target: '/%', reason: 'invalid percent-encoding in path' },
  { target: '/a%', reason: 'invalid percent-encoding in path' },
  { target: '/%4?x', reason: 'invalid percent-encoding in path' },
  { target: '/%g0', reason: 'invalid percent-encoding in path' },
  { target: '/%+1', reason: 'invalid percent-encoding in path' },
  { target: '/%%41', reason: 'invalid percent-encoding in path' },

  // Overlong UTF-8: dot, slash and backslash spelt long, as lenient decoders read them
  { target: '/public/%c0%ae%c0%ae/secret', reason: 'overlong UTF-8 in path' },
  { target: '/a/%C0%AF', reason: 'overlong UTF-8 in path' },
  { target: '/a%c1%9c', reason: 'overlong UTF-8 in path' },
  { target: '/a/%e0%80%ae', reason: 'overlong UTF-8 in path' },
  { target: '/a/%f0%80%80%ae', reason: 'overlong UTF-8 in path' },
  { target: '/a%C0', reason: 'overlong UTF-8 in path' },

  // Dot segments that would climb above the root
  { target: '/..', reason: 'dot segments climb above the root' },
  { target: '/../x', reason: 'dot segments climb above the root' },
  { target: '/a/../../x', reason: 'dot segments climb above the root' },
  { target: '/./../x', reason: 'dot segments climb above the root' },
  { target: '/%2e%2e/etc', reason: 'dot segments climb above the root' },
  { target: '/%2E%2E', reason: 'dot segments climb above the root' },
  { target: '/.%2e/x', reason: 'dot segments climb above the root' },
  { target: '//../x', reason: 'dot segments climb above the root' },
  { target: '/a/b/../../../x?y', reason: 'dot segments climb above the root' },

  // Dot segments with path parameters (servlet containers resolve them)
  { target: '/public/..;/admin', reason: 'dot segment with parameters in path' },
  { target: '/..;/x', reason: 'dot segment with parameters in path' },
  { target: '/a/.;x=1/b', reason: 'dot segment with parameters in path' },
  { target: '/a/%2e%2e;/b', reason: 'dot segment with parameters in path' },
];

for (const { target, reason } of rejected) {
  test(`rejects ${JSON.stringify(target)}`, () => {
    assert.deepEqual(parseRequestTarget(target), { ok: false, reason });
  });
}

test('the normalised path is a fixed point', () => {
  // What is forwarded, parsed again by anyone downstream, means the same path.
  for (const { target } of accepted) {
    const first = parseRequestTarget(target);
    assert.ok(first.ok);
    const again = parseRequestTarget(first.path);
    assert.deepEqual(again, { ok: true, path: first.path, query: '' }, target);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalisePattern, parseRequestTarget } from './index.ts';

const accepted: Array<{ target: string; path: string; query?: string }> = [
  // Plain paths
  { target: '/', path: '/' },
  { target: '/a', path: '/a' },
  { target: '/a/b/c', path: '/a/b/c' },
  { target: '/a/', path: '/a/' },
  { target: '/A/b', path: '/A/b' },
  { target: "/a-b_c.d~e!$&'()*+,=:@", path: "/a-b_c.d~e!$&'()*+,=:@" },
  { target: '/a../b', path: '/a../b' },
  { target: '/...', path: '/...' },
  { target: '/.a/..b', path: '/.a/..b' },

  // Queries: split at the first `?`, returned unchanged
  { target: '/?', path: '/', query: '' },
  { target: '/a?b=c', path: '/a', query: 'b=c' },
  { target: '/a?b=%2F&c=%zz', path: '/a', query: 'b=%2F&c=%zz' },
  // `;` and non-UTF-8 escapes are the query's business, not the path's
  { target: '/a?jsessionid=1;x=%FF', path: '/a', query: 'jsessionid=1;x=%FF' },
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
  // UTF-8 (RFC 3629): up to four bytes, the highest code point, non-characters are still UTF-8
  { target: '/%c3%a9/%E2%82%AC/%f0%9f%98%80', path: '/%C3%A9/%E2%82%AC/%F0%9F%98%80' },
  { target: '/%F4%8F%BF%BF', path: '/%F4%8F%BF%BF' },
  { target: '/%EF%BF%BE', path: '/%EF%BF%BE' },
  { target: '/%ED%9F%BF%EE%80%80', path: '/%ED%9F%BF%EE%80%80' },
  // Look-alikes whose NFKC form is themselves: fraction slash U+2044, division slash U+2215, ․ in ½ …
  { target: '/a%E2%81%84b', path: '/a%E2%81%84b' },
  { target: '/a%E2%88%95b', path: '/a%E2%88%95b' },
  { target: '/%C2%BD', path: '/%C2%BD' },
  { target: '/%EF%BC%A1', path: '/%EF%BC%A1' },
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

const SEMICOLON = 'path parameter (;) in path; path parameters such as ;jsessionid= are refused, not stripped';
const COMPATIBILITY = 'character whose NFKC form holds . / \\ ; or % in path';

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

  // Path parameters: refused, not stripped (Tomcat serves `/admin;jsessionid=1/x` as `/admin/x`)
  { target: '/a;jsessionid=1', reason: SEMICOLON },
  { target: '/admin;jsessionid=1/x', reason: SEMICOLON },
  { target: '/a/b;x=1/c', reason: SEMICOLON },
  { target: '/;/x', reason: SEMICOLON },
  { target: '/a;', reason: SEMICOLON },
  { target: '/a;?x', reason: SEMICOLON },
  { target: '/a%3bb', reason: 'encoded semicolon in path' },
  { target: '/admin%3Bx=1/y', reason: 'encoded semicolon in path' },

  // Escapes that are not UTF-8 (RFC 3629 §3, §4): stray bytes, truncated sequences, surrogates, above U+10FFFF
  { target: '/%FF', reason: 'invalid UTF-8 in path' },
  { target: '/a%fe', reason: 'invalid UTF-8 in path' },
  { target: '/%80', reason: 'invalid UTF-8 in path' },
  { target: '/%C3', reason: 'invalid UTF-8 in path' },
  { target: '/%C3/x', reason: 'invalid UTF-8 in path' },
  { target: '/%C3%A9%A9', reason: 'invalid UTF-8 in path' },
  { target: '/%e0a%80', reason: 'invalid UTF-8 in path' },
  { target: '/%E2%82', reason: 'invalid UTF-8 in path' },
  { target: '/%F0%9F%98', reason: 'invalid UTF-8 in path' },
  { target: '/%ED%A0%80', reason: 'invalid UTF-8 in path' },
  { target: '/%ED%BF%BF', reason: 'invalid UTF-8 in path' },
  { target: '/%ED%A0%BD%ED%B8%80', reason: 'invalid UTF-8 in path' },
  { target: '/%F4%90%80%80', reason: 'invalid UTF-8 in path' },
  { target: '/%F5%80%80%80', reason: 'invalid UTF-8 in path' },
  { target: '/%F8%88%80%80%80', reason: 'invalid UTF-8 in path' },
  { target: '/%C3%28', reason: 'invalid UTF-8 in path' },

  // Code points whose NFKC form holds `.`, `/` or `\` (UTS #39, TR #36): `../` to servers that normalise
  { target: '/%EF%BC%8E%EF%BC%8E%EF%BC%8F', reason: COMPATIBILITY },
  { target: '/public/%EF%BC%8E%EF%BC%8E/admin', reason: COMPATIBILITY },
  { target: '/a%EF%BC%8Fb', reason: COMPATIBILITY },
  { target: '/a%EF%BC%BCb', reason: COMPATIBILITY },
  { target: '/%E2%80%A4%E2%80%A4', reason: COMPATIBILITY },
  { target: '/%E2%80%A5', reason: COMPATIBILITY },
  { target: '/%E2%80%A6', reason: COMPATIBILITY },
  { target: '/%EF%B9%92', reason: COMPATIBILITY },
  { target: '/%EF%B9%A8', reason: COMPATIBILITY },
  { target: '/%E2%84%80', reason: COMPATIBILITY },
  { target: '/%E2%92%88', reason: COMPATIBILITY },
  { target: '/%F0%9F%84%80', reason: COMPATIBILITY },
  // …and `;` (a path parameter once normalised) or `%` (a second decoding): fullwidth ；, Greek question mark ;, ％
  { target: '/admin%EF%BC%9Bjsessionid=1/x', reason: COMPATIBILITY },
  { target: '/admin%CD%BE/x', reason: COMPATIBILITY },
  { target: '/%EF%BC%852e%EF%BC%852e/', reason: COMPATIBILITY },

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

  // Dot segments with path parameters (servlet containers resolve them): refused as any `;`
  { target: '/public/..;/admin', reason: SEMICOLON },
  { target: '/..;/x', reason: SEMICOLON },
  { target: '/a/.;x=1/b', reason: SEMICOLON },
  { target: '/a/%2e%2e;/b', reason: SEMICOLON },
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

// --- endpoint patterns ------------------------------------------------------------------------

const acceptedPatterns: Array<{ pattern: string; normalised: string }> = [
  { pattern: '/', normalised: '/' },
  { pattern: '/*', normalised: '/*' },
  { pattern: '/api/?/items/*', normalised: '/api/?/items/*' },
  { pattern: '/?', normalised: '/?' },
  // The spelling of a normalised request path: hex upper-cased, unreserved escapes decoded
  { pattern: '/caf%c3%a9/*', normalised: '/caf%C3%A9/*' },
  { pattern: '/caf%C3%A9/*', normalised: '/caf%C3%A9/*' },
  { pattern: '/%7euser/*', normalised: '/~user/*' },
  { pattern: '/%41dmin/?', normalised: '/Admin/?' },
  { pattern: '/a%20b', normalised: '/a%20b' },
  { pattern: '/a%E2%81%84b', normalised: '/a%E2%81%84b' },
  // `//` collapses; a trailing `/` stays (matching ignores it)
  { pattern: '//a//b/', normalised: '/a/b/' },
  { pattern: '/a/b/', normalised: '/a/b/' },
  { pattern: '//', normalised: '/' },
  // Wildcards only as whole segments; escaped they are literals, as in request paths
  { pattern: '/a*', normalised: '/a*' },
  { pattern: '/%2A', normalised: '/%2A' },
  { pattern: '/%3f', normalised: '/%3F' },
  // Dots inside names are not dot segments
  { pattern: '/.well-known/*', normalised: '/.well-known/*' },
  { pattern: '/a..b/...', normalised: '/a..b/...' },
];

for (const { pattern, normalised } of acceptedPatterns) {
  test(`pattern ${JSON.stringify(pattern)} is ${JSON.stringify(normalised)}`, () => {
    assert.deepEqual(normalisePattern(pattern), { ok: true, pattern: normalised });
  });
}

test('a normalised pattern is a fixed point, and without wildcards it is the path the gateway forwards', () => {
  for (const { normalised } of acceptedPatterns) {
    assert.deepEqual(normalisePattern(normalised), { ok: true, pattern: normalised }, normalised);
    if (normalised.split('/').some((segment) => segment === '*' || segment === '?')) continue;
    assert.deepEqual(parseRequestTarget(normalised), { ok: true, path: normalised, query: '' }, normalised);
  }
});

const refusedPatterns: Array<{ pattern: string; message: string }> = [
  { pattern: 'api/*', message: 'must start with /' },
  { pattern: '', message: 'must start with /' },
  { pattern: '*', message: 'must start with /' },
  // Path parameters: the gateway refuses such requests, so the pattern could never match
  { pattern: '/admin;jsessionid=1/*', message: 'must not contain ; (' },
  { pattern: '/a;', message: 'must not contain ; (' },
  { pattern: '/a%3bb', message: 'must not contain %3B' },
  // Dot segments, plain or encoded
  { pattern: '/a/../b', message: 'must not contain dot segments' },
  { pattern: '/a/./b', message: 'must not contain dot segments' },
  { pattern: '/./*', message: 'must not contain dot segments' },
  { pattern: '/..', message: 'must not contain dot segments' },
  { pattern: '/a/%2e%2E/*', message: 'must not contain dot segments' },
  { pattern: '/a/.%2e', message: 'must not contain dot segments' },
  // Raw non-ASCII: the message spells the pattern to write
  { pattern: '/café/*', message: 'must not contain raw non-ASCII characters; percent-encode them as UTF-8: write /caf%C3%A9/*' },
  { pattern: '/a\u2215b', message: 'must not contain raw non-ASCII characters; percent-encode them as UTF-8: write /a%E2%88%95b' },
  { pattern: '/\uFF0E\uFF0E/*', message: 'must not contain raw non-ASCII characters; percent-encode them as UTF-8 (é is %C3%A9)' },
  { pattern: '/x\ud800', message: 'must not contain raw non-ASCII characters; percent-encode them as UTF-8 (é is %C3%A9)' },
  // Encoded separators
  { pattern: '/a%2Fb/*', message: 'must not contain %2F' },
  { pattern: '/a%2f', message: 'must not contain %2F' },
  { pattern: '/a%5c', message: 'must not contain %5C' },
  { pattern: '/a\\b', message: 'must not contain \\' },
  // Percent-encoding and UTF-8
  { pattern: '/a%zz', message: 'must not contain invalid percent-encoding' },
  { pattern: '/a%', message: 'must not contain invalid percent-encoding' },
  { pattern: '/a%4/*', message: 'must not contain invalid percent-encoding' },
  { pattern: '/%FF/*', message: 'must not contain escapes that are not UTF-8' },
  { pattern: '/caf%C3/*', message: 'must not contain escapes that are not UTF-8' },
  { pattern: '/%ED%A0%80', message: 'must not contain escapes that are not UTF-8' },
  { pattern: '/%C0%AE%C0%AE/*', message: 'must not contain overlong UTF-8' },
  { pattern: '/%EF%BC%8E%EF%BC%8E/*', message: 'must not contain characters that Unicode normalisation (NFKC)' },
  { pattern: '/a%EF%BC%8Fb', message: 'must not contain characters that Unicode normalisation (NFKC)' },
  { pattern: '/a%ef%bc%bcb', message: 'must not contain characters that Unicode normalisation (NFKC)' },
  // `?` inside a segment: neither a wildcard nor ever in a path
  { pattern: '/a?b', message: 'must not contain ? inside a segment' },
  { pattern: '/a?', message: 'must not contain ? inside a segment' },
  { pattern: '/?x/*', message: 'must not contain ? inside a segment' },
  { pattern: '/??', message: 'must not contain ? inside a segment' },
  // Raw characters a request may not hold either
  { pattern: '/a#b', message: 'must not contain #' },
  { pattern: '/a b', message: 'must not contain a space' },
  { pattern: '/a\0', message: 'must not contain NUL' },
  { pattern: '/a\tb', message: 'must not contain control characters' },
  { pattern: '/%00', message: 'must not contain %00' },
  { pattern: '/a%0a', message: 'must not contain encoded control characters' },
];

for (const { pattern, message } of refusedPatterns) {
  test(`pattern ${JSON.stringify(pattern)} is refused: ${message}`, () => {
    const result = normalisePattern(pattern);
    assert.equal(result.ok, false, JSON.stringify(result));
    assert.ok(!result.ok && result.message.startsWith(message), `${JSON.stringify(result)} should start with ${JSON.stringify(message)}`);
  });
}

test('what a request may not hold in its path, a pattern may not hold either (and the other way round)', () => {
  for (const segment of [
    ';x',
    'a%3Bb',
    '%2F',
    '%5C',
    '%zz',
    '%FF',
    '%C3',
    '%ED%A0%80',
    '%C0%AE',
    '%EF%BC%8E',
    '%E2%80%A5',
    '%E2%84%80',
    '%00',
    '%0A',
    'a b',
    'a\tb',
    'é',
    '#',
  ]) {
    assert.equal(parseRequestTarget(`/x/${segment}/y`).ok, false, `request with ${segment}`);
    assert.equal(normalisePattern(`/x/${segment}/*`).ok, false, `pattern with ${segment}`);
  }
  for (const segment of ['a', '%c3%a9', '%7E', '%2A', '%3F', '%E2%81%84', 'a..b', "!$&'()*+,=:@"]) {
    assert.equal(parseRequestTarget(`/x/${segment}/y`).ok, true, `request with ${segment}`);
    assert.equal(normalisePattern(`/x/${segment}/*`).ok, true, `pattern with ${segment}`);
  }
});

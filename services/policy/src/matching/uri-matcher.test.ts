import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileEndpoints, MAX_PATH_SEGMENTS, type EndpointRule } from './uri-matcher.ts';

type Rule = EndpointRule<string>;

function rule(uri: string, methods: string[], value: string): Rule {
  return { uri, methods, value };
}

interface Case {
  readonly name: string;
  readonly rules: Rule[];
  readonly method: string;
  readonly path: string;
  readonly expected: string[] | undefined;
}

const demo: Rule[] = [rule('/public/*', ['GET'], 'public'), rule('/*', ['GET', 'POST'], 'private')];
const backtracking: Rule[] = [rule('/a/?/c', ['GET'], 'question-c'), rule('/a/*/d', ['GET'], 'star-d')];

const cases: Case[] = [
  // Literals
  { name: 'literal matches itself', rules: [rule('/a/b', ['GET'], 'ab')], method: 'GET', path: '/a/b', expected: ['ab'] },
  { name: 'literal never matches a longer path', rules: [rule('/a', ['GET'], 'a')], method: 'GET', path: '/a/b', expected: undefined },
  { name: 'literal never matches a shorter path', rules: [rule('/a/b', ['GET'], 'ab')], method: 'GET', path: '/a', expected: undefined },
  { name: 'literal is case-sensitive', rules: [rule('/Admin', ['GET'], 'admin')], method: 'GET', path: '/admin', expected: undefined },
  { name: 'literal case matches exactly', rules: [rule('/Admin', ['GET'], 'admin')], method: 'GET', path: '/Admin', expected: ['admin'] },
  { name: 'literal segment is whole, not a prefix', rules: [rule('/ab', ['GET'], 'ab')], method: 'GET', path: '/abc', expected: undefined },
  { name: 'a star inside a segment is literal', rules: [rule('/a*', ['GET'], 'a-star')], method: 'GET', path: '/abc', expected: undefined },
  { name: 'a star inside a segment matches itself', rules: [rule('/a*', ['GET'], 'a-star')], method: 'GET', path: '/a*', expected: ['a-star'] },

  // Root and slashes
  { name: 'root pattern matches root', rules: [rule('/', ['GET'], 'root')], method: 'GET', path: '/', expected: ['root'] },
  { name: 'root pattern does not match a child', rules: [rule('/', ['GET'], 'root')], method: 'GET', path: '/a', expected: undefined },
  { name: 'empty path is the root', rules: [rule('/', ['GET'], 'root')], method: 'GET', path: '', expected: ['root'] },
  { name: 'trailing slash on path ignored', rules: [rule('/a/b', ['GET'], 'ab')], method: 'GET', path: '/a/b/', expected: ['ab'] },
  { name: 'trailing slash on pattern ignored', rules: [rule('/a/b/', ['GET'], 'ab')], method: 'GET', path: '/a/b', expected: ['ab'] },
  { name: 'repeated slashes ignored', rules: [rule('/a//b', ['GET'], 'ab')], method: 'GET', path: '//a/b//', expected: ['ab'] },

  // `?`
  { name: '? matches one segment', rules: [rule('/users/?', ['GET'], 'user')], method: 'GET', path: '/users/42', expected: ['user'] },
  { name: '? does not match zero segments', rules: [rule('/users/?', ['GET'], 'user')], method: 'GET', path: '/users', expected: undefined },
  { name: '? does not match two segments', rules: [rule('/users/?', ['GET'], 'user')], method: 'GET', path: '/users/42/x', expected: undefined },
  { name: '? in the middle', rules: [rule('/users/?/edit', ['GET'], 'edit')], method: 'GET', path: '/users/42/edit', expected: ['edit'] },

  // `*`
  { name: 'trailing * matches one segment', rules: [rule('/a/*', ['GET'], 'a-any')], method: 'GET', path: '/a/b', expected: ['a-any'] },
  { name: 'trailing * matches many segments', rules: [rule('/a/*', ['GET'], 'a-any')], method: 'GET', path: '/a/b/c/d', expected: ['a-any'] },
  { name: 'trailing * matches none', rules: [rule('/a/*', ['GET'], 'a-any')], method: 'GET', path: '/a', expected: ['a-any'] },
  { name: 'trailing * matches none with trailing slash', rules: [rule('/a/*', ['GET'], 'a-any')], method: 'GET', path: '/a/', expected: ['a-any'] },
  { name: 'trailing * needs its prefix', rules: [rule('/a/*', ['GET'], 'a-any')], method: 'GET', path: '/b', expected: undefined },
  { name: 'root * matches root', rules: [rule('/*', ['GET'], 'all')], method: 'GET', path: '/', expected: ['all'] },
  { name: 'root * matches deep', rules: [rule('/*', ['GET'], 'all')], method: 'GET', path: '/x/y/z', expected: ['all'] },
  { name: 'middle * matches one segment', rules: [rule('/a/*/z', ['GET'], 'a-z')], method: 'GET', path: '/a/b/z', expected: ['a-z'] },
  { name: 'middle * matches many segments', rules: [rule('/a/*/z', ['GET'], 'a-z')], method: 'GET', path: '/a/b/c/z', expected: ['a-z'] },
  { name: 'middle * does not match none', rules: [rule('/a/*/z', ['GET'], 'a-z')], method: 'GET', path: '/a/z', expected: undefined },
  { name: 'middle * needs the tail', rules: [rule('/a/*/z', ['GET'], 'a-z')], method: 'GET', path: '/a/b/c', expected: undefined },
  { name: 'middle * must end on the tail', rules: [rule('/a/*/z', ['GET'], 'a-z')], method: 'GET', path: '/a/z/b', expected: undefined },
  { name: 'middle * with a repeated tail', rules: [rule('/a/*/z', ['GET'], 'a-z')], method: 'GET', path: '/a/z/z', expected: ['a-z'] },
  { name: 'two stars', rules: [rule('/*/x/*', ['GET'], 'x')], method: 'GET', path: '/p/q/x', expected: ['x'] },
  { name: 'trailing * after a middle *', rules: [rule('/a/*/b/*', ['GET'], 'ab')], method: 'GET', path: '/a/x/b', expected: ['ab'] },

  // Priority and backtracking
  { name: 'backtracks from ? to *', rules: backtracking, method: 'GET', path: '/a/b/d', expected: ['star-d'] },
  { name: 'prefers ? when it completes', rules: backtracking, method: 'GET', path: '/a/b/c', expected: ['question-c'] },
  { name: 'backtracks into a longer *', rules: backtracking, method: 'GET', path: '/a/b/c/d', expected: ['star-d'] },
  { name: 'no branch completes', rules: backtracking, method: 'GET', path: '/a/b/e', expected: undefined },
  {
    name: 'literal beats ?',
    rules: [rule('/a/?', ['GET'], 'question'), rule('/a/b', ['GET'], 'literal')],
    method: 'GET',
    path: '/a/b',
    expected: ['literal'],
  },
  {
    name: '? beats *',
    rules: [rule('/a/*', ['GET'], 'star'), rule('/a/?', ['GET'], 'question')],
    method: 'GET',
    path: '/a/b',
    expected: ['question'],
  },
  {
    name: 'exact end beats trailing * matching none',
    rules: [rule('/a/*', ['GET'], 'star'), rule('/a', ['GET'], 'exact')],
    method: 'GET',
    path: '/a',
    expected: ['exact'],
  },
  {
    name: 'shortest * first',
    rules: [rule('/a/*', ['GET'], 'star'), rule('/a/*/c', ['GET'], 'star-c')],
    method: 'GET',
    path: '/a/b/c',
    expected: ['star-c'],
  },
  {
    name: 'literal branch fails, backtracks to *',
    rules: [rule('/a/b/c', ['GET'], 'abc'), rule('/a/*', ['GET'], 'star')],
    method: 'GET',
    path: '/a/b/d',
    expected: ['star'],
  },
  {
    name: 'first complete match wins over a more specific later one',
    rules: [rule('/a/?/*', ['GET'], 'question-star'), rule('/a/*/c', ['GET'], 'star-c')],
    method: 'GET',
    path: '/a/b/c',
    expected: ['question-star'],
  },

  // Several rules with one pattern
  {
    name: 'same pattern and method returns every value',
    rules: [rule('/a', ['GET'], 'first'), rule('/a', ['get'], 'second'), rule('/b', ['GET'], 'other')],
    method: 'GET',
    path: '/a',
    expected: ['first', 'second'],
  },
  {
    name: 'same pattern, other method is not merged',
    rules: [rule('/a', ['GET'], 'get'), rule('/a', ['POST'], 'post')],
    method: 'POST',
    path: '/a',
    expected: ['post'],
  },
  {
    name: 'patterns equal after slash folding are merged',
    rules: [rule('/a/', ['GET'], 'slash'), rule('/a', ['GET'], 'plain')],
    method: 'GET',
    path: '/a',
    expected: ['slash', 'plain'],
  },
  {
    name: 'a rule listing GET and HEAD is not doubled for HEAD',
    rules: [rule('/a', ['GET', 'HEAD', 'get'], 'once')],
    method: 'HEAD',
    path: '/a',
    expected: ['once'],
  },

  // Methods
  { name: 'GET covers HEAD', rules: [rule('/a', ['GET'], 'a')], method: 'HEAD', path: '/a', expected: ['a'] },
  { name: 'HEAD does not cover GET', rules: [rule('/a', ['HEAD'], 'a')], method: 'GET', path: '/a', expected: undefined },
  { name: 'rule methods are case-insensitive', rules: [rule('/a', ['post'], 'a')], method: 'POST', path: '/a', expected: ['a'] },
  { name: 'request method is case-sensitive', rules: [rule('/a', ['GET'], 'a')], method: 'get', path: '/a', expected: undefined },
  { name: 'OPTIONS is an ordinary method', rules: [rule('/a', ['OPTIONS'], 'a')], method: 'OPTIONS', path: '/a', expected: ['a'] },
  { name: 'OPTIONS not covered by GET', rules: [rule('/a', ['GET'], 'a')], method: 'OPTIONS', path: '/a', expected: undefined },
  { name: 'method not in the rule', rules: [rule('/a', ['GET'], 'a')], method: 'DELETE', path: '/a', expected: undefined },
  { name: 'unknown method', rules: [rule('/*', ['GET', 'POST'], 'all')], method: 'BREW', path: '/a', expected: undefined },
  { name: 'rule without methods matches nothing', rules: [rule('/a', [], 'a')], method: 'GET', path: '/a', expected: undefined },
  { name: 'no rules at all', rules: [], method: 'GET', path: '/', expected: undefined },

  // Query strings
  { name: 'query string in path is ignored', rules: [rule('/a', ['GET'], 'a')], method: 'GET', path: '/a?x=/b', expected: ['a'] },
  { name: 'query string after a trailing slash', rules: [rule('/a', ['GET'], 'a')], method: 'GET', path: '/a/?x', expected: ['a'] },

  // Patterns in any spelling match the path the gateway forwards (its normaliser upper-cases hex, decodes unreserved)
  {
    name: "lower-case escapes in a pattern match the gateway's upper-case path",
    rules: [rule('/caf%c3%a9/*', ['GET'], 'cafe')],
    method: 'GET',
    path: '/caf%C3%A9/x',
    expected: ['cafe'],
  },
  {
    name: 'upper-case escapes in a pattern still match',
    rules: [rule('/caf%C3%A9/*', ['GET'], 'cafe')],
    method: 'GET',
    path: '/caf%C3%A9',
    expected: ['cafe'],
  },
  {
    name: 'an escaped unreserved character in a pattern matches it decoded',
    rules: [rule('/%7euser/?', ['GET'], 'user')],
    method: 'GET',
    path: '/~user/1',
    expected: ['user'],
  },
  {
    name: 'an escaped letter in a pattern matches the letter',
    rules: [rule('/%61dmin/*', ['GET'], 'admin')],
    method: 'GET',
    path: '/admin/x',
    expected: ['admin'],
  },
  { name: 'an escaped star is a literal, not the wildcard', rules: [rule('/%2a', ['GET'], 'star')], method: 'GET', path: '/x', expected: undefined },
  { name: 'an escaped star matches the escaped path', rules: [rule('/%2a', ['GET'], 'star')], method: 'GET', path: '/%2A', expected: ['star'] },
  {
    name: 'spellings of one pattern are one pattern',
    rules: [rule('/caf%c3%a9', ['GET'], 'lower'), rule('/caf%C3%A9', ['GET'], 'upper')],
    method: 'GET',
    path: '/caf%C3%A9',
    expected: ['lower', 'upper'],
  },

  // Patterns stored before validation refused them match nothing (every request they could match is refused at the gateway)
  { name: 'a stored pattern with ; matches nothing', rules: [rule('/admin;x/*', ['GET'], 'param')], method: 'GET', path: '/admin;x/y', expected: undefined },
  {
    name: 'a stored pattern with raw non-ASCII matches nothing',
    rules: [rule('/café/*', ['GET'], 'raw')],
    method: 'GET',
    path: '/café/x',
    expected: undefined,
  },
  {
    name: 'a stored pattern with a dot segment matches nothing',
    rules: [rule('/a/../b', ['GET'], 'dots')],
    method: 'GET',
    path: '/a/../b',
    expected: undefined,
  },
  { name: 'a stored pattern that is not UTF-8 matches nothing', rules: [rule('/%FF/*', ['GET'], 'ff')], method: 'GET', path: '/%FF/x', expected: undefined },
  {
    name: 'a refused stored pattern leaves the others working',
    rules: [rule('/admin;x/*', ['GET'], 'param'), rule('/admin/*', ['GET'], 'admin'), rule('/*', ['GET'], 'all')],
    method: 'GET',
    path: '/admin/x',
    expected: ['admin'],
  },

  // The demo rules
  { name: 'demo: public page', rules: demo, method: 'GET', path: '/public/hello', expected: ['public'] },
  { name: 'demo: public root', rules: demo, method: 'GET', path: '/public', expected: ['public'] },
  { name: 'demo: public deep', rules: demo, method: 'GET', path: '/public/a/b/c', expected: ['public'] },
  { name: 'demo: public via HEAD', rules: demo, method: 'HEAD', path: '/public/hello', expected: ['public'] },
  { name: 'demo: POST to public is private', rules: demo, method: 'POST', path: '/public/hello', expected: ['private'] },
  { name: 'demo: root', rules: demo, method: 'GET', path: '/', expected: ['private'] },
  { name: 'demo: anything deep', rules: demo, method: 'GET', path: '/anything/deep', expected: ['private'] },
  { name: 'demo: public prefix is not public', rules: demo, method: 'GET', path: '/publicity', expected: ['private'] },
  { name: 'demo: case differs is not public', rules: demo, method: 'GET', path: '/Public/hello', expected: ['private'] },
  { name: 'demo: PUT is not covered', rules: demo, method: 'PUT', path: '/', expected: undefined },
];

for (const { name, rules, method, path, expected } of cases) {
  test(`match: ${name} (${method} ${path})`, () => {
    assert.deepEqual(compileEndpoints(rules).match(method, path), expected);
  });
}

test('match returns a copy, not the compiled values', () => {
  const matcher = compileEndpoints([rule('/a', ['GET'], 'a')]);
  matcher.match('GET', '/a')?.push('injected');
  assert.deepEqual(matcher.match('GET', '/a'), ['a']);
});

test('paths deeper than the segment limit are refused', () => {
  const matcher = compileEndpoints([rule('/*', ['GET'], 'all')]);
  const atLimit = '/x'.repeat(MAX_PATH_SEGMENTS);
  assert.deepEqual(matcher.match('GET', atLimit), ['all']);
  assert.equal(matcher.match('GET', `${atLimit}/x`), undefined);
});

test('pathological backtracking stops at the step cap', () => {
  // The literal branch holds many stars and a tail that never matches: it is
  // searched first and would try every way to split the path between the
  // stars. Past the cap the answer is "no match" (a denial), even though the
  // later `/*` rule would have matched.
  const rules = [rule('/x/*/*/*/*/*/*/*/never', ['GET'], 'never'), rule('/*', ['GET'], 'fallback')];
  const matcher = compileEndpoints(rules);
  const started = performance.now();
  assert.equal(matcher.match('GET', '/x'.repeat(MAX_PATH_SEGMENTS)), undefined);
  assert.ok(performance.now() - started < 1000, 'search should give up quickly');
  assert.deepEqual(matcher.match('GET', '/x'.repeat(8)), ['fallback']);
});

test('remembered failures keep moderate backtracking below the cap', () => {
  // The literal branch fails after exploring many star splits; the fallback must still be found.
  const rules = [rule('/a/*/*/*/never', ['GET'], 'never'), rule('/*', ['GET'], 'fallback')];
  const path = `/a${'/x'.repeat(30)}`;
  assert.deepEqual(compileEndpoints(rules).match('GET', path), ['fallback']);
});

// An independent statement of SPEC §5 per pattern, to check the trie search
// (with its remembered failures) against: it must find a match exactly when
// some pattern matches, and only return values of a pattern that matches.
function patternMatches(pattern: string, path: string): boolean {
  const patternSegments = pattern.split('/').filter((s) => s !== '');
  const pathSegments = path.split('/').filter((s) => s !== '');
  const matchFrom = (p: number, s: number): boolean => {
    if (p === patternSegments.length) return s === pathSegments.length;
    const segment = patternSegments[p];
    if (segment === '*') {
      if (p === patternSegments.length - 1 && s === pathSegments.length) return true;
      for (let end = s + 1; end <= pathSegments.length; end++) if (matchFrom(p + 1, end)) return true;
      return false;
    }
    if (s === pathSegments.length) return false;
    return (segment === '?' || segment === pathSegments[s]) && matchFrom(p + 1, s + 1);
  };
  return matchFrom(0, 0);
}

test('agrees with a per-pattern reference on random rules and paths', () => {
  // A fixed linear congruential generator keeps the test reproducible.
  let seed = 12345;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const pick = <T>(items: readonly T[]): T => items[random(items.length)] as T;
  const randomPath = (alphabet: readonly string[]): string => '/' + Array.from({ length: random(6) }, () => pick(alphabet)).join('/');

  for (let round = 0; round < 500; round++) {
    const patterns = Array.from({ length: 1 + random(5) }, () => randomPath(['a', 'b', '?', '*']));
    const rules = patterns.map((uri, index) => rule(uri, ['GET'], String(index)));
    const matcher = compileEndpoints(rules);
    for (let probe = 0; probe < 10; probe++) {
      const path = randomPath(['a', 'b', 'c']);
      const found = matcher.match('GET', path);
      const anyMatches = patterns.some((pattern) => patternMatches(pattern, path));
      assert.equal(found !== undefined, anyMatches, `${JSON.stringify(patterns)} on ${path}`);
      for (const value of found ?? []) {
        assert.ok(patternMatches(patterns[Number(value)] as string, path), `${JSON.stringify(patterns)} on ${path} gave ${value}`);
      }
    }
  }
});

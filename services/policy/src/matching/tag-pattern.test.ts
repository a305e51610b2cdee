import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anyTagFits, compileTagPattern, tagFits, tagPatternProblem } from './tag-pattern.ts';

const fits: Array<{ pattern: string; tag: string; expected: boolean }> = [
  // Exact tags: as before.
  { pattern: 'email=alice@example.com', tag: 'email=alice@example.com', expected: true },
  { pattern: 'email=alice@example.com', tag: 'email=Alice@example.com', expected: false },
  { pattern: 'a=1', tag: 'a=10', expected: false },
  { pattern: 'a=', tag: 'a=', expected: true },
  { pattern: 'note=a=b', tag: 'note=a=b', expected: true },
  // `*` in the value.
  { pattern: 'email=*@example.com', tag: 'email=alice@example.com', expected: true },
  { pattern: 'email=*@example.com', tag: 'email=@example.com', expected: true },
  { pattern: 'email=*@example.com', tag: 'email=alice@example.com.evil.io', expected: false },
  { pattern: 'email=*@example.com', tag: 'email=alice@evil-example.com', expected: false },
  { pattern: 'email=*@example.com', tag: 'email=alice@EXAMPLE.com', expected: false },
  { pattern: 'email=*@example.com', tag: 'mail=alice@example.com', expected: false },
  { pattern: 'email=*@example.com', tag: 'xemail=alice@example.com', expected: false },
  { pattern: 'email=*@example.com', tag: 'email_verified=alice@example.com', expected: false },
  { pattern: 'email=*', tag: 'email=', expected: true },
  { pattern: 'email=*', tag: 'email=anything at all', expected: true },
  { pattern: 'email=*', tag: 'emails=x', expected: false },
  { pattern: 'email=*', tag: 'email', expected: false },
  { pattern: 'name=A*', tag: 'name=Alice', expected: true },
  { pattern: 'name=A*', tag: 'name=alice', expected: false },
  { pattern: 'name=*ce', tag: 'name=Alice', expected: true },
  { pattern: 'name=A*e', tag: 'name=Ae', expected: true },
  { pattern: 'name=A*e', tag: 'name=A', expected: false },
  { pattern: 'name=aa*aa', tag: 'name=aaa', expected: false },
  { pattern: 'name=aa*aa', tag: 'name=aaaa', expected: true },
  { pattern: 'x=*a*b*c*', tag: 'x=zzazzbzzc', expected: true },
  { pattern: 'x=*a*b*c*', tag: 'x=cba', expected: false },
  { pattern: 'x=a**b', tag: 'x=ab', expected: true },
  { pattern: 'x=*abab*', tag: 'x=aabababx', expected: true },
  { pattern: 'x=*abac*', tag: 'x=ababac', expected: true },
  { pattern: 'x=*aab*aab', tag: 'x=aab', expected: false },
  { pattern: 'x=*b*b', tag: 'x=bb', expected: true },
  { pattern: 'x=*b*b', tag: 'x=b', expected: false },
  { pattern: 'note=a=*', tag: 'note=a=b', expected: true },
  { pattern: 'note=*=b', tag: 'note=a=b', expected: true },
  { pattern: 'a:b=*', tag: 'a:b=c', expected: true },
  { pattern: '$name=web-*', tag: '$name=web-1', expected: true },
  // A tag is data: its `*` is a character, never a wildcard.
  { pattern: 'email=alice@example.com', tag: 'email=*', expected: false },
  { pattern: 'email=alice@example.com', tag: 'email=*@example.com', expected: false },
  { pattern: 'email=*@example.com', tag: 'email=*', expected: false },
  { pattern: 'email=*@example.com', tag: 'email=*@example.com', expected: true },
  { pattern: 'email=x*', tag: 'email=*', expected: false },
  // Non-ASCII compares by code unit, as exact tags do.
  { pattern: 'name=*é', tag: 'name=José', expected: true },
  { pattern: 'name=*😀*', tag: 'name=a😀b', expected: true },
  // Negations fit like the positive form; the expression turns the answer around.
  { pattern: 'groups!=admins', tag: 'groups=admins', expected: true },
  { pattern: 'groups!=admins', tag: 'groups!=admins', expected: false },
  { pattern: 'email!=*@contractor.example', tag: 'email=bob@contractor.example', expected: true },
];

for (const { pattern, tag, expected } of fits) {
  test(`tagFits: ${pattern} against ${tag} → ${expected}`, () => {
    const compiled = compileTagPattern(pattern);
    assert.equal(tagFits(compiled, tag), expected);
    assert.equal(anyTagFits(compiled, new Set(['other=1', tag, 'zzz=9'])), expected, 'among other tags');
  });
}

const shapes: Array<{ pattern: string; negated: boolean; exact?: string; glob: boolean }> = [
  { pattern: 'a=b', negated: false, exact: 'a=b', glob: false },
  { pattern: 'a!=b', negated: true, exact: 'a=b', glob: false },
  { pattern: 'a=b*', negated: false, glob: true },
  { pattern: 'a!=*', negated: true, glob: true },
  // What the API refuses keeps its old, exact meaning (objects stored earlier).
  { pattern: '!a=b', negated: false, exact: '!a=b', glob: false },
  { pattern: '!=b', negated: false, exact: '!=b', glob: false },
  { pattern: 'a!!=b', negated: false, exact: 'a!!=b', glob: false },
  { pattern: 'a*=b*', negated: false, exact: 'a*=b*', glob: false },
  { pattern: 'no-equals', negated: false, exact: 'no-equals', glob: false },
];

for (const { pattern, negated, exact, glob } of shapes) {
  test(`compileTagPattern: ${pattern}`, () => {
    const compiled = compileTagPattern(pattern);
    assert.equal(compiled.negated, negated);
    assert.equal(compiled.exact, exact);
    assert.equal(compiled.glob !== undefined, glob);
  });
}

const problems: Array<{ pattern: string; problem?: RegExp }> = [
  { pattern: 'email=alice@example.com' },
  { pattern: 'email=*@example.com' },
  { pattern: 'groups!=contractors' },
  { pattern: 'email!=*' },
  { pattern: 'a!b=c' },
  { pattern: 'ext:name=idp' },
  { pattern: '!groups=contractors', problem: /cannot start with !.*groups!=contractors/ },
  { pattern: '!=x', problem: /needs a key before !=/ },
  { pattern: 'a!!=x', problem: /more than one !/ },
  { pattern: '*=admin', problem: /\* in its key.*only in the value/ },
  { pattern: 'gro*ups=admin', problem: /\* in its key/ },
  { pattern: 'gro*ups!=admin', problem: /\* in its key/ },
];

for (const { pattern, problem } of problems) {
  test(`tagPatternProblem: ${pattern} → ${problem ?? 'none'}`, () => {
    const found = tagPatternProblem(pattern);
    if (problem) assert.match(found ?? '', problem);
    else assert.equal(found, undefined);
  });
}

test('matching is linear: pathological patterns against long adversarial values take milliseconds', () => {
  const long = 'a'.repeat(200_000);
  const cases = [
    // Backtracking glob matchers and regular expressions built from these take exponential or quadratic time.
    { pattern: `x=${'*a'.repeat(50)}*b`, tag: `x=${long}` },
    { pattern: `x=${'*a'.repeat(50)}*b*`, tag: `x=${long}` },
    { pattern: `x=*${'a'.repeat(1000)}b*`, tag: `x=${long}` },
    { pattern: `x=${'a*'.repeat(200)}b`, tag: `x=${long}` },
    { pattern: `x=*${'ab'.repeat(500)}c`, tag: `x=${'ab'.repeat(100_000)}` },
  ];
  for (const { pattern, tag } of cases) {
    const compiled = compileTagPattern(pattern);
    const started = performance.now();
    assert.equal(tagFits(compiled, tag), false);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 200, `${pattern.slice(0, 40)}…: ${elapsed.toFixed(1)} ms`);
  }
  // And they still match when they should.
  assert.equal(tagFits(compileTagPattern(`x=${'*a'.repeat(50)}*`), `x=${long}`), true);
});

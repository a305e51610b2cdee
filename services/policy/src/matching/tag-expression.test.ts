import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileTagExpression, matchesTagExpression, type TagExpression } from './tag-expression.ts';

const cases: Array<{ name: string; expression: TagExpression; tags: string[]; expected: boolean }> = [
  { name: 'empty expression matches nothing', expression: [], tags: ['a=1'], expected: false },
  { name: 'empty expression with no tags', expression: [], tags: [], expected: false },
  { name: 'empty inner list matches nothing', expression: [[]], tags: ['a=1'], expected: false },
  { name: 'empty inner list beside a failing one', expression: [[], ['b=2']], tags: ['a=1'], expected: false },
  { name: 'empty inner list beside a matching one', expression: [[], ['a=1']], tags: ['a=1'], expected: true },
  { name: 'single tag present', expression: [['a=1']], tags: ['a=1'], expected: true },
  { name: 'single tag absent', expression: [['a=1']], tags: ['a=2'], expected: false },
  { name: 'no tags at all', expression: [['a=1']], tags: [], expected: false },
  { name: 'AND: all present', expression: [['a=1', 'b=2']], tags: ['b=2', 'a=1', 'c=3'], expected: true },
  { name: 'AND: one missing', expression: [['a=1', 'b=2']], tags: ['a=1'], expected: false },
  { name: 'OR: first list', expression: [['a=1', 'b=2'], ['c=3']], tags: ['a=1', 'b=2'], expected: true },
  { name: 'OR: second list', expression: [['a=1', 'b=2'], ['c=3']], tags: ['c=3'], expected: true },
  { name: 'OR: neither list complete', expression: [['a=1', 'b=2'], ['c=3']], tags: ['a=1', 'd=4'], expected: false },
  { name: 'case-sensitive value', expression: [['group=Admins']], tags: ['group=admins'], expected: false },
  { name: 'case-sensitive key', expression: [['Group=admins']], tags: ['group=admins'], expected: false },
  { name: 'exact, not a prefix', expression: [['a=1']], tags: ['a=10'], expected: false },
  { name: 'exact, not a substring', expression: [['a=1']], tags: ['xa=1'], expected: false },
  { name: 'no whitespace trimming', expression: [['a=1 ']], tags: ['a=1'], expected: false },
  { name: 'repeated tag in a list', expression: [['a=1', 'a=1']], tags: ['a=1'], expected: true },
  { name: 'system tag', expression: [['$identity=processingunit']], tags: ['$identity=processingunit'], expected: true },
  // Wildcards in values (SPEC §1.2).
  { name: 'wildcard value', expression: [['email=*@example.com']], tags: ['email=alice@example.com'], expected: true },
  { name: 'wildcard value, another domain', expression: [['email=*@example.com']], tags: ['email=alice@example.org'], expected: false },
  { name: 'wildcard: has the key at all', expression: [['email=*']], tags: ['name=x', 'email=x'], expected: true },
  { name: 'wildcard: lacks the key', expression: [['email=*']], tags: ['name=x', 'email_verified=true'], expected: false },
  { name: 'wildcard fits one of several values', expression: [['groups=eng-*']], tags: ['groups=ops', 'groups=eng-web'], expected: true },
  { name: 'wildcard AND exact', expression: [['email=*@example.com', 'email_verified=true']], tags: ['email=a@example.com'], expected: false },
  { name: 'a claim value with * is data', expression: [['email=alice@example.com']], tags: ['email=*'], expected: false },
  { name: 'a claim value with * is data (wildcard)', expression: [['email=*@example.com']], tags: ['email=*'], expected: false },
  // Negations.
  { name: 'negation: tag absent', expression: [['email=*@example.com', 'groups!=contractors']], tags: ['email=a@example.com', 'groups=eng'], expected: true },
  {
    name: 'negation: tag present',
    expression: [['email=*@example.com', 'groups!=contractors']],
    tags: ['email=a@example.com', 'groups=eng', 'groups=contractors'],
    expected: false,
  },
  { name: 'negation with a wildcard', expression: [['sub=*', 'email!=*@contractor.example']], tags: ['sub=1', 'email=x@contractor.example'], expected: false },
  {
    name: 'negation with a wildcard, other domain',
    expression: [['sub=*', 'email!=*@contractor.example']],
    tags: ['sub=1', 'email=x@example.com'],
    expected: true,
  },
  { name: 'negated wildcard: no email at all', expression: [['sub=*', 'email!=*']], tags: ['sub=1'], expected: true },
  { name: 'negated wildcard: an empty email counts', expression: [['sub=*', 'email!=*']], tags: ['sub=1', 'email='], expected: false },
  { name: 'negation only matches nothing', expression: [['groups!=contractors']], tags: [], expected: false },
  { name: 'negations only match nothing', expression: [['a!=1', 'b!=2']], tags: ['c=3'], expected: false },
  { name: 'negation-only list beside a matching one', expression: [['groups!=contractors'], ['c=3']], tags: ['c=3'], expected: true },
  { name: 'negation refuses in its own list only', expression: [['a=1', 'b!=2'], ['c=3']], tags: ['a=1', 'b=2', 'c=3'], expected: true },
  { name: 'a literal ! tag in the set is data', expression: [['a=1', 'b!=2']], tags: ['a=1', 'b!=2'], expected: true },
  // Patterns the API refuses keep their old, exact meaning (stored objects).
  { name: 'stored !key=value is an exact tag', expression: [['!groups=x']], tags: ['!groups=x'], expected: true },
  { name: 'stored !key=value does not negate', expression: [['a=1', '!groups=x']], tags: ['a=1'], expected: false },
  { name: 'stored * in a key is a character', expression: [['a*=1']], tags: ['ab=1'], expected: false },
  { name: 'stored * in a key matches itself', expression: [['a*=1']], tags: ['a*=1'], expected: true },
];

for (const { name, expression, tags, expected } of cases) {
  test(`matchesTagExpression: ${name}`, () => {
    assert.equal(matchesTagExpression(expression, tags), expected, 'with an array');
    assert.equal(matchesTagExpression(expression, new Set(tags)), expected, 'with a set');
    assert.equal(compileTagExpression(expression).matches(new Set(tags)), expected, 'compiled');
  });
}

test('an expression is compiled once and reused', () => {
  const expression = [['email=*@example.com']];
  assert.equal(matchesTagExpression(expression, ['email=a@example.com']), true);
  assert.equal(matchesTagExpression(expression, ['email=b@example.org']), false);
  const compiled = compileTagExpression(expression);
  assert.equal(compiled.matches(new Set(['email=c@example.com'])), true);
});

test('many wildcard patterns against many long tags stay fast', () => {
  const expression = [Array.from({ length: 20 }, (_, i) => `k${i}=*${'a'.repeat(100)}b*`)];
  const tags = new Set(Array.from({ length: 20 }, (_, i) => `k${i}=${'a'.repeat(20_000)}`));
  const started = performance.now();
  assert.equal(matchesTagExpression(expression, tags), false);
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 200, `${elapsed.toFixed(1)} ms`);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchesTagExpression, type TagExpression } from './tag-expression.ts';

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
];

for (const { name, expression, tags, expected } of cases) {
  test(`matchesTagExpression: ${name}`, () => {
    assert.equal(matchesTagExpression(expression, tags), expected, 'with an array');
    assert.equal(matchesTagExpression(expression, new Set(tags)), expected, 'with a set');
  });
}

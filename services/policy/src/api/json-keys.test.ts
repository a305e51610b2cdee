import { test } from 'node:test';
import assert from 'node:assert/strict';
import { duplicateKey } from './json-keys.ts';

test('duplicate keys are found in any object, after unescaping', () => {
  const cases: Array<[string, string | undefined]> = [
    ['{"name":"a","name":"b"}', 'name'],
    ['{"name":"a","\\u006eame":"b"}', 'name'],
    ['{"a":{"x":1,"y":2,"x":3}}', 'x'],
    ['{"endpoints":[{"URI":"/","methods":["GET"],"URI":"/admin"}]}', 'URI'],
    ['[{"a":1},{"a":2,"b":{"c":[1,{"d":1,"d":2}]}}]', 'd'],
    ['{"__proto__":1,"__proto__":2}', '__proto__'],
    ['{"a\\"b":1,"a\\"b":2}', 'a"b'],
    // Not duplicates: the same key in sibling or nested objects, keys equal to values, strings with structure.
    ['{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}', undefined],
    ['{"a":"a","b":"a"}', undefined],
    ['{"a":"{\\"a\\":1,\\"a\\":2}","b":"[,\\"a\\""}', undefined],
    ['{"A":1,"a":2}', undefined],
    ['[]', undefined],
    ['"x"', undefined],
    ['{}', undefined],
  ];
  for (const [text, expected] of cases) {
    JSON.parse(text);
    assert.equal(duplicateKey(text), expected, text);
  }
});

test('deep nesting within the body limit does not overflow the stack', () => {
  const depth = 400_000;
  const text = `${'['.repeat(depth)}{"a":1,"a":2}${']'.repeat(depth)}`;
  assert.equal(duplicateKey(text), 'a');
});

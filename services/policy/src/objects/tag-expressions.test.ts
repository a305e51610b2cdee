import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ObjectKind } from '@microseg/contracts';
import { parseObjectEntry } from '../stored-entries.ts';
import { validateObject } from './schema.ts';
import { NEGATIONS_ONLY_MESSAGE } from './tag-expressions.ts';

const endpoint = (allowedScopes: unknown, key = 'allowedScopes') => ({ endpoints: [{ URI: '/a', methods: ['GET'], [key]: allowedScopes }] });
const bases: Record<string, { kind: ObjectKind; body: Record<string, unknown> }> = {
  spec: { kind: 'httpresourcespec', body: { name: 'spec', namespace: '/a' } },
  policy: { kind: 'networkaccesspolicy', body: { name: 'p', namespace: '/a', subject: [['app=web']], object: [['ext:name=idp']] } },
  service: { kind: 'service', body: { name: 's', namespace: '/a', hosts: ['localhost'], port: 3000, exposedPort: 8443 } },
};

const accepted: Array<{ name: string; base: keyof typeof bases; input: Record<string, unknown> }> = [
  { name: 'a wildcard value', base: 'spec', input: endpoint([['email=*@example.com']]) },
  { name: 'a bare wildcard', base: 'spec', input: endpoint([['email=*']]) },
  { name: 'a negation beside a positive', base: 'spec', input: endpoint([['email=*@example.com', 'groups!=contractors']]) },
  { name: 'a negated wildcard beside a positive', base: 'spec', input: endpoint([['sub=*', 'email!=*@contractor.example']]) },
  { name: 'the scopes alias with a negation', base: 'spec', input: endpoint([['hd=example.com', 'groups!=interns']], 'scopes') },
  { name: 'an empty inner list (matches nothing, as before)', base: 'spec', input: endpoint([[]]) },
  { name: 'a nested claim tag', base: 'spec', input: endpoint([['address:country=FR']]) },
  { name: 'a wildcard in a policy subject', base: 'policy', input: { subject: [['$identity=processingunit', 'app=web-*']] } },
  { name: 'a negation in a policy object', base: 'policy', input: { object: [['ext:name=*', 'ext:name!=corp']] } },
  { name: 'a wildcard in selectors', base: 'service', input: { selectors: [['type=walkthrough-*']] } },
  { name: 'a negation in exposedAPIs', base: 'service', input: { exposedAPIs: [['app=*', 'stage!=draft']] } },
  { name: 'associatedTags are data: * and ! are characters', base: 'spec', input: { associatedTags: ['!odd=*', 'x*=y'] } },
];

for (const { name, base, input } of accepted) {
  test(`accepted: ${name}`, () => {
    const result = validateObject(bases[base]!.kind, { ...bases[base]!.body, ...input });
    assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
  });
}

const refused: Array<{ name: string; base: keyof typeof bases; input: Record<string, unknown>; errors: Array<[string, RegExp]> }> = [
  {
    name: 'a list of one negation',
    base: 'spec',
    input: endpoint([['groups!=contractors']]),
    errors: [['endpoints[0].allowedScopes[0]', /only negations.*add a tag that must be present/]],
  },
  {
    name: 'a list of negations, the second list',
    base: 'spec',
    input: endpoint([['a=1'], ['groups!=contractors', 'email!=*']]),
    errors: [['endpoints[0].allowedScopes[1]', /only negations/]],
  },
  {
    name: 'a negation-only list through the scopes alias',
    base: 'spec',
    input: endpoint([['email!=*@contractor.example']], 'scopes'),
    errors: [['endpoints[0].scopes[0]', /only negations/]],
  },
  { name: 'a leading !', base: 'spec', input: endpoint([['a=1', '!groups=x']]), errors: [['endpoints[0].allowedScopes[0][1]', /groups!=contractors/]] },
  { name: 'a * in a key', base: 'spec', input: endpoint([['*=admin']]), errors: [['endpoints[0].allowedScopes[0][0]', /only in the value/]] },
  { name: 'a negation without a key', base: 'spec', input: endpoint([['a=1', '!=x']]), errors: [['endpoints[0].allowedScopes[0][1]', /needs a key/]] },
  { name: 'two ! before =', base: 'spec', input: endpoint([['a=1', 'b!!=x']]), errors: [['endpoints[0].allowedScopes[0][1]', /more than one !/]] },
  {
    name: 'an empty pattern (what YAML makes of an unquoted !groups=x)',
    base: 'spec',
    input: endpoint([['a=1', '']]),
    errors: [['endpoints[0].allowedScopes[0][1]', /is empty.*YAML tag.*key!=value/]],
  },
  {
    name: 'a space in a key, with a * too: one error',
    base: 'spec',
    input: endpoint([['a=1', 'my *=x']]),
    errors: [['endpoints[0].allowedScopes[0][1]', /key=value/]],
  },
  { name: 'a negation-only policy subject', base: 'policy', input: { subject: [['app!=web']] }, errors: [['subject[0]', /only negations/]] },
  { name: 'a negation-only policy object', base: 'policy', input: { object: [['ext:name!=corp']] }, errors: [['object[0]', /only negations/]] },
  { name: 'negation-only selectors', base: 'service', input: { selectors: [['type!=x']] }, errors: [['selectors[0]', /only negations/]] },
  { name: 'a * key in exposedAPIs', base: 'service', input: { exposedAPIs: [['a*=b']] }, errors: [['exposedAPIs[0][0]', /in its key/]] },
  {
    name: 'every problem at once',
    base: 'policy',
    input: { subject: [['x!=1'], ['*=y']], object: [['!o=1', 'p=2']] },
    errors: [
      ['object[0][0]', /cannot start with !/],
      ['subject[0]', /only negations/],
      ['subject[1][0]', /in its key/],
    ],
  },
];

for (const { name, base, input, errors } of refused) {
  test(`refused: ${name}`, () => {
    const result = validateObject(bases[base]!.kind, { ...bases[base]!.body, ...input });
    assert.ok(!result.ok, 'refused');
    const found = [...result.errors].sort((a, b) => a.attribute.localeCompare(b.attribute));
    assert.deepEqual(
      found.map((e) => e.attribute),
      errors.map(([attribute]) => attribute),
    );
    for (const [i, [, message]] of errors.entries()) assert.match(found[i]!.message, message);
  });
}

test('the negation-only message says why and what to write', () => {
  assert.match(NEGATIONS_ONLY_MESSAGE, /everyone/);
  assert.match(NEGATIONS_ONLY_MESSAGE, /email_verified=true/);
});

test('stored objects are read with the rules they were written under: nothing is lost', () => {
  // A Reject policy from before negations and wildcards: its second list must keep working.
  const stored = {
    kind: 'networkaccesspolicy',
    ID: 'p1',
    name: 'reject-legacy',
    namespace: '/a',
    action: 'Reject',
    subject: [['groups!=x'], ['!odd=1', 'app=web'], ['a*=1']],
    object: [['ext:name=idp']],
  };
  const parsed = parseObjectEntry('networkaccesspolicy.p1', JSON.stringify(stored));
  assert.ok(parsed.ok, !parsed.ok ? parsed.problem : '');
  assert.deepEqual((parsed.value as unknown as { subject: unknown }).subject, stored.subject);
  // Through the API the same object is refused.
  const { kind: _kind, ID: _id, ...input } = stored;
  const result = validateObject('networkaccesspolicy', input);
  assert.ok(!result.ok);
  assert.deepEqual(result.errors.map((e) => e.attribute).sort(), ['subject[0]', 'subject[1][0]', 'subject[2][0]']);
});

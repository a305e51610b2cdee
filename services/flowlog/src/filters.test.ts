// Unit: the tables' field filters — parsing `key=value` / `key!=value` against a route's fields, and
// matching records (includes of one field or'ed, fields and'ed, excludes always applied).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventFields, filterText, flowFields, matcher, MAX_FILTER_LENGTH, parseFilter, type FieldFilter } from './filters.ts';
import type { StoredEvent, StoredFlow } from './records.ts';

const NS = '/acme/team-b/dev/private-app';

function flow(fields: Partial<StoredFlow> = {}): StoredFlow {
  return {
    namespace: NS,
    source: { type: 'Claims', id: 'alice@example.com', name: 'alice@example.com', ip: '203.0.113.7', namespace: '' },
    destination: { type: 'ProcessingUnit', id: 'nginx', name: 'nginx', ip: '127.0.0.1', port: 3000, namespace: NS },
    serviceID: 'svc-1',
    URI: 'GET /',
    action: 'Accept',
    dropReason: '',
    policyID: 'spec-1',
    policyName: 'private-app-api',
    byDefault: false,
    user: 'alice@example.com',
    minute: 0,
    count: 1,
    firstSeen: 0,
    lastSeen: 0,
    ...fields,
  };
}

function event(fields: Partial<StoredEvent> = {}): StoredEvent {
  return {
    id: 'e1',
    time: 1,
    level: 'Info',
    category: 'processingunit',
    title: 'Processing unit registered',
    content: 'Processing unit nginx at 127.0.0.1 was registered.',
    targetIdentity: 'processingunit',
    targetID: 'pu-1',
    namespace: NS,
    origin: 'policy',
    ...fields,
  };
}

const parse = (text: string) => parseFilter(text, flowFields);
const filters = (...texts: string[]) => texts.map((t) => parseFilter(t, flowFields) as FieldFilter);

test('parse: key=value and key!=value; the value may hold = and may be empty', () => {
  assert.deepEqual(parse('user=bob@example.com'), { field: 'user', value: 'bob@example.com', exclude: false });
  assert.deepEqual(parse('user!=bob@example.com'), { field: 'user', value: 'bob@example.com', exclude: true });
  assert.deepEqual(parse('URI=GET /a?b=c'), { field: 'URI', value: 'GET /a?b=c', exclude: false });
  assert.deepEqual(parse('dropReason='), { field: 'dropReason', value: '', exclude: false });
  assert.deepEqual(parse('destination.port!=3000'), { field: 'destination.port', value: '3000', exclude: true });
  assert.equal(filterText(parse('URI!=GET /a=b') as FieldFilter), 'URI!=GET /a=b');
});

test('parse: unknown fields, prototype names, no key, too long — each an error that quotes the input safely', () => {
  for (const text of ['nope=1', '__proto__=x', 'constructor=x', 'toString!=x', 'source=x', 'recursive=true', 'Namespace=/acme']) {
    const parsed = parse(text);
    assert.ok('error' in parsed, text);
    assert.match(parsed.error, /^unknown field "/, text);
  }
  assert.match((parse('novalue') as { error: string }).error, /is not key=value or key!=value/);
  assert.match((parse('=x') as { error: string }).error, /is not key=value/);
  assert.match((parse('!=x') as { error: string }).error, /unknown field ""/);
  assert.match((parse(`user=${'x'.repeat(MAX_FILTER_LENGTH)}`) as { error: string }).error, /at most 300 characters/);
  const hostile = parse('<script>alert(1)</script>"onmouseover="x=1');
  assert.ok('error' in hostile);
  assert.ok(hostile.error.startsWith('unknown field "<script>alert(1)</script>\\"onmouseover'), hostile.error);
  assert.ok('error' in parseFilter('user=x', eventFields), 'a flow field is not an event field');
});

test('match: one include keeps the records with that value; an exclude drops them', () => {
  const alice = flow();
  const bob = flow({ user: 'bob@example.com', action: 'Reject', dropReason: 'api' });
  const only = (...texts: string[]) => [alice, bob].filter(matcher(flowFields, filters(...texts))).map((f) => f.user);
  assert.deepEqual(only(), ['alice@example.com', 'bob@example.com']);
  assert.deepEqual(only('user=bob@example.com'), ['bob@example.com']);
  assert.deepEqual(only('user!=bob@example.com'), ['alice@example.com']);
  assert.deepEqual(only('dropReason='), ['alice@example.com'], 'an empty value matches the empty field');
  assert.deepEqual(only('action=Reject', 'dropReason=api'), ['bob@example.com'], 'fields and');
  assert.deepEqual(only('action=Accept', 'dropReason=api'), [], 'fields and');
  assert.deepEqual(only('user=alice@example.com', 'user=bob@example.com'), ['alice@example.com', 'bob@example.com'], 'one field or');
  assert.deepEqual(only('user=alice@example.com', 'user!=alice@example.com'), [], 'an exclude wins');
  assert.deepEqual(only('byDefault=false', 'destination.port=3000'), ['alice@example.com', 'bob@example.com'], 'booleans and numbers as text');
  assert.deepEqual(only('user=Alice@example.com'), [], 'exact: case counts');
});

test('match: processingUnit is the processing unit on either side, by name', () => {
  const incoming = flow();
  const outgoing = flow({
    source: { type: 'ProcessingUnit', id: 'nginx', name: 'nginx', ip: '127.0.0.1', namespace: NS },
    destination: { type: 'ExternalNetwork', id: 'demo-idp', name: 'demo-idp', ip: '127.0.0.1', port: 9400, namespace: '' },
  });
  const other = flow({ destination: { type: 'ProcessingUnit', id: 'other', name: 'other', ip: '', port: 1, namespace: NS } });
  const named = flow({ destination: { type: 'ExternalNetwork', id: 'nginx', name: 'nginx', ip: '', port: 1, namespace: NS } });
  const keep = matcher(flowFields, filters('processingUnit=nginx'));
  assert.deepEqual(
    [incoming, outgoing, other, named].map((f) => keep(f)),
    [true, true, false, false],
  );
  const drop = matcher(flowFields, filters('processingUnit!=nginx'));
  assert.deepEqual(
    [incoming, outgoing, other].map((f) => drop(f)),
    [false, false, true],
  );
});

test('match: events by target, level, namespace', () => {
  const registered = event();
  const login = event({ id: 'e2', level: 'Warning', category: 'authn', targetIdentity: 'service', targetID: 'svc-1', title: 'Login failed' });
  const pick = (...texts: string[]) =>
    [registered, login]
      .filter(
        matcher(
          eventFields,
          texts.map((t) => parseFilter(t, eventFields) as FieldFilter),
        ),
      )
      .map((e) => e.id);
  assert.deepEqual(pick('targetID=pu-1'), ['e1']);
  assert.deepEqual(pick('level!=Info'), ['e2']);
  assert.deepEqual(pick('namespace=/elsewhere'), []);
  assert.deepEqual(pick('title=Login failed', 'category=authn'), ['e2']);
});

test('a filter naming a field the table does not have is a programming error, not a silent pass', () => {
  assert.throws(() => matcher(flowFields, [{ field: 'nope', value: 'x', exclude: false }]), /unknown filter field/);
});

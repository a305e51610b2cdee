// Unit (pure): the records flowlog keeps and serves, made from the protobuf events — every field carried over
// under its API name, flows put in their minute, secrets redacted a second time (whatever an emitter let
// through), and the namespace selection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { FlowEventSchema, LogEventSchema, type FlowEvent } from '@microseg/proto/events';
import { eventRecordOf, flowRecordOf, inNamespace, liveFlowOf, MINUTE_MS, redactSecrets } from './records.ts';

const MINUTE = 29_000_000 * MINUTE_MS;

/** A complete decision event; `fields` overrides its scalars. */
const flow = (fields: Partial<Pick<FlowEvent, 'timeMs' | 'uri' | 'count'>> = {}): FlowEvent =>
  Object.assign(
    create(FlowEventSchema, {
      id: 'f-1',
      timeMs: BigInt(MINUTE + 59_999),
      namespace: '/acme',
      source: { type: 'External', id: 'alice', name: 'alice@example.com', ip: '203.0.113.7', namespace: '/acme' },
      destination: { type: 'ProcessingUnit', id: 'pu-1', name: 'web', ip: '10.0.0.1', port: 443, namespace: '/acme/dev' },
      serviceId: 'svc-1',
      uri: 'GET /orders',
      action: 'Reject',
      dropReason: 'PolicyDrop',
      policyId: 'p-1',
      policyName: 'deny-all',
      user: 'alice@example.com',
      statusCode: 403,
      requestId: 'req-1',
      traceId: 'trace-1',
      byDefault: true,
      count: 3,
    }),
    fields,
  );

test('flowRecordOf: every field under its API name, the time rounded down to its minute', () => {
  assert.deepEqual(flowRecordOf(flow()), {
    namespace: '/acme',
    source: { type: 'External', id: 'alice', name: 'alice@example.com', ip: '203.0.113.7', namespace: '/acme' },
    destination: { type: 'ProcessingUnit', id: 'pu-1', name: 'web', ip: '10.0.0.1', port: 443, namespace: '/acme/dev' },
    serviceID: 'svc-1',
    URI: 'GET /orders',
    action: 'Reject',
    dropReason: 'PolicyDrop',
    policyID: 'p-1',
    policyName: 'deny-all',
    byDefault: true,
    user: 'alice@example.com',
    minute: MINUTE,
  });
  assert.equal(flowRecordOf(flow({ timeMs: BigInt(MINUTE + MINUTE_MS) })).minute, MINUTE + MINUTE_MS, 'the next minute starts a new aggregate');
});

test('flowRecordOf: an event without its parties gets empty ones, not a crash', () => {
  const record = flowRecordOf(create(FlowEventSchema, { id: 'f', timeMs: 5n }));
  assert.deepEqual(record.source, { type: '', id: '', name: '', ip: '', namespace: '' });
  assert.deepEqual(record.destination, { type: '', id: '', name: '', ip: '', port: 0, namespace: '' });
  assert.equal(record.minute, 0);
});

test("flowRecordOf: a request's credentials in the URI are not kept", () => {
  const record = flowRecordOf(flow({ uri: 'GET /aporeto/oidc/callback?code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj' }));
  assert.equal(record.URI, 'GET /aporeto/oidc/callback?code=[redacted]&state=[redacted]');
});

test('liveFlowOf: the record plus id, exact time, status and how many decisions it stands for (at least one)', () => {
  const live = liveFlowOf(flow());
  assert.deepEqual([live.id, live.time, live.statusCode, live.count, live.minute], ['f-1', MINUTE + 59_999, 403, 3, MINUTE]);
  assert.equal(liveFlowOf(flow({ count: 0 })).count, 1, '0 means one');
});

test('eventRecordOf: the API fields, id first (it orders events of one millisecond), title and content redacted', () => {
  const event = create(LogEventSchema, {
    id: 'e-1',
    timeMs: 1_700_000_000_123n,
    level: 'Error',
    category: 'authn',
    title: 'Login failed',
    content: 'token endpoint said no to code=abcdef',
    targetIdentity: 'service',
    targetId: 'svc-1',
    namespace: '/acme',
    origin: 'authn',
    traceId: 'not kept',
  });
  const record = eventRecordOf(event);
  assert.deepEqual(record, {
    id: 'e-1',
    time: 1_700_000_000_123,
    level: 'Error',
    category: 'authn',
    title: 'Login failed',
    content: 'token endpoint said no to code=[redacted]',
    targetIdentity: 'service',
    targetID: 'svc-1',
    namespace: '/acme',
    origin: 'authn',
  });
  assert.equal(Object.keys(record)[0], 'id');
  assert.ok(JSON.stringify(record).startsWith('{"id":'));
});

const jwt = `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from('{"sub":"alice"}').toString('base64url')}.c2lnbmF0dXJl`;
const redactions: Array<[string, string]> = [
  [`token mst_0123456789abcdef_${'A'.repeat(32)} used`, 'token mst_[redacted] used'],
  [`id_token ${jwt} expired`, 'id_token [redacted JWT] expired'],
  ['Authorization: Bearer abc.def-ghi_jkl', 'Authorization: Bearer [redacted]'],
  ['authorization: basic dXNlcjpwYXNzd29yZA==', 'authorization: basic [redacted]'],
  ['?code=x&state=y&access_token=z', '?code=[redacted]&state=[redacted]&access_token=[redacted]'],
  [
    'id_token=a; refresh_token=b, client_secret=c "password=d"',
    'id_token=[redacted]; refresh_token=[redacted], client_secret=[redacted] "password=[redacted]"',
  ],
  ['Cookie: __Host-microseg=t1; __Host-microseg-login=t2', 'Cookie: __Host-microseg=[redacted]; __Host-microseg-login=[redacted]'],
  ['CODE=upper Code=mixed', 'CODE=[redacted] Code=[redacted]'],
  ['code=first and code=second', 'code=[redacted] and code=[redacted]'],
];

for (const [input, expected] of redactions) {
  test(`redactSecrets: ${input.slice(0, 40)}`, () => {
    assert.equal(redactSecrets(input), expected);
  });
}

test('redactSecrets leaves ordinary text alone', () => {
  for (const text of [
    'GET /orders?page=2&sort=asc',
    'zipcode=12345 and barcode=7',
    'a Bearer token was refused',
    'mst_short',
    'no policy allows processing units with app=web to reach idp.example.com:443',
  ]) {
    assert.equal(redactSecrets(text), text);
  }
});

test('inNamespace: every namespace when none is named; the namespace itself; its subtree only when recursive', () => {
  assert.equal(inNamespace('/anything', undefined, false), true);
  assert.equal(inNamespace('/acme', '/acme', false), true);
  assert.equal(inNamespace('/acme/dev', '/acme', false), false);
  assert.equal(inNamespace('/acme/dev', '/acme', true), true);
  assert.equal(inNamespace('/acmeco', '/acme', true), false);
  assert.equal(inNamespace('/acme', '/acme/dev', true), false, 'not upwards');
  assert.equal(inNamespace('/acme', '/', true), true);
  assert.equal(inNamespace('/acme', '/', false), false);
});

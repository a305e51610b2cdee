// What a 200 carries for the ingress to copy onto the application's request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allowHeaders, ENVOY_HEADERS_TO_REMOVE } from './allow.ts';

const route = {
  claimsToHttpHeaderMappings: [
    { claimName: 'email', targetHttpHeader: 'X-User-Email' },
    { claimName: 'groups', targetHttpHeader: 'X-User-Groups' },
    { claimName: 'hd', targetHttpHeader: 'X-User-Domain' },
  ],
} as Parameters<typeof allowHeaders>[0]['route'];
const alice = { subject: 'alice@example.com', tags: ['email=alice@example.com', 'groups=admins', 'groups=dev', 'evil=x\ny'] };

test("the session's mapped claims; the Cookie header without microseg's cookies", () => {
  const headers = allowHeaders({
    mode: 'nginx',
    route,
    session: alice,
    cookie: 'a=1; __Host-microseg=ticket; __Host-microseg-login=b; theme=dark',
    assertion: 'jwt',
  });
  assert.deepEqual(headers, {
    'x-user-email': 'alice@example.com',
    'x-user-groups': 'admins, dev',
    'x-microseg-jwt-assertion': 'jwt',
    cookie: 'a=1; theme=dark',
  });
});

test('no session (a public endpoint): no identity header at all; no cookie left: no Cookie header', () => {
  assert.deepEqual(allowHeaders({ mode: 'traefik', route, session: undefined, cookie: '__Host-microseg=ticket', assertion: undefined }), {});
  assert.deepEqual(allowHeaders({ mode: 'nginx', route, session: undefined, cookie: undefined, assertion: undefined }), {});
});

test("Envoy: the mapped headers without a value and an emptied Cookie are named for removal (Envoy keeps a client's copy otherwise)", () => {
  assert.deepEqual(allowHeaders({ mode: 'envoy', route, session: alice, cookie: '__Host-microseg=ticket', assertion: 'jwt' }), {
    'x-user-email': 'alice@example.com',
    'x-user-groups': 'admins, dev',
    'x-microseg-jwt-assertion': 'jwt',
    [ENVOY_HEADERS_TO_REMOVE]: 'x-user-domain, cookie',
  });
  assert.deepEqual(allowHeaders({ mode: 'envoy', route, session: undefined, cookie: 'a=1', assertion: undefined }), {
    cookie: 'a=1',
    [ENVOY_HEADERS_TO_REMOVE]: 'x-user-email, x-user-groups, x-user-domain, x-microseg-jwt-assertion',
  });
});

test('a claim value with a control character is never sent (header injection)', () => {
  const mapped = { claimsToHttpHeaderMappings: [{ claimName: 'evil', targetHttpHeader: 'X-Evil' }] } as typeof route;
  assert.deepEqual(allowHeaders({ mode: 'nginx', route: mapped, session: alice, cookie: undefined, assertion: undefined }), {});
});

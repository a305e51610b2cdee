import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { claimHeaderValues, downstreamResponseHeaders, upstreamRequestHeaders, type UpstreamHeaderInput } from './headers.ts';

const EMAIL_MAPPING = [{ claimName: 'email', targetHttpHeader: 'X-User-Email' }];
const ALICE_TAGS = ['email=alice@example.com', 'email_verified=true', 'groups=admins', 'groups=dev'];

function forward(incoming: IncomingHttpHeaders, overrides: Partial<UpstreamHeaderInput> = {}): Record<string, string | string[]> {
  return upstreamRequestHeaders({
    incoming,
    host: 'app.example.com',
    forwardedFor: '203.0.113.7',
    requestId: 'req-1',
    claimHeaders: claimHeaderValues(ALICE_TAGS, EMAIL_MAPPING),
    mappedHeaderNames: EMAIL_MAPPING.map((m) => m.targetHttpHeader),
    ...overrides,
  });
}

/** Header names folded the way some servers read them: case-insensitive, `_` as `-`. */
const folded = (headers: Record<string, unknown>) => Object.keys(headers).map((n) => n.toLowerCase().replaceAll('_', '-'));

const removed: Array<{ name: string; incoming: IncomingHttpHeaders; gone: string[] }> = [
  {
    name: 'hop-by-hop headers',
    incoming: {
      'keep-alive': 'timeout=5',
      'proxy-connection': 'keep-alive',
      'proxy-authorization': 'Basic eDp5',
      te: 'trailers',
      trailer: 'x',
      'transfer-encoding': 'chunked',
      upgrade: 'h2c',
      'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA',
    },
    gone: ['keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings'],
  },
  {
    name: 'headers listed in Connection, and Connection itself',
    incoming: { connection: 'close, X-Secret-Hop , x_other_hop', 'x-secret-hop': '1', 'x-other-hop': '2' },
    gone: ['connection', 'x-secret-hop', 'x-other-hop'],
  },
  {
    name: "microseg's own headers in any spelling",
    incoming: { 'x-microseg-user': 'mallory', X_MICROSEG_TAGS: 'groups=admins', 'X-Microseg-Session': 'forged' },
    gone: ['x-microseg-user', 'x-microseg-tags', 'x-microseg-session'],
  },
  {
    name: 'path and method overrides',
    incoming: {
      'x-original-url': '/admin',
      'x-original-uri': '/admin',
      'x-rewrite-url': '/admin',
      'x-http-method-override': 'DELETE',
      'x-http-method': 'DELETE',
      'x-method-override': 'DELETE',
    },
    gone: ['x-original-url', 'x-original-uri', 'x-rewrite-url', 'x-http-method-override', 'x-http-method', 'x-method-override'],
  },
  {
    name: 'client-sent forwarding and tracing headers that microseg does not replace',
    incoming: {
      forwarded: 'for=10.0.0.1',
      'x-forwarded-port': '1',
      'x-forwarded-prefix': '/admin',
      'x-real-ip': '10.0.0.1',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    },
    gone: ['forwarded', 'x-forwarded-port', 'x-forwarded-prefix', 'x-real-ip', 'traceparent'],
  },
];

for (const { name, incoming, gone } of removed) {
  test(`upstream headers: removes ${name}`, () => {
    const out = forward({ ...incoming, accept: 'text/html' });
    for (const header of gone) assert.ok(!folded(out).includes(header), `${header} must not reach the application`);
    assert.equal(out.accept, 'text/html', 'ordinary headers are kept');
  });
}

test('upstream headers: every client spelling of the mapped claim header is removed, then set from the session', () => {
  const out = forward({
    'X-User-Email': 'mallory@evil.example',
    x_user_email: 'mallory@evil.example',
    X_USER_EMAIL: 'mallory@evil.example',
    'x-user-email': 'mallory@evil.example',
  });
  const emailHeaders = Object.entries(out).filter(([n]) => n.toLowerCase().replaceAll('_', '-') === 'x-user-email');
  assert.deepEqual(emailHeaders, [['x-user-email', 'alice@example.com']]);
});

test('upstream headers: a mapped claim header is removed even when the session has no value for it', () => {
  const out = forward({ 'x-user-email': 'mallory@evil.example', x_user_email: 'mallory@evil.example' }, { claimHeaders: new Map() });
  assert.ok(!folded(out).includes('x-user-email'));
});

test('upstream headers: multi-valued claims are joined', () => {
  const mappings = [{ claimName: 'groups', targetHttpHeader: 'X-User-Groups' }];
  const out = forward({}, { claimHeaders: claimHeaderValues(ALICE_TAGS, mappings), mappedHeaderNames: ['X-User-Groups'] });
  assert.equal(out['x-user-groups'], 'admins, dev');
});

const unsafeValues: Array<{ name: string; tags: string[]; expected: string | undefined }> = [
  { name: 'a single value with CR/LF is not set at all', tags: ['email=alice@example.com\r\nX-Admin: yes'], expected: undefined },
  { name: 'a value with LF only', tags: ['email=alice@example.com\nX-Admin: yes'], expected: undefined },
  { name: 'a value with NUL', tags: ['email=alice\u0000@example.com'], expected: undefined },
  {
    name: 'the safe values of a multi-valued claim are kept',
    tags: ['email=a@example.com', 'email=b@example.com\r\nX-Admin: yes', 'email=c@example.com'],
    expected: 'a@example.com, c@example.com',
  },
];

for (const { name, tags, expected } of unsafeValues) {
  test(`upstream headers: control characters never reach a header: ${name}`, () => {
    const out = forward({ 'x-user-email': 'mallory@evil.example' }, { claimHeaders: claimHeaderValues(tags, EMAIL_MAPPING) });
    assert.equal(out['x-user-email'], expected);
    for (const value of Object.values(out).flat()) assert.doesNotMatch(value, /[\r\n\u0000]/);
  });
}

test('upstream headers: X-Forwarded-* and Host from the client are replaced', () => {
  const out = forward({
    host: 'evil.example',
    'x-forwarded-for': '10.0.0.1',
    'X-Forwarded-Proto': 'http',
    x_forwarded_host: 'evil.example',
    'x-request-id': 'client-chosen',
  });
  const forwarding = Object.fromEntries(Object.entries(out).filter(([n]) => /^(host|x.forwarded.|x.request.id)/i.test(n)));
  assert.deepEqual(forwarding, {
    host: 'app.example.com',
    'x-forwarded-for': '203.0.113.7',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'app.example.com',
    'x-request-id': 'req-1',
  });
});

const cookieCases: Array<{ name: string; cookie: string | undefined; expected: string | undefined }> = [
  {
    name: 'session and login cookies removed, others kept',
    cookie: 'theme=dark; __Host-microseg=id.secret; lang=en; __Host-microseg-login=bind',
    expected: 'theme=dark; lang=en',
  },
  { name: 'a duplicated session cookie is removed twice', cookie: '__Host-microseg=a; x=1; __Host-microseg=b', expected: 'x=1' },
  { name: 'only microseg cookies: no Cookie header left', cookie: '__Host-microseg=id.secret', expected: undefined },
  {
    name: 'a cookie whose name only starts like ours is kept',
    cookie: '__Host-microseg2=keep; __Host-microsegX=keep',
    expected: '__Host-microseg2=keep; __Host-microsegX=keep',
  },
  { name: 'no Cookie header', cookie: undefined, expected: undefined },
];

for (const { name, cookie, expected } of cookieCases) {
  test(`upstream headers: Cookie: ${name}`, () => {
    assert.equal(forward({ cookie }).cookie, expected);
  });
}

test('downstream headers: hop-by-hop and Connection-listed headers are removed from responses', () => {
  const out = downstreamResponseHeaders({
    connection: 'x-hop',
    'x-hop': '1',
    'keep-alive': 'timeout=5',
    'transfer-encoding': 'chunked',
    'content-type': 'text/plain',
    'set-cookie': ['a=1', 'b=2'],
  });
  assert.deepEqual(out, { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] });
});

test("downstream headers: the application's Set-Cookie for microseg's cookies is removed (any case or prefix), its own cookies pass", () => {
  const out = downstreamResponseHeaders({
    'content-type': 'text/html',
    'set-cookie': [
      'app=1; Path=/',
      '__Host-microseg=fixed; Path=/; Secure; HttpOnly',
      ' __HOST-microseg-login =bound; Secure',
      '=__Host-microseg=nameless',
      'theme=dark',
    ],
  });
  assert.deepEqual(out, { 'content-type': 'text/html', 'set-cookie': ['app=1; Path=/', 'theme=dark'] });
  assert.deepEqual(
    downstreamResponseHeaders({ 'Set-Cookie': '__Secure-microseg=x; Secure', 'content-length': '0' }),
    { 'content-length': '0' },
    'a single value, the header named in any case',
  );
});

test('claimHeaderValues: values per mapped header, exact claim name only', () => {
  const values = claimHeaderValues(
    ['email=alice@example.com', 'email_verified=true', 'groups=a', 'groups=b=c'],
    [
      { claimName: 'email', targetHttpHeader: 'X-User-Email' },
      { claimName: 'groups', targetHttpHeader: 'X-Groups' },
      { claimName: 'missing', targetHttpHeader: 'X-Missing' },
    ],
  );
  assert.deepEqual(
    [...values],
    [
      ['X-User-Email', ['alice@example.com']],
      ['X-Groups', ['a', 'b=c']],
    ],
  );
});

test('identity headers: every client copy of each name removed (any case, _ or -), then microseg sets its values; undefined sets nothing', () => {
  const out = forward(
    { Authorization: 'Bearer mallory', x_microseg_jwt_assertion: 'forged', accept: '*/*' },
    { identity: { 'x-microseg-jwt-assertion': 'signed', authorization: undefined } },
  );
  assert.equal(out['x-microseg-jwt-assertion'], 'signed');
  assert.deepEqual(
    folded(out).filter((n) => n === 'authorization' || n === 'x-microseg-jwt-assertion'),
    ['x-microseg-jwt-assertion'],
  );
  assert.equal(out.accept, '*/*');
  // Without identity headers, Authorization is the application's business and passes.
  assert.equal(forward({ authorization: 'Basic eDp5' }).authorization, 'Basic eDp5');
});

test("upstream headers: HTTP/2's pseudo-headers never become headers; its cookie fields (joined by Node) keep microseg's out", () => {
  const out = forward({
    ':method': 'GET',
    ':path': '/docs',
    ':scheme': 'https',
    ':authority': 'app.example.com',
    cookie: '__Host-microseg=ticket; app=1; theme=dark',
    accept: '*/*',
  });
  assert.deepEqual(
    Object.keys(out).filter((n) => n.startsWith(':')),
    [],
  );
  assert.equal(out.host, 'app.example.com');
  assert.equal(out.cookie, 'app=1; theme=dark');
  assert.equal(out.accept, '*/*');
});

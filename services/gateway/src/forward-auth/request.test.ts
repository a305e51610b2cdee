// Reading the original request from a forward-auth request, as each ingress sends it: nginx (auth_request with
// the documented headers), Traefik (forwardAuth), Envoy (ext_authz, HTTP service with path_prefix /envoy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lastForwardedFor, parseForwardAuthRequest, singleHeader, type ParsedForwardAuth } from './request.ts';

const parse = (url: string, headers: Array<[string, string]>, method = 'GET'): ParsedForwardAuth =>
  parseForwardAuthRequest({ method, url, rawHeaders: headers.flat() });

const NGINX: Array<[string, string]> = [
  ['Host', 'microseg_forward_auth'],
  ['X-Original-Method', 'POST'],
  ['X-Original-URI', '/api/items?page=2'],
  ['X-Forwarded-Host', 'app.example.com'],
  ['X-Forwarded-For', '203.0.113.7'],
  ['Cookie', '__Host-microseg=t'],
];

test('nginx: method, target, host and client from the X-Original-* and X-Forwarded-* headers', () => {
  assert.deepEqual(parse('/nginx', NGINX), {
    ok: true,
    request: { mode: 'nginx', method: 'POST', host: 'app.example.com', target: '/api/items?page=2', clientIp: '203.0.113.7' },
  });
});

test('Traefik: X-Forwarded-Method and X-Forwarded-Uri; the forward-auth request itself is a GET', () => {
  const parsed = parse('/traefik', [
    ['Host', 'gateway:7443'],
    ['X-Forwarded-Method', 'DELETE'],
    ['X-Forwarded-Proto', 'https'],
    ['X-Forwarded-Host', 'app.example.com:8443'],
    ['X-Forwarded-Uri', '/items/1'],
    ['X-Forwarded-For', '2001:db8::7'],
  ]);
  assert.deepEqual(parsed, {
    ok: true,
    request: { mode: 'traefik', method: 'DELETE', host: 'app.example.com:8443', target: '/items/1', clientIp: '2001:db8::7' },
  });
});

test("Envoy: the request's own method and Host, the path after /envoy, the client from X-Forwarded-For", () => {
  const parsed = parse(
    '/envoy/items/1?x=%2F',
    [
      ['host', 'app.example.com'],
      ['x-forwarded-for', '198.51.100.1, 203.0.113.7'],
    ],
    'PUT',
  );
  assert.deepEqual(parsed, { ok: true, request: { mode: 'envoy', method: 'PUT', host: 'app.example.com', target: '/items/1?x=%2F', clientIp: '203.0.113.7' } });
  assert.equal(
    parse('/envoy/', [
      ['host', 'app.example.com'],
      ['x-forwarded-for', '10.0.0.1'],
    ]).ok && 'ok',
    'ok',
  );
});

test("the client is the last X-Forwarded-For entry (the trusted ingress's own), over every line; IPv4-mapped in plain form", () => {
  assert.equal(lastForwardedFor(['X-Forwarded-For', '10.0.0.1, 192.0.2.9']), '192.0.2.9');
  assert.equal(lastForwardedFor(['X-Forwarded-For', '10.0.0.1', 'x-forwarded-for', '192.0.2.10']), '192.0.2.10');
  assert.equal(lastForwardedFor(['X-Forwarded-For', '::ffff:192.0.2.9']), '192.0.2.9');
  assert.equal(lastForwardedFor(['X-Forwarded-For', '192.0.2.9, unknown']), undefined);
  assert.equal(lastForwardedFor(['X-Forwarded-For', '192.0.2.9:1234']), undefined);
  assert.equal(lastForwardedFor([]), undefined);
});

test('a header sent twice is not one value', () => {
  assert.equal(singleHeader(['X-A', '1', 'x-a', '2'], 'x-a'), null);
  assert.equal(singleHeader(['X-A', '1'], 'x-a'), '1');
  assert.equal(singleHeader([], 'x-a'), undefined);
});

const refused: Array<[string, string, Array<[string, string]>, RegExp]> = [
  ['an unknown path', '/', NGINX, /Ask \/nginx, \/traefik or \/envoy/],
  ['a path under /nginx', '/nginx/x', NGINX, /Ask \/nginx/],
  [
    '/envoy without a path',
    '/envoy',
    [
      ['host', 'a'],
      ['x-forwarded-for', '10.0.0.1'],
    ],
    /Ask/,
  ],
  ['nginx without X-Original-URI', '/nginx', NGINX.filter(([n]) => n !== 'X-Original-URI'), /lacks x-original-uri/],
  [
    'nginx without X-Original-Method and X-Forwarded-Host',
    '/nginx',
    NGINX.filter(([n]) => !['X-Original-Method', 'X-Forwarded-Host'].includes(n)),
    /lacks x-original-method, x-forwarded-host/,
  ],
  ['Traefik with the nginx headers', '/traefik', NGINX, /lacks x-forwarded-method, x-forwarded-uri/],
  ['X-Original-URI twice (an ingress that appends)', '/nginx', [...NGINX, ['x-original-uri', '/admin']], /more than once/],
  ['X-Forwarded-Host twice', '/nginx', [...NGINX, ['X-Forwarded-Host', 'other.example.com']], /more than once/],
  ['X-Original-Method twice', '/nginx', [...NGINX, ['X-Original-Method', 'GET']], /more than once/],
  ['no X-Forwarded-For', '/nginx', NGINX.filter(([n]) => n !== 'X-Forwarded-For'), /X-Forwarded-For is missing/],
  ['X-Forwarded-For that is not an address', '/nginx', [...NGINX.filter(([n]) => n !== 'X-Forwarded-For'), ['X-Forwarded-For', 'evil']], /X-Forwarded-For/],
  ['a method that is not a token', '/nginx', [...NGINX.filter(([n]) => n !== 'X-Original-Method'), ['X-Original-Method', 'GET /admin']], /not an HTTP method/],
  [
    'a host that is not a host name',
    '/nginx',
    [...NGINX.filter(([n]) => n !== 'X-Forwarded-Host'), ['X-Forwarded-Host', 'a.example, b.example']],
    /not a host name/,
  ],
  ['an empty target', '/nginx', [...NGINX.filter(([n]) => n !== 'X-Original-URI'), ['X-Original-URI', '']], /target is empty/],
];

for (const [name, url, headers, message] of refused) {
  test(`refused: ${name}`, () => {
    const parsed = parse(url, headers);
    assert.equal(parsed.ok, false);
    assert.match((parsed as { message: string }).message, message);
  });
}

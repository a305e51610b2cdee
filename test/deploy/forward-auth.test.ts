// The forward-auth examples (deploy/forward-auth/, docs/forward-auth.md) against the gateway. nginx's runs end to
// end (test/e2e/forward-auth.test.ts); Traefik and Envoy cannot run here, so their files are read for what the
// gateway relies on: the path of each mode, the headers it reads, the headers copied to the application (and a
// client's copies removed), the gateway's own endpoints routed to it unasked, failing closed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ENVOY_PREFIX, parseForwardAuthRequest } from '../../services/gateway/src/forward-auth/request.ts';
import { readText, readYaml } from './lib.ts';

/** The claim header the examples map (the demo's email → X-User-Email). */
const MAPPED = 'x-user-email';

test('nginx: the auth subrequest sets every header the gateway reads, from nginx variables, and the body is not sent', () => {
  const site = readText('deploy/forward-auth/nginx.conf');
  const auth = site.slice(site.indexOf('location = /_microseg_auth'), site.indexOf('location @microseg_sign_in'));
  assert.match(auth, /proxy_pass https:\/\/microseg_forward_auth\/nginx;/);
  const sent: Record<string, string> = {};
  for (const [, name, value] of auth.matchAll(/proxy_set_header ([\w-]+) (\$\w+);/g)) sent[name!.toLowerCase()] = value!;
  assert.deepEqual(
    [sent['x-original-method'], sent['x-original-uri'], sent['x-forwarded-host'], sent['x-forwarded-for']],
    ['$request_method', '$request_uri', '$host', '$remote_addr'],
  );
  assert.match(auth, /proxy_pass_request_body off;/);
  // The signed assertion is copied from the 200 onto the application's request, replacing any client copy.
  assert.match(site, /auth_request_set \$microseg_assertion \$upstream_http_x_microseg_jwt_assertion;/);
  assert.match(site, /proxy_set_header X-Microseg-Jwt-Assertion \$microseg_assertion;/);
  const parsed = parseForwardAuthRequest({
    method: 'GET',
    url: '/nginx',
    rawHeaders: ['X-Original-Method', 'GET', 'X-Original-URI', '/x', 'X-Forwarded-Host', 'app.example.com', 'X-Forwarded-For', '192.0.2.1'],
  });
  assert.ok(parsed.ok);
});

interface Traefik {
  http: {
    routers: Record<string, { rule: string; middlewares?: string[]; service: string; priority?: number }>;
    middlewares: Record<string, { forwardAuth: { address: string; trustForwardHeader: boolean; authResponseHeadersRegex: string } }>;
  };
}

test('Traefik: /traefik, X-Forwarded-* from Traefik alone, the identity and cookies replaced in any spelling, /aporeto/oidc/ to the gateway', () => {
  const { http } = readYaml<Traefik>('deploy/forward-auth/traefik.yaml');
  const auth = http.middlewares.microseg!.forwardAuth;
  assert.equal(new URL(auth.address).pathname, '/traefik');
  assert.equal(auth.trustForwardHeader, false);
  // Go's (?i) is JavaScript's i flag.
  const regex = new RegExp(auth.authResponseHeadersRegex.replace(/^\(\?i\)/, ''), 'i');
  for (const name of ['X-User-Email', 'X_user_email', 'x-user_email', 'X-Microseg-Jwt-Assertion', 'x_microseg_jwt_assertion', 'Cookie'])
    assert.ok(regex.test(name), name);
  for (const name of ['Authorization', 'X-User-Email-Verified', 'Set-Cookie']) assert.ok(!regex.test(name), name);
  assert.deepEqual(http.routers.app!.middlewares, ['microseg']);
  const endpoints = http.routers['microseg-endpoints']!;
  assert.match(endpoints.rule, /PathPrefix\(`\/aporeto\/oidc\/`\)/);
  assert.equal(endpoints.middlewares, undefined);
  assert.ok((endpoints.priority ?? 0) > http.routers.app!.rule.length, 'the endpoints router must win over the application router');
});

test('Envoy: path_prefix /envoy, the headers the gateway reads, the identity and cookies set from a 200, the client address Envoy saw', () => {
  const config = readYaml<any>('deploy/forward-auth/envoy.yaml');
  const hcm = config.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  assert.equal(hcm.use_remote_address, true);
  assert.equal(hcm.xff_num_trusted_hops, 0);
  assert.equal(hcm.common_http_protocol_options.headers_with_underscores_action, 'REJECT_REQUEST');
  const extAuthz = hcm.http_filters.find((f: { name: string }) => f.name === 'envoy.filters.http.ext_authz').typed_config;
  assert.equal(extAuthz.failure_mode_allow, false);
  assert.equal(extAuthz.http_service.path_prefix, ENVOY_PREFIX);
  const exact = (list: { patterns: Array<{ exact: string }> }) => list.patterns.map((p) => p.exact);
  assert.deepEqual(exact(extAuthz.allowed_headers).sort(), ['accept', 'cookie', 'sec-fetch-mode', 'x-forwarded-for']);
  assert.deepEqual(exact(extAuthz.http_service.authorization_response.allowed_upstream_headers).sort(), ['cookie', 'x-microseg-jwt-assertion', MAPPED]);
  const routes = hcm.route_config.virtual_hosts[0].routes;
  assert.equal(routes[0].match.prefix, '/aporeto/oidc/');
  assert.equal(routes[0].typed_per_filter_config['envoy.filters.http.ext_authz'].disabled, true);
  assert.equal(routes[0].route.cluster, 'microseg_gateway');
  const parsed = parseForwardAuthRequest({
    method: 'POST',
    url: `${ENVOY_PREFIX}/x?y=1`,
    rawHeaders: ['host', 'app.example.com', 'x-forwarded-for', '192.0.2.1'],
  });
  assert.deepEqual(parsed.ok && parsed.request, { mode: 'envoy', method: 'POST', host: 'app.example.com', target: '/x?y=1', clientIp: '192.0.2.1' });
});

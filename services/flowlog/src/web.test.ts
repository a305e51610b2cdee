// Unit (app.inject()): the console pages and assets with a strict Content-Security-Policy, revalidated by
// ETag; an unknown asset is the usual JSON 404, with the same security headers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { registerErrorHandling } from '@microseg/runtime';
import { contentSecurityPolicy, registerPages } from './web.ts';

async function app() {
  const http = Fastify();
  registerErrorHandling(http);
  await registerPages(http);
  return http;
}

test('pages and assets carry the CSP and an ETag; a matching If-None-Match is 304', async () => {
  const http = await app();
  for (const url of [
    '/',
    '/events',
    '/assets/console.js',
    '/assets/filters.js',
    '/assets/grouping.js',
    '/assets/unit-logs.js',
    '/assets/graph-draw.js',
    '/assets/panel.js',
    '/assets/cytoscape.min.js',
  ]) {
    const res = await http.inject({ url });
    assert.equal(res.statusCode, 200, url);
    assert.equal(res.headers['content-security-policy'], contentSecurityPolicy, url);
    assert.equal(res.headers['x-frame-options'], 'DENY', url);
    assert.ok(res.headers.etag, url);
  }
  const asset = await http.inject({ url: '/assets/console.css' });
  const again = await http.inject({ url: '/assets/console.css', headers: { 'if-none-match': String(asset.headers.etag) } });
  assert.equal(again.statusCode, 304);
  assert.equal((await http.inject({ url: '/favicon.ico' })).headers.location, '/assets/favicon.svg');
});

test('an unknown asset: 404 {code, message} with the security headers', async () => {
  const http = await app();
  const unknown = await http.inject({ url: '/assets/nothing.js' });
  assert.equal(unknown.statusCode, 404);
  assert.deepEqual(unknown.json(), { code: 'NOT_FOUND', message: 'no such asset' });
  assert.equal(unknown.headers['content-security-policy'], contentSecurityPolicy);
  assert.equal(unknown.headers['x-content-type-options'], 'nosniff');
  assert.equal((await http.inject({ url: '/assets/../../package.json' })).statusCode, 404, 'no path out of the assets');
});

test('signed in through the gateway: each page has the sign-out form (a POST to the gateway) and the no-access page; the CSP lets it continue to the IdP', async () => {
  const http = await app();
  for (const url of ['/', '/events']) {
    const body = (await http.inject({ url })).body;
    assert.match(body, /<form id="sso-signout" class="signout" method="post" action="\/aporeto\/oidc\/logout" hidden>/, url);
    assert.match(body, /<section id="no-access" class="login" hidden>\s*<form method="post" action="\/aporeto\/oidc\/logout">/, url);
  }
  // Chromium applies form-action to the redirect after the POST (to the IdP's end-session page): none is set.
  assert.doesNotMatch(contentSecurityPolicy, /form-action/);
  for (const directive of ["default-src 'none'", "script-src 'self'", "base-uri 'none'", "frame-ancestors 'none'", "connect-src 'self'"])
    assert.ok(contentSecurityPolicy.includes(directive), directive);
});

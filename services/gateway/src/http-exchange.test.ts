import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientGone, isHttp2Request, requestAuthority, requestHasBody, type GatewayResponse } from './http-exchange.ts';
import { asResponse, FakeResponse, fakeHttp2Request, fakeRequest, HOST } from './pipeline/testing/fakes.ts';

test('isHttp2Request: HTTP/2 requests of the compatibility API, not an HTTP/1 request claiming version 2.0', () => {
  assert.equal(isHttp2Request(fakeHttp2Request()), true);
  assert.equal(isHttp2Request(fakeRequest()), false);
  const claims = fakeRequest({ httpVersion: '2.0' });
  claims.httpVersionMajor = 2;
  assert.equal(isHttp2Request(claims), false);
});

test('requestAuthority: :authority for HTTP/2 (Host without it), Host for HTTP/1', () => {
  assert.equal(requestAuthority(fakeHttp2Request()), HOST);
  assert.equal(requestAuthority(fakeHttp2Request({ rawHeaders: [':path', '/', 'host', 'h.example'] })), 'h.example');
  assert.equal(requestAuthority(fakeHttp2Request({ rawHeaders: [':path', '/'] })), undefined);
  assert.equal(requestAuthority(fakeRequest({ headers: { host: 'h1.example' } })), 'h1.example');
  // An HTTP/1 request's `:authority` header is only a header.
  assert.equal(requestAuthority(fakeRequest({ rawHeaders: ['Host', 'h1.example', ':authority', 'evil.example'] })), 'h1.example');
});

test('requestHasBody: HTTP/1 by Content-Length or Transfer-Encoding; HTTP/2 by a stream the headers did not end', () => {
  assert.equal(requestHasBody(fakeRequest()), false);
  assert.equal(requestHasBody(fakeRequest({ headers: { 'content-length': '0' } })), false);
  assert.equal(requestHasBody(fakeRequest({ headers: { 'content-length': '3' } })), true);
  assert.equal(requestHasBody(fakeRequest({ headers: { 'transfer-encoding': 'chunked' } })), true);
  assert.equal(requestHasBody(fakeHttp2Request()), false);
  assert.equal(requestHasBody(fakeHttp2Request({ endAfterHeaders: false })), true, 'gRPC sends no Content-Length');
  assert.equal(requestHasBody(fakeHttp2Request({ endAfterHeaders: false, headers: { 'content-length': '0' } })), false);
});

test('clientGone: a destroyed HTTP/1 response, or an HTTP/2 response whose stream is destroyed', () => {
  const h1 = new FakeResponse();
  assert.equal(clientGone(asResponse(h1)), false);
  h1.destroy();
  assert.equal(clientGone(asResponse(h1)), true);
  const stream = { destroyed: false };
  const h2 = Object.assign(new FakeResponse(), { stream, destroyed: undefined }) as unknown as GatewayResponse;
  assert.equal(clientGone(h2), false);
  stream.destroyed = true;
  assert.equal(clientGone(h2), true);
});

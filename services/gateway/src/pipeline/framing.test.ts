// Framing: what two parsers could read differently is a 400 before anything else, with a flow 'invalid'.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rejectAmbiguousFraming } from './framing.ts';
import { contextFor, FakeResponse, fakeDeps, fakeHttp2Request, fakeRequest, HOST, type FakeRequestInit } from './testing/fakes.ts';

const cases: Array<{ name: string; request: FakeRequestInit; refused?: RegExp; closes?: boolean }> = [
  { name: 'HTTP/1.1 with one Host', request: {} },
  { name: 'HTTP/1.0 with one Host', request: { httpVersion: '1.0' } },
  { name: 'Content-Length alone', request: { rawHeaders: ['Host', HOST, 'Content-Length', '3'] } },
  { name: 'Transfer-Encoding alone', request: { rawHeaders: ['Host', HOST, 'Transfer-Encoding', 'chunked'] } },
  { name: 'HTTP/0.9 (Node takes `GET /` with headers after it)', request: { httpVersion: '0.9' }, refused: /HTTP\/0\.9 is not served here/, closes: true },
  { name: 'HTTP/2.0 on an HTTP/1 connection', request: { httpVersion: '2.0' }, refused: /HTTP\/2\.0 is not served here/, closes: true },
  { name: 'no Host', request: { rawHeaders: ['Accept', '*/*'] }, refused: /Host header is missing/ },
  { name: 'two Host headers', request: { rawHeaders: ['Host', HOST, 'Host', 'evil.example.com'] }, refused: /sent more than once/ },
  { name: 'two Host headers, spelled differently', request: { rawHeaders: ['host', HOST, 'HOST', HOST] }, refused: /sent more than once/ },
  {
    name: 'Content-Length with Transfer-Encoding',
    request: { rawHeaders: ['Host', HOST, 'Content-Length', '3', 'Transfer-Encoding', 'chunked'] },
    refused: /both present/,
  },
  {
    name: 'Transfer-Encoding then content-length, any case',
    request: { rawHeaders: ['Host', HOST, 'TRANSFER-ENCODING', 'chunked', 'content-LENGTH', '0'] },
    refused: /both present/,
  },
];

for (const { name, request, refused, closes } of cases) {
  test(`framing: ${name} → ${refused ? '400' : 'passes on'}`, () => {
    const deps = fakeDeps();
    const res = new FakeResponse();
    const ctx = contextFor(fakeRequest({ ...request, headers: { accept: 'application/json' } }), res, {
      route: undefined,
      host: undefined,
      path: '(unparsed)',
    });
    const done = rejectAmbiguousFraming(deps, ctx);
    if (!refused) {
      assert.equal(done, false);
      assert.equal(res.headersSent, false);
      assert.deepEqual(deps.flows.recorded, []);
      return;
    }
    assert.equal(done, true);
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'GATEWAY_BAD_REQUEST');
    assert.match(res.json().message, refused);
    assert.equal(res.headers.connection, closes ? 'close' : undefined);
    assert.deepEqual(
      deps.flows.recorded.map((f) => [f.accepted, f.dropReason, f.statusCode, f.path, f.route]),
      [[false, 'invalid', 400, '(unparsed)', undefined]],
    );
  });
}

// HTTP/2 (RFC 9113 §8.3.1, §8.2.1): `:authority`, or Host without it; both must agree; values nghttp2 lets
// through with CR, LF or NUL would split the request on its way to an HTTP/1.1 application.
const http2Cases: Array<{ name: string; rawHeaders: string[]; refused?: RegExp }> = [
  { name: ':authority alone', rawHeaders: [':method', 'GET', ':authority', HOST, ':path', '/'] },
  { name: 'Host alone (RFC 9113 lets an intermediary send it)', rawHeaders: [':method', 'GET', ':path', '/', 'host', HOST] },
  { name: ':authority and Host the same, in another case', rawHeaders: [':authority', HOST, ':path', '/', 'host', HOST.toUpperCase()] },
  { name: 'neither :authority nor Host', rawHeaders: [':method', 'GET', ':path', '/'], refused: /names no authority/ },
  { name: ':authority and a different Host', rawHeaders: [':authority', HOST, ':path', '/', 'host', 'evil.example.com'], refused: /name different hosts/ },
  { name: 'two Host headers', rawHeaders: [':path', '/', 'host', HOST, 'host', HOST], refused: /sent more than once/ },
  {
    name: 'a header value with CR LF',
    rawHeaders: [':authority', HOST, ':path', '/', 'x-a', 'a\r\nGET /admin HTTP/1.1'],
    refused: /value of a header is malformed/,
  },
  { name: 'a header value with LF', rawHeaders: [':authority', HOST, ':path', '/', 'x-a', 'a\nb'], refused: /malformed/ },
  { name: 'a header value with NUL', rawHeaders: [':authority', HOST, ':path', '/', 'x-a', 'a\0b'], refused: /malformed/ },
  { name: 'a header value with leading whitespace', rawHeaders: [':authority', HOST, ':path', '/', 'x-a', ' a'], refused: /malformed/ },
  { name: ':authority with CR LF', rawHeaders: [':authority', `${HOST}\r\nx: y`, ':path', '/'], refused: /value of :authority is malformed/ },
];

for (const { name, rawHeaders, refused } of http2Cases) {
  test(`framing (HTTP/2): ${name} → ${refused ? '400' : 'passes on'}`, () => {
    const deps = fakeDeps();
    const res = new FakeResponse();
    const ctx = contextFor(fakeHttp2Request({ rawHeaders: [...rawHeaders, 'accept', 'application/json'] }), res, {
      route: undefined,
      host: undefined,
      path: '(unparsed)',
    });
    const done = rejectAmbiguousFraming(deps, ctx);
    if (!refused) {
      assert.equal(done, false);
      assert.deepEqual(deps.flows.recorded, []);
      return;
    }
    assert.equal(done, true);
    assert.equal(res.statusCode, 400);
    assert.match(res.json().message, refused);
    assert.equal(res.headers.connection, undefined, 'HTTP/2 has no Connection header (Node would refuse it)');
    assert.deepEqual(
      deps.flows.recorded.map((f) => [f.accepted, f.dropReason, f.statusCode]),
      [[false, 'invalid', 400]],
    );
  });
}

// Framing: what two parsers could read differently is a 400 before anything else, with a flow 'invalid'.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rejectAmbiguousFraming } from './framing.ts';
import { contextFor, FakeResponse, fakeDeps, fakeRequest, HOST, type FakeRequestInit } from './testing/fakes.ts';

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

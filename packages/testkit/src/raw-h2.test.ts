// The raw HTTP/2 client against Node's own server: what it builds is what a conforming server reads.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createSecureServer, type IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { ERROR, FLAG, FRAME, frame, headerBlock, RawH2, request, rstStream } from './raw-h2.ts';

const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', curve: 'P-256' });
const seen: IncomingHttpHeaders[] = [];
const server = createSecureServer({ cert: pems.cert, key: pems.private }, (req, res) => {
  seen.push(req.headers);
  res.end('ok');
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const port = (server.address() as AddressInfo).port;
after(() => server.close());

test('a request built by hand is read as written (long values use multi-byte HPACK integers), and answered', async () => {
  const h2 = await RawH2.open(port);
  const long = 'v'.repeat(300);
  h2.write(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, request('localhost', '/hello?x=1', [['x-long', long]])));
  await h2.until((f) => f.type === FRAME.HEADERS && f.streamId === 1, 3_000);
  assert.equal(h2.answered(1), true);
  assert.deepEqual([seen[0]![':authority'], seen[0]![':path'], seen[0]!['x-long']], ['localhost', '/hello?x=1', long]);
  h2.close();
});

test('a header block split over HEADERS and CONTINUATION is one request; RST_STREAM on stream 0 is read as the protocol error it is (GOAWAY)', async () => {
  const h2 = await RawH2.open(port);
  const block = headerBlock([
    [':method', 'GET'],
    [':scheme', 'https'],
    [':authority', 'localhost'],
    [':path', '/split'],
  ]);
  h2.write(frame(FRAME.HEADERS, FLAG.END_STREAM, 3, block.subarray(0, 10)), frame(FRAME.CONTINUATION, FLAG.END_HEADERS, 3, block.subarray(10)));
  await h2.until((f) => f.type === FRAME.HEADERS && f.streamId === 3, 3_000);
  assert.equal(seen.at(-1)![':path'], '/split');
  // A frame on stream 0 that must not be there: the server ends the connection with PROTOCOL_ERROR.
  h2.write(rstStream(0, ERROR.CANCEL));
  await h2.until((f) => f.type === FRAME.GOAWAY, 3_000);
  assert.equal(h2.goaway()?.code, ERROR.PROTOCOL_ERROR);
  h2.close();
});

test("status: the answer's :status, static or literal (Huffman-coded by the server)", async () => {
  const statuses = createSecureServer({ cert: pems.cert, key: pems.private }, (req, res) => {
    res.writeHead(Number(req.url.slice(1)));
    res.end();
  });
  statuses.listen(0, '127.0.0.1');
  await once(statuses, 'listening');
  try {
    for (const code of [200, 404, 400, 403, 431, 502, 301, 418]) {
      // A new connection each: a status seen before on a connection may come from its dynamic table.
      const h2 = await RawH2.open((statuses.address() as AddressInfo).port);
      h2.write(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, request('localhost', `/${code}`)));
      await h2.until((f) => f.type === FRAME.HEADERS, 3_000);
      assert.equal(h2.status(1), code);
      h2.close();
    }
  } finally {
    statuses.close();
  }
});

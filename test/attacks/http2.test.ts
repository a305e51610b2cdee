// Attacks on the gateway's HTTP/2 (SPEC §3.10): the denial-of-service attacks of 2023–2024 (rapid reset,
// CONTINUATION flood), oversized header lists, connection-specific headers, malformed pseudo-headers, an
// authority that disagrees with Host, request splitting and desync on the way to an HTTP/1.1 application, and
// identity headers and cookies in HTTP/2's shapes. The application is the suite's recorder (HTTP/1.1, every
// byte kept); every request carries a marker, so each case says what the application got — usually nothing.
// Frames go out as raw bytes (the kit's `h2`): Node's client refuses most of these requests.
// test/attacks/README.md lists each case and its source.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { connect, type IncomingHttpHeaders } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, h2, insecureFetch, loginWithHttp, startCluster, waitFor, type Cluster } from '@microseg/testkit';
import { exposeRecorder, headerValues, marker, Recorder } from './gateway-kit.ts';

const { FRAME, FLAG, ERROR, frame, request, rstStream } = h2;

let cluster: Cluster;
let recorder: Recorder;
let port: number;
let authority: string;
/** alice's session ticket, from a real login. */
let alice: string;
let slowHeaders: Promise<{ closedAfterMs: number | undefined }>;

before(async () => {
  const recorderPort = await freePort();
  cluster = await startCluster({
    dataDir: await mkdtemp(join(tmpdir(), 'microseg-attacks-http2-')),
    isolated: true,
    gatewayPorts: { application: [recorderPort] },
  });
  recorder = new Recorder();
  await recorder.start(recorderPort);
  await exposeRecorder(cluster, recorder);
  port = cluster.ports.walkthrough;
  authority = `localhost:${port}`;
  await waitFor('the recorded service to be served', async () => (await insecureFetch(`https://${authority}/public/ready`)).status === 200, 10_000, 50);
  const login = await loginWithHttp(`https://${authority}`, 'alice@example.com', 'alice');
  alice = login.browser.cookie('__Host-microseg')!;
  assert.ok(alice);
  // Runs beside the other cases (it waits for the idle timeout); its verdict is the last case.
  slowHeaders = startSlowHeaders();
});

after(async () => {
  await recorder?.stop();
  await cluster?.stop();
});

const HEADERS_END = FLAG.END_HEADERS | FLAG.END_STREAM;

/** A GET of `path` on a new raw connection, with `extra` fields; resolves once the stream is answered or reset. */
async function rawGet(
  path: string,
  extra: ReadonlyArray<readonly [string, string]> = [],
  init: { method?: string; authority?: string } = {},
): Promise<h2.RawH2> {
  const raw = await h2.RawH2.open(port);
  raw.write(frame(FRAME.HEADERS, HEADERS_END, 1, request(init.authority ?? authority, path, extra, init.method)));
  await raw.until((f) => (f.type === FRAME.HEADERS || f.type === FRAME.RST_STREAM || f.type === FRAME.GOAWAY) && f.streamId <= 1, 5_000);
  return raw;
}

/** A request through Node's http2 client (what it lets through), answered as status, headers and body. */
async function nodeGet(headers: Record<string, string | string[]>): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  const session = connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false, servername: 'localhost' });
  try {
    const stream = session.request({ ':authority': authority, accept: 'application/json', ...headers });
    const [head] = (await once(stream, 'response')) as [IncomingHttpHeaders];
    let body = '';
    stream.on('data', (c: Buffer) => (body += c.toString()));
    await once(stream, 'end');
    return { status: Number(head[':status']), headers: head, body };
  } finally {
    session.close();
  }
}

/** The gateway still answers a plain request on a new connection. */
async function stillServes(): Promise<void> {
  const m = marker('alive');
  const res = await nodeGet({ ':path': `/public/alive?m=${m}` });
  assert.equal(res.status, 200);
  assert.equal(recorder.withTarget(m).length, 1);
}

/** A header block never finished (HEADERS without END_HEADERS), then silence: the idle timeout must end it. */
async function startSlowHeaders(): Promise<{ closedAfterMs: number | undefined }> {
  const raw = await h2.RawH2.open(port);
  const started = performance.now();
  raw.write(frame(FRAME.HEADERS, FLAG.END_STREAM, 1, request(authority, `/public/${marker('slow')}`).subarray(0, 20)));
  try {
    await raw.until(() => false, 40_000);
  } catch {
    // Still open after 40 s.
  }
  return { closedAfterMs: raw.closed ? performance.now() - started : undefined };
}

describe('denial of service', () => {
  test('rapid reset (CVE-2023-44487): streams opened and cancelled at once end the connection with GOAWAY; almost nothing reaches the application', async () => {
    const m = marker('reset');
    const raw = await h2.RawH2.open(port);
    let id = 1;
    let sent = 0;
    for (; sent < 5_000 && !raw.closed; sent++, id += 2) {
      raw.write(frame(FRAME.HEADERS, HEADERS_END, id, request(authority, `/public/${m}-${sent}`)), rstStream(id, ERROR.CANCEL));
      if (sent % 50 === 49) await new Promise((r) => setImmediate(r));
    }
    await raw.until((f) => f.type === FRAME.GOAWAY, 10_000);
    // ENHANCE_YOUR_CALM from the gateway's own count, or INTERNAL_ERROR from nghttp2's reset rate limit,
    // whichever sees the flood first (a burst in one read reaches nghttp2's limit before JavaScript runs).
    assert.ok(([ERROR.ENHANCE_YOUR_CALM, ERROR.INTERNAL_ERROR] as number[]).includes(raw.goaway()?.code ?? -1), `GOAWAY ${raw.goaway()?.code}`);
    raw.close();
    const reached = recorder.requests.filter((r) => r.url.includes(m)).length;
    assert.ok(reached <= 10, `${reached} of ${sent} cancelled requests reached the application`);
    await stillServes();
  });

  test('CONTINUATION flood (CVE-2024-27983, CVE-2024-27919 family): a header block that never ends ends the connection; nothing reaches the application', async () => {
    const m = marker('cont');
    const raw = await h2.RawH2.open(port);
    raw.write(frame(FRAME.HEADERS, FLAG.END_STREAM, 1, request(authority, `/public/${m}`)));
    let sent = 0;
    for (; sent < 100_000 && !raw.closed; sent++) {
      raw.write(frame(FRAME.CONTINUATION, 0, 1, h2.headerBlock([[`x-${sent % 10}`, 'a'.repeat(100)]])));
      if (sent % 100 === 99) await new Promise((r) => setImmediate(r));
    }
    // GOAWAY, or the socket closed under the flood before its GOAWAY could be read.
    await raw.until((f) => f.type === FRAME.GOAWAY, 10_000);
    assert.ok(raw.goaway() ?? raw.closed, 'GOAWAY or the connection closed');
    assert.ok(sent < 100_000, 'the connection ended before the flood did');
    raw.close();
    assert.equal(recorder.sawBytes(m), false);
    await stillServes();
  });

  test('a header list over 16 KB, or over 128 fields: the stream is reset (ENHANCE_YOUR_CALM), nothing reaches the application; the connection goes on', async () => {
    const m = marker('big');
    const raw = await h2.RawH2.open(port);
    const big = request(authority, `/public/${m}`, [['x-big', 'a'.repeat(17 * 1024)]]);
    const parts: Buffer[] = [];
    for (let i = 0; i < big.length; i += 16_384) parts.push(big.subarray(i, i + 16_384));
    parts.forEach((p, i) =>
      raw.write(frame(i === 0 ? FRAME.HEADERS : FRAME.CONTINUATION, (i === 0 ? FLAG.END_STREAM : 0) | (i === parts.length - 1 ? FLAG.END_HEADERS : 0), 1, p)),
    );
    const many = Array.from({ length: 129 }, (_, i) => [`x-h${i}`, 'v'] as const);
    raw.write(frame(FRAME.HEADERS, HEADERS_END, 3, request(authority, `/public/${m}-many`, many)));
    raw.write(frame(FRAME.HEADERS, HEADERS_END, 5, request(authority, `/public/${m}-fine`)));
    await raw.until((f) => f.type === FRAME.HEADERS && f.streamId === 5, 5_000);
    assert.equal(raw.reset(1), ERROR.ENHANCE_YOUR_CALM);
    assert.equal(raw.reset(3), ERROR.ENHANCE_YOUR_CALM);
    assert.equal(raw.status(5), 200);
    raw.close();
    assert.deepEqual(
      recorder.requests.filter((r) => r.url.includes(m)).map((r) => r.url),
      [`/public/${m}-fine`],
    );
  });
});

describe('malformed requests', () => {
  const connectionSpecific: Array<[string, string]> = [
    ['connection', 'keep-alive'],
    ['transfer-encoding', 'chunked'],
    ['upgrade', 'websocket'],
    ['keep-alive', 'timeout=5'],
    ['proxy-connection', 'keep-alive'],
    ['te', 'gzip'],
  ];
  for (const [name, value] of connectionSpecific) {
    test(`a connection-specific header (${name}: ${value}) is a malformed request: stream reset (PROTOCOL_ERROR), nothing forwarded`, async () => {
      const m = marker('conn');
      const raw = await rawGet(`/public/${m}`, [[name, value]]);
      assert.equal(raw.reset(1), ERROR.PROTOCOL_ERROR);
      assert.equal(raw.answered(1), false);
      raw.close();
      assert.equal(recorder.sawBytes(m), false);
    });
  }

  test('te: trailers is allowed, and does not reach an HTTP/1.1 application (hop-by-hop)', async () => {
    const m = marker('te');
    const raw = await rawGet(`/public/${m}`, [['te', 'trailers']]);
    assert.equal(raw.status(1), 200);
    raw.close();
    assert.deepEqual(headerValues(recorder.withTarget(m)[0]!, 'te'), []);
  });

  const badPseudo: Array<[string, ReadonlyArray<readonly [string, string]>]> = [
    [
      ':path without a leading /',
      [
        [':method', 'GET'],
        [':scheme', 'https'],
        [':authority', 'AUTH'],
        [':path', 'public/MARK'],
      ],
    ],
    [
      ':path in absolute form',
      [
        [':method', 'GET'],
        [':scheme', 'https'],
        [':authority', 'AUTH'],
        [':path', 'https://evil.example/public/MARK'],
      ],
    ],
    [
      'an empty :path',
      [
        [':method', 'GET'],
        [':scheme', 'https'],
        [':authority', 'AUTH'],
        [':path', ''],
        ['x-m', 'MARK'],
      ],
    ],
    [
      'no :path',
      [
        [':method', 'GET'],
        [':scheme', 'https'],
        [':authority', 'AUTH'],
        ['x-m', 'MARK'],
      ],
    ],
    [
      'two :path',
      [
        [':method', 'GET'],
        [':scheme', 'https'],
        [':authority', 'AUTH'],
        [':path', '/public/MARK'],
        [':path', '/admin'],
      ],
    ],
    [
      'a pseudo-header after a regular one',
      [
        [':method', 'GET'],
        [':scheme', 'https'],
        ['x-m', 'MARK'],
        [':authority', 'AUTH'],
        [':path', '/public/MARK'],
      ],
    ],
    [
      'an unknown pseudo-header',
      [
        [':method', 'GET'],
        [':scheme', 'https'],
        [':authority', 'AUTH'],
        [':path', '/public/MARK'],
        [':user', 'admin'],
      ],
    ],
    [
      'an upper-case header name',
      [
        [':method', 'GET'],
        [':scheme', 'https'],
        [':authority', 'AUTH'],
        [':path', '/public/MARK'],
        ['X-User-Email', 'x'],
      ],
    ],
  ];
  for (const [name, fields] of badPseudo) {
    test(`${name}: stream reset (PROTOCOL_ERROR), nothing forwarded`, async () => {
      const m = marker('pseudo');
      const raw = await h2.RawH2.open(port);
      const block = h2.headerBlock(fields.map(([n, v]) => [n, v.replace('AUTH', authority).replace('MARK', m)] as const));
      raw.write(frame(FRAME.HEADERS, HEADERS_END, 1, block));
      await raw.until((f) => f.type === FRAME.RST_STREAM || f.type === FRAME.HEADERS || f.type === FRAME.GOAWAY, 5_000);
      assert.equal(raw.reset(1) ?? raw.goaway()?.code, ERROR.PROTOCOL_ERROR);
      raw.close();
      assert.equal(recorder.sawBytes(m), false);
    });
  }

  test('OPTIONS * (the only :path without a / that HTTP/2 allows): 400 from the target stage, nothing forwarded', async () => {
    const m = marker('star');
    const raw = await rawGet(
      '*',
      [
        ['accept', 'application/json'],
        ['x-m', m],
      ],
      { method: 'OPTIONS' },
    );
    assert.equal(raw.status(1), 400);
    raw.close();
    assert.equal(recorder.sawBytes(m), false);
  });

  test(':authority and Host disagree (either one naming the service): 400, nothing forwarded', async () => {
    for (const [auth, host] of [
      [authority, 'evil.example'],
      ['evil.example', authority],
    ] as const) {
      const m = marker('authority');
      const raw = await rawGet(
        `/public/${m}`,
        [
          ['host', host],
          ['accept', 'application/json'],
        ],
        { authority: auth },
      );
      assert.equal(raw.status(1), 400, `${auth} / ${host}`);
      raw.close();
      assert.equal(recorder.sawBytes(m), false);
    }
  });

  test('Host alone (no :authority) chooses the service as :authority would; an unknown authority is a 404 whatever the TLS server name', async () => {
    const m = marker('host');
    const raw = await h2.RawH2.open(port);
    raw.write(
      frame(
        FRAME.HEADERS,
        HEADERS_END,
        1,
        h2.headerBlock([
          [':method', 'GET'],
          [':scheme', 'https'],
          [':path', `/public/${m}`],
          ['host', authority],
        ]),
      ),
    );
    await raw.until((f) => f.type === FRAME.HEADERS, 5_000);
    assert.equal(raw.status(1), 200);
    raw.close();
    assert.equal(recorder.withTarget(m).length, 1);
    const n = marker('unknown');
    const other = await rawGet(`/public/${n}`, [['accept', 'application/json']], { authority: `other.example:${port}` });
    assert.equal(other.status(1), 404);
    other.close();
    assert.equal(recorder.sawBytes(n), false);
  });
});

describe('on the way to an HTTP/1.1 application', () => {
  test('request splitting: a field value with CR LF (a request line after it), LF or NUL never reaches the application; nor a CR LF in :authority', async () => {
    for (const value of [`a\r\nGET /public/SMUGGLED HTTP/1.1\r\nHost: ${authority}\r\n\r\n`, 'a\nx-user-email: mallory@example.com', 'a\0b']) {
      const m = marker('crlf');
      const raw = await rawGet(`/public/${m}`, [
        ['x-a', value.replace('SMUGGLED', `${m}-smuggled`)],
        ['accept', 'application/json'],
      ]);
      // nghttp2 drops such a field (RFC 9113 §8.2.1 makes the request malformed; the framing stage would answer
      // 400 to one that got through): the request goes on without it, or is refused.
      assert.ok([200, 400].includes(raw.status(1) ?? 0) || raw.reset(1) === ERROR.PROTOCOL_ERROR, `status ${raw.status(1)}, reset ${raw.reset(1)}`);
      raw.close();
      for (const got of recorder.withTarget(m)) assert.deepEqual(headerValues(got, 'x-a'), []);
      assert.equal(recorder.sawBytes(`${m}-smuggled`), false);
      assert.ok(!recorder.rawText.includes('mallory'));
    }
    const m = marker('crlf-authority');
    const raw = await rawGet(`/public/${m}`, [['accept', 'application/json']], { authority: `${authority}\r\nX-Injected: 1` });
    assert.ok(raw.status(1) === 400 || raw.status(1) === 404 || raw.reset(1) === ERROR.PROTOCOL_ERROR, `status ${raw.status(1)}, reset ${raw.reset(1)}`);
    raw.close();
    assert.equal(recorder.sawBytes(m), false);
  });

  test('H2.CL desync: a body longer or shorter than its content-length is a malformed request; the extra bytes (a smuggled request) never reach the application', async () => {
    const m = marker('h2cl');
    const smuggled = `GET /public/${m}-smuggled HTTP/1.1\r\nHost: ${authority}\r\n\r\n`;
    for (const length of ['0', '3']) {
      const raw = await h2.RawH2.open(port);
      raw.write(
        frame(
          FRAME.HEADERS,
          FLAG.END_HEADERS,
          1,
          request(
            authority,
            `/upload?m=${m}`,
            [
              ['cookie', `__Host-microseg=${alice}`],
              ['content-length', length],
            ],
            'POST',
          ),
        ),
        frame(FRAME.DATA, FLAG.END_STREAM, 1, Buffer.from(`abc${smuggled}`)),
      );
      await raw.until((f) => f.type === FRAME.RST_STREAM || f.type === FRAME.GOAWAY, 5_000);
      // Node ends the connection (GOAWAY INTERNAL_ERROR) when DATA passes the announced length.
      assert.ok((raw.reset(1) ?? raw.goaway()?.code ?? 0) !== ERROR.NO_ERROR, `reset ${raw.reset(1)}, GOAWAY ${raw.goaway()?.code}`);
      raw.close();
    }
    // Shorter than announced: the application would wait for bytes that never come (or read the next request as them).
    const short = await h2.RawH2.open(port);
    short.write(
      frame(
        FRAME.HEADERS,
        FLAG.END_HEADERS,
        1,
        request(
          authority,
          `/upload?m=${m}-short`,
          [
            ['cookie', `__Host-microseg=${alice}`],
            ['content-length', '100'],
          ],
          'POST',
        ),
      ),
      frame(FRAME.DATA, FLAG.END_STREAM, 1, Buffer.from('abc')),
    );
    await short.until((f) => f.type === FRAME.RST_STREAM || f.type === FRAME.GOAWAY, 5_000);
    assert.equal(short.reset(1) ?? short.goaway()?.code, ERROR.PROTOCOL_ERROR);
    short.close();
    // Give a late byte every chance to arrive before saying none did.
    await nodeGet({ ':path': `/public/${marker('after')}` });
    assert.equal(recorder.sawBytes(`${m}-smuggled`), false);
  });
});

describe('identity in HTTP/2 shapes', () => {
  test('forged identity headers (any spelling HTTP/2 allows) never reach the application; the mapped claim is alice', async () => {
    const m = marker('ident');
    const raw = await rawGet(`/who?m=${m}`, [
      ['cookie', `__Host-microseg=${alice}`],
      ['x-user-email', 'mallory@example.com'],
      ['x_user_email', 'mallory@example.com'],
      ['x-forwarded-for', '10.0.0.1'],
      ['forwarded', 'for=10.0.0.1'],
    ]);
    assert.equal(raw.status(1), 200);
    raw.close();
    const got = recorder.withTarget(m)[0]!;
    assert.deepEqual(headerValues(got, 'x-user-email'), ['alice@example.com']);
    assert.ok(!JSON.stringify(got.rawHeaders).includes('mallory'));
    assert.ok(!JSON.stringify(got.rawHeaders).includes('10.0.0.1'));
  });

  test("cookies in several fields: microseg's cookie sent twice (a planted one beside the real one) is no session; the application never sees it", async () => {
    const m = marker('cookies');
    const raw = await rawGet(`/who?m=${m}`, [
      ['cookie', `__Host-microseg=${alice}`],
      ['cookie', 'app=1'],
      ['cookie', '__Host-microseg=planted'],
      ['accept', 'application/json'],
    ]);
    assert.equal(raw.status(1), 401);
    raw.close();
    assert.equal(recorder.sawBytes(m), false);
    const n = marker('cookies-ok');
    const ok = await rawGet(`/who?m=${n}`, [
      ['cookie', 'app=1'],
      ['cookie', `__Host-microseg=${alice}`],
      ['cookie', 'theme=dark'],
    ]);
    assert.equal(ok.status(1), 200);
    ok.close();
    assert.deepEqual(headerValues(recorder.withTarget(n)[0]!, 'cookie'), ['app=1; theme=dark']);
  });
});

test('an HTTP/2 Slowloris (a header block never finished, then silence) is closed by the idle timeout (30 s); nothing reached the application', async () => {
  const { closedAfterMs } = await slowHeaders;
  assert.ok(closedAfterMs !== undefined, 'the connection was still open after 40 s');
  assert.ok(closedAfterMs < 35_000, `closed after ${Math.round(closedAfterMs)} ms`);
  assert.ok(!recorder.requests.some((r) => r.url.includes('/public/slow')));
});

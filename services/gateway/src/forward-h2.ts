// Forwarding to an application that speaks HTTP/2 (a service's `applicationProtocol: HTTP/2`): h2c with prior
// knowledge over plain TCP, or h2 over TLS chosen by ALPN, the application's certificate verified against the
// service's `applicationCA` (else the system's CAs) for the host the client asked for (the service's host, as
// undici does for HTTP/1.1; the address when that host is an IP). One session per application origin (and
// name and CA), shared by
// every request to it; a session that fails, is told to go away or stays idle is dropped, and the next request
// opens another. Trailers travel both ways a response has them (gRPC's `grpc-status`), and `te: trailers`
// reaches the application when the client sent it.
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { metrics } from '@microseg/telemetry';
import { clientGone, requestHasBody, type GatewayRequest, type GatewayResponse } from './http-exchange.ts';
import { downstreamResponseHeaders } from './pipeline/headers.ts';

export type Http2ForwardResult = { ok: true; status: number } | { ok: false; kind: 'unreachable' | 'timeout' };

/** The status recorded when the client closed the connection before the application answered. */
const CLIENT_CLOSED = 499;
const CONNECT_TIMEOUT_MS = 5_000;
/** A session with no request for this long is closed. */
const IDLE_SESSION_MS = 10_000;

class ConnectTimeout extends Error {}

interface Pooled {
  session: ClientHttp2Session;
  active: number;
}

export class Http2Upstreams {
  readonly #pool = new Map<string, Pooled>();
  readonly #timeoutMs: number;

  constructor(options: { headersTimeoutMs: number }) {
    this.#timeoutMs = options.headersTimeoutMs;
  }

  /** How many sessions are open (for tests). */
  get size(): number {
    return this.#pool.size;
  }

  forward(req: GatewayRequest, res: GatewayResponse, origin: string, path: string, headers: OutgoingHttpHeaders, ca?: string): Promise<Http2ForwardResult> {
    const started = performance.now();
    const { host, ...rest } = headers;
    const pooled = this.#sessionFor(origin, typeof host === 'string' ? serverNameOf(host) : undefined, ca);
    const te = req.headers.te;
    const outgoing: OutgoingHttpHeaders = {
      ...rest,
      ':method': req.method ?? 'GET',
      ':path': path,
      ':scheme': origin.startsWith('https:') ? 'https' : 'http',
      ':authority': typeof host === 'string' ? host : undefined,
      // The only value HTTP/2 allows; gRPC servers require it.
      ...(typeof te === 'string' && /(^|,)\s*trailers\s*(,|;|$)/i.test(te) ? { te: 'trailers' } : {}),
    };
    const hasBody = requestHasBody(req);
    return new Promise<Http2ForwardResult>((resolve) => {
      let status = 0;
      let settled = false;
      let stream: ClientHttp2Stream;
      const settle = (result: Http2ForwardResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(headersTimer);
        res.off('close', onClientClose);
        if (--pooled.active === 0) pooled.session.setTimeout(IDLE_SESSION_MS);
        resolve(result);
      };
      const fail = (err: unknown) => {
        // The client left before the application answered: not the application's failure.
        if (status === 0 && clientGone(res)) return settle({ ok: true, status: CLIENT_CLOSED });
        if (status === 0) {
          const kind = err === 'timeout' || isConnectTimeout(err) ? 'timeout' : 'unreachable';
          metrics.gatewayUpstreamErrors().inc({ kind });
          return settle({ ok: false, kind });
        }
        // Mid-body: the head is sent, only the connection can say so.
        res.destroy();
        settle({ ok: true, status });
      };
      const onClientClose = () => {
        if (!settled && !stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
        if (!settled) fail(new Error('the client closed the connection'));
      };
      const headersTimer = setTimeout(() => {
        stream.close(constants.NGHTTP2_CANCEL);
        fail('timeout');
      }, this.#timeoutMs);
      pooled.active++;
      pooled.session.setTimeout(0);
      try {
        stream = pooled.session.request(outgoing, { endStream: !hasBody });
      } catch (err) {
        // A session already closing, or headers HTTP/2 refuses.
        stream = undefined as unknown as ClientHttp2Stream;
        clearTimeout(headersTimer);
        return fail(err);
      }
      res.once('close', onClientClose);
      if (clientGone(res)) return onClientClose();
      if (hasBody) {
        const body = req as Readable;
        body.pipe(stream);
        body.once('error', () => stream.close(constants.NGHTTP2_CANCEL));
      }
      stream.on('error', fail);
      stream.on('response', (upstreamHeaders: IncomingHttpHeaders) => {
        clearTimeout(headersTimer);
        metrics.gatewayUpstreamDuration().observe((performance.now() - started) / 1000);
        try {
          res.writeHead(Number(upstreamHeaders[':status']), downstreamResponseHeaders(withoutPseudoHeaders(upstreamHeaders)));
          status = Number(upstreamHeaders[':status']);
        } catch (err) {
          // A head Node refuses to send (an invalid header from the application): a 502, not half a response.
          stream.close(constants.NGHTTP2_CANCEL);
          return fail(err);
        }
        // The body may be slow, never silent for longer than the headers may be.
        stream.setTimeout(this.#timeoutMs, () => {
          stream.close(constants.NGHTTP2_CANCEL);
          fail('timeout');
        });
      });
      stream.on('data', (chunk: Buffer) => {
        if (!res.write(chunk)) {
          stream.pause();
          res.once('drain', () => stream.resume());
        }
      });
      stream.on('trailers', (trailers: IncomingHttpHeaders) => {
        const kept = downstreamResponseHeaders(withoutPseudoHeaders(trailers));
        try {
          res.addTrailers(kept);
        } catch {
          // Trailers the client's protocol cannot carry are dropped, not the response.
        }
      });
      stream.on('end', () => {
        if (status === 0) return;
        res.end();
        settle({ ok: true, status });
      });
      stream.on('close', () => {
        if (!settled) fail(new Error(`the stream closed (code ${stream.rstCode})`));
      });
    });
  }

  #sessionFor(origin: string, servername: string | undefined, ca: string | undefined): Pooled {
    const tls = origin.startsWith('https:');
    const key = tls ? `${origin}\0${servername ?? ''}\0${ca ?? ''}` : origin;
    const existing = this.#pool.get(key);
    if (existing && !existing.session.closed && !existing.session.destroyed) return existing;
    const session = connect(origin, {
      ...(tls && ca ? { ca } : {}),
      ...(tls && servername ? { servername } : {}),
      // No push: the application only answers.
      settings: { enablePush: false },
      maxHeaderListPairs: 256,
    });
    const pooled: Pooled = { session, active: 0 };
    this.#pool.set(key, pooled);
    const drop = () => {
      if (this.#pool.get(key) === pooled) this.#pool.delete(key);
    };
    const connectTimer = setTimeout(() => session.destroy(new ConnectTimeout('no connection within 5 s')), CONNECT_TIMEOUT_MS);
    session.once('connect', () => clearTimeout(connectTimer));
    session.on('error', drop);
    session.on('goaway', drop);
    session.once('close', () => {
      clearTimeout(connectTimer);
      drop();
    });
    session.on('timeout', () => {
      if (pooled.active === 0) session.close();
    });
    return pooled;
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.#pool.values()].map(
        ({ session }) =>
          new Promise<void>((resolve) => {
            if (session.closed || session.destroyed) return resolve();
            session.close(() => resolve());
          }),
      ),
    );
    this.#pool.clear();
  }
}

/** The name to ask for and verify (SNI): the host name of the Host header, none for an IP address. */
function serverNameOf(host: string): string | undefined {
  const name = host.replace(/:\d+$/, '');
  return name && !name.startsWith('[') && isIP(name) === 0 ? name.toLowerCase() : undefined;
}

/** A connection that did not come up in time, as the session's error or as the cause of a stream's. */
function isConnectTimeout(err: unknown): boolean {
  return err instanceof ConnectTimeout || (err instanceof Error && err.cause instanceof ConnectTimeout);
}

function withoutPseudoHeaders(headers: IncomingHttpHeaders): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const name in headers) if (!name.startsWith(':')) out[name] = headers[name];
  return out;
}

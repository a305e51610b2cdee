// The server of one exposed port (SPEC §3.10): HTTP/2 and HTTP/1.1 offered by ALPN (`h2`, `http/1.1`; a client
// that names neither speaks HTTP/1.1), both handed to the same request handler through Node's compatibility
// API, so that every request meets the same pipeline whatever its protocol.
//
// HTTP/1.1 keeps the limits it always had. HTTP/2 gets its own (RFC 9113 §10.5, and the attacks of 2023–2024):
// at most 100 streams at a time, a header list of at most 16 KB and 128 fields (else the stream is reset with
// ENHANCE_YOUR_CALM), nghttp2's own bound on CONTINUATION frames and on invalid frames, a session closed with
// GOAWAY when its client cancels too many streams before their answer (rapid reset, CVE-2023-44487), an idle
// session closed, and a request that is not received whole within a minute reset — as HTTP/1.1's requestTimeout.
import { constants, createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse, type SecureServerOptions } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { GatewayRequest, GatewayResponse } from './http-exchange.ts';

export type GatewayRequestHandler = (req: GatewayRequest, res: GatewayResponse) => void;

/** HTTP/1.1's limits, as they were before HTTP/2 was offered. */
export const HTTP1_LIMITS = {
  requestTimeout: 60_000,
  headersTimeout: 20_000,
  // How often those two timeouts are checked; Node's default (30 s) let a client that trickles its headers
  // (Slowloris) hold a connection for up to 50 s instead of 20.
  connectionsCheckingInterval: 1_000,
  keepAliveTimeout: 5_000,
  maxHeaderSize: 16 * 1024,
} as const;

export interface Http2Limits {
  /** SETTINGS_MAX_CONCURRENT_STREAMS. */
  maxConcurrentStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE, in bytes (as HTTP/1.1's 16 KB). */
  maxHeaderListSize: number;
  /** Header fields per request. */
  maxHeaderListPairs: number;
  /** Streams the client may cancel (RST_STREAM) before their answer, within `resetWindowMs`, before GOAWAY. */
  maxEarlyResets: number;
  resetWindowMs: number;
  /** A session with no open stream for this long is closed (GOAWAY NO_ERROR). */
  idleSessionMs: number;
  /** A request whose body has not ended this long after its headers is reset (CANCEL). */
  requestTimeoutMs: number;
}

export const HTTP2_LIMITS: Http2Limits = {
  maxConcurrentStreams: 100,
  maxHeaderListSize: 16 * 1024,
  maxHeaderListPairs: 128,
  maxEarlyResets: 200,
  resetWindowMs: 10_000,
  idleSessionMs: 30_000,
  requestTimeoutMs: HTTP1_LIMITS.requestTimeout,
};

export interface ExposedServer {
  server: Http2SecureServer;
  /** Destroy every connection still open (HTTP/1.1 and HTTP/2): the end of a shutdown's grace period. */
  destroyConnections(): void;
}

export function createExposedServer(
  tls: Pick<SecureServerOptions, 'SNICallback' | 'cert' | 'key' | 'minVersion'>,
  handler: GatewayRequestHandler,
  limits: Http2Limits = HTTP2_LIMITS,
): ExposedServer {
  const server = createSecureServer(
    {
      ...tls,
      allowHTTP1: true,
      ALPNProtocols: ['h2', 'http/1.1'],
      ...HTTP1_LIMITS,
      settings: {
        maxConcurrentStreams: limits.maxConcurrentStreams,
        maxHeaderListSize: limits.maxHeaderListSize,
        enablePush: false,
      },
      maxHeaderListPairs: limits.maxHeaderListPairs,
      // Frames nghttp2 finds invalid, and streams it refuses, before the session is closed.
      maxSessionInvalidFrames: 100,
      maxSessionRejectedStreams: 100,
      maxSessionMemory: 10,
      maxOutstandingPings: 10,
      maxSettings: 32,
    },
    // The types of the compatibility API are those of http2; the handler takes either protocol's.
    handler as (req: Http2ServerRequest, res: Http2ServerResponse) => void,
  );
  const sockets = new Set<TLSSocket>();
  server.on('secureConnection', (socket: TLSSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('session', (session) => {
    let open = 0;
    let windowStart = 0;
    let earlyResets = 0;
    session.setTimeout(limits.idleSessionMs, () => {
      // Fired after that long without a frame either way; a stream still open (a long poll) keeps the session.
      if (open > 0 || session.destroyed) return;
      // GOAWAY; a session with a header block never finished (no stream yet) would wait for it forever.
      session.close();
      setTimeout(() => {
        if (open === 0 && !session.destroyed) session.destroy();
      }, 1_000).unref();
    });
    session.on('stream', (stream) => {
      open++;
      const timer = stream.endAfterHeaders ? undefined : setTimeout(() => stream.close(constants.NGHTTP2_CANCEL), limits.requestTimeoutMs);
      timer?.unref();
      stream.once('end', () => clearTimeout(timer));
      stream.once('close', () => {
        open--;
        clearTimeout(timer);
        if (stream.rstCode === constants.NGHTTP2_NO_ERROR || stream.headersSent) return;
        // Cancelled before its answer, by the client or for its fault (rapid reset: each costs a request).
        const now = Date.now();
        if (now - windowStart > limits.resetWindowMs) {
          windowStart = now;
          earlyResets = 0;
        }
        if (++earlyResets > limits.maxEarlyResets && !session.destroyed) {
          session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
          session.destroy();
        }
      });
    });
  });
  return {
    server,
    destroyConnections() {
      for (const socket of sockets) socket.destroy();
    },
  };
}

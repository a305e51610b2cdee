// One request and its response, as the pipeline sees them whatever the protocol: Node's HTTP/1.1 objects or
// HTTP/2's compatibility API (exposed-server.ts). The few places where the two differ are answered here.
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';

export type GatewayRequest = IncomingMessage | Http2ServerRequest;

/** What the gateway does with a response: what `ServerResponse` and `Http2ServerResponse` both offer. */
export interface GatewayResponse {
  statusCode: number;
  readonly headersSent: boolean;
  readonly writableFinished: boolean;
  /** HTTP/1.x only. */
  readonly destroyed?: boolean;
  /** HTTP/2 only: the response's stream. */
  readonly stream?: { readonly destroyed: boolean };
  setHeader(name: string, value: number | string | readonly string[]): unknown;
  getHeader(name: string): number | string | string[] | undefined;
  writeHead(statusCode: number, headers?: OutgoingHttpHeaders): unknown;
  write(chunk: string | Uint8Array): boolean;
  end(data?: string | Uint8Array): unknown;
  addTrailers(trailers: Record<string, string | string[]>): void;
  cork(): void;
  uncork(): void;
  destroy(err?: Error): unknown;
  on(event: 'close' | 'finish' | 'drain', listener: () => void): unknown;
  once(event: 'close' | 'finish' | 'drain', listener: () => void): unknown;
  off(event: 'close' | 'finish' | 'drain', listener: () => void): unknown;
}

export const isHttp2Request = (req: GatewayRequest): req is Http2ServerRequest => req.httpVersionMajor === 2 && 'stream' in req;

/**
 * The authority the client asked for: HTTP/2's `:authority`, else the `Host` header (RFC 9113 §8.3.1 lets a
 * request carry either; the framing stage refuses one carrying both when they differ). Undefined when absent.
 */
export function requestAuthority(req: GatewayRequest): string | undefined {
  if (isHttp2Request(req)) return req.headers[':authority'] ?? req.headers.host;
  return req.headers.host;
}

/**
 * Whether a request has a body to forward. HTTP/1.1 says so with Content-Length or Transfer-Encoding; HTTP/2
 * with a HEADERS frame that does not end the stream (a length is optional: gRPC sends none).
 */
export function requestHasBody(req: GatewayRequest): boolean {
  if (isHttp2Request(req)) return !req.stream.endAfterHeaders && req.headers['content-length'] !== '0';
  return req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
}

/** Whether the client has gone (its connection closed, or its HTTP/2 stream reset): nothing more reaches it. */
export function clientGone(res: GatewayResponse): boolean {
  return res.stream ? res.stream.destroyed : res.destroyed === true;
}

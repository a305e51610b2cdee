// A stand-in for the policy API in tests: records every request and answers
// with what the test's handler returns (by default, a plausible success).
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}

export interface FakeResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Sent as it is instead of `body` as JSON (a Server-Sent Events stream, say). */
  raw?: string;
}

export type Handler = (request: RecordedRequest) => FakeResponse | undefined;

export interface FakeApi {
  readonly url: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

/** Echoes the body back with an ID on writes, an empty list on collection reads. */
export function defaultResponse(request: RecordedRequest): FakeResponse {
  const segments = request.path.split('/').filter(Boolean);
  const body = (request.body ?? {}) as Record<string, unknown>;
  const namespace = String(request.headers['x-namespace'] ?? '/');
  if (request.method === 'POST' && segments[0] === 'import') return { status: 200, body: { created: 1, updated: 0 } };
  if (request.method === 'POST') return { status: 201, body: { ID: `id-${String(body.name)}`, namespace, ...body }, headers: { etag: '"1"' } };
  if (request.method === 'GET' && segments[0] === 'export') return { status: 200, body: { label: 'export', namespace, data: {} } };
  if (request.method === 'GET' && segments.length === 1) return { status: 200, body: [] };
  const name = decodeURIComponent(segments[1] ?? '');
  return { status: 200, body: { ID: `id-${name}`, name, namespace, ...body }, headers: { etag: '"2"' } };
}

export async function startFakeApi(handler: Handler = () => undefined): Promise<FakeApi> {
  const requests: RecordedRequest[] = [];
  const server = createServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    const url = new URL(req.url ?? '/', 'http://fake');
    const request: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: text === '' ? undefined : JSON.parse(text),
    };
    requests.push(request);
    const response = handler(request) ?? defaultResponse(request);
    res.writeHead(response.status, { 'content-type': response.raw === undefined ? 'application/json' : 'text/event-stream', ...response.headers });
    res.end(response.raw ?? (response.body === undefined ? '' : JSON.stringify(response.body)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** A URL where nothing listens: a port just bound and released. */
export async function closedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

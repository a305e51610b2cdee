import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

const LOOPBACK_HOSTNAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
const RESPONSE_BODY_LIMIT_BYTES = 64 * 1024;

export function isLoopbackUrl(url: URL): boolean {
  return LOOPBACK_HOSTNAMES.has(url.hostname.toLowerCase());
}

function requestBodyOf(body: RequestInit['body']): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof URLSearchParams) return Buffer.from(body.toString());
  if (body instanceof Uint8Array) return Buffer.from(body);
  throw new TypeError('loopback fetch supports string, URLSearchParams and byte bodies only');
}

async function readLimited(response: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response) {
    const buffer = chunk as Buffer;
    total += buffer.length;
    if (total > RESPONSE_BODY_LIMIT_BYTES) throw new Error(`response body exceeds ${RESPONSE_BODY_LIMIT_BYTES} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * One HTTP(S) request to this machine, accepting any server certificate: the microseg gateway that
 * receives back-channel logout tokens in demos serves a self-signed certificate on localhost.
 */
function fetchLoopback(url: URL, init: RequestInit): Promise<Response> {
  const body = requestBodyOf(init.body);
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((value, name) => {
    headers[name] = value;
  });
  if (body) headers['content-length'] = String(body.length);
  const options = {
    method: init.method ?? 'GET',
    headers,
    signal: init.signal ?? undefined,
    agent: false as const,
  };
  return new Promise<Response>((resolve, reject) => {
    const onResponse = (response: IncomingMessage) => {
      readLimited(response).then((bytes) => {
        const status = response.statusCode ?? 502;
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(response.headers)) {
          if (typeof value === 'string') responseHeaders.set(name, value);
          else if (Array.isArray(value)) for (const item of value) responseHeaders.append(name, item);
        }
        resolve(new Response(NULL_BODY_STATUSES.has(status) ? null : new Uint8Array(bytes), { status, headers: responseHeaders }));
      }, reject);
    };
    const outgoing =
      url.protocol === 'https:' ? httpsRequest(url, { ...options, rejectUnauthorized: false }, onResponse) : httpRequest(url, options, onResponse);
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/**
 * oidc-provider's `fetch` hook (its outgoing calls, e.g. back-channel logout). Targets on loopback
 * (localhost, 127.0.0.1, ::1) are reached without certificate verification and without the
 * provider's SSRF guard, which refuses loopback addresses; every other target goes through the
 * global fetch with the provider's options (certificate verification and SSRF guard kept).
 */
export function demoIdpFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  if (input instanceof Request) return globalThis.fetch(input, init);
  const url = new URL(input);
  if (isLoopbackUrl(url) && (url.protocol === 'https:' || url.protocol === 'http:')) {
    return fetchLoopback(url, init);
  }
  return globalThis.fetch(url, init);
}

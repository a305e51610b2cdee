// Tools of the gateway attack suite: a recording upstream (what the application
// would have received, down to the bytes), a raw TLS client that sends exactly
// the bytes a test writes (fetch and undici normalise or refuse most attacks
// before they leave the process), and the service that puts the recorder
// behind the gateway on the walkthrough's port.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { connect } from 'node:tls';
import { randomBytes } from 'node:crypto';
import type { Cluster } from '@microseg/testkit';

export interface Recorded {
  method: string;
  /** The request target exactly as received. */
  url: string;
  /** Header names and values exactly as received, in order. */
  rawHeaders: string[];
  body: string;
  /** Arrived as an HTTP upgrade (WebSocket, h2c) or CONNECT instead of a plain request. */
  via: 'request' | 'upgrade' | 'connect';
}

/** A unique marker for one attack request: every request a test sends carries one. */
export const marker = (label = 'm') => `${label}${randomBytes(6).toString('hex')}`;

/**
 * The application behind the gateway in this suite. It records every request it parses and every
 * byte it receives on any connection, so a test can say "nothing carrying this marker arrived",
 * whatever shape it arrived in.
 */
export class Recorder {
  readonly requests: Recorded[] = [];
  readonly #bytes: Buffer[] = [];
  readonly #server: Server;
  /** Extra response headers for requests whose target contains a text (a hostile application's answers). */
  readonly #answers: Array<{ text: string; headers: Record<string, string | string[]> }> = [];
  port = 0;

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.requests.push(this.#record(req, Buffer.concat(chunks).toString('latin1'), 'request'));
        const body = JSON.stringify({ recorded: true, url: req.url });
        const extra = this.#answers.find((a) => req.url?.includes(a.text))?.headers;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'set-cookie': 'app=1; Path=/; Secure', ...extra });
        res.end(req.method === 'HEAD' ? undefined : body);
      });
    });
    // Listened for, so that an upgrade or CONNECT that gets through is seen as one (and refused).
    this.#server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
      this.requests.push(this.#record(req, '', 'upgrade'));
      socket.destroy();
    });
    this.#server.on('connect', (req: IncomingMessage, socket: Socket) => {
      this.requests.push(this.#record(req, '', 'connect'));
      socket.destroy();
    });
    // Every byte, before any parsing (a 'data' listener makes Node hand the bytes to JavaScript too).
    this.#server.on('connection', (socket: Socket) => socket.on('data', (d: Buffer) => this.#bytes.push(d)));
  }

  #record(req: IncomingMessage, body: string, via: Recorded['via']): Recorded {
    return { method: req.method ?? '', url: req.url ?? '', rawHeaders: [...req.rawHeaders], body, via };
  }

  /** Answer requests whose target contains `text` with these headers too (replacing the default Set-Cookie). */
  respondTo(text: string, headers: Record<string, string | string[]>): void {
    this.#answers.push({ text, headers });
  }

  /** On `port` (one the cluster's gateway file allows: `startCluster({ gatewayPorts })`), or any free one. */
  async start(port = 0): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(port, '127.0.0.1', resolve));
    this.port = (this.#server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Everything received on any connection so far, as text (latin1: bytes stay bytes). */
  get rawText(): string {
    return Buffer.concat(this.#bytes).toString('latin1');
  }

  /** Whether any byte sequence received so far contains `text`. */
  sawBytes(text: string): boolean {
    return this.rawText.includes(text);
  }

  /** The parsed requests whose target contains `text`. */
  withTarget(text: string): Recorded[] {
    return this.requests.filter((r) => r.url.includes(text));
  }
}

/** Header values of one name in a recorded request, the name compared after folding case and `_`. */
export function headerValues(recorded: Recorded, name: string): string[] {
  const fold = (n: string) => n.toLowerCase().replaceAll('_', '-');
  const out: string[] = [];
  for (let i = 0; i < recorded.rawHeaders.length; i += 2) if (fold(recorded.rawHeaders[i]!) === fold(name)) out.push(recorded.rawHeaders[i + 1]!);
  return out;
}

export interface RawResponse {
  /** Status of the first response, or 0 when none came. */
  status: number;
  /** Headers of the first response, names lower-cased. */
  headers: Array<[string, string]>;
  header(name: string): string | undefined;
  body: string;
  /** Everything read from the connection. */
  text: string;
  /** How many responses (status lines) came back on the connection. */
  responses: number;
  /** The gateway closed the connection (rather than the test's wait ending). */
  closed: boolean;
  elapsedMs: number;
}

/** Every status line in `text`, for pipelined or smuggled requests. */
function countResponses(text: string): number {
  return text.match(/(?:^|\r\n)HTTP\/1\.[01] \d{3} /g)?.length ?? 0;
}

/** Whether `text` holds one complete response (Content-Length or chunked; HEAD has no body). */
function completeResponse(text: string, head: boolean): boolean {
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return false;
  const head_ = text.slice(0, end).toLowerCase();
  if (head || /^http\/1\.[01] (1\d\d|204|304) /.test(head_)) return true;
  const length = /\r\ncontent-length: *(\d+)/.exec(head_);
  if (length) return text.length - end - 4 >= Number(length[1]);
  if (/\r\ntransfer-encoding: *chunked/.test(head_)) return text.endsWith('\r\n0\r\n\r\n');
  return false;
}

export interface RawOptions {
  /** How long to wait for an answer; default 3 s. */
  timeoutMs?: number;
  /** Keep reading after the first complete response until close or timeout (smuggling, pipelining). */
  all?: boolean;
  /** The request is HEAD: the response has no body whatever its Content-Length says. */
  head?: boolean;
  /** The TLS server name; default localhost. */
  servername?: string;
}

/** Send exactly `bytes` over TLS to the gateway's port and read what comes back. */
export function rawRequest(port: number, bytes: string | Buffer, options: RawOptions = {}): Promise<RawResponse> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: options.servername ?? 'localhost', rejectUnauthorized: false });
    const chunks: Buffer[] = [];
    let closed = false;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parseRaw(Buffer.concat(chunks).toString('latin1'), closed, performance.now() - started));
    };
    const timer = setTimeout(finish, options.timeoutMs ?? 3_000);
    socket.once('secureConnect', () => socket.write(bytes));
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      if (!options.all && completeResponse(Buffer.concat(chunks).toString('latin1'), Boolean(options.head))) finish();
    });
    socket.once('end', () => {
      closed = true;
      finish();
    });
    socket.once('close', () => {
      closed = true;
      finish();
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      // A reset is the server hanging up.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') {
        closed = true;
        finish();
      } else if (!settled) {
        settled = true;
        clearTimeout(timer);
        reject(err);
      }
    });
  });
}

function parseRaw(text: string, closed: boolean, elapsedMs: number): RawResponse {
  const end = text.indexOf('\r\n\r\n');
  const head = end === -1 ? text : text.slice(0, end);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1];
  const headers = lines
    .map((line): [string, string] => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
    })
    .filter(([name]) => name);
  return {
    status: status ? Number(status) : 0,
    headers,
    header: (name) => headers.find(([n]) => n === name.toLowerCase())?.[1],
    body: end === -1 ? '' : text.slice(end + 4),
    text,
    responses: countResponses(text),
    closed,
    elapsedMs,
  };
}

/** A request as bytes: request line, headers (in order, as given), empty line, body. */
export function http1(requestLine: string, headers: Array<[string, string]> | string[], body = ''): string {
  const lines = headers.map((h) => (typeof h === 'string' ? h : `${h[0]}: ${h[1]}`));
  return `${requestLine}\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n${body}`;
}

export const NS = '/acme/team-c/walkthrough';

/** The admin API of the cluster, in the walkthrough's namespace unless told otherwise. */
export async function api(cluster: Cluster, method: string, path: string, body?: unknown, namespace = NS): Promise<{ status: number; body: any }> {
  const res = await fetch(`${cluster.policyUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${cluster.adminToken}`, 'x-namespace': namespace, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Where alice is sent after an authorization failure (a browser navigation that is denied). */
export const FAILURE_URL = 'https://denied.example/after?from=microseg&empty=#frag';

/**
 * The recorder behind the gateway as the walkthrough's service: `/public/*` GET public, `/*` GET and
 * `/upload` POST for alice, OIDC against the demo IdP, email → X-User-Email.
 */
export async function exposeRecorder(cluster: Cluster, recorder: Pick<Recorder, 'port'>): Promise<void> {
  const created = [
    await api(cluster, 'POST', '/externalnetworks', {
      name: 'idp',
      entries: ['localhost', '127.0.0.1'],
      servicePorts: [`tcp/${cluster.ports.idp}`],
      associatedTags: ['ext:name=idp'],
    }),
    await api(cluster, 'POST', '/networkaccesspolicies', {
      name: 'allow-app-to-idp',
      action: 'Allow',
      applyPolicyMode: 'OutgoingTraffic',
      subject: [['$identity=processingunit', 'type=walkthrough-app']],
      object: [['ext:name=idp']],
    }),
    await api(cluster, 'POST', '/httpresourcespecs', {
      name: 'recorded-api',
      associatedTags: ['api=recorded'],
      endpoints: [
        { URI: '/public/*', methods: ['GET'], public: true },
        { URI: '/*', methods: ['GET'], allowedScopes: [['email=alice@example.com']] },
        { URI: '/upload', methods: ['POST'], allowedScopes: [['email=alice@example.com']] },
      ],
    }),
    await api(cluster, 'POST', '/services', {
      name: 'recorded',
      hosts: ['localhost'],
      port: recorder.port,
      exposedPort: cluster.ports.walkthrough,
      selectors: [['type=walkthrough-app']],
      exposedAPIs: [['api=recorded']],
      authorizationType: 'OIDC',
      OIDCProviderURL: cluster.idpUrl,
      OIDCClientID: 'walkthrough-app',
      OIDCClientSecret: 'walkthrough-secret',
      OIDCScopes: ['email'],
      claimsToHTTPHeaderMappings: [{ claimName: 'email', targetHTTPHeader: 'X-User-Email' }],
      redirectURLOnAuthorizationFailure: FAILURE_URL,
    }),
  ];
  for (const c of created) if (c.status !== 201) throw new Error(`setting up the recorded service: ${c.status} ${JSON.stringify(c.body)}`);
}

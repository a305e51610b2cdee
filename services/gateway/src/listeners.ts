// One HTTPS server per exposedPort (HTTP/2 and HTTP/1.1: exposed-server.ts), opened and closed as routes
// change. A port that cannot be opened is reported and skipped; the others open all the same, and the next
// sync tries it again.
import type { IncomingMessage } from 'node:http';
import type { Server as NetServer, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { tracesItsOwnRequests, type Logger } from '@microseg/telemetry';
import { createExposedServer, type ExposedServer, type GatewayRequestHandler } from './exposed-server.ts';
import type { ProxyProtocol } from './proxy-protocol.ts';
import type { CertificateStore } from './tls.ts';

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** Why a port is not listened on: `RESERVED` (the gateway's own), or the error code of `listen` (EADDRINUSE, EACCES, …). */
export type PortFailures = Map<number, string>;

export class Listeners {
  readonly #servers = new Map<number, ExposedServer>();
  /** The TCP servers in front of the ports that take the PROXY protocol: they listen, the TLS server does not. */
  readonly #fronts = new Map<number, NetServer>();
  readonly #proxyProtocol: ProxyProtocol | undefined;
  readonly #upgradeHandlerFor: ((port: number) => UpgradeHandler) | undefined;
  #failures: PortFailures = new Map();
  readonly #host: string;
  readonly #reserved: ReadonlySet<number>;
  readonly #certs: CertificateStore;
  readonly #logger: Logger;
  readonly #handlerFor: (port: number) => GatewayRequestHandler;

  constructor(options: {
    host: string;
    /** Ports no service may have (the gateway's admin port). */
    reservedPorts?: Iterable<number>;
    certs: CertificateStore;
    logger: Logger;
    handlerFor: (port: number) => GatewayRequestHandler;
    /** Where the PROXY protocol is required (GATEWAY_PROXY_PROTOCOL_*). */
    proxyProtocol?: ProxyProtocol;
    /** Upgrades (`Connection: Upgrade`, HTTP/1.1 only); without it Node serves them as plain requests. */
    upgradeHandlerFor?: (port: number) => UpgradeHandler;
  }) {
    this.#proxyProtocol = options.proxyProtocol;
    this.#upgradeHandlerFor = options.upgradeHandlerFor;
    this.#host = options.host;
    this.#reserved = new Set(options.reservedPorts ?? []);
    this.#certs = options.certs;
    this.#logger = options.logger;
    this.#handlerFor = options.handlerFor;
  }

  get ports(): number[] {
    return [...this.#servers.keys()];
  }

  /** Listen on exactly `ports`, as far as possible; returns the ports that could not be opened, and why. */
  async reconcile(ports: Set<number>): Promise<PortFailures> {
    for (const [port, { server }] of this.#servers) {
      if (!ports.has(port)) {
        this.#servers.delete(port);
        this.#closeFront(port);
        // Closes idle HTTP/1.1 connections and tells HTTP/2 sessions to finish (GOAWAY).
        server.close();
        this.#logger.info({ port }, 'listener closed');
      }
    }
    const failures: PortFailures = new Map();
    for (const port of ports) {
      if (this.#servers.has(port)) continue;
      if (this.#reserved.has(port)) {
        failures.set(port, 'RESERVED');
        continue;
      }
      const exposed = createExposedServer(
        {
          SNICallback: (servername, cb) => {
            // Undefined: the default certificate (a name no route has); a rejection refuses the handshake.
            this.#certs.contextFor(port, servername).then(
              (ctx) => cb(null, ctx),
              (err: Error) => cb(err),
            );
          },
          minVersion: 'TLSv1.2',
          // Clients without SNI (IP addresses) get the default certificate.
          ...(await this.#certs.defaultCertificate()),
        },
        this.#handlerFor(port),
      );
      const server = exposed.server;
      // The request handler makes the request's span itself (pipeline/index.ts).
      tracesItsOwnRequests(server);
      server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
        if (socket.writable && !socket.destroyed) socket.end(`HTTP/1.1 ${clientErrorStatus(err.code)}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        else socket.destroy();
        this.#logger.debug({ code: err.code, port }, 'client error');
      });
      server.on('tlsClientError', (err) => this.#logger.debug({ err: err.message, port }, 'TLS handshake failed'));
      // An HTTP/2 session nghttp2 closed for a protocol error (its client gets GOAWAY).
      server.on('sessionError', (err) => this.#logger.debug({ err: err.message, port }, 'HTTP/2 session error'));
      // WebSocket handshakes (HTTP/1.1; Node's HTTP/2 server with allowHTTP1 fires 'upgrade' for them).
      if (this.#upgradeHandlerFor) server.on('upgrade', this.#upgradeHandlerFor(port));
      const front = this.#proxyProtocol?.appliesTo(port) ? this.#proxyProtocol.front(server) : undefined;
      const listening = front ?? server;
      const failed = await new Promise<string | undefined>((resolve) => {
        const onError = (err: NodeJS.ErrnoException) => resolve(err.code ?? 'ERROR');
        listening.once('error', onError);
        listening.listen(port, this.#host, () => {
          listening.off('error', onError);
          resolve(undefined);
        });
      });
      if (failed) {
        failures.set(port, failed);
        continue;
      }
      this.#servers.set(port, exposed);
      if (front) this.#fronts.set(port, front);
      this.#logger.info({ port, host: this.#host }, 'listening');
    }
    // Said once per port and reason, not at every sync that tries again.
    for (const [port, code] of failures)
      if (this.#failures.get(port) !== code) this.#logger.warn({ port, host: this.#host, code }, 'cannot listen; the services of this port are not served');
    this.#failures = failures;
    return failures;
  }

  #closeFront(port: number, done: () => void = () => {}): boolean {
    const front = this.#fronts.get(port);
    if (!front) return false;
    this.#fronts.delete(port);
    // It counts the connections it handed on: its callback comes when the last one is closed.
    front.close(() => done());
    return true;
  }

  /** Stop accepting; wait for in-flight requests within the grace period. */
  async close(graceMs: number): Promise<void> {
    const closing = [...this.#servers].map(
      ([port, { server }]) =>
        new Promise<void>((resolve) => {
          // Idle HTTP/1.1 connections closed, HTTP/2 sessions told to finish (GOAWAY).
          if (this.#closeFront(port, resolve)) server.close();
          else server.close(() => resolve());
        }),
    );
    const timer = setTimeout(() => {
      for (const exposed of this.#servers.values()) exposed.destroyConnections();
    }, graceMs);
    await Promise.all(closing);
    clearTimeout(timer);
    this.#servers.clear();
  }
}

/** What a request Node's parser refused gets: headers too large 431, too slow 408, anything else 400. */
export function clientErrorStatus(code: string | undefined): string {
  if (code === 'HPE_HEADER_OVERFLOW') return '431 Request Header Fields Too Large';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return '408 Request Timeout';
  return '400 Bad Request';
}

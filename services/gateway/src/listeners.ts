// One HTTPS server per exposedPort, opened and closed as routes change. A port
// that cannot be opened is reported and skipped; the others open all the same,
// and the next sync tries it again.
import { createServer, type Server } from 'node:https';
import type { Server as NetServer } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { tracesItsOwnRequests, type Logger } from '@microseg/telemetry';
import type { ProxyProtocol } from './proxy-protocol.ts';
import type { CertificateStore } from './tls.ts';

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** Why a port is not listened on: `RESERVED` (the gateway's own), or the error code of `listen` (EADDRINUSE, EACCES, …). */
export type PortFailures = Map<number, string>;

export class Listeners {
  readonly #servers = new Map<number, Server>();
  /** The TCP servers in front of the ports that take the PROXY protocol: they listen, the TLS server does not. */
  readonly #fronts = new Map<number, NetServer>();
  readonly #proxyProtocol: ProxyProtocol | undefined;
  #failures: PortFailures = new Map();
  readonly #host: string;
  readonly #reserved: ReadonlySet<number>;
  readonly #certs: CertificateStore;
  readonly #logger: Logger;
  readonly #handlerFor: (port: number) => (req: IncomingMessage, res: ServerResponse) => void;
  readonly #upgradeHandlerFor: ((port: number) => UpgradeHandler) | undefined;

  constructor(options: {
    host: string;
    /** Ports no service may have (the gateway's admin port). */
    reservedPorts?: Iterable<number>;
    certs: CertificateStore;
    logger: Logger;
    handlerFor: (port: number) => (req: IncomingMessage, res: ServerResponse) => void;
    /** Where the PROXY protocol is required (GATEWAY_PROXY_PROTOCOL_*). */
    proxyProtocol?: ProxyProtocol;
    /** Upgrades (`Connection: Upgrade`); without it Node serves them as plain requests. */
    upgradeHandlerFor?: (port: number) => UpgradeHandler;
  }) {
    this.#proxyProtocol = options.proxyProtocol;
    this.#host = options.host;
    this.#reserved = new Set(options.reservedPorts ?? []);
    this.#certs = options.certs;
    this.#logger = options.logger;
    this.#handlerFor = options.handlerFor;
    this.#upgradeHandlerFor = options.upgradeHandlerFor;
  }

  get ports(): number[] {
    return [...this.#servers.keys()];
  }

  /** Listen on exactly `ports`, as far as possible; returns the ports that could not be opened, and why. */
  async reconcile(ports: Set<number>): Promise<PortFailures> {
    for (const [port, server] of this.#servers) {
      if (!ports.has(port)) {
        this.#servers.delete(port);
        this.#closeFront(port);
        server.close();
        server.closeIdleConnections();
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
      const server = createServer(
        {
          SNICallback: (servername, cb) => {
            // Undefined: the default certificate (a name no route has); a rejection refuses the handshake.
            this.#certs.contextFor(port, servername).then(
              (ctx) => cb(null, ctx),
              (err: Error) => cb(err),
            );
          },
          minVersion: 'TLSv1.2',
          requestTimeout: 60_000,
          headersTimeout: 20_000,
          // How often those two timeouts are checked; Node's default (30 s) let a client that trickles
          // its headers (Slowloris) hold a connection for up to 50 s instead of 20.
          connectionsCheckingInterval: 1_000,
          keepAliveTimeout: 5_000,
          maxHeaderSize: 16 * 1024,
          // Clients without SNI (IP addresses) get the default certificate.
          ...(await this.#certs.defaultCertificate()),
        },
        this.#handlerFor(port),
      );
      // The request handler makes the request's span itself (pipeline/index.ts).
      tracesItsOwnRequests(server);
      if (this.#upgradeHandlerFor) server.on('upgrade', this.#upgradeHandlerFor(port));
      server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
        if (socket.writable && !socket.destroyed) socket.end(`HTTP/1.1 ${clientErrorStatus(err.code)}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        else socket.destroy();
        this.#logger.debug({ code: err.code, port }, 'client error');
      });
      server.on('tlsClientError', (err) => this.#logger.debug({ err: err.message, port }, 'TLS handshake failed'));
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
      this.#servers.set(port, server);
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
      ([port, server]) =>
        new Promise<void>((resolve) => {
          if (this.#closeFront(port, resolve)) server.close();
          else server.close(() => resolve());
          server.closeIdleConnections();
        }),
    );
    const timer = setTimeout(() => {
      for (const server of this.#servers.values()) server.closeAllConnections();
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

// One HTTPS server per exposedPort, opened and closed as routes change.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tracesItsOwnRequests, type Logger } from '@microseg/telemetry';
import type { CertificateStore } from './tls.ts';

export class Listeners {
  readonly #servers = new Map<number, Server>();
  readonly #host: string;
  readonly #certs: CertificateStore;
  readonly #logger: Logger;
  readonly #handlerFor: (port: number) => (req: IncomingMessage, res: ServerResponse) => void;

  constructor(options: { host: string; certs: CertificateStore; logger: Logger; handlerFor: (port: number) => (req: IncomingMessage, res: ServerResponse) => void }) {
    this.#host = options.host;
    this.#certs = options.certs;
    this.#logger = options.logger;
    this.#handlerFor = options.handlerFor;
  }

  get ports(): number[] {
    return [...this.#servers.keys()];
  }

  async reconcile(ports: Set<number>): Promise<void> {
    for (const [port, server] of this.#servers) {
      if (!ports.has(port)) {
        this.#servers.delete(port);
        server.close();
        server.closeIdleConnections();
        this.#logger.info({ port }, 'listener closed');
      }
    }
    for (const port of ports) {
      if (this.#servers.has(port)) continue;
      const server = createServer(
        {
          SNICallback: (servername, cb) => {
            this.#certs.contextFor(port, servername).then((ctx) => cb(null, ctx), (err: Error) => cb(err));
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
      // The request handler makes the request's span itself (pipeline/handler.ts).
      tracesItsOwnRequests(server);
      server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
        if (socket.writable && !socket.destroyed) socket.end(`HTTP/1.1 ${clientErrorStatus(err.code)}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        else socket.destroy();
        this.#logger.debug({ code: err.code, port }, 'client error');
      });
      server.on('tlsClientError', (err) => this.#logger.debug({ err: err.message, port }, 'TLS handshake failed'));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, this.#host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      this.#servers.set(port, server);
      this.#logger.info({ port, host: this.#host }, 'listening');
    }
  }

  /** Stop accepting; wait for in-flight requests within the grace period. */
  async close(graceMs: number): Promise<void> {
    const closing = [...this.#servers.values()].map(
      (server) =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
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

// The forward-auth port (GATEWAY_FORWARD_AUTH_PORT): HTTPS with the gateway's default certificate (the one
// generated for `localhost`, kept in MICROSEG_DATA_DIR/gateway/certs), the same timeouts and header limits as the
// services' ports, and its own handler. Unlike a service's port it is opened once, at start, and a port that
// cannot be opened stops the start: an ingress would otherwise fail every request.
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { tracesItsOwnRequests, type Logger } from '@microseg/telemetry';
import { clientErrorStatus } from '../listeners.ts';
import type { CertificateStore } from '../tls.ts';
import { createForwardAuthHandler } from './handler.ts';
import type { ForwardAuthDeps } from './stages.ts';
import { parseTrustedProxies } from './trust.ts';

export interface ForwardAuthListenerOptions {
  host: string;
  port: number;
  trustedProxies: readonly string[];
  certs: Pick<CertificateStore, 'defaultCertificate'>;
  logger: Logger;
}

export class ForwardAuthListener {
  readonly #options: ForwardAuthListenerOptions;
  readonly #deps: ForwardAuthDeps;
  #server: Server | undefined;

  constructor(deps: ForwardAuthDeps, options: ForwardAuthListenerOptions) {
    this.#deps = deps;
    this.#options = options;
  }

  /** The port listened on (the configured one; the one the system chose for 0, in tests). */
  get port(): number {
    const address = this.#server?.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  async listen(): Promise<void> {
    const { host, port, logger } = this.#options;
    const server = createServer(
      {
        ...(await this.#options.certs.defaultCertificate()),
        minVersion: 'TLSv1.2',
        requestTimeout: 60_000,
        headersTimeout: 20_000,
        connectionsCheckingInterval: 1_000,
        // Ingresses keep connections to their auth server open (nginx `keepalive`): longer than for browsers.
        keepAliveTimeout: 60_000,
        maxHeaderSize: 16 * 1024,
      },
      createForwardAuthHandler(this.#deps, { port, trusted: parseTrustedProxies(this.#options.trustedProxies) }),
    );
    tracesItsOwnRequests(server);
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      if (socket.writable && !socket.destroyed) socket.end(`HTTP/1.1 ${clientErrorStatus(err.code)}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      else socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    logger.info({ host, port: this.port, trusted: this.#options.trustedProxies }, 'forward-auth listening');
  }

  async close(graceMs: number): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    clearTimeout(timer);
  }
}

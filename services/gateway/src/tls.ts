// Certificates for the exposed ports: a service's own, or one generated at
// first use per host name and kept in the data directory.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { isIP } from 'node:net';
import { generate } from 'selfsigned';
import type { RoutingState } from './state.ts';

export class CertificateStore {
  readonly #dir: string;
  readonly #generated = new Map<string, Promise<{ cert: string; key: string; context: SecureContext }>>();
  readonly #own = new Map<string, SecureContext>();
  #state: RoutingState | undefined;

  constructor(dataDir: string) {
    this.#dir = join(dataDir, 'gateway', 'certs');
  }

  update(state: RoutingState): void {
    this.#state = state;
    this.#own.clear();
  }

  async contextFor(port: number, servername: string | undefined): Promise<SecureContext> {
    const host = (servername || 'localhost').toLowerCase();
    const route = this.#state?.find(port, host);
    if (route?.tlsCertificate && route.tlsCertificateKey) {
      const key = `${route.id}`;
      let ctx = this.#own.get(key);
      if (!ctx) {
        ctx = createSecureContext({ cert: route.tlsCertificate, key: route.tlsCertificateKey, minVersion: 'TLSv1.2' });
        this.#own.set(key, ctx);
      }
      return ctx;
    }
    return (await this.#generatedFor(/^[A-Za-z0-9.-]+$/.test(host) ? host : 'localhost')).context;
  }

  /** Certificate for clients that send no server name (they connect by IP address). */
  async defaultCertificate(): Promise<{ cert: string; key: string }> {
    const { cert, key } = await this.#generatedFor('localhost');
    return { cert, key };
  }

  #generatedFor(host: string): Promise<{ cert: string; key: string; context: SecureContext }> {
    let ctx = this.#generated.get(host);
    if (!ctx) {
      ctx = this.#loadOrCreate(host);
      this.#generated.set(host, ctx);
      ctx.catch(() => this.#generated.delete(host));
    }
    return ctx;
  }

  async #loadOrCreate(host: string): Promise<{ cert: string; key: string; context: SecureContext }> {
    const certFile = join(this.#dir, `${host}.crt`);
    const keyFile = join(this.#dir, `${host}.key`);
    let cert: string;
    let key: string;
    try {
      [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
    } catch {
      const names =
        host === 'localhost'
          ? [{ type: 2 as const, value: 'localhost' }, { type: 7 as const, ip: '127.0.0.1' }, { type: 7 as const, ip: '::1' }]
          : isIP(host)
            ? [{ type: 7 as const, ip: host }]
            : [{ type: 2 as const, value: host }];
      const pems = await generate([{ name: 'commonName', value: host }], {
        keyType: 'ec',
        curve: 'P-256',
        notAfterDate: new Date(Date.now() + 365 * 24 * 3600_000),
        extensions: [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
          { name: 'extKeyUsage', serverAuth: true },
          { name: 'subjectAltName', altNames: names },
        ],
      });
      cert = pems.cert;
      key = pems.private;
      await mkdir(this.#dir, { recursive: true, mode: 0o700 });
      await writeFile(keyFile, key, { mode: 0o600 });
      await writeFile(certFile, cert);
    }
    return { cert, key, context: createSecureContext({ cert, key, minVersion: 'TLSv1.2' }) };
  }
}

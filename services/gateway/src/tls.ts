// Certificates for the exposed ports: a service's own, or one generated for a
// host name of a configured route and kept in the data directory. A server name
// no route has (and no server name at all) gets the default certificate: a
// stranger's handshake never makes the gateway generate, write or keep anything.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { isIP } from 'node:net';
import { generate } from 'selfsigned';
import type { ServiceRoute } from '@microseg/proto/policy';
import type { RoutingState } from './state.ts';

interface Generated {
  cert: string;
  key: string;
  context: SecureContext;
}

/** A service's own certificate: the context made of it, or why none could be made. */
interface Own {
  cert: string;
  key: string;
  context?: SecureContext;
  error?: string;
}

/** A service whose certificate cannot be used: TLS handshakes for its hosts are refused. */
export interface CertificateProblem {
  route: ServiceRoute;
  message: string;
}

/** The name of the default certificate (it also covers 127.0.0.1 and ::1). */
const DEFAULT_HOST = 'localhost';
/** Host names that may name a file: anything else is served the default certificate. */
const FILE_SAFE_HOST = /^[a-z0-9][a-z0-9.-]*$/;

export class CertificateStore {
  readonly #dir: string;
  /** Generated certificates: the default one and those of configured host names, nothing else. */
  readonly #generated = new Map<string, Promise<Generated>>();
  /** Services' own certificates, by route id. */
  #own = new Map<string, Own>();
  #state: RoutingState | undefined;

  constructor(dataDir: string) {
    this.#dir = join(dataDir, 'gateway', 'certs');
  }

  /**
   * Take the routes of a sync: make the context of each service's own certificate (once per certificate),
   * start generating certificates for new host names, forget those of hosts no route has any more. Returns
   * the services whose certificate cannot be used.
   */
  update(state: RoutingState): CertificateProblem[] {
    const problems: CertificateProblem[] = [];
    const own = new Map<string, Own>();
    const generatedHosts = new Set<string>([DEFAULT_HOST]);
    for (const route of state.routes) {
      if (!route.tlsCertificate && !route.tlsCertificateKey) {
        for (const host of route.hosts.map((h) => h.toLowerCase())) {
          if (!FILE_SAFE_HOST.test(host)) continue;
          generatedHosts.add(host);
          // Made now rather than at the first handshake; a failure is retried then.
          this.#generatedFor(host).catch(() => undefined);
        }
        continue;
      }
      const previous = this.#own.get(route.id);
      const entry = previous && previous.cert === route.tlsCertificate && previous.key === route.tlsCertificateKey ? previous : ownCertificate(route);
      own.set(route.id, entry);
      if (entry.error) problems.push({ route, message: entry.error });
    }
    for (const host of this.#generated.keys()) if (!generatedHosts.has(host)) this.#generated.delete(host);
    this.#own = own;
    this.#state = state;
    return problems;
  }

  /**
   * The context for a handshake on `port` naming `servername`: undefined means the server's default
   * certificate (unknown or absent name). Rejects for a service whose own certificate cannot be used.
   */
  async contextFor(port: number, servername: string | undefined): Promise<SecureContext | undefined> {
    if (!servername) return undefined;
    const route = this.#state?.find(port, servername);
    if (!route) return undefined;
    const own = this.#own.get(route.id);
    if (own) {
      if (own.context) return own.context;
      throw new Error(`the certificate of service ${route.name} cannot be used`);
    }
    const host = servername.toLowerCase();
    if (!FILE_SAFE_HOST.test(host)) return undefined;
    return (await this.#generatedFor(host)).context;
  }

  /** Certificate for clients that send no server name or one no route has. */
  async defaultCertificate(): Promise<{ cert: string; key: string }> {
    const { cert, key } = await this.#generatedFor(DEFAULT_HOST);
    return { cert, key };
  }

  /** How many certificates (contexts) the store holds: bounded by the configured routes. */
  get size(): number {
    return this.#generated.size + this.#own.size;
  }

  #generatedFor(host: string): Promise<Generated> {
    let generated = this.#generated.get(host);
    if (!generated) {
      generated = this.#loadOrCreate(host);
      this.#generated.set(host, generated);
      generated.catch(() => this.#generated.delete(host));
    }
    return generated;
  }

  async #loadOrCreate(host: string): Promise<Generated> {
    const certFile = join(this.#dir, `${host}.crt`);
    const keyFile = join(this.#dir, `${host}.key`);
    let cert: string;
    let key: string;
    try {
      [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
    } catch {
      const names =
        host === DEFAULT_HOST
          ? [
              { type: 2 as const, value: DEFAULT_HOST },
              { type: 7 as const, ip: '127.0.0.1' },
              { type: 7 as const, ip: '::1' },
            ]
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

/** OpenSSL's reasons, said for the operator (never the PEM itself). */
const REASONS: Record<string, string> = {
  ERR_OSSL_X509_KEY_VALUES_MISMATCH: 'TLSCertificateKey is not the private key of TLSCertificate',
  ERR_OSSL_PEM_NO_START_LINE: 'a PEM block is missing or malformed',
  ERR_OSSL_UNSUPPORTED: 'the key is malformed or of an unsupported kind',
};

function ownCertificate(route: ServiceRoute): Own {
  const own: Own = { cert: route.tlsCertificate, key: route.tlsCertificateKey };
  if (!route.tlsCertificate || !route.tlsCertificateKey) {
    own.error = `${route.tlsCertificate ? 'TLSCertificateKey' : 'TLSCertificate'} is missing: set both TLSCertificate and TLSCertificateKey, or neither (a generated certificate)`;
    return own;
  }
  try {
    own.context = createSecureContext({ cert: route.tlsCertificate, key: route.tlsCertificateKey, minVersion: 'TLSv1.2' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    own.error = `TLSCertificate and TLSCertificateKey cannot be used: ${REASONS[code] ?? (err as Error).message}`;
  }
  return own;
}

// Certificates for tests that put TLS applications behind the gateway: a CA of the test's own and server
// certificates it issues (EC P-256, SHA-256), as an operator's private CA would.
import { generate } from 'selfsigned';

export type Certificate = Awaited<ReturnType<typeof generate>>;

const EC = { keyType: 'ec' as const, curve: 'P-256' as const, algorithm: 'sha256' };

/** A CA certificate and key (`cert`, `private`). `usages`: with keyCertSign/cRLSign, as a real CA has them. */
export function testCa(commonName: string, options: { usages?: boolean } = { usages: true }): Promise<Certificate> {
  return generate([{ name: 'commonName', value: commonName }], {
    ...EC,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      ...(options.usages === false ? [] : [{ name: 'keyUsage' as const, keyCertSign: true, cRLSign: true, critical: true }]),
    ],
  });
}

/** A server certificate for `hosts` (the first is its common name) issued by `ca`. */
export function serverCertificate(ca: Pick<Certificate, 'cert' | 'private'>, hosts: readonly string[]): Promise<Certificate> {
  return generate([{ name: 'commonName', value: hosts[0]! }], {
    ...EC,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: hosts.map((value) => ({ type: 2 as const, value })) },
    ],
  });
}

/** A self-signed EC certificate (no CA), e.g. for a listener whose certificate nobody checks. */
export function selfSignedEc(commonName: string): Promise<Certificate> {
  return generate([{ name: 'commonName', value: commonName }], EC);
}

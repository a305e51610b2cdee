// `applicationCA` (a service's application behind TLS): PEM certificates to trust, and nothing else. Each block
// must parse as an X.509 certificate; a private key pasted by mistake is refused, never stored.
import { X509Certificate } from 'node:crypto';

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)\r?\n-----END \1-----/g;
/** A bundle of many CAs is fine; a megabyte is not a CA bundle. */
export const MAX_CA_BUNDLE = 256 * 1024;

/** Why `pem` cannot be a bundle of CA certificates, or undefined when it can. */
export function certificateBundleProblem(pem: string): string | undefined {
  if (pem.length > MAX_CA_BUNDLE) return `must be at most ${MAX_CA_BUNDLE / 1024} KB of PEM certificates`;
  if (/PRIVATE KEY-----/.test(pem)) return 'must hold certificates only: it holds a private key (remove it, and consider that key exposed)';
  let count = 0;
  let rest = pem;
  for (const match of pem.matchAll(BLOCK)) {
    if (match[1] !== 'CERTIFICATE') return `must hold PEM certificates only, not ${match[1]}`;
    try {
      new X509Certificate(match[0]);
    } catch {
      return `certificate ${count + 1} is not a valid X.509 certificate`;
    }
    count++;
    rest = rest.replace(match[0], '');
  }
  if (count === 0) return 'must be one or more PEM certificates (-----BEGIN CERTIFICATE-----)';
  if (rest.trim() !== '') return 'must hold PEM certificates only, with nothing between them';
  return undefined;
}

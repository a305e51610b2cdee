// Write-only fields (OIDCClientSecret, TLSCertificateKey) are sealed before
// they reach the object store, with a key every policy replica shares.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

const PREFIX = 'enc:v1:';

export class SecretBox {
  readonly #key: Buffer;
  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('the secrets key must be 32 bytes');
    this.#key = key;
  }

  /** The key from configuration (base64), or from the file, created at first start. */
  static async load(configured: string | undefined, file: string, log: (msg: string) => void): Promise<SecretBox> {
    if (configured) return new SecretBox(Buffer.from(configured, 'base64'));
    try {
      return new SecretBox(Buffer.from((await readFile(file, 'utf8')).trim(), 'base64'));
    } catch {
      const key = randomBytes(32);
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      await writeFile(file, key.toString('base64'), { mode: 0o600, flag: 'wx' }).catch(async () => undefined);
      log(`generated the key that encrypts secrets at rest: ${file} (share it with every policy replica)`);
      return new SecretBox(Buffer.from((await readFile(file, 'utf8')).trim(), 'base64'));
    }
  }

  seal(plain: string): string {
    if (plain.startsWith(PREFIX)) return plain;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  open(sealed: string): string {
    if (!sealed.startsWith(PREFIX)) return sealed;
    const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }
}

export const writeOnlyFields = ['OIDCClientSecret', 'TLSCertificateKey'] as const;

/** Seal every write-only field of an object (a copy). */
export function sealObject<T extends object>(box: SecretBox, object: T): T {
  const copy = { ...object } as Record<string, unknown>;
  for (const field of writeOnlyFields) if (typeof copy[field] === 'string' && copy[field]) copy[field] = box.seal(copy[field] as string);
  return copy as T;
}

/** What the API shows: write-only fields removed. */
export function publicView<T extends object>(object: T): Partial<T> {
  const copy = { ...object } as Record<string, unknown>;
  for (const field of writeOnlyFields) delete copy[field];
  return copy as Partial<T>;
}

/** Open every write-only field of an object (a copy). */
export function openObject<T extends object>(box: SecretBox, object: T): T {
  const copy = { ...object } as Record<string, unknown>;
  for (const field of writeOnlyFields) if (typeof copy[field] === 'string' && copy[field]) copy[field] = box.open(copy[field] as string);
  return copy as T;
}

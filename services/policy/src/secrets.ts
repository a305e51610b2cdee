// Write-only fields (OIDCClientSecret, TLSCertificateKey) are sealed before
// they reach the object store, with keys every policy replica shares.
//
//   enc:v2:<key id>:<base64url(iv | tag | ciphertext)>   AES-256-GCM
//
// The additional data binds a sealed value to its object's kind, ID and field:
// copied into another object or field, it does not open. The key id is derived
// from the key, so that keys need no names and a value says which key it needs.
// Several keys: the first seals, all open (rotation). `enc:v1:` values (one
// key, no binding) still open with whichever key works and are re-sealed as v2.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

const V1 = 'enc:v1:';
const V2 = 'enc:v2:';
/** What sealed input looks like: refused from clients, never passed through. */
export const SEALED_PREFIX = 'enc:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export const writeOnlyFields = ['OIDCClientSecret', 'TLSCertificateKey'] as const;
export type WriteOnlyField = (typeof writeOnlyFields)[number];

/** Where a sealed value belongs: it opens only there. */
export interface SealContext {
  kind: string;
  id: string;
  field: string;
}

export type UnreadableReason = 'missing-key' | 'does-not-open' | 'malformed';

/** A sealed value this service cannot open. `keyId` is the key it needs, when the value says. */
export class SecretUnreadable extends Error {
  readonly reason: UnreadableReason;
  readonly keyId: string | undefined;
  constructor(reason: UnreadableReason, keyId: string | undefined) {
    super(
      reason === 'missing-key'
        ? keyId
          ? `sealed with key ${keyId}, which this policy service does not have`
          : 'sealed (enc:v1, before key ids) with a key this policy service does not have'
        : reason === 'does-not-open'
          ? `does not open with key ${keyId}: altered, or copied from another object or field`
          : 'is not a well-formed sealed value',
    );
    this.name = 'SecretUnreadable';
    this.reason = reason;
    this.keyId = keyId;
  }
}

/** The key's public name: 8 bytes of a SHA-256 over the key (domain-separated), hex. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('microseg secrets key id\0').update(key).digest().subarray(0, 8).toString('hex');
}

/** Decode one base64 key; undefined unless it is 32 bytes. */
export function decodeKey(text: string): Buffer | undefined {
  const key = Buffer.from(text.trim(), 'base64');
  return key.length === 32 ? key : undefined;
}

const additionalData = (ctx: SealContext) => Buffer.from(`${V2}${JSON.stringify([ctx.kind, ctx.id, ctx.field])}`, 'utf8');

export class SecretBox {
  readonly #keys: ReadonlyArray<{ id: string; key: Buffer }>;

  /** `keys[0]` seals; every key opens. */
  constructor(keys: readonly Buffer[]) {
    if (keys.length === 0) throw new Error('at least one secrets key is needed');
    for (const key of keys) if (key.length !== 32) throw new Error('a secrets key must be 32 bytes');
    const seen = new Set<string>();
    this.#keys = keys.map((key) => ({ id: keyIdOf(key), key })).filter((k) => !seen.has(k.id) && seen.add(k.id));
  }

  /** The id of the key that seals. */
  get currentKeyId(): string {
    return this.#keys[0]!.id;
  }

  get keyIds(): string[] {
    return this.#keys.map((k) => k.id);
  }

  /**
   * The keys from configuration (base64, the first seals), or else the one in `file`,
   * created at first start. A key file that exists but cannot be used stops the start.
   */
  static async load(configured: readonly string[], file: string, log: (msg: string) => void): Promise<SecretBox> {
    if (configured.length > 0) {
      const keys = configured.map((text, i) => {
        const key = decodeKey(text);
        if (!key) throw new Error(`secrets key ${i + 1} is not the base64 of 32 bytes (generate one with: openssl rand -base64 32)`);
        return key;
      });
      return new SecretBox(keys);
    }
    let text = await readKeyFile(file);
    if (text === undefined) {
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      // Another replica sharing the directory may write it first: then its key is read.
      await writeFile(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      text = (await readKeyFile(file)) ?? '';
      log(`generated the key that encrypts secrets at rest: ${file} (share it with every policy replica; POLICY_SECRETS_KEYS)`);
    }
    const key = decodeKey(text);
    if (!key) {
      throw new Error(
        `the secrets key in ${file} is not the base64 of 32 bytes. Restore the file from a backup, or give the key in POLICY_SECRETS_KEYS; ` +
          'deleting the file makes a new key, and secrets sealed with the old one must then be set again (msctl secrets status lists them)',
      );
    }
    return new SecretBox([key]);
  }

  seal(plain: string, ctx: SealContext): string {
    const { id, key } = this.#keys[0]!;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(additionalData(ctx));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${V2}${id}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  /** The plaintext; a value that is not sealed (stored before sealing existed) as it is. Throws SecretUnreadable. */
  open(value: string, ctx: SealContext): string {
    if (!value.startsWith(SEALED_PREFIX)) return value;
    const parsed = parseSealed(value);
    if (!parsed) throw new SecretUnreadable('malformed', undefined);
    if (parsed.version === 1) {
      for (const { key } of this.#keys) {
        const plain = decrypt(key, parsed.raw, undefined);
        if (plain !== undefined) return plain;
      }
      throw new SecretUnreadable('missing-key', undefined);
    }
    const entry = this.#keys.find((k) => k.id === parsed.keyId);
    if (!entry) throw new SecretUnreadable('missing-key', parsed.keyId);
    const plain = decrypt(entry.key, parsed.raw, additionalData(ctx));
    if (plain === undefined) throw new SecretUnreadable('does-not-open', parsed.keyId);
    return plain;
  }

  /** Whether a stored value should be sealed again: in clear, v1, or sealed with a key other than the current one. */
  needsReseal(value: string): boolean {
    if (!value.startsWith(SEALED_PREFIX)) return true;
    const parsed = parseSealed(value);
    return parsed !== undefined && (parsed.version === 1 || parsed.keyId !== this.currentKeyId);
  }
}

/** The key id a stored value names (v2), or undefined (v1, clear, malformed). */
export function keyIdOfSealed(value: string): string | undefined {
  const parsed = parseSealed(value);
  return parsed?.version === 2 ? parsed.keyId : undefined;
}

function parseSealed(value: string): { version: 1; raw: Buffer } | { version: 2; keyId: string; raw: Buffer } | undefined {
  const base64url = /^[A-Za-z0-9_-]+$/;
  if (value.startsWith(V1)) {
    const body = value.slice(V1.length);
    if (!base64url.test(body)) return undefined;
    const raw = Buffer.from(body, 'base64url');
    return raw.length >= IV_BYTES + TAG_BYTES ? { version: 1, raw } : undefined;
  }
  if (value.startsWith(V2)) {
    const m = /^([a-f0-9]{16}):([A-Za-z0-9_-]+)$/.exec(value.slice(V2.length));
    if (!m) return undefined;
    const raw = Buffer.from(m[2]!, 'base64url');
    return raw.length >= IV_BYTES + TAG_BYTES ? { version: 2, keyId: m[1]!, raw } : undefined;
  }
  return undefined;
}

function decrypt(key: Buffer, raw: Buffer, aad: Buffer | undefined): string | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    if (aad) decipher.setAAD(aad);
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

async function readKeyFile(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(
      `the secrets key file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); fix its permissions or give the key in POLICY_SECRETS_KEYS`,
      { cause: err },
    );
  }
}

type Fields = Record<string, unknown>;
const contextOf = (object: { kind: string; ID: string }, field: string): SealContext => ({ kind: object.kind, id: object.ID, field });

/**
 * Seal every write-only field of an object (a copy). A field that still holds the value stored
 * in `stored` (the same object, as read) is kept — sealed again with the current key when it
 * opens; anything else is sealed, even what looks sealed: input is never passed through.
 */
export function sealObject<T extends { kind: string; ID: string }>(box: SecretBox, object: T, stored?: { kind: string; ID: string }): T {
  const copy = { ...object } as Fields;
  const old = (stored ?? {}) as Fields;
  for (const field of writeOnlyFields) {
    const value = copy[field];
    if (typeof value !== 'string' || !value) continue;
    if (value === old[field] && stored?.ID === object.ID && stored.kind === object.kind && value.startsWith(SEALED_PREFIX)) {
      if (box.needsReseal(value)) copy[field] = resealed(box, value, contextOf(object, field)) ?? value;
      continue;
    }
    copy[field] = box.seal(value, contextOf(object, field));
  }
  return copy as T;
}

/** The value sealed with the current key, or undefined when it cannot be opened. */
export function resealed(box: SecretBox, value: string, ctx: SealContext): string | undefined {
  try {
    return box.seal(box.open(value, ctx), ctx);
  } catch (err) {
    if (err instanceof SecretUnreadable) return undefined;
    throw err;
  }
}

/** The object with every write-only field that opens sealed again with the current key; `fields` say which. */
export function resealObject<T extends { kind: string; ID: string }>(box: SecretBox, object: T): { object: T; fields: string[] } {
  const copy = { ...object } as unknown as Record<string, unknown>;
  const fields: string[] = [];
  for (const field of writeOnlyFields) {
    const value = copy[field];
    if (typeof value !== 'string' || !value || !box.needsReseal(value)) continue;
    const again = resealed(box, value, { kind: object.kind, id: object.ID, field });
    if (again === undefined) continue;
    copy[field] = again;
    fields.push(field);
  }
  return { object: copy as unknown as T, fields };
}

/** What the API shows: write-only fields removed. */
export function publicView<T extends object>(object: T): Partial<T> {
  const copy = { ...object } as Fields;
  for (const field of writeOnlyFields) delete copy[field];
  return copy as Partial<T>;
}

/** Open every write-only field of an object (a copy). Throws SecretUnreadable. */
export function openObject<T extends { kind: string; ID: string }>(box: SecretBox, object: T): T {
  const copy = { ...object } as Fields;
  for (const field of writeOnlyFields) if (typeof copy[field] === 'string' && copy[field]) copy[field] = box.open(copy[field], contextOf(object, field));
  return copy as T;
}

/** Write-only fields of client input that look sealed: refused (send the secret itself). */
export function sealedInputFields(input: unknown): WriteOnlyField[] {
  if (!input || typeof input !== 'object') return [];
  return writeOnlyFields.filter((field) => {
    const value = (input as Fields)[field];
    return typeof value === 'string' && value.trimStart().startsWith(SEALED_PREFIX);
  });
}

export const sealedInputMessage = 'looks sealed (enc:…); sealed values are not accepted as input: send the secret itself';

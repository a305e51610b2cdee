// SPEC §6 session tickets, after oauth2-proxy's ticket design: the cookie
// holds a random id (the Redis key) and a secret that never leaves the
// browser; Redis holds the session encrypted under a key derived from that
// secret, so a Redis dump alone reveals no token.

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export interface Ticket {
  readonly id: string;
  readonly secret: Buffer;
}

const ID_BYTES = 16;
const SECRET_BYTES = 32;
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const CIPHER = 'aes-256-gcm';
const KEY_INFO = 'microseg session v1';
/** Names the format, so a later scheme can be told apart and old sessions rejected. */
const SEALED_PREFIX = 'v1.';

/** Unpadded base64url of exactly `bytes` bytes: ceil(bytes * 4 / 3) characters. */
function base64urlLength(bytes: number): number {
  return Math.ceil((bytes * 4) / 3);
}

const COOKIE_FORMAT = new RegExp(`^([A-Za-z0-9_-]{${base64urlLength(ID_BYTES)}})\\.([A-Za-z0-9_-]{${base64urlLength(SECRET_BYTES)}})$`);
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Strict base64url: only the alphabet, no padding, and the canonical
 * spelling (unused trailing bits zero), so one value has one encoding.
 */
function decodeBase64url(text: string): Buffer | undefined {
  if (!BASE64URL.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

export function newTicket(): Ticket & { readonly cookieValue: string } {
  const id = randomBytes(ID_BYTES).toString('base64url');
  const secret = randomBytes(SECRET_BYTES);
  return { id, secret, cookieValue: `${id}.${secret.toString('base64url')}` };
}

/** The ticket in a cookie value, or undefined for anything not exactly `id.secret`. */
export function parseTicket(cookieValue: string): Ticket | undefined {
  const parts = COOKIE_FORMAT.exec(cookieValue);
  if (parts === null) return undefined;
  const [, id = '', encodedSecret = ''] = parts;
  const idBytes = decodeBase64url(id);
  const secret = decodeBase64url(encodedSecret);
  if (idBytes?.length !== ID_BYTES || secret?.length !== SECRET_BYTES) return undefined;
  return { id, secret };
}

/**
 * A per-session key. The id as salt binds the key to this session; the info
 * string separates it from any other use of the same secret.
 */
function sessionKey(ticket: Ticket): Buffer {
  return Buffer.from(hkdfSync('sha256', ticket.secret, Buffer.from(ticket.id, 'utf8'), KEY_INFO, KEY_BYTES));
}

/** The id as additional authenticated data: a sealed session moved under another id will not open. */
function additionalData(ticket: Ticket): Buffer {
  return Buffer.from(ticket.id, 'utf8');
}

/** `v1.` + base64url(iv | tag | ciphertext), for storing in Redis under the ticket id. */
export function sealSession(ticket: Ticket, plaintext: Uint8Array | string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(CIPHER, sessionKey(ticket), iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(ticket));
  const input = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  const ciphertext = Buffer.concat([cipher.update(input), cipher.final()]);
  return SEALED_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url');
}

/**
 * The plaintext, or undefined when the format is wrong, the secret or id is
 * not the one it was sealed with, or anything was altered. Never throws: every
 * failure is simply "no session". GCM checks the tag in constant time.
 */
export function openSession(ticket: Ticket, sealed: string): Buffer | undefined {
  if (typeof sealed !== 'string' || !sealed.startsWith(SEALED_PREFIX)) return undefined;
  const packed = decodeBase64url(sealed.slice(SEALED_PREFIX.length));
  if (packed === undefined || packed.length < IV_BYTES + TAG_BYTES) return undefined;
  const iv = packed.subarray(0, IV_BYTES);
  const tag = packed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES);
  const ciphertext = packed.subarray(IV_BYTES + TAG_BYTES);
  try {
    const decipher = createDecipheriv(CIPHER, sessionKey(ticket), iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(ticket));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    return undefined;
  }
}

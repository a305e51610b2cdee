// The key ring that signs identity assertions (SPEC §8.4): ES256 keys on P-256, each with the time it starts
// signing. Pure functions over a ring and a clock; the KV bucket and the timer are elsewhere (store.ts,
// maintenance.ts).
//
// Rotation without downtime: a new key is published (in every gateway's JWK Set) `prepublish` before it
// signs, so that applications that cached the key set meet its `kid` there; the key it replaces stays
// published until every assertion it signed has expired (`ttl`, plus a minute for clocks that differ).
// Every gateway picks the signing key from the same ring by the same clock rule — the newest key whose
// activation time has come — so replicas agree without talking to each other.
import { createHash, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import type { SecretBox } from '../secrets.ts';

/** A stored key: the public half in clear, the private half sealed (bound to its kid). */
export interface StoredKey {
  kid: string;
  createdAtMs: number;
  /** From then on it signs, until a newer key's activation. */
  activateAtMs: number;
  /** Set by an immediate rotation: no longer published from then on, whatever its successor. */
  withdrawnAtMs?: number;
  publicJwk: PublicJwk;
  /** PKCS #8 PEM, sealed (secrets.ts). */
  privateKey: string;
}

export interface Ring {
  v: 1;
  keys: StoredKey[];
}

export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

export interface RingSettings {
  ttlSeconds: number;
  /** How long a new key is published before it signs. */
  prepublishSeconds: number;
  /** A key older than this is replaced (0: only by hand). */
  rotationDays: number;
}

/** Clocks may differ between gateways, policy and applications by this much. */
export const CLOCK_SKEW_MS = 60_000;

export const sealContextOf = (kid: string) => ({ kind: 'assertionkey', id: kid, field: 'privateKey' });

/** RFC 7638 thumbprint of an EC public key: its kid. */
export function thumbprint(jwk: { crv: string; x: string; y: string }): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: 'EC', x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

/** A fresh key, its private half sealed with the current secrets key. */
export function generateKey(box: Pick<SecretBox, 'seal'>, nowMs: number, activateAtMs: number): StoredKey {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' }) as JsonWebKey & { x: string; y: string };
  const kid = thumbprint({ crv: 'P-256', x: jwk.x, y: jwk.y });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return {
    kid,
    createdAtMs: nowMs,
    activateAtMs,
    publicJwk: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid, alg: 'ES256', use: 'sig' },
    privateKey: box.seal(pem, sealContextOf(kid)),
  };
}

const byActivation = (a: StoredKey, b: StoredKey) => a.activateAtMs - b.activateAtMs || a.createdAtMs - b.createdAtMs;

/** The key that signs at `nowMs`: the newest one activated and not withdrawn (undefined before the first). */
export function signingKey(ring: Ring, nowMs: number): StoredKey | undefined {
  return [...ring.keys].sort(byActivation).findLast((k) => k.activateAtMs <= nowMs && (k.withdrawnAtMs === undefined || k.withdrawnAtMs > nowMs));
}

/** Until when each key is published: its successor's activation plus the last assertion's life; 0 while it has none. */
export function publishUntilMs(ring: Ring, key: StoredKey, ttlSeconds: number): number {
  const sorted = [...ring.keys].sort(byActivation);
  const next = sorted[sorted.indexOf(key) + 1];
  const retired = next ? next.activateAtMs + ttlSeconds * 1000 + CLOCK_SKEW_MS : 0;
  if (key.withdrawnAtMs === undefined) return retired;
  return retired === 0 ? key.withdrawnAtMs : Math.min(retired, key.withdrawnAtMs);
}

export type RingState = 'next' | 'signing' | 'previous';

/** What the API shows of a key: no private half. */
export function describe(
  ring: Ring,
  nowMs: number,
  ttlSeconds: number,
): Array<{ kid: string; state: RingState; createdAt: string; activatesAt: string; publishedUntil: string | null; publicJwk: PublicJwk }> {
  const signer = signingKey(ring, nowMs);
  return [...ring.keys].sort(byActivation).map((k) => {
    const until = publishUntilMs(ring, k, ttlSeconds);
    const state: RingState = k === signer ? 'signing' : k.activateAtMs > nowMs ? 'next' : 'previous';
    return {
      kid: k.kid,
      state,
      createdAt: new Date(k.createdAtMs).toISOString(),
      activatesAt: new Date(k.activateAtMs).toISOString(),
      publishedUntil: until ? new Date(until).toISOString() : null,
      publicJwk: k.publicJwk,
    };
  });
}

/** A ring with its first key, signing at once (there is nothing older for applications to know). */
export function firstRing(box: Pick<SecretBox, 'seal'>, nowMs: number): Ring {
  return { v: 1, keys: [generateKey(box, nowMs, nowMs)] };
}

/**
 * A rotation: a new key, published now and signing after `prepublishSeconds`. A key already waiting to sign
 * stands (rotating twice does not push the switch further away). `immediate` (a key that must go now): the
 * new key signs at once and every other key is withdrawn from the key set — assertions already issued stop
 * verifying wherever the key set is fetched again.
 */
export function rotate(ring: Ring, box: Pick<SecretBox, 'seal'>, nowMs: number, settings: RingSettings, immediate = false): { ring: Ring; changed: boolean } {
  if (immediate) {
    const fresh = generateKey(box, nowMs, nowMs);
    return { ring: { v: 1, keys: [...ring.keys.map((k) => ({ ...k, withdrawnAtMs: Math.min(k.withdrawnAtMs ?? nowMs, nowMs) })), fresh] }, changed: true };
  }
  if (ring.keys.some((k) => k.activateAtMs > nowMs && k.withdrawnAtMs === undefined)) return { ring, changed: false };
  return { ring: { v: 1, keys: [...ring.keys, generateKey(box, nowMs, nowMs + settings.prepublishSeconds * 1000)] }, changed: true };
}

/**
 * What a policy replica does to the ring now and then: drop keys no longer published, seal again the private
 * halves sealed with an older secrets key (so that the old key can be removed), and start a rotation when the
 * signing key is due to be replaced by `rotationDays` (the switch itself then happens on that day).
 */
export function maintain(
  ring: Ring,
  box: Pick<SecretBox, 'seal' | 'open' | 'needsReseal'>,
  nowMs: number,
  settings: RingSettings,
): { ring: Ring; changed: boolean } {
  let changed = false;
  let keys = ring.keys.filter((k) => {
    const until = publishUntilMs(ring, k, settings.ttlSeconds);
    return until === 0 || until > nowMs;
  });
  if (keys.length !== ring.keys.length) changed = true;
  keys = keys.map((k) => {
    if (!box.needsReseal(k.privateKey)) return k;
    try {
      const sealed = box.seal(box.open(k.privateKey, sealContextOf(k.kid)), sealContextOf(k.kid));
      changed = true;
      return { ...k, privateKey: sealed };
    } catch {
      return k;
    }
  });
  let next: Ring = { v: 1, keys };
  const signer = signingKey(next, nowMs);
  // No key signs (an empty ring): one that signs at once; a key waiting for its time keeps it.
  if (!signer) return { ring: { v: 1, keys: [...keys, generateKey(box, nowMs, nowMs)] }, changed: true };
  if (settings.rotationDays > 0) {
    const switchAt = signer.activateAtMs + settings.rotationDays * 86_400_000;
    const pending = keys.some((k) => k.activateAtMs > nowMs && k.withdrawnAtMs === undefined);
    if (!pending && nowMs >= switchAt - settings.prepublishSeconds * 1000) {
      next = { v: 1, keys: [...keys, generateKey(box, nowMs, Math.max(switchAt, nowMs + settings.prepublishSeconds * 1000))] };
      changed = true;
    }
  }
  return { ring: next, changed };
}

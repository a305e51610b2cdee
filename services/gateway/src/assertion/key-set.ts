// The assertion keys as policy sent them with the routes (SPEC §8.4): which key signs now, and the JWK Set
// the gateway publishes on every service host. Every gateway replica gets the same ring and applies the same
// clock rule — the newest key whose activation time has come signs; a key is published from the moment the
// gateway has it until its `publish_until` — so replicas agree without talking to each other, and a key is
// in every replica's key set long before any replica signs with it.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { AssertionSettings } from '@microseg/proto/policy';

export interface SigningKey {
  kid: string;
  key: KeyObject;
}

interface Key {
  kid: string;
  publicJwk: Record<string, unknown>;
  /** undefined when policy could not open it: published, never used to sign. */
  privateKey: KeyObject | undefined;
  activateAtMs: number;
  /** 0: no end yet. */
  publishUntilMs: number;
}

export class AssertionKeySet {
  #keys: Key[] = [];
  #issuer = '';
  #ttlSeconds = 60;
  /** Changes whenever what is signed, or with what, may have changed: cached assertions of an older generation are signed again. */
  #generation = 0;
  #fingerprint = '';
  #jwks: { body: string; validUntilMs: number } | undefined;
  readonly #onProblem: (message: string) => void;
  #reported = '';

  /** `onProblem` hears, once per cause, that the gateway cannot sign (no usable key). */
  constructor(onProblem: (message: string) => void = () => undefined) {
    this.#onProblem = onProblem;
  }

  get issuer(): string {
    return this.#issuer;
  }

  get ttlSeconds(): number {
    return this.#ttlSeconds;
  }

  get generation(): number {
    return this.#generation;
  }

  /** Take what a sync brought. Keys already known keep their parsed private half. */
  update(settings: AssertionSettings | undefined): void {
    if (!settings) return;
    const fingerprint = JSON.stringify([
      settings.issuer,
      settings.ttlSeconds,
      settings.keys.map((k) => [k.kid, k.publicJwk, k.privateKeyPem.length, String(k.activateAtMs), String(k.publishUntilMs)]),
    ]);
    if (fingerprint === this.#fingerprint) return;
    const known = new Map(this.#keys.map((k) => [k.kid, k]));
    const keys: Key[] = [];
    for (const k of settings.keys) {
      let publicJwk: Record<string, unknown>;
      try {
        publicJwk = JSON.parse(k.publicJwk) as Record<string, unknown>;
      } catch {
        this.#report(`assertion key ${k.kid} has a public half that is not JSON: not published`);
        continue;
      }
      let privateKey = known.get(k.kid)?.privateKey;
      if (!privateKey && k.privateKeyPem) {
        try {
          privateKey = createPrivateKey(k.privateKeyPem);
        } catch {
          this.#report(`assertion key ${k.kid} has a private half that cannot be read: it does not sign`);
        }
      }
      keys.push({ kid: k.kid, publicJwk, privateKey, activateAtMs: Number(k.activateAtMs), publishUntilMs: Number(k.publishUntilMs) });
    }
    keys.sort((a, b) => a.activateAtMs - b.activateAtMs);
    this.#keys = keys;
    this.#issuer = settings.issuer;
    this.#ttlSeconds = settings.ttlSeconds || 60;
    this.#fingerprint = fingerprint;
    this.#jwks = undefined;
    this.#generation++;
  }

  /** The key that signs at `nowMs`; undefined when there is none with a private half (reported once). */
  signer(nowMs: number): SigningKey | undefined {
    let chosen: Key | undefined;
    for (const k of this.#keys) if (k.activateAtMs <= nowMs && published(k, nowMs)) chosen = k;
    if (!chosen?.privateKey) {
      this.#report(
        chosen
          ? `the signing assertion key ${chosen.kid} reached this gateway without its private half (policy cannot open it): requests go without an assertion`
          : 'no assertion key signs yet: requests go without an assertion',
      );
      return undefined;
    }
    return { kid: chosen.kid, key: chosen.privateKey };
  }

  /** The JWK Set (JSON) published at `nowMs`: every key from its arrival until its `publish_until`. */
  jwks(nowMs: number): string {
    if (this.#jwks && nowMs < this.#jwks.validUntilMs) return this.#jwks.body;
    const keys = this.#keys.filter((k) => published(k, nowMs));
    const ends = keys.map((k) => k.publishUntilMs).filter((t) => t > 0);
    this.#jwks = { body: JSON.stringify({ keys: keys.map((k) => k.publicJwk) }), validUntilMs: ends.length > 0 ? Math.min(...ends) : Infinity };
    return this.#jwks.body;
  }

  #report(message: string): void {
    if (this.#reported === message) return;
    this.#reported = message;
    this.#onProblem(message);
  }
}

const published = (k: Key, nowMs: number) => k.publishUntilMs === 0 || nowMs < k.publishUntilMs;

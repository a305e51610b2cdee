// The state of a login in progress: single use, short-lived, in Redis so any
// replica can complete it, and bound to the browser that started it.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { redisKeys } from '@microseg/contracts';

export interface LoginState {
  serviceId: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
  bindingHash: string;
  startedAtMs: number;
}

const BINDING = /^[A-Za-z0-9_-]{43}$/;

export function newBinding(): string {
  return randomBytes(32).toString('base64url');
}

/** Keep the browser's binding when it is well formed, so logins in several tabs work. */
export function bindingFor(existing: string): string {
  return BINDING.test(existing) ? existing : newBinding();
}

export function hashBinding(binding: string): string {
  return createHash('sha256').update(binding).digest('hex');
}

export function bindingMatches(binding: string, expectedHash: string): boolean {
  if (!BINDING.test(binding)) return false;
  const a = Buffer.from(hashBinding(binding), 'hex');
  const b = Buffer.from(expectedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Only a same-origin path is a place to return to; anything else becomes `/`. */
export function safeReturnPath(candidate: string): string {
  if (candidate.length > 4096 || !candidate.startsWith('/') || candidate.startsWith('//') || candidate.startsWith('/\\')) return '/';
  if (/[\u0000-\u001f\u007f\\]/.test(candidate)) return '/';
  return candidate;
}

export class LoginStateStore {
  readonly #redis: Redis;
  readonly #ttlSeconds: number;
  constructor(redis: Redis, ttlSeconds: number) {
    this.#redis = redis;
    this.#ttlSeconds = ttlSeconds;
  }

  async save(state: string, value: LoginState): Promise<void> {
    await this.#redis.set(redisKeys.loginState(state), JSON.stringify(value), 'EX', this.#ttlSeconds);
  }

  /** Atomically read and delete: a state can be used once. */
  async take(state: string): Promise<LoginState | undefined> {
    if (!/^[A-Za-z0-9_-]{16,128}$/.test(state)) return undefined;
    const raw = await this.#redis.getdel(redisKeys.loginState(state));
    return raw ? (JSON.parse(raw) as LoginState) : undefined;
  }
}

// Login starts per client address (issue 12, point 4). Every browser
// navigation without a session writes a login state to Redis; without a bound,
// one client could fill Redis by asking for protected pages in a loop. Starts
// are counted per address in a fixed window as long as a login state lives
// (AUTHN_LOGIN_TTL_SECONDS), so one address holds at most the limit's worth of
// states at any time. IPv6 clients are counted per /64: one host usually has a
// whole /64 to pick addresses from.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { redisKeys } from '@microseg/contracts';
import { canonicalAddress } from './idp-network.ts';

/** The unit counted for an address: an IPv4 address (IPv4-mapped IPv6 unwrapped), an IPv6 /64, or `unknown`. */
export function addressBucket(clientIp: string): string {
  const parsed = canonicalAddress(clientIp);
  if (!parsed) return 'unknown';
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const parts = (parsed as unknown as { parts: number[] }).parts;
  return `${parts
    .slice(0, 4)
    .map((p) => p.toString(16))
    .join(':')}::/64`;
}

/** INCR, and the window starts with the first start (a key left without a TTL gets one). */
const COUNT = `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`;

export type LoginStartVerdict =
  | { allowed: true }
  /** `firstRefusal`: the first refused start of this address in this window (one event per address and window). */
  | { allowed: false; retryAfterSeconds: number; firstRefusal: boolean; bucket: string };

export class LoginStartLimiter {
  readonly #redis: Redis;
  readonly #limit: number;
  readonly #windowSeconds: number;

  constructor(redis: Redis, options: { limit: number; windowSeconds: number }) {
    this.#redis = redis;
    this.#limit = options.limit;
    this.#windowSeconds = options.windowSeconds;
  }

  /** Count one login start from `clientIp`. */
  async count(clientIp: string): Promise<LoginStartVerdict> {
    const bucket = addressBucket(clientIp);
    const key = redisKeys.loginStarts(createHash('sha256').update(bucket).digest('hex').slice(0, 40));
    const [n, ttl] = (await this.#redis.eval(COUNT, 1, key, String(this.#windowSeconds))) as [number, number];
    if (n <= this.#limit) return { allowed: true };
    return { allowed: false, retryAfterSeconds: Math.max(1, ttl), firstRefusal: n === this.#limit + 1, bucket };
  }
}

// Minimal, strict cookie handling for microseg's own cookies.
import { cookies } from '@microseg/contracts';

/** All values of one cookie name in a Cookie header (duplicates are visible to the caller). */
export function cookieValues(header: string | undefined, name: string): string[] {
  if (!header) return [];
  const values: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) values.push(part.slice(eq + 1).trim());
  }
  return values;
}

/** A single value, or '' when absent or ambiguous (sent twice): fail closed. */
export function singleCookie(header: string | undefined, name: string): string {
  const values = cookieValues(header, name);
  return values.length === 1 ? values[0]! : '';
}

/** The Cookie header without the named cookies; undefined when nothing is left. */
export function withoutCookies(header: string | undefined, names: readonly string[]): string | undefined {
  if (!header) return undefined;
  const kept = header
    .split(';')
    .map((p) => p.trim())
    .filter((p) => {
      if (!p) return false;
      const eq = p.indexOf('=');
      const n = (eq === -1 ? p : p.slice(0, eq)).trim();
      return !names.includes(n);
    });
  return kept.length > 0 ? kept.join('; ') : undefined;
}

/** `__Host-` cookies: Secure, Path=/, no Domain; HttpOnly; SameSite=Lax. */
export function hostCookie(name: string, value: string, maxAgeSeconds: number): string {
  return `${name}=${value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`;
}

/**
 * microseg's cookie names without their prefix, lower-cased (`microseg`, `microseg-login`): the names an
 * application behind the gateway may never set, whatever the case or prefix it spells them with.
 */
const RESERVED_NAMES: ReadonlySet<string> = new Set(Object.values(cookies).map((name) => withoutCookiePrefix(name.toLowerCase())));

function withoutCookiePrefix(lowerCaseName: string): string {
  if (lowerCaseName.startsWith('__host-')) return lowerCaseName.slice('__host-'.length);
  if (lowerCaseName.startsWith('__secure-')) return lowerCaseName.slice('__secure-'.length);
  return lowerCaseName;
}

/**
 * The name a browser will send back for this Set-Cookie line. A nameless cookie (`=name=value`, or no `=` at
 * all) is sent as its bare value, so a server reads the value's own `name=` as the cookie's name.
 */
export function setCookieName(line: string): string {
  const semicolon = line.indexOf(';');
  const pair = semicolon === -1 ? line : line.slice(0, semicolon);
  const eq = pair.indexOf('=');
  const name = eq === -1 ? '' : pair.slice(0, eq).trim();
  if (name) return name;
  const value = eq === -1 ? pair : pair.slice(eq + 1);
  const inner = value.indexOf('=');
  return (inner === -1 ? value : value.slice(0, inner)).trim();
}

/**
 * Whether an application's Set-Cookie line would set one of microseg's cookies (session fixation, login
 * CSRF): its name compared after trimming, in any case, with or without a `__Host-`/`__Secure-` prefix.
 */
export function setsReservedCookie(line: string): boolean {
  // The common case (the application's own cookies) costs one search, no string is made.
  if (!MENTIONS_MICROSEG.test(line)) return false;
  return RESERVED_NAMES.has(withoutCookiePrefix(setCookieName(line).toLowerCase()));
}

const MENTIONS_MICROSEG = /microseg/i;

/** The application's Set-Cookie value(s) without microseg's cookies; undefined when none is left. */
export function withoutReservedSetCookies(value: string | string[]): string | string[] | undefined {
  if (typeof value === 'string') return setsReservedCookie(value) ? undefined : value;
  if (!value.some(setsReservedCookie)) return value;
  const kept = value.filter((line) => !setsReservedCookie(line));
  return kept.length > 0 ? kept : undefined;
}

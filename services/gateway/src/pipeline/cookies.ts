// Minimal, strict cookie handling for microseg's own cookies.

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

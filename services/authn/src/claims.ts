// SPEC §4.4: ID token claims become `key=value` tags, which endpoints'
// `allowedScopes` and policies then match (SPEC §1.2). A tag is data: a `*`
// or `!` in a claim is a character, never part of a pattern.

/** Claims nested deeper than `a:b:c` give no tag. */
export const MAX_CLAIM_DEPTH = 3;

/**
 * `$` tags are set by the system (`$identity=…`), and `@` and `+` are
 * reserved for it too (SPEC §1); an IdP claim must not be able to forge one.
 * A key with `=` would make `key=value` ambiguous to split.
 */
function isUsableClaimName(name: string): boolean {
  return name !== '' && !name.includes('=') && !name.startsWith('$') && !name.startsWith('@') && !name.startsWith('+');
}

/**
 * A name on the path of a nested claim (`address` in `address:country`): without `:`, so that a nested
 * key names one path only (`a:b:c` is a → b → c, never the member `b:c` of `a`); and one a rule can
 * name (SPEC §1.2): no space, `=`, `*` or `!`.
 */
function isPathSegment(name: string): boolean {
  return /^[^\s=:*!]+$/.test(name);
}

/** Strings as they are, booleans as `true`/`false`; numbers, objects and null carry no tag. */
function tagValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return String(value);
  return undefined;
}

function tagValues(value: unknown): string[] {
  const elements = Array.isArray(value) ? value : [value];
  return elements.map(tagValue).filter((element) => element !== undefined);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Every usable claim, in claim order (JavaScript object order: integer-like
 * names first), without duplicates. Array claims give one tag per string or
 * boolean element, so `groups: [a, b]` is `groups=a`, `groups=b`.
 *
 * Object claims give tags for their members, the path joined with `:`, down to
 * MAX_CLAIM_DEPTH names: `{address: {country: "FR"}}` is `address:country=FR`.
 * Names on such a path hold no `:` (a top-level claim whose name does, such
 * as `https://example.com/roles`, keeps giving its own tags, but its members,
 * if it is an object, give none). When a top-level claim is named exactly like
 * a nested one (`"address:country"` beside `address.country`), the top-level
 * claim wins and the nested one gives no tag: one key, one source.
 */
export function claimsToTags(claims: Readonly<Record<string, unknown>>): string[] {
  const tags = new Set<string>();
  const topLevel = new Set(Object.keys(claims));
  const add = (key: string, value: unknown, depth: number): void => {
    if (!isObject(value)) {
      for (const element of tagValues(value)) tags.add(`${key}=${element}`);
      return;
    }
    if (depth >= MAX_CLAIM_DEPTH) return;
    for (const [member, inner] of Object.entries(value)) {
      if (!isPathSegment(member)) continue;
      const nested = `${key}:${member}`;
      if (!topLevel.has(nested)) add(nested, inner, depth + 1);
    }
  };
  for (const [name, value] of Object.entries(claims)) {
    if (!isUsableClaimName(name)) continue;
    if (isObject(value) && !isPathSegment(name)) continue;
    add(name, value, 1);
  }
  return [...tags];
}

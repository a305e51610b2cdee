// SPEC §4: ID token claims become `key=value` tags, which endpoints'
// `allowedScopes` and policies then match exactly.

/**
 * `$` tags are set by the system (`$identity=…`), and `@` and `+` are
 * reserved for it too (SPEC §1); an IdP claim must not be able to forge one.
 * A key with `=` would make `key=value` ambiguous to split.
 */
function isUsableClaimName(name: string): boolean {
  return name !== '' && !name.includes('=') && !name.startsWith('$') && !name.startsWith('@') && !name.startsWith('+');
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

/**
 * Every usable top-level claim, in claim order (JavaScript object order:
 * integer-like names first), without duplicates. Array claims give one tag
 * per string or boolean element, so `groups: [a, b]` is `groups=a`, `groups=b`.
 */
export function claimsToTags(claims: Readonly<Record<string, unknown>>): string[] {
  const tags = new Set<string>();
  for (const [name, value] of Object.entries(claims)) {
    if (!isUsableClaimName(name)) continue;
    for (const element of tagValues(value)) tags.add(`${name}=${element}`);
  }
  return [...tags];
}

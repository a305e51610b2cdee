// SPEC §1 tag expressions: an OR of AND-lists of exact, case-sensitive tags.

export type TagExpression = ReadonlyArray<ReadonlyArray<string>>;

/**
 * True when every tag of at least one inner list is present. An empty
 * expression or an empty inner list matches nothing: an empty list must not
 * become "allow everyone" by accident.
 */
export function matchesTagExpression(expression: TagExpression, tags: ReadonlySet<string> | readonly string[]): boolean {
  const present: ReadonlySet<string> = tags instanceof Set ? tags : new Set(tags);
  return expression.some((allOf) => allOf.length > 0 && allOf.every((tag) => present.has(tag)));
}

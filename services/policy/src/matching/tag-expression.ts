// SPEC §1.2 tag expressions: an OR of AND-lists of tag patterns (tag-pattern.ts): `key=value` must be
// present, `key!=value` absent, `*` in a value stands for any run of characters.
import { anyTagFits, compileTagPattern, type TagPattern } from './tag-pattern.ts';

export type TagExpression = ReadonlyArray<ReadonlyArray<string>>;

export interface CompiledTagExpression {
  matches(tags: ReadonlySet<string>): boolean;
}

interface AndList {
  present: TagPattern[];
  absent: TagPattern[];
}

/**
 * An AND-list with no tag that must be present matches nothing: an empty list, and a list of negations
 * only, which would otherwise let in everyone who lacks a tag — a user whose IdP sends no such claim
 * included. The API refuses the latter (objects/tag-expressions.ts); this holds for what is stored anyway.
 */
function compileList(list: ReadonlyArray<string>): AndList | undefined {
  const patterns = list.map(compileTagPattern);
  const present = patterns.filter((p) => !p.negated);
  if (present.length === 0) return undefined;
  return { present, absent: patterns.filter((p) => p.negated) };
}

function listMatches(list: AndList, tags: ReadonlySet<string>): boolean {
  return list.present.every((p) => anyTagFits(p, tags)) && !list.absent.some((p) => anyTagFits(p, tags));
}

/** Patterns parsed once, for every decision made with the same objects. */
export function compileTagExpression(expression: TagExpression): CompiledTagExpression {
  const lists = expression.map(compileList).filter((l) => l !== undefined);
  return { matches: (tags) => lists.some((list) => listMatches(list, tags)) };
}

/** Compiled expressions by identity: a snapshot's objects are immutable, and every decision reuses them. */
const compiled = new WeakMap<TagExpression, CompiledTagExpression>();

function compiledFor(expression: TagExpression): CompiledTagExpression {
  let found = compiled.get(expression);
  if (!found) {
    found = compileTagExpression(expression);
    compiled.set(expression, found);
  }
  return found;
}

/**
 * True when at least one inner list matches: each of its `key=value` patterns fits some tag and none of
 * its `key!=value` patterns fits any. An empty expression matches nothing, and so does an inner list with
 * no pattern that must be present: an empty list must not become "allow everyone" by accident.
 */
export function matchesTagExpression(expression: TagExpression, tags: ReadonlySet<string> | readonly string[]): boolean {
  const present: ReadonlySet<string> = tags instanceof Set ? tags : new Set(tags);
  return compiledFor(expression).matches(present);
}

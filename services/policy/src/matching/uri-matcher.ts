// SPEC §5 endpoint matching: one trie of path patterns per HTTP method.
//
// Pattern segments: a literal matches itself (case-sensitive), `?` matches
// exactly one segment, `*` matches one or more segments, and a trailing `*`
// also matches none. At each node the search tries literal, then `?`, then
// `*` (shortest first), backtracking; the first complete match wins.
//
// Patterns are compiled through the request normaliser of the gateway
// (@microseg/paths), so `/caf%c3%a9/*` matches the path `/caf%C3%A9/x` that
// the gateway forwards for `/caf%c3%a9/x` and for `/caf%C3%A9/x`.
import { ANY_SEGMENTS, normalisePattern, ONE_SEGMENT } from '@microseg/paths';

export interface EndpointRule<T> {
  readonly uri: string;
  readonly methods: readonly string[];
  readonly value: T;
}

export interface UriMatcher<T> {
  /**
   * The values of every rule sharing the first matching pattern for this
   * method, or undefined when nothing matches (or the path is too deep or
   * too costly to search — both treated as "no match", i.e. a denial).
   */
  match(method: string, path: string): T[] | undefined;
}

interface TrieNode<T> {
  readonly literals: Map<string, TrieNode<T>>;
  one: TrieNode<T> | undefined;
  many: TrieNode<T> | undefined;
  /** Set when a pattern ends here; several rules may share one pattern. */
  values: T[] | undefined;
}

/** Deeper paths are refused outright: no real application needs them. */
export const MAX_PATH_SEGMENTS = 256;
/** Backstop against pathological patterns; remembering failures keeps real searches far below it. */
export const MAX_SEARCH_STEPS = 10_000;

function newNode<T>(): TrieNode<T> {
  return { literals: new Map(), one: undefined, many: undefined, values: undefined };
}

/** Empty segments are dropped, so `//a/` and `/a` are the same pattern or path. */
function splitSegments(path: string): string[] {
  return path.split('/').filter((segment) => segment !== '');
}

/** Upper-cased, deduplicated, and HEAD added wherever GET is (SPEC §5, §10). */
function methodsCoveredBy(methods: readonly string[]): Set<string> {
  const covered = new Set(methods.map((method) => method.toUpperCase()));
  if (covered.has('GET')) covered.add('HEAD');
  return covered;
}

function childFor<T>(node: TrieNode<T>, segment: string): TrieNode<T> {
  if (segment === ONE_SEGMENT) return (node.one ??= newNode());
  if (segment === ANY_SEGMENTS) return (node.many ??= newNode());
  let child = node.literals.get(segment);
  if (child === undefined) {
    child = newNode();
    node.literals.set(segment, child);
  }
  return child;
}

function insert<T>(root: TrieNode<T>, segments: readonly string[], value: T): void {
  let node = root;
  for (const segment of segments) node = childFor(node, segment);
  (node.values ??= []).push(value);
}

interface SearchState {
  steps: number;
  exhausted: boolean;
  /** (node, index) pairs already known to fail: the outcome depends on nothing else. */
  readonly failed: Map<object, Set<number>>;
}

function knownToFail(state: SearchState, node: object, index: number): boolean {
  return state.failed.get(node)?.has(index) ?? false;
}

function rememberFailure(state: SearchState, node: object, index: number): void {
  let indexes = state.failed.get(node);
  if (indexes === undefined) {
    indexes = new Set();
    state.failed.set(node, indexes);
  }
  indexes.add(index);
}

/** Depth-first search from `node` having consumed `segments[0..index)`. */
function search<T>(node: TrieNode<T>, segments: readonly string[], index: number, state: SearchState): T[] | undefined {
  if (state.exhausted) return undefined;
  // Every visit counts, remembered failures too, so the cap bounds the total work.
  if (++state.steps > MAX_SEARCH_STEPS) {
    state.exhausted = true;
    return undefined;
  }
  if (knownToFail(state, node, index)) return undefined;
  const found = searchChildren(node, segments, index, state);
  if (found === undefined && !state.exhausted) rememberFailure(state, node, index);
  return found;
}

function searchChildren<T>(node: TrieNode<T>, segments: readonly string[], index: number, state: SearchState): T[] | undefined {
  if (index === segments.length) {
    // A pattern ending here is an exact match; failing that, a trailing `*` matches nothing.
    return node.values ?? node.many?.values;
  }
  const segment = segments[index] as string;
  const literal = node.literals.get(segment);
  if (literal !== undefined) {
    const found = search(literal, segments, index + 1, state);
    if (found !== undefined || state.exhausted) return found;
  }
  if (node.one !== undefined) {
    const found = search(node.one, segments, index + 1, state);
    if (found !== undefined || state.exhausted) return found;
  }
  if (node.many !== undefined) {
    // Shortest first: the star consumes 1, then 2, ... segments.
    for (let end = index + 1; end <= segments.length; end++) {
      const found = search(node.many, segments, end, state);
      if (found !== undefined || state.exhausted) return found;
    }
  }
  return undefined;
}

/** The path part only: the query is never part of the match (callers strip it already). */
function withoutQuery(path: string): string {
  const queryStart = path.indexOf('?');
  return queryStart === -1 ? path : path.slice(0, queryStart);
}

export function compileEndpoints<T>(rules: ReadonlyArray<EndpointRule<T>>): UriMatcher<T> {
  const triesByMethod = new Map<string, TrieNode<T>>();
  for (const rule of rules) {
    // Validation stores patterns normalised; this also covers those stored before it did (bucket, bootstrap
    // files), so every pattern matches as if it were written today.
    const pattern = normalisePattern(rule.uri);
    // One that validation now refuses (`;`, `%FF`, raw non-ASCII, dot segments, …) could only match paths the
    // gateway refuses or never forwards: left out, it matches nothing, and no request it covered reaches us.
    if (!pattern.ok) continue;
    // No query stripping here: in a pattern `?` is the one-segment wildcard.
    const segments = splitSegments(pattern.pattern);
    for (const method of methodsCoveredBy(rule.methods)) {
      let root = triesByMethod.get(method);
      if (root === undefined) {
        root = newNode();
        triesByMethod.set(method, root);
      }
      insert(root, segments, rule.value);
    }
  }

  return {
    match(method: string, path: string): T[] | undefined {
      // Request methods are case-sensitive (RFC 9110 §9.1): `get` is not GET.
      const root = triesByMethod.get(method);
      if (root === undefined) return undefined;
      const segments = splitSegments(withoutQuery(path));
      if (segments.length > MAX_PATH_SEGMENTS) return undefined;
      const state: SearchState = { steps: 0, exhausted: false, failed: new Map() };
      const found = search(root, segments, 0, state);
      // A copy, so callers cannot alter the compiled rules.
      return found === undefined || state.exhausted ? undefined : [...found];
    },
  };
}

// SPEC §1.2: one tag of a tag expression. `key=value` must be present; `key!=value` must be absent. In the
// value (after the first `=`), `*` stands for any run of characters, the empty one included. The key is
// always compared exactly. Matching takes time linear in the tag and the pattern: no regular expression is
// built from a pattern, and the literal pieces between stars are found with Knuth–Morris–Pratt.

export interface TagPattern {
  /** `key!=value`: no tag may match. */
  negated: boolean;
  /** `key=`: the part of a tag that must be equal. */
  prefix: string;
  /** The whole tag, when the value has no `*`: a set lookup. */
  exact?: string;
  /** The value's pattern, when it has a `*`. */
  glob?: Glob;
}

/** A value pattern `head*m1*m2*tail`. */
interface Glob {
  head: string;
  tail: string;
  middles: Needle[];
  minLength: number;
}

interface Needle {
  text: string;
  /** KMP failure function: the length of the longest proper border of text[0..i]. */
  border: Int32Array;
}

interface Parsed {
  negated: boolean;
  key: string;
  value: string;
}

/** Key and value as the grammar reads them: the first `=` splits; a `!` just before it negates. */
function split(text: string): Parsed | undefined {
  const eq = text.indexOf('=');
  if (eq === -1) return undefined;
  const negated = eq > 0 && text[eq - 1] === '!';
  return { negated, key: text.slice(0, negated ? eq - 1 : eq), value: text.slice(eq + 1) };
}

/**
 * Why a pattern cannot be written (the API answers 422 with this), or undefined. The form `key=value`
 * itself (a key without `=` or spaces) is the schema's to check; this is about `!` and `*`.
 */
export function tagPatternProblem(text: string): string | undefined {
  const parsed = split(text);
  if (!parsed) return undefined;
  const { negated, key } = parsed;
  if (negated && key === '') return 'needs a key before != (such as groups!=contractors)';
  if (key.startsWith('!')) return 'cannot start with !: write a negation as key!=value (groups!=contractors)';
  if (key.endsWith('!')) return 'has more than one ! before the =: write a negation as key!=value (groups!=contractors)';
  if (key.includes('*')) return 'has * in its key: * is a wildcard only in the value, after the = (email=*@example.com); keys are compared exactly';
  return undefined;
}

/**
 * The pattern of a tag. A text the API would refuse (tagPatternProblem) keeps the meaning every tag had
 * before patterns existed, an exact tag: objects stored earlier read as they did (SPEC §11).
 */
export function compileTagPattern(text: string): TagPattern {
  const parsed = split(text);
  if (!parsed || tagPatternProblem(text) !== undefined) return { negated: false, prefix: text, exact: text };
  const prefix = `${parsed.key}=`;
  if (!parsed.value.includes('*')) return { negated: parsed.negated, prefix, exact: prefix + parsed.value };
  return { negated: parsed.negated, prefix, glob: compileGlob(parsed.value) };
}

function compileGlob(value: string): Glob {
  const parts = value.split('*');
  const head = parts[0]!;
  const tail = parts[parts.length - 1]!;
  const middles = parts
    .slice(1, -1)
    .filter((p) => p !== '')
    .map(needle);
  const minLength = head.length + tail.length + middles.reduce((n, m) => n + m.text.length, 0);
  return { head, tail, middles, minLength };
}

function needle(text: string): Needle {
  const border = new Int32Array(text.length);
  for (let i = 1, k = 0; i < text.length; i++) {
    while (k > 0 && text.charCodeAt(i) !== text.charCodeAt(k)) k = border[k - 1]!;
    if (text.charCodeAt(i) === text.charCodeAt(k)) k++;
    border[i] = k;
  }
  return { text, border };
}

/** Where `n` first occurs in text[from, to), or -1. Linear in to - from: KMP never re-reads a character. */
function find(n: Needle, text: string, from: number, to: number): number {
  const length = n.text.length;
  for (let i = from, k = 0; i < to; i++) {
    const c = text.charCodeAt(i);
    while (k > 0 && c !== n.text.charCodeAt(k)) k = n.border[k - 1]!;
    if (c === n.text.charCodeAt(k)) k++;
    if (k === length) return i - length + 1;
  }
  return -1;
}

/**
 * Whether text[start..] matches the glob. With `*` as the only operator, taking each middle piece at its
 * leftmost place is always right, so one pass left to right decides.
 */
function globMatches(glob: Glob, text: string, start: number): boolean {
  if (text.length - start < glob.minLength) return false;
  if (!text.startsWith(glob.head, start) || !text.endsWith(glob.tail)) return false;
  const end = text.length - glob.tail.length;
  let at = start + glob.head.length;
  for (const middle of glob.middles) {
    const found = find(middle, text, at, end);
    if (found === -1) return false;
    at = found + middle.text.length;
  }
  return true;
}

/** Whether one tag is of the pattern's form (its `!` aside): a tag from an IdP is data, its `*` a character. */
export function tagFits(pattern: TagPattern, tag: string): boolean {
  if (pattern.exact !== undefined) return tag === pattern.exact;
  return tag.startsWith(pattern.prefix) && globMatches(pattern.glob!, tag, pattern.prefix.length);
}

/** Whether some tag of the set is of the pattern's form (its `!` aside). */
export function anyTagFits(pattern: TagPattern, tags: ReadonlySet<string>): boolean {
  if (pattern.exact !== undefined) return tags.has(pattern.exact);
  for (const tag of tags) if (tagFits(pattern, tag)) return true;
  return false;
}

// One normaliser for request paths and endpoint patterns (SPEC §3.2, §5).
// The gateway parses every request target with it; the policy service
// normalises endpoint patterns with it, when they are written and again when
// stored ones are compiled. So a pattern means the requests it names, however
// either side spells them, and nothing else.
//
// A path a server behind us could read differently from us is refused, never
// repaired. The path returned is both what is matched and what is forwarded,
// so the application never sees a different path from the one authorised.
//
// Why over 300 lines: the rules are one decision procedure; split, a reader could no longer see that
// requests and patterns pass through the very same steps. Every rule has its case in index.test.ts.

export type RequestTarget = { ok: true; path: string; query: string } | { ok: false; reason: string };
export type EndpointPattern = { ok: true; pattern: string } | { ok: false; message: string };

/** Pattern wildcards, as whole segments only: `?` is one segment, `*` one or more (SPEC §5). */
export const ONE_SEGMENT = '?';
export const ANY_SEGMENTS = '*';

/**
 * Every reason to refuse, once: what the gateway tells a client (`request`),
 * and what the policy API tells whoever wrote a pattern, with what to write instead.
 */
const PROBLEMS = {
  nul: { request: 'NUL in request target', pattern: 'must not contain NUL; remove it' },
  control: { request: 'control character in request target', pattern: 'must not contain control characters; remove them' },
  space: { request: 'space in request target', pattern: 'must not contain a space; write it as %20' },
  backslash: { request: 'backslash in request target', pattern: 'must not contain \\ (the gateway refuses it in paths); write / between segments' },
  fragment: { request: 'fragment in request target', pattern: 'must not contain # (browsers never send the fragment); write %23 for a literal #' },
  nonAscii: { request: 'non-ASCII character in request target', pattern: 'must not contain raw non-ASCII characters; percent-encode them as UTF-8' },
  semicolon: {
    request: 'path parameter (;) in path; path parameters such as ;jsessionid= are refused, not stripped',
    pattern: 'must not contain ; (the gateway refuses request paths with path parameters such as ;jsessionid=, so it could never match); leave the ;… part out',
  },
  invalidEscape: {
    request: 'invalid percent-encoding in path',
    pattern: 'must not contain invalid percent-encoding; write % as %25 and every escape as % and two hex digits',
  },
  encodedSlash: {
    request: 'encoded slash in path',
    pattern: 'must not contain %2F (the gateway refuses encoded slashes); write / between segments, or ? or * for a segment',
  },
  encodedBackslash: { request: 'encoded backslash in path', pattern: 'must not contain %5C (the gateway refuses encoded backslashes); leave it out' },
  encodedSemicolon: { request: 'encoded semicolon in path', pattern: 'must not contain %3B (the gateway refuses encoded semicolons); leave it out' },
  encodedNul: { request: 'encoded NUL in path', pattern: 'must not contain %00; remove it' },
  encodedControl: { request: 'encoded control character in path', pattern: 'must not contain encoded control characters (%01-%1F, %7F); remove them' },
  overlong: {
    request: 'overlong UTF-8 in path',
    pattern: 'must not contain overlong UTF-8 (%C0%AE is not a dot); write each character in its shortest UTF-8 form',
  },
  invalidUtf8: {
    request: 'invalid UTF-8 in path',
    pattern: 'must not contain escapes that are not UTF-8 (%FF, a lone %C3, %ED%A0%80); write characters as UTF-8, é as %C3%A9',
  },
  compatibilityDotOrSlash: {
    request: 'character whose NFKC form holds . / \\ ; or % in path',
    pattern:
      'must not contain characters that Unicode normalisation (NFKC) turns into . / \\ ; or % (such as ．, ／, ＼, ‥, ；, ％); write plain ASCII instead',
  },
  dotSegment: { request: 'dot segment survives normalisation', pattern: 'must not contain dot segments (. or .., also as %2E); write the path they lead to' },
  questionInSegment: {
    request: 'question mark in path',
    pattern: 'must not contain ? inside a segment (? alone is the one-segment wildcard; the query is never matched); write %3F for a literal ?',
  },
} as const;

type Problem = keyof typeof PROBLEMS;
type Escaped = { ok: true; text: string } | { ok: false; problem: Problem };
type PathResult = { ok: true; path: string } | { ok: false; reason: string };

function reject(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}

const HEX_PAIR = /^[0-9A-Fa-f]{2}$/;

/** RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(byte: number): boolean {
  return (
    (byte >= 0x41 && byte <= 0x5a) ||
    (byte >= 0x61 && byte <= 0x7a) ||
    (byte >= 0x30 && byte <= 0x39) ||
    byte === 0x2d ||
    byte === 0x2e ||
    byte === 0x5f ||
    byte === 0x7e
  );
}

function isControl(code: number): boolean {
  return code < 0x20 || code === 0x7f;
}

/** Only origin-form (`/path?query`) is served; proxies' absolute-form and CONNECT's authority-form are not. */
function problemWithForm(rawTarget: string): string | undefined {
  if (rawTarget === '') return 'empty request target';
  if (rawTarget === '*') return 'asterisk-form request target';
  if (!rawTarget.startsWith('/')) return 'request target is not an absolute path';
  return undefined;
}

/**
 * Characters that must never appear raw. Backslash is a separator for some
 * servers and not others; a fragment is never sent by a correct client; raw
 * non-ASCII is outside RFC 3986 and decoded differently by different servers.
 */
function problemWithCharacter(char: string): Problem | undefined {
  const code = char.charCodeAt(0);
  if (code === 0) return 'nul';
  if (isControl(code)) return 'control';
  if (char === ' ') return 'space';
  if (char === '\\') return 'backslash';
  if (char === '#') return 'fragment';
  if (code > 0x7e) return 'nonAscii';
  return undefined;
}

function problemWithRawText(text: string): Problem | undefined {
  for (const char of text) {
    const problem = problemWithCharacter(char);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/**
 * Escapes that would change the path's structure, or smuggle bytes past the
 * raw checks. `%3B` too: a server that decodes before it strips path
 * parameters reads it as `;` (Spring Security's StrictHttpFirewall refuses it).
 */
function problemWithEncodedByte(byte: number): Problem | undefined {
  if (byte === 0x2f) return 'encodedSlash';
  if (byte === 0x5c) return 'encodedBackslash';
  if (byte === 0x3b) return 'encodedSemicolon';
  if (byte === 0x00) return 'encodedNul';
  if (isControl(byte)) return 'encodedControl';
  return undefined;
}

/**
 * An overlong UTF-8 sequence: a longer spelling of a character that has a
 * shorter one (`%C0%AE` for `.`, `%C0%AF` for `/`, `%E0%80%AE`). Never valid
 * UTF-8 (RFC 3629 §3), and lenient decoders behind us have turned it into the
 * dot segment or slash that we refuse in plain form: `/public/%C0%AE%C0%AE/admin`.
 */
function isOverlong(lead: number | undefined, next: number): boolean {
  if (lead === 0xc0 || lead === 0xc1) return true;
  return (lead === 0xe0 && next >= 0x80 && next <= 0x9f) || (lead === 0xf0 && next >= 0x80 && next <= 0x8f);
}

/**
 * `.`, `/` or `\` in a character's NFKC form (U+FF0E `．`, U+FF0F `／`, U+FF3C `＼`, U+2025 `‥`, U+2100 `℀`, …),
 * and `;` (U+FF1B, U+037E: a path parameter after normalisation) or `%` (U+FF05: a second round of decoding).
 */
const DOT_OR_SLASH = /[./\\;%]/;

/**
 * Escapes above `%7F` must spell UTF-8 (RFC 3629): `%FF`, truncated sequences
 * and surrogates are read differently by different decoders. And no decoded
 * character may become a dot or a separator under compatibility
 * normalisation (UTS #39, TR #36), as it does for servers that apply NFKC or
 * best-fit mappings to paths: `%EF%BC%8E%EF%BC%8E%EF%BC%8F` is `../` to them.
 * Only paths with such escapes pay for this.
 */
function problemWithNonAsciiEscapes(normalised: string): Problem | undefined {
  let decoded: string;
  try {
    // Fatal on every invalid UTF-8 sequence, surrogates and overlongs included (ECMA-262 Decode).
    decoded = decodeURIComponent(normalised);
  } catch {
    return 'invalidUtf8';
  }
  for (const char of decoded) {
    if (char.charCodeAt(0) > 0x7f && DOT_OR_SLASH.test(char.normalize('NFKC'))) return 'compatibilityDotOrSlash';
  }
  return undefined;
}

/**
 * RFC 3986 §6.2.2: decode escaped unreserved characters (so `%2e%2e` becomes
 * `..` before dot-segment removal sees it) and upper-case the hex of every
 * other escape, giving one spelling per path. A raw `;` (a path parameter to
 * servlet containers: `/admin;jsessionid=1/x` is `/admin/x` to Tomcat) is refused.
 */
function normaliseEscapes(text: string): Escaped {
  let normalised = '';
  /** The byte of the escape just before this one, when they are adjacent. */
  let previousByte: number | undefined;
  let nonAscii = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index] as string;
    if (char !== '%') {
      if (char === ';') return { ok: false, problem: 'semicolon' };
      normalised += char;
      previousByte = undefined;
      continue;
    }
    const hex = text.slice(index + 1, index + 3);
    if (!HEX_PAIR.test(hex)) return { ok: false, problem: 'invalidEscape' };
    const byte = Number.parseInt(hex, 16);
    const problem = problemWithEncodedByte(byte);
    if (problem !== undefined) return { ok: false, problem };
    if (isOverlong(previousByte, byte) || byte === 0xc0 || byte === 0xc1) return { ok: false, problem: 'overlong' };
    previousByte = byte;
    nonAscii ||= byte > 0x7f;
    normalised += isUnreserved(byte) ? String.fromCharCode(byte) : `%${hex.toUpperCase()}`;
    index += 2;
  }
  const problem = nonAscii ? problemWithNonAsciiEscapes(normalised) : undefined;
  return problem === undefined ? { ok: true, text: normalised } : { ok: false, problem };
}

function collapseSlashes(path: string): string {
  return path.replace(/\/{2,}/g, '/');
}

function isDotSegment(segment: string): boolean {
  return segment === '.' || segment === '..';
}

/**
 * RFC 3986 §5.2.4 on an absolute path without empty segments, except that a
 * `..` above the root is rejected instead of dropped: a client that sends one
 * is probing for a traversal, and a server behind us might resolve it differently.
 */
function removeDotSegments(path: string): PathResult {
  const output: string[] = [];
  let endsInDirectory = false;
  for (const segment of path.split('/').slice(1)) {
    endsInDirectory = isDotSegment(segment);
    if (segment === '.') continue;
    if (segment === '..') {
      if (output.length === 0) return reject('dot segments climb above the root');
      output.pop();
      continue;
    }
    output.push(segment);
  }
  const joined = `/${output.join('/')}`;
  // `/a/b/..` is `/a/`, not `/a`, as in RFC 3986.
  return { ok: true, path: endsInDirectory && !joined.endsWith('/') ? `${joined}/` : joined };
}

function normalisePath(rawPath: string): PathResult {
  const escaped = normaliseEscapes(rawPath);
  if (!escaped.ok) return reject(PROBLEMS[escaped.problem].request);
  const resolved = removeDotSegments(collapseSlashes(escaped.text));
  if (!resolved.ok) return resolved;
  // Cannot happen after removal; checked so that no later change can let one through.
  if (resolved.path.split('/').some(isDotSegment)) return reject(PROBLEMS.dotSegment.request);
  return resolved;
}

/**
 * Parses Node's `req.url` (origin-form). The query is returned unchanged and
 * without its `?`; an empty query and no query are the same.
 */
export function parseRequestTarget(rawTarget: string): RequestTarget {
  const formProblem = problemWithForm(rawTarget);
  if (formProblem !== undefined) return reject(formProblem);
  const problem = problemWithRawText(rawTarget);
  if (problem !== undefined) return reject(PROBLEMS[problem].request);
  const queryStart = rawTarget.indexOf('?');
  const rawPath = queryStart === -1 ? rawTarget : rawTarget.slice(0, queryStart);
  const query = queryStart === -1 ? '' : rawTarget.slice(queryStart + 1);
  const normalised = normalisePath(rawPath);
  if (!normalised.ok) return normalised;
  return { ok: true, path: normalised.path, query };
}

/** `/café/*` → `/caf%C3%A9/*`, when that is a valid pattern. */
function percentEncodedSuggestion(pattern: string): string | undefined {
  try {
    const suggestion = normalisePattern(pattern.replace(/[^\u0000-\u007f]+/gu, (run) => encodeURIComponent(run)));
    return suggestion.ok ? suggestion.pattern : undefined;
  } catch {
    return undefined; // a lone surrogate cannot be encoded
  }
}

function refusedPattern(problem: Problem, pattern: string): EndpointPattern {
  const message = PROBLEMS[problem].pattern;
  if (problem !== 'nonAscii') return { ok: false, message };
  const suggestion = percentEncodedSuggestion(pattern);
  return { ok: false, message: suggestion === undefined ? `${message} (é is %C3%A9)` : `${message}: write ${suggestion}` };
}

/**
 * An endpoint pattern in the spelling of a normalised request path, segment by
 * segment: literal segments go through the request normaliser, `?` and `*`
 * segments stay wildcards, `//` collapses, a trailing `/` stays. Refused (with
 * what to write instead) when the gateway would refuse a request spelt that way,
 * or when it holds dot segments: it could never match what it seems to say.
 */
export function normalisePattern(pattern: string): EndpointPattern {
  if (!pattern.startsWith('/')) return { ok: false, message: 'must start with /' };
  const rawProblem = problemWithRawText(pattern);
  if (rawProblem !== undefined) return refusedPattern(rawProblem, pattern);
  const segments: string[] = [];
  for (const segment of pattern.split('/')) {
    if (segment === '') continue;
    if (segment === ONE_SEGMENT || segment === ANY_SEGMENTS) {
      segments.push(segment);
      continue;
    }
    if (segment.includes('?')) return refusedPattern('questionInSegment', pattern);
    const escaped = normaliseEscapes(segment);
    if (!escaped.ok) return refusedPattern(escaped.problem, pattern);
    if (isDotSegment(escaped.text)) return refusedPattern('dotSegment', pattern);
    segments.push(escaped.text);
  }
  const trailingSlash = segments.length > 0 && pattern.endsWith('/');
  return { ok: true, pattern: `/${segments.join('/')}${trailingSlash ? '/' : ''}` };
}

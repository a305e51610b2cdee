// SPEC §3.2: reject malformed or ambiguous request targets before any
// decision, and normalise the rest. The returned path is both what is
// matched against endpoints and what is forwarded, so the application can
// never see a different path from the one that was authorised.

export type RequestTarget = { ok: true; path: string; query: string } | { ok: false; reason: string };

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
function problemWithCharacter(char: string): string | undefined {
  const code = char.charCodeAt(0);
  if (code === 0) return 'NUL in request target';
  if (isControl(code)) return 'control character in request target';
  if (char === ' ') return 'space in request target';
  if (char === '\\') return 'backslash in request target';
  if (char === '#') return 'fragment in request target';
  if (code > 0x7e) return 'non-ASCII character in request target';
  return undefined;
}

function problemWithRawTarget(rawTarget: string): string | undefined {
  const formProblem = problemWithForm(rawTarget);
  if (formProblem !== undefined) return formProblem;
  for (const char of rawTarget) {
    const problem = problemWithCharacter(char);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** Escapes that would change the path's structure, or smuggle bytes past the raw checks. */
function problemWithEncodedByte(byte: number): string | undefined {
  if (byte === 0x2f) return 'encoded slash in path';
  if (byte === 0x5c) return 'encoded backslash in path';
  if (byte === 0x00) return 'encoded NUL in path';
  if (isControl(byte)) return 'encoded control character in path';
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
 * RFC 3986 §6.2.2: decode escaped unreserved characters (so `%2e%2e` becomes
 * `..` before dot-segment removal sees it) and upper-case the hex of every
 * other escape, giving one spelling per path.
 */
function normalisePercentEncoding(path: string): PathResult {
  let normalised = '';
  /** The byte of the escape just before this one, when they are adjacent. */
  let previousByte: number | undefined;
  for (let index = 0; index < path.length; index++) {
    const char = path[index] as string;
    if (char !== '%') {
      normalised += char;
      previousByte = undefined;
      continue;
    }
    const hex = path.slice(index + 1, index + 3);
    if (!HEX_PAIR.test(hex)) return reject('invalid percent-encoding in path');
    const byte = Number.parseInt(hex, 16);
    const problem = problemWithEncodedByte(byte);
    if (problem !== undefined) return reject(problem);
    if (isOverlong(previousByte, byte) || byte === 0xc0 || byte === 0xc1) return reject('overlong UTF-8 in path');
    previousByte = byte;
    normalised += isUnreserved(byte) ? String.fromCharCode(byte) : `%${hex.toUpperCase()}`;
    index += 2;
  }
  return { ok: true, path: normalised };
}

function collapseSlashes(path: string): string {
  return path.replace(/\/{2,}/g, '/');
}

function isDotSegment(segment: string): boolean {
  return segment === '.' || segment === '..';
}

/**
 * `..;x` is a dot segment to servlet containers (Tomcat strips path
 * parameters before resolving dots) but a plain name to us: the classic
 * `/public/..;/admin` bypass. A `;` elsewhere (e.g. `;jsessionid=`) is fine.
 */
function hasDotSegmentWithParameters(path: string): boolean {
  return path.split('/').some((segment) => {
    const semicolon = segment.indexOf(';');
    return semicolon !== -1 && isDotSegment(segment.slice(0, semicolon));
  });
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
  const decoded = normalisePercentEncoding(rawPath);
  if (!decoded.ok) return decoded;
  const collapsed = collapseSlashes(decoded.path);
  if (hasDotSegmentWithParameters(collapsed)) return reject('dot segment with parameters in path');
  const resolved = removeDotSegments(collapsed);
  if (!resolved.ok) return resolved;
  // Cannot happen after removal; checked so that no later change can let one through.
  if (resolved.path.split('/').some(isDotSegment)) return reject('dot segment survives normalisation');
  return resolved;
}

/**
 * Parses Node's `req.url` (origin-form). The query is returned unchanged and
 * without its `?`; an empty query and no query are the same.
 */
export function parseRequestTarget(rawTarget: string): RequestTarget {
  const problem = problemWithRawTarget(rawTarget);
  if (problem !== undefined) return reject(problem);
  const queryStart = rawTarget.indexOf('?');
  const rawPath = queryStart === -1 ? rawTarget : rawTarget.slice(0, queryStart);
  const query = queryStart === -1 ? '' : rawTarget.slice(queryStart + 1);
  const normalised = normalisePath(rawPath);
  if (!normalised.ok) return normalised;
  return { ok: true, path: normalised.path, query };
}

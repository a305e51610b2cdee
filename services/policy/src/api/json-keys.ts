// JSON.parse keeps the last of two equal keys without a word: `{"role":"viewer","role":"admin"}` is an
// admin to one parser and a viewer to another (a proxy, a linter, a reviewer's eye). The API refuses
// such bodies instead of guessing.

/** Index of the quote that closes the string starting at `start` (valid JSON assumed). */
function endOfString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i;
  }
  return text.length;
}

/**
 * The first key that appears twice in one object of `text`, compared after unescaping (`"a"` and
 * `"\u0061"` are the same key); undefined when there is none. `text` must already be valid JSON. Iterative,
 * so any depth JSON.parse accepted is fine.
 */
export function duplicateKey(text: string): string | undefined {
  /** One entry per open container: the keys seen for an object, undefined for an array. */
  const open: Array<Set<string> | undefined> = [];
  let expectingKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') {
      open.push(new Set());
      expectingKey = true;
    } else if (c === '[') {
      open.push(undefined);
      expectingKey = false;
    } else if (c === '}' || c === ']') {
      open.pop();
      expectingKey = false;
    } else if (c === ',') {
      expectingKey = open.at(-1) !== undefined;
    } else if (c === '"') {
      const end = endOfString(text, i);
      if (expectingKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        const keys = open.at(-1)!;
        if (keys.has(key)) return key;
        keys.add(key);
        expectingKey = false;
      }
      i = end;
    }
  }
  return undefined;
}

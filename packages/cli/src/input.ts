// Reading what users give with -f: a file, or `-` for stdin; YAML or JSON,
// one or several documents. Parse errors name the file, line and column.
import { readFile } from 'node:fs/promises';
import { parseAllDocuments, type YAMLError } from 'yaml';
import { InputError } from './errors.ts';

export interface Source {
  /** `stdin` or the path as given. */
  readonly name: string;
  readonly text: string;
}

export async function readAll(stream: AsyncIterable<string | Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  for await (const chunk of stream) text += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
  return text + decoder.decode();
}

export async function readSource(file: string, stdin: AsyncIterable<string | Uint8Array>): Promise<Source> {
  if (file === '-') return { name: 'stdin', text: await readAll(stdin) };
  try {
    return { name: file, text: await readFile(file, 'utf8') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new InputError(`cannot read ${file}: ${reason}`, { cause: err });
  }
}

/**
 * The documents of a source, empty ones skipped. JSON is tried first when the
 * text looks like it (its errors carry a line and column too); anything else
 * is YAML, which also accepts JSON.
 */
export function parseDocuments(source: Source): unknown[] {
  const trimmed = source.text.trimStart();
  const looksLikeJson = trimmed.startsWith('{') || trimmed.startsWith('[') || source.name.toLowerCase().endsWith('.json');
  if (looksLikeJson) {
    try {
      return [JSON.parse(source.text)];
    } catch (err) {
      if (source.name.toLowerCase().endsWith('.json')) throw jsonError(source, err as Error);
    }
  }
  const parsed = parseAllDocuments(source.text);
  const documents = Array.isArray(parsed) ? parsed : [];
  const values: unknown[] = [];
  for (const doc of documents) {
    const [first] = doc.errors;
    if (first) throw yamlError(source.name, first);
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) values.push(value);
  }
  return values;
}

/** `file: line 3, column 7: message`, then the line with a caret under the column. */
export function yamlError(
  name: string,
  error: YAMLError,
  hints: readonly string[] = ['check the indentation and quoting there; quote values that start with $, *, &, !, @ or contain ": "'],
): InputError {
  const at = error.linePos?.[0];
  const where = at ? `line ${at.line}, column ${at.col}` : `offset ${error.pos[0]}`;
  const [headline = '', ...snippet] = error.message.split('\n');
  const reason = headline.replace(/ at line \d+, column \d+:?$/, '');
  const excerpt = snippet.filter((line) => line.trim() !== '').map((line) => `  ${line}`);
  return new InputError([`${name}: ${where}: ${reason}`, ...excerpt].join('\n'), { hints });
}

function jsonError(source: Source, err: Error): InputError {
  const position = /position (\d+)/.exec(err.message);
  let where = '';
  if (position) {
    const before = source.text.slice(0, Number(position[1]));
    const line = before.split('\n').length;
    const column = before.length - before.lastIndexOf('\n');
    where = `line ${line}, column ${column}: `;
  }
  return new InputError(`${source.name}: ${where}${err.message.replace(/ \(line \d+ column \d+\)$/, '')}`, { cause: err });
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

/** The objects of the documents: each document is an object or a list of objects. */
export function objectsOf(source: Source, documents: readonly unknown[]): Record<string, unknown>[] {
  const objects: Record<string, unknown>[] = [];
  for (const doc of documents) {
    const items = Array.isArray(doc) ? doc : [doc];
    for (const item of items) {
      if (!isRecord(item)) {
        throw new InputError(`${source.name}: item ${objects.length + 1} is ${describe(item)}, not an object`, {
          hints: ['write one object (name: …) or a list of objects (- name: …)'],
        });
      }
      objects.push(item);
    }
  }
  return objects;
}

function describe(value: unknown): string {
  if (value === null) return 'empty';
  if (Array.isArray(value)) return 'a list';
  return `a ${typeof value} (${JSON.stringify(value)})`;
}

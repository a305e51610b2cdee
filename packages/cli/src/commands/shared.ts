// Helpers the api commands share: connecting, naming objects, printing.
import { ApiClient } from '../client.ts';
import { configPath, readConfig, resolveSettings } from '../config.ts';
import { InputError, UsageError } from '../errors.ts';
import { readSource, parseDocuments, objectsOf } from '../input.ts';
import type { IO } from '../io.ts';
import type { Kind } from '../kinds.ts';
import { columnsFor, formatTable, pickFields, serialize, type Format } from '../output.ts';
import { stringValue, type Invocation } from './command.ts';

export async function connect(invocation: Invocation): Promise<ApiClient> {
  const path = configPath(invocation.io.env);
  const file = await readConfig(path);
  const { values } = invocation;
  const settings = resolveSettings(
    { api: stringValue(values, 'api'), token: stringValue(values, 'token'), namespace: stringValue(values, 'namespace') },
    invocation.io.env,
    file,
    path,
  );
  return new ApiClient(settings);
}

export function objectPath(kind: Kind, nameOrId: string): string {
  return `/${kind.plural}/${encodeURIComponent(nameOrId)}`;
}

/** `externalnetwork/idp`; objects without a name are named by their place in the input. */
export function subjectOf(kind: Kind, object: Record<string, unknown> | string, position?: string): string {
  const name = typeof object === 'string' ? object : typeof object.name === 'string' && object.name !== '' ? object.name : undefined;
  if (name !== undefined) return `${kind.name}/${name}`;
  return `${kind.name} (${position ?? 'unnamed'})`;
}

/** The objects given with -f, required. */
export async function readObjects(invocation: Invocation, commandLine: string): Promise<{ source: string; objects: Record<string, unknown>[] }> {
  const file = stringValue(invocation.values, 'file');
  if (file === undefined) throw new UsageError(`${commandLine} needs -f FILE, or -f - to read stdin`, [`see ${commandLine} --help`]);
  const source = await readSource(file, invocation.io.stdin);
  const objects = objectsOf(source, parseDocuments(source));
  if (objects.length === 0) throw new InputError(`${source.name} holds no object`, { hints: [`see ${commandLine} --help for an example`] });
  return { source: source.name, objects };
}

/** `-c col,col`, trimmed, empty entries dropped. */
export function columnsOption(invocation: Invocation): string[] | undefined {
  const value = stringValue(invocation.values, 'columns');
  if (value === undefined) return undefined;
  const columns = value
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '');
  if (columns.length === 0) throw new UsageError('-c needs at least one column', ['for example -c ID,name,namespace']);
  return columns;
}

export function printObjects(io: IO, kind: Kind, value: unknown, format: Format, columns: readonly string[] | undefined): void {
  const objects = (Array.isArray(value) ? value : [value]).filter((o): o is Record<string, unknown> => !!o && typeof o === 'object');
  if (format === 'table') {
    io.stdout.write(formatTable(objects, columnsFor(kind, columns)));
    warnUnknownColumns(io, kind, objects, columns);
    return;
  }
  const picked = columns ? objects.map((o) => pickFields(o, columns)) : objects;
  io.stdout.write(serialize(Array.isArray(value) ? picked : (picked[0] ?? value), format));
}

function warnUnknownColumns(io: IO, kind: Kind, objects: readonly Record<string, unknown>[], columns: readonly string[] | undefined): void {
  if (!columns || objects.length === 0) return;
  const keys = new Set(objects.flatMap((o) => Object.keys(o).map((k) => k.toLowerCase())));
  for (const column of columns) {
    if (!keys.has(column.toLowerCase())) {
      io.stderr.write(`warning: no ${kind.name} has a field "${column}"; fields: ${[...new Set(objects.flatMap((o) => Object.keys(o)))].join(', ')}\n`);
    }
  }
}

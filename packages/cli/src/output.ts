// Rendering objects as YAML, JSON or an aligned table.
import { stringify } from 'yaml';
import { UsageError } from './errors.ts';
import type { Column, Kind } from './kinds.ts';

export type Format = 'yaml' | 'json' | 'table';

/** Checks `-o`; `allowed` lists what the command can print, the first being its default. */
export function parseFormat(value: string | undefined, allowed: readonly Format[]): Format {
  const fallback = allowed[0] ?? 'yaml';
  if (value === undefined) return fallback;
  const format = value.toLowerCase();
  if (!(allowed as readonly string[]).includes(format)) {
    throw new UsageError(`-o ${value} is not supported here`, [`use -o ${allowed.join(', -o ')}`]);
  }
  return format as Format;
}

export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0, aliasDuplicateObjects: false });
}

export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

export function serialize(value: unknown, format: 'yaml' | 'json'): string {
  return format === 'json' ? toJson(value) : toYaml(value);
}

const baseColumns: readonly Column[] = [
  { header: 'ID', get: (o) => o.ID },
  { header: 'NAME', get: (o) => o.name },
  { header: 'NAMESPACE', get: (o) => o.namespace },
];

/** The field of `object` named `name`, ignoring case (`-c id,name` finds `ID` and `name`). */
export function fieldOf(object: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(object, name)) return object[name];
  const key = Object.keys(object).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : object[key];
}

/** `-c col,col` names fields; without it, ID, NAME, NAMESPACE and the kind's own columns. */
export function columnsFor(kind: Kind, requested: readonly string[] | undefined): Column[] {
  if (!requested || requested.length === 0) return [...baseColumns, ...kind.columns];
  return requested.map((name) => ({ header: name.toUpperCase(), get: (o: Record<string, unknown>) => fieldOf(o, name) }));
}

/** Keeps only the requested fields, for `-c` with `-o yaml|json`. */
export function pickFields(object: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const name of names) {
    const key = Object.keys(object).find((k) => k.toLowerCase() === name.toLowerCase());
    if (key !== undefined) picked[key] = object[key];
  }
  return picked;
}

export function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map((v) => (Array.isArray(v) ? `[${cell(v)}]` : cell(v))).join(',');
  return JSON.stringify(value);
}

export function formatTable(rows: readonly Record<string, unknown>[], columns: readonly Column[]): string {
  const cells = [columns.map((c) => c.header), ...rows.map((row) => columns.map((c) => cell(c.get(row)).replace(/\s*\n\s*/g, ' ')))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => (line[i] ?? '').length)));
  return cells
    .map((line) =>
      line
        .map((text, i) => (i === line.length - 1 ? text : text.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n');
}

// Field filters of the console's tables and the API (`filter=key=value`, `filter=key!=value`): what a
// click on a value (include) or a Shift-click (exclude) adds. Pure.
//
// Semantics: filters on different fields all apply (and); several includes of one field keep a record
// that has any of those values (or); every exclude applies. Values are compared exactly, as strings.
// Only the fields named in a table are known: anything else is refused, so a filter can never reach a
// property the records do not define (`__proto__`, `constructor`) or widen what a query may read —
// filters only ever narrow what the namespace selection already allows.
import type { StoredEvent, StoredFlow } from './records.ts';

export interface FieldFilter {
  field: string;
  value: string;
  exclude: boolean;
}

/** How to read a field of a record: one value, or several (a record matches when any of them does). */
type Reader<T> = (record: T) => string | readonly string[];
export type FieldTable<T> = ReadonlyMap<string, Reader<T>>;

export const MAX_FILTERS = 20;
export const MAX_FILTER_LENGTH = 300;

const processingUnitSides = (f: StoredFlow): string[] =>
  [f.source, f.destination].filter((side) => side.type === 'ProcessingUnit' && side.name).map((side) => side.name);

export const flowFields: FieldTable<StoredFlow> = new Map<string, Reader<StoredFlow>>([
  ['namespace', (f) => f.namespace],
  ['action', (f) => f.action],
  ['URI', (f) => f.URI],
  ['dropReason', (f) => f.dropReason],
  ['policyID', (f) => f.policyID],
  ['policyName', (f) => f.policyName],
  ['byDefault', (f) => String(f.byDefault)],
  ['serviceID', (f) => f.serviceID],
  ['user', (f) => f.user],
  ['source.type', (f) => f.source.type],
  ['source.id', (f) => f.source.id],
  ['source.name', (f) => f.source.name],
  ['source.ip', (f) => f.source.ip],
  ['source.namespace', (f) => f.source.namespace],
  ['destination.type', (f) => f.destination.type],
  ['destination.id', (f) => f.destination.id],
  ['destination.name', (f) => f.destination.name],
  ['destination.ip', (f) => f.destination.ip],
  ['destination.port', (f) => String(f.destination.port)],
  ['destination.namespace', (f) => f.destination.namespace],
  // The processing unit on either side, by name: what a processing unit's panel asks for.
  ['processingUnit', processingUnitSides],
]);

export const eventFields: FieldTable<StoredEvent> = new Map<string, Reader<StoredEvent>>([
  ['level', (e) => e.level],
  ['category', (e) => e.category],
  ['title', (e) => e.title],
  ['content', (e) => e.content],
  ['targetIdentity', (e) => e.targetIdentity],
  ['targetID', (e) => e.targetID],
  ['namespace', (e) => e.namespace],
  ['origin', (e) => e.origin],
]);

/** `key=value` or `key!=value` (the value may hold `=`, and may be empty); an error message when it is not one. */
export function parseFilter<T>(text: string, fields: FieldTable<T>): FieldFilter | { error: string } {
  if (text.length > MAX_FILTER_LENGTH) return { error: `a filter is at most ${MAX_FILTER_LENGTH} characters` };
  const cut = text.indexOf('=');
  if (cut <= 0) return { error: `${quote(text)} is not key=value or key!=value` };
  const exclude = text[cut - 1] === '!';
  const field = text.slice(0, exclude ? cut - 1 : cut);
  if (!fields.has(field)) return { error: `unknown field ${quote(field)}; one of ${[...fields.keys()].join(', ')}` };
  return { field, value: text.slice(cut + 1), exclude };
}

/** The text form of a filter, as the API and the address bar carry it. */
export function filterText(filter: FieldFilter): string {
  return `${filter.field}${filter.exclude ? '!=' : '='}${filter.value}`;
}

/** A predicate over records for `filters` (every record passes when there are none). */
export function matcher<T>(fields: FieldTable<T>, filters: readonly FieldFilter[] | undefined): (record: T) => boolean {
  if (!filters?.length) return () => true;
  const includes = new Map<string, Set<string>>();
  const excludes: Array<[Reader<T>, string]> = [];
  for (const f of filters) {
    const read = fields.get(f.field);
    if (!read) throw new Error(`unknown filter field ${f.field}`);
    if (f.exclude) excludes.push([read, f.value]);
    else includes.set(f.field, (includes.get(f.field) ?? new Set()).add(f.value));
  }
  const required = [...includes].map(([field, values]) => [fields.get(field)!, values] as const);
  return (record) => {
    for (const [read, value] of excludes) if (valuesOf(read(record)).includes(value)) return false;
    for (const [read, values] of required) if (!valuesOf(read(record)).some((v) => values.has(v))) return false;
    return true;
  };
}

const valuesOf = (value: string | readonly string[]): readonly string[] => (typeof value === 'string' ? [value] : value);

/** A user's text in a message, bounded and quoted (JSON escapes), never raw. */
function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}

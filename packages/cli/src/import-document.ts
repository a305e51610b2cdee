// Merging files into one import document (`{ namespace?, label?, data: { services: [...] } }`),
// as the policy API takes it: all or nothing. A file holds import documents,
// or objects that say their `kind` (as `msctl api get -o yaml` prints them).
import { InputError } from './errors.ts';
import { isRecord } from './input.ts';
import { findKind, kinds } from './kinds.ts';

export interface ImportDocument {
  namespace?: string;
  label?: string;
  data: Record<string, Record<string, unknown>[]>;
}

export interface ParsedFile {
  readonly name: string;
  readonly documents: readonly unknown[];
}

export interface BuiltImport {
  readonly document: ImportDocument;
  /** The file each object came from: `sources[plural][index]`. */
  readonly sources: Readonly<Record<string, readonly string[]>>;
}

interface Entry {
  plural: string;
  object: Record<string, unknown>;
  namespace: string | undefined;
  source: string;
}

interface DocumentPart {
  namespace: string | undefined;
  label: string | undefined;
  source: string;
  entries: Entry[];
}

const documentKeys = new Set(['namespace', 'label', 'data', 'APIVersion']);

export function buildImport(files: readonly ParsedFile[], options: { label?: string | undefined } = {}): BuiltImport {
  const parts = files.flatMap((file) => file.documents.map((doc, index) => partOf(file.name, doc, file.documents.length > 1 ? index + 1 : undefined)));
  const entries = parts.flatMap((p) => p.entries);
  if (entries.length === 0) {
    throw new InputError(`nothing to import: no objects in ${files.map((f) => f.name).join(', ') || 'the input'}`, {
      hints: ['an import document looks like: data: { services: [ { name: … } ] }'],
    });
  }

  const namespaces = new Set(parts.map((p) => p.namespace));
  const shared = namespaces.size === 1 ? parts[0]?.namespace : undefined;
  const document: ImportDocument = { data: {} };
  if (shared !== undefined) document.namespace = shared;
  const label = options.label ?? labelOf(parts);
  if (label !== undefined) document.label = label;

  const sources: Record<string, string[]> = {};
  const seen = new Map<string, string>();
  for (const entry of entries) {
    // Documents disagree on their namespace: each object carries its own.
    const object =
      shared === undefined && entry.namespace !== undefined && entry.object.namespace === undefined
        ? { ...entry.object, namespace: entry.namespace }
        : entry.object;
    checkDuplicate(seen, entry, object);
    (document.data[entry.plural] ??= []).push(object);
    (sources[entry.plural] ??= []).push(entry.source);
  }
  return { document, sources };
}

function partOf(file: string, doc: unknown, documentNumber: number | undefined): DocumentPart {
  const source = documentNumber === undefined ? file : `${file} (document ${documentNumber})`;
  if (isRecord(doc) && 'data' in doc) return importPart(source, doc);
  const items = Array.isArray(doc) ? doc : [doc];
  const entries = items.map((item, index): Entry => {
    const where = `${source}: item ${index + 1}`;
    if (!isRecord(item)) throw new InputError(`${where} is not an object`);
    const kind = typeof item.kind === 'string' ? findKind(item.kind) : undefined;
    if (!kind) {
      throw new InputError(`${where}${typeof item.name === 'string' ? ` (${item.name})` : ''} does not say its kind`, {
        hints: [`add kind: service (or another kind: ${kinds.map((k) => k.name).join(', ')}), or write an import document: data: { services: [ … ] }`],
      });
    }
    const { kind: _kind, ...object } = item;
    return { plural: kind.plural, object, namespace: undefined, source };
  });
  return { namespace: undefined, label: undefined, source, entries };
}

function importPart(source: string, doc: Record<string, unknown>): DocumentPart {
  const problems: string[] = [];
  for (const key of Object.keys(doc)) {
    if (!documentKeys.has(key)) problems.push(`${key}: unknown top-level key; an import document has namespace, label and data`);
  }
  const namespace = optionalString(doc, 'namespace', problems);
  const label = optionalString(doc, 'label', problems);
  const entries: Entry[] = [];
  if (!isRecord(doc.data)) {
    problems.push('data: must be a mapping of kinds to lists, e.g. data: { services: [ … ] }');
  } else {
    for (const [key, list] of Object.entries(doc.data)) {
      const kind = findKind(key);
      if (!kind) {
        problems.push(`data.${key}: unknown kind; expected one of ${kinds.map((k) => k.plural).join(', ')}`);
      } else if (!Array.isArray(list)) {
        problems.push(`data.${key}: must be a list of objects`);
      } else {
        list.forEach((object, index) => {
          if (isRecord(object)) entries.push({ plural: kind.plural, object, namespace, source });
          else problems.push(`data.${key}[${index}]: must be an object`);
        });
      }
    }
  }
  if (problems.length > 0) throw new InputError(problems.map((p) => `${source}: ${p}`).join('\n'));
  return { namespace, label, source, entries };
}

function optionalString(doc: Record<string, unknown>, key: string, problems: string[]): string | undefined {
  const value = doc[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    problems.push(`${key}: must be a string`);
    return undefined;
  }
  return value;
}

function labelOf(parts: readonly DocumentPart[]): string | undefined {
  const labelled = parts.filter((p) => p.label !== undefined);
  const labels = new Set(labelled.map((p) => p.label));
  if (labels.size > 1) {
    throw new InputError(`the files have different labels: ${labelled.map((p) => `${p.source}: ${p.label}`).join(', ')}`, {
      hints: ['an import has one label; choose it with --label LABEL'],
    });
  }
  return labelled[0]?.label;
}

function checkDuplicate(seen: Map<string, string>, entry: Entry, object: Record<string, unknown>): void {
  if (typeof object.name !== 'string') return;
  const namespace = typeof object.namespace === 'string' ? object.namespace : (entry.namespace ?? '');
  const key = `${entry.plural}\0${namespace}\0${object.name}`;
  const first = seen.get(key);
  if (first !== undefined) {
    const kind = findKind(entry.plural)?.name ?? entry.plural;
    throw new InputError(`${entry.source}: ${kind}/${object.name}${namespace ? ` in ${namespace}` : ''} is also defined in ${first}`, {
      hints: ['keep one of them; an import creates or updates each object once'],
    });
  }
  seen.set(key, entry.source);
}

const attributePattern = /^data\.([A-Za-z]+)\[(\d+)\]\.?(.*)$/;

/** `data.services[2].exposedPort` → the object's subject (`service/web (app.yaml)`) and `exposedPort`. */
export function locateAttribute(built: BuiltImport, attribute: string): { subject: string; attribute: string } | undefined {
  const match = attributePattern.exec(attribute);
  if (!match) return undefined;
  const [, key = '', index = '', rest = ''] = match;
  const kind = findKind(key);
  if (!kind) return undefined;
  const object = built.document.data[kind.plural]?.[Number(index)];
  const source = built.sources[kind.plural]?.[Number(index)];
  if (!object) return undefined;
  const name = typeof object.name === 'string' ? object.name : `item ${Number(index) + 1}`;
  return { subject: `${kind.name}/${name}${source ? ` (${source})` : ''}`, attribute: rest || '(object)' };
}

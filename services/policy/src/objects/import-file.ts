// Reads objects in the import format of msctl (and apoctl):
//   label: demo
//   namespace: /acme/team-b        # default namespace of the objects below
//   data:
//     services: [ ... ]
//     httpresourcespecs: [ ... ]
import { createHash } from 'node:crypto';
import { parse } from 'yaml';
import { objectKinds, pluralOf, type ObjectKind, type PolicyObject } from '@microseg/contracts';
import { validateObject, type AttributeError } from './schema.ts';

const pluralToKind: Record<string, ObjectKind> = Object.fromEntries(objectKinds.map((k) => [pluralOf(k), k]));

export class ImportError extends Error {
  readonly errors: AttributeError[];
  constructor(source: string, errors: AttributeError[]) {
    super(`${source}: ${errors.map((e) => `${e.attribute}: ${e.message}`).join('; ')}`);
    this.name = 'ImportError';
    this.errors = errors;
  }
}

/** IDs of imported objects are derived from kind, namespace and name, so an import is idempotent. */
export function stableObjectId(kind: ObjectKind, namespace: string, name: string): string {
  return createHash('sha256').update(`${kind}\0${namespace}\0${name}`).digest('hex').slice(0, 24);
}

/** Parse and validate a whole document; all or nothing. */
export function parseImportDocument(text: string, source: string): PolicyObject[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ImportError(source, [{ attribute: '(yaml)', message: (err as Error).message }]);
  }
  return importObjects(doc, source);
}

/** Validate an already parsed import document (`{namespace?, data: {kinds: [...]}}`); all or nothing. */
export function importObjects(doc: unknown, source: string, namespaceOverride?: string): PolicyObject[] {
  if (!doc || typeof doc !== 'object') throw new ImportError(source, [{ attribute: '(root)', message: 'must be a mapping with a data section' }]);
  const { namespace: documentNamespace, data } = doc as { namespace?: unknown; data?: unknown };
  const defaultNamespace = documentNamespace ?? namespaceOverride;
  if (!data || typeof data !== 'object')
    throw new ImportError(source, [{ attribute: 'data', message: 'is required: a mapping of kinds (services, httpresourcespecs, …) to lists' }]);

  const objects: PolicyObject[] = [];
  const errors: AttributeError[] = [];
  for (const [plural, list] of Object.entries(data as Record<string, unknown>)) {
    const kind = pluralToKind[plural.toLowerCase()];
    if (!kind) {
      errors.push({ attribute: `data.${plural}`, message: `unknown kind; expected one of ${Object.keys(pluralToKind).join(', ')}` });
      continue;
    }
    if (!Array.isArray(list)) {
      errors.push({ attribute: `data.${plural}`, message: 'must be a list' });
      continue;
    }
    list.forEach((raw, index) => {
      const input = { namespace: defaultNamespace, ...(raw as object) };
      const result = validateObject(kind, input);
      if (!result.ok) {
        for (const e of result.errors) errors.push({ attribute: `data.${plural}[${index}].${e.attribute}`, message: e.message });
        return;
      }
      const value = result.value as { name: string; namespace: string };
      objects.push({ ...value, kind, ID: stableObjectId(kind, value.namespace, value.name) } as unknown as PolicyObject);
    });
  }
  if (errors.length > 0) throw new ImportError(source, errors);
  return objects;
}

// What a bucket entry must be before the policy service uses it. Anyone who may
// write to NATS can put anything into a bucket: an entry that is not JSON, has
// the wrong shape, or sits under a key its content does not name is skipped
// (and reported), so that one bad entry neither stops the service nor a watch.
// Problems name the key and what is wrong, never the value.
import { NAMESPACE_PATH, objectKinds, type ObjectKind, type PolicyObject } from '@microseg/contracts';
import { z } from '@microseg/config';
import { validateObject } from './objects/schema.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

const storedOnly = z.object({
  kind: z.enum(objectKinds as [ObjectKind, ...ObjectKind[]]),
  ID: z.string().min(1),
  createTime: z.string().optional(),
  updateTime: z.string().optional(),
});

/** An object entry (`<kind>.<ID>`): the object schema of its kind plus the fields only the store sets. */
export function parseObjectEntry(key: string, text: string): Parsed<PolicyObject> {
  const json = parseJson(text);
  if (!json.ok) return json;
  const stored = storedOnly.safeParse(json.value);
  if (!stored.success) return { ok: false, problem: describe(stored.error.issues.map((i) => ({ attribute: path(i.path), message: i.message }))) };
  const { kind, ID, createTime, updateTime } = stored.data;
  if (key !== `${kind}.${ID}`) return { ok: false, problem: `the key does not match the content: it names a ${kind} with another ID, or another kind` };
  const result = validateObject(kind, json.value, { unknownAttributes: 'drop', source: 'stored' });
  if (!result.ok) return { ok: false, problem: describe(result.errors) };
  const object = { ...result.value, kind, ID } as Record<string, unknown>;
  if (createTime !== undefined) object.createTime = createTime;
  if (updateTime !== undefined) object.updateTime = updateTime;
  return { ok: true, value: object as unknown as PolicyObject };
}

export const tokenRecordSchema = z.object({
  ID: z.string().regex(/^[a-f0-9]{16}$/, 'must be 16 hex digits'),
  name: z.string().min(1, 'is required'),
  role: z.enum(['viewer', 'editor', 'admin']),
  namespace: z.string().regex(NAMESPACE_PATH, 'must be a namespace path'),
  secretHash: z.string().regex(/^[a-f0-9]{64}$/, 'must be a SHA-256 in hex'),
  createTime: z.string(),
});

export type StoredTokenRecord = z.output<typeof tokenRecordSchema>;

/** A token entry (`<ID>`): the token record, under its own ID. */
export function parseTokenEntry(key: string, text: string): Parsed<StoredTokenRecord> {
  const json = parseJson(text);
  if (!json.ok) return json;
  const result = tokenRecordSchema.safeParse(json.value);
  if (!result.success) return { ok: false, problem: describe(result.error.issues.map((i) => ({ attribute: path(i.path), message: i.message }))) };
  if (result.data.ID !== key) return { ok: false, problem: 'the key does not match the content: the record names another ID' };
  return { ok: true, value: result.data };
}

function parseJson(text: string): Parsed<unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (!value || typeof value !== 'object' || Array.isArray(value)) return { ok: false, problem: 'is not a JSON object' };
    return { ok: true, value };
  } catch {
    return { ok: false, problem: 'is not JSON' };
  }
}

const path = (p: ReadonlyArray<PropertyKey>) => p.map(String).join('.') || '(root)';

/** Attribute names come from the entry: cut short, so that a key cannot smuggle a long value into an event. */
function describe(errors: ReadonlyArray<{ attribute: string; message: string }>): string {
  const shown = errors.slice(0, 5).map((e) => `${e.attribute.slice(0, 64)} ${e.message}`);
  return `has the wrong shape: ${shown.join('; ')}${errors.length > 5 ? `; and ${errors.length - 5} more` : ''}`;
}

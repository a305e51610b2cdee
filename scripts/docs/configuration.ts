// The configuration reference (docs/configuration.md), from the services' zod schemas: every variable,
// its default and the values it accepts come from the schema; what it means is written in the doc.
import { hostname } from 'node:os';
import { commonSchema, redisSchema, z } from '@microseg/config';
import { authnConfigSchema } from '../../services/authn/src/config.ts';
import { flowlogConfigSchema } from '../../services/flowlog/src/config.ts';
import { gatewayConfigSchema } from '../../services/gateway/src/config.ts';
import { policyConfigSchema } from '../../services/policy/src/config.ts';
import { code, type Table } from './blocks.ts';

export const serviceSchemas: Record<string, z.ZodObject> = {
  gateway: gatewayConfigSchema,
  authn: authnConfigSchema,
  policy: policyConfigSchema,
  flowlog: flowlogConfigSchema,
};

export const sharedGroups: Record<string, Record<string, z.ZodType>> = { common: commonSchema, redis: redisSchema };

interface JsonField {
  type?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  pattern?: string;
}

function fieldsOf(shape: Record<string, z.ZodType>): Record<string, JsonField> {
  const json = z.toJSONSchema(z.object(shape), { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, JsonField> };
  return json.properties;
}

/** Whether the schema refuses the variable's absence. */
const isRequired = (field: z.ZodType) => !field.safeParse(undefined).success;

function renderDefault(name: string, field: z.ZodType, json: JsonField): string {
  if (isRequired(field)) return '(required)';
  if (json.default === undefined || json.default === '') return '—';
  // A default computed on the machine (GATEWAY_ID) is named, not printed: the reference must not depend on where it was generated.
  if (json.default === hostname()) return 'the host name';
  return code(json.default as string | number);
}

function renderAccepted(json: JsonField): string {
  if (json.enum) return json.enum.map((v) => code(String(v))).join(', ');
  if (json.type === 'integer' || json.type === 'number') {
    const what = json.type === 'integer' ? 'integer' : 'number';
    const low = json.minimum;
    const max = json.maximum !== undefined && json.maximum < Number.MAX_SAFE_INTEGER ? json.maximum : undefined;
    if (low !== undefined && max !== undefined) return `${what} ${low}–${max}`;
    if (json.exclusiveMinimum !== undefined && max !== undefined) return `${what} > ${json.exclusiveMinimum}, ≤ ${max}`;
    if (json.exclusiveMinimum !== undefined) return `${what} > ${json.exclusiveMinimum}`;
    if (low !== undefined) return `${what} ≥ ${low}`;
    return what;
  }
  if (json.pattern) return `text matching ${code(json.pattern)}`;
  return json.minLength ? 'non-empty text' : 'text';
}

/** The variables a service declares itself (not a shared group's field, taken as it is). */
export function ownShape(schema: z.ZodObject): Record<string, z.ZodType> {
  const shared = Object.values(sharedGroups).flatMap((g) => Object.entries(g));
  return Object.fromEntries(
    Object.entries(schema.shape as Record<string, z.ZodType>).filter(([name, field]) => !shared.some(([n, f]) => n === name && f === field)),
  );
}

/** The services whose schema includes every field of a shared group. */
export function servicesUsing(group: Record<string, z.ZodType>): string[] {
  return Object.entries(serviceSchemas)
    .filter(([, schema]) => Object.entries(group).every(([name, field]) => (schema.shape as Record<string, z.ZodType>)[name] === field))
    .map(([service]) => service);
}

export function configurationTable(shape: Record<string, z.ZodType>): Table {
  const json = fieldsOf(shape);
  return {
    header: ['variable', 'default', 'accepts', 'meaning'],
    notes: true,
    rows: Object.entries(shape).map(([name, field]) => ({
      key: name,
      cells: [code(name), renderDefault(name, field, json[name]!), renderAccepted(json[name]!)],
    })),
  };
}

/** `config:common`, `config:redis`, `config:gateway`, …: the table of that group or service. */
export function configurationBlock(arg: string): Table | undefined {
  if (sharedGroups[arg]) return configurationTable(sharedGroups[arg]);
  if (serviceSchemas[arg]) return configurationTable(ownShape(serviceSchemas[arg]));
  return undefined;
}

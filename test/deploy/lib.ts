// Shared by the deploy tests: the repository's deploy files, read the way compose and Kubernetes
// read them, and checked against the services' own configuration schemas (never a copied list).
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import type { z } from '@microseg/config';
import { authnConfigSchema } from '../../services/authn/src/config.ts';
import { flowlogConfigSchema } from '../../services/flowlog/src/config.ts';
import { gatewayConfigSchema } from '../../services/gateway/src/config.ts';
import { policyConfigSchema } from '../../services/policy/src/config.ts';
import { createUser } from '@nats-io/nkeys';
import { demoSecrets } from '../../deploy/docker/init-demo.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const repoPath = (...parts: string[]) => join(repoRoot, ...parts);
export const readText = (...parts: string[]) => readFileSync(repoPath(...parts), 'utf8');

/** YAML as compose reads it (merge keys `<<` included). */
export function readYaml<T = unknown>(...parts: string[]): T {
  return parse(readText(...parts), { merge: true }) as T;
}

export function parseYamlDocuments(text: string, source: string): unknown[] {
  return parseAllDocuments(text, { merge: true })
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS();
    })
    .filter((doc) => doc !== null && doc !== undefined);
}

export type ServiceName = 'gateway' | 'authn' | 'policy' | 'flowlog';
export const serviceSchemas: Record<ServiceName, z.ZodObject> = {
  gateway: gatewayConfigSchema,
  authn: authnConfigSchema,
  policy: policyConfigSchema,
  flowlog: flowlogConfigSchema,
};

/** Every directory under services/ is a service the deploy files must run. */
export const serviceDirs = (): string[] =>
  readdirSync(repoPath('services'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();

/** The variables a service's schema cannot do without (no default, not optional). */
export function requiredVariables(schema: z.ZodObject): string[] {
  return Object.entries(schema.shape)
    .filter(([, field]) => !(field as z.ZodType).safeParse(undefined).success)
    .map(([name]) => name);
}

/**
 * Variables the image itself reads (its entry point and deploy/docker/*.ts), found in those files:
 * `process.env['X']`, `process.env.X` and `${X:-…}`.
 */
export function imageVariables(): Set<string> {
  const names = new Set<string>();
  for (const file of readdirSync(repoPath('deploy/docker'))) {
    const text = readText('deploy/docker', file);
    for (const m of text.matchAll(/process\.env(?:\[['"]([A-Z0-9_]+)['"]\]|\.([A-Z0-9_]+))/g)) names.add((m[1] ?? m[2])!);
    for (const m of text.matchAll(/\$\{([A-Z0-9_]+):-/g)) names.add(m[1]!);
  }
  return names;
}

/** The prefixes of variables the entry point reads from <NAME>_FILE (its own sed expression). */
export function fileVariablePrefixes(): string[] {
  const m = /\(\(([A-Z|]+)\)_\[A-Z0-9_\]\*\)_FILE=/.exec(readText('deploy/docker/entrypoint.sh'));
  if (!m) throw new Error('deploy/docker/entrypoint.sh: the _FILE expression was not found');
  return m[1]!.split('|');
}

/** What is wrong with the environment a deploy file gives a service: unknown names, missing required ones. */
export function environmentProblems(service: ServiceName, env: Record<string, string>): string[] {
  const schema = serviceSchemas[service];
  const known = new Set(Object.keys(schema.shape));
  const image = imageVariables();
  const prefixes = fileVariablePrefixes();
  const problems: string[] = [];
  for (const name of Object.keys(env)) {
    if (known.has(name) || name.startsWith('OTEL_') || image.has(name)) continue;
    const viaFile = /^(.*)_FILE$/.exec(name)?.[1];
    if (viaFile && known.has(viaFile) && prefixes.some((p) => viaFile.startsWith(`${p}_`))) continue;
    problems.push(`${service}: ${name} is not a variable of its schema (services/${service}/src/config.ts)`);
  }
  for (const name of requiredVariables(schema)) {
    if (!(name in env) && !(`${name}_FILE` in env)) problems.push(`${service}: ${name} is required by its schema and not set`);
  }
  return problems;
}

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';

/** Valid values for the secrets, as the image generates them (and the credentials), by variable name. */
export function generatedSecrets(): Record<string, string> {
  return {
    ...Object.fromEntries(demoSecrets.map((s) => [s.variable, s.generate()])),
    NATS_NKEY_SEED: new TextDecoder().decode(createUser().getSeed()),
    NATS_TLS_CA: PEM,
    REDIS_PASSWORD: 'a-generated-password',
    REDIS_TLS_CA: PEM,
  };
}

/** The environment with every <NAME>_FILE replaced by a valid NAME, ready for the schema. */
export function withSecretsResolved(env: Record<string, string>): Record<string, string> {
  const secrets = generatedSecrets();
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    const base = /^(.*)_FILE$/.exec(name)?.[1];
    if (base && base in secrets) out[base] = secrets[base]!;
    else out[name] = value;
  }
  return out;
}

/** The configured value of a variable, or the schema's default. */
export function configured(service: ServiceName, env: Record<string, string | undefined>, name: string): unknown {
  const field = serviceSchemas[service].shape[name] as z.ZodType | undefined;
  if (!field) throw new Error(`${name} is not a variable of ${service}`);
  return field.parse(env[name]);
}

/** Each service's health (and /metrics) port variable. */
export const healthPortVariable: Record<ServiceName, string> = {
  gateway: 'GATEWAY_ADMIN_PORT',
  authn: 'AUTHN_PORT',
  policy: 'POLICY_PORT',
  flowlog: 'FLOWLOG_PORT',
};

interface DemoService {
  name: string;
  exposedPort: number;
  port: number;
  OIDCProviderURL: string;
}
interface DemoObjects {
  data: { services: DemoService[] };
}

/** The demo service of deploy/demo/objects.yaml: its exposedPort, the app's port, the IdP. */
export function demoService(): DemoService {
  const service = readYaml<DemoObjects>('deploy/demo/objects.yaml').data.services[0];
  if (!service) throw new Error('deploy/demo/objects.yaml has no service');
  return service;
}

export interface ProcessingUnitsFile {
  processingunits: Array<{ name: string; namespace: string; address: string; associatedTags: string[] }>;
}

/** The processing units without their addresses, to compare files that differ only there. */
export function unitsWithoutAddress(file: ProcessingUnitsFile): unknown[] {
  return file.processingunits.map(({ address: _address, ...rest }) => rest);
}

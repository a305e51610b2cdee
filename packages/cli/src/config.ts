// Where msctl finds the policy API, flowlog, its token and the namespace:
// default < config file < environment < flag.
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { isMap, parseDocument } from 'yaml';
import { InputError, UsageError } from './errors.ts';
import { toYaml } from './output.ts';
import { yamlError } from './input.ts';

export const defaultApi = 'http://127.0.0.1:7070';
export const defaultFlowlog = 'http://127.0.0.1:7080';
export const defaultNamespace = '/';

export interface ConfigFile {
  api?: string;
  /** flowlog: flows and events (msctl logs, msctl flows). */
  flowlog?: string;
  token?: string;
  namespace?: string;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Where a setting came from, as a user would name it in a message. */
export type Origin = { readonly from: 'flag' | 'env' | 'config' | 'default'; readonly label: string };

export interface Settings {
  readonly api: string;
  readonly flowlog: string;
  readonly token: string | undefined;
  readonly namespace: string;
  readonly origins: { readonly api: Origin; readonly flowlog: Origin; readonly token: Origin | undefined; readonly namespace: Origin };
}

export interface Flags {
  api?: string | undefined;
  flowlog?: string | undefined;
  token?: string | undefined;
  namespace?: string | undefined;
}

const configKeys = ['api', 'flowlog', 'token', 'namespace'] as const;

export function configPath(env: Env): string {
  if (env.MSCTL_CONFIG) return env.MSCTL_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'microseg', 'msctl.yaml');
}

/** The config file, or undefined when there is none. Every problem is reported with its place. */
export async function readConfig(path: string): Promise<ConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InputError(`cannot read the config file ${path}: ${(err as Error).message}`, { cause: err });
  }
  const doc = parseDocument(text);
  const [first] = doc.errors;
  if (first) throw yamlError(path, first, ['fix the config file, or write it again with `msctl config set --api URL --token TOKEN`']);
  if (doc.contents === null) return {};
  if (!isMap(doc.contents)) throw new InputError(`${path}: must be a mapping with api, flowlog, token and namespace`);
  const value = doc.toJS() as Record<string, unknown>;
  const problems: string[] = [];
  const config: ConfigFile = {};
  for (const [key, v] of Object.entries(value)) {
    if (!(configKeys as readonly string[]).includes(key)) problems.push(`${key}: unknown setting; expected api, flowlog, token or namespace`);
    else if (typeof v !== 'string') problems.push(`${key}: must be a string`);
    else config[key as (typeof configKeys)[number]] = v;
  }
  if (problems.length > 0) throw new InputError(problems.map((p) => `${path}: ${p}`).join('\n'));
  return config;
}

/** Writes the file readable by its owner only (it holds a token), atomically. */
export async function writeConfig(path: string, config: ConfigFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, toYaml(config), { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}

export function resolveSettings(flags: Flags, env: Env, file: ConfigFile | undefined, path: string): Settings {
  const pick = (flag: string | undefined, flagName: string, envName: string, fromFile: string | undefined) => {
    if (flag !== undefined) return { value: flag, origin: { from: 'flag', label: flagName } as Origin };
    const fromEnv = env[envName];
    if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, origin: { from: 'env', label: envName } as Origin };
    if (fromFile !== undefined) return { value: fromFile, origin: { from: 'config', label: path } as Origin };
    return undefined;
  };
  const api = pick(flags.api, '--api', 'MSCTL_API', file?.api) ?? { value: defaultApi, origin: { from: 'default', label: 'the default' } };
  const flowlog = pick(flags.flowlog, '--flowlog', 'MSCTL_FLOWLOG', file?.flowlog) ?? {
    value: defaultFlowlog,
    origin: { from: 'default', label: 'the default' },
  };
  const token = pick(flags.token, '--token', 'MSCTL_TOKEN', file?.token);
  const namespace = pick(flags.namespace, '--namespace', 'MSCTL_NAMESPACE', file?.namespace) ?? {
    value: defaultNamespace,
    origin: { from: 'default', label: 'the default' },
  };
  checkApi(api.value, api.origin);
  checkApi(flowlog.value, flowlog.origin, 'flowlog URL', `--flowlog ${defaultFlowlog}`);
  checkNamespace(namespace.value, namespace.origin);
  return Object.freeze({
    api: api.value.replace(/\/+$/, ''),
    flowlog: flowlog.value.replace(/\/+$/, ''),
    token: token?.value,
    namespace: namespace.value,
    origins: Object.freeze({ api: api.origin, flowlog: flowlog.origin, token: token?.origin, namespace: namespace.origin }),
  });
}

export function checkApi(value: string, origin: Origin, what = 'API URL', example = '--api http://127.0.0.1:7070'): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new UsageError(`the ${what} "${value}" (from ${origin.label}) is not an http:// or https:// URL`, [`for example ${example}`]);
  }
}

export function checkNamespace(value: string, origin: Origin): void {
  if (!value.startsWith('/')) {
    throw new UsageError(`the namespace "${value}" (from ${origin.label}) must be an absolute path`, [`for example -n /${value.replace(/^\/*/, '')}`]);
  }
}

/** Enough of a token to recognise it, never enough to use it. */
export function maskToken(token: string): string {
  if (token.length < 16) return '****';
  return `****${token.slice(-4)}`;
}

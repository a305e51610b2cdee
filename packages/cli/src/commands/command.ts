// What every command declares; main.ts parses, checks and dispatches from it,
// help.ts prints it.
import type { IO } from '../io.ts';
import type { Format } from '../output.ts';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** The value's placeholder in help (`URL`, `FILE|-`). */
  readonly value?: string;
  readonly description: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export type Values = Readonly<Record<string, string | boolean | undefined>>;

export interface Invocation {
  readonly io: IO;
  /** The positional arguments after the command path, one per declared argument. */
  readonly args: readonly string[];
  readonly values: Values;
}

export interface Command {
  /** `['api', 'create']` */
  readonly path: readonly string[];
  /** Positional arguments, in order (`KIND`, `NAME_OR_ID`). */
  readonly arguments: readonly string[];
  readonly summary: string;
  readonly description: readonly string[];
  readonly options: OptionSpecs;
  readonly examples: readonly string[];
  run(invocation: Invocation): Promise<void>;
}

export const helpOption: OptionSpecs = {
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

export const flowlogOptions: OptionSpecs = {
  flowlog: { type: 'string', value: 'URL', description: 'flowlog (env MSCTL_FLOWLOG, config flowlog; default http://127.0.0.1:7080)' },
  token: { type: 'string', value: 'TOKEN', description: 'bearer token, any role (env MSCTL_TOKEN, config token)' },
  namespace: { type: 'string', short: 'n', value: 'NS', description: "namespace (env MSCTL_NAMESPACE, config namespace; default: the token's)" },
};

export const connectionOptions: OptionSpecs = {
  api: { type: 'string', value: 'URL', description: 'the policy API (env MSCTL_API, config api; default http://127.0.0.1:7070)' },
  token: { type: 'string', value: 'TOKEN', description: 'bearer token (env MSCTL_TOKEN, config token)' },
  namespace: { type: 'string', short: 'n', value: 'NS', description: 'namespace, e.g. /acme/team-b (env MSCTL_NAMESPACE, config namespace; default /)' },
};

export function outputOption(formats: readonly Format[]): OptionSpecs {
  return {
    output: { type: 'string', short: 'o', value: formats.join('|'), description: `output format (default ${formats[0]})` },
  };
}

export const fileOption: OptionSpecs = {
  file: { type: 'string', short: 'f', value: 'FILE|-', description: 'YAML or JSON to read; - reads stdin' },
};

export const recursiveOption: OptionSpecs = {
  recursive: { type: 'boolean', short: 'r', description: 'include child namespaces' },
};

export function stringValue(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

// msctl secrets status|reseal: the secrets stored sealed (OIDC client secrets, TLS keys).
// `status` lists those the policy service cannot decrypt, with the fix, and exits 1 when
// there are any (for scripts and CI); `reseal` seals every secret again with the current key.
import { CliError, exitCodes } from '../errors.ts';
import { formatTable, parseFormat, serialize } from '../output.ts';
import { connectionOptions, outputOption, stringValue, type Command } from './command.ts';
import { connect } from './shared.ts';

interface UnreadableSecret {
  kind: string;
  ID: string;
  namespace: string;
  name: string;
  field: string;
  keyId: string;
  reason: string;
  problem: string;
  fix: string;
}

interface StaleSecret {
  kind: string;
  namespace: string;
  name: string;
  field: string;
  keyId: string;
}

interface SecretsStatus {
  namespace: string;
  keyId: string;
  keyIds: string[];
  unreadable: UnreadableSecret[];
  stale: StaleSecret[];
}

interface ObjectRef {
  kind: string;
  namespace: string;
  name: string;
}

interface ResealResult {
  keyId: string;
  resealed: Array<ObjectRef & { fields: string[] }>;
  conflicts: ObjectRef[];
  unreadable: UnreadableSecret[];
}

type Row = Record<string, unknown>;
const keyOf = (id: unknown) => (id ? String(id) : '(enc:v1 or in clear)');
const unreadableColumns = [
  { header: 'KIND', get: (u: Row) => u.kind },
  { header: 'NAMESPACE', get: (u: Row) => u.namespace },
  { header: 'NAME', get: (u: Row) => u.name },
  { header: 'FIELD', get: (u: Row) => u.field },
  { header: 'NEEDS KEY', get: (u: Row) => (u.reason !== 'missing-key' ? '-' : u.keyId ? String(u.keyId) : '(unknown: enc:v1)') },
  { header: 'PROBLEM', get: (u: Row) => u.reason },
];

/** Each unreadable secret's fix, numbered as the table's rows. */
function fixes(unreadable: readonly UnreadableSecret[]): string {
  return unreadable.map((u, i) => `${i + 1}. ${u.kind} ${u.name} (${u.namespace}), ${u.field}: ${u.fix}\n`).join('');
}

export const secretsStatus: Command = {
  path: ['secrets', 'status'],
  arguments: [],
  summary: 'list the secrets the policy service cannot decrypt, and how to fix each',
  description: [
    'Lists the OIDC client secrets and TLS keys in the namespace and its children that the policy',
    'service cannot decrypt: sealed with a key it does not have (give it in POLICY_SECRETS_KEYS),',
    'or damaged or copied from elsewhere (set the secret again with msctl api update). Also counts',
    'the secrets sealed with an older key (msctl secrets reseal). Exits 1 when any cannot be decrypted.',
  ],
  options: { ...connectionOptions, ...outputOption(['table', 'yaml', 'json']) },
  examples: ['msctl secrets status', 'msctl secrets status -n /acme/team-b -o yaml'],
  async run(invocation) {
    const { values, io } = invocation;
    const format = parseFormat(stringValue(values, 'output'), ['table', 'yaml', 'json']);
    const client = await connect(invocation);
    const { body } = await client.request<SecretsStatus>('GET', '/secrets', { verb: 'read the status of', subject: 'secrets' });
    if (format !== 'table') io.stdout.write(serialize(body, format));
    else if (body.unreadable.length > 0) io.stdout.write(`${formatTable(body.unreadable as unknown as Row[], unreadableColumns)}\n${fixes(body.unreadable)}`);
    else io.stdout.write(`every secret in ${body.namespace} and below can be decrypted (current key ${body.keyId})\n`);
    if (format === 'table' && body.stale.length > 0) {
      const keys = [...new Set(body.stale.map((s) => keyOf(s.keyId)))].join(', ');
      io.stderr.write(
        `note: ${body.stale.length} secret(s) are sealed with an older key or format (${keys}): run msctl secrets reseal with an admin token of /\n`,
      );
    }
    if (body.unreadable.length > 0) {
      throw new CliError(`${body.unreadable.length} secret(s) in ${body.namespace} cannot be decrypted by the policy service`, {
        exitCode: exitCodes.failure,
        hints: ['each line above says how to fix it; until then those sign-ins fail and services with such a TLS key are not served'],
      });
    }
  },
};

export const secretsReseal: Command = {
  path: ['secrets', 'reseal'],
  arguments: [],
  summary: 'seal every stored secret again with the current key (key rotation)',
  description: [
    'Seals every OIDC client secret and TLS key again with the key the policy service seals with',
    '(the first of POLICY_SECRETS_KEYS), so that older keys can be removed. Each object is written',
    'only if unchanged since it was read: one changed meanwhile is reported; run the command again.',
    'Needs an admin token of /. Exits 1 when something was left (changed meanwhile, or cannot be decrypted).',
  ],
  options: { ...connectionOptions, ...outputOption(['table', 'yaml', 'json']) },
  examples: [
    '# every policy replica started with POLICY_SECRETS_KEYS=<new key>,<old key>, then:',
    'msctl secrets reseal',
    'msctl secrets status   # no note of older keys left: restart with POLICY_SECRETS_KEYS=<new key>',
  ],
  async run(invocation) {
    const { values, io } = invocation;
    const format = parseFormat(stringValue(values, 'output'), ['table', 'yaml', 'json']);
    const client = await connect(invocation);
    const { body } = await client.request<ResealResult>('POST', '/secrets/reseal', { verb: 'reseal', subject: 'secrets' });
    if (format !== 'table') io.stdout.write(serialize(body, format));
    else {
      for (const r of body.resealed) io.stdout.write(`resealed ${r.kind} ${r.name} (${r.namespace}): ${r.fields.join(', ')}\n`);
      io.stdout.write(`${body.resealed.length} object(s) sealed again with key ${body.keyId}\n`);
    }
    const left: string[] = [];
    if (body.conflicts.length > 0)
      left.push(
        `${body.conflicts.length} object(s) changed while being re-sealed (${body.conflicts.map((c) => `${c.kind} ${c.name} in ${c.namespace}`).join(', ')})`,
      );
    if (body.unreadable.length > 0) left.push(`${body.unreadable.length} secret(s) cannot be decrypted and were left as they are`);
    if (left.length > 0) {
      throw new CliError(left.join('; '), {
        exitCode: exitCodes.failure,
        hints: [
          ...(body.conflicts.length > 0 ? ['run msctl secrets reseal again'] : []),
          ...(body.unreadable.length > 0 ? ['msctl secrets status lists them with the fix'] : []),
        ],
      });
    }
  },
};

// msctl assertion-keys list|rotate: the keys that sign the identity assertions gateways give applications.
// `list` shows each key's kid, state (next, signing, previous), when it signs and until when it is
// published; `rotate` starts a rotation (the next key published now, signing after the prepublication),
// and `rotate --immediately` replaces the signing key at once, withdrawing every other key.
import { formatTable, parseFormat, serialize } from '../output.ts';
import { connectionOptions, outputOption, stringValue, type Command } from './command.ts';
import { connect } from './shared.ts';

interface KeyView {
  kid: string;
  state: 'next' | 'signing' | 'previous';
  createdAt: string;
  activatesAt: string;
  publishedUntil: string | null;
}

interface KeyRing {
  issuer: string;
  ttlSeconds: number;
  prepublishSeconds: number;
  rotationDays: number;
  keys: KeyView[];
  rotated?: boolean;
}

type Row = Record<string, unknown>;
const columns = [
  { header: 'KID', get: (k: Row) => k.kid },
  { header: 'STATE', get: (k: Row) => k.state },
  { header: 'SIGNS FROM', get: (k: Row) => k.activatesAt },
  { header: 'PUBLISHED UNTIL', get: (k: Row) => k.publishedUntil ?? '-' },
];

function table(ring: KeyRing): string {
  const rotation = ring.rotationDays > 0 ? `every ${ring.rotationDays} days` : 'by hand only';
  return (
    `${formatTable(ring.keys as unknown as Row[], columns)}\n` +
    `issuer ${ring.issuer}, assertions valid ${ring.ttlSeconds} s, a new key published ${ring.prepublishSeconds} s before it signs, rotated ${rotation}\n`
  );
}

export const assertionKeysList: Command = {
  path: ['assertion-keys', 'list'],
  arguments: [],
  summary: 'list the keys that sign identity assertions',
  description: [
    'Lists the keys gateways sign identity assertions with, as every service host publishes them at',
    '/.well-known/microseg/jwks.json: the next key (published, not yet signing), the signing key and',
    'the previous ones (published until their last assertion has expired). Public keys only; any role.',
  ],
  options: { ...connectionOptions, ...outputOption(['table', 'yaml', 'json']) },
  examples: ['msctl assertion-keys list', 'msctl assertion-keys list -o yaml'],
  async run(invocation) {
    const { values, io } = invocation;
    const format = parseFormat(stringValue(values, 'output'), ['table', 'yaml', 'json']);
    const client = await connect(invocation);
    const { body } = await client.request<KeyRing>('GET', '/assertionkeys', { verb: 'list', subject: 'assertion keys' });
    io.stdout.write(format === 'table' ? table(body) : serialize(body, format));
  },
};

export const assertionKeysRotate: Command = {
  path: ['assertion-keys', 'rotate'],
  arguments: [],
  summary: 'rotate the key that signs identity assertions',
  description: [
    'Publishes a new key now; it signs once POLICY_ASSERTION_KEY_PREPUBLISH_SECONDS have passed, and the',
    'current key stays published until its last assertion has expired: applications keep verifying',
    'throughout. A rotation already waiting is left as it is. With --immediately the new key signs at',
    'once and every other key is withdrawn from the key set (a key that must go now): assertions already',
    'made stop verifying, and applications may refuse requests until they fetch the key set again.',
    'Needs an admin token of /.',
  ],
  options: {
    ...connectionOptions,
    immediately: { type: 'boolean', description: 'sign with the new key now and withdraw every other key' },
    ...outputOption(['table', 'yaml', 'json']),
  },
  examples: ['msctl assertion-keys rotate', 'msctl assertion-keys rotate --immediately   # a key was exposed'],
  async run(invocation) {
    const { values, io } = invocation;
    const format = parseFormat(stringValue(values, 'output'), ['table', 'yaml', 'json']);
    const client = await connect(invocation);
    const immediate = values.immediately === true;
    const { body } = await client.request<KeyRing>('POST', '/assertionkeys/rotate', { verb: 'rotate', subject: 'assertion keys', body: { immediate } });
    if (format !== 'table') {
      io.stdout.write(serialize(body, format));
      return;
    }
    const next = body.keys.find((k) => k.state === (immediate ? 'signing' : 'next'));
    if (!body.rotated) io.stdout.write(`a rotation is already under way: key ${next?.kid} signs from ${next?.activatesAt}\n`);
    else if (immediate) io.stdout.write(`key ${next?.kid} signs now; every other key is withdrawn\n`);
    else io.stdout.write(`key ${next?.kid} is published and signs from ${next?.activatesAt}\n`);
    io.stdout.write(table(body));
  },
};

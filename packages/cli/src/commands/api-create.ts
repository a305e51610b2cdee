import { StoppedError } from '../errors.ts';
import { resolveKind } from '../kinds.ts';
import { parseFormat } from '../output.ts';
import { connectionOptions, fileOption, outputOption, stringValue, type Command } from './command.ts';
import { connect, printObjects, readObjects, subjectOf } from './shared.ts';

const formats = ['yaml', 'json'] as const;

export const apiCreate: Command = {
  path: ['api', 'create'],
  arguments: ['KIND'],
  summary: 'create objects from YAML or JSON',
  description: [
    'Creates the object given with -f in the namespace given with -n. A list (or several YAML',
    'documents) creates each object in order and stops at the first failure, saying which.',
  ],
  options: { ...fileOption, ...connectionOptions, ...outputOption(formats) },
  examples: [
    'cat <<EOF | msctl api create externalnetwork -n /acme/team-b/dev/private-app -f -',
    'name: idp',
    'entries:',
    '  - idp.example.com',
    'servicePorts:',
    '  - tcp/443',
    'associatedTags:',
    '  - ext:name=idp',
    'EOF',
    '',
    'msctl api create service -n /acme/team-b/dev/private-app -f service.yaml',
  ],
  async run({ io, args, values }) {
    const kind = resolveKind(args[0]);
    const format = parseFormat(stringValue(values, 'output'), formats);
    const { objects } = await readObjects({ io, args, values }, 'msctl api create');
    const client = await connect({ io, args, values });
    const created: unknown[] = [];
    try {
      for (const [index, object] of objects.entries()) {
        const subject = subjectOf(kind, object, `item ${index + 1}`);
        try {
          const response = await client.request<unknown>('POST', `/${kind.plural}`, { body: object, verb: 'create', subject, kind: kind.name });
          created.push(response.body);
        } catch (err) {
          if (objects.length === 1) throw err;
          throw stoppedAt(err, subject, index, objects.length);
        }
      }
    } finally {
      if (created.length > 0) printObjects(io, kind, objects.length === 1 ? created[0] : created, format, undefined);
      if (kind.name === 'apitoken' && created.length > 0) io.stderr.write('note: the token field is shown only this once; store it now\n');
    }
  },
};

function stoppedAt(failure: unknown, subject: string, index: number, total: number): StoppedError {
  const range = (from: number, to: number) => (from === to ? `item ${from}` : `items ${from}–${to}`);
  const parts = [
    `stopped at item ${index + 1} of ${total} (${subject})`,
    index === 0 ? 'nothing was created' : `${range(1, index)} created`,
    ...(index + 1 < total ? [`${range(index + 2, total)} not tried`] : []),
  ];
  const hints =
    index === 0
      ? []
      : [
          `${range(1, index)} exist${index === 1 ? 's' : ''} now: leave ${index === 1 ? 'it' : 'them'} out when you run the command again, or ${index === 1 ? 'its' : 'their'} create fails with a conflict`,
        ];
  return new StoppedError(parts.join('; '), failure, hints);
}

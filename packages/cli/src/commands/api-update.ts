import { UsageError } from '../errors.ts';
import { resolveKind } from '../kinds.ts';
import { parseFormat } from '../output.ts';
import { connectionOptions, fileOption, outputOption, stringValue, type Command } from './command.ts';
import { connect, objectPath, printObjects, readObjects, subjectOf } from './shared.ts';

const formats = ['yaml', 'json'] as const;

export const apiUpdate: Command = {
  path: ['api', 'update'],
  arguments: ['KIND', 'NAME_OR_ID'],
  summary: 'replace an object with the one given in YAML or JSON',
  description: [
    'Replaces the object NAME_OR_ID with the object given with -f (fields left out take their',
    'defaults). With --if-match, the update fails if the object changed since that ETag.',
  ],
  options: {
    ...fileOption,
    'if-match': { type: 'string', value: 'ETAG', description: 'only if the object still has this ETag' },
    ...connectionOptions,
    ...outputOption(formats),
  },
  examples: [
    'msctl api get service private-app -n /acme/team-b/dev/private-app > service.yaml',
    '$EDITOR service.yaml',
    'msctl api update service private-app -n /acme/team-b/dev/private-app -f service.yaml',
  ],
  async run(invocation) {
    const { args, values, io } = invocation;
    const kind = resolveKind(args[0]);
    const nameOrId = args[1] ?? '';
    const format = parseFormat(stringValue(values, 'output'), formats);
    const { source, objects } = await readObjects(invocation, 'msctl api update');
    const [object] = objects;
    if (!object || objects.length > 1) {
      throw new UsageError(`${source} holds ${objects.length} objects; update replaces one`, [
        'to create several, use msctl api create; to apply many at once, msctl api import',
      ]);
    }
    const client = await connect(invocation);
    const response = await client.request<unknown>('PUT', objectPath(kind, nameOrId), {
      body: object,
      ifMatch: stringValue(values, 'if-match'),
      verb: 'update',
      subject: subjectOf(kind, nameOrId),
      kind: kind.name,
    });
    printObjects(io, kind, response.body, format, undefined);
  },
};

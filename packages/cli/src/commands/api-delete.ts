import { resolveKind } from '../kinds.ts';
import { parseFormat } from '../output.ts';
import { connectionOptions, outputOption, stringValue, type Command } from './command.ts';
import { connect, objectPath, printObjects, subjectOf } from './shared.ts';

const formats = ['yaml', 'json'] as const;

export const apiDelete: Command = {
  path: ['api', 'delete'],
  arguments: ['KIND', 'NAME_OR_ID'],
  summary: 'delete an object, by name or ID',
  description: ['Deletes the object NAME_OR_ID in the namespace given with -n and prints what was deleted.'],
  options: { ...connectionOptions, ...outputOption(formats) },
  examples: ['msctl api delete networkaccesspolicy allow-app-to-idp -n /acme/team-b/dev/private-app'],
  async run(invocation) {
    const { args, values, io } = invocation;
    const kind = resolveKind(args[0]);
    const nameOrId = args[1] ?? '';
    const format = parseFormat(stringValue(values, 'output'), formats);
    const client = await connect(invocation);
    const response = await client.request<unknown>('DELETE', objectPath(kind, nameOrId), {
      verb: 'delete',
      subject: subjectOf(kind, nameOrId),
      kind: kind.name,
    });
    if (response.body !== undefined) printObjects(io, kind, response.body, format, undefined);
  },
};

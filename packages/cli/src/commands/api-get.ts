import { resolveKind } from '../kinds.ts';
import { parseFormat } from '../output.ts';
import { connectionOptions, outputOption, stringValue, type Command } from './command.ts';
import { columnsOption, connect, objectPath, printObjects, subjectOf } from './shared.ts';

const formats = ['yaml', 'json', 'table'] as const;

export const apiGet: Command = {
  path: ['api', 'get'],
  arguments: ['KIND', 'NAME_OR_ID'],
  summary: 'show one object, by name or ID',
  description: ['Prints the object named NAME_OR_ID (its name or its ID) in the namespace given with -n.'],
  options: {
    ...connectionOptions,
    ...outputOption(formats),
    columns: { type: 'string', short: 'c', value: 'COL,COL', description: 'only these fields (with -o table: these columns)' },
  },
  examples: ['msctl api get service private-app -n /acme/team-b/dev/private-app', 'msctl api get extnet idp -n /acme/team-b/dev/private-app -o json'],
  async run(invocation) {
    const { args, values, io } = invocation;
    const kind = resolveKind(args[0]);
    const nameOrId = args[1] ?? '';
    const format = parseFormat(stringValue(values, 'output'), formats);
    const columns = columnsOption(invocation);
    const client = await connect(invocation);
    const response = await client.request<unknown>('GET', objectPath(kind, nameOrId), { verb: 'get', subject: subjectOf(kind, nameOrId), kind: kind.name });
    printObjects(io, kind, response.body, format, columns);
  },
};

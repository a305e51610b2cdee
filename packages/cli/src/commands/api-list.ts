import { resolveKind } from '../kinds.ts';
import { parseFormat } from '../output.ts';
import { connectionOptions, outputOption, recursiveOption, stringValue, type Command } from './command.ts';
import { columnsOption, connect, printObjects } from './shared.ts';

const formats = ['table', 'yaml', 'json'] as const;

export const apiList: Command = {
  path: ['api', 'list'],
  arguments: ['KIND'],
  summary: 'list the objects of a kind in a namespace',
  description: [
    'Lists the objects of KIND in the namespace given with -n; with -r also those of its child',
    'namespaces. The table shows ID, NAME, NAMESPACE and one or two columns of the kind; -c names',
    'the columns (any fields of the objects, in any case).',
  ],
  options: {
    ...recursiveOption,
    columns: { type: 'string', short: 'c', value: 'COL,COL', description: 'columns to show (fields of the objects)' },
    ...connectionOptions,
    ...outputOption(formats),
  },
  examples: [
    'msctl api list services -n /acme/team-b -r',
    'msctl api list netpol -n /acme/team-b/dev/private-app -c name,action,logsEnabled',
    'msctl api list extnet -o yaml',
  ],
  async run(invocation) {
    const { args, values, io } = invocation;
    const kind = resolveKind(args[0]);
    const format = parseFormat(stringValue(values, 'output'), formats);
    const columns = columnsOption(invocation);
    const client = await connect(invocation);
    const query = values.recursive === true ? { recursive: 'true' } : undefined;
    const response = await client.request<unknown>('GET', `/${kind.plural}`, { query, verb: 'list', subject: kind.plural, kind: kind.name });
    const objects = Array.isArray(response.body) ? response.body : [];
    if (objects.length === 0 && format === 'table') {
      io.stderr.write(
        `no ${kind.plural} in ${client.settings.namespace}${values.recursive === true ? ' or below' : ' (add -r to include child namespaces)'}\n`,
      );
      return;
    }
    printObjects(io, kind, objects, format, columns);
  },
};

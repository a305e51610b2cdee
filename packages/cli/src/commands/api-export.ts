import { parseFormat, serialize } from '../output.ts';
import { connectionOptions, outputOption, recursiveOption, stringValue, type Command } from './command.ts';
import { connect } from './shared.ts';

const formats = ['yaml', 'json'] as const;

export const apiExport: Command = {
  path: ['api', 'export'],
  arguments: [],
  summary: 'print the objects of a namespace as an import document',
  description: ['Prints every object of the namespace given with -n (with -r, and of its children) in the', 'format msctl api import reads.'],
  options: { ...recursiveOption, ...connectionOptions, ...outputOption(formats) },
  examples: ['msctl api export -n /acme/team-b -r > team-b.yaml', 'msctl api import -f team-b.yaml             # restores them, all or nothing'],
  async run(invocation) {
    const { io, values } = invocation;
    const format = parseFormat(stringValue(values, 'output'), formats);
    const client = await connect(invocation);
    const query = values.recursive === true ? { recursive: 'true' } : undefined;
    const response = await client.request<unknown>('GET', '/export', { query, verb: 'export', subject: 'the export' });
    io.stdout.write(serialize(response.body, format === 'table' ? 'yaml' : format));
  },
};

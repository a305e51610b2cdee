// msctl flows: flows aggregated per minute from flowlog — who reached what,
// accepted or rejected, by which policy and why.
import { formatTable, parseFormat, serialize } from '../output.ts';
import { UsageError } from '../errors.ts';
import { flowlogOptions, outputOption, recursiveOption, stringValue, type Command } from './command.ts';
import { collect, connectFlowlog, isoTime, parseLimit, selectionQuery } from './flowlog-shared.ts';

const formats = ['table', 'json', 'yaml'] as const;

type Flow = Record<string, unknown> & { source: { name: string; ip: string }; destination: { name: string; port: number } };

const columns = [
  { header: 'MINUTE', get: (f: Record<string, unknown>) => isoTime(Number(f.minute)) },
  { header: 'ACTION', get: (f: Record<string, unknown>) => f.action },
  {
    header: 'SOURCE',
    get: (f: Record<string, unknown>) => ((f as Flow).source.name && (f as Flow).source.name !== 'somewhere' ? (f as Flow).source.name : (f as Flow).source.ip),
  },
  {
    header: 'DESTINATION',
    get: (f: Record<string, unknown>) => `${(f as Flow).destination.name}${(f as Flow).destination.port ? `:${(f as Flow).destination.port}` : ''}`,
  },
  { header: 'URI', get: (f: Record<string, unknown>) => f.URI },
  { header: 'POLICY', get: (f: Record<string, unknown>) => (f.byDefault ? '(namespace default)' : f.policyName) },
  { header: 'REASON', get: (f: Record<string, unknown>) => f.dropReason },
  { header: 'HITS', get: (f: Record<string, unknown>) => f.count },
];

export const flows: Command = {
  path: ['flows'],
  arguments: [],
  summary: 'flows aggregated per minute from flowlog, newest first',
  description: [
    "Prints the flows of the namespace given with -n (default: the token's namespace); with -r also",
    'those of its child namespaces. Identical flows of one minute are one line with their hit count.',
    '--action Accept or Reject keeps one outcome; --since 1h looks back that far; -q keeps flows whose',
    'source, destination, URI, user, policy or drop reason contains TEXT.',
  ],
  options: {
    ...recursiveOption,
    action: { type: 'string', value: 'Accept|Reject', description: 'only accepted or only rejected flows' },
    since: { type: 'string', value: 'DURATION', description: 'how far back: 30s, 15m, 2h, 7d' },
    query: { type: 'string', short: 'q', value: 'TEXT', description: 'only flows that mention TEXT' },
    limit: { type: 'string', value: 'N', description: 'at most N lines (1-1000, default 100)' },
    ...flowlogOptions,
    ...outputOption(formats),
  },
  examples: ['msctl flows -n /acme/team-b/dev/private-app --since 1h', 'msctl flows -n /acme -r --action Reject -o yaml'],
  async run(invocation) {
    const { io, values } = invocation;
    const format = parseFormat(stringValue(values, 'output'), formats);
    const limit = parseLimit(stringValue(values, 'limit'), 100);
    const action = stringValue(values, 'action');
    const normalized = action === undefined ? undefined : ({ accept: 'Accept', reject: 'Reject' } as Record<string, string>)[action.toLowerCase()];
    if (action !== undefined && !normalized) throw new UsageError(`--action ${action} is not Accept or Reject`, ['use --action Accept or --action Reject']);
    const client = await connectFlowlog(invocation);
    const query = selectionQuery(client, invocation);
    if (normalized) query.action = normalized;
    const text = stringValue(values, 'query');
    if (text) query.q = text;
    const found = await collect<Record<string, unknown>>(client, '/api/v1/flows', 'flows', query, limit, 'read');
    if (found.length === 0 && format === 'table') {
      io.stderr.write('no flows match (add -r to include child namespaces, or --since to look further back)\n');
      return;
    }
    io.stdout.write(format === 'table' ? formatTable(found, columns) : serialize(found, format));
  },
};

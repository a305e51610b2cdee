// msctl logs: the event logs (login failed, object changed, network denied, …)
// from flowlog, newest first; --follow keeps printing them as they happen.
import { CliError, exitCodes } from '../errors.ts';
import { formatTable, serialize, toYaml, type Format } from '../output.ts';
import { parseFormat } from '../output.ts';
import { flowlogOptions, outputOption, recursiveOption, stringValue, type Command } from './command.ts';
import { collect, connectFlowlog, isoTime, parseLimit, selectionQuery } from './flowlog-shared.ts';

const formats = ['table', 'json', 'yaml'] as const;

interface EventRecord {
  id: string;
  time: number;
  level: string;
  category: string;
  title: string;
  content: string;
  targetIdentity: string;
  targetID: string;
  namespace: string;
}

const columns = [
  { header: 'TIME', get: (e: Record<string, unknown>) => isoTime(Number(e.time)) },
  { header: 'LEVEL', get: (e: Record<string, unknown>) => e.level },
  { header: 'CATEGORY', get: (e: Record<string, unknown>) => e.category },
  { header: 'NAMESPACE', get: (e: Record<string, unknown>) => e.namespace },
  { header: 'TITLE', get: (e: Record<string, unknown>) => e.title },
  { header: 'CONTENT', get: (e: Record<string, unknown>) => e.content },
];

function line(e: EventRecord, format: Format): string {
  if (format === 'json') return `${JSON.stringify(e)}\n`;
  if (format === 'yaml') return `---\n${toYaml(e)}`;
  return `${isoTime(e.time)}  ${e.level.padEnd(8)}  ${e.category.padEnd(14)}  ${e.namespace || '-'}  ${e.title}: ${e.content}\n`;
}

export const logs: Command = {
  path: ['logs'],
  arguments: [],
  summary: 'event logs from flowlog, newest first (--follow: as they happen)',
  description: [
    "Prints the events of the namespace given with -n (default: the token's namespace); with -r also",
    'those of its child namespaces. --level and --category take one value or several separated by',
    'commas; --since 1h looks back that far; -q keeps events whose text contains it.',
    '--follow prints the latest events oldest first, then each new one as it happens (with -o json,',
    'one JSON object per line), until you stop it.',
  ],
  options: {
    ...recursiveOption,
    level: { type: 'string', value: 'LEVEL[,LEVEL]', description: 'Debug, Info, Warning, Error, Critical' },
    category: { type: 'string', value: 'CAT[,CAT]', description: 'authn, crud, network, processingunit, …' },
    since: { type: 'string', value: 'DURATION', description: 'how far back: 30s, 15m, 2h, 7d' },
    query: { type: 'string', short: 'q', value: 'TEXT', description: 'only events whose title, content or target contains TEXT' },
    limit: { type: 'string', value: 'N', description: 'at most N events (1-1000, default 100)' },
    follow: { type: 'boolean', description: 'keep printing new events as they happen' },
    ...flowlogOptions,
    ...outputOption(formats),
  },
  examples: [
    'msctl logs -n /acme/team-b/dev/private-app --since 1h',
    'msctl logs -n /acme -r --level Warning,Error,Critical',
    'msctl logs -n /acme -r --category authn --follow',
  ],
  async run(invocation) {
    const { io, values } = invocation;
    const format = parseFormat(stringValue(values, 'output'), formats);
    const limit = parseLimit(stringValue(values, 'limit'), 100);
    const client = await connectFlowlog(invocation);
    const query = selectionQuery(client, invocation);
    const level = stringValue(values, 'level');
    const category = stringValue(values, 'category');
    const text = stringValue(values, 'query');
    if (level) query.level = level;
    if (category) query.category = category;
    if (text) query.q = text;
    const events = await collect<EventRecord>(client, '/api/v1/events', 'events', query, limit, 'read');

    if (values.follow !== true) {
      if (events.length === 0 && format === 'table') {
        io.stderr.write('no events match (add -r to include child namespaces, or --since to look further back)\n');
        return;
      }
      io.stdout.write(format === 'table' ? formatTable(events as unknown as Record<string, unknown>[], columns) : serialize(events, format));
      return;
    }

    const seen = new Set<string>();
    for (const e of [...events].reverse()) {
      seen.add(e.id);
      io.stdout.write(line(e, format));
    }
    const levels = level ? new Set(level.split(',').map((l) => l.trim().toLowerCase())) : undefined;
    const categories = category ? new Set(category.split(',').map((c) => c.trim().toLowerCase())) : undefined;
    const wanted = (e: EventRecord) =>
      !seen.has(e.id) &&
      (!levels || levels.has(e.level.toLowerCase())) &&
      (!categories || categories.has(e.category.toLowerCase())) &&
      (!text || [e.title, e.content, e.targetIdentity, e.targetID, e.namespace].join('\n').toLowerCase().includes(text.toLowerCase()));
    const streamQuery: Record<string, string> = {};
    if (query.namespace) streamQuery.namespace = query.namespace;
    if (query.recursive) streamQuery.recursive = query.recursive;
    const ended = await client.stream('/api/v1/stream', { query: streamQuery, verb: 'follow', subject: 'events', service: 'flowlog service' }, (type, data) => {
      if (type !== 'event') return;
      const e = data as EventRecord;
      if (!wanted(e)) return;
      seen.add(e.id);
      io.stdout.write(line(e, format));
    });
    if (ended === 'expired') throw new CliError('the token was revoked or expired while following', { hints: ['get a new token and run the command again'] });
    throw new CliError('flowlog closed the stream (it may be restarting)', { exitCode: exitCodes.failure, hints: ['run the command again to keep following'] });
  },
};

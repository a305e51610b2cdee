// msctl sessions list|revoke: who is signed in, and cutting a session off at once.
import { UsageError } from '../errors.ts';
import { formatTable, parseFormat, serialize, type Format } from '../output.ts';
import { connectionOptions, outputOption, recursiveOption, stringValue, type Command } from './command.ts';
import { connect } from './shared.ts';

interface SessionView {
  ID: string;
  user: string;
  namespace: string;
  serviceID: string;
  createTime: string;
  expireTime: string;
  refreshable: boolean;
}

const columns = [
  { header: 'ID', get: (s: Record<string, unknown>) => s.ID },
  { header: 'USER', get: (s: Record<string, unknown>) => s.user },
  { header: 'NAMESPACE', get: (s: Record<string, unknown>) => s.namespace },
  { header: 'SERVICE', get: (s: Record<string, unknown>) => s.serviceID },
  { header: 'SINCE', get: (s: Record<string, unknown>) => s.createTime },
  { header: 'UNTIL', get: (s: Record<string, unknown>) => s.expireTime },
];

function print(
  io: { stdout: { write(s: string): unknown }; stderr: { write(s: string): unknown } },
  sessions: SessionView[],
  format: Format,
  empty: string,
): void {
  if (format === 'table') {
    if (sessions.length === 0) io.stderr.write(`${empty}\n`);
    else io.stdout.write(formatTable(sessions as unknown as Record<string, unknown>[], columns));
    return;
  }
  io.stdout.write(serialize(sessions, format));
}

const userOption = { user: { type: 'string' as const, value: 'EMAIL', description: "only this user's sessions (email or subject)" } };

export const sessionsList: Command = {
  path: ['sessions', 'list'],
  arguments: [],
  summary: 'list the live sessions of a namespace',
  description: ['Lists who is signed in to the services of the namespace (-r: and its children). Needs an editor or admin token.'],
  options: { ...connectionOptions, ...recursiveOption, ...userOption, ...outputOption(['table', 'yaml', 'json']) },
  examples: ['msctl sessions list -n /acme -r', 'msctl sessions list -n /acme/team-b/dev/private-app --user alice@example.com'],
  async run(invocation) {
    const { values, io } = invocation;
    const format = parseFormat(stringValue(values, 'output'), ['table', 'yaml', 'json']);
    const query: Record<string, string> = {};
    if (values.recursive === true) query.recursive = 'true';
    const user = stringValue(values, 'user');
    if (user) query.user = user;
    const client = await connect(invocation);
    const response = await client.request<SessionView[]>('GET', '/sessions', { verb: 'list', subject: 'sessions', query });
    print(io, response.body, format, 'no sessions');
  },
};

export const sessionsRevoke: Command = {
  path: ['sessions', 'revoke'],
  arguments: ['[SESSION_ID]'],
  summary: 'end a session, or every session of a user, at once',
  description: [
    'Ends the session SESSION_ID, or with --user every session of that user in the namespace (-r: and its children).',
    'Every gateway forgets the session within a second; the user has to sign in again.',
  ],
  options: { ...connectionOptions, ...recursiveOption, ...userOption, ...outputOption(['table', 'yaml', 'json']) },
  examples: ['msctl sessions revoke 3q2-ExampleSessionId -n /acme/team-b/dev/private-app', 'msctl sessions revoke --user bob@example.com -n /acme -r'],
  async run(invocation) {
    const { args, values, io } = invocation;
    const format = parseFormat(stringValue(values, 'output'), ['table', 'yaml', 'json']);
    const id = args[0] ?? '';
    const user = stringValue(values, 'user') ?? '';
    if (!id && !user) throw new UsageError('name a session id or --user EMAIL', ['msctl sessions list shows the ids']);
    if (id && user) throw new UsageError('give either a session id or --user, not both', []);
    const client = await connect(invocation);
    if (id) {
      const response = await client.request<SessionView>('DELETE', `/sessions/${encodeURIComponent(id)}`, { verb: 'revoke', subject: `session/${id}` });
      print(io, [response.body], format, '');
      return;
    }
    const query: Record<string, string> = { user };
    if (values.recursive === true) query.recursive = 'true';
    const response = await client.request<SessionView[]>('DELETE', '/sessions', { verb: 'revoke', subject: `sessions of ${user}`, query });
    print(io, response.body, format, `no session of ${user} to revoke`);
  },
};

// The NATS reference (docs/architecture.md), from packages/contracts: every subject of `subjects`, who
// publishes and who receives it (access.ts), and each service's permissions as the credentials generator
// hands them to nats-server.
import { buckets, busPermissions, queues, serviceIdentities, servedQueues, streams, subjects, type ServiceIdentity } from '@microseg/contracts';
import { code, type Table } from './blocks.ts';

/** Every subject of `subjects`, the per-origin event subjects written out. */
export function contractSubjects(): string[] {
  return Object.values(subjects).flatMap((s) => (typeof s === 'function' ? serviceIdentities.map((origin) => s(origin)) : [s]));
}

/** Every subject or pattern a service may publish to or subscribe to (access.ts). */
export function permissionSubjects(): string[] {
  return serviceIdentities.flatMap((who) => [...busPermissions[who].publish, ...busPermissions[who].subscribe]);
}

/** NATS subject matching: `*` is one token, `>` the rest; a pattern covers a subject (itself possibly a pattern). */
export function covers(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] === '*' ? s[i] === '>' : p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

const who = (list: (id: ServiceIdentity) => readonly string[], subject: string) =>
  serviceIdentities.filter((id) => list(id).some((pattern) => covers(pattern, subject)));

function kindOf(subject: string): string {
  const [family, owner] = subject.split('.');
  if (family === 'svc') {
    const queue = (queues as Record<string, string>)[owner!];
    return queue ? `request/reply, queue ${code(queue)}` : 'request/reply';
  }
  if (family === 'bcast') return 'broadcast (core NATS, not stored)';
  if (family === 'evt') {
    const stored = streams.events.subjects.some((pattern) => covers(pattern, subject));
    return stored ? `event, stored in the stream ${code(streams.events.name)}` : 'event';
  }
  return '—';
}

const listOrDash = (names: string[]) => (names.length ? names.join(', ') : '—');

export function subjectsTable(): Table {
  return {
    header: ['subject', 'kind', 'published by', 'received by', 'what'],
    notes: true,
    rows: contractSubjects().map((subject) => ({
      key: subject,
      cells: [
        code(subject),
        kindOf(subject),
        listOrDash(who((id) => busPermissions[id].publish, subject)),
        listOrDash(who((id) => busPermissions[id].subscribe, subject)),
      ],
    })),
  };
}

/** Each service's permissions on plain subjects: what it may publish, subscribe to and answer. */
export function permissionsTable(): Table {
  return {
    header: ['service', 'publishes', 'subscribes', 'answers requests', 'queue groups'],
    notes: false,
    rows: serviceIdentities.map((id) => {
      const p = busPermissions[id];
      return { key: id, cells: [id, codes(p.publish.filter((s) => !isApi(s))), codes(p.subscribe), p.allowResponses ? 'yes' : 'no', codes(servedQueues[id])] };
    }),
  };
}

/** The JetStream and KV API subjects each service may publish to, by stream or bucket. */
export function jetstreamTable(): Table {
  const rows: Table['rows'] = [];
  for (const id of serviceIdentities) {
    const byStream = new Map<string, string[]>();
    for (const subject of busPermissions[id].publish.filter(isApi)) {
      const stream = streamOf(subject);
      byStream.set(stream, [...(byStream.get(stream) ?? []), subject]);
    }
    for (const [stream, list] of byStream) rows.push({ key: `${id} ${stream}`, cells: [id, stream, codes(list)] });
  }
  return { header: ['service', 'stream or bucket', 'API subjects'], notes: false, rows };
}

const codes = (list: readonly string[]) => (list.length ? list.map(code).join(', ') : '—');
const isApi = (subject: string) => subject.startsWith('$');

/** The stream (or KV bucket) a JetStream API subject is about, or the account when it names none. */
function streamOf(subject: string): string {
  const known = [streams.events.name, ...Object.values(buckets).flatMap((b) => [`KV_${b}`, b])];
  const found = subject.split('.').find((token) => known.includes(token));
  if (!found) return 'the account';
  return found.startsWith('KV_') ? found.slice(3) : found;
}

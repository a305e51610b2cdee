// msctl logs and msctl flows against a fake flowlog that records every request.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { closedUrl, startFakeApi, type FakeApi, type Handler, type RecordedRequest } from '../testing/fake-api.ts';
import { runCli, temporaryDirectory } from '../testing/run-cli.ts';

let handler: Handler = () => undefined;
let flowlog: FakeApi;
before(async () => {
  flowlog = await startFakeApi((request) => handler(request));
});
after(() => flowlog.close());

function msctl(argv: string[], respond: Handler, env: Record<string, string> = {}) {
  flowlog.requests.length = 0;
  handler = respond;
  return runCli(argv, { env: { MSCTL_FLOWLOG: flowlog.url, MSCTL_TOKEN: 'mst_viewer', ...env } });
}

const T = Date.UTC(2026, 10, 28, 12, 0, 0);
const event = (i: number, fields: Record<string, unknown> = {}) => ({
  id: `e${i}`,
  time: T - i * 1000,
  level: 'Info',
  category: 'authn',
  title: 'Login succeeded',
  content: `user${i}@example.com logged in to private-app.`,
  targetIdentity: 'service',
  targetID: 'svc-1',
  namespace: '/acme/app',
  origin: 'authn',
  ...fields,
});
const flow = (fields: Record<string, unknown> = {}) => ({
  namespace: '/acme/app',
  source: { type: 'Claims', id: 'bob@example.com', name: 'bob@example.com', ip: '127.0.0.1', namespace: '' },
  destination: { type: 'ProcessingUnit', id: 'nginx', name: 'nginx', ip: '127.0.0.1', port: 3000, namespace: '/acme/app' },
  serviceID: 'svc-1',
  URI: 'GET /',
  action: 'Reject',
  dropReason: 'api',
  policyID: 'hrs-1',
  policyName: 'private-app-api',
  byDefault: false,
  user: 'bob@example.com',
  minute: T,
  count: 3,
  firstSeen: T,
  lastSeen: T + 5_000,
  ...fields,
});

const events = (list: unknown[], nextCursor?: string) => ({ status: 200, body: { events: list, ...(nextCursor ? { nextCursor } : {}) } });
const only = (request: RecordedRequest) => Object.fromEntries(request.query);

test('logs asks flowlog with the token and the filters, and prints a table newest first', async () => {
  const before = Date.now();
  const { code, stdout, stderr } = await msctl(
    ['logs', '-n', '/acme', '-r', '--level', 'Warning,Error', '--category', 'authn', '--since', '2h', '-q', 'bob'],
    () => events([event(1, { level: 'Warning', title: 'Login failed' }), event(2, { level: 'Error' })]),
  );
  assert.equal(stderr, '');
  assert.equal(code, 0);
  const [request] = flowlog.requests;
  assert.equal(request?.path, '/api/v1/events');
  assert.equal(request?.headers.authorization, 'Bearer mst_viewer');
  const query = only(request);
  assert.deepEqual(
    { ...query, from: undefined },
    { namespace: '/acme', recursive: 'true', level: 'Warning,Error', category: 'authn', q: 'bob', limit: '100', from: undefined },
  );
  assert.ok(Math.abs(Number(query.from) - (before - 2 * 3_600_000)) < 5_000, 'since 2h');
  const lines = stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^TIME\s+LEVEL\s+CATEGORY\s+NAMESPACE\s+TITLE\s+CONTENT$/);
  assert.match(lines[1]!, /^2026-11-28T11:59:59Z\s+Warning\s+authn\s+\/acme\/app\s+Login failed\s+user1@example\.com/);
  assert.match(lines[2]!, /^2026-11-28T11:59:58Z\s+Error/);
});

test("without -n flowlog picks the token's namespace; -o json and -o yaml print the records", async () => {
  const json = await msctl(['logs', '-o', 'json'], () => events([event(1)]));
  assert.equal(json.code, 0);
  assert.deepEqual(only(flowlog.requests[0]!), { limit: '100' });
  assert.deepEqual(JSON.parse(json.stdout), [event(1)]);
  const yaml = await msctl(['logs', '-o', 'yaml'], () => events([event(1)]));
  assert.match(yaml.stdout, /^- id: e1\n/);
});

test('logs follows the cursor until --limit events', async () => {
  let page = 0;
  const { code, stdout } = await msctl(['logs', '--limit', '5', '-o', 'json'], () =>
    page++ === 0 ? events([event(1), event(2), event(3)], 'c1') : events([event(4), event(5)], 'c2'),
  );
  assert.equal(code, 0);
  assert.deepEqual(
    flowlog.requests.map((r) => [r.query.get('cursor'), r.query.get('limit')]),
    [
      [null, '5'],
      ['c1', '2'],
    ],
  );
  assert.deepEqual(
    (JSON.parse(stdout) as Array<{ id: string }>).map((e) => e.id),
    ['e1', 'e2', 'e3', 'e4', 'e5'],
  );
});

test('logs --follow prints the latest oldest first, then new events from the stream that pass the filters, once each', async () => {
  const sse = [
    'retry: 2000\nevent: ready\ndata: {"namespace":"/acme","recursive":true}\n\n',
    `event: flow\ndata: ${JSON.stringify(flow())}\n\n`,
    `event: event\ndata: ${JSON.stringify(event(1, { level: 'Warning' }))}\n\n`, // already printed
    `event: event\ndata: ${JSON.stringify(event(0, { id: 'new-info', level: 'Info' }))}\n\n`, // filtered out by --level
    ': keep-alive\n\n',
    `event: event\ndata: ${JSON.stringify(event(0, { id: 'new-warning', level: 'Warning', title: 'Login failed', content: 'state unknown' }))}\n\n`,
  ].join('');
  const { code, stdout, stderr } = await msctl(['logs', '-n', '/acme', '-r', '--level', 'Warning', '--follow'], (request) =>
    request.path === '/api/v1/stream' ? { status: 200, raw: sse } : events([event(1, { level: 'Warning' }), event(2, { level: 'Warning' })]),
  );
  assert.deepEqual(
    flowlog.requests.map((r) => [r.path, only(r)]),
    [
      ['/api/v1/events', { namespace: '/acme', recursive: 'true', level: 'Warning', limit: '100' }],
      ['/api/v1/stream', { namespace: '/acme', recursive: 'true' }],
    ],
  );
  assert.equal(flowlog.requests[1]?.headers.authorization, 'Bearer mst_viewer', 'the stream carries the token in a header, not the URL');
  const lines = stdout.trimEnd().split('\n');
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /user2@example\.com/);
  assert.match(lines[1]!, /user1@example\.com/);
  assert.match(lines[2]!, /Warning\s+authn\s+\/acme\/app\s+Login failed: state unknown/);
  assert.equal(code, 1, 'the stream ended');
  assert.match(stderr, /flowlog closed the stream[\s\S]*hint: run the command again/);
});

test('logs --follow says so when the token is revoked', async () => {
  const { code, stderr } = await msctl(['logs', '--follow'], (request) =>
    request.path === '/api/v1/stream' ? { status: 200, raw: 'event: expired\ndata: {}\n\n' } : events([]),
  );
  assert.equal(code, 1);
  assert.match(stderr, /the token was revoked or expired/);
});

test('flows prints one line per minute aggregate; --action is checked and normalised', async () => {
  const { code, stdout } = await msctl(['flows', '-n', '/acme/app', '--action', 'reject'], () => ({
    status: 200,
    body: {
      flows: [
        flow(),
        flow({
          action: 'Reject',
          byDefault: true,
          policyName: '',
          dropReason: 'policy',
          URI: 'tcp/9400 discovery',
          source: { type: 'ProcessingUnit', name: 'nginx', ip: '127.0.0.1' },
          destination: { type: 'ExternalNetwork', name: 'demo-idp', port: 9400 },
        }),
      ],
    },
  }));
  assert.equal(code, 0);
  assert.deepEqual(only(flowlog.requests[0]!), { namespace: '/acme/app', action: 'Reject', limit: '100' });
  const lines = stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^MINUTE\s+ACTION\s+SOURCE\s+DESTINATION\s+URI\s+POLICY\s+REASON\s+HITS$/);
  assert.match(lines[1]!, /^2026-11-28T12:00:00Z\s+Reject\s+bob@example\.com\s+nginx:3000\s+GET \/\s+private-app-api\s+api\s+3$/);
  assert.match(lines[2]!, /nginx\s+demo-idp:9400\s+tcp\/9400 discovery\s+\(namespace default\)\s+policy/);

  const bad = await msctl(['flows', '--action', 'maybe'], () => undefined);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--action maybe is not Accept or Reject/);
  assert.equal(flowlog.requests.length, 0);
});

test('usage errors: a bad duration or limit exits 2 before asking anything', async () => {
  for (const [argv, message] of [
    [['logs', '--since', 'yesterday'], /--since yesterday is not a duration[\s\S]*30s, 15m, 2h/],
    [['flows', '--limit', '0'], /--limit 0 is not a number from 1 to 1000/],
    [['logs', '--flowlog', 'localhost:7080'], /flowlog URL "localhost:7080" \(from --flowlog\) is not an http/],
  ] as Array<[string[], RegExp]>) {
    const { code, stderr } = await msctl(argv, () => undefined);
    assert.equal(code, 2, argv.join(' '));
    assert.match(stderr, message, argv.join(' '));
  }
  assert.equal(flowlog.requests.length, 0);
});

test('where flowlog is: --flowlog beats MSCTL_FLOWLOG beats the config file; unreachable names flowlog and how to point at it', async () => {
  const dir = await temporaryDirectory();
  const config = join(dir, 'msctl.yaml');
  await writeFile(config, `flowlog: ${await closedUrl()}\ntoken: from-file\n`);
  const fromFile = await runCli(['flows'], { env: { MSCTL_CONFIG: config } });
  assert.equal(fromFile.code, 1);
  assert.match(fromFile.stderr, /error: the flowlog service is not reachable at http:\/\/127\.0\.0\.1:\d+: connection refused/);
  assert.match(
    fromFile.stderr,
    new RegExp(
      `hint: is the flowlog service running\\? The URL came from ${config.replaceAll('/', '\\/')}; point msctl at it with --flowlog URL, MSCTL_FLOWLOG`,
    ),
  );

  handler = () => ({ status: 200, body: { flows: [] } });
  flowlog.requests.length = 0;
  const fromEnv = await runCli(['flows'], { env: { MSCTL_CONFIG: config, MSCTL_FLOWLOG: flowlog.url } });
  assert.equal(fromEnv.code, 0);
  assert.equal(flowlog.requests[0]?.headers.authorization, 'Bearer from-file');
  const fromFlag = await runCli(['flows', '--flowlog', flowlog.url], { env: { MSCTL_CONFIG: config, MSCTL_FLOWLOG: await closedUrl() } });
  assert.equal(fromFlag.code, 0);
});

test('401 and 403 from flowlog say what to do', async () => {
  const unauthorized = await msctl(['logs'], () => ({
    status: 401,
    body: { code: 'FLOWLOG_UNAUTHENTICATED', message: 'The token is unknown, revoked or malformed.' },
  }));
  assert.equal(unauthorized.code, 1);
  assert.match(unauthorized.stderr, /no or invalid token/);
  assert.match(unauthorized.stderr, /flowlog service said: The token is unknown/);
  const forbidden = await msctl(['flows', '-n', '/other'], () => ({
    status: 403,
    body: { code: 'FLOWLOG_FORBIDDEN', message: 'the token v may read /acme and below, not /other' },
  }));
  assert.equal(forbidden.code, 1);
  assert.match(forbidden.stderr, /not allowed to read flows in namespace \/other/);
  assert.match(forbidden.stderr, /flowlog service said: the token v may read \/acme and below/);
});

test('help lists logs and flows; each has its own help with examples', async () => {
  const top = await runCli(['--help']);
  assert.match(top.stdout, /logs\s+event logs from flowlog/);
  assert.match(top.stdout, /flows\s+flows aggregated per minute/);
  for (const command of ['logs', 'flows']) {
    const { code, stdout } = await runCli([command, '--help']);
    assert.equal(code, 0);
    assert.match(stdout, new RegExp(`Usage: msctl ${command} \\[OPTIONS\\]`));
    assert.match(stdout, /--flowlog URL/);
    assert.match(stdout, /Examples:\n {2}msctl/);
  }
});

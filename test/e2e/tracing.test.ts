// One trace per request (OpenTelemetry, OTLP/HTTP): the gateway's span, authn's
// session lookup and policy's decision share a trace id with parent links; the
// flowlog consumer's span refers to it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loginWithHttp, startCluster, waitFor, type Cluster } from '@microseg/testkit';

interface ReceivedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  links: Array<{ traceId: string; spanId: string }>;
  attributes: Record<string, unknown>;
}

const spans: ReceivedSpan[] = [];
let receiver: Server;
let cluster: Cluster;

function valueOf(v: Record<string, unknown>): unknown {
  return v.stringValue ?? v.intValue ?? v.boolValue ?? v.doubleValue;
}

before(async () => {
  // An OTLP/HTTP (JSON) receiver inside the test run.
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const doc = JSON.parse(body || '{}') as { resourceSpans?: any[] };
      for (const rs of doc.resourceSpans ?? []) {
        const service = valueOf(rs.resource.attributes.find((a: any) => a.key === 'service.name')?.value ?? {}) as string;
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({
              service,
              name: s.name,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId ?? '',
              links: (s.links ?? []).map((l: any) => ({ traceId: l.traceId, spanId: l.spanId })),
              attributes: Object.fromEntries((s.attributes ?? []).map((a: any) => [a.key, valueOf(a.value)])),
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const { port } = receiver.address() as { port: number };
  cluster = await startCluster({
    dataDir: await mkdtemp(join(tmpdir(), 'microseg-tracing-')),
    isolated: true,
    // No session caching in the gateway here, so that authn takes part in the traced request.
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      AUTHN_LOOKUP_CACHE_MS: '0',
    },
  });
});

after(async () => {
  await cluster?.stop();
  receiver?.close();
});

test('one request, one trace: gateway → authn → policy → upstream, and flowlog refers to it', async () => {
  const alice = await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice');
  // A fresh request whose trace we follow: the app echoes the traceparent it received.
  const res = await alice.browser.request(`${cluster.gatewayUrl}/_echo/traced`, { headers: { accept: 'application/json' } });
  const echo = (await res.json()) as { headers: Record<string, string> };
  const traceparent = echo.headers.traceparent;
  assert.match(traceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, 'the upstream received one traceparent');
  const traceId = traceparent!.split('-')[1]!;
  const requestId = res.headers.get('x-request-id');

  const inTrace = () => spans.filter((s) => s.traceId === traceId);
  await waitFor(
    'gateway, authn and policy spans',
    async () => {
      const services = new Set(inTrace().map((s) => s.service));
      return services.has('microseg-gateway') && services.has('microseg-authn') && services.has('microseg-policy');
    },
    15_000,
  );

  const trace = inTrace();
  const byId = new Map(trace.map((s) => [s.spanId, s]));
  const server = trace.find((s) => s.service === 'microseg-gateway' && !s.parentSpanId);
  assert.ok(server, 'the gateway span is the root of the trace');
  assert.equal(server.attributes['microseg.request_id'], requestId);
  assert.equal(server.attributes['microseg.decision'], 'accept');
  assert.equal(server.attributes['microseg.service'], 'private-app');

  const lookup = trace.find((s) => s.service === 'microseg-authn' && s.name.startsWith('svc.authn.v1.session.lookup'));
  const decide = trace.find((s) => s.service === 'microseg-policy' && s.name.startsWith('svc.policy.v1.decide'));
  assert.ok(lookup, 'authn looked the session up within the trace');
  assert.ok(decide, 'policy decided within the trace');
  for (const span of [lookup, decide]) {
    const parent = byId.get(span.parentSpanId);
    assert.ok(parent, `${span.name} has its parent in the trace`);
    assert.equal(parent.service, 'microseg-gateway', `${span.name} is a child of the gateway's request span`);
  }
  const upstream = trace.find((s) => s.service === 'microseg-gateway' && s.spanId === traceparent!.split('-')[2]);
  assert.ok(upstream, 'the upstream call is a span of the trace');

  // Stored later in its own trace, the flowlog span links to the request's.
  await waitFor(
    'the flowlog consumer span linked to the request',
    async () => spans.some((s) => s.service === 'microseg-flowlog' && s.traceId !== traceId && s.links.some((l) => l.traceId === traceId)),
    15_000,
  );

  // Nothing secret in any span.
  const cookie = alice.browser.cookie('__Host-microseg')!;
  const text = JSON.stringify(spans);
  assert.ok(!text.includes(cookie), 'no session cookie in a span');
  assert.ok(!text.includes(cluster.clientSecret), 'no client secret in a span');
});

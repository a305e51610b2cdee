// Small stand-ins for the tracing and dashboard images compose names, for machines that cannot pull
// them (deploy/compose/podman/images.sh builds one image per role on the locally built Node image):
//
//   collector  otel/opentelemetry-collector-contrib: OTLP/HTTP (JSON) on 4318, health on 13133; every
//              batch is answered at once and forwarded as is to the trace store (jaeger:4318).
//   jaeger     jaegertracing/jaeger: OTLP/HTTP (JSON) on 4318, and on 16686 the part of Jaeger's query
//              API a test needs: /api/services, /api/traces?service=NAME (the same JSON shape).
//   grafana    grafana/grafana: /api/health on 3000, and a page that says what it is.
//
// A stand-in keeps what it received in memory only (the last MAX_TRACES traces). It is no replacement
// for the real images: only what the compose check asks of them.
import http from 'node:http';

export interface Span {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  service: string;
}

interface AnyValue {
  stringValue?: string;
}
interface OtlpSpan {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  name?: string;
}
interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value?: AnyValue }[] };
    scopeSpans?: { spans?: OtlpSpan[] }[];
  }[];
}

export const MAX_TRACES = 2000;

/** OTLP/JSON ids are hex; a base64 id (the protobuf mapping's default in some encoders) becomes hex. */
export function hexId(id: string | undefined): string {
  if (!id) return '';
  if (/^[0-9a-f]+$/i.test(id) && (id.length === 32 || id.length === 16)) return id.toLowerCase();
  return Buffer.from(id, 'base64').toString('hex');
}

/** The spans of one OTLP/JSON export request, each with its resource's service.name. */
export function spansOf(request: OtlpExport): Span[] {
  const spans: Span[] = [];
  for (const resourceSpans of request.resourceSpans ?? []) {
    const service = resourceSpans.resource?.attributes?.find((a) => a.key === 'service.name')?.value?.stringValue ?? 'unknown_service';
    for (const scope of resourceSpans.scopeSpans ?? [])
      for (const span of scope.spans ?? [])
        spans.push({ traceId: hexId(span.traceId), spanId: hexId(span.spanId), parentSpanId: hexId(span.parentSpanId), name: span.name ?? '', service });
  }
  return spans;
}

/** Traces by id, oldest first, bounded. */
export class TraceStore {
  readonly traces = new Map<string, Span[]>();
  readonly max: number;

  constructor(max = MAX_TRACES) {
    this.max = max;
  }

  add(spans: readonly Span[]): void {
    for (const span of spans) {
      const trace = this.traces.get(span.traceId) ?? [];
      trace.push(span);
      this.traces.set(span.traceId, trace);
    }
    for (const id of this.traces.keys()) {
      if (this.traces.size <= this.max) break;
      this.traces.delete(id);
    }
  }

  services(): string[] {
    return [...new Set([...this.traces.values()].flat().map((s) => s.service))].sort();
  }

  /** Jaeger's /api/traces answer: the newest traces that have a span of `service`. */
  query(service: string, limit: number): { data: unknown[] } {
    const found = [...this.traces.entries()].filter(([, spans]) => spans.some((s) => s.service === service)).slice(-limit);
    return {
      data: found.reverse().map(([traceID, spans]) => {
        const processes = [...new Set(spans.map((s) => s.service))];
        return {
          traceID,
          spans: spans.map((s) => ({
            traceID,
            spanID: s.spanId,
            operationName: s.name,
            references: s.parentSpanId ? [{ refType: 'CHILD_OF', traceID, spanID: s.parentSpanId }] : [],
            processID: `p${processes.indexOf(s.service) + 1}`,
          })),
          processes: Object.fromEntries(processes.map((name, i) => [`p${i + 1}`, { serviceName: name }])),
        };
      }),
    };
  }
}

type Handler = (req: http.IncomingMessage, body: Buffer, url: URL) => { status: number; json: unknown } | Promise<{ status: number; json: unknown }>;

function log(msg: string, fields: object = {}): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), service: 'standin', msg, ...fields })}\n`);
}

function serve(port: number, handler: Handler): void {
  http
    .createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          let answer: { status: number; json: unknown };
          try {
            answer = await handler(req, Buffer.concat(chunks), new URL(req.url ?? '/', 'http://standin'));
          } catch (err) {
            answer = { status: 400, json: { error: (err as Error).message } };
          }
          res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.json));
        })();
      });
    })
    .listen(port, '0.0.0.0', () => log('listening', { port }));
}

/** The OTLP/HTTP receiver: JSON export requests on /v1/traces go to `accept`. */
function otlpReceiver(accept: (body: Buffer, spans: Span[]) => void): Handler {
  return (req, body, url) => {
    if (req.method !== 'POST' || url.pathname !== '/v1/traces') return { status: 404, json: { error: 'not found' } };
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json'))
      return { status: 415, json: { error: 'this stand-in reads OTLP/JSON only' } };
    accept(body, spansOf(JSON.parse(body.toString('utf8')) as OtlpExport));
    return { status: 200, json: {} };
  };
}

export function main(role: string, env: NodeJS.ProcessEnv): void {
  if (role === 'collector') {
    const target = env['STANDIN_FORWARD_TO'] ?? 'http://jaeger:4318/v1/traces';
    let received = 0;
    serve(
      4318,
      otlpReceiver((body, spans) => {
        received += spans.length;
        fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body.toString('utf8') }).then(
          (res) => res.ok || log('forward refused', { target, status: res.status }),
          (err: Error) => log('forward failed', { target, error: err.message }),
        );
      }),
    );
    serve(13133, () => ({ status: 200, json: { status: 'Server available', received } }));
  } else if (role === 'jaeger') {
    const store = new TraceStore();
    serve(
      4318,
      otlpReceiver((_body, spans) => store.add(spans)),
    );
    serve(16686, (_req, _body, url) => {
      if (url.pathname === '/api/services') return { status: 200, json: { data: store.services() } };
      if (url.pathname === '/api/traces')
        return { status: 200, json: store.query(url.searchParams.get('service') ?? '', Number(url.searchParams.get('limit') ?? 20)) };
      return { status: 200, json: { standin: 'jaeger', services: store.services(), traces: store.traces.size } };
    });
  } else if (role === 'grafana') {
    serve(3000, (_req, _body, url) =>
      url.pathname === '/api/health' ? { status: 200, json: { database: 'ok', version: 'stand-in' } } : { status: 200, json: { standin: 'grafana' } },
    );
  } else {
    throw new Error(`standin: unknown role "${role}" (collector | jaeger | grafana)`);
  }
}

if (import.meta.main) {
  // PID 1 of its container: without handlers the kernel ignores SIGTERM and `compose down` waits for its timeout.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
  main(process.env['STANDIN_ROLE'] ?? process.argv[2] ?? '', process.env);
}

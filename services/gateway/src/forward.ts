// Forwarding to the processing unit with undici: one keep-alive pool per
// upstream origin, bodies streamed both ways. An application that speaks
// HTTP/2 is reached through forward-h2.ts instead; one whose certificate is
// signed by the service's own CA through an agent that trusts that CA alone.
//
// The response is written from undici's dispatch callbacks straight into the
// client's response, with backpressure (pause while the client's socket is
// full) and no intermediate stream: `stream.pipeline` cost an AbortController,
// an AbortSignal and a DOMException per request, and about a tenth of the
// gateway's CPU under load (bench/results). What arrives with the response's
// head in one read of the application's socket (a small response: head, body
// and end) leaves in one write; anything later is written as it comes, so that
// streamed responses (server-sent events, long polls) are not held back.
import { Agent, errors as undiciErrors, type Dispatcher } from 'undici';
import { Http2Upstreams } from './forward-h2.ts';
import { clientGone, requestHasBody, type GatewayRequest, type GatewayResponse } from './http-exchange.ts';
import { downstreamResponseHeaders } from './pipeline/headers.ts';
import { context, metrics, propagation, SpanKind, SpanStatusCode, trace, type Span } from '@microseg/telemetry';

export type ForwardResult = { ok: true; status: number } | { ok: false; kind: 'unreachable' | 'timeout' };

/** How the application is spoken to, beyond its origin (the service's `applicationProtocol` and `applicationCA`). */
export interface UpstreamOptions {
  /** HTTP/2: h2c over http, h2 (ALPN) over https. */
  http2?: boolean;
  /** PEM certificates to trust for an https application instead of the system's CAs. */
  ca?: string;
}

const HTTP1: UpstreamOptions = {};
/** Agents for services with their own CA, at most this many (the oldest closed first). */
const MAX_CA_AGENTS = 64;

/** undici's controller of one dispatched request (the handler API of undici 7+). */
interface DispatchController {
  abort(reason: Error): void;
  pause(): void;
  resume(): void;
}

const tracer = trace.getTracer('microseg-gateway');

/** The status recorded when the client closed the connection before the application answered. */
export const CLIENT_CLOSED = 499;

export class Forwarder {
  readonly #agent: Agent;
  readonly #caAgents = new Map<string, Agent>();
  readonly #http2: Http2Upstreams;
  readonly #headersTimeoutMs: number;

  constructor(options: { headersTimeoutMs: number }) {
    this.#headersTimeoutMs = options.headersTimeoutMs;
    this.#agent = this.#newAgent();
    this.#http2 = new Http2Upstreams(options);
  }

  #newAgent(ca?: string): Agent {
    return new Agent({
      connections: 128,
      keepAliveTimeout: 10_000,
      headersTimeout: this.#headersTimeoutMs,
      bodyTimeout: this.#headersTimeoutMs,
      // HTTP/1.1 means HTTP/1.1, over TLS too (undici would take h2 when the application offers it by ALPN): an
      // application that speaks HTTP/2 says so (`applicationProtocol`) and is reached through forward-h2.ts.
      allowH2: false,
      // The application's certificate is always verified: against its service's CA when it has one.
      connect: ca ? { timeout: 5_000, ca } : { timeout: 5_000 },
    });
  }

  #agentFor(ca: string | undefined): Agent {
    if (!ca) return this.#agent;
    let agent = this.#caAgents.get(ca);
    if (!agent) {
      if (this.#caAgents.size >= MAX_CA_AGENTS) {
        const [oldest, old] = this.#caAgents.entries().next().value!;
        this.#caAgents.delete(oldest);
        void old.close();
      }
      agent = this.#newAgent(ca);
      this.#caAgents.set(ca, agent);
    }
    return agent;
  }

  forward(
    req: GatewayRequest,
    res: GatewayResponse,
    origin: string,
    path: string,
    headers: Record<string, string | string[]>,
    upstream: UpstreamOptions = HTTP1,
  ): Promise<ForwardResult> {
    const hasBody = requestHasBody(req);
    const started = performance.now();
    // The upstream call's span when the request is traced (sampled); the application gets the trace context
    // in any case, so that its logs meet ours.
    let span: Span | undefined;
    if (trace.getActiveSpan()?.isRecording()) {
      span = tracer.startSpan(req.method ?? 'HTTP', {
        kind: SpanKind.CLIENT,
        attributes: { 'http.request.method': req.method ?? '', 'server.address': origin, 'url.path': path.split('?', 1)[0]! },
      });
      propagation.inject(trace.setSpan(context.active(), span), headers);
    } else propagation.inject(context.active(), headers);
    if (upstream.http2) {
      return this.#http2.forward(req, res, origin, path, headers, upstream.ca).then((result) => {
        if (span) {
          if (result.ok) span.setAttribute('http.response.status_code', result.status);
          else span.setStatus({ code: SpanStatusCode.ERROR, message: result.kind });
          span.end();
        }
        return result;
      });
    }
    const agent = this.#agentFor(upstream.ca);
    return new Promise<ForwardResult>((resolve) => {
      let controller: DispatchController | undefined;
      /** 0 until the application's response head is accepted. */
      let status = 0;
      let settled = false;
      const settle = (result: ForwardResult) => {
        if (settled) return;
        settled = true;
        if (span) {
          if (result.ok) span.setAttribute('http.response.status_code', result.status);
          else span.setStatus({ code: SpanStatusCode.ERROR, message: result.kind });
          span.end();
        }
        res.off('close', onClientClose);
        resolve(result);
      };
      // The client went away before the end: stop reading from the application.
      const onClientClose = () => {
        if (!settled) controller?.abort(new Error('the client closed the connection'));
      };
      res.once('close', onClientClose);
      const resumeOnDrain = () => controller?.resume();
      agent.dispatch(
        { origin, path, method: req.method as Dispatcher.HttpMethod, headers, body: hasBody ? req : undefined },
        {
          onRequestStart(c: DispatchController) {
            controller = c;
            // The client left before the request was dispatched.
            if (clientGone(res)) c.abort(new Error('the client closed the connection'));
          },
          onResponseStart(c: DispatchController, statusCode: number, upstreamHeaders: Record<string, string | string[] | undefined>) {
            metrics.gatewayUpstreamDuration().observe((performance.now() - started) / 1000);
            try {
              res.writeHead(statusCode, downstreamResponseHeaders(upstreamHeaders));
              status = statusCode;
              res.cork();
              process.nextTick(uncork, res);
            } catch (err) {
              // A head Node refuses to send (an invalid header from the application): a 502, not half a response.
              c.abort(err as Error);
            }
          },
          onResponseData(c: DispatchController, chunk: Buffer) {
            if (!res.write(chunk)) {
              c.pause();
              res.once('drain', resumeOnDrain);
            }
          },
          onResponseEnd(_c: DispatchController, trailers: Record<string, string | string[] | undefined>) {
            for (const _name in trailers) {
              addTrailers(res, trailers);
              break;
            }
            res.end();
            settle({ ok: true, status });
          },
          onResponseError(_c: DispatchController, err: Error) {
            // The client left before the application answered: not the application's failure (499, as nginx says).
            if (status === 0 && clientGone(res)) {
              settle({ ok: true, status: CLIENT_CLOSED });
              return;
            }
            if (status === 0) {
              const kind = isTimeout(err) ? 'timeout' : 'unreachable';
              metrics.gatewayUpstreamErrors().inc({ kind });
              settle({ ok: false, kind });
              return;
            }
            // The upstream broke mid-body or the client went away: the head is sent, only the socket can say so.
            res.destroy();
            settle({ ok: true, status });
          },
        },
      );
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.#agent.close(), ...[...this.#caAgents.values()].map((a) => a.close()), this.#http2.close()]);
  }
}

function uncork(res: GatewayResponse): void {
  res.uncork();
}

/** The application's trailers, as far as the client's response can carry them (HTTP/2, or chunked HTTP/1.1). */
function addTrailers(res: GatewayResponse, trailers: Record<string, string | string[] | undefined>): void {
  try {
    res.addTrailers(downstreamResponseHeaders(trailers));
  } catch {
    // Trailers Node refuses to send are dropped, not the response.
  }
}

function isTimeout(err: unknown): boolean {
  return err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError;
}

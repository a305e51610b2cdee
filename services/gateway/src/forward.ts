// Forwarding to the processing unit with undici: one keep-alive pool per
// upstream origin, bodies streamed both ways.
//
// The response is written from undici's dispatch callbacks straight into the
// client's response, with backpressure (pause while the client's socket is
// full) and no intermediate stream: `stream.pipeline` cost an AbortController,
// an AbortSignal and a DOMException per request, and about a tenth of the
// gateway's CPU under load (bench/results). What arrives with the response's
// head in one read of the application's socket (a small response: head, body
// and end) leaves in one write; anything later is written as it comes, so that
// streamed responses (server-sent events, long polls) are not held back.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, errors as undiciErrors, type Dispatcher } from 'undici';
import { downstreamResponseHeaders } from './pipeline/headers.ts';
import { context, metrics, propagation, SpanKind, SpanStatusCode, trace, type Span } from '@microseg/telemetry';

export type ForwardResult = { ok: true; status: number } | { ok: false; kind: 'unreachable' | 'timeout' };

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

  constructor(options: { headersTimeoutMs: number }) {
    this.#agent = new Agent({
      connections: 128,
      keepAliveTimeout: 10_000,
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.headersTimeoutMs,
      connect: { timeout: 5_000 },
    });
  }

  forward(req: IncomingMessage, res: ServerResponse, origin: string, path: string, headers: Record<string, string | string[]>): Promise<ForwardResult> {
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
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
      this.#agent.dispatch(
        { origin, path, method: req.method as Dispatcher.HttpMethod, headers, body: hasBody ? req : undefined },
        {
          onRequestStart(c: DispatchController) {
            controller = c;
            // The client left before the request was dispatched.
            if (res.destroyed) c.abort(new Error('the client closed the connection'));
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
          onResponseEnd() {
            res.end();
            settle({ ok: true, status });
          },
          onResponseError(_c: DispatchController, err: Error) {
            // The client left before the application answered: not the application's failure (499, as nginx says).
            if (status === 0 && res.destroyed) {
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
    await this.#agent.close();
  }
}

function uncork(res: ServerResponse): void {
  res.uncork();
}

function isTimeout(err: unknown): boolean {
  return err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError;
}

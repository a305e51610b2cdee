// Forwarding to the processing unit with undici: one keep-alive pool per
// upstream origin, bodies streamed both ways.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Agent, errors as undiciErrors, type Dispatcher } from 'undici';
import { downstreamResponseHeaders } from './pipeline/headers.ts';
import { metrics } from '@microseg/telemetry';

export type ForwardResult = { ok: true; status: number } | { ok: false; kind: 'unreachable' | 'timeout' };

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

  async forward(req: IncomingMessage, res: ServerResponse, origin: string, path: string, headers: Record<string, string | string[]>): Promise<ForwardResult> {
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    let upstream: Dispatcher.ResponseData;
    const started = performance.now();
    try {
      upstream = await this.#agent.request({
        origin,
        path,
        method: req.method as Dispatcher.HttpMethod,
        headers,
        body: hasBody ? req : undefined,
      });
    } catch (err) {
      const kind = isTimeout(err) ? 'timeout' : 'unreachable';
      metrics.gatewayUpstreamErrors().inc({ kind });
      return { ok: false, kind };
    }
    metrics.gatewayUpstreamDuration().observe((performance.now() - started) / 1000);
    res.writeHead(upstream.statusCode, downstreamResponseHeaders(upstream.headers));
    try {
      await pipeline(upstream.body, res);
    } catch {
      // The client went away or the upstream broke mid-body; the socket is gone already.
      res.destroy();
    }
    return { ok: true, status: upstream.statusCode };
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}

function isTimeout(err: unknown): boolean {
  return err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError;
}

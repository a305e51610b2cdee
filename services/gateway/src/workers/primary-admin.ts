// The admin port of a gateway that runs workers, served by the primary: `/healthz` (the primary lives),
// `/readyz` (ready while at least one worker is: the shared ports hand connections only to workers that
// listen, so one ready worker serves), `/metrics` (the workers' metrics summed as one gateway's, and per worker).
// The workers are asked over IPC; one that does not answer in time counts as not ready and is left out of the sums.
import type { FastifyInstance } from 'fastify';
import { createHttpApp } from '@microseg/runtime';
import { clusterMetricsText, type Logger, type ProcessMetrics } from '@microseg/telemetry';
import type { Question } from './ipc.ts';
import type { SlotState } from './supervisor.ts';
import type { Readiness } from './worker.ts';

export interface WorkerStatus {
  slot: number;
  state: SlotState;
  restarts: number;
  /** Asks the live worker; undefined when there is none (waiting to be replaced, stopped). */
  ask: ((question: Question, timeoutMs: number) => Promise<unknown>) | undefined;
}

export interface WorkerReadiness extends Readiness {
  worker: number;
  state: SlotState;
}

/** Each worker's readiness, as it answers it (not ready when it does not, in time). */
export async function workersReadiness(workers: readonly WorkerStatus[], timeoutMs: number): Promise<WorkerReadiness[]> {
  return Promise.all(
    workers.map(async (w): Promise<WorkerReadiness> => {
      const base = { worker: w.slot, state: w.state };
      if (!w.ask) return { ...base, ready: false, checks: {} };
      try {
        const answer = (await w.ask('readiness', timeoutMs)) as Readiness;
        return { ...base, ready: answer.ready === true, checks: answer.checks ?? {} };
      } catch {
        return { ...base, ready: false, checks: { answered: false } };
      }
    }),
  );
}

export function buildPrimaryAdmin(logger: Logger, workers: () => readonly WorkerStatus[], options: { askTimeoutMs?: number } = {}): FastifyInstance {
  const timeoutMs = options.askTimeoutMs ?? 1_000;
  const app = createHttpApp(logger);
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const each = await workersReadiness(workers(), timeoutMs);
    const ready = each.some((w) => w.ready);
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not ready',
      checks: { workers: ready },
      workers: each,
    });
  });
  app.get('/metrics', async (_req, reply) => {
    const gathered = await Promise.all(
      workers().map(async (w) => ({
        worker: w.slot,
        up: w.state === 'running',
        restarts: w.restarts,
        metrics: w.ask ? ((await w.ask('metrics', timeoutMs).catch(() => undefined)) as ProcessMetrics | undefined) : undefined,
      })),
    );
    const { contentType, body } = await clusterMetricsText(gathered);
    return reply.header('content-type', contentType).send(body);
  });
  return app;
}

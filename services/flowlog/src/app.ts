import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { Bus } from '@microseg/bus';
import { createHttpApp, registerHealthRoutes } from '@microseg/runtime';
import { z } from '@microseg/config';
import type { Logger } from '@microseg/telemetry';
import type { FlowlogConfig } from './config.ts';
import { FlowlogStore } from './store.ts';
import { EventConsumer } from './consumer.ts';

export interface FlowlogApp {
  http: FastifyInstance;
  consumer: EventConsumer;
  close(graceMs: number): Promise<void>;
}

const query = z.object({
  namespace: z.string().optional(),
  recursive: z.enum(['true', 'false']).optional().transform((v) => v === 'true'),
  level: z.string().optional(),
  since: z.coerce.number().int().nonnegative().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export async function buildFlowlogApp(config: FlowlogConfig, logger: Logger): Promise<FlowlogApp> {
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 2 });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis error'));
  const bus = await Bus.connect({ url: config.NATS_URL, name: 'microseg-flowlog', logger });
  const store = new FlowlogStore(redis, config.FLOWLOG_RETENTION_HOURS);
  const consumer = new EventConsumer(bus, store, logger);
  await consumer.start();
  const trimmer = setInterval(() => void store.trim().catch(() => undefined), 60_000);
  trimmer.unref();

  const http = createHttpApp(logger);
  registerHealthRoutes(http, () => ({ nats: bus.isConnected, redis: redis.status === 'ready' }));
  http.get('/flows', async (req, reply) => {
    const q = query.safeParse(req.query);
    if (!q.success) return reply.code(400).send({ code: 'BAD_REQUEST', message: q.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
    return { flows: await store.flows({ namespace: q.data.namespace, recursive: q.data.recursive, sinceMs: q.data.since, limit: q.data.limit }) };
  });
  http.get('/events', async (req, reply) => {
    const q = query.safeParse(req.query);
    if (!q.success) return reply.code(400).send({ code: 'BAD_REQUEST', message: q.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
    return { events: await store.events({ namespace: q.data.namespace, recursive: q.data.recursive, level: q.data.level, sinceMs: q.data.since, limit: q.data.limit }) };
  });

  return {
    http,
    consumer,
    async close(graceMs) {
      clearInterval(trimmer);
      await http.close();
      await consumer.stop();
      await bus.close(graceMs);
      redis.disconnect();
    },
  };
}

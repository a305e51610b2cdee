// NATS and Redis for tests: the local cluster's servers (@microseg/local-cluster), plus containers.
// A plain server for an isolated test runs in Docker (testcontainers) when an engine answers; otherwise,
// and always for an explicit URL or a secure server (TLS, per-service identities), the local cluster's
// own choice: a server process of ours from the installed binaries.
import { startNats as localNats, startRedis as localRedis, type RunningServer, type ServerOptions } from '@microseg/local-cluster';

export async function startNats(options: ServerOptions): Promise<RunningServer> {
  if (wantsContainer(options) && (await dockerAnswers())) {
    const { GenericContainer, Wait } = await import('testcontainers');
    const container = await new GenericContainer('nats:2.10-alpine')
      .withCommand(['-js'])
      .withExposedPorts(4222)
      .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
      .start();
    return { url: `nats://${container.getHost()}:${container.getMappedPort(4222)}`, origin: 'container', stop: async () => void (await container.stop()) };
  }
  return localNats(options);
}

export async function startRedis(options: ServerOptions): Promise<RunningServer> {
  if (wantsContainer(options) && (await dockerAnswers())) {
    const { GenericContainer, Wait } = await import('testcontainers');
    const container = await new GenericContainer('redis:7-alpine')
      .withExposedPorts(6379)
      .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
      .start();
    return { url: `redis://${container.getHost()}:${container.getMappedPort(6379)}`, origin: 'container', stop: async () => void (await container.stop()) };
  }
  return localRedis(options);
}

/** Containers run plain servers only, for isolated tests; a given URL and a secure server never come from one. */
function wantsContainer(options: ServerOptions): boolean {
  return options.isolated && !options.url && !options.secure;
}

async function dockerAnswers(): Promise<boolean> {
  if (process.env.MICROSEG_TEST_NO_CONTAINERS === '1') return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

// The routing state of a gateway: immutable, rebuilt from each sync and
// swapped in whole, so a request never sees half of a change.
import type { ServiceRoute } from '@microseg/proto/policy';

export class RoutingState {
  readonly revision: bigint;
  readonly routes: readonly ServiceRoute[];
  readonly #byPortAndHost: Map<string, ServiceRoute>;

  constructor(routes: readonly ServiceRoute[], revision: bigint) {
    this.revision = revision;
    this.routes = routes;
    this.#byPortAndHost = new Map();
    for (const route of routes) for (const host of route.hosts) this.#byPortAndHost.set(`${route.exposedPort} ${host.toLowerCase()}`, route);
  }

  get ports(): Set<number> {
    return new Set(this.routes.map((r) => r.exposedPort));
  }

  /** Exact host match on the listener's port. */
  find(port: number, hostname: string): ServiceRoute | undefined {
    return this.#byPortAndHost.get(`${port} ${hostname.toLowerCase()}`);
  }

  routesOnPort(port: number): ServiceRoute[] {
    return this.routes.filter((r) => r.exposedPort === port);
  }
}

/** The host name of a Host header value (`example.com:8443` → `example.com`); undefined when malformed. */
export function hostnameOf(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(hostHeader);
  return match ? match[1]!.toLowerCase() : undefined;
}

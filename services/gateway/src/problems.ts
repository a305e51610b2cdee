// Services this gateway cannot serve — a port it cannot open, a certificate it
// cannot use. One such service never stops the others: each problem is said
// once as an Error event, and the current list goes to the policy service with
// every sync (it shows them as the service's status).
import type { EventInput, EventKind } from '@microseg/contracts';
import type { CertificateProblem } from './tls.ts';
import type { PortFailures } from './listeners.ts';
import type { RoutingState } from './state.ts';

export interface ServingProblem {
  serviceId: string;
  serviceName: string;
  namespace: string;
  kind: 'port' | 'certificate';
  port: number;
  /** For the operator: what is wrong and what to do. Never a secret. */
  message: string;
}

/** Why a port cannot be opened, said for the service's editor. */
function portReason(port: number, code: string): string {
  switch (code) {
    case 'RESERVED':
      return `exposedPort ${port} is the gateway's own admin port. Choose another exposedPort`;
    case 'EADDRINUSE':
      return `exposedPort ${port} is in use by another program on the gateway's host. Choose another exposedPort, or free the port`;
    case 'EACCES':
      return `the gateway may not listen on exposedPort ${port} (ports below 1024 need a privilege). Choose a port from 1024 up, or give the gateway that privilege`;
    default:
      return `exposedPort ${port} cannot be opened on the gateway's listen address (${code})`;
  }
}

/** The problems of one sync: every service on a port that could not be opened, every unusable certificate. */
export function servingProblems(state: RoutingState, ports: PortFailures, certificates: readonly CertificateProblem[]): ServingProblem[] {
  const problems: ServingProblem[] = [];
  for (const route of state.routes) {
    const code = ports.get(route.exposedPort);
    if (code === undefined) continue;
    problems.push({
      serviceId: route.id,
      serviceName: route.name,
      namespace: route.namespace,
      kind: 'port',
      port: route.exposedPort,
      message: `Service ${route.name} is not served: ${portReason(route.exposedPort, code)}.`,
    });
  }
  for (const { route, message } of certificates) {
    problems.push({
      serviceId: route.id,
      serviceName: route.name,
      namespace: route.namespace,
      kind: 'certificate',
      port: route.exposedPort,
      message: `Service ${route.name} is not served: ${message}. TLS connections for ${route.hosts.join(', ')} are refused until it is fixed.`,
    });
  }
  return problems;
}

const keyOf = (p: ServingProblem) => `${p.kind}\0${p.serviceId}\0${p.message}`;

/** The current problems; tells of each one when it appears and when it is gone. */
export class ProblemLog {
  #current = new Map<string, ServingProblem>();
  readonly #raised: (problem: ServingProblem) => void;
  readonly #resolved: (problem: ServingProblem) => void;

  constructor(handlers: { raised: (problem: ServingProblem) => void; resolved: (problem: ServingProblem) => void }) {
    this.#raised = handlers.raised;
    this.#resolved = handlers.resolved;
  }

  /** Take the problems found by a sync; true when the list differs from the last one. */
  replace(problems: readonly ServingProblem[]): boolean {
    const next = new Map(problems.map((p) => [keyOf(p), p]));
    let changed = false;
    for (const [key, problem] of next) {
      if (this.#current.has(key)) continue;
      changed = true;
      this.#raised(problem);
    }
    for (const [key, problem] of this.#current) {
      if (next.has(key)) continue;
      changed = true;
      this.#resolved(problem);
    }
    this.#current = next;
    return changed;
  }

  get list(): ServingProblem[] {
    return [...this.#current.values()];
  }
}

/** The event that says a problem appeared (Error) or is gone while its service still exists (Info): its kind and text. */
export function problemEvent(problem: ServingProblem, state: 'raised' | 'resolved', gatewayId: string): { kind: EventKind; input: EventInput } {
  const raised = state === 'raised';
  return {
    kind: raised ? (problem.kind === 'port' ? 'serviceNotServedPortCannotOpen' : 'serviceNotServedCertificateUnusable') : 'serviceServedAgain',
    input: {
      content: raised ? `${problem.message} (gateway ${gatewayId})` : `Service ${problem.serviceName} is served again by gateway ${gatewayId}.`,
      targetIdentity: 'service',
      targetId: problem.serviceId,
      namespace: problem.namespace,
    },
  };
}

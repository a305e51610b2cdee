// svc.policy.v1.decide: one request's decision for a gateway, from this replica's snapshot. The incoming
// network policy first (the client address against external networks), then the endpoint, public, login
// and scopes (decide.ts). The answer carries the revision it was made from: a gateway keeps no decision
// older than a change it has been told of.
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Bus } from '@microseg/bus';
import { requests } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import { Decision, type DecideRequest, type DecideResponseSchema } from '@microseg/proto/policy';
import { metrics } from '@microseg/telemetry';
import { decide } from '../decide.ts';
import { checkIncoming } from '../network/flows.ts';
import type { Snapshot } from '../snapshot.ts';

export interface DecideDeps {
  store: { readonly snapshot: Snapshot };
}

export function answerDecide(snapshot: Snapshot, req: DecideRequest): MessageInitShape<typeof DecideResponseSchema> {
  const service = snapshot.services.get(req.serviceId);
  if (!service) throw new MicrosegError('POLICY_SERVICE_UNKNOWN');
  const revision = BigInt(snapshot.revision);
  if (req.clientIp) {
    const incoming = checkIncoming(snapshot, service, req.clientIp);
    if (incoming.action === 'Reject') {
      return {
        decision: Decision.DENY,
        reason: 'network-policy',
        policyId: incoming.policy?.ID ?? '',
        policyName: incoming.policy?.name ?? '',
        namespace: service.namespace,
        endpoint: incoming.reason,
        byDefault: incoming.byDefault,
        revision,
      };
    }
  }
  const verdict = decide(snapshot, service, { method: req.method, path: req.path, authenticated: req.authenticated, tags: req.tags });
  metrics.policyDecisions().inc({ decision: Decision[verdict.decision] ?? String(verdict.decision), reason: verdict.reason });
  return { ...verdict, revision };
}

export function serveDecide(bus: Pick<Bus, 'serve'>, deps: DecideDeps): void {
  // The snapshot of the moment each request arrives: a change swaps in a new one.
  bus.serve(requests.policyDecide, (req) => answerDecide(deps.store.snapshot, req));
}

// The gateway's client of policy: decisions (the pipeline) and the routes (the sync). Every failure is
// Unavailable: without policy's answer there is no decision and no new routes (unavailable.ts).
import type { MessageInitShape } from '@bufbuild/protobuf';
import { requests } from '@microseg/contracts';
import type { DecideRequestSchema, DecideResponse, GatewaySyncRequestSchema, GatewaySyncResponse } from '@microseg/proto/policy';
import type { BusRequester } from './authn.ts';
import { cannotTell } from './unavailable.ts';

export type DecideQuestion = MessageInitShape<typeof DecideRequestSchema>;

export interface PolicyClient {
  /**
   * policy's decision for a request. Any failure is Unavailable; `answered` tells policy away (the last good
   * decision may stand) from policy answering with an error, e.g. for a service it was just told to remove.
   */
  decide(question: DecideQuestion): Promise<DecideResponse>;
  /** This gateway's routes, for what it says it has and cannot serve; any failure is Unavailable (the caller retries). */
  sync(request: MessageInitShape<typeof GatewaySyncRequestSchema>): Promise<GatewaySyncResponse>;
}

const cannotTellPolicy = (err: unknown): never => {
  throw cannotTell('policy', err);
};

/** `timeoutMs` bounds a decision; a sync, which carries every route, gets three times as long. */
export function busPolicyClient(bus: BusRequester, timeoutMs: number): PolicyClient {
  return {
    decide: (question) => bus.request(requests.policyDecide, question, timeoutMs).catch(cannotTellPolicy),
    sync: (request) => bus.request(requests.policyGatewaySync, request, timeoutMs * 3).catch(cannotTellPolicy),
  };
}

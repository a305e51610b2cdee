// What every stage of the pipeline works with: the services it may use (PipelineDeps), the one object that
// travels with a request through the stages (RequestContext), and the shape of a stage.
import type { DecideResponse, ServiceRoute } from '@microseg/proto/policy';
import type { Logger } from '@microseg/telemetry';
import type { ClientAddresses } from '../client-address.ts';
import type { Assertions } from '../assertion/index.ts';
import type { AuthnClient } from '../clients/authn.ts';
import type { PolicyClient } from '../clients/policy.ts';
import type { DecisionCache } from '../decision-cache.ts';
import type { DropReason, FlowRecorder } from '../flows.ts';
import type { Forwarder } from '../forward.ts';
import type { GatewayRequest, GatewayResponse } from '../http-exchange.ts';
import type { SessionCache } from '../session-cache.ts';
import type { RoutingState } from '../state.ts';

export interface PipelineDeps {
  /** The routes of the last sync (swapped whole: read once per request). */
  state: () => Pick<RoutingState, 'find'>;
  authn: AuthnClient;
  policy: PolicyClient;
  flows: Pick<FlowRecorder, 'record'>;
  forwarder: Pick<Forwarder, 'forward'>;
  decisions: DecisionCache;
  sessions: Pick<SessionCache, 'get' | 'invalidateCredential'>;
  /** The identity assertions (SPEC §8.4) and their published keys. */
  assertions: Pick<Assertions, 'for' | 'keys'>;
  logger: Logger;
  /** The client's address from the peer and, from trusted proxies only, X-Forwarded-For. */
  addresses: Pick<ClientAddresses, 'forRequest'>;
}

export interface Session {
  subject: string;
  tags: string[];
  /** The user's access token, for a service that passes it on (passAccessToken); never logged. */
  accessToken?: string;
}

/** One per request, made by the runner with every field present (one shape for every request). */
export interface RequestContext {
  /** HTTP/1.x or HTTP/2 (http-exchange.ts). */
  readonly req: GatewayRequest;
  readonly res: GatewayResponse;
  /** The listener's port. */
  readonly port: number;
  readonly requestId: string;
  /** The client's address: the TCP peer, or what trusted proxies say it is (SPEC §4: never a client's own word). */
  readonly clientIp: string;
  /** X-Forwarded-For for the application: from the client to our peer, the hops we could check. */
  readonly forwardedFor: string;
  /** Found by the route stage. */
  route: ServiceRoute | undefined;
  /** The authority asked for, as sent: the Host header, or HTTP/2's `:authority` (one, checked by the framing stage). */
  host: string | undefined;
  /** Normalised by the target stage; until then what is safe to log. */
  path: string;
  query: string;
  session: Session | undefined;
  /** authn did not answer: only a public endpoint may still be served. */
  sessionUnknown: boolean;
  verdict: DecideResponse | undefined;
  /** What the request's span and access log say: set with the flow record. */
  outcome: { accepted: boolean; dropReason: DropReason; policyId: string } | undefined;
}

/** A stage answers the request (true) or passes it to the next one (false). */
export type Stage = (deps: PipelineDeps, ctx: RequestContext) => Promise<boolean> | boolean;

// Who may do what on the bus and in Redis: the least privilege of each service,
// derived from the names in this package. The credentials package turns it into
// a nats-server `authorization` block and a Redis ACL file; the bus tests check
// each line against a real server.
import { buckets, queues, streams, subjects } from './names.ts';

export type ServiceIdentity = 'gateway' | 'authn' | 'policy' | 'flowlog';
export const serviceIdentities: readonly ServiceIdentity[] = ['gateway', 'authn', 'policy', 'flowlog'];

/**
 * Each service's replies arrive under its own inbox prefix, and it may subscribe to that prefix only:
 * no service can read the answers another service receives (client secrets, session tags).
 */
export const inboxPrefix = (who: ServiceIdentity | 'admin'): string => `_INBOX.${who}`;

export interface BusPermissions {
  /** Subjects the service may publish to (requests, broadcasts, events, JetStream API calls). */
  publish: readonly string[];
  /** Subjects it may subscribe to. */
  subscribe: readonly string[];
  /** It answers requests: it may publish once to the reply subject of a request it received. */
  allowResponses: boolean;
}

/** The JetStream API calls that create, inspect and read a stream (a KV bucket is stream `KV_<bucket>`). */
function streamOwner(stream: string): string[] {
  return [
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.STREAM.CREATE.${stream}`,
    `$JS.API.STREAM.UPDATE.${stream}`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    // Watchers are ephemeral ordered consumers on the stream.
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.>`,
    `$JS.API.CONSUMER.DELETE.${stream}.>`,
  ];
}

/** A KV bucket its owner reads, writes and watches. */
function bucketOwner(bucket: string): string[] {
  return [...streamOwner(`KV_${bucket}`), `$KV.${bucket}.>`];
}

/** The durable consumer a service reads a stream through, and the acknowledgements it sends. */
function durableReader(stream: string, consumer: string): string[] {
  return [
    `$JS.API.CONSUMER.INFO.${stream}.${consumer}`,
    `$JS.API.CONSUMER.CREATE.${stream}.${consumer}`,
    `$JS.API.CONSUMER.CREATE.${stream}.${consumer}.>`,
    `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.${consumer}`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`,
    `$JS.ACK.${stream}.${consumer}.>`,
  ];
}

const eventStream = streams.events.name;

export const busPermissions: Readonly<Record<ServiceIdentity, BusPermissions>> = Object.freeze({
  // The front door asks; it serves nothing, writes no bucket and cannot end a session.
  gateway: {
    publish: [
      subjects.authnLoginStart,
      subjects.authnLoginCallback,
      subjects.authnSessionLookup,
      subjects.authnLogout,
      subjects.authnBackchannelLogout,
      subjects.authnBearerVerify,
      subjects.policyDecide,
      subjects.policyGatewaySync,
      subjects.gatewayDecision,
      subjects.logEvent('gateway'),
    ],
    subscribe: [`${inboxPrefix('gateway')}.>`, subjects.sessionInvalidated, subjects.policyChanged],
    allowResponses: false,
  },
  authn: {
    publish: [subjects.policyOidcClient, subjects.policyFlowCheck, subjects.sessionInvalidated, subjects.logEvent('authn')],
    subscribe: [`${inboxPrefix('authn')}.>`, 'svc.authn.>', subjects.policyChanged],
    allowResponses: true,
  },
  // The control plane: the only writer of objects and tokens, the owner of the event stream.
  policy: {
    publish: [
      subjects.authnSessionList,
      subjects.authnSessionRevoke,
      subjects.policyChanged,
      subjects.logEvent('policy'),
      // Flows of the enforcer's own calls to identity providers (authn → IdP), decided by policy.
      subjects.gatewayDecision,
      '$JS.API.INFO',
      ...streamOwner(eventStream),
      ...bucketOwner(buckets.objects),
      ...bucketOwner(buckets.apiTokens),
      ...bucketOwner(buckets.assertionKeys),
    ],
    subscribe: [`${inboxPrefix('policy')}.>`, 'svc.policy.>', subjects.gatewayDecision],
    allowResponses: true,
  },
  // Reads the event stream through its durable consumer; answers nothing on the bus.
  flowlog: {
    publish: [
      subjects.policyTokenVerify,
      subjects.policyInventory,
      // The console's single sign-on: the assertions' public keys, and the roles a user's tags give.
      subjects.policyAssertionKeys,
      subjects.policyConsoleRoles,
      subjects.logEvent('flowlog'),
      '$JS.API.INFO',
      ...streamOwner(eventStream).slice(0, 3),
      ...durableReader(eventStream, streams.events.flowlogConsumer),
    ],
    subscribe: [`${inboxPrefix('flowlog')}.>`, subjects.allEvents],
    allowResponses: false,
  },
});

/** Queue groups each service serves in; a queue subscription needs the subject's permission too. */
export const servedQueues: Readonly<Record<ServiceIdentity, readonly string[]>> = Object.freeze({
  gateway: [],
  authn: [queues.authn],
  policy: [queues.policy, queues.policyDenials],
  flowlog: [],
});

/**
 * Redis: each service that uses it is an ACL user limited to its own key prefix (see `redisKeys`).
 * Commands: data commands, scripts and transactions; nothing that administers the server.
 */
export const redisUsers = Object.freeze({
  authn: { keyPattern: 'microseg:authn:*' },
  flowlog: { keyPattern: 'microseg:flowlog:*' },
});
export type RedisUser = keyof typeof redisUsers;

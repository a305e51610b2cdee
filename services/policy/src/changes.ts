// Gateways and authn replicas keep what they were told (routes, decisions, OIDC settings) until policy says
// objects changed (bcast.policy.v1.changed, with the new revision). The API says so itself before it answers,
// so that a client's next request meets its change; every replica also says so when its watch sees a change
// that matters to routing, made anywhere (debounced: a burst of writes is one message).
import type { Bus } from '@microseg/bus';
import { subjects } from '@microseg/contracts';
import { PolicyChangedSchema } from '@microseg/proto/policy';
import type { ObjectStore } from './store.ts';

/** Broadcast `revision` and wait until the server has it. */
export function changeAnnouncer(bus: Pick<Bus, 'broadcast' | 'nc'>): (revision: number) => Promise<void> {
  return async (revision) => {
    bus.broadcast(subjects.policyChanged, PolicyChangedSchema, { revision: BigInt(revision) });
    await bus.nc.flush();
  };
}

/** Broadcast routing changes the store's watch sees, `debounceMs` after the last of a burst. Returns a stop. */
export function broadcastRoutingChanges(store: Pick<ObjectStore, 'onChange'>, bus: Pick<Bus, 'broadcast'>, debounceMs = 50): () => void {
  let pending: NodeJS.Timeout | undefined;
  let stopped = false;
  store.onChange((snapshot, routingChanged) => {
    if (!routingChanged || stopped) return;
    clearTimeout(pending);
    pending = setTimeout(() => bus.broadcast(subjects.policyChanged, PolicyChangedSchema, { revision: BigInt(snapshot.revision) }), debounceMs);
  });
  return () => {
    stopped = true;
    clearTimeout(pending);
  };
}

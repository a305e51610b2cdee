import type { Adapter, AdapterPayload } from 'oidc-provider';

type StoredEntry = { payload: AdapterPayload; expiresAt: number };

const GRANT_BOUND_MODELS = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

const SWEEP_EVERY_UPSERTS = 200;

export type MemoryStore = {
  /** The `adapter` for oidc-provider's configuration. */
  adapterFactory: (modelName: string) => Adapter;
  /** The live (unexpired) payloads of one model, e.g. every `Session`, keyed by id. */
  payloadsOf(modelName: string): Map<string, AdapterPayload>;
};

/**
 * A small in-memory store for one provider instance (state is lost on restart, which is what a demo
 * IdP wants). Unlike oidc-provider's built-in development adapter it is private to the instance and
 * prints no start-up warning.
 */
export function createMemoryAdapterFactory(): (modelName: string) => Adapter {
  return createMemoryStore().adapterFactory;
}

/** Like createMemoryAdapterFactory, and lets the demo's admin endpoints enumerate what is stored. */
export function createMemoryStore(): MemoryStore {
  const entries = new Map<string, StoredEntry>();
  const keysByGrantId = new Map<string, Set<string>>();
  const sessionKeyByUid = new Map<string, string>();
  const keyByUserCode = new Map<string, string>();

  let upsertsSinceSweep = 0;

  function sweepExpired(): void {
    const now = Date.now();
    for (const [key, entry] of entries) if (entry.expiresAt <= now) entries.delete(key);
    for (const [uid, key] of sessionKeyByUid) if (!entries.has(key)) sessionKeyByUid.delete(uid);
    for (const [userCode, key] of keyByUserCode) if (!entries.has(key)) keyByUserCode.delete(userCode);
    for (const [grantId, keys] of keysByGrantId) {
      for (const key of keys) if (!entries.has(key)) keys.delete(key);
      if (keys.size === 0) keysByGrantId.delete(grantId);
    }
  }

  function liveEntry(key: string): StoredEntry | undefined {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  }

  function payloadsOf(modelName: string): Map<string, AdapterPayload> {
    const prefix = `${modelName}:`;
    const found = new Map<string, AdapterPayload>();
    for (const key of [...entries.keys()]) {
      if (!key.startsWith(prefix)) continue;
      const entry = liveEntry(key);
      if (entry) found.set(key.slice(prefix.length), entry.payload);
    }
    return found;
  }

  const adapterFactory = (modelName: string): Adapter => {
    const keyFor = (id: string) => `${modelName}:${id}`;

    return {
      async upsert(id, payload, expiresIn) {
        if (++upsertsSinceSweep >= SWEEP_EVERY_UPSERTS) {
          upsertsSinceSweep = 0;
          sweepExpired();
        }
        const key = keyFor(id);
        const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
        entries.set(key, { payload, expiresAt });
        if (modelName === 'Session' && payload.uid) sessionKeyByUid.set(payload.uid, key);
        if (payload.userCode) keyByUserCode.set(payload.userCode, key);
        if (GRANT_BOUND_MODELS.has(modelName) && payload.grantId) {
          const keys = keysByGrantId.get(payload.grantId) ?? new Set<string>();
          keys.add(key);
          keysByGrantId.set(payload.grantId, keys);
        }
      },
      async find(id) {
        return liveEntry(keyFor(id))?.payload;
      },
      async findByUid(uid) {
        const key = sessionKeyByUid.get(uid);
        return key ? liveEntry(key)?.payload : undefined;
      },
      async findByUserCode(userCode) {
        const key = keyByUserCode.get(userCode);
        return key ? liveEntry(key)?.payload : undefined;
      },
      async consume(id) {
        const entry = liveEntry(keyFor(id));
        if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        const key = keyFor(id);
        const payload = entries.get(key)?.payload;
        entries.delete(key);
        if (payload?.uid && sessionKeyByUid.get(payload.uid) === key) sessionKeyByUid.delete(payload.uid);
        if (payload?.userCode && keyByUserCode.get(payload.userCode) === key) keyByUserCode.delete(payload.userCode);
        if (payload?.grantId) keysByGrantId.get(payload.grantId)?.delete(key);
      },
      async revokeByGrantId(grantId) {
        for (const key of keysByGrantId.get(grantId) ?? []) entries.delete(key);
        keysByGrantId.delete(grantId);
      },
    };
  };

  return { adapterFactory, payloadsOf };
}

// The object API as tests call it: the admin token, one namespace, JSON in and out.
import type { Cluster } from '@microseg/local-cluster';

export type PolicyApi = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>;

/** `cluster` is read at each call, so a suite may make the client before its `before` hook starts the cluster. */
export function policyApi(cluster: () => Pick<Cluster, 'policyUrl' | 'adminToken'>, namespace: string): PolicyApi {
  return async (method, path, body) => {
    const { policyUrl, adminToken } = cluster();
    const res = await fetch(`${policyUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, 'x-namespace': namespace, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    // An empty answer (204) is `undefined`; anything else must be JSON, or the test fails here.
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
}

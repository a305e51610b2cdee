// A policy service on a private nats-server for API tests: requests through app.http.inject() (no
// sockets), tokens made by the bootstrap admin.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@microseg/telemetry';
import { startNats, type RunningServer } from '@microseg/testkit';
import { buildPolicyApp, type PolicyApp } from '../app.ts';
import { policyConfigSchema } from '../config.ts';
import { newToken } from '../api/tokens.ts';

export interface Reply {
  status: number;
  body: any;
  text: string;
  etag?: string;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface PolicyHarness {
  app: PolicyApp;
  nats: RunningServer;
  dir: string;
  admin: string;
  call(method: Method, url: string, options?: { token?: string; ns?: string; body?: unknown; headers?: Record<string, string> }): Promise<Reply>;
  /** An API token made by the bootstrap admin. */
  token(name: string, role: 'viewer' | 'editor' | 'admin', namespace: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startPolicyHarness(env: Record<string, string> = {}): Promise<PolicyHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'microseg-policy-harness-'));
  const nats = await startNats({ isolated: true, dataDir: dir, defaultPort: 0 });
  const admin = newToken().token;
  // Many requests fail on purpose from 127.0.0.1: no 429 here (test/attacks/admin-api.test.ts has those).
  const config = policyConfigSchema.parse({
    NATS_URL: nats.url,
    MICROSEG_DATA_DIR: dir,
    POLICY_ADMIN_TOKEN: admin,
    LOG_LEVEL: 'silent',
    POLICY_AUTH_FAILURE_BURST: '10000',
    ...env,
  });
  const app = await buildPolicyApp(config, createLogger('policy', 'silent'));
  const call: PolicyHarness['call'] = async (method, url, options = {}) => {
    const headers: Record<string, string> = { authorization: `Bearer ${options.token ?? admin}`, ...options.headers };
    if (options.ns !== undefined) headers['x-namespace'] = options.ns;
    const res = await app.http.inject({ method, url, headers, ...(options.body === undefined ? {} : { payload: options.body as object }) });
    let body: unknown;
    try {
      body = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      assert.fail(`${method} ${url} answered ${res.statusCode} with a body that is not JSON: ${res.body.slice(0, 200)}`);
    }
    return { status: res.statusCode, body, text: res.body, etag: res.headers.etag };
  };
  return {
    app,
    nats,
    dir,
    admin,
    call,
    async token(name, role, namespace) {
      const res = await call('POST', '/apitokens', { ns: namespace, body: { name, role, namespace } });
      assert.equal(res.status, 201, res.text);
      return res.body.token as string;
    },
    async stop() {
      await app.close(1_000);
      await nats.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

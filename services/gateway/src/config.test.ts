// The gateway's configuration: its defaults, the bounds that fail closed, and every problem named at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { parseConfig } from '@microseg/config';
import { gatewayConfigSchema } from './config.ts';

const required = { GATEWAY_PROCESSING_UNITS: 'deploy/demo/gateway.yaml' };

test('defaults: 1 s per question to authn or policy, 30 s of grace, 60 s of decision reuse, flows gathered per second', () => {
  const config = parseConfig(gatewayConfigSchema, required);
  assert.equal(config.BUS_TIMEOUT_MS, 1_000);
  assert.equal(config.GATEWAY_DECISION_GRACE_MS, 30_000);
  assert.equal(config.GATEWAY_DECISION_CACHE_MS, 60_000);
  assert.equal(config.GATEWAY_FLOW_WINDOW_MS, 1_000);
  assert.equal(config.GATEWAY_ADMIN_HOST, '127.0.0.1');
  assert.ok(Object.isFrozen(config));
});

test('a grace period and a decision cache of 0 are allowed (fail closed at once, ask every time)', () => {
  const config = parseConfig(gatewayConfigSchema, { ...required, GATEWAY_DECISION_GRACE_MS: '0', GATEWAY_DECISION_CACHE_MS: '0' });
  assert.deepEqual([config.GATEWAY_DECISION_GRACE_MS, config.GATEWAY_DECISION_CACHE_MS], [0, 0]);
});

test('every problem is named at once: no processing units file, a negative grace, a grace past 10 minutes', () => {
  assert.throws(
    () => parseConfig(gatewayConfigSchema, { GATEWAY_DECISION_GRACE_MS: '-1', GATEWAY_DECISION_CACHE_MS: '600001' }),
    (err: Error) =>
      /GATEWAY_PROCESSING_UNITS/.test(err.message) && /GATEWAY_DECISION_GRACE_MS/.test(err.message) && /GATEWAY_DECISION_CACHE_MS/.test(err.message),
  );
});

test('forward-auth is off by default; on, it needs the trusted ingresses, and they must be CIDRs or addresses', () => {
  const off = parseConfig(gatewayConfigSchema, required);
  assert.deepEqual([off.GATEWAY_FORWARD_AUTH_PORT, off.GATEWAY_FORWARD_AUTH_HOST, off.GATEWAY_FORWARD_AUTH_TRUSTED_PROXIES], [0, '127.0.0.1', []]);
  const on = parseConfig(gatewayConfigSchema, {
    ...required,
    GATEWAY_FORWARD_AUTH_PORT: '7443',
    GATEWAY_FORWARD_AUTH_TRUSTED_PROXIES: '10.0.0.0/24, 127.0.0.1',
  });
  assert.deepEqual(on.GATEWAY_FORWARD_AUTH_TRUSTED_PROXIES, ['10.0.0.0/24', '127.0.0.1']);
  assert.throws(
    () => parseConfig(gatewayConfigSchema, { ...required, GATEWAY_FORWARD_AUTH_PORT: '7443' }),
    /GATEWAY_FORWARD_AUTH_TRUSTED_PROXIES: is required/,
  );
  assert.throws(
    () => parseConfig(gatewayConfigSchema, { ...required, GATEWAY_FORWARD_AUTH_PORT: '7443', GATEWAY_FORWARD_AUTH_TRUSTED_PROXIES: 'ingress.internal' }),
    /GATEWAY_FORWARD_AUTH_TRUSTED_PROXIES: "ingress.internal" is not a CIDR/,
  );
  assert.throws(
    () => parseConfig(gatewayConfigSchema, { ...required, GATEWAY_FORWARD_AUTH_PORT: '7090', GATEWAY_FORWARD_AUTH_TRUSTED_PROXIES: '127.0.0.1' }),
    /GATEWAY_FORWARD_AUTH_PORT: must differ from GATEWAY_ADMIN_PORT/,
  );
  assert.throws(() => parseConfig(gatewayConfigSchema, { ...required, GATEWAY_FORWARD_AUTH_PORT: '70000' }), /GATEWAY_FORWARD_AUTH_PORT/);
});

test('workers: auto (the default) is the parallelism Node has, bounded; a number is taken as it is; anything else is refused', () => {
  assert.equal(parseConfig(gatewayConfigSchema, required).GATEWAY_WORKERS, Math.min(availableParallelism(), 64));
  assert.equal(parseConfig(gatewayConfigSchema, { ...required, GATEWAY_WORKERS: 'auto' }).GATEWAY_WORKERS, Math.min(availableParallelism(), 64));
  assert.equal(parseConfig(gatewayConfigSchema, { ...required, GATEWAY_WORKERS: '1' }).GATEWAY_WORKERS, 1);
  assert.equal(parseConfig(gatewayConfigSchema, { ...required, GATEWAY_WORKERS: ' 8 ' }).GATEWAY_WORKERS, 8);
  for (const bad of ['0', '65', '-1', '2.5', 'all', '1e3'])
    assert.throws(() => parseConfig(gatewayConfigSchema, { ...required, GATEWAY_WORKERS: bad }), /GATEWAY_WORKERS/, bad);
});

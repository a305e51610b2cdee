// Unit: flowlog's settings for the console behind the gateway — the audience its assertions carry (a service's
// `<namespace>/<name>`, or empty for tokens only) and the live stream's heartbeat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flowlogConfigSchema } from './config.ts';

const parse = (env: Record<string, string>) => flowlogConfigSchema.safeParse(env);

test('the console audience: /microseg-console by default, any service of any namespace, or empty (tokens only)', () => {
  assert.equal(parse({}).data?.FLOWLOG_CONSOLE_AUDIENCE, '/microseg-console');
  for (const audience of ['/ops/console', '/acme/team-b/console', ''])
    assert.equal(parse({ FLOWLOG_CONSOLE_AUDIENCE: audience }).data?.FLOWLOG_CONSOLE_AUDIENCE, audience);
  for (const bad of ['/', 'microseg-console', '/a/../b', '/a b', 'https://console.example.com'])
    assert.equal(parse({ FLOWLOG_CONSOLE_AUDIENCE: bad }).success, false, bad);
});

test('the heartbeat: 15 s by default, within 200 ms and a minute', () => {
  assert.equal(parse({}).data?.FLOWLOG_STREAM_HEARTBEAT_MS, 15_000);
  assert.equal(parse({ FLOWLOG_STREAM_HEARTBEAT_MS: '500' }).data?.FLOWLOG_STREAM_HEARTBEAT_MS, 500);
  for (const bad of ['0', '100', '60001', 'soon']) assert.equal(parse({ FLOWLOG_STREAM_HEARTBEAT_MS: bad }).success, false, bad);
});

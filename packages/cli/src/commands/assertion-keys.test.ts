// msctl assertion-keys list|rotate against a fake policy API: what is asked, what is printed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { startFakeApi, type FakeApi, type Handler } from '../testing/fake-api.ts';
import { runCli } from '../testing/run-cli.ts';

let handler: Handler = () => undefined;
let api: FakeApi;
before(async () => {
  api = await startFakeApi((request) => handler(request));
});
after(() => api.close());

function msctl(argv: string[], respond: Handler) {
  api.requests.length = 0;
  handler = respond;
  return runCli(argv, { env: { MSCTL_API: api.url, MSCTL_TOKEN: 'mst_test' } });
}

const ring = (extra: Record<string, unknown> = {}) => ({
  status: 200,
  body: {
    issuer: 'microseg',
    ttlSeconds: 60,
    prepublishSeconds: 3600,
    rotationDays: 30,
    keys: [
      {
        kid: 'old-kid',
        state: 'signing',
        createdAt: '2026-11-01T00:00:00.000Z',
        activatesAt: '2026-11-01T00:00:00.000Z',
        publishedUntil: '2026-12-01T01:02:00.000Z',
      },
      { kid: 'new-kid', state: 'next', createdAt: '2026-12-01T00:00:00.000Z', activatesAt: '2026-12-01T01:00:00.000Z', publishedUntil: null },
    ],
    ...extra,
  },
});

test('assertion-keys list: GET /assertionkeys; one row per key, then the settings', async () => {
  const { code, stdout } = await msctl(['assertion-keys', 'list'], () => ring());
  assert.equal(code, 0);
  assert.equal(api.requests[0]?.method, 'GET');
  assert.equal(api.requests[0]?.path, '/assertionkeys');
  const lines = stdout.split('\n');
  assert.match(lines[0]!, /^KID\s+STATE\s+SIGNS FROM\s+PUBLISHED UNTIL$/);
  assert.match(lines[1]!, /^old-kid\s+signing\s+2026-11-01T00:00:00.000Z\s+2026-12-01T01:02:00.000Z$/);
  assert.match(lines[2]!, /^new-kid\s+next\s+2026-12-01T01:00:00.000Z\s+-$/);
  assert.match(stdout, /issuer microseg, assertions valid 60 s, a new key published 3600 s before it signs, rotated every 30 days/);
  const yaml = await msctl(['assertion-keys', 'list', '-o', 'yaml'], () => ring());
  assert.equal((parse(yaml.stdout) as { keys: unknown[] }).keys.length, 2);
});

test('assertion-keys rotate: POST /assertionkeys/rotate; --immediately asks for it; a rotation under way is said so', async () => {
  const started = await msctl(['assertion-keys', 'rotate'], () => ring({ rotated: true }));
  assert.equal(started.code, 0);
  assert.equal(api.requests[0]?.method, 'POST');
  assert.equal(api.requests[0]?.path, '/assertionkeys/rotate');
  assert.deepEqual(api.requests[0].body, { immediate: false });
  assert.match(started.stdout, /key new-kid is published and signs from 2026-12-01T01:00:00.000Z/);

  const waiting = await msctl(['assertion-keys', 'rotate'], () => ring({ rotated: false }));
  assert.match(waiting.stdout, /a rotation is already under way: key new-kid/);

  await msctl(['assertion-keys', 'rotate', '--immediately'], () => ring({ rotated: true }));
  assert.deepEqual(api.requests[0].body, { immediate: true });
});

test('assertion-keys rotate: the API refusing (not an admin of /) is an error with its message, exit non-zero', async () => {
  const { code, stderr } = await msctl(['assertion-keys', 'rotate'], () => ({
    status: 403,
    body: { code: 'FORBIDDEN', message: 'the assertion keys sign for every service: rotating them needs an admin token of /' },
  }));
  assert.notEqual(code, 0);
  assert.match(stderr, /admin token of \//);
});

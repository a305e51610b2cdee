// Unit (fakes, app.inject()): the API as one scope beside the health probes — its hooks cover every API route
// and nothing else; an unknown route needs a token like the rest (401, then 404); every route plugin is
// mounted at its path; the failure audit reads the JSON error before a YAML client gets it as YAML.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { parse as parseYaml } from 'yaml';
import { requests } from '@microseg/contracts';
import { registerErrorHandling } from '@microseg/runtime';
import { SecretBox } from '../secrets.ts';
import { fakeTokens, MemoryObjectStore, principals } from '../testing/api-fakes.ts';
import { FakeBus } from '../testing/fake-bus.ts';
import { AuthFailureLimiter } from './auth-failures.ts';
import { policyApi } from './index.ts';

async function setup() {
  const bus = new FakeBus();
  bus.answer(requests.authnSessionList, () => ({ sessions: [] }));
  const http = Fastify();
  registerErrorHandling(http);
  http.get('/healthz', async () => ({ status: 'ok' }));
  await http.register(policyApi, {
    store: new MemoryObjectStore(),
    tokens: {
      ...fakeTokens(principals),
      list: () => [],
      get: () => undefined,
      create: async () => assert.fail('no tokens made here'),
      revoke: async () => undefined,
    },
    secrets: new SecretBox([Buffer.alloc(32, 1)]),
    bus,
    announce: async () => undefined,
    assertionKeys: {
      list: () => [],
      rotate: async () => ({ changed: false, ring: undefined }),
      settings: { issuer: 'microseg', ttlSeconds: 60, prepublishSeconds: 0, rotationDays: 0 },
    },
    authFailures: new AuthFailureLimiter({ burst: 1_000, perMinute: 1_000 }),
  });
  return { http, bus };
}

const inject = (
  http: Awaited<ReturnType<typeof setup>>['http'],
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  headers: Record<string, string> = {},
) => http.inject({ method, url, headers });

test('every route of the API is mounted at its path, behind authentication', async () => {
  const { http } = await setup();
  const routes: Array<['GET' | 'POST', string]> = [
    ['GET', '/services'],
    ['GET', '/services/x'],
    ['GET', '/apitokens'],
    ['GET', '/export'],
    ['POST', '/import'],
    ['GET', '/sessions'],
    ['GET', '/secrets'],
    ['POST', '/secrets/reseal'],
  ];
  for (const [method, url] of routes) {
    assert.equal((await inject(http, method, url)).statusCode, 401, `${method} ${url} without a token`);
    assert.notEqual((await inject(http, method, url, { authorization: 'Bearer rootAdmin' })).statusCode, 401, `${method} ${url} with one`);
  }
});

test('an unknown route: 401 without a token, 404 JSON with one; the health probe outside the API needs none', async () => {
  const { http } = await setup();
  for (const [method, url] of [
    ['GET', '/a/b/c'],
    ['PUT', '/services'],
    ['DELETE', '/apitokens'],
    ['GET', '/'],
  ] as const) {
    assert.equal((await inject(http, method, url)).statusCode, 401, `${method} ${url}`);
    const known = await inject(http, method, url, { authorization: 'Bearer rootAdmin' });
    assert.equal(known.statusCode, 404, `${method} ${url}`);
    assert.equal(known.json().code, 'NOT_FOUND');
  }
  assert.equal(
    (await inject(http, 'GET', '/a/b/c?x=1', { authorization: 'Bearer rootAdmin' })).json().message,
    'no route GET /a/b/c',
    'no query string in the answer',
  );
  assert.equal((await inject(http, 'GET', '/healthz')).statusCode, 200);
});

test('a refusal asked for as YAML is answered in YAML and audited from its JSON', async () => {
  const { http, bus } = await setup();
  const res = await inject(http, 'GET', '/services', { authorization: 'Bearer acmeViewer', 'x-namespace': '/other', accept: 'application/yaml' });
  assert.equal(res.statusCode, 403);
  assert.match(String(res.headers['content-type']), /^application\/yaml/);
  assert.equal(parseYaml(res.body).code, 'FORBIDDEN');
  assert.deepEqual(
    bus.events.map((e) => [e.kind, /403 FORBIDDEN: the token acme-viewer is limited to \/acme/.test(e.input.content)]),
    [['apiAccessDenied', true]],
  );
});

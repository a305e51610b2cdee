// Unit (fakes, app.inject()): every refused API request is one Warning event naming the route (its
// pattern), who and the code — our message only for 403 and 422, never a credential; 429 reported at the
// first refusal and then once a minute with the count; successes and 404 not at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { MicrosegError } from '@microseg/errors';
import { registerErrorHandling } from '@microseg/runtime';
import { FakeBus } from '../../testing/fake-bus.ts';
import { describeRoute, failureAudit, redactCredentials, type UnknownRouteConfig } from './failure-audit.ts';

async function app(refused: () => number | undefined = () => 1) {
  const bus = new FakeBus();
  const http = Fastify();
  registerErrorHandling(http);
  await http.register(async (api) => {
    await api.register(failureAudit, { bus, authFailures: { refused } });
    api.addHook('onRequest', async (req) => {
      if (req.headers.authorization === 'Bearer good') req.principal = { tokenID: 'tok-1', name: 'ops', role: 'editor', namespace: '/acme' };
      req.namespace = '/acme/dev';
    });
    api.get('/:plural/:id', async (req) => {
      const status = Number((req.query as { status?: string }).status ?? 200);
      if (status === 403) throw new MicrosegError('FORBIDDEN', 'not with mst_0123456789abcdef_secretsecretsecret');
      if (status === 422)
        throw new MicrosegError('POLICY_VALIDATION_FAILED', 'port must be a TCP port', { errors: [{ attribute: 'port', message: 'must be a TCP port' }] });
      if (status === 401) throw new MicrosegError('UNAUTHENTICATED', 'the token Bearer abc.def is wrong');
      if (status === 429) throw new MicrosegError('RATE_LIMITED', 'slow down', { retryAfterSeconds: 5 });
      if (status === 404) throw new MicrosegError('NOT_FOUND');
      return { ok: true };
    });
    const config: UnknownRouteConfig = { unknownRoute: true };
    api.all('/*', { config }, async () => {
      throw new MicrosegError('UNAUTHENTICATED');
    });
  });
  return { http, bus };
}

test('401, 403 and 422 are audited with the route pattern (a known kind filled in), the caller and the code; 403 and 422 with our message, redacted; never the query', async () => {
  const { http, bus } = await app();
  await http.inject({ url: '/widgets/web?status=401&token=mst_leak' });
  await http.inject({ url: '/services/web?status=403', headers: { authorization: 'Bearer good' } });
  await http.inject({ url: '/Services/web?status=422', headers: { authorization: 'Bearer good' } });
  assert.deepEqual(
    bus.events.map((e) => [e.kind, e.input.content, e.input.targetIdentity, e.input.targetId, e.input.namespace]),
    [
      ['apiAuthenticationFailed', 'GET /:plural/:id by a client without a valid token from 127.0.0.1: 401 UNAUTHENTICATED.', 'api', '', '/acme/dev'],
      ['apiAccessDenied', 'GET /services/:id by token ops from 127.0.0.1: 403 FORBIDDEN: not with mst_[redacted].', 'apitoken', 'tok-1', '/acme/dev'],
      [
        'apiChangeRefused',
        'GET /services/:id by token ops from 127.0.0.1: 422 POLICY_VALIDATION_FAILED: port must be a TCP port.',
        'apitoken',
        'tok-1',
        '/acme/dev',
      ],
    ],
  );
});

test('successes and 404 are not audited; an unknown route is described as one', async () => {
  const { http, bus } = await app();
  await http.inject({ url: '/services/web' });
  await http.inject({ url: '/services/web?status=404' });
  assert.equal(bus.events.length, 0);
  await http.inject({ method: 'DELETE', url: '/a/b/c' });
  assert.equal(bus.events[0]?.input.content, 'DELETE (an unknown route) by a client without a valid token from 127.0.0.1: 401 UNAUTHENTICATED.');
});

test('429: reported when the limiter says a report is due, with the count of refusals since the last', async () => {
  const due = [1, undefined, undefined, 3];
  const { http, bus } = await app(() => due.shift());
  for (let i = 0; i < 4; i++) await http.inject({ url: '/services/web?status=429' });
  assert.deepEqual(
    bus.events.map((e) => e.input.content.replace(/^.*429 RATE_LIMITED/, '')),
    [' (1 request refused since the last report).', ' (3 requests refused since the last report).'],
  );
  assert.ok(bus.events.every((e) => e.kind === 'apiClientRateLimited'));
});

test('credentials are redacted from anything quoted', () => {
  assert.equal(redactCredentials('a mst_0123456789abcdef_xyz b'), 'a mst_[redacted] b');
  assert.equal(redactCredentials('Bearer abc.def.ghi'), 'Bearer [redacted]');
  assert.equal(redactCredentials('eyJhbGciOi.eyJzdWIiOi.sig'), '[redacted JWT]');
  assert.equal(describeRoute({ method: 'GET', routeOptions: {} } as never), 'GET (an unknown route)');
});

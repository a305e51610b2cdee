// Unit (fakes, app.inject()): the session routes ask authn over the bus — listing and revoking for editors and
// admins within their subtree; authn away or failing is 503, its refusals pass as they are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BusRequestError } from '@microseg/bus';
import { requests } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import { call, pluginApp } from '../../testing/api-fakes.ts';
import { FakeBus } from '../../testing/fake-bus.ts';
import { sessionRoutes } from './sessions.ts';

const session = {
  id: 'sess-1',
  serviceId: 'svc',
  namespace: '/acme/dev',
  user: 'alice@example.com',
  subject: 'alice',
  issuer: 'https://idp',
  createdAtMs: 0n,
  expiresAtMs: 3_600_000n,
  refreshable: true,
};

/** A bus whose authn answers with `answer` (or throws what it throws); the requests made are kept. */
function fakeBus(answer: () => Record<string, unknown>) {
  const bus = new FakeBus();
  bus.answer(requests.authnSessionList, answer);
  bus.answer(requests.authnSessionRevoke, answer);
  return { bus, asked: bus.requests };
}

test('list: what authn answers, as the API shows sessions; the request namespace and the query passed on', async () => {
  const { bus, asked } = fakeBus(() => ({ sessions: [session] }));
  const app = await pluginApp(sessionRoutes, { bus });
  const res = await call(app, 'GET', '/sessions?user=alice@example.com&recursive=true', { as: 'acmeEditor' });
  assert.deepEqual(res.body, [
    {
      ID: 'sess-1',
      serviceID: 'svc',
      namespace: '/acme/dev',
      user: 'alice@example.com',
      subject: 'alice',
      issuer: 'https://idp',
      createTime: '1970-01-01T00:00:00.000Z',
      expireTime: '1970-01-01T01:00:00.000Z',
      refreshable: true,
    },
  ]);
  assert.deepEqual(asked, [{ subject: requests.authnSessionList.subject, message: { namespace: '/acme', recursive: true, user: 'alice@example.com' } }]);
});

test('revoke: one session (anywhere in the subtree) or a user; naming neither is 400; by whom is passed on', async () => {
  const { bus, asked } = fakeBus(() => ({ revoked: [session] }));
  const app = await pluginApp(sessionRoutes, { bus });
  assert.equal((await call(app, 'DELETE', '/sessions/sess-1', { as: 'acmeEditor' })).body.ID, 'sess-1');
  assert.equal((await call(app, 'DELETE', '/sessions?user=alice@example.com', { as: 'acmeAdmin' })).body.length, 1);
  const neither = await call(app, 'DELETE', '/sessions', { as: 'acmeEditor' });
  assert.deepEqual([neither.status, neither.body.code], [400, 'BAD_REQUEST']);
  assert.deepEqual(
    asked.map((a) => a.message),
    [
      { namespace: '/acme', recursive: true, sessionId: 'sess-1', user: '', revokedBy: 'acme-editor' },
      { namespace: '/acme', recursive: false, sessionId: '', user: 'alice@example.com', revokedBy: 'acme-admin' },
    ],
  );
});

test('viewers, and anyone outside the subtree, may neither list nor revoke: 403 before authn is asked', async () => {
  const { bus, asked } = fakeBus(() => ({ sessions: [] }));
  const app = await pluginApp(sessionRoutes, { bus });
  const viewer = await call(app, 'GET', '/sessions', { as: 'acmeViewer' });
  assert.deepEqual([viewer.status, viewer.body.message], [403, 'the token acme-viewer has the role viewer, which cannot list sessions']);
  assert.match((await call(app, 'DELETE', '/sessions?user=x', { as: 'acmeViewer' })).body.message, /which cannot revoke sessions$/);
  assert.equal((await call(app, 'GET', '/sessions', { as: 'acmeEditor', ns: '/other' })).status, 403);
  assert.equal(asked.length, 0);
});

test('authn away or failing: 503; its refusals (an unknown session) as they are', async () => {
  const cases: Array<[Error, number, string]> = [
    [new BusRequestError('timeout', requests.authnSessionRevoke.subject), 503, 'UNAVAILABLE'],
    [new BusRequestError('no-responders', requests.authnSessionRevoke.subject), 503, 'UNAVAILABLE'],
    [new MicrosegError('INTERNAL'), 503, 'UNAVAILABLE'],
    [new MicrosegError('NOT_FOUND', 'no session sess-9 in /acme'), 404, 'NOT_FOUND'],
  ];
  for (const [error, status, code] of cases) {
    const { bus } = fakeBus(() => {
      throw error;
    });
    const app = await pluginApp(sessionRoutes, { bus });
    const res = await call(app, 'DELETE', '/sessions/sess-9', { as: 'acmeEditor' });
    assert.deepEqual([res.status, res.body.code], [status, code], error.message);
  }
});

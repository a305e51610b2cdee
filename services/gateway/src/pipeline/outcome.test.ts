// How a request ends: the flow record carries the context's route, verdict and user; refusals answer and
// record at once; the one 503 of every stage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Decision } from '@microseg/proto/policy';
import { badRequest, recordFlow, refuse, unavailable } from './outcome.ts';
import { CLIENT_IP, contextFor, FakeResponse, fakeDeps, fakeRequest, PORT, verdict } from './testing/fakes.ts';

test('recordFlow: one flow from the context, and the outcome the span and access log show', () => {
  const deps = fakeDeps();
  const ctx = contextFor(fakeRequest({ method: 'POST' }), new FakeResponse(), {
    path: '/a',
    verdict: verdict(Decision.ALLOW, { policyId: 'p-9', policyName: 'n', byDefault: true }),
  });
  recordFlow(deps, ctx, true, '', 201, 'alice@example.com');
  assert.deepEqual(ctx.outcome, { accepted: true, dropReason: '', policyId: 'p-9' });
  assert.deepEqual(deps.flows.recorded, [
    {
      route: ctx.route,
      clientIp: CLIENT_IP,
      method: 'POST',
      path: '/a',
      accepted: true,
      dropReason: '',
      policyId: 'p-9',
      policyName: 'n',
      user: 'alice@example.com',
      statusCode: 201,
      requestId: 'req-1',
      port: PORT,
      byDefault: true,
    },
  ]);
});

test('recordFlow: before any decision, no policy and not by default', () => {
  const deps = fakeDeps();
  const ctx = contextFor(fakeRequest(), new FakeResponse());
  recordFlow(deps, ctx, false, 'invalid', 400, undefined);
  assert.deepEqual(ctx.outcome, { accepted: false, dropReason: 'invalid', policyId: '' });
  const [flow] = deps.flows.recorded;
  assert.equal(flow?.policyId, undefined);
  assert.equal(flow?.byDefault, false);
});

test('refuse: the error is sent (JSON for an API client, a page for a browser) and the rejected flow names the session user and the status sent', () => {
  for (const accept of ['application/json', 'text/html']) {
    const deps = fakeDeps();
    const res = new FakeResponse();
    const ctx = contextFor(fakeRequest({ headers: { accept } }), res, { session: { subject: 'bob@example.com', tags: [] } });
    assert.equal(refuse(deps, ctx, { code: 'GATEWAY_FORBIDDEN', details: ['why'] }, 'api'), true);
    assert.equal(res.statusCode, 403);
    assert.match(String(res.headers['content-type']), accept === 'text/html' ? /^text\/html/ : /^application\/json/);
    assert.deepEqual(
      deps.flows.recorded.map((f) => [f.accepted, f.dropReason, f.statusCode, f.user]),
      [[false, 'api', 403, 'bob@example.com']],
    );
  }
});

test('unavailable: 503 GATEWAY_DECISION_UNAVAILABLE with Retry-After, flow "unavailable"; badRequest: 400 with its message', () => {
  const deps = fakeDeps();
  const res = new FakeResponse();
  unavailable(deps, contextFor(fakeRequest({ headers: { accept: 'application/json' } }), res));
  assert.equal(res.statusCode, 503);
  assert.equal(res.headers['retry-after'], '1');
  assert.deepEqual(res.json(), { code: 'GATEWAY_DECISION_UNAVAILABLE', message: 'Authorization is temporarily unavailable; please retry.' });
  const bad = new FakeResponse();
  badRequest(deps, contextFor(fakeRequest({ headers: { accept: 'application/json' } }), bad), 'Nope.');
  assert.deepEqual([bad.statusCode, bad.json().message], [400, 'Nope.']);
  assert.deepEqual(
    deps.flows.recorded.map((f) => f.dropReason),
    ['unavailable', 'invalid'],
  );
});

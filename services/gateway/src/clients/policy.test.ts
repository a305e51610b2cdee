// The policy client on a fake bus: a decision or a sync that fails is Unavailable whatever failed; `answered`
// tells policy away from policy answering with an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BusRequestError } from '@microseg/bus';
import { requests, type RequestContract } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import type { BusRequester } from './authn.ts';
import { busPolicyClient, type PolicyClient } from './policy.ts';
import { Unavailable } from './unavailable.ts';

function fakeBus(outcome: { reply: object } | { error: unknown }) {
  const asked: Array<{ subject: string; message: unknown; timeoutMs: number }> = [];
  const bus = {
    request: async (contract: RequestContract, message: unknown, timeoutMs: number) => {
      asked.push({ subject: contract.subject, message, timeoutMs });
      if ('error' in outcome) throw outcome.error;
      return outcome.reply;
    },
  } as unknown as BusRequester;
  return { bus, asked };
}

const question = { serviceId: 'svc-1', method: 'GET', path: '/', authenticated: false, tags: [], clientIp: '203.0.113.7' };
const methods: Array<{ name: string; call: (c: PolicyClient) => Promise<unknown>; subject: string; timeoutMs: number }> = [
  { name: 'decide', call: (c) => c.decide(question), subject: requests.policyDecide.subject, timeoutMs: 1_000 },
  { name: 'sync', call: (c) => c.sync({ gatewayId: 'gw-1' }), subject: requests.policyGatewaySync.subject, timeoutMs: 3_000 },
];

for (const { name, call, subject, timeoutMs } of methods) {
  test(`policy.${name}: asks on ${subject} within ${timeoutMs} ms and gives the reply`, async () => {
    const { bus, asked } = fakeBus({ reply: { decision: 1 } });
    assert.deepEqual(await call(busPolicyClient(bus, 1_000)), { decision: 1 });
    assert.deepEqual(
      asked.map((a) => [a.subject, a.timeoutMs]),
      [[subject, timeoutMs]],
    );
  });

  const failures: Array<{ what: string; error: Error; answered: boolean }> = [
    { what: 'no answer in time', error: new BusRequestError('timeout', subject), answered: false },
    { what: 'nobody serving', error: new BusRequestError('no-responders', subject), answered: false },
    { what: 'a garbled reply', error: new BusRequestError('bad-reply', subject), answered: false },
    { what: 'a service policy does not know (404)', error: new MicrosegError('POLICY_SERVICE_UNKNOWN'), answered: true },
    { what: 'policy failed itself (500)', error: new MicrosegError('INTERNAL'), answered: true },
  ];
  for (const { what, error, answered } of failures) {
    test(`policy.${name}: ${what} → Unavailable (answered: ${answered})`, async () => {
      const err = await call(busPolicyClient(fakeBus({ error }).bus, 1_000)).then(
        () => assert.fail('resolved'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof Unavailable, String(err));
      assert.equal(err.service, 'policy');
      assert.equal(err.answered, answered);
      assert.equal(err.cause, error);
    });
  }

  test(`policy.${name}: a bug is not hidden as Unavailable`, async () => {
    const bug = new RangeError('bad');
    assert.equal(
      await call(busPolicyClient(fakeBus({ error: bug }).bus, 1_000)).then(
        () => undefined,
        (e: unknown) => e,
      ),
      bug,
    );
  });
}

// The authn client on a fake bus: each method asks on its own subject within its own bound, and every way a
// request can fail becomes either Unavailable or authn's refusal, by the rules of unavailable.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BusRequestError } from '@microseg/bus';
import { requests, type RequestContract } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import { busAuthnClient, type AuthnClient, type BusRequester } from './authn.ts';
import { Unavailable } from './unavailable.ts';

const TIMEOUT = 1_000;

/** A bus that answers every request with `outcome` (a reply, or an error to throw), and keeps what it was asked. */
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

type Call = (client: AuthnClient) => Promise<unknown>;

const methods: Array<{ name: string; call: Call; subject: string; timeoutMs: number; cannotTell: boolean }> = [
  {
    name: 'lookupSession',
    call: (c) => c.lookupSession('svc-1', 'ticket'),
    subject: requests.authnSessionLookup.subject,
    timeoutMs: TIMEOUT,
    cannotTell: true,
  },
  { name: 'verifyBearer', call: (c) => c.verifyBearer('svc-1', 'a.b.c'), subject: requests.authnBearerVerify.subject, timeoutMs: TIMEOUT, cannotTell: true },
  {
    name: 'startLogin',
    call: (c) => c.startLogin({ serviceId: 'svc-1', returnTo: '/' }),
    subject: requests.authnLoginStart.subject,
    timeoutMs: TIMEOUT * 20,
    cannotTell: false,
  },
  {
    name: 'completeLogin',
    call: (c) => c.completeLogin({ serviceId: 'svc-1', query: 'code=x' }),
    subject: requests.authnLoginCallback.subject,
    timeoutMs: TIMEOUT * 20,
    cannotTell: false,
  },
  {
    name: 'logout',
    call: (c) => c.logout({ serviceId: 'svc-1', ticket: 't' }),
    subject: requests.authnLogout.subject,
    timeoutMs: TIMEOUT * 5,
    cannotTell: false,
  },
  {
    name: 'backchannelLogout',
    call: (c) => c.backchannelLogout('svc-1', 'token'),
    subject: requests.authnBackchannelLogout.subject,
    timeoutMs: TIMEOUT * 5,
    cannotTell: false,
  },
];

for (const { name, call, subject, timeoutMs } of methods) {
  test(`authn.${name}: asks on ${subject} within ${timeoutMs} ms and gives the reply`, async () => {
    const { bus, asked } = fakeBus({ reply: { found: true, valid: true } });
    const answer = await call(busAuthnClient(bus, TIMEOUT));
    assert.deepEqual(
      asked.map((a) => [a.subject, a.timeoutMs]),
      [[subject, timeoutMs]],
    );
    if (name === 'backchannelLogout') assert.equal(answer, undefined);
    else assert.deepEqual(answer, { found: true, valid: true });
  });
}

const busFailures = (['timeout', 'no-responders', 'disconnected', 'bad-reply'] as const).map((kind) => ({
  what: `bus: ${kind}`,
  error: new BusRequestError(kind, 'svc.authn.v1.x'),
}));

for (const { name, call, cannotTell } of methods) {
  for (const { what, error } of busFailures) {
    test(`authn.${name}: ${what} → Unavailable (not answered), the cause kept`, async () => {
      const err = await call(busAuthnClient(fakeBus({ error }).bus, TIMEOUT)).then(
        () => assert.fail('resolved'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof Unavailable, String(err));
      assert.equal(err.service, 'authn');
      assert.equal(err.answered, false);
      assert.equal(err.cause, error);
    });
  }

  const answers: Array<{ what: string; error: MicrosegError; refusal: boolean }> = [
    { what: 'a refusal (AUTHN_STATE_INVALID, 400)', error: new MicrosegError('AUTHN_STATE_INVALID'), refusal: !cannotTell },
    { what: 'a rate limit (429)', error: new MicrosegError('AUTHN_LOGIN_RATE_LIMITED', 'slow down', { retryAfterSeconds: 30 }), refusal: !cannotTell },
    { what: 'authn failed itself (INTERNAL, 500: Redis away)', error: new MicrosegError('INTERNAL', 'redis: connection refused'), refusal: false },
    { what: 'UNAVAILABLE (503)', error: new MicrosegError('UNAVAILABLE'), refusal: false },
    {
      what: 'the IdP failed (AUTHN_DISCOVERY_FAILED, 502): a named cause',
      error: new MicrosegError('AUTHN_DISCOVERY_FAILED', 'Discovery at … failed'),
      refusal: !cannotTell,
    },
    {
      what: 'the secret cannot be read (POLICY_SECRET_UNREADABLE, 503): a named cause',
      error: new MicrosegError('POLICY_SECRET_UNREADABLE'),
      refusal: !cannotTell,
    },
  ];
  for (const { what, error, refusal } of answers) {
    test(`authn.${name}: ${what} → ${refusal ? 'the refusal as it is' : 'Unavailable (answered)'}`, async () => {
      const err = await call(busAuthnClient(fakeBus({ error }).bus, TIMEOUT)).then(
        () => assert.fail('resolved'),
        (e: unknown) => e,
      );
      if (refusal) assert.equal(err, error);
      else {
        assert.ok(err instanceof Unavailable, String(err));
        assert.equal(err.answered, true);
        assert.equal(err.cause, error);
      }
    });
  }

  test(`authn.${name}: anything else thrown (a bug) is not hidden as Unavailable`, async () => {
    const bug = new TypeError('cannot read properties of undefined');
    const err = await call(busAuthnClient(fakeBus({ error: bug }).bus, TIMEOUT)).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.equal(err, bug);
  });
}

test('authn: what is asked is what the stage gave', async () => {
  const { bus, asked } = fakeBus({ reply: {} });
  const client = busAuthnClient(bus, TIMEOUT);
  await client.lookupSession('svc-1', 'id.secret');
  await client.lookupSession('svc-1', 'id.secret', true);
  await client.verifyBearer('svc-2', 'h.p.s');
  await client.backchannelLogout('svc-3', 'logout.jwt.token');
  assert.deepEqual(
    asked.map((a) => a.message),
    [
      { serviceId: 'svc-1', ticket: 'id.secret', includeAccessToken: false },
      { serviceId: 'svc-1', ticket: 'id.secret', includeAccessToken: true },
      { serviceId: 'svc-2', token: 'h.p.s' },
      { serviceId: 'svc-3', logoutToken: 'logout.jwt.token' },
    ],
  );
});

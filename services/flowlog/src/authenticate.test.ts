// Unit (real ES256 keys, fake policy answers): who is calling — a valid assertion for the console is a user with
// her grants (until it expires); an assertion for another service, an expired one, a forged one, `alg: none`, or
// none at all leaves the API token to decide (401 without one); single sign-on off ignores assertions; keys or
// roles that cannot be had are 503, never a way in; a user without grants is 403 naming her.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { MicrosegError } from '@microseg/errors';
import { AssertionKeySource } from './assertion-keys.ts';
import { AssertionVerifier } from './assertion.ts';
import { authenticate, type AuthenticateDeps } from './authenticate.ts';
import { tokenViewer, type Grant } from './viewer.ts';

const AUD = '/microseg-console';
const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const forger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const publicJwk = JSON.stringify({ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' });
const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: JWTPayload = {}): JWTPayload => ({
  iss: 'microseg',
  aud: AUD,
  sub: 'alice',
  email: 'alice@example.com',
  tags: ['sub=alice', 'email=alice@example.com'],
  iat: now(),
  exp: now() + 60,
  jti: 'j',
  ...extra,
});
const sign = (payload: JWTPayload, key = privateKey) => new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: 'k1' }).sign(key);
const quiet = { warn: () => undefined };

function deps(options: { grants?: Grant[]; keysDown?: boolean; rolesDown?: boolean; sso?: boolean } = {}) {
  let grants = options.grants ?? [{ namespace: '/acme', role: 'viewer', subtree: true }];
  const keys = new AssertionKeySource(async () => {
    if (options.keysDown) throw new Error('no responders');
    return { issuer: 'microseg', keys: [{ kid: 'k1', publicJwk, publishUntilMs: 0 }] };
  });
  const d: AuthenticateDeps = {
    verifier: { verify: async (token) => (token === 'mst_ok' ? tokenViewer('ops', 'editor', '/ops') : undefined) },
    ...(options.sso === false
      ? {}
      : {
          sso: {
            assertions: new AssertionVerifier(keys, AUD),
            roles: {
              grants: async () => {
                if (options.rolesDown) throw new Error('timeout');
                return grants;
              },
            },
          },
        }),
  };
  return { deps: d, setGrants: (g: Grant[]) => (grants = g) };
}

const call = (d: AuthenticateDeps, assertion?: string, token?: string) =>
  authenticate(
    d,
    { ...(assertion === undefined ? {} : { 'x-microseg-jwt-assertion': assertion }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    quiet,
  );

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'accepted';
  } catch (err) {
    assert.ok(err instanceof MicrosegError, String(err));
    return err.code;
  }
}

test('a valid assertion: the user, her grants, until the assertion expires; rechecked against the grants of the moment', async () => {
  const { deps: d, setGrants } = deps();
  const exp = now() + 60;
  const token = await sign(claims({ exp }));
  const caller = await call(d, token, 'mst_ok');
  assert.deepEqual(caller.viewer, {
    name: 'alice@example.com',
    via: 'sso',
    namespace: '/acme',
    role: 'viewer',
    grants: [{ namespace: '/acme', role: 'viewer', subtree: true }],
  });
  assert.equal(caller.endsAtMs, exp * 1000);
  const noEmail = await call(d, await sign({ ...claims(), email: undefined }));
  assert.equal(noEmail.viewer.name, 'alice', 'the subject when there is no email');
  setGrants([]);
  assert.equal(await caller.recheck(), undefined);
});

test('another service, expired, forged, alg none, or no assertion: the API token decides (401 without one)', async () => {
  const { deps: d } = deps();
  const refused = [
    await sign(claims({ aud: '/acme/team-b/dev/private-app/private-app' })),
    await sign(claims({ iat: now() - 300, exp: now() - 200 })),
    await sign(claims(), forger),
    new UnsecuredJWT(claims()).encode(),
    'garbage',
    undefined,
    '',
  ];
  for (const assertion of refused) {
    const withToken = await call(d, assertion, 'mst_ok');
    assert.deepEqual([withToken.viewer.via, withToken.viewer.name, withToken.endsAtMs], ['token', 'ops', undefined]);
    assert.equal(await codeOf(call(d, assertion)), 'FLOWLOG_UNAUTHENTICATED');
    assert.equal(await codeOf(call(d, assertion, 'mst_bad')), 'FLOWLOG_UNAUTHENTICATED');
  }
});

test('single sign-on off (no audience): even a valid assertion is ignored', async () => {
  const { deps: d } = deps({ sso: false });
  assert.equal(await codeOf(call(d, await sign(claims()))), 'FLOWLOG_UNAUTHENTICATED');
  assert.equal((await call(d, await sign(claims()), 'mst_ok')).viewer.via, 'token');
});

test('a user whom no policy gives access: 403 FLOWLOG_NO_ACCESS naming her, even with a token beside', async () => {
  const { deps: d } = deps({ grants: [] });
  const token = await sign(claims({ email: 'bob@example.com' }));
  await assert.rejects(call(d, token), (err: MicrosegError) => err.code === 'FLOWLOG_NO_ACCESS' && /signed in as bob@example\.com/.test(err.message));
  assert.equal(await codeOf(call(d, token, 'mst_ok')), 'FLOWLOG_NO_ACCESS');
});

test('policy away: keys that cannot be had are 503 without a token (the token decides with one); roles that cannot be had are 503', async () => {
  const keysDown = deps({ keysDown: true }).deps;
  const token = await sign(claims());
  assert.equal(await codeOf(call(keysDown, token)), 'FLOWLOG_AUTH_UNAVAILABLE');
  assert.equal((await call(keysDown, token, 'mst_ok')).viewer.via, 'token');
  assert.equal(await codeOf(call(deps({ rolesDown: true }).deps, token, 'mst_ok')), 'FLOWLOG_AUTH_UNAVAILABLE');
});

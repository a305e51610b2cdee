// msctl secrets status|reseal against a fake policy API: what is asked, what is printed,
// and the exit status (1 when a secret cannot be decrypted or a re-seal left something).
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

const unreadable = [
  {
    kind: 'service',
    ID: 'id-1',
    namespace: '/acme/team-b',
    name: 'web',
    field: 'OIDCClientSecret',
    keyId: '0123456789abcdef',
    reason: 'missing-key',
    problem: 'OIDCClientSecret sealed with key 0123456789abcdef, which this policy service does not have',
    fix: 'Give key 0123456789abcdef to every policy replica in POLICY_SECRETS_KEYS (after the current key), then run msctl secrets reseal; or set the secret again: msctl api update service web -n /acme/team-b -f service.yaml.',
  },
  {
    kind: 'service',
    ID: 'id-2',
    namespace: '/acme/team-c',
    name: 'tls',
    field: 'TLSCertificateKey',
    keyId: 'fedcba9876543210',
    reason: 'does-not-open',
    problem: '…',
    fix: 'The stored value cannot be used; set the secret again.',
  },
];
const status = (body: Record<string, unknown>) => ({
  status: 200,
  body: { namespace: '/acme', keyId: 'aaaaaaaaaaaaaaaa', keyIds: ['aaaaaaaaaaaaaaaa'], unreadable: [], stale: [], ...body },
});

test('secrets status: GET /secrets in the namespace; a table of what cannot be decrypted with each fix; exit 1', async () => {
  const { code, stdout, stderr } = await msctl(['secrets', 'status', '-n', '/acme'], () => status({ unreadable }));
  assert.equal(api.requests[0]?.method, 'GET');
  assert.equal(api.requests[0]?.path, '/secrets');
  assert.equal(api.requests[0]?.headers['x-namespace'], '/acme');
  assert.equal(code, 1);
  const [header, first, second] = stdout.split('\n');
  assert.match(header ?? '', /^KIND\s+NAMESPACE\s+NAME\s+FIELD\s+NEEDS KEY\s+PROBLEM$/);
  assert.match(first ?? '', /^service\s+\/acme\/team-b\s+web\s+OIDCClientSecret\s+0123456789abcdef\s+missing-key$/);
  assert.match(second ?? '', /^service\s+\/acme\/team-c\s+tls\s+TLSCertificateKey\s+-\s+does-not-open$/);
  assert.match(stdout, /1\. service web \(\/acme\/team-b\), OIDCClientSecret: Give key 0123456789abcdef .*POLICY_SECRETS_KEYS.*msctl api update service web/);
  assert.match(stdout, /2\. service tls \(\/acme\/team-c\), TLSCertificateKey: The stored value cannot be used/);
  assert.match(stderr, /error: 2 secret\(s\) in \/acme cannot be decrypted/);
});

test('secrets status: nothing to fix exits 0 and says so; secrets of an older key are a note', async () => {
  const { code, stdout, stderr } = await msctl(['secrets', 'status'], () =>
    status({ stale: [{ kind: 'service', namespace: '/acme', name: 'web', field: 'OIDCClientSecret', keyId: '' }] }),
  );
  assert.equal(code, 0, stderr);
  assert.match(stdout, /every secret in \/acme and below can be decrypted \(current key aaaaaaaaaaaaaaaa\)/);
  assert.match(stderr, /note: 1 secret\(s\) are sealed with an older key or format \(\(enc:v1 or in clear\)\): run msctl secrets reseal/);
});

test('secrets status -o yaml prints the answer as it is and still exits 1 when something cannot be decrypted', async () => {
  const { code, stdout } = await msctl(['secrets', 'status', '-o', 'yaml'], () => status({ unreadable }));
  assert.equal(code, 1);
  assert.deepEqual(
    parse(stdout).unreadable.map((u: { name: string }) => u.name),
    ['web', 'tls'],
  );
});

test('secrets reseal: POST /secrets/reseal; prints what was re-sealed; exit 0 when nothing is left', async () => {
  const { code, stdout, stderr } = await msctl(['secrets', 'reseal'], () => ({
    status: 200,
    body: {
      keyId: 'bbbbbbbbbbbbbbbb',
      resealed: [{ kind: 'service', ID: 'id-1', namespace: '/acme', name: 'web', fields: ['OIDCClientSecret', 'TLSCertificateKey'] }],
      conflicts: [],
      unreadable: [],
    },
  }));
  assert.equal(code, 0, stderr);
  assert.equal(api.requests[0]?.method, 'POST');
  assert.equal(api.requests[0]?.path, '/secrets/reseal');
  assert.match(stdout, /resealed service web \(\/acme\): OIDCClientSecret, TLSCertificateKey\n1 object\(s\) sealed again with key bbbbbbbbbbbbbbbb\n/);
});

test('secrets reseal: objects changed meanwhile or secrets that cannot be decrypted exit 1 and say what to do', async () => {
  const { code, stderr } = await msctl(['secrets', 'reseal'], () => ({
    status: 200,
    body: { keyId: 'bbbbbbbbbbbbbbbb', resealed: [], conflicts: [{ kind: 'service', ID: 'id-1', namespace: '/acme', name: 'web' }], unreadable },
  }));
  assert.equal(code, 1);
  assert.match(stderr, /error: 1 object\(s\) changed while being re-sealed \(service web in \/acme\); 2 secret\(s\) cannot be decrypted/);
  assert.match(stderr, /hint: run msctl secrets reseal again/);
  assert.match(stderr, /hint: msctl secrets status lists them with the fix/);
});

test('secrets reseal with a token that may not: the API refusal is shown with exit 1', async () => {
  const { code, stderr } = await msctl(['secrets', 'reseal', '-n', '/acme'], () => ({
    status: 403,
    body: { code: 'FORBIDDEN', message: 're-sealing covers every namespace: it needs an admin token of /' },
  }));
  assert.equal(code, 1);
  assert.match(stderr, /it needs an admin token of \//);
});

test('msctl secrets --help lists both commands; each has its own help', async () => {
  const group = await runCli(['secrets', '--help']);
  assert.equal(group.code, 0);
  assert.match(group.stdout, /msctl secrets status/);
  assert.match(group.stdout, /msctl secrets reseal/);
  for (const name of ['status', 'reseal']) {
    const help = await runCli(['secrets', name, '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Examples?:\n {2}\S/);
  }
});

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startFakeApi, type FakeApi, type Handler } from '../testing/fake-api.ts';
import { runCli, temporaryDirectory } from '../testing/run-cli.ts';

let handler: Handler = () => undefined;
let api: FakeApi;
before(async () => {
  api = await startFakeApi((request) => handler(request));
});
after(() => api.close());

function msctl(argv: string[], options: { stdin?: string; respond?: Handler } = {}) {
  api.requests.length = 0;
  handler = options.respond ?? (() => undefined);
  return runCli(argv, { stdin: options.stdin, env: { MSCTL_API: api.url, MSCTL_TOKEN: 'mst_test' } });
}

async function policiesDirectory(): Promise<string> {
  const directory = await temporaryDirectory();
  await writeFile(
    join(directory, '10-service.yaml'),
    `label: private-app
namespace: /acme/team-b/dev/private-app
data:
  services:
    - name: private-app
      exposedPort: 443
      port: 80
`,
  );
  await writeFile(
    join(directory, '20-network.json'),
    JSON.stringify({
      label: 'private-app',
      namespace: '/acme/team-b/dev/private-app',
      data: { externalnetworks: [{ name: 'idp', entries: ['idp.example.com'] }] },
    }),
  );
  await writeFile(
    join(directory, '30-policy.yml'),
    `kind: networkaccesspolicy
name: allow-app-to-idp
namespace: /acme/team-b/dev/private-app
subject: [["$identity=processingunit"]]
object: [[ext:name=idp]]
`,
  );
  await writeFile(join(directory, 'README.md'), 'not imported');
  await mkdir(join(directory, 'nested'));
  await writeFile(join(directory, 'nested', 'ignored.yaml'), 'data: { services: [ { name: ignored } ] }');
  return directory;
}

test('import of a directory merges its .yaml, .yml and .json files into one request', async () => {
  const directory = await policiesDirectory();
  const { code, stdout, stderr } = await msctl(['api', 'import', '-f', directory], { respond: () => ({ status: 200, body: { created: 2, updated: 1 } }) });
  assert.equal(stderr, '');
  assert.equal(code, 0);
  assert.equal(api.requests.length, 1);
  const [request] = api.requests;
  assert.equal(request?.method, 'POST');
  assert.equal(request?.path, '/import');
  assert.equal(request?.headers['content-type'], 'application/json');
  assert.deepEqual(request?.body, {
    label: 'private-app',
    data: {
      services: [{ name: 'private-app', exposedPort: 443, port: 80, namespace: '/acme/team-b/dev/private-app' }],
      externalnetworks: [{ name: 'idp', entries: ['idp.example.com'], namespace: '/acme/team-b/dev/private-app' }],
      networkaccesspolicies: [
        { name: 'allow-app-to-idp', namespace: '/acme/team-b/dev/private-app', subject: [['$identity=processingunit']], object: [['ext:name=idp']] },
      ],
    },
  });
  assert.equal(stdout, 'imported 3 objects: 2 created, 1 updated\n');
});

test('import from stdin sends the document as written; -o yaml prints the answer', async () => {
  const stdin = 'label: demo\nnamespace: /acme\ndata:\n  httpresourcespecs:\n    - name: api\n      endpoints: [{ URI: /*, methods: [GET] }]\n';
  const { code, stdout } = await msctl(['api', 'import', '-f', '-', '-o', 'yaml'], { stdin });
  assert.equal(code, 0);
  assert.deepEqual(api.requests[0]?.body, {
    namespace: '/acme',
    label: 'demo',
    data: { httpresourcespecs: [{ name: 'api', endpoints: [{ URI: '/*', methods: ['GET'] }] }] },
  });
  assert.deepEqual(parse(stdout), { created: 1, updated: 0 });
});

test('a refused import names each bad attribute by object and file; nothing was imported', async () => {
  const directory = await policiesDirectory();
  const respond: Handler = () => ({
    status: 422,
    body: {
      code: 'POLICY_VALIDATION_FAILED',
      message: '2 invalid attributes',
      errors: [
        { attribute: 'data.externalnetworks[0].servicePorts', message: 'is required' },
        { attribute: 'data.services[0].OIDCProviderURL', message: 'is required when authorizationType is OIDC' },
      ],
    },
  });
  const { code, stderr } = await msctl(['api', 'import', '-f', directory], { respond });
  assert.equal(code, 1);
  assert.deepEqual(stderr.trimEnd().split('\n'), [
    `externalnetwork/idp (${join(directory, '20-network.json')}): servicePorts: is required`,
    `service/private-app (${join(directory, '10-service.yaml')}): OIDCProviderURL: is required when authorizationType is OIDC`,
    'hint: nothing was imported; fix these attributes and run the command again',
  ]);
});

test('a directory without policy files, or a broken file, sends nothing', async () => {
  const empty = await temporaryDirectory();
  let result = await msctl(['api', 'import', '-f', empty]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /has no \.yaml, \.yml or \.json file/);

  const directory = await policiesDirectory();
  await writeFile(join(directory, '40-broken.yaml'), 'data:\n  services:\n  - name: a\n   port: 1\n');
  result = await msctl(['api', 'import', '-f', directory]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /40-broken\.yaml: line 4, column \d+: /);
  assert.equal(api.requests.length, 0);
});

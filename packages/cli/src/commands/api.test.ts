import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { closedUrl, startFakeApi, type FakeApi, type Handler } from '../testing/fake-api.ts';
import { runCli, temporaryDirectory } from '../testing/run-cli.ts';

let handler: Handler = () => undefined;
let api: FakeApi;
before(async () => {
  api = await startFakeApi((request) => handler(request));
});
after(() => api.close());

/** Runs msctl against the fake API with a token, after clearing what earlier tests recorded. */
function msctl(argv: string[], options: { stdin?: string; respond?: Handler; env?: Record<string, string> } = {}) {
  api.requests.length = 0;
  handler = options.respond ?? (() => undefined);
  return runCli(argv, { stdin: options.stdin, env: { MSCTL_API: api.url, MSCTL_TOKEN: 'mst_test', ...options.env } });
}

const externalNetworkYaml = `name: idp
entries:
  - idp.example.com
servicePorts:
  - tcp/443
associatedTags:
  - ext:name=idp
`;

test('create reads YAML from stdin and POSTs it as JSON with the token and namespace', async () => {
  const { code, stdout, stderr } = await msctl(['api', 'create', 'externalnetwork', '-n', '/acme/team-b/dev/private-app', '-f', '-'], {
    stdin: externalNetworkYaml,
  });
  assert.equal(stderr, '');
  assert.equal(code, 0);
  assert.equal(api.requests.length, 1);
  const [request] = api.requests;
  assert.equal(request?.method, 'POST');
  assert.equal(request?.path, '/externalnetworks');
  assert.equal(request?.headers.authorization, 'Bearer mst_test');
  assert.equal(request?.headers['x-namespace'], '/acme/team-b/dev/private-app');
  assert.equal(request?.headers['content-type'], 'application/json');
  assert.deepEqual(request?.body, { name: 'idp', entries: ['idp.example.com'], servicePorts: ['tcp/443'], associatedTags: ['ext:name=idp'] });
  assert.deepEqual(parse(stdout), {
    ID: 'id-idp',
    namespace: '/acme/team-b/dev/private-app',
    name: 'idp',
    entries: ['idp.example.com'],
    servicePorts: ['tcp/443'],
    associatedTags: ['ext:name=idp'],
  });
});

test('the walkthrough policy keeps $identity tags and quoted ports as strings', async () => {
  const policy = `name: allow-app-to-idp
action: Allow
applyPolicyMode: OutgoingTraffic
logsEnabled: true
subject:
  - - "$identity=processingunit"
    - "type=private-app"
object:
  - - ext:name=idp
`;
  const { code } = await msctl(['api', 'create', 'netpol', '-n', '/acme', '-f', '-', '-o', 'json'], { stdin: policy });
  assert.equal(code, 0);
  assert.equal(api.requests[0]?.path, '/networkaccesspolicies');
  assert.deepEqual((api.requests[0]?.body as { subject: unknown }).subject, [['$identity=processingunit', 'type=private-app']]);
  assert.equal((api.requests[0]?.body as { logsEnabled: unknown }).logsEnabled, true);
});

test('every alias reaches its route', async () => {
  const routes: Record<string, string> = {
    ns: '/namespaces',
    pu: '/processingunits',
    svc: '/services',
    hrs: '/httpresourcespecs',
    extnet: '/externalnetworks',
    netpol: '/networkaccesspolicies',
    token: '/apitokens',
    Services: '/services',
    HTTPResourceSpec: '/httpresourcespecs',
  };
  for (const [alias, route] of Object.entries(routes)) {
    const { code } = await msctl(['api', 'list', alias]);
    assert.equal(code, 0, alias);
    assert.equal(api.requests[0]?.path, route, alias);
  }
});

test('create from a JSON file; -o json prints JSON', async () => {
  const directory = await temporaryDirectory();
  const file = join(directory, 'svc.json');
  await writeFile(file, JSON.stringify({ name: 'private-app', exposedPort: 443, port: 80, type: 'HTTP' }));
  const { code, stdout } = await msctl(['api', 'create', 'service', '-f', file, '-o', 'json']);
  assert.equal(code, 0);
  assert.deepEqual(api.requests[0]?.body, { name: 'private-app', exposedPort: 443, port: 80, type: 'HTTP' });
  assert.equal(JSON.parse(stdout).ID, 'id-private-app');
});

test('a list creates each object in order and stops at the first failure, saying which', async () => {
  const stdin = `- name: a
  entries: [10.0.0.0/8]
- name: b
  entries: []
- name: c
  entries: [10.0.0.1]
`;
  const respond: Handler = (request) => {
    const body = request.body as { name: string };
    if (body.name === 'b')
      return {
        status: 422,
        body: { code: 'POLICY_VALIDATION_FAILED', message: '1 invalid attribute', errors: [{ attribute: 'entries', message: 'needs at least one entry' }] },
      };
    return undefined;
  };
  const { code, stdout, stderr } = await msctl(['api', 'create', 'extnet', '-f', '-'], { stdin, respond });
  assert.equal(code, 1);
  assert.deepEqual(
    api.requests.map((r) => (r.body as { name: string }).name),
    ['a', 'b'],
  );
  assert.deepEqual(
    (parse(stdout) as { name: string }[]).map((o) => o.name),
    ['a'],
  );
  assert.match(stderr, /^error: stopped at item 2 of 3 \(externalnetwork\/b\); item 1 created; item 3 not tried$/m);
  assert.match(stderr, /^externalnetwork\/b: entries: needs at least one entry$/m);
});

test('several YAML documents create several objects', async () => {
  const { code } = await msctl(['api', 'create', 'extnet', '-f', '-'], { stdin: 'name: a\nentries: [1.1.1.1]\n---\nname: b\nentries: [2.2.2.2]\n' });
  assert.equal(code, 0);
  assert.equal(api.requests.length, 2);
});

test('a 422 prints every attribute on its own line, prefixed by kind and name, then a hint', async () => {
  const respond: Handler = () => ({
    status: 422,
    body: {
      code: 'POLICY_VALIDATION_FAILED',
      message: '3 invalid attributes',
      errors: [
        { attribute: 'exposedPort', message: 'is required' },
        { attribute: 'OIDCProviderURL', message: 'must be an https URL (http only for loopback hosts)' },
        { attribute: 'exposedAPIs[0][1]', message: 'must be key=value' },
      ],
    },
  });
  const { code, stdout, stderr } = await msctl(['api', 'create', 'svc', '-n', '/acme', '-f', '-'], {
    stdin: 'name: private-app\nauthorizationType: OIDC\n',
    respond,
  });
  assert.equal(code, 1);
  assert.equal(stdout, '');
  assert.deepEqual(stderr.trimEnd().split('\n'), [
    'service/private-app: exposedPort: is required',
    'service/private-app: OIDCProviderURL: must be an https URL (http only for loopback hosts)',
    'service/private-app: exposedAPIs[0][1]: must be key=value',
    'hint: service/private-app was not stored; fix these attributes and run the command again (msctl api create service --help lists its fields)',
  ]);
});

test('401 says how to set a token', async () => {
  const respond: Handler = () => ({ status: 401, body: { code: 'UNAUTHENTICATED', message: 'a valid API token is required' } });
  const { code, stderr } = await msctl(['api', 'list', 'svc'], { respond });
  assert.equal(code, 1);
  assert.match(stderr, /^error: no or invalid token: set MSCTL_TOKEN or run `msctl config set --token …`$/m);
});

test('no token at all sends no Authorization header (and the 401 explains)', async () => {
  api.requests.length = 0;
  handler = (request) => (request.headers.authorization ? undefined : { status: 401, body: { code: 'UNAUTHENTICATED', message: 'token required' } });
  const { code, stderr } = await runCli(['api', 'list', 'svc'], { env: { MSCTL_API: api.url } });
  assert.equal(code, 1);
  assert.equal(api.requests[0]?.headers.authorization, undefined);
  assert.match(stderr, /no or invalid token/);
});

test('403 names the namespace and says the role or subtree does not allow it', async () => {
  const respond: Handler = () => ({ status: 403, body: { code: 'FORBIDDEN', message: 'the token ci is limited to /acme/team-a' } });
  const { code, stderr } = await msctl(['api', 'create', 'extnet', '-n', '/acme/team-b', '-f', '-'], { stdin: externalNetworkYaml, respond });
  assert.equal(code, 1);
  assert.match(
    stderr,
    /^error: not allowed to create externalnetwork\/idp in namespace \/acme\/team-b: the token's role or namespace subtree does not allow it$/m,
  );
  assert.match(stderr, /the policy service said: the token ci is limited to \/acme\/team-a \(FORBIDDEN\)/);
});

test('connection refused names the URL and says the policy service is not reachable', async () => {
  const url = await closedUrl();
  const { code, stderr } = await runCli(['api', 'list', 'svc'], { env: { MSCTL_API: url, MSCTL_TOKEN: 't' } });
  assert.equal(code, 1);
  assert.match(stderr, new RegExp(`^error: the policy service is not reachable at ${url}: connection refused$`, 'm'));
  assert.match(stderr, /The URL came from MSCTL_API/);
});

test('404, 409, 412 and 5xx each say what to do', async () => {
  const cases: [string[], number, RegExp][] = [
    [['api', 'get', 'svc', 'nope', '-n', '/acme'], 404, /service\/nope was not found in namespace \/acme[\s\S]*msctl api list service -n \/acme/],
    [['api', 'create', 'extnet', '-f', '-'], 409, /externalnetwork\/idp: conflict[\s\S]*msctl api update externalnetwork NAME -f FILE/],
    [['api', 'update', 'extnet', 'idp', '-f', '-', '--if-match', '"3"'], 412, /externalnetwork\/idp changed since you read it/],
    [['api', 'delete', 'extnet', 'idp'], 503, /the policy service failed to delete externalnetwork\/idp \(503\)/],
  ];
  for (const [argv, status, message] of cases) {
    const { code, stderr } = await msctl(argv, { stdin: externalNetworkYaml, respond: () => ({ status, body: { code: 'X', message: 'm' } }) });
    assert.equal(code, 1, argv.join(' '));
    assert.match(stderr, message, argv.join(' '));
  }
});

test('get, update and delete address the object by name, URL-encoded', async () => {
  let result = await msctl(['api', 'get', 'ns', '/acme/team-b']);
  assert.equal(result.code, 0);
  assert.equal(api.requests[0]?.method, 'GET');
  assert.equal(api.requests[0]?.path, '/namespaces/%2Facme%2Fteam-b');

  result = await msctl(['api', 'update', 'extnet', 'idp', '-f', '-', '--if-match', '"7"'], { stdin: externalNetworkYaml });
  assert.equal(result.code, 0);
  assert.equal(api.requests[0]?.method, 'PUT');
  assert.equal(api.requests[0]?.path, '/externalnetworks/idp');
  assert.equal(api.requests[0]?.headers['if-match'], '"7"');
  assert.equal((api.requests[0]?.body as { name: string }).name, 'idp');

  result = await msctl(['api', 'delete', 'extnet', 'idp', '-o', 'json']);
  assert.equal(result.code, 0);
  assert.equal(api.requests[0]?.method, 'DELETE');
  assert.equal(JSON.parse(result.stdout).name, 'idp');
});

test('update refuses several objects', async () => {
  const { code, stderr } = await msctl(['api', 'update', 'extnet', 'idp', '-f', '-'], { stdin: '- name: a\n- name: b\n' });
  assert.equal(code, 2);
  assert.match(stderr, /stdin holds 2 objects; update replaces one/);
  assert.equal(api.requests.length, 0);
});

test('list prints a table with kind-specific columns; -r asks for child namespaces; -c chooses columns', async () => {
  const objects = [
    { ID: '5f2a', name: 'allow-app-to-idp', namespace: '/acme/team-b', action: 'Allow', applyPolicyMode: 'OutgoingTraffic', logsEnabled: true },
    { ID: '9c1b', name: 'deny-all', namespace: '/acme/team-b/dev', action: 'Reject', applyPolicyMode: 'Bidirectional', logsEnabled: false },
  ];
  const respond: Handler = () => ({ status: 200, body: objects });
  let result = await msctl(['api', 'list', 'netpol', '-n', '/acme/team-b', '-r'], { respond });
  assert.equal(result.code, 0);
  assert.equal(api.requests[0]?.query.get('recursive'), 'true');
  assert.equal(
    result.stdout,
    [
      'ID    NAME              NAMESPACE         ACTION  MODE',
      '5f2a  allow-app-to-idp  /acme/team-b      Allow   OutgoingTraffic',
      '9c1b  deny-all          /acme/team-b/dev  Reject  Bidirectional',
      '',
    ].join('\n'),
  );

  result = await msctl(['api', 'list', 'netpol', '-c', 'name,logsEnabled'], { respond });
  assert.equal(api.requests[0]?.query.get('recursive'), null);
  assert.equal(result.stdout, 'NAME              LOGSENABLED\nallow-app-to-idp  true\ndeny-all          false\n');

  result = await msctl(['api', 'list', 'netpol', '-c', 'name,colour'], { respond });
  assert.match(result.stderr, /warning: no networkaccesspolicy has a field "colour"; fields: ID, name, namespace, action/);

  result = await msctl(['api', 'list', 'netpol', '-o', 'yaml', '-c', 'name'], { respond });
  assert.deepEqual(parse(result.stdout), [{ name: 'allow-app-to-idp' }, { name: 'deny-all' }]);
});

test('an empty list says so on stderr', async () => {
  const { code, stdout, stderr } = await msctl(['api', 'list', 'svc', '-n', '/acme']);
  assert.equal(code, 0);
  assert.equal(stdout, '');
  assert.match(stderr, /no services in \/acme \(add -r to include child namespaces\)/);
});

test('a YAML error names the file, the line and the column, and nothing is sent', async () => {
  const directory = await temporaryDirectory();
  const file = join(directory, 'bad.yaml');
  await writeFile(file, 'name: idp\nentries:\n  - a\n bad: [\n');
  const { code, stderr } = await msctl(['api', 'create', 'extnet', '-f', file]);
  assert.equal(code, 1);
  assert.equal(api.requests.length, 0);
  assert.match(stderr, new RegExp(`^error: ${file.replace(/[.]/g, '\\.')}: line \\d+, column \\d+: `, 'm'));

  const stdin = await msctl(['api', 'create', 'extnet', '-f', '-'], { stdin: 'name: a\nname: b\n' });
  assert.match(stdin.stderr, /^error: stdin: line 2, column 1: Map keys must be unique$/m);

  const json = join(directory, 'bad.json');
  await writeFile(json, '{\n  "name": "a",\n  entries: []\n}\n');
  const jsonResult = await msctl(['api', 'create', 'extnet', '-f', json]);
  assert.match(jsonResult.stderr, /bad\.json: line 3, column 3: /);
});

test('a missing file is named', async () => {
  const { code, stderr } = await msctl(['api', 'create', 'extnet', '-f', '/nonexistent/x.yaml']);
  assert.equal(code, 1);
  assert.match(stderr, /^error: cannot read \/nonexistent\/x\.yaml: no such file$/m);
});

test('export asks for child namespaces with -r and prints YAML', async () => {
  const respond: Handler = () => ({ status: 200, body: { label: 'x', namespace: '/acme', data: { services: [{ name: 'a' }] } } });
  const { code, stdout } = await msctl(['api', 'export', '-n', '/acme', '-r'], { respond });
  assert.equal(code, 0);
  assert.equal(api.requests[0]?.path, '/export');
  assert.equal(api.requests[0]?.query.get('recursive'), 'true');
  assert.deepEqual(parse(stdout), { label: 'x', namespace: '/acme', data: { services: [{ name: 'a' }] } });
});

test('a 404 on a collection says the route is missing, not the object', async () => {
  const respond: Handler = () => ({ status: 404, body: { code: 'NOT_FOUND', message: 'unknown kind' } });
  for (const argv of [
    ['api', 'list', 'netpol'],
    ['api', 'create', 'netpol', '-f', '-'],
  ]) {
    const { code, stderr } = await msctl(argv, { stdin: 'name: p\n', respond });
    assert.equal(code, 1);
    assert.match(stderr, /^error: the policy service has no route (GET|POST) \/networkaccesspolicies \(404\)$/m, argv.join(' '));
    assert.match(stderr, /check that --api \(or MSCTL_API\) points at the policy service/);
  }
});

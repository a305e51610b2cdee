import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { configPath, maskToken, resolveSettings } from './config.ts';
import { startFakeApi, type FakeApi } from './testing/fake-api.ts';
import { runCli, temporaryDirectory } from './testing/run-cli.ts';

// Three fake APIs: which one is called shows which setting won.
let fromConfig: FakeApi;
let fromEnv: FakeApi;
let fromFlag: FakeApi;
before(async () => {
  [fromConfig, fromEnv, fromFlag] = await Promise.all([startFakeApi(), startFakeApi(), startFakeApi()]);
});
after(() => Promise.all([fromConfig.close(), fromEnv.close(), fromFlag.close()]));

async function configFile(content: string): Promise<string> {
  const path = join(await temporaryDirectory(), 'msctl.yaml');
  await writeFile(path, content);
  return path;
}

function lastRequest() {
  const all = [fromConfig, fromEnv, fromFlag].flatMap((api) => api.requests.map((r) => ({ api, ...r })));
  assert.equal(all.length, 1, 'exactly one request');
  for (const api of [fromConfig, fromEnv, fromFlag]) api.requests.length = 0;
  return all[0]!;
}

test('precedence: default < config file < environment < flag, for api, token and namespace', async () => {
  const config = await configFile(`api: ${fromConfig.url}\ntoken: config-token\nnamespace: /from/config\n`);
  const env = { MSCTL_CONFIG: config };
  const envVars = { ...env, MSCTL_API: fromEnv.url, MSCTL_TOKEN: 'env-token', MSCTL_NAMESPACE: '/from/env' };

  assert.equal((await runCli(['api', 'list', 'svc'], { env })).code, 0);
  let request = lastRequest();
  assert.equal(request.api, fromConfig);
  assert.equal(request.headers.authorization, 'Bearer config-token');
  assert.equal(request.headers['x-namespace'], '/from/config');

  assert.equal((await runCli(['api', 'list', 'svc'], { env: envVars })).code, 0);
  request = lastRequest();
  assert.equal(request.api, fromEnv);
  assert.equal(request.headers.authorization, 'Bearer env-token');
  assert.equal(request.headers['x-namespace'], '/from/env');

  assert.equal((await runCli(['api', 'list', 'svc', '--api', fromFlag.url, '--token', 'flag-token', '-n', '/from/flag'], { env: envVars })).code, 0);
  request = lastRequest();
  assert.equal(request.api, fromFlag);
  assert.equal(request.headers.authorization, 'Bearer flag-token');
  assert.equal(request.headers['x-namespace'], '/from/flag');

  // Settings mix: the flag overrides one, the others still come from env and file.
  assert.equal((await runCli(['api', 'list', 'svc', '--namespace', '/only/ns'], { env: { ...env, MSCTL_TOKEN: 'env-token' } })).code, 0);
  request = lastRequest();
  assert.equal(request.api, fromConfig);
  assert.equal(request.headers.authorization, 'Bearer env-token');
  assert.equal(request.headers['x-namespace'], '/only/ns');
});

test('without any setting: http://127.0.0.1:7070, no token and the namespace /', () => {
  const settings = resolveSettings({}, {}, undefined, '/x/msctl.yaml');
  assert.equal(settings.api, 'http://127.0.0.1:7070');
  assert.equal(settings.token, undefined);
  assert.equal(settings.namespace, '/');
  assert.equal(settings.origins.api.from, 'default');
  // An empty environment variable counts as unset; a trailing slash on the URL is dropped.
  const fromFile = resolveSettings({}, { MSCTL_API: '' }, { api: 'https://policy.example.com/' }, '/x/msctl.yaml');
  assert.equal(fromFile.api, 'https://policy.example.com');
  assert.deepEqual(fromFile.origins.api, { from: 'config', label: '/x/msctl.yaml' });
});

test('the config file path: MSCTL_CONFIG, else XDG_CONFIG_HOME, else ~/.config', () => {
  assert.equal(configPath({ MSCTL_CONFIG: '/etc/msctl.yaml', HOME: '/home/a' }), '/etc/msctl.yaml');
  assert.equal(configPath({ XDG_CONFIG_HOME: '/xdg', HOME: '/home/a' }), '/xdg/microseg/msctl.yaml');
  assert.equal(configPath({ HOME: '/home/a' }), '/home/a/.config/microseg/msctl.yaml');
});

test('config set writes the file with mode 0600 and keeps settings not given', async () => {
  const directory = await temporaryDirectory();
  const path = join(directory, 'sub', 'msctl.yaml');
  const env = { MSCTL_CONFIG: path };
  let result = await runCli(['config', 'set', '--api', 'http://policy:7070', '--token', 'mst_secret_token_value', '--namespace', '/acme'], { env });
  assert.equal(result.code, 0);
  assert.equal(result.stdout, `wrote ${path}\n`);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.deepEqual(parse(await readFile(path, 'utf8')), { api: 'http://policy:7070', token: 'mst_secret_token_value', namespace: '/acme' });

  await chmod(path, 0o644);
  result = await runCli(['config', 'set', '--token', '-'], { env, stdin: 'mst_from_stdin_0000\n' });
  assert.equal(result.code, 0);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.deepEqual(parse(await readFile(path, 'utf8')), { api: 'http://policy:7070', token: 'mst_from_stdin_0000', namespace: '/acme' });
});

test('config set checks what it writes', async () => {
  const env = { MSCTL_CONFIG: join(await temporaryDirectory(), 'msctl.yaml') };
  const cases: [string[], RegExp][] = [
    [['config', 'set'], /needs --api, --flowlog, --token or --namespace/],
    [['config', 'set', '--api', 'policy:7070'], /"policy:7070" \(from --api\) is not an http:\/\/ or https:\/\/ URL/],
    [['config', 'set', '--namespace', 'acme'], /"acme" \(from --namespace\) must be an absolute path/],
  ];
  for (const [argv, message] of cases) {
    const result = await runCli(argv, { env });
    assert.equal(result.code, 2, argv.join(' '));
    assert.match(result.stderr, message);
  }
});

test('config show prints the file with the token masked', async () => {
  const path = await configFile('api: http://policy:7070\ntoken: mst_0123456789abcdef_secretsecretsecretZZZZ\nnamespace: /acme\n');
  const { code, stdout, stderr } = await runCli(['config', 'show'], { env: { MSCTL_CONFIG: path, MSCTL_TOKEN: 'x' } });
  assert.equal(code, 0);
  assert.ok(!stdout.includes('secretsecret'), 'the token is not printed');
  assert.deepEqual(parse(stdout), { api: 'http://policy:7070', token: '****ZZZZ', namespace: '/acme' });
  assert.match(stdout, new RegExp(`^# ${path}`));
  assert.match(stderr, /MSCTL_TOKEN set in the environment overrides the file/);
  assert.equal(maskToken('short'), '****');
});

test('config show without a file says how to create one', async () => {
  const { code, stderr } = await runCli(['config', 'show'], { env: { MSCTL_CONFIG: '/nonexistent/msctl.yaml' } });
  assert.equal(code, 1);
  assert.match(stderr, /no config file at \/nonexistent\/msctl\.yaml[\s\S]*msctl config set --api URL --token TOKEN/);
});

test('a broken config file is named with line and column, and unknown settings are named', async () => {
  let path = await configFile('api: http://x\ntoken: [unclosed\n');
  let result = await runCli(['api', 'list', 'svc'], { env: { MSCTL_CONFIG: path } });
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`^error: ${path}: line \\d+, column \\d+: `, 'm'));

  path = await configFile('api: http://x\nserver: http://y\nnamespace: 3\n');
  result = await runCli(['api', 'list', 'svc'], { env: { MSCTL_CONFIG: path } });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /server: unknown setting; expected api, flowlog, token or namespace/);
  assert.match(result.stderr, /namespace: must be a string/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './testing/run-cli.ts';

test('msctl --help lists the commands, the settings, the kinds and an example', async () => {
  const { code, stdout, stderr } = await runCli(['--help']);
  assert.equal(code, 0);
  assert.equal(stderr, '');
  for (const text of [
    'api create KIND -f FILE|-',
    'api list KIND',
    'api import -f DIR|FILE|-',
    'config set',
    'MSCTL_API',
    'MSCTL_TOKEN',
    'MSCTL_NAMESPACE',
    'extnet',
  ]) {
    assert.ok(stdout.includes(text), `top help mentions ${text}`);
  }
  assert.match(stdout, /cat <<EOF \| msctl api create externalnetwork -n \/acme\/team-b\/dev\/private-app -f -/);
});

test('msctl with no command prints the help on stderr and exits 2', async () => {
  const { code, stdout, stderr } = await runCli([]);
  assert.equal(code, 2);
  assert.equal(stdout, '');
  assert.match(stderr, /Usage: msctl COMMAND/);
});

test('every command and group has --help, with an example', async () => {
  for (const argv of [
    ['api'],
    ['config'],
    ['api', 'create'],
    ['api', 'get'],
    ['api', 'list'],
    ['api', 'update'],
    ['api', 'delete'],
    ['api', 'import'],
    ['api', 'export'],
    ['config', 'show'],
    ['config', 'set'],
  ]) {
    for (const flag of ['--help', '-h']) {
      const { code, stdout } = await runCli([...argv, flag]);
      assert.equal(code, 0, `${argv.join(' ')} ${flag}`);
      assert.match(stdout, new RegExp(`msctl ${argv.join(' ')}`), `${argv.join(' ')} ${flag}`);
      if (argv.length === 2) assert.match(stdout, /Examples?:\n {2}\S/, `${argv.join(' ')} has an example`);
    }
  }
  const create = await runCli(['api', 'create', '--help']);
  assert.ok(create.stdout.includes('  cat <<EOF | msctl api create externalnetwork -n /acme/team-b/dev/private-app -f -\n  name: idp\n'));
  assert.match(create.stdout, /-f, --file FILE\|-/);
});

test('api create KIND --help also lists the fields of the kind', async () => {
  const { code, stdout } = await runCli(['api', 'create', 'service', '--help']);
  assert.equal(code, 0);
  assert.match(stdout, /Fields of service: name, .*OIDCProviderURL.*exposedPort/);
});

test('--help wins over missing arguments and bad options', async () => {
  const { code } = await runCli(['api', 'get', '--frobnicate', '--help']);
  assert.equal(code, 0);
});

test('usage errors exit 2 and say how to fix the command line', async () => {
  const cases: [string[], RegExp][] = [
    [['apply'], /unknown command "apply"[\s\S]*hint: commands: api, config/],
    [['api', 'apply'], /unknown command "api apply"[\s\S]*create, get, list, update, delete, import, export/],
    [['api', 'get', 'service'], /msctl api get needs NAME_OR_ID/],
    [['api', 'get', 'service', 'a', 'b'], /unexpected argument "b"/],
    [['api', 'list', 'svc', '--frobnicate'], /unknown option --frobnicate for msctl api list[\s\S]*see msctl api list --help/],
    [['api', 'list', 'svc', '-o'], /option -o, --output needs a value/],
    [['api', 'list', 'svc', '-o', 'xml'], /-o xml is not supported here[\s\S]*use -o table, -o yaml, -o json/],
    [['api', 'list', 'servce'], /unknown kind "servce"[\s\S]*kinds: namespace \(ns\), processingunit \(pu\), service \(svc\)/],
    [['api', 'create', 'svc'], /msctl api create needs -f FILE, or -f - to read stdin/],
    [['api', 'list', 'svc', '-n', 'acme/team-b'], /namespace "acme\/team-b" \(from --namespace\) must be an absolute path[\s\S]*-n \/acme\/team-b/],
    [['api', 'list', 'svc', '--api', 'localhost:7070'], /"localhost:7070" \(from --api\) is not an http:\/\/ or https:\/\/ URL/],
  ];
  for (const [argv, message] of cases) {
    const { code, stdout, stderr } = await runCli(argv);
    assert.equal(code, 2, argv.join(' '));
    assert.equal(stdout, '', argv.join(' '));
    assert.match(stderr, message, argv.join(' '));
  }
});

test('--version prints the version', async () => {
  const { code, stdout } = await runCli(['--version']);
  assert.equal(code, 0);
  assert.match(stdout, /^msctl \d+\.\d+\.\d+\n$/);
});

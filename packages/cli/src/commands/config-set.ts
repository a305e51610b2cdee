import { checkApi, checkNamespace, configPath, readConfig, writeConfig, type ConfigFile } from '../config.ts';
import { UsageError } from '../errors.ts';
import { readAll } from '../input.ts';
import { stringValue, type Command } from './command.ts';

export const configSet: Command = {
  path: ['config', 'set'],
  arguments: [],
  summary: 'write the config file (mode 0600)',
  description: [
    'Writes the given settings to the config file ($MSCTL_CONFIG, else ~/.config/microseg/msctl.yaml),',
    'keeping the ones not given, readable by you only. --token - reads the token from stdin, which',
    'keeps it out of your shell history.',
  ],
  options: {
    api: { type: 'string', value: 'URL', description: 'the policy API, e.g. https://policy.example.com' },
    flowlog: { type: 'string', value: 'URL', description: 'flowlog (msctl logs, msctl flows), e.g. http://127.0.0.1:7080' },
    token: { type: 'string', value: 'TOKEN|-', description: 'bearer token; - reads it from stdin' },
    namespace: { type: 'string', short: 'n', value: 'NS', description: 'default namespace, e.g. /acme/team-b' },
  },
  examples: [
    'msctl config set --api http://127.0.0.1:7070 --token "$TOKEN" --namespace /acme/team-b/dev/private-app',
    'pass show microseg/token | msctl config set --token -',
  ],
  async run({ io, values }) {
    const api = stringValue(values, 'api');
    const flowlog = stringValue(values, 'flowlog');
    let token = stringValue(values, 'token');
    const namespace = stringValue(values, 'namespace');
    if (api === undefined && flowlog === undefined && token === undefined && namespace === undefined) {
      throw new UsageError('msctl config set needs --api, --flowlog, --token or --namespace', [
        'for example msctl config set --api http://127.0.0.1:7070 --token TOKEN',
      ]);
    }
    if (api !== undefined) checkApi(api, { from: 'flag', label: '--api' });
    if (flowlog !== undefined) checkApi(flowlog, { from: 'flag', label: '--flowlog' }, 'flowlog URL', '--flowlog http://127.0.0.1:7080');
    if (namespace !== undefined) checkNamespace(namespace, { from: 'flag', label: '--namespace' });
    if (token === '-') token = (await readAll(io.stdin)).trim();
    if (token !== undefined && token === '') throw new UsageError('the token is empty', ['give it with --token TOKEN, or pipe it into --token -']);

    const path = configPath(io.env);
    const config: ConfigFile = { ...(await readConfig(path)) };
    if (api !== undefined) config.api = api;
    if (flowlog !== undefined) config.flowlog = flowlog;
    if (token !== undefined) config.token = token;
    if (namespace !== undefined) config.namespace = namespace;
    await writeConfig(path, config);
    io.stdout.write(`wrote ${path}\n`);
  },
};

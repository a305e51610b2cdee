import { configPath, maskToken, readConfig } from '../config.ts';
import { InputError } from '../errors.ts';
import { toYaml } from '../output.ts';
import type { Command } from './command.ts';

export const configShow: Command = {
  path: ['config', 'show'],
  arguments: [],
  summary: 'print the config file, token masked',
  description: [
    'Prints the config file ($MSCTL_CONFIG, else ~/.config/microseg/msctl.yaml) with its token',
    'masked. Environment variables (MSCTL_API, MSCTL_FLOWLOG, MSCTL_TOKEN, MSCTL_NAMESPACE) and flags override it.',
  ],
  options: {},
  examples: ['msctl config show'],
  async run({ io }) {
    const path = configPath(io.env);
    const config = await readConfig(path);
    if (config === undefined) {
      throw new InputError(`there is no config file at ${path}`, { hints: ['create it with msctl config set --api URL --token TOKEN [--namespace NS]'] });
    }
    const shown = config.token === undefined ? config : { ...config, token: maskToken(config.token) };
    io.stdout.write(`# ${path}\n${Object.keys(shown).length === 0 ? '' : toYaml(shown)}`);
    const overridden = (['MSCTL_API', 'MSCTL_FLOWLOG', 'MSCTL_TOKEN', 'MSCTL_NAMESPACE'] as const).filter((name) => io.env[name]);
    if (overridden.length > 0)
      io.stderr.write(`note: ${overridden.join(', ')} set in the environment override${overridden.length === 1 ? 's' : ''} the file\n`);
  },
};

// --help texts, built from the command declarations.
import { helpOption, type Command, type OptionSpecs } from './commands/command.ts';
import { commands, groups } from './commands/index.ts';
import { findKind, kindList } from './kinds.ts';

function usageOf(command: Command): string {
  const file = command.options.file ? ` -f ${command.options.file.value ?? 'FILE'}` : '';
  return ['msctl', ...command.path, ...command.arguments].join(' ') + file;
}

function table(rows: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`);
}

function optionRows(options: OptionSpecs): [string, string][] {
  return Object.entries({ ...options, ...helpOption }).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` ${spec.value}` : ''}`;
    return [flag, spec.description];
  });
}

const walkthroughExample = [
  'cat <<EOF | msctl api create externalnetwork -n /acme/team-b/dev/private-app -f -',
  'name: idp',
  'entries:',
  '  - idp.example.com',
  'servicePorts:',
  '  - tcp/443',
  'associatedTags:',
  '  - ext:name=idp',
  'EOF',
];

export function topHelp(): string {
  return [
    'msctl — the command-line client of the microseg policy API',
    '',
    'Usage: msctl COMMAND [ARGUMENTS] [OPTIONS]',
    '',
    'Commands:',
    ...table(commands.map((c) => [usageOf(c).replace(/^msctl /, ''), c.summary])),
    '',
    'Where msctl connects (each a flag, an environment variable, or the config file; in that order):',
    ...table([
      ['--api URL', 'MSCTL_API, config api (default http://127.0.0.1:7070)'],
      ['--token TOKEN', 'MSCTL_TOKEN, config token'],
      ['-n, --namespace NS', 'MSCTL_NAMESPACE, config namespace (default /)'],
    ]),
    '  The config file is $MSCTL_CONFIG, else ~/.config/microseg/msctl.yaml (see msctl config set --help).',
    '',
    `Kinds (singular or plural, any case, or the alias): ${kindList()}`,
    '',
    'Exit status: 0 done; 1 the policy API refused, could not be reached, or a file is wrong;',
    '2 the command line is wrong.',
    '',
    'Example:',
    ...walkthroughExample.map((line) => `  ${line}`),
    '',
    'Run msctl COMMAND --help for the options of a command, e.g. msctl api create --help.',
    '',
  ].join('\n');
}

export function groupHelp(group: string): string {
  const members = commands.filter((c) => c.path[0] === group);
  return [
    `msctl ${group} — ${groups[group] ?? ''}`,
    '',
    'Commands:',
    ...table(members.map((c) => [usageOf(c), c.summary])),
    '',
    `Run msctl ${group} COMMAND --help for its options.`,
    '',
  ].join('\n');
}

/** `args` are the arguments given with --help: `msctl api create service --help` also lists the fields of service. */
export function commandHelp(command: Command, args: readonly string[]): string {
  const lines = [`Usage: ${usageOf(command)} [OPTIONS]`, '', ...command.description, '', 'Options:', ...table(optionRows(command.options))];
  if (command.arguments[0] === 'KIND') {
    lines.push('', `Kinds (singular or plural, any case, or the alias): ${kindList()}`);
    const kind = args[0] === undefined ? undefined : findKind(args[0]);
    if (kind) lines.push('', `Fields of ${kind.name}: ${kind.fields.join(', ')}`);
    else lines.push(`Run msctl ${command.path.join(' ')} KIND --help to see the fields of a kind.`);
  }
  lines.push('', command.examples.length > 1 ? 'Examples:' : 'Example:', ...command.examples.map((line) => (line === '' ? '' : `  ${line}`)), '');
  return lines.join('\n');
}

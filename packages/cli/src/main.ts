// msctl's entry: parse the command line, dispatch, turn failures into
// messages on stderr and an exit code. `run` touches nothing but `io`.
import { parseArgs } from 'node:util';
import { helpOption, type Command, type OptionSpecs } from './commands/command.ts';
import { commands, groups } from './commands/index.ts';
import { CliError, exitCodes, UsageError } from './errors.ts';
import { commandHelp, groupHelp, topHelp } from './help.ts';
import type { IO } from './io.ts';
import { describeError } from './report.ts';
import { version } from './version.ts';

export type { IO } from './io.ts';

type ParseArgsOptions = Record<string, { type: 'string' | 'boolean'; short?: string }>;

function parseArgsOptions(specs: OptionSpecs): ParseArgsOptions {
  return Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, spec.short ? { type: spec.type, short: spec.short } : { type: spec.type }]));
}

const everyOption: ParseArgsOptions = parseArgsOptions(
  Object.assign({ version: { type: 'boolean', description: '' } }, helpOption, ...commands.map((c) => c.options)) as OptionSpecs,
);

export async function run(argv: readonly string[], io: IO): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    io.stderr.write(describeError(err));
    return err instanceof CliError ? err.exitCode : exitCodes.failure;
  }
}

async function dispatch(argv: readonly string[], io: IO): Promise<number> {
  // A lenient first pass only finds the command; its own options are checked next.
  const loose = parseArgs({ args: [...argv], options: everyOption, strict: false, allowPositionals: true });
  const help = loose.values.help === true;
  const [group, name] = loose.positionals;

  if (group === undefined) {
    if (loose.values.version === true) {
      io.stdout.write(`msctl ${version}\n`);
      return exitCodes.ok;
    }
    (help ? io.stdout : io.stderr).write(topHelp());
    return help ? exitCodes.ok : exitCodes.usage;
  }
  // Single-word commands (`msctl logs`) have no group.
  const single = commands.find((c) => c.path.length === 1 && c.path[0] === group);
  if (single) {
    if (help) {
      io.stdout.write(commandHelp(single, loose.positionals.slice(1)));
      return exitCodes.ok;
    }
    return runCommand(single, argv, io);
  }
  if (!Object.hasOwn(groups, group)) {
    const names = [...Object.keys(groups), ...commands.filter((c) => c.path.length === 1).map((c) => c.path[0])];
    throw new UsageError(`unknown command "${group}"`, [`commands: ${names.join(', ')}; see msctl --help`]);
  }
  if (name === undefined) {
    (help ? io.stdout : io.stderr).write(groupHelp(group));
    return help ? exitCodes.ok : exitCodes.usage;
  }
  const command = commands.find((c) => c.path[0] === group && c.path[1] === name);
  if (!command) {
    const names = commands.filter((c) => c.path[0] === group).map((c) => c.path[1]);
    throw new UsageError(`unknown command "${group} ${name}"`, [`msctl ${group} has: ${names.join(', ')}; see msctl ${group} --help`]);
  }
  if (help) {
    io.stdout.write(commandHelp(command, loose.positionals.slice(command.path.length)));
    return exitCodes.ok;
  }
  return runCommand(command, argv, io);
}

async function runCommand(command: Command, argv: readonly string[], io: IO): Promise<number> {
  const { values, positionals } = parseStrict(command, argv);
  const args = positionals.slice(command.path.length);
  // `[NAME]` marks an optional argument.
  const missing = command.arguments.slice(args.length).find((a) => !a.startsWith('['));
  if (missing !== undefined) throw new UsageError(`msctl ${command.path.join(' ')} needs ${missing}`, [`usage: see msctl ${command.path.join(' ')} --help`]);
  if (args.length > command.arguments.length) {
    throw new UsageError(`unexpected argument "${args[command.arguments.length]}" for msctl ${command.path.join(' ')}`, [
      `see msctl ${command.path.join(' ')} --help`,
    ]);
  }
  await command.run({ io, args, values });
  return exitCodes.ok;
}

function parseStrict(command: Command, argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: parseArgsOptions({ ...command.options, ...helpOption }), strict: true, allowPositionals: true });
  } catch (err) {
    const see = `see msctl ${command.path.join(' ')} --help`;
    const option = /'([^']+)'/.exec((err as Error).message)?.[1] ?? '';
    switch ((err as { code?: string }).code) {
      case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
        throw new UsageError(`unknown option ${option} for msctl ${command.path.join(' ')}`, [see]);
      case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
        throw new UsageError(
          `option ${option.replace(/ <value>$/, '')} ${/argument missing/.test((err as Error).message) ? 'needs a value' : 'takes no value'}`,
          [see],
        );
      default:
        throw new UsageError((err as Error).message, [see]);
    }
  }
}

/** For bin/msctl.js: runs on the real process and returns the exit code. */
export async function main(): Promise<number> {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(exitCodes.ok); // msctl … | head
    throw err;
  });
  return run(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
}

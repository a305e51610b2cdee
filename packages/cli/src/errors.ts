// Errors msctl reports to its user. Each knows its exit code; `hints` say how
// to fix the problem. Rendering happens once, in report.ts.

export const exitCodes = Object.freeze({ ok: 0, failure: 1, usage: 2 });

export class CliError extends Error {
  readonly exitCode: number;
  readonly hints: readonly string[];

  constructor(message: string, options: { exitCode?: number; hints?: readonly string[]; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'CliError';
    this.exitCode = options.exitCode ?? exitCodes.failure;
    this.hints = options.hints ?? [];
  }
}

/** The command line itself is wrong: unknown command, kind or option, missing argument. Exit 2. */
export class UsageError extends CliError {
  constructor(message: string, hints: readonly string[] = []) {
    super(message, { exitCode: exitCodes.usage, hints });
    this.name = 'UsageError';
  }
}

/** An input file (or the config file) cannot be read or parsed. Exit 1. */
export class InputError extends CliError {
  constructor(message: string, options: { hints?: readonly string[]; cause?: unknown } = {}) {
    super(message, { exitCode: exitCodes.failure, ...options });
    this.name = 'InputError';
  }
}

/** A list was processed in order and one item failed: says how far it got, then the failure. */
export class StoppedError extends CliError {
  readonly failure: unknown;

  constructor(progress: string, failure: unknown, hints: readonly string[] = []) {
    super(progress, { exitCode: failure instanceof CliError ? failure.exitCode : exitCodes.failure, hints, cause: failure });
    this.name = 'StoppedError';
    this.failure = failure;
  }
}

// Runs msctl in-process, capturing what it prints, with an environment that
// never reads the developer's own config file.
import { Readable } from 'node:stream';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../main.ts';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function runCli(argv: readonly string[], options: { stdin?: string; env?: Record<string, string | undefined> } = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, {
    stdin: Readable.from([options.stdin ?? '']),
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
    env: { MSCTL_CONFIG: '/nonexistent/msctl.yaml', ...options.env },
  });
  return { code, stdout, stderr };
}

export async function temporaryDirectory(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'msctl-test-'));
}

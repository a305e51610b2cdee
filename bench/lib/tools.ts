// The benchmark's outside tools: Debian's wrk, nginx and h2load (nghttp2-client). Installed with apt-get when
// missing and this process is root; otherwise the error names the command to run.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface Tool {
  name: string;
  path: string;
  apt: string;
}

export const WRK: Tool = { name: 'wrk', path: '/usr/bin/wrk', apt: 'wrk' };
export const NGINX: Tool = { name: 'nginx', path: '/usr/sbin/nginx', apt: 'nginx' };
export const H2LOAD: Tool = { name: 'h2load', path: '/usr/bin/h2load', apt: 'nghttp2-client' };

export class MissingToolError extends Error {}

function found(tool: Tool): string | undefined {
  if (existsSync(tool.path)) return tool.path;
  try {
    const path = execFileSync('sh', ['-c', `command -v ${tool.name}`], { encoding: 'utf8' }).trim();
    return path || undefined;
  } catch {
    return undefined;
  }
}

/** The tools' paths; installs the missing ones when root (Debian), else throws with the command to run. */
export function ensureTools(tools: Tool[], log: (line: string) => void): Record<string, string> {
  const missing = tools.filter((t) => !found(t));
  if (missing.length > 0) {
    const packages = missing.map((t) => t.apt).join(' ');
    const command = `apt-get update && apt-get install -y --no-install-recommends ${packages}`;
    if (process.getuid?.() !== 0)
      throw new MissingToolError(`the benchmark needs ${missing.map((t) => t.name).join(' and ')}; install with:\n  sudo ${command}`);
    log(`installing ${packages} (${command}) …`);
    // policy-rc.d 101: Debian's maintainer scripts must not start a system nginx on port 80.
    const result = spawnSync(
      'sh',
      [
        '-c',
        `printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d; ${command}; rc=$?; rm -f /usr/sbin/policy-rc.d; exit $rc`,
      ],
      {
        stdio: 'inherit',
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
        timeout: 600_000,
      },
    );
    if (result.status !== 0)
      throw new MissingToolError(`installing ${packages} failed (exit ${result.status ?? result.signal}); run it yourself:\n  ${command}`);
  }
  const paths: Record<string, string> = {};
  for (const tool of tools) {
    const path = found(tool);
    if (!path) throw new MissingToolError(`${tool.name} is still missing after the installation`);
    paths[tool.name] = path;
  }
  return paths;
}

// The Dockerfile, read as Docker reads it (continuations, comments, ARGs before FROM), and the
// production dependency tree it installs: every import the image runs resolves without dev
// dependencies, so `npm ci --omit=dev` is enough.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { readText, repoPath, repoRoot, serviceDirs } from './lib.ts';

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  base: string;
  name?: string;
  instructions: Instruction[];
}

function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw) && current === '') continue;
    if (/^\s*#/.test(raw)) continue;
    const line = raw.replace(/\s+$/, '');
    if (line.endsWith('\\')) current += `${line.slice(0, -1)} `;
    else {
      current += line;
      if (current.trim()) logical.push(current.trim());
      current = '';
    }
  }
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of logical) {
    const [keyword, ...rest] = line.split(/\s+/);
    const instruction = { keyword: keyword!.toUpperCase(), args: rest.join(' ') };
    if (instruction.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args)!;
      const base = m[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_a, x: string, y: string) => args[x ?? y] ?? '');
      stages.push({ base, name: m[2], instructions: [] });
    } else if (instruction.keyword === 'ARG' && stages.length === 0) {
      const [name, value] = instruction.args.split('=');
      args[name!] = value ?? '';
    } else stages.at(-1)?.instructions.push(instruction);
  }
  return { args, stages };
}

const dockerfile = parseDockerfile(readText('Dockerfile'));
const runtime = dockerfile.stages.at(-1)!;
const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);

describe('Dockerfile', () => {
  test('multi-stage on Node 24 slim; later stages copy only from earlier ones', () => {
    assert.ok(dockerfile.stages.length >= 3, 'several stages');
    for (const stage of dockerfile.stages) assert.match(stage.base, /^node:24(\.\d+)*-slim$/, `${stage.name ?? 'a stage'} is based on node:24-slim`);
    const names = dockerfile.stages.map((s) => s.name);
    for (const [i, stage] of dockerfile.stages.entries()) {
      for (const copy of all(stage, 'COPY')) {
        const from = /--from=(\S+)/.exec(copy.args)?.[1];
        if (from) assert.ok(names.slice(0, i).includes(from), `COPY --from=${from} names an earlier stage`);
      }
    }
  });

  test('production dependencies only, with npm ci over the workspaces, and the root `node` package pruned', () => {
    const runs = dockerfile.stages.flatMap((s) => all(s, 'RUN').map((r) => r.args));
    const install = runs.find((r) => /\bnpm ci\b/.test(r));
    assert.ok(install, 'npm ci runs');
    assert.match(install, /--omit=dev/);
    assert.doesNotMatch(install, /--workspace|-w /, 'every workspace is installed (npm ci at the root)');
    assert.match(install, /rm -rf[^&;]*node_modules\/node\b/, 'the `node` package is removed');
    assert.match(install, /node_modules\/\.bin\/node/, 'and its node_modules/.bin/node link');
    assert.ok(
      runs.some((r) => r.includes('test ! -e node_modules/.bin/node')),
      'the image checks that no node but its own is left',
    );
    const pkg = JSON.parse(readText('package.json')) as { dependencies?: Record<string, string> };
    assert.ok(pkg.dependencies?.['node'], 'the root depends on the node package (what the prune is for)');
  });

  test('every service loads in the image; the final stage runs as a non-root user with the image node', () => {
    const checks = all(runtime, 'RUN')
      .map((r) => r.args)
      .join('\n');
    const loop = /for service in ([a-z ]+); do/.exec(checks);
    assert.ok(loop, 'the image checks the services');
    assert.deepEqual(loop[1]!.trim().split(/\s+/).sort(), serviceDirs(), 'each service of the repository');
    assert.match(checks, /--check-config/);
    const users = all(runtime, 'USER');
    assert.equal(users.length, 1);
    const [user] = users[0]!.args.split(':');
    assert.match(user!, /^\d+$/, 'a numeric user (Kubernetes can verify runAsNonRoot)');
    assert.notEqual(Number(user), 0, 'not root');
    const last = runtime.instructions.findLastIndex((i) => i.keyword === 'USER');
    assert.ok(
      runtime.instructions.slice(last).every((i) => i.keyword !== 'RUN'),
      'nothing runs as root after USER',
    );
    const entrypoint = JSON.parse(all(runtime, 'ENTRYPOINT')[0]!.args) as string[];
    assert.deepEqual(entrypoint, ['/bin/sh', '/app/deploy/docker/entrypoint.sh']);
    assert.ok(existsSync(repoPath('deploy/docker/entrypoint.sh')));
    const health = all(runtime, 'HEALTHCHECK')[0]!.args;
    assert.match(health, /CMD \["\/usr\/local\/bin\/node", "\/app\/deploy\/docker\/healthcheck\.ts"\]/);
    const workdir = all(runtime, 'WORKDIR').at(-1)!.args;
    assert.equal(workdir, '/app');
    assert.match(
      all(runtime, 'ENV')
        .map((e) => e.args)
        .join(' '),
      /MICROSEG_DATA_DIR=\/data/,
    );
    assert.match(checks, /chown -R 1000:1000 \/data \/secrets \/credentials/);
  });

  test('the entry point runs every service by name with the image node', () => {
    const script = readText('deploy/docker/entrypoint.sh');
    // The cases that run services/<name>/src/main.ts (the gateway has its own: its Node arguments differ).
    const serviceCases = [...script.matchAll(/^\s+([a-z]+(?: \| [a-z]+)*)\)\n(?:\s+#[^\n]*\n)*\s+exec "\$node"[^\n]*services\/\$command\/src\/main\.ts/gm)];
    assert.ok(serviceCases.length > 0, 'a case runs services/<name>/src/main.ts');
    assert.deepEqual(serviceCases.flatMap((c) => c[1]!.split(' | ')).sort(), serviceDirs());
    assert.match(script, /node="\$\{MICROSEG_NODE:-\/usr\/local\/bin\/node\}"/);
    assert.match(script, /--import @microseg\/telemetry\/register/);
    assert.match(script, /idp \| app\)/);
  });

  test('.dockerignore keeps dependencies, data, git and test output out of the context', () => {
    const ignored = readText('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const entry of ['**/node_modules', '.data', '.git', 'test-results']) assert.ok(ignored.includes(entry), entry);
    // The image needs these: never ignore them.
    for (const needed of ['deploy/demo', 'deploy/docker', 'services', 'packages', 'proto']) assert.ok(!ignored.includes(needed), needed);
  });

  test('every import the image runs comes from production dependencies (what npm ci --omit=dev installs)', () => {
    const lock = JSON.parse(readText('package-lock.json')) as { packages: Record<string, { dev?: boolean; devOptional?: boolean; link?: boolean }> };
    const entries = [
      ...serviceDirs().map((s) => `services/${s}/src/main.ts`),
      'packages/telemetry/src/register.ts',
      'packages/demo/src/main.ts',
      'packages/cli/src/main.ts',
      'deploy/docker/init-demo.ts',
      'deploy/docker/healthcheck.ts',
      'deploy/docker/container-network.ts',
    ];
    const seen = new Set<string>();
    const problems: string[] = [];
    const workspaceDir = (name: string) => {
      const entry = lock.packages[`node_modules/${name}`];
      return entry?.link ? (lock.packages[`node_modules/${name}`] as { resolved?: string }).resolved : undefined;
    };
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(join(repoRoot, file), 'utf8');
      const specifiers = [
        ...text.matchAll(/^\s*import\s+(?!type\b)(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm),
        ...text.matchAll(/^\s*export\s+(?!type\b)[^'";]*?\s+from\s+['"]([^'"]+)['"]/gm),
        ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
      ].map((m) => m[1]!);
      for (const spec of specifiers) {
        if (spec.startsWith('node:')) continue;
        if (spec.startsWith('.')) {
          const target = relative(repoRoot, join(dirname(join(repoRoot, file)), spec));
          if (target.endsWith('.ts')) visit(target);
          continue;
        }
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        const workspace = workspaceDir(name);
        if (workspace) {
          const pkg = JSON.parse(readText(workspace, 'package.json')) as { exports?: Record<string, string> };
          const sub = spec === name ? '.' : `.${spec.slice(name.length)}`;
          const target = pkg.exports?.[sub];
          if (target?.endsWith('.ts')) visit(join(workspace, target));
          continue;
        }
        const entry = lock.packages[`node_modules/${name}`];
        if (!entry) problems.push(`${file}: ${spec} is not in package-lock.json`);
        else if (entry.dev || entry.devOptional) problems.push(`${file}: ${spec} is a dev dependency, missing from the image`);
      }
    };
    for (const entry of entries) visit(entry);
    assert.ok(seen.size > 50, `the walk reached the code (${seen.size} files)`);
    assert.deepEqual(problems, []);
  });
});

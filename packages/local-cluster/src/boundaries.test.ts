// The local cluster is a module of its own: `npm start` imports it directly, and the test kit builds on it,
// never the other way round. A test-only dependency here would put test code on the path of `npm start`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './cluster.ts';

const here = join(repoRoot, 'packages/local-cluster');
const importsOf = (file: string) =>
  [...readFileSync(file, 'utf8').matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g)].map((m) => (m[1] ?? m[2])!);
const sources = readdirSync(join(here, 'src')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
const testOnly = ['@microseg/testkit', 'testcontainers', 'playwright-core'];

test('the local cluster imports nothing from the test kit or test-only packages', () => {
  assert.ok(sources.length >= 3, `sources found: ${sources.join(', ')}`);
  const offending = sources.flatMap((file) =>
    importsOf(join(here, 'src', file))
      .filter((spec) => testOnly.some((t) => spec === t || spec.startsWith(`${t}/`)) || /(^|\/)testkit(\/|$)/.test(spec))
      .map((spec) => `${file} imports ${spec}`),
  );
  assert.deepEqual(offending, []);
  const manifest = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  assert.deepEqual(
    Object.keys(manifest.dependencies ?? {}).filter((d) => testOnly.includes(d)),
    [],
  );
});

test('npm start runs the local cluster directly, not through the test kit', () => {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const entry = /node\s+(\S+\.ts)/.exec(manifest.scripts.start ?? '')?.[1];
  assert.ok(entry, `npm start runs a TypeScript file (${manifest.scripts.start})`);
  const imports = importsOf(join(repoRoot, entry));
  assert.ok(imports.includes('@microseg/local-cluster'), `${entry} imports @microseg/local-cluster`);
  assert.deepEqual(
    imports.filter((spec) => spec.includes('testkit')),
    [],
  );
});

test('the test kit re-exports the local cluster rather than keeping a copy', () => {
  const kit = join(repoRoot, 'packages/testkit/src');
  const copies = readdirSync(kit).filter((f) => ['cluster.ts', 'ports.ts'].includes(f));
  assert.deepEqual(copies, []);
  assert.ok(importsOf(join(kit, 'index.ts')).includes('@microseg/local-cluster'));
});

// The README is a landing page: what microseg is, a picture, the two commands, what you see, and links.
// Everything else lives under docs/ (and bench/, test/), each page reachable from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readRepoFile, repoRoot } from './repo-files.ts';

const readme = readRepoFile('README.md');

test('the README is at most 150 lines', () => {
  const lines = readme.split('\n').length;
  assert.ok(lines <= 150, `README.md has ${lines} lines`);
});

test('it gives the two commands, in one block', () => {
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.ok(
    blocks.some((b) => /^npm ci && npm start$/m.test(b) && /^npm test$/m.test(b)),
    'npm ci && npm start, then npm test',
  );
});

test('it links every page of docs/, and bench/ and test/ READMEs', () => {
  const pages = readdirSync(join(repoRoot, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`);
  const linked = new Set([...readme.matchAll(/\]\(([^)#\s]+)/g)].map((m) => m[1]!));
  assert.deepEqual(
    [...pages, 'bench/README.md', 'test/README.md', 'deploy/README.md'].filter((p) => !linked.has(p)),
    [],
  );
});

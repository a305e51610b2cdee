// What a namespace path is and what "inside" means, defined once (namespaces.ts). The last tests fail when a
// service keeps its own copy: a namespace-path regex, a subtree check, or a log event built by hand instead
// of a kind of the catalogue (Bus.emitEvent).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isNamespacePath, NAMESPACE_SEGMENT, withinSelection, withinSubtree } from './namespaces.ts';

test('namespace paths: /, names of letters, digits, . _ -, no dot segments, no empty segments', () => {
  const cases: Array<[string, boolean]> = [
    ['/', true],
    ['/acme', true],
    ['/acme/team-b/dev', true],
    ['/a.b/c_d/e-f', true],
    ['/acme/.hidden', true],
    ['', false],
    ['acme', false],
    ['/acme/', false],
    ['//acme', false],
    ['/acme//b', false],
    ['/acme/..', false],
    ['/acme/../b', false],
    ['/./acme', false],
    ['/acme b', false],
    ['/acme, /b', false],
    ['/ácme', false],
  ];
  for (const [path, valid] of cases) assert.equal(isNamespacePath(path), valid, path);
  assert.ok(NAMESPACE_SEGMENT.test('team-b.dev_1'));
  assert.ok(!NAMESPACE_SEGMENT.test('a/b'));
});

test('withinSubtree: the root itself and what lies below it, never a sibling sharing a prefix', () => {
  const cases: Array<[namespace: string, root: string, inside: boolean]> = [
    ['/a', '/a', true],
    ['/a/b/c', '/a', true],
    ['/ab', '/a', false],
    ['/a', '/a/b', false],
    ['/', '/', true],
    ['/x/y', '/', true],
    ['/', '/a', false],
  ];
  for (const [namespace, root, inside] of cases) assert.equal(withinSubtree(namespace, root), inside, `${namespace} in ${root}`);
});

test('withinSelection: the namespace listed, and its subtree only when recursive', () => {
  const cases: Array<[namespace: string, root: string, recursive: boolean, shown: boolean]> = [
    ['/a', '/a', false, true],
    ['/a', '/a', true, true],
    ['/a/b', '/a', false, false],
    ['/a/b', '/a', true, true],
    ['/ab', '/a', true, false],
    ['/a', '/', false, false],
    ['/a', '/', true, true],
    ['/', '/', false, true],
  ];
  for (const [namespace, root, recursive, shown] of cases)
    assert.equal(withinSelection(namespace, root, recursive), shown, `${namespace} in ${root}${recursive ? ' recursive' : ''}`);
});

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.parentPath.includes('node_modules'))
    .map((e) => join(e.parentPath, e.name));
}

/** Lines of services and packages (contracts and the bus, which emits events, aside) that match `pattern`. */
async function offenders(pattern: RegExp, exempt: (file: string) => boolean = () => false): Promise<string[]> {
  const files = [...(await sourceFiles(join(root, 'services'))), ...(await sourceFiles(join(root, 'packages')))].filter(
    (f) => !f.includes(join('packages', 'contracts')) && !f.includes(join('packages', 'bus')) && !exempt(relative(root, f)),
  );
  assert.ok(files.length > 20, 'scanned too few files');
  const found: string[] = [];
  for (const file of files) {
    (await readFile(file, 'utf8')).split('\n').forEach((line, i) => {
      if (pattern.test(line)) found.push(`${relative(root, file)}:${i + 1}: ${line.trim()}`);
    });
  }
  return found;
}

test('no service or package keeps its own namespace-path regex or subtree check', async () => {
  // The character class of a namespace segment, and `x.startsWith(`${root}/`)`, the heart of withinSubtree.
  assert.deepEqual(await offenders(/A-Za-z0-9\._-\]\+|startsWith\(`\$\{[^}]+\}\/`\)|function withinSubtree/), []);
});

test('no service builds a log event itself: every one is a kind of the catalogue, recorded with Bus.emitEvent', async () => {
  assert.deepEqual(
    await offenders(/publishEvent\([^)]*LogEventSchema|MessageInitShape<typeof LogEventSchema>|eventCatalogue\.\w+\.(level|category|title|origin)/),
    [],
  );
});

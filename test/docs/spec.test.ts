// docs/spec.md is the behaviour microseg promises, and the one place `SPEC §N` points to: every citation
// anywhere in the repository names a section that exists there, and no file points at a specification
// (or anything else) outside the repository, where users of microseg would never find it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { anchorsOf, proseOf, readRepoFile, repoRoot, repoTextFiles } from './repo-files.ts';

const specPath = 'docs/spec.md';
const spec = readRepoFile(specPath);

/** `## 3. Request handling`, `### 3.2 Malformed …` → 3, 3.2. */
export function sectionsOf(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#{2,4}\s+(\d+(?:\.\d+)*)\.?\s/gm)].map((m) => m[1]!));
}

/** Every section a citation names: `SPEC §4, §10`, `SPEC §3–§6 and §8`, `SPEC §3.2`, `(SPEC §5, §10)`. */
export function citationsOf(text: string): string[] {
  const cited: string[] = [];
  for (const m of text.matchAll(/SPEC\s?((?:§\s?\d+(?:\.\d+)*(?:\s*(?:,|and|–|-|to)\s*)?)+)/g)) {
    for (const s of m[1]!.matchAll(/§\s?(\d+(?:\.\d+)*)/g)) cited.push(s[1]!);
  }
  return cited;
}

test('citations are read as sections (the parser itself)', () => {
  assert.deepEqual(citationsOf('see SPEC §4, §10 and SPEC §3–§6 and §8; SPEC §3.2 (steps 5 and 7)'), ['4', '10', '3', '6', '8', '3.2']);
  assert.deepEqual([...sectionsOf('## 3. Request\n### 3.2 Paths\n#### 3.2.1 Dots\n# 9 title\n')], ['3', '3.2', '3.2.1']);
});

test('docs/spec.md keeps the numbering §1–§10 and says what SPEC §N means', () => {
  const sections = sectionsOf(spec);
  for (let n = 1; n <= 10; n++) assert.ok(sections.has(String(n)), `§${n} is a section of ${specPath}`);
  assert.match(spec, /`SPEC §N`/, 'the page says how code cites it');
  for (const s of sections) {
    const parent = s.split('.').slice(0, -1).join('.');
    if (parent) assert.ok(sections.has(parent), `§${s} sits under a §${parent}`);
  }
});

test('every SPEC § cited in the repository is a section of docs/spec.md', () => {
  const sections = sectionsOf(spec);
  let count = 0;
  const missing: string[] = [];
  for (const file of repoTextFiles()) {
    const lines = readRepoFile(file).split('\n');
    lines.forEach((line, i) => {
      for (const s of citationsOf(line)) {
        count++;
        if (!sections.has(s)) missing.push(`${file}:${i + 1} cites SPEC §${s}`);
      }
    });
  }
  assert.ok(count >= 60, `the repository cites the spec (found ${count} citations)`);
  assert.deepEqual(missing, []);
});

test("docs/spec.md's own § references name its sections", () => {
  const sections = sectionsOf(spec);
  const own = [...proseOf(spec).matchAll(/§\s?(\d+(?:\.\d+)*)/g)].map((m) => m[1]!);
  assert.ok(own.length > 20);
  assert.deepEqual(
    own.filter((s) => !sections.has(s)).map((s) => `§${s}`),
    [],
  );
});

// Outside the repository: the brief we were given (a sibling directory), or any relative path that climbs
// out. Test fixtures are data (hostile payloads), not links.
const outsidePointers = /(?:\.\.\/)+shared\/|\bshared\/(?:SPEC|MACHINE-NOTES|STYLE|CONSOLE)\.md|\bshared\/reference\//;
const isFixture = (file: string) => /(^|\/)fixtures\//.test(file);

test('no file points at ../shared or another place outside the repository', () => {
  const found: string[] = [];
  for (const file of repoTextFiles()) {
    if (isFixture(file)) continue;
    readRepoFile(file)
      .split('\n')
      .forEach((line, i) => {
        if (outsidePointers.test(line)) found.push(`${file}:${i + 1}: ${line.trim().slice(0, 120)}`);
      });
  }
  assert.deepEqual(found, []);
});

test('every relative link in the Markdown files stays inside the repository and reaches a file (and heading) there', () => {
  const problems: string[] = [];
  const markdown = repoTextFiles().filter((f) => f.endsWith('.md') && !isFixture(f));
  assert.ok(markdown.length >= 10);
  for (const file of markdown) {
    const prose = proseOf(readRepoFile(file));
    for (const m of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: — not a path
      const [path, anchor] = target.split('#') as [string, string | undefined];
      const resolved = path ? normalize(join(dirname(file), decodeURIComponent(path))) : file;
      if (resolved.startsWith('..') || relative(repoRoot, join(repoRoot, resolved)).startsWith('..')) {
        problems.push(`${file}: ${target} is outside the repository`);
        continue;
      }
      if (!existsSync(join(repoRoot, resolved))) {
        problems.push(`${file}: ${target} does not exist`);
        continue;
      }
      if (anchor && resolved.endsWith('.md') && !anchorsOf(readRepoFile(resolved)).has(anchor))
        problems.push(`${file}: ${target} names no heading of ${resolved}`);
    }
  }
  assert.deepEqual(problems, []);
});

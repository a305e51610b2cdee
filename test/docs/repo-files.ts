// The repository's own text files, as the docs tests read them: what git tracks plus new files it does not
// ignore (so that a file is checked before its first commit); without git, a walk that skips what
// .gitignore names. Dependencies, generated data and binaries are never read.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const readRepoFile = (path: string) => readFileSync(join(repoRoot, path), 'utf8');

const binary = /\.(png|jpe?g|gif|ico|woff2?|ttf|pdf|gz|tgz|zip|wasm)$/i;
const skippedDirs = new Set(['node_modules', '.git', '.data', 'test-results', 'dist']);

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!skippedDirs.has(entry.name) && !['bench/tmp', 'bench/.scratch'].includes(relative(repoRoot, join(dir, entry.name))))
        walk(join(dir, entry.name), out);
    } else if (entry.isFile()) out.push(relative(repoRoot, join(dir, entry.name)));
  }
}

let cached: string[] | undefined;

/** Paths relative to the repository root, text files only. */
export function repoTextFiles(): string[] {
  if (cached) return cached;
  let files: string[];
  try {
    files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: repoRoot,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    })
      .split('\0')
      .filter(Boolean);
  } catch {
    files = [];
    walk(repoRoot, files);
  }
  cached = [...new Set(files)].filter((f) => !binary.test(f) && f !== 'package-lock.json' && !f.startsWith('proto/gen/') && isSmallFile(f)).sort();
  return cached;
}

function isSmallFile(path: string): boolean {
  try {
    const stat = statSync(join(repoRoot, path));
    return stat.isFile() && stat.size < 2 * 1024 * 1024;
  } catch {
    return false; // deleted from the work tree, still in the index
  }
}

/** Markdown without fenced code blocks and inline code, line numbers kept. */
export function proseOf(markdown: string): string {
  return markdown.replace(/^(```|~~~)[\s\S]*?^\1/gm, (block) => block.replace(/[^\n]/g, ' ')).replace(/`[^`\n]*`/g, (span) => ' '.repeat(span.length));
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slugOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a Markdown file's headings (duplicates numbered as GitHub does). */
export function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const m of proseOfHeadings(markdown)) {
    const slug = slugOf(m);
    const n = seen.get(slug) ?? 0;
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
    seen.set(slug, n + 1);
  }
  return anchors;
}

function proseOfHeadings(markdown: string): string[] {
  const withoutFences = markdown.replace(/^(```|~~~)[\s\S]*?^\1/gm, '');
  return [...withoutFences.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)].map((m) => m[1]!);
}

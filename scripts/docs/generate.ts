// `npm run docs:generate`: rebuild the generated tables of the docs from the code, keeping what people
// wrote in their last column. `--check` writes nothing and exits 1 when a file is out of date (the drift
// tests in test/docs say the same, with the names that differ).
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderTable, replaceBlocks, type Table } from './blocks.ts';
import { configurationBlock } from './configuration.ts';
import { errorsTable } from './errors.ts';
import { eventsTable } from './events.ts';
import { jetstreamTable, permissionsTable, subjectsTable } from './subjects.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The documents with generated blocks. */
export const generatedDocs = ['docs/configuration.md', 'docs/architecture.md', 'docs/errors.md'];

/** The table a block name stands for: `config:<group or service>`, `subjects`, `permissions`, `jetstream`, `errors`, `events`. */
export function tableFor(name: string): Table | undefined {
  const [kind, arg] = name.split(':');
  if (kind === 'config' && arg) return configurationBlock(arg);
  if (kind === 'subjects') return subjectsTable();
  if (kind === 'permissions') return permissionsTable();
  if (kind === 'jetstream') return jetstreamTable();
  if (kind === 'errors') return errorsTable();
  if (kind === 'events') return eventsTable();
  return undefined;
}

/** A document with every generated block rebuilt. */
export function regenerate(markdown: string, source: string): string {
  return replaceBlocks(
    markdown,
    (name, previous) => {
      const table = tableFor(name);
      return table && renderTable(table, previous);
    },
    source,
  );
}

if (import.meta.main) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const doc of generatedDocs) {
    const file = join(repoRoot, doc);
    const current = readFileSync(file, 'utf8');
    const fresh = regenerate(current, doc);
    if (fresh === current) continue;
    stale++;
    if (check) console.error(`${doc} is out of date: run npm run docs:generate`);
    else {
      writeFileSync(file, fresh);
      console.log(`${doc} regenerated`);
    }
  }
  if (check && stale > 0) process.exit(1);
  if (!check && stale === 0) console.log('docs are up to date');
}

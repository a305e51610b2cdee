// Every NATS subject, stream, KV bucket and Redis key is named in this package
// only. This fails when another module spells one out itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const NAME_LITERAL = /['"`](?:(?:svc|evt|bcast)\.[a-z]+\.v\d|microseg:[a-z]|MICROSEG_[A-Z]+['"`]|microseg_[a-z]+['"`])/;

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.parentPath.includes('node_modules'))
    .map((e) => join(e.parentPath, e.name));
}

test('no module outside @microseg/contracts spells out a subject, stream, bucket or Redis key', async () => {
  const files = [...(await sourceFiles(join(root, 'services'))), ...(await sourceFiles(join(root, 'packages')))].filter(
    (f) => !f.includes(join('packages', 'contracts')),
  );
  assert.ok(files.length > 20, 'scanned too few files');
  const offenders: string[] = [];
  for (const file of files) {
    const lines = (await readFile(file, 'utf8')).split('\n');
    lines.forEach((line, i) => {
      if (NAME_LITERAL.test(line)) offenders.push(`${relative(root, file)}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(offenders, []);
});

// The generated code in gen/ is committed; this fails when it no longer
// matches the .proto files (run `npm run proto:generate` and commit).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const protoDir = dirname(fileURLToPath(import.meta.url));
const bin = join(protoDir, '..', 'node_modules', '.bin');
const buf = join(bin, 'buf');
// protoc-gen-es is found on PATH, and must run on the project's Node.
const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

test('generated TypeScript matches the .proto files', async () => {
  const out = await mkdtemp(join(tmpdir(), 'microseg-proto-'));
  try {
    execFileSync(buf, ['generate', '--output', out], { cwd: protoDir, stdio: 'pipe', env });
    const expected = join(out, 'gen');
    const committed = join(protoDir, 'gen');
    const files = await listFiles(expected);
    assert.deepEqual(await listFiles(committed), files, 'gen/ has missing or extra files: run npm run proto:generate');
    for (const file of files) {
      const [want, have] = await Promise.all([readFile(join(expected, file), 'utf8'), readFile(join(committed, file), 'utf8')]);
      assert.equal(have, want, `proto/gen/${file} is stale: run npm run proto:generate`);
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test('the .proto files pass buf lint', () => {
  execFileSync(buf, ['lint'], { cwd: protoDir, stdio: 'pipe', env });
});

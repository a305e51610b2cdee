// The references generated from the code — configuration (zod schemas), NATS subjects and permissions
// (packages/contracts) and error codes (packages/errors) — against the docs that hold them. Each check
// names what differs; `npm run docs:generate` rebuilds the tables and keeps the hand-written column.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { busPermissions, serviceIdentities } from '@microseg/contracts';
import { errorCodes } from '@microseg/errors';
import { blocksOf, cellsOf, keyOf, renderTable, TODO } from '../../scripts/docs/blocks.ts';
import { ownShape, serviceSchemas, sharedGroups } from '../../scripts/docs/configuration.ts';
import { generatedDocs, regenerate, tableFor } from '../../scripts/docs/generate.ts';
import { contractSubjects, covers, permissionSubjects } from '../../scripts/docs/subjects.ts';
import { proseOf, readRepoFile, repoRoot, repoTextFiles } from './repo-files.ts';

/** The rows of a block's table: key → cells. */
function rowsOf(body: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  const lines = body.split('\n').filter((l) => l.startsWith('|'));
  for (const line of lines.slice(2)) {
    const cells = cellsOf(line);
    rows.set(keyOf(cells[0]!), cells);
  }
  return rows;
}

const blocksIn = (doc: string) => new Map(blocksOf(readRepoFile(doc)).map((b) => [b.name, b.body]));
const difference = (a: Iterable<string>, b: Iterable<string>) => {
  const other = new Set(b);
  return [...a].filter((x) => !other.has(x));
};

describe('docs/configuration.md and the zod schemas', () => {
  const blocks = blocksIn('docs/configuration.md');

  test('every service under services/ has its table', () => {
    const services = readdirSync(join(repoRoot, 'services'), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
    assert.deepEqual(difference(services, Object.keys(serviceSchemas)), [], 'the generator knows every service');
    assert.deepEqual(
      difference(
        services.map((s) => `config:${s}`),
        blocks.keys(),
      ),
      [],
      'each has a generated table',
    );
    for (const group of Object.keys(sharedGroups)) assert.ok(blocks.has(`config:${group}`), `the shared group ${group} has its table`);
  });

  test('a variable in a schema is in the doc, and a variable in the doc is in the schema', () => {
    const problems: string[] = [];
    const expected: Record<string, string[]> = {
      ...Object.fromEntries(Object.entries(sharedGroups).map(([g, shape]) => [`config:${g}`, Object.keys(shape)])),
      ...Object.fromEntries(Object.entries(serviceSchemas).map(([s, schema]) => [`config:${s}`, Object.keys(ownShape(schema))])),
    };
    for (const [block, variables] of Object.entries(expected)) {
      const documented = [...rowsOf(blocks.get(block) ?? '').keys()];
      for (const v of difference(variables, documented)) problems.push(`${block}: ${v} is in the schema but not in docs/configuration.md`);
      for (const v of difference(documented, variables)) problems.push(`${block}: ${v} is in docs/configuration.md but not in the schema`);
    }
    // Every schema variable is documented somewhere (a service's table or a shared group's).
    const everyDocumented = new Set([...blocks.values()].flatMap((b) => [...rowsOf(b).keys()]));
    const everyVariable = Object.values(serviceSchemas).flatMap((s) => Object.keys(s.shape));
    for (const v of difference(everyVariable, everyDocumented)) problems.push(`${v} has no row at all`);
    assert.deepEqual(problems, []);
  });

  test("each row's default and accepted values are the schema's", () => {
    const problems: string[] = [];
    for (const [name, body] of blocks) {
      const table = tableFor(name);
      if (!table) continue;
      const documented = rowsOf(body);
      for (const row of table.rows) {
        const cells = documented.get(row.key);
        if (cells && cells.slice(0, row.cells.length).join(' | ') !== row.cells.join(' | '))
          problems.push(`${name}: ${row.key} says "${cells.slice(1, row.cells.length).join(' | ')}", the schema "${row.cells.slice(1).join(' | ')}"`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test('every other variable the page names is read by some part of microseg', () => {
    const schemaVariables = new Set(Object.values(serviceSchemas).flatMap((s) => Object.keys(s.shape)));
    const readInSource = new Set<string>();
    const sources = repoTextFiles().filter(
      (f) => /^(packages\/[^/]+\/src|services\/[^/]+\/src|scripts|deploy\/docker)\//.test(f) && /\.(ts|sh)$/.test(f) && !f.endsWith('.test.ts'),
    );
    for (const file of sources)
      for (const m of readRepoFile(file).matchAll(/['"`]([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)['"`]|env\.([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)|\$\{([A-Z][A-Z0-9_]+):-/g))
        readInSource.add((m[1] ?? m[2] ?? m[3])!);
    const named = [...new Set([...readRepoFile('docs/configuration.md').matchAll(/`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?:=[^`]*)?`/g)].map((m) => m[1]!))];
    const known = (n: string): boolean =>
      schemaVariables.has(n) || readInSource.has(n) || n.startsWith('OTEL_') || (n.endsWith('_FILE') && known(n.slice(0, -5)));
    assert.ok(named.length > 50, `the page names variables (${named.length})`);
    assert.deepEqual(
      named.filter((n) => !known(n)),
      [],
    );
  });
});

describe('docs/architecture.md and packages/contracts', () => {
  const doc = readRepoFile('docs/architecture.md');
  const backticked = new Set([...doc.matchAll(/`([^`\s]+)`/g)].map((m) => m[1]!));

  test('every subject of `subjects` and every subject of the access table appears in the doc', () => {
    const missing = [...new Set([...contractSubjects(), ...permissionSubjects(), ...serviceIdentities.flatMap((id) => busPermissions[id].publish)])].filter(
      (s) => !backticked.has(s),
    );
    assert.deepEqual(missing, []);
  });

  test('every subject the doc names is one of the contracts (a `<placeholder>` stands for one token or more)', () => {
    const known = [...contractSubjects(), ...permissionSubjects()];
    const subjectLike = [...backticked].filter((t) => /^(svc|bcast|evt|_INBOX|\$JS|\$KV)\./.test(t));
    assert.ok(subjectLike.length > 40);
    const unknown = subjectLike.filter((t) => {
      if (known.includes(t)) return false;
      if (!t.includes('<')) return true;
      const pattern = new RegExp(`^${t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/<[^>]+>/g, '[^]+')}$`);
      return !known.some((s) => pattern.test(s) || covers(s, t.replace(/<[^>]+>/g, 'x')));
    });
    assert.deepEqual(unknown, []);
  });
});

describe('docs/errors.md and the error registry', () => {
  const rows = rowsOf(blocksIn('docs/errors.md').get('errors') ?? '');

  test('every registered code has a row, and every row is a registered code with its status', () => {
    const registered = Object.keys(errorCodes);
    assert.deepEqual(difference(registered, rows.keys()), [], 'registered codes without a row');
    assert.deepEqual(difference(rows.keys(), registered), [], 'rows that are no registered code');
    const wrongStatus = registered.filter((c) => rows.get(c)?.[1] !== String(errorCodes[c as keyof typeof errorCodes].status));
    assert.deepEqual(wrongStatus, [], "rows whose status is not the registry's");
  });
});

describe('the generated docs as a whole', () => {
  test('each is what npm run docs:generate makes of it, and every hand-written cell is written', () => {
    for (const doc of generatedDocs) {
      const text = readRepoFile(doc);
      assert.ok(blocksOf(text).length > 0, `${doc} has generated blocks`);
      assert.equal(regenerate(text, doc), text, `${doc} is out of date: run npm run docs:generate`);
      const unwritten = blocksOf(text).flatMap((b) =>
        [...rowsOf(b.body)].filter(([, cells]) => cells.at(-1) === TODO || cells.at(-1) === '').map(([key]) => `${b.name}: ${key}`),
      );
      assert.deepEqual(unwritten, [], `${doc}: write these cells`);
    }
  });

  test('regenerating keeps what people wrote, drops rows the code lost and marks new ones', () => {
    const previous = '| key | value | notes |\n| --- | --- | --- |\n| `kept` | old | written by hand |\n| `gone` | x | lost with its row |\n';
    const fresh = renderTable(
      {
        header: ['key', 'value', 'notes'],
        notes: true,
        rows: [
          { key: 'kept', cells: ['`kept`', 'new'] },
          { key: 'added', cells: ['`added`', 'v'] },
        ],
      },
      previous,
    );
    assert.equal(fresh, `| key | value | notes |\n| --- | --- | --- |\n| \`kept\` | new | written by hand |\n| \`added\` | v | ${TODO} |\n`);
  });

  test('prose outside the generated tables is not mistaken for a table', () => {
    assert.equal(proseOf('a `b` c').trim(), 'a     c');
  });
});

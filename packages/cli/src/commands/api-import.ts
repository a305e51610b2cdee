import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError } from '../client.ts';
import { InputError, UsageError } from '../errors.ts';
import { buildImport, locateAttribute, type ParsedFile } from '../import-document.ts';
import { parseDocuments, readSource } from '../input.ts';
import type { IO } from '../io.ts';
import { parseFormat, serialize } from '../output.ts';
import { connectionOptions, outputOption, stringValue, type Command } from './command.ts';
import { connect } from './shared.ts';

const importFile = /\.(ya?ml|json)$/i;

export const apiImport: Command = {
  path: ['api', 'import'],
  arguments: [],
  summary: 'create or update many objects at once, all or nothing',
  description: [
    'Sends one import document to the policy API, which creates or updates every object in it,',
    'or changes nothing when any object is invalid. -f names a file, - (stdin) or a directory:',
    'every .yaml, .yml and .json file in it is merged into one document. A file holds import',
    'documents (label, namespace, data: { services: [...], ... }) or objects with a kind field.',
  ],
  options: {
    file: { type: 'string', short: 'f', value: 'DIR|FILE|-', description: 'a directory, a file, or - for stdin' },
    label: { type: 'string', value: 'LABEL', description: "the import's label (default: the files' own)" },
    ...connectionOptions,
    ...outputOption(['yaml', 'json']),
  },
  examples: [
    'msctl api import -n /acme/team-b/dev/private-app -f deploy/demo/objects.yaml',
    'msctl api import -f policies/          # every .yaml, .yml and .json file in policies/',
    'cat <<EOF | msctl api import -f -',
    'namespace: /acme/team-b/dev/private-app',
    'data:',
    '  externalnetworks:',
    '    - name: idp',
    '      entries: [idp.example.com]',
    '      servicePorts: [tcp/443]',
    'EOF',
  ],
  async run(invocation) {
    const { io, values } = invocation;
    const path = stringValue(values, 'file');
    if (path === undefined) throw new UsageError('msctl api import needs -f DIR, -f FILE or -f - (stdin)', ['see msctl api import --help']);
    const output = stringValue(values, 'output');
    const format = output === undefined ? undefined : parseFormat(output, ['yaml', 'json']);
    const built = buildImport(await readFiles(path, io), { label: stringValue(values, 'label') });
    const client = await connect(invocation);
    let response;
    try {
      response = await client.request<{ created?: number; updated?: number }>('POST', '/import', {
        body: built.document,
        verb: 'import',
        subject: 'the import',
      });
    } catch (err) {
      if (!(err instanceof ApiError) || err.errors.length === 0) throw err;
      throw err.withErrors(err.errors.map((e) => ({ ...e, ...locateAttribute(built, e.attribute) })));
    }
    if (format === 'yaml' || format === 'json') {
      io.stdout.write(serialize(response.body, format));
      return;
    }
    const count = Object.values(built.document.data).reduce((n, list) => n + list.length, 0);
    io.stdout.write(`imported ${count} object${count === 1 ? '' : 's'}: ${response.body?.created ?? 0} created, ${response.body?.updated ?? 0} updated\n`);
  },
};

async function readFiles(path: string, io: IO): Promise<ParsedFile[]> {
  const isDirectory = path !== '-' && (await stat(path).catch(() => undefined))?.isDirectory() === true;
  const names = isDirectory ? await directoryFiles(path) : [path];
  const files: ParsedFile[] = [];
  for (const name of names) {
    const source = await readSource(name, io.stdin);
    files.push({ name: source.name, documents: parseDocuments(source) });
  }
  return files;
}

async function directoryFiles(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isFile() && importFile.test(e.name) && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  if (names.length === 0)
    throw new InputError(`${directory} has no .yaml, .yml or .json file`, {
      hints: ['msctl api import reads the files directly in the directory, not in subdirectories'],
    });
  return names.map((name) => join(directory, name));
}

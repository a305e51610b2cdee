// The bootstrap files (POLICY_BOOTSTRAP_FILES), read and checked before the
// service connects to anything: a bad file stops the start with its name.
import { readFile } from 'node:fs/promises';
import type { PolicyObject } from '@microseg/contracts';
import { parseImportDocument } from './objects/import-file.ts';
import { sealedInputFields, sealedInputMessage } from './secrets.ts';

export async function readBootstrapFiles(files: readonly string[]): Promise<Array<{ file: string; objects: PolicyObject[] }>> {
  const read: Array<{ file: string; objects: PolicyObject[] }> = [];
  for (const file of files) {
    const objects = parseImportDocument(await readFile(file, 'utf8'), file);
    // A bootstrap file carries secrets in clear: a sealed one would be sealed again and never work.
    const sealed = objects.flatMap((o) => sealedInputFields(o).map((field) => `${o.kind} ${o.name} in ${o.namespace}: ${field} ${sealedInputMessage}`));
    if (sealed.length > 0) throw new Error(`${file}: ${sealed.join('; ')}`);
    read.push({ file, objects });
  }
  return read;
}

// The bootstrap files (POLICY_BOOTSTRAP_FILES), read and checked before the
// service connects to anything (a bad file stops the start with its name), then
// written to the store once it is open.
import { readFile } from 'node:fs/promises';
import type { PolicyObject } from '@microseg/contracts';
import { parseImportDocument } from './objects/import-file.ts';
import { openObject, sealObject, sealedInputFields, sealedInputMessage, writeOnlyFields, type SecretBox } from './secrets.ts';
import type { ObjectStore, SecretCodec } from './store.ts';

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

/**
 * Write the bootstrap objects, sealing their secrets; an object stored identical is left alone. A stored
 * secret that cannot be opened (sealed with another key) is overwritten by the one in the file, and one in
 * clear (stored before sealing existed) is sealed. Returns how many objects each file wrote.
 */
export async function writeBootstrapObjects(
  store: Pick<ObjectStore, 'put'>,
  secrets: SecretBox,
  bootstrap: ReadonlyArray<{ file: string; objects: readonly PolicyObject[] }>,
): Promise<Array<{ file: string; objects: number; written: number }>> {
  const codec: SecretCodec = {
    seal: (o) => sealObject(secrets, o),
    open: (o) => openObject(secrets, o),
    needsSealing: (o) =>
      writeOnlyFields.some((f) => {
        const value = (o as unknown as Record<string, unknown>)[f];
        return typeof value === 'string' && secrets.needsReseal(value);
      }),
  };
  const outcome: Array<{ file: string; objects: number; written: number }> = [];
  for (const { file, objects } of bootstrap) {
    let written = 0;
    for (const object of objects) if ((await store.put(object, codec)) !== 'unchanged') written++;
    outcome.push({ file, objects: objects.length, written });
  }
  return outcome;
}

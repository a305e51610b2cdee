// Unit: bootstrap files are read before anything else; a secret in them must be in clear, and is sealed
// when written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PolicyObject } from '@microseg/contracts';
import { readBootstrapFiles, writeBootstrapObjects } from './bootstrap.ts';
import { SecretBox, keyIdOfSealed } from './secrets.ts';
import type { ObjectStore } from './store.ts';

const service = (secret: string) => `namespace: /acme
data:
  services:
    - name: web
      hosts: [web.example.com]
      port: 3000
      exposedPort: 443
      authorizationType: OIDC
      OIDCProviderURL: https://idp.example.com
      OIDCClientID: web
      OIDCClientSecret: ${JSON.stringify(secret)}
`;

test('a bootstrap file with the secret in clear is read', async () => {
  const file = join(await mkdtemp(join(tmpdir(), 'microseg-bootstrap-')), 'objects.yaml');
  await writeFile(file, service('in-clear'));
  const [read] = await readBootstrapFiles([file]);
  assert.equal(read?.file, file);
  assert.equal((read?.objects[0] as unknown as { OIDCClientSecret: string }).OIDCClientSecret, 'in-clear');
});

test('a bootstrap file with a sealed secret stops the start, naming the file, the object and the field', async () => {
  const file = join(await mkdtemp(join(tmpdir(), 'microseg-bootstrap-')), 'objects.yaml');
  await writeFile(file, service('enc:v2:0123456789abcdef:AAAA'));
  await assert.rejects(
    readBootstrapFiles([file]),
    (err: Error) => err.message.startsWith(file) && /service web in \/acme: OIDCClientSecret looks sealed.*send the secret itself/.test(err.message),
  );
});

test('bootstrap objects are written with their secrets sealed; one stored identical is not written again', async () => {
  const file = join(await mkdtemp(join(tmpdir(), 'microseg-bootstrap-')), 'objects.yaml');
  await writeFile(file, service('in-clear'));
  const bootstrap = await readBootstrapFiles([file]);
  const box = new SecretBox([Buffer.alloc(32, 5)]);
  const stored = new Map<string, string>();
  // The store's own put: unchanged when the opened stored object equals the one given.
  const store: Pick<ObjectStore, 'put'> = {
    async put(object, codec) {
      const before = stored.get(object.ID);
      if (before && JSON.stringify(codec!.open(JSON.parse(before) as PolicyObject)) === JSON.stringify(object)) return 'unchanged';
      stored.set(object.ID, JSON.stringify(codec!.seal(object)));
      return before ? 'updated' : 'created';
    },
  };
  assert.deepEqual(await writeBootstrapObjects(store, box, bootstrap), [{ file, objects: 1, written: 1 }]);
  const secret = (JSON.parse([...stored.values()][0]!) as { OIDCClientSecret: string }).OIDCClientSecret;
  assert.equal(keyIdOfSealed(secret), box.currentKeyId, 'sealed with the current key');
  assert.deepEqual(await writeBootstrapObjects(store, box, bootstrap), [{ file, objects: 1, written: 0 }]);
});

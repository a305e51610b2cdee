// Unit: bootstrap files are read before anything else; a secret in them must be in clear.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBootstrapFiles } from './bootstrap.ts';

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
  await assert.rejects(readBootstrapFiles([file]), (err: Error) => err.message.startsWith(file) && /service web in \/acme: OIDCClientSecret looks sealed.*send the secret itself/.test(err.message));
});
